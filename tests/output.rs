//! `-o` is checked before any work, and a kernel `path` that is neither a file nor a
//! folder is refused by `stali check` (a FIFO used to hang the build).

use std::path::Path;
use std::process::{Command, Output};

fn stali(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stali"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("stali runs")
}

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo").arg(p).status().expect("mkfifo");
    assert!(ok.success());
}

#[test]
fn output_over_the_profile_a_fifo_or_a_device_is_refused_before_any_work() {
    let d = tempfile::tempdir().expect("tempdir");
    let profile = "format = 1\n";
    std::fs::write(d.path().join("p.toml"), profile).expect("write");
    mkfifo(&d.path().join("fifo.iso"));
    for (out, why) in [
        ("p.toml", "is the profile being built"),
        ("fifo.iso", "is not a regular file"),
        ("/dev/null", "is not a regular file"),
        ("/proc/x.iso", "cannot write the ISO into /proc"),
    ] {
        let o = stali(
            d.path(),
            &[
                "build",
                "p.toml",
                "-o",
                out,
                "--cache",
                "cache",
                "--offline",
            ],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{out}: {err}");
        assert!(err.contains(why), "{out}: {err}");
        assert!(!d.path().join("cache").exists(), "{out}: work started");
    }
    assert_eq!(
        std::fs::read_to_string(d.path().join("p.toml")).expect("read"),
        profile
    );
}

#[test]
fn a_kernel_path_that_is_a_fifo_is_refused_by_check() {
    let d = tempfile::tempdir().expect("tempdir");
    let fifo = d.path().join("linux.tar.xz");
    mkfifo(&fifo);
    std::fs::write(
        d.path().join("p.toml"),
        format!(
            "format = 1\n[kernel]\nsource = {{ path = \"{}\" }}\n",
            fifo.display()
        ),
    )
    .expect("write");
    let o = stali(d.path(), &["check", "p.toml"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("p.toml:3:19: error: kernel.source.path:")
            && err.contains("is not a regular file or folder"),
        "{err}"
    );
}
