//! Sources fetched over a real network, on loopback only: an HTTP server started by each
//! test (std sockets, requests read with httparse) serves tarballs, errors, redirects, a
//! body cut short, a stall, too many bytes, a CONNECT proxy and git's smart HTTP through
//! `git http-backend`; `git daemon` serves the git protocol. Everything goes through the
//! `stali fetch` command a user runs. No test reaches beyond 127.0.0.1.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod net_common;
use net_common::{Daemon, Server, bare_repo, http_backend, respond, serve_file};

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// A real .tar.gz of the hello-make fixture (one top folder, as release tarballs have).
fn fixture_tarball() -> Vec<u8> {
    let d = tempfile::tempdir().expect("tempdir");
    let top = d.path().join("hello-1.0");
    std::fs::create_dir_all(&top).expect("mkdir");
    for f in ["Makefile", "hello.c"] {
        std::fs::copy(
            manifest().join("tests/fixtures/hello-make").join(f),
            top.join(f),
        )
        .expect("copy");
    }
    let out = d.path().join("hello-1.0.tar.gz");
    let st = Command::new("tar")
        .args(["-czf"])
        .arg(&out)
        .arg("-C")
        .arg(d.path())
        .arg("hello-1.0")
        .status()
        .expect("tar");
    assert!(st.success());
    std::fs::read(&out).expect("read tarball")
}

/// A profile of one tool (or more: `tools` is TOML text of `[[tool]]` tables) selecting
/// only those, so nothing else is fetched.
fn profile(dir: &Path, select: &[&str], tools: &str) -> PathBuf {
    let select: Vec<String> = select.iter().map(|s| format!("\"{s}\"")).collect();
    let p = dir.join("net.toml");
    std::fs::write(
        &p,
        format!(
            "format = 1\nname = \"net\"\n[tools]\nselect = [{}]\n{tools}",
            select.join(", ")
        ),
    )
    .expect("write profile");
    p
}

fn tarball_tool(name: &str, url: &str, sha: &str) -> String {
    format!(
        "\n[[tool]]\nname = \"{name}\"\ndescription = \"net fixture\"\ntarball = \"{url}\"\nsha256 = \"{sha}\"\nbuild = \"make\"\nsize = 100\n"
    )
}

fn git_tool(name: &str, url: &str, rev: &str) -> String {
    format!(
        "\n[[tool]]\nname = \"{name}\"\ndescription = \"net fixture\"\ngit = \"{url}\"\nrev = \"{rev}\"\nbuild = \"make\"\nsize = 100\n"
    )
}

/// Runs `stali fetch PROFILE --cache CACHE --json` with no proxy variables and the
/// extra environment given.
fn fetch(profile: &Path, cache: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stali"));
    c.arg("fetch")
        .arg(profile)
        .arg("--cache")
        .arg(cache)
        .arg("--json")
        .env("STALI_CONFIG_DIR", "/nonexistent-stali-config")
        .env("STALI_NET_RETRY", "1");
    for k in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run stali fetch")
}

/// Files left in the download folder (partial downloads and finished ones; lock files
/// are empty and not counted).
fn downloads(cache: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for dir in [cache.join("dl"), cache.join("dl/partial")] {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_file() && !name.ends_with(".lock") {
                v.push(name);
            }
        }
    }
    v.sort();
    v
}

fn fails(o: &Output) -> String {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "expected exit 1:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn a_tarball_is_downloaded_checked_listed_and_then_served_offline() {
    let data = Arc::new(fixture_tarball());
    let d2 = data.clone();
    let server = Server::start(move |req, _, s, _| serve_file(req, s, &d2));
    let d = tempfile::tempdir().expect("tempdir");
    let url = server.url("/releases/hello-1.0.tar.gz");
    let p = profile(
        d.path(),
        &["hello"],
        &tarball_tool("hello", &url, &sha256(&data)),
    );
    let cache = d.path().join("cache");
    let o = fetch(&p, &cache, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let sources = j["sources"].as_array().expect("sources");
    let hello = sources
        .iter()
        .find(|s| s["name"] == "hello")
        .expect("hello listed");
    assert_eq!(hello["kind"], "tarball");
    assert_eq!(hello["url"], url.as_str());
    assert_eq!(hello["pin"], sha256(&data).as_str());
    let path = PathBuf::from(hello["path"].as_str().expect("path"));
    assert_eq!(std::fs::read(&path).expect("downloaded"), *data);
    assert!(path.starts_with(std::fs::canonicalize(&cache).expect("cache")));
    assert!(sources.iter().any(|s| s["name"] == "kernel"), "{sources:?}");
    assert_eq!(downloads(&cache), ["hello-1.0.tar.gz"]);

    // The server gone, the cache serves it: offline, and no request is made.
    let before = server.seen().len();
    drop(server);
    let mut c = Command::new(env!("CARGO_BIN_EXE_stali"));
    let o = c
        .args(["fetch", "--offline", "--cache"])
        .arg(&cache)
        .arg(&p)
        .env("STALI_CONFIG_DIR", "/nonexistent-stali-config")
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(before, 1);
}

#[test]
fn redirects_are_followed_but_only_to_http() {
    let data = Arc::new(fixture_tarball());
    let d2 = data.clone();
    let server = Server::start(move |req, _, s, _| match req.path.as_str() {
        "/old/hello-1.0.tar.gz" => respond(
            s,
            "301 Moved Permanently",
            &[("Location", "/new/hello-1.0.tar.gz".into())],
            b"",
        ),
        "/new/hello-1.0.tar.gz" => serve_file(req, s, &d2),
        _ => respond(
            s,
            "302 Found",
            &[("Location", "ftp://127.0.0.1/hello-1.0.tar.gz".into())],
            b"",
        ),
    });
    let d = tempfile::tempdir().expect("tempdir");
    let sha = sha256(&data);
    let p = profile(
        d.path(),
        &["hello"],
        &tarball_tool("hello", &server.url("/old/hello-1.0.tar.gz"), &sha),
    );
    let o = fetch(&p, &d.path().join("c1"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let paths: Vec<String> = server.seen().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/old/hello-1.0.tar.gz", "/new/hello-1.0.tar.gz"]);

    let url = server.url("/ftp/hello-1.0.tar.gz");
    let p = profile(d.path(), &["hello"], &tarball_tool("hello", &url, &sha));
    let cache = d.path().join("c2");
    let err = fails(&fetch(&p, &cache, &[]));
    assert!(err.contains("fetching hello"), "names the source: {err}");
    assert!(err.contains(&url), "names the URL: {err}");
    assert!(err.contains("ftp://127.0.0.1/hello-1.0.tar.gz"), "{err}");
    assert!(err.contains("only redirects to http and https"), "{err}");
    assert!(
        err.contains("dl/hello-1.0.tar.gz"),
        "names the cache path: {err}"
    );
    assert!(downloads(&cache).is_empty(), "{:?}", downloads(&cache));
}

/// A failing download: path, pinned hash, what the error says, environment.
type Case<'a> = (&'a str, &'a str, &'a [&'a str], &'a [(&'a str, &'a str)]);

#[test]
fn a_404_a_wrong_hash_and_too_many_bytes_are_clear_errors_and_keep_nothing() {
    let data = Arc::new(fixture_tarball());
    let d2 = data.clone();
    let server = Server::start(move |req, _, s, _| match req.path.as_str() {
        "/gone/hello-1.0.tar.gz" => respond(s, "404 Not Found", &[], b"no such file"),
        "/big/hello-1.0.tar.gz" => {
            // No Content-Length: the cap must hold while the bytes come.
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            for _ in 0..64 {
                if s.write_all(&[0u8; 1024]).is_err() {
                    break;
                }
            }
        }
        "/long/hello-1.0.tar.gz" => {
            respond(s, "200 OK", &[("Content-Length", "5000000".into())], b"")
        }
        _ => serve_file(req, s, &d2),
    });
    let d = tempfile::tempdir().expect("tempdir");
    let sha = sha256(&data);
    let cases: [Case; 4] = [
        ("/gone/hello-1.0.tar.gz", &sha, &["404 Not Found"], &[]),
        (
            "/ok/hello-1.0.tar.gz",
            "00000000000000000000000000000000000000000000000000000000000000aa",
            &["wrong SHA-256", "expected 0000", "actual"],
            &[],
        ),
        (
            "/big/hello-1.0.tar.gz",
            &sha,
            &["more than the limit of 10000 bytes"],
            &[("STALI_HTTP_MAX_BYTES", "10000")],
        ),
        (
            "/long/hello-1.0.tar.gz",
            &sha,
            &["5000000 bytes, more than the limit of 10000 bytes"],
            &[("STALI_HTTP_MAX_BYTES", "10000")],
        ),
    ];
    for (i, (path, sha, want, env)) in cases.iter().enumerate() {
        let url = server.url(path);
        let p = profile(d.path(), &["hello"], &tarball_tool("hello", &url, sha));
        let cache = d.path().join(format!("c{i}"));
        let err = fails(&fetch(&p, &cache, env));
        for w in *want {
            assert!(err.contains(w), "{path}: `{w}` missing from:\n{err}");
        }
        assert!(
            err.contains(&url) && err.contains("fetching hello"),
            "{err}"
        );
        assert!(err.contains("dl/hello-1.0.tar.gz"), "{err}");
        assert!(err.contains("nothing was kept"), "{err}");
        assert!(
            downloads(&cache).is_empty(),
            "{path}: {:?}",
            downloads(&cache)
        );
    }
    // A 404 is final: asked once, not retried.
    let gone = server
        .seen()
        .iter()
        .filter(|r| r.path.starts_with("/gone/"))
        .count();
    assert_eq!(gone, 1);
}

#[test]
fn a_body_cut_short_is_resumed_and_server_errors_are_retried() {
    let data = Arc::new(fixture_tarball());
    let half = data.len() / 2;
    let d2 = data.clone();
    let flaked = AtomicBool::new(false);
    let server = Server::start(move |req, _, s, _| match req.path.as_str() {
        // The first answer promises the whole file and stops half way.
        "/cut/hello-1.0.tar.gz" if !req.headers.contains_key("range") => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                d2.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&d2[..half]);
        }
        "/flaky/hello-1.0.tar.gz" if !flaked.swap(true, Ordering::SeqCst) => {
            respond(s, "503 Service Unavailable", &[], b"try later")
        }
        _ => serve_file(req, s, &d2),
    });
    let d = tempfile::tempdir().expect("tempdir");
    let sha = sha256(&data);
    let url = server.url("/cut/hello-1.0.tar.gz");
    let p = profile(d.path(), &["hello"], &tarball_tool("hello", &url, &sha));
    let cache = d.path().join("c1");

    // No retries allowed: the partial file stays, to be resumed.
    let err = fails(&fetch(&p, &cache, &[("STALI_NET_RETRY", "0")]));
    assert!(err.contains("resumed next time"), "{err}");
    assert_eq!(downloads(&cache), [format!("{sha}.part")]);
    // The next run resumes where the first one stopped.
    let o = fetch(&p, &cache, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let ranges: Vec<Option<String>> = server
        .seen()
        .iter()
        .map(|r| r.headers.get("range").cloned())
        .collect();
    assert_eq!(ranges, [None, Some(format!("bytes={half}-"))]);
    assert_eq!(
        std::fs::read(cache.join("dl/hello-1.0.tar.gz")).expect("file"),
        *data
    );
    assert_eq!(downloads(&cache), ["hello-1.0.tar.gz"]);

    // A 503 is transient: retried (after the backoff), then it works.
    let url = server.url("/flaky/hello-1.0.tar.gz");
    let p = profile(d.path(), &["hello"], &tarball_tool("hello", &url, &sha));
    let o = fetch(&p, &d.path().join("c2"), &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("503") && err.contains("retrying"), "{err}");
}

#[test]
fn a_stalled_server_times_out() {
    let server = Server::start(|_, _, s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome");
        let _ = s.flush();
        // Silent, but for a bounded time.
        std::thread::sleep(Duration::from_secs(20));
    });
    let d = tempfile::tempdir().expect("tempdir");
    let url = server.url("/stall/hello-1.0.tar.gz");
    let p = profile(
        d.path(),
        &["hello"],
        &tarball_tool("hello", &url, &"ab".repeat(32)),
    );
    let cache = d.path().join("c");
    let child = Command::new(env!("CARGO_BIN_EXE_stali"))
        .arg("fetch")
        .arg(&p)
        .arg("--cache")
        .arg(&cache)
        .env("STALI_CONFIG_DIR", "/nonexistent-stali-config")
        .env("STALI_HTTP_TIMEOUT", "1")
        .env("STALI_NET_RETRY", "1")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let o = wait_bounded(child, Duration::from_secs(60));
    let err = fails(&o);
    assert!(
        err.to_lowercase().contains("timed out") || err.contains("timeout"),
        "{err}"
    );
    assert!(err.contains(&url), "{err}");
    assert_eq!(server.seen().len(), 2, "one try and one retry");
}

/// Waits for `child`, killing it (and failing) after `limit`.
fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("stali did not give up on a stalled server within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn proxy_variables_are_honoured() {
    let data = Arc::new(fixture_tarball());
    let d2 = data.clone();
    let server = Server::start(move |req, _, s, _| serve_file(req, s, &d2));
    // A CONNECT proxy: it records the target and relays bytes both ways.
    let proxy = Server::start(|req, _, s, _| {
        if req.method != "CONNECT" {
            respond(s, "405 Method Not Allowed", &[], b"");
            return;
        }
        let Ok(mut up) = TcpStream::connect(&req.path) else {
            respond(s, "502 Bad Gateway", &[], b"");
            return;
        };
        let _ = s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
        let (mut a, mut b) = (
            s.try_clone().expect("clone"),
            up.try_clone().expect("clone"),
        );
        let t = std::thread::spawn(move || {
            let _ = std::io::copy(&mut a, &mut b);
        });
        let _ = std::io::copy(&mut up, s);
        let _ = s.shutdown(std::net::Shutdown::Both);
        let _ = t.join();
    });
    let d = tempfile::tempdir().expect("tempdir");
    let url = server.url("/via/hello-1.0.tar.gz");
    let p = profile(
        d.path(),
        &["hello"],
        &tarball_tool("hello", &url, &sha256(&data)),
    );
    let proxy_url = proxy.url("");
    let o = fetch(&p, &d.path().join("c1"), &[("http_proxy", &proxy_url)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let via: Vec<String> = proxy.seen().iter().map(|r| r.path.clone()).collect();
    assert_eq!(via, [format!("127.0.0.1:{}", server.port)]);
    assert_eq!(server.seen().len(), 1);

    // no_proxy names the host: straight to the server.
    let o = fetch(
        &p,
        &d.path().join("c2"),
        &[
            ("http_proxy", &proxy_url),
            ("no_proxy", "localhost,127.0.0.1"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(proxy.seen().len(), 1, "the proxy was used despite no_proxy");
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn git_sources_over_git_daemon_and_smart_http() {
    let d = tempfile::tempdir().expect("tempdir");
    let root = d.path().join("srv");
    std::fs::create_dir_all(&root).expect("mkdir");
    let rev = bare_repo(&root, "hello");
    let daemon = Daemon::start(&root);
    let r2 = root.clone();
    let server = Server::start(move |req, body, s, _| http_backend(&r2, req, body, s));
    let git_url = format!("git://127.0.0.1:{}/hello.git", daemon.1);
    let http_url = server.url("/git/hello.git");
    let tools = format!(
        "{}{}",
        git_tool("over-git", &git_url, &rev),
        git_tool("over-http", &http_url, &rev)
    );
    let fixture = std::fs::read(manifest().join("tests/fixtures/hello-make/hello.c")).expect("c");
    for name in ["over-git", "over-http"] {
        // One cache each: a checkout is found by commit, whichever URL brought it.
        let p = profile(d.path(), &[name], &tools);
        let o = fetch(&p, &d.path().join(format!("cache-{name}")), &[]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o.stderr));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        let s = j["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed"))
            .clone();
        assert_eq!(s["kind"], "git");
        assert_eq!(s["pin"], rev.as_str());
        let dir = PathBuf::from(s["path"].as_str().expect("path"));
        assert_eq!(
            std::fs::read(dir.join("hello.c")).expect("checkout"),
            fixture
        );
    }
    assert!(
        server
            .seen()
            .iter()
            .any(|r| r.path.starts_with("/git/hello.git/info/refs")),
        "smart HTTP was not used: {:?}",
        server.seen()
    );

    // A pin neither server has: one clear error naming the commit and the URL.
    let missing = "0123456789abcdef0123456789abcdef01234567";
    for url in [&git_url, &http_url] {
        let p = profile(d.path(), &["nope"], &git_tool("nope", url, missing));
        let err = fails(&fetch(&p, &d.path().join("c-missing"), &[]));
        assert!(
            err.contains(missing) && err.contains(url.as_str()),
            "{url}: {err}"
        );
        assert!(
            !err.contains("retrying"),
            "a missing pin is not a network error: {err}"
        );
    }
}

#[test]
fn git_instead_of_points_a_tarball_at_a_mirror() {
    let data = Arc::new(fixture_tarball());
    let d2 = data.clone();
    let server = Server::start(move |req, _, s, _| serve_file(req, s, &d2));
    let d = tempfile::tempdir().expect("tempdir");
    let home = d.path().join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::write(
        home.join(".gitconfig"),
        format!(
            "[url \"{}\"]\n\tinsteadOf = https://ftp.example.invalid/pub/\n",
            server.url("/mirror/")
        ),
    )
    .expect("write .gitconfig");
    let url = "https://ftp.example.invalid/pub/gnu/hello-1.0.tar.gz";
    let p = profile(
        d.path(),
        &["hello"],
        &tarball_tool("hello", url, &sha256(&data)),
    );
    let cache = d.path().join("cache");
    let home_s = home.to_str().expect("utf-8");
    let o = fetch(&p, &cache, &[("HOME", home_s), ("XDG_CONFIG_HOME", home_s)]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("insteadOf"), "{err}");
    let paths: Vec<String> = server.seen().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/mirror/gnu/hello-1.0.tar.gz"]);
    assert_eq!(downloads(&cache), ["hello-1.0.tar.gz"]);
}

#[test]
fn https_is_verified_against_the_system_trust_store() {
    // A certificate authority of the test's own, trusted through SSL_CERT_FILE (OpenSSL's
    // standard override of the system store), and a server certificate for 127.0.0.1.
    let d = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        let o = Command::new("openssl")
            .current_dir(d.path())
            .args(args)
            .output()
            .expect("openssl (Debian package openssl)");
        assert!(o.status.success(), "openssl {args:?}: {}", text(&o.stderr));
    };
    std::fs::write(d.path().join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("ext");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=stali test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    let identity = native_tls::Identity::from_pkcs8(
        &std::fs::read(d.path().join("srv.pem")).expect("cert"),
        &std::fs::read(d.path().join("srv.key")).expect("key"),
    )
    .expect("identity");
    let acceptor = Arc::new(native_tls::TlsAcceptor::new(identity).expect("acceptor"));
    let data = Arc::new(fixture_tarball());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (d2, a2) = (data.clone(), acceptor.clone());
    std::thread::spawn(move || {
        // Bounded: two connections (the trusted fetch and the refused one), then it ends.
        for stream in listener.incoming().take(2) {
            let Ok(stream) = stream else { continue };
            let Ok(mut tls) = a2.accept(stream) else {
                continue;
            };
            let mut buf = [0u8; 4096];
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                match std::io::Read::read(&mut tls, &mut buf[..1]) {
                    Ok(1) => head.push(buf[0]),
                    _ => break,
                }
            }
            let h = format!(
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                d2.len()
            );
            let _ = tls.write_all(h.as_bytes());
            let _ = tls.write_all(&d2);
            let _ = tls.shutdown();
        }
    });
    let url = format!("https://127.0.0.1:{port}/hello-1.0.tar.gz");
    let p = profile(
        d.path(),
        &["hello"],
        &tarball_tool("hello", &url, &sha256(&data)),
    );
    let ca = d.path().join("ca.pem");
    let ca = ca.to_str().expect("utf-8");
    let o = fetch(&p, &d.path().join("c1"), &[("SSL_CERT_FILE", ca)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(downloads(&d.path().join("c1")), ["hello-1.0.tar.gz"]);
    // Without the test's authority the certificate is not trusted: refused, nothing kept.
    let empty = d.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    let err = fails(&fetch(
        &p,
        &d.path().join("c2"),
        &[
            ("SSL_CERT_FILE", empty.to_str().expect("utf-8")),
            ("SSL_CERT_DIR", "/nonexistent"),
        ],
    ));
    assert!(err.contains(&url), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(downloads(&d.path().join("c2")).is_empty());
}
