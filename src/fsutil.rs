//! Writing files atomically (one helper for the pipeline's cache outputs and the UI's
//! profile saves) and file locks. It imports nothing from the crate, so every layer may
//! use it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The permission bits of a file written by [`persist`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Exactly these bits (cache outputs, ISOs and reports: `0o644`).
    Fixed(u32),
    /// Those of the file replaced; a new file gets 0666 less the umask, like any file an
    /// editor writes (profiles are meant to be shared).
    Shared,
}

/// Writes `path` atomically: `fill` writes a temporary file in the same folder, which
/// gets its `mode`, is synced and renamed into place, then the folder is synced. On error
/// nothing appears at `path` and no temporary file is left. The folder must exist.
pub fn persist(
    path: &Path,
    mode: Mode,
    fill: impl FnOnce(&mut fs::File) -> Result<()>,
) -> Result<()> {
    let dir = folder_of(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".stali-tmp-")
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    fill(tmp.as_file_mut())
        .with_context(|| format!("cannot write a temporary file in {}", dir.display()))?;
    let bits = match mode {
        Mode::Fixed(bits) => Some(fs::Permissions::from_mode(bits)),
        Mode::Shared => fs::metadata(path).ok().map(|m| m.permissions()),
    };
    if let Some(bits) = bits {
        fs::set_permissions(tmp.path(), bits)
            .with_context(|| format!("cannot set the permissions of {}", tmp.path().display()))?;
    }
    tmp.as_file()
        .sync_all()
        .context("cannot flush the temporary file to disk")?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot rename the temporary file to {}", path.display()))?;
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically with `mode` (see [`persist`]).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    persist(path, mode, |f| f.write_all(bytes).map_err(Into::into))
}

/// Copies `from` to `to` atomically with `mode` (see [`persist`]).
pub fn copy_atomic(from: &Path, to: &Path, mode: Mode) -> Result<()> {
    let mut src =
        fs::File::open(from).with_context(|| format!("cannot open {}", from.display()))?;
    persist(to, mode, |f| {
        std::io::copy(&mut src, f)
            .map(|_| ())
            .with_context(|| format!("cannot copy {}", from.display()))
    })
}

/// The folder `path` is in (`.` for a bare file name).
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Opens (creating) the lock file `path` and waits for an exclusive lock on it; the lock
/// is held until the returned file is dropped (or the process ends, however it ends).
pub fn lock_file(path: &Path) -> Result<fs::File> {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening the lock {}", path.display()))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn umask() -> u32 {
        let status = fs::read_to_string("/proc/self/status").expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
            .expect("Umask line")
    }

    fn mode_of(p: &Path) -> u32 {
        fs::metadata(p).expect("meta").permissions().mode() & 0o777
    }

    #[test]
    fn replaces_and_leaves_no_temporary_file() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("x.iso");
        write_atomic(&p, b"one", Mode::Fixed(0o644)).expect("write");
        write_atomic(&p, b"two", Mode::Fixed(0o644)).expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"two");
        assert_eq!(mode_of(&p), 0o644);
        assert_eq!(fs::read_dir(d.path()).expect("dir").count(), 1);
        let c = d.path().join("copy");
        copy_atomic(&p, &c, Mode::Fixed(0o600)).expect("copy");
        assert_eq!(fs::read(&c).expect("read"), b"two");
        assert_eq!(mode_of(&c), 0o600);
    }

    #[test]
    fn a_failed_fill_leaves_nothing() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("x");
        let e = persist(&p, Mode::Shared, |_| anyhow::bail!("disk full")).expect_err("fails");
        assert!(format!("{e:#}").contains("disk full"), "{e:#}");
        assert_eq!(fs::read_dir(d.path()).expect("dir").count(), 0);
        let missing = d.path().join("no/such/folder/x");
        assert!(write_atomic(&missing, b"x", Mode::Shared).is_err());
    }

    #[test]
    fn shared_files_follow_the_umask_or_keep_their_mode() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("new.toml");
        write_atomic(&p, b"format = 1\n", Mode::Shared).expect("write");
        assert_eq!(mode_of(&p), 0o666 & !umask());
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomic(&p, b"format = 1\n", Mode::Shared).expect("write");
        assert_eq!(mode_of(&p), 0o640, "an existing file keeps its mode");
    }
}
