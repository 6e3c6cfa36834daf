//! Per-option kernel sizes measured in a kbuild object folder: every object linked into
//! vmlinux (the members of `vmlinux.a`, and the members of the `lib.a` archives the link
//! pulled in), its allocated bytes read with the `object` crate, charged to the Kconfig
//! symbol that caused kbuild to build it (read from the kbuild Makefiles: `obj-$(CONFIG_X)`,
//! composite `foo-$(CONFIG_Y)`, folders entered under a symbol, `ifdef CONFIG_X` blocks, the
//! arch Makefile's `core-`, `drivers-`, `libs-`).
//!
//! Bytes counted: sections that are allocated and have contents (text, rodata, data, init
//! and exception tables). `.bss` (NOBITS) takes no room in `vmlinux.bin`, so it costs no
//! image bytes and is left out; `.discard*` sections never reach vmlinux.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use object::{Object, ObjectSection, ObjectSymbol, SectionFlags, SectionKind};

use crate::model::kernel_sizes::{self, BuildRecord, KernelSizes};

/// One object linked into vmlinux.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSize {
    /// Path relative to the object folder (`fs/ext4/inode.o`).
    pub path: String,
    /// Allocated bytes with contents.
    pub bytes: u64,
    /// The symbol (without `CONFIG_`) it is charged to; `None`: always built.
    pub symbol: Option<String>,
}

/// What one kernel build measured.
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    /// Every object linked into vmlinux.
    pub objects: Vec<ObjectSize>,
    /// `arch/x86/boot/bzImage` bytes.
    pub bzimage: u64,
    /// `arch/x86/boot/compressed/vmlinux.bin` bytes.
    pub vmlinux_bin: u64,
    /// The compressed payload's bytes.
    pub payload: u64,
    /// The built-in initramfs (uncompressed cpio), bytes.
    pub initramfs: u64,
    /// That cpio compressed alone with the kernel's compressor (its share of the payload);
    /// 0 when it could not be read.
    pub initramfs_compressed: u64,
    /// `.config` values: symbol (without `CONFIG_`) -> value.
    pub config: BTreeMap<String, String>,
    /// sha256 prefix of the `.config`.
    pub config_id: String,
    /// symbol -> its objects' allocated bytes deflated together (how well its code
    /// compresses, see [`deflated_size`]).
    pub deflated: BTreeMap<String, u64>,
    /// symbol -> what its objects add to the kernel's xz stream after the code every kernel
    /// has (`xz(core + its objects) - xz(core)`), for symbols of [`IN_CONTEXT_MIN`] bytes
    /// or more; measured only when asked for (reference builds: one xz run per symbol).
    pub in_context: BTreeMap<String, u64>,
}

/// Symbols with fewer object bytes get no in-context measurement (their figure comes from
/// the marginal ratio and how well their code deflates).
pub const IN_CONTEXT_MIN: u64 = 16 * 1024;

impl Measurement {
    /// Symbols that are `y`.
    pub fn on(&self) -> BTreeSet<&str> {
        self.config
            .iter()
            .filter(|(_, v)| v.as_str() == "y")
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// symbol -> (bytes, objects, folder holding most of its bytes).
    pub fn by_symbol(&self) -> BTreeMap<String, (u64, u32, String)> {
        let mut acc: BTreeMap<String, (u64, u32, BTreeMap<String, u64>)> = BTreeMap::new();
        for o in &self.objects {
            let Some(s) = &o.symbol else { continue };
            let e = acc.entry(s.clone()).or_default();
            e.0 += o.bytes;
            e.1 += 1;
            let dir = o.path.rsplit_once('/').map_or("", |(d, _)| d);
            *e.2.entry(format!("{dir}/")).or_default() += o.bytes;
        }
        acc.into_iter()
            .map(|(s, (b, n, dirs))| {
                let dir = dirs
                    .into_iter()
                    .max_by_key(|(_, b)| *b)
                    .map(|(d, _)| d)
                    .unwrap_or_default();
                (s, (b, n, dir))
            })
            .collect()
    }

    /// The build record of this measurement; the built-in initramfs costs what it
    /// compresses to alone (else `initramfs_ratio`, the catalog's ratio for the
    /// compressor, times its bytes), so that the kernel's own ratio leaves it out.
    pub fn record(
        &self,
        label: &str,
        base: &str,
        compression: &str,
        initramfs_ratio: f64,
        measured: &str,
    ) -> BuildRecord {
        let on = self.on();
        let by = self.by_symbol();
        BuildRecord {
            id: self.config_id.clone(),
            label: label.into(),
            base: base.into(),
            compression: compression.into(),
            bzimage: self.bzimage,
            initramfs: self.initramfs,
            initramfs_cost: if self.initramfs_compressed > 0 {
                self.initramfs_compressed
            } else {
                (self.initramfs as f64 * initramfs_ratio).round() as u64
            },
            vmlinux_bin: self.vmlinux_bin,
            payload: self.payload,
            objects: self.objects.len() as u32,
            object_bytes: self.objects.iter().map(|o| o.bytes).sum(),
            core_bytes: self
                .objects
                .iter()
                .filter(|o| o.symbol.is_none())
                .map(|o| o.bytes)
                .sum(),
            on: by
                .keys()
                .filter(|s| on.contains(s.as_str()))
                .cloned()
                .collect(),
            measured: measured.into(),
        }
    }
}

/// How a build's growth over a smaller one splits (see [`shared_growth`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Growth {
    /// Growth of all linked objects' bytes.
    pub objects: i64,
    /// Growth of the compressed payload (the initramfs's share taken out).
    pub payload: i64,
    /// Objects of the symbols that are on only in the bigger build.
    pub own: i64,
    /// Those objects deflated, symbol by symbol ([`Measurement::deflated`]).
    pub own_deflated: i64,
    /// The symbols on only in the bigger build.
    pub changed: Vec<String>,
    /// Growth of objects in both builds (or new objects of symbols on in both), charged to
    /// the changed symbols their source reads (`#ifdef` code).
    pub shared_charged: i64,
    /// Of that growth, bytes whose object reads none of the changed symbols (and objects
    /// the bigger build dropped, negative).
    pub shared_uncharged: i64,
    /// Symbol -> bytes of shared growth charged to it (the uncharged part spread over the
    /// changed symbols by the size of their own objects).
    pub per_symbol: HashMap<String, i64>,
}

/// Compares `big` with `small` (a build with a subset of its options): what grew where.
/// Objects present in both that grew, and new objects charged to a symbol that is on in
/// both, are `#ifdef` code: each is split evenly across the changed symbols its source
/// reads (kbuild's `.cmd` files list them). `objdir` is `big`'s object folder.
pub fn shared_growth(big: &Measurement, small: &Measurement, objdir: &Path) -> Growth {
    let big_on = big.on();
    let small_on = small.on();
    let changed: BTreeSet<&str> = big_on.difference(&small_on).copied().collect();
    let before: HashMap<&str, u64> = small
        .objects
        .iter()
        .map(|o| (o.path.as_str(), o.bytes))
        .collect();
    let total = |m: &Measurement| m.objects.iter().map(|o| o.bytes as i64).sum::<i64>();
    // The payload without each build's initramfs (builds with different userlands pair too).
    let payload = |m: &Measurement| m.payload as i64 - m.initramfs_compressed as i64;
    let mut g = Growth {
        objects: total(big) - total(small),
        payload: payload(big) - payload(small),
        ..Default::default()
    };
    for o in &big.objects {
        let own_changed = o.symbol.as_deref().is_some_and(|s| changed.contains(s));
        if own_changed {
            g.own += o.bytes as i64;
            continue;
        }
        let grew = o.bytes as i64 - before.get(o.path.as_str()).copied().unwrap_or(0) as i64;
        if grew == 0 {
            continue;
        }
        let deps: Vec<String> = config_deps(objdir, &o.path)
            .into_iter()
            .filter(|d| changed.contains(d.as_str()))
            .collect();
        if deps.is_empty() {
            g.shared_uncharged += grew;
            continue;
        }
        g.shared_charged += grew;
        let share = grew / deps.len() as i64;
        for d in deps {
            *g.per_symbol.entry(d).or_default() += share;
        }
    }
    // Objects only in the smaller build (dropped by the bigger one) shrink the shared part.
    let now: HashSet<&str> = big.objects.iter().map(|o| o.path.as_str()).collect();
    for o in &small.objects {
        if !now.contains(o.path.as_str()) {
            g.shared_uncharged -= o.bytes as i64;
        }
    }
    // Growth no changed symbol is read for is spread over the changed symbols by the size
    // of their own objects, so that the figures of the changed symbols add up to the
    // growth of all objects.
    g.changed = changed.iter().map(|s| s.to_string()).collect();
    g.own_deflated = changed
        .iter()
        .filter_map(|s| big.deflated.get(*s))
        .map(|d| *d as i64)
        .sum();
    let own = big.by_symbol();
    let weights: Vec<(&str, u64)> = changed
        .iter()
        .filter_map(|s| own.get(*s).map(|f| (*s, f.0)))
        .collect();
    let sum: u64 = weights.iter().map(|w| w.1).sum();
    if sum > 0 {
        for (s, w) in weights {
            let part = (g.shared_uncharged as f64 * w as f64 / sum as f64).round() as i64;
            *g.per_symbol.entry(s.to_string()).or_default() += part;
        }
    }
    g
}

/// The config symbols an object's source reads (kbuild's `.NAME.o.cmd`).
pub fn config_deps(objdir: &Path, obj: &str) -> Vec<String> {
    let (dir, file) = obj.rsplit_once('/').unwrap_or(("", obj));
    let cmd = objdir.join(dir).join(format!(".{file}.cmd"));
    let Ok(text) = fs::read_to_string(cmd) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(i) = line.find("include/config/") {
            let rest = &line[i + "include/config/".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// Allocated bytes with contents of one ELF object (bss and `.discard*` left out).
pub fn alloc_bytes(data: &[u8]) -> Result<u64> {
    alloc_contents(data, None)
}

/// [`alloc_bytes`], appending those sections' contents to `out` when given.
fn alloc_contents(data: &[u8], mut out: Option<&mut Vec<u8>>) -> Result<u64> {
    let file = object::File::parse(data).context("not an ELF object")?;
    let mut total = 0u64;
    for s in file.sections() {
        let alloc = match s.flags() {
            SectionFlags::Elf { sh_flags } => sh_flags & u64::from(object::elf::SHF_ALLOC) != 0,
            _ => false,
        };
        let nobits = matches!(
            s.kind(),
            SectionKind::UninitializedData | SectionKind::UninitializedTls | SectionKind::Common
        );
        let name = s.name().unwrap_or("");
        if alloc && !nobits && !name.starts_with(".discard") {
            total += s.size();
            if let Some(buf) = out.as_deref_mut() {
                buf.extend_from_slice(s.data().unwrap_or_default());
            }
        }
    }
    Ok(total)
}

/// Bytes `data` deflates to (flate2, default level): a cheap, steady measure of how well
/// code compresses. Kernel xz payloads grow in proportion to it: the objects ext4 adds
/// to the minimal kernel deflate to 0.523 of their bytes and cost 0.443 compressed bytes
/// per byte; the reference pair's added objects deflate to 0.479 and cost 0.405.
pub fn deflated_size(data: &[u8]) -> u64 {
    use std::io::Write;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to memory cannot fail.
    let _ = e.write_all(data);
    e.finish().map_or(0, |v| v.len() as u64)
}

/// Names of the members of a thin archive (paths relative to the archive's folder).
fn thin_members(path: &Path) -> Result<Vec<String>> {
    let data = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let ar = object::read::archive::ArchiveFile::parse(&*data)
        .with_context(|| format!("reading the archive {}", path.display()))?;
    let mut out = Vec::new();
    for m in ar.members() {
        let m = m.with_context(|| format!("reading a member of {}", path.display()))?;
        out.push(String::from_utf8_lossy(m.name()).into_owned());
    }
    Ok(out)
}

/// The objects linked into vmlinux, relative to `objdir`: every member of `vmlinux.a`, and
/// each member of `lib/lib.a` and `arch/x86/lib/lib.a` defining a symbol vmlinux has.
pub fn linked_objects(objdir: &Path) -> Result<Vec<String>> {
    let vmlinux_a = objdir.join("vmlinux.a");
    let mut out = thin_members(&vmlinux_a)?;
    let map = fs::read_to_string(objdir.join("System.map")).context("reading System.map")?;
    let linked: HashSet<&str> = map.lines().filter_map(|l| l.split(' ').nth(2)).collect();
    for lib in ["lib/lib.a", "arch/x86/lib/lib.a"] {
        let p = objdir.join(lib);
        if !p.is_file() {
            continue;
        }
        let dir = lib.trim_end_matches("lib.a");
        for m in thin_members(&p)? {
            let rel = format!("{dir}{m}");
            let data = fs::read(objdir.join(&rel)).with_context(|| format!("reading {rel}"))?;
            let Ok(file) = object::File::parse(&*data) else {
                continue;
            };
            let used = file.symbols().any(|s| {
                s.is_global() && s.is_definition() && s.name().is_ok_and(|n| linked.contains(n))
            });
            if used {
                out.push(rel);
            }
        }
    }
    Ok(out)
}

/// One assignment of a kbuild Makefile: `PREFIX-COND += ITEMS`.
#[derive(Debug, Clone)]
struct Entry {
    /// `obj`, `lib`, `core`, `drivers`, `libs`, or a composite object's name.
    prefix: String,
    /// The symbol it is conditional on (the line's own, else the enclosing `ifdef`'s).
    cond: Option<String>,
    /// `foo.o` and `dir/` items.
    items: Vec<String>,
}

const DIRECT: &[&str] = &["obj", "lib", "core", "drivers", "libs", "head", "subdir"];

/// The first `CONFIG_X` named in `s`.
fn config_in(s: &str) -> Option<String> {
    let i = s.find("CONFIG_")?;
    let name: String = s[i + 7..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Parses the assignments of a kbuild Makefile (continuations joined, `ifdef`/`ifeq` on a
/// symbol tracked).
fn parse_makefile(text: &str, srcarch: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    // The condition stack: Some(symbol) when a block holds only with that symbol on.
    let mut stack: Vec<Option<String>> = Vec::new();
    let joined = text.replace("\\\n", " ");
    for raw in joined.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        let word = line.split_whitespace().next().unwrap_or("");
        match word {
            "ifdef" => {
                stack.push(config_in(line));
                continue;
            }
            "ifeq" | "ifneq" => {
                // On when `ifeq ($(CONFIG_X),y)` or `ifneq ($(CONFIG_X),)`.
                let positive = (word == "ifeq" && (line.contains(",y)") || line.contains(", y)")))
                    || (word == "ifneq" && (line.contains(",)") || line.contains(", )")));
                stack.push(if positive { config_in(line) } else { None });
                continue;
            }
            "ifndef" => {
                stack.push(None);
                continue;
            }
            "else" => {
                if let Some(top) = stack.last_mut() {
                    *top = None;
                }
                continue;
            }
            "endif" => {
                stack.pop();
                continue;
            }
            _ => {}
        }
        let Some(op) = [" += ", " := ", " = ", "+=", ":=", "="]
            .iter()
            .find_map(|op| line.find(op).map(|i| (i, op.len())))
        else {
            continue;
        };
        let (lhs, rhs) = (line[..op.0].trim(), &line[op.0 + op.1..]);
        if lhs.contains(char::is_whitespace) && !lhs.contains("-$(") {
            continue;
        }
        // PREFIX-y, PREFIX-objs, PREFIX-$(CONFIG_X), PREFIX-$(subst m,y,$(CONFIG_X)).
        let (prefix, suffix) = if let Some(i) = lhs.find("-$(") {
            (&lhs[..i], &lhs[i + 1..])
        } else if let Some(p) = lhs.strip_suffix("-y").or_else(|| lhs.strip_suffix("-objs")) {
            (p, "y")
        } else {
            continue;
        };
        if prefix.is_empty() || prefix.contains('$') {
            continue;
        }
        let cond = config_in(suffix).or_else(|| stack.iter().rev().find_map(Clone::clone));
        let items: Vec<String> = rhs
            .split_whitespace()
            .map(|w| w.replace("$(SRCARCH)", srcarch))
            .filter(|w| !w.contains('$') && (w.ends_with(".o") || w.ends_with('/')))
            .collect();
        if !items.is_empty() {
            out.push(Entry {
                prefix: prefix.to_string(),
                cond,
                items,
            });
        }
    }
    out
}

/// The kbuild Makefiles of a source tree, parsed on demand.
pub struct Kbuild {
    src: PathBuf,
    srcarch: String,
    parsed: HashMap<String, Vec<Entry>>,
    dir_cond: HashMap<String, Option<String>>,
}

impl Kbuild {
    /// Reads the Makefiles of the tree at `src` for `srcarch` (`x86`).
    pub fn new(src: &Path, srcarch: &str) -> Kbuild {
        Kbuild {
            src: src.to_path_buf(),
            srcarch: srcarch.to_string(),
            parsed: HashMap::new(),
            dir_cond: HashMap::new(),
        }
    }

    fn entries(&mut self, dir: &str) -> &[Entry] {
        if !self.parsed.contains_key(dir) {
            let base = self.src.join(dir);
            let mut text = fs::read_to_string(base.join("Kbuild"))
                .or_else(|_| fs::read_to_string(base.join("Makefile")))
                .unwrap_or_default();
            if dir.is_empty() {
                // The arch Makefile adds top-level folders (`drivers-$(CONFIG_PCI) +=
                // arch/x86/pci/`).
                let arch = self.src.join("arch").join(&self.srcarch).join("Makefile");
                text.push('\n');
                text.push_str(&fs::read_to_string(arch).unwrap_or_default());
            }
            let entries = parse_makefile(&text, &self.srcarch);
            self.parsed.insert(dir.to_string(), entries);
        }
        &self.parsed[dir]
    }

    /// The condition of `item` (a path relative to `dir`) in `dir`'s Makefile: `Some(None)`
    /// when it is listed unconditionally, `None` when it is not listed.
    fn listed(&mut self, dir: &str, item: &str) -> Option<Option<String>> {
        let entries = self.entries(dir).to_vec();
        let direct = |e: &&Entry| DIRECT.contains(&e.prefix.as_str());
        if let Some(e) = entries
            .iter()
            .filter(direct)
            .find(|e| e.items.iter().any(|i| i == item))
        {
            return Some(e.cond.clone());
        }
        // A part of a composite object `P.o`: its own condition, else P.o's.
        if item.ends_with(".o") {
            for e in entries.iter().filter(|e| !direct(e)) {
                if e.items.iter().any(|i| i == item) {
                    let whole = format!("{}.o", e.prefix);
                    if let Some(c) = entries
                        .iter()
                        .filter(direct)
                        .find(|x| x.items.contains(&whole))
                        .map(|x| x.cond.clone())
                    {
                        return Some(e.cond.clone().or(c));
                    }
                    return Some(e.cond.clone());
                }
            }
        }
        None
    }

    /// Ancestors of `dir`, nearest first, ending with the root (`""`).
    fn ancestors(dir: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut d = dir;
        while let Some((p, _)) = d.rsplit_once('/') {
            out.push(p.to_string());
            d = p;
        }
        if !dir.is_empty() {
            out.push(String::new());
        }
        out
    }

    fn rel(from: &str, to: &str) -> String {
        if from.is_empty() {
            to.to_string()
        } else {
            to.strip_prefix(&format!("{from}/"))
                .unwrap_or(to)
                .to_string()
        }
    }

    /// The innermost symbol a folder is entered under (`None`: always entered).
    fn folder(&mut self, dir: &str) -> Option<String> {
        if dir.is_empty() {
            return None;
        }
        if let Some(c) = self.dir_cond.get(dir) {
            return c.clone();
        }
        let mut result = None;
        for a in Self::ancestors(dir) {
            let item = format!("{}/", Self::rel(&a, dir));
            if let Some(c) = self.listed(&a, &item) {
                result = c.or_else(|| self.folder(&a));
                break;
            }
        }
        self.dir_cond.insert(dir.to_string(), result.clone());
        result
    }

    /// The symbol an object (relative path) is charged to: the innermost condition on the
    /// way from the root to it; `None` for code always built.
    pub fn symbol_of(&mut self, obj: &str) -> Option<String> {
        let dir = obj.rsplit_once('/').map_or("", |(d, _)| d);
        let mut here = vec![dir.to_string()];
        here.extend(Self::ancestors(dir));
        for a in here {
            let item = Self::rel(&a, obj);
            if let Some(c) = self.listed(&a, &item) {
                return c.or_else(|| self.folder(&a));
            }
        }
        self.folder(dir)
    }
}

/// Which compressed payload a `.config` asks for.
fn payload_name(config: &BTreeMap<String, String>) -> &'static str {
    for (opt, file) in [
        ("KERNEL_XZ", "vmlinux.bin.xz"),
        ("KERNEL_ZSTD", "vmlinux.bin.zst"),
        ("KERNEL_GZIP", "vmlinux.bin.gz"),
        ("KERNEL_LZMA", "vmlinux.bin.lzma"),
        ("KERNEL_BZIP2", "vmlinux.bin.bz2"),
        ("KERNEL_LZO", "vmlinux.bin.lzo"),
        ("KERNEL_LZ4", "vmlinux.bin.lz4"),
    ] {
        if config.get(opt).is_some_and(|v| v == "y") {
            return file;
        }
    }
    "vmlinux.bin.gz"
}

/// The kernel's compressor, from its `.config`.
fn compression_of(config: &BTreeMap<String, String>) -> crate::model::profile::Compression {
    use crate::model::profile::Compression;
    let on = |k: &str| config.get(k).is_some_and(|v| v == "y");
    if on("KERNEL_ZSTD") {
        Compression::Zstd
    } else if on("KERNEL_GZIP") {
        Compression::Gzip
    } else {
        Compression::Xz
    }
}

/// What each group of at least [`IN_CONTEXT_MIN`] bytes adds to the compressed stream
/// after `core`, with the kernel's own compressor.
fn costs_in_context(
    core: &[u8],
    groups: &BTreeMap<String, Vec<u8>>,
    c: crate::model::profile::Compression,
) -> Result<BTreeMap<String, u64>> {
    use super::kernel::compressed_alone;
    let base = compressed_alone(core, c)?;
    let mut out = BTreeMap::new();
    let mut buf = Vec::with_capacity(core.len() * 2);
    for (s, g) in groups
        .iter()
        .filter(|(_, g)| g.len() as u64 >= IN_CONTEXT_MIN)
    {
        buf.clear();
        buf.extend_from_slice(core);
        buf.extend_from_slice(g);
        out.insert(s.clone(), compressed_alone(&buf, c)?.saturating_sub(base));
    }
    Ok(out)
}

/// Measures a built kernel: every linked object's bytes and symbol, the bzImage, the
/// `vmlinux.bin` and its compressed payload.
pub fn measure(src: &Path, objdir: &Path) -> Result<Measurement> {
    measure_with(src, objdir, false)
}

/// [`measure`], and with `in_context`, each large symbol's cost in the xz stream after
/// the code every kernel has ([`Measurement::in_context`]).
pub fn measure_with(src: &Path, objdir: &Path, in_context: bool) -> Result<Measurement> {
    let text = fs::read_to_string(objdir.join(".config"))
        .with_context(|| format!("reading {}/.config", objdir.display()))?;
    let mut config = BTreeMap::new();
    for (k, v) in super::kernel::parse_config(&text) {
        if let (Some(name), super::kernel::ConfigValue::Set(v)) = (k.strip_prefix("CONFIG_"), v) {
            config.insert(name.to_string(), v);
        }
    }
    let size = |rel: &str| -> Result<u64> {
        let p = objdir.join(rel);
        Ok(fs::metadata(&p)
            .with_context(|| format!("{} is missing (is the kernel built?)", p.display()))?
            .len())
    };
    let bzimage = size("arch/x86/boot/bzImage")?;
    let vmlinux_bin = size("arch/x86/boot/compressed/vmlinux.bin")?;
    let payload = size(&format!(
        "arch/x86/boot/compressed/{}",
        payload_name(&config)
    ))?;
    // kbuild's copy of the built-in initramfs (the source path may be gone by now).
    let cpio = fs::read(objdir.join("usr/initramfs_inc_data")).unwrap_or_default();
    let initramfs = cpio.len() as u64;
    let initramfs_compressed = if cpio.is_empty() {
        0
    } else {
        super::kernel::compressed_alone(&cpio, compression_of(&config)).unwrap_or(0)
    };
    let mut kb = Kbuild::new(src, "x86");
    let mut objects = Vec::new();
    let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut core: Vec<u8> = Vec::new();
    for path in linked_objects(objdir)? {
        // The built-in initramfs is the userland's, estimated on its own.
        if path == "usr/initramfs_data.o" {
            continue;
        }
        let data = fs::read(objdir.join(&path)).with_context(|| format!("reading {path}"))?;
        let symbol = kb.symbol_of(&path);
        let buf = match &symbol {
            Some(s) => Some(contents.entry(s.clone()).or_default()),
            None if in_context => Some(&mut core),
            None => None,
        };
        let bytes = alloc_contents(&data, buf).with_context(|| format!("measuring {path}"))?;
        objects.push(ObjectSize {
            path,
            bytes,
            symbol,
        });
    }
    if objects.is_empty() {
        bail!("{} links no objects", objdir.join("vmlinux.a").display());
    }
    let in_context = if in_context {
        costs_in_context(&core, &contents, compression_of(&config))?
    } else {
        BTreeMap::new()
    };
    Ok(Measurement {
        objects,
        bzimage,
        vmlinux_bin,
        payload,
        initramfs,
        initramfs_compressed,
        config,
        config_id: super::cache::sha256_bytes(text.as_bytes())[..16].to_string(),
        deflated: contents
            .iter()
            .map(|(s, b)| (s.clone(), deflated_size(b)))
            .collect(),
        in_context,
    })
}

/// Adds a measured build to a lineage of the database: its own figures, and the shared
/// growth over `smaller` (a measured build with a subset of its options), when given.
pub fn add_to_db(
    k: &mut KernelSizes,
    m: &Measurement,
    record: BuildRecord,
    growth: Option<&Growth>,
) {
    let mut own = m.by_symbol();
    // Only symbols that are on get figures from this build (a symbol charged objects
    // while off cannot happen; guard against Makefile readings that say otherwise).
    let on = m.on();
    own.retain(|s, _| on.contains(s.as_str()));
    let mut ifdef = growth.map(|g| g.per_symbol.clone()).unwrap_or_default();
    // A pair of builds measures what added code really costs compressed: the payload's
    // growth over the objects' growth (relocations and less repetitive code make it more
    // than the average ratio).
    if let Some(g) = growth.filter(|g| g.objects > 0 && g.payload > 0) {
        k.marginal_ratio = g.payload as f64 / g.objects as f64;
        if g.own > 0 && g.own_deflated > 0 {
            k.deflate_ref = g.own_deflated as f64 / g.own as f64;
        }
        k.marginal_source = format!(
            "payload +{} bytes over linked objects +{} bytes, build {} over its subset",
            g.payload, g.objects, record.id
        );
    }
    // Symbols measured before keep their #ifdef share when this build measured none.
    for (s, f) in &k.symbols {
        if own.contains_key(s) && !ifdef.contains_key(s) && f.ifdef != 0 {
            ifdef.insert(s.clone(), f.ifdef);
        }
    }
    kernel_sizes::record_build(k, record, &own, &ifdef, &m.deflated, &m.in_context);
}

/// What a build was, for its record in the database.
pub struct BuildInfo<'a> {
    /// What was built (profile, base, fragments).
    pub label: &'a str,
    /// Base configuration.
    pub base: &'a str,
    /// Kernel compression (`xz`).
    pub compression: &'a str,
    /// `gcc --version`'s first line.
    pub gcc_version: &'a str,
}

/// After a kernel build: measures `objdir` and adds the build to the user's database in
/// `cache` (`sizes/kernel-sizes.json`, under a lock), so later estimates start from it.
/// Returns a line saying what was recorded; `None` when the database has this
/// configuration already.
pub fn update_user_db(
    cache: &Path,
    src: &Path,
    objdir: &Path,
    info: &BuildInfo<'_>,
) -> Result<Option<String>> {
    let path = kernel_sizes::user_path(cache);
    let config = fs::read(objdir.join(".config"))
        .with_context(|| format!("reading {}/.config", objdir.display()))?;
    let id = &super::cache::sha256_bytes(&config)[..16];
    if kernel_sizes::SizeDb::read(&path)?
        .kernels
        .iter()
        .any(|k| k.builds.iter().any(|b| b.id == id))
    {
        return Ok(None);
    }
    let m = measure(src, objdir)?;
    // Used only when kbuild's copy of the initramfs could not be compressed.
    let initramfs_ratio = crate::model::Catalog::embedded()
        .model
        .ratio
        .get(info.compression)
        .copied()
        .unwrap_or(1.0);
    let version = crate::kconfig::tree::kernel_version(src)?;
    let stamp = super::kernel::format_epoch(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    let record = m.record(
        info.label,
        info.base,
        info.compression,
        initramfs_ratio,
        &format!("stali build, {stamp}"),
    );
    let line = format!(
        "kernel sizes: {} objects ({} bytes, {} charged to no option) recorded as build {}",
        record.objects, record.object_bytes, record.core_bytes, record.id
    );
    if let Some(d) = path.parent() {
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let _lock = super::cache::lock_file(&path.with_extension("lock"))?;
    let mut db = kernel_sizes::SizeDb::read(&path)?;
    let compiler = kernel_sizes::compiler_id(info.gcc_version);
    let k = db.entry(&version, "x86_64", &compiler);
    // A single build measures no marginal ratio: the shipped reference pair's holds for
    // this lineage (each build's average ratio would understate every figure by ~25%).
    if k.marginal_ratio == 0.0
        && let Some(s) = kernel_sizes::SizeDb::shipped().find(&version, "x86_64", &compiler)
    {
        k.marginal_ratio = s.marginal_ratio;
        k.marginal_source = s.marginal_source.clone();
        k.deflate_ref = s.deflate_ref;
    }
    add_to_db(k, &m, record, None);
    db.write(&path)?;
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makefile_assignments_and_conditions() {
        let text = "obj-$(CONFIG_EXT4_FS) += ext4.o\n\
                    ext4-y := balloc.o \\\n\tbitmap.o\n\
                    ext4-$(CONFIG_EXT4_FS_POSIX_ACL) += acl.o\n\
                    ifdef CONFIG_NET\nobj-y += sock.o\nelse\nobj-y += nosock.o\nendif\n\
                    obj-$(subst m,y,$(CONFIG_HYPERV)) += hyperv/\n\
                    obj-y += arch/$(SRCARCH)/\n";
        let e = parse_makefile(text, "x86");
        let find = |item: &str| {
            e.iter()
                .find(|x| x.items.iter().any(|i| i == item))
                .map(|x| (x.prefix.clone(), x.cond.clone()))
        };
        assert_eq!(find("ext4.o"), Some(("obj".into(), Some("EXT4_FS".into()))));
        assert_eq!(find("bitmap.o"), Some(("ext4".into(), None)));
        assert_eq!(
            find("acl.o"),
            Some(("ext4".into(), Some("EXT4_FS_POSIX_ACL".into())))
        );
        assert_eq!(find("sock.o"), Some(("obj".into(), Some("NET".into()))));
        assert_eq!(find("nosock.o"), Some(("obj".into(), None)));
        assert_eq!(find("hyperv/"), Some(("obj".into(), Some("HYPERV".into()))));
        assert_eq!(find("arch/x86/"), Some(("obj".into(), None)));
    }

    #[test]
    fn objects_are_charged_to_the_innermost_symbol() {
        let d = tempfile::tempdir().expect("tempdir");
        let w = |p: &str, t: &str| {
            let f = d.path().join(p);
            fs::create_dir_all(f.parent().expect("parent")).expect("mkdir");
            fs::write(f, t).expect("write");
        };
        w("Kbuild", "obj-y += fs/\nobj-$(CONFIG_NET) += net/\n");
        w(
            "arch/x86/Makefile",
            "drivers-$(CONFIG_PCI) += arch/x86/pci/\n",
        );
        w("arch/x86/pci/Makefile", "obj-y += common.o\n");
        w(
            "fs/Makefile",
            "obj-y += open.o\nobj-$(CONFIG_EXT4_FS) += ext4/\n",
        );
        w(
            "fs/ext4/Makefile",
            "obj-$(CONFIG_EXT4_FS) += ext4.o\next4-y := inode.o\next4-$(CONFIG_EXT4_FS_POSIX_ACL) += acl.o\n",
        );
        w(
            "net/Makefile",
            "obj-y += socket.o\nobj-$(CONFIG_INET) += ipv4/\n",
        );
        w("net/ipv4/Makefile", "obj-y += route.o\n");
        let mut kb = Kbuild::new(d.path(), "x86");
        assert_eq!(kb.symbol_of("fs/open.o"), None);
        assert_eq!(kb.symbol_of("fs/ext4/inode.o").as_deref(), Some("EXT4_FS"));
        assert_eq!(
            kb.symbol_of("fs/ext4/acl.o").as_deref(),
            Some("EXT4_FS_POSIX_ACL")
        );
        assert_eq!(kb.symbol_of("net/socket.o").as_deref(), Some("NET"));
        assert_eq!(kb.symbol_of("net/ipv4/route.o").as_deref(), Some("INET"));
        assert_eq!(
            kb.symbol_of("arch/x86/pci/common.o").as_deref(),
            Some("PCI")
        );
    }

    #[test]
    fn shared_growth_is_charged_to_the_changed_symbols_the_source_reads() {
        let d = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(d.path().join("fs")).expect("mkdir");
        fs::write(
            d.path().join("fs/.open.o.cmd"),
            "deps := \\\n    $(wildcard include/config/NET) \\\n    $(wildcard include/config/TTY)\n",
        )
        .expect("cmd");
        let obj = |p: &str, b: u64, s: Option<&str>| ObjectSize {
            path: p.into(),
            bytes: b,
            symbol: s.map(String::from),
        };
        let cfg = |on: &[&str]| {
            on.iter()
                .map(|s| (s.to_string(), "y".to_string()))
                .collect()
        };
        let small = Measurement {
            objects: vec![
                obj("fs/open.o", 1000, None),
                obj("kernel/fork.o", 500, None),
            ],
            config: cfg(&["TTY"]),
            ..Default::default()
        };
        let big = Measurement {
            objects: vec![
                obj("fs/open.o", 1100, None),
                obj("kernel/fork.o", 550, None),
                obj("net/socket.o", 2000, Some("NET")),
            ],
            config: cfg(&["TTY", "NET"]),
            ..Default::default()
        };
        let g = shared_growth(&big, &small, d.path());
        assert_eq!(g.objects, 2150);
        assert_eq!(g.own, 2000);
        assert_eq!(g.shared_charged, 100);
        assert_eq!(g.shared_uncharged, 50);
        assert_eq!(g.per_symbol.get("NET"), Some(&150));
        assert_eq!(g.per_symbol.get("TTY"), None);
    }

    /// Measures the real kernel the slow kernel tests build (tinyconfig and the serial
    /// console): objects found, charged, sized; the ratio in a sane range.
    #[test]
    #[ignore = "slow: builds a real kernel (~6 min the first time)"]
    fn a_real_kernel_is_measured() {
        use crate::pipeline::cpio::{console_entries, write_newc_if_changed};
        use crate::pipeline::kernel::test_support::*;
        let _lock = KERNEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let k = configured();
        let cpio = crate::pipeline::kernel::initramfs_path(&k.objdir);
        write_newc_if_changed(None, &console_entries(), EPOCH, &cpio).expect("cpio");
        crate::pipeline::kernel::build(
            &k.src,
            &k.objdir,
            crate::model::Arch::X86_64,
            2,
            EPOCH,
            &k.log,
        )
        .expect("build");
        let m = measure(&k.src, &k.objdir).expect("measure");
        assert!(m.objects.len() > 300, "{} objects", m.objects.len());
        let by = m.by_symbol();
        for sym in ["SERIAL_8250", "TTY", "PROC_FS", "BINFMT_ELF"] {
            assert!(
                by.get(sym).is_some_and(|f| f.0 > 1000),
                "{sym}: {:?}",
                by.get(sym)
            );
        }
        assert!(by["SERIAL_8250"].2.starts_with("drivers/tty/serial/8250"));
        let r = m.record("test", "tinyconfig", "xz", 0.37, "test");
        assert!(r.core_bytes > 500_000 && r.core_bytes < r.object_bytes);
        assert!(r.ratio() > 0.15 && r.ratio() < 0.5, "ratio {}", r.ratio());
    }
}
