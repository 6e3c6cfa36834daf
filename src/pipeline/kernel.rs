//! Preparing a kernel source tree, configuring it (with verification that
//! every requested option stuck), building a bzImage reproducibly and
//! installing the UAPI headers.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::exec::{Step, run_logged};
use crate::model::Arch;
use crate::model::profile::Compression;

/// [`compressed_alone`], remembered in `cache` by the data's hash (`sizes/compressed/`):
/// a build that changes nothing does not compress its initramfs again (10 MB of cpio is
/// seconds of xz).
pub fn compressed_alone_cached(cache: &Path, data: &[u8], c: Compression) -> Result<u64> {
    let file = cache.join("sizes").join("compressed").join(format!(
        "{}-{}",
        &super::cache::sha256_bytes(data)[..16],
        c.as_str()
    ));
    if let Some(n) = fs::read_to_string(&file)
        .ok()
        .and_then(|t| t.trim().parse().ok())
    {
        return Ok(n);
    }
    let n = compressed_alone(data, c)?;
    if let Some(d) = file.parent() {
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    super::cache::write_atomic(&file, n.to_string().as_bytes())?;
    Ok(n)
}

/// What `data` compresses to alone with the command kbuild compresses an x86 kernel with
/// (`scripts/xz_wrap.sh`, `zstd -22 --ultra`, `gzip -n -f -9`): the share of the
/// bzImage a built-in initramfs takes, measured.
pub fn compressed_alone(data: &[u8], c: Compression) -> Result<u64> {
    let argv: &[&str] = match c {
        Compression::Xz => &["xz", "--check=crc32", "--x86", "--lzma2=dict=32MiB", "-c"],
        Compression::Zstd => &["zstd", "-22", "--ultra", "-q", "-c"],
        Compression::Gzip => &["gzip", "-n", "-f", "-9", "-c"],
    };
    let out = duct::cmd(argv[0], &argv[1..])
        .stdin_bytes(data.to_vec())
        .stdout_capture()
        .stderr_capture()
        .run()
        .with_context(|| format!("compressing the initramfs with {}", argv[0]))?;
    Ok(out.stdout.len() as u64)
}

/// What `.config` to produce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelConfigRequest {
    /// The architecture.
    pub arch: Arch,
    /// Base configuration target: a `[[base]]` of the catalog (`tinyconfig`, `defconfig`).
    pub base: String,
    /// Config fragments as (name, text), applied in order.
    pub fragments: Vec<(String, String)>,
    /// Single options as (CONFIG_NAME, value), applied after the fragments;
    /// the value is written verbatim after `=`, "n" means "is not set".
    pub options: Vec<(String, String)>,
}

/// Name of the uncompressed cpio the kernel embeds, inside the object dir.
pub const INITRAMFS_NAME: &str = "stali-initramfs.cpio";

/// Path of the built-in initramfs cpio for `objdir`.
pub fn initramfs_path(objdir: &Path) -> PathBuf {
    objdir.join(INITRAMFS_NAME)
}

fn is_tarball(p: &Path) -> bool {
    let n = p
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    [".tar", ".tar.xz", ".tar.gz", ".tgz", ".tar.zst"]
        .iter()
        .any(|s| n.ends_with(s))
}

/// Returns a kernel source directory for `spec` (a directory, or a `.tar`, `.tar.gz` or
/// `.tar.xz` tarball), extracting tarballs once into `cache_dir/kernel-src/<sha256
/// prefix>/` (a `.complete` marker is written last; an interrupted extraction is redone).
pub fn prepare_source(spec: &Path, cache_dir: &Path) -> Result<PathBuf> {
    if spec.is_dir() {
        return find_tree_root(spec);
    }
    if !spec.exists() {
        bail!("kernel source {} does not exist", spec.display());
    }
    if !is_tarball(spec) {
        bail!(
            "kernel source {} is neither a directory nor a .tar/.tar.gz/.tar.xz tarball",
            spec.display()
        );
    }
    let tarball = spec;
    let sha = super::cache::sha256_file(spec)?;
    let dest = cache_dir.join("kernel-src").join(&sha[..16]);
    let log = cache_dir
        .join("kernel-src")
        .join(format!("{}.log", &sha[..16]));
    // Unpacked beside, then renamed: a run sharing the cache waits on the entry's lock
    // and never sees half a tree.
    super::cache::make_entry(
        &dest,
        |d| d.join(".complete").exists(),
        |tmp| {
            run_logged(&Step::new(
                [
                    "tar".to_string(),
                    "-x".to_string(),
                    "-f".to_string(),
                    tarball.display().to_string(),
                    "-C".to_string(),
                    tmp.display().to_string(),
                ],
                &log,
            ))
            .with_context(|| format!("extracting kernel tarball {}", tarball.display()))?;
            let marker = tmp.join(".complete");
            fs::write(&marker, format!("{sha}\n"))
                .with_context(|| format!("writing {}", marker.display()))
        },
    )?;
    find_tree_root(&dest)
}

/// The kernel tree inside `dir`: `dir` itself when it has a top Makefile and
/// `Kconfig`, else its single subdirectory that has them.
fn find_tree_root(dir: &Path) -> Result<PathBuf> {
    let looks_like = |d: &Path| d.join("Makefile").is_file() && d.join("Kconfig").is_file();
    if looks_like(dir) {
        return Ok(dir.to_path_buf());
    }
    let mut subdirs = Vec::new();
    for e in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e.with_context(|| format!("reading {}", dir.display()))?;
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            subdirs.push(e.path());
        }
    }
    match subdirs.as_slice() {
        [one] if looks_like(one) => Ok(one.clone()),
        _ => bail!(
            "{} does not look like a kernel source tree (no Makefile and Kconfig)",
            dir.display()
        ),
    }
}

fn make_step(src: &Path, objdir: &Path, arch: Arch, log: &Path, targets: &[&str]) -> Step {
    let mut argv = vec![
        "make".to_string(),
        "-C".to_string(),
        src.display().to_string(),
        format!("O={}", objdir.display()),
        format!("ARCH={}", arch.kbuild_arch()),
    ];
    if let Some(prefix) = arch.cross_prefix() {
        argv.push(format!("CROSS_COMPILE={prefix}"));
    }
    argv.extend(targets.iter().map(|t| t.to_string()));
    Step::new(argv, log).env("LC_ALL", "C")
}

/// A value in a `.config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    /// `CONFIG_X=value` (value verbatim).
    Set(String),
    /// `# CONFIG_X is not set`.
    NotSet,
}

impl ConfigValue {
    fn from_request(v: &str) -> Self {
        if v == "n" {
            ConfigValue::NotSet
        } else {
            ConfigValue::Set(v.to_string())
        }
    }

    fn describe(v: Option<&ConfigValue>) -> String {
        match v {
            Some(ConfigValue::Set(s)) => s.clone(),
            Some(ConfigValue::NotSet) => "not set".to_string(),
            None => "absent (not visible)".to_string(),
        }
    }
}

/// Parses `.config` text (or a fragment) into option name -> value; later lines win.
pub fn parse_config(text: &str) -> BTreeMap<String, ConfigValue> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# ") {
            if let Some(name) = rest.strip_suffix(" is not set")
                && name.starts_with("CONFIG_")
                && !name.contains(' ')
            {
                m.insert(name.to_string(), ConfigValue::NotSet);
            }
        } else if line.starts_with("CONFIG_")
            && let Some((k, v)) = line.split_once('=')
        {
            m.insert(k.to_string(), ConfigValue::Set(v.to_string()));
        }
    }
    m
}

/// Compares requested options against a final `.config`, listing those
/// that did not stick ("CONFIG_FOO: requested y, got not set").
pub fn verify_config(
    requested: &BTreeMap<String, ConfigValue>,
    actual: &BTreeMap<String, ConfigValue>,
) -> Vec<String> {
    let mut bad = Vec::new();
    for (name, want) in requested {
        let got = actual.get(name);
        let ok = match (want, got) {
            (ConfigValue::NotSet, None | Some(ConfigValue::NotSet)) => true,
            (w, Some(g)) => w == g,
            (_, None) => false,
        };
        if !ok {
            bad.push(format!(
                "{name}: requested {}, got {}",
                ConfigValue::describe(Some(want)),
                ConfigValue::describe(got)
            ));
        }
    }
    bad
}

/// How the `.config` the kernel's own olddefconfig wrote (`kernel`) differs from the one
/// stali's Kconfig engine computed (`stali`) from the same inputs: `None` when they are
/// byte-identical, else one line per option whose value differs (or the first differing
/// line, when only the text differs).
pub fn config_difference(stali: &str, kernel: &str) -> Option<String> {
    if stali == kernel {
        return None;
    }
    let (ours, theirs) = (parse_config(stali), parse_config(kernel));
    let mut lines = Vec::new();
    for name in ours
        .keys()
        .chain(theirs.keys().filter(|k| !ours.contains_key(*k)))
    {
        let (a, b) = (ours.get(name), theirs.get(name));
        if a != b {
            lines.push(format!(
                "{name}: stali {}, the kernel's olddefconfig {}",
                ConfigValue::describe(a),
                ConfigValue::describe(b)
            ));
        }
    }
    if lines.is_empty() {
        let at = stali
            .lines()
            .zip(kernel.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| stali.lines().count().min(kernel.lines().count()));
        lines.push(format!(
            "line {}: stali {:?}, the kernel's olddefconfig {:?}",
            at + 1,
            stali.lines().nth(at).unwrap_or("(end of file)"),
            kernel.lines().nth(at).unwrap_or("(end of file)")
        ));
    }
    Some(lines.join("\n"))
}

/// Configures `objdir` from `src`: `make <base>`, then the fragments and
/// options appended to `.config`, `CONFIG_MODULES` forced off, `make
/// olddefconfig`, and a check that every requested value stuck.
pub fn configure(src: &Path, objdir: &Path, req: &KernelConfigRequest, log: &Path) -> Result<()> {
    if crate::model::Catalog::load().base(&req.base).is_none() {
        bail!(
            "unknown kernel base config {:?} (see `stali list bases`)",
            req.base
        );
    }
    fs::create_dir_all(objdir).with_context(|| format!("creating {}", objdir.display()))?;
    run_logged(&make_step(src, objdir, req.arch, log, &[&req.base]))
        .with_context(|| format!("making the kernel's {}", req.base))?;

    let mut requested = BTreeMap::new();
    for (_, text) in &req.fragments {
        requested.extend(parse_config(text));
    }
    for (name, value) in &req.options {
        if !name.starts_with("CONFIG_") || name.contains(char::is_whitespace) {
            bail!("invalid kernel option name {name:?} (must start with CONFIG_)");
        }
        if value.contains('\n') {
            bail!("kernel option {name} has a newline in its value");
        }
        requested.insert(name.clone(), ConfigValue::from_request(value));
    }
    requested.insert("CONFIG_MODULES".to_string(), ConfigValue::NotSet);
    let extra = crate::kconfig::profile::appended_text(&req.fragments, &req.options);

    let config = objdir.join(".config");
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(&config)
        .with_context(|| format!("opening {}", config.display()))?;
    f.write_all(extra.as_bytes())
        .with_context(|| format!("appending to {}", config.display()))?;
    drop(f);

    run_logged(&make_step(src, objdir, req.arch, log, &["olddefconfig"]))
        .context("making the kernel's olddefconfig")?;

    let text =
        fs::read_to_string(&config).with_context(|| format!("reading {}", config.display()))?;
    let bad = verify_config(&requested, &parse_config(&text));
    if !bad.is_empty() {
        bail!(
            "{} requested kernel option(s) did not stick in {} (missing dependencies?):\n  {}",
            bad.len(),
            config.display(),
            bad.join("\n  ")
        );
    }
    Ok(())
}

/// Formats seconds since the epoch as "YYYY-MM-DD HH:MM:SS UTC" (no time crate needed).
pub fn format_epoch(epoch: u64) -> String {
    let days = (epoch / 86400) as i64;
    let secs = epoch % 86400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Builds the bootable kernel image of `arch` (`bzImage`, `vmlinuz.efi`) reproducibly
/// (fixed timestamp, user, host and version) with `jobs` parallel jobs; returns its path
/// (`objdir/arch/x86/boot/bzImage`).
pub fn build(
    src: &Path,
    objdir: &Path,
    arch: Arch,
    jobs: usize,
    epoch: u64,
    log: &Path,
) -> Result<PathBuf> {
    let config = objdir.join(".config");
    let text = fs::read_to_string(&config)
        .with_context(|| format!("reading {} (run configure first)", config.display()))?;
    if let Some(ConfigValue::Set(v)) = parse_config(&text).get("CONFIG_INITRAMFS_SOURCE") {
        let path = v.trim_matches('"');
        if path.ends_with(".cpio") && !Path::new(path).is_file() {
            bail!(
                "the kernel embeds the initramfs {path}, which does not exist yet: write it before building"
            );
        }
    }
    let jobs = format!("-j{}", jobs.max(1));
    let step = make_step(src, objdir, arch, log, &[&jobs, arch.kernel_target()])
        .env("KBUILD_BUILD_TIMESTAMP", format_epoch(epoch))
        .env("KBUILD_BUILD_USER", "stali")
        .env("KBUILD_BUILD_HOST", "stali")
        .env("KBUILD_BUILD_VERSION", "1")
        .env("SOURCE_DATE_EPOCH", epoch.to_string());
    run_logged(&step).context("building the kernel")?;
    let image = objdir.join(arch.kernel_image());
    if !image.is_file() {
        bail!("kernel build finished but {} is missing", image.display());
    }
    Ok(image)
}

/// Installs the kernel's UAPI headers into `dest_usr` (`dest_usr/include/...`).
pub fn headers_install(
    src: &Path,
    objdir_for_headers: &Path,
    arch: Arch,
    dest_usr: &Path,
    log: &Path,
) -> Result<()> {
    fs::create_dir_all(objdir_for_headers)
        .with_context(|| format!("creating {}", objdir_for_headers.display()))?;
    let hdr = format!("INSTALL_HDR_PATH={}", dest_usr.display());
    run_logged(&make_step(
        src,
        objdir_for_headers,
        arch,
        log,
        &["headers_install", &hdr],
    ))
    .context("installing kernel headers")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_formatting() {
        assert_eq!(format_epoch(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_epoch(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(format_epoch(951_782_400), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn parse_and_verify() {
        let cfg = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S=\"x y\"\n# comment\n";
        let actual = parse_config(cfg);
        let req = parse_config(
            "CONFIG_A=y\n# CONFIG_B is not set\n# CONFIG_GONE is not set\nCONFIG_S=\"x y\"\nCONFIG_C=y\nCONFIG_B=y\n",
        );
        let bad = verify_config(&req, &actual);
        assert_eq!(
            bad,
            [
                "CONFIG_B: requested y, got not set",
                "CONFIG_C: requested y, got absent (not visible)"
            ]
        );
    }

    #[test]
    fn config_difference_names_each_option_with_both_values() {
        let stali = "# header\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\n";
        assert_eq!(config_difference(stali, stali), None);
        let kernel = "# header\n# CONFIG_A is not set\n# CONFIG_B is not set\nCONFIG_D=1\n";
        let d = config_difference(stali, kernel).expect("a difference");
        assert_eq!(
            d,
            "CONFIG_A: stali y, the kernel's olddefconfig not set\n\
             CONFIG_C: stali \"x\", the kernel's olddefconfig absent (not visible)\n\
             CONFIG_D: stali absent (not visible), the kernel's olddefconfig 1"
        );
        // Same values, other text: the first line that differs.
        let d = config_difference("# a\nCONFIG_A=y\n", "# b\nCONFIG_A=y\n").expect("differs");
        assert_eq!(
            d,
            "line 1: stali \"# a\", the kernel's olddefconfig \"# b\""
        );
    }

    #[test]
    fn build_needs_the_initramfs_first() {
        let d = tempfile::tempdir().expect("tempdir");
        let cpio = initramfs_path(d.path());
        fs::write(
            d.path().join(".config"),
            format!("CONFIG_INITRAMFS_SOURCE=\"{}\"\n", cpio.display()),
        )
        .expect("w");
        let e = format!(
            "{:#}",
            build(d.path(), d.path(), Arch::X86_64, 1, 0, &d.path().join("l"))
                .expect_err("no cpio")
        );
        assert!(e.contains("does not exist yet"), "{e}");
    }

    #[test]
    fn tarball_checksum_and_extraction() {
        let d = tempfile::tempdir().expect("tempdir");
        let tree = d.path().join("linux-9.9");
        fs::create_dir_all(&tree).expect("mkdir");
        fs::write(tree.join("Makefile"), "all:\n").expect("w");
        fs::write(tree.join("Kconfig"), "").expect("w");
        let tarball = d.path().join("linux-9.9.tar.gz");
        duct::cmd!("tar", "-czf", &tarball, "-C", d.path(), "linux-9.9")
            .run()
            .expect("tar");
        let cache = d.path().join("cache");
        let actual = crate::pipeline::cache::sha256_file(&tarball).expect("sha");
        let src = prepare_source(&tarball, &cache).expect("extract");
        assert!(src.ends_with("linux-9.9"));
        assert!(src.join("Makefile").is_file());
        // Interrupted extraction (no marker) is redone; a complete one is reused.
        fs::write(src.join("stray"), "x").expect("w");
        let again = prepare_source(&tarball, &cache).expect("reuse");
        assert!(again.join("stray").exists());
        fs::remove_file(
            cache
                .join("kernel-src")
                .join(&actual[..16])
                .join(".complete"),
        )
        .expect("rm marker");
        let redone = prepare_source(&tarball, &cache).expect("redo");
        assert!(!redone.join("stray").exists());
        // A directory is used as is.
        assert_eq!(prepare_source(&tree, &cache).expect("dir"), tree);
    }
}

/// Shared fixture for the slow real-kernel tests: one cached kernel tree
/// and object directory under `target/stali-test-cache`.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use std::time::Instant;

    /// The small fragment on top of tinyconfig used by the tests.
    pub const TEST_FRAGMENT: &str = "\
CONFIG_64BIT=y
# CONFIG_MODULES is not set
CONFIG_BLK_DEV_INITRD=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_PRINTK=y
CONFIG_TTY=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_DEVTMPFS=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_ACPI=y
CONFIG_EFI=y
CONFIG_EFI_STUB=y
";

    /// Serializes the slow tests: they share one object directory.
    pub static KERNEL_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// The test epoch (2024-01-01 00:00:00 UTC).
    pub const EPOCH: u64 = 1_704_067_200;

    pub struct TestKernel {
        pub cache: PathBuf,
        pub src: PathBuf,
        pub objdir: PathBuf,
        pub log: PathBuf,
    }

    pub fn cache_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/stali-test-cache")
    }

    /// Extracts and configures the Debian linux-source tree (once).
    pub fn configured() -> TestKernel {
        let cache = cache_dir();
        let t = Instant::now();
        let src = prepare_source(Path::new("/usr/src/linux-source-6.1.tar.xz"), &cache)
            .expect("kernel source");
        eprintln!("[timing] prepare_source: {:.1?}", t.elapsed());
        let objdir = cache.join("obj");
        let log = cache.join("logs/kernel.log");
        let req = KernelConfigRequest {
            arch: Arch::X86_64,
            base: "tinyconfig".into(),
            fragments: vec![("test".into(), TEST_FRAGMENT.into())],
            options: crate::model::plan::pipeline_options(
                Arch::X86_64,
                crate::model::profile::Compression::Xz,
                "console=ttyS0 panic=-1",
                &initramfs_path(&objdir),
            ),
        };
        let stamp = objdir.join(".stali-config-request");
        let want = format!("{req:?}");
        if fs::read_to_string(&stamp).ok().as_deref() != Some(want.as_str()) {
            let t = Instant::now();
            configure(&src, &objdir, &req, &log).expect("configure");
            eprintln!("[timing] configure: {:.1?}", t.elapsed());
            fs::write(&stamp, &want).expect("stamp");
        }
        TestKernel {
            cache,
            src,
            objdir,
            log,
        }
    }
}

#[cfg(test)]
mod slow_tests {
    use super::test_support::*;
    use super::*;
    use crate::pipeline::cpio::{CpioEntry, console_entries, write_newc_if_changed};
    use std::time::Instant;

    /// Builds the real kernel with a trivial initramfs (cached), then checks
    /// that an unchanged cpio rebuilds nothing and a changed one relinks.
    #[test]
    #[ignore = "slow: builds a real kernel (~6 min the first time)"]
    fn real_kernel_build_and_relink() {
        let _lock = KERNEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let k = configured();
        let cpio = initramfs_path(&k.objdir);
        let mut entries = console_entries();
        entries.push(CpioEntry::file("/etc/variant", 0o644, "a\n"));
        write_newc_if_changed(None, &entries, EPOCH, &cpio).expect("cpio");
        let t = Instant::now();
        let img = build(&k.src, &k.objdir, Arch::X86_64, 2, EPOCH, &k.log).expect("build");
        eprintln!("[timing] kernel build (maybe cached): {:.1?}", t.elapsed());
        let a = fs::read(&img).expect("read bzImage");
        eprintln!("[size] bzImage {} bytes", a.len());
        let mtime = fs::metadata(&img).expect("meta").modified().expect("mtime");
        let t = Instant::now();
        write_newc_if_changed(None, &entries, EPOCH, &cpio).expect("cpio");
        build(&k.src, &k.objdir, Arch::X86_64, 2, EPOCH, &k.log).expect("no-op build");
        eprintln!("[timing] no-op rebuild: {:.1?}", t.elapsed());
        assert_eq!(
            fs::metadata(&img).expect("meta").modified().expect("mtime"),
            mtime
        );

        entries.pop();
        entries.push(CpioEntry::file("/etc/variant", 0o644, "b\n"));
        assert!(write_newc_if_changed(None, &entries, EPOCH, &cpio).expect("cpio"));
        let t = Instant::now();
        build(&k.src, &k.objdir, Arch::X86_64, 2, EPOCH, &k.log).expect("relink");
        eprintln!(
            "[timing] incremental relink after cpio change: {:.1?}",
            t.elapsed()
        );
        let b = fs::read(&img).expect("read bzImage");
        assert_ne!(a, b);
    }

    /// `make headers_install` from the same extracted tree into a separate objdir.
    #[test]
    #[ignore = "slow: needs the extracted kernel tree"]
    fn real_headers_install() {
        let cache = cache_dir();
        let src = prepare_source(Path::new("/usr/src/linux-source-6.1.tar.xz"), &cache)
            .expect("kernel source");
        let d = tempfile::tempdir().expect("tempdir");
        let usr = d.path().join("usr");
        let t = Instant::now();
        headers_install(
            &src,
            &d.path().join("hdr-obj"),
            Arch::X86_64,
            &usr,
            &d.path().join("h.log"),
        )
        .expect("headers_install");
        eprintln!("[timing] headers_install: {:.1?}", t.elapsed());
        assert!(usr.join("include/linux/version.h").is_file());
        assert!(usr.join("include/asm/unistd_64.h").is_file());
    }
}
