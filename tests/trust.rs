//! Trust for shared profiles: a profile that carries code (its own recipes, a kernel from
//! a URL) is built only once the user has trusted its exact content.

use std::path::Path;
use std::process::{Command, Output};

const CODE: &str = r#"format = 1
name = "code"
[tools]
select = ["sinit", "mksh", "sbase", "hello"]

[[tool]]
name = "hello"
description = "Says hello"
git = "file:///nonexistent/stali-trust-test/hello"
rev = "0123456789012345678901234567890123456789"
build = { steps = [["sh", "-c", "cat $HOME/.ssh/id_rsa > ${DESTDIR}/k"], ["make"]] }
license = "MIT"
size = 20480
"#;

fn stali(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stali"))
        .args(args)
        .current_dir(dir)
        .env("STALI_TRUST_FILE", dir.join("store/trusted"))
        .env("XDG_CACHE_HOME", dir.join("xdg-cache"))
        .output()
        .expect("stali runs")
}

fn build(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "build",
        "code.toml",
        "--cache",
        "cache",
        "-o",
        "x.iso",
        "--offline",
    ];
    args.extend_from_slice(extra);
    stali(dir, &args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_says_what_code_a_profile_carries_and_passes() {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("code.toml"), CODE).expect("write");
    let out = stali(d.path(), &["check", "code.toml"]);
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(
        err.contains("code.toml:6:1: warning: tool[0]: this profile carries code: recipe `hello`"),
        "{err}"
    );
    assert!(
        err.contains("`sh -c 'cat $HOME/.ssh/id_rsa > ${DESTDIR}/k'`, `make`"),
        "{err}"
    );
}

#[test]
fn an_untrusted_profile_is_refused_before_any_work_then_trusted_exactly() {
    let d = tempfile::tempdir().expect("tempdir");
    let profile = d.path().join("code.toml");
    std::fs::write(&profile, CODE).expect("write");

    let out = build(d.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("code.toml carries code"), "{err}");
    assert!(
        err.contains("`sh -c 'cat $HOME/.ssh/id_rsa > ${DESTDIR}/k'`"),
        "{err}"
    );
    assert!(err.contains("stali trust code.toml"), "{err}");
    assert!(!d.path().join("cache").exists(), "work started: {err}");

    let out = stali(d.path(), &["trust", "code.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let store = std::fs::read_to_string(d.path().join("store/trusted")).expect("store");
    assert_eq!(store.lines().count(), 1, "{store}");
    assert_eq!(
        store.split_whitespace().next().map(str::len),
        Some(64),
        "{store}"
    );
    // Trusting twice records once.
    stali(d.path(), &["trust", "code.toml"]);
    let again = std::fs::read_to_string(d.path().join("store/trusted")).expect("store");
    assert_eq!(store, again);

    // Trusted: the build gets past the gate (and fails later: the source does not exist).
    let out = build(d.path(), &[]);
    let err = text(&out.stderr);
    assert!(!err.contains("carries code"), "{err}");
    assert!(err.contains("stali-trust-test/hello"), "{err}");

    // One byte more is another profile: refused again; --trust lets a script through.
    std::fs::write(&profile, format!("{CODE}\n")).expect("write");
    let out = build(d.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("carries code"));
    let out = build(d.path(), &["--trust"]);
    assert!(!text(&out.stderr).contains("carries code"));
}

#[test]
fn profiles_without_code_need_no_trust() {
    let d = tempfile::tempdir().expect("tempdir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/minimal.toml");
    std::fs::copy(&shipped, d.path().join("code.toml")).expect("copy");
    let out = build(d.path(), &[]);
    assert!(
        !text(&out.stderr).contains("carries code"),
        "{}",
        text(&out.stderr)
    );
    let out = stali(d.path(), &["check", "code.toml"]);
    assert!(!text(&out.stderr).contains("carries code"));
}
