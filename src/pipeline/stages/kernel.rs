//! The kernel stage: the UAPI headers for the packages' sysroot, then the kernel itself
//! configured from the plan (base, fragments, options, and the pipeline's own options)
//! and built with the initramfs inside. Configurations of one lineage (source, base,
//! compiler) share objects, so a changed option recompiles only what it touches.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::Ctx;
use crate::model::plan::{kernel_options, pipeline_options};
use crate::model::profile::kconfig_value;
use crate::pipeline::build::PIPELINE_VERSION;
use crate::pipeline::cache::{self, Key};
use crate::pipeline::cpio::write_if_changed;
use crate::pipeline::events::{BuildEvent, StageTimer};
use crate::pipeline::kernel;

/// The kernel source tree of a build and what identifies its content.
pub struct KernelTree {
    /// The unpacked tree.
    pub src: PathBuf,
    /// The pin, or a local path's size and time (see `sources::kernel_identity`).
    pub identity: String,
}

/// What the kernel stage produced.
pub struct KernelOut {
    /// The bzImage (initramfs and command line inside).
    pub bzimage: PathBuf,
    /// Its final `.config`.
    pub config: String,
}

/// Installs the kernel's UAPI headers (cached by the kernel's identity); returns their
/// folder, which holds `usr/include`.
pub fn headers(ctx: &Ctx<'_>, tree: &KernelTree) -> Result<PathBuf> {
    let timer = StageTimer::start(ctx.events, "headers");
    let mut hkey = Key::new("headers");
    hkey.add(PIPELINE_VERSION)
        .add(&tree.identity)
        .add(ctx.plan.hardware.arch.as_str());
    let headers = ctx.cache.join("headers").join(hkey.short());
    let made = cache::make_entry(
        &headers,
        |d| d.join(".done").exists(),
        |tmp| {
            ctx.step("headers", "kernel UAPI headers");
            kernel::headers_install(
                &tree.src,
                &tmp.join("obj"),
                ctx.plan.hardware.arch,
                &tmp.join("usr"),
                &ctx.logs.join("headers.log"),
            )
            .context("installing kernel headers")?;
            cache::remove_dir(&tmp.join("obj"))?;
            let done = tmp.join(".done");
            fs::write(&done, "").with_context(|| format!("cannot write {}", done.display()))
        },
    )?;
    if made {
        ctx.rebuilt("headers");
    }
    let cached = !made;
    timer.finish(cached);
    Ok(headers)
}

/// Configures (when this configuration is new) and builds (when its `.config` or the
/// initramfs changed) the kernel of the plan with `cpio` built in.
pub fn build_kernel(ctx: &Ctx<'_>, tree: &KernelTree, cpio: &[u8]) -> Result<KernelOut> {
    let (plan, opts, cache_root, logs) = (ctx.plan, ctx.opts, ctx.cache, ctx.logs);
    let (ksrc, kident) = (tree.src.as_path(), tree.identity.as_str());
    let timer = StageTimer::start(ctx.events, "kernel");
    let mut cached = true;
    let requested: Vec<(String, String)> = plan
        .kernel
        .requested()
        .into_iter()
        .map(|(k, v)| (k, kconfig_value(&v)))
        .collect();
    // The lineage (source, base, compiler): configurations of one lineage share objects.
    let arch = plan.hardware.arch;
    let lineage = format!(
        "{kident}\n{}\n{}{}",
        plan.kernel.base,
        ctx.version(&arch.tool("gcc")),
        // An x86_64 lineage keeps the key it had before stali knew other architectures.
        if arch == crate::model::Arch::X86_64 {
            String::new()
        } else {
            format!("\n{arch}")
        }
    );
    let mut key = Key::new("kernel");
    key.add(PIPELINE_VERSION)
        .add(&lineage)
        .add(opts.epoch.to_string());
    // Fragments count through the options they request (in `requested` below), not
    // their text: a header comment or a measured size changes no kernel.
    for (k, v) in &requested {
        key.add(k).add(v);
    }
    let placeholder = Path::new("/stali-initramfs.cpio");
    for (k, v) in pipeline_options(
        arch,
        plan.image.compression,
        &plan.image.cmdline,
        placeholder,
    ) {
        key.add(k).add(v);
    }
    let kdir = cache_root.join("kernel").join(key.short());
    // Where this configuration's objects are kept between builds.
    let obj = kdir.join("obj");
    // kbuild (objtool above all) records absolute paths, so every configuration of one
    // lineage is built at one path: its objects are moved there for the build and back
    // afterwards, under a lock.
    let wdir = cache_root
        .join("kbuild")
        .join(&cache::sha256_bytes(lineage.as_bytes())[..16]);
    fs::create_dir_all(&wdir).with_context(|| format!("creating {}", wdir.display()))?;
    let _lock = cache::lock_file(&wdir.join("lock"))?;
    let work = wdir.join("obj");
    let cpio_path = kernel::initramfs_path(&work);
    let configured = kdir.join("configured");
    let built_record = kdir.join("built-with");
    let options = kernel_options(plan, &cpio_path);
    fs::create_dir_all(&kdir).with_context(|| format!("creating {}", kdir.display()))?;
    let mut parked = Parked::take(
        &work,
        &obj,
        &wdir,
        &key.short(),
        &cache_root.join("kernel"),
        &lineage,
    )?;
    if !parked.had_objects {
        ctx.step(
            "kernel",
            format!(
                "configure {} + {} fragments",
                plan.kernel.base,
                plan.kernel.fragments.len()
            ),
        );
        // Neither record of an earlier configuration of this folder holds any more.
        let _ = fs::remove_file(&configured);
        let _ = fs::remove_file(&built_record);
        if let Ok(rd) = fs::read_dir(&kdir) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with("bzImage-") {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        // Another configuration of the same source, base and compiler already built: start
        // from its objects, so kbuild recompiles only what the changed options touch.
        if let Some(donor) = kernel_donor(&cache_root.join("kernel"), &kdir, &lineage) {
            ctx.step(
                "kernel",
                format!(
                    "start from the objects of kernel {}",
                    donor.file_name().unwrap_or_default().to_string_lossy()
                ),
            );
            cache::copy_tree(&donor.join("obj"), &work)
                .with_context(|| format!("copying {}", donor.join("obj").display()))?;
        }
        let req = kernel::KernelConfigRequest {
            arch,
            base: plan.kernel.base.clone(),
            fragments: plan.kernel.fragment_texts(),
            options,
        };
        // stali's own Kconfig engine computes the `.config` from the same inputs first; the
        // kernel's own tools then configure, and the two must agree byte for byte.
        let ours = engine_config(ctx, ksrc, &cpio_path);
        kernel::configure(ksrc, &work, &req, &logs.join("kernel-config.log"))
            .context("configuring the kernel")?;
        match ours {
            Ok(ours) => {
                let theirs = fs::read_to_string(work.join(".config"))
                    .context("reading the kernel .config")?;
                if let Some(diff) = kernel::config_difference(&ours, &theirs) {
                    bail!(
                        "stali bug: its Kconfig engine and the kernel's own olddefconfig disagree on this configuration (please report it, with the profile):\n  {}",
                        diff.replace('\n', "\n  ")
                    );
                }
                ctx.step(
                    "kernel",
                    "configuration identical to stali's Kconfig engine's",
                );
            }
            Err(reason) => ctx.events.event(&BuildEvent::Warning {
                message: format!(
                    "the kernel configuration is not compared with stali's Kconfig engine: {reason}"
                ),
            }),
        }
        let lineage_file = kdir.join("lineage");
        fs::write(&lineage_file, &lineage)
            .with_context(|| format!("cannot write {}", lineage_file.display()))?;
        fs::write(&configured, "")
            .with_context(|| format!("cannot write {}", configured.display()))?;
        ctx.rebuilt("kernel config");
        cached = false;
    }
    // What the bzImage was built from: this initramfs and this exact .config.
    let record = || -> Result<String> {
        let config = fs::read(work.join(".config")).context("reading the kernel .config")?;
        Ok(format!(
            "initramfs {}\nconfig {}",
            cache::sha256_bytes(cpio),
            cache::sha256_bytes(&config)
        ))
    };
    // Each bzImage is kept under the name of what it was built from, so a profile that
    // shares this configuration with another one (another initramfs) finds its own again,
    // and the later stages read a file that no other run rebuilds.
    let rec = record()?;
    let bzimage = kdir.join(format!(
        "bzImage-{}",
        &cache::sha256_bytes(rec.as_bytes())[..16]
    ));
    // The objects' folder holds this build's initramfs, whether or not kbuild runs (the
    // image is the one the build's record names either way).
    write_if_changed(cpio, &cpio_path)?;
    if !bzimage.exists() {
        let up_to_date = work.join(arch.kernel_image()).exists()
            && fs::read_to_string(&built_record).ok() == Some(rec.clone());
        if !up_to_date {
            ctx.step("kernel", format!("build {}", arch.kernel_target()));
            let _ = fs::remove_file(&built_record);
            kernel::build(
                ksrc,
                &work,
                arch,
                opts.jobs,
                opts.epoch,
                &logs.join("kernel-build.log"),
            )
            .context("building the kernel")?;
            fs::write(&built_record, &rec)
                .with_context(|| format!("cannot write {}", built_record.display()))?;
            ctx.rebuilt("kernel");
            cached = false;
        }
        cache::copy_atomic(&work.join(arch.kernel_image()), &bzimage)?;
    }
    record_sizes(ctx, ksrc, &work);
    parked.put_back()?;
    let config = fs::read_to_string(obj.join(".config")).context("reading the kernel .config")?;
    let bytes = fs::metadata(&bzimage)
        .with_context(|| format!("cannot stat {}", bzimage.display()))?
        .len();
    ctx.events.event(&BuildEvent::SizeMeasured {
        what: "kernel".into(),
        bytes,
    });
    timer.finish(cached);
    Ok(KernelOut { bzimage, config })
}

/// Measures a built kernel's objects into the user's size database (once per
/// configuration), so every build improves the per-option estimates; a failure there
/// costs only the figures, never the build. Only x86_64 kernels are measured so far.
fn record_sizes(ctx: &Ctx<'_>, ksrc: &Path, work: &Path) {
    let plan = ctx.plan;
    if plan.hardware.arch != crate::model::Arch::X86_64 {
        return;
    }
    let label = format!(
        "{} ({} + {})",
        plan.name,
        plan.kernel.base,
        plan.kernel
            .fragments
            .iter()
            .map(|f| f.fragment.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let info = crate::pipeline::kbuild_sizes::BuildInfo {
        label: &label,
        base: &plan.kernel.base,
        compression: plan.image.compression.as_str(),
        gcc_version: ctx.version("gcc"),
    };
    match crate::pipeline::kbuild_sizes::update_user_db(ctx.cache, ksrc, work, &info) {
        Ok(Some(line)) => ctx.step("kernel", line),
        Ok(None) => {}
        Err(e) => ctx.events.event(&BuildEvent::Warning {
            message: format!("per-option kernel sizes not recorded: {e:#}"),
        }),
    }
}

/// Checks the requested kernel options against the tree with stali's Kconfig engine, as
/// `stali check` does: an option that cannot stick stops the build here, in words and with
/// where it was asked for, before anything is compiled. A tree the engine cannot read (or a
/// base it does not compute) is one warning; the kernel stage verifies the result anyway.
pub fn check_requests(ctx: &Ctx<'_>, tree: &KernelTree) -> Result<()> {
    use crate::kconfig::profile::{self, ENGINE_BASES, INITRAMFS_PLACEHOLDER};
    if ctx.opts.kernel_requests.is_empty() || !ENGINE_BASES.contains(&ctx.plan.kernel.base.as_str())
    {
        return Ok(());
    }
    let placeholder = Path::new(INITRAMFS_PLACEHOLDER);
    let mut c = match profile::compute(ctx.plan, &tree.src, ctx.cache, placeholder) {
        Ok(c) => c,
        Err(e) => {
            ctx.events.event(&BuildEvent::Warning {
                message: format!("kernel options not checked before the build: {e:#}"),
            });
            return Ok(());
        }
    };
    let errs = profile::check_requests(&mut c, &ctx.opts.kernel_requests);
    if !errs.is_empty() {
        bail!(
            "{} requested kernel option(s) cannot stick (see `stali check`):\n{}",
            errs.len(),
            errs.join("\n")
        );
    }
    Ok(())
}

/// The `.config` stali's Kconfig engine computes for this build, or why there is none.
fn engine_config(ctx: &Ctx<'_>, ksrc: &Path, cpio_path: &Path) -> Result<String, String> {
    use crate::kconfig::profile::{ENGINE_BASES, compute};
    if !ENGINE_BASES.contains(&ctx.plan.kernel.base.as_str()) {
        return Err(format!(
            "the base `{}` is not one the engine computes",
            ctx.plan.kernel.base
        ));
    }
    compute(ctx.plan, ksrc, ctx.cache, cpio_path)
        .map(|c| c.config)
        .map_err(|e| format!("{e:#}"))
}

/// One configuration's kbuild objects moved into the lineage's work folder; they go back
/// to their own folder by `put_back`, or on drop when the build fails.
struct Parked {
    work: PathBuf,
    home: PathBuf,
    done: bool,
    /// Whether the configuration had objects of its own (else the work folder starts empty).
    had_objects: bool,
}

impl Parked {
    /// Empties `work` (returning what a killed run left there to its owner) and moves `home`
    /// into it when that configuration was configured before.
    fn take(
        work: &Path,
        home: &Path,
        wdir: &Path,
        key: &str,
        kernels: &Path,
        lineage: &str,
    ) -> Result<Parked> {
        let owner_file = wdir.join("owner");
        if work.exists() {
            let owner = fs::read_to_string(&owner_file).unwrap_or_default();
            let back = kernels.join(owner.trim()).join("obj");
            let valid = !owner.trim().is_empty()
                && owner.trim().bytes().all(|b| b.is_ascii_hexdigit())
                && back.parent().is_some_and(Path::is_dir)
                && !back.exists();
            if !(valid && fs::rename(work, &back).is_ok()) {
                cache::remove_dir(work)?;
            }
        }
        // Configured at the work path: its `lineage` was written after configuring there
        // (a folder from an older stali points its initramfs elsewhere: configure again).
        let had_objects = home.is_dir()
            && home.parent().is_some_and(|k| {
                k.join("configured").exists()
                    && fs::read_to_string(k.join("lineage")).ok().as_deref() == Some(lineage)
            });
        if had_objects {
            fs::rename(home, work)
                .with_context(|| format!("moving {} to {}", home.display(), work.display()))?;
        } else {
            cache::remove_dir(home)?;
            fs::create_dir_all(work).with_context(|| format!("creating {}", work.display()))?;
        }
        fs::write(&owner_file, key).with_context(|| format!("writing {}", owner_file.display()))?;
        Ok(Parked {
            work: work.to_path_buf(),
            home: home.to_path_buf(),
            done: false,
            had_objects,
        })
    }

    /// Moves the objects back to their own folder.
    fn put_back(&mut self) -> Result<()> {
        self.done = true;
        fs::rename(&self.work, &self.home).with_context(|| {
            format!(
                "moving {} back to {}",
                self.work.display(),
                self.home.display()
            )
        })
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::rename(&self.work, &self.home);
        }
    }
}

/// The most recently built kernel folder under `kernels` (other than `this`) of the same
/// lineage (source, base configuration, compiler), whose objects can seed a new configuration.
fn kernel_donor(kernels: &Path, this: &Path, lineage: &str) -> Option<PathBuf> {
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for e in fs::read_dir(kernels).ok()?.flatten() {
        let dir = e.path();
        if dir == this
            || !dir.join("obj").is_dir()
            || fs::read_to_string(dir.join("lineage")).ok().as_deref() != Some(lineage)
        {
            continue;
        }
        // When it was last built; a folder whose last build was killed (its record removed
        // before kbuild ran) still holds good objects: when it was configured.
        let Ok(t) = fs::metadata(dir.join("built-with"))
            .or_else(|_| fs::metadata(dir.join("configured")))
            .and_then(|m| m.modified())
        else {
            continue;
        };
        if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
            best = Some((t, dir));
        }
    }
    best.map(|(_, d)| d)
}
