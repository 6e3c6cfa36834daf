//! Per-option kernel sizes seen through the Kconfig engine: a plan's kernel estimated from
//! the size database ([`crate::model::kernel_sizes`]) and the engine's `.config`, and what
//! switching one option costs, everything it selects and needs included. The configurator,
//! `stali size` and the build report all use these.

use std::path::Path;

use anyhow::{Context, Result};

use super::profile::{Computed, INITRAMFS_PLACEHOLDER, compute, kernel_tree};
use super::whatif::Dependents;
use super::{Kconfig, SymId, Tri};
use crate::model::Plan;
use crate::model::kernel_sizes::{self, Delta, KernelEstimate, KernelSizes, SizeDb};

/// The size database for a cache: the shipped one with the user's builds laid over it.
/// `STALI_SIZES=shipped` leaves the user's out (the accuracy script uses it so that its
/// own builds do not feed its estimates).
pub fn load_db(cache: &Path) -> SizeDb {
    if std::env::var("STALI_SIZES").is_ok_and(|v| v == "shipped") {
        SizeDb::shipped()
    } else {
        SizeDb::load(Some(&kernel_sizes::user_path(cache)))
    }
}

/// The compiler `prefix`gcc as the database names it (`gcc 12.2.0`), `unknown` when it
/// does not run.
pub fn compiler(prefix: &str) -> String {
    let line = std::process::Command::new(format!("{prefix}gcc"))
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_default();
    kernel_sizes::compiler_id(&line)
}

/// A plan's kernel, computed by the engine, with the figures that apply to it.
pub struct PlanKernel {
    /// The engine's result (tree left in the plan's configuration).
    pub computed: Computed,
    /// The figures of this kernel version, arch and compiler.
    pub sizes: KernelSizes,
}

/// Computes the plan's kernel configuration and finds its figures: `Ok(None)` when the
/// kernel source is not here or no figures exist for its version, arch and compiler.
pub fn plan_kernel(plan: &Plan, cache: &Path) -> Result<Option<PlanKernel>> {
    let Ok(tree) = kernel_tree(&plan.kernel.source, cache)? else {
        return Ok(None);
    };
    let Some(sizes) = figures_for(plan, &tree, cache)? else {
        return Ok(None);
    };
    let computed = compute(plan, &tree, cache, Path::new(INITRAMFS_PLACEHOLDER))?;
    Ok(Some(PlanKernel { computed, sizes }))
}

/// The figures for the kernel tree at `tree` built for `plan`'s architecture.
pub fn figures_for(plan: &Plan, tree: &Path, cache: &Path) -> Result<Option<KernelSizes>> {
    let version = super::tree::kernel_version(tree)?;
    let arch = plan.hardware.arch;
    let db = load_db(cache);
    Ok(db
        .find(
            &version,
            arch.as_str(),
            &compiler(arch.cross_prefix().unwrap_or("")),
        )
        .cloned())
}

/// The per-option estimate of a plan's kernel from its computed `.config` (`None` without
/// a measured build of its base).
pub fn estimate(plan: &Plan, config: &str, sizes: &KernelSizes) -> Option<KernelEstimate> {
    let on: std::collections::HashSet<&str> = config
        .lines()
        .filter_map(|l| l.strip_prefix("CONFIG_")?.strip_suffix("=y"))
        .collect();
    estimate_by(plan, sizes, &|s| on.contains(s))
}

/// The per-option estimate of a plan's kernel whose `y` symbols (names without
/// `CONFIG_`) `is_on` tells.
pub fn estimate_by(
    plan: &Plan,
    sizes: &KernelSizes,
    is_on: &dyn Fn(&str) -> bool,
) -> Option<KernelEstimate> {
    let requested: Vec<String> = plan
        .kernel
        .requested()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    sizes.estimate(
        &plan.kernel.base,
        plan.image.compression.as_str(),
        is_on,
        &requested,
    )
}

/// The figured symbols of `sizes` as engine ids (what a delta watches).
pub fn watch_list(kc: &Kconfig, sizes: &KernelSizes) -> Vec<SymId> {
    sizes.watched().iter().filter_map(|n| kc.find(n)).collect()
}

/// What switching `option` on (or off) adds (or saves) in bzImage bytes, everything it
/// selects and needs included; `watch` is [`watch_list`], `deps` the tree's
/// [`Kconfig::dependents`] (built once). The tree is left as it was.
pub fn option_delta(
    kc: &mut Kconfig,
    sizes: &KernelSizes,
    watch: &[SymId],
    deps: &Dependents,
    option: &str,
    on: bool,
) -> Result<Delta> {
    let name = option.strip_prefix("CONFIG_").unwrap_or(option);
    let s = kc
        .find(name)
        .with_context(|| format!("no kernel option CONFIG_{name} in this source"))?;
    Ok(sym_delta(kc, sizes, watch, deps, s, on))
}

/// [`option_delta`] for a symbol already looked up.
pub fn sym_delta(
    kc: &mut Kconfig,
    sizes: &KernelSizes,
    watch: &[SymId],
    deps: &Dependents,
    s: SymId,
    on: bool,
) -> Delta {
    let mut changes: Vec<(String, bool, bool)> = kc
        .what_if_in(s, on, watch, Some(deps))
        .into_iter()
        .map(|(w, a, b)| (kc.sym(w).name.clone(), a, b))
        .collect();
    // The option itself counts even when it has no figure ("no figure yet").
    let name = kc.sym(s).name.clone();
    let before = kc.tri_value(s) != Tri::N;
    if before != on && !changes.iter().any(|(n, _, _)| *n == name) {
        changes.push((name, before, on));
    }
    sizes.delta(&changes)
}

/// The per-option estimate of a plan's kernel: `Ok(None)` when its source is not on this
/// machine or nothing measured its version, arch, compiler, base and compression.
pub fn kernel_estimate(plan: &Plan, cache: &Path) -> Result<Option<KernelEstimate>> {
    Ok(plan_kernel(plan, cache)?.and_then(|pk| estimate(plan, &pk.computed.config, &pk.sizes)))
}
