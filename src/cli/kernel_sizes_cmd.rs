//! Per-option kernel sizes on the command line: the estimate of a plan's kernel from the
//! size database and the Kconfig engine (`stali size`), the delta of one option
//! (`stali size --option CONFIG_X`), and `stali kernel-sizes`, which measures a built kernel
//! folder into a database (how the shipped one was filled).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::kconfig_cmd::{Computed, compute, kernel_tree};
use crate::kconfig::whatif::Dependents;
use crate::kconfig::{Kconfig, SymId};
use crate::model::Plan;
use crate::model::kernel_sizes::{self, Delta, KernelEstimate, KernelSizes, SizeDb};

/// `STALI_SIZES=shipped` leaves the user's database out (the accuracy script uses it so
/// that its own builds do not feed its estimates).
pub fn load_db(cache: &Path) -> SizeDb {
    if std::env::var("STALI_SIZES").is_ok_and(|v| v == "shipped") {
        SizeDb::shipped()
    } else {
        SizeDb::load(Some(&kernel_sizes::user_path(cache)))
    }
}

/// The compiler the kernel is built with, as the database names it.
pub fn compiler() -> String {
    kernel_sizes::compiler_id(&crate::pipeline::build::first_line(&["gcc", "--version"]))
}

/// A plan's kernel, computed by the engine, with the figures that apply to it.
pub struct PlanKernel {
    /// The engine's result (tree left in the plan's configuration).
    pub computed: Computed,
    /// The figures of this kernel version, arch and compiler.
    pub sizes: KernelSizes,
}

/// Computes the plan's kernel configuration and finds its figures: `Ok(None)` when the
/// kernel source is not here or no figures exist for it.
pub fn plan_kernel(plan: &Plan, cache: &Path) -> Result<Option<PlanKernel>> {
    let Ok(tree) = kernel_tree(&plan.kernel.source, cache)? else {
        return Ok(None);
    };
    let version = crate::kconfig::tree::kernel_version(&tree)?;
    let db = load_db(cache);
    let Some(sizes) = db.find(&version, "x86_64", &compiler()).cloned() else {
        return Ok(None);
    };
    let computed = compute(plan, &tree, cache)?;
    Ok(Some(PlanKernel { computed, sizes }))
}

/// The per-option estimate of a plan's kernel (`None` without figures for it).
pub fn estimate(plan: &Plan, pk: &PlanKernel) -> Option<KernelEstimate> {
    let on: std::collections::HashSet<&str> = pk
        .computed
        .config
        .lines()
        .filter_map(|l| l.strip_prefix("CONFIG_")?.strip_suffix("=y"))
        .collect();
    let requested: Vec<String> = plan
        .kernel
        .requested()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    pk.sizes.estimate(
        &plan.kernel.base,
        plan.image.compression.as_str(),
        &|s| on.contains(s),
        &requested,
    )
}

/// The figured symbols of `sizes` as engine ids (what a delta watches).
pub fn watch_list(kc: &Kconfig, sizes: &KernelSizes) -> Vec<SymId> {
    sizes.watched().iter().filter_map(|n| kc.find(n)).collect()
}

/// What switching `option` on (or off) adds (or saves) in bzImage bytes, everything it
/// selects and needs included; `watch` is [`watch_list`], `deps` the tree's
/// [`Kconfig::dependents`] (built once).
pub fn option_delta(
    kc: &mut Kconfig,
    sizes: &KernelSizes,
    watch: &[SymId],
    deps: &Dependents,
    option: &str,
    on: bool,
) -> Result<Delta> {
    let name = option.strip_prefix("CONFIG_").unwrap_or(option);
    let Some(s) = kc.find(name) else {
        bail!("no kernel option CONFIG_{name} in this source");
    };
    let mut changes: Vec<(String, bool, bool)> = kc
        .what_if_in(s, on, watch, Some(deps))
        .into_iter()
        .map(|(w, a, b)| (kc.sym(w).name.clone(), a, b))
        .collect();
    // The option itself counts even when it has no figure ("no figure yet").
    let before = kc.tri_value(s) != crate::kconfig::Tri::N;
    if before != on && !changes.iter().any(|(n, _, _)| n == name) {
        changes.push((name.to_string(), before, on));
    }
    Ok(sizes.delta(&changes))
}

/// `stali size PROFILE --option CONFIG_X`: the option's delta on the profile, and where the
/// figures come from.
pub fn describe_delta(plan: &Plan, cache: &Path, option: &str) -> Result<String> {
    let Some(mut pk) = plan_kernel(plan, cache)? else {
        bail!("no per-option figures for this kernel (version, arch and compiler)");
    };
    let name = option.strip_prefix("CONFIG_").unwrap_or(option).to_string();
    let s = pk
        .computed
        .kc
        .find(&name)
        .with_context(|| format!("no kernel option CONFIG_{name} in this source"))?;
    let on = pk.computed.kc.tri_value(s) == crate::kconfig::Tri::N;
    let watch = watch_list(&pk.computed.kc, &pk.sizes);
    let deps = pk.computed.kc.dependents();
    let d = option_delta(&mut pk.computed.kc, &pk.sizes, &watch, &deps, &name, on)?;
    let mut out = format!(
        "CONFIG_{name} {}: {} ({} bytes in the bzImage)\n",
        if on { "on" } else { "off" },
        kernel_sizes::signed(d.bytes),
        d.bytes
    );
    for (sym, now, fig) in &d.changed {
        let what = match fig {
            Some(b) => format!(
                "{:>+9}  {}",
                if *now { *b } else { -*b },
                pk.sizes.help_line(sym)
            ),
            None => format!("{:>9}  no figure yet (counted as zero)", 0),
        };
        out.push_str(&format!(
            "  {} CONFIG_{sym:<28} {what}\n",
            if *now { "+" } else { "-" }
        ));
    }
    if d.no_figure > 0 {
        out.push_str(&format!(
            "{} of the {} options it switches have no figure yet\n",
            d.no_figure,
            d.changed.len()
        ));
    }
    Ok(out)
}

/// Arguments of `stali kernel-sizes`.
#[derive(clap::Args, Debug, Clone)]
pub struct KernelSizesArgs {
    /// A built kbuild object folder (holding `.config`, `vmlinux.a`, `arch/x86/boot/bzImage`).
    #[arg(long)]
    pub objdir: PathBuf,
    /// The kernel source tree it was built from.
    #[arg(long)]
    pub src: PathBuf,
    /// A measured build with a subset of its options (its object folder): the growth of
    /// objects both have is charged to the symbols that differ (`#ifdef` code).
    #[arg(long)]
    pub smaller: Option<PathBuf>,
    /// What was built (profile, fragments, options), kept as the figures' provenance.
    #[arg(long)]
    pub label: String,
    /// The database file to add it to (created when missing).
    #[arg(long)]
    pub db: PathBuf,
    /// Base configuration of the build.
    #[arg(long, default_value = "tinyconfig")]
    pub base: String,
}

/// `stali kernel-sizes`: measures a built kernel folder into a database and prints what
/// the attribution explains.
pub fn run(a: &KernelSizesArgs) -> i32 {
    match run_inner(a) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            super::EXIT_INVALID
        }
    }
}

fn run_inner(a: &KernelSizesArgs) -> Result<()> {
    use crate::pipeline::kbuild_sizes::{measure, shared_growth};
    let m = measure(&a.src, &a.objdir)?;
    let compression = ["XZ", "ZSTD", "GZIP", "LZMA", "BZIP2", "LZO", "LZ4"]
        .iter()
        .find(|c| {
            m.config
                .get(&format!("KERNEL_{c}"))
                .is_some_and(|v| v == "y")
        })
        .map_or("gzip".to_string(), |c| c.to_lowercase());
    let version = crate::kconfig::tree::kernel_version(&a.src)?;
    let stamp = crate::pipeline::kernel::format_epoch(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    let measured = format!("stali kernel-sizes, {stamp}");
    let uratio = crate::model::Catalog::load()
        .model
        .ratio
        .get(&compression)
        .copied()
        .unwrap_or(1.0);
    let record = m.record(&a.label, &a.base, &compression, uratio, &measured);
    let mut db = SizeDb::read(&a.db)?;
    let k = db.entry(&version, "x86_64", &compiler());
    let mut report = format!(
        "{}: {} objects, {} bytes (text, data, rodata); {} charged to no option; vmlinux.bin {} bytes, payload {} ({:.4}), bzImage {}\n",
        record.id,
        record.objects,
        record.object_bytes,
        record.core_bytes,
        m.vmlinux_bin,
        m.payload,
        record.ratio(),
        m.bzimage
    );
    let growth = match &a.smaller {
        Some(dir) => {
            let small = measure(&a.src, dir)?;
            let g = shared_growth(&m, &small, &a.objdir);
            let pct = |x: i64| 100.0 * x as f64 / g.objects.max(1) as f64;
            report.push_str(&format!(
                "over {}: linked objects +{} bytes = objects of the {} options turned on {} ({:.1}%) + growth of objects built in both, charged to the changed options their source reads (#ifdef code) {} ({:.1}%) + such growth reading none of them {} ({:.1}%); vmlinux.bin {:+}, payload {:+}, bzImage {:+}\n",
                small.config_id,
                g.objects,
                m.on().difference(&small.on()).count(),
                g.own,
                pct(g.own),
                g.shared_charged,
                pct(g.shared_charged),
                g.shared_uncharged,
                pct(g.shared_uncharged),
                m.vmlinux_bin as i64 - small.vmlinux_bin as i64,
                m.payload as i64 - small.payload as i64,
                m.bzimage as i64 - small.bzimage as i64
            ));
            Some(g)
        }
        None => None,
    };
    crate::pipeline::kbuild_sizes::add_to_db(k, &m, record, growth.as_ref());
    db.write(&a.db)?;
    super::out(&report);
    Ok(())
}
