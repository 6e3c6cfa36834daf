//! Reproducible "newc" cpio writer for the initramfs.
//!
//! Entries are sorted by path bytes (`LC_ALL=C` order), owned by root,
//! stamped with one given mtime and numbered sequentially, so the same tree
//! always gives the same bytes whatever the disk's mtimes and owners are.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{Context, Result, bail};

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;
const S_IFBLK: u32 = 0o060000;
const S_IFIFO: u32 = 0o010000;

/// What an archive entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file with its contents.
    File(Vec<u8>),
    /// A symbolic link with its target.
    Symlink(Vec<u8>),
    /// A character device node (major, minor).
    CharDev(u32, u32),
    /// A block device node (major, minor).
    BlockDev(u32, u32),
    /// A named pipe.
    Fifo,
}

/// One entry of the archive: a path inside the image, permission bits and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpioEntry {
    /// Path inside the image, e.g. `/dev/console` or `dev/console`.
    pub path: String,
    /// Permission bits (`0o7777` mask), e.g. `0o600`.
    pub perm: u32,
    /// What the entry is.
    pub kind: EntryKind,
}

impl CpioEntry {
    /// A directory entry.
    pub fn dir(path: &str, perm: u32) -> Self {
        CpioEntry {
            path: path.to_string(),
            perm,
            kind: EntryKind::Dir,
        }
    }

    /// A character device entry.
    pub fn char_dev(path: &str, perm: u32, major: u32, minor: u32) -> Self {
        CpioEntry {
            path: path.to_string(),
            perm,
            kind: EntryKind::CharDev(major, minor),
        }
    }

    /// A regular file entry with the given contents.
    pub fn file(path: &str, perm: u32, data: impl Into<Vec<u8>>) -> Self {
        CpioEntry {
            path: path.to_string(),
            perm,
            kind: EntryKind::File(data.into()),
        }
    }

    /// A symlink entry pointing at `target`.
    pub fn symlink(path: &str, target: &str) -> Self {
        CpioEntry {
            path: path.to_string(),
            perm: 0o777,
            kind: EntryKind::Symlink(target.as_bytes().to_vec()),
        }
    }
}

/// The usual synthetic entries for an initramfs: `/dev` and `/dev/console`.
pub fn console_entries() -> Vec<CpioEntry> {
    vec![
        CpioEntry::dir("/dev", 0o755),
        CpioEntry::char_dev("/dev/console", 0o600, 5, 1),
    ]
}

fn normalize(path: &[u8]) -> Result<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => bail!(
                "cpio entry path {:?} contains `..`",
                String::from_utf8_lossy(path)
            ),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        bail!(
            "cpio entry path {:?} names the root",
            String::from_utf8_lossy(path)
        );
    }
    Ok(parts.join(&b'/'))
}

/// Adds the entries below `dir` (the folder `rel` of the tree at `root`) to `out`. The
/// tree is read as a capability ([`super::cache::open_beneath`]): a link is packed as a
/// link, and nothing is read through one that leads out of the tree.
fn walk(
    root: &Path,
    dir: &cap_std::fs::Dir,
    rel: &Path,
    out: &mut BTreeMap<Vec<u8>, (u32, EntryKind)>,
) -> Result<()> {
    use cap_std::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
    let shown = root.join(rel);
    let rd = dir
        .entries()
        .with_context(|| format!("reading directory {}", shown.display()))?;
    for ent in rd {
        let ent = ent.with_context(|| format!("reading directory {}", shown.display()))?;
        let name = ent.file_name();
        let path = shown.join(&name);
        let meta = dir
            .symlink_metadata(&name)
            .with_context(|| format!("reading metadata of {}", path.display()))?;
        let r = rel.join(&name);
        let perm = meta.permissions().mode() & 0o7777;
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_file() {
            EntryKind::File(
                dir.read(&name)
                    .with_context(|| format!("reading {}", path.display()))?,
            )
        } else if ft.is_symlink() {
            let t = dir
                .read_link_contents(&name)
                .with_context(|| format!("reading symlink {}", path.display()))?;
            EntryKind::Symlink(t.as_os_str().as_bytes().to_vec())
        } else if ft.is_char_device() || ft.is_block_device() {
            let rdev = meta.rdev();
            let (major, minor) = (dev_major(rdev), dev_minor(rdev));
            if ft.is_char_device() {
                EntryKind::CharDev(major, minor)
            } else {
                EntryKind::BlockDev(major, minor)
            }
        } else if ft.is_fifo() {
            EntryKind::Fifo
        } else {
            bail!("cannot put {} in a cpio archive (socket?)", path.display());
        };
        let is_dir = matches!(kind, EntryKind::Dir);
        out.insert(r.as_os_str().as_bytes().to_vec(), (perm, kind));
        if is_dir {
            let sub = dir
                .open_dir(&name)
                .with_context(|| format!("reading directory {}", path.display()))?;
            walk(root, &sub, &r, out)?;
        }
    }
    Ok(())
}

fn dev_major(rdev: u64) -> u32 {
    (((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0x0000_0fff)) as u32
}

fn dev_minor(rdev: u64) -> u32 {
    (((rdev >> 12) & 0xffff_ff00) | (rdev & 0x0000_00ff)) as u32
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[allow(clippy::too_many_arguments)]
fn header(
    out: &mut Vec<u8>,
    ino: u32,
    mode: u32,
    mtime: u32,
    filesize: u32,
    rmajor: u32,
    rminor: u32,
    name: &[u8],
) -> Result<()> {
    let namesize = u32::try_from(name.len() + 1).context("cpio entry name too long")?;
    let nlink = 1;
    write!(
        out,
        "070701{ino:08X}{mode:08X}{uid:08X}{gid:08X}{nlink:08X}{mtime:08X}{filesize:08X}\
         {dmaj:08X}{dmin:08X}{rmajor:08X}{rminor:08X}{namesize:08X}{check:08X}",
        uid = 0,
        gid = 0,
        dmaj = 0,
        dmin = 0,
        check = 0,
    )
    .context("formatting cpio header")?;
    out.extend_from_slice(name);
    out.push(0);
    pad4(out);
    Ok(())
}

/// Builds a newc archive in memory from the tree at `root` (if any) plus the
/// synthetic `extra` entries (which replace tree entries of the same path),
/// every entry stamped with `mtime_epoch`.
pub fn build_newc(root: Option<&Path>, extra: &[CpioEntry], mtime_epoch: u64) -> Result<Vec<u8>> {
    let mtime = u32::try_from(mtime_epoch)
        .with_context(|| format!("epoch {mtime_epoch} does not fit a newc mtime field"))?;
    let mut entries: BTreeMap<Vec<u8>, (u32, EntryKind)> = BTreeMap::new();
    if let Some(root) = root {
        let meta = fs::metadata(root)
            .with_context(|| format!("reading initramfs root {}", root.display()))?;
        if !meta.is_dir() {
            bail!("initramfs root {} is not a directory", root.display());
        }
        walk(
            root,
            &super::cache::open_beneath(root)?,
            Path::new(""),
            &mut entries,
        )?;
    }
    for e in extra {
        entries.insert(
            normalize(e.path.as_bytes())?,
            (e.perm & 0o7777, e.kind.clone()),
        );
    }
    let mut out = Vec::new();
    // BTreeMap<Vec<u8>> iterates in byte order: the LC_ALL=C order.
    for (ino, (name, (perm, kind))) in (1u32..).zip(entries.iter()) {
        let (ftype, data, rmaj, rmin): (u32, &[u8], u32, u32) = match kind {
            EntryKind::Dir => (S_IFDIR, &[], 0, 0),
            EntryKind::File(d) => (S_IFREG, d, 0, 0),
            EntryKind::Symlink(t) => (S_IFLNK, t, 0, 0),
            EntryKind::CharDev(a, b) => (S_IFCHR, &[], *a, *b),
            EntryKind::BlockDev(a, b) => (S_IFBLK, &[], *a, *b),
            EntryKind::Fifo => (S_IFIFO, &[], 0, 0),
        };
        let size = u32::try_from(data.len()).with_context(|| {
            format!(
                "{} is too large for a newc archive",
                String::from_utf8_lossy(name)
            )
        })?;
        header(
            &mut out,
            ino,
            (ftype & S_IFMT) | perm,
            mtime,
            size,
            rmaj,
            rmin,
            name,
        )?;
        out.extend_from_slice(data);
        pad4(&mut out);
    }
    header(&mut out, 0, 0, 0, 0, 0, 0, b"TRAILER!!!")?;
    Ok(out)
}

/// Writes the archive to `out` only when its content differs from what is
/// there (keeping the file's mtime otherwise, so `make` sees no change).
/// Returns true when the file was (re)written.
pub fn write_newc_if_changed(
    root: Option<&Path>,
    extra: &[CpioEntry],
    mtime_epoch: u64,
    out: &Path,
) -> Result<bool> {
    write_if_changed(&build_newc(root, extra, mtime_epoch)?, out)
}

/// Writes the archive `bytes` to `out` only when they differ from what is there (see
/// [`write_newc_if_changed`]). Returns true when the file was (re)written.
pub fn write_if_changed(bytes: &[u8], out: &Path) -> Result<bool> {
    if fs::read(out).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    super::cache::write_atomic(out, bytes)
        .with_context(|| format!("writing the cpio archive {}", out.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::time::{Duration, SystemTime};

    fn make_tree(dir: &Path, mtime: SystemTime) {
        fs::create_dir_all(dir.join("bin")).expect("mkdir");
        fs::create_dir_all(dir.join("etc/rc.d")).expect("mkdir");
        fs::create_dir_all(dir.join("a-b")).expect("mkdir");
        fs::write(dir.join("bin/init"), b"#!/bin/sh\necho hi\n").expect("write");
        fs::set_permissions(dir.join("bin/init"), fs::Permissions::from_mode(0o755))
            .expect("chmod");
        fs::write(dir.join("etc/hostname"), b"stali\n").expect("write");
        fs::write(dir.join("etc/rc.d/empty"), b"").expect("write");
        fs::write(dir.join("a-b/x"), b"12345").expect("write");
        symlink("init", dir.join("bin/sh")).expect("symlink");
        for p in [
            "bin/init",
            "etc/hostname",
            "etc/rc.d/empty",
            "a-b/x",
            "etc",
            "bin",
        ] {
            let f = fs::File::open(dir.join(p)).expect("open");
            f.set_modified(mtime).expect("set mtime");
        }
    }

    #[test]
    fn identical_bytes_from_different_copies() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        make_tree(
            a.path(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000),
        );
        make_tree(b.path(), SystemTime::now());
        let x = build_newc(Some(a.path()), &console_entries(), 1_700_000_000).expect("a");
        let y = build_newc(Some(b.path()), &console_entries(), 1_700_000_000).expect("b");
        assert_eq!(x, y);
        assert_eq!(x.len() % 4, 0);
        let z = build_newc(Some(b.path()), &console_entries(), 1_700_000_001).expect("c");
        assert_ne!(x, z);
    }

    #[test]
    fn gnu_cpio_lists_it() {
        let a = tempfile::tempdir().expect("tempdir");
        let tree = a.path().join("root");
        make_tree(&tree, SystemTime::now());
        let out = a.path().join("out/initramfs.cpio");
        assert!(write_newc_if_changed(Some(&tree), &console_entries(), 86400, &out).expect("w"));
        let mtime1 = fs::metadata(&out).expect("meta").modified().expect("mtime");
        assert!(!write_newc_if_changed(Some(&tree), &console_entries(), 86400, &out).expect("w"));
        let mtime2 = fs::metadata(&out).expect("meta").modified().expect("mtime");
        assert_eq!(mtime1, mtime2);

        let listing = duct::cmd!("cpio", "-t", "-v", "--quiet", "-F", &out)
            .env("LC_ALL", "C")
            .env("TZ", "UTC")
            .read()
            .expect("cpio -t -v runs");
        let lines: Vec<&str> = listing.lines().collect();
        let names: Vec<&str> = lines.iter().map(|l| entry_name(l)).collect();
        assert_eq!(
            names,
            [
                "a-b",
                "a-b/x",
                "bin",
                "bin/init",
                "bin/sh",
                "dev",
                "dev/console",
                "etc",
                "etc/hostname",
                "etc/rc.d",
                "etc/rc.d/empty"
            ],
            "{listing}"
        );
        fn entry_name(l: &str) -> &str {
            let rest = l.split_once(" 1970 ").expect("date column").1;
            rest.split(" -> ").next().expect("name")
        }
        let find = |n: &str| -> &str {
            lines
                .iter()
                .find(|l| entry_name(l) == n)
                .expect("entry present")
        };
        assert!(find("dev/console").starts_with("crw-------"), "{listing}");
        assert!(find("dev/console").contains(" 5,   1 "), "{listing}");
        assert!(
            find("bin/init")
                .starts_with("-rwxr-xr-x   1 root     root           18 Jan  2  1970 bin/init"),
            "{listing}"
        );
        assert!(find("bin/sh").starts_with("lrwxrwxrwx"), "{listing}");
        assert!(find("bin/sh").ends_with("bin/sh -> init"), "{listing}");
        assert!(find("dev").starts_with("drwxr-xr-x"), "{listing}");

        // Extract with GNU cpio and compare contents.
        let ex = a.path().join("extract");
        fs::create_dir_all(&ex).expect("mkdir");
        duct::cmd!(
            "cpio",
            "-i",
            "-d",
            "--quiet",
            "--no-absolute-filenames",
            "-F",
            &out
        )
        .dir(&ex)
        .run()
        .expect("cpio -i");
        assert_eq!(
            fs::read(ex.join("bin/init")).expect("read"),
            b"#!/bin/sh\necho hi\n"
        );
        assert_eq!(fs::read(ex.join("a-b/x")).expect("read"), b"12345");
    }
}
