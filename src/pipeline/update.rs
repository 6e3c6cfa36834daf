//! `stali update` and `stali outdated`: for each git source of a plan, the newest commit
//! its recipe tracks upstream (release tags or a branch head), how far it is from the pin,
//! and whether moving there is safe (forward along the history only).

use std::path::Path;

use anyhow::{Context, Result};

use super::fetch::{FetchOpts, Upstream, upstream};
use crate::model::track::{Track, compare_versions, is_prerelease};
use crate::model::{KernelSource, Plan, Source};

/// A commit and the version it is known as (a tag, a branch, or a short hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Version {
    /// The 40-hex commit.
    pub pin: String,
    /// A tag or branch naming it, else its first 12 hex digits.
    pub version: String,
}

/// What moving a pin to the tracked commit would be.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The pin is the newest tracked commit.
    Current,
    /// The tracked commit is ahead of the pin.
    Behind,
    /// The tracked commit is older than the pin (moved only with `--allow-downgrade`).
    Downgrade,
    /// The tracked history no longer contains the pin (a force-push): left alone.
    Diverged,
    /// Nothing matches what the recipe tracks.
    NoRelease,
    /// The recipe says nothing to track.
    Untracked,
}

/// One source's update.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Update {
    /// Tool name, or `kernel`.
    pub name: String,
    /// The source URL.
    pub url: String,
    /// The new URL, for a tarball source that moves (a kernel point release).
    pub new_url: Option<String>,
    /// What it tracks (`tags:v*`, `branch:master`).
    pub track: Option<String>,
    /// The pin now.
    pub old: Version,
    /// The newest tracked commit, when there is one.
    pub new: Option<Version>,
    /// What moving there would be.
    pub status: Status,
    /// Commits from the old pin to the new one (forward only).
    pub commits: usize,
    /// First lines of the newest of those commits' messages (at most five).
    pub log: Vec<String>,
}

impl Update {
    /// Whether the pin would move (forward, or backward when downgrades are allowed).
    pub fn moves(&self, allow_downgrade: bool) -> bool {
        self.status == Status::Behind || (allow_downgrade && self.status == Status::Downgrade)
    }
}

fn peel(repo: &git2::Repository, refname: &str) -> Option<git2::Oid> {
    repo.find_reference(refname)
        .ok()?
        .peel_to_commit()
        .ok()
        .map(|c| c.id())
}

/// Tags under the upstream's tag namespace, with the commits they name.
fn tags(up: &Upstream) -> Vec<(String, git2::Oid)> {
    let mut out = Vec::new();
    if let Ok(refs) = up.repo.references_glob(&format!("{}*", up.tags)) {
        for r in refs.flatten() {
            let Ok(name) = r.name() else { continue };
            let Some(tag) = name.strip_prefix(&up.tags) else {
                continue;
            };
            if let Some(id) = peel(&up.repo, name) {
                out.push((tag.to_string(), id));
            }
        }
    }
    out
}

/// The newest commit `track` follows in `up`: the highest non-pre-release tag matching the
/// pattern, or the branch head.
fn newest(up: &Upstream, track: &Track) -> Option<Version> {
    match track {
        Track::Branch(b) => peel(&up.repo, &format!("{}{b}", up.heads)).map(|id| Version {
            pin: id.to_string(),
            version: b.clone(),
        }),
        Track::Tags(_) => tags(up)
            .into_iter()
            .filter_map(|(t, id)| {
                let v = track.version_of(&t)?.to_string();
                (!is_prerelease(&v)).then_some((v, t, id))
            })
            .max_by(|a, b| compare_versions(&a.0, &b.0))
            .map(|(_, t, id)| Version {
                pin: id.to_string(),
                version: t,
            }),
    }
}

/// How `old` is known: a tag naming exactly it (one the track matches first), else its
/// short hash.
fn describe(up: &Upstream, old: &str, track: Option<&Track>) -> String {
    let all = tags(up);
    let at: Vec<&String> = all
        .iter()
        .filter(|(_, id)| id.to_string() == old)
        .map(|(t, _)| t)
        .collect();
    at.iter()
        .find(|t| track.is_some_and(|tr| tr.version_of(t).is_some()))
        .or(at.first())
        .map(|t| t.to_string())
        .unwrap_or_else(|| old[..old.len().min(12)].to_string())
}

/// Compares `old` with `new` in `up`'s history.
fn compare(up: &Upstream, old: &str, new: &Version) -> Result<(Status, usize, Vec<String>)> {
    if new.pin == old {
        return Ok((Status::Current, 0, Vec::new()));
    }
    let repo = &up.repo;
    let new_id = git2::Oid::from_str(&new.pin)?;
    let Ok(old_id) = git2::Oid::from_str(old) else {
        return Ok((Status::Diverged, 0, Vec::new()));
    };
    if repo.find_commit(old_id).is_err() {
        return Ok((Status::Diverged, 0, Vec::new()));
    }
    if repo.graph_descendant_of(new_id, old_id).unwrap_or(false) {
        let mut walk = repo.revwalk()?;
        walk.push(new_id)?;
        walk.hide(old_id)?;
        let ids: Vec<git2::Oid> = walk.flatten().collect();
        let log = ids
            .iter()
            .take(5)
            .filter_map(|id| repo.find_commit(*id).ok())
            .map(|c| {
                format!(
                    "{} {}",
                    &c.id().to_string()[..7],
                    c.summary().ok().flatten().unwrap_or("").trim()
                )
            })
            .collect();
        return Ok((Status::Behind, ids.len(), log));
    }
    if repo.graph_descendant_of(old_id, new_id).unwrap_or(false) {
        return Ok((Status::Downgrade, 0, Vec::new()));
    }
    // The pin may still sit in the cache from an earlier build: what counts is whether the
    // tracked history reaches it.
    Ok((Status::Diverged, 0, Vec::new()))
}

/// The kernel series a git kernel pin belongs to, as a track: `v6.1` or `v6.1.N` at the pin
/// gives `tags:v6.1.*` (stable point releases of the same series).
fn kernel_track(up: &Upstream, rev: &str) -> Option<Track> {
    tags(up).into_iter().find_map(|(t, id)| {
        if id.to_string() != rev {
            return None;
        }
        let v = t.strip_prefix('v')?;
        let mut it = v.split('.');
        let (major, minor) = (it.next()?, it.next()?);
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        (numeric(major) && numeric(minor) && it.all(numeric))
            .then(|| Track::Tags(format!("v{major}.{minor}.*")))
    })
}

/// A kernel tarball's file name read as (series `MAJOR.MINOR`, point release, suffix):
/// `linux-6.1.119.tar.xz` is ("6.1", 119, "tar.xz"), `linux-6.1.tar.xz` is ("6.1", 0, ...).
pub fn kernel_tarball_version(file: &str) -> Option<(String, u64, String)> {
    let rest = file.strip_prefix("linux-")?;
    let (version, suffix) = rest.split_once(".tar.")?;
    if !["xz", "gz"].contains(&suffix) {
        return None;
    }
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| numeric(p)) {
        return None;
    }
    let point = parts.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((
        format!("{}.{}", parts[0], parts[1]),
        point,
        format!("tar.{suffix}"),
    ))
}

/// The newest point release of a kernel tarball's series in a release listing (an HTML
/// index: `listing`, else the tarball's own folder). With `download`, the new tarball is
/// downloaded into the cache and its SHA-256 computed from the file: never taken on trust.
fn kernel_tarball(
    url: &str,
    sha256: &str,
    listing: Option<&str>,
    download: bool,
    cache_dir: &Path,
    opts: &FetchOpts,
) -> Result<Update> {
    let file = url.rsplit('/').next().unwrap_or(url);
    let (series, point, suffix) = kernel_tarball_version(file).with_context(|| {
        format!("{file}: not a kernel release tarball name (linux-MAJOR.MINOR[.N].tar.xz or .gz)")
    })?;
    let base = match listing {
        Some(l) => url::Url::parse(l).with_context(|| format!("{l} is not a URL"))?,
        None => url::Url::parse(url)
            .and_then(|u| u.join("./"))
            .with_context(|| format!("{url} is not a URL"))?,
    };
    let page = super::download::get_page(base.as_str(), &opts.http, 16 << 20)?;
    let newest = page
        .split(['"', '\'', '<', '>', ' ', '\n'])
        .filter_map(|tok| {
            let name = tok.rsplit('/').next()?;
            let (s, n, x) = kernel_tarball_version(name)?;
            (s == series && x == suffix).then(|| (n, tok.to_string()))
        })
        .max_by_key(|(n, _)| *n);
    let version = |n: u64| {
        if n == 0 {
            series.clone()
        } else {
            format!("{series}.{n}")
        }
    };
    let old = Version {
        pin: sha256.to_string(),
        version: version(point),
    };
    let mut u = Update {
        name: "kernel".into(),
        url: url.into(),
        new_url: None,
        track: Some(format!("linux-{series}.*.{suffix} in {base}")),
        old,
        new: None,
        status: Status::NoRelease,
        commits: 0,
        log: Vec::new(),
    };
    let Some((n, href)) = newest else {
        return Ok(u);
    };
    let new_url = base
        .join(&href)
        .with_context(|| format!("{href} in {base}"))?;
    u.status = match n.cmp(&point) {
        std::cmp::Ordering::Equal => Status::Current,
        std::cmp::Ordering::Greater => Status::Behind,
        std::cmp::Ordering::Less => Status::Downgrade,
    };
    let mut pin = String::new();
    if download && u.status != Status::Current {
        let name = new_url.path().rsplit('/').next().unwrap_or("").to_string();
        let dest = cache_dir.join("dl").join(&name);
        std::fs::create_dir_all(cache_dir.join("dl"))?;
        pin = opts.download(&super::download::Download {
            url: new_url.as_str(),
            sha256: None,
            dest: &dest,
        })?;
    }
    u.new = Some(Version {
        pin,
        version: version(n),
    });
    u.new_url = Some(new_url.to_string());
    Ok(u)
}

/// Plans the update of every git source of `plan` (only those named in `only`, when given):
/// fetches each upstream's branches and tags and compares; a kernel tarball is compared
/// with the release listing (`kernel_listing`, else its own folder), and downloaded when
/// `download` (to compute the new SHA-256). Changes nothing on disk but the cache.
pub fn plan_updates(
    plan: &Plan,
    tracks: &[(String, Track)],
    only: &[String],
    (kernel_listing, download): (Option<&str>, bool),
    cache_dir: &Path,
    opts: &FetchOpts,
) -> Result<Vec<Update>> {
    let mut out = Vec::new();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    for t in &plan.tools {
        let Source::Git { url, rev, .. } = &t.def.source else {
            continue;
        };
        if !wanted(&t.def.name) {
            continue;
        }
        let track = tracks
            .iter()
            .rev()
            .find(|(n, _)| *n == t.def.name)
            .map(|(_, tr)| tr.clone())
            .or_else(|| t.def.track.clone());
        out.push(one(&t.def.name, url, rev, track, cache_dir, opts)?);
    }
    if let KernelSource::Git { url, rev } = &plan.kernel.source
        && wanted("kernel")
    {
        let up = upstream(url, cache_dir, opts).with_context(|| format!("the kernel ({url})"))?;
        let track = kernel_track(&up, rev);
        out.push(one_in(&up, "kernel", url, rev, track)?);
    }
    if let KernelSource::Tarball { url, sha256 } = &plan.kernel.source
        && wanted("kernel")
    {
        out.push(
            kernel_tarball(url, sha256, kernel_listing, download, cache_dir, opts)
                .with_context(|| format!("the kernel ({url})"))?,
        );
    }
    Ok(out)
}

fn one(
    name: &str,
    url: &str,
    rev: &str,
    track: Option<Track>,
    cache_dir: &Path,
    opts: &FetchOpts,
) -> Result<Update> {
    if track.is_none() {
        return Ok(Update {
            name: name.into(),
            url: url.into(),
            new_url: None,
            track: None,
            old: Version {
                pin: rev.into(),
                version: rev[..rev.len().min(12)].into(),
            },
            new: None,
            status: Status::Untracked,
            commits: 0,
            log: Vec::new(),
        });
    }
    let up = upstream(url, cache_dir, opts).with_context(|| format!("{name} ({url})"))?;
    one_in(&up, name, url, rev, track)
}

fn one_in(up: &Upstream, name: &str, url: &str, rev: &str, track: Option<Track>) -> Result<Update> {
    let old = Version {
        pin: rev.into(),
        version: describe(up, rev, track.as_ref()),
    };
    let new = track.as_ref().and_then(|tr| newest(up, tr));
    let (status, commits, log) = match (&track, &new) {
        (None, _) => (Status::Untracked, 0, Vec::new()),
        (Some(_), None) => (Status::NoRelease, 0, Vec::new()),
        (Some(_), Some(n)) => {
            compare(up, rev, n).with_context(|| format!("{name} in {}", up.from))?
        }
    };
    Ok(Update {
        name: name.into(),
        url: url.into(),
        new_url: None,
        track: track.map(|t| t.to_string()),
        old,
        new,
        status,
        commits,
        log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_tarball_names() {
        assert_eq!(
            kernel_tarball_version("linux-6.1.119.tar.xz"),
            Some(("6.1".into(), 119, "tar.xz".into()))
        );
        assert_eq!(
            kernel_tarball_version("linux-6.1.tar.gz"),
            Some(("6.1".into(), 0, "tar.gz".into()))
        );
        for bad in [
            "linux-6.1.1-rc1.tar.xz",
            "linux-6.tar.xz",
            "linux-6.1.1.tar.bz2",
            "x.tar.xz",
        ] {
            assert_eq!(kernel_tarball_version(bad), None, "{bad}");
        }
    }
}
