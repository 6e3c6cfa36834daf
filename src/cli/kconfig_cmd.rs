//! `stali kconfig PROFILE`: the kernel `.config` a build will use, computed by stali's own
//! Kconfig engine ([`crate::kconfig::profile`]); and the kernel checks of `stali check`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::kconfig::SymId;
use crate::kconfig::profile::{
    ENGINE_BASES, INITRAMFS_PLACEHOLDER, appended_text, check_requests, compute, kernel_tree,
    minimal, requests,
};
use crate::model::plan::kernel_options;
use crate::model::{Plan, Profile};

fn cache_root(arg: Option<&Path>) -> Result<PathBuf> {
    match arg {
        Some(p) => Ok(p.to_path_buf()),
        None => crate::pipeline::cache::default_root(),
    }
}

/// `stali kconfig PROFILE [--minimal] [--why CONFIG_X]`; returns the exit code.
pub fn run(profile: &Path, minimal_only: bool, why: Option<&str>, cache: Option<&Path>) -> i32 {
    match run_inner(profile, minimal_only, why, cache) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            super::EXIT_INVALID
        }
    }
}

fn run_inner(
    profile: &Path,
    minimal_only: bool,
    why: Option<&str>,
    cache: Option<&Path>,
) -> Result<i32> {
    let catalog = crate::model::Catalog::load();
    let (_, plan) = match super::load_plan(profile, &catalog) {
        Ok(x) => x,
        Err(inv) => {
            eprintln!("{inv}");
            return Ok(super::EXIT_INVALID);
        }
    };
    let cache = cache_root(cache)?;
    let tree = match kernel_tree(&plan.kernel.source, &cache)? {
        Ok(t) => t,
        Err(reason) => bail!("{reason}"),
    };
    let mut c = compute(&plan, &tree, &cache, Path::new(INITRAMFS_PLACEHOLDER))?;
    if let Some(name) = why {
        let Some(s) = c.kc.find(name) else {
            let names: Vec<String> = c.kc.by_name.keys().map(|n| format!("CONFIG_{n}")).collect();
            bail!(
                "no kernel option {name} in this source{}",
                crate::model::diag::suggestion(name, names.iter().map(String::as_str))
            );
        };
        let mut text = c.kc.why(s);
        let full = if name.starts_with("CONFIG_") {
            name.to_string()
        } else {
            format!("CONFIG_{name}")
        };
        for (k, v) in &c.options {
            if *k == full {
                text.push_str(&format!("  the profile or the pipeline asks for {v}\n"));
            }
        }
        for f in &plan.kernel.fragments {
            if f.fragment.options.iter().any(|(k, _)| *k == full) {
                text.push_str(&format!("  the fragment {} sets it\n", f.fragment.name));
            }
        }
        super::out(&text);
        return Ok(0);
    }
    if minimal_only {
        super::out(&minimal(&c.base, &c.config));
    } else {
        super::out(&c.config);
    }
    Ok(0)
}

/// The kernel checks for one resolved profile: `Ok(Ok(errors))` (`path:line:col: message`
/// lines, empty when all is well), or `Ok(Err(reason))` when they cannot run here (the
/// source not fetched yet, a base the engine does not compute).
pub fn kernel_errors(
    profile: &Profile,
    plan: &Plan,
    cache: Option<&Path>,
) -> Result<Result<Vec<String>, String>> {
    if !ENGINE_BASES.contains(&plan.kernel.base.as_str()) {
        return Ok(Err(format!(
            "the base `{}` (a catalog `[[base]]`) is not one the Kconfig engine reproduces ({})",
            plan.kernel.base,
            ENGINE_BASES.join(", ")
        )));
    }
    let cache = cache_root(cache)?;
    let tree = match kernel_tree(&plan.kernel.source, &cache)? {
        Ok(t) => t,
        Err(reason) => return Ok(Err(reason)),
    };
    let mut c = compute(plan, &tree, &cache, Path::new(INITRAMFS_PLACEHOLDER))?;
    Ok(Ok(check_requests(&mut c, &requests(profile, plan))))
}

/// The kernel checks of `stali check` for one resolved profile: prints errors and the
/// one warning when the source is not here; returns the exit code.
pub fn check_kernel(profile: &Profile, plan: &Plan, cache: Option<&Path>) -> i32 {
    let r = kernel_errors(profile, plan, cache);
    match r {
        Ok(Ok(errs)) if errs.is_empty() => 0,
        Ok(Ok(errs)) => {
            for e in errs {
                eprintln!("{e}");
            }
            super::EXIT_INVALID
        }
        Ok(Err(reason)) => {
            eprintln!("warning: kernel options not checked: {reason}");
            0
        }
        Err(e) => {
            eprintln!("error: checking the kernel options: {e:#}");
            super::EXIT_INVALID
        }
    }
}

/// The configurator's loader of the kernel tree (Kernel > All options): the profile's
/// `.config` state, and each symbol's value from the base and fragments alone.
pub fn menu_loader(cache: Option<PathBuf>) -> crate::ui::kernel::Loader {
    std::sync::Arc::new(move |plan: &Plan| {
        let cache = cache_root(cache.as_deref()).map_err(|e| format!("{e:#}"))?;
        if !ENGINE_BASES.contains(&plan.kernel.base.as_str()) {
            return Err(format!(
                "the base {} is not one the Kconfig engine reproduces ({})",
                plan.kernel.base,
                ENGINE_BASES.join(", ")
            ));
        }
        let tree = kernel_tree(&plan.kernel.source, &cache).map_err(|e| format!("{e:#}"))??;
        let mut c = compute(plan, &tree, &cache, Path::new(INITRAMFS_PLACEHOLDER))
            .map_err(|e| format!("{e:#}"))?;
        let mut bare = plan.clone();
        bare.kernel.options.clear();
        let fragments = plan.kernel.fragment_texts();
        let options = kernel_options(&bare, Path::new(INITRAMFS_PLACEHOLDER));
        c.kc.olddefconfig(&format!(
            "{}{}",
            c.base,
            appended_text(&fragments, &options)
        ));
        let reference = (0..c.kc.syms.len() as SymId)
            .map(|s| c.kc.value(s))
            .collect();
        c.kc.olddefconfig(&c.input);
        // Figures are a bonus: a kernel nobody measured still loads.
        let sizes = crate::kconfig::sizes::figures_for(plan, &tree, &cache)
            .ok()
            .flatten();
        Ok(crate::ui::kernel::Loaded {
            kc: c.kc,
            reference,
            sizes,
        })
    })
}
