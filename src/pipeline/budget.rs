//! The budget after the build: an ISO bigger than the profile's `image.budget` fails the
//! build (it is kept, moved aside, so nothing over budget sits at `-o`) unless the user
//! accepts it with `--allow-over-budget`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::model::estimate::over_budget;

/// Where an ISO over its budget is kept: `NAME.over-budget.iso` beside `iso`.
pub fn aside(iso: &Path) -> PathBuf {
    let stem = iso
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    iso.with_file_name(format!("{stem}.over-budget.iso"))
}

/// Checks the measured ISO (`bytes`) against `budget`. Over it, the ISO is moved to
/// [`aside`] and the build fails with a message saying so, or, when `allow`, a warning is
/// printed and the ISO stays where it is.
pub fn enforce(iso: &Path, bytes: u64, budget: Option<u64>, allow: bool) -> Result<()> {
    let Some(msg) = over_budget(&format!("{}", iso.display()), bytes, budget) else {
        return Ok(());
    };
    if allow {
        eprintln!("warning: {msg} (accepted: --allow-over-budget)");
        return Ok(());
    }
    let kept = aside(iso);
    std::fs::rename(iso, &kept)
        .with_context(|| format!("{msg}; moving it to {}", kept.display()))?;
    bail!(
        "{msg}; the ISO is kept as {} (raise image.budget, or build with --allow-over-budget to accept it)",
        kept.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_iso_over_budget_fails_and_is_kept_aside() {
        let dir = tempfile::tempdir().expect("tmp");
        let iso = dir.path().join("tiny.iso");
        std::fs::write(&iso, vec![0u8; 4096]).expect("write");
        enforce(&iso, 4096, Some(8192), false).expect("fits");
        enforce(&iso, 4096, None, false).expect("no budget");
        enforce(&iso, 4096, Some(1024), true).expect("accepted");
        assert!(iso.exists());
        let e = enforce(&iso, 4096, Some(1024), false).expect_err("over budget");
        let msg = format!("{e:#}");
        assert!(
            msg.contains("over the budget of 1 KiB by 3 KiB")
                && msg.contains("tiny.over-budget.iso")
                && msg.contains("--allow-over-budget"),
            "{msg}"
        );
        assert!(!iso.exists(), "nothing over budget is left at -o");
        assert_eq!(
            std::fs::metadata(dir.path().join("tiny.over-budget.iso"))
                .expect("kept")
                .len(),
            4096
        );
    }
}
