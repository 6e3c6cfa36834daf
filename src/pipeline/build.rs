//! `stali build`: the stages from a resolved plan to an ISO, each cached by a content key.
//!
//! Plan (done by the caller) → host check → fetch → kernel headers → packages (dependency
//! order, independent ones in parallel) → kernel (configure, verify, build with the
//! initramfs built in) → root filesystem → ISO → report.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::cache::{self, Key};
use super::exec::{EnvMode, Step, run_logged};
use super::progress::Progress;
use super::recipe::{self, Dirs, Toolchain};
use super::report::{self, Report};
use super::rootfs;
use crate::host::{self, Need};
use crate::model::profile::{KernelSource, kconfig_value};
use crate::model::{Catalog, Estimate, Plan, PlannedTool, Source, estimate};

/// Bump when recipes' environment or the stage logic changes in a way that changes outputs.
pub const PIPELINE_VERSION: &str = "stali-pipeline-1";

/// Bump when the ISO layout or xorriso options change.
pub const ISO_LAYOUT: &str = "iso-4: no cylinder alignment, no padding, FAT sized to 2% + 64 KiB";

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
    /// Print plain lines even on a terminal.
    pub plain: bool,
}

/// What one package produced.
#[derive(Debug, Clone)]
pub struct PackageOut {
    /// Package name.
    pub name: String,
    /// Its cache key.
    pub key: String,
    /// Its staging tree (installed files).
    pub staging: PathBuf,
    /// Installed bytes after pruning and stripping.
    pub size: u64,
    /// Whether it was a library (goes to sysroots, not the image).
    pub library: bool,
    /// Whether it came from the cache.
    pub cached: bool,
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

/// The epoch to use: `SOURCE_DATE_EPOCH` when it is a number, else [`DEFAULT_EPOCH`].
pub fn epoch_from_env() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_EPOCH)
}

fn first_line(argv: &[&str]) -> String {
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

/// Versions of the host tools that shape the output, for keys and the report.
pub fn host_versions() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("musl-gcc".into(), first_line(&["musl-gcc", "--version"]));
    m.insert("gcc".into(), first_line(&["gcc", "--version"]));
    m.insert("make".into(), first_line(&["make", "--version"]));
    m.insert("xorriso".into(), first_line(&["xorriso", "-version"]));
    m.insert("strip".into(), first_line(&["strip", "--version"]));
    m
}

fn musl_version() -> String {
    // Debian's musl-gcc wraps gcc with a specs file; the musl version is the libc's.
    let out = duct::cmd!("musl-gcc", "-print-file-name=libc.a")
        .stdout_capture()
        .stderr_null()
        .unchecked()
        .run();
    let libc = out
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let ld = Path::new(&libc).with_file_name("libc.so");
    let so = fs::read_link(&ld)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!("{libc} {so}")
}

/// Builds the image `plan` describes.
pub fn build(plan: &Plan, catalog: &Catalog, opts: &BuildOptions) -> Result<BuildResult> {
    let started = Instant::now();
    let progress = Arc::new(Progress::new(opts.plain));
    let est = estimate(plan, catalog);
    host::require(&[Need::Userland, Need::Kernel, Need::Iso])?;
    validate_output(&opts.output)?;
    fs::create_dir_all(&opts.cache)
        .with_context(|| format!("cannot create the cache folder {}", opts.cache.display()))?;
    let cache_root = fs::canonicalize(&opts.cache)
        .with_context(|| format!("cannot resolve {}", opts.cache.display()))?;
    let _cache_use = cache::enter(&cache_root)?; // removes stale temporaries when alone
    let logs = cache_root.join("logs").join(&plan.name);
    fs::create_dir_all(&logs)?;
    let versions = host_versions();
    let mut rebuilt = Vec::new();

    // Fetch.
    let fopts = fetch_options(opts.mirror.clone(), opts.offline, &progress)?;
    let fetched = fetch_sources(plan, &cache_root, &fopts, &logs, &progress)?;
    let sources = fetched.tools;
    let ksrc = super::kernel::prepare_source(&fetched.kernel, &cache_root)
        .context("preparing the kernel source")?;
    let kident = kernel_identity(&plan.kernel.source, &ksrc)?;

    // Kernel headers for the sysroot.
    let mut hkey = Key::new("headers");
    hkey.add(PIPELINE_VERSION).add(&kident);
    let headers = cache_root.join("headers").join(hkey.short());
    if !headers.join(".done").exists() {
        progress.stage("headers", "kernel UAPI headers");
        let tmp = headers.with_extension("tmp");
        cache::remove_dir(&tmp)?;
        super::kernel::headers_install(
            &ksrc,
            &tmp.join("obj"),
            &tmp.join("usr"),
            &logs.join("headers.log"),
        )
        .context("installing kernel headers")?;
        cache::remove_dir(&tmp.join("obj"))?;
        fs::write(tmp.join(".done"), "")?;
        cache::publish_dir(&tmp, &headers)?;
        rebuilt.push("headers".into());
    }

    // Packages.
    let tc = Toolchain {
        cc: "musl-gcc".into(),
        host: plan.hardware.triple.clone(),
        jobs: opts.jobs,
    };
    let mut tckey = Key::new("toolchain");
    tckey
        .add(PIPELINE_VERSION)
        .add(versions.get("musl-gcc").map(String::as_str).unwrap_or(""))
        .add(musl_version())
        .add(versions.get("strip").map(String::as_str).unwrap_or(""));
    let packages = build_packages(
        plan,
        &tc,
        &tckey.hex(),
        &headers,
        &sources,
        &cache_root,
        &logs,
        opts,
        &progress,
        opts.epoch,
    )?;
    for p in packages.values() {
        if !p.cached {
            rebuilt.push(format!("package {}", p.name));
        }
    }

    // Root filesystem.
    progress.stage("rootfs", "merge and pack");
    let work = cache_root.join("work").join(format!("image-{}", plan.name));
    cache::remove_dir(&work)?;
    let root = work.join("root");
    fs::create_dir_all(&root)?;
    let stagings: Vec<(String, PathBuf)> = plan
        .tools
        .iter()
        .filter_map(|t| packages.get(&t.def.name))
        .filter(|p| !p.library)
        .map(|p| (p.name.clone(), p.staging.clone()))
        .collect();
    rootfs::merge(&root, &stagings)?;
    rootfs::skeleton(plan, &root)?;
    let cpio = super::cpio::build_newc(Some(&root), &super::cpio::console_entries(), opts.epoch)?;
    let userland_size = cache::tree_size(&root)?;
    cache::remove_dir(&work)?;

    // Kernel.
    let (bzimage, kconfig_text) = build_kernel(
        plan,
        &ksrc,
        &kident,
        &cpio,
        &cache_root,
        &logs,
        opts,
        &progress,
        &versions,
        &mut rebuilt,
    )?;

    // ISO.
    let iso_sha_input = cache::sha256_file(&bzimage)?;
    let mut ikey = Key::new("iso");
    ikey.add(PIPELINE_VERSION)
        .add(ISO_LAYOUT)
        .add(&iso_sha_input)
        .add(plan.image.boot.as_str())
        .add(volume_label(&plan.name))
        .add(opts.epoch.to_string())
        .add(versions.get("xorriso").map(String::as_str).unwrap_or(""));
    let cached_iso = cache_root.join("iso").join(format!("{}.iso", ikey.short()));
    if !cached_iso.exists() {
        progress.stage("iso", &format!("{} image", plan.image.boot.as_str()));
        let wdir = cache_root
            .join("work")
            .join(format!("iso-{}", ikey.short()));
        cache::remove_dir(&wdir)?;
        fs::create_dir_all(&wdir)?;
        let spec = super::iso::IsoSpec {
            kernel: bzimage.clone(),
            boot: match plan.image.boot {
                crate::model::BootMode::Bios => super::iso::BootMode::Bios,
                crate::model::BootMode::Uefi => super::iso::BootMode::Uefi,
                crate::model::BootMode::Hybrid => super::iso::BootMode::Hybrid,
            },
            volume_label: volume_label(&plan.name),
            epoch: opts.epoch,
            work_dir: wdir.clone(),
        };
        super::iso::write_iso(&spec, &cached_iso).context("writing the ISO")?;
        cache::remove_dir(&wdir)?;
        rebuilt.push("iso".into());
    }
    let iso_sha = cache::sha256_file(&cached_iso)?;
    let same = opts.output.exists()
        && cache::sha256_file(&opts.output).ok().as_deref() == Some(iso_sha.as_str());
    if !same {
        cache::copy_atomic(&cached_iso, &opts.output)?;
    }

    // Report.
    let report = report::make(report::Inputs {
        plan,
        estimate: &est,
        packages: &packages,
        kernel_source: &plan.kernel.source,
        kernel_identity: &kident,
        kernel_config: &kconfig_text,
        bzimage: &bzimage,
        iso: &opts.output,
        iso_sha256: &iso_sha,
        userland_size,
        initramfs_size: cpio.len() as u64,
        initramfs_sha256: &cache::sha256_bytes(&cpio),
        versions: &versions,
        epoch: opts.epoch,
        seconds: started.elapsed().as_secs_f64(),
        rebuilt: &rebuilt,
    })?;
    let report_path = report::path_for(&opts.output);
    cache::write_atomic(
        &report_path,
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    progress.finish();
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

/// One fetched source, as `stali fetch --json` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FetchedSource {
    /// The tool's name, or `kernel`.
    pub name: String,
    /// `git`, `tarball` or `path`.
    pub kind: &'static str,
    /// Where it comes from (URL or path).
    pub url: String,
    /// The pinned commit or the SHA-256.
    pub pin: String,
    /// Where it is in the cache (a checkout folder, a downloaded file, or the path itself).
    pub path: PathBuf,
}

/// Every source of a plan in the cache.
#[derive(Debug)]
pub struct Fetched {
    /// Each tool's unpacked source folder, by name.
    pub tools: BTreeMap<String, PathBuf>,
    /// The kernel source as kbuild's preparation takes it.
    pub kernel: super::kernel::KernelSource,
    /// What was fetched, tools first, the kernel last.
    pub list: Vec<FetchedSource>,
}

/// Fetch options for a build or `stali fetch`: the mirror, offline mode, HTTP limits from
/// the environment, and progress shown through `progress`.
pub fn fetch_options(
    mirror: Option<PathBuf>,
    offline: bool,
    progress: &Arc<Progress>,
) -> Result<super::fetch::FetchOpts> {
    Ok(super::fetch::FetchOpts {
        mirror,
        offline,
        http: super::download::HttpOpts::from_env()?,
        retry_delays: super::download::retry_delays_from_env()?,
        progress: Some(progress.clone()),
        notify: None,
    })
}

/// Fetches every source of `plan` into the cache (what `stali build` does first, and all
/// that `stali fetch` does), so a later `--offline` build finds them.
pub fn fetch_sources(
    plan: &Plan,
    cache_root: &Path,
    fopts: &super::fetch::FetchOpts,
    logs: &Path,
    progress: &Progress,
) -> Result<Fetched> {
    progress.stage("fetch", &format!("{} sources", plan.tools.len() + 1));
    let mut tools = BTreeMap::new();
    let mut list = Vec::new();
    for t in &plan.tools {
        progress.item("fetch", &t.def.name);
        let dir = fetch_source(&t.def.name, &t.def.source, cache_root, fopts, logs)
            .with_context(|| format!("fetching {} ({})", t.def.name, t.def.source.url()))?;
        let (kind, path) = match &t.def.source {
            Source::Git { .. } => ("git", dir.clone()),
            Source::Tarball { url, .. } => (
                "tarball",
                super::fetch::tarball_cache_path(cache_root, url)?,
            ),
        };
        list.push(FetchedSource {
            name: t.def.name.clone(),
            kind,
            url: t.def.source.url().to_string(),
            pin: t.def.source.pin().to_string(),
            path,
        });
        tools.insert(t.def.name.clone(), dir);
    }
    progress.item("fetch", "kernel");
    let kernel = kernel_source(&plan.kernel.source, cache_root, fopts)?;
    let kpath = match &kernel {
        super::kernel::KernelSource::Path(p) => p.clone(),
        super::kernel::KernelSource::Tarball {
            path_already_downloaded,
            ..
        } => path_already_downloaded.clone(),
    };
    let (kind, url, pin) = match &plan.kernel.source {
        KernelSource::Path(p) => ("path", p.display().to_string(), String::new()),
        KernelSource::Tarball { url, sha256 } => ("tarball", url.clone(), sha256.clone()),
        KernelSource::Git { url, rev } => ("git", url.clone(), rev.clone()),
    };
    list.push(FetchedSource {
        name: "kernel".into(),
        kind,
        url,
        pin,
        path: kpath,
    });
    Ok(Fetched {
        tools,
        kernel,
        list,
    })
}

fn fetch_tarball(
    url: &str,
    sha256: &str,
    cache_root: &Path,
    fopts: &super::fetch::FetchOpts,
) -> Result<PathBuf> {
    super::fetch::fetch_tarball(url, sha256, cache_root, fopts)
}

/// Fetches one source and returns a fresh-enough checkout folder (never modified by builds).
fn fetch_source(
    name: &str,
    src: &Source,
    cache_root: &Path,
    fopts: &super::fetch::FetchOpts,
    logs: &Path,
) -> Result<PathBuf> {
    match src {
        Source::Git { url, rev, exclude } => {
            super::fetch::fetch_git(url, rev, exclude, cache_root, fopts)
        }
        Source::Tarball { url, sha256 } => {
            let file = fetch_tarball(url, sha256, cache_root, fopts)?;
            let dir = cache_root
                .join("src")
                .join(format!("{name}-{}", &sha256[..16]));
            if !dir.join(".stali-complete").exists() {
                let tmp = dir.with_extension("tmp");
                cache::remove_dir(&tmp)?;
                fs::create_dir_all(&tmp)?;
                run_logged(&Step::new(
                    [
                        "tar",
                        "-xf",
                        &file.display().to_string(),
                        "-C",
                        &tmp.display().to_string(),
                        "--strip-components=1",
                        "--no-same-owner",
                    ],
                    logs.join(format!("{name}-extract.log")),
                ))
                .with_context(|| format!("unpacking {}", file.display()))?;
                fs::write(tmp.join(".stali-complete"), "")?;
                cache::publish_dir(&tmp, &dir)?;
            }
            Ok(dir)
        }
    }
}

fn kernel_source(
    src: &KernelSource,
    cache_root: &Path,
    fopts: &super::fetch::FetchOpts,
) -> Result<super::kernel::KernelSource> {
    Ok(match src {
        KernelSource::Path(p) => {
            if !p.exists() {
                let hint = if p.to_string_lossy().contains("linux-source-") {
                    " (on Debian: apt-get install linux-source-6.1)"
                } else {
                    ""
                };
                bail!("kernel source {} does not exist{hint}", p.display());
            }
            super::kernel::KernelSource::Path(p.clone())
        }
        KernelSource::Tarball { url, sha256 } => {
            let file = fetch_tarball(url, sha256, cache_root, fopts)
                .context("fetching the kernel tarball")?;
            super::kernel::KernelSource::Path(file)
        }
        KernelSource::Git { url, rev } => {
            let dir = super::fetch::fetch_git(url, rev, &[], cache_root, fopts)
                .context("fetching the kernel")?;
            super::kernel::KernelSource::Path(dir)
        }
    })
}

/// What identifies the kernel source's content cheaply: the pin, or for a local path its
/// size and modification time (hashing 130 MB on every build would cost a second).
fn kernel_identity(src: &KernelSource, tree: &Path) -> Result<String> {
    Ok(match src {
        KernelSource::Tarball { sha256, .. } => format!("tarball:{sha256}"),
        KernelSource::Git { rev, .. } => format!("git:{rev}"),
        KernelSource::Path(p) => {
            let m = fs::metadata(p).with_context(|| format!("cannot stat {}", p.display()))?;
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs())
                .unwrap_or(0);
            format!(
                "path:{}:{}:{}:{}",
                p.display(),
                m.len(),
                mtime,
                tree.display()
            )
        }
    })
}

/// Transitive library dependencies of `t`, in plan order.
fn library_closure(plan: &Plan, t: &PlannedTool) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<String> = t.def.depends.clone();
    while let Some(n) = stack.pop() {
        if seen.insert(n.clone())
            && let Some(d) = plan.tool(&n)
        {
            stack.extend(d.def.depends.iter().cloned());
        }
    }
    plan.tools
        .iter()
        .map(|p| p.def.name.clone())
        .filter(|n| seen.contains(n))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn build_packages(
    plan: &Plan,
    tc: &Toolchain,
    tckey: &str,
    headers: &Path,
    sources: &BTreeMap<String, PathBuf>,
    cache_root: &Path,
    logs: &Path,
    opts: &BuildOptions,
    progress: &Progress,
    epoch: u64,
) -> Result<BTreeMap<String, PackageOut>> {
    // Keys first: a package's key covers its recipe, pin, toolchain, headers and its
    // dependencies' keys, so changing one tool rebuilds it and what depends on it.
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    for t in &plan.tools {
        let mut k = Key::new("package");
        k.add(PIPELINE_VERSION)
            .add(&t.def.name)
            .add(t.def.source.pin())
            .add(match &t.def.source {
                Source::Git { exclude, .. } => exclude.join("\n"),
                Source::Tarball { .. } => String::new(),
            })
            .add(format!(
                "{:?}|{:?}|{:?}|{:?}",
                t.def.build, t.def.make_flags, t.def.configure_flags, t.def.env
            ))
            .add(tckey)
            .add(headers.display().to_string())
            .add(epoch.to_string());
        for d in library_closure(plan, t) {
            k.add(keys.get(&d).map(String::as_str).unwrap_or(""));
        }
        keys.insert(t.def.name.clone(), k.short());
    }
    let mut done: BTreeMap<String, PackageOut> = BTreeMap::new();
    let mut pending: Vec<&PlannedTool> = plan.tools.iter().collect();
    let mut running: BTreeSet<String> = BTreeSet::new();
    let (tx, rx) = mpsc::channel::<(String, Result<PackageOut>)>();
    let mut first_error: Option<anyhow::Error> = None;
    std::thread::scope(|scope| {
        loop {
            if first_error.is_none() {
                while running.len() < opts.jobs.max(1) {
                    let Some(pos) = pending
                        .iter()
                        .position(|t| t.def.depends.iter().all(|d| done.contains_key(d)))
                    else {
                        break;
                    };
                    let t = pending.remove(pos);
                    let name = t.def.name.clone();
                    running.insert(name.clone());
                    let key = keys.get(&name).cloned().unwrap_or_default();
                    let libs: Vec<PathBuf> = library_closure(plan, t)
                        .iter()
                        .filter_map(|n| done.get(n))
                        .filter(|p| p.library)
                        .map(|p| p.staging.clone())
                        .collect();
                    let src = sources.get(&name).cloned().unwrap_or_default();
                    let tx = tx.clone();
                    let tc = tc.clone();
                    progress.item("build", &name);
                    scope.spawn(move || {
                        let r = build_package(
                            t, &key, &tc, headers, &libs, &src, cache_root, logs, epoch,
                        )
                        .with_context(|| format!("building {name}"));
                        let _ = tx.send((name, r));
                    });
                }
            }
            if running.is_empty() {
                break;
            }
            let Ok((name, result)) = rx.recv() else { break };
            running.remove(&name);
            match result {
                Ok(out) => {
                    progress.done("build", &name, out.cached);
                    done.insert(name, out);
                }
                Err(e) => {
                    if first_error.is_none() {
                        super::exec::kill_all_children();
                        first_error = Some(e);
                    }
                }
            }
        }
    });
    if let Some(e) = first_error {
        return Err(e);
    }
    if !pending.is_empty() {
        bail!("could not order the packages: {} left", pending.len());
    }
    Ok(done)
}

#[allow(clippy::too_many_arguments)]
fn build_package(
    t: &PlannedTool,
    key: &str,
    tc: &Toolchain,
    headers: &Path,
    libs: &[PathBuf],
    src: &Path,
    cache_root: &Path,
    logs: &Path,
    epoch: u64,
) -> Result<PackageOut> {
    let name = &t.def.name;
    let dir = cache_root.join("pkg").join(format!("{name}-{key}"));
    let record = dir.join("record.json");
    let library = t.def.is_library();
    if let Ok(text) = fs::read_to_string(&record)
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(size) = v["size"].as_u64()
    {
        return Ok(PackageOut {
            name: name.clone(),
            key: key.into(),
            staging: dir.join("staging"),
            size,
            library,
            cached: true,
        });
    }
    let work = cache_root.join("work").join(format!("{name}-{key}"));
    cache::remove_dir(&work)?;
    let wsrc = work.join("src");
    let sysroot = work.join("sysroot");
    let staging = work.join("staging");
    cache::copy_tree(src, &wsrc).with_context(|| format!("copying the source of {name}"))?;
    cache::copy_tree(headers, &sysroot)?;
    for l in libs {
        cache::copy_tree(l, &sysroot)?;
    }
    fs::create_dir_all(&staging)?;
    let log = logs.join(format!("{name}.log"));
    let _ = fs::remove_file(&log);
    let (steps, env) = recipe::commands(
        &t.def,
        tc,
        &Dirs {
            src: &wsrc,
            sysroot: &sysroot,
            destdir: &staging,
        },
    );
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    for mut argv in steps {
        // A relative program such as ./configure is relative to the source tree.
        if let Some(prog) = argv.first_mut()
            && prog.contains('/')
            && !prog.starts_with('/')
        {
            *prog = wsrc.join(&*prog).display().to_string();
        }
        let mut step = Step::new(argv, &log)
            .cwd(&wsrc)
            .env_mode(EnvMode::Clear)
            .env("PATH", &path)
            .env("HOME", work.display().to_string())
            .env("LC_ALL", "C")
            .env("TZ", "UTC")
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .sandbox([work.clone()]);
        for (k, v) in &env {
            step = step.env(k, v);
        }
        run_logged(&step)?;
    }
    if !library {
        rootfs::prune(&staging)?;
        super::elf::strip_tree(&staging, &log)?;
        super::elf::check_static_tree(&staging).with_context(|| {
            format!(
                "{name} installed a dynamically linked program; every Stali binary must be static"
            )
        })?;
    }
    let size = cache::tree_size(&staging)?;
    let tmp = dir.with_extension("tmp");
    cache::remove_dir(&tmp)?;
    fs::create_dir_all(&tmp)?;
    fs::rename(&staging, tmp.join("staging"))?;
    fs::write(
        tmp.join("record.json"),
        serde_json::to_string_pretty(&serde_json::json!({
            "name": name, "key": key, "size": size, "pin": t.def.source.pin(), "library": library,
        }))?,
    )?;
    cache::publish_dir(&tmp, &dir)?;
    cache::remove_dir(&work)?;
    Ok(PackageOut {
        name: name.clone(),
        key: key.into(),
        staging: dir.join("staging"),
        size,
        library,
        cached: false,
    })
}

pub use crate::model::plan::pipeline_options;

#[allow(clippy::too_many_arguments)]
fn build_kernel(
    plan: &Plan,
    ksrc: &Path,
    kident: &str,
    cpio: &[u8],
    cache_root: &Path,
    logs: &Path,
    opts: &BuildOptions,
    progress: &Progress,
    versions: &BTreeMap<String, String>,
    rebuilt: &mut Vec<String>,
) -> Result<(PathBuf, String)> {
    let requested: Vec<(String, String)> = plan
        .kernel
        .requested()
        .into_iter()
        .map(|(k, v)| (k, kconfig_value(&v)))
        .collect();
    // The lineage (source, base, compiler): configurations of one lineage share objects.
    let lineage = format!(
        "{kident}\n{}\n{}",
        plan.kernel.base,
        versions.get("gcc").map(String::as_str).unwrap_or("")
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
    for (k, v) in pipeline_options(plan, placeholder) {
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
    let cpio_path = work.join("stali-initramfs.cpio");
    let configured = kdir.join("configured");
    let built_record = kdir.join("built-with");
    let mut options = requested.clone();
    for (k, v) in pipeline_options(plan, &cpio_path) {
        options.retain(|(n, _)| n != &k);
        options.push((k, v));
    }
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
        progress.stage(
            "kernel",
            &format!(
                "configure {} + {} fragments",
                plan.kernel.base,
                plan.kernel.fragments.len()
            ),
        );
        // Neither record of an earlier configuration of this folder holds any more.
        let _ = fs::remove_file(&configured);
        let _ = fs::remove_file(&built_record);
        // Another configuration of the same source, base and compiler already built: start
        // from its objects, so kbuild recompiles only what the changed options touch.
        if let Some(donor) = kernel_donor(&cache_root.join("kernel"), &kdir, &lineage) {
            progress.stage(
                "kernel",
                &format!(
                    "start from the objects of kernel {}",
                    donor.file_name().unwrap_or_default().to_string_lossy()
                ),
            );
            cache::copy_tree(&donor.join("obj"), &work)
                .with_context(|| format!("copying {}", donor.join("obj").display()))?;
        }
        let req = super::kernel::KernelConfigRequest {
            base: plan.kernel.base.clone(),
            fragments: plan
                .kernel
                .fragments
                .iter()
                .map(|f| (f.fragment.name.clone(), f.fragment.text.clone()))
                .collect(),
            options: options.clone(),
        };
        super::kernel::configure(ksrc, &work, &req, &logs.join("kernel-config.log"))
            .context("configuring the kernel")?;
        fs::write(kdir.join("lineage"), &lineage)?;
        fs::write(&configured, "")?;
        rebuilt.push("kernel config".into());
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
    let up_to_date = work.join("arch/x86/boot/bzImage").exists()
        && fs::read_to_string(&built_record).ok() == Some(record()?);
    if !up_to_date {
        progress.stage("kernel", "build bzImage");
        if fs::read(&cpio_path).ok().as_deref() != Some(cpio) {
            cache::write_atomic(&cpio_path, cpio)?;
        }
        let _ = fs::remove_file(&built_record);
        super::kernel::build(
            ksrc,
            &work,
            opts.jobs,
            opts.epoch,
            &logs.join("kernel-build.log"),
        )
        .context("building the kernel")?;
        fs::write(&built_record, record()?)?;
        rebuilt.push("kernel".into());
    }
    parked.put_back()?;
    let bz = obj.join("arch/x86/boot/bzImage");
    let config = fs::read_to_string(obj.join(".config")).context("reading the kernel .config")?;
    Ok((bz, config))
}

/// Holds an exclusive lock on `path` (created if needed) until dropped.
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
        let Ok(t) = fs::metadata(dir.join("built-with")).and_then(|m| m.modified()) else {
            continue;
        };
        if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
            best = Some((t, dir));
        }
    }
    best.map(|(_, d)| d)
}

/// The estimate for a plan, recomputed (exposed for the report and tests).
pub fn estimate_for(plan: &Plan, catalog: &Catalog) -> Estimate {
    estimate(plan, catalog)
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
