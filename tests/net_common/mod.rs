//! Test servers on 127.0.0.1 shared by the network and pipeline tests: an HTTP server
//! (std sockets, requests read with httparse), `git daemon`, and `git http-backend` run as
//! a CGI program behind the HTTP server. Each stops when dropped.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
}

type Handler = dyn Fn(&Seen, &[u8], &mut TcpStream, usize) + Send + Sync;

/// A test HTTP server on 127.0.0.1: every connection is one request, answered by `handler`
/// (given the request, its body, the stream and how many requests came before). It stops
/// when dropped.
pub struct Server {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    pub fn start(
        handler: impl Fn(&Seen, &[u8], &mut TcpStream, usize) + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let (s2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            // Bounded: the server ends when the test drops it, or after five minutes.
            let deadline = Instant::now() + Duration::from_secs(300);
            while !stop2.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let (seen, handler, count) = (s2.clone(), handler.clone(), count.clone());
                        std::thread::spawn(move || {
                            stream.set_nonblocking(false).expect("blocking");
                            stream
                                .set_read_timeout(Some(Duration::from_secs(30)))
                                .expect("timeout");
                            let Some((req, body)) = read_request(&mut stream) else {
                                return;
                            };
                            seen.lock().expect("lock").push(req.clone());
                            let n = count.fetch_add(1, Ordering::SeqCst);
                            handler(&req, &body, &mut stream, n);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Server { port, seen, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads one request head (parsed by httparse) and its body (Content-Length or chunked).
fn read_request(stream: &mut TcpStream) -> Option<(Seen, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    req.parse(&buf).ok()?;
    let seen = Seen {
        method: req.method?.to_string(),
        path: req.path?.to_string(),
        headers: req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
    };
    let mut body = Vec::new();
    if let Some(len) = seen.headers.get("content-length") {
        body.resize(len.trim().parse().ok()?, 0);
        stream.read_exact(&mut body).ok()?;
    } else if seen
        .headers
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        let mut r = BufReader::new(stream.try_clone().ok()?);
        loop {
            let mut line = String::new();
            r.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0u8; size + 2];
            r.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    Some((seen, body))
}

pub fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

/// Serves `data` honouring `Range: bytes=N-` (206) like a real file server.
pub fn serve_file(req: &Seen, stream: &mut TcpStream, data: &[u8]) {
    let from = req
        .headers
        .get("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    match from {
        Some(n) if n < data.len() => respond(
            stream,
            "206 Partial Content",
            &[
                ("Content-Length", (data.len() - n).to_string()),
                (
                    "Content-Range",
                    format!("bytes {n}-{}/{}", data.len() - 1, data.len()),
                ),
            ],
            &data[n..],
        ),
        _ => respond(
            stream,
            "200 OK",
            &[("Content-Length", data.len().to_string())],
            data,
        ),
    }
}

/// Runs git in `dir` with a fixed identity and dates; its trimmed standard output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=stali tests",
            "-c",
            "user.email=t@stali.invalid",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", "2016-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2016-01-01T00:00:00Z")
        .output()
        .expect("git (Debian package git)");
    assert!(o.status.success(), "git {args:?}: {}", text(&o.stderr));
    text(&o.stdout).trim().to_string()
}

/// A bare repository `NAME.git` under `root` with one commit of the hello fixture; its id.
pub fn bare_repo(root: &Path, name: &str) -> String {
    let work = root.join(format!("{name}-work"));
    std::fs::create_dir_all(&work).expect("mkdir");
    for f in ["Makefile", "hello.c"] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/hello-make")
                .join(f),
            work.join(f),
        )
        .expect("copy");
    }
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "hello"]);
    let rev = git(&work, &["rev-parse", "HEAD"]);
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().expect("utf-8"),
            &format!("{name}.git"),
        ],
    );
    rev
}

/// A free port on 127.0.0.1 (bound, read and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `git daemon` serving `root` on 127.0.0.1; killed when dropped.
pub struct Daemon(pub Child, pub u16);

impl Daemon {
    pub fn start(root: &Path) -> Self {
        let port = free_port();
        let child = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                "--export-all",
                "--informative-errors",
            ])
            .arg(format!("--base-path={}", root.display()))
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon (Debian package git)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "git daemon did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Daemon(child, port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Answers a request by running `git http-backend` as a CGI program over `root`.
pub fn http_backend(root: &Path, req: &Seen, body: &[u8], s: &mut TcpStream) {
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let path_info = path.strip_prefix("/git").unwrap_or(path);
    let mut child = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", path_info)
        .env("QUERY_STRING", query)
        .env("REQUEST_METHOD", &req.method)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env(
            "CONTENT_TYPE",
            req.headers.get("content-type").cloned().unwrap_or_default(),
        )
        .env("CONTENT_LENGTH", body.len().to_string())
        .env(
            "HTTP_GIT_PROTOCOL",
            req.headers.get("git-protocol").cloned().unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("git http-backend");
    let mut stdin = child.stdin.take().expect("stdin");
    let body = body.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let out = child.wait_with_output().expect("http-backend output");
    let _ = writer.join();
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| {
            out.stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, 2))
        })
        .expect("CGI headers");
    let head = text(&out.stdout[..split.0]);
    let mut status = "200 OK".to_string();
    let mut headers = Vec::new();
    for line in head.lines() {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("status") {
                status = v.trim().to_string();
            } else {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    let payload = &out.stdout[split.0 + split.1..];
    let mut hs: Vec<(&str, String)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    hs.push(("Content-Length", payload.len().to_string()));
    respond(s, &status, &hs, payload);
}
