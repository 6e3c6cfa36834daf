//! Memoized results of the toolchain probes (`$(shell,...)`), one JSON file per kernel
//! source and toolchain.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

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
