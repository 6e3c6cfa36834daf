//! The trust store: the SHA-256s of the profile files the user trusts to run their code
//! (`stali trust PROFILE`, like direnv's `allow`), one `HASH PATH` line each, in
//! `$XDG_DATA_HOME/stali/trusted` (default `~/.local/share/stali/trusted`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::model::trust::{CarriedCode, carried_code, content_hash, is_shipped};
use crate::model::{Catalog, Profile};

/// Where the trust store lives: `$STALI_TRUST_FILE`, else
/// `$XDG_DATA_HOME/stali/trusted`, else `~/.local/share/stali/trusted`.
pub fn store_path() -> Result<PathBuf> {
    if let Some(f) = std::env::var_os("STALI_TRUST_FILE").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(f));
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(d).join("stali/trusted"));
    }
    let home = std::env::var_os("HOME")
        .context("neither XDG_DATA_HOME nor HOME is set: no place for the trust store")?;
    Ok(PathBuf::from(home).join(".local/share/stali/trusted"))
}

fn read_store(store: &Path) -> Result<String> {
    match std::fs::read_to_string(store) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => {
            Err(e).with_context(|| format!("cannot read the trust store {}", store.display()))
        }
    }
}

/// Whether the profile with these exact bytes is trusted: shipped, or recorded.
pub fn is_trusted(bytes: &[u8]) -> Result<bool> {
    if is_shipped(bytes) {
        return Ok(true);
    }
    let hash = content_hash(bytes);
    let store = store_path()?;
    Ok(read_store(&store)?
        .lines()
        .any(|l| l.split_whitespace().next() == Some(hash.as_str())))
}

/// Records `bytes` (read from `file`) as trusted; returns the hash.
pub fn record(file: &Path, bytes: &[u8]) -> Result<String> {
    let hash = content_hash(bytes);
    let store = store_path()?;
    let mut text = read_store(&store)?;
    if text
        .lines()
        .any(|l| l.split_whitespace().next() == Some(hash.as_str()))
    {
        return Ok(hash);
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let shown = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    text.push_str(&format!("{hash} {}\n", shown.display()));
    crate::pipeline::cache::write_atomic(&store, text.as_bytes())?;
    Ok(hash)
}

fn describe(code: &[CarriedCode]) -> String {
    code.iter()
        .map(|c| format!("  {}: {}\n", c.key, c.runs))
        .collect()
}

/// Refuses to build a code-carrying profile whose exact content is not trusted (unless
/// `trust_now`, `stali build --trust`). `file` is the profile file, `None` for a shipped
/// profile named without a path. The error says what code it carries and how to trust it.
pub fn require_trusted(file: Option<&Path>, profile: &Profile, trust_now: bool) -> Result<()> {
    let code = carried_code(profile);
    let Some(file) = file else {
        return Ok(());
    };
    if code.is_empty() || trust_now {
        return Ok(());
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    if is_trusted(&bytes)? {
        return Ok(());
    }
    anyhow::bail!(
        "{} carries code that building it runs as you, and you have not trusted this file:\n{}\
         Read it; then `stali trust {}` (recorded for exactly this content), or build with --trust",
        file.display(),
        describe(&code),
        file.display()
    )
}

/// Runs `stali trust PROFILE...`; returns the exit code.
pub fn trust_cmd(profiles: &[PathBuf], catalog: &Catalog) -> i32 {
    let mut code = 0;
    for path in profiles {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{}: error: cannot read: {e}", path.display());
                code = super::EXIT_INVALID;
                continue;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let profile = match Profile::parse(&text, Some(path), catalog) {
            Ok(p) => p,
            Err(inv) => {
                super::report(&inv);
                code = super::EXIT_INVALID;
                continue;
            }
        };
        match record(path, &bytes) {
            Ok(hash) => {
                let carried = carried_code(&profile);
                let what = if carried.is_empty() {
                    "it carries no code\n".to_string()
                } else {
                    format!("it may run:\n{}", describe(&carried))
                };
                super::out(&format!(
                    "{}: trusted (sha256 {hash}); {what}",
                    path.display()
                ));
            }
            Err(e) => {
                eprintln!("{}: error: {e:#}", path.display());
                code = super::EXIT_INVALID;
            }
        }
    }
    code
}
