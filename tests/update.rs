//! `stali update` and `stali outdated` against real git repositories made here (tags, a
//! pre-release, branches, a force-push) and served by `git daemon` on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod net_common;
use net_common::{Daemon, git};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A commit of one more line in `f`, with `subject`; its id.
fn commit(dir: &Path, subject: &str) -> String {
    let f = dir.join("CHANGES");
    let mut t = std::fs::read_to_string(&f).unwrap_or_default();
    t.push_str(subject);
    t.push('\n');
    std::fs::write(&f, t).expect("write");
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", subject]);
    git(dir, &["rev-parse", "HEAD"])
}

struct Upstreams {
    _dir: tempfile::TempDir,
    root: PathBuf,
    daemon: Daemon,
    proj: [String; 3],
    side: [String; 3],
    forced_old: String,
}

/// `proj`: v1.0, v1.1, then v1.2-rc1 (a pre-release); `side`: three commits on main;
/// `forced`: one commit, then main force-pushed to an unrelated history.
fn upstreams() -> Upstreams {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("srv");
    std::fs::create_dir_all(&root).expect("mkdir");
    let make = |name: &str| {
        let w = dir.path().join(name);
        std::fs::create_dir_all(&w).expect("mkdir");
        git(&w, &["init", "-q", "-b", "main"]);
        w
    };
    let p = make("proj");
    let p1 = commit(&p, "first release");
    git(&p, &["tag", "v1.0"]);
    let p2 = commit(&p, "fix the frobnicator");
    git(&p, &["tag", "-a", "v1.1", "-m", "release 1.1"]);
    let p3 = commit(&p, "new frobnicator, not ready");
    git(&p, &["tag", "v1.2-rc1"]);
    let s = make("side");
    let s1 = commit(&s, "one");
    let s2 = commit(&s, "two");
    let s3 = commit(&s, "three");
    let f = make("forced");
    let f1 = commit(&f, "before the rewrite");
    for n in ["proj", "side", "forced"] {
        git(
            &root,
            &[
                "clone",
                "-q",
                "--bare",
                dir.path().join(n).to_str().expect("utf-8"),
                &format!("{n}.git"),
            ],
        );
    }
    // The force-push: main becomes an unrelated history, the old commit unreachable.
    git(&f, &["checkout", "-q", "--orphan", "rewritten"]);
    commit(&f, "after the rewrite");
    git(
        &f,
        &[
            "push",
            "-q",
            "--force",
            root.join("forced.git").to_str().expect("utf-8"),
            "rewritten:main",
        ],
    );
    let daemon = Daemon::start(&root);
    Upstreams {
        _dir: dir,
        root,
        daemon,
        proj: [p1, p2, p3],
        side: [s1, s2, s3],
        forced_old: f1,
    }
}

fn tool(u: &Upstreams, name: &str, rev: &str, track: &str) -> String {
    format!(
        "\n[[tool]]\nname = \"{name}\"\ndescription = \"update fixture\"\ngit = \"git://127.0.0.1:{}/{name}.git\"\nrev = \"{rev}\"\ntrack = \"{track}\"\nbuild = \"make\"\nsize = 100\n",
        u.daemon.1
    )
}

/// Runs `stali SUBCOMMAND PROFILE REST... --cache CACHE`.
fn stali(args: &[&str], profile: &Path, cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stali"))
        .arg(args[0])
        .arg(profile)
        .args(&args[1..])
        .arg("--cache")
        .arg(cache)
        .env("STALI_CONFIG_DIR", "/nonexistent-stali-config")
        .env("STALI_NET_RETRY", "0")
        .output()
        .expect("run stali")
}

#[test]
fn outdated_update_and_the_profile_keeps_its_comments() {
    let u = upstreams();
    let work = tempfile::tempdir().expect("tempdir");
    let cache = work.path().join("cache");
    let prof = work.path().join("upd.toml");
    let original = format!(
        "# my profile, with comments that must survive\nformat = 1\nname = \"upd\"\n\n[tools]\nselect = [\"proj\", \"side\", \"forced\"]   # three tools\n\n[pins]\n# side is pinned here, over its recipe\nside = \"{}\"  # old\n{}{}{}",
        u.side[0],
        tool(&u, "proj", &u.proj[0], "tags:v*"),
        tool(&u, "side", &u.side[1], "branch:main"),
        tool(&u, "forced", &u.forced_old, "branch:main"),
    );
    std::fs::write(&prof, &original).expect("write");

    // outdated: exit 1, naming what is behind and the force-push.
    let o = stali(&["outdated"], &prof, &cache);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", text(&o.stderr));
    assert!(
        out.contains("proj") && out.contains("v1.0") && out.contains("-> v1.1"),
        "{out}"
    );
    assert!(
        !out.contains("v1.2-rc1"),
        "a pre-release was offered:\n{out}"
    );
    assert!(out.contains("side") && out.contains("2 commits"), "{out}");
    assert!(
        out.contains("forced") && out.contains("no longer contains"),
        "{out}"
    );
    assert!(out.contains("2 pin(s) behind"), "{out}");

    // --dry-run: the plan with a short log, nothing written.
    let o = stali(&["update", "--dry-run"], &prof, &cache);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", text(&o.stderr));
    assert!(out.contains("fix the frobnicator"), "{out}");
    assert!(out.contains(&u.proj[1][..7]), "{out}");
    assert!(out.contains("three") && out.contains("two"), "{out}");
    assert!(out.contains("dry run: 2 pin(s) would move"), "{out}");
    assert_eq!(std::fs::read_to_string(&prof).expect("read"), original);

    // update: the pins move, each with its version as a comment; every comment stays.
    let o = stali(&["update", "--json"], &prof, &cache);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(j["written"], true);
    let forced = j["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["name"] == "forced")
        .expect("forced listed")
        .clone();
    assert_eq!(forced["status"], "diverged");
    let after = std::fs::read_to_string(&prof).expect("read");
    for keep in [
        "# my profile, with comments that must survive",
        "# three tools",
        "# side is pinned here, over its recipe",
        &format!("rev = \"{}\"", u.proj[0]),
    ] {
        assert!(after.contains(keep), "`{keep}` lost:\n{after}");
    }
    assert!(
        after.contains(&format!("side = \"{}\" # main", u.side[2])),
        "{after}"
    );
    assert!(
        after.contains(&format!("proj = \"{}\" # v1.1", u.proj[1])),
        "{after}"
    );
    assert!(
        !after.contains(&u.forced_old[..12])
            || after.contains(&format!("rev = \"{}\"", u.forced_old))
    );
    assert!(
        !after.contains("forced = "),
        "a diverged pin was written:\n{after}"
    );
    // The same reader `stali check` uses takes it.
    let o = Command::new(env!("CARGO_BIN_EXE_stali"))
        .arg("check")
        .arg(&prof)
        .env("STALI_CONFIG_DIR", "/nonexistent-stali-config")
        .output()
        .expect("check");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // Nothing behind any more (the force-pushed one is reported, not counted).
    let o = stali(&["outdated"], &prof, &cache);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));

    // Offline, the refs fetched last time answer, and it says so.
    let o = stali(&["outdated", "--offline"], &prof, &cache);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert!(text(&o.stderr).contains("offline"), "{}", text(&o.stderr));
    let _ = &u.root;
}

#[test]
fn a_pin_moves_backwards_only_when_asked_and_a_failed_fetch_changes_nothing() {
    let u = upstreams();
    let work = tempfile::tempdir().expect("tempdir");
    let cache = work.path().join("cache");
    let prof = work.path().join("down.toml");
    // Pinned at v1.1, but the profile tracks only 1.0 releases.
    let original = format!(
        "format = 1\nname = \"down\"\n[tools]\nselect = [\"proj\"]\n[track]\nproj = \"tags:v1.0*\"\n{}",
        tool(&u, "proj", &u.proj[1], "tags:v*")
    );
    std::fs::write(&prof, &original).expect("write");
    let o = stali(&["update"], &prof, &cache);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("is older") && out.contains("--allow-downgrade"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&prof).expect("read"), original);
    let o = stali(&["update", "--allow-downgrade", "proj"], &prof, &cache);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let after = std::fs::read_to_string(&prof).expect("read");
    assert!(
        after.contains(&format!("proj = \"{}\" # v1.0", u.proj[0])),
        "{after}"
    );

    // A source that is not in the profile: a clear error with a suggestion.
    let o = stali(&["update", "projj"], &prof, &cache);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("did you mean `proj`"),
        "{}",
        text(&o.stderr)
    );

    // The upstream gone: exit 1, the file as it was.
    let before = std::fs::read_to_string(&prof).expect("read");
    drop(u);
    let o = stali(&["update"], &prof, &work.path().join("cache2"));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    assert!(text(&o.stderr).contains("proj"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(&prof).expect("read"), before);
}

#[test]
fn a_kernel_tarball_moves_to_the_newest_point_release_of_its_series() {
    use std::sync::Arc;
    let new_tarball: Arc<Vec<u8>> = Arc::new(b"pretend this is linux-6.1.10".repeat(1000));
    let served = new_tarball.clone();
    let server = net_common::Server::start(move |req, _, s, _| match req.path.as_str() {
        "/pub/v6.x/" => {
            // A release index: other series, a pre-release and older point releases around.
            let page = "<html><a href=\"linux-6.1.tar.xz\">linux-6.1.tar.xz</a>\n<a href=\"linux-6.1.3.tar.xz\">x</a>\n<a href=\"linux-6.1.10.tar.xz\">x</a>\n<a href=\"linux-6.1.10.tar.gz\">x</a>\n<a href=\"linux-6.1.11-rc1.tar.xz\">x</a>\n<a href=\"linux-6.2.16.tar.xz\">x</a>\n<a href=\"linux-6.1.9.tar.xz\">x</a></html>";
            net_common::respond(
                s,
                "200 OK",
                &[("Content-Length", page.len().to_string())],
                page.as_bytes(),
            );
        }
        "/pub/v6.x/linux-6.1.10.tar.xz" => net_common::serve_file(req, s, &served),
        _ => net_common::respond(s, "404 Not Found", &[], b""),
    });
    let work = tempfile::tempdir().expect("tempdir");
    let prof = work.path().join("k.toml");
    let original = format!(
        "format = 1\nname = \"k\"\n[tools]\nselect = []\n[kernel]\n# the kernel, from its release folder\nsource = {{ tarball = \"{}\", sha256 = \"{}\" }}\n",
        server.url("/pub/v6.x/linux-6.1.3.tar.xz"),
        "ab".repeat(32)
    );
    std::fs::write(&prof, &original).expect("write");
    let cache = work.path().join("cache");
    let o = stali(&["outdated"], &prof, &cache);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", text(&o.stderr));
    assert!(
        out.contains("kernel") && out.contains("6.1.3 -> 6.1.10"),
        "{out}"
    );
    assert!(!out.contains("6.1.11") && !out.contains("6.2.16"), "{out}");
    let o = stali(&["update"], &prof, &cache);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let after = std::fs::read_to_string(&prof).expect("read");
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(new_tarball.as_slice()));
    assert!(
        after.contains("# the kernel, from its release folder"),
        "{after}"
    );
    assert!(
        after.contains(&server.url("/pub/v6.x/linux-6.1.10.tar.xz"))
            && after.contains(&format!("sha256 = \"{sha}\"")),
        "the SHA-256 is the downloaded file's:\n{after}"
    );
    // The downloaded tarball is in the cache, ready for the build.
    assert_eq!(
        std::fs::read(cache.join("dl/linux-6.1.10.tar.xz")).expect("cached"),
        *new_tarball
    );
    let o = stali(&["outdated"], &prof, &cache);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
}
