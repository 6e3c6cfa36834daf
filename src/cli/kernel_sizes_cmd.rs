//! Per-option kernel sizes on the command line: the estimate of a plan's kernel from the
//! size database and the Kconfig engine (`stali size`), the delta of one option
//! (`stali size --option CONFIG_X`), and `stali kernel-sizes`, which measures a built kernel
//! folder into a database (how the shipped one was filled).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::kconfig::sizes::{compiler, option_delta, plan_kernel, watch_list};
use crate::model::Plan;
use crate::model::kernel_sizes::{self, SizeDb};

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
    /// Also measure each large option's cost in the compressed stream (one compressor run
    /// per option: a minute or two; how the shipped database is filled).
    #[arg(long)]
    pub in_context: bool,
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
    use crate::pipeline::kbuild_sizes::{measure, measure_with, shared_growth};
    let m = measure_with(&a.src, &a.objdir, a.in_context)?;
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
    let k = db.entry(&version, "x86_64", &compiler(""));
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
            if !m.in_context.is_empty() {
                let on = m.on();
                let changed: Vec<&str> = on.difference(&small.on()).copied().collect();
                let by = m.by_symbol();
                let (mut ctx, mut ctx_bytes, mut rest) = (0u64, 0u64, 0u64);
                for s in &changed {
                    match (m.in_context.get(*s), by.get(*s)) {
                        (Some(x), Some(f)) => {
                            ctx += x;
                            ctx_bytes += f.0;
                        }
                        (None, Some(f)) => rest += f.0,
                        _ => {}
                    }
                }
                report.push_str(&format!(
                    "in context: {} options of {} bytes cost {} in the compressed stream ({:.4}); {} bytes of smaller options at the pair's ratio {:.4}: {}; sum {} against payload {:+}\n",
                    m.in_context.len(),
                    ctx_bytes,
                    ctx,
                    ctx as f64 / ctx_bytes.max(1) as f64,
                    rest,
                    g.payload as f64 / g.objects.max(1) as f64,
                    (rest as f64 * g.payload as f64 / g.objects.max(1) as f64).round(),
                    ctx as f64 + (rest as f64 * g.payload as f64 / g.objects.max(1) as f64).round(),
                    g.payload
                ));
            }
            Some(g)
        }
        None => None,
    };
    crate::pipeline::kbuild_sizes::add_to_db(k, &m, record, growth.as_ref());
    db.write(&a.db)?;
    super::out(&report);
    Ok(())
}
