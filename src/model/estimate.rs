//! The size model: a pure function from a plan to the image's estimated size, by part.
//!
//! Image layout it models (the pipeline builds exactly this): the initramfs is built into
//! the kernel and compressed with it; BIOS boots that bzImage through isolinux, UEFI boots
//! the same file as `EFI/BOOT/BOOTX64.EFI` from a FAT image; a hybrid ISO holds both copies.
//! Kernel figures are per architecture (the catalog's `size_aarch64`, a fragment's
//! `# size-aarch64:`); the tools', measured on x86_64, are scaled by a measured factor.

use serde::Serialize;

use super::catalog::{Catalog, SizeModel};
use super::plan::Plan;

/// ISO 9660 sector size: every file occupies whole sectors.
pub const SECTOR: u64 = 2048;

/// What part of the image a component belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The kernel's base configuration.
    Kernel,
    /// A kernel fragment's delta.
    Fragment,
    /// One kernel option's measured figure (per-option model).
    Option,
    /// A program.
    Tool,
    /// A library (in the sysroot only; its code is counted in the programs that link it).
    Library,
    /// Generated files in the root filesystem.
    Skeleton,
    /// Boot loader files and the EFI image.
    Boot,
    /// ISO 9660 structures and padding.
    Overhead,
}

/// One line of the breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    /// Name (`sbase`, `fragment:usb`, `isolinux`).
    pub name: String,
    /// Which part of the image.
    pub kind: Kind,
    /// Bytes it adds to the ISO (after compression, times the number of copies).
    pub bytes: u64,
    /// Installed bytes before compression, for userland parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_bytes: Option<u64>,
    /// Where the figure comes from.
    pub source: String,
}

/// The estimated size of an image, by component and by part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Profile name.
    pub profile: String,
    /// Estimated ISO size.
    pub total_bytes: u64,
    /// Kernel code (base and fragments), all copies.
    pub kernel_bytes: u64,
    /// Userland in the initramfs after compression, all copies.
    pub userland_bytes: u64,
    /// Boot loader and EFI image overhead.
    pub boot_bytes: u64,
    /// ISO structures.
    pub overhead_bytes: u64,
    /// Installed userland before compression.
    pub userland_raw_bytes: u64,
    /// The bzImage with its built-in initramfs, one copy.
    pub kernel_file_bytes: u64,
    /// How many copies of the kernel file the ISO holds (2 for hybrid).
    pub kernel_copies: u64,
    /// Size budget, if the profile sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_bytes: Option<u64>,
    /// Every component.
    pub components: Vec<Component>,
    /// How the kernel was estimated: per-option figures (and from which build) or the
    /// fragments' measured deltas.
    pub kernel_model: String,
    /// Options the profile asks for that are on and have no figure yet (counted as zero).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub no_figure: Vec<String>,
}

impl Estimate {
    /// The component called `name`.
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    /// Whether the total exceeds the budget.
    pub fn over_budget(&self) -> bool {
        self.budget_bytes.is_some_and(|b| self.total_bytes > b)
    }

    /// What `stali check` and `stali size` say when the estimate is over the budget.
    pub fn budget_problem(&self) -> Option<String> {
        over_budget("the estimated image", self.total_bytes, self.budget_bytes)
    }
}

/// "`what` is N, over the budget of B by D", when `bytes` is over `budget`; `None` when it
/// fits or there is no budget. Shared by the estimate and the measured ISO.
pub fn over_budget(what: &str, bytes: u64, budget: Option<u64>) -> Option<String> {
    use super::profile::human;
    let b = budget.filter(|b| bytes > *b)?;
    Some(format!(
        "{what} is {} ({bytes} bytes), over the budget of {} by {}",
        human(bytes),
        human(b),
        human(bytes - b)
    ))
}

fn ratio(table: &std::collections::BTreeMap<String, f64>, key: &str) -> f64 {
    table.get(key).copied().unwrap_or(1.0)
}

/// Bytes a tool adds to the compressed initramfs: its measured compressed size scaled to
/// the profile's compressor and shared across tools, else its installed size times the
/// compressor's ratio (libraries, tools defined in a profile).
pub fn compressed_bytes(m: &SizeModel, tool: &super::catalog::ToolDef, comp: &str) -> u64 {
    let r = ratio(&m.ratio, comp);
    match tool.compressed {
        Some(c) => {
            let vs_xz = r / ratio(&m.ratio, "xz");
            (c as f64 * vs_xz * m.shared_code).round() as u64
        }
        None => (tool.size as f64 * r).round() as u64,
    }
}

/// How a kernel's bytes measured with compressor `from` convert to compressor `to`:
/// `(factor, fixed)`, the converted size being `factor * bytes + fixed`. The payload
/// scales by the compressors' measured payload factors; the rest (setup, decompressor)
/// is a fixed size per compressor (zstd's decompressor is about 70 KB more than xz's).
/// Without those figures, the flat `kernel_factor`s.
pub fn kernel_conversion(m: &SizeModel, from: &str, to: &str) -> (f64, i64) {
    if from == to {
        return (1.0, 0);
    }
    let get = |t: &std::collections::BTreeMap<String, f64>, k: &str| t.get(k).copied();
    match (
        get(&m.payload_factor, from),
        get(&m.payload_factor, to),
        get(&m.kernel_stub, from),
        get(&m.kernel_stub, to),
    ) {
        (Some(pf), Some(pt), Some(sf), Some(st)) if pf > 0.0 => {
            let f = pt / pf;
            (f, (st - sf * f).round() as i64)
        }
        _ => (
            ratio(&m.kernel_factor, to) / ratio(&m.kernel_factor, from),
            0,
        ),
    }
}

/// The size of the FAT image holding a kernel of `kernel` bytes as the EFI system
/// partition (what the pipeline makes, `pipeline::iso`): FAT overhead (boot sector, two
/// FATs, root dir, two subdirs, cluster slack) is well under 2% + 64 KiB for one file;
/// rounded up to 4 KiB (in 64 KiB steps the rounding alone was up to 64 KiB, half the
/// image's overhead, and no estimate could say which way it fell).
pub fn efi_image_bytes(kernel: u64) -> u64 {
    let kib = (kernel / 1024 + 1) * 102 / 100 + 64;
    kib.div_ceil(4) * 4 * 1024
}

fn scaled(bytes: i64, factor: f64) -> i64 {
    (bytes as f64 * factor).round() as i64
}

fn round_up(b: u64) -> u64 {
    b.div_ceil(SECTOR) * SECTOR
}

/// Adds the component for the fixed part (setup, decompressor) a kernel gains or loses
/// going from compressor `from` to `to`; returns its bytes (one copy).
fn decompressor(
    components: &mut Vec<Component>,
    from: &str,
    to: &str,
    fixed: i64,
    copies: u64,
) -> i64 {
    if fixed != 0 {
        components.push(Component {
            name: format!("kernel:{to}-decompressor"),
            kind: Kind::Kernel,
            bytes: (fixed.max(0) as u64) * copies,
            raw_bytes: None,
            source: format!(
                "measured: a bzImage's setup and decompressor with {to} against {from} (size_model.kernel_stub)"
            ),
        });
    }
    fixed
}

/// Estimates the size of the image a plan describes, the kernel from its fragments'
/// measured deltas.
pub fn estimate(plan: &Plan, catalog: &Catalog) -> Estimate {
    estimate_with(plan, catalog, None)
}

/// Estimates the size of the image a plan describes; the kernel from per-option figures
/// when `kernel` is given (see [`super::kernel_sizes`]), else from the fragments' deltas.
pub fn estimate_with(
    plan: &Plan,
    catalog: &Catalog,
    kernel: Option<&super::kernel_sizes::KernelEstimate>,
) -> Estimate {
    let m = &catalog.model;
    let comp = plan.image.compression.as_str();
    let uratio = ratio(&m.ratio, comp);
    let copies: u64 = if plan.image.boot.bios() && plan.image.boot.uefi() {
        2
    } else {
        1
    };
    let mut components = Vec::new();

    let arch = plan.hardware.arch;
    let mut kernel_one: i64;
    let kernel_model;
    let mut no_figure = Vec::new();
    if let Some(k) = kernel {
        let (f, fixed) = kernel_conversion(m, &k.compression, comp);
        kernel_one = scaled(k.core_bytes, f);
        kernel_model = format!("per-option figures, from build {}", k.anchor);
        no_figure = k.no_figure.clone();
        components.push(Component {
            name: format!("kernel:{}", plan.kernel.base),
            kind: Kind::Kernel,
            bytes: (kernel_one.max(0) as u64) * copies,
            raw_bytes: None,
            source: format!(
                "measured: build {} less the figures of its options",
                k.anchor
            ),
        });
        for o in &k.options {
            let b = scaled(o.bytes, f);
            kernel_one += b;
            components.push(Component {
                name: o.option.clone(),
                kind: Kind::Option,
                bytes: (b.max(0) as u64) * copies,
                raw_bytes: None,
                source: o.source.clone(),
            });
        }
        kernel_one += decompressor(&mut components, &k.compression, comp, fixed, copies);
    } else {
        // The bases' and fragments' figures are xz bzImages.
        let (f, fixed) = kernel_conversion(m, "xz", comp);
        let (base_size, base_src) = catalog
            .base(&plan.kernel.base)
            .map(|b| b.size_for(arch))
            .unwrap_or((0, "unknown base".into()));
        kernel_one = scaled(base_size as i64, f);
        components.push(Component {
            name: format!("kernel:{}", plan.kernel.base),
            kind: Kind::Kernel,
            bytes: (kernel_one.max(0) as u64) * copies,
            raw_bytes: None,
            source: base_src,
        });
        for fr in &plan.kernel.fragments {
            let (size, source) = fr.fragment.size_for(arch);
            let d = scaled(size, f);
            kernel_one += d;
            components.push(Component {
                name: format!("fragment:{}", fr.fragment.name),
                kind: Kind::Fragment,
                bytes: (d.max(0) as u64) * copies,
                raw_bytes: None,
                source,
            });
        }
        kernel_one += decompressor(&mut components, "xz", comp, fixed, copies);
        kernel_model = "fragment deltas (no per-option figures for this kernel)".to_string();
    }
    // The tools' figures were measured on x86_64; another architecture's code differs
    // by a measured factor.
    let (afactor, asource) = m
        .arch_factor
        .get(arch.as_str())
        .map(|f| (*f, format!("times {f} for {arch}, size_model.arch_factor")))
        .unwrap_or((1.0, String::new()));
    let kernel_one = kernel_one.max(0) as u64;

    let mut userland_raw = 0u64;
    let mut userland_one = 0u64;
    for t in &plan.tools {
        let c = (compressed_bytes(m, &t.def, comp) as f64 * afactor).round() as u64;
        let raw = (t.def.size as f64 * afactor).round() as u64;
        userland_raw += raw;
        userland_one += c;
        components.push(Component {
            name: t.def.name.clone(),
            kind: if t.def.is_library() {
                Kind::Library
            } else {
                Kind::Tool
            },
            bytes: c * copies,
            raw_bytes: Some(raw),
            source: if asource.is_empty() {
                t.def.size_source.clone()
            } else {
                format!("{} ({asource})", t.def.size_source)
            },
        });
    }
    let skel = (m.skeleton as f64 * uratio).round() as u64;
    userland_raw += m.skeleton;
    userland_one += skel;
    components.push(Component {
        name: "skeleton".into(),
        kind: Kind::Skeleton,
        bytes: skel * copies,
        raw_bytes: Some(m.skeleton),
        source: "measured: newc cpio of the skeleton alone (/etc files, folders, /dev/console), about 3.2 KB for the shipped profiles".into(),
    });

    let kernel_file = kernel_one + userland_one;
    let mut boot = 0u64;
    if plan.image.boot.bios() {
        boot += m.isolinux;
        components.push(Component {
            name: "isolinux".into(),
            kind: Kind::Boot,
            bytes: m.isolinux,
            raw_bytes: None,
            source: m.source.clone(),
        });
    }
    if plan.image.boot.uefi() {
        // The FAT image is sized to the kernel plus 2% and a fixed part.
        // The FAT image around the kernel, sized as the pipeline sizes it.
        let efi = efi_image_bytes(kernel_file).saturating_sub(kernel_file);
        boot += efi;
        components.push(Component {
            name: "efi-image".into(),
            kind: Kind::Boot,
            bytes: efi,
            raw_bytes: None,
            source: m.source.clone(),
        });
    }
    // Sector rounding of the kernel copies is part of the overhead.
    let rounding = (round_up(kernel_file) - kernel_file) * copies;
    let base = if plan.image.boot.bios() && plan.image.boot.uefi() && m.iso_overhead_hybrid > 0 {
        m.iso_overhead_hybrid
    } else {
        m.iso_overhead
    };
    let overhead = base + rounding;
    components.push(Component {
        name: "iso".into(),
        kind: Kind::Overhead,
        bytes: overhead,
        raw_bytes: None,
        source: m.source.clone(),
    });
    let kernel_bytes = kernel_one * copies;
    let userland_bytes = userland_one * copies;
    Estimate {
        profile: plan.name.clone(),
        total_bytes: kernel_bytes + userland_bytes + boot + overhead,
        kernel_bytes,
        userland_bytes,
        boot_bytes: boot,
        overhead_bytes: overhead,
        userland_raw_bytes: userland_raw,
        kernel_file_bytes: kernel_file,
        kernel_copies: copies,
        budget_bytes: plan.image.budget,
        components,
        kernel_model,
        no_figure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Profile, resolve};

    fn est(text: &str) -> Estimate {
        let c = Catalog::embedded();
        let p = Profile::parse(text, None, &c).expect("valid profile");
        estimate(&resolve(&p, &c).expect("resolves"), &c)
    }

    #[test]
    fn parts_add_up_to_the_total() {
        let e = est("format = 1\n");
        let sum: u64 = e.components.iter().map(|c| c.bytes).sum();
        assert_eq!(sum, e.total_bytes);
        assert_eq!(
            e.kernel_bytes + e.userland_bytes + e.boot_bytes + e.overhead_bytes,
            e.total_bytes
        );
    }

    #[test]
    fn a_library_is_counted_once() {
        let one = est("format = 1\n[tools]\nselect = [\"sinit\", \"mksh\", \"dropbear\"]\n");
        let two =
            est("format = 1\n[tools]\nselect = [\"sinit\", \"mksh\", \"dropbear\", \"curl\"]\n");
        let zlibs = two.components.iter().filter(|c| c.name == "zlib").count();
        assert_eq!(zlibs, 1);
        assert_eq!(
            one.component("zlib").and_then(|c| c.raw_bytes),
            two.component("zlib").and_then(|c| c.raw_bytes)
        );
    }

    #[test]
    fn measured_compressed_sizes_are_used_and_shared() {
        let c = Catalog::embedded();
        let sbase = c.tool("sbase").expect("sbase");
        let own = sbase
            .compressed
            .expect("sbase has a measured compressed size");
        let xz = compressed_bytes(&c.model, sbase, "xz");
        assert!(xz < own && xz > own / 2, "{xz} vs {own}");
        assert!(compressed_bytes(&c.model, sbase, "gzip") > xz);
    }

    #[test]
    fn hybrid_holds_two_kernel_copies_and_costs_more() {
        let bios = est("format = 1\n[image]\nboot = \"bios\"\n");
        let hybrid = est("format = 1\n[image]\nboot = \"hybrid\"\n");
        assert_eq!(bios.kernel_copies, 1);
        assert_eq!(hybrid.kernel_copies, 2);
        assert!(hybrid.total_bytes > bios.total_bytes + bios.kernel_file_bytes / 2);
    }

    #[test]
    fn xz_is_smaller_than_gzip() {
        let xz = est("format = 1\n[image]\ncompression = \"xz\"\n");
        let gz = est("format = 1\n[image]\ncompression = \"gzip\"\n");
        assert!(xz.total_bytes < gz.total_bytes);
    }

    #[test]
    fn budget_is_compared() {
        let e = est("format = 1\n[image]\nbudget = \"1 KiB\"\n");
        assert!(e.over_budget());
        let e = est("format = 1\n[image]\nbudget = \"1 GiB\"\n");
        assert!(!e.over_budget());
        assert_eq!(e.budget_problem(), None);
        assert_eq!(
            over_budget("the ISO", 3 << 20, Some(1024)).as_deref(),
            Some("the ISO is 3.0 MiB (3145728 bytes), over the budget of 1 KiB by 3.0 MiB")
        );
    }
}
