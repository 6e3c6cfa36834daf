//! `stali update` and `stali outdated`: the pins of a profile against what its recipes track
//! upstream, shown like `cargo update` (old, new, how far, a short log) and written into the
//! profile's `[pins]` with its comments and order kept.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

use super::{EXIT_INVALID, load_plan, out};
use crate::model::Catalog;
use crate::model::catalog::EMBEDDED_PROFILES;
use crate::pipeline::update::{Status, Update, plan_updates};

/// Arguments of `stali update` and `stali outdated`.
#[derive(Args, Debug, Clone)]
pub struct UpdateArgs {
    /// Profile file.
    pub profile: PathBuf,
    /// Only these tools (or `kernel`); all git sources when none is given.
    pub tools: Vec<String>,
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Move a pin backwards too, when the tracked release is older than the pin.
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// A kernel tarball's release listing (an HTML index of linux-*.tar.xz); by default the
    /// folder its URL is in.
    #[arg(long, value_name = "URL")]
    pub kernel_releases: Option<String>,
    /// Where upstreams come from (offline: the branches and tags fetched last time).
    #[command(flatten)]
    pub sources: super::SourceArgs,
}

fn fail(e: &anyhow::Error) -> i32 {
    eprintln!("error: {e:#}");
    EXIT_INVALID
}

fn plan(args: &UpdateArgs, download: bool) -> Result<Result<(PathBuf, Vec<Update>), i32>> {
    let catalog = Catalog::load();
    let (profile, plan) = match load_plan(&args.profile, &catalog) {
        Ok(x) => x,
        Err(inv) => {
            eprintln!("{inv}");
            return Ok(Err(EXIT_INVALID));
        }
    };
    let names: Vec<&str> = plan
        .tools
        .iter()
        .map(|t| t.def.name.as_str())
        .chain(["kernel"])
        .collect();
    for t in &args.tools {
        if !names.contains(&t.as_str()) {
            let hint = crate::model::diag::suggestion(t, names.iter().copied());
            bail!("`{t}` is not a source of this profile{hint}");
        }
    }
    let cache = match args.sources.cache.clone() {
        Some(c) => c,
        None => crate::pipeline::cache::default_root()?,
    };
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("cannot create the cache folder {}", cache.display()))?;
    let progress = std::sync::Arc::new(crate::pipeline::progress::Progress::new(true));
    let fopts = crate::pipeline::build::fetch_options(
        args.sources.mirror.clone(),
        args.sources.offline,
        &progress,
    )?;
    let updates = plan_updates(
        &plan,
        &profile.track,
        &args.tools,
        (args.kernel_releases.as_deref(), download),
        &cache,
        &fopts,
    )?;
    Ok(Ok((args.profile.clone(), updates)))
}

fn line(u: &Update) -> String {
    let old = short_pair(&u.old.version, &u.old.pin);
    let mut s = match (&u.status, &u.new) {
        (Status::Current, _) => format!("{:<12} {old}: current", u.name),
        (Status::Behind, Some(n)) => match &u.new_url {
            Some(url) => format!("{:<12} {} -> {} ({url})", u.name, u.old.version, n.version),
            None => format!(
                "{:<12} {old} -> {}, {} commit{}",
                u.name,
                short_pair(&n.version, &n.pin),
                u.commits,
                if u.commits == 1 { "" } else { "s" }
            ),
        },
        (Status::Downgrade, Some(n)) => format!(
            "{:<12} {old}: the newest tracked release {} is older (--allow-downgrade moves it)",
            u.name,
            short_pair(&n.version, &n.pin)
        ),
        (Status::Diverged, _) => format!(
            "{:<12} {old}: the upstream history ({}) no longer contains this pin (force-pushed?); left alone",
            u.name,
            u.track.as_deref().unwrap_or("")
        ),
        (Status::NoRelease, _) => format!(
            "{:<12} {old}: nothing upstream matches {}",
            u.name,
            u.track.as_deref().unwrap_or("")
        ),
        (Status::Untracked, _) => format!(
            "{:<12} {old}: its recipe tracks nothing (add `track = \"tags:v*\"` or a `[track]` entry)",
            u.name
        ),
        (_, None) => format!("{:<12} {old}", u.name),
    };
    for l in &u.log {
        s.push_str(&format!("\n{:<12}   {l}", ""));
    }
    if u.commits > u.log.len() && !u.log.is_empty() {
        s.push_str(&format!(
            "\n{:<12}   ... and {} more",
            "",
            u.commits - u.log.len()
        ));
    }
    s
}

fn short_pair(version: &str, pin: &str) -> String {
    let short = &pin[..pin.len().min(12)];
    if version == short || short.is_empty() {
        short.to_string()
    } else {
        format!("{version} ({short})")
    }
}

/// Runs `stali outdated`: exit 0 when every tracked pin is current, 1 when one is behind.
pub fn cli_outdated(args: &UpdateArgs) -> i32 {
    let (_, updates) = match plan(args, false) {
        Ok(Ok(x)) => x,
        Ok(Err(code)) => return code,
        Err(e) => return fail(&e),
    };
    let behind = updates
        .iter()
        .filter(|u| u.status == Status::Behind)
        .count();
    if args.json {
        out(&format!(
            "{}\n",
            serde_json::json!({"format": 1, "behind": behind, "sources": updates})
        ));
    } else {
        let mut s = String::new();
        for u in &updates {
            s.push_str(&line(u));
            s.push('\n');
        }
        s.push_str(&if behind == 0 {
            "every tracked pin is current\n".to_string()
        } else {
            format!("{behind} pin(s) behind: `stali update` moves them\n")
        });
        out(&s);
    }
    if behind == 0 { 0 } else { EXIT_INVALID }
}

/// Runs `stali update`: writes the new pins into the profile unless `--dry-run`.
pub fn cli_update(args: &UpdateArgs) -> i32 {
    let (file, updates) = match plan(args, !args.dry_run) {
        Ok(Ok(x)) => x,
        Ok(Err(code)) => return code,
        Err(e) => return fail(&e),
    };
    let moving: Vec<&Update> = updates
        .iter()
        .filter(|u| u.moves(args.allow_downgrade))
        .collect();
    let mut written = false;
    if !args.dry_run && !moving.is_empty() {
        if let Err(e) = write_pins(&file, &moving) {
            return fail(&e);
        }
        written = true;
    }
    if args.json {
        out(&format!(
            "{}\n",
            serde_json::json!({
                "format": 1,
                "dry_run": args.dry_run,
                "written": written,
                "sources": updates,
            })
        ));
    } else {
        let mut s = String::new();
        for u in &updates {
            s.push_str(&line(u));
            s.push('\n');
        }
        s.push_str(&match (moving.len(), args.dry_run) {
            (0, _) => "nothing to update\n".to_string(),
            (n, true) => format!("dry run: {n} pin(s) would move; nothing written\n"),
            (n, false) => format!("{n} pin(s) updated in {}\n", file.display()),
        });
        out(&s);
    }
    0
}

/// Writes the moved pins into `file`: `[pins] NAME = "commit" # version` for tools, the
/// `rev` of `kernel.source` for a git kernel; every other line, comment and key order kept.
fn write_pins(file: &Path, moving: &[&Update]) -> Result<()> {
    let shipped = EMBEDDED_PROFILES
        .iter()
        .any(|(n, _)| Path::new(n) == file || Path::new(&format!("{n}.toml")) == file);
    if shipped && !file.exists() {
        bail!(
            "{} is a shipped profile: copy it to a file first (stali menu {} then `S`)",
            file.display(),
            file.display()
        );
    }
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not TOML any more", file.display()))?;
    for u in moving {
        let Some(new) = &u.new else { continue };
        if let Some(new_url) = &u.new_url {
            let src = doc
                .get_mut("kernel")
                .and_then(|k| k.get_mut("source"))
                .and_then(|s| s.as_inline_table_mut())
                .context("the profile's kernel.source is not an inline table")?;
            src.insert("tarball", new_url.as_str().into());
            let mut sha = toml_edit::Value::from(new.pin.as_str());
            sha.decor_mut().set_suffix(" ");
            src.insert("sha256", sha);
            continue;
        }
        if u.name == "kernel" {
            let src = doc
                .get_mut("kernel")
                .and_then(|k| k.get_mut("source"))
                .and_then(|s| s.as_inline_table_mut())
                .context("the profile's kernel.source is not an inline table")?;
            let mut v = toml_edit::Value::from(new.pin.as_str());
            v.decor_mut().set_suffix(" ");
            src.insert("rev", v);
            continue;
        }
        if doc.get("pins").is_none() {
            doc.insert("pins", toml_edit::Item::Table(toml_edit::Table::new()));
        }
        let pins = doc
            .get_mut("pins")
            .and_then(|p| p.as_table_mut())
            .context("the profile's `pins` is not a table")?;
        let mut v = toml_edit::Value::from(new.pin.as_str());
        v.decor_mut().set_suffix(format!(" # {}", new.version));
        match pins.get_mut(&u.name) {
            Some(item) => *item = toml_edit::Item::Value(v),
            None => {
                pins.insert(&u.name, toml_edit::Item::Value(v));
            }
        }
    }
    crate::pipeline::cache::write_atomic(file, doc.to_string().as_bytes())
}
