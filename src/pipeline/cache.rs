//! The build cache: content keys for every stage and atomic publication of their outputs.
//!
//! Layout under the cache root (default `$XDG_CACHE_HOME/stali`):
//! `git/` and `src/` (fetched sources), `kernel-src/` (unpacked trees), `headers/KEY`
//! (kernel UAPI headers), `pkg/NAME-KEY/` (a package's staging tree and its record),
//! `kernel/KEY/` (a kbuild object folder), `logs/` (one log per step).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cap_std::fs::Dir;
use sha2::{Digest, Sha256};

use crate::fsutil;

/// A cache key under construction: every input that affects a stage's output goes in.
#[derive(Clone, Default)]
pub struct Key(Sha256);

impl Key {
    /// A key for the stage called `stage`.
    pub fn new(stage: &str) -> Self {
        let mut k = Key(Sha256::new());
        k.add(stage);
        k
    }

    /// Adds one input (length-prefixed, so inputs cannot run into each other).
    pub fn add(&mut self, part: impl AsRef<[u8]>) -> &mut Self {
        let b = part.as_ref();
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }

    /// The key as 64 hex digits.
    pub fn hex(&self) -> String {
        hex::encode(self.0.clone().finalize())
    }

    /// The first 16 hex digits, for folder names.
    pub fn short(&self) -> String {
        self.hex()[..16].to_string()
    }
}

/// The sha256 of a file, as hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// The sha256 of bytes, as hex.
pub fn sha256_bytes(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The default cache root: `$XDG_CACHE_HOME/stali`, else `~/.cache/stali`.
pub fn default_root() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("stali"));
    }
    let home = std::env::var_os("HOME")
        .context("neither XDG_CACHE_HOME nor HOME is set; pass --cache DIR")?;
    Ok(PathBuf::from(home).join(".cache/stali"))
}

/// Writes `bytes` to `path` atomically as `rw-r--r--`, creating its folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    create_parent(path)?;
    fsutil::write_atomic(path, bytes, fsutil::Mode::Fixed(0o644))
}

/// Copies `from` to `to` atomically as `rw-r--r--`, creating its folder.
pub fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    create_parent(to)?;
    fsutil::copy_atomic(from, to, fsutil::Mode::Fixed(0o644))
}

fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => {
            fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))
        }
        _ => Ok(()),
    }
}

/// Replaces folder `to` by folder `from` (same file system): the cache never shows a
/// half-written output, and an interrupted stage leaves only a `.tmp` folder to redo.
pub fn publish_dir(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        fs::remove_dir_all(to).with_context(|| format!("cannot remove old {}", to.display()))?;
    }
    fs::rename(from, to)
        .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))
}

/// A run's use of a cache: a shared lock on `CACHE/.in-use`, held until dropped (or the
/// process ends, however it ends).
#[derive(Debug)]
pub struct CacheUse {
    _lock: fs::File,
    /// The stale temporary files and folders removed on entry.
    pub removed: Vec<PathBuf>,
}

/// Whether a cache entry's name is one of the pipeline's temporary names: `.tmp-NAME-*`
/// checkouts, `.tmp*` files of atomic writes, `.stali-iso-*.tmp` ISOs, `KEY.tmp` stage
/// folders.
fn is_temporary(name: &str) -> bool {
    name.starts_with(".tmp") || name.starts_with(".stali-iso-") || name.ends_with(".tmp")
}

/// Enters the cache at `root` for one run. When no other stali uses it (the exclusive
/// lock is free), the temporary files of interrupted runs are removed first: they are
/// nobody's any more, since a run holds its shared lock until it ends and its children
/// die with it. With another run in progress nothing is removed.
pub fn enter(root: &Path) -> Result<CacheUse> {
    use rustix::fs::{FlockOperation, flock};
    fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    let path = root.join(".in-use");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening the lock {}", path.display()))?;
    let mut removed = Vec::new();
    if flock(&f, FlockOperation::NonBlockingLockExclusive).is_ok() {
        let mut dirs = vec![root.to_path_buf()];
        if let Ok(rd) = fs::read_dir(root) {
            dirs.extend(
                rd.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
        for dir in dirs {
            let Ok(rd) = fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                if !is_temporary(&e.file_name().to_string_lossy()) {
                    continue;
                }
                let p = e.path();
                let gone = if e.file_type().is_ok_and(|t| t.is_dir()) {
                    remove_dir(&p).is_ok()
                } else {
                    fs::remove_file(&p).is_ok()
                };
                if gone {
                    removed.push(p);
                }
            }
        }
    }
    flock(&f, FlockOperation::LockShared).with_context(|| format!("locking {}", path.display()))?;
    Ok(CacheUse { _lock: f, removed })
}

pub use crate::fsutil::lock_file;

/// `path` with `suffix` added to its file name (`pkg/a.b-KEY` + `.tmp` is
/// `pkg/a.b-KEY.tmp`; `with_extension` would replace the `.b-KEY`).
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Waits for the exclusive lock of the cache entry `CACHE/KIND/NAME` (the file
/// `CACHE/locks/KIND/NAME.lock`, so the entries' folders hold entries only): one run makes
/// an entry while the others wait, then find it made.
pub fn lock_entry(entry: &Path) -> Result<fs::File> {
    let lock = match (entry.parent(), entry.file_name()) {
        (Some(kind_dir), Some(name)) => match (kind_dir.parent(), kind_dir.file_name()) {
            (Some(root), Some(kind)) => sibling(&root.join("locks").join(kind).join(name), ".lock"),
            _ => sibling(entry, ".lock"),
        },
        _ => sibling(entry, ".lock"),
    };
    create_parent(&lock)?;
    lock_file(&lock)
}

/// Makes the cache folder `entry` once, however many runs want it at the same time:
/// when `done(entry)` is false, under the entry's lock (and after checking again, since
/// another run may have made it meanwhile), `make` fills the empty folder `ENTRY.tmp`,
/// which is then renamed to `entry`. Returns whether this run made it.
pub fn make_entry(
    entry: &Path,
    done: impl Fn(&Path) -> bool,
    make: impl FnOnce(&Path) -> Result<()>,
) -> Result<bool> {
    if done(entry) {
        return Ok(false);
    }
    let _lock = lock_entry(entry)?;
    if done(entry) {
        return Ok(false);
    }
    let tmp = sibling(entry, ".tmp");
    remove_dir(&tmp)?;
    fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    make(&tmp)?;
    publish_dir(&tmp, entry)?;
    Ok(true)
}

/// Removes a folder if it exists.
pub fn remove_dir(p: &Path) -> Result<()> {
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", p.display())),
    }
}

/// Opens the folder `path` as a capability: every path below it is then resolved beneath
/// it (`cap-std`: openat2 `RESOLVE_BENEATH` where the kernel has it, a checked walk
/// elsewhere), so no link, absolute or `..`, leads out of it.
pub fn open_beneath(path: &Path) -> Result<Dir> {
    Dir::open_ambient_dir(path, cap_std::ambient_authority())
        .with_context(|| format!("cannot open the folder {}", path.display()))
}

/// The entries of `dir` (shown as `shown`), sorted by name, each with its type as the
/// folder lists it (a link is a link, never what it points at).
fn sorted_entries(
    dir: &Dir,
    shown: &Path,
) -> Result<Vec<(std::ffi::OsString, cap_std::fs::FileType)>> {
    let mut out = Vec::new();
    for e in dir
        .entries()
        .with_context(|| format!("cannot read {}", shown.display()))?
    {
        let e = e.with_context(|| format!("cannot read {}", shown.display()))?;
        let name = e.file_name();
        let ft = e
            .file_type()
            .with_context(|| format!("cannot stat {}", shown.join(&name).display()))?;
        out.push((name, ft));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Why a write to `rel` below the folder `shown` did not happen: when a link on the way
/// leads out of the folder, that link and its target are named.
pub fn beneath_error(dir: &Dir, shown: &Path, rel: &Path, e: std::io::Error) -> anyhow::Error {
    let mut at = PathBuf::new();
    for c in rel.components() {
        at.push(c);
        if let Ok(target) = dir.read_link_contents(&at) {
            return anyhow::anyhow!(
                "cannot write {}: {} is a link to {}, and stali never writes through a link that may leave the tree ({e})",
                shown.join(rel).display(),
                shown.join(&at).display(),
                target.display()
            );
        }
    }
    anyhow::Error::new(e).context(format!("cannot write {}", shown.join(rel).display()))
}

/// Copies a tree (files, folders, symlinks), keeping modes and modification times; used
/// to assemble sysroots, fresh source trees and kernel object folders. Both trees are
/// opened as capabilities ([`open_beneath`]): a link in `from` is copied as a link, and
/// nothing is written through a link of `to` that leads out of `to` (an error names it).
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    copy_tree_with(from, to, &mut |_, _, mode| mode)
}

/// A mode for an entry being copied: `(path relative to the tree, is a folder, mode)`
/// to the mode it gets.
pub type AdjustMode<'a> = dyn FnMut(&Path, bool, u32) -> u32 + 'a;

/// [`copy_tree`], each file's and folder's mode given by `adjust`.
pub fn copy_tree_with(from: &Path, to: &Path, adjust: &mut AdjustMode<'_>) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let (src, dst) = (open_beneath(from)?, open_beneath(to)?);
    copy_dir(&src, &dst, from, to, Path::new(""), adjust)
}

/// Copies the entries of `src` (the folder `from/rel`) into `to/rel`.
fn copy_dir(
    src: &Dir,
    dst: &Dir,
    from: &Path,
    to: &Path,
    rel: &Path,
    adjust: &mut AdjustMode<'_>,
) -> Result<()> {
    use cap_std::fs::PermissionsExt as _;
    for (name, ft) in sorted_entries(src, &from.join(rel))? {
        let r = rel.join(&name);
        let (s, d) = (from.join(&r), to.join(&r));
        let fail = |e: std::io::Error| beneath_error(dst, to, &r, e);
        let meta = src
            .symlink_metadata(&name)
            .with_context(|| format!("cannot stat {}", s.display()))?;
        let mode = meta.permissions().mode() & 0o7777;
        let existing = dst.symlink_metadata(&r).ok();
        if ft.is_dir() {
            match existing {
                Some(m) if m.is_dir() => {}
                // A link to a folder inside the tree is followed (the writes stay in it);
                // one that leads out, or to no folder, is named.
                Some(m) if m.is_symlink() => match dst.metadata(&r) {
                    Ok(t) if t.is_dir() => {}
                    Ok(_) => bail!(
                        "cannot copy the folder {} onto {}, a link to something that is not a folder",
                        s.display(),
                        d.display()
                    ),
                    Err(e) => return Err(fail(e)),
                },
                Some(_) => bail!(
                    "cannot copy the folder {} onto {}, which is not a folder",
                    s.display(),
                    d.display()
                ),
                None => dst.create_dir(&r).map_err(fail)?,
            }
            let sub = src
                .open_dir(&name)
                .with_context(|| format!("cannot open {}", s.display()))?;
            copy_dir(&sub, dst, from, to, &r, adjust)?;
            let mode = adjust(&r, true, mode);
            dst.set_permissions(&r, cap_std::fs::Permissions::from_mode(mode))
                .map_err(fail)?;
            continue;
        }
        if let Some(m) = existing {
            if m.is_dir() {
                bail!(
                    "cannot copy {} onto the folder {}",
                    s.display(),
                    d.display()
                );
            }
            dst.remove_file(&r).map_err(fail)?;
        }
        if ft.is_symlink() {
            let target = src
                .read_link_contents(&name)
                .with_context(|| format!("cannot read the link {}", s.display()))?;
            dst.symlink_contents(&target, &r).map_err(fail)?;
        } else if ft.is_file() {
            let mut input = src
                .open(&name)
                .with_context(|| format!("cannot open {}", s.display()))?
                .into_std();
            let mut out = dst
                .open_with(
                    &r,
                    cap_std::fs::OpenOptions::new().write(true).create_new(true),
                )
                .map_err(fail)?
                .into_std();
            std::io::copy(&mut input, &mut out)
                .with_context(|| format!("cannot copy {} to {}", s.display(), d.display()))?;
            out.set_permissions(fs::Permissions::from_mode(adjust(&r, false, mode)))
                .with_context(|| format!("cannot set the mode of {}", d.display()))?;
            // Keep the modification time: make compares them, and a release tarball's
            // generated files (configure, Makefile.in) must stay newer than their inputs.
            let mtime = meta
                .modified()
                .map(|t| t.into_std())
                .with_context(|| format!("cannot read the time of {}", s.display()))?;
            out.set_modified(mtime)
                .with_context(|| format!("cannot set the time of {}", d.display()))?;
        } else {
            bail!(
                "cannot copy {}: not a file, folder or link (a device, FIFO or socket)",
                s.display()
            );
        }
    }
    Ok(())
}

/// Every file (not folder) below `root`, as paths relative to it, sorted; links are
/// listed, never followed.
pub fn files_below(root: &Path) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Dir, shown: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for (name, ft) in sorted_entries(dir, &shown.join(rel))? {
            let r = rel.join(&name);
            if ft.is_dir() {
                let sub = dir
                    .open_dir(&name)
                    .with_context(|| format!("cannot open {}", shown.join(&r).display()))?;
                walk(&sub, shown, &r, out)?;
            } else {
                out.push(r);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    if root.exists() {
        walk(&open_beneath(root)?, root, Path::new(""), &mut out)?;
    }
    out.sort();
    Ok(out)
}

/// Bytes of regular files below `root` (symlinks count as nothing).
pub fn tree_size(root: &Path) -> Result<u64> {
    let mut total = 0;
    for rel in files_below(root)? {
        let p = root.join(&rel);
        let m = fs::symlink_metadata(&p).with_context(|| format!("cannot stat {}", p.display()))?;
        if m.is_file() {
            total += m.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_every_input_and_its_boundaries() {
        let mut a = Key::new("pkg");
        a.add("ab").add("c");
        let mut b = Key::new("pkg");
        b.add("a").add("bc");
        assert_ne!(a.hex(), b.hex());
        let mut c = Key::new("pkg");
        c.add("ab").add("c");
        assert_eq!(a.hex(), c.hex());
        assert_eq!(a.short().len(), 16);
    }

    #[test]
    fn entering_a_cache_removes_stale_temporaries_unless_another_run_uses_it() {
        let d = tempfile::tempdir().expect("tempdir");
        let root = d.path();
        let stale = [
            "src/.tmp-sbase-AbC123",
            "iso/.stali-iso-XyZ.tmp",
            "dl/.tmpQwErTy",
            "pkg/0123456789abcdef.tmp",
            "headers/fedcba9876543210.tmp",
        ];
        let kept = [
            "src/sbase-0123",
            "dl/partial",
            "iso/abc.iso",
            "pkg/0123456789abcdef",
        ];
        let make = |rel: &str| {
            let p = root.join(rel);
            if rel.ends_with(".tmp") || rel.contains(".tmp-") || rel.starts_with("src/") {
                fs::create_dir_all(p.join("inner")).expect("mkdir");
            } else {
                fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
                fs::write(&p, "x").expect("write");
            }
        };
        stale.iter().chain(&kept).for_each(|r| make(r));
        // Another run holds the cache (its shared lock): nothing is touched.
        let other = fs::File::create(root.join(".in-use")).expect("lock file");
        rustix::fs::flock(&other, rustix::fs::FlockOperation::LockShared).expect("flock");
        let second = enter(root).expect("enter while another run is in");
        assert!(second.removed.is_empty(), "{:?}", second.removed);
        assert!(stale.iter().all(|r| root.join(r).exists()));
        drop((other, second));
        // Alone: every temporary goes, nothing else does.
        let alone = enter(root).expect("enter");
        assert_eq!(alone.removed.len(), stale.len(), "{:?}", alone.removed);
        assert!(stale.iter().all(|r| !root.join(r).exists()));
        assert!(kept.iter().all(|r| root.join(r).exists()));
    }

    #[test]
    fn atomic_writes_create_their_folder() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("new/folder/x.iso");
        write_atomic(&p, b"one").expect("write");
        copy_atomic(&p, &d.path().join("other/y.iso")).expect("copy");
        assert_eq!(
            fs::read(d.path().join("other/y.iso")).expect("read"),
            b"one"
        );
    }

    #[test]
    fn copy_tree_never_writes_through_a_link_out_of_the_destination() {
        let d = tempfile::tempdir().expect("tempdir");
        let host = d.path().join("host");
        fs::create_dir_all(&host).expect("mkdir");
        // A sysroot where an earlier library installed `usr/include -> HOST`.
        let to = d.path().join("sysroot");
        fs::create_dir_all(to.join("usr")).expect("mkdir");
        std::os::unix::fs::symlink(&host, to.join("usr/include")).expect("link");
        let from = d.path().join("lib");
        fs::create_dir_all(from.join("usr/include/sys")).expect("mkdir");
        fs::write(from.join("usr/include/sys/x.h"), "x").expect("write");
        let err = copy_tree(&from, &to).expect_err("wrote through the link");
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&format!(
                "{} is a link to {}, and stali never writes through a link that may leave the tree",
                to.join("usr/include").display(),
                host.display()
            )),
            "{msg}"
        );
        assert_eq!(fs::read_dir(&host).expect("read").count(), 0);
        // A link inside the tree is followed: it stays in it.
        let inside = d.path().join("inside");
        fs::create_dir_all(inside.join("usr/real")).expect("mkdir");
        std::os::unix::fs::symlink("real", inside.join("usr/include")).expect("link");
        copy_tree(&from, &inside).expect("copy through an inner link");
        assert!(inside.join("usr/real/sys/x.h").is_file());
    }

    #[test]
    fn entry_locks_and_temporaries_are_named_after_the_entry() {
        let d = tempfile::tempdir().expect("tempdir");
        let entry = d.path().join("pkg/e2fs.progs-0123");
        assert_eq!(
            sibling(&entry, ".tmp"),
            d.path().join("pkg/e2fs.progs-0123.tmp")
        );
        drop(lock_entry(&entry).expect("lock"));
        assert!(d.path().join("locks/pkg/e2fs.progs-0123.lock").is_file());
        let other = d.path().join("pkg/other");
        assert!(
            make_entry(
                &other,
                |e| e.join("done").exists(),
                |tmp| { fs::write(tmp.join("done"), "").map_err(Into::into) }
            )
            .expect("make")
        );
        assert!(other.join("done").is_file() && !sibling(&other, ".tmp").exists());
        assert!(
            !make_entry(
                &other,
                |e| e.join("done").exists(),
                |_| { anyhow::bail!("made twice") }
            )
            .expect("found made")
        );
    }

    #[test]
    fn copy_tree_keeps_links_and_sizes() {
        let d = tempfile::tempdir().expect("tempdir");
        let a = d.path().join("a");
        fs::create_dir_all(a.join("bin")).expect("mkdir");
        fs::write(a.join("bin/box"), b"12345").expect("write");
        std::os::unix::fs::symlink("box", a.join("bin/ls")).expect("link");
        copy_tree(&a, &d.path().join("b")).expect("copy");
        assert_eq!(
            fs::read_link(d.path().join("b/bin/ls")).expect("link"),
            Path::new("box")
        );
        assert_eq!(tree_size(&d.path().join("b")).expect("size"), 5);
        assert_eq!(files_below(&d.path().join("b")).expect("files").len(), 2);
        let old = fs::metadata(a.join("bin/box"))
            .and_then(|m| m.modified())
            .expect("mtime");
        let new = fs::metadata(d.path().join("b/bin/box"))
            .and_then(|m| m.modified())
            .expect("mtime");
        assert_eq!(old, new, "copies keep modification times");
    }
}
