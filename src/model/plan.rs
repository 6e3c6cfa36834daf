//! Resolution: a profile checked against the catalog becomes a [`Plan`], the one
//! description of an image that the UI, `stali size` and the build pipeline all consume.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::catalog::{BootMode, Catalog, Fragment, Hardware, Source, ToolDef};
use super::diag::{Diagnostic, Invalid, suggestion};
use super::profile::{Compression, KernelSource, Profile, kconfig_string, kconfig_value, validate};

/// Capabilities of which at most one provider may be selected.
pub const EXCLUSIVE: &[&str] = &["init", "sh"];

/// A tool in the plan, with why it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTool {
    /// The recipe, with the profile's pin applied.
    pub def: ToolDef,
    /// Chosen by the user (else pulled in by a dependency).
    pub selected: bool,
    /// Planned tools that depend on this one directly.
    pub required_by: Vec<String>,
}

/// A fragment in the plan, with why it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFragment {
    /// The fragment.
    pub fragment: Fragment,
    /// Why: `hardware`, `profile`, `boot` or `needed by X`.
    pub reason: String,
}

/// The kernel part of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelPlan {
    /// Where the source comes from.
    pub source: KernelSource,
    /// Base configuration.
    pub base: String,
    /// Fragments, dependencies first.
    pub fragments: Vec<PlannedFragment>,
    /// Options from the profile, applied after the fragments.
    pub options: Vec<(String, String)>,
}

impl KernelPlan {
    /// The fragments as (name, text), in the order they are applied.
    pub fn fragment_texts(&self) -> Vec<(String, String)> {
        self.fragments
            .iter()
            .map(|f| (f.fragment.name.clone(), f.fragment.text.clone()))
            .collect()
    }

    /// Every option requested, fragments first then the profile's; later ones win.
    pub fn requested(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let all = self
            .fragments
            .iter()
            .flat_map(|f| f.fragment.options.iter())
            .chain(self.options.iter());
        for (k, v) in all {
            out.retain(|(n, _)| n != k);
            out.push((k.clone(), v.clone()));
        }
        out
    }

    /// Whether the named fragment is in the plan.
    pub fn has_fragment(&self, name: &str) -> bool {
        self.fragments.iter().any(|f| f.fragment.name == name)
    }
}

/// The image part of a plan, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePlan {
    /// Boot mode.
    pub boot: BootMode,
    /// Compression.
    pub compression: Compression,
    /// Kernel command line.
    pub cmdline: String,
    /// Host name.
    pub hostname: String,
    /// Size budget in bytes.
    pub budget: Option<u64>,
}

/// A resolved profile: everything needed to show, size or build the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Profile name.
    pub name: String,
    /// Profile description.
    pub description: String,
    /// Hardware target.
    pub hardware: Hardware,
    /// Tools in build order (dependencies first).
    pub tools: Vec<PlannedTool>,
    /// Kernel.
    pub kernel: KernelPlan,
    /// Image settings.
    pub image: ImagePlan,
    /// How root logs in (the profile's `[access]`).
    pub access: super::access::Access,
    /// Non-fatal findings.
    pub warnings: Vec<Diagnostic>,
}

impl Plan {
    /// The planned tool called `name`.
    pub fn tool(&self, name: &str) -> Option<&PlannedTool> {
        self.tools.iter().find(|t| t.def.name == name)
    }

    /// The text the generated `/etc/rc.init` prints when the system is up.
    pub fn ready_banner(&self) -> String {
        format!("stali: {} ready", self.name)
    }

    /// The planned tool providing `cap`, if any.
    pub fn provider(&self, cap: &str) -> Option<&PlannedTool> {
        self.tools
            .iter()
            .find(|t| t.def.provides.iter().any(|p| p == cap))
    }
}

/// The default command line for a hardware target: one `console=` per console, primary last.
pub fn default_cmdline(hw: &Hardware) -> String {
    hw.console
        .split_whitespace()
        .map(|c| format!("console={c}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks a profile against the catalog and resolves it into a plan.
pub fn resolve(profile: &Profile, catalog: &Catalog) -> Result<Plan, Invalid> {
    // The profile's own rules first; resolution goes on to find everything else wrong.
    let (mut errors, mut warnings): (Vec<Diagnostic>, Vec<Diagnostic>) = validate(profile, catalog)
        .into_iter()
        .partition(Diagnostic::is_error);

    // The universe of tools: the catalog, then the profile's own.
    let mut universe: BTreeMap<String, ToolDef> = catalog
        .tools
        .iter()
        .map(|t| (t.name.clone(), t.clone()))
        .collect();
    for (i, t) in profile.inline_tools.iter().enumerate() {
        if universe.contains_key(&t.name) {
            warnings.push(profile.locate(
                Diagnostic::warning(format!(
                    "tool `{}` is defined in the profile and replaces the catalog's recipe",
                    t.name
                )),
                &format!("tool[{i}].name"),
            ));
        }
        universe.insert(t.name.clone(), t.clone());
    }
    let names: Vec<String> = universe.keys().cloned().collect();

    // Pins of the wrong kind or for unknown tools were reported by `validate`.
    for (name, pin) in &profile.pins {
        if let Some(t) = universe.get_mut(name) {
            match &mut t.source {
                Source::Git { rev, .. } if super::catalog::is_commit(pin) => *rev = pin.clone(),
                Source::Tarball { sha256, .. } if super::catalog::is_sha256(pin) => {
                    *sha256 = pin.clone()
                }
                _ => {}
            }
        }
    }
    let hardware = catalog.hardware(&profile.hardware).cloned();

    // Tool closure.
    let selected: Vec<String> = profile
        .select
        .iter()
        .filter(|n| universe.contains_key(*n))
        .cloned()
        .collect();
    let mut order: Vec<String> = Vec::new();
    let mut state: BTreeMap<String, u8> = BTreeMap::new(); // 1 visiting, 2 done
    fn visit(
        name: &str,
        universe: &BTreeMap<String, ToolDef>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
        order: &mut Vec<String>,
        problems: &mut Vec<(String, String)>,
    ) {
        match state.get(name) {
            Some(2) => return,
            Some(1) => {
                let start = stack.iter().position(|s| s == name).unwrap_or(0);
                let mut cycle: Vec<String> = stack[start..].to_vec();
                cycle.push(name.to_string());
                problems.push((
                    stack[start].clone(),
                    format!("dependency cycle: {}", cycle.join(" -> ")),
                ));
                return;
            }
            _ => {}
        }
        let Some(def) = universe.get(name) else {
            return;
        };
        state.insert(name.to_string(), 1);
        stack.push(name.to_string());
        let mut deps = def.depends.clone();
        deps.sort();
        for d in &deps {
            if universe.contains_key(d) {
                visit(d, universe, state, stack, order, problems);
            } else {
                problems.push((
                    name.to_string(),
                    format!("`{name}` depends on unknown tool `{d}`"),
                ));
            }
        }
        stack.pop();
        state.insert(name.to_string(), 2);
        order.push(name.to_string());
    }
    let mut problems = Vec::new();
    let mut sorted_sel = selected.clone();
    sorted_sel.sort();
    for name in &sorted_sel {
        visit(
            name,
            &universe,
            &mut state,
            &mut Vec::new(),
            &mut order,
            &mut problems,
        );
    }
    let mut seen_problem = BTreeSet::new();
    for (tool, msg) in problems {
        if !seen_problem.insert(msg.clone()) {
            continue;
        }
        let key = profile
            .inline_tools
            .iter()
            .position(|t| t.name == tool)
            .map(|i| format!("tool[{i}].depends"))
            .unwrap_or_else(|| "tools.select".into());
        let msg = if msg.contains("unknown tool") {
            let missing = msg.rsplit('`').nth(1).unwrap_or("");
            format!(
                "{msg}{}",
                suggestion(missing, names.iter().map(String::as_str))
            )
        } else {
            msg
        };
        errors.push(profile.locate(Diagnostic::error(msg), &key));
    }

    let mut tools: Vec<PlannedTool> = order
        .iter()
        .filter_map(|n| universe.get(n))
        .map(|def| PlannedTool {
            def: def.clone(),
            selected: selected.contains(&def.name),
            required_by: Vec::new(),
        })
        .collect();
    let deps: Vec<(String, Vec<String>)> = tools
        .iter()
        .map(|t| (t.def.name.clone(), t.def.depends.clone()))
        .collect();
    for t in &mut tools {
        t.required_by = deps
            .iter()
            .filter(|(_, d)| d.contains(&t.def.name))
            .map(|(n, _)| n.clone())
            .collect();
    }

    // Conflicts and exclusive capabilities are reported at the last of the tools involved
    // that the user listed, or at `tools.select` when dependencies brought them in.
    let select_key = |names: &[&str]| -> String {
        names
            .iter()
            .filter_map(|n| profile.select.iter().position(|s| s == n))
            .max()
            .map(|i| format!("tools.select[{i}]"))
            .unwrap_or_else(|| "tools.select".into())
    };
    // Conflicts and exclusive capabilities.
    for a in &tools {
        for c in &a.def.conflicts {
            if let Some(b) = tools.iter().find(|b| &b.def.name == c)
                && a.def.name < b.def.name
            {
                errors.push(profile.locate(
                    Diagnostic::error(format!(
                        "{} and {} conflict: keep one{}",
                        a.def.name,
                        b.def.name,
                        pulled_in(a, b)
                    )),
                    &select_key(&[a.def.name.as_str(), b.def.name.as_str()]),
                ));
            }
        }
    }
    for cap in EXCLUSIVE {
        let providers: Vec<&PlannedTool> = tools
            .iter()
            .filter(|t| t.def.provides.iter().any(|p| p == cap))
            .collect();
        if providers.len() > 1 {
            let names: Vec<&str> = providers.iter().map(|t| t.def.name.as_str()).collect();
            let list = match names.len() {
                2 => format!("{} and {}", names[0], names[1]),
                _ => names.join(", "),
            };
            errors.push(profile.locate(
                Diagnostic::error(format!("{list} both provide {cap}: keep one")),
                &select_key(&names),
            ));
        }
    }
    if errors.is_empty() {
        if !tools
            .iter()
            .any(|t| t.def.provides.iter().any(|p| p == "init"))
        {
            warnings.push(profile.locate(
                Diagnostic::warning(
                    "no selected tool provides init: the image will not boot (add sinit)",
                ),
                "tools.select",
            ));
        } else if !tools
            .iter()
            .any(|t| t.def.provides.iter().any(|p| p == "sh"))
        {
            warnings.push(profile.locate(
                Diagnostic::warning(
                    "no selected tool provides sh: /etc/rc.init cannot run and no ready banner will appear (add mksh)",
                ),
                "tools.select",
            ));
        }
        if let Some(t) = tools
            .iter()
            .find(|t| t.def.provides.iter().any(|p| p == "ssh-server"))
            && !profile.access.can_log_in()
        {
            warnings.push(profile.locate(
                Diagnostic::warning(format!(
                    "{} is an SSH server but the profile gives no way to log in: add root's public key to `[access] ssh_keys` (or a `password_hash`)",
                    t.def.name
                )),
                "tools.select",
            ));
        }
        let arch = hardware.as_ref().map(|h| h.arch).unwrap_or_default();
        let untested: Vec<String> = tools
            .iter()
            .filter_map(|t| match (&t.def.untested, t.def.untested_on.get(&arch)) {
                (Some(_), _) => Some(t.def.name.clone()),
                (None, Some(_)) => Some(format!("{} (on {arch})", t.def.name)),
                (None, None) => None,
            })
            .collect();
        if !untested.is_empty() {
            warnings.push(profile.locate(
                Diagnostic::warning(format!(
                    "untested recipe{}: {} (see `stali list tools`)",
                    if untested.len() > 1 { "s" } else { "" },
                    untested.join(", ")
                )),
                "tools.select",
            ));
        }
        let estimated: Vec<&str> = tools
            .iter()
            .filter(|t| t.def.size_is_estimate() && !t.def.is_library())
            .map(|t| t.def.name.as_str())
            .collect();
        if !estimated.is_empty() {
            warnings.push(profile.locate(
                Diagnostic::warning(format!(
                    "size is an estimate only for: {}",
                    estimated.join(", ")
                )),
                "tools.select",
            ));
        }
    }

    // Kernel fragments: hardware, then profile, then what the boot mode needs.
    let boot = profile
        .image
        .boot
        .or(hardware.as_ref().map(|h| h.boot))
        .unwrap_or(BootMode::Bios);
    let mut wanted: Vec<(String, String, Option<String>)> = Vec::new();
    if let Some(h) = &hardware {
        for f in &h.fragments {
            wanted.push((f.clone(), "hardware".into(), None));
        }
    }
    for (i, f) in profile.kernel.fragments.iter().enumerate() {
        wanted.push((
            f.clone(),
            "profile".into(),
            Some(format!("kernel.fragments[{i}]")),
        ));
    }
    let arch = hardware.as_ref().map(|h| h.arch).unwrap_or_default();
    if let Some(b) = catalog.base(&profile.kernel.base)
        && !b.arch.is_empty()
        && !b.arch.contains(&arch)
    {
        errors.push(profile.locate(
            Diagnostic::error(format!(
                "kernel base `{}` is for {}, not for this hardware's {arch}: use tinyconfig",
                b.name,
                b.arch.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
            )),
            "kernel.base",
        ));
    }
    if boot.bios() && !arch.has_bios() {
        errors.push(profile.locate(
            Diagnostic::error(format!(
                "boot = {} needs a PC BIOS, which {arch} hardware has not: use boot = \"uefi\"",
                boot.as_str()
            )),
            if profile.image.boot.is_some() {
                "image.boot"
            } else {
                "target.hardware"
            },
        ));
    }
    if boot.uefi() {
        wanted.push((
            arch.uefi_fragment().into(),
            format!("boot = {}", boot.as_str()),
            None,
        ));
    }
    let mut fragments: Vec<PlannedFragment> = Vec::new();
    fn add_fragment(
        name: &str,
        reason: &str,
        catalog: &Catalog,
        out: &mut Vec<PlannedFragment>,
        depth: usize,
        arch: super::Arch,
    ) -> Result<(), String> {
        if out.iter().any(|f| f.fragment.name == name) {
            return Ok(());
        }
        if depth > 32 {
            return Err(format!(
                "fragment dependencies nest too deep at `{name}` (a cycle?)"
            ));
        }
        let Some(f) = catalog.fragment(name) else {
            return Err(format!(
                "unknown kernel fragment `{}`{} (see `stali list fragments`)",
                super::catalog::short(name),
                suggestion(name, catalog.fragments.iter().map(|f| f.name.as_str()))
            ));
        };
        if !f.fits(arch) {
            let fits: Vec<&str> = f.arch.iter().map(|a| a.as_str()).collect();
            return Err(format!(
                "kernel fragment `{name}` is for {}, not for this hardware's {arch}",
                fits.join(", ")
            ));
        }
        for d in &f.depends {
            add_fragment(
                d,
                &format!("needed by {name}"),
                catalog,
                out,
                depth + 1,
                arch,
            )?;
        }
        if !out.iter().any(|x| x.fragment.name == name) {
            out.push(PlannedFragment {
                fragment: f.clone(),
                reason: reason.to_string(),
            });
        }
        Ok(())
    }
    for (name, reason, key) in &wanted {
        if key.is_some() && catalog.fragment(name).is_none() {
            continue; // the profile's own unknown fragment: reported by `validate`
        }
        if let Err(msg) = add_fragment(name, reason, catalog, &mut fragments, 0, arch) {
            let d = Diagnostic::error(msg);
            errors.push(match key {
                Some(k) => profile.locate(d, k),
                None => profile.locate(d, "target.hardware"),
            });
        }
    }

    let cmdline = profile
        .image
        .cmdline
        .clone()
        .or(hardware.as_ref().map(default_cmdline))
        .unwrap_or_else(|| "console=ttyS0".into());

    if !errors.is_empty() {
        errors.sort_by_key(|d| d.pos);
        errors.dedup();
        return Err(Invalid(errors));
    }
    let Some(hardware) = hardware else {
        return Err(Invalid(vec![Diagnostic::error("no hardware target")]));
    };
    Ok(Plan {
        name: profile.name.clone(),
        description: profile.description.clone(),
        hardware,
        tools,
        kernel: KernelPlan {
            source: profile.kernel.source.clone(),
            base: profile.kernel.base.clone(),
            fragments,
            options: profile.kernel.options.clone(),
        },
        image: ImagePlan {
            boot,
            compression: profile.image.compression,
            cmdline,
            hostname: profile.image.hostname.clone(),
            budget: profile.image.budget,
        },
        access: profile.access.clone(),
        warnings,
    })
}

fn pulled_in(a: &PlannedTool, b: &PlannedTool) -> String {
    let why = |t: &PlannedTool| {
        if t.selected {
            None
        } else {
            Some(format!(
                "{} is needed by {}",
                t.def.name,
                t.required_by.join(", ")
            ))
        }
    };
    match (why(a), why(b)) {
        (None, None) => String::new(),
        (Some(x), None) | (None, Some(x)) => format!(" ({x})"),
        (Some(x), Some(y)) => format!(" ({x}; {y})"),
    }
}

/// The options the pipeline itself adds to every kernel: no modules, the uncompressed
/// initramfs at `cpio_path` built in, the kernel `compression` and the command line baked
/// in (always quoted: a command line `1` is a string).
///
/// On x86 `CONFIG_CMDLINE_BOOL` turns the built-in line on (the boot loader's is
/// appended); arm64 has no such switch and the built-in line is forced
/// (`CONFIG_CMDLINE_FORCE`), so what a firmware passes cannot change it.
pub fn pipeline_options(
    arch: super::Arch,
    compression: Compression,
    cmdline: &str,
    cpio_path: &Path,
) -> Vec<(String, String)> {
    use super::owned as o;
    let mut v: Vec<(String, String)> = vec![
        (o::MODULES.into(), "n".into()),
        (o::BLK_DEV_INITRD.into(), "y".into()),
        (
            o::INITRAMFS_SOURCE.into(),
            kconfig_string(&cpio_path.display().to_string()),
        ),
        (o::INITRAMFS_COMPRESSION_NONE.into(), "y".into()),
        (o::compression_option(compression).into(), "y".into()),
    ];
    if arch.has_cmdline_bool() {
        v.push((o::CMDLINE_BOOL.into(), "y".into()));
    } else {
        v.push((o::CMDLINE_FORCE.into(), "y".into()));
    }
    v.push((o::CMDLINE.into(), kconfig_string(cmdline)));
    v
}

/// Every option the build applies after the fragments' text: the requested ones (values
/// written as Kconfig writes them), then the pipeline's own; later ones win.
pub fn kernel_options(plan: &Plan, cpio_path: &Path) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = plan
        .kernel
        .requested()
        .into_iter()
        .map(|(k, v)| (k, kconfig_value(&v)))
        .collect();
    for (k, v) in pipeline_options(
        plan.hardware.arch,
        plan.image.compression,
        &plan.image.cmdline,
        cpio_path,
    ) {
        options.retain(|(n, _)| n != &k);
        options.push((k, v));
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_options_embed_the_initramfs_and_quote_the_command_line() {
        let o = pipeline_options(
            crate::model::Arch::X86_64,
            Compression::Xz,
            "1",
            Path::new("/o/stali-initramfs.cpio"),
        );
        let get = |k: &str| o.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("CONFIG_MODULES"), Some("n"));
        assert_eq!(get("CONFIG_BLK_DEV_INITRD"), Some("y"));
        assert_eq!(
            get("CONFIG_INITRAMFS_SOURCE"),
            Some("\"/o/stali-initramfs.cpio\"")
        );
        assert_eq!(get("CONFIG_KERNEL_XZ"), Some("y"));
        assert_eq!(get("CONFIG_KERNEL_GZIP"), None);
        // A command line that looks like a number is still a string.
        assert_eq!(get("CONFIG_CMDLINE"), Some("\"1\""));
        let z = pipeline_options(
            crate::model::Arch::X86_64,
            Compression::Zstd,
            "console=ttyS0 a=\"b\"",
            Path::new("/c"),
        );
        assert!(z.contains(&("CONFIG_KERNEL_ZSTD".into(), "y".into())));
        assert!(z.contains(&(
            "CONFIG_CMDLINE".into(),
            "\"console=ttyS0 a=\\\"b\\\"\"".into()
        )));
        // The model refuses in profiles every option the pipeline sets (to another value).
        for name in o.iter().map(|(n, _)| n.as_str()) {
            assert!(
                super::super::owned::owned_option(name, "other").is_some(),
                "{name} is set by the pipeline but a profile may set it"
            );
        }
    }

    fn plan(text: &str) -> Result<Plan, Invalid> {
        let c = Catalog::embedded();
        let p = Profile::parse(text, None, &c)?;
        resolve(&p, &c)
    }

    #[test]
    fn dependencies_are_pulled_in_first() {
        let p = plan("format = 1\n[tools]\nselect = [\"sinit\", \"mksh\", \"dropbear\"]\n")
            .expect("valid");
        let names: Vec<&str> = p.tools.iter().map(|t| t.def.name.as_str()).collect();
        let zlib = names
            .iter()
            .position(|n| *n == "zlib")
            .expect("zlib pulled in");
        let dropbear = names
            .iter()
            .position(|n| *n == "dropbear")
            .expect("dropbear");
        assert!(zlib < dropbear);
        let z = p.tool("zlib").expect("zlib");
        assert!(!z.selected);
        assert_eq!(z.required_by, vec!["dropbear"]);
    }

    #[test]
    fn two_shells_are_refused_in_words() {
        let text = r#"format = 1
[tools]
select = ["sinit", "mksh", "sbase"]
[[tool]]
name = "dash"
git = "file:///srv/dash"
rev = "0123456789012345678901234567890123456789"
provides = ["sh"]
"#;
        let text = text.replace("\"sbase\"]", "\"sbase\", \"dash\"]");
        let e = plan(&text).expect_err("two shells");
        assert!(
            e.to_string()
                .contains("dash and mksh both provide sh: keep one"),
            "{e}"
        );
    }

    #[test]
    fn uefi_pulls_in_the_efi_fragment() {
        let p = plan("format = 1\n[image]\nboot = \"uefi\"\n").expect("valid");
        assert!(p.kernel.has_fragment("efi"));
        let p = plan("format = 1\n[image]\nboot = \"bios\"\n").expect("valid");
        assert!(!p.kernel.has_fragment("efi"));
        assert!(p.kernel.has_fragment("serial-console"));
    }

    #[test]
    fn aarch64_hardware_takes_its_own_fragments_and_boots_with_uefi_only() {
        let p = plan("format = 1\n[target]\nhardware = \"qemu-aarch64\"\n").expect("valid");
        assert_eq!(p.hardware.arch, crate::model::Arch::Aarch64);
        assert_eq!(p.image.boot, BootMode::Uefi);
        assert_eq!(p.image.cmdline, "console=ttyAMA0");
        for f in ["base", "pl011-console", "virtio-mmio", "efi-arm64"] {
            assert!(p.kernel.has_fragment(f), "{f}");
        }
        assert!(!p.kernel.has_fragment("efi"));
        let opts = kernel_options(&p, Path::new("/c"));
        let get = |k: &str| opts.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("CONFIG_CMDLINE_FORCE"), Some("y"));
        assert_eq!(get("CONFIG_CMDLINE_BOOL"), None);

        let e =
            plan("format = 1\n[target]\nhardware = \"qemu-aarch64\"\n[image]\nboot = \"hybrid\"\n")
                .expect_err("no BIOS on aarch64");
        assert!(e.to_string().contains("needs a PC BIOS"), "{e}");
        let e = plan(
            "format = 1\n[target]\nhardware = \"qemu-aarch64\"\n[kernel]\nfragments = [\"pc-storage\"]\n",
        )
        .expect_err("an x86 fragment");
        assert!(
            e.to_string()
                .contains("`pc-storage` is for x86_64, not for this hardware's aarch64"),
            "{e}"
        );
        let e = plan("format = 1\n[kernel]\nfragments = [\"pl011-console\"]\n")
            .expect_err("an arm64 fragment on x86_64");
        assert!(e.to_string().contains("is for aarch64"), "{e}");
    }

    #[test]
    fn later_options_win() {
        let p = plan("format = 1\n[kernel.options]\nCONFIG_PRINTK = \"n\"\n").expect("valid");
        let req = p.kernel.requested();
        let printk: Vec<_> = req.iter().filter(|(k, _)| k == "CONFIG_PRINTK").collect();
        assert_eq!(printk.len(), 1);
        assert_eq!(printk[0].1, "n");
    }
}
