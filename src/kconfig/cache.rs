//! What a load keeps on disk: the memoized results of the toolchain probes
//! (`$(shell,...)`), one JSON file per kernel source and toolchain; and parsed trees, one
//! file per tree and environment, checked against the size and time of every file read.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::Kconfig;

/// Shell command -> normalized output, loaded from and saved to one file.
#[derive(Debug, Default)]
pub struct ShellCache {
    map: BTreeMap<String, String>,
    path: Option<PathBuf>,
    dirty: bool,
}

impl ShellCache {
    /// An empty cache that is never saved.
    pub fn in_memory() -> Self {
        ShellCache::default()
    }

    /// Loads the cache at `path` (an absent or unreadable file gives an empty cache).
    pub fn open(path: &Path) -> Self {
        let map = fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        ShellCache {
            map,
            path: Some(path.to_path_buf()),
            dirty: false,
        }
    }

    /// The memoized output of `cmd`.
    pub fn get(&self, cmd: &str) -> Option<&str> {
        self.map.get(cmd).map(String::as_str)
    }

    /// Records the output of `cmd`.
    pub fn insert(&mut self, cmd: &str, out: &str) {
        self.map.insert(cmd.to_string(), out.to_string());
        self.dirty = true;
    }

    /// Number of memoized commands.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is memoized.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Writes the cache back when it changed (atomically, through a temporary file).
    pub fn save(&mut self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_string_pretty(&self.map).context("encoding the probe cache")?;
        fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
        self.dirty = false;
        Ok(())
    }
}

/// Bumped whenever the stored form of a [`Kconfig`] changes.
const TREE_FORMAT: &str = "stali-kconfig-tree 1";

/// What a stored tree was parsed from: every file read, with its size and modification
/// time (nanoseconds).
#[derive(serde::Serialize, serde::Deserialize)]
struct Stamp {
    files: Vec<(String, u64, i128)>,
}

/// The stored parse of one tree in one environment (`dir/<hash>.tree`).
pub struct TreeCache {
    path: PathBuf,
    srctree: PathBuf,
}

/// Size and modification time of `p`, as a stored tree records them.
fn stamp_of(p: &Path) -> Option<(u64, i128)> {
    let m = fs::metadata(p).ok()?;
    let t = m.modified().ok()?;
    let ns = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    Some((m.len(), ns))
}

impl TreeCache {
    /// The stored tree for `srctree` loaded with `env` (and the probes memoized in `probes`).
    pub fn new(
        dir: &Path,
        srctree: &Path,
        env: &std::collections::HashMap<String, String>,
        probes: Option<&Path>,
    ) -> TreeCache {
        let mut h = Sha256::new();
        h.update(TREE_FORMAT);
        h.update(env!("CARGO_PKG_VERSION"));
        h.update([0]);
        h.update(srctree.as_os_str().as_encoded_bytes());
        let sorted: BTreeMap<_, _> = env.iter().collect();
        for (k, v) in sorted {
            h.update([0]);
            h.update(k);
            h.update([1]);
            h.update(v);
        }
        if let Some(p) = probes {
            h.update([2]);
            h.update(p.as_os_str().as_encoded_bytes());
        }
        let key = hex::encode(h.finalize());
        TreeCache {
            path: dir.join(format!("{}.tree", &key[..24])),
            srctree: srctree.to_path_buf(),
        }
    }

    /// The stored tree, if there is one and no file it was parsed from changed.
    pub fn load(&self) -> Option<Kconfig> {
        let bytes = fs::read(&self.path).ok()?;
        let (stamp, rest): (Stamp, &[u8]) = postcard::take_from_bytes(&bytes).ok()?;
        // The files are checked before the tree is decoded (most of a load's time).
        for (name, len, ns) in &stamp.files {
            if stamp_of(&self.srctree.join(name)) != Some((*len, *ns)) {
                return None;
            }
        }
        postcard::from_bytes(rest).ok()
    }

    /// Stores `kc` with the stamps of the files it was parsed from (atomically).
    pub fn store(&self, kc: &Kconfig) -> Result<()> {
        let mut files = Vec::with_capacity(kc.files.len());
        for name in &kc.files {
            // `join` keeps an absolute name as it is.
            let Some((len, ns)) = stamp_of(&self.srctree.join(name)) else {
                return Ok(());
            };
            files.push((name.clone(), len, ns));
        }
        let mut bytes = postcard::to_stdvec(&Stamp { files }).context("encoding the stamps")?;
        bytes.extend(postcard::to_stdvec(kc).context("encoding the Kconfig tree")?);
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        crate::fsutil::write_atomic(&self.path, &bytes, crate::fsutil::Mode::Fixed(0o644))
    }
}
