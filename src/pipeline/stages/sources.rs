//! The sources stage: every tool's source and the kernel's, fetched into the cache (what
//! `stali build` does first, and all that `stali fetch` does).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use crate::model::profile::KernelSource;
use crate::model::{Plan, Source};
use crate::pipeline::cache;
use crate::pipeline::download::{HttpOpts, retry_delays_from_env};
use crate::pipeline::events::{BuildEvent, Reporter, StageTimer};
use crate::pipeline::exec::{Step, run_logged};
use crate::pipeline::fetch::{self, FetchOpts, tarball_cache_path};

/// One fetched source, as `stali fetch --json` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FetchedSource {
    /// The tool's name, or `kernel`.
    pub name: String,
    /// `git`, `tarball` or `path`.
    pub kind: &'static str,
    /// Where it comes from (URL or path).
    pub url: String,
    /// The pinned commit or the SHA-256.
    pub pin: String,
    /// Where it is in the cache (a checkout folder, a downloaded file, or the path itself).
    pub path: PathBuf,
}

/// Every source of a plan in the cache.
#[derive(Debug)]
pub struct Fetched {
    /// Each tool's unpacked source folder, by name.
    pub tools: BTreeMap<String, PathBuf>,
    /// The kernel source (a tree or a tarball) as kbuild's preparation takes it.
    pub kernel: PathBuf,
    /// What was fetched, tools first, the kernel last.
    pub list: Vec<FetchedSource>,
}

/// Fetch options for a build or `stali fetch`: the mirror, offline mode, HTTP limits from
/// the environment; downloads and notes (retries) are reported to `events`.
pub fn fetch_options(
    mirror: Option<PathBuf>,
    offline: bool,
    events: &Arc<dyn Reporter>,
) -> Result<FetchOpts> {
    let notes = events.clone();
    Ok(FetchOpts {
        mirror,
        offline,
        http: HttpOpts::from_env()?,
        retry_delays: retry_delays_from_env()?,
        events: Some(events.clone()),
        notify: Some(Arc::new(move |line: &str| {
            notes.event(&BuildEvent::Log {
                stage: "fetch".into(),
                line: line.into(),
            })
        })),
    })
}

/// Fetches every source of `plan` into the cache (what `stali build` does first, and all
/// that `stali fetch` does), so a later `--offline` build finds them.
pub fn fetch_sources(
    plan: &Plan,
    cache_root: &Path,
    fopts: &FetchOpts,
    logs: &Path,
    events: &dyn Reporter,
) -> Result<Fetched> {
    let timer = StageTimer::start(events, "fetch");
    events.event(&BuildEvent::Step {
        stage: "fetch".into(),
        what: format!("{} sources", plan.tools.len() + 1),
    });
    let mut tools = BTreeMap::new();
    let mut list = Vec::new();
    for t in &plan.tools {
        events.event(&BuildEvent::ItemStarted {
            stage: "fetch".into(),
            name: t.def.name.clone(),
        });
        let dir = fetch_source(&t.def.name, &t.def.source, cache_root, fopts, logs)
            .with_context(|| format!("fetching {} ({})", t.def.name, t.def.source.url()))?;
        let (kind, path) = match &t.def.source {
            Source::Git { .. } => ("git", dir.clone()),
            Source::Tarball { url, .. } => ("tarball", tarball_cache_path(cache_root, url)?),
        };
        list.push(FetchedSource {
            name: t.def.name.clone(),
            kind,
            url: t.def.source.url().to_string(),
            pin: t.def.source.pin().to_string(),
            path,
        });
        tools.insert(t.def.name.clone(), dir);
    }
    events.event(&BuildEvent::ItemStarted {
        stage: "fetch".into(),
        name: "kernel".into(),
    });
    let kernel = kernel_source(&plan.kernel.source, cache_root, fopts)?;
    let kpath = kernel.clone();
    let (kind, url, pin) = match &plan.kernel.source {
        KernelSource::Path(p) => ("path", p.display().to_string(), String::new()),
        KernelSource::Tarball { url, sha256 } => ("tarball", url.clone(), sha256.clone()),
        KernelSource::Git { url, rev } => ("git", url.clone(), rev.clone()),
    };
    list.push(FetchedSource {
        name: "kernel".into(),
        kind,
        url,
        pin,
        path: kpath,
    });
    timer.finish(false);
    Ok(Fetched {
        tools,
        kernel,
        list,
    })
}

fn fetch_tarball(url: &str, sha256: &str, cache_root: &Path, fopts: &FetchOpts) -> Result<PathBuf> {
    fetch::fetch_tarball(url, sha256, cache_root, fopts)
}

/// Fetches one source and returns a fresh-enough checkout folder (never modified by builds).
fn fetch_source(
    name: &str,
    src: &Source,
    cache_root: &Path,
    fopts: &FetchOpts,
    logs: &Path,
) -> Result<PathBuf> {
    match src {
        Source::Git { url, rev, exclude } => fetch::fetch_git(url, rev, exclude, cache_root, fopts),
        Source::Tarball { url, sha256 } => {
            let file = fetch_tarball(url, sha256, cache_root, fopts)?;
            let dir = cache_root
                .join("src")
                .join(format!("{name}-{}", &sha256[..16]));
            cache::make_entry(
                &dir,
                |d| d.join(".stali-complete").exists(),
                |tmp| {
                    run_logged(&Step::new(
                        [
                            "tar",
                            "-xf",
                            &file.display().to_string(),
                            "-C",
                            &tmp.display().to_string(),
                            "--strip-components=1",
                            "--no-same-owner",
                        ],
                        logs.join(format!("{name}-extract.log")),
                    ))
                    .with_context(|| format!("unpacking {}", file.display()))?;
                    let done = tmp.join(".stali-complete");
                    fs::write(&done, "").with_context(|| format!("cannot write {}", done.display()))
                },
            )?;
            Ok(dir)
        }
    }
}

fn kernel_source(src: &KernelSource, cache_root: &Path, fopts: &FetchOpts) -> Result<PathBuf> {
    Ok(match src {
        KernelSource::Path(p) => {
            if !p.exists() {
                let hint = if p.to_string_lossy().contains("linux-source-") {
                    " (on Debian: apt-get install linux-source-6.1)"
                } else {
                    ""
                };
                bail!("kernel source {} does not exist{hint}", p.display());
            }
            p.clone()
        }
        KernelSource::Tarball { url, sha256 } => {
            fetch_tarball(url, sha256, cache_root, fopts).context("fetching the kernel tarball")?
        }
        KernelSource::Git { url, rev } => {
            fetch::fetch_git(url, rev, &[], cache_root, fopts).context("fetching the kernel")?
        }
    })
}

/// What identifies the kernel source's content cheaply: the pin, or for a local path its
/// size and modification time (hashing 130 MB on every build would cost a second).
pub fn kernel_identity(src: &KernelSource, tree: &Path) -> Result<String> {
    Ok(match src {
        KernelSource::Tarball { sha256, .. } => format!("tarball:{sha256}"),
        KernelSource::Git { rev, .. } => format!("git:{rev}"),
        KernelSource::Path(p) => {
            let m = fs::metadata(p).with_context(|| format!("cannot stat {}", p.display()))?;
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs())
                .unwrap_or(0);
            format!(
                "path:{}:{}:{}:{}",
                p.display(),
                m.len(),
                mtime,
                tree.display()
            )
        }
    })
}
