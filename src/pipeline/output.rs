//! Checking `-o` before any work: the ISO must go to a regular file (or a new name) in a
//! folder stali can write, and never over the profile being built.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Result, bail};

/// Refuses an output path that is not a usable file name, an existing directory, device,
/// FIFO or socket, the profile itself (`profile`, when built from a file), or in a folder
/// that cannot be written (found by creating and removing a temporary file there, so a
/// read-only mount is found even by root).
pub fn check(out: &Path, profile: Option<&Path>) -> Result<()> {
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.is_empty() || name.starts_with('.') || name.chars().any(|c| c.is_control()) {
        bail!("`{}` is not a usable output file name", out.display());
    }
    if let Ok(m) = std::fs::metadata(out) {
        if m.is_dir() {
            bail!(
                "{} is a directory; give a file name such as {}/image.iso",
                out.display(),
                out.display()
            );
        }
        if !m.is_file() {
            bail!(
                "{} is not a regular file (a device, FIFO or socket): give the ISO a file name",
                out.display()
            );
        }
        if let Some(p) = profile
            && let Ok(pm) = std::fs::metadata(p)
            && (pm.dev(), pm.ino()) == (m.dev(), m.ino())
        {
            bail!(
                "{} is the profile being built: give the ISO another name",
                out.display()
            );
        }
    }
    // The nearest folder that exists (the build creates the missing ones).
    let mut dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    while !dir.exists() {
        match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => dir = p,
            None => {
                dir = Path::new(".");
                break;
            }
        }
    }
    if !dir.is_dir() {
        bail!("{} is not a folder: the ISO cannot go there", dir.display());
    }
    if let Err(e) = tempfile::Builder::new()
        .prefix(".stali-probe-")
        .tempfile_in(dir)
    {
        bail!(
            "cannot write the ISO into {}: {e}; choose another -o",
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_cannot_take_an_iso() {
        let d = tempfile::tempdir().expect("tempdir");
        let profile = d.path().join("p.toml");
        std::fs::write(&profile, "format = 1\n").expect("write");
        let err = |out: &Path| {
            format!(
                "{:#}",
                check(out, Some(&profile)).expect_err(&out.display().to_string())
            )
        };
        assert!(err(&profile).contains("is the profile being built"));
        // Through another name for the same file too.
        let link = d.path().join("link.iso");
        std::os::unix::fs::symlink(&profile, &link).expect("symlink");
        assert!(err(&link).contains("is the profile being built"));
        let sub = d.path().join("isos");
        std::fs::create_dir(&sub).expect("mkdir");
        assert!(err(&sub).contains("is a directory"));
        assert!(err(Path::new("/dev/null")).contains("not a regular file"));
        let fifo = d.path().join("fifo.iso");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .expect("mkfifo")
                .success()
        );
        assert!(err(&fifo).contains("not a regular file"));
        assert!(err(Path::new("/proc/x.iso")).contains("cannot write the ISO into /proc"));
        assert!(err(&d.path().join(".hidden")).contains("not a usable output file name"));
        check(&d.path().join("new/sub/x.iso"), Some(&profile)).expect("a new folder is fine");
        check(&d.path().join("x.iso"), Some(&profile)).expect("a new file is fine");
        // Nothing is left behind by the probe.
        let left: Vec<_> = std::fs::read_dir(d.path())
            .expect("read_dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".stali-probe"))
            .collect();
        assert!(left.is_empty());
    }
}
