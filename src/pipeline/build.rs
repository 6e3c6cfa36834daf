//! `stali build`: the stages from a resolved plan to an ISO, each cached by a content key.
//!
//! Plan (done by the caller) → host check → [sources](super::stages::sources) → kernel
//! [headers](super::stages::kernel::headers) → [packages](super::stages::packages)
//! (dependency order, independent ones in parallel) → root filesystem and initramfs
//! ([image](super::stages::image)) → [kernel](super::stages::kernel) (configure, verify,
//! build with the initramfs built in) → ISO → report. Progress goes to a
//! [`Reporter`] as [`super::events::BuildEvent`]s.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};

use super::cache;
use super::events::{Reporter, StageTimer};
use super::report::{self, Report};
use super::stages::kernel::KernelTree;
use super::stages::sources::{fetch_options, fetch_sources};
use super::stages::{Ctx, image, kernel, packages, sources};
use crate::host::{self, Need};
use crate::model::{Arch, Catalog, Plan, estimate};

/// Bump when recipes' environment or the stage logic changes in a way that changes outputs.
pub const PIPELINE_VERSION: &str = "stali-pipeline-1";

/// `SOURCE_DATE_EPOCH` when the environment sets none: 2016-01-01, the year of stali.
pub const DEFAULT_EPOCH: u64 = 1_451_606_400;

/// Options of one build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Where the ISO goes.
    pub output: PathBuf,
    /// Cache root.
    pub cache: PathBuf,
    /// Local mirror of sources.
    pub mirror: Option<PathBuf>,
    /// Forbid the network.
    pub offline: bool,
    /// Parallel jobs.
    pub jobs: usize,
    /// Fixed timestamp for everything.
    pub epoch: u64,
    /// The kernel's per-option estimate (from the size database and the Kconfig engine),
    /// when there are figures for it; else the fragments' deltas are used.
    pub kernel_estimate: Option<crate::model::kernel_sizes::KernelEstimate>,
    /// The kernel options the profile and its fragments ask for, with where (checked by
    /// stali's Kconfig engine as soon as the kernel source is here, before any compiling).
    pub kernel_requests: Vec<crate::kconfig::profile::Request>,
}

/// The result of a build.
#[derive(Debug)]
pub struct BuildResult {
    /// The ISO written.
    pub iso: PathBuf,
    /// The report written beside it.
    pub report_path: PathBuf,
    /// The report.
    pub report: Report,
    /// Stages that did work (empty on a no-op rebuild).
    pub rebuilt: Vec<String>,
}

/// The epoch to use: `SOURCE_DATE_EPOCH` when it is a number, else [`DEFAULT_EPOCH`].
pub fn epoch_from_env() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_EPOCH)
}

/// The first line a command prints (standard output and error), empty when it cannot run.
pub fn first_line(argv: &[&str]) -> String {
    duct::cmd(argv[0], &argv[1..])
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// Versions of the host tools that shape the output of an `arch` image, for keys and the
/// report (the cross compiler and strip too when `arch` is not this machine's).
pub fn host_versions(arch: Arch) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if arch.cross_prefix().is_some() {
        for tool in ["gcc", "strip"] {
            let name = arch.tool(tool);
            m.insert(name.clone(), first_line(&[&name, "--version"]));
        }
        if let Some(run) = arch.runner() {
            m.insert(run.into(), first_line(&[run, "--version"]));
        }
    }
    m.insert("musl-gcc".into(), first_line(&["musl-gcc", "--version"]));
    m.insert("gcc".into(), first_line(&["gcc", "--version"]));
    m.insert("make".into(), first_line(&["make", "--version"]));
    m.insert("xorriso".into(), first_line(&["xorriso", "-version"]));
    m.insert("strip".into(), first_line(&["strip", "--version"]));
    m
}

/// Builds the image `plan` describes, reporting to `events`.
pub fn build(
    plan: &Plan,
    catalog: &Catalog,
    opts: &BuildOptions,
    events: &Arc<dyn Reporter>,
) -> Result<BuildResult> {
    let result = run(plan, catalog, opts, events);
    events.finish();
    result
}

fn run(
    plan: &Plan,
    catalog: &Catalog,
    opts: &BuildOptions,
    events: &Arc<dyn Reporter>,
) -> Result<BuildResult> {
    let started = Instant::now();
    let est = estimate::estimate_with(plan, catalog, opts.kernel_estimate.as_ref());
    let mut needs = vec![Need::Userland, Need::Kernel, Need::Iso];
    needs.extend(host::build_needs(plan.hardware.arch));
    host::require(&needs)?;
    validate_output(&opts.output)?;
    fs::create_dir_all(&opts.cache)
        .with_context(|| format!("cannot create the cache folder {}", opts.cache.display()))?;
    let cache_root = fs::canonicalize(&opts.cache)
        .with_context(|| format!("cannot resolve {}", opts.cache.display()))?;
    let _cache_use = cache::enter(&cache_root)?; // removes stale temporaries when alone
    let logs = cache_root.join("logs").join(&plan.name);
    fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let versions = host_versions(plan.hardware.arch);
    let ctx = Ctx {
        plan,
        opts,
        cache: &cache_root,
        logs: &logs,
        versions: &versions,
        events: events.as_ref(),
        rebuilt: Mutex::new(Vec::new()),
    };

    let fopts = fetch_options(opts.mirror.clone(), opts.offline, events)?;
    let fetched = fetch_sources(plan, &cache_root, &fopts, &logs, events.as_ref())?;
    let src = super::kernel::prepare_source(&fetched.kernel, &cache_root)
        .context("preparing the kernel source")?;
    let identity = sources::kernel_identity(&plan.kernel.source, &src)?;
    let tree = KernelTree { src, identity };
    kernel::check_requests(&ctx, &tree)?;

    let headers = kernel::headers(&ctx, &tree)?;
    let (toolchain, toolchain_key) = packages::toolchain(&ctx)?;
    let packages = packages::build_packages(
        &ctx,
        &packages::Inputs {
            toolchain,
            toolchain_key,
            headers: &headers,
            sources: &fetched.tools,
        },
    )?;
    let initramfs = image::rootfs(&ctx, &packages)?;
    let kernel = kernel::build_kernel(&ctx, &tree, &initramfs.cpio)?;
    let iso_sha = image::iso(&ctx, &kernel.bzimage)?;

    let timer = StageTimer::start(events.as_ref(), "report");
    // The initramfs's share of the compressed kernel, measured, to report the kernel and
    // the userland each against its estimate (an arm64 Image is not compressed that way).
    let initramfs_compressed = if plan.hardware.arch == Arch::X86_64 {
        super::kernel::compressed_alone_cached(&opts.cache, &initramfs.cpio, plan.image.compression)
            .ok()
    } else {
        None
    };
    let bz_len = fs::metadata(&kernel.bzimage)
        .with_context(|| format!("cannot stat {}", kernel.bzimage.display()))?
        .len();
    let rebuilt = ctx
        .rebuilt
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let report = report::make(report::Inputs {
        plan,
        estimate: &est,
        packages: &packages,
        kernel_source: &plan.kernel.source,
        kernel_identity: &tree.identity,
        kernel_config: &kernel.config,
        bzimage: &kernel.bzimage,
        iso: &opts.output,
        iso_sha256: &iso_sha,
        userland_size: initramfs.userland_size,
        initramfs_size: initramfs.cpio.len() as u64,
        initramfs_sha256: &cache::sha256_bytes(&initramfs.cpio),
        versions: &versions,
        epoch: opts.epoch,
        seconds: started.elapsed().as_secs_f64(),
        rebuilt: &rebuilt,
        initramfs_compressed,
        iso_parts: super::iso::parts(bz_len, plan.image.boot).ok(),
    })?;
    let report_path = report::path_for(&opts.output);
    cache::write_atomic(
        &report_path,
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    timer.finish(false);
    Ok(BuildResult {
        iso: opts.output.clone(),
        report_path,
        report,
        rebuilt,
    })
}

fn validate_output(out: &Path) -> Result<()> {
    super::output::check(out, None)
}
