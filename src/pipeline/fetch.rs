//! Fetching sources: git commits (cached bare repos, pinned revisions,
//! mirrors, offline mode, retries) and tarballs (checked by SHA-256).

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use super::cache::sha256_file;
use super::events::{Plain, Reporter};

/// Receives plain-language progress notes (retries).
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

/// Options shared by the fetchers.
#[derive(Clone)]
pub struct FetchOpts {
    /// Local directory of repositories/files: a URL ending in `NAME` or
    /// `NAME.git` comes from `mirror/NAME` or `mirror/NAME.git` when present.
    pub mirror: Option<PathBuf>,
    /// Forbid the network: only local paths, the mirror and the cache.
    pub offline: bool,
    /// Delays between retries of transient network errors (default 1s, 2s, 4s).
    pub retry_delays: Vec<Duration>,
    /// Where retry notes go (standard error when `None`).
    pub notify: Option<Notify>,
    /// Timeouts and size cap of HTTP downloads.
    pub http: super::download::HttpOpts,
    /// Where download progress goes (plain lines on standard error when `None`).
    pub events: Option<Arc<dyn Reporter>>,
}

impl Default for FetchOpts {
    fn default() -> Self {
        FetchOpts {
            mirror: None,
            offline: false,
            retry_delays: [1, 2, 4].map(Duration::from_secs).to_vec(),
            notify: None,
            http: super::download::HttpOpts::default(),
            events: None,
        }
    }
}

impl fmt::Debug for FetchOpts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchOpts")
            .field("mirror", &self.mirror)
            .field("offline", &self.offline)
            .field("retry_delays", &self.retry_delays)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl FetchOpts {
    /// Downloads `d` with these options' limits and retries, reporting to their reporter
    /// (plain lines when there is none); returns the file's SHA-256.
    pub fn download(&self, d: &super::download::Download<'_>) -> Result<String> {
        let plain;
        let events: &dyn Reporter = match &self.events {
            Some(e) => e.as_ref(),
            None => {
                plain = Plain::new();
                &plain
            }
        };
        super::download::download(d, &self.http, &self.retry_delays, events, &|m| self.note(m))
    }

    fn note(&self, msg: &str) {
        match &self.notify {
            Some(n) => n(msg),
            None => eprintln!("{msg}"),
        }
    }
}

/// The last path component of a URL without `.git` (e.g. `sbase`).
pub fn url_name(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let last = trimmed.rsplit(['/', ':']).next().unwrap_or(trimmed);
    let last = last.strip_suffix(".git").unwrap_or(last);
    let clean: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() || clean.starts_with('.') {
        format!("src{clean}")
    } else {
        clean
    }
}

fn short_hash(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))[..16].to_string()
}

/// The bare cache repository used for `url` under `cache_dir`.
pub fn cache_repo_path(cache_dir: &Path, url: &str) -> PathBuf {
    cache_dir
        .join("git")
        .join(format!("{}-{}", url_name(url), short_hash(url)))
}

/// True for URLs that need no network (file://, absolute or relative paths).
pub fn is_local_url(url: &str) -> bool {
    url.starts_with("file://")
        || url.starts_with('/')
        || url.starts_with("./")
        || url.starts_with("../")
        || (!url.contains("://") && !url.contains(':'))
}

/// The mirror copy of `url` (`mirror/NAME` or `mirror/NAME.git`), if present.
fn mirror_for(mirror: Option<&Path>, url: &str) -> Option<PathBuf> {
    let m = mirror?;
    let name = url_name(url);
    [m.join(&name), m.join(format!("{name}.git"))]
        .into_iter()
        .find(|p| p.exists())
}

fn is_transient(e: &git2::Error) -> bool {
    matches!(
        e.class(),
        git2::ErrorClass::Net
            | git2::ErrorClass::Http
            | git2::ErrorClass::Ssl
            // Socket errors (connection refused/reset) come as Os; only
            // remote URLs are ever retried, so this never hides a local problem.
            | git2::ErrorClass::Os
    ) || e.message().contains("timed out")
}

/// Runs a fetch, retrying transient network errors after each delay.
fn with_retries(
    opts: &FetchOpts,
    url: &str,
    local: bool,
    mut f: impl FnMut() -> std::result::Result<(), git2::Error>,
) -> std::result::Result<(), git2::Error> {
    let mut attempt = 0;
    loop {
        match f() {
            Ok(()) => return Ok(()),
            Err(e) if !local && is_transient(&e) && attempt < opts.retry_delays.len() => {
                let delay = opts.retry_delays[attempt];
                attempt += 1;
                opts.note(&format!(
                    "warning: network error fetching {url}: {}; retrying in {delay:?} (retry {attempt} of {})",
                    e.message(),
                    opts.retry_delays.len()
                ));
                std::thread::sleep(delay);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Fetches commit `rev` (40 hex digits) of the git repository at `url` and
/// returns a clean checkout of it at `cache_dir/src/<name>-<rev>`.
///
/// Paths listed in `exclude` (relative, `/`-separated; a directory excludes
/// everything under it) are left out of the checkout and need not exist in
/// the source at all, so a mirror without large test files still serves.
/// Submodules (gitlinks) are not fetched: their folders are left empty, as
/// `git clone` without `--recurse-submodules` leaves them.
pub fn fetch_git(
    url: &str,
    rev: &str,
    exclude: &[String],
    cache_dir: &Path,
    opts: &FetchOpts,
) -> Result<PathBuf> {
    if rev.len() != 40 || !rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("git revision {rev:?} for {url} must be a full 40-digit commit id");
    }
    for x in exclude {
        if !crate::model::catalog::valid_exclude(x) {
            bail!(
                "excluded path {x:?} for {url} must be relative, `/`-separated, without `.` or `..`"
            );
        }
    }
    let rev = rev.to_ascii_lowercase();
    let oid = git2::Oid::from_str(&rev).with_context(|| format!("parsing commit id {rev}"))?;
    let name = url_name(url);
    let src_root = cache_dir.join("src");
    let dest = if exclude.is_empty() {
        src_root.join(format!("{name}-{rev}"))
    } else {
        src_root.join(format!(
            "{name}-{rev}-x{}",
            &short_hash(&exclude.join("\n"))[..8]
        ))
    };
    if dest.is_dir() {
        return Ok(dest);
    }

    let repo_path = cache_repo_path(cache_dir, url);
    // One run fetches into the repository and checks out at a time; another waits, then
    // usually finds the checkout made.
    let _lock = super::cache::lock_entry(&repo_path)?;
    if dest.is_dir() {
        return Ok(dest);
    }
    let repo = match git2::Repository::open_bare(&repo_path) {
        Ok(r) => r,
        Err(_) => {
            fs::create_dir_all(&repo_path)
                .with_context(|| format!("creating {}", repo_path.display()))?;
            git2::Repository::init_bare(&repo_path)
                .with_context(|| format!("creating cache repository {}", repo_path.display()))?
        }
    };

    if check_complete(&repo, oid, exclude).is_err() {
        fetch_into(&repo, url, &rev, oid, exclude, opts, &repo_path)?;
    }
    let commit = repo.find_commit(oid).map_err(|_| {
        anyhow::anyhow!(
            "commit {rev} is not in {url} (fetched the commit and all branches and tags); check the pinned revision"
        )
    })?;
    if commit.id() != oid {
        bail!(
            "fetched object {} is not the requested commit {rev}",
            commit.id()
        );
    }
    check_complete(&repo, oid, exclude).with_context(|| format!("{url} at {rev}"))?;

    fs::create_dir_all(&src_root).with_context(|| format!("creating {}", src_root.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".tmp-{name}-"))
        .tempdir_in(&src_root)
        .with_context(|| format!("creating a temporary directory in {}", src_root.display()))?;
    let mtime = std::time::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(commit.time().seconds()).unwrap_or(0));
    let tree = commit
        .tree()
        .with_context(|| format!("reading the tree of {rev}"))?;
    write_tree(&repo, &tree, tmp.path(), "", exclude, mtime)
        .with_context(|| format!("checking out {rev} of {url} into {}", tmp.path().display()))?;
    let tmp_path = tmp.keep();
    if let Err(e) = fs::rename(&tmp_path, &dest) {
        let _ = fs::remove_dir_all(&tmp_path);
        if !dest.is_dir() {
            return Err(e).with_context(|| format!("renaming checkout into {}", dest.display()));
        }
    }
    Ok(dest)
}

fn excluded(path: &str, exclude: &[String]) -> bool {
    exclude.iter().any(|x| {
        path == x
            || (path.len() > x.len()
                && path.starts_with(x.as_str())
                && path.as_bytes()[x.len()] == b'/')
    })
}

fn join_path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// A file (or folder) a checkout needs that a repository lacks.
#[derive(Debug)]
struct Incomplete {
    path: String,
    id: git2::Oid,
}

impl fmt::Display for Incomplete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the source lacks {} (object {}): it is incomplete (a partial clone, or a snapshot without large files); if the build never reads it, the recipe can leave it out with exclude = [\"{}\"]",
            self.path, self.id, self.path
        )
    }
}

impl std::error::Error for Incomplete {}

/// Calls `visit` on every object the checkout of tree `id` needs in `repo` (paths under
/// `exclude` and gitlinks skipped), children before the tree that holds them; a tree that
/// `repo` lacks ends the walk as [`Incomplete`].
fn walk_needed(
    repo: &git2::Repository,
    id: git2::Oid,
    prefix: &str,
    exclude: &[String],
    visit: &mut dyn FnMut(git2::Oid, &str) -> Result<()>,
) -> Result<()> {
    let shown = if prefix.is_empty() { "/" } else { prefix };
    let tree = repo.find_tree(id).map_err(|_| Incomplete {
        path: shown.to_string(),
        id,
    })?;
    for e in tree.iter() {
        let path = join_path(prefix, &String::from_utf8_lossy(e.name_bytes()));
        if excluded(&path, exclude) {
            continue;
        }
        match e.kind() {
            Some(git2::ObjectType::Tree) => walk_needed(repo, e.id(), &path, exclude, visit)?,
            Some(git2::ObjectType::Blob) => visit(e.id(), &path)?,
            // Gitlinks (submodules) point into another repository.
            _ => {}
        }
    }
    visit(id, shown)
}

/// Ok when `repo` holds commit `oid` and everything its checkout needs.
fn check_complete(repo: &git2::Repository, oid: git2::Oid, exclude: &[String]) -> Result<()> {
    let commit = repo.find_commit(oid).map_err(|_| Incomplete {
        path: "the commit".into(),
        id: oid,
    })?;
    let odb = repo.odb().context("opening the cache object database")?;
    walk_needed(repo, commit.tree_id(), "", exclude, &mut |id, path| {
        if odb.exists(id) {
            Ok(())
        } else {
            Err(Incomplete {
                path: path.to_string(),
                id,
            }
            .into())
        }
    })
}

/// Gets commit `oid` into the cache repository: copied object by object from a
/// local repository, or fetched over the network (shallow first).
fn fetch_into(
    repo: &git2::Repository,
    url: &str,
    rev: &str,
    oid: git2::Oid,
    exclude: &[String],
    opts: &FetchOpts,
    repo_path: &Path,
) -> Result<()> {
    let name = url_name(url);
    let mirrored = mirror_for(opts.mirror.as_deref(), url);
    let source = match &mirrored {
        Some(p) => p.display().to_string(),
        None => url.to_string(),
    };
    // Anonymous remotes apply `url.<base>.insteadOf` from the git config.
    let mut remote = repo
        .remote_anonymous(&source)
        .with_context(|| format!("setting up remote {source}"))?;
    let effective = remote.url().unwrap_or(&source).to_string();
    if is_local_url(&effective) {
        // Local: copy just what the commit needs. Git's local transport would
        // walk every ref, and one broken ref anywhere in the source would fail
        // the whole fetch.
        let path = effective.strip_prefix("file://").unwrap_or(&effective);
        let src = git2::Repository::open(path)
            .with_context(|| format!("opening the git repository {path} (for {url})"))?;
        return copy_commit(&src, repo, oid, exclude).with_context(|| {
            format!(
                "copying commit {rev} from {path} into {}",
                repo_path.display()
            )
        });
    }
    if opts.offline {
        let looked = match &opts.mirror {
            Some(m) => format!(
                "; no mirror copy at {} or {}.git",
                m.join(&name).display(),
                m.join(&name).display()
            ),
            None => String::new(),
        };
        bail!(
            "offline: cannot fetch {url} (commit {rev}): it is not in the cache {}{looked}",
            repo_path.display()
        );
    }
    // 1) Just the commit, shallow.
    let shallow = with_retries(opts, &effective, false, || {
        let mut fo = git2::FetchOptions::new();
        fo.depth(1);
        fo.download_tags(git2::AutotagOption::None);
        remote.fetch(&[rev], Some(&mut fo), None)
    });
    if let Err(e) = &shallow
        && is_transient(e)
    {
        bail!(
            "network error fetching {effective} (gave up after {} retries): {}",
            opts.retry_delays.len(),
            e.message()
        );
    }
    if shallow.is_err() || repo.find_commit(oid).is_err() {
        // 2) The server refused (or the transport cannot do it): fetch everything.
        let mut remote = repo
            .remote_anonymous(&source)
            .with_context(|| format!("setting up remote {source}"))?;
        with_retries(opts, &effective, false, || {
            let mut fo = git2::FetchOptions::new();
            fo.download_tags(git2::AutotagOption::All);
            remote.fetch(
                &[
                    "+refs/heads/*:refs/remotes/origin/*",
                    "+refs/tags/*:refs/tags/*",
                ],
                Some(&mut fo),
                None,
            )
        })
        .with_context(|| match &shallow {
            Err(e) => format!(
                "fetching {effective} (a shallow fetch of {rev} failed first: {})",
                e.message()
            ),
            Ok(()) => format!("fetching all branches and tags of {effective}"),
        })?;
    }
    Ok(())
}

/// Copies commit `oid`, its tree and every blob not under `exclude` from `src`
/// to `dst`, children before parents, so a commit present in `dst` means its
/// checkout is complete. History (parents) is not copied.
fn copy_commit(
    src: &git2::Repository,
    dst: &git2::Repository,
    oid: git2::Oid,
    exclude: &[String],
) -> Result<()> {
    let sodb = src.odb().context("opening the source object database")?;
    let dodb = dst.odb().context("opening the cache object database")?;
    let commit = src
        .find_commit(oid)
        .map_err(|_| anyhow::anyhow!("commit {oid} is not in {}", src.path().display()))?;
    let mut copy = |id: git2::Oid, path: &str| -> Result<()> {
        if dodb.exists(id) {
            return Ok(());
        }
        let obj = sodb.read(id).map_err(|_| Incomplete {
            path: path.to_string(),
            id,
        })?;
        dodb.write(obj.kind(), obj.data())
            .with_context(|| format!("writing object {id}"))?;
        Ok(())
    };
    walk_needed(src, commit.tree_id(), "", exclude, &mut copy)?;
    copy(oid, "the commit")
}

/// Writes `tree` into `dir` (which exists) the way `git archive` would: raw
/// blob contents, modes 644/755, symbolic links, every mtime the commit time,
/// gitlinks as empty folders; paths under `exclude` are skipped.
fn write_tree(
    repo: &git2::Repository,
    tree: &git2::Tree<'_>,
    dir: &Path,
    prefix: &str,
    exclude: &[String],
    mtime: std::time::SystemTime,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for e in tree.iter() {
        let raw = e.name_bytes();
        let name = std::str::from_utf8(raw)
            .map_err(|_| anyhow::anyhow!("a file name in {prefix:?} is not UTF-8"))?;
        if name.is_empty() || name == "." || name == ".." || name.contains('/') || name == ".git" {
            bail!("refusing to check out the entry {name:?} in {prefix:?}");
        }
        let path = join_path(prefix, name);
        if excluded(&path, exclude) {
            continue;
        }
        let target = dir.join(name);
        match (e.kind(), e.filemode()) {
            (Some(git2::ObjectType::Tree), _) => {
                fs::create_dir(&target)
                    .with_context(|| format!("creating {}", target.display()))?;
                let sub = repo
                    .find_tree(e.id())
                    .with_context(|| format!("reading the folder {path}"))?;
                write_tree(repo, &sub, &target, &path, exclude, mtime)?;
            }
            (Some(git2::ObjectType::Blob), mode) => {
                let blob = repo
                    .find_blob(e.id())
                    .with_context(|| format!("reading {path}"))?;
                if mode == 0o120000 {
                    let link = std::str::from_utf8(blob.content())
                        .map_err(|_| anyhow::anyhow!("the link target of {path} is not UTF-8"))?;
                    std::os::unix::fs::symlink(link, &target)
                        .with_context(|| format!("linking {}", target.display()))?;
                    continue;
                }
                // create_new: a crafted tree naming a file twice must not write
                // through a symbolic link it made first.
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                    .with_context(|| format!("creating {}", target.display()))?;
                f.write_all(blob.content())
                    .with_context(|| format!("writing {}", target.display()))?;
                let perm = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
                f.set_permissions(fs::Permissions::from_mode(perm))
                    .with_context(|| format!("setting the mode of {}", target.display()))?;
                f.set_modified(mtime)
                    .with_context(|| format!("setting the mtime of {}", target.display()))?;
            }
            // A gitlink: the submodule's folder, empty.
            _ => {
                fs::create_dir(&target).with_context(|| format!("creating {}", target.display()))?
            }
        }
    }
    Ok(())
}

/// An upstream repository whose branches and tags can be read: a local repository (a
/// mirror, a `file://` URL, a path) read in place, or the cache's bare copy of a remote
/// one with its refs fetched just now.
pub struct Upstream {
    /// The repository holding the refs and their history.
    pub repo: git2::Repository,
    /// Where branch heads are (`refs/heads/`, or a namespace of the cache copy).
    pub heads: String,
    /// Where tags are.
    pub tags: String,
    /// Where it was read from, for messages.
    pub from: String,
}

const UPSTREAM_NS: &str = "refs/stali/upstream/";

/// Reads the branches and tags of the git repository at `url` (honouring the mirror,
/// `insteadOf`, retries and offline mode like [`fetch_git`]); offline, a remote one's refs
/// are those fetched the last time, and it says so.
pub fn upstream(url: &str, cache_dir: &Path, opts: &FetchOpts) -> Result<Upstream> {
    let local = |path: &str, from: String| -> Result<Upstream> {
        let repo = git2::Repository::open(path)
            .with_context(|| format!("opening the git repository {path} (for {url})"))?;
        Ok(Upstream {
            repo,
            heads: "refs/heads/".into(),
            tags: "refs/tags/".into(),
            from,
        })
    };
    if let Some(m) = mirror_for(opts.mirror.as_deref(), url) {
        return local(
            &m.display().to_string(),
            format!("the mirror {}", m.display()),
        );
    }
    let repo_path = cache_repo_path(cache_dir, url);
    fs::create_dir_all(&repo_path).with_context(|| format!("creating {}", repo_path.display()))?;
    let repo = match git2::Repository::open_bare(&repo_path) {
        Ok(r) => r,
        Err(_) => git2::Repository::init_bare(&repo_path)
            .with_context(|| format!("creating cache repository {}", repo_path.display()))?,
    };
    let effective = repo
        .remote_anonymous(url)
        .with_context(|| format!("setting up remote {url}"))?
        .url()
        .unwrap_or(url)
        .to_string();
    if is_local_url(&effective) {
        let path = effective
            .strip_prefix("file://")
            .unwrap_or(&effective)
            .to_string();
        return local(&path, path.clone());
    }
    let heads = format!("{UPSTREAM_NS}heads/");
    let tags = format!("{UPSTREAM_NS}tags/");
    if opts.offline {
        let known = repo
            .references_glob(&format!("{UPSTREAM_NS}*"))
            .map(|r| r.count())
            .unwrap_or(0);
        if known == 0 {
            bail!(
                "{url}: offline, and its branches and tags were never fetched into {}",
                repo_path.display()
            );
        }
        opts.note(&format!(
            "warning: offline: the branches and tags of {url} are those fetched last time into {}",
            repo_path.display()
        ));
        return Ok(Upstream {
            repo,
            heads,
            tags,
            from: repo_path.display().to_string(),
        });
    }
    // Refs the upstream deleted or moved must not survive: start from none.
    let old: Vec<String> = repo
        .references_glob(&format!("{UPSTREAM_NS}*"))
        .map(|refs| {
            refs.flatten()
                .filter_map(|r| r.name().ok().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for name in old {
        if let Ok(mut r) = repo.find_reference(&name) {
            let _ = r.delete();
        }
    }
    with_retries(opts, url, false, || {
        let mut remote = repo.remote_anonymous(url)?;
        let mut fo = git2::FetchOptions::new();
        fo.download_tags(git2::AutotagOption::None);
        remote.fetch(
            &[
                format!("+refs/heads/*:{heads}*"),
                format!("+refs/tags/*:{tags}*"),
            ],
            Some(&mut fo),
            None,
        )
    })
    .map_err(|e| {
        anyhow::anyhow!(
            "fetching the branches and tags of {effective}: {}",
            e.message()
        )
    })?;
    Ok(Upstream {
        repo,
        heads,
        tags,
        from: effective,
    })
}

/// `url` rewritten by git's `url.<base>.insteadOf` settings (the longest matching prefix
/// wins, as in git), so one git configuration points git and tarball sources at a mirror.
pub fn instead_of(url: &str) -> String {
    let Ok(config) = git2::Config::open_default() else {
        return url.to_string();
    };
    let mut best: Option<(usize, String)> = None;
    if let Ok(mut entries) = config.entries(Some(r"url\..*\.insteadof")) {
        while let Some(Ok(e)) = entries.next() {
            let (Ok(name), Ok(prefix)) = (e.name(), e.value()) else {
                continue;
            };
            let Some(base) = name
                .strip_prefix("url.")
                .and_then(|n| n.get(..n.len().saturating_sub(".insteadof".len())))
            else {
                continue;
            };
            if url.starts_with(prefix) && best.as_ref().is_none_or(|(l, _)| prefix.len() > *l) {
                best = Some((prefix.len(), format!("{base}{}", &url[prefix.len()..])));
            }
        }
    }
    best.map(|(_, u)| u).unwrap_or_else(|| url.to_string())
}

/// The file name a tarball URL is cached under (its last path component).
pub fn tarball_name(url: &str) -> Result<String> {
    Ok(url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != ".." && !n.contains(':'))
        .with_context(|| format!("cannot tell a file name from URL {url}"))?
        .to_string())
}

/// Where a tarball URL is cached under `cache_dir`.
pub fn tarball_cache_path(cache_dir: &Path, url: &str) -> Result<PathBuf> {
    Ok(cache_dir.join("dl").join(tarball_name(url)?))
}

/// Gets a tarball by SHA-256 into `cache_dir/dl/<name>`: an already cached copy, a
/// `file://` URL or absolute path, `mirror/<name>`, or (unless offline) a download over
/// http or https. The hash is checked before the file is used; a wrong file is never kept.
pub fn fetch_tarball(
    url: &str,
    sha256: &str,
    cache_dir: &Path,
    opts: &FetchOpts,
) -> Result<PathBuf> {
    let want = sha256.trim().to_ascii_lowercase();
    if want.len() != 64 || !want.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("SHA-256 {sha256:?} for {url} must be 64 hex digits");
    }
    if let Some(problem) =
        crate::model::catalog::url_problem(url, crate::model::catalog::UrlKind::Tarball)
    {
        bail!("{problem}");
    }
    let local = if let Some(p) = url.strip_prefix("file://") {
        Some(PathBuf::from(p))
    } else if url.starts_with('/') {
        Some(PathBuf::from(url))
    } else {
        None
    };
    let cached = tarball_cache_path(cache_dir, url)?;
    let dl = cached
        .parent()
        .context("the download folder")?
        .to_path_buf();
    let mut mismatch = None;
    if cached.is_file() {
        let got = sha256_file(&cached)?;
        if got == want {
            return Ok(cached);
        }
        mismatch = Some((cached.clone(), got));
    }
    let mut candidates = Vec::new();
    candidates.extend(local.clone());
    if let Some(m) = &opts.mirror {
        candidates.push(m.join(tarball_name(url)?));
    }
    for cand in candidates.iter().filter(|c| c.is_file()) {
        let got = sha256_file(cand)?;
        if got != want {
            mismatch = Some((cand.clone(), got));
            continue;
        }
        fs::create_dir_all(&dl).with_context(|| format!("creating {}", dl.display()))?;
        super::cache::copy_atomic(cand, &cached)?;
        return Ok(cached);
    }
    if local.is_none() && !opts.offline {
        fs::create_dir_all(&dl).with_context(|| format!("creating {}", dl.display()))?;
        let effective = instead_of(url);
        if effective != url {
            opts.note(&format!(
                "{url}: from {effective} (url.insteadOf in the git configuration)"
            ));
        }
        opts.download(&super::download::Download {
            url: &effective,
            sha256: Some(&want),
            dest: &cached,
        })?;
        return Ok(cached);
    }
    if let Some((path, got)) = mismatch {
        bail!(
            "{} has the wrong SHA-256 for {url}:\n  expected {want}\n  actual   {got}",
            path.display()
        );
    }
    match local {
        Some(p) => bail!("{} does not exist", p.display()),
        None => bail!(
            "cannot download {url}: offline; put the file at {}",
            cached.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Makes a non-bare repo with two commits; returns (path, first, second).
    fn make_repo(dir: &Path) -> (PathBuf, String, String) {
        let repo = git2::Repository::init(dir).expect("init");
        let sig =
            git2::Signature::new("t", "t@example.invalid", &git2::Time::new(1_700_000_000, 0))
                .expect("sig");
        let mut parents: Vec<git2::Oid> = Vec::new();
        for (i, content) in ["one\n", "two\n"].iter().enumerate() {
            fs::write(dir.join("file.txt"), content).expect("write");
            fs::create_dir_all(dir.join("sub")).expect("mkdir");
            fs::write(dir.join("sub/n.txt"), format!("{i}\n")).expect("write");
            let mut idx = repo.index().expect("index");
            idx.add_path(Path::new("file.txt")).expect("add");
            idx.add_path(Path::new("sub/n.txt")).expect("add");
            idx.write().expect("write index");
            let tree = repo
                .find_tree(idx.write_tree().expect("tree"))
                .expect("tree");
            let parent_commits: Vec<git2::Commit> = parents
                .iter()
                .map(|p| repo.find_commit(*p).expect("parent"))
                .collect();
            let refs: Vec<&git2::Commit> = parent_commits.iter().collect();
            let oid = repo
                .commit(Some("HEAD"), &sig, &sig, "c", &tree, &refs)
                .expect("commit");
            parents = vec![oid];
        }
        let head = parents[0].to_string();
        let first = repo
            .find_commit(parents[0])
            .expect("head")
            .parent_id(0)
            .expect("parent")
            .to_string();
        (dir.to_path_buf(), first, head)
    }

    fn quiet() -> FetchOpts {
        FetchOpts {
            notify: Some(Arc::new(|_| {})),
            ..FetchOpts::default()
        }
    }

    #[test]
    fn names() {
        assert_eq!(url_name("https://git.suckless.org/sbase"), "sbase");
        assert_eq!(url_name("https://github.com/a/b.git/"), "b");
        assert_eq!(url_name("git@host:x/ubase.git"), "ubase");
        assert!(is_local_url("file:///x") && is_local_url("/x") && !is_local_url("https://x"));
    }

    #[test]
    fn fetch_pinned_commit_over_file_url() {
        let d = tempfile::tempdir().expect("tempdir");
        let (repo, first, head) = make_repo(&d.path().join("proj"));
        let url = format!("file://{}", repo.display());
        let cache = d.path().join("cache");
        let out = fetch_git(&url, &first, &[], &cache, &quiet()).expect("fetch first");
        assert_eq!(out, cache.join("src").join(format!("proj-{first}")));
        assert_eq!(
            fs::read_to_string(out.join("file.txt")).expect("read"),
            "one\n"
        );
        assert_eq!(
            fs::read_to_string(out.join("sub/n.txt")).expect("read"),
            "0\n"
        );
        assert!(!out.join(".git").exists());
        let out2 = fetch_git(&url, &head, &[], &cache, &quiet()).expect("fetch head");
        assert_eq!(
            fs::read_to_string(out2.join("file.txt")).expect("read"),
            "two\n"
        );
        // No temp dirs left.
        let stray = fs::read_dir(cache.join("src"))
            .expect("ls")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            })
            .count();
        assert_eq!(stray, 0);

        // Offline: already cached commits (even with the checkout removed) work.
        fs::remove_dir_all(&out2).expect("rm");
        let offline = FetchOpts {
            offline: true,
            ..quiet()
        };
        fetch_git(&url, &head, &[], &cache, &offline).expect("offline from cache");
    }

    /// Commits the files under `dir` (a non-bare repo) plus `extra` tree
    /// entries (name, id, mode) at its top; returns the commit id.
    fn commit_all(dir: &Path, extra: &[(&str, git2::Oid, i32)]) -> git2::Oid {
        let repo = git2::Repository::open(dir).expect("open");
        let sig =
            git2::Signature::new("t", "t@example.invalid", &git2::Time::new(1_600_000_000, 0))
                .expect("sig");
        let mut idx = repo.index().expect("index");
        idx.add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .expect("add");
        let base = repo
            .find_tree(idx.write_tree().expect("tree"))
            .expect("tree");
        let mut tb = repo.treebuilder(Some(&base)).expect("treebuilder");
        for (name, id, mode) in extra {
            tb.insert(name, *id, *mode).expect("insert");
        }
        let tree = repo.find_tree(tb.write().expect("write")).expect("tree");
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, "c", &tree, &parents)
            .expect("commit")
    }

    /// Deletes the loose object `id` from the repository at `dir`.
    fn drop_object(dir: &Path, id: git2::Oid) {
        let hex = id.to_string();
        let path = dir.join(".git/objects").join(&hex[..2]).join(&hex[2..]);
        fs::remove_file(&path).expect("remove loose object");
    }

    #[test]
    fn broken_ref_elsewhere_does_not_matter() {
        // A mirror in which some other branch points at a missing commit
        // (a real case: a snapshot of curl). Git's local transport walks every
        // ref and fails; copying only the pinned commit does not.
        let d = tempfile::tempdir().expect("tempdir");
        let (repo, first, _) = make_repo(&d.path().join("mirror/proj"));
        let r = git2::Repository::open(&repo).expect("open");
        let head = r.head().expect("head").peel_to_commit().expect("commit");
        let sig = head.author();
        let side = r
            .commit(
                Some("refs/heads/side"),
                &sig,
                &sig,
                "side",
                &head.tree().expect("tree"),
                &[&head],
            )
            .expect("side commit");
        drop_object(&repo, side);
        let broken = git2::Repository::init_bare(d.path().join("probe")).expect("probe");
        let all = broken
            .remote_anonymous(&repo.display().to_string())
            .expect("remote")
            .fetch(&["+refs/heads/*:refs/remotes/o/*"], None, None);
        assert!(all.is_err(), "the fixture must break a fetch of all refs");

        let opts = FetchOpts {
            mirror: Some(d.path().join("mirror")),
            offline: true,
            ..quiet()
        };
        let out = fetch_git(
            "https://example.invalid/proj",
            &first,
            &[],
            &d.path().join("c"),
            &opts,
        )
        .expect("pinned commit from a mirror with a broken ref");
        assert_eq!(
            fs::read_to_string(out.join("file.txt")).expect("read"),
            "one\n"
        );
    }

    #[test]
    fn checkout_keeps_modes_links_and_leaves_submodules_empty() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("vis");
        git2::Repository::init(&dir).expect("init");
        fs::write(dir.join("configure"), "#!/bin/sh\n").expect("write");
        fs::set_permissions(dir.join("configure"), fs::Permissions::from_mode(0o755))
            .expect("chmod");
        fs::write(dir.join("main.c"), "int main(void){return 0;}\n").expect("write");
        std::os::unix::fs::symlink("main.c", dir.join("link.c")).expect("symlink");
        let sub = git2::Oid::from_str(&"ab".repeat(20)).expect("oid");
        let c = commit_all(&dir, &[("test", sub, 0o160000)]).to_string();
        let out = fetch_git(
            &format!("file://{}", dir.display()),
            &c,
            &[],
            &d.path().join("c"),
            &quiet(),
        )
        .expect("checkout with a gitlink");
        let mode = |p: &str| {
            fs::metadata(out.join(p))
                .expect("stat")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("configure"), 0o755);
        assert_eq!(mode("main.c"), 0o644);
        assert_eq!(
            fs::read_link(out.join("link.c")).expect("readlink"),
            PathBuf::from("main.c")
        );
        assert!(out.join("test").is_dir());
        assert_eq!(fs::read_dir(out.join("test")).expect("ls").count(), 0);
        // Every file carries the commit time, as `git archive` gives it.
        let mtime = fs::metadata(out.join("main.c"))
            .and_then(|m| m.modified())
            .expect("mtime")
            .duration_since(std::time::UNIX_EPOCH)
            .expect("epoch")
            .as_secs();
        assert_eq!(mtime, 1_600_000_000);
    }

    #[test]
    fn a_crafted_tree_cannot_write_through_its_own_link() {
        // A tree naming `x` twice: first a link to a file outside, then a file.
        let d = tempfile::tempdir().expect("tempdir");
        let victim = d.path().join("victim");
        fs::write(&victim, "safe\n").expect("write");
        let dir = d.path().join("evil");
        let repo = git2::Repository::init(&dir).expect("init");
        let link = repo
            .blob(victim.display().to_string().as_bytes())
            .expect("blob");
        let data = repo.blob(b"owned\n").expect("blob");
        let mut raw = Vec::new();
        for (mode, id) in [("120000", link), ("100644", data)] {
            raw.extend_from_slice(format!("{mode} x\0").as_bytes());
            raw.extend_from_slice(id.as_bytes());
        }
        let tree_id = repo
            .odb()
            .expect("odb")
            .write(git2::ObjectType::Tree, &raw)
            .expect("tree");
        let tree = repo.find_tree(tree_id).expect("tree");
        let sig = git2::Signature::now("t", "t@example.invalid").expect("sig");
        let c = repo
            .commit(Some("HEAD"), &sig, &sig, "evil", &tree, &[])
            .expect("commit");
        let r = fetch_git(
            &format!("file://{}", dir.display()),
            &c.to_string(),
            &[],
            &d.path().join("c"),
            &quiet(),
        );
        assert!(r.is_err(), "a tree with a duplicate name must be refused");
        assert_eq!(fs::read_to_string(&victim).expect("read"), "safe\n");
    }

    #[test]
    fn missing_blobs_are_named_and_can_be_excluded() {
        // A snapshot without large files (expat's testdata/largefiles).
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("mirror/libexpat");
        git2::Repository::init(&dir).expect("init");
        fs::create_dir_all(dir.join("testdata/largefiles")).expect("mkdir");
        fs::write(dir.join("testdata/largefiles/big.xml"), "<big/>\n").expect("write");
        fs::write(dir.join("testdata/small.xml"), "<s/>\n").expect("write");
        fs::write(dir.join("xmlparse.c"), "/* parser */\n").expect("write");
        let c = commit_all(&dir, &[]).to_string();
        let r = git2::Repository::open(&dir).expect("open");
        let big = r
            .revparse_single(&format!("{c}:testdata/largefiles/big.xml"))
            .expect("blob")
            .id();
        drop_object(&dir, big);
        let url = "https://github.com/libexpat/libexpat";
        let opts = FetchOpts {
            mirror: Some(d.path().join("mirror")),
            offline: true,
            ..quiet()
        };
        let cache = d.path().join("c");
        let e = format!(
            "{:#}",
            fetch_git(url, &c, &[], &cache, &opts).expect_err("blob missing")
        );
        assert!(
            e.contains("testdata/largefiles/big.xml")
                && e.contains(&big.to_string())
                && e.contains("exclude = [\"testdata/largefiles/big.xml\"]"),
            "{e}"
        );
        assert!(!cache.join("src").join(format!("libexpat-{c}")).exists());

        let exclude = vec!["testdata/largefiles".to_string()];
        let out = fetch_git(url, &c, &exclude, &cache, &opts).expect("excluded");
        assert!(out.ends_with(format!(
            "libexpat-{c}-x{}",
            &short_hash("testdata/largefiles")[..8]
        )));
        assert!(out.join("xmlparse.c").is_file());
        assert!(out.join("testdata/small.xml").is_file());
        assert!(!out.join("testdata/largefiles").exists());
        // A name that merely starts like an excluded folder is kept.
        assert!(!excluded("testdata/largefiles2/x", &exclude));
        assert!(excluded("testdata/largefiles/x", &exclude));

        let e = format!(
            "{:#}",
            fetch_git(url, &c, &["../etc".to_string()], &cache, &opts).expect_err("bad")
        );
        assert!(e.contains("must be relative"), "{e}");
    }

    #[test]
    fn wrong_rev_is_clear() {
        let d = tempfile::tempdir().expect("tempdir");
        let (repo, _, _) = make_repo(&d.path().join("proj"));
        let url = format!("file://{}", repo.display());
        let bad = "0123456789abcdef0123456789abcdef01234567";
        let e = format!(
            "{:#}",
            fetch_git(&url, bad, &[], &d.path().join("c"), &quiet()).expect_err("bad rev")
        );
        assert!(e.contains(bad) && e.contains("is not in"), "{e}");
        let e = format!(
            "{:#}",
            fetch_git(&url, "main", &[], &d.path().join("c"), &quiet()).expect_err("short rev")
        );
        assert!(e.contains("40-digit"), "{e}");
    }

    #[test]
    fn mirror_redirect_and_offline() {
        let d = tempfile::tempdir().expect("tempdir");
        let mirror = d.path().join("mirror");
        let (_, first, _) = make_repo(&mirror.join("sbase.git"));
        let url = "https://git.example.invalid/sbase";
        let opts = FetchOpts {
            mirror: Some(mirror.clone()),
            offline: true,
            ..quiet()
        };
        let out = fetch_git(url, &first, &[], &d.path().join("c"), &opts).expect("from mirror");
        assert_eq!(
            fs::read_to_string(out.join("file.txt")).expect("read"),
            "one\n"
        );

        // Offline, no mirror copy, nothing cached: the error names the source.
        let e = format!(
            "{:#}",
            fetch_git(
                "https://git.example.invalid/ubase",
                &first,
                &[],
                &d.path().join("c"),
                &opts
            )
            .expect_err("offline miss")
        );
        assert!(
            e.contains("offline") && e.contains("https://git.example.invalid/ubase"),
            "{e}"
        );
        assert!(e.contains("ubase.git"), "{e}");
    }

    #[test]
    fn instead_of_is_honoured() {
        let d = tempfile::tempdir().expect("tempdir");
        let (repo, first, _) = make_repo(&d.path().join("real/proj"));
        let cache = d.path().join("cache");
        let url = "https://example.invalid/proj";
        // Put the rule in the cache repo's config: the same config stack that
        // carries the user's ~/.gitconfig rules.
        let rp = cache_repo_path(&cache, url);
        fs::create_dir_all(&rp).expect("mkdir");
        let bare = git2::Repository::init_bare(&rp).expect("init bare");
        let base = format!("file://{}/", repo.parent().expect("parent").display());
        bare.config()
            .expect("config")
            .set_str(&format!("url.{base}.insteadOf"), "https://example.invalid/")
            .expect("set insteadOf");
        let opts = FetchOpts {
            offline: true,
            ..quiet()
        };
        let out = fetch_git(url, &first, &[], &cache, &opts).expect("rewritten to file://");
        assert_eq!(
            fs::read_to_string(out.join("file.txt")).expect("read"),
            "one\n"
        );
    }

    #[test]
    fn transient_errors_are_retried() {
        let d = tempfile::tempdir().expect("tempdir");
        let notes = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&notes);
        let opts = FetchOpts {
            retry_delays: vec![Duration::from_millis(10); 3],
            notify: Some(Arc::new(move |m| {
                sink.lock().expect("lock").push(m.to_string())
            })),
            ..FetchOpts::default()
        };
        // Port 9 (discard) on localhost: connection refused at once.
        let e = fetch_git(
            "http://127.0.0.1:9/nothing.git",
            &"1".repeat(40),
            &[],
            &d.path().join("c"),
            &opts,
        )
        .expect_err("refused");
        let notes = notes.lock().expect("lock");
        assert_eq!(notes.len(), 3, "{notes:?} / {e:#}");
        assert!(
            format!("{e:#}").contains("gave up after 3 retries"),
            "{e:#}"
        );
        assert!(
            notes[0].contains("retrying in 10ms (retry 1 of 3)"),
            "{notes:?}"
        );
    }

    #[test]
    fn tarballs() {
        let d = tempfile::tempdir().expect("tempdir");
        let file = d.path().join("pkg-1.0.tar.gz");
        fs::write(&file, b"not really a tarball").expect("write");
        let sha = sha256_file(&file).expect("sha");
        let cache = d.path().join("cache");
        let url = format!("file://{}", file.display());
        let offline = FetchOpts {
            offline: true,
            ..quiet()
        };
        let got = fetch_tarball(&url, &sha, &cache, &offline).expect("file url");
        assert_eq!(got, cache.join("dl/pkg-1.0.tar.gz"));
        // Cached now: works even for an http URL, offline.
        fetch_tarball("https://x.invalid/pkg-1.0.tar.gz", &sha, &cache, &offline).expect("cached");
        let e = format!(
            "{:#}",
            fetch_tarball(&url, &"ab".repeat(32), &d.path().join("c2"), &quiet())
                .expect_err("mismatch")
        );
        assert!(e.contains(&"ab".repeat(32)) && e.contains(&sha), "{e}");
        assert!(!d.path().join("c2/dl/pkg-1.0.tar.gz").exists());
        let mirror = d.path().join("m");
        fs::create_dir_all(&mirror).expect("mkdir");
        fs::copy(&file, mirror.join("pkg-1.0.tar.gz")).expect("copy");
        let with_mirror = FetchOpts {
            mirror: Some(mirror),
            ..quiet()
        };
        fetch_tarball(
            "https://x.invalid/pkg-1.0.tar.gz",
            &sha,
            &d.path().join("c3"),
            &with_mirror,
        )
        .expect("mirror");
        let e = format!(
            "{:#}",
            fetch_tarball("https://x.invalid/other.tar.xz", &sha, &cache, &offline)
                .expect_err("offline")
        );
        assert!(
            e.contains("put the file at") && e.contains("dl/other.tar.xz"),
            "{e}"
        );
        for bad in [
            "ftp://x.invalid/a.tar.gz",
            "gopher://x/b.tar.gz",
            "c.tar.gz",
        ] {
            let e = format!(
                "{:#}",
                fetch_tarball(bad, &sha, &cache, &quiet()).expect_err("scheme")
            );
            assert!(e.contains(bad) && e.contains("https"), "{e}");
        }
    }
}
