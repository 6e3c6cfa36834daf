//! End to end, a booted Stali used as a system: a real kernel with networking and
//! virtio-net, booted under QEMU with user networking; OpenSSH's `ssh` logs in with a key
//! this test made and put in the profile, the address having come by DHCP, and the serial
//! console interrupts a `sleep` with Ctrl-C and reboots through `rc.shutdown`.
//!
//! Two ways to get the tools, both built by the pipeline with `musl-gcc -static`:
//!
//! - **By default (CI)**: the real mksh and dropbear (with zlib and musl's crypt code as
//!   `libcrypt`), each built by the catalog's own recipe from the upstream release tarball as
//!   Debian's archive keeps it (`*.orig.tar.*`, sha256 pinned here: CI reaches
//!   deb.debian.org, not GitHub); and test stand-ins for sinit, sbase, ubase and sdhcp, whose
//!   sources are this repository's `tests/fixtures/standin-*` (an init that runs rc.init,
//!   reaps and runs rc.shutdown on SIGUSR1/SIGINT; cat, ls, mkdir, sleep, setsid, sync, tty;
//!   mount, halt, getty; a DHCP client that really asks QEMU's DHCP server and sets the
//!   address, netmask and route). Each stand-in takes the name, `provides` and services of
//!   the catalog tool it stands in for, so the image's rc.init has the same shape.
//! - **With `STALI_SYSTEM_SOURCES=DIR`**: the real sinit, mksh, sbase, ubase, sdhcp and
//!   dropbear from a folder of clones in the `--mirror` layout (`DIR/sinit`, `DIR/mksh`,
//!   `DIR/sbase`, `DIR/ubase`, `DIR/sdhcp`, `DIR/dropbear`, `DIR/zlib`, `DIR/musl`), built
//!   `--offline`; a repository that lacks the catalog's pin is pinned at its HEAD.
//!
//! ```sh
//! cargo test --test system                              # Debian tarballs and stand-ins
//! STALI_SYSTEM_SOURCES=DIR cargo test --test system     # every tool from upstream
//! ```
//!
//! Only 127.0.0.1 is used: QEMU's user network is isolated (`restrict=on`) and the one
//! forward is on the loopback address. The image is built in the pipeline test's cache,
//! `target/stali-test-cache/main`, so its kernel (the fixture base plus `networking` and
//! `virtio-net`) starts from the objects of the kernels `tests/pipeline.rs` built there.

mod fixture_common;
mod ui_common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use stali::model::{BuildStyle, ToolDef};

const KERNEL: &str = "/usr/src/linux-source-6.1.tar.xz";
const SOURCES_ENV: &str = "STALI_SYSTEM_SOURCES";
const SELECT: &[&str] = &["sinit", "mksh", "sbase", "ubase", "sdhcp", "dropbear"];

/// The tools of the image and the mirror folder each is fetched from (upstream sources).
const TOOLS: &[(&str, &str)] = &[
    ("sinit", "sinit"),
    ("mksh", "mksh"),
    ("sbase", "sbase"),
    ("ubase", "ubase"),
    ("sdhcp", "sdhcp"),
    ("dropbear", "dropbear"),
    ("zlib", "zlib"),
    ("libcrypt", "musl"),
];

/// Upstream release tarballs as Debian's archive keeps them, built by the catalog's recipe
/// of the tool: (tool, URL, sha256). Each was compared with its upstream tag: mksh R59c,
/// musl v1.2.3 and dropbear DROPBEAR_2022.83 are identical to it; zlib's is v1.3.1 less
/// `contrib/`, `win32/` and the RFCs in `doc/` (Debian's "dfsg" cut), none of which its
/// build reads.
const DEBIAN: &[(&str, &str, &str)] = &[
    (
        "mksh",
        "http://deb.debian.org/debian/pool/main/m/mksh/mksh_59c.orig.tar.gz",
        "77ae1665a337f1c48c61d6b961db3e52119b38e58884d1c89684af31f87bc506",
    ),
    (
        "dropbear",
        "http://deb.debian.org/debian/pool/main/d/dropbear/dropbear_2022.83.orig.tar.bz2",
        "bc5a121ffbc94b5171ad5ebe01be42746d50aa797c9549a4639894a16749443b",
    ),
    (
        "zlib",
        "http://deb.debian.org/debian/pool/main/z/zlib/zlib_1.3.dfsg+really1.3.1.orig.tar.gz",
        "60dd315c07f616887caa029408308a018ace66e3d142726a97db164b3b8f69fb",
    ),
    (
        "libcrypt",
        "http://deb.debian.org/debian/pool/main/m/musl/musl_1.2.3.orig.tar.gz",
        "7d5b0b6062521e4627e099e4c9dc8248d32a30285e959b7eecaa780cf8cfd4a4",
    ),
];

/// The test stand-ins (`tests/fixtures/standin-*`): (the catalog tool it stands in for,
/// its fixture folder).
const STAND_INS: &[(&str, &str)] = &[
    ("sinit", "standin-sinit"),
    ("sbase", "standin-sbase"),
    ("ubase", "standin-ubase"),
    ("sdhcp", "standin-sdhcp"),
];

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn stali() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stali"));
    c.env("STALI_CONFIG_DIR", "/nonexistent-stali-config")
        .env_remove("SOURCE_DATE_EPOCH");
    c
}

/// The built image, shared by the tests of this file.
struct Image {
    _dir: tempfile::TempDir,
    iso: PathBuf,
    key: PathBuf,
    /// Whether sinit, sbase, ubase and sdhcp are the test's stand-ins.
    stand_ins: bool,
}

static IMAGE: OnceLock<Image> = OnceLock::new();

/// `[pins]` lines for the mirror repositories that do not hold the catalog's commit.
fn pins(sources: &Path) -> String {
    let catalog = stali::model::Catalog::embedded();
    let mut out = String::new();
    for (tool, dir) in TOOLS {
        let repo = git2::Repository::open(sources.join(dir))
            .unwrap_or_else(|e| panic!("{SOURCES_ENV}/{dir} is not a git repository: {e}"));
        let pin = catalog
            .tool(tool)
            .map(|t| t.source.pin().to_string())
            .expect("a catalog tool");
        let has_pin = git2::Oid::from_str(&pin)
            .ok()
            .and_then(|o| repo.find_commit(o).ok())
            .is_some();
        if !has_pin {
            let head = repo
                .head()
                .and_then(|h| h.peel_to_commit())
                .expect("a HEAD commit")
                .id();
            out.push_str(&format!("{tool} = \"{head}\"\n"));
        }
    }
    out
}

fn strings(v: &[String]) -> toml::Value {
    toml::Value::Array(v.iter().map(|s| toml::Value::String(s.clone())).collect())
}

/// A profile `[[tool]]` taking the catalog tool `name`'s place: its category, `provides`
/// and services, with `source` (`git`/`rev` or `tarball`/`sha256` keys); with `recipe` the
/// catalog's recipe, dependencies and size, else a stand-in's plain `make` build.
fn tool_table(name: &str, source: &[(&str, &str)], recipe: bool) -> String {
    let catalog = stali::model::Catalog::embedded();
    let def: &ToolDef = catalog.tool(name).expect("a catalog tool");
    let mut t = toml::Table::new();
    let s = |v: &str| toml::Value::String(v.to_string());
    t.insert("name".into(), s(name));
    t.insert("category".into(), s(&def.category));
    // A stand-in is this repository's code, under its license.
    let license = if recipe { def.license.as_str() } else { "MIT" };
    t.insert("license".into(), s(license));
    for (k, v) in source {
        t.insert((*k).into(), s(v));
    }
    t.insert("provides".into(), strings(&def.provides));
    if recipe {
        t.insert(
            "description".into(),
            s(&format!(
                "{} (Debian's copy of the upstream release)",
                def.description
            )),
        );
        let build = match &def.build {
            BuildStyle::Make => s("make"),
            BuildStyle::Autotools => s("autotools"),
            BuildStyle::Steps(steps) => {
                let mut b = toml::Table::new();
                b.insert(
                    "steps".into(),
                    toml::Value::Array(steps.iter().map(|st| strings(st)).collect()),
                );
                toml::Value::Table(b)
            }
        };
        t.insert("build".into(), build);
        t.insert("make_flags".into(), strings(&def.make_flags));
        t.insert("configure_flags".into(), strings(&def.configure_flags));
        let env: toml::Table = def.env.iter().map(|(k, v)| (k.clone(), s(v))).collect();
        t.insert("env".into(), toml::Value::Table(env));
        t.insert("depends".into(), strings(&def.depends));
        t.insert("size".into(), toml::Value::Integer(def.size as i64));
        t.insert("size_source".into(), s(&def.size_source));
    } else {
        t.insert(
            "description".into(),
            s(&format!("test stand-in for {name} (tests/fixtures)")),
        );
        t.insert("build".into(), s("make"));
        t.insert("size".into(), toml::Value::Integer(60_000));
        t.insert("size_source".into(), s("estimate: a test stand-in"));
    }
    let services: Vec<toml::Value> = def
        .services
        .iter()
        .map(|svc| {
            let mut st = toml::Table::new();
            st.insert("name".into(), s(&svc.name));
            st.insert("description".into(), s(&svc.description));
            st.insert("run".into(), strings(&svc.run));
            st.insert("respawn".into(), toml::Value::Boolean(svc.respawn));
            st.insert("per_link".into(), toml::Value::Boolean(svc.per_link));
            st.insert("dirs".into(), strings(&svc.dirs));
            st.insert("after".into(), strings(&svc.after));
            toml::Value::Table(st)
        })
        .collect();
    if !services.is_empty() {
        t.insert("service".into(), toml::Value::Array(services));
    }
    let mut doc = toml::Table::new();
    doc.insert(
        "tool".into(),
        toml::Value::Array(vec![toml::Value::Table(t)]),
    );
    toml::to_string(&doc).expect("a [[tool]] table")
}

/// The `[[tool]]` tables of the default variant: stand-ins as git repositories under
/// `dir`, the rest from Debian's tarballs.
fn ci_tools(dir: &Path) -> String {
    let mut out = String::new();
    for (tool, fixture) in STAND_INS {
        let repo = dir.join(fixture);
        let rev = fixture_common::fixture_repo(fixture, &repo);
        let url = format!("file://{}", repo.display());
        out.push_str(&tool_table(tool, &[("git", &url), ("rev", &rev)], false));
    }
    for (tool, url, sha) in DEBIAN {
        out.push_str(&tool_table(
            tool,
            &[("tarball", url), ("sha256", sha)],
            true,
        ));
    }
    out
}

fn image() -> &'static Image {
    IMAGE.get_or_init(|| {
        let sources = std::env::var_os(SOURCES_ENV).map(PathBuf::from);
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("id_ed25519");
        let o = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "stali-system-test", "-f"])
            .arg(&key)
            .output()
            .expect("ssh-keygen (Debian package openssh-client)");
        assert!(o.status.success(), "ssh-keygen: {}", text(&o.stderr));
        let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
        let select: Vec<String> = SELECT.iter().map(|t| format!("\"{t}\"")).collect();
        let mut profile = format!(
            "format = 1\nname = \"sys\"\n[target]\nhardware = \"qemu-x86_64\"\n[tools]\nselect = [{}]\n[kernel]\nsource = {{ path = \"{KERNEL}\" }}\nbase = \"tinyconfig\"\nfragments = [\"networking\", \"virtio-net\"]\n[image]\nboot = \"hybrid\"\ncmdline = \"console=ttyS0 panic=-1\"\nhostname = \"stali-test\"\n[access]\nssh_keys = [\"{}\"]\n",
            select.join(", "),
            public.trim(),
        );
        match &sources {
            Some(s) => profile.push_str(&format!("[pins]\n{}", pins(s))),
            None => profile.push_str(&ci_tools(dir.path())),
        }
        let prof = dir.path().join("sys.toml");
        std::fs::write(&prof, profile).expect("write profile");
        let iso = dir.path().join("out/sys.iso");
        let mut build = stali();
        build
            .arg("build")
            .arg("--trust") // the stand-ins' recipes are the test's own code
            .arg(&prof)
            .arg("-o")
            .arg(&iso)
            .arg("--cache")
            .arg(manifest().join("target/stali-test-cache/main"));
        if let Some(s) = &sources {
            build.arg("--mirror").arg(s).arg("--offline");
        }
        let started = Instant::now();
        let o = build.output().expect("run stali build");
        assert_eq!(
            o.status.code(),
            Some(0),
            "build failed:\n{}\n{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        eprintln!(
            "system test: image built in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        assert!(
            iso.with_extension("build-report.json").is_file(),
            "the report is named after the ISO"
        );
        Image {
            _dir: dir,
            iso,
            key,
            stand_ins: sources.is_none(),
        }
    })
}

#[test]
fn check_warns_about_an_ssh_server_without_a_way_in() {
    let o = stali()
        .args([
            "check",
            "tests/profiles/valid/ssh-server-without-access.toml",
        ])
        .current_dir(manifest())
        .output()
        .expect("run stali check");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stderr),
        "tests/profiles/valid/ssh-server-without-access.toml:4:1: warning: tools.select: dropbear is an SSH server but the profile gives no way to log in: add root's public key to `[access] ssh_keys` (or a `password_hash`)\n"
    );
    let o = stali()
        .args(["check", "tests/profiles/valid/access-ssh-key.toml"])
        .current_dir(manifest())
        .output()
        .expect("run stali check");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).is_empty(), "{}", text(&o.stderr));
}

#[test]
fn list_shows_what_tools_start_at_boot() {
    let o = stali()
        .args(["list", "tools"])
        .output()
        .expect("run stali list");
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    assert!(
        out.contains("starts at boot: dropbear: /usr/sbin/dropbear -F -E -R -p 22 (respawned; after sdhcp; needs /etc/dropbear)"),
        "{out}"
    );
    assert!(
        out.contains(
            "starts at boot: sdhcp: /usr/sbin/sdhcp -f ${LINK} (respawned; per network link)"
        ),
        "{out}"
    );
}

#[test]
fn the_configurators_help_shows_what_a_tool_starts_at_boot() {
    let mut app = ui_common::real_app();
    ui_common::press(&mut app, "/dropbear\n?");
    let s = ui_common::screen(&app, 100, 40);
    assert!(s.contains("At boot"), "{s}");
    assert!(s.contains("/usr/sbin/dropbear -F -E -R"), "{s}");
}

/// Lines of a child's stdout, delivered through a channel by a reader thread.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn ssh(key: &Path, port: u16, extra: &[&str], command: &str) -> Output {
    Command::new("ssh")
        .args(["-F", "/dev/null", "-i"])
        .arg(key)
        .args([
            "-p",
            &port.to_string(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=20",
            "-o",
            "LogLevel=ERROR",
        ])
        .args(extra)
        .arg("root@127.0.0.1")
        .arg(command)
        .stdin(Stdio::null())
        .output()
        .expect("ssh (Debian package openssh-client)")
}

/// Whether a QEMU process booting `iso` whose command line holds `mark` is still running
/// (the two tests boot the same ISO at once: each looks for its own QEMU).
fn qemu_running(iso: &Path, mark: &str) -> bool {
    let ps = Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps");
    text(&ps.stdout).lines().any(|l| {
        l.contains("qemu-system") && l.contains(&iso.display().to_string()) && l.contains(mark)
    })
}

#[test]
fn ssh_logs_in_with_the_profile_key_over_dhcp() {
    let img = image();
    let port = stali::pipeline::qemu::free_port().expect("a free port");
    let started = Instant::now();
    let mut boot = stali()
        .arg("boot")
        .arg(&img.iso)
        .args([&format!("--net={port}"), "--isolated", "--timeout", "240"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run stali boot");
    let lines = lines_of(&mut boot);
    let mut seen = Vec::new();
    let banner_after = loop {
        match lines.recv_timeout(Duration::from_secs(300)) {
            Ok(l) if l.starts_with("SSH: ssh -p") => {
                assert!(l.contains(&format!("-p {port} root@127.0.0.1")), "{l}");
                break started.elapsed();
            }
            Ok(l) => seen.push(l),
            Err(e) => {
                let _ = boot.kill();
                let mut err = String::new();
                if let Some(mut s) = boot.stderr.take() {
                    let _ = s.read_to_string(&mut err);
                }
                panic!("no SSH line from stali boot ({e}): {seen:?}\n{err}");
            }
        }
    };

    // dropbear may still be starting, or making its host key: try for a minute.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (o, login) = loop {
        let t = Instant::now();
        let o = ssh(
            &img.key,
            port,
            &[],
            "echo answer=$((6*7)); cat /etc/hostname; cat /proc/net/route; ls /etc/dropbear; echo \"$KSH_VERSION\"; /usr/sbin/dropbear -V 2>&1",
        );
        if o.status.success() || Instant::now() > deadline {
            break (o, t.elapsed());
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    let out = text(&o.stdout);
    assert!(o.status.success(), "ssh failed: {}\n{out}", text(&o.stderr));
    assert!(out.contains("answer=42"), "{out}");
    assert!(out.contains("stali-test"), "{out}");
    // The real shell and the real SSH server answered.
    assert!(out.contains("MIRBSD KSH R59"), "{out}");
    assert!(out.contains("Dropbear v20"), "{out}");
    // The address came by DHCP (nothing else in the image sets one): eth0 is on QEMU's
    // 10.0.2.0/24, and sdhcp says so in its log.
    assert!(
        out.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.first() == Some(&"eth0")
                && f.get(1) == Some(&"0002000A")
                && f.get(7) == Some(&"00FFFFFF")
        }),
        "no route to 10.0.2.0/24 on eth0 in /proc/net/route:\n{out}"
    );
    let o = ssh(&img.key, port, &[], "cat /var/log/sdhcp-eth0.log");
    let log = text(&o.stdout);
    assert!(log.contains("You should be on the 'net"), "{log}");
    if img.stand_ins {
        // The stand-in says what it was given: QEMU's server and its first address.
        assert!(
            log.contains("eth0: DHCPACK from 10.0.2.2: address 10.0.2.15 netmask 255.255.255.0"),
            "{log}"
        );
    }
    // The host key was made in the running system, in the folder the image has for it.
    assert!(out.contains("dropbear_ed25519_host_key"), "{out}");

    // An interactive session gets a terminal (devpts is mounted). ssh runs under `script`
    // so that it has a terminal of its own to describe, as a person's ssh does.
    let cmd = format!(
        "ssh -F /dev/null -i {} -p {port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o LogLevel=ERROR -tt root@127.0.0.1 tty",
        img.key.display()
    );
    let o = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script (Debian package bsdutils)");
    assert!(
        o.status.success(),
        "ssh -tt: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(text(&o.stdout).contains("/dev/pts/"), "{}", text(&o.stdout));

    // A key the profile does not hold is refused.
    let other = tempfile::tempdir().expect("tempdir");
    let stranger = other.path().join("id");
    let k = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .output()
        .expect("ssh-keygen");
    assert!(k.status.success());
    let o = ssh(&stranger, port, &[], "echo in");
    assert!(!o.status.success(), "a stranger's key logged in");

    eprintln!(
        "system test: banner and SSH line after {:.1} s, first successful ssh command took {:.1} s",
        banner_after.as_secs_f64(),
        login.as_secs_f64()
    );
    // Stopping stali stops QEMU.
    let pid = boot.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = boot.wait().expect("wait");
    assert!(!status.success(), "stali boot --net ends only when stopped");
    assert!(
        !qemu_running(&img.iso, &format!("127.0.0.1:{port}-:22")),
        "QEMU outlived stali boot"
    );
}

/// The serial console of `stali boot ISO --interactive`, on a terminal `script` (bsdutils)
/// makes, so that QEMU has a real terminal as a person's would; what the test sends goes
/// through it to the guest's serial line.
struct Console {
    script: Child,
    input: std::process::ChildStdin,
    seen: Arc<Mutex<String>>,
}

impl Console {
    fn start(iso: &Path) -> Console {
        let argv = [
            env!("CARGO_BIN_EXE_stali").to_string(),
            "boot".into(),
            iso.display().to_string(),
            "--interactive".into(),
        ];
        let mut script = Command::new("script")
            .args(["-qefc", &stali::shell::display_argv(&argv), "/dev/null"])
            .env("STALI_CONFIG_DIR", "/nonexistent-stali-config")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("script (Debian package bsdutils)");
        let input = script.stdin.take().expect("stdin");
        let mut out = script.stdout.take().expect("stdout");
        let seen = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Console {
            script,
            input,
            seen,
        }
    }
    fn text(&self) -> String {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until `want` appears after byte `from` of the console text; returns where it ends.
    fn wait_for(&self, want: &str, from: usize, secs: u64) -> usize {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let t = self.text();
            if let Some(i) = t.get(from..).and_then(|s| s.find(want)) {
                return from + i + want.len();
            }
            assert!(
                Instant::now() < deadline,
                "{want:?} did not appear on the console within {secs} s; it shows:\n{}",
                t.get(from.saturating_sub(2000)..).unwrap_or(&t)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, s: &str) {
        self.input
            .write_all(s.as_bytes())
            .expect("write to the console");
        self.input.flush().expect("flush");
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        // stali boot loses its terminal and stops QEMU (SIGHUP), as when a window closes.
        let _ = self.script.kill();
        let _ = self.script.wait();
    }
}

#[test]
fn console_shell_has_a_terminal_ctrl_c_and_a_clean_reboot() {
    let img = image();
    let mut c = Console::start(&img.iso);
    let at = c.wait_for("stali: sys ready", 0, 240);
    // The shell's prompt, then its terminal: the serial line, not /dev/console.
    let at = c.wait_for("# ", at, 60);
    c.send("tty\n");
    let at = c.wait_for("/dev/ttyS0", at, 30);

    // Ctrl-C reaches the foreground job: `sleep 30` ends at once and the rest of the
    // line never runs.
    c.send("echo started-$((2+3)); sleep 30; echo slept-$((1+1))\n");
    // The shell runs the line (its editor has given the terminal back) once it echoes.
    let at = c.wait_for("started-5", at, 30);
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    c.send("\x03");
    c.send("echo after-$((6*7))\n");
    let at = c.wait_for("after-42", at, 20);
    assert!(
        sent.elapsed() < Duration::from_secs(20),
        "the shell answered only after {:?}",
        sent.elapsed()
    );
    assert!(
        !c.text()[..at].contains("slept-2"),
        "sleep was not interrupted"
    );

    // Job control: a background job is listed.
    c.send("sleep 100 &\njobs\n");
    let at = c.wait_for("Running", at, 20);

    // `reboot` goes through rc.shutdown (services stopped, disks synced); with -no-reboot
    // QEMU then exits by itself, and so does `stali boot`, with 0.
    c.send("reboot\n");
    let at = c.wait_for("stali: stopping services", at, 30);
    c.wait_for("stali: synced", at, 30);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = c.script.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "QEMU did not stop after reboot");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "stali boot --interactive: {status}\n{}",
        c.text()
    );
    assert!(
        !qemu_running(&img.iso, "mon:stdio"),
        "QEMU outlived stali boot"
    );
    // Where /dev/kvm opens but KVM cannot run the guest, the boot started again under TCG.
    let t = c.text();
    if t.contains("KVM internal error") {
        assert!(t.contains("retried with TCG"), "{t}");
    }
}
