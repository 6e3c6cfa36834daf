//! Every child dies with stali, whatever kills it: real `stali build` and `stali boot`
//! processes are killed (SIGKILL, SIGHUP, SIGINT, SIGTERM) while a step runs, and no
//! process they started may survive. The build step is a fake kernel tree whose
//! `headers_install` runs `make` → `sh` → `sleep` (a grandchild of the step), so a
//! parent-death signal on the direct child alone would not pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn stali() -> &'static str {
    env!("CARGO_BIN_EXE_stali")
}

/// Processes whose command line is exactly `sleep SECS` (zombies have none and do not count).
fn sleepers(secs: u32) -> Vec<String> {
    let mut found = Vec::new();
    let want = format!("sleep\0{secs}\0");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in dir.flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
            && cmd == want.as_bytes()
        {
            found.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A profile whose only build step (the kernel headers) runs `sleep SECS` under make and sh.
fn sleeping_profile(dir: &Path, secs: u32) -> PathBuf {
    let k = dir.join("kernel");
    std::fs::create_dir_all(&k).expect("mkdir");
    std::fs::write(
        k.join("Makefile"),
        format!("headers_install:\n\tsleep {secs}; echo done\n"),
    )
    .expect("Makefile");
    std::fs::write(k.join("Kconfig"), "").expect("Kconfig");
    let p = dir.join("sleepy.toml");
    std::fs::write(
        &p,
        format!(
            "format = 1\nname = \"sleepy\"\n[tools]\nselect = []\n[kernel]\nsource = {{ path = \"{}\" }}\n",
            k.display()
        ),
    )
    .expect("profile");
    p
}

fn start_build(dir: &Path, secs: u32) -> Child {
    let profile = sleeping_profile(dir, secs);
    let child = Command::new(stali())
        .arg("build")
        .arg(&profile)
        .arg("--cache")
        .arg(dir.join("cache"))
        .arg("-o")
        .arg(dir.join("out.iso"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("stali starts");
    wait_for("the build step's sleep", Duration::from_secs(60), || {
        !sleepers(secs).is_empty()
    });
    child
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -{sig} failed");
}

fn assert_no_survivor(secs: u32) {
    wait_for(
        &format!("every `sleep {secs}` to die"),
        Duration::from_secs(5),
        || sleepers(secs).is_empty(),
    );
}

#[test]
fn kill_9_of_a_build_kills_its_grandchildren() {
    let d = tempfile::tempdir().expect("tempdir");
    let mut child = start_build(d.path(), 3101);
    signal(&child, "KILL");
    let _ = child.wait();
    assert_no_survivor(3101);
}

/// Kills a build with `sig`; checks the exit code, the one-line message, no make error.
fn interrupted_build(sig: &str, secs: u32, code: i32) {
    let d = tempfile::tempdir().expect("tempdir");
    let child = start_build(d.path(), secs);
    signal(&child, sig);
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "SIG{sig}: {stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.contains("interrupted")).count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.trim_end().ends_with("stali: interrupted"),
        "{stderr}"
    );
    // No error from an interrupted step (make's "Error 2", a failed command).
    assert!(
        !stderr
            .lines()
            .any(|l| l.starts_with("error") || l.contains("Error ") || l.contains("failed")),
        "{stderr}"
    );
    assert_no_survivor(secs);
}

#[test]
fn sighup_of_a_build_is_an_interruption() {
    interrupted_build("HUP", 3102, 129);
}

#[test]
fn sigint_of_a_build_exits_130() {
    interrupted_build("INT", 3103, 130);
}

#[test]
fn sigterm_of_a_build_exits_143() {
    interrupted_build("TERM", 3104, 143);
}

#[test]
fn kill_9_of_a_boot_kills_qemu() {
    let d = tempfile::tempdir().expect("tempdir");
    // A stand-in QEMU that never boots anything.
    let bin = d.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let qemu = bin.join("qemu-system-x86_64");
    std::fs::write(&qemu, "#!/bin/sh\nsleep 3105\n").expect("fake qemu");
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&qemu, mode).expect("chmod");
    let iso = d.path().join("x.iso");
    std::fs::write(&iso, "not an iso").expect("iso");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new(stali())
        .args(["boot", "--expect", "never", "--timeout", "600"])
        .arg(&iso)
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("stali starts");
    wait_for("the fake QEMU", Duration::from_secs(30), || {
        !sleepers(3105).is_empty()
    });
    signal(&child, "KILL");
    let _ = child.wait();
    assert_no_survivor(3105);
}
