//! The engine applied to a resolved stali plan: the profile's kernel tree (a source folder,
//! or the `Kconfig*` files of a tarball extracted once), the `.config` a build uses (base +
//! fragments + `[kernel.options]` + the pipeline's own options, as `make olddefconfig`
//! computes it), and each requested option checked against it, in words. Used by `stali
//! kconfig`, `stali check`, the pipeline's configure step and the configurator.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use super::{Kconfig, LoadOptions, SymId, SymType, Tri};
use crate::model::catalog::Origin;
use crate::model::plan::kernel_options;
use crate::model::profile::KernelSource;
use crate::model::{Plan, Profile};

/// The path `stali kconfig` shows for the built-in initramfs; a build puts its own cache
/// path there.
pub const INITRAMFS_PLACEHOLDER: &str = "/stali-initramfs.cpio";

fn short_hash(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))[..16].to_string()
}

fn file_identity(p: &Path) -> String {
    match fs::metadata(p) {
        Ok(m) => {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            format!("{}:{}:{mtime}", p.display(), m.len())
        }
        Err(_) => format!("{}:absent", p.display()),
    }
}

/// Resolves a command through `PATH` (for the toolchain identity).
fn which(cmd: &str) -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            let c = d.join(cmd);
            if c.is_file() {
                return c;
            }
        }
    }
    PathBuf::from(cmd)
}

/// The kernel tree for a source: Ok(Err(reason)) when it is not on this machine yet.
/// Tarballs are extracted once, `Kconfig*` files, Makefiles, scripts and configs only,
/// into `cache/kconfig-src/`.
pub fn kernel_tree(src: &KernelSource, cache: &Path) -> Result<Result<PathBuf, String>> {
    let p = match src {
        KernelSource::Path(p) => p.clone(),
        KernelSource::Tarball { url, .. } => {
            return Ok(Err(format!(
                "the kernel tarball {url} is not fetched yet (a build fetches it)"
            )));
        }
        KernelSource::Git { url, .. } => {
            return Ok(Err(format!(
                "the kernel git source {url} is not fetched yet (a build fetches it)"
            )));
        }
    };
    if !p.exists() {
        return Ok(Err(format!(
            "the kernel source {} does not exist",
            p.display()
        )));
    }
    if p.is_dir() {
        return Ok(Ok(p));
    }
    let dest = cache
        .join("kconfig-src")
        .join(short_hash(&file_identity(&p)));
    let marker = dest.join(".complete");
    if !marker.exists() {
        // Several `stali check`s may start at once: one extracts (into a folder of its own,
        // renamed into place when whole), the others wait for it.
        let root = cache.join("kconfig-src");
        fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let _lock = crate::fsutil::lock_file(&root.join(".lock"))?;
        if !marker.exists() {
            let tmp = tempfile::Builder::new()
                .prefix(".tmp-")
                .tempdir_in(&root)
                .with_context(|| format!("creating a temporary folder in {}", root.display()))?;
            let out = Command::new("tar")
                .arg("-x")
                .arg("-f")
                .arg(&p)
                .arg("-C")
                .arg(tmp.path())
                .args([
                    "--wildcards",
                    "*Kconfig*",
                    "*/Makefile",
                    "*/scripts/*",
                    "*/configs/*",
                ])
                .output()
                .context("running tar")?;
            if !out.status.success() {
                bail!(
                    "extracting the Kconfig files of {} failed: {}",
                    p.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            fs::write(tmp.path().join(".complete"), "")
                .with_context(|| format!("writing {}", marker.display()))?;
            let _ = fs::remove_dir_all(&dest);
            fs::rename(tmp.keep(), &dest)
                .with_context(|| format!("moving the Kconfig files into {}", dest.display()))?;
        }
    }
    for e in fs::read_dir(&dest).with_context(|| format!("reading {}", dest.display()))? {
        let d = e
            .with_context(|| format!("reading {}", dest.display()))?
            .path();
        if d.join("Kconfig").is_file() {
            return Ok(Ok(d));
        }
    }
    if dest.join("Kconfig").is_file() {
        return Ok(Ok(dest));
    }
    bail!("{} holds no Kconfig tree", p.display())
}

/// The `make` targets whose configuration the engine computes itself.
pub const ENGINE_BASES: &[&str] = &[
    "tinyconfig",
    "defconfig",
    "allnoconfig",
    "alldefconfig",
    "allyesconfig",
    "allmodconfig",
];

/// The kernel configuration of a plan, as a build computes it.
pub struct Computed {
    /// The loaded tree, left in the final configuration's state.
    pub kc: Kconfig,
    /// The base configuration (`make tinyconfig` or `make defconfig`).
    pub base: String,
    /// What the build hands to olddefconfig: the base, the fragments, the options.
    pub input: String,
    /// The final `.config`.
    pub config: String,
    /// The options applied after the fragments.
    pub options: Vec<(String, String)>,
}

/// The text `pipeline::kernel::configure` appends to the base `.config`.
pub fn appended_text(fragments: &[(String, String)], options: &[(String, String)]) -> String {
    let mut extra = String::new();
    for (name, text) in fragments {
        extra.push_str(&format!("# --- stali fragment: {name}\n"));
        extra.push_str(text);
        if !text.ends_with('\n') {
            extra.push('\n');
        }
    }
    extra.push_str("# --- stali options\n");
    for (name, value) in options {
        if value == "n" {
            extra.push_str(&format!("# {name} is not set\n"));
        } else {
            extra.push_str(&format!("{name}={value}\n"));
        }
    }
    extra.push_str("# CONFIG_MODULES is not set\n");
    extra
}

/// Computes the `.config` for `plan` from the tree at `tree`, with `initramfs` as the
/// built-in initramfs path (a build's own, or [`INITRAMFS_PLACEHOLDER`]).
pub fn compute(plan: &Plan, tree: &Path, cache: &Path, initramfs: &Path) -> Result<Computed> {
    let arch = plan.hardware.arch;
    let mut opts = LoadOptions::new(
        arch.kbuild_arch(),
        arch.srcarch(),
        arch.cross_prefix().unwrap_or(""),
    );
    let toolchain = format!(
        "{}\n{}\n{}",
        file_identity(tree),
        file_identity(&which(&opts.cc)),
        file_identity(&which(&opts.ld))
    );
    opts.cache_file = Some(
        cache
            .join("kconfig")
            .join(format!("probes-{}.json", short_hash(&toolchain))),
    );
    opts.tree_cache = Some(cache.join("kconfig").join("trees"));
    let mut kc = Kconfig::load(tree, &opts)
        .with_context(|| format!("reading the Kconfig tree in {}", tree.display()))?;
    use super::Mode;
    let base = match plan.kernel.base.as_str() {
        "tinyconfig" => kc.tinyconfig(&opts.srcarch)?,
        "defconfig" => kc.arch_defconfig(&opts.srcarch, &opts.arch)?,
        "allnoconfig" => kc.allconfig(Mode::AllNo, None),
        "alldefconfig" => kc.allconfig(Mode::AllDef, None),
        "allyesconfig" => kc.allconfig(Mode::AllYes, None),
        "allmodconfig" => kc.allconfig(Mode::AllMod, None),
        other => bail!(
            "the kernel base {other:?} is not one the Kconfig engine reproduces ({})",
            ENGINE_BASES.join(", ")
        ),
    };
    let fragments = plan.kernel.fragment_texts();
    let options = kernel_options(plan, initramfs);
    let input = format!("{base}{}", appended_text(&fragments, &options));
    let config = kc.olddefconfig(&input);
    Ok(Computed {
        kc,
        base,
        input,
        config,
        options,
    })
}

/// The option a `.config` line sets (`CONFIG_X=...` or `# CONFIG_X is not set`).
fn line_option(line: &str) -> Option<&str> {
    if let Some(r) = line.strip_prefix("# ") {
        r.strip_suffix(" is not set")
    } else if line.starts_with("CONFIG_") {
        line.split_once('=').map(|(n, _)| n)
    } else {
        None
    }
}

/// `CONFIG_X` -> its line, for the symbols a `.config` mentions.
fn config_lines(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| line_option(l).map(|n| (n.to_string(), l.to_string())))
        .collect()
}

/// The lines of `config` that differ from `base` (savedefconfig-style, against the base).
pub fn minimal(base: &str, config: &str) -> String {
    let b = config_lines(base);
    let mut out = String::new();
    for line in config.lines() {
        let Some(n) = line_option(line) else { continue };
        let absent_and_off = !b.contains_key(n) && line.starts_with('#');
        if b.get(n).map(String::as_str) != Some(line) && !absent_and_off {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// One requested kernel option and where it was asked for.
#[derive(Debug, Clone)]
pub struct Request {
    /// `CONFIG_X`.
    pub name: String,
    /// The value as requested (`y`, `n`, a number, a quoted string).
    pub value: String,
    /// `path:line:col` of the request.
    pub at: String,
    /// Written in a fragment, which may turn off options of other architectures too.
    pub in_fragment: bool,
}

/// Every kernel option a plan requests, with its location (fragment lines first).
pub fn requests(profile: &Profile, plan: &Plan) -> Vec<Request> {
    let mut out = Vec::new();
    for f in &plan.kernel.fragments {
        let path = match &f.fragment.origin {
            Origin::File(p) => p.display().to_string(),
            _ => format!("kernel-fragments/{}.config", f.fragment.name),
        };
        for (i, line) in f.fragment.text.lines().enumerate() {
            let (name, value) = if let Some(r) = line.strip_prefix("# ") {
                match r.strip_suffix(" is not set") {
                    Some(n) if n.starts_with("CONFIG_") => (n, "n"),
                    _ => continue,
                }
            } else if line.starts_with("CONFIG_") {
                match line.split_once('=') {
                    Some(x) => x,
                    None => continue,
                }
            } else {
                continue;
            };
            out.push(Request {
                name: name.to_string(),
                value: value.to_string(),
                at: format!("{path}:{}:1", i + 1),
                in_fragment: true,
            });
        }
    }
    let file = profile
        .file
        .as_ref()
        .map_or_else(|| "profile".to_string(), |f| f.display().to_string());
    for (name, value) in &plan.kernel.options {
        let key = format!("kernel.options.{name}");
        let at = match profile.locations.get(&key) {
            Some((l, c)) => format!("{file}:{l}:{c}"),
            None => file.clone(),
        };
        out.push(Request {
            name: name.clone(),
            value: crate::model::profile::kconfig_value(value),
            at,
            in_fragment: false,
        });
    }
    out
}

fn shown(v: &str) -> String {
    if v.starts_with('"') {
        v.to_string()
    } else {
        format!("\"{v}\"")
    }
}

/// Checks each request against the computed configuration: errors as `path:line:col:
/// message` lines.
pub fn check_requests(c: &mut Computed, reqs: &[Request]) -> Vec<String> {
    let mut errs = Vec::new();
    let fin = config_lines(&c.config);
    let names: Vec<String> = c.kc.by_name.keys().map(|n| format!("CONFIG_{n}")).collect();
    // Later requests of the same option win: only the last one is checked for sticking.
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in reqs.iter().enumerate() {
        last.insert(r.name.as_str(), i);
    }
    for (i, r) in reqs.iter().enumerate() {
        let head = format!("{}: `{} = {}`", r.at, r.name, shown(&r.value));
        let Some(s) =
            c.kc.find(&r.name)
                .filter(|&s| c.kc.sym(s).ty != SymType::Unknown)
        else {
            // `# CONFIG_PERF_EVENTS_INTEL_RAPL is not set` in a shared fragment holds on
            // arm64, which has no such option.
            if r.in_fragment && r.value == "n" {
                continue;
            }
            let mut msg = format!("{head}: no such kernel option in this source");
            msg.push_str(&crate::model::diag::suggestion(
                &r.name,
                names.iter().map(String::as_str),
            ));
            if let Some(p) = prompt_match(&c.kc, &r.name) {
                msg.push_str(&format!(" (by prompt: `{p}`)"));
            }
            errs.push(msg);
            continue;
        };
        let ty = c.kc.sym(s).ty;
        let v = r.value.as_str();
        let type_ok = match ty {
            SymType::Bool => matches!(v, "y" | "n"),
            SymType::Tristate => matches!(v, "y" | "n" | "m"),
            SymType::Int | SymType::Hex => c.kc.string_valid(s, v),
            SymType::String => v.starts_with('"'),
            SymType::Unknown => false,
        };
        if !type_ok {
            errs.push(format!(
                "{head}: {} takes a value of type {}",
                r.name,
                ty.name()
            ));
            continue;
        }
        if v == "m" {
            errs.push(format!(
                "{head}: `m` builds a module, and a Stali kernel has no modules"
            ));
            continue;
        }
        if matches!(ty, SymType::Int | SymType::Hex)
            && let Some(p) = c.kc.range_prop(s)
            && let Some((lo, hi)) = c.kc.range_bounds(p)
            && !c.kc.string_within_range(s, v)
        {
            let lo = c.kc.value(lo);
            let hi = c.kc.value(hi);
            errs.push(format!("{head}: out of range {lo}..{hi}"));
            continue;
        }
        if last.get(r.name.as_str()) != Some(&i) {
            continue;
        }
        let got = fin.get(&r.name).cloned();
        let want = if v == "n" {
            format!("# {} is not set", r.name)
        } else {
            format!("{}={v}", r.name)
        };
        let ok = match &got {
            Some(g) => *g == want,
            None => v == "n",
        };
        if ok {
            continue;
        }
        errs.push(format!(
            "{head}: {}",
            cannot_stick(&mut c.kc, s, v, got.as_deref())
        ));
    }
    errs
}

fn prompt_match(kc: &Kconfig, name: &str) -> Option<String> {
    let words: Vec<String> = name
        .trim_start_matches("CONFIG_")
        .split('_')
        .filter(|w| w.len() > 2)
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        return None;
    }
    for (n, &s) in &kc.by_name {
        for &m in &kc.sym(s).menus {
            if let Some(p) = kc.menus[m as usize].prompt
                && let Some(t) = &kc.props[p as usize].text
            {
                let tl = t.to_lowercase();
                if words.iter().all(|w| tl.contains(w.as_str())) {
                    return Some(format!("CONFIG_{n}: {t}"));
                }
            }
        }
    }
    None
}

/// Why a requested value did not stick, in words.
fn cannot_stick(kc: &mut Kconfig, s: SymId, want: &str, got: Option<&str>) -> String {
    let got_v = match got {
        None => "absent (not visible)".to_string(),
        Some(g) if g.starts_with('#') => "n".to_string(),
        Some(g) => g.split_once('=').map_or(g, |x| x.1).to_string(),
    };
    let sym = kc.sym(s).clone();
    if let Some(cs) = sym.choice
        && want != "n"
    {
        let winner = kc.sym(cs).curr_choice.map(|w| kc.sym(w).name.clone());
        if let Some(w) = winner {
            return format!("is one choice of several and `CONFIG_{w}` is the one chosen here");
        }
    }
    if want != "n" && sym.dir_dep_tri == Tri::N {
        let mut miss = Vec::new();
        kc.missing_deps(sym.dir_dep, &mut miss);
        if !miss.is_empty() {
            let names: Vec<String> = miss.iter().map(|&m| kc.sym(m).name.clone()).collect();
            let adds: Vec<String> = names
                .iter()
                .map(|n| format!("`CONFIG_{n} = \"y\"`"))
                .collect();
            let list = names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let verb = if names.len() == 1 {
                "which is"
            } else {
                "which are"
            };
            return format!("needs {list}, {verb} n here: add {}", adds.join(" and "));
        }
        let dep = kc.expr_text(sym.dir_dep, true);
        return format!("needs {dep}, which is n here");
    }
    if want == "n" && sym.rev_dep_tri != Tri::N {
        let mut by = Vec::new();
        for t in kc.or_terms(sym.rev_dep) {
            if kc.expr_value(Some(t)) != Tri::N
                && let Some(src) = kc.term_source(t)
            {
                by.push(format!("`CONFIG_{}`", kc.sym(src).name));
            }
        }
        return format!(
            "cannot be n: selected by {}",
            if by.is_empty() {
                "a choice".to_string()
            } else {
                by.join(", ")
            }
        );
    }
    if sym.visible == Tri::N && want != "n" {
        let mut has_prompt = false;
        for &m in &sym.menus {
            has_prompt |= kc.menus[m as usize].prompt.is_some();
        }
        if !has_prompt {
            return format!(
                "cannot be set: it has no prompt, only defaults and selects set it (it is {got_v} here)"
            );
        }
    }
    format!("did not stick: the kernel's olddefconfig gives {got_v}")
}
