//! The profile: a short, commented TOML file describing one Stali image.
//!
//! [`read`] turns the text into a [`Profile`] (every problem with its key, line and
//! column), [`validate`] holds the rules its values follow (used by the reader, by
//! resolution and by every configurator edit), and [`write`] saves it back like
//! `savedefconfig`: the user's comments and key order kept, defaults never written out.

pub mod read;
pub mod validate;
pub mod write;

pub use validate::validate;

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::catalog::{BootMode, ToolDef};
use super::diag::Diagnostic;

/// The profile format this build understands.
pub const FORMAT: u64 = 1;

/// Largest profile file accepted, in bytes.
pub const MAX_FILE: u64 = 1 << 20;

/// What a budget looks like, said when one is not.
pub const BUDGET_HELP: &str = "expected a size such as \"8 MiB\", \"512 KiB\" or a number of bytes";

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
    /// What `stali update` follows, per tool, over the catalog's choice (`[track]`).
    pub track: Vec<(String, crate::model::track::Track)>,
    /// Tools defined in the profile itself.
    pub inline_tools: Vec<ToolDef>,
    /// Names of the profile's own `[[tool]]` tables that could not be read (their errors
    /// are reported once; a selection naming them is not another error).
    pub broken_tools: Vec<String>,
    /// How root logs in (`[access]`, see [`crate::model::access`]).
    pub access: crate::model::access::Access,
    /// Line and column of each key path read, for later diagnostics.
    pub locations: BTreeMap<String, (usize, usize)>,
    /// The file it was read from.
    pub file: Option<PathBuf>,
}

/// A valid profile of just under `bytes` bytes (at most [`MAX_FILE`]) made of thousands
/// of kernel options, one per line or all on one line (an inline table), for tests and
/// benchmarks of large input.
pub fn generated_profile(bytes: usize, one_line: bool) -> String {
    let bytes = bytes.min(MAX_FILE as usize);
    let mut s = String::from("format = 1\nname = \"large\"\n");
    s.push_str(if one_line {
        "[kernel]\noptions = { "
    } else {
        "[kernel.options]\n"
    });
    let mut i = 0;
    while s.len() + 64 < bytes {
        if one_line {
            s.push_str(&format!("CONFIG_STALI_GENERATED_{i} = \"y\", "));
        } else {
            s.push_str(&format!("CONFIG_STALI_GENERATED_{i} = \"y\"\n"));
        }
        i += 1;
    }
    if one_line {
        s.push_str("CONFIG_STALI_GENERATED_END = \"y\" }\n");
    }
    s
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
            track: Vec::new(),
            inline_tools: Vec::new(),
            access: Default::default(),
            broken_tools: Vec::new(),
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

/// Writes a kernel option value of unknown type as it appears after `=` in a .config:
/// `y`/`n`/`m`, numbers and already quoted strings as they are, anything else quoted by
/// [`kconfig_string`]. For an option known to be a string, use [`kconfig_string`].
pub fn kconfig_value(v: &str) -> String {
    let plain = matches!(v, "y" | "n" | "m")
        || v.parse::<i64>().is_ok()
        || (v.starts_with("0x") && v.len() > 2 && v[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    if plain || (v.starts_with('"') && v.ends_with('"') && v.len() >= 2) {
        v.to_string()
    } else {
        kconfig_string(v)
    }
}

/// Quotes a string option's value the way Kconfig writes it in a .config, always (a
/// command line `1` is the string `"1"`, not a number).
pub fn kconfig_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Profile {
    /// Switches the profile to the hardware called `name`, keeping it buildable there: a
    /// boot mode the new hardware's architecture cannot use becomes that hardware's
    /// default, and `console=` arguments naming the old hardware's consoles name the new
    /// one's. Returns what changed besides the hardware, for the user to read.
    pub fn retarget(&mut self, name: &str, catalog: &super::Catalog) -> Option<String> {
        let old = catalog.hardware(&self.hardware).cloned();
        self.hardware = name.to_string();
        let new = catalog.hardware(name)?;
        let mut changed = Vec::new();
        if let Some(b) = self.image.boot
            && b.bios()
            && !new.arch.has_bios()
        {
            self.image.boot = Some(new.boot);
            changed.push(format!("boot = {}", new.boot.as_str()));
        }
        if let (Some(cmdline), Some(old)) = (&self.image.cmdline, old) {
            let old_consoles: Vec<String> = old
                .console
                .split_whitespace()
                .map(|c| format!("console={c}"))
                .collect();
            let mut out: Vec<String> = Vec::new();
            let mut replaced = false;
            for arg in cmdline.split_whitespace() {
                if old_consoles.iter().any(|c| c == arg) {
                    if !replaced {
                        out.push(super::plan::default_cmdline(new));
                        replaced = true;
                    }
                } else {
                    out.push(arg.to_string());
                }
            }
            let line = out.join(" ");
            if replaced && line != *cmdline {
                changed.push(format!("cmdline \"{line}\""));
                self.image.cmdline = Some(line);
            }
        }
        (!changed.is_empty()).then(|| format!("for {name}: {}", changed.join(", ")))
    }

    /// A diagnostic about `key`, placed where the key's value is written.
    pub fn locate(&self, d: Diagnostic, key: &str) -> Diagnostic {
        self.place(d, key, self.locations.get(key).copied())
    }

    /// A diagnostic about `key`, placed where the key's name is written (a pin's tool,
    /// a kernel option's name).
    pub fn locate_name(&self, d: Diagnostic, key: &str) -> Diagnostic {
        let pos = self.locations.get(&read::name_key(key)).copied();
        self.place(d, key, pos)
    }

    fn place(&self, d: Diagnostic, key: &str, pos: Option<(usize, usize)>) -> Diagnostic {
        let d = d.at_key(key).at_pos(pos);
        match &self.file {
            Some(f) => d.in_file(f),
            None => d,
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
    fn kconfig_strings_are_always_quoted() {
        assert_eq!(kconfig_string("1"), "\"1\"");
        assert_eq!(kconfig_string("0x10"), "\"0x10\"");
        assert_eq!(kconfig_string("y"), "\"y\"");
        assert_eq!(kconfig_string("a\\b\"c"), "\"a\\\\b\\\"c\"");
    }
}
