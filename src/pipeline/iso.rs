//! Writing a bootable, reproducible ISO: isolinux for BIOS, the kernel
//! itself as `EFI/BOOT/BOOTX64.EFI` (`BOOTAA64.EFI` on aarch64) in a small FAT image
//! for UEFI.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};

use super::exec::{Step, run_logged};
use crate::host;
use crate::model::estimate::efi_image_bytes;
use crate::model::{Arch, BootMode};

/// FAT volume serial number of the EFI image (fixed for reproducibility).
pub const EFI_VOLUME_ID: &str = "57A11000";

/// What to put in the ISO.
#[derive(Debug, Clone)]
pub struct IsoSpec {
    /// The bzImage (with built-in initramfs and command line).
    pub kernel: PathBuf,
    /// Firmware to support.
    pub boot: BootMode,
    /// The kernel's architecture (names the EFI boot file; only x86_64 has a BIOS).
    pub arch: Arch,
    /// Volume label: A-Z, 0-9 and `_`, at most 32 characters.
    pub volume_label: String,
    /// Timestamp for every file and volume date (seconds since 1970).
    pub epoch: u64,
    /// Scratch directory (its `iso-tree` and `efi` parts are recreated).
    pub work_dir: PathBuf,
}

/// Checks an ISO volume label: non-empty, at most 32 of A-Z, 0-9, `_`.
pub fn validate_label(label: &str) -> Result<()> {
    if label.is_empty() || label.len() > 32 {
        bail!(
            "volume label {label:?} must have 1 to 32 characters (has {})",
            label.len()
        );
    }
    if let Some(c) = label
        .chars()
        .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_'))
    {
        bail!("volume label {label:?} has {c:?}: only A-Z, 0-9 and _ are allowed");
    }
    Ok(())
}

/// The isolinux configuration: boot `/boot/bzImage` at once, no initrd.
pub fn isolinux_cfg() -> &'static str {
    "DEFAULT stali\nPROMPT 0\nTIMEOUT 0\n\nLABEL stali\n  KERNEL /boot/bzImage\n"
}

fn set_mtime(path: &Path, epoch: u64) -> Result<()> {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(epoch);
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    f.set_modified(t)
        .with_context(|| format!("setting the mtime of {}", path.display()))
}

/// Sets the mtime of `root` and everything below it to `epoch` (symlinks skipped).
pub fn touch_tree(root: &Path, epoch: u64) -> Result<()> {
    let meta = fs::symlink_metadata(root).with_context(|| format!("reading {}", root.display()))?;
    if meta.is_dir() {
        for e in fs::read_dir(root).with_context(|| format!("reading {}", root.display()))? {
            let e = e.with_context(|| format!("reading {}", root.display()))?;
            touch_tree(&e.path(), epoch)?;
        }
    }
    if !meta.file_type().is_symlink() {
        set_mtime(root, epoch)?;
    }
    Ok(())
}

fn copy_file(from: &Path, to: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(p) = to.parent() {
        fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
    }
    fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting permissions of {}", to.display()))
}

fn arg(p: &Path) -> String {
    p.display().to_string()
}

/// Makes a FAT image holding `kernel` as `/EFI/BOOT/<boot_file>` (`BOOTX64.EFI`).
fn make_efi_image(
    kernel: &Path,
    boot_file: &str,
    efi_dir: &Path,
    img: &Path,
    epoch: u64,
    log: &Path,
) -> Result<()> {
    fs::create_dir_all(efi_dir).with_context(|| format!("creating {}", efi_dir.display()))?;
    let efi = efi_dir.join(boot_file);
    copy_file(kernel, &efi, 0o644)?;
    set_mtime(&efi, epoch)?;
    let size = fs::metadata(&efi)
        .with_context(|| format!("reading {}", efi.display()))?
        .len();
    let kib = efi_image_bytes(size) / 1024;
    if let Some(p) = img.parent() {
        fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
    }
    if img.exists() {
        fs::remove_file(img).with_context(|| format!("removing {}", img.display()))?;
    }
    let env = |s: Step| {
        s.env("SOURCE_DATE_EPOCH", epoch.to_string())
            .env("TZ", "UTC")
    };
    run_logged(&env(Step::new(
        [
            "mkfs.fat".to_string(),
            "--invariant".to_string(),
            "-i".to_string(),
            EFI_VOLUME_ID.to_string(),
            "-n".to_string(),
            "STALI_EFI".to_string(),
            "-C".to_string(),
            arg(img),
            kib.to_string(),
        ],
        log,
    )))
    .context("making the EFI FAT image")?;
    run_logged(&env(Step::new(
        [
            "mmd".to_string(),
            "-i".to_string(),
            arg(img),
            "::/EFI".to_string(),
            "::/EFI/BOOT".to_string(),
        ],
        log,
    )))
    .context("making directories in the EFI image")?;
    run_logged(&env(Step::new(
        [
            "mcopy".to_string(),
            "-m".to_string(),
            "-i".to_string(),
            arg(img),
            arg(&efi),
            format!("::/EFI/BOOT/{boot_file}"),
        ],
        log,
    )))
    .context("copying the kernel into the EFI image")?;
    Ok(())
}

/// What the boot files of an ISO take, each file rounded up to whole 2 KiB sectors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IsoParts {
    /// isolinux.bin, ldlinux.c32, isolinux.cfg and the boot catalog (BIOS boot; 0
    /// without it).
    pub isolinux: u64,
    /// The EFI system partition image (UEFI boot; 0 without it).
    pub efi_image: u64,
}

/// [`IsoParts`] of the ISO [`write_iso`] writes for a kernel of `kernel` bytes.
pub fn parts(kernel: u64, boot: BootMode) -> Result<IsoParts> {
    let sector = |b: u64| b.div_ceil(2048) * 2048;
    let mut p = IsoParts::default();
    if boot.bios() {
        for (path, name) in [
            (host::ISOLINUX_BIN, "isolinux.bin"),
            (host::LDLINUX_C32, "ldlinux.c32"),
        ] {
            let f = host::host_file(path, name)?;
            p.isolinux += sector(
                fs::metadata(&f)
                    .with_context(|| format!("reading {}", f.display()))?
                    .len(),
            );
        }
        // And the boot catalog, one sector.
        p.isolinux += sector(isolinux_cfg().len() as u64) + 2048;
    }
    if boot.uefi() {
        p.efi_image = sector(efi_image_bytes(kernel));
    }
    Ok(p)
}

/// Writes a bootable ISO for `spec` to `out` (via a temporary file in the
/// same directory, renamed into place; nothing is left at `out` on error).
pub fn write_iso(spec: &IsoSpec, out: &Path) -> Result<()> {
    validate_label(&spec.volume_label)?;
    if !spec.kernel.is_file() {
        bail!("kernel {} does not exist", spec.kernel.display());
    }
    let log = spec.work_dir.join("iso.log");
    let tree = spec.work_dir.join("iso-tree");
    if tree.exists() {
        fs::remove_dir_all(&tree).with_context(|| format!("removing {}", tree.display()))?;
    }
    fs::create_dir_all(&tree).with_context(|| format!("creating {}", tree.display()))?;

    let mut boot_args: Vec<String> = Vec::new();
    if spec.boot.bios() && !spec.arch.has_bios() {
        bail!(
            "an {} kernel cannot boot from a PC BIOS (boot {})",
            spec.arch,
            spec.boot.as_str()
        );
    }
    if spec.boot.bios() {
        // Where the host keeps them: `crate::host` knows each distribution's paths.
        let isolinux_bin = host::host_file(host::ISOLINUX_BIN, "isolinux.bin")?;
        let isohdpfx = host::host_file(host::ISOHDPFX_BIN, "isohdpfx.bin")?;
        let ldlinux = host::host_file(host::LDLINUX_C32, "ldlinux.c32")?;
        copy_file(&isolinux_bin, &tree.join("isolinux/isolinux.bin"), 0o644)?;
        copy_file(&ldlinux, &tree.join("isolinux/ldlinux.c32"), 0o644)?;
        fs::write(tree.join("isolinux/isolinux.cfg"), isolinux_cfg())
            .context("writing isolinux.cfg")?;
        copy_file(&spec.kernel, &tree.join("boot/bzImage"), 0o644)?;
        boot_args.extend(
            [
                "-isohybrid-mbr",
                &arg(&isohdpfx),
                "-b",
                "isolinux/isolinux.bin",
                "-c",
                "isolinux/boot.cat",
                "-no-emul-boot",
                "-boot-load-size",
                "4",
                "-boot-info-table",
            ]
            .map(String::from),
        );
    }
    if spec.boot.uefi() {
        let img = tree.join("boot/efi.img");
        make_efi_image(
            &spec.kernel,
            spec.arch.efi_boot_file(),
            &spec.work_dir.join("efi"),
            &img,
            spec.epoch,
            &log,
        )?;
        if spec.boot.bios() {
            boot_args.push("-eltorito-alt-boot".into());
        } else {
            boot_args.extend(["-c", "boot/boot.cat"].map(String::from));
        }
        boot_args.extend(
            [
                "-e",
                "boot/efi.img",
                "-no-emul-boot",
                "-isohybrid-gpt-basdat",
            ]
            .map(String::from),
        );
    }
    touch_tree(&tree, spec.epoch)?;

    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Dropping the TempPath (any early return) removes the partial file.
    let tmp = tempfile::Builder::new()
        .prefix(".stali-iso-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?
        .into_temp_path();
    let mut argv: Vec<String> = [
        "xorriso",
        "-no_rc",
        "-as",
        "mkisofs",
        "-o",
        &arg(&tmp),
        "-iso-level",
        "3",
        "-r",
        "-J",
        "-V",
        &spec.volume_label,
        "--set_all_file_dates",
        &format!("={}", spec.epoch),
    ]
    .map(String::from)
    .to_vec();
    argv.extend(boot_args);
    // No padding to whole 1 MiB "cylinders" (the isohybrid default) and none of the
    // 300 KiB tail that protects Linux reading a CD's last file: the kernel and its
    // initramfs are loaded by the firmware or isolinux, Linux never reads this disc.
    // These must come after -isohybrid-mbr, which turns the alignment back on.
    argv.extend(["-partition_cyl_align", "off", "-no-pad"].map(String::from));
    argv.push(arg(&tree));
    run_logged(
        &Step::new(argv, &log)
            .env("SOURCE_DATE_EPOCH", spec.epoch.to_string())
            .env("TZ", "UTC"),
    )
    .context("writing the ISO with xorriso")?;
    tmp.persist(out)
        .with_context(|| format!("renaming the ISO into {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        validate_label("STALI_2024").expect("ok");
        validate_label(&"A".repeat(32)).expect("32 ok");
        assert!(validate_label(&"A".repeat(33)).is_err());
        assert!(validate_label("").is_err());
        let e = format!("{:#}", validate_label("stali").expect_err("lowercase"));
        assert!(e.contains("'s'"), "{e}");
        assert!(validate_label("A B").is_err());
    }

    /// A fake "kernel" is enough to test layout and reproducibility.
    fn fake_kernel(dir: &Path) -> PathBuf {
        let k = dir.join("bzImage");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(&k, data).expect("write kernel");
        k
    }

    fn spec(kernel: &Path, boot: BootMode, work: &Path) -> IsoSpec {
        IsoSpec {
            arch: Arch::X86_64,
            kernel: kernel.to_path_buf(),
            boot,
            volume_label: "STALI_TEST".into(),
            epoch: 1_704_067_200,
            work_dir: work.to_path_buf(),
        }
    }

    #[test]
    fn reproducible_hybrid_and_layout() {
        let d = tempfile::tempdir().expect("tempdir");
        let k = fake_kernel(d.path());
        let a = d.path().join("a/out.iso");
        let b = d.path().join("b/out.iso");
        write_iso(&spec(&k, BootMode::Hybrid, &d.path().join("w1")), &a).expect("iso a");
        // Different work dir, later wall-clock time, different kernel mtime.
        std::thread::sleep(Duration::from_millis(2100));
        File::open(&k)
            .expect("open")
            .set_modified(SystemTime::now())
            .expect("touch");
        write_iso(&spec(&k, BootMode::Hybrid, &d.path().join("other/w2")), &b).expect("iso b");
        let (x, y) = (fs::read(&a).expect("a"), fs::read(&b).expect("b"));
        assert!(x == y, "hybrid ISOs differ");
        let listing = duct::cmd!(
            "xorriso", "-no_rc", "-indev", &a, "-find", "/", "-exec", "lsdl"
        )
        .stderr_null()
        .read()
        .expect("xorriso lists");
        for f in [
            "/isolinux/isolinux.bin",
            "/isolinux/ldlinux.c32",
            "/isolinux/isolinux.cfg",
            "/boot/bzImage",
            "/boot/efi.img",
        ] {
            assert!(
                listing.contains(&format!("'{f}'")),
                "{f} missing:\n{listing}"
            );
        }
        // The FAT image holds the kernel as EFI/BOOT/BOOTX64.EFI.
        let img = d.path().join("w1/iso-tree/boot/efi.img");
        let dir = duct::cmd!("mdir", "-i", &img, "-b", "::/EFI/BOOT")
            .read()
            .expect("mdir");
        assert!(dir.contains("BOOTX64.EFI"), "{dir}");
        // Leftover temp files must not remain.
        let names: Vec<_> = fs::read_dir(d.path().join("a"))
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["out.iso"]);
    }

    #[test]
    fn bios_only_and_uefi_only() {
        let d = tempfile::tempdir().expect("tempdir");
        let k = fake_kernel(d.path());
        let bios = d.path().join("bios.iso");
        write_iso(&spec(&k, BootMode::Bios, &d.path().join("wb")), &bios).expect("bios");
        let uefi = d.path().join("uefi.iso");
        write_iso(&spec(&k, BootMode::Uefi, &d.path().join("wu")), &uefi).expect("uefi");
        let listing = duct::cmd!(
            "xorriso", "-no_rc", "-indev", &uefi, "-find", "/", "-exec", "lsdl"
        )
        .stderr_null()
        .read()
        .expect("xorriso lists");
        assert!(!listing.contains("isolinux"), "{listing}");
        assert!(!listing.contains("bzImage"), "{listing}");
        assert!(listing.contains("efi.img"), "{listing}");
    }

    #[test]
    fn failure_leaves_nothing() {
        let d = tempfile::tempdir().expect("tempdir");
        let out = d.path().join("o/out.iso");
        let mut s = spec(
            &d.path().join("missing"),
            BootMode::Hybrid,
            &d.path().join("w"),
        );
        assert!(write_iso(&s, &out).is_err());
        assert!(!out.exists());
        s.kernel = fake_kernel(d.path());
        s.volume_label = "bad label".into();
        assert!(write_iso(&s, &out).is_err());
        assert!(!out.exists());
        // Failing after xorriso ran (renaming over a non-empty directory):
        // the temporary ISO must be gone.
        s.volume_label = "OK".into();
        fs::create_dir_all(out.join("occupied")).expect("mkdir");
        assert!(write_iso(&s, &out).is_err());
        let leftovers = fs::read_dir(d.path().join("o"))
            .expect("ls")
            .filter(|e| e.as_ref().is_ok_and(|e| e.file_name() != "out.iso"))
            .count();
        assert_eq!(leftovers, 0);
    }
}
