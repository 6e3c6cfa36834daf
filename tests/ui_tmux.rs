//! The configurator in a real terminal: tmux runs it, `send-keys` types, `capture-pane` reads.
//! tmux must be installed; without it these tests fail (they never skip).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use stali::model::profile::human;
use stali::model::{Catalog, Profile, estimate, resolve};

struct Tmux {
    sock: String,
    conf: PathBuf,
    dir: tempfile::TempDir,
}

impl Tmux {
    fn new(tag: &str) -> Tmux {
        match Command::new("tmux").arg("-V").output() {
            Ok(o) if o.status.success() => {}
            _ => panic!(
                "tmux is not installed or does not run: these tests need it (apt-get install tmux)"
            ),
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("tmux.conf");
        std::fs::write(&conf, "set -g status off\nset -g escape-time 0\n").expect("conf");
        std::fs::create_dir(dir.path().join("config")).expect("config dir");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/minimal.toml");
        std::fs::copy(src, dir.path().join("minimal.toml")).expect("copy profile");
        Tmux {
            sock: format!("stali-test-{tag}-{}", std::process::id()),
            conf,
            dir,
        }
    }

    fn profile(&self) -> PathBuf {
        self.dir.path().join("minimal.toml")
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.sock, "-f"])
            .arg(&self.conf)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// Starts a session running `command` (through sh) in an 80x24 window.
    fn start(&self, command: &str) {
        let env = format!(
            "env STALI_CONFIG_DIR={} TERM=xterm-256color NO_COLOR= LANG=C.UTF-8 {command}",
            self.dir.path().join("config").display()
        );
        let o = self.tmux(&["new-session", "-d", "-x", "80", "-y", "24", "-s", "t", &env]);
        assert!(
            o.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        let o = self.tmux(&args);
        assert!(
            o.status.success(),
            "send-keys: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn literal(&self, text: &str) {
        self.keys(&["-l", text]);
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn image_line(screen: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains("│ Image"))
        .unwrap_or("")
        .to_string()
}

#[test]
fn search_add_save_quit_in_a_real_terminal() {
    let t = Tmux::new("edit");
    let path = t.profile();
    let original = std::fs::read_to_string(&path).expect("profile");
    let c = Catalog::embedded();
    let mut p = Profile::load(&path, &stali::model::Catalog::embedded()).expect("loads");
    let before = human(estimate(&resolve(&p, &c).expect("ok"), &c).total_bytes);
    p.select.push("dropbear".into());
    let after = human(estimate(&resolve(&p, &c).expect("ok"), &c).total_bytes);

    t.start(&format!(
        "sh -c '{} menu {}; echo STALI-EXITED=$?; exec sleep 600'",
        env!("CARGO_BIN_EXE_stali"),
        path.display()
    ));
    let s = t.wait_for("the main menu", |s| {
        s.contains("Main menu") && s.contains("Image")
    });
    assert!(image_line(&s).contains(&before), "before: {before}\n{s}");
    t.keys(&["/"]);
    t.wait_for("the search", |s| s.contains("Search:"));
    t.literal("drop");
    t.wait_for("dropbear in the results", |s| {
        s.contains("dropbear") && s.contains("/ drop")
    });
    t.keys(&["Enter"]);
    t.wait_for("the network menu", |s| s.contains("Tools > network"));
    t.keys(&["Space"]);
    let s = t.wait_for("dropbear chosen", |s| s.contains("[*] dropbear"));
    if before != after {
        assert!(image_line(&s).contains(&after), "after: {after}\n{s}");
    }
    assert_ne!(image_line(&s), "", "{s}");
    t.keys(&["s"]);
    t.wait_for("saved", |s| s.contains("saved "));
    t.keys(&["q"]);
    let s = t.wait_for("the shell again", |s| s.contains("STALI-EXITED=0"));
    assert!(!s.contains("Main menu"), "{s}");
    let alt = t.tmux(&["display", "-p", "-t", "t", "#{alternate_on}"]);
    assert_eq!(
        String::from_utf8_lossy(&alt.stdout).trim(),
        "0",
        "left the alternate screen"
    );

    let saved = std::fs::read_to_string(&path).expect("saved");
    let back = Profile::load(&path, &stali::model::Catalog::embedded()).expect("valid");
    assert!(back.select.contains(&"dropbear".to_string()), "{saved}");
    for line in original.lines().filter(|l| l.contains('#')) {
        let comment = &line[line.find('#').unwrap_or(0)..];
        assert!(saved.contains(comment), "lost {comment:?}:\n{saved}");
    }
}

fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie has exited; only its parent has not reaped it yet.
        Ok(s) => s
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn hangup_keeps_unsaved_changes_and_exits_quickly() {
    let t = Tmux::new("hup");
    let path = t.profile();
    t.start(&format!(
        "{} menu {}",
        env!("CARGO_BIN_EXE_stali"),
        path.display()
    ));
    t.wait_for("the main menu", |s| s.contains("Main menu"));
    let pid: u32 =
        String::from_utf8_lossy(&t.tmux(&["display", "-p", "-t", "t", "#{pane_pid}"]).stdout)
            .trim()
            .parse()
            .expect("pane pid");
    t.keys(&["/"]);
    t.literal("dropbear");
    t.keys(&["Enter"]);
    t.wait_for("the network menu", |s| s.contains("Tools > network"));
    t.keys(&["Space"]);
    t.wait_for("an unsaved change", |s| s.contains("[modified]"));
    // The terminal goes away: tmux hangs up on the process.
    let o = t.tmux(&["kill-session", "-t", "t"]);
    assert!(o.status.success());
    let deadline = Instant::now() + Duration::from_secs(2);
    while !gone(pid) {
        assert!(
            Instant::now() < deadline,
            "stali (pid {pid}) still running 2 s after the hangup"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let rec = path
        .parent()
        .expect("dir")
        .join(".minimal.toml.stali-recover");
    let text = std::fs::read_to_string(&rec)
        .unwrap_or_else(|e| panic!("no recovery file {}: {e}", rec.display()));
    let p = Profile::parse(&text, None, &stali::model::Catalog::embedded())
        .expect("recovery file is a valid profile");
    assert!(p.select.contains(&"dropbear".to_string()));
    assert!(
        !std::fs::read_to_string(&path)
            .expect("profile")
            .contains("dropbear"),
        "the profile itself is untouched"
    );
}

#[test]
fn sigterm_mid_edit_also_keeps_the_changes_and_the_next_run_offers_them() {
    let t = Tmux::new("term");
    let path = t.profile();
    let bin = env!("CARGO_BIN_EXE_stali");
    t.start(&format!(
        "sh -c '{bin} menu {p}; echo STALI-EXITED=$?; exec sleep 600'",
        p = path.display()
    ));
    t.wait_for("the main menu", |s| s.contains("Main menu"));
    t.keys(&["j", "j", "j", "Enter", "j", "Enter", "Space"]);
    t.wait_for("an unsaved change", |s| s.contains("[modified]"));
    // The pane runs sh, and sh runs stali.
    let sh = String::from_utf8_lossy(&t.tmux(&["display", "-p", "-t", "t", "#{pane_pid}"]).stdout)
        .trim()
        .to_string();
    let pid = Command::new("pgrep")
        .args(["-P", &sh])
        .output()
        .expect("pgrep");
    let pid = String::from_utf8_lossy(&pid.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    assert!(!pid.is_empty(), "stali's pid");
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let s = t.wait_for("the shell again", |s| s.contains("STALI-EXITED="));
    assert!(s.contains("STALI-EXITED=143"), "{s}");
    let alt = t.tmux(&["display", "-p", "-t", "t", "#{alternate_on}"]);
    assert_eq!(String::from_utf8_lossy(&alt.stdout).trim(), "0");
    let rec = path
        .parent()
        .expect("dir")
        .join(".minimal.toml.stali-recover");
    assert!(rec.exists(), "recovery file");
    // The next session offers the changes back.
    let o = t.tmux(&[
        "respawn-pane",
        "-k",
        "-t",
        "t",
        &format!(
            "env STALI_CONFIG_DIR={} {bin} menu {}",
            t.dir.path().join("config").display(),
            path.display()
        ),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    t.wait_for("the recovery question", |s| s.contains("Recover them?"));
    t.keys(&["y"]);
    t.wait_for("recovered", |s| {
        s.contains("recovered unsaved changes") && s.contains("[modified]")
    });
}

#[test]
fn a_lost_terminal_exits_129_after_keeping_the_changes() {
    let t = Tmux::new("lost");
    let path = t.profile();
    let code = t.dir.path().join("exit-code");
    // sh ignores the hangup so that it outlives the terminal and can say how stali ended;
    // stali installs its own handler.
    t.start(&format!(
        "sh -c 'trap \"\" HUP; {} menu {}; echo $? > {}'",
        env!("CARGO_BIN_EXE_stali"),
        path.display(),
        code.display()
    ));
    t.wait_for("the main menu", |s| s.contains("Main menu"));
    t.keys(&["j", "j", "j", "Enter", "j", "Enter", "Space"]);
    t.wait_for("an unsaved change", |s| s.contains("[modified]"));
    let o = t.tmux(&["kill-session", "-t", "t"]);
    assert!(o.status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        if let Ok(s) = std::fs::read_to_string(&code)
            && s.ends_with('\n')
        {
            break s;
        }
        assert!(Instant::now() < deadline, "stali did not end");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(text.trim(), "129", "not 134: no panic on the dead terminal");
    let rec = path
        .parent()
        .expect("dir")
        .join(".minimal.toml.stali-recover");
    assert!(rec.exists(), "recovery file");
}

/// The row number (1-9) of the search result whose name is `name`, on the screen.
fn result_digit(screen: &str, name: &str) -> Option<char> {
    screen.lines().find_map(|l| {
        let inner = l.strip_prefix('│')?;
        let mut chars = inner.chars();
        let _pointer = chars.next()?;
        let digit = chars.next().filter(char::is_ascii_digit)?;
        let rest: String = chars.collect();
        rest.get(4..)
            .is_some_and(|r| r.split_whitespace().next() == Some(name))
            .then_some(digit)
    })
}

/// The done-when of issue 12, at 80x24 on Linux 6.1 (Debian's linux-source-6.1): a new user
/// finds ext4 by typing `ext4`, reads in its help why it is unavailable on tinyconfig (it
/// needs BLOCK), enables the block layer and ext4, saves; `stali check` passes and
/// `stali kconfig` shows ext4 built in.
#[test]
fn kernel_tree_find_ext4_enable_it_save_and_check() {
    let t = Tmux::new("ktree");
    let hw = t.dir.path().join("config/hardware");
    std::fs::create_dir_all(&hw).expect("hardware dir");
    std::fs::write(
        hw.join("bare.toml"),
        "[[hardware]]\nname = \"bare-x86_64\"\ndescription = \"An x86_64 PC with a serial console and nothing else\"\narch = \"x86_64\"\ntriple = \"x86_64-linux-musl\"\nfragments = [\"base\", \"serial-console\"]\nconsole = \"ttyS0\"\nboot = \"bios\"\n",
    )
    .expect("hardware");
    let path = t.dir.path().join("tiny.toml");
    std::fs::write(
        &path,
        "# tinyconfig with a serial console\nformat = 1\nname = \"tiny\"\n\n[target]\nhardware = \"bare-x86_64\"\n\n[tools]\nselect = [\"sinit\", \"mksh\", \"sbase\"]\n\n[kernel]\nsource = { path = \"/usr/src/linux-source-6.1.tar.xz\" }\nbase = \"tinyconfig\"\n",
    )
    .expect("profile");
    let stali = env!("CARGO_BIN_EXE_stali");
    t.start(&format!(
        "sh -c '{stali} menu {}; echo STALI-EXITED=$?; exec sleep 600'",
        path.display()
    ));
    t.wait_for("the main menu", |s| s.contains("Main menu"));
    // The first screen is there at once; the tree loads behind it (the first time, the
    // tarball's Kconfig files are extracted: allow for it).
    t.keys(&["j", "j", "Enter"]);
    t.wait_for("the kernel menu", |s| s.contains("All options"));
    let deadline = Instant::now() + Duration::from_secs(600);
    while t.screen().contains("All options (loading") {
        assert!(
            Instant::now() < deadline,
            "the tree never loaded:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let s = t.screen();
    assert!(s.contains("All options  --->"), "{s}");
    t.keys(&["Escape"]);
    t.wait_for("the main menu", |s| s.contains("Main menu"));

    let jump = |name: &str, query: &str| {
        t.keys(&["/"]);
        t.wait_for("the search", |s| s.contains("Search:"));
        t.literal(query);
        let s = t.wait_for(name, |s| result_digit(s, name).is_some());
        let d = result_digit(&s, name).expect("a row");
        t.keys(&["Tab"]);
        t.literal(&d.to_string());
    };
    jump("EXT4_FS", "ext4");
    let s = t.wait_for("ext4 in File systems", |s| {
        s.contains("Kernel > All options > File systems") && s.contains(">- - The Extended 4")
    });
    assert!(s.contains("unavailable: it needs"), "{s}");
    t.keys(&["?"]);
    let s = t.wait_for("the help", |s| s.contains("Help: CONFIG_EXT4_FS"));
    assert!(s.contains("Unavailable here: it needs BLOCK [=n]"), "{s}");
    // Back to the hits, then the block layer.
    t.keys(&["Escape"]);
    t.wait_for("File systems", |s| s.contains("> File systems"));
    t.keys(&["Escape"]);
    t.wait_for("the hits", |s| s.contains("Search:"));
    t.keys(&["Escape"]);
    t.wait_for("the main menu", |s| s.contains("Main menu"));
    jump("BLOCK", "block");
    t.wait_for("the block layer", |s| {
        s.contains(">[ ] Enable the block layer")
    });
    t.keys(&["Space"]);
    t.wait_for("block on", |s| s.contains(">[*] Enable the block layer"));
    // (Esc then a key at once reads as Alt+key: wait for each screen.)
    t.keys(&["Escape"]);
    t.wait_for("the hits", |s| s.contains("Search:"));
    t.keys(&["Escape"]);
    t.wait_for("the main menu", |s| s.contains("Main menu"));
    jump("EXT4_FS", "ext4");
    t.wait_for("ext4 available", |s| s.contains(">[ ] The Extended 4"));
    t.keys(&["Space"]);
    t.wait_for("ext4 on", |s| s.contains(">[*] The Extended 4"));
    t.keys(&["s"]);
    t.wait_for("saved", |s| s.contains("saved "));
    t.keys(&["q"]);
    t.wait_for("the shell again", |s| s.contains("STALI-EXITED=0"));

    let saved = std::fs::read_to_string(&path).expect("saved");
    assert!(
        saved.contains("# tinyconfig with a serial console"),
        "{saved}"
    );
    assert!(saved.contains("CONFIG_BLOCK = \"y\""), "{saved}");
    assert!(saved.contains("CONFIG_EXT4_FS = \"y\""), "{saved}");
    let run = |args: &[&str]| {
        Command::new(stali)
            .args(args)
            .arg(&path)
            .env("STALI_CONFIG_DIR", t.dir.path().join("config"))
            .output()
            .expect("stali runs")
    };
    let check = run(&["check"]);
    assert!(
        check.status.success(),
        "stali check: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let kconfig = run(&["kconfig"]);
    let out = String::from_utf8_lossy(&kconfig.stdout);
    assert!(
        kconfig.status.success(),
        "{}",
        String::from_utf8_lossy(&kconfig.stderr)
    );
    assert!(out.contains("\nCONFIG_EXT4_FS=y\n") && out.contains("\nCONFIG_BLOCK=y\n"));
}
