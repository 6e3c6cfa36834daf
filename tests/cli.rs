//! Runs the built `stali` binary on the profile corpus and checks every command's contract.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod host_common;

fn stali(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stali"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("STALI_CONFIG_DIR", "/nonexistent-stali-config")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run stali")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn corpus(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

fn no_panic(o: &Output) {
    let err = text(&o.stderr);
    assert!(
        !err.contains("panicked")
            && !err.contains("internal error")
            && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

#[test]
fn every_invalid_profile_gets_its_exact_message_and_exit_1() {
    let files = corpus("tests/profiles/invalid");
    assert!(files.len() >= 30, "only {} invalid profiles", files.len());
    let mut kinds = std::collections::BTreeSet::new();
    for f in &files {
        let rel = f
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .expect("relative");
        let rel = rel.to_str().expect("utf-8 path");
        let o = stali(&["check", rel]);
        no_panic(&o);
        assert_eq!(o.status.code(), Some(1), "{rel}: {}", text(&o.stderr));
        let expected = std::fs::read_to_string(f.with_extension("expected"))
            .expect("an .expected file beside each invalid profile");
        assert_eq!(text(&o.stderr), expected, "{rel}");
        assert!(o.stdout.is_empty(), "{rel} printed to stdout");
        assert!(
            expected.starts_with(rel),
            "{rel}: message does not name the file"
        );
        kinds.insert(
            expected
                .split(": error: ")
                .nth(1)
                .map(|m| m.split(':').next().unwrap_or("").to_string()),
        );
    }
    assert!(
        kinds.len() >= 25,
        "only {} distinct kinds: {kinds:?}",
        kinds.len()
    );
}

#[test]
fn paths_that_are_not_profile_files_are_invalid_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8");
    let o = stali(&["check", d]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        format!("{d}: error: is a directory, not a profile file\n")
    );

    let missing = format!("{d}/nope.toml");
    let o = stali(&["check", &missing]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), format!("{missing}: error: no such file\n"));

    let o = stali(&["check", "/dev/null"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stderr), "/dev/null: error: is not a regular file\n");

    let huge = dir.path().join("huge.toml");
    let mut body = String::from("format = 1\ndescription = \"");
    body.push_str(&"x".repeat(3 << 20));
    body.push_str("\"\n");
    std::fs::write(&huge, body).expect("write");
    let h = huge.to_str().expect("utf-8");
    let o = stali(&["check", h]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("a profile is at most 1048576 bytes"),
        "{}",
        text(&o.stderr)
    );

    let long = dir.path().join("long.toml");
    std::fs::write(
        &long,
        format!("format = 1\ndescription = \"{}\"\n", "y".repeat(100_000)),
    )
    .expect("write");
    let o = stali(&["check", long.to_str().expect("utf-8")]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(
            ":2:15: error: description: a description is one line of at most 200 characters"
        ),
        "{}",
        text(&o.stderr)
    );

    let misspelt = stali(&["check", "minimall"]);
    assert_eq!(misspelt.status.code(), Some(1));
    assert!(
        text(&misspelt.stderr).contains("did you mean the shipped profile `minimal`?"),
        "{}",
        text(&misspelt.stderr)
    );
}

#[test]
fn valid_and_shipped_profiles_pass() {
    for f in corpus("tests/profiles/valid")
        .into_iter()
        .chain(corpus("profiles"))
    {
        let o = stali(&["check", f.to_str().expect("utf-8")]);
        no_panic(&o);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}: {}",
            f.display(),
            text(&o.stderr)
        );
        assert!(text(&o.stdout).contains(": ok: "), "{}", text(&o.stdout));
    }
    let o = stali(&["check", "tests/profiles/valid/no-init-warning.toml"]);
    assert!(
        text(&o.stderr).contains("warning: tools.select: no selected tool provides init"),
        "{}",
        text(&o.stderr)
    );
    let o = stali(&[
        "check",
        "profiles/minimal.toml",
        "tests/profiles/invalid/unknown-tool.toml",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "one bad profile fails the whole check"
    );
}

#[test]
fn size_json_adds_up_and_the_table_is_aligned() {
    for p in [
        "profiles/minimal.toml",
        "profiles/stali-classic.toml",
        "profiles/rescue.toml",
    ] {
        let o = stali(&["size", p, "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        let total = v["total_bytes"].as_u64().expect("total_bytes");
        let comps = v["components"].as_array().expect("components");
        let sum: u64 = comps
            .iter()
            .map(|c| c["bytes"].as_u64().expect("bytes"))
            .sum();
        assert_eq!(sum, total, "{p}");
        for c in comps {
            assert!(
                c["name"].is_string() && c["kind"].is_string() && c["source"].is_string(),
                "{c}"
            );
        }
    }
    let o = stali(&["size", "profiles/minimal.toml"]);
    let out = text(&o.stdout);
    let header = out
        .lines()
        .find(|l| l.starts_with("component"))
        .expect("header line");
    let col = header.find("source").expect("source column");
    for line in out
        .lines()
        .skip_while(|l| !l.starts_with("component"))
        .skip(1)
        .take_while(|l| !l.is_empty())
    {
        assert!(line.len() >= col, "{line}");
        assert_eq!(&line[col - 2..col], "  ", "column not aligned: {line}");
    }
    assert!(out.lines().any(|l| l.starts_with("total")), "{out}");
}

#[test]
fn list_diff_doctor_and_completions() {
    let o = stali(&["list", "tools"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("sbase"));
    let o = stali(&["list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    for key in ["tools", "hardware", "fragments", "themes", "profiles"] {
        assert!(v[key].as_array().is_some_and(|a| !a.is_empty()), "{key}");
    }
    let o = stali(&["list", "hardwre"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a misspelt list kind is a usage error"
    );

    let o = stali(&["diff", "profiles/minimal.toml", "profiles/rescue.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let d = text(&o.stdout);
    assert!(d.contains("hardware: qemu-x86_64 -> pc-x86_64"), "{d}");
    assert!(d.contains("+ dropbear"), "{d}");
    assert!(d.contains("+ zlib (needed by"), "{d}");
    assert!(d.contains("estimated image:"), "{d}");

    let o = stali(&["doctor"]);
    let out = text(&o.stdout);
    let missing = out.contains("MISSING");
    assert_eq!(o.status.code(), Some(if missing { 1 } else { 0 }), "{out}");
    assert!(out.contains("musl-gcc") && out.contains("xorriso"), "{out}");

    for shell in ["bash", "zsh", "fish"] {
        let o = stali(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0));
        assert!(text(&o.stdout).contains("stali"), "{shell}");
    }
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    assert_eq!(stali(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(stali(&["size"]).status.code(), Some(2));
    assert_eq!(stali(&["size", "a", "b", "c"]).status.code(), Some(2));
    for args in [
        &["--help"][..],
        &["--version"],
        &["check", "--help"],
        &["build", "--help"],
        &["boot", "--help"],
    ] {
        let o = stali(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(!o.stdout.is_empty());
    }
}

#[test]
fn mutated_profiles_never_panic() {
    let base = std::fs::read("profiles/stali-classic.toml").expect("profile");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..40 {
        let mut bytes = base.clone();
        for _ in 0..(1 + next() % 6) {
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = (next() % 128) as u8,
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, b"[]{}\"=\n#,x"[(next() % 10) as usize]),
            }
        }
        let f = dir.path().join(format!("m{i}.toml"));
        std::fs::write(&f, &bytes).expect("write");
        let o = stali(&["check", f.to_str().expect("utf-8")]);
        no_panic(&o);
        assert!(
            matches!(o.status.code(), Some(0) | Some(1)),
            "{}",
            text(&o.stderr)
        );
    }
}

#[test]
fn doctor_fails_naming_each_missing_program_and_its_package() {
    // Everything the table names, but rsync (the kernel's headers_install) and ld.
    let bin = host_common::doctor_path(&["rsync", "ld"]);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_stali"))
            .args(args)
            .env("PATH", bin.path())
            .output()
            .expect("run stali")
    };
    let o = run(&["doctor"]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("MISSING  rsync"), "{out}");
    assert!(out.contains("missing: ld"), "{out}");
    assert!(out.contains("apt-get install -y binutils rsync"), "{out}");
    assert!(
        !out.contains("Everything the pipeline needs is here"),
        "{out}"
    );
    let j: serde_json::Value =
        serde_json::from_slice(&run(&["doctor", "--json"]).stdout).expect("doctor json");
    let missing: Vec<&str> = j["missing"]
        .as_array()
        .expect("missing")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    assert_eq!(missing, ["binutils", "rsync"]);
    // With the full table on PATH the doctor is content.
    let all = host_common::doctor_path(&[]);
    let o = Command::new(env!("CARGO_BIN_EXE_stali"))
        .arg("doctor")
        .env("PATH", all.path())
        .output()
        .expect("run stali");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    // The package list tests/run installs.
    let o = stali(&["doctor", "--packages", "debian"]);
    let pkgs = text(&o.stdout);
    for p in ["rsync", "musl-tools", "xorriso", "linux-source-6.1"] {
        assert!(pkgs.lines().any(|l| l == p), "{p} not in:\n{pkgs}");
    }
}

fn stali_with_config(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stali"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("STALI_CONFIG_DIR", config)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run stali")
}

#[test]
fn kernel_bases_come_from_the_catalog() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(dir.path().join("hardware")).expect("mkdir");
    std::fs::write(
        dir.path().join("hardware/bases.toml"),
        "[[base]]\nname = \"allnoconfig\"\ndescription = \"Everything off\"\nsize = 500000\nsize_source = \"estimate: test\"\n",
    )
    .expect("write");
    let profile = dir.path().join("p.toml");
    std::fs::write(&profile, "format = 1\n[kernel]\nbase = \"allnoconfig\"\n").expect("write");
    let p = profile.to_str().expect("utf-8");
    let o = stali_with_config(dir.path(), &["check", p]);
    // The base is known, and the kernel options are checked on top of it: on allnoconfig
    // (no EXPERT) the base fragment's `CONFIG_VT = "n"` cannot stick, and check says so
    // where a build would fail minutes in.
    let err = text(&o.stderr);
    assert!(!err.contains("unknown base"), "{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("kernel-fragments/base.config") && err.contains("CONFIG_VT"),
        "{err}"
    );
    let o = stali_with_config(dir.path(), &["list", "bases"]);
    let listed = text(&o.stdout);
    for b in ["tinyconfig", "defconfig", "allnoconfig"] {
        assert!(listed.contains(b), "{b} not listed:\n{listed}");
    }
    // Without the user's catalog the same profile is refused, pointing at the list.
    let o = stali(&["check", p]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).ends_with(
            "p.toml:3:8: error: kernel.base: unknown base `allnoconfig` (see `stali list bases`)\n"
        ),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn the_budget_warns_and_strict_fails() {
    let dir = tempfile::tempdir().expect("tmp");
    let profile = dir.path().join("tight.toml");
    std::fs::write(&profile, "format = 1\n[image]\nbudget = \"1 KiB\"\n").expect("write");
    let p = profile.to_str().expect("utf-8");
    for cmd in ["check", "size"] {
        let o = stali(&[cmd, p]);
        assert_eq!(o.status.code(), Some(0), "{cmd}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(
            err.contains("tight.toml:3:10: warning: image.budget: the estimated image is ")
                && err.contains("over the budget of 1 KiB by"),
            "{cmd}: {err}"
        );
        let o = stali(&[cmd, p, "--strict"]);
        assert_eq!(o.status.code(), Some(1), "{cmd} --strict");
        assert!(
            text(&o.stderr).contains("tight.toml:3:10: error: image.budget: the estimated image"),
            "{cmd}: {}",
            text(&o.stderr)
        );
    }
    let o = stali(&["check", "profiles/minimal.toml", "--strict"]);
    assert_eq!(o.status.code(), Some(0), "within its budget");
}

#[test]
fn every_problem_is_reported_at_once_each_at_its_place() {
    let dir = tempfile::tempdir().expect("tmp");
    let profile = dir.path().join("multi.toml");
    std::fs::write(
        &profile,
        "format = 1\nname = \"Bad Name\"\n[kernel]\nbase = \"tinyconf\"\n[kernel.options]\nCONFIG_EXT4_FS = \"m\"\nCONFIG_MODULES = true\n[image]\nhostname = \"a b\"\n[pins]\nmksh = \"0123456789012345678901234567890123456789012345678901234567890123\"\n",
    )
    .expect("write");
    let o = stali(&["check", profile.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    let places: Vec<&str> = err
        .lines()
        .map(|l| l.split(": error: ").next().unwrap_or(""))
        .map(|p| p.rsplit("multi.toml").next().unwrap_or(""))
        .collect();
    assert_eq!(
        places,
        [":2:8", ":4:8", ":6:18", ":7:18", ":9:12", ":11:1"],
        "{err}"
    );
    assert!(err.contains("did you mean `tinyconfig`?"), "{err}");
    assert!(err.contains("`mksh` comes from git"), "{err}");
}

/// Every line of `stali build --message-format json` on stdout is one JSON object with
/// `format` 1, `time` and `event`, and the last says how the build finished.
fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    let out = text(&o.stdout);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for v in &lines {
        assert_eq!(v["format"], 1, "{v}");
        assert!(v["time"].as_f64().is_some(), "{v}");
        assert!(v["event"].as_str().is_some(), "{v}");
    }
    lines
}

#[test]
fn build_message_format_json_is_versioned_lines_ending_in_build_finished() {
    let o = stali(&["build", "/nonexistent/p.toml", "--message-format", "json"]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["event"], "build-finished");
    assert_eq!(lines[0]["success"], false);
    assert!(
        lines[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("/nonexistent/p.toml")),
        "{}",
        lines[0]
    );

    // Offline with an empty cache: the build stops at the first source (or earlier, on a
    // host without the tools), and says so as its last line.
    let d = tempfile::tempdir().expect("tempdir");
    let cache = d.path().join("cache");
    let iso = d.path().join("x.iso");
    let o = stali(&[
        "build",
        "minimal",
        "--offline",
        "--cache",
        &cache.display().to_string(),
        "-o",
        &iso.display().to_string(),
        "--message-format",
        "json",
    ]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let lines = json_lines(&o);
    let last = lines.last().expect("a line");
    assert_eq!(last["event"], "build-finished", "{last}");
    assert_eq!(last["success"], false, "{last}");
    if let Some(first) = lines.iter().find(|v| v["event"] == "stage-started") {
        assert_eq!(first["stage"], "fetch", "{first}");
    }
    assert!(!iso.exists());
}

#[test]
fn declared_modes_are_checked_and_listed() {
    let dir = tempfile::tempdir().expect("tmp");
    let tool = "[[tool]]\nname = \"suid-demo\"\ndescription = \"demo\"\ncategory = \"system\"\ngit = \"https://example.org/x.git\"\nrev = \"0123456789abcdef0123456789abcdef01234567\"\nlicense = \"MIT\"\n";
    std::fs::create_dir_all(dir.path().join("tools")).expect("mkdir");
    std::fs::write(
        dir.path().join("tools/demo.toml"),
        format!("{tool}modes = {{ \"/bin/su\" = \"4755\", \"var/spool\" = \"1777\" }}\n"),
    )
    .expect("write");
    let o = stali_with_config(dir.path(), &["list", "tools"]);
    assert!(
        text(&o.stdout).contains("modes: /bin/su 4755, /var/spool 1777"),
        "{}",
        text(&o.stdout)
    );
    let o = stali_with_config(dir.path(), &["list", "tools", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let demo = v["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == "suid-demo")
        .expect("listed");
    assert_eq!(demo["modes"]["/bin/su"], "4755");
    // A bad path or mode is an error at its line and column.
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        format!(
            "format = 1\n{tool}modes = {{ \"/bin/../su\" = \"4755\", \"bin/x\" = \"47a5\" }}\n"
        ),
    )
    .expect("write");
    let o = stali_with_config(dir.path(), &["check", profile.to_str().expect("utf-8")]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("p.toml:9:11: error: tool[0].modes.\"/bin/../su\": `/bin/../su` is not a path inside the image"),
        "{err}"
    );
    assert!(
        err.contains("p.toml:9:44: error: tool[0].modes.\"bin/x\": `47a5` is not a mode: give 3 or 4 octal digits"),
        "{err}"
    );
}
