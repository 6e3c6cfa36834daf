//! The pipeline's commands: `stali fetch`, `stali build` and `stali boot`, which turn
//! arguments into the pipeline's options and its results into output and exit codes.

use std::path::PathBuf;

use anyhow::Context;
use std::time::Duration;

use super::reporter::{self, Json, MessageFormat};
use super::{BootArgs, BuildArgs, EXIT_INVALID, FetchArgs, load_plan, out};
use crate::model::Catalog;
use crate::pipeline::events::BuildEvent;
use crate::pipeline::stages::sources::{fetch_options, fetch_sources};
use crate::pipeline::{budget, build as engine, cache, exec, output, qemu, report};

fn fail(e: &anyhow::Error) -> i32 {
    if let Some(sig) = exec::interrupted() {
        // The signal handler said "interrupted" and is stopping the children: a failure
        // now is their being stopped, not an error of its own.
        return exec::interrupted_exit_code(sig);
    }
    eprintln!("error: {e:#}");
    EXIT_INVALID
}

/// Runs `stali fetch`; returns the exit code.
pub fn fetch(args: &FetchArgs) -> i32 {
    if let Err(e) = exec::install_signal_handler() {
        return fail(&e);
    }
    let catalog = Catalog::load();
    let mut plans = Vec::new();
    for p in &args.profiles {
        match load_plan(p, &catalog) {
            Ok((_, plan)) => plans.push(plan),
            Err(inv) => {
                eprintln!("{inv}");
                return EXIT_INVALID;
            }
        }
    }
    let run = || -> anyhow::Result<Vec<serde_json::Value>> {
        // Unpacking a tarball runs tar: checked first, like a build checks everything.
        crate::host::require_programs(&["tar"])?;
        let cache = match args.sources.cache.clone() {
            Some(c) => c,
            None => cache::default_root()?,
        };
        std::fs::create_dir_all(&cache)
            .with_context(|| format!("cannot create the cache folder {}", cache.display()))?;
        let cache = std::fs::canonicalize(&cache)
            .with_context(|| format!("cannot resolve {}", cache.display()))?;
        let _cache_use = cache::enter(&cache)?;
        // `--json` keeps standard output for the list: progress goes out as plain lines.
        let events = reporter::choose(if args.json {
            MessageFormat::Plain
        } else {
            MessageFormat::Human
        });
        let fopts = fetch_options(args.sources.mirror.clone(), args.sources.offline, &events)?;
        let mut listed = Vec::new();
        for plan in &plans {
            let logs = cache.join("logs").join(&plan.name);
            std::fs::create_dir_all(&logs)?;
            let fetched = fetch_sources(plan, &cache, &fopts, &logs, events.as_ref())
                .map_err(|e| e.context(format!("profile {}", plan.name)));
            let fetched = match fetched {
                Ok(f) => f,
                Err(e) => {
                    events.finish();
                    return Err(e);
                }
            };
            for s in fetched.list {
                listed.push(serde_json::json!({
                    "profile": plan.name,
                    "name": s.name,
                    "kind": s.kind,
                    "url": s.url,
                    "pin": s.pin,
                    "path": s.path,
                }));
            }
        }
        events.finish();
        Ok(listed)
    };
    match run() {
        Ok(listed) => {
            if args.json {
                out(&format!(
                    "{}\n",
                    serde_json::json!({ "format": 1, "sources": listed })
                ));
            } else {
                out(&format!(
                    "fetched {} sources of {} profile(s) into the cache\n",
                    listed.len(),
                    plans.len()
                ));
            }
            0
        }
        Err(e) => fail(&e),
    }
}

/// Runs `stali build`; returns the exit code.
pub fn build(args: &BuildArgs) -> i32 {
    let json = (args.message_format == MessageFormat::Json).then(Json::new);
    // In JSON mode a failure is also a `build-finished` line, so a reader always gets one.
    let finished_with = |error: &str| {
        if let Some(j) = &json {
            j.emit(&j.message(serde_json::json!({
                "event": "build-finished",
                "success": false,
                "error": error,
            })));
        }
    };
    let failed = |e: &anyhow::Error| {
        finished_with(&format!("{e:#}"));
        fail(e)
    };
    if let Err(e) = exec::install_signal_handler() {
        return failed(&e);
    }
    let catalog = Catalog::load();
    let (profile, plan) = match load_plan(&args.profile, &catalog) {
        Ok(x) => x,
        Err(inv) => {
            eprintln!("{inv}");
            finished_with(&inv.to_string());
            return EXIT_INVALID;
        }
    };
    // A profile's own code runs only once its exact content is trusted.
    let file = args.profile.exists().then_some(args.profile.as_path());
    if let Err(e) = super::trust::require_trusted(file, &profile, args.trust) {
        return failed(&e);
    }
    let events = reporter::choose(args.message_format);
    for w in &plan.warnings {
        events.event(&BuildEvent::Warning {
            message: w.to_string(),
        });
    }
    let cache = match args
        .sources
        .cache
        .clone()
        .map(Ok)
        .unwrap_or_else(cache::default_root)
    {
        Ok(c) => c,
        Err(e) => return failed(&e),
    };
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.iso", plan.name)));
    // Before any work: not over the profile, a device, a FIFO, nor in a read-only folder.
    if let Err(e) = output::check(&output, file) {
        return failed(&e);
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .clamp(1, 256);
    // The per-option kernel estimate the report compares with (figures of earlier builds
    // included); without figures for this kernel, the fragments' deltas.
    let kernel_estimate = crate::kconfig::sizes::kernel_estimate(&plan, &cache)
        .ok()
        .flatten();
    let opts = engine::BuildOptions {
        kernel_estimate,
        output,
        cache,
        mirror: args.sources.mirror.clone(),
        offline: args.sources.offline,
        jobs,
        epoch: engine::epoch_from_env(),
        kernel_requests: crate::kconfig::profile::requests(&profile, &plan),
    };
    if args.boot
        && let Err(e) = crate::host::require(&crate::host::boot_needs(plan.hardware.arch))
    {
        return failed(&e);
    }
    let result = match engine::build(&plan, &catalog, &opts, &events) {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    let over = budget::enforce(
        &result.iso,
        result.report.iso.bytes,
        plan.image.budget,
        args.allow_over_budget,
    );
    match &json {
        Some(j) => j.emit(&j.message(serde_json::json!({
            "event": "build-finished",
            "success": over.is_ok(),
            "error": over.as_ref().err().map(|e| format!("{e:#}")),
            "iso": result.iso,
            "bytes": result.report.iso.bytes,
            "sha256": result.report.iso.sha256,
            "report": result.report_path,
            "rebuilt": result.rebuilt,
        }))),
        None => {
            out(&format!(
                "{}: {} ({}), sha256 {}\nreport: {}\n\n{}",
                result.iso.display(),
                crate::model::profile::human(result.report.iso.bytes),
                result.report.iso.bytes,
                result.report.iso.sha256,
                result.report_path.display(),
                report::table(&result.report)
            ));
            if result.rebuilt.is_empty() {
                out("nothing changed: every stage came from the cache\n");
            }
        }
    }
    if let Err(e) = over {
        return fail(&e);
    }
    if args.boot {
        let mut modes = Vec::new();
        if plan.image.boot.bios() {
            modes.push(false);
        }
        if plan.image.boot.uefi() {
            modes.push(true);
        }
        for uefi in modes {
            let mut spec = qemu::BootSpec::new(result.iso.clone(), uefi, plan.ready_banner());
            spec.arch = plan.hardware.arch;
            spec.timeout = Duration::from_secs(args.timeout);
            let mode = if uefi { "UEFI" } else { "BIOS" };
            match qemu::boot(&spec) {
                Ok(o) => match &json {
                    Some(j) => j.emit(&j.message(serde_json::json!({
                        "event": "booted",
                        "mode": mode,
                        "expect": spec.expect,
                        "seconds": o.elapsed.as_secs_f64(),
                    }))),
                    None => out(&format!(
                        "boot {mode}: \"{}\" after {:.1} s\n",
                        spec.expect,
                        o.elapsed.as_secs_f64()
                    )),
                },
                Err(e) => {
                    eprintln!("boot {mode}: failed");
                    return fail(&e);
                }
            }
        }
    }
    0
}

/// Runs `stali boot`; returns the exit code.
pub fn boot(args: &BootArgs) -> i32 {
    if let Err(e) = exec::install_signal_handler() {
        return fail(&e);
    }
    if !args.iso.is_file() {
        eprintln!("{}: error: no such ISO file", args.iso.display());
        return EXIT_INVALID;
    }
    let arch = crate::pipeline::arch_for(&args.iso);
    if let Err(e) = crate::host::require(&crate::host::boot_needs(arch)) {
        return fail(&e);
    }
    let expect = match args
        .expect
        .clone()
        .or_else(|| crate::pipeline::banner_for(&args.iso))
    {
        Some(e) if !e.is_empty() => e,
        _ => {
            eprintln!(
                "error: no build report beside {} ({}) names its ready banner; pass --expect TEXT",
                args.iso.display(),
                report::path_for(&args.iso).display()
            );
            return EXIT_INVALID;
        }
    };
    // Only x86_64 has a BIOS: other architectures always boot with UEFI.
    let uefi = args.uefi || !arch.has_bios();
    let mut spec = qemu::BootSpec::new(args.iso.clone(), uefi, expect);
    spec.arch = arch;
    spec.timeout = Duration::from_secs(args.timeout);
    spec.interactive = args.interactive;
    if let Some(port) = args.net {
        let port = match port {
            0 => match qemu::free_port() {
                Ok(p) => p,
                Err(e) => return fail(&e),
            },
            p => p,
        };
        spec.net = Some(qemu::NetSpec {
            ssh_port: port,
            nic: crate::pipeline::nic_for(&args.iso).to_string(),
            isolated: args.isolated,
        });
        spec.hold = true;
        if args.interactive {
            eprintln!("SSH: ssh -p {port} root@127.0.0.1 (once the system is up)");
        }
    }
    let mode = if uefi { "UEFI" } else { "BIOS" };
    let iso = args.iso.display().to_string();
    let mut on_ready = |o: &qemu::BootOutcome| {
        out(&format!(
            "{iso}: booted ({mode}), \"{}\" after {:.1} s\n",
            spec.expect,
            o.elapsed.as_secs_f64()
        ));
        if let Some(n) = &spec.net {
            out(&format!(
                "SSH: ssh -p {} root@127.0.0.1 (the machine runs until QEMU stops or Ctrl-C; its console log: {})\n",
                n.ssh_port,
                spec.console_log
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "kept in a temporary file".into())
            ));
        }
    };
    let held = spec.hold;
    let interactive = spec.interactive;
    match qemu::boot_with(&spec.clone(), &mut on_ready) {
        Ok(o) => {
            if !interactive && !held {
                out(&format!(
                    "QEMU stopped {:.2} s after the banner\n",
                    o.stop.as_secs_f64()
                ));
            }
            0
        }
        Err(e) => fail(&e),
    }
}
