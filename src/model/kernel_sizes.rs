//! Per-option kernel sizes: what each Kconfig symbol costs in the bzImage, measured inside
//! real kernel builds (every object kbuild built, charged to the symbols that caused it),
//! kept per kernel version, architecture and compiler.
//!
//! A database holds builds (each with its measured bzImage and the figured symbols that were
//! on in it) and one figure per symbol (its own objects' bytes, the growth of shared objects
//! charged to it, both converted to bzImage bytes with the compression ratio of the build
//! that measured it). An estimate starts from the build nearest to the configuration asked
//! about and adds or removes the figures of the symbols that differ, so a configuration that
//! was built is estimated exactly and one close to it nearly so.
//!
//! The shipped database (`data/kernel-sizes.json`) covers the default kernel source; every
//! `stali build` adds its own builds to a database in the cache (`sizes/kernel-sizes.json`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The database shipped in the binary (reference builds of the default kernel source).
pub const SHIPPED: &str = include_str!("data/kernel-sizes.json");

/// The format version of the database files.
pub const FORMAT: u32 = 1;

/// A size database: the figures of one or more (kernel, arch, compiler) lineages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SizeDb {
    /// File format version ([`FORMAT`]).
    pub format: u32,
    /// One entry per kernel version, architecture and compiler.
    pub kernels: Vec<KernelSizes>,
}

/// The figures measured for one kernel version, architecture and compiler.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KernelSizes {
    /// Kernel version (`6.1.192`).
    pub kernel: String,
    /// Architecture (`x86_64`).
    pub arch: String,
    /// Compiler (`gcc 12.2.0`).
    pub compiler: String,
    /// Compressed bytes per added object byte, measured on a pair of builds (payload growth
    /// over object growth); 0 when no pair was measured (each build's own average ratio is
    /// used then).
    #[serde(default)]
    pub marginal_ratio: f64,
    /// Where `marginal_ratio` comes from.
    #[serde(default)]
    pub marginal_source: String,
    /// How well the code of that pair's added options deflates (deflated bytes over
    /// bytes): a symbol whose objects deflate better or worse than this costs
    /// proportionally less or more than `marginal_ratio`; 0 when unmeasured.
    #[serde(default)]
    pub deflate_ref: f64,
    /// The builds the figures come from.
    pub builds: Vec<BuildRecord>,
    /// Symbol name (without `CONFIG_`) -> its figure.
    pub symbols: BTreeMap<String, Figure>,
}

/// One measured kernel build.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildRecord {
    /// Identity: the first 16 hex digits of the sha256 of its `.config`.
    pub id: String,
    /// What was built (profile, fragments, options) and where.
    pub label: String,
    /// Base configuration (`tinyconfig`).
    pub base: String,
    /// Kernel compression (`xz`, `gzip`, `zstd`).
    pub compression: String,
    /// The bzImage, bytes.
    pub bzimage: u64,
    /// The uncompressed initramfs built into it, bytes.
    pub initramfs: u64,
    /// What that initramfs is taken to cost in the payload (its bytes times the
    /// compressor's ratio for userland).
    pub initramfs_cost: u64,
    /// `vmlinux.bin` (the stripped image the decompressor unpacks), bytes.
    pub vmlinux_bin: u64,
    /// The compressed payload (`vmlinux.bin.xz` or the like), bytes.
    pub payload: u64,
    /// Objects linked into vmlinux.
    pub objects: u32,
    /// Bytes of those objects (text, data, rodata; no bss).
    pub object_bytes: u64,
    /// Of those, bytes charged to no symbol (code always built).
    pub core_bytes: u64,
    /// Figured symbols that are `y` in this build.
    pub on: Vec<String>,
    /// When and by what it was measured.
    pub measured: String,
}

impl BuildRecord {
    /// The label's name (`ref-all`), without the description after its colon.
    pub fn name(&self) -> &str {
        self.label.split(':').next().unwrap_or(&self.label)
    }

    /// Compressed bytes per byte of the linked objects in this build (the payload, the
    /// built-in initramfs left out, over [`BuildRecord::object_bytes`]). `vmlinux.bin` is
    /// no denominator: its alignment gaps (megabytes of int3 padding on x86_64) compress to
    /// almost nothing.
    pub fn ratio(&self) -> f64 {
        if self.object_bytes == 0 {
            0.0
        } else {
            self.payload.saturating_sub(self.initramfs_cost) as f64 / self.object_bytes as f64
        }
    }
}

/// What one symbol costs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Bytes of the objects it causes to be built (text, data, rodata; bss costs no image
    /// bytes and is left out).
    pub bytes: u64,
    /// Growth of objects built anyway (its `#ifdef` code in shared objects), charged to it
    /// from a pair of builds with and without it; 0 when no pair measured it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ifdef: i64,
    /// bzImage bytes: `(bytes + ifdef)` times the lineage's marginal compression ratio (or,
    /// without one, the ratio of the build).
    pub bz: i64,
    /// Those bytes deflated together (how well its code compresses); 0: not measured.
    #[serde(default, skip_serializing_if = "is_zero_u")]
    pub deflated: u64,
    /// What those bytes add to the kernel's compressed stream after the code every kernel
    /// has, measured with its compressor; 0: not measured (the figure then comes from
    /// the marginal ratio and `deflated`).
    #[serde(default, skip_serializing_if = "is_zero_u")]
    pub in_context: u64,
    /// How many objects.
    pub objects: u32,
    /// The folder holding most of its objects (`fs/ext4/`).
    pub dir: String,
    /// The build that measured it ([`BuildRecord::id`]).
    pub build: String,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_zero_u(v: &u64) -> bool {
    *v == 0
}

/// Bytes below which a symbol's own deflate ratio is blended with the reference one
/// (a few hundred bytes deflate badly alone, whatever the code).
const SMALL_GROUP: f64 = 8192.0;

/// How much better or worse than the reference a group of `bytes` that deflates to
/// `deflated` compresses (1: as well), its own ratio blended with `reference` by size.
pub fn compressibility(bytes: u64, deflated: u64, reference: f64) -> f64 {
    if reference <= 0.0 || deflated == 0 || bytes == 0 {
        return 1.0;
    }
    let own = (deflated as f64 + SMALL_GROUP * reference) / (bytes as f64 + SMALL_GROUP);
    own / reference
}

/// One option's share of a kernel estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// `CONFIG_X`.
    pub option: String,
    /// bzImage bytes (0 with no figure).
    pub bytes: i64,
    /// Whether a build measured it; `false` means "no figure yet" (counted as zero).
    pub measured: bool,
    /// Where the figure comes from, in words.
    pub source: String,
}

/// A kernel's estimated bzImage (without its initramfs), by option.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KernelEstimate {
    /// The estimate, bytes.
    pub bytes: u64,
    /// What every kernel of this lineage has (the anchor build minus its options' figures).
    pub core_bytes: i64,
    /// The build the estimate starts from.
    pub anchor: String,
    /// Its kernel compression: the figures are in its bytes (a profile with another
    /// compressor converts them, see `estimate::estimate_with`).
    pub compression: String,
    /// Each enabled option with a figure, and each requested option without one.
    pub options: Vec<Contribution>,
    /// Requested options that are on and have no figure yet.
    pub no_figure: Vec<String>,
}

/// What switching one option costs, everything it pulls in or drops included.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delta {
    /// bzImage bytes added (negative: saved).
    pub bytes: i64,
    /// Symbols whose value changed, with their figure (`None`: no figure yet).
    pub changed: Vec<(String, bool, Option<i64>)>,
    /// Of the changed symbols, how many have no figure.
    pub no_figure: usize,
}

impl SizeDb {
    /// The shipped database.
    pub fn shipped() -> SizeDb {
        // The shipped file is checked by a test; a broken one gives an empty database.
        serde_json::from_str(SHIPPED).unwrap_or_default()
    }

    /// Reads a database file; a missing file is an empty database.
    pub fn read(path: &Path) -> Result<SizeDb> {
        match std::fs::read_to_string(path) {
            Ok(t) => {
                serde_json::from_str(&t).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SizeDb {
                format: FORMAT,
                kernels: Vec::new(),
            }),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the database atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self).context("serializing the size database")?;
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        crate::fsutil::write_atomic(path, text.as_bytes(), crate::fsutil::Mode::Fixed(0o644))
    }

    /// The shipped database with the user's (at `user`, if any) laid over it: the user's
    /// builds are added and their figures replace the shipped ones.
    pub fn load(user: Option<&Path>) -> SizeDb {
        let mut db = SizeDb::shipped();
        if let Some(p) = user
            && let Ok(u) = SizeDb::read(p)
        {
            for k in u.kernels {
                db.entry(&k.kernel, &k.arch, &k.compiler).merge(k);
            }
        }
        db
    }

    /// The lineage for `kernel`, `arch`, `compiler` (created empty when absent).
    pub fn entry(&mut self, kernel: &str, arch: &str, compiler: &str) -> &mut KernelSizes {
        self.format = FORMAT;
        let i = match self
            .kernels
            .iter()
            .position(|k| k.kernel == kernel && k.arch == arch && k.compiler == compiler)
        {
            Some(i) => i,
            None => {
                self.kernels.push(KernelSizes {
                    kernel: kernel.into(),
                    arch: arch.into(),
                    compiler: compiler.into(),
                    ..Default::default()
                });
                self.kernels.len() - 1
            }
        };
        &mut self.kernels[i]
    }

    /// The lineage matching `kernel` and `arch`, preferring `compiler`, then any compiler of
    /// the same major version, then any.
    pub fn find(&self, kernel: &str, arch: &str, compiler: &str) -> Option<&KernelSizes> {
        let same = |k: &&KernelSizes| k.kernel == kernel && k.arch == arch;
        let major = |c: &str| c.split('.').next().unwrap_or("").to_string();
        self.kernels
            .iter()
            .filter(same)
            .find(|k| k.compiler == compiler)
            .or_else(|| {
                self.kernels
                    .iter()
                    .filter(same)
                    .find(|k| major(&k.compiler) == major(compiler))
            })
            .or_else(|| self.kernels.iter().find(same))
    }
}

impl KernelSizes {
    /// Adds `other`'s builds (replacing builds of the same id), figures (replacing) and
    /// marginal ratio (when it measured one).
    pub fn merge(&mut self, other: KernelSizes) {
        if other.marginal_ratio > 0.0 {
            self.marginal_ratio = other.marginal_ratio;
            self.marginal_source = other.marginal_source;
            self.deflate_ref = other.deflate_ref;
        }
        for b in other.builds {
            self.builds.retain(|x| x.id != b.id);
            self.builds.push(b);
        }
        self.symbols.extend(other.symbols);
    }

    /// The build a given figure came from.
    pub fn build(&self, id: &str) -> Option<&BuildRecord> {
        self.builds.iter().find(|b| b.id == id)
    }

    /// The help line for `option` (`CONFIG_X` or `X`): "12 objects under fs/ext4/, measured
    /// in build 1a2b… (label)", or "no figure yet".
    pub fn help_line(&self, option: &str) -> String {
        let name = option.strip_prefix("CONFIG_").unwrap_or(option);
        let Some(f) = self.symbols.get(name) else {
            return format!(
                "CONFIG_{name}: no figure yet (no measured build has objects of its own)"
            );
        };
        // The label's name (`ref-all`), not its description after the colon.
        let label = self
            .build(&f.build)
            .map(|b| format!(" ({})", b.name()))
            .unwrap_or_default();
        let ifdef = if f.ifdef != 0 {
            format!(" plus {} bytes of #ifdef code in shared objects", f.ifdef)
        } else {
            String::new()
        };
        format!(
            "{} object{} under {}: {} bytes{ifdef}, {} in the bzImage; measured in build {}{label}",
            f.objects,
            if f.objects == 1 { "" } else { "s" },
            if f.dir.is_empty() { "./" } else { &f.dir },
            f.bytes,
            signed(f.bz),
            f.build
        )
    }

    /// The figure of `name` (without `CONFIG_`) in bzImage bytes (never negative: a
    /// symbol whose shared objects shrank counts as free).
    pub fn bz(&self, name: &str) -> Option<i64> {
        self.symbols.get(name).map(|f| f.bz.max(0))
    }

    /// Estimates the bzImage (initramfs excluded) of a configuration of `base` compressed
    /// with `compression`, whose `y` symbols `is_on` tells; `requested` are the options the
    /// profile asked for (those without a figure are counted). The bytes are in the
    /// anchor build's compression ([`KernelEstimate::compression`]), `compression`'s when
    /// a build of it exists. `None` without a build of that base.
    pub fn estimate(
        &self,
        base: &str,
        compression: &str,
        is_on: &dyn Fn(&str) -> bool,
        requested: &[String],
    ) -> Option<KernelEstimate> {
        let on: BTreeSet<&str> = self
            .symbols
            .keys()
            .map(String::as_str)
            .filter(|s| is_on(s))
            .collect();
        // The anchor: the build whose configuration differs least (by figures) from this
        // one, of the same compression when there is one.
        let distance = |b: &&BuildRecord| {
            let theirs: BTreeSet<&str> = b.on.iter().map(String::as_str).collect();
            theirs
                .symmetric_difference(&on)
                .map(|s| self.bz(s).unwrap_or(0).abs())
                .sum::<i64>()
        };
        let of_base = || {
            self.builds
                .iter()
                .filter(|b| b.base == base && b.bzimage > 0)
        };
        let anchor = of_base()
            .filter(|b| b.compression == compression)
            .min_by_key(distance)
            .or_else(|| of_base().min_by_key(distance))?;
        let initramfs = anchor.initramfs_cost as i64;
        let anchor_figures: i64 = anchor.on.iter().map(|s| self.bz(s).unwrap_or(0)).sum();
        let core = anchor.bzimage as i64 - initramfs - anchor_figures;
        let mut options = Vec::new();
        let mut total = core;
        for s in &on {
            let bz = self.bz(s).unwrap_or(0);
            total += bz;
            options.push(Contribution {
                option: format!("CONFIG_{s}"),
                bytes: bz,
                measured: true,
                source: self.help_line(s),
            });
        }
        let mut no_figure = Vec::new();
        for r in requested {
            let name = r.strip_prefix("CONFIG_").unwrap_or(r);
            if !self.symbols.contains_key(name) && is_on(name) && !no_figure.contains(r) {
                no_figure.push(format!("CONFIG_{name}"));
                options.push(Contribution {
                    option: format!("CONFIG_{name}"),
                    bytes: 0,
                    measured: false,
                    source: "no figure yet".into(),
                });
            }
        }
        Some(KernelEstimate {
            bytes: total.max(0) as u64,
            core_bytes: core,
            anchor: format!("{} ({})", anchor.id, anchor.name()),
            compression: anchor.compression.clone(),
            options,
            no_figure,
        })
    }

    /// Sums the figures of the symbols a change switched (`(name, was_on, is_on)`).
    pub fn delta(&self, changes: &[(String, bool, bool)]) -> Delta {
        let mut d = Delta::default();
        for (name, before, after) in changes {
            if before == after {
                continue;
            }
            let fig = self.bz(name);
            if let Some(b) = fig {
                d.bytes += if *after { b } else { -b };
            } else {
                d.no_figure += 1;
            }
            d.changed.push((name.clone(), *after, fig));
        }
        d
    }

    /// Names of all figured symbols (what a delta needs to watch).
    pub fn watched(&self) -> Vec<&str> {
        self.symbols.keys().map(String::as_str).collect()
    }
}

/// The user's database inside a cache folder.
pub fn user_path(cache: &Path) -> std::path::PathBuf {
    cache.join("sizes").join("kernel-sizes.json")
}

/// `gcc 12.2.0` from `gcc --version`'s first line (`gcc (Debian 12.2.0-14) 12.2.0`).
pub fn compiler_id(version_line: &str) -> String {
    let mut w = version_line.split_whitespace();
    match (w.next(), version_line.split_whitespace().last()) {
        (Some(a), Some(b)) if a != b => format!("{a} {b}"),
        (Some(a), _) => a.to_string(),
        _ => "unknown".to_string(),
    }
}

/// `+38 KiB`, `-1.2 MiB`, `±0` ([`super::profile::human_delta`]).
pub fn signed(bytes: i64) -> String {
    super::profile::human_delta(bytes)
}

/// Computes every symbol's figure in `build` from its objects (`own`: symbol -> (bytes,
/// objects, folder)) and the shared objects' growth charged to it (`ifdef`), converted with
/// the lineage's marginal ratio (else the build's own), and records the build. Figures measured before in a build where the symbol was on are replaced.
pub fn record_build(
    k: &mut KernelSizes,
    build: BuildRecord,
    own: &BTreeMap<String, (u64, u32, String)>,
    ifdef: &HashMap<String, i64>,
    deflated: &BTreeMap<String, u64>,
    in_context: &BTreeMap<String, u64>,
) {
    let ratio = if k.marginal_ratio > 0.0 {
        k.marginal_ratio
    } else {
        build.ratio()
    };
    for (sym, (bytes, objects, dir)) in own {
        let extra = ifdef.get(sym).copied().unwrap_or(0);
        let d = deflated.get(sym).copied().unwrap_or(0);
        // Its own objects at the ratio their code compresses at; its #ifdef code in shared
        // objects at the lineage's.
        let c = compressibility(*bytes, d, k.deflate_ref);
        // Measured in the compressed stream when it was (large symbols of reference
        // builds); else its bytes at the ratio its code compresses at.
        let own = match in_context.get(sym) {
            Some(x) => *x as f64,
            None => *bytes as f64 * c * ratio,
        };
        let bz = (own + extra as f64 * ratio).round() as i64;
        k.symbols.insert(
            sym.clone(),
            Figure {
                bytes: *bytes,
                ifdef: extra,
                bz,
                deflated: d,
                in_context: in_context.get(sym).copied().unwrap_or(0),
                objects: *objects,
                dir: dir.clone(),
                build: build.id.clone(),
            },
        );
    }
    k.builds.retain(|b| b.id != build.id);
    k.builds.push(build);
    // Each build lists the figured symbols it has on (new figures may name more of them).
    let names: BTreeSet<String> = k.symbols.keys().cloned().collect();
    for b in &mut k.builds {
        b.on.retain(|s| names.contains(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> KernelSizes {
        let mut k = KernelSizes::default();
        let base = BuildRecord {
            id: "a".into(),
            label: "base".into(),
            base: "tinyconfig".into(),
            compression: "xz".into(),
            bzimage: 1000,
            vmlinux_bin: 9000,
            object_bytes: 4000,
            payload: 1000,
            on: vec!["TTY".into()],
            ..Default::default()
        };
        let mut own = BTreeMap::new();
        own.insert("TTY".to_string(), (400, 4, "drivers/tty/".to_string()));
        own.insert("EXT4_FS".to_string(), (800, 12, "fs/ext4/".to_string()));
        let mut ifdef = HashMap::new();
        ifdef.insert("EXT4_FS".to_string(), 80);
        record_build(
            &mut k,
            base,
            &own,
            &ifdef,
            &BTreeMap::new(),
            &BTreeMap::new(),
        );
        k
    }

    #[test]
    fn figures_are_converted_with_the_builds_ratio() {
        let k = db();
        assert_eq!(k.bz("TTY"), Some(100));
        assert_eq!(k.bz("EXT4_FS"), Some(220));
        assert!(
            k.help_line("CONFIG_EXT4_FS")
                .starts_with("12 objects under fs/ext4/")
        );
        assert!(k.help_line("CONFIG_NOPE").contains("no figure yet"));
    }

    #[test]
    fn an_estimate_starts_from_the_nearest_build() {
        let k = db();
        let same = k
            .estimate("tinyconfig", "xz", &|s| s == "TTY", &[])
            .expect("anchor");
        assert_eq!(same.bytes, 1000);
        let more = k
            .estimate(
                "tinyconfig",
                "xz",
                &|s| s == "TTY" || s == "EXT4_FS" || s == "BLOCK",
                &["CONFIG_BLOCK".into(), "CONFIG_EXT4_FS".into()],
            )
            .expect("anchor");
        assert_eq!(more.bytes, 1220);
        assert_eq!(more.no_figure, ["CONFIG_BLOCK"]);
        assert!(k.estimate("defconfig", "xz", &|_| true, &[]).is_none());
        // Another compressor starts from the same build, in its compression.
        let z = k
            .estimate("tinyconfig", "zstd", &|s| s == "TTY", &[])
            .expect("anchor");
        assert_eq!((z.bytes, z.compression.as_str()), (1000, "xz"));
    }

    #[test]
    fn a_delta_sums_what_changed_and_counts_the_unknown() {
        let k = db();
        let d = k.delta(&[
            ("EXT4_FS".into(), false, true),
            ("BLOCK".into(), false, true),
            ("TTY".into(), true, true),
        ]);
        assert_eq!(d.bytes, 220);
        assert_eq!(d.no_figure, 1);
        assert_eq!(signed(-2048), "-2 KiB");
    }

    #[test]
    fn the_shipped_database_parses_and_is_small() {
        assert!(SHIPPED.len() < 2 << 20, "{} bytes", SHIPPED.len());
        let db: SizeDb = serde_json::from_str(SHIPPED).expect("shipped database parses");
        assert_eq!(db.format, FORMAT);
    }
}
