//! HTTP(S) downloads into the cache, with ureq: redirects followed one by one (only to
//! http and https), connect and read timeouts, retries with backoff on transient errors,
//! resume of a partial download, a size cap, the proxy variables, progress, and the
//! SHA-256 checked before the file is moved atomically into place.

use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use super::progress::Progress;

/// Redirects followed before giving up (curl and cargo stop at about this many too).
const MAX_REDIRECTS: usize = 10;

/// Limits of one download.
#[derive(Debug, Clone)]
pub struct HttpOpts {
    /// Time allowed to resolve and connect (cargo: 30 s).
    pub connect_timeout: Duration,
    /// Longest silence while waiting for the next bytes of a response.
    pub read_timeout: Duration,
    /// Largest file accepted, in bytes.
    pub max_bytes: u64,
}

impl Default for HttpOpts {
    fn default() -> Self {
        HttpOpts {
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(30),
            max_bytes: 4 << 30,
        }
    }
}

impl HttpOpts {
    /// The defaults, with `STALI_HTTP_TIMEOUT` (seconds, for both timeouts) and
    /// `STALI_HTTP_MAX_BYTES` from the environment when set.
    pub fn from_env() -> Result<Self> {
        let mut o = HttpOpts::default();
        if let Some(v) = env_number("STALI_HTTP_TIMEOUT")? {
            o.connect_timeout = Duration::from_secs(v.max(1));
            o.read_timeout = o.connect_timeout;
        }
        if let Some(v) = env_number("STALI_HTTP_MAX_BYTES")? {
            o.max_bytes = v;
        }
        Ok(o)
    }
}

/// Delays before each retry of a transient network error: 1 s, 2 s, 4 s... for the
/// `STALI_NET_RETRY` retries asked for (default 3, like cargo's `net.retry`).
pub fn retry_delays_from_env() -> Result<Vec<Duration>> {
    let n = env_number("STALI_NET_RETRY")?.unwrap_or(3).min(10) as u32;
    Ok((0..n).map(|i| Duration::from_secs(1 << i)).collect())
}

fn env_number(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| anyhow!("{name}={v:?} is not a whole number")),
        Err(_) => Ok(None),
    }
}

/// One download: where from, what it must hash to, where it goes.
pub struct Download<'a> {
    /// The URL as the profile or catalog gives it.
    pub url: &'a str,
    /// The expected SHA-256, 64 lowercase hex digits; `None` when the download is what
    /// establishes it (`stali update` of a kernel tarball), never for a build.
    pub sha256: Option<&'a str>,
    /// The final path in the cache; nothing appears there unless the hash matches.
    pub dest: &'a Path,
}

/// Schemes a download may start from or be redirected to.
pub fn is_http(url: &url::Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// How one attempt failed.
enum Failure {
    /// Worth another try (network error, 5xx, 408, 429, a body cut short); the partial
    /// file is kept so the next try resumes. `after` is the server's Retry-After.
    Transient(anyhow::Error, Option<Duration>),
    /// Final: retrying cannot help (4xx, a bad redirect, over the cap).
    Fatal(anyhow::Error),
}

/// Downloads `d.url` into `d.dest`: retried after each of `retry_delays` on transient
/// errors, resumed from the partial file a previous attempt (or run) left, checked against
/// `d.sha256`, then renamed into place. On any final error nothing is left in the cache
/// but a partial file that can only be resumed, never used, and not even that when the
/// error is the content's (hash, size).
pub fn download(
    d: &Download<'_>,
    opts: &HttpOpts,
    retry_delays: &[Duration],
    progress: &Progress,
    note: &dyn Fn(&str),
) -> Result<String> {
    let start = url::Url::parse(d.url).with_context(|| format!("{} is not a valid URL", d.url))?;
    if !is_http(&start) {
        bail!(
            "{}: the scheme `{}` is not supported for downloads; use http, https or file",
            d.url,
            start.scheme()
        );
    }
    let dl = d
        .dest
        .parent()
        .context("the download destination has no folder")?;
    let partial_dir = dl.join("partial");
    fs::create_dir_all(&partial_dir)
        .with_context(|| format!("cannot create {}", partial_dir.display()))?;
    // One download of a given file at a time, whatever the number of builds.
    let id = match d.sha256 {
        Some(sha) => sha.to_string(),
        None => format!(
            "url-{}",
            &super::cache::sha256_bytes(d.url.as_bytes())[..16]
        ),
    };
    let _lock = super::cache::lock_file(&partial_dir.join(format!("{id}.lock")))?;
    if let Some(want) = d.sha256
        && d.dest.is_file()
        && super::cache::sha256_file(d.dest)? == want
    {
        return Ok(want.to_string());
    }
    let part = partial_dir.join(format!("{id}.part"));
    let mut attempt = 0;
    let mut fresh_retry_left = true;
    let sha = loop {
        let outcome = attempt_once(&start, &part, opts, progress).and_then(|resumed| {
            let got = super::cache::sha256_file(&part).map_err(Failure::Fatal)?;
            if d.sha256.is_none_or(|want| got == want) {
                Ok(Some(got))
            } else if resumed && fresh_retry_left {
                // A resumed file can be wrong where a fresh one is right (the file changed
                // on the server between the two parts): once more from the first byte.
                fresh_retry_left = false;
                let _ = fs::remove_file(&part);
                note(&format!(
                    "warning: {} resumed from an earlier partial download has the wrong SHA-256; downloading it again from the start",
                    d.url
                ));
                Ok(None)
            } else {
                Err(Failure::Fatal(anyhow!(
                    "{} has the wrong SHA-256:\n  expected {}\n  actual   {got}",
                    d.url,
                    d.sha256.unwrap_or_default()
                )))
            }
        });
        match outcome {
            Ok(Some(sha)) => break sha,
            Ok(None) => {}
            Err(Failure::Transient(e, after)) if attempt < retry_delays.len() => {
                let delay = after
                    .map(|a| a.min(Duration::from_secs(60)))
                    .unwrap_or_default()
                    .max(retry_delays[attempt]);
                attempt += 1;
                note(&format!(
                    "warning: downloading {}: {e:#}; retrying in {delay:?} (retry {attempt} of {})",
                    d.url,
                    retry_delays.len()
                ));
                std::thread::sleep(delay);
            }
            Err(Failure::Transient(e, _)) => {
                return Err(e.context(format!(
                    "downloading {} into {} failed after {} retries (the partial file {} is resumed next time)",
                    d.url,
                    d.dest.display(),
                    retry_delays.len(),
                    part.display()
                )));
            }
            Err(Failure::Fatal(e)) => {
                let _ = fs::remove_file(&part);
                return Err(e.context(format!(
                    "downloading {} into {}: nothing was kept",
                    d.url,
                    d.dest.display()
                )));
            }
        }
    };
    let f = fs::File::open(&part).with_context(|| format!("cannot open {}", part.display()))?;
    f.sync_all()
        .with_context(|| format!("cannot sync {}", part.display()))?;
    fs::rename(&part, d.dest)
        .with_context(|| format!("cannot move {} to {}", part.display(), d.dest.display()))?;
    Ok(sha)
}

/// The proxy for `url` from `https_proxy`/`http_proxy`/`all_proxy` (either case, lower
/// first, as curl reads them), unless `no_proxy`/`NO_PROXY` names its host.
pub fn proxy_for(url: &url::Url, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let get = |name: &str| {
        env(name)
            .or_else(|| env(&name.to_ascii_uppercase()))
            .filter(|v| !v.trim().is_empty())
    };
    if let Some(list) = get("no_proxy") {
        for entry in list
            .split([',', ' '])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            if entry == "*" {
                return None;
            }
            let entry = entry.trim_start_matches("*.").trim_start_matches('.');
            // `host:port` entries name the host; the port is not compared (curl does the same).
            let entry = match entry.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
                _ => entry,
            };
            let entry = entry.trim_start_matches('[').trim_end_matches(']');
            if host.eq_ignore_ascii_case(entry)
                || host
                    .to_ascii_lowercase()
                    .ends_with(&format!(".{}", entry.to_ascii_lowercase()))
            {
                return None;
            }
        }
    }
    let scheme = if url.scheme() == "https" {
        "https_proxy"
    } else {
        "http_proxy"
    };
    get(scheme).or_else(|| get("all_proxy"))
}

fn agent(url: &url::Url, opts: &HttpOpts) -> Result<ureq::Agent, Failure> {
    let proxy = match proxy_for(url, &|k| std::env::var(k).ok()) {
        Some(p) => Some(ureq::Proxy::new(&p).map_err(|e| {
            Failure::Fatal(anyhow!(
                "the proxy {p:?} from the environment is not usable: {e}"
            ))
        })?),
        None => None,
    };
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::NativeTls)
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let config = ureq::Agent::config_builder()
        .proxy(proxy)
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_connect(Some(opts.connect_timeout))
        .timeout_resolve(Some(opts.connect_timeout))
        .timeout_per_read(Some(opts.read_timeout))
        .timeout_recv_response(Some(opts.read_timeout))
        .user_agent(concat!("stali/", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(config.into())
}

fn transient(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Transient(e.into(), None)
}

/// Whether a ureq error is worth retrying: the network's fault, not the request's.
fn classify(e: ureq::Error) -> Failure {
    use ureq::Error as E;
    match e {
        E::Io(_)
        | E::Timeout(_)
        | E::HostNotFound
        | E::ConnectionFailed
        | E::Protocol(_)
        | E::BodyStalled
        | E::ConnectProxyFailed(_) => transient(anyhow!("{e}")),
        other => Failure::Fatal(anyhow!("{other}")),
    }
}

/// One attempt: follows redirects, resumes `part` when the server allows, appends the
/// body. True when it resumed a partial file.
fn attempt_once(
    start: &url::Url,
    part: &Path,
    opts: &HttpOpts,
    progress: &Progress,
) -> Result<bool, Failure> {
    let mut url = start.clone();
    for _ in 0..=MAX_REDIRECTS {
        let have = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        let agent = agent(&url, opts)?;
        let mut req = agent
            .get(url.as_str())
            .header("Accept-Encoding", "identity");
        if have > 0 {
            req = req.header("Range", format!("bytes={have}-"));
        }
        let resp = req.call().map_err(classify)?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        match status {
            301 | 302 | 303 | 307 | 308 => {
                let loc = header("location").ok_or_else(|| {
                    Failure::Fatal(anyhow!("{url} answered {status} without a Location"))
                })?;
                let next = url.join(&loc).map_err(|e| {
                    Failure::Fatal(anyhow!("{url} redirected to {loc:?}, not a URL: {e}"))
                })?;
                if !is_http(&next) {
                    return Err(Failure::Fatal(anyhow!(
                        "{url} redirected to {next}: only redirects to http and https are followed"
                    )));
                }
                url = next;
                continue;
            }
            200 | 206 => {}
            416 if have > 0 => {
                // The partial file is not a prefix the server knows: start over.
                let _ = fs::remove_file(part);
                return Err(transient(anyhow!(
                    "{url} refused to resume at byte {have}; starting over"
                )));
            }
            408 | 429 | 500..=599 => {
                let after = header("retry-after")
                    .and_then(|v| v.trim().parse().ok())
                    .map(Duration::from_secs);
                return Err(Failure::Transient(
                    anyhow!("{url} answered {status} {}", reason(status)),
                    after,
                ));
            }
            _ => {
                return Err(Failure::Fatal(anyhow!(
                    "{url} answered {status} {}",
                    reason(status)
                )));
            }
        }
        let length = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
        let (offset, total) = if status == 206 {
            let (from, total) = header("content-range")
                .as_deref()
                .and_then(content_range)
                .ok_or_else(|| {
                    Failure::Fatal(anyhow!("{url} answered 206 without a usable Content-Range"))
                })?;
            if from != have {
                let _ = fs::remove_file(part);
                return Err(transient(anyhow!(
                    "{url} resumed at byte {from}, not {have}; starting over"
                )));
            }
            (have, total.or(length.map(|l| l + have)))
        } else {
            (0, length)
        };
        if let Some(t) = total
            && t > opts.max_bytes
        {
            return Err(Failure::Fatal(anyhow!(
                "{url} is {t} bytes, more than the limit of {} bytes (STALI_HTTP_MAX_BYTES)",
                opts.max_bytes
            )));
        }
        let mut file = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(offset == 0)
            .open(part)
            .map_err(|e| Failure::Fatal(anyhow!("cannot open {}: {e}", part.display())))?;
        if offset > 0 {
            file.seek(std::io::SeekFrom::End(0))
                .map_err(|e| Failure::Fatal(anyhow!("cannot seek {}: {e}", part.display())))?;
        }
        let name = url.path().rsplit('/').next().unwrap_or("").to_string();
        let transfer = progress.transfer(&format!("download {name}"), total, offset);
        let mut body = resp.into_body().into_reader();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = offset;
        let started = Instant::now();
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = file.sync_all();
                    return Err(transient(anyhow!(
                        "the connection to {url} broke after {got} bytes: {e}"
                    )));
                }
            };
            got += n as u64;
            if got > opts.max_bytes {
                return Err(Failure::Fatal(anyhow!(
                    "{url} sent more than the limit of {} bytes (STALI_HTTP_MAX_BYTES)",
                    opts.max_bytes
                )));
            }
            file.write_all(&buf[..n])
                .map_err(|e| Failure::Fatal(anyhow!("cannot write {}: {e}", part.display())))?;
            transfer.set(got);
        }
        file.sync_all()
            .map_err(|e| Failure::Fatal(anyhow!("cannot sync {}: {e}", part.display())))?;
        if let Some(t) = total
            && got < t
        {
            return Err(transient(anyhow!("{url} ended after {got} of {t} bytes")));
        }
        transfer.finish(got, started.elapsed());
        return Ok(offset > 0);
    }
    Err(Failure::Fatal(anyhow!(
        "{start} redirected more than {MAX_REDIRECTS} times"
    )))
}

/// The body of a small page (a release listing) at `url`, following up to ten redirects to
/// http or https, at most `max` bytes, with the same timeouts, proxies and certificates as
/// downloads.
pub fn get_page(url: &str, opts: &HttpOpts, max: u64) -> Result<String> {
    let mut u = url::Url::parse(url).with_context(|| format!("{url} is not a valid URL"))?;
    for _ in 0..=MAX_REDIRECTS {
        if !is_http(&u) {
            bail!("{u}: only http and https pages can be read");
        }
        let agent = agent(&u, opts).map_err(|f| match f {
            Failure::Transient(e, _) | Failure::Fatal(e) => e,
        })?;
        let resp = agent
            .get(u.as_str())
            .call()
            .map_err(|e| anyhow!("reading {u}: {e}"))?;
        let status = resp.status().as_u16();
        if (300..400).contains(&status) {
            let loc = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .with_context(|| format!("{u} answered {status} without a Location"))?;
            u = u
                .join(loc)
                .with_context(|| format!("{u} redirected to {loc:?}"))?;
            continue;
        }
        if status != 200 {
            bail!("{u} answered {status} {}", reason(status));
        }
        let mut body = Vec::new();
        resp.into_body()
            .into_with_config()
            .limit(max)
            .reader()
            .read_to_end(&mut body)
            .with_context(|| format!("reading {u} (at most {max} bytes)"))?;
        return Ok(String::from_utf8_lossy(&body).into_owned());
    }
    bail!("{url} redirected more than {MAX_REDIRECTS} times")
}

/// `bytes FROM-TO/TOTAL` (TOTAL may be `*`) as (FROM, TOTAL).
fn content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim();
    let (range, total) = rest.split_once('/')?;
    let (from, _) = range.split_once('-')?;
    Some((from.trim().parse().ok()?, total.trim().parse().ok()))
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// Where partial downloads wait to be resumed, under the cache root.
pub fn partial_dir(cache_root: &Path) -> PathBuf {
    cache_root.join("dl").join("partial")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn proxies_follow_scheme_and_no_proxy() {
        let u = |s: &str| url::Url::parse(s).expect("url");
        let env = env_of(&[
            ("https_proxy", "http://p:3128"),
            ("HTTP_PROXY", "http://q:8080"),
            ("no_proxy", "localhost, .internal.example,10.0.0.1:80"),
        ]);
        assert_eq!(
            proxy_for(&u("https://kernel.org/x"), &env).as_deref(),
            Some("http://p:3128")
        );
        assert_eq!(
            proxy_for(&u("http://kernel.org/x"), &env).as_deref(),
            Some("http://q:8080")
        );
        assert_eq!(proxy_for(&u("http://localhost:8000/x"), &env), None);
        assert_eq!(proxy_for(&u("https://a.internal.example/x"), &env), None);
        assert_eq!(proxy_for(&u("http://10.0.0.1/x"), &env), None);
        assert_eq!(
            proxy_for(&u("https://notinternal.example/x"), &env).as_deref(),
            Some("http://p:3128")
        );
        let all = env_of(&[("ALL_PROXY", "http://all:1")]);
        assert_eq!(
            proxy_for(&u("https://x.org/"), &all).as_deref(),
            Some("http://all:1")
        );
        let star = env_of(&[("https_proxy", "http://p:1"), ("NO_PROXY", "*")]);
        assert_eq!(proxy_for(&u("https://x.org/"), &star), None);
    }

    #[test]
    fn content_ranges() {
        assert_eq!(content_range("bytes 100-199/200"), Some((100, Some(200))));
        assert_eq!(content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(content_range("items 1-2/3"), None);
    }
}
