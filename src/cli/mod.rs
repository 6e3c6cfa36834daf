//! The command line: argument parsing and the model-only commands (check, size, list, diff,
//! doctor, completions). `menu` hands over to the UI, `build` and `boot` to the pipeline.

pub mod trust;
pub mod update;

use std::io::Write;
use std::path::{Path, PathBuf};

mod build;
pub mod reporter;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::host;

pub mod kconfig_cmd;
pub mod kernel_sizes_cmd;
use crate::model::catalog::{EMBEDDED_PROFILES, shipped_profile};
use crate::model::profile::human;
use crate::model::{
    Catalog, Diagnostic, Estimate, Invalid, Plan, Profile, diff, estimate, resolve,
};

/// Exit code for invalid input.
pub const EXIT_INVALID: i32 = 1;
/// Exit code for a usage error.
pub const EXIT_USAGE: i32 = 2;

/// stali composes, builds and boots Stali: a Linux image in which every binary is static.
#[derive(Parser, Debug)]
#[command(name = "stali", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do; with none, the configurator opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the configurator (the default): compose an image, watch its size, save a profile.
    Menu(MenuArgs),
    /// Check profiles: exit 0 when all are valid, 1 with precise messages otherwise.
    Check {
        /// Profile files (or names of shipped profiles: minimal, stali-classic, rescue).
        #[arg(required = true)]
        profiles: Vec<PathBuf>,
        /// Fail (exit 1) when an estimate is over its profile's budget, instead of warning.
        #[arg(long)]
        strict: bool,
    },
    /// Show the estimated image size of a profile, by component.
    Size {
        /// Profile file.
        profile: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Fail (exit 1) when the estimate is over the profile's budget, instead of warning.
        #[arg(long)]
        strict: bool,
        /// Print what switching this kernel option (on when off, off when on) adds or saves,
        /// everything it pulls in included, and where each figure comes from.
        #[arg(long, value_name = "CONFIG_X")]
        option: Option<String>,
        /// Cache folder (default: $XDG_CACHE_HOME/stali): the Kconfig tree and the size
        /// database every build updates.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// List the catalog: tools, hardware, kernel fragments and bases, themes, profiles.
    List {
        /// What to list (all when omitted).
        what: Option<ListWhat>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show what differs between two profiles, and the size delta.
    Diff {
        /// The old profile.
        a: PathBuf,
        /// The new profile.
        b: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the host tools the pipeline needs and say how to install missing ones.
    Doctor {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Print only the names of the packages that provide everything, for this family
        /// (`apt-get install -y $(stali doctor --packages debian)`).
        #[arg(long, value_name = "FAMILY")]
        packages: Option<host::Family>,
    },
    /// Move the profile's pins to the newest commits their recipes track upstream (release
    /// tags or a branch), writing them into `[pins]` with comments kept.
    Update(update::UpdateArgs),
    /// Say which pins are behind what their recipes track upstream: exit 1 when one is.
    Outdated(update::UpdateArgs),
    /// Download every source of the profiles into the cache without building (like
    /// `cargo fetch`), so a later `stali build --offline` finds them.
    Fetch(FetchArgs),
    /// Build the image a profile describes: fetch, compile, kernel, initramfs, ISO.
    Build(BuildArgs),
    /// Boot an ISO under QEMU and wait for its ready banner.
    Boot(BootArgs),
    /// Trust a profile's exact content, so `stali build` runs the code it carries (its own
    /// recipes, a kernel from a URL); recorded by SHA-256, a changed file needs it again.
    Trust {
        /// Profile files.
        #[arg(required = true)]
        profiles: Vec<PathBuf>,
    },
    /// Print the kernel .config a build of the profile uses, computed by stali's Kconfig engine.
    Kconfig {
        /// Profile file (or the name of a shipped profile).
        profile: PathBuf,
        /// Print only the lines that differ from the base (tinyconfig or defconfig).
        #[arg(long)]
        minimal: bool,
        /// Explain one option's value in words (where defined, what selects it, what holds it off).
        #[arg(long, value_name = "CONFIG_X")]
        why: Option<String>,
        /// Cache folder (default: $XDG_CACHE_HOME/stali).
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Measure a built kernel object folder into a per-option size database (how the
    /// shipped one is filled).
    #[command(hide = true)]
    KernelSizes(kernel_sizes_cmd::KernelSizesArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: Shell,
    },
}

/// Arguments of `stali menu`.
#[derive(Args, Debug, Clone, Default)]
pub struct MenuArgs {
    /// Profile to edit (the embedded default when omitted; asked for on first save).
    pub profile: Option<PathBuf>,
    /// Colour theme: default, mono, classic, truecolor, or a user theme.
    #[arg(long)]
    pub theme: Option<String>,
    /// Draw boxes with ASCII characters only.
    #[arg(long)]
    pub ascii: bool,
}

/// Arguments of `stali build`.
#[derive(Args, Debug, Clone)]
pub struct BuildArgs {
    /// Profile file.
    pub profile: PathBuf,
    /// Where to write the ISO (default: ./NAME.iso).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Where sources come from.
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Parallel jobs (default: number of CPUs).
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Boot the result in every mode the profile allows.
    #[arg(long)]
    pub boot: bool,
    /// Boot timeout in seconds, with --boot.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Accept an ISO bigger than the profile's budget (else the build fails and the ISO is
    /// moved aside).
    #[arg(long)]
    pub allow_over_budget: bool,
    /// How to report progress: human (live on a terminal, else plain lines), plain, or json
    /// (one JSON object per line on standard output, described in the README).
    #[arg(long, value_enum, default_value_t = reporter::MessageFormat::Human)]
    pub message_format: reporter::MessageFormat,
    /// Run the code this profile carries (its own recipes, a kernel from a URL) without
    /// having trusted it with `stali trust` first: for scripts.
    #[arg(long)]
    pub trust: bool,
}

/// Where sources come from: the options `build`, `fetch`, `update` and `outdated` share.
#[derive(Args, Debug, Clone, Default)]
pub struct SourceArgs {
    /// Cache folder (default: $XDG_CACHE_HOME/stali).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Take sources from this folder: DIR/NAME for a URL ending in NAME or NAME.git.
    #[arg(long)]
    pub mirror: Option<PathBuf>,
    /// Never use the network: use only the cache and the mirror.
    #[arg(long)]
    pub offline: bool,
}

/// Arguments of `stali fetch`.
#[derive(Args, Debug, Clone)]
pub struct FetchArgs {
    /// Profile files (or names of shipped profiles).
    #[arg(required = true)]
    pub profiles: Vec<PathBuf>,
    /// Where sources come from.
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Print each source (name, kind, URL, pin, cache path) as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `stali boot`.
#[derive(Args, Debug, Clone)]
pub struct BootArgs {
    /// The ISO to boot.
    pub iso: PathBuf,
    /// Boot with UEFI firmware (OVMF) instead of BIOS.
    #[arg(long)]
    pub uefi: bool,
    /// Text that means the system is up (default: the ready banner from the build report).
    #[arg(long)]
    pub expect: Option<String>,
    /// Seconds to wait for it.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Connect the serial console to this terminal instead.
    #[arg(long)]
    pub interactive: bool,
    /// Give the guest a network card (QEMU user networking, DHCP) and forward a port of
    /// 127.0.0.1 to its SSH port (`--net=PORT`, or a free one); the machine then runs until
    /// QEMU stops or stali is interrupted.
    #[arg(
        long,
        value_name = "PORT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "0"
    )]
    pub net: Option<u16>,
    /// With --net: the guest reaches nothing beyond the forwarded port (QEMU restrict=on).
    #[arg(long, requires = "net")]
    pub isolated: bool,
}

/// What `stali list` lists.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListWhat {
    /// Tools and libraries.
    Tools,
    /// Hardware targets.
    Hardware,
    /// Kernel fragments.
    Fragments,
    /// Themes.
    Themes,
    /// Shipped profiles.
    Profiles,
    /// Kernel base configurations.
    Bases,
}

/// Shells for completion scripts.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Shell {
    /// bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

/// Writes to stdout; a closed pipe (`| head`) ends the program quietly.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    if o.write_all(text.as_bytes())
        .and_then(|_| o.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

/// Prints diagnostics to stderr.
fn report(inv: &Invalid) {
    eprintln!("{inv}");
}

/// Reads a profile argument: a file, or the name of a shipped profile when no such file exists.
pub fn load_profile(arg: &Path, catalog: &Catalog) -> Result<Profile, Invalid> {
    if !arg.exists() {
        let s = arg.to_string_lossy();
        if let Some(text) = shipped_profile(&s) {
            return Profile::parse(text, Some(Path::new(&format!("{s}.toml"))), catalog);
        }
        let mut inv = Profile::load(arg, catalog)
            .err()
            .unwrap_or_else(|| Invalid(Vec::new()));
        if let Some(d) = inv.0.first_mut() {
            let hint =
                crate::model::diag::suggestion(&s, EMBEDDED_PROFILES.iter().map(|(n, _)| *n));
            if !hint.is_empty() {
                d.message
                    .push_str(&hint.replace("did you mean", "did you mean the shipped profile"));
            }
        }
        return Err(inv);
    }
    Profile::load(arg, catalog)
}

/// Loads and resolves a profile argument.
pub fn load_plan(arg: &Path, catalog: &Catalog) -> Result<(Profile, Plan), Invalid> {
    let p = load_profile(arg, catalog)?;
    let plan = resolve(&p, catalog)?;
    Ok((p, plan))
}

/// Runs the CLI; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let command = cli.command.unwrap_or(Command::Menu(MenuArgs::default()));
    match command {
        Command::Menu(args) => crate::ui::run(crate::ui::MenuOptions {
            profile: args.profile,
            theme: args.theme,
            ascii: args.ascii,
            kernel: Some(kconfig_cmd::menu_loader(None)),
        }),
        Command::Check { profiles, strict } => check(&profiles, strict),
        Command::Size {
            profile,
            json,
            strict,
            option,
            cache,
        } => size(&profile, json, strict, option.as_deref(), cache.as_deref()),
        Command::KernelSizes(args) => kernel_sizes_cmd::run(&args),
        Command::List { what, json } => list(what, json),
        Command::Diff { a, b, json } => diff_cmd(&a, &b, json),
        Command::Doctor { json, packages } => doctor(json, packages),
        Command::Fetch(args) => build::fetch(&args),
        Command::Update(args) => update::cli_update(&args),
        Command::Outdated(args) => update::cli_outdated(&args),
        Command::Build(args) => build::build(&args),
        Command::Boot(args) => build::boot(&args),
        Command::Trust { profiles } => trust::trust_cmd(&profiles, &catalog()),
        Command::Kconfig {
            profile,
            minimal,
            why,
            cache,
        } => kconfig_cmd::run(&profile, minimal, why.as_deref(), cache.as_deref()),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut buf = Vec::new();
            match shell {
                Shell::Bash => {
                    clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "stali", &mut buf)
                }
                Shell::Zsh => {
                    clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "stali", &mut buf)
                }
                Shell::Fish => {
                    clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, "stali", &mut buf)
                }
            }
            out(&String::from_utf8_lossy(&buf));
            0
        }
    }
}

fn catalog() -> Catalog {
    let c = Catalog::load();
    for w in &c.warnings {
        eprintln!("{w}");
    }
    c
}

/// Says so when the estimate is over the profile's budget: a warning, or an error with
/// `--strict`; returns whether that failed the command.
fn budget_verdict(profile: &Profile, e: &Estimate, strict: bool) -> bool {
    let Some(msg) = e.budget_problem() else {
        return false;
    };
    let d = if strict {
        Diagnostic::error(msg)
    } else {
        Diagnostic::warning(format!("{msg} (`--strict` makes this an error)"))
    };
    eprintln!("{}", profile.locate(d, "image.budget"));
    strict
}

fn check(profiles: &[PathBuf], strict: bool) -> i32 {
    let c = catalog();
    let mut code = 0;
    for path in profiles {
        match load_plan(path, &c) {
            Ok((profile, plan)) => {
                for w in &plan.warnings {
                    eprintln!("{w}");
                }
                for w in crate::model::trust::carried_code_warnings(&profile) {
                    eprintln!("{w}");
                }
                let kernel = kconfig_cmd::check_kernel(&profile, &plan, None);
                if kernel != 0 {
                    code = kernel;
                    continue;
                }
                let e = estimate(&plan, &c);
                if budget_verdict(&profile, &e, strict) {
                    code = EXIT_INVALID;
                    continue;
                }
                out(&format!(
                    "{}: ok: {} on {}, {} tools, {} boot, estimated {}\n",
                    path.display(),
                    plan.name,
                    plan.hardware.name,
                    plan.tools.len(),
                    plan.image.boot.as_str(),
                    human(e.total_bytes)
                ));
            }
            Err(inv) => {
                report(&inv);
                code = EXIT_INVALID;
            }
        }
    }
    code
}

/// The breakdown as an aligned table.
pub fn size_table(plan: &Plan, e: &Estimate) -> String {
    let mut s = format!(
        "{}: estimated image {} ({} boot, {} compression)\n\n",
        plan.name,
        human(e.total_bytes),
        plan.image.boot.as_str(),
        plan.image.compression.as_str()
    );
    let name_w = e
        .components
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(4)
        .max(9);
    s.push_str(&format!(
        "{:<name_w$}  {:<8}  {:>10}  {:>10}  {}\n",
        "component", "kind", "bytes", "installed", "source"
    ));
    // The kernel's options, when priced one by one, are many: the largest few, then the
    // rest in one line (`--json` lists every one).
    const SHOWN_OPTIONS: usize = 8;
    let mut options: Vec<&crate::model::estimate::Component> = e
        .components
        .iter()
        .filter(|c| c.kind == crate::model::estimate::Kind::Option && c.bytes > 0)
        .collect();
    options.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
    let shown: std::collections::HashSet<&str> = options
        .iter()
        .take(SHOWN_OPTIONS)
        .map(|c| c.name.as_str())
        .collect();
    let rest: Vec<&&crate::model::estimate::Component> =
        options.iter().skip(SHOWN_OPTIONS).collect();
    for c in &e.components {
        if c.kind == crate::model::estimate::Kind::Option {
            if shown.contains(c.name.as_str()) {
                // The figure's first clause (`33 objects under fs/ext4/: ... bytes`).
                let src = c.source.split(':').next().unwrap_or(&c.source);
                s.push_str(&format!(
                    "{:<name_w$}  {:<8}  {:>10}  {:>10}  {src}\n",
                    c.name, "option", c.bytes, ""
                ));
            } else if Some(&c.name) == rest.first().map(|r| &r.name) {
                s.push_str(&format!(
                    "{:<name_w$}  {:<8}  {:>10}  {:>10}  {} smaller options with figures (`stali size --json` lists each)\n",
                    "(more options)",
                    "option",
                    rest.iter().map(|r| r.bytes).sum::<u64>(),
                    "",
                    rest.len()
                ));
            }
            continue;
        }
        let kind = serde_json::to_value(c.kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let raw = c.raw_bytes.map(|r| r.to_string()).unwrap_or_default();
        s.push_str(&format!(
            "{:<name_w$}  {:<8}  {:>10}  {:>10}  {}\n",
            c.name, kind, c.bytes, raw, c.source
        ));
    }
    s.push('\n');
    let line =
        |label: &str, b: u64| format!("{label:<name_w$}  {:<8}  {b:>10}  {:>10}\n", "", human(b));
    s.push_str(&line("kernel", e.kernel_bytes));
    s.push_str(&line("userland", e.userland_bytes));
    s.push_str(&line("boot", e.boot_bytes));
    s.push_str(&line("overhead", e.overhead_bytes));
    s.push_str(&line("total", e.total_bytes));
    s.push_str(&format!("kernel estimated from {}\n", e.kernel_model));
    if !e.no_figure.is_empty() {
        s.push_str(&format!(
            "{} kernel option(s) the profile asks for have no figure yet (counted as zero): {}\n",
            e.no_figure.len(),
            e.no_figure.join(", ")
        ));
    }
    if e.kernel_copies > 1 {
        s.push_str(&format!(
            "(hybrid: the kernel with its built-in initramfs ({}) is stored twice, for BIOS and UEFI)\n",
            human(e.kernel_file_bytes)
        ));
    }
    if let Some(b) = e.budget_bytes {
        let verdict = if e.over_budget() {
            format!("OVER by {}", human(e.total_bytes - b))
        } else {
            format!("{} to spare", human(b - e.total_bytes))
        };
        s.push_str(&format!("budget {}: {verdict}\n", human(b)));
    }
    s
}

fn size(path: &Path, json: bool, strict: bool, option: Option<&str>, cache: Option<&Path>) -> i32 {
    let c = catalog();
    match load_plan(path, &c) {
        Ok((profile, plan)) => {
            let cache = match cache {
                Some(p) => Some(p.to_path_buf()),
                None => crate::pipeline::cache::default_root().ok(),
            };
            if let Some(opt) = option {
                let r = cache
                    .as_deref()
                    .ok_or_else(|| anyhow::anyhow!("no cache folder"))
                    .and_then(|cache| kernel_sizes_cmd::describe_delta(&plan, cache, opt));
                return match r {
                    Ok(text) => {
                        out(&text);
                        0
                    }
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        EXIT_INVALID
                    }
                };
            }
            // Per-option figures when the kernel source is here and measured; else the
            // fragments' deltas.
            let kernel = cache.as_deref().and_then(|cache| {
                match crate::kconfig::sizes::kernel_estimate(&plan, cache) {
                    Ok(k) => k,
                    Err(e) => {
                        eprintln!("warning: per-option kernel sizes unavailable: {e:#}");
                        None
                    }
                }
            });
            let e = crate::model::estimate::estimate_with(&plan, &c, kernel.as_ref());
            let failed = budget_verdict(&profile, &e, strict);
            if json {
                match serde_json::to_string_pretty(&e) {
                    Ok(j) => out(&format!("{j}\n")),
                    Err(err) => {
                        eprintln!("error: cannot encode JSON: {err}");
                        return EXIT_INVALID;
                    }
                }
            } else {
                out(&size_table(&plan, &e));
            }
            if failed { EXIT_INVALID } else { 0 }
        }
        Err(inv) => {
            report(&inv);
            EXIT_INVALID
        }
    }
}

fn diff_cmd(a: &Path, b: &Path, json: bool) -> i32 {
    let c = catalog();
    let pa = load_plan(a, &c);
    let pb = load_plan(b, &c);
    let (pa, pb) = match (pa, pb) {
        (Ok(x), Ok(y)) => (x.1, y.1),
        (x, y) => {
            if let Err(e) = x {
                report(&e);
            }
            if let Err(e) = y {
                report(&e);
            }
            return EXIT_INVALID;
        }
    };
    let changes = diff::diff(&pa, &estimate(&pa, &c), &pb, &estimate(&pb, &c));
    if json {
        out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&changes).unwrap_or_default()
        ));
    } else {
        out(&format!("--- {}\n+++ {}\n", a.display(), b.display()));
        for ch in &changes {
            out(&format!("{:<9} {}\n", ch.area, ch.text));
        }
    }
    0
}

fn list(what: Option<ListWhat>, json: bool) -> i32 {
    let c = catalog();
    let all = what.is_none();
    let want = |w: ListWhat| all || what == Some(w);
    if json {
        let mut obj = serde_json::Map::new();
        if want(ListWhat::Tools) {
            let v: Vec<serde_json::Value> = c
                .tools
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "name": t.name, "description": t.description, "category": t.category,
                        "url": t.source.url(), "pin": t.source.pin(), "license": t.license,
                        "depends": t.depends, "provides": t.provides, "conflicts": t.conflicts,
                        "size": t.size, "size_source": t.size_source, "untested": t.untested,
                        "modes": t.modes.iter().map(|(p, m)| (format!("/{p}"), format!("{m:04o}").into()))
                            .collect::<serde_json::Map<String, serde_json::Value>>(),
                        "untested_on": t.untested_on.iter().map(|(a, w)| (a.as_str(), w.as_str())).collect::<std::collections::BTreeMap<_, _>>(),
                        "services": t.services.iter().map(|v| serde_json::json!({
                            "name": v.name, "description": v.description, "run": v.run,
                            "respawn": v.respawn, "per_link": v.per_link, "dirs": v.dirs,
                            "after": v.after,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            obj.insert("tools".into(), v.into());
        }
        if want(ListWhat::Hardware) {
            let v: Vec<serde_json::Value> = c
                .hardware
                .iter()
                .map(|h| {
                    serde_json::json!({
                        "name": h.name, "description": h.description, "arch": h.arch.as_str(),
                        "fragments": h.fragments, "console": h.console, "boot": h.boot.as_str(),
                    })
                })
                .collect();
            obj.insert("hardware".into(), v.into());
        }
        if want(ListWhat::Fragments) {
            let v: Vec<serde_json::Value> = c
                .fragments
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "name": f.name, "title": f.title, "description": f.description,
                        "depends": f.depends, "size": f.size, "size_source": f.size_source,
                        "options": f.options.len(),
                    })
                })
                .collect();
            obj.insert("fragments".into(), v.into());
        }
        if want(ListWhat::Bases) {
            let v: Vec<serde_json::Value> = c
                .bases
                .iter()
                .map(|b| {
                    serde_json::json!({
                        "name": b.name, "description": b.description, "size": b.size,
                        "size_source": b.size_source,
                    })
                })
                .collect();
            obj.insert("bases".into(), v.into());
        }
        if want(ListWhat::Themes) {
            let v: Vec<&str> = c.themes.iter().map(|t| t.name.as_str()).collect();
            obj.insert("themes".into(), serde_json::json!(v));
        }
        if want(ListWhat::Profiles) {
            let v: Vec<&str> = EMBEDDED_PROFILES.iter().map(|(n, _)| *n).collect();
            obj.insert("profiles".into(), serde_json::json!(v));
        }
        out(&format!("{}\n", serde_json::Value::Object(obj)));
        return 0;
    }
    let mut s = String::new();
    if want(ListWhat::Tools) {
        s.push_str("Tools (name, category, installed size, description):\n");
        for cat in crate::model::catalog::CATEGORIES {
            for t in c.tools.iter().filter(|t| &t.category == cat) {
                let size = if t.only_linked() {
                    "linked".to_string()
                } else if t.size_is_estimate() {
                    format!("~{}", human(t.size))
                } else {
                    human(t.size)
                };
                let mut line = format!(
                    "  {:<16} {:<11} {:>9}  {}",
                    t.name, t.category, size, t.description
                );
                if let Some(why) = &t.untested {
                    line.push_str(&format!("  [untested: {why}]"));
                }
                for (arch, why) in &t.untested_on {
                    line.push_str(&format!("  [untested on {arch}: {why}]"));
                }
                s.push_str(&line);
                s.push('\n');
                for svc in &t.services {
                    s.push_str(&format!("  {:<16} starts at boot: {}\n", "", svc.summary()));
                }
                if !t.modes.is_empty() {
                    let modes: Vec<String> = t
                        .modes
                        .iter()
                        .map(|(p, m)| format!("/{p} {m:04o}"))
                        .collect();
                    s.push_str(&format!("  {:<16} modes: {}\n", "", modes.join(", ")));
                }
            }
        }
        s.push_str("  (~ marks an estimated size; the rest were measured. A library is linked into the programs that use it and adds nothing of its own)\n");
    }
    if want(ListWhat::Hardware) {
        s.push_str("Hardware:\n");
        for h in &c.hardware {
            s.push_str(&format!(
                "  {:<14} {}  [{} boot; fragments: {}]\n",
                h.name,
                h.description,
                h.boot.as_str(),
                h.fragments.join(", ")
            ));
        }
    }
    if want(ListWhat::Fragments) {
        s.push_str("Kernel fragments:\n");
        for f in &c.fragments {
            let dep = if f.depends.is_empty() {
                String::new()
            } else {
                format!("  (needs {})", f.depends.join(", "))
            };
            s.push_str(&format!(
                "  {:<20} {:>9}  {}{dep}\n",
                f.name,
                crate::model::profile::human_delta(f.size),
                f.description
            ));
        }
    }
    if want(ListWhat::Bases) {
        s.push_str("Kernel bases (kernel.base):\n");
        for b in &c.bases {
            s.push_str(&format!(
                "  {:<20} {:>9}  {}\n",
                b.name,
                human(b.size),
                b.description
            ));
        }
    }
    if want(ListWhat::Themes) {
        s.push_str("Themes:\n");
        for t in &c.themes {
            s.push_str(&format!("  {}\n", t.name));
        }
    }
    if want(ListWhat::Profiles) {
        s.push_str("Shipped profiles (usable by name, e.g. `stali size minimal`):\n");
        for (n, text) in EMBEDDED_PROFILES {
            let d = Profile::parse(text, None, &c)
                .map(|p| p.description)
                .unwrap_or_default();
            s.push_str(&format!("  {n:<14} {d}\n"));
        }
    }
    out(&s);
    0
}

fn doctor(json: bool, packages: Option<host::Family>) -> i32 {
    if let Some(family) = packages {
        out(&format!(
            "{}\n",
            host::packages(family, host::ALL_NEEDS).join("\n")
        ));
        return 0;
    }
    let status = host::check(host::ALL_NEEDS);
    // The default kernel source matters only to profiles that name it: reported, not fatal.
    let fatal = |s: &host::Status| s.need != host::Need::Source && !s.missing.is_empty();
    let missing: Vec<&str> = status
        .iter()
        .filter(|s| !s.missing.is_empty())
        .map(|s| s.name)
        .collect();
    let failed = status.iter().any(fatal);
    if json {
        let j = serde_json::json!({
            "requirements": status,
            "missing": missing,
            "install": host::install_commands(&missing).into_iter().map(|(f, c)| serde_json::json!({"family": f, "command": c})).collect::<Vec<_>>(),
        });
        out(&format!("{j}\n"));
    } else {
        let mut s = String::new();
        for st in &status {
            let need = serde_json::to_value(st.need)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let names: Vec<&str> = st.items.iter().map(|f| f.name.as_str()).collect();
            let what = if names.len() > 1 {
                format!(" ({})", names.join(" "))
            } else {
                String::new()
            };
            match &st.found {
                Some(p) if names.len() > 1 => s.push_str(&format!(
                    "  ok       {:<20} {:<9} {} programs in {}\n",
                    st.name,
                    need,
                    names.len(),
                    p.parent().unwrap_or(p).display()
                )),
                Some(p) => s.push_str(&format!(
                    "  ok       {:<20} {:<9} {}\n",
                    st.name,
                    need,
                    p.display()
                )),
                None => s.push_str(&format!(
                    "  {:<8} {:<20} {:<9} {}{} (Debian: {}){}\n",
                    if fatal(st) { "MISSING" } else { "absent" },
                    st.name,
                    need,
                    st.purpose,
                    what,
                    st.debian,
                    if names.len() > 1 {
                        format!("; missing: {}", st.missing.join(" "))
                    } else {
                        String::new()
                    }
                )),
            }
        }
        if missing.is_empty() {
            s.push_str("\nEverything the pipeline needs is here.\n");
        } else {
            if failed {
                s.push_str(&format!("\n{} missing. Install with:\n", missing.len()));
            } else {
                s.push_str("\nEverything the pipeline needs is here; only profiles naming the default kernel source need:\n");
            }
            for (family, cmd) in host::install_commands(&missing) {
                s.push_str(&format!("  {family:<14} {cmd}\n"));
            }
        }
        out(&s);
    }
    if failed { EXIT_INVALID } else { 0 }
}
