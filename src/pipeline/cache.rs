//! The build cache: content keys for every stage and atomic publication of their outputs.
//!
//! Layout under the cache root (default `$XDG_CACHE_HOME/stali`):
//! `git/` and `src/` (fetched sources), `kernel-src/` (unpacked trees), `headers/KEY`
//! (kernel UAPI headers), `pkg/NAME-KEY/` (a package's staging tree and its record),
//! `kernel/KEY/` (a kbuild object folder), `logs/` (one log per step).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
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

/// Removes a folder if it exists.
pub fn remove_dir(p: &Path) -> Result<()> {
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", p.display())),
    }
}

/// Copies a tree (files, folders, symlinks), keeping modes; used to assemble sysroots,
/// fresh source trees and the root filesystem.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut entries: Vec<_> = fs::read_dir(from)
        .with_context(|| format!("cannot read {}", from.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot read {}", from.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let src = e.path();
        let dst = to.join(e.file_name());
        let ft = e
            .file_type()
            .with_context(|| format!("cannot stat {}", src.display()))?;
        if ft.is_dir() {
            copy_tree(&src, &dst)?;
            let perm = fs::metadata(&src)?.permissions();
            fs::set_permissions(&dst, perm)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&src)?;
            if dst.symlink_metadata().is_ok() {
                fs::remove_file(&dst)?;
            }
            std::os::unix::fs::symlink(&target, &dst)
                .with_context(|| format!("cannot link {}", dst.display()))?;
        } else {
            if dst.symlink_metadata().is_ok() {
                fs::remove_file(&dst)?;
            }
            fs::copy(&src, &dst)
                .with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
            // Keep the modification time: make compares them, and a release tarball's
            // generated files (configure, Makefile.in) must stay newer than their inputs.
            if let Ok(mtime) = fs::symlink_metadata(&src).and_then(|m| m.modified()) {
                // futimens needs ownership, not write permission: read-only files work.
                fs::File::open(&dst)
                    .and_then(|f| f.set_modified(mtime))
                    .with_context(|| format!("cannot set the time of {}", dst.display()))?;
            }
        }
    }
    Ok(())
}

/// Every file (not folder) below `root`, as paths relative to it, sorted.
pub fn files_below(root: &Path) -> Result<Vec<PathBuf>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for e in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let e = e?;
            let p = e.path();
            let ft = e.file_type()?;
            if ft.is_dir() {
                walk(root, &p, out)?;
            } else {
                out.push(p.strip_prefix(root).unwrap_or(&p).to_path_buf());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    if root.exists() {
        walk(root, root, &mut out)?;
    }
    out.sort();
    Ok(out)
}

/// Bytes of regular files below `root` (symlinks count as nothing).
pub fn tree_size(root: &Path) -> Result<u64> {
    let mut total = 0;
    for rel in files_below(root)? {
        let m = fs::symlink_metadata(root.join(&rel))?;
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
