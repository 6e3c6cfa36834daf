//! The image stage: the packages' staging trees merged into the root filesystem, packed
//! as the initramfs (built into the kernel), and the ISO around the kernel.

use std::collections::BTreeMap;
use std::fs;

use anyhow::{Context, Result};

use super::Ctx;
use super::packages::PackageOut;
use crate::pipeline::build::PIPELINE_VERSION;
use crate::pipeline::cache::{self, Key};
use crate::pipeline::events::{BuildEvent, StageTimer};
use crate::pipeline::{cpio, iso, rootfs};

/// Bump when the ISO layout or xorriso options change.
pub const ISO_LAYOUT: &str =
    "iso-5: no cylinder alignment, no padding, FAT sized to 2% + 64 KiB in 4 KiB steps";

/// The root filesystem packed for the kernel.
pub struct Initramfs {
    /// The newc archive.
    pub cpio: Vec<u8>,
    /// Bytes of the root filesystem's files.
    pub userland_size: u64,
}

/// The ISO volume label for a profile name: `STALI_` + upper-case letters, digits and `_`.
pub fn volume_label(name: &str) -> String {
    let mut s: String = format!("STALI_{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    s.truncate(32);
    s
}

/// Merges the programs' staging trees (libraries stay out), adds the skeleton and packs
/// it all as a reproducible newc archive.
pub fn rootfs(ctx: &Ctx<'_>, packages: &BTreeMap<String, PackageOut>) -> Result<Initramfs> {
    let plan = ctx.plan;
    let timer = StageTimer::start(ctx.events, "rootfs");
    ctx.step("rootfs", "merge and pack");
    // This run's own folder (two runs of one profile may share the cache), removed when
    // done; an interrupted run's is removed by the next run alone on the cache.
    let works = ctx.cache.join("work");
    fs::create_dir_all(&works).with_context(|| format!("creating {}", works.display()))?;
    let work = tempfile::Builder::new()
        .prefix(".tmp-image-")
        .tempdir_in(&works)
        .with_context(|| format!("creating a temporary folder in {}", works.display()))?;
    let root = work.path().join("root");
    let stagings: Vec<rootfs::Staging> = plan
        .tools
        .iter()
        .filter_map(|t| packages.get(&t.def.name).map(|p| (t, p)))
        .filter(|(_, p)| !p.library)
        .map(|(t, p)| rootfs::Staging {
            package: p.name.clone(),
            dir: p.staging.clone(),
            modes: t.def.modes.clone(),
        })
        .collect();
    let merged = rootfs::merge(&root, &stagings)?;
    for message in merged.dropped {
        ctx.events.event(&BuildEvent::Warning { message });
    }
    rootfs::skeleton(plan, &root)?;
    let cpio = cpio::build_newc(Some(&root), &cpio::console_entries(), ctx.opts.epoch)?;
    let userland_size = cache::tree_size(&root)?;
    drop(work);
    for (what, bytes) in [
        ("userland", userland_size),
        ("initramfs", cpio.len() as u64),
    ] {
        ctx.events.event(&BuildEvent::SizeMeasured {
            what: what.into(),
            bytes,
        });
    }
    timer.finish(false);
    Ok(Initramfs {
        cpio,
        userland_size,
    })
}

/// Writes the ISO around `bzimage` (cached by the kernel's hash, the boot mode, label,
/// epoch and xorriso's version) and puts it at the build's output unless an identical
/// file is already there; returns its SHA-256.
pub fn iso(ctx: &Ctx<'_>, bzimage: &std::path::Path) -> Result<String> {
    let (plan, opts) = (ctx.plan, ctx.opts);
    let timer = StageTimer::start(ctx.events, "iso");
    let mut key = Key::new("iso");
    key.add(PIPELINE_VERSION)
        .add(ISO_LAYOUT)
        .add(cache::sha256_file(bzimage)?)
        .add(plan.image.boot.as_str())
        .add(volume_label(&plan.name))
        .add(opts.epoch.to_string())
        .add(ctx.version("xorriso"));
    let cached_iso = ctx.cache.join("iso").join(format!("{}.iso", key.short()));
    let mut cached = cached_iso.exists();
    if !cached {
        // One run writes it; another one that wants it waits, then finds it written.
        let _lock = cache::lock_entry(&cached_iso)?;
        cached = cached_iso.exists();
        if !cached {
            ctx.step("iso", format!("{} image", plan.image.boot.as_str()));
            let wdir = ctx.cache.join("work").join(format!("iso-{}", key.short()));
            cache::remove_dir(&wdir)?;
            fs::create_dir_all(&wdir).with_context(|| format!("creating {}", wdir.display()))?;
            let spec = iso::IsoSpec {
                kernel: bzimage.to_path_buf(),
                boot: plan.image.boot,
                arch: plan.hardware.arch,
                volume_label: volume_label(&plan.name),
                epoch: opts.epoch,
                work_dir: wdir.clone(),
            };
            iso::write_iso(&spec, &cached_iso).context("writing the ISO")?;
            cache::remove_dir(&wdir)?;
            ctx.rebuilt("iso");
        }
    }
    let sha = cache::sha256_file(&cached_iso)?;
    let same = opts.output.exists()
        && cache::sha256_file(&opts.output).ok().as_deref() == Some(sha.as_str());
    if !same {
        cache::copy_atomic(&cached_iso, &opts.output)?;
    }
    let bytes = fs::metadata(&opts.output)
        .with_context(|| format!("cannot stat {}", opts.output.display()))?
        .len();
    ctx.events.event(&BuildEvent::SizeMeasured {
        what: "iso".into(),
        bytes,
    });
    timer.finish(cached);
    Ok(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_labels_are_iso_safe() {
        assert_eq!(volume_label("minimal"), "STALI_MINIMAL");
        assert_eq!(volume_label("stali-classic"), "STALI_STALI_CLASSIC");
        assert!(volume_label(&"x".repeat(80)).len() <= 32);
    }
}
