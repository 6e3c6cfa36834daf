//! The catalog: tools, hardware targets, kernel fragments and themes, embedded in the
//! binary and extended or overridden by files in the user's configuration folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::arch::Arch;
use super::diag::{Diagnostic, Invalid};
use super::walk::{Reader, TableNode};

/// Where a catalog entry came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Built into the binary.
    Embedded,
    /// A file on disk that extends or overrides the embedded data.
    File(PathBuf),
    /// A `[[tool]]` table of the profile itself.
    Profile,
}

/// Where a tool's source comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A git repository at a pinned 40-hex commit.
    Git {
        /// Repository URL.
        url: String,
        /// Pinned commit.
        rev: String,
        /// Paths of the tree left out of the checkout (test data the build never reads).
        exclude: Vec<String>,
    },
    /// A release tarball checked by its sha256.
    Tarball {
        /// Download URL.
        url: String,
        /// Expected sha256, 64 hex digits.
        sha256: String,
    },
}

impl Source {
    /// The URL, whichever kind of source this is.
    pub fn url(&self) -> &str {
        match self {
            Source::Git { url, .. } | Source::Tarball { url, .. } => url,
        }
    }

    /// The pin: commit or sha256.
    pub fn pin(&self) -> &str {
        match self {
            Source::Git { rev, .. } => rev,
            Source::Tarball { sha256, .. } => sha256,
        }
    }
}

/// How a tool is built.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BuildStyle {
    /// `make` then `make install` with CC, CFLAGS, LDFLAGS, PREFIX and DESTDIR.
    Make,
    /// `./configure --host=... --prefix=/usr --disable-shared --enable-static`, make, install.
    Autotools,
    /// Argument vectors run in order with `${VAR}` substitution, never through a shell.
    Steps(Vec<Vec<String>>),
}

/// One tool or library: how to get it, build it, and what it costs in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolDef {
    /// Unique name (`sbase`).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Long description for the help screen.
    pub long: String,
    /// Category (`core`, `shell`, `network`, `library`, ...).
    pub category: String,
    /// Upstream source and pin.
    pub source: Source,
    /// SPDX license identifier.
    pub license: String,
    /// Build style.
    pub build: BuildStyle,
    /// Extra arguments for `make` style builds.
    pub make_flags: Vec<String>,
    /// Extra arguments for `./configure`.
    pub configure_flags: Vec<String>,
    /// Extra environment for the build, values substituted like steps.
    pub env: Vec<(String, String)>,
    /// Names of tools or libraries this one needs.
    pub depends: Vec<String>,
    /// Capabilities it provides (`init`, `sh`).
    pub provides: Vec<String>,
    /// Tools it cannot be installed with.
    pub conflicts: Vec<String>,
    /// Installed bytes in the image (0 for a static library: its code is in the programs).
    pub size: u64,
    /// Where the size figure comes from (`measured: ...` or `estimate: ...`).
    pub size_source: String,
    /// Measured bytes of its installed tree compressed alone with xz, when known.
    pub compressed: Option<u64>,
    /// Why the recipe is not verified yet, when it is not.
    pub untested: Option<String>,
    /// Why it is not verified for one architecture (`untested_aarch64`): a recipe that
    /// cannot cross-compile yet.
    pub untested_on: BTreeMap<Arch, String>,
    /// What `stali update` follows upstream (release tags or a branch), for git sources.
    pub track: Option<super::track::Track>,
    /// What it starts at boot (`[[tool.service]]`).
    pub services: Vec<super::service::Service>,
    /// Modes its recipe declares for installed files (`modes = { "/bin/su" = "4755" }`),
    /// by path inside the image without the leading `/`: the only way a setuid, setgid or
    /// world-writable file or folder reaches the image.
    pub modes: BTreeMap<String, u32>,
    /// Where this entry came from.
    pub origin: Origin,
}

impl ToolDef {
    /// Whether this is a library (built into the sysroot, linked into others).
    pub fn is_library(&self) -> bool {
        self.category == "library"
    }

    /// Whether it puts nothing of its own in the image (a static library: its code is in
    /// the programs that link it).
    pub fn only_linked(&self) -> bool {
        self.is_library() && self.size == 0
    }

    /// Whether the size figure is only an estimate.
    pub fn size_is_estimate(&self) -> bool {
        !self.size_source.starts_with("measured")
    }
}

/// Boot modes an image can support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BootMode {
    /// Legacy BIOS via isolinux.
    Bios,
    /// UEFI via the kernel's EFI stub.
    Uefi,
    /// Both in one image.
    Hybrid,
}

impl BootMode {
    /// All modes, in menu order.
    pub const ALL: [BootMode; 3] = [BootMode::Bios, BootMode::Uefi, BootMode::Hybrid];

    /// The profile spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BootMode::Bios => "bios",
            BootMode::Uefi => "uefi",
            BootMode::Hybrid => "hybrid",
        }
    }

    /// Parses the profile spelling.
    pub fn parse(s: &str) -> Option<Self> {
        BootMode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether the image boots from BIOS.
    pub fn bios(self) -> bool {
        matches!(self, BootMode::Bios | BootMode::Hybrid)
    }

    /// Whether the image boots from UEFI.
    pub fn uefi(self) -> bool {
        matches!(self, BootMode::Uefi | BootMode::Hybrid)
    }
}

/// A hardware target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardware {
    /// Name (`qemu-x86_64`).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Long description.
    pub long: String,
    /// CPU architecture (`x86_64`, `aarch64`).
    pub arch: Arch,
    /// C target triple for autotools (`x86_64-linux-musl`).
    pub triple: String,
    /// Kernel fragments this hardware needs.
    pub fragments: Vec<String>,
    /// Default console device (`ttyS0`).
    pub console: String,
    /// Default boot mode.
    pub boot: BootMode,
    /// Where this entry came from.
    pub origin: Origin,
}

/// A kernel configuration fragment (`kernel-fragments/NAME.config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// Name (file stem).
    pub name: String,
    /// Short title.
    pub title: String,
    /// One-line description.
    pub description: String,
    /// Fragments it needs.
    pub depends: Vec<String>,
    /// The architectures it applies to (`# arch:`); empty: every one.
    pub arch: Vec<Arch>,
    /// Estimated kernel image size delta in bytes (on x86_64).
    pub size: i64,
    /// Where the size figure comes from.
    pub size_source: String,
    /// The delta and its source on other architectures (`# size-aarch64:`,
    /// `# size-source-aarch64:`).
    pub arch_sizes: BTreeMap<Arch, (i64, String)>,
    /// `(CONFIG_X, value)` pairs; value `n` means "is not set".
    pub options: Vec<(String, String)>,
    /// The whole file text.
    pub text: String,
    /// Where this entry came from.
    pub origin: Origin,
}

/// A kernel base configuration (`tinyconfig`, `defconfig`) and its size figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelBase {
    /// Name, a kbuild target.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// bzImage bytes (xz) for this base with no fragment.
    pub size: u64,
    /// Where the figure comes from.
    pub size_source: String,
    /// The size and its source on other architectures (`size_aarch64`, `size_source_aarch64`).
    pub arch_sizes: BTreeMap<Arch, (u64, String)>,
    /// The architectures it is offered for (`arch = ["x86_64"]`); empty: every one.
    pub arch: Vec<Arch>,
}

impl KernelBase {
    /// The size figure for `arch` and where it comes from (the x86_64 one, said to be
    /// borrowed, when the catalog measured none for it).
    pub fn size_for(&self, arch: Arch) -> (u64, String) {
        match self.arch_sizes.get(&arch) {
            Some((n, src)) => (*n, src.clone()),
            None if arch == Arch::X86_64 => (self.size, self.size_source.clone()),
            None => (
                self.size,
                format!("estimate: the x86_64 figure ({})", self.size_source),
            ),
        }
    }
}

impl Fragment {
    /// Whether the fragment applies to `arch`.
    pub fn fits(&self, arch: Arch) -> bool {
        self.arch.is_empty() || self.arch.contains(&arch)
    }

    /// The size delta for `arch` and where it comes from (the x86_64 one, said to be
    /// borrowed, when the header measured none for it).
    pub fn size_for(&self, arch: Arch) -> (i64, String) {
        match self.arch_sizes.get(&arch) {
            Some((n, src)) => (*n, src.clone()),
            None if arch == Arch::X86_64 || self.arch == [arch] => {
                (self.size, self.size_source.clone())
            }
            None => (
                self.size,
                format!("estimate: the x86_64 figure ({})", self.size_source),
            ),
        }
    }
}

/// Constants of the size model, measured where the source says so.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeModel {
    /// Compressed/raw ratio of static binaries per compressor (`gzip`, `xz`, `zstd`).
    pub ratio: BTreeMap<String, f64>,
    /// Kernel image size factor relative to xz, per compressor.
    pub kernel_factor: BTreeMap<String, f64>,
    /// Compressed payload of a kernel relative to its xz payload, per compressor (the same
    /// vmlinux); with `kernel_stub`, replaces the flat `kernel_factor`.
    pub payload_factor: BTreeMap<String, f64>,
    /// Bytes of a bzImage that are not its compressed payload (setup, the decompressor),
    /// per compressor.
    pub kernel_stub: BTreeMap<String, f64>,
    /// Size of a tool built for an architecture relative to x86_64, where the tools'
    /// figures come from (`aarch64`).
    pub arch_factor: BTreeMap<String, f64>,
    /// Bytes of skeleton files and cpio headers in the initramfs.
    pub skeleton: u64,
    /// Bytes of cpio header per installed file (amortised).
    pub isolinux: u64,
    /// ISO 9660 overhead (system area, descriptors, directories) of a BIOS or UEFI image.
    pub iso_overhead: u64,
    /// The same for a hybrid (BIOS + UEFI) image, whose GPT and alternate boot entries
    /// take more; 0: as `iso_overhead`.
    pub iso_overhead_hybrid: u64,
    /// Fraction of the tools' separately compressed sizes that one compressor stream over
    /// all of them needs (static binaries share libc code, which its dictionary dedups).
    pub shared_code: f64,
    /// Where these figures come from.
    pub source: String,
}

/// A colour theme file (parsed by the UI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeFile {
    /// Name (file stem).
    pub name: String,
    /// TOML text.
    pub text: String,
    /// Where it came from.
    pub origin: Origin,
}

/// Everything the model knows about: tools, hardware, fragments, bases and themes.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Tools and libraries, sorted by name.
    pub tools: Vec<ToolDef>,
    /// Hardware targets.
    pub hardware: Vec<Hardware>,
    /// Kernel fragments, sorted by name.
    pub fragments: Vec<Fragment>,
    /// Kernel base configurations.
    pub bases: Vec<KernelBase>,
    /// Size model constants.
    pub model: SizeModel,
    /// Themes, sorted by name.
    pub themes: Vec<ThemeFile>,
    /// Problems found in user catalog files (they are skipped, not fatal).
    pub warnings: Vec<Diagnostic>,
}

const TOOLS_TOML: &str = include_str!("data/tools.toml");
const HARDWARE_TOML: &str = include_str!("data/hardware.toml");

/// Kernel fragments shipped in the binary.
pub const EMBEDDED_FRAGMENTS: &[(&str, &str)] = &[
    ("base", include_str!("../../kernel-fragments/base.config")),
    (
        "serial-console",
        include_str!("../../kernel-fragments/serial-console.config"),
    ),
    (
        "virtio",
        include_str!("../../kernel-fragments/virtio.config"),
    ),
    (
        "virtio-net",
        include_str!("../../kernel-fragments/virtio-net.config"),
    ),
    (
        "vt-console",
        include_str!("../../kernel-fragments/vt-console.config"),
    ),
    (
        "pc-storage",
        include_str!("../../kernel-fragments/pc-storage.config"),
    ),
    ("usb", include_str!("../../kernel-fragments/usb.config")),
    (
        "networking",
        include_str!("../../kernel-fragments/networking.config"),
    ),
    ("ext4", include_str!("../../kernel-fragments/ext4.config")),
    (
        "iso9660",
        include_str!("../../kernel-fragments/iso9660.config"),
    ),
    ("efi", include_str!("../../kernel-fragments/efi.config")),
    (
        "framebuffer-console",
        include_str!("../../kernel-fragments/framebuffer-console.config"),
    ),
    (
        "pl011-console",
        include_str!("../../kernel-fragments/pl011-console.config"),
    ),
    (
        "virtio-mmio",
        include_str!("../../kernel-fragments/virtio-mmio.config"),
    ),
    (
        "efi-arm64",
        include_str!("../../kernel-fragments/efi-arm64.config"),
    ),
];

/// Themes shipped in the binary.
pub const EMBEDDED_THEMES: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
    ("classic", include_str!("../../themes/classic.toml")),
    ("truecolor", include_str!("../../themes/truecolor.toml")),
];

/// Profiles shipped in the binary; the first is the default.
pub const EMBEDDED_PROFILES: &[(&str, &str)] = &[
    ("minimal", include_str!("../../profiles/minimal.toml")),
    (
        "stali-classic",
        include_str!("../../profiles/stali-classic.toml"),
    ),
    ("rescue", include_str!("../../profiles/rescue.toml")),
];

/// The text of the shipped profile called `name`, if there is one.
pub fn shipped_profile(name: &str) -> Option<&'static str> {
    EMBEDDED_PROFILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

/// Keys a `[[tool]]` table may have, in the catalog or in a profile.
pub const TOOL_KEYS: &[&str] = &[
    "name",
    "description",
    "long",
    "category",
    "git",
    "rev",
    "tarball",
    "sha256",
    "exclude",
    "license",
    "build",
    "make_flags",
    "configure_flags",
    "env",
    "depends",
    "provides",
    "conflicts",
    "size",
    "size_source",
    "compressed",
    "track",
    "untested",
    "untested_aarch64",
    "service",
    "modes",
];

/// Categories a tool may have, in menu order.
pub const CATEGORIES: &[&str] = &[
    "init",
    "shell",
    "core",
    "system",
    "network",
    "editor",
    "filesystem",
    "archive",
    "compression",
    "console",
    "library",
    "other",
];

/// Whether `s` is a valid catalog name: lowercase letters, digits, `-`, `_`, `.`, `+`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b'+')
        })
        && s.as_bytes()[0].is_ascii_alphanumeric()
}

/// Whether `s` is exactly 40 lowercase or uppercase hex digits.
pub fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `p` is an acceptable path to leave out of a git checkout: relative,
/// `/`-separated, no empty, `.` or `..` parts, no control characters or backslashes.
pub fn valid_exclude(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 1024
        && !p.chars().any(|c| c.is_control() || c == '\\')
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Whether `s` is exactly 64 hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What kind of source a URL is for: the schemes each one can be fetched with differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlKind {
    /// A git repository (libgit2: https, http, git, file, a local path).
    Git,
    /// A tarball (downloaded over https or http, or read from file:// or a local path).
    Tarball,
}

impl UrlKind {
    /// The schemes this kind of source may use.
    pub fn schemes(self) -> &'static [&'static str] {
        match self {
            UrlKind::Git => &["https", "http", "git", "file"],
            UrlKind::Tarball => &["https", "http", "file"],
        }
    }
}

/// Why `s` is not a usable URL for `kind` (unknown scheme, spaces, too long), if it is not.
pub fn url_problem(s: &str, kind: UrlKind) -> Option<String> {
    let schemes = kind.schemes();
    let list = || {
        let v: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
        format!("{} or an absolute path", v.join(", "))
    };
    if s.len() > 2048 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some(format!(
            "`{}` is not a usable URL: use {}, without spaces",
            short(s),
            list()
        ));
    }
    if s.starts_with('/') && !s.contains("://") {
        return None;
    }
    let scheme = s.split_once("://").map(|(sc, _)| sc.to_ascii_lowercase());
    match scheme {
        Some(sc) if schemes.contains(&sc.as_str()) && s.len() > sc.len() + 3 => None,
        Some(sc) if sc == "ssh" && kind == UrlKind::Git => Some(format!(
            "`{}`: this stali's git (libgit2) has no SSH transport; use {}",
            short(s),
            list()
        )),
        _ => Some(format!(
            "`{}` is not a usable URL: use {}",
            short(s),
            list()
        )),
    }
}

/// Reads one `[[tool]]` table; problems go to `r`.
pub fn read_tool(r: &mut Reader<'_>, t: &TableNode<'_, '_>, origin: Origin) -> Option<ToolDef> {
    r.only_keys(t, TOOL_KEYS);
    let before = r.diags.iter().filter(|d| d.is_error()).count();
    let name = match r.string(t, "name") {
        Some(n) => {
            if !valid_name(n.get_ref()) {
                r.error(
                    &n.span(),
                    &format!("{}.name", t.path),
                    format!(
                        "`{}` is not a valid tool name: use lowercase letters, digits, `-`, `_`, `.`",
                        short(n.get_ref())
                    ),
                );
            }
            n.into_inner()
        }
        None => {
            if t.get("name").is_none() {
                r.error(&t.span, &t.path, "a tool needs a `name`");
            }
            String::new()
        }
    };
    let text = |r: &mut Reader<'_>, key: &str| {
        r.string(t, key).map(|s| s.into_inner()).unwrap_or_default()
    };
    let description = text(r, "description");
    let long = text(r, "long");
    let category = r
        .string(t, "category")
        .map(|c| {
            if !CATEGORIES.contains(&c.get_ref().as_str()) {
                let hint = super::diag::suggestion(c.get_ref(), CATEGORIES.iter().copied());
                r.error(
                    &c.span(),
                    &format!("{}.category", t.path),
                    format!("unknown category `{}`{hint}", short(c.get_ref())),
                );
            }
            c.into_inner()
        })
        .unwrap_or_else(|| "other".to_string());
    let license = r
        .string(t, "license")
        .map(|s| s.into_inner())
        .unwrap_or_else(|| "unknown".into());

    let git = r.string(t, "git");
    let rev = r.string(t, "rev");
    let tarball = r.string(t, "tarball");
    let sha = r.string(t, "sha256");
    let source = match (git, rev, tarball, sha) {
        (Some(url), Some(rev), None, None) => {
            check_url(r, &url, &format!("{}.git", t.path), UrlKind::Git);
            check_pin(r, &rev, &format!("{}.rev", t.path), PinKind::Commit);
            let mut exclude = Vec::new();
            for x in r.strings(t, "exclude").unwrap_or_default() {
                if valid_exclude(x.get_ref()) {
                    exclude.push(x.into_inner());
                } else {
                    r.error(
                        &x.span(),
                        &format!("{}.exclude", t.path),
                        "an excluded path is relative and `/`-separated, without `.`, `..` or empty parts (e.g. \"tests/data\")",
                    );
                }
            }
            Some(Source::Git {
                url: url.into_inner(),
                rev: rev.into_inner().to_ascii_lowercase(),
                exclude,
            })
        }
        (None, None, Some(url), Some(sha)) => {
            check_url(r, &url, &format!("{}.tarball", t.path), UrlKind::Tarball);
            check_pin(r, &sha, &format!("{}.sha256", t.path), PinKind::Sha256);
            if let Some(x) = r.strings(t, "exclude").and_then(|v| v.into_iter().next()) {
                r.error(
                    &x.span(),
                    &format!("{}.exclude", t.path),
                    "`exclude` applies to git sources only",
                );
            }
            Some(Source::Tarball {
                url: url.into_inner(),
                sha256: sha.into_inner().to_ascii_lowercase(),
            })
        }
        (Some(url), None, _, _) => {
            r.error(
                &url.span(),
                &format!("{}.git", t.path),
                "a git source needs `rev = \"<40-hex commit>\"` beside it",
            );
            None
        }
        (None, None, Some(url), None) => {
            r.error(
                &url.span(),
                &format!("{}.tarball", t.path),
                "a tarball source needs `sha256 = \"<64 hex>\"` beside it",
            );
            None
        }
        (None, None, None, None) if !name.is_empty() => {
            r.error(
                &t.span,
                &t.path,
                format!("tool `{name}` has no source: give `git` + `rev` or `tarball` + `sha256`"),
            );
            None
        }
        (None, None, None, None) => None,
        _ => {
            r.error(
                &t.span,
                &t.path,
                "give either `git` + `rev` or `tarball` + `sha256`, not a mix",
            );
            None
        }
    };

    let build = match t.get("build") {
        None => BuildStyle::Make,
        Some((v, path)) => read_build(r, v, &path).unwrap_or(BuildStyle::Make),
    };
    let list = |r: &mut Reader<'_>, key: &str| -> Vec<String> {
        r.strings(t, key)
            .map(|v| v.into_iter().map(|s| s.into_inner()).collect())
            .unwrap_or_default()
    };
    let make_flags = list(r, "make_flags");
    let configure_flags = list(r, "configure_flags");
    let mut env = Vec::new();
    if let Some(et) = r.table(t, "env") {
        for (k, node) in et.keys() {
            let key: &str = k.get_ref();
            if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') || key.is_empty() {
                r.error(
                    &k.span(),
                    &format!("{}.{key}", et.path),
                    "not a valid environment variable name",
                );
                continue;
            }
            if let Some(v) = r.as_string(node.value, &format!("{}.{key}", et.path)) {
                env.push((key.to_string(), v.into_inner()));
            }
        }
    }
    let names = |r: &mut Reader<'_>, key: &str| -> Vec<String> {
        let items = r.strings(t, key).unwrap_or_default();
        for (i, s) in items.iter().enumerate() {
            if !valid_name(s.get_ref()) {
                r.error(
                    &s.span(),
                    &format!("{}.{key}[{i}]", t.path),
                    format!("`{}` is not a valid name", short(s.get_ref())),
                );
            }
        }
        items.into_iter().map(|s| s.into_inner()).collect()
    };
    let depends = names(r, "depends");
    let provides = names(r, "provides");
    let conflicts = names(r, "conflicts");
    let size = r.integer(t, "size").map(|s| s.into_inner());
    let size_source = r.string(t, "size_source").map(|s| s.into_inner());
    let (size, size_source) = match (size, size_source) {
        (Some(s), Some(src)) => (s, src),
        (Some(s), None) => (s, "estimate: given without a source".to_string()),
        (None, _) => (0, "estimate: no size given".to_string()),
    };
    if size > 1 << 40 {
        r.error(
            &t.key_span("size"),
            &format!("{}.size", t.path),
            "a size over 1 TiB is not plausible",
        );
    }
    let compressed = r.integer(t, "compressed").map(|s| s.into_inner());
    let untested = r.string(t, "untested").map(|s| s.into_inner());
    let mut untested_on = BTreeMap::new();
    for a in Arch::ALL.into_iter().filter(|a| *a != Arch::X86_64) {
        if let Some(why) = r.string(t, &format!("untested_{a}")) {
            untested_on.insert(a, why.into_inner());
        }
    }
    let track = r
        .string(t, "track")
        .and_then(|v| match super::track::Track::parse(v.get_ref()) {
            Ok(tr) => Some(tr),
            Err(e) => {
                r.error(&v.span(), &format!("{}.track", t.path), e);
                None
            }
        });
    let services = super::service::read_services(r, t, &name);
    let mut modes = BTreeMap::new();
    if let Some(mt) = r.table(t, "modes") {
        for (k, node) in mt.keys() {
            let key: &str = k.get_ref();
            let at = format!("{}.\"{key}\"", mt.path);
            let path = key.strip_prefix('/').unwrap_or(key);
            if !valid_exclude(path) {
                r.error(
                    &k.span(),
                    &at,
                    format!(
                        "`{}` is not a path inside the image: give it like \"/bin/su\" (no `.` or `..` parts)",
                        short(key)
                    ),
                );
                continue;
            }
            let Some(v) = r.as_string(node.value, &at) else {
                continue;
            };
            match parse_mode(v.get_ref()) {
                Some(m) => {
                    modes.insert(path.to_string(), m);
                }
                None => r.error(
                    &v.span(),
                    &at,
                    format!(
                        "`{}` is not a mode: give 3 or 4 octal digits, like \"4755\"",
                        short(v.get_ref())
                    ),
                ),
            }
        }
    }
    let after = r.diags.iter().filter(|d| d.is_error()).count();
    if after > before || name.is_empty() {
        return None;
    }
    Some(ToolDef {
        name,
        description,
        long,
        category,
        source: source?,
        license,
        build,
        make_flags,
        configure_flags,
        env,
        depends,
        provides,
        conflicts,
        size,
        size_source,
        compressed,
        untested,
        untested_on,
        track,
        services,
        modes,
        origin,
    })
}

/// A file mode written as 3 or 4 octal digits (`"755"`, `"4755"`).
pub fn parse_mode(s: &str) -> Option<u32> {
    if !(3..=4).contains(&s.len()) || !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(s, 8).ok()
}

/// What kind of pin a value must be.
#[derive(Clone, Copy)]
pub enum PinKind {
    /// A 40-hex git commit.
    Commit,
    /// A 64-hex sha256.
    Sha256,
}

/// Why `s` is not a well-formed pin of `kind`, or `None` when it is one.
pub fn pin_problem(s: &str, kind: PinKind) -> Option<String> {
    match kind {
        PinKind::Commit if !is_commit(s) => Some(format!(
            "`{}` is not a pinned commit: give the full 40-hex-digit commit id (branches and tags move)",
            short(s)
        )),
        PinKind::Sha256 if !is_sha256(s) => Some(format!(
            "`{}` is not a sha256: expected 64 hex digits",
            short(s)
        )),
        _ => None,
    }
}

/// Complains unless `v` is a well-formed pin of `kind`.
pub fn check_pin(r: &mut Reader<'_>, v: &toml::Spanned<String>, key: &str, kind: PinKind) {
    if let Some(why) = pin_problem(v.get_ref(), kind) {
        r.error(&v.span(), key, why);
    }
}

/// Complains unless `v` is an acceptable URL for a source of this kind.
pub fn check_url(r: &mut Reader<'_>, v: &toml::Spanned<String>, key: &str, kind: UrlKind) {
    if let Some(problem) = url_problem(v.get_ref(), kind) {
        r.error(&v.span(), key, problem);
    }
}

fn read_build(
    r: &mut Reader<'_>,
    v: &toml::Spanned<toml::de::DeValue<'_>>,
    path: &str,
) -> Option<BuildStyle> {
    use toml::de::DeValue;
    match v.get_ref() {
        DeValue::String(s) => match s.as_ref() {
            "make" => Some(BuildStyle::Make),
            "autotools" => Some(BuildStyle::Autotools),
            other => {
                let hint = super::diag::suggestion(other, ["make", "autotools"]);
                r.error(
                    &v.span(),
                    path,
                    format!(
                        "unknown build style `{}`{hint} (use \"make\", \"autotools\" or {{ steps = [[...]] }})",
                        short(other)
                    ),
                );
                None
            }
        },
        DeValue::Table(_) => {
            let t = r.as_table(v, path.to_string())?;
            r.only_keys(&t, &["steps"]);
            let (steps, spath) = t.get("steps")?;
            let DeValue::Array(items) = steps.get_ref() else {
                r.error(
                    &steps.span(),
                    &spath,
                    "`steps` must be an array of argument vectors",
                );
                return None;
            };
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let p = format!("{spath}[{i}]");
                let argv = r.as_strings(item, &p)?;
                if argv.is_empty() {
                    r.error(&item.span(), &p, "a step needs at least a program name");
                    return None;
                }
                out.push(argv.into_iter().map(|s| s.into_inner()).collect());
            }
            if out.is_empty() {
                r.error(
                    &steps.span(),
                    &spath,
                    "`steps` is empty: give at least one command",
                );
                return None;
            }
            Some(BuildStyle::Steps(out))
        }
        other => {
            r.error(
                &v.span(),
                path,
                format!(
                    "expected \"make\", \"autotools\" or {{ steps = [...] }}, found {}",
                    super::walk::type_name(other)
                ),
            );
            None
        }
    }
}

/// The first 60 characters of a value, for messages about huge strings.
pub fn short(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if clean.chars().count() > 60 {
        format!("{}...", clean.chars().take(57).collect::<String>())
    } else {
        clean
    }
}

fn read_tools_file(
    text: &str,
    file: Option<&Path>,
    origin: Origin,
) -> Result<Vec<ToolDef>, Invalid> {
    let mut r = Reader::new(text, file);
    let Some(doc) = r.parse() else {
        return Err(Invalid(r.diags));
    };
    let root = TableNode::root(&doc);
    r.only_keys(&root, &["tool"]);
    let mut tools = Vec::new();
    if let Some((v, path)) = root.get("tool") {
        if let toml::de::DeValue::Array(items) = v.get_ref() {
            for (i, item) in items.iter().enumerate() {
                if let Some(t) = r.as_table(item, format!("{path}[{i}]"))
                    && let Some(tool) = read_tool(&mut r, &t, origin.clone())
                {
                    tools.push(tool);
                }
            }
        } else {
            r.error(&v.span(), &path, "expected [[tool]] tables");
        }
    }
    if r.failed() {
        Err(Invalid(r.diags))
    } else {
        Ok(tools)
    }
}

/// What a hardware file holds: targets, kernel bases, and maybe size-model constants.
type HardwareFile = (Vec<Hardware>, Vec<KernelBase>, Option<SizeModel>);

fn read_hardware_file(
    text: &str,
    file: Option<&Path>,
    origin: Origin,
) -> Result<HardwareFile, Invalid> {
    let mut r = Reader::new(text, file);
    let Some(doc) = r.parse() else {
        return Err(Invalid(r.diags));
    };
    let root = TableNode::root(&doc);
    r.only_keys(&root, &["hardware", "base", "size_model"]);
    let mut hw = Vec::new();
    let mut bases = Vec::new();
    if let Some((v, path)) = root.get("hardware")
        && let toml::de::DeValue::Array(items) = v.get_ref()
    {
        for (i, item) in items.iter().enumerate() {
            let Some(t) = r.as_table(item, format!("{path}[{i}]")) else {
                continue;
            };
            r.only_keys(
                &t,
                &[
                    "name",
                    "description",
                    "long",
                    "arch",
                    "triple",
                    "fragments",
                    "console",
                    "boot",
                ],
            );
            let s = |r: &mut Reader<'_>, k: &str| {
                r.string(&t, k).map(|s| s.into_inner()).unwrap_or_default()
            };
            let name = s(&mut r, "name");
            let arch_name = s(&mut r, "arch");
            let Some(arch) = Arch::parse(&arch_name) else {
                let known: Vec<&str> = Arch::ALL.iter().map(|a| a.as_str()).collect();
                r.error(
                    &t.span,
                    &t.path,
                    format!("arch `{arch_name}` is not one of {}", known.join(", ")),
                );
                continue;
            };
            let boot = s(&mut r, "boot");
            let Some(boot) = BootMode::parse(&boot) else {
                r.error(
                    &t.span,
                    &t.path,
                    format!("boot `{boot}` is not bios, uefi or hybrid"),
                );
                continue;
            };
            hw.push(Hardware {
                description: s(&mut r, "description"),
                long: s(&mut r, "long"),
                arch,
                triple: s(&mut r, "triple"),
                fragments: r
                    .strings(&t, "fragments")
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| s.into_inner())
                    .collect(),
                console: s(&mut r, "console"),
                boot,
                name,
                origin: origin.clone(),
            });
        }
    }
    if let Some((v, path)) = root.get("base")
        && let toml::de::DeValue::Array(items) = v.get_ref()
    {
        for (i, item) in items.iter().enumerate() {
            let Some(t) = r.as_table(item, format!("{path}[{i}]")) else {
                continue;
            };
            r.only_keys(
                &t,
                &[
                    "name",
                    "description",
                    "size",
                    "size_source",
                    "size_aarch64",
                    "size_source_aarch64",
                    "arch",
                ],
            );
            let arch: Vec<Arch> = r
                .strings(&t, "arch")
                .unwrap_or_default()
                .into_iter()
                .filter_map(|a| Arch::parse(a.get_ref()))
                .collect();
            let mut arch_sizes = BTreeMap::new();
            for a in Arch::ALL.into_iter().filter(|a| *a != Arch::X86_64) {
                if let Some(n) = r.integer(&t, &format!("size_{a}")) {
                    let src = r
                        .string(&t, &format!("size_source_{a}"))
                        .map(|s| s.into_inner())
                        .unwrap_or_default();
                    arch_sizes.insert(a, (n.into_inner(), src));
                }
            }
            bases.push(KernelBase {
                arch,
                arch_sizes,
                name: r
                    .string(&t, "name")
                    .map(|s| s.into_inner())
                    .unwrap_or_default(),
                description: r
                    .string(&t, "description")
                    .map(|s| s.into_inner())
                    .unwrap_or_default(),
                size: r.integer(&t, "size").map(|s| s.into_inner()).unwrap_or(0),
                size_source: r
                    .string(&t, "size_source")
                    .map(|s| s.into_inner())
                    .unwrap_or_default(),
            });
        }
    }
    let mut model = None;
    if let Some(t) = r.table(&root, "size_model") {
        r.only_keys(
            &t,
            &[
                "ratio",
                "kernel_factor",
                "payload_factor",
                "kernel_stub",
                "arch_factor",
                "skeleton",
                "isolinux",
                "iso_overhead",
                "iso_overhead_hybrid",
                "shared_code",
                "source",
            ],
        );
        let floats = |r: &mut Reader<'_>, key: &str| -> BTreeMap<String, f64> {
            let mut out = BTreeMap::new();
            if let Some(ft) = r.table(&t, key) {
                for (k, node) in ft.keys() {
                    let val = match node.value.get_ref() {
                        toml::de::DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
                        toml::de::DeValue::Integer(i) => i.as_str().parse::<f64>().ok(),
                        _ => None,
                    };
                    match val {
                        Some(v) => {
                            out.insert(k.get_ref().to_string(), v);
                        }
                        None => r.error(&node.value.span(), key, "expected a number"),
                    }
                }
            }
            out
        };
        let ratio = floats(&mut r, "ratio");
        let kernel_factor = floats(&mut r, "kernel_factor");
        let payload_factor = floats(&mut r, "payload_factor");
        let kernel_stub = floats(&mut r, "kernel_stub");
        let arch_factor = floats(&mut r, "arch_factor");
        let int =
            |r: &mut Reader<'_>, k: &str| r.integer(&t, k).map(|s| s.into_inner()).unwrap_or(0);
        model = Some(SizeModel {
            ratio,
            kernel_factor,
            payload_factor,
            kernel_stub,
            arch_factor,
            skeleton: int(&mut r, "skeleton"),
            isolinux: int(&mut r, "isolinux"),
            iso_overhead: int(&mut r, "iso_overhead"),
            iso_overhead_hybrid: int(&mut r, "iso_overhead_hybrid"),
            shared_code: t
                .get("shared_code")
                .and_then(|(v, _)| match v.get_ref() {
                    toml::de::DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
                    _ => None,
                })
                .unwrap_or(1.0),
            source: r
                .string(&t, "source")
                .map(|s| s.into_inner())
                .unwrap_or_default(),
        });
    }
    if r.failed() {
        Err(Invalid(r.diags))
    } else {
        Ok((hw, bases, model))
    }
}

/// Parses a fragment file: `# key: value` header lines, then Kconfig lines.
pub fn parse_fragment(name: &str, text: &str, origin: Origin) -> Result<Fragment, String> {
    let mut f = Fragment {
        name: name.to_string(),
        title: name.to_string(),
        description: String::new(),
        depends: Vec::new(),
        arch: Vec::new(),
        size: 0,
        size_source: "estimate: no size in the header".into(),
        arch_sizes: BTreeMap::new(),
        options: Vec::new(),
        text: text.to_string(),
        origin,
    };
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(opt) = line
            .strip_prefix("# CONFIG_")
            .and_then(|r| r.strip_suffix(" is not set"))
        {
            let k = format!("CONFIG_{opt}");
            if let Some(why) = super::owned::owned_option(&k, "n") {
                return Err(format!("line {}: {why}", n + 1));
            }
            f.options.push((k, "n".into()));
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            if let Some((k, v)) = rest.split_once(':') {
                let v = v.trim();
                match k.trim() {
                    "title" => f.title = v.to_string(),
                    "description" => f.description = v.to_string(),
                    "depends" => {
                        f.depends = v
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    }
                    "size" => {
                        f.size = v.parse().map_err(|_| {
                            format!("line {}: size `{v}` is not a whole number", n + 1)
                        })?
                    }
                    "size-source" => f.size_source = v.to_string(),
                    "arch" => {
                        for a in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                            f.arch.push(Arch::parse(a).ok_or_else(|| {
                                format!("line {}: arch `{a}` is not x86_64 or aarch64", n + 1)
                            })?);
                        }
                    }
                    k => {
                        let per_arch = |prefix: &str| {
                            k.strip_prefix(prefix)
                                .and_then(Arch::parse)
                                .filter(|a| *a != Arch::X86_64)
                        };
                        if let Some(a) = per_arch("size-source-") {
                            f.arch_sizes.entry(a).or_insert((0, String::new())).1 = v.to_string();
                        } else if let Some(a) = per_arch("size-") {
                            f.arch_sizes.entry(a).or_insert((0, String::new())).0 =
                                v.parse().map_err(|_| {
                                    format!("line {}: size `{v}` is not a whole number", n + 1)
                                })?;
                        }
                    }
                }
            }
            continue;
        }
        match line.split_once('=') {
            Some((k, v))
                if k.starts_with("CONFIG_")
                    && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                if let Some(why) = super::owned::owned_option(k, v) {
                    return Err(format!("line {}: {why}", n + 1));
                }
                f.options.push((k.to_string(), v.to_string()));
            }
            _ => {
                return Err(format!(
                    "line {}: `{}` is not `CONFIG_X=value` or `# CONFIG_X is not set`",
                    n + 1,
                    short(line)
                ));
            }
        }
    }
    Ok(f)
}

/// The folder holding the user's catalog extensions: `$STALI_CONFIG_DIR`, else
/// `$XDG_CONFIG_HOME/stali`, else `~/.config/stali`.
pub fn user_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("STALI_CONFIG_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("stali"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/stali"))
}

impl Catalog {
    /// The catalog built into the binary, with no user files.
    pub fn embedded() -> Catalog {
        // The embedded data is checked by the test suite; a broken file is a build defect.
        let tools = read_tools_file(
            TOOLS_TOML,
            Some(Path::new("<embedded>/tools.toml")),
            Origin::Embedded,
        )
        .unwrap_or_else(|e| panic!("embedded tools.toml is invalid:\n{e}"));
        let (hardware, bases, model) = read_hardware_file(
            HARDWARE_TOML,
            Some(Path::new("<embedded>/hardware.toml")),
            Origin::Embedded,
        )
        .unwrap_or_else(|e| panic!("embedded hardware.toml is invalid:\n{e}"));
        let model = model.unwrap_or_else(|| panic!("embedded hardware.toml has no [size_model]"));
        let fragments = EMBEDDED_FRAGMENTS
            .iter()
            .map(|(n, t)| {
                parse_fragment(n, t, Origin::Embedded)
                    .unwrap_or_else(|e| panic!("embedded fragment {n} is invalid: {e}"))
            })
            .collect();
        let themes = EMBEDDED_THEMES
            .iter()
            .map(|(n, t)| ThemeFile {
                name: n.to_string(),
                text: t.to_string(),
                origin: Origin::Embedded,
            })
            .collect();
        let mut c = Catalog {
            tools,
            hardware,
            fragments,
            bases,
            model,
            themes,
            warnings: Vec::new(),
        };
        c.sort();
        c
    }

    /// The embedded catalog extended by the user's folder (see [`user_dir`]).
    pub fn load() -> Catalog {
        let mut c = Catalog::embedded();
        if let Some(dir) = user_dir() {
            c.extend_from_dir(&dir);
        }
        c
    }

    /// Adds or overrides entries from `dir/tools/*.toml`, `dir/hardware/*.toml`,
    /// `dir/kernel-fragments/*.config` and `dir/themes/*.toml`; bad files become warnings.
    pub fn extend_from_dir(&mut self, dir: &Path) {
        for file in files_in(&dir.join("tools"), "toml") {
            match std::fs::read_to_string(&file) {
                Ok(text) => match read_tools_file(&text, Some(&file), Origin::File(file.clone())) {
                    Ok(tools) => {
                        for t in tools {
                            self.tools.retain(|x| x.name != t.name);
                            self.tools.push(t);
                        }
                    }
                    Err(e) => self.warnings.extend(e.0.into_iter().map(as_warning)),
                },
                Err(e) => self.warnings.push(Diagnostic::warning(format!(
                    "cannot read {}: {e}",
                    file.display()
                ))),
            }
        }
        for file in files_in(&dir.join("hardware"), "toml") {
            match std::fs::read_to_string(&file) {
                Ok(text) => {
                    match read_hardware_file(&text, Some(&file), Origin::File(file.clone())) {
                        Ok((hw, bases, model)) => {
                            for h in hw {
                                self.hardware.retain(|x| x.name != h.name);
                                self.hardware.push(h);
                            }
                            for b in bases {
                                self.bases.retain(|x| x.name != b.name);
                                self.bases.push(b);
                            }
                            if let Some(m) = model {
                                self.model = m;
                            }
                        }
                        Err(e) => self.warnings.extend(e.0.into_iter().map(as_warning)),
                    }
                }
                Err(e) => self.warnings.push(Diagnostic::warning(format!(
                    "cannot read {}: {e}",
                    file.display()
                ))),
            }
        }
        for file in files_in(&dir.join("kernel-fragments"), "config") {
            let name = stem(&file);
            let parsed = std::fs::read_to_string(&file)
                .map_err(|e| e.to_string())
                .and_then(|t| parse_fragment(&name, &t, Origin::File(file.clone())));
            match parsed {
                Ok(f) => {
                    self.fragments.retain(|x| x.name != f.name);
                    self.fragments.push(f);
                }
                Err(e) => self.warnings.push(Diagnostic::warning(format!(
                    "{}: {e}; skipped",
                    file.display()
                ))),
            }
        }
        for file in files_in(&dir.join("themes"), "toml") {
            match std::fs::read_to_string(&file) {
                Ok(text) => {
                    let name = stem(&file);
                    self.themes.retain(|x| x.name != name);
                    self.themes.push(ThemeFile {
                        name,
                        text,
                        origin: Origin::File(file.clone()),
                    });
                }
                Err(e) => self.warnings.push(Diagnostic::warning(format!(
                    "cannot read {}: {e}",
                    file.display()
                ))),
            }
        }
        self.sort();
    }

    fn sort(&mut self) {
        self.tools.sort_by(|a, b| a.name.cmp(&b.name));
        self.fragments.sort_by(|a, b| a.name.cmp(&b.name));
        self.themes.sort_by(|a, b| a.name.cmp(&b.name));
    }

    /// The tool called `name`.
    pub fn tool(&self, name: &str) -> Option<&ToolDef> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// The hardware target called `name`.
    pub fn hardware(&self, name: &str) -> Option<&Hardware> {
        self.hardware.iter().find(|t| t.name == name)
    }

    /// The fragment called `name`.
    pub fn fragment(&self, name: &str) -> Option<&Fragment> {
        self.fragments.iter().find(|t| t.name == name)
    }

    /// The kernel base called `name`.
    pub fn base(&self, name: &str) -> Option<&KernelBase> {
        self.bases.iter().find(|t| t.name == name)
    }

    /// Names of tools that depend directly on `name`.
    pub fn reverse_deps(&self, name: &str) -> Vec<&str> {
        self.tools
            .iter()
            .filter(|t| t.depends.iter().any(|d| d == name))
            .map(|t| t.name.as_str())
            .collect()
    }
}

fn as_warning(mut d: Diagnostic) -> Diagnostic {
    d.severity = super::diag::Severity::Warning;
    d.message.push_str(" (file skipped)");
    d
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn files_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_is_valid_and_complete() {
        let c = Catalog::embedded();
        for name in [
            "sinit",
            "sbase",
            "ubase",
            "smdev",
            "mksh",
            "hbase",
            "utmp",
            "sdhcp",
            "dropbear",
            "e2fsprogs",
            "iproute2",
            "curl",
            "libarchive",
            "vis",
            "kbd",
            "gzip",
            "zlib",
            "ncurses",
            "libtermkey",
            "expat",
        ] {
            assert!(c.tool(name).is_some(), "catalog lacks {name}");
        }
        for t in &c.tools {
            for d in &t.depends {
                assert!(c.tool(d).is_some(), "{} depends on unknown {d}", t.name);
            }
            assert!(!t.description.is_empty(), "{} has no description", t.name);
        }
        for h in ["qemu-x86_64", "pc-x86_64"] {
            let hw = c.hardware(h).expect("hardware");
            for f in &hw.fragments {
                assert!(c.fragment(f).is_some(), "{h} needs unknown fragment {f}");
            }
        }
        assert_eq!(c.fragments.len(), EMBEDDED_FRAGMENTS.len());
        for f in &c.fragments {
            for d in &f.depends {
                assert!(
                    c.fragment(d).is_some(),
                    "fragment {} depends on unknown {d}",
                    f.name
                );
            }
            assert!(!f.options.is_empty(), "fragment {} sets nothing", f.name);
        }
        assert!(c.base("tinyconfig").is_some());
    }

    #[test]
    fn fragment_header_is_parsed() {
        let f = parse_fragment(
            "x",
            "# title: X\n# description: d\n# depends: base, y\n# size: -12\n# size-source: measured\nCONFIG_A=y\n# CONFIG_B is not set\n",
            Origin::Embedded,
        )
        .expect("parses");
        assert_eq!(f.depends, vec!["base", "y"]);
        assert_eq!(f.size, -12);
        assert_eq!(
            f.options,
            vec![
                ("CONFIG_A".into(), "y".into()),
                ("CONFIG_B".into(), "n".into())
            ]
        );
        assert!(parse_fragment("x", "garbage\n", Origin::Embedded).is_err());
    }

    #[test]
    fn names_and_pins_are_checked() {
        assert!(valid_name("sbase-box"));
        assert!(!valid_name("Sbase"));
        assert!(!valid_name("a b"));
        assert!(!valid_name("-x"));
        assert!(is_commit(&"a".repeat(40)));
        assert!(!is_commit(&"g".repeat(40)));
        assert!(is_sha256(&"0".repeat(64)));
        let ok = |s, k| url_problem(s, k).is_none();
        assert!(ok("file:///srv/x", UrlKind::Git));
        assert!(ok("git://127.0.0.1/x", UrlKind::Git));
        assert!(ok("/srv/x.tar.gz", UrlKind::Tarball));
        assert!(!ok("git://127.0.0.1/x.tar.gz", UrlKind::Tarball));
        assert!(!ok("ftp://x", UrlKind::Tarball));
        assert!(!ok("https://a b", UrlKind::Git));
        assert!(!ok("https://", UrlKind::Git));
        let ssh = url_problem("ssh://git@example.org/x", UrlKind::Git).expect("refused");
        assert!(ssh.contains("no SSH") && ssh.contains("git://"), "{ssh}");
    }
}
