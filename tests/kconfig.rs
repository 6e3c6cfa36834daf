//! Conformance of stali's Kconfig engine with the kernel's own `scripts/kconfig/conf`,
//! byte for byte, on the Linux 6.1 tree installed by Debian's `linux-source-6.1`.
//!
//! The tarball is extracted into `target/tmp/kconfig/` and `conf` is built there from the
//! same source (once; later runs reuse both). Nothing is skipped: a missing tarball or tool
//! fails the test saying what is missing.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use stali::kconfig::{Kconfig, LoadOptions, Mode};

const TARBALL: &str = "/usr/src/linux-source-6.1.tar.xz";

struct Setup {
    src: PathBuf,
    conf: PathBuf,
    tmp: PathBuf,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kconfig");
        fs::create_dir_all(&tmp).expect("creating target/tmp/kconfig");
        assert!(
            Path::new(TARBALL).is_file(),
            "{TARBALL} is missing: install Debian's linux-source-6.1 (apt-get install linux-source-6.1)"
        );
        let src = tmp.join("linux-source-6.1");
        let marker = tmp.join(".extracted");
        if !marker.exists() {
            let _ = fs::remove_dir_all(&src);
            let st = Command::new("tar")
                .args(["-x", "-f", TARBALL, "-C"])
                .arg(&tmp)
                .status()
                .expect("running tar (is tar installed?)");
            assert!(st.success(), "extracting {TARBALL} failed: {st}");
            fs::write(&marker, "").expect("writing marker");
        }
        let obj = tmp.join("obj");
        let conf = obj.join("scripts/kconfig/conf");
        if !conf.is_file() {
            let out = Command::new("nice")
                .arg("make")
                .arg("-C")
                .arg(&src)
                .arg(format!("O={}", obj.display()))
                .args(["ARCH=x86_64", "allnoconfig"])
                .output()
                .expect("running make (are make, gcc, flex and bison installed?)");
            assert!(
                out.status.success() && conf.is_file(),
                "building scripts/kconfig/conf failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Setup { src, conf, tmp }
    })
}

fn load() -> Kconfig {
    let s = setup();
    let mut o = LoadOptions::x86_64();
    o.cache_file = Some(s.tmp.join("probe-cache.json"));
    Kconfig::load(&s.src, &o).expect("loading the 6.1 Kconfig tree")
}

/// The environment kbuild gives `conf` for `ARCH=x86_64` (what `auto.conf.cmd` lists).
fn conf_env(src: &Path) -> HashMap<String, String> {
    let cc_text = Command::new("sh")
        .args(["-c", "gcc --version 2>/dev/null | head -n 1"])
        .output()
        .expect("running gcc --version");
    let mut env = LoadOptions::x86_64().kbuild_env(src);
    // A test case folder has no Makefile: the version is the kernel's.
    let version = stali::kconfig::tree::kernel_version(&setup().src).expect("kernel version");
    env.insert("KERNELVERSION".into(), version);
    env.insert(
        "CC_VERSION_TEXT".into(),
        String::from_utf8_lossy(&cc_text.stdout)
            .trim_end()
            .to_string(),
    );
    env
}

/// Runs the real `conf` in a fresh directory holding `config` as `.config`; returns the
/// `.config` it leaves.
fn conf(srctree: &Path, args: &[&str], config: Option<&str>, extra: &[(&str, &str)]) -> String {
    let s = setup();
    let dir = tempfile::tempdir_in(&s.tmp).expect("tempdir");
    if let Some(c) = config {
        fs::write(dir.path().join(".config"), c).expect("writing .config");
    }
    let out = Command::new(&s.conf)
        .args(args)
        .arg("Kconfig")
        .current_dir(dir.path())
        .env_clear()
        .envs(conf_env(srctree))
        .envs(extra.iter().copied())
        .output()
        .expect("running conf");
    assert!(
        out.status.success(),
        "conf {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read_to_string(dir.path().join(".config")).expect("reading conf's .config")
}

/// The first differing line of two configurations, for messages.
fn first_difference(want: &str, got: &str) -> String {
    for (i, (a, b)) in want.lines().zip(got.lines()).enumerate() {
        if a != b {
            return format!("line {}: conf {a:?}, stali {b:?}", i + 1);
        }
    }
    format!(
        "conf has {} lines, stali {}",
        want.lines().count(),
        got.lines().count()
    )
}

fn assert_same(what: &str, want: &str, got: &str) {
    assert!(
        want == got,
        "{what}: stali differs from conf at {}",
        first_difference(want, got)
    );
}

fn tinyconfig_by_conf() -> String {
    let s = setup();
    let base = conf(
        &s.src,
        &["--allnoconfig"],
        None,
        &[("KCONFIG_ALLCONFIG", "kernel/configs/tiny-base.config")],
    );
    // merge_config.sh -m, then olddefconfig, as the kernel's %.config target does.
    let dir = tempfile::tempdir_in(&s.tmp).expect("tempdir");
    fs::write(dir.path().join(".config"), base).expect("writing .config");
    let st = Command::new("sh")
        .arg(s.src.join("scripts/kconfig/merge_config.sh"))
        .args(["-m", ".config"])
        .arg(s.src.join("kernel/configs/tiny.config"))
        .arg(s.src.join("arch/x86/configs/tiny.config"))
        .current_dir(dir.path())
        .output()
        .expect("running merge_config.sh");
    assert!(st.status.success(), "merge_config.sh failed");
    let merged = fs::read_to_string(dir.path().join(".config")).expect("merged .config");
    conf(&s.src, &["--olddefconfig"], Some(&merged), &[])
}

#[test]
fn allnoconfig_alldefconfig_defconfig_tinyconfig_match_conf() {
    let s = setup();
    let mut kc = load();
    let want = conf(&s.src, &["--allnoconfig"], None, &[]);
    assert_same("allnoconfig", &want, &kc.allconfig(Mode::AllNo, None));
    let want = conf(&s.src, &["--alldefconfig"], None, &[]);
    assert_same("alldefconfig", &want, &kc.allconfig(Mode::AllDef, None));
    let def = conf(
        &s.src,
        &["--defconfig=arch/x86/configs/x86_64_defconfig"],
        None,
        &[],
    );
    let mine = kc.arch_defconfig("x86", "x86_64").expect("defconfig");
    assert_same("defconfig", &def, &mine);
    let tiny = tinyconfig_by_conf();
    assert_same(
        "tinyconfig",
        &tiny,
        &kc.tinyconfig("x86").expect("tinyconfig"),
    );
}

#[test]
fn savedefconfig_matches_conf() {
    let s = setup();
    let mut kc = load();
    let def = kc.arch_defconfig("x86", "x86_64").expect("defconfig");
    let dir = tempfile::tempdir_in(&s.tmp).expect("tempdir");
    let out = dir.path().join("defconfig");
    let arg = format!("--savedefconfig={}", out.display());
    conf(&s.src, &[&arg], Some(&def), &[]);
    let want = fs::read_to_string(&out).expect("reading conf's defconfig");
    assert_same("savedefconfig", &want, &kc.savedefconfig(&def));
}

#[test]
fn each_fragment_over_tinyconfig_matches_olddefconfig() {
    let s = setup();
    let mut kc = load();
    let tiny = kc.tinyconfig("x86").expect("tinyconfig");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-fragments");
    let mut names: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("kernel-fragments/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "config"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "expected the shipped fragments");
    let mut all = tiny.clone();
    for f in &names {
        let frag = fs::read_to_string(f).expect("fragment");
        let input = format!("{tiny}{frag}");
        let want = conf(&s.src, &["--olddefconfig"], Some(&input), &[]);
        assert_same(&f.display().to_string(), &want, &kc.olddefconfig(&input));
        all.push_str(&frag);
    }
    all.push_str("# CONFIG_MODULES is not set\n");
    let want = conf(&s.src, &["--olddefconfig"], Some(&all), &[]);
    assert_same("all fragments together", &want, &kc.olddefconfig(&all));
}

fn random_seeds(seeds: std::ops::RangeInclusive<u32>) {
    let s = setup();
    let all: Vec<u32> = seeds.collect();
    let count = all.len();
    // Two workers: conf spends most of its wall time in the toolchain probes.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = [0usize, 1]
            .into_iter()
            .map(|w| {
                let mine: Vec<u32> = all.iter().copied().skip(w).step_by(2).collect();
                scope.spawn(move || {
                    let mut kc = load();
                    let mut failures = Vec::new();
                    for seed in mine {
                        let seed_s = seed.to_string();
                        let rand = conf(
                            &s.src,
                            &["--randconfig"],
                            None,
                            &[("KCONFIG_SEED", seed_s.as_str())],
                        );
                        let want = conf(&s.src, &["--olddefconfig"], Some(&rand), &[]);
                        let got = kc.olddefconfig(&rand);
                        if want != got {
                            failures
                                .push(format!("seed {seed}: {}", first_difference(&want, &got)));
                        }
                    }
                    failures
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {count} random configurations differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{count} random configurations identical to conf --olddefconfig");
}

#[test]
fn randconfig_then_olddefconfig_matches_conf_20_seeds() {
    random_seeds(1..=20);
}

/// The 200-seed run (several minutes): `cargo test --test kconfig -- --ignored`;
/// `STALI_KCONFIG_SEEDS=FIRST-LAST` runs another range.
#[test]
#[ignore]
fn randconfig_then_olddefconfig_matches_conf_200_seeds() {
    let range = std::env::var("STALI_KCONFIG_SEEDS").ok();
    let (a, b) = range
        .as_deref()
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .unwrap_or((1, 200));
    random_seeds(a..=b);
}

/// Runs both engines on one of the kernel's own `scripts/kconfig/tests/` cases.
fn kernel_case(case: &str, args: &[&str], config: Option<&str>) {
    let s = setup();
    let dir = s.src.join("scripts/kconfig/tests").join(case);
    let config_text = config.map(|c| fs::read_to_string(dir.join(c)).expect("case config"));
    let want = conf(&dir, args, config_text.as_deref(), &[]);
    let mut o = LoadOptions::x86_64();
    o.cache_file = Some(s.tmp.join("probe-cache.json"));
    let mut kc = Kconfig::load(&dir, &o).expect("loading the case");
    let got = match args[0] {
        "--allnoconfig" => kc.allconfig(Mode::AllNo, None),
        "--allyesconfig" => kc.allconfig(Mode::AllYes, None),
        "--allmodconfig" => kc.allconfig(Mode::AllMod, None),
        "--alldefconfig" => kc.allconfig(Mode::AllDef, None),
        "--olddefconfig" => kc.olddefconfig(config_text.as_deref().unwrap_or("")),
        d if d.starts_with("--defconfig=") => kc.defconfig(config_text.as_deref().unwrap_or("")),
        other => panic!("mode {other} not ported"),
    };
    assert_same(&format!("{case} {args:?}"), &want, &got);
}

#[test]
fn kernel_test_cases_match_conf() {
    for mode in [
        "--allnoconfig",
        "--allyesconfig",
        "--allmodconfig",
        "--alldefconfig",
    ] {
        kernel_case("choice", &[mode], None);
    }
    kernel_case(
        "choice_value_with_m_dep",
        &["--olddefconfig"],
        Some("config"),
    );
    kernel_case("new_choice_with_dep", &["--olddefconfig"], Some("config"));
    kernel_case("no_write_if_dep_unmet", &["--olddefconfig"], Some("config"));
    kernel_case(
        "inter_choice",
        &["--defconfig=defconfig"],
        Some("defconfig"),
    );
    kernel_case("auto_submenu", &["--alldefconfig"], None);
    for p in ["builtin_func", "escape", "variable"] {
        kernel_case(&format!("preprocess/{p}"), &["--alldefconfig"], None);
    }
}

#[test]
fn recursive_inclusion_and_malformed_input_are_errors_with_file_and_line() {
    let s = setup();
    let o = LoadOptions::x86_64();
    let dir = s.src.join("scripts/kconfig/tests/err_recursive_inc");
    let e = Kconfig::load(&dir, &o).expect_err("recursive inclusion must fail");
    assert!(
        format!("{e:#}").contains("recursive inclusion"),
        "unexpected error: {e:#}"
    );
    // Recursive dependencies: every cycle of the kernel's own case, reported in `conf`'s
    // order and words (its expected_stderr), and the load fails.
    let dir = s.src.join("scripts/kconfig/tests/err_recursive_dep");
    let e = Kconfig::load(&dir, &o).expect_err("recursive dependencies must fail");
    let want = fs::read_to_string(dir.join("expected_stderr")).expect("expected_stderr");
    assert_same("err_recursive_dep", want.trim_end(), &format!("{e:#}"));
    let bad = tempfile::tempdir_in(&s.tmp).expect("tempdir");
    fs::write(
        bad.path().join("Kconfig"),
        "config A\n\tbool \"a\"\n\tdepends on (B\nconfig B\n\tbool\n",
    )
    .expect("write");
    let e = Kconfig::load(bad.path(), &o).expect_err("unbalanced parenthesis must fail");
    assert!(
        format!("{e:#}").contains("Kconfig:3:"),
        "no location in: {e:#}"
    );
    fs::write(bad.path().join("Kconfig"), "menu \"x\"\nconfig A\n\tbool\n").expect("write");
    let e = Kconfig::load(bad.path(), &o).expect_err("missing endmenu must fail");
    assert!(
        format!("{e:#}").contains("Kconfig:1:"),
        "no location in: {e:#}"
    );
}

/// `stali kconfig` of each shipped profile (base, hardware and profile fragments, options,
/// the pipeline's own options) against `conf --olddefconfig` on the same input.
#[test]
fn each_shipped_profile_matches_olddefconfig() {
    let s = setup();
    let catalog = stali::model::Catalog::load();
    let cache = s.tmp.join("cache");
    for name in ["minimal", "stali-classic", "rescue"] {
        let (_, plan) = stali::cli::load_plan(Path::new(name), &catalog)
            .unwrap_or_else(|e| panic!("shipped profile {name}: {e}"));
        let c = stali::kconfig::profile::compute(
            &plan,
            &s.src,
            &cache,
            std::path::Path::new(stali::kconfig::profile::INITRAMFS_PLACEHOLDER),
        )
        .expect("compute");
        let want = conf(&s.src, &["--olddefconfig"], Some(&c.input), &[]);
        assert_same(&format!("profile {name}"), &want, &c.config);
        assert!(
            c.config
                .contains("CONFIG_INITRAMFS_SOURCE=\"/stali-initramfs.cpio\"")
        );
    }
}

/// `stali kconfig` of the aarch64 profile (`SRCARCH=arm64`, the cross tools' probes)
/// against `conf --olddefconfig` run as kbuild runs it with `ARCH=arm64
/// CROSS_COMPILE=aarch64-linux-gnu-`.
#[test]
fn the_aarch64_profile_matches_olddefconfig() {
    let s = setup();
    let catalog = stali::model::Catalog::load();
    let profile = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/minimal-aarch64.toml");
    let (_, plan) = stali::cli::load_plan(&profile, &catalog).expect("minimal-aarch64");
    let c = stali::kconfig::profile::compute(
        &plan,
        &s.src,
        &s.tmp.join("cache"),
        std::path::Path::new(stali::kconfig::profile::INITRAMFS_PLACEHOLDER),
    )
    .expect("compute");
    let cc_text = Command::new("sh")
        .args([
            "-c",
            "aarch64-linux-gnu-gcc --version 2>/dev/null | head -n 1",
        ])
        .output()
        .expect("running aarch64-linux-gnu-gcc --version");
    let env = LoadOptions::new("arm64", "arm64", "aarch64-linux-gnu-").kbuild_env(&s.src);
    let mut extra: Vec<(&str, &str)> = [
        "ARCH",
        "SRCARCH",
        "CC",
        "LD",
        "NM",
        "AR",
        "OBJCOPY",
        "CROSS_COMPILE",
    ]
    .iter()
    .map(|k| {
        (
            *k,
            env.get(*k).map(String::as_str).expect("kbuild variable"),
        )
    })
    .collect();
    let cc_text = String::from_utf8_lossy(&cc_text.stdout)
        .trim_end()
        .to_string();
    extra.push(("CC_VERSION_TEXT", &cc_text));
    let want = conf(&s.src, &["--olddefconfig"], Some(&c.input), &extra);
    assert_same("profile minimal-aarch64", &want, &c.config);
    for line in [
        "CONFIG_ARM64=y",
        "CONFIG_EFI_ZBOOT=y",
        "CONFIG_SERIAL_AMBA_PL011_CONSOLE=y",
        "CONFIG_CMDLINE_FORCE=y",
    ] {
        assert!(c.config.lines().any(|l| l == line), "{line}");
    }
}

/// `stali check` explains an option whose dependency is off, and an unknown one.
#[test]
fn check_reports_unmet_dependencies_in_words() {
    let s = setup();
    let catalog = stali::model::Catalog::load();
    let dir = tempfile::tempdir_in(&s.tmp).expect("tempdir");
    let shipped =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/minimal.toml"))
            .expect("minimal.toml");
    let text = format!(
        "{shipped}\n[kernel.options]\nCONFIG_BLOCK = \"n\"\nCONFIG_EXT4_FS = \"y\"\nCONFIG_NOT_A_THING = \"y\"\nCONFIG_LOG_BUF_SHIFT = \"40\"\n"
    );
    let path = dir.path().join("p.toml");
    fs::write(&path, &text).expect("write");
    let (profile, plan) = stali::cli::load_plan(&path, &catalog).expect("valid profile");
    let mut c = stali::kconfig::profile::compute(
        &plan,
        &s.src,
        &s.tmp.join("cache"),
        std::path::Path::new(stali::kconfig::profile::INITRAMFS_PLACEHOLDER),
    )
    .expect("compute");
    let errs = stali::kconfig::profile::check_requests(
        &mut c,
        &stali::kconfig::profile::requests(&profile, &plan),
    );
    let all = errs.join("\n");
    let line = text
        .lines()
        .position(|l| l.starts_with("CONFIG_EXT4_FS"))
        .expect("line")
        + 1;
    // The column is the profile's own (the key or its value); the line is the option's.
    assert!(
        all.lines().any(|l| {
            l.contains(&format!("p.toml:{line}:")) && l.ends_with(
            "`CONFIG_EXT4_FS = \"y\"`: needs `BLOCK`, which is n here: add `CONFIG_BLOCK = \"y\"`"
        )
        }),
        "{all}"
    );
    assert!(
        all.contains("`CONFIG_NOT_A_THING = \"y\"`: no such kernel option"),
        "{all}"
    );
    assert!(
        all.contains("`CONFIG_LOG_BUF_SHIFT = \"40\"`: out of range 12..25"),
        "{all}"
    );
    let s_ext4 = c.kc.find("CONFIG_EXT4_FS").expect("EXT4_FS");
    let why = c.kc.why(s_ext4);
    assert!(why.contains("depends on BLOCK [=n]"), "{why}");
    assert!(why.contains("fs/ext4/Kconfig:"), "{why}");
}

/// The `stali kconfig` command: the whole `.config`, `--minimal` and `--why`.
#[test]
fn stali_kconfig_command_prints_the_config_the_minimal_lines_and_why() {
    let s = setup();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_stali"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("XDG_CACHE_HOME", s.tmp.join("xdg"))
            .env("STALI_CONFIG_DIR", "/nonexistent-stali-config")
            .output()
            .expect("running stali");
        assert!(
            o.status.success(),
            "stali {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).expect("utf-8")
    };
    let full = run(&["kconfig", "minimal"]);
    let catalog = stali::model::Catalog::load();
    let (_, plan) = stali::cli::load_plan(Path::new("minimal"), &catalog).expect("plan");
    let c = stali::kconfig::profile::compute(
        &plan,
        &s.src,
        &s.tmp.join("cache"),
        std::path::Path::new(stali::kconfig::profile::INITRAMFS_PLACEHOLDER),
    )
    .expect("compute");
    assert_same("stali kconfig minimal", &c.config, &full);
    let min = run(&["kconfig", "minimal", "--minimal"]);
    assert!(min.lines().count() > 5 && min.lines().count() < full.lines().count() / 4);
    for line in min.lines() {
        assert!(
            full.lines().any(|l| l == line),
            "{line} not in the full config"
        );
        assert!(
            !c.base.lines().any(|l| l == line),
            "{line} is already in the base"
        );
    }
    assert!(min.contains("CONFIG_CMDLINE=\"console=ttyS0\"\n"), "{min}");
    let why = run(&["kconfig", "minimal", "--why", "CONFIG_CMDLINE_BOOL"]);
    assert!(why.starts_with("CONFIG_CMDLINE_BOOL = y (bool)\n"), "{why}");
    assert!(why.contains("defined at arch/x86/Kconfig:"), "{why}");
    assert!(why.contains("asks for y"), "{why}");
}

/// The configurator's size delta switches one option in the engine and re-evaluates only
/// where the switch reaches (`what_if_in` with the reverse dependency graph): on the real
/// 6.1 tree, for options whose switch reaches across the tree (their dependencies turned on
/// first), every symbol's value must equal a full re-evaluation, and the tree must be
/// exactly as before afterwards.
#[test]
fn a_scoped_what_if_equals_a_full_re_evaluation() {
    let mut kc = load();
    let base = kc.tinyconfig("x86").expect("tinyconfig");
    kc.olddefconfig(&format!(
        "{base}CONFIG_PCI=y\nCONFIG_BLOCK=y\nCONFIG_VIRTIO_MENU=y\nCONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_BLK=y\nCONFIG_TTY=y\nCONFIG_SERIAL_8250=y\n"
    ));
    let all: Vec<stali::kconfig::SymId> = (3..kc.syms.len() as stali::kconfig::SymId)
        .filter(|&s| {
            matches!(
                kc.sym_type(s),
                stali::kconfig::SymType::Bool | stali::kconfig::SymType::Tristate
            )
        })
        .collect();
    let values = |kc: &mut Kconfig| -> Vec<String> {
        (0..kc.syms.len() as stali::kconfig::SymId)
            .map(|s| kc.value(s))
            .collect()
    };
    let deps = kc.dependents();
    let before = values(&mut kc);
    for (opt, on) in [
        ("EXT4_FS", true),
        ("NET", true),
        ("IPV6", true),
        ("USB_STORAGE", true),
        ("EFI_STUB", true),
        ("VIRTIO_BLK", false),
        ("PCI", false),
        ("BLOCK", false),
    ] {
        let s = kc.find(opt).expect(opt);
        let full = kc.what_if(s, on, &all);
        let scoped = kc.what_if_in(s, on, &all, Some(&deps));
        assert_eq!(full, scoped, "CONFIG_{opt} {on}");
        assert!(!full.is_empty(), "CONFIG_{opt} {on} changes something");
        assert!(values(&mut kc) == before, "CONFIG_{opt}: the tree changed");
    }
}
