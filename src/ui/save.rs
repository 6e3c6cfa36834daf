//! Saving profiles atomically and keeping a recovery file when the session is cut short.
//!
//! The recovery file of `DIR/NAME.toml` is `DIR/.NAME.toml.stali-recover`. A profile that
//! has no file yet recovers from `$XDG_STATE_HOME/stali/recover/untitled.toml.stali-recover`
//! (`~/.local/state/...` when `XDG_STATE_HOME` is unset).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::model::Profile;

/// Suffix of recovery files.
pub const RECOVER_SUFFIX: &str = ".stali-recover";

/// The text to write for `profile`: the existing file (`base`) updated in place so its
/// comments and key order survive, or a fresh commented file.
pub fn profile_text(profile: &Profile, base: Option<&str>) -> Result<String> {
    match base {
        Some(text) => {
            let mut doc: toml_edit::DocumentMut = text
                .parse()
                .context("the existing profile is not valid TOML; not overwriting it")?;
            // Edit the lists in place first, so the comments on their lines stay with them.
            let lists: [(&str, &str, &[String]); 2] = [
                ("tools", "select", &profile.select),
                ("kernel", "fragments", &profile.kernel.fragments),
            ];
            for (table, key, want) in lists {
                if let Some(arr) = doc
                    .get_mut(table)
                    .and_then(|t| t.get_mut(key))
                    .and_then(|i| i.as_array_mut())
                {
                    patch_string_array(arr, want);
                }
            }
            profile.update_document(&mut doc);
            Ok(doc.to_string())
        }
        None => Ok(profile.to_toml()),
    }
}

fn raw(r: Option<&toml_edit::RawString>) -> String {
    r.and_then(|r| r.as_str()).unwrap_or("").to_string()
}

fn split_last_newline(s: &str) -> (&str, &str) {
    match s.rfind('\n') {
        Some(i) => (&s[..=i], &s[i + 1..]),
        None => ("", s),
    }
}

/// Makes a TOML array of strings hold `want`, removing and appending items in place so that
/// the comment after each remaining item stays on its line. Arrays whose order differs
/// from `want` are left for `update_document` to replace.
pub fn patch_string_array(arr: &mut toml_edit::Array, want: &[String]) {
    if !arr.iter().all(|v| v.as_str().is_some()) {
        return;
    }
    let mut i = arr.len();
    while i > 0 {
        i -= 1;
        let keep = arr
            .get(i)
            .and_then(|v| v.as_str())
            .is_some_and(|s| want.iter().any(|w| w == s));
        if keep {
            continue;
        }
        // An item's prefix holds the comment of the item before it: hand it on.
        let removed = raw(arr.get(i).and_then(|v| v.decor().prefix()));
        let (carry, _) = split_last_newline(&removed);
        let carry = carry.to_string();
        if i + 1 < arr.len() {
            if let Some(next) = arr.get_mut(i + 1) {
                let np = raw(next.decor().prefix());
                let new = if removed.contains('\n') {
                    format!("{carry}{}", split_last_newline(&np).1)
                } else {
                    removed.clone()
                };
                next.decor_mut().set_prefix(new);
            }
        } else if removed.contains('\n') {
            let t = raw(Some(arr.trailing()));
            let new = format!("{carry}{}", split_last_newline(&t).1);
            arr.set_trailing(new);
        }
        arr.remove(i);
    }
    let multiline = arr.iter().any(|v| raw(v.decor().prefix()).contains('\n'))
        || raw(Some(arr.trailing())).contains('\n');
    for w in want {
        if arr.iter().any(|v| v.as_str() == Some(w.as_str())) {
            continue;
        }
        if !multiline {
            arr.push(w.as_str());
            continue;
        }
        let indent = arr
            .iter()
            .last()
            .map(|v| split_last_newline(&raw(v.decor().prefix())).1.to_string())
            .unwrap_or_else(|| "  ".into());
        let trailing = raw(Some(arr.trailing()));
        let (comment, close) = split_last_newline(&trailing);
        let (comment, close) = (comment.to_string(), close.to_string());
        let mut v = toml_edit::Value::from(w.as_str());
        let mut suffix = String::new();
        let comma = arr.trailing_comma();
        if !comma && let Some(last) = arr.iter_mut().last() {
            suffix = raw(last.decor().suffix());
            last.decor_mut().set_suffix("");
        }
        let lead = if comment.is_empty() {
            "\n".to_string()
        } else {
            comment
        };
        v.decor_mut().set_prefix(format!("{lead}{indent}"));
        v.decor_mut().set_suffix(suffix);
        arr.push_formatted(v);
        if comma {
            arr.set_trailing(format!("\n{close}"));
        }
    }
}

/// Writes `text` to `path` atomically: a temporary file in the same folder, fsync, rename,
/// then fsync of the folder. An existing file's permissions are kept.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".stali-save-")
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

    fn patched(text: &str, want: &[&str]) -> String {
        let mut doc: toml_edit::DocumentMut = text.parse().expect("toml");
        let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        let arr = doc["select"].as_array_mut().expect("array");
        patch_string_array(arr, &want);
        doc.to_string()
    }

    #[test]
    fn list_comments_stay_on_their_lines() {
        let text = "select = [\n  \"a\",   # first\n  \"b\",   # second\n  \"c\",   # third\n]\n";
        assert_eq!(
            patched(text, &["a", "c", "d"]),
            "select = [\n  \"a\",   # first\n  \"c\",   # third\n  \"d\",\n]\n"
        );
        assert_eq!(
            patched(text, &["a", "b"]),
            "select = [\n  \"a\",   # first\n  \"b\",   # second\n]\n"
        );
        assert_eq!(
            patched("select = [\"a\", \"b\"]\n", &["b", "c"]),
            "select = [\"b\", \"c\"]\n"
        );
        assert_eq!(
            patched("select = [\n  \"a\"\n]\n", &["a", "b"]),
            "select = [\n  \"a\",\n  \"b\"\n]\n"
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
        let mut p = Profile::load(&path).expect("loads");
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
}
