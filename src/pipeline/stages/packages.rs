//! The packages stage: every tool of the plan compiled, pruned, stripped and checked
//! static, in dependency order (independent ones in parallel), each cached by a key over
//! its recipe, pin, toolchain, headers and its dependencies' keys.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{Context, Result, bail};

use super::Ctx;
use crate::model::{Plan, PlannedTool, Source};
use crate::pipeline::build::PIPELINE_VERSION;
use crate::pipeline::cache::{self, Key};
use crate::pipeline::events::{BuildEvent, StageTimer};
use crate::pipeline::exec::{self, EnvMode, Step, run_logged};
use crate::pipeline::recipe::{self, Dirs, Toolchain};
use crate::pipeline::{elf, rootfs};

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

/// What every package of a build shares: the toolchain, its key, the kernel headers and
/// the fetched sources.
pub struct Inputs<'a> {
    /// The toolchain.
    pub toolchain: Toolchain,
    /// The toolchain's cache key (compiler, musl and strip versions).
    pub toolchain_key: String,
    /// The kernel UAPI headers for the sysroot.
    pub headers: &'a Path,
    /// Each tool's source folder, by name.
    pub sources: &'a BTreeMap<String, PathBuf>,
}

/// One package to build: its tool, key, library dependencies' staging trees and source.
struct Job<'a> {
    tool: &'a PlannedTool,
    key: String,
    libs: Vec<PathBuf>,
    src: PathBuf,
}

/// The toolchain for `plan` with `jobs` parallel jobs, and its cache key.
///
/// On this machine's architecture that is musl-gcc; for another one, the cross gcc with
/// the target's musl specs file (Debian's multi-arch `musl-dev:arm64`), as musl-gcc does.
pub fn toolchain(ctx: &Ctx<'_>) -> Result<(Toolchain, String)> {
    let arch = ctx.plan.hardware.arch;
    let mut tc = Toolchain {
        cc: "musl-gcc".into(),
        wrapper: None,
        strip: arch.tool("strip"),
        runner: arch.runner().unwrap_or("").to_string(),
        host: ctx.plan.hardware.triple.clone(),
        jobs: ctx.opts.jobs,
    };
    let mut key = Key::new("toolchain");
    key.add(PIPELINE_VERSION);
    if arch.cross_prefix().is_some() {
        let specs = crate::host::host_file(
            crate::host::musl_specs(arch),
            &format!("musl's specs file for {arch}"),
        )?;
        let gcc = arch.tool("gcc");
        tc.wrapper = Some(format!(
            "#!/bin/sh\nexec {gcc} \"$@\" -specs {}\n",
            crate::shell::quote_arg(&specs.display().to_string())
        ));
        let libc = specs.with_file_name("libc.a");
        key.add(arch.as_str())
            .add(ctx.version(&gcc))
            .add(fs::read_to_string(&specs).unwrap_or_default())
            .add(cache::sha256_file(&libc).unwrap_or_default())
            .add(ctx.version(&tc.strip))
            .add(ctx.version(&tc.runner));
    } else {
        key.add(ctx.version("musl-gcc"))
            .add(musl_version())
            .add(ctx.version("strip"));
    }
    Ok((tc, key.hex()))
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

/// Builds every package of the plan (dependency order, at most `jobs` at once), each
/// from the cache when its key is there.
pub fn build_packages(ctx: &Ctx<'_>, inputs: &Inputs<'_>) -> Result<BTreeMap<String, PackageOut>> {
    let plan = ctx.plan;
    let epoch = ctx.opts.epoch;
    let timer = StageTimer::start(ctx.events, "packages");
    // Keys first: a package's key covers its recipe, pin, toolchain, headers and its
    // dependencies' keys, so changing one tool rebuilds it and what depends on it.
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    let path = exec::step_path();
    let sandbox = exec::sandbox_fingerprint(&path);
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
            .add(&inputs.toolchain_key)
            .add(&path)
            .add(&sandbox)
            .add(inputs.headers.display().to_string())
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
                while running.len() < ctx.opts.jobs.max(1) {
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
                    let src = inputs.sources.get(&name).cloned().unwrap_or_default();
                    let tx = tx.clone();
                    ctx.events.event(&BuildEvent::ItemStarted {
                        stage: "build".into(),
                        name: name.clone(),
                    });
                    let job = Job {
                        tool: t,
                        key,
                        libs,
                        src,
                    };
                    scope.spawn(move || {
                        let r = build_package(ctx, inputs, &job)
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
                    ctx.events.event(&if out.cached {
                        BuildEvent::PackageCached {
                            name: name.clone(),
                            bytes: out.size,
                        }
                    } else {
                        BuildEvent::PackageBuilt {
                            name: name.clone(),
                            bytes: out.size,
                        }
                    });
                    done.insert(name, out);
                }
                Err(e) => {
                    if first_error.is_none() {
                        exec::kill_all_children();
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
    for p in done.values() {
        if !p.cached {
            ctx.rebuilt(format!("package {}", p.name));
        }
        ctx.events.event(&BuildEvent::SizeMeasured {
            what: format!("package {}", p.name),
            bytes: p.size,
        });
    }
    timer.finish(done.values().all(|p| p.cached));
    Ok(done)
}

fn build_package(ctx: &Ctx<'_>, inputs: &Inputs<'_>, job: &Job<'_>) -> Result<PackageOut> {
    let (t, key, src) = (job.tool, job.key.as_str(), job.src.as_path());
    let (cache_root, logs, epoch) = (ctx.cache, ctx.logs, ctx.opts.epoch);
    let name = &t.def.name;
    let dir = cache_root.join("pkg").join(format!("{name}-{key}"));
    let record = dir.join("record.json");
    let library = t.def.is_library();
    let cached = || -> Option<PackageOut> {
        let text = fs::read_to_string(&record).ok()?;
        let v = serde_json::from_str::<serde_json::Value>(&text).ok()?;
        Some(PackageOut {
            name: name.clone(),
            key: key.into(),
            staging: dir.join("staging"),
            size: v["size"].as_u64()?,
            library,
            cached: true,
        })
    };
    if let Some(out) = cached() {
        return Ok(out);
    }
    // One run builds it; another one that wants it at the same time waits here, then
    // finds it built.
    let _lock = cache::lock_entry(&dir)?;
    if let Some(out) = cached() {
        return Ok(out);
    }
    let work = cache_root.join("work").join(format!("{name}-{key}"));
    cache::remove_dir(&work)?;
    let wsrc = work.join("src");
    let sysroot = work.join("sysroot");
    let staging = work.join("staging");
    cache::copy_tree(src, &wsrc).with_context(|| format!("copying the source of {name}"))?;
    cache::copy_tree(inputs.headers, &sysroot)?;
    for l in &job.libs {
        cache::copy_tree(l, &sysroot)?;
    }
    fs::create_dir_all(&staging).with_context(|| format!("cannot create {}", staging.display()))?;
    let log = logs.join(format!("{name}.log"));
    let _ = fs::remove_file(&log);
    let mut toolchain = inputs.toolchain.clone();
    if let Some(script) = &toolchain.wrapper {
        // Inside the work folder, so the sandbox sees it.
        let cc = work.join("cc").join("musl-gcc");
        write_executable(&cc, script)?;
        toolchain.cc = cc.display().to_string();
    }
    let (steps, env) = recipe::commands(
        &t.def,
        &toolchain,
        &Dirs {
            src: &wsrc,
            sysroot: &sysroot,
            destdir: &staging,
        },
    );
    let path = exec::step_path();
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
        elf::strip_tree(&staging, &toolchain.strip, &log)?;
        elf::check_static_tree(&staging).with_context(|| {
            format!(
                "{name} installed a dynamically linked program; every Stali binary must be static"
            )
        })?;
    }
    let size = cache::tree_size(&staging)?;
    let tmp = cache::sibling(&dir, ".tmp");
    cache::remove_dir(&tmp)?;
    fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    fs::rename(&staging, tmp.join("staging")).with_context(|| {
        format!(
            "cannot move {} to {}",
            staging.display(),
            tmp.join("staging").display()
        )
    })?;
    let rec = tmp.join("record.json");
    fs::write(
        &rec,
        serde_json::to_string_pretty(&serde_json::json!({
            "name": name, "key": key, "size": size, "pin": t.def.source.pin(), "library": library,
        }))?,
    )
    .with_context(|| format!("cannot write {}", rec.display()))?;
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

/// Writes `text` to `path` (its folder created) with mode 755.
fn write_executable(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))
}
