//! Booting an ISO under QEMU and waiting for a marker on the serial console.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::model::Arch;

use super::exec::{Registration, describe_start_error, describe_status, display_argv, register};

/// Console lines quoted when a boot fails.
pub const FAIL_TAIL_LINES: usize = 30;

/// Where the UEFI firmware for `arch` is on this host (the first known path when none is).
pub fn uefi_firmware(arch: Arch) -> PathBuf {
    let paths = firmware_paths(arch);
    crate::host::host_file(paths, "UEFI firmware").unwrap_or_else(|_| PathBuf::from(paths[0]))
}

fn firmware_paths(arch: Arch) -> &'static [&'static str] {
    match arch {
        Arch::X86_64 => crate::host::OVMF_FD,
        Arch::Aarch64 => crate::host::QEMU_EFI_AARCH64,
    }
}

/// How to boot.
#[derive(Debug, Clone)]
pub struct BootSpec {
    /// The ISO to boot from (as a CD-ROM).
    pub iso: PathBuf,
    /// The machine's architecture (`qemu-system-aarch64 -M virt` for aarch64, UEFI only).
    pub arch: Arch,
    /// Boot with OVMF (UEFI) instead of SeaBIOS.
    pub uefi: bool,
    /// Text whose appearance on the serial console means success.
    pub expect: String,
    /// Give up after this long.
    pub timeout: Duration,
    /// Attach the terminal (`-serial mon:stdio`) and wait for QEMU to exit.
    pub interactive: bool,
    /// Guest memory in MiB.
    pub memory_mb: u32,
    /// Where to keep the console log (a temporary file when `None`).
    pub console_log: Option<PathBuf>,
    /// A network card on QEMU's user network, with a host port forwarded to the guest's SSH.
    pub net: Option<NetSpec>,
    /// After the marker, keep the machine running until it stops or stali is interrupted.
    pub hold: bool,
}

/// QEMU user networking for a boot: the guest gets its address by DHCP from QEMU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetSpec {
    /// Host port on 127.0.0.1 forwarded to the guest's port 22.
    pub ssh_port: u16,
    /// QEMU device model of the card (`virtio-net-pci`, `e1000`).
    pub nic: String,
    /// The guest reaches nothing outside (QEMU's `restrict=on`); the forward still works.
    pub isolated: bool,
}

impl NetSpec {
    /// The `-netdev` and `-device` arguments.
    pub fn qemu_args(&self) -> Vec<String> {
        let restrict = if self.isolated { ",restrict=on" } else { "" };
        vec![
            "-netdev".into(),
            format!(
                "user,id=n0{restrict},hostfwd=tcp:127.0.0.1:{}-:22",
                self.ssh_port
            ),
            "-device".into(),
            format!("{},netdev=n0", self.nic),
        ]
    }
}

/// A free TCP port on 127.0.0.1 (the kernel's choice), for a forward.
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("finding a free port on 127.0.0.1")?;
    Ok(l.local_addr().context("reading the port")?.port())
}

impl BootSpec {
    /// A non-interactive boot of `iso` waiting for `expect`, 256 MiB, 120 s.
    pub fn new(iso: impl Into<PathBuf>, uefi: bool, expect: impl Into<String>) -> Self {
        BootSpec {
            iso: iso.into(),
            arch: Arch::X86_64,
            uefi,
            expect: expect.into(),
            timeout: Duration::from_secs(120),
            interactive: false,
            memory_mb: 256,
            console_log: None,
            net: None,
            hold: false,
        }
    }
}

/// What a successful boot produced.
#[derive(Debug, Clone)]
pub struct BootOutcome {
    /// Time from starting QEMU to seeing the marker (or to exit, interactive).
    pub elapsed: Duration,
    /// Serial console text up to the end of the run (empty when interactive).
    pub console: String,
    /// "kvm" or "tcg": the accelerator that produced the marker.
    pub accel: &'static str,
    /// Plain-language notes, e.g. that KVM failed and TCG was used instead.
    pub notes: Vec<String>,
    /// Time from seeing the marker to QEMU being gone (zero when it was held or interactive).
    pub stop: Duration,
}

/// Environment variable forcing the accelerator ("kvm" or "tcg").
pub const ACCEL_ENV: &str = "STALI_QEMU_ACCEL";

/// "kvm" when `/dev/kvm` opens read-write, else "tcg"; `STALI_QEMU_ACCEL`
/// overrides the choice.
pub fn pick_accel() -> &'static str {
    match std::env::var(ACCEL_ENV).as_deref() {
        Ok("tcg") => return "tcg",
        Ok("kvm") => return "kvm",
        _ => {}
    }
    if OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
    {
        "kvm"
    } else {
        "tcg"
    }
}

/// The QEMU command line for `spec` (serial console on stdout).
///
/// aarch64 runs QEMU's `virt` machine (device tree, no ACPI) with a Cortex-A57 and the
/// packaged UEFI firmware;
/// the ISO is a SCSI CD-ROM (2 KiB sectors, where the firmware finds the El Torito EFI
/// image), as the virt machine has no IDE.
pub fn qemu_argv(spec: &BootSpec, accel: &str) -> Vec<String> {
    let mut a: Vec<String> = vec![spec.arch.qemu().into()];
    if spec.arch == Arch::Aarch64 {
        // acpi=off: with ACPI tables the firmware hands the kernel no device tree, and a
        // kernel without ACPI then finds no console ("EFI stub: Generating empty DTB").
        a.extend(["-M", "virt,acpi=off", "-cpu", "cortex-a57"].map(String::from));
    }
    a.extend([
        "-display".into(),
        "none".into(),
        "-no-reboot".into(),
        "-m".into(),
        spec.memory_mb.to_string(),
        "-accel".into(),
        accel.into(),
    ]);
    match &spec.net {
        Some(n) => a.extend(n.qemu_args()),
        None => a.extend(["-nic".into(), "none".into()]),
    }
    if spec.arch == Arch::Aarch64 {
        a.extend([
            "-drive".into(),
            format!(
                "if=none,id=cd0,format=raw,media=cdrom,readonly=on,file={}",
                spec.iso.display().to_string().replace(',', ",,")
            ),
            "-device".into(),
            "virtio-scsi-pci,id=scsi0".into(),
            "-device".into(),
            "scsi-cd,drive=cd0,bus=scsi0.0".into(),
        ]);
    } else {
        a.extend([
            "-boot".into(),
            "d".into(),
            "-cdrom".into(),
            spec.iso.display().to_string(),
        ]);
    }
    a.extend([
        "-serial".into(),
        if spec.interactive {
            "mon:stdio".into()
        } else {
            "stdio".into()
        },
    ]);
    if !spec.interactive {
        a.extend(["-monitor".into(), "none".into()]);
    }
    if spec.uefi || !spec.arch.has_bios() {
        a.extend([
            "-bios".into(),
            uefi_firmware(spec.arch).display().to_string(),
        ]);
    }
    a
}

/// Kills QEMU (if still running) whenever the guard goes away.
struct QemuGuard {
    handle: Arc<duct::Handle>,
    _reg: Registration,
}

impl QemuGuard {
    /// Kills QEMU's process group at once (SIGKILL: the guest has nothing to save) and
    /// waits for it; returns how long that took.
    fn stop(&self) -> Duration {
        let t = Instant::now();
        if matches!(self.handle.try_wait(), Ok(None)) {
            for pid in self.handle.pids() {
                if let Some(pid) = i32::try_from(pid)
                    .ok()
                    .and_then(rustix::process::Pid::from_raw)
                {
                    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
                }
            }
            let _ = self.handle.kill();
        }
        let _ = self.handle.wait();
        t.elapsed()
    }
}

impl Drop for QemuGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn read_new(f: &mut File, offset: &mut u64, buf: &mut Vec<u8>) -> Result<()> {
    f.seek(SeekFrom::Start(*offset))
        .context("seeking in the console log")?;
    let n = f.read_to_end(buf).context("reading the console log")?;
    *offset += n as u64;
    Ok(())
}

/// Boots `spec.iso` and waits for `spec.expect` on the serial console.
///
/// Fails on "Kernel panic", on timeout and when QEMU exits before the
/// marker, quoting the last 30 console lines. QEMU never outlives the call.
/// When `/dev/kvm` opens but KVM cannot run the guest (as in some nested
/// setups: "KVM internal error"), the boot is retried once with TCG, interactive or not.
pub fn boot(spec: &BootSpec) -> Result<BootOutcome> {
    boot_with(spec, &mut |_| {})
}

/// [`boot`], calling `on_ready` as soon as the marker appears (before QEMU is stopped, or
/// while it is held with [`BootSpec::hold`]).
pub fn boot_with(spec: &BootSpec, on_ready: &mut dyn FnMut(&BootOutcome)) -> Result<BootOutcome> {
    if !spec.iso.is_file() {
        bail!("ISO {} does not exist", spec.iso.display());
    }
    if spec.uefi || !spec.arch.has_bios() {
        crate::host::host_file(firmware_paths(spec.arch), "the UEFI firmware")?;
    }
    // KVM runs only guests of this machine's own architecture.
    let accel = if spec.arch.is_native() {
        pick_accel()
    } else {
        "tcg"
    };
    let once = |accel: &'static str, on_ready: &mut dyn FnMut(&BootOutcome)| {
        if spec.interactive {
            boot_interactive(&qemu_argv(spec, accel), accel)
        } else {
            boot_once(spec, accel, on_ready)
        }
    };
    match once(accel, on_ready)? {
        Attempt::Done(outcome) => Ok(outcome),
        Attempt::KvmBroken(why) => {
            let note = format!("KVM could not run the guest ({why}); retried with TCG");
            if spec.interactive {
                // The console is the terminal: say why the machine starts again.
                eprintln!("\r\nstali: {note}\r");
            }
            match once("tcg", on_ready)? {
                Attempt::Done(mut outcome) => {
                    outcome.notes.push(note);
                    Ok(outcome)
                }
                Attempt::KvmBroken(why) => bail!("QEMU failed under TCG too: {why}"),
            }
        }
    }
}

enum Attempt {
    Done(BootOutcome),
    KvmBroken(String),
}

fn boot_once(
    spec: &BootSpec,
    accel: &'static str,
    on_ready: &mut dyn FnMut(&BootOutcome),
) -> Result<Attempt> {
    let argv = qemu_argv(spec, accel);
    let shown = display_argv(&argv);
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let console_path = spec
        .console_log
        .clone()
        .unwrap_or_else(|| tmp.path().join("console.log"));
    if let Some(p) = console_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
    }
    let stderr_path = tmp.path().join("qemu-stderr.log");
    // Create (truncate) the console file so that reading can start at once.
    File::create(&console_path)
        .with_context(|| format!("creating console log {}", console_path.display()))?;

    let start = Instant::now();
    let handle = super::exec::command(&argv, None, None)
        .and_then(|e| {
            e.stdin_null()
                .stdout_path(&console_path)
                .stderr_path(&stderr_path)
                .unchecked()
                .before_spawn(|c| {
                    c.process_group(0);
                    Ok(())
                })
                .start()
        })
        .map_err(|e| {
            anyhow::anyhow!(
                "could not start `{shown}`: {} ({e})",
                describe_start_error(&e)
            )
        })?;
    let handle = Arc::new(handle);
    let guard = QemuGuard {
        _reg: register(Arc::clone(&handle), true, &shown),
        handle,
    };

    let mut f = File::open(&console_path)
        .with_context(|| format!("opening console log {}", console_path.display()))?;
    let mut offset = 0u64;
    let mut raw = Vec::new();
    let mut polls = 0u64;
    let stderr_text = || fs::read_to_string(&stderr_path).unwrap_or_default();
    loop {
        let exited = guard
            .handle
            .try_wait()
            .context("checking whether QEMU is still running")?
            .map(|o| o.status);
        read_new(&mut f, &mut offset, &mut raw)?;
        let text = String::from_utf8_lossy(&raw);
        if text.contains(&spec.expect) {
            let mut outcome = BootOutcome {
                elapsed: start.elapsed(),
                console: text.into_owned(),
                accel,
                notes: Vec::new(),
                stop: Duration::ZERO,
            };
            if !spec.hold {
                outcome.stop = guard.stop();
            }
            on_ready(&outcome);
            if spec.hold {
                let status = guard
                    .handle
                    .wait()
                    .context("waiting for QEMU to stop")?
                    .status;
                // The guest powered off or rebooted (-no-reboot): a normal end. Anything
                // else (stali interrupted, QEMU killed) is reported.
                if super::exec::interrupted().is_some() {
                    bail!("interrupted: QEMU stopped");
                }
                if !status.success() {
                    bail!(
                        "QEMU {} while the machine was running",
                        describe_status(&status)
                    );
                }
            }
            drop(guard);
            return Ok(Attempt::Done(outcome));
        }
        if text.contains("Kernel panic") {
            // Let a few more lines of the panic reach the log.
            std::thread::sleep(Duration::from_millis(300));
            read_new(&mut f, &mut offset, &mut raw)?;
            let text = String::from_utf8_lossy(&raw);
            bail!(
                "kernel panic while booting {} ({}) before {:?} appeared\n--- last {FAIL_TAIL_LINES} console lines ---\n{}\n--- end ---\nconsole log: {}",
                spec.iso.display(),
                if spec.uefi { "UEFI" } else { "BIOS" },
                spec.expect,
                tail(&text, FAIL_TAIL_LINES),
                console_path.display()
            );
        }
        polls += 1;
        if accel == "kvm"
            && (polls.is_multiple_of(10) || exited.is_some())
            && let Some(why) = kvm_broken(&stderr_text())
        {
            return Ok(Attempt::KvmBroken(why));
        }
        if let Some(status) = exited {
            bail!(
                "QEMU {} after {:.1?} before {:?} appeared on the console\ncommand: {shown}\nQEMU stderr: {}\n--- last {FAIL_TAIL_LINES} console lines ---\n{}\n--- end ---",
                describe_status(&status),
                start.elapsed(),
                spec.expect,
                stderr_text().trim(),
                tail(&text, FAIL_TAIL_LINES)
            );
        }
        if start.elapsed() > spec.timeout {
            bail!(
                "timed out after {:?} waiting for {:?} on the console ({} boot, accel {accel})\n--- last {FAIL_TAIL_LINES} console lines ---\n{}\n--- end ---\nconsole log: {}",
                spec.timeout,
                spec.expect,
                if spec.uefi { "UEFI" } else { "BIOS" },
                tail(&text, FAIL_TAIL_LINES),
                console_path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether QEMU's standard error says KVM cannot run the guest: the line that says so.
fn kvm_broken(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .find(|l| l.contains("KVM internal error"))
        .map(|l| l.trim().to_string())
}

/// Runs QEMU on the terminal (its serial console and monitor on our standard input and
/// output) until it exits. Its standard error is passed on as it comes; under KVM, a "KVM
/// internal error" there (QEMU then keeps running a stopped guest) ends it at once so that
/// the caller can start again with TCG. The terminal's settings are put back afterwards,
/// however QEMU ended.
fn boot_interactive(argv: &[String], accel: &'static str) -> Result<Attempt> {
    let shown = display_argv(argv);
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let stderr_path = tmp.path().join("qemu-stderr.log");
    File::create(&stderr_path).context("creating QEMU's stderr log")?;
    let stdin = std::io::stdin();
    let saved = rustix::termios::tcgetattr(&stdin).ok();
    let start = Instant::now();
    // Same process group as us: QEMU owns the terminal while it runs.
    let handle = super::exec::command(argv, None, None)
        .and_then(|e| e.stderr_path(&stderr_path).unchecked().start())
        .map_err(|e| {
            anyhow::anyhow!(
                "could not start `{shown}`: {} ({e})",
                describe_start_error(&e)
            )
        })?;
    let handle = Arc::new(handle);
    let guard = QemuGuard {
        _reg: register(Arc::clone(&handle), false, &shown),
        handle,
    };
    let restore = || {
        if let Some(t) = &saved {
            let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, t);
        }
    };
    let mut f = File::open(&stderr_path).context("opening QEMU's stderr log")?;
    let (mut offset, mut err) = (0u64, Vec::new());
    let status = loop {
        let exited = guard
            .handle
            .try_wait()
            .with_context(|| format!("waiting for `{shown}`"))?
            .map(|o| o.status);
        let seen = err.len();
        read_new(&mut f, &mut offset, &mut err)?;
        if err.len() > seen {
            let mut out = std::io::stderr();
            let _ = std::io::Write::write_all(&mut out, &err[seen..]);
        }
        if accel == "kvm"
            && let Some(why) = kvm_broken(&String::from_utf8_lossy(&err))
        {
            // SIGTERM lets QEMU put the terminal back itself; the guard kills what is left.
            for pid in guard.handle.pids() {
                if let Some(pid) = i32::try_from(pid)
                    .ok()
                    .and_then(rustix::process::Pid::from_raw)
                {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
                }
            }
            let deadline = Instant::now() + Duration::from_secs(2);
            while matches!(guard.handle.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            drop(guard);
            restore();
            return Ok(Attempt::KvmBroken(why));
        }
        if let Some(status) = exited {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(guard);
    restore();
    if !status.success() {
        bail!("`{shown}` {}", describe_status(&status));
    }
    Ok(Attempt::Done(BootOutcome {
        elapsed: start.elapsed(),
        console: String::new(),
        accel,
        notes: Vec::new(),
        stop: Duration::ZERO,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_shapes() {
        let mut s = BootSpec::new("/x.iso", true, "M");
        let a = qemu_argv(&s, "tcg");
        let joined = a.join(" ");
        assert!(joined.contains("-cdrom /x.iso"));
        assert!(joined.contains("-bios /usr/share/ovmf/OVMF.fd"));
        assert!(joined.contains("-serial stdio -monitor none"));
        assert!(joined.contains("-accel tcg"));
        assert!(joined.contains("-nic none"));
        s.net = Some(NetSpec {
            ssh_port: 2222,
            nic: "virtio-net-pci".into(),
            isolated: true,
        });
        let joined = qemu_argv(&s, "tcg").join(" ");
        assert!(
            joined.contains(
                "-netdev user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22 -device virtio-net-pci,netdev=n0"
            ),
            "{joined}"
        );
        assert!(!joined.contains("-nic none"));
        s.net = None;
        s.uefi = false;
        s.interactive = true;
        let joined = qemu_argv(&s, "kvm").join(" ");
        assert!(!joined.contains("-bios"));
        assert!(joined.contains("-serial mon:stdio"));
    }

    #[test]
    fn a_kvm_internal_error_is_recognised() {
        // QEMU 7.2's standard error on this machine, where /dev/kvm opens but KVM fails.
        let err = "qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]\nKVM internal error. Suberror: 1\nextra data[0]: 0x0000000000000001\nemulation failure\n";
        assert_eq!(
            kvm_broken(err).as_deref(),
            Some("KVM internal error. Suberror: 1")
        );
        assert_eq!(
            kvm_broken("qemu-system-x86_64: warning: host doesn't support requested feature\n"),
            None
        );
    }

    #[test]
    fn missing_iso_is_an_error() {
        let e = format!(
            "{:#}",
            boot(&BootSpec::new("/nonexistent.iso", false, "x")).expect_err("no iso")
        );
        assert!(e.contains("does not exist"), "{e}");
    }

    /// An ISO with no bootable kernel: SeaBIOS finds nothing to boot, so
    /// the run must end by timeout and QEMU must be gone afterwards.
    #[test]
    fn timeout_kills_qemu() {
        let d = tempfile::tempdir().expect("tempdir");
        let tree = d.path().join("tree");
        fs::create_dir_all(&tree).expect("mkdir");
        fs::write(tree.join("README"), "nothing").expect("w");
        let iso = d.path().join("empty.iso");
        duct::cmd!("xorriso", "-no_rc", "-as", "mkisofs", "-o", &iso, &tree)
            .stderr_null()
            .run()
            .expect("xorriso");
        let mut s = BootSpec::new(&iso, false, "NEVER-APPEARS");
        s.timeout = Duration::from_secs(3);
        s.memory_mb = 64;
        let log = d.path().join("console.log");
        s.console_log = Some(log.clone());
        let e = format!("{:#}", boot(&s).expect_err("timeout"));
        assert!(e.contains("timed out"), "{e}");
        // No qemu process for this ISO may remain.
        let ps = duct::cmd!("ps", "-eo", "args").read().expect("ps");
        assert!(!ps.contains(&iso.display().to_string()), "{ps}");
    }
}
