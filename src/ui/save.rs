//! Saving profiles atomically and keeping a recovery file when the session is cut short.
//!
//! The recovery file of `DIR/NAME.toml` is `DIR/.NAME.toml.stali-recover`. A profile that
//! has no file yet recovers from `$XDG_STATE_HOME/stali/recover/untitled.toml.stali-recover`
//! (`~/.local/state/...` when `XDG_STATE_HOME` is unset).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::model::Profile;
use crate::model::profile::write;

/// Suffix of recovery files.
pub const RECOVER_SUFFIX: &str = ".stali-recover";

/// The text to write for `profile`: `base` (the file's text, or the one the profile was
/// started from) edited in place like `savedefconfig`, or a fresh file.
pub fn profile_text(profile: &Profile, base: Option<&str>) -> Result<String> {
    write::write(profile, base)
        .context("the existing profile is not valid TOML; not overwriting it")
}

/// Writes `text` to `path` atomically: a temporary file in the same folder, fsync, rename,
/// then fsync of the folder. An existing file's permissions are kept; a new file gets
/// 0666 less the umask, like any file an editor writes (profiles are meant to be shared).
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".stali-save-")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .with_context(|| format!("cannot write a temporary file in {}", dir.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    }
    tmp.as_file()
        .sync_all()
        .context("cannot flush the temporary file to disk")?;
    tmp.persist(path)
        .with_context(|| format!("cannot rename the temporary file to {}", path.display()))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Saves `profile` to `path`, keeping the comments of the file already there (or of
/// `base`, the text the profile was loaded from, when saving under a new name).
pub fn save_profile(profile: &Profile, path: &Path, base: Option<&str>) -> Result<String> {
    let existing = match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let text = profile_text(profile, existing.as_deref().or(base))?;
    write_atomic(path, &text)?;
    Ok(text)
}

/// The folder for recovery files of profiles that have no file yet.
pub fn state_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("stali/recover"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/stali/recover"))
}

/// Where unsaved changes to the profile at `file` (or to an unnamed profile) are kept.
pub fn recovery_path(file: Option<&Path>) -> Option<PathBuf> {
    match file {
        Some(f) => {
            let name = f.file_name()?.to_string_lossy().into_owned();
            let dir = match f.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            Some(dir.join(format!(".{name}{RECOVER_SUFFIX}")))
        }
        None => state_dir().map(|d| d.join(format!("untitled.toml{RECOVER_SUFFIX}"))),
    }
}

/// Writes the recovery file for `profile`; returns where it went.
pub fn write_recovery(profile: &Profile, base: Option<&str>) -> Result<PathBuf> {
    let path = recovery_path(profile.file.as_deref())
        .context("no place for a recovery file (HOME is unset)")?;
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let text = profile_text(profile, base).or_else(|_| profile_text(profile, None))?;
    write_atomic(&path, &text)?;
    Ok(path)
}

/// Removes the recovery file of `file`, if any.
pub fn remove_recovery(file: Option<&Path>) {
    if let Some(p) = recovery_path(file) {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_sits_beside_the_profile() {
        assert_eq!(
            recovery_path(Some(Path::new("/x/y/minimal.toml"))),
            Some(PathBuf::from("/x/y/.minimal.toml.stali-recover"))
        );
        assert_eq!(
            recovery_path(Some(Path::new("p.toml"))),
            Some(PathBuf::from("./.p.toml.stali-recover"))
        );
    }

    #[test]
    fn atomic_save_keeps_comments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "# hello\nformat = 1 # schema\n[tools]\nselect = [\"sinit\"] # mine\n",
        )
        .expect("write");
        let mut p = Profile::load(&path, &crate::model::Catalog::embedded()).expect("loads");
        p.select.push("mksh".into());
        save_profile(&p, &path, None).expect("saves");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with("# hello\nformat = 1 # schema\n"), "{text}");
        assert!(
            text.contains("select = [\"sinit\", \"mksh\"] # mine"),
            "{text}"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    #[test]
    fn a_new_file_follows_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("new.toml");
        write_atomic(&path, "format = 1\n").expect("saves");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        let umask = status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
            .expect("Umask line");
        assert_eq!(mode, 0o666 & !umask, "mode {mode:o}, umask {umask:o}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomic(&path, "format = 1\n").expect("saves");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "an existing file keeps its mode");
    }
}
