//! The full chain with a real kernel: static init -> cpio built into the
//! kernel -> bzImage -> ISO (BIOS, UEFI, hybrid) -> boot under QEMU.

use std::fs;
use std::time::{Duration, Instant};

use super::cpio::{console_entries, write_newc_if_changed};
use super::elf::{check_static_tree, strip_tree};
use super::iso::{IsoSpec, write_iso};
use super::kernel::test_support::{EPOCH, KERNEL_LOCK, configured};
use super::kernel::{build, initramfs_path};
use super::qemu::{BootSpec, boot};
use crate::model::BootMode;

const MARKER: &str = "STALI-TEST-MARKER";

const INIT_C: &str = r#"
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>
#include <sys/reboot.h>

int main(void)
{
    static const char msg[] = "\nSTALI-TEST-MARKER\n";
    int fd = open("/dev/console", O_WRONLY | O_NOCTTY);
    if (fd < 0)
        fd = 1;
    write(fd, msg, sizeof msg - 1);
    tcdrain(fd);
    sync();
    reboot(RB_AUTOBOOT);
    for (;;)
        pause();
}
"#;

#[test]
#[ignore = "slow: builds a real kernel (~6 min the first time) and boots it twice"]
fn full_chain_real_kernel_bios_and_uefi() {
    let _lock = KERNEL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let k = configured();
    let work = k.cache.join("chain");
    let root = work.join("root");
    if root.exists() {
        fs::remove_dir_all(&root).expect("clean root");
    }
    fs::create_dir_all(&root).expect("mkdir root");
    let src = work.join("init.c");
    fs::write(&src, INIT_C).expect("write init.c");
    duct::cmd!("musl-gcc", "-static", "-Os", "-o", root.join("init"), &src)
        .run()
        .expect("musl-gcc builds init");
    let log = work.join("logs/chain.log");
    strip_tree(&root, "strip", &log).expect("strip");
    let elves = check_static_tree(&root).expect("init is static");
    assert_eq!(elves.len(), 1);
    eprintln!(
        "[size] init {} bytes",
        fs::metadata(root.join("init")).expect("meta").len()
    );

    let cpio = initramfs_path(&k.objdir);
    let changed =
        write_newc_if_changed(Some(&root), &console_entries(), EPOCH, &cpio).expect("write cpio");
    let t = Instant::now();
    let image = build(
        &k.src,
        &k.objdir,
        crate::model::Arch::X86_64,
        2,
        EPOCH,
        &k.log,
    )
    .expect("kernel build");
    eprintln!(
        "[timing] kernel build (cpio changed: {changed}): {:.1?}; bzImage {} bytes",
        t.elapsed(),
        fs::metadata(&image).expect("meta").len()
    );

    let mut isos = Vec::new();
    for (mode, name) in [
        (BootMode::Bios, "bios"),
        (BootMode::Uefi, "uefi"),
        (BootMode::Hybrid, "hybrid"),
    ] {
        let out = work.join(format!("stali-{name}.iso"));
        let t = Instant::now();
        write_iso(
            &IsoSpec {
                kernel: image.clone(),
                boot: mode,
                arch: crate::model::Arch::X86_64,
                volume_label: "STALI_TEST".into(),
                epoch: EPOCH,
                work_dir: work.join(format!("iso-work-{name}")),
            },
            &out,
        )
        .expect("write iso");
        eprintln!(
            "[size] {name} ISO {} bytes (written in {:.1?})",
            fs::metadata(&out).expect("meta").len(),
            t.elapsed()
        );
        isos.push((name, out));
    }

    let hybrid = &isos[2].1;
    // Reproducible with the real kernel too: another work dir, same bytes.
    let again = work.join("again/stali-hybrid.iso");
    write_iso(
        &IsoSpec {
            kernel: image.clone(),
            boot: BootMode::Hybrid,
            arch: crate::model::Arch::X86_64,
            volume_label: "STALI_TEST".into(),
            epoch: EPOCH,
            work_dir: work.join("again/work"),
        },
        &again,
    )
    .expect("write iso again");
    assert!(
        fs::read(hybrid).expect("read") == fs::read(&again).expect("read"),
        "hybrid ISO not reproducible"
    );
    for (label, iso, uefi) in [
        ("hybrid/BIOS", hybrid, false),
        ("hybrid/UEFI", hybrid, true),
        ("bios-only/BIOS", &isos[0].1, false),
        ("uefi-only/UEFI", &isos[1].1, true),
    ] {
        let mut spec = BootSpec::new(iso, uefi, MARKER);
        spec.timeout = Duration::from_secs(180);
        spec.console_log = Some(work.join(format!("console-{}.log", label.replace('/', "-"))));
        let outcome = boot(&spec).unwrap_or_else(|e| panic!("{label} boot failed: {e:#}"));
        eprintln!(
            "[timing] {label} boot to marker: {:.2?} (accel {}) {:?}",
            outcome.elapsed, outcome.accel, outcome.notes
        );
        assert!(outcome.console.contains(MARKER));
    }
}
