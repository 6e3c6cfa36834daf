//! `NAME.build-report.json`: every input and output of a build, and the estimate against the
//! measurement for each component.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::cache;
use super::stages::packages::PackageOut;
use crate::model::profile::{KernelSource, human};
use crate::model::{Estimate, Plan};

/// One input source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceRecord {
    /// Tool name.
    pub name: String,
    /// URL.
    pub url: String,
    /// Commit or sha256.
    pub pin: String,
    /// Cache key of the built package.
    pub key: String,
}

/// One output file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileRecord {
    /// Path.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// sha256.
    pub sha256: String,
}

/// Estimate against measurement for one component.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SizeRecord {
    /// Component name.
    pub name: String,
    /// What the size model said.
    pub estimated: u64,
    /// What the build produced (absent for a library, which is linked into its users).
    pub measured: Option<u64>,
    /// (measured - estimated) / estimated, in percent.
    pub error_percent: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// stali version that built it.
    pub stali_version: String,
    /// Profile name.
    pub profile: String,
    /// Hardware target.
    pub hardware: String,
    /// Its architecture (`x86_64`, `aarch64`; absent from reports of older versions,
    /// which built x86_64 only).
    #[serde(default)]
    pub arch: String,
    /// Boot mode.
    pub boot: String,
    /// The line the image prints when it is up.
    pub banner: String,
    /// SOURCE_DATE_EPOCH used.
    pub epoch: u64,
    /// Sources, in build order.
    pub sources: Vec<SourceRecord>,
    /// Kernel source, identity, base, fragments.
    pub kernel: BTreeMap<String, serde_json::Value>,
    /// Kernel options requested, and their value in the final .config.
    pub kernel_options: Vec<(String, String)>,
    /// Host tool versions.
    pub host: BTreeMap<String, String>,
    /// The ISO.
    pub iso: FileRecord,
    /// The bzImage (with the initramfs built in).
    pub bzimage: FileRecord,
    /// The initramfs (uncompressed newc).
    pub initramfs: FileRecord,
    /// Estimate against measurement.
    pub sizes: Vec<SizeRecord>,
    /// Stages that did work in this run.
    pub rebuilt: Vec<String>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl Report {
    /// The architecture of the image (x86_64 for reports that do not say).
    pub fn arch(&self) -> crate::model::Arch {
        crate::model::Arch::parse(&self.arch).unwrap_or_default()
    }
}

/// Everything [`make`] needs.
pub struct Inputs<'a> {
    /// The plan built.
    pub plan: &'a Plan,
    /// Its estimate.
    pub estimate: &'a Estimate,
    /// Packages built.
    pub packages: &'a BTreeMap<String, PackageOut>,
    /// Kernel source.
    pub kernel_source: &'a KernelSource,
    /// Kernel identity used in keys.
    pub kernel_identity: &'a str,
    /// Final .config text.
    pub kernel_config: &'a str,
    /// bzImage path.
    pub bzimage: &'a Path,
    /// ISO path.
    pub iso: &'a Path,
    /// ISO sha256.
    pub iso_sha256: &'a str,
    /// Installed userland bytes.
    pub userland_size: u64,
    /// Initramfs bytes.
    pub initramfs_size: u64,
    /// Initramfs sha256.
    pub initramfs_sha256: &'a str,
    /// Host versions.
    pub versions: &'a BTreeMap<String, String>,
    /// Epoch.
    pub epoch: u64,
    /// Duration.
    pub seconds: f64,
    /// Stages rebuilt.
    pub rebuilt: &'a [String],
    /// The initramfs compressed alone with the kernel's compressor (x86_64 only).
    pub initramfs_compressed: Option<u64>,
    /// What the ISO's boot files take.
    pub iso_parts: Option<super::iso::IsoParts>,
}

/// Where the report for an ISO goes: beside it, named after it (`NAME.iso` gives
/// `NAME.build-report.json`), so builds into one folder keep their own reports.
pub fn path_for(iso: &Path) -> PathBuf {
    let dir = iso
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let stem = iso
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    dir.join(format!("{stem}.build-report.json"))
}

/// The report of `iso`: its own (`NAME.build-report.json`), else a `build-report.json`
/// left beside it by an older stali, when that one describes this ISO.
pub fn read_for(iso: &Path) -> Option<Report> {
    let legacy = path_for(iso).with_file_name("build-report.json");
    [path_for(iso), legacy].iter().find_map(|p| {
        let text = std::fs::read_to_string(p).ok()?;
        let r: Report = serde_json::from_str(&text).ok()?;
        (Path::new(&r.iso.path).file_name() == iso.file_name()).then_some(r)
    })
}

fn pct(est: u64, measured: u64) -> f64 {
    if est == 0 {
        return if measured == 0 { 0.0 } else { 100.0 };
    }
    ((measured as f64 - est as f64) / est as f64 * 1000.0).round() / 10.0
}

fn record(name: &str, est: u64, measured: Option<u64>) -> SizeRecord {
    SizeRecord {
        name: name.into(),
        estimated: est,
        measured,
        error_percent: measured.map(|m| pct(est, m)),
    }
}

/// The value of `CONFIG_X` in a .config text (`n` when not set).
pub fn config_value(config: &str, key: &str) -> String {
    for line in config.lines() {
        if let Some(v) = line.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
            return v.to_string();
        }
    }
    "n".into()
}

/// Builds the report.
pub fn make(i: Inputs<'_>) -> Result<Report> {
    let bz_sha = cache::sha256_file(i.bzimage)?;
    let bz_len = std::fs::metadata(i.bzimage)?.len();
    let iso_len = std::fs::metadata(i.iso)?.len();
    // Each component's share of the image against its estimate (the tools' installed
    // sizes are the catalog's, measured at the same commits: comparing them checks
    // nothing, so the userland is compared as a whole).
    let e = i.estimate;
    let copies = e.kernel_copies.max(1);
    let component = |name: &str| {
        e.components
            .iter()
            .filter(|c| c.name == name)
            .map(|c| c.bytes)
            .sum::<u64>()
    };
    let mut sizes = vec![record(
        "userland (installed)",
        e.userland_raw_bytes,
        Some(i.userland_size),
    )];
    if let Some(z) = i.initramfs_compressed {
        sizes.push(record(
            "kernel (without initramfs)",
            e.kernel_bytes / copies,
            Some(bz_len.saturating_sub(z)),
        ));
        sizes.push(record(
            "initramfs (compressed)",
            e.userland_bytes / copies,
            Some(z),
        ));
    }
    sizes.push(record(
        "bzImage with initramfs",
        e.kernel_file_bytes,
        Some(bz_len),
    ));
    if let Some(p) = i.iso_parts {
        // The EFI image holds a copy of the kernel, counted with the kernel: what it adds
        // is its FAT overhead.
        let efi = p
            .efi_image
            .saturating_sub(if p.efi_image > 0 { bz_len } else { 0 });
        if i.plan.image.boot.bios() {
            sizes.push(record("isolinux", component("isolinux"), Some(p.isolinux)));
        }
        if i.plan.image.boot.uefi() {
            sizes.push(record("EFI image (FAT)", component("efi-image"), Some(efi)));
        }
        sizes.push(record(
            "ISO overhead",
            e.overhead_bytes,
            Some(iso_len.saturating_sub(bz_len * copies + p.isolinux + efi)),
        ));
    }
    sizes.push(record("ISO total", e.total_bytes, Some(iso_len)));
    let mut kernel = BTreeMap::new();
    kernel.insert(
        "source".into(),
        serde_json::json!(i.kernel_source.describe()),
    );
    kernel.insert("identity".into(), serde_json::json!(i.kernel_identity));
    kernel.insert("base".into(), serde_json::json!(i.plan.kernel.base));
    kernel.insert(
        "fragments".into(),
        serde_json::json!(
            i.plan
                .kernel
                .fragments
                .iter()
                .map(|f| f.fragment.name.clone())
                .collect::<Vec<_>>()
        ),
    );
    kernel.insert(
        "version".into(),
        serde_json::json!(config_header_version(i.kernel_config)),
    );
    let kernel_options = i
        .plan
        .kernel
        .requested()
        .into_iter()
        .map(|(k, _)| {
            let v = config_value(i.kernel_config, &k);
            (k, v)
        })
        .collect();
    Ok(Report {
        stali_version: env!("CARGO_PKG_VERSION").into(),
        profile: i.plan.name.clone(),
        hardware: i.plan.hardware.name.clone(),
        arch: i.plan.hardware.arch.as_str().into(),
        boot: i.plan.image.boot.as_str().into(),
        banner: i.plan.ready_banner(),
        epoch: i.epoch,
        sources: i
            .plan
            .tools
            .iter()
            .map(|t| SourceRecord {
                name: t.def.name.clone(),
                url: t.def.source.url().into(),
                pin: t.def.source.pin().into(),
                key: i
                    .packages
                    .get(&t.def.name)
                    .map(|p| p.key.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        kernel,
        kernel_options,
        host: i.versions.clone(),
        iso: FileRecord {
            path: i.iso.display().to_string(),
            bytes: iso_len,
            sha256: i.iso_sha256.into(),
        },
        bzimage: FileRecord {
            path: i.bzimage.display().to_string(),
            bytes: bz_len,
            sha256: bz_sha,
        },
        initramfs: FileRecord {
            path: "(built into the kernel)".into(),
            bytes: i.initramfs_size,
            sha256: i.initramfs_sha256.into(),
        },
        sizes,
        rebuilt: i.rebuilt.to_vec(),
        seconds: (i.seconds * 100.0).round() / 100.0,
    })
}

fn config_header_version(config: &str) -> String {
    config
        .lines()
        .find_map(|l| l.strip_prefix("# Linux/")?.split_once(' ').map(|(_, v)| v))
        .map(|s| s.trim_end_matches(" Kernel Configuration").to_string())
        .unwrap_or_default()
}

/// The estimate-against-measurement table printed at the end of `stali build`.
pub fn table(r: &Report) -> String {
    let w = r
        .sizes
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(10)
        .max(10);
    let mut s = format!(
        "{:<w$}  {:>10}  {:>10}  {:>7}\n",
        "component", "estimated", "measured", "error"
    );
    for rec in &r.sizes {
        let m = rec.measured.map(human).unwrap_or_else(|| "linked".into());
        let e = rec
            .error_percent
            .map(|p| format!("{p:+.1}%"))
            .unwrap_or_default();
        s.push_str(&format!(
            "{:<w$}  {:>10}  {:>10}  {:>7}\n",
            rec.name,
            human(rec.estimated),
            m,
            e
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values_and_percentages() {
        let cfg = "# Linux/x86 6.1.192 Kernel Configuration\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\n";
        assert_eq!(config_value(cfg, "CONFIG_A"), "y");
        assert_eq!(config_value(cfg, "CONFIG_B"), "n");
        assert_eq!(config_value(cfg, "CONFIG_C"), "\"x\"");
        assert_eq!(config_value(cfg, "CONFIG_AB"), "n");
        assert_eq!(config_header_version(cfg), "6.1.192");
        assert_eq!(pct(100, 105), 5.0);
        assert_eq!(pct(200, 150), -25.0);
    }
}
