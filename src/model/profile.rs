//! The profile: a short, commented TOML file describing one Stali image.
//!
//! Reading is done by hand over the spanned TOML tree (see [`super::walk`]) so that every
//! problem names its key, line and column. Writing back into an existing file goes through
//! `toml_edit`, which keeps the user's comments and key order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::catalog::{
    BootMode, Origin, PinKind, ToolDef, check_pin, check_url, is_commit, is_sha256, read_tool,
    short,
};
use super::diag::{Diagnostic, Invalid, suggestion};
use super::walk::{Reader, TableNode};

/// The profile format this build understands.
pub const FORMAT: u64 = 1;

/// Largest profile file accepted, in bytes.
pub const MAX_FILE: u64 = 1 << 20;

/// Longest kernel command line accepted.
pub const MAX_CMDLINE: usize = 512;

/// Where the kernel source comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KernelSource {
    /// A release tarball, checked by sha256.
    Tarball {
        /// URL (https or file).
        url: String,
        /// Expected sha256.
        sha256: String,
    },
    /// A git repository at a pinned commit.
    Git {
        /// URL.
        url: String,
        /// 40-hex commit.
        rev: String,
    },
    /// A local directory or tarball, such as Debian's `/usr/src/linux-source-6.1.tar.xz`.
    Path(PathBuf),
}

/// The default kernel source: Debian's packaged 6.1 tree.
pub const DEFAULT_KERNEL_PATH: &str = "/usr/src/linux-source-6.1.tar.xz";

impl Default for KernelSource {
    fn default() -> Self {
        KernelSource::Path(PathBuf::from(DEFAULT_KERNEL_PATH))
    }
}

impl KernelSource {
    /// A one-line description.
    pub fn describe(&self) -> String {
        match self {
            KernelSource::Tarball { url, .. } => format!("tarball {url}"),
            KernelSource::Git { url, rev } => format!("git {url} @ {}", &rev[..rev.len().min(12)]),
            KernelSource::Path(p) => format!("path {}", p.display()),
        }
    }
}

/// Initramfs / kernel image compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Compression {
    /// gzip: fastest to unpack, largest.
    Gzip,
    /// xz: smallest.
    Xz,
    /// zstd: fast and small.
    Zstd,
}

impl Compression {
    /// All, in menu order.
    pub const ALL: [Compression; 3] = [Compression::Gzip, Compression::Xz, Compression::Zstd];

    /// Profile spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }

    /// Parses the profile spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Compression::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Kernel settings of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KernelSettings {
    /// Where the source comes from.
    pub source: KernelSource,
    /// `tinyconfig` or `defconfig`.
    pub base: String,
    /// Extra fragments on top of the hardware's.
    pub fragments: Vec<String>,
    /// Single options, `(CONFIG_X, value)` in file order; value `n` means not set.
    pub options: Vec<(String, String)>,
}

/// Image settings of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSettings {
    /// Boot mode; `None` means the hardware's default.
    pub boot: Option<BootMode>,
    /// Compression.
    pub compression: Compression,
    /// Kernel command line; `None` means `console=<hardware console>`.
    pub cmdline: Option<String>,
    /// Host name.
    pub hostname: String,
    /// Size budget in bytes.
    pub budget: Option<u64>,
}

impl Default for ImageSettings {
    fn default() -> Self {
        ImageSettings {
            boot: None,
            compression: Compression::Xz,
            cmdline: None,
            hostname: "stali".into(),
            budget: None,
        }
    }
}

/// A parsed profile, before resolution against the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Schema version.
    pub format: u64,
    /// Profile name (used in the ready banner and file names).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Hardware target name.
    pub hardware: String,
    /// Tools the user chose (dependencies come from resolution).
    pub select: Vec<String>,
    /// Kernel settings.
    pub kernel: KernelSettings,
    /// Image settings.
    pub image: ImageSettings,
    /// Pin overrides: tool name to commit or sha256.
    pub pins: Vec<(String, String)>,
    /// Tools defined in the profile itself.
    pub inline_tools: Vec<ToolDef>,
    /// How root logs in (`[access]`, see [`super::access`]).
    pub access: super::access::Access,
    /// Line and column of each key path read, for later diagnostics.
    pub locations: BTreeMap<String, (usize, usize)>,
    /// The file it was read from.
    pub file: Option<PathBuf>,
}

/// The tools a profile selects when it says nothing.
pub const DEFAULT_SELECT: &[&str] = &["sinit", "mksh", "sbase"];

impl Default for Profile {
    fn default() -> Self {
        Profile {
            format: FORMAT,
            name: "stali".into(),
            description: String::new(),
            hardware: "qemu-x86_64".into(),
            select: DEFAULT_SELECT.iter().map(|s| s.to_string()).collect(),
            kernel: KernelSettings {
                base: "tinyconfig".into(),
                ..KernelSettings::default()
            },
            image: ImageSettings::default(),
            pins: Vec::new(),
            inline_tools: Vec::new(),
            access: Default::default(),
            locations: BTreeMap::new(),
            file: None,
        }
    }
}

/// Whether `s` is a valid profile name: 1-64 of `a-z 0-9 - _ .`, starting alphanumeric.
pub fn valid_profile_name(s: &str) -> bool {
    super::catalog::valid_name(s)
}

/// Whether `s` is a valid host name (one RFC 1123 label).
pub fn valid_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Why a kernel command line is refused, or `None` when it is fine.
pub fn cmdline_problem(s: &str) -> Option<String> {
    if s.len() > MAX_CMDLINE {
        return Some(format!("is {} bytes long; at most {MAX_CMDLINE}", s.len()));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Some(format!(
            "contains a control character ({:?}); a command line is one line",
            c
        ));
    }
    const BAD: &str = ";&|$`<>\\\"'(){}*?!~#[]";
    if let Some(c) = s.chars().find(|c| BAD.contains(*c) || !c.is_ascii()) {
        return Some(format!(
            "contains `{c}`; use only letters, digits, spaces and `=,.:/_-+@%`"
        ));
    }
    None
}

/// Parses a size such as `8 MiB`, `512K`, `3.5M`, `1GB` or `1000000` into bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "K" | "k" | "KiB" => 1024.0,
        "KB" | "kB" => 1000.0,
        "M" | "MiB" => 1024.0 * 1024.0,
        "MB" => 1e6,
        "G" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "GB" => 1e9,
        _ => return None,
    };
    let v = num * mult;
    (v.is_finite() && (0.0..1e15).contains(&v)).then_some(v.round() as u64)
}

/// Formats bytes for people: `372 KiB`, `1.1 MiB`.
pub fn human(bytes: u64) -> String {
    const K: f64 = 1024.0;
    let b = bytes as f64;
    if b < K {
        format!("{bytes} B")
    } else if b < K * K {
        format!("{:.0} KiB", b / K)
    } else if b < K * K * K {
        format!("{:.1} MiB", b / K / K)
    } else {
        format!("{:.2} GiB", b / K / K / K)
    }
}

/// Formats a signed delta for people: `+372 KiB`, `-1.1 MiB`, `±0`.
pub fn human_delta(delta: i64) -> String {
    match delta.cmp(&0) {
        std::cmp::Ordering::Equal => "±0".into(),
        std::cmp::Ordering::Greater => format!("+{}", human(delta as u64)),
        std::cmp::Ordering::Less => format!("-{}", human(delta.unsigned_abs())),
    }
}

/// Writes a kernel option value as it appears after `=` in a .config.
pub fn kconfig_value(v: &str) -> String {
    let plain = matches!(v, "y" | "n" | "m")
        || v.parse::<i64>().is_ok()
        || (v.starts_with("0x") && v.len() > 2 && v[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    if plain || (v.starts_with('"') && v.ends_with('"') && v.len() >= 2) {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

const TOP_KEYS: &[&str] = &[
    "format",
    "name",
    "description",
    "target",
    "tools",
    "kernel",
    "image",
    "pins",
    "tool",
    "access",
];

impl Profile {
    /// Reads a profile file; a missing, unreadable, oversized, binary or non-file path is an error.
    pub fn load(path: &Path) -> Result<Profile, Invalid> {
        let fail = |msg: String| Err(Invalid(vec![Diagnostic::error(msg).in_file(path)]));
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return fail("no such file".into());
            }
            Err(e) => return fail(format!("cannot read: {e}")),
        };
        if meta.is_dir() {
            return fail("is a directory, not a profile file".into());
        }
        if !meta.is_file() {
            return fail("is not a regular file".into());
        }
        if meta.len() > MAX_FILE {
            return fail(format!(
                "is {} bytes; a profile is at most {} bytes",
                meta.len(),
                MAX_FILE
            ));
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return fail(format!("cannot read: {e}")),
        };
        match String::from_utf8(bytes) {
            Ok(text) => Profile::parse(&text, Some(path)),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let good = String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned();
                let (line, col) = super::diag::line_col(&good, good.len());
                Err(Invalid(vec![
                    Diagnostic::error(format!(
                        "not UTF-8 text (invalid byte at offset {at}); a profile is a TOML text file"
                    ))
                    .at_pos(Some((line, col)))
                    .in_file(path),
                ]))
            }
        }
    }

    /// Parses profile text; `file` is only used in messages and for the default name.
    pub fn parse(text: &str, file: Option<&Path>) -> Result<Profile, Invalid> {
        let mut r = Reader::new(text, file);
        if text.contains('\0') {
            r.error(
                &(0..0),
                "",
                "contains NUL bytes; a profile is a TOML text file",
            );
            return Err(Invalid(r.diags));
        }
        if text.trim().is_empty() {
            r.error(
                &(0..0),
                "",
                format!("the file is empty; a profile needs at least `format = {FORMAT}`"),
            );
            return Err(Invalid(r.diags));
        }
        let Some(doc) = r.parse() else {
            return Err(Invalid(r.diags));
        };
        let mut p = Profile {
            file: file.map(Path::to_path_buf),
            ..Profile::default()
        };
        if let Some(stem) = file
            .and_then(|f| f.file_stem())
            .map(|s| s.to_string_lossy().to_lowercase())
            && valid_profile_name(&stem)
        {
            p.name = stem;
        }
        let root = TableNode::root(&doc);
        r.only_keys(&root, TOP_KEYS);
        let mut loc = |r: &Reader<'_>, key: &str, span: &std::ops::Range<usize>| {
            p.locations.insert(key.to_string(), r.pos(span));
        };

        match r.integer(&root, "format") {
            Some(f) => {
                let v = *f.get_ref();
                if v > FORMAT {
                    r.error(
                        &f.span(),
                        "format",
                        format!(
                            "format {v} is newer than this stali understands (format {FORMAT}); upgrade stali to read it"
                        ),
                    );
                } else if v < 1 {
                    r.error(&f.span(), "format", format!("format must be {FORMAT}"));
                }
                p.format = v;
            }
            None => {
                if root.get("format").is_none() {
                    r.error(
                        &(0..0),
                        "format",
                        format!("missing `format = {FORMAT}` (the schema version) at the top of the file"),
                    );
                }
            }
        }
        if let Some(n) = r.string(&root, "name") {
            if valid_profile_name(n.get_ref()) {
                p.name = n.get_ref().clone();
            } else {
                r.error(
                    &n.span(),
                    "name",
                    format!(
                        "`{}` is not a valid profile name: 1-64 lowercase letters, digits, `-`, `_`, `.`",
                        short(n.get_ref())
                    ),
                );
            }
        }
        if let Some(d) = r.string(&root, "description") {
            if d.get_ref().chars().count() > 200 || d.get_ref().chars().any(char::is_control) {
                r.error(
                    &d.span(),
                    "description",
                    "a description is one line of at most 200 characters",
                );
            } else {
                p.description = d.into_inner();
            }
        }

        if let Some(t) = r.table(&root, "target") {
            r.only_keys(&t, &["hardware"]);
            if let Some(h) = r.string(&t, "hardware") {
                loc(&r, "target.hardware", &h.span());
                p.hardware = h.into_inner();
            }
        }

        if let Some(t) = r.table(&root, "tools") {
            r.only_keys(&t, &["select"]);
            if let Some((v, _)) = t.get("select") {
                loc(&r, "tools.select", &t.key_span("select"));
                let _ = v;
            }
            if let Some(list) = r.strings(&t, "select") {
                p.select.clear();
                for (i, s) in list.into_iter().enumerate() {
                    let key = format!("tools.select[{i}]");
                    loc(&r, &key, &s.span());
                    if p.select.contains(s.get_ref()) {
                        r.warning(
                            &s.span(),
                            &key,
                            format!("`{}` is listed twice", short(s.get_ref())),
                        );
                        continue;
                    }
                    p.select.push(s.into_inner());
                }
            }
        }

        if let Some(t) = r.table(&root, "kernel") {
            r.only_keys(&t, &["source", "base", "fragments", "options"]);
            if let Some(src) = r.table(&t, "source") {
                r.only_keys(&src, &["tarball", "sha256", "git", "rev", "path"]);
                let tarball = r.string(&src, "tarball");
                let sha = r.string(&src, "sha256");
                let git = r.string(&src, "git");
                let rev = r.string(&src, "rev");
                let path = r.string(&src, "path");
                match (tarball, sha, git, rev, path) {
                    (Some(u), Some(s), None, None, None) => {
                        check_url(&mut r, &u, "kernel.source.tarball");
                        check_pin(&mut r, &s, "kernel.source.sha256", PinKind::Sha256);
                        p.kernel.source = KernelSource::Tarball {
                            url: u.into_inner(),
                            sha256: s.into_inner().to_ascii_lowercase(),
                        };
                    }
                    (None, None, Some(u), Some(v), None) => {
                        check_url(&mut r, &u, "kernel.source.git");
                        check_pin(&mut r, &v, "kernel.source.rev", PinKind::Commit);
                        p.kernel.source = KernelSource::Git {
                            url: u.into_inner(),
                            rev: v.into_inner().to_ascii_lowercase(),
                        };
                    }
                    (None, None, None, None, Some(path)) => {
                        let s = path.get_ref();
                        if !s.starts_with('/') || s.chars().any(char::is_control) || s.len() > 4096
                        {
                            r.error(
                                &path.span(),
                                "kernel.source.path",
                                "give an absolute path to a kernel tree or tarball",
                            );
                        }
                        p.kernel.source = KernelSource::Path(PathBuf::from(path.into_inner()));
                    }
                    (Some(u), None, None, None, None) => r.error(
                        &u.span(),
                        "kernel.source",
                        "a tarball source needs `sha256 = \"<64 hex>\"` beside it",
                    ),
                    (None, None, Some(u), None, None) => r.error(
                        &u.span(),
                        "kernel.source",
                        "a git source needs `rev = \"<40-hex commit>\"` beside it",
                    ),
                    _ => r.error(
                        &src.span,
                        "kernel.source",
                        "give exactly one of { tarball, sha256 }, { git, rev } or { path }",
                    ),
                }
            }
            if let Some(b) = r.string(&t, "base") {
                if ["tinyconfig", "defconfig"].contains(&b.get_ref().as_str()) {
                    p.kernel.base = b.into_inner();
                } else {
                    let hint = suggestion(b.get_ref(), ["tinyconfig", "defconfig"]);
                    r.error(
                        &b.span(),
                        "kernel.base",
                        format!(
                            "unknown base `{}`{hint} (use tinyconfig or defconfig)",
                            short(b.get_ref())
                        ),
                    );
                }
            }
            if let Some(list) = r.strings(&t, "fragments") {
                for (i, s) in list.into_iter().enumerate() {
                    let key = format!("kernel.fragments[{i}]");
                    loc(&r, &key, &s.span());
                    if !p.kernel.fragments.contains(s.get_ref()) {
                        p.kernel.fragments.push(s.into_inner());
                    }
                }
            }
            if let Some(opts) = r.table(&t, "options") {
                for (k, node) in opts.keys() {
                    let name: &str = k.get_ref();
                    let key = format!("kernel.options.{name}");
                    let valid = name.starts_with("CONFIG_")
                        && name.len() > 7
                        && name.len() <= 100
                        && name[7..]
                            .bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
                    if !valid {
                        r.error(
                            &k.span(),
                            &key,
                            "not a kernel option name: expected CONFIG_ followed by A-Z, 0-9 and _",
                        );
                        continue;
                    }
                    use toml::de::DeValue;
                    let value = match node.value.get_ref() {
                        DeValue::String(s) => Some(s.to_string()),
                        DeValue::Boolean(true) => Some("y".to_string()),
                        DeValue::Boolean(false) => Some("n".to_string()),
                        DeValue::Integer(i) => Some(i.as_str().to_string()),
                        other => {
                            r.error(
                                &node.value.span(),
                                &key,
                                format!(
                                    "expected \"y\", \"n\", a number or a string, found {}",
                                    super::walk::type_name(other)
                                ),
                            );
                            None
                        }
                    };
                    let Some(value) = value else { continue };
                    if value.chars().any(char::is_control) || value.len() > 1024 {
                        r.error(
                            &node.value.span(),
                            &key,
                            "a kernel option value is one line of at most 1024 bytes",
                        );
                        continue;
                    }
                    if value == "m" {
                        r.error(
                            &node.value.span(),
                            &key,
                            "`m` builds a module, and a Stali kernel has no modules: use \"y\" or \"n\"",
                        );
                        continue;
                    }
                    if name == "CONFIG_MODULES" && value != "n" {
                        r.error(
                            &node.value.span(),
                            &key,
                            "a Stali kernel has no modules; CONFIG_MODULES is always off",
                        );
                        continue;
                    }
                    loc(&r, &key, &k.span());
                    p.kernel.options.push((name.to_string(), value));
                }
            }
        }

        if let Some(t) = r.table(&root, "image") {
            r.only_keys(
                &t,
                &["boot", "compression", "cmdline", "hostname", "budget"],
            );
            if let Some(b) = r.string(&t, "boot") {
                match BootMode::parse(b.get_ref()) {
                    Some(m) => p.image.boot = Some(m),
                    None => {
                        let hint = suggestion(b.get_ref(), ["bios", "uefi", "hybrid"]);
                        r.error(
                            &b.span(),
                            "image.boot",
                            format!(
                                "unknown boot mode `{}`{hint} (use bios, uefi or hybrid)",
                                short(b.get_ref())
                            ),
                        );
                    }
                }
            }
            if let Some(c) = r.string(&t, "compression") {
                match Compression::parse(c.get_ref()) {
                    Some(m) => p.image.compression = m,
                    None => {
                        let hint = suggestion(c.get_ref(), ["gzip", "xz", "zstd"]);
                        r.error(
                            &c.span(),
                            "image.compression",
                            format!(
                                "unknown compression `{}`{hint} (use gzip, xz or zstd)",
                                short(c.get_ref())
                            ),
                        );
                    }
                }
            }
            if let Some(c) = r.string(&t, "cmdline") {
                match cmdline_problem(c.get_ref()) {
                    Some(why) => r.error(
                        &c.span(),
                        "image.cmdline",
                        format!("the kernel command line {why}"),
                    ),
                    None => p.image.cmdline = Some(c.into_inner()),
                }
            }
            if let Some(h) = r.string(&t, "hostname") {
                if valid_hostname(h.get_ref()) {
                    p.image.hostname = h.into_inner();
                } else {
                    r.error(
                        &h.span(),
                        "image.hostname",
                        format!(
                            "`{}` is not a valid host name: 1-63 letters, digits and `-`, not starting or ending with `-`",
                            short(h.get_ref())
                        ),
                    );
                }
            }
            if let Some((v, _)) = t.get("budget") {
                use toml::de::DeValue;
                let parsed = match v.get_ref() {
                    DeValue::String(s) => parse_size(s),
                    DeValue::Integer(i) => i.as_str().replace('_', "").parse().ok(),
                    _ => None,
                };
                match parsed {
                    Some(b) if b > 0 => p.image.budget = Some(b),
                    _ => r.error(
                        &v.span(),
                        "image.budget",
                        "expected a size such as \"8 MiB\", \"512 KiB\" or a number of bytes",
                    ),
                }
            }
        }

        if let Some(t) = r.table(&root, "pins") {
            for (k, node) in t.keys() {
                let name: &str = k.get_ref();
                let key = format!("pins.{name}");
                if let Some(v) = r.as_string(node.value, &key) {
                    let s = v.get_ref();
                    if !is_commit(s) && !is_sha256(s) {
                        r.error(
                            &v.span(),
                            &key,
                            format!(
                                "`{}` is not a pin: give a 40-hex git commit or a 64-hex sha256",
                                short(s)
                            ),
                        );
                        continue;
                    }
                    loc(&r, &key, &k.span());
                    p.pins.push((name.to_string(), s.to_ascii_lowercase()));
                }
            }
        }

        if let Some((v, path)) = root.get("tool") {
            use toml::de::DeValue;
            match v.get_ref() {
                DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let tpath = format!("tool[{i}]");
                        let Some(t) = r.as_table(item, tpath.clone()) else {
                            continue;
                        };
                        if let Some((n, _)) = t.get("name") {
                            loc(&r, &format!("{tpath}.name"), &n.span());
                        }
                        if let Some((d, _)) = t.get("depends") {
                            loc(&r, &format!("{tpath}.depends"), &d.span());
                        }
                        loc(&r, &tpath, &t.span);
                        if let Some(tool) = read_tool(&mut r, &t, Origin::Profile) {
                            if p.inline_tools.iter().any(|x| x.name == tool.name) {
                                r.error(
                                    &t.span,
                                    &tpath,
                                    format!("tool `{}` is defined twice", tool.name),
                                );
                                continue;
                            }
                            p.inline_tools.push(tool);
                        }
                    }
                }
                _ => r.error(&v.span(), &path, "expected [[tool]] tables"),
            }
        }

        p.access = super::access::read(&mut r, &root);

        if r.failed() {
            let mut d = r.diags;
            d.sort_by_key(|d| (std::cmp::Reverse(d.severity), d.pos));
            Err(Invalid(d))
        } else {
            Ok(p)
        }
    }

    /// Warnings found while parsing (duplicates and the like) are re-found by resolution;
    /// this is where a diagnostic about `key` gets its position.
    pub fn locate(&self, d: Diagnostic, key: &str) -> Diagnostic {
        let pos = self.locations.get(key).copied();
        let d = d.at_key(key).at_pos(pos);
        match &self.file {
            Some(f) => d.in_file(f),
            None => d,
        }
    }

    /// A fresh, commented TOML text for this profile (used when there is no file yet).
    pub fn to_toml(&self) -> String {
        let mut doc = toml_edit::DocumentMut::new();
        doc.decor_mut()
            .set_prefix("# A Stali profile: `stali check`, `stali size`, `stali build` read it.\n");
        self.update_document(&mut doc);
        doc.to_string()
    }

    /// Writes this profile's values into an existing document, keeping its comments, key
    /// order and anything it does not manage (inline tools).
    pub fn update_document(&self, doc: &mut toml_edit::DocumentMut) {
        use toml_edit::{Array, InlineTable, Item, Table, value};
        fn set(t: &mut Table, key: &str, v: toml_edit::Value) {
            match t.get_mut(key) {
                Some(Item::Value(old)) => {
                    let decor = old.decor().clone();
                    *old = v;
                    *old.decor_mut() = decor;
                }
                _ => {
                    t.insert(key, Item::Value(v));
                }
            }
        }
        fn table<'a>(doc: &'a mut toml_edit::DocumentMut, key: &str) -> &'a mut Table {
            if !doc.contains_table(key) {
                let mut t = Table::new();
                t.set_implicit(false);
                doc.insert(key, Item::Table(t));
            }
            doc[key]
                .as_table_mut()
                .unwrap_or_else(|| unreachable!("just inserted"))
        }
        fn strings(items: &[String]) -> toml_edit::Value {
            let mut a = Array::new();
            for s in items {
                a.push(s.as_str());
            }
            toml_edit::Value::Array(a)
        }
        let root = doc.as_table_mut();
        set(root, "format", toml_edit::Value::from(self.format as i64));
        set(root, "name", toml_edit::Value::from(self.name.as_str()));
        if !self.description.is_empty() || root.contains_key("description") {
            set(
                root,
                "description",
                toml_edit::Value::from(self.description.as_str()),
            );
        }
        set(
            table(doc, "target"),
            "hardware",
            toml_edit::Value::from(self.hardware.as_str()),
        );
        {
            let t = table(doc, "tools");
            let new = strings(&self.select);
            let same = t
                .get("select")
                .and_then(Item::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .eq(self.select.iter().map(String::as_str))
                })
                .unwrap_or(false);
            if !same {
                set(t, "select", new);
            }
        }
        {
            let k = table(doc, "kernel");
            let mut src = InlineTable::new();
            match &self.kernel.source {
                KernelSource::Tarball { url, sha256 } => {
                    src.insert("tarball", url.as_str().into());
                    src.insert("sha256", sha256.as_str().into());
                }
                KernelSource::Git { url, rev } => {
                    src.insert("git", url.as_str().into());
                    src.insert("rev", rev.as_str().into());
                }
                KernelSource::Path(p) => {
                    src.insert("path", p.to_string_lossy().as_ref().into());
                }
            }
            let same_src = k.get("source").map(|i| i.to_string().replace(' ', ""))
                == Some(
                    toml_edit::Value::InlineTable(src.clone())
                        .to_string()
                        .replace(' ', ""),
                );
            if !same_src {
                set(k, "source", toml_edit::Value::InlineTable(src));
            }
            set(k, "base", toml_edit::Value::from(self.kernel.base.as_str()));
            let same = k
                .get("fragments")
                .and_then(Item::as_array)
                .map(|a| {
                    a.iter().filter_map(|v| v.as_str()).eq(self
                        .kernel
                        .fragments
                        .iter()
                        .map(String::as_str))
                })
                .unwrap_or(false);
            if !same {
                set(k, "fragments", strings(&self.kernel.fragments));
            }
            if !self.kernel.options.is_empty() || k.contains_key("options") {
                if !k.contains_key("options") {
                    k.insert("options", Item::Table(Table::new()));
                }
                if let Some(o) = k.get_mut("options").and_then(Item::as_table_like_mut) {
                    let keep: Vec<String> = o
                        .iter()
                        .map(|(key, _)| key.to_string())
                        .filter(|key| !self.kernel.options.iter().any(|(n, _)| n == key))
                        .collect();
                    for key in keep {
                        o.remove(&key);
                    }
                    for (n, v) in &self.kernel.options {
                        let current = o.get(n).and_then(|i| i.as_str()).map(String::from);
                        if current.as_deref() != Some(v.as_str()) {
                            o.insert(n, value(v.as_str()));
                        }
                    }
                }
            }
        }
        {
            let i = table(doc, "image");
            match self.image.boot {
                Some(b) => set(i, "boot", b.as_str().into()),
                None => {
                    i.remove("boot");
                }
            }
            set(i, "compression", self.image.compression.as_str().into());
            match &self.image.cmdline {
                Some(c) => set(i, "cmdline", c.as_str().into()),
                None => {
                    i.remove("cmdline");
                }
            }
            set(i, "hostname", self.image.hostname.as_str().into());
            match self.image.budget {
                Some(b) => {
                    let text = budget_text(b);
                    let current = i
                        .get("budget")
                        .and_then(|x| x.as_str())
                        .and_then(parse_size);
                    if current != Some(b) {
                        set(i, "budget", text.as_str().into());
                    }
                }
                None => {
                    i.remove("budget");
                }
            }
        }
        if !self.pins.is_empty() || doc.contains_table("pins") {
            let t = table(doc, "pins");
            let gone: Vec<String> = t
                .iter()
                .map(|(k, _)| k.to_string())
                .filter(|k| !self.pins.iter().any(|(n, _)| n == k))
                .collect();
            for k in gone {
                t.remove(&k);
            }
            for (n, v) in &self.pins {
                set(t, n, v.as_str().into());
            }
        }
    }
}

/// A budget in the friendliest exact unit: `8 MiB`, `512 KiB` or bytes.
pub fn budget_text(b: u64) -> String {
    if b.is_multiple_of(1 << 20) {
        format!("{} MiB", b >> 20)
    } else if b.is_multiple_of(1024) {
        format!("{} KiB", b >> 10)
    } else {
        b.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_lines_are_a_profile() {
        let p = Profile::parse("format = 1\n", None).expect("valid");
        assert_eq!(p.hardware, "qemu-x86_64");
        assert_eq!(p.select, DEFAULT_SELECT);
        assert_eq!(p.kernel.base, "tinyconfig");
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("8 MiB"), Some(8 << 20));
        assert_eq!(parse_size("512K"), Some(512 << 10));
        assert_eq!(parse_size("1.5M"), Some(1_572_864));
        assert_eq!(parse_size("2MB"), Some(2_000_000));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("eight"), None);
        assert_eq!(parse_size("8 parsecs"), None);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(372 * 1024), "372 KiB");
        assert_eq!(human(1_153_434), "1.1 MiB");
        assert_eq!(human_delta(-1_153_434), "-1.1 MiB");
        assert_eq!(human_delta(0), "±0");
    }

    #[test]
    fn cmdline_and_hostname_rules() {
        assert!(cmdline_problem("console=ttyS0 quiet panic=-1").is_none());
        assert!(cmdline_problem("console=ttyS0; rm -rf /").is_some());
        assert!(cmdline_problem("a\nb").is_some());
        assert!(cmdline_problem("$(reboot)").is_some());
        assert!(valid_hostname("stali-1"));
        assert!(!valid_hostname("-x"));
        assert!(!valid_hostname("a.b"));
    }

    #[test]
    fn kconfig_values_are_quoted_when_strings() {
        assert_eq!(kconfig_value("y"), "y");
        assert_eq!(kconfig_value("42"), "42");
        assert_eq!(kconfig_value("0x1f"), "0x1f");
        assert_eq!(kconfig_value("console=ttyS0"), "\"console=ttyS0\"");
        assert_eq!(kconfig_value("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn update_keeps_comments_and_order() {
        let text = "# my profile\nformat = 1 # schema\nname = \"x\"\n\n[tools]\n# chosen by hand\nselect = [\"sinit\", \"mksh\"] # keep\n\n[image]\nhostname = \"box\" # the name\n";
        let mut p = Profile::parse(text, None).expect("valid");
        p.select.push("sbase".into());
        p.image.hostname = "other".into();
        let mut doc: toml_edit::DocumentMut = text.parse().expect("toml");
        p.update_document(&mut doc);
        let out = doc.to_string();
        assert!(
            out.starts_with("# my profile\nformat = 1 # schema\n"),
            "{out}"
        );
        assert!(
            out.contains("# chosen by hand\nselect = [\"sinit\", \"mksh\", \"sbase\"] # keep"),
            "{out}"
        );
        assert!(out.contains("hostname = \"other\" # the name"), "{out}");
        let back = Profile::parse(&out, None).expect("still valid");
        assert_eq!(back.select, p.select);
        assert_eq!(back.image.hostname, "other");
    }

    #[test]
    fn fresh_text_round_trips() {
        let mut p = Profile::default();
        p.kernel
            .options
            .push(("CONFIG_PRINTK_TIME".into(), "y".into()));
        p.image.budget = Some(8 << 20);
        let text = p.to_toml();
        let back = Profile::parse(&text, None).expect("valid");
        assert_eq!(back.kernel.options, p.kernel.options);
        assert_eq!(back.image.budget, Some(8 << 20));
        assert_eq!(back.select, p.select);
    }
}
