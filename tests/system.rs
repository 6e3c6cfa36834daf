//! End to end, a booted Stali used as a system: the real sinit, mksh, sbase, ubase, sdhcp
//! and dropbear built from their upstream sources by the pipeline, a real kernel with
//! networking and virtio-net, booted under QEMU with user networking; OpenSSH's `ssh` logs
//! in with a key this test made and put in the profile, and the serial console interrupts
//! a `sleep` with Ctrl-C.
//!
//! The sources come from a folder of clones in the `--mirror` layout (`DIR/sinit`,
//! `DIR/mksh`, `DIR/sbase`, `DIR/ubase`, `DIR/sdhcp`, `DIR/dropbear`, `DIR/zlib`,
//! `DIR/musl`): a repository that lacks the catalog's pin is pinned at its HEAD in the
//! profile. Without network access to the upstreams they cannot be had, so the tests are
//! ignored unless asked for:
//!
//! ```sh
//! STALI_SYSTEM_SOURCES=DIR cargo test --test system -- --ignored --test-threads=1
//! ```
//!
//! Only 127.0.0.1 is used: QEMU's user network is isolated (`restrict=on`) and the one
//! forward is on the loopback address. The kernel (one configuration: the fixture base plus
//! `networking` and `virtio-net`) is cached in `target/stali-test-cache/system`.

mod ui_common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const KERNEL: &str = "/usr/src/linux-source-6.1.tar.xz";
const SOURCES_ENV: &str = "STALI_SYSTEM_SOURCES";

/// The tools of the image and the mirror folder each is fetched from.
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
            .tools
            .iter()
            .find(|t| t.name == *tool)
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

fn image() -> &'static Image {
    IMAGE.get_or_init(|| {
        let sources = PathBuf::from(
            std::env::var_os(SOURCES_ENV)
                .unwrap_or_else(|| panic!("set {SOURCES_ENV} to a folder of upstream clones")),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("id_ed25519");
        let o = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "stali-system-test", "-f"])
            .arg(&key)
            .output()
            .expect("ssh-keygen (Debian package openssh-client)");
        assert!(o.status.success(), "ssh-keygen: {}", text(&o.stderr));
        let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
        let profile = format!(
            "format = 1\nname = \"sys\"\n[target]\nhardware = \"qemu-x86_64\"\n[tools]\nselect = [\"sinit\", \"mksh\", \"sbase\", \"ubase\", \"sdhcp\", \"dropbear\"]\n[kernel]\nsource = {{ path = \"{KERNEL}\" }}\nbase = \"tinyconfig\"\nfragments = [\"networking\", \"virtio-net\"]\n[image]\nboot = \"hybrid\"\ncmdline = \"console=ttyS0 panic=-1\"\nhostname = \"stali-test\"\n[access]\nssh_keys = [\"{}\"]\n[pins]\n{}",
            public.trim(),
            pins(&sources)
        );
        let prof = dir.path().join("sys.toml");
        std::fs::write(&prof, profile).expect("write profile");
        let iso = dir.path().join("out/sys.iso");
        let o = stali()
            .arg("build")
            .arg(&prof)
            .arg("-o")
            .arg(&iso)
            .arg("--cache")
            .arg(manifest().join("target/stali-test-cache/system"))
            .arg("--mirror")
            .arg(&sources)
            .arg("--offline")
            .output()
            .expect("run stali build");
        assert_eq!(
            o.status.code(),
            Some(0),
            "build failed:\n{}\n{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        assert!(
            iso.with_extension("build-report.json").is_file(),
            "the report is named after the ISO"
        );
        Image {
            _dir: dir,
            iso,
            key,
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

/// Whether a QEMU process booting `iso` is still running.
fn qemu_running(iso: &Path) -> bool {
    let ps = Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps");
    text(&ps.stdout)
        .lines()
        .any(|l| l.contains("qemu-system") && l.contains(&iso.display().to_string()))
}

#[test]
#[ignore = "needs STALI_SYSTEM_SOURCES: clones of the upstream sources (see the file's header)"]
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
            "echo answer=$((6*7)); cat /etc/hostname; cat /proc/net/route; ls /etc/dropbear",
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
    assert!(
        text(&o.stdout).contains("You should be on the 'net"),
        "{}",
        text(&o.stdout)
    );
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
    assert!(o.status.success(), "ssh -tt: {}", text(&o.stderr));
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
    assert!(!qemu_running(&img.iso), "QEMU outlived stali boot");
}

/// The serial console, driven through QEMU's stdio.
struct Console {
    qemu: Child,
    input: std::process::ChildStdin,
    seen: Arc<Mutex<String>>,
}

impl Console {
    fn start(iso: &Path) -> Console {
        let spec = stali::pipeline::qemu::BootSpec::new(iso, false, "");
        // TCG: KVM, where it opens, can still fail in nested setups (`stali boot` retries,
        // this plain QEMU does not).
        let argv = stali::pipeline::qemu::qemu_argv(&spec, "tcg");
        let mut qemu = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("qemu-system-x86_64");
        let input = qemu.stdin.take().expect("stdin");
        let mut out = qemu.stdout.take().expect("stdout");
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
        Console { qemu, input, seen }
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
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

#[test]
#[ignore = "needs STALI_SYSTEM_SOURCES: clones of the upstream sources (see the file's header)"]
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
    // QEMU then exits by itself.
    c.send("reboot\n");
    let at = c.wait_for("stali: stopping services", at, 30);
    c.wait_for("stali: synced", at, 30);
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.qemu.try_wait().expect("try_wait").is_none() {
        assert!(Instant::now() < deadline, "QEMU did not stop after reboot");
        std::thread::sleep(Duration::from_millis(100));
    }
}
