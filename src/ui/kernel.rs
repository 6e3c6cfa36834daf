//! The kernel's own menu tree in the configurator (Kernel > All options): loaded in a
//! background thread by a [`Loader`] the command line hands in, drawn as menuconfig draws
//! it (`mconf.c`'s `build_conf`), edited through the Kconfig engine's own constraints, and
//! searched with the catalog's fuzzy search.

use std::sync::{Arc, mpsc};

use super::menu::{Item, ItemKind, Marker, MenuId};
use super::search::{Entry, Index};
use crate::kconfig::whatif::Dependents;
use crate::kconfig::{Expr, Kconfig, MenuId as KMenuId, PropKind, ROOT_MENU, SymId, SymType, Tri};
use crate::model::Plan;
use crate::model::kernel_sizes::{KernelEstimate, KernelSizes};
use crate::model::profile::human_delta;

/// How many characters of a kernel option's help search looks in.
pub const HELP_MATCHED: usize = 240;

/// Help about a kernel entry, computed when its help screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelHelp {
    /// The engine's menu id.
    pub entry: u32,
    /// `CONFIG_X: prompt`.
    pub title: String,
    /// Whether it can be changed here, and if not why (`unavailable: it needs BLOCK [=n]`).
    pub status: String,
    /// Type, value, depends on, selected by... in menuconfig's order.
    pub facts: Vec<(String, String)>,
    /// The Kconfig help text, paragraphs joined into lines.
    pub help: String,
    /// `stali kconfig --why` in words.
    pub why: String,
}

/// Kconfig help text with each paragraph on one line (indented lines stay as they are),
/// for wrapping at the screen's width.
pub fn reflow(help: &str) -> String {
    let mut out = String::new();
    let mut para = String::new();
    let flush = |para: &mut String, out: &mut String| {
        if !para.is_empty() {
            out.push_str(para);
            out.push('\n');
            para.clear();
        }
    };
    for line in help.lines() {
        let t = line.trim_end();
        if t.is_empty() {
            flush(&mut para, &mut out);
            out.push('\n');
        } else if t.starts_with([' ', '\t']) {
            flush(&mut para, &mut out);
            out.push_str(t);
            out.push('\n');
        } else {
            if !para.is_empty() {
                para.push(' ');
            }
            para.push_str(t);
        }
    }
    flush(&mut para, &mut out);
    out
}

/// What the side panel says about the highlighted kernel entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFocus {
    /// `CONFIG_X` (or the menu's title).
    pub name: String,
    /// `= y (bool)`.
    pub value: String,
    /// Why it cannot change, when it cannot.
    pub note: String,
    /// What switching it adds or saves in the image (`turning it on: +152 KiB`), or "no
    /// figure yet"; empty when there are no figures for this kernel.
    pub size: String,
}

/// The profile's kernel configuration as the engine computed it.
pub struct Loaded {
    /// The tree, in the state of the profile's whole `.config` (base, fragments, the
    /// profile's options, the pipeline's own).
    pub kc: Kconfig,
    /// Each symbol's value from the base and the fragments alone (with the pipeline's
    /// options), by symbol id: a change that gives this value back needs no line in
    /// `[kernel.options]`.
    pub reference: Vec<String>,
    /// The per-option sizes measured for this kernel version, arch and compiler, if any.
    pub sizes: Option<KernelSizes>,
}

/// Per-option sizes with what a delta needs, built once per load.
pub struct Figures {
    /// The measured figures.
    pub sizes: KernelSizes,
    /// The figured symbols as engine ids.
    pub watch: Vec<SymId>,
    /// The tree's reverse dependency graph.
    pub deps: Dependents,
}

/// Computes [`Loaded`] for a plan (off the UI thread); `Err` says why it cannot (a source
/// not on this machine, a base the engine does not reproduce).
pub type Loader = Arc<dyn Fn(&Plan) -> Result<Loaded, String> + Send + Sync>;

/// Called from the loading thread when a result is ready (wakes the terminal loop).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// A loaded tree with what the configurator keeps beside it.
pub struct Tree {
    /// The engine, in the state of the profile.
    pub kc: Kconfig,
    /// Values from base and fragments alone, by symbol id.
    pub reference: Vec<String>,
    /// Search entries of every symbol, built once per load.
    pub index: Index,
    /// Per-option sizes, when this kernel was measured.
    pub figures: Option<Figures>,
}

/// Where the tree is.
pub enum State {
    /// No loader (the configurator runs without kernel sources).
    Off,
    /// Being loaded.
    Loading,
    /// It cannot be loaded here, and why.
    Failed(String),
    /// Ready.
    Ready(Box<Tree>),
}

/// The kernel tree of the configurator and its loading.
pub struct Kernel {
    loader: Option<Loader>,
    notify: Option<Notify>,
    /// Where the tree is.
    pub state: State,
    /// The inputs the state (or the load under way) was computed from.
    key: String,
    rx: Option<mpsc::Receiver<(String, Result<Tree, String>)>>,
    /// Whether invisible entries are shown (with why they are invisible).
    pub show_all: bool,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Off => "off".to_string(),
            State::Loading => "loading".to_string(),
            State::Failed(e) => format!("failed: {e}"),
            State::Ready(t) => format!("ready ({} symbols)", t.kc.syms.len()),
        };
        f.debug_struct("Kernel")
            .field("state", &state)
            .field("show_all", &self.show_all)
            .finish()
    }
}

/// What the tree depends on in a plan: its source, base, fragments, architecture, options.
pub fn inputs_key(plan: &Plan) -> String {
    let frags: Vec<&str> = plan
        .kernel
        .fragments
        .iter()
        .map(|f| f.fragment.name.as_str())
        .collect();
    format!(
        "{:?}|{}|{}|{frags:?}|{:?}|{}|{}",
        plan.kernel.source,
        plan.kernel.base,
        plan.hardware.arch,
        plan.kernel.options,
        plan.image.compression.as_str(),
        plan.image.cmdline
    )
}

impl Default for Kernel {
    fn default() -> Self {
        Kernel {
            loader: None,
            notify: None,
            state: State::Off,
            key: String::new(),
            rx: None,
            show_all: false,
        }
    }
}

impl Kernel {
    /// Starts using `loader` (and `notify` when a load finishes).
    pub fn set_loader(&mut self, loader: Loader, notify: Option<Notify>) {
        self.loader = Some(loader);
        self.notify = notify;
        self.key.clear();
    }

    /// Uses the loader of `other` (a configurator replaced by another profile's).
    pub fn carry_from(&mut self, other: &Kernel) {
        self.loader = other.loader.clone();
        self.notify = other.notify.clone();
        self.show_all = other.show_all;
        self.key.clear();
    }

    /// Starts a load when the plan's kernel inputs differ from the tree's.
    pub fn sync(&mut self, plan: &Plan) {
        let Some(loader) = self.loader.clone() else {
            return;
        };
        let key = inputs_key(plan);
        if key == self.key {
            return;
        }
        self.key = key.clone();
        self.state = State::Loading;
        let (tx, rx) = mpsc::channel();
        self.rx = Some(rx);
        let plan = plan.clone();
        let notify = self.notify.clone();
        std::thread::spawn(move || {
            let r = loader(&plan).map(Tree::new);
            let _ = tx.send((key, r));
            if let Some(n) = notify {
                n();
            }
        });
    }

    /// Loads again at the next [`Kernel::sync`] (the tree no longer matches the profile).
    pub fn reload(&mut self) {
        self.key.clear();
    }

    /// The plan changed by an edit the tree already reflects: no reload.
    pub fn adopt(&mut self, plan: &Plan) {
        if matches!(self.state, State::Ready(_)) {
            self.key = inputs_key(plan);
        }
    }

    /// Takes a finished load; true when the state changed.
    pub fn poll(&mut self) -> bool {
        let Some(rx) = &self.rx else { return false };
        match rx.try_recv() {
            Ok((key, r)) => {
                self.rx = None;
                if key != self.key {
                    return false;
                }
                self.state = match r {
                    Ok(t) => State::Ready(Box::new(t)),
                    Err(e) => State::Failed(e),
                };
                true
            }
            Err(mpsc::TryRecvError::Empty) => false,
            Err(mpsc::TryRecvError::Disconnected) => {
                self.rx = None;
                self.state = State::Failed("the kernel configuration did not load".into());
                true
            }
        }
    }

    /// Waits for a load under way (tests and benchmarks).
    pub fn wait(&mut self) {
        if let Some(rx) = self.rx.take()
            && let Ok((key, r)) = rx.recv()
            && key == self.key
        {
            self.state = match r {
                Ok(t) => State::Ready(Box::new(t)),
                Err(e) => State::Failed(e),
            };
        }
    }

    /// Whether the tree is ready and in `plan`'s state (no load pending for it).
    pub fn matches(&self, plan: &Plan) -> bool {
        matches!(self.state, State::Ready(_)) && self.rx.is_none() && self.key == inputs_key(plan)
    }

    /// The tree, when ready.
    pub fn tree(&mut self) -> Option<&mut Tree> {
        match &mut self.state {
            State::Ready(t) => Some(t),
            _ => None,
        }
    }

    /// The line the kernel menus show instead of the tree, when it is not ready.
    pub fn status(&self) -> Option<String> {
        match &self.state {
            State::Off => Some("not available (no kernel source given)".into()),
            State::Loading => Some("loading the kernel configuration...".into()),
            State::Failed(e) => Some(format!("cannot show the kernel tree: {e}")),
            State::Ready(_) => None,
        }
    }
}

/// The menu a kernel entry is listed in, as menuconfig shows it: the nearest enclosing
/// menu, menuconfig symbol or choice (entries under a plain symbol are indented in its
/// parent's list).
pub fn display_parent(kc: &Kconfig, m: KMenuId) -> KMenuId {
    let mut p = kc.menus[m as usize].parent;
    while let Some(pm) = p {
        if pm == ROOT_MENU || opens(kc, pm) {
            return pm;
        }
        p = kc.menus[pm as usize].parent;
    }
    ROOT_MENU
}

/// Whether an entry opens a menu of its own (a menu, a menuconfig symbol, a choice).
pub fn opens(kc: &Kconfig, m: KMenuId) -> bool {
    let menu = &kc.menus[m as usize];
    if menu.sym.is_some_and(|s| kc.is_choice(s)) {
        return true;
    }
    menu.prompt
        .is_some_and(|p| kc.props[p as usize].kind == PropKind::Menu)
}

/// The configurator's id of a kernel menu, with its path for the title.
pub fn menu_id(kc: &Kconfig, m: KMenuId) -> MenuId {
    let mut path = String::from("Kernel > All options");
    let inner = kc.menu_path(m);
    if !inner.is_empty() {
        path.push_str(" > ");
        path.push_str(&inner);
    }
    if m != ROOT_MENU
        && let Some(t) = kc.menu_prompt(m)
    {
        path.push_str(" > ");
        path.push_str(t);
    }
    MenuId::KMenu(m, path)
}

/// Why an entry is invisible, in words (`needs BLOCK [=n]`), or `None` when it shows.
pub fn hidden_reason(kc: &mut Kconfig, m: KMenuId) -> Option<String> {
    if kc.menu_is_visible(m) {
        return None;
    }
    let menu = &kc.menus[m as usize];
    let (prompt, visibility) = (menu.prompt, menu.visibility);
    if let Some(v) = visibility
        && kc.expr_value(Some(v)) == Tri::N
    {
        return Some(format!("shows only if {}", kc.expr_text(Some(v), true)));
    }
    let Some(p) = prompt else {
        return Some("has no prompt".into());
    };
    let vis = kc.props[p as usize].visible;
    Some(format!("needs {}", kc.expr_text(vis, true)))
}

/// A symbol's marker as menuconfig draws it.
fn sym_marker(kc: &mut Kconfig, s: SymId) -> Marker {
    let v = kc.tri_value(s);
    let changeable = kc.is_changeable(s);
    let braced = kc.sym(s).ty == SymType::Tristate && kc.sym(s).rev_dep_tri == Tri::M;
    match (changeable, v) {
        (true, Tri::N) => Marker::Off,
        (true, _) if braced => Marker::Floor,
        (true, _) => Marker::On,
        (false, Tri::N) => Marker::Locked,
        (false, _) => Marker::Forced,
    }
}

fn kitem(m: KMenuId, marker: Marker, label: String) -> Item {
    Item {
        kind: ItemKind::KEntry(m),
        marker,
        label,
        detail: String::new(),
        value: None,
        untested: false,
    }
}

impl Tree {
    /// A tree with its search index.
    pub fn new(l: Loaded) -> Tree {
        let figures = l.sizes.map(|sizes| Figures {
            watch: crate::kconfig::sizes::watch_list(&l.kc, &sizes),
            deps: l.kc.dependents(),
            sizes,
        });
        let mut t = Tree {
            kc: l.kc,
            reference: l.reference,
            index: Index::default(),
            figures,
        };
        t.index = t.search_index();
        t
    }

    /// The kernel's per-option estimate in the tree's current state (`None` without
    /// figures for it, or for its base and compression).
    pub fn kernel_estimate(&mut self, plan: &Plan) -> Option<KernelEstimate> {
        let f = self.figures.as_ref()?;
        let kc = &mut self.kc;
        let requested_ids: Vec<SymId> = plan
            .kernel
            .requested()
            .iter()
            .filter_map(|(k, _)| kc.find(k.strip_prefix("CONFIG_").unwrap_or(k)))
            .collect();
        let mut on = std::collections::HashSet::new();
        for &s in f.watch.iter().chain(&requested_ids) {
            if kc.tri_value(s) != Tri::N {
                on.insert(kc.sym(s).name.clone());
            }
        }
        crate::kconfig::sizes::estimate_by(plan, &f.sizes, &|s| on.contains(s))
    }

    /// What switching `s` (a bool or tristate) would add or save, in words: `turning it
    /// on: +152 KiB (10 options)`, or why there is no figure. Empty without figures.
    pub fn size_line(&mut self, s: SymId) -> String {
        let Some(f) = &self.figures else {
            return String::new();
        };
        let kc = &mut self.kc;
        if !matches!(kc.sym_type(s), SymType::Bool | SymType::Tristate) {
            return String::new();
        }
        let on = kc.tri_value(s) == Tri::N;
        let d = crate::kconfig::sizes::sym_delta(kc, &f.sizes, &f.watch, &f.deps, s, on);
        let verb = if on {
            "turning it on"
        } else {
            "turning it off"
        };
        if d.changed.is_empty() {
            return format!("{verb}: no change it can make here");
        }
        if d.no_figure == d.changed.len() {
            return "no figure yet: counted as 0 (no measured build has objects of its own)"
                .to_string();
        }
        let unknown = if d.no_figure > 0 {
            format!(", {} without a figure", d.no_figure)
        } else {
            String::new()
        };
        format!(
            "{verb}: {} ({} option{}{unknown})",
            human_delta(d.bytes),
            d.changed.len(),
            if d.changed.len() == 1 { "" } else { "s" }
        )
    }

    /// The lines of kernel menu `menu`, as `mconf` lists them (`show_all`: invisible
    /// entries too, each with why).
    pub fn lines(&mut self, menu: KMenuId, show_all: bool) -> Vec<Item> {
        let mut out = Vec::new();
        let kc = &mut self.kc;
        if menu != ROOT_MENU && kc.menus[menu as usize].sym.is_some_and(|s| kc.is_choice(s)) {
            for c in kc.children(menu) {
                let visible = kc.menu_is_visible(c);
                if !visible && !show_all {
                    continue;
                }
                let hidden = if visible { None } else { hidden_reason(kc, c) };
                let Some(s) = kc.menus[c as usize].sym else {
                    continue;
                };
                let on = kc.tri_value(s) == Tri::Y;
                let label = kc.menu_prompt(c).unwrap_or("").to_string();
                let mut it = kitem(c, if on { Marker::Chosen } else { Marker::RadioOff }, label);
                it.detail = hidden.unwrap_or_default();
                out.push(it);
            }
            return out;
        }
        for c in kc.children(menu) {
            build(kc, c, 0, show_all, &mut out);
        }
        out
    }

    /// Every symbol that search can find, with its menu path.
    pub fn search_index(&self) -> Index {
        let kc = &self.kc;
        let mut entries = Vec::with_capacity(kc.syms.len());
        let mut haystacks = Vec::with_capacity(kc.syms.len());
        let mut extra = Vec::with_capacity(kc.syms.len());
        for (i, s) in kc.syms.iter().enumerate() {
            if i < 3 || s.name.is_empty() || s.menus.is_empty() || s.ty == SymType::Unknown {
                continue;
            }
            if s.flags & crate::kconfig::tree::flags::CONST != 0 {
                continue;
            }
            let m = s
                .menus
                .iter()
                .copied()
                .find(|m| kc.menus[*m as usize].prompt.is_some())
                .unwrap_or(s.menus[0]);
            let prompt = kc.menus[m as usize]
                .prompt
                .and_then(|p| kc.props[p as usize].text.as_deref())
                .unwrap_or("");
            let help = kc.menus[m as usize].help.as_deref().unwrap_or("");
            let parent = display_parent(kc, m);
            let inner = kc.menu_path(m);
            let location = if inner.is_empty() {
                "kernel: top level".to_string()
            } else {
                format!("kernel: {inner}")
            };
            let description = if prompt.is_empty() {
                "(no prompt: set by defaults and selects)".to_string()
            } else {
                prompt.to_string()
            };
            // Name and prompt fuzzily; the help's start as a plain substring (fuzzy matching
            // on whole help texts made every keystroke slow and matched everything).
            haystacks.push(format!("{} {}", s.name, prompt));
            let start: String = help.chars().take(HELP_MATCHED).collect();
            extra.push(start.replace('\n', " ").to_lowercase());
            entries.push(Entry {
                name: s.name.clone(),
                description,
                location,
                target: Some((menu_id(kc, parent), ItemKind::KEntry(m))),
            });
        }
        Index::with_haystacks(entries, haystacks, extra)
    }

    /// What the side panel says about entry `m`.
    pub fn focus(&mut self, m: KMenuId) -> Option<KernelFocus> {
        let kc = &mut self.kc;
        let s = kc.menus.get(m as usize)?.sym?;
        if kc.sym(s).name.is_empty() {
            return None;
        }
        let value = format!("= {} ({})", kc.value(s), kc.sym(s).ty.name());
        let note = if let Some(r) = hidden_reason(kc, m) {
            format!("unavailable: it {r}")
        } else if !kc.is_changeable(s) && kc.sym(s).rev_dep_tri != Tri::N {
            let sel = kc.sym(s).rev_dep;
            let mut by = Vec::new();
            for x in kc.or_terms(sel) {
                if kc.expr_value(Some(x)) != Tri::N
                    && let Some(src) = kc.term_source(x)
                {
                    by.push(kc.sym(src).name.clone());
                }
            }
            format!("forced on: selected by {}", by.join(", "))
        } else {
            String::new()
        };
        let name = format!("CONFIG_{}", kc.sym(s).name);
        // Hidden for a missing dependency or not, the figure counts what it needs.
        let size = self.size_line(s);
        Some(KernelFocus {
            name,
            value,
            note,
            size,
        })
    }

    /// Why `s` cannot take `want`, in words, or `None` when it can.
    pub fn refusal(&mut self, s: SymId, want: &str) -> Option<String> {
        let kc = &mut self.kc;
        let name = kc.sym(s).name.clone();
        let ty = kc.sym_type(s);
        let _ = kc.tri_value(s);
        if matches!(ty, SymType::Bool | SymType::Tristate) {
            let t = match want {
                "y" => Tri::Y,
                "m" => Tri::M,
                _ => Tri::N,
            };
            if kc.tristate_within_range(s, t) {
                return None;
            }
            if kc.sym(s).visible == Tri::N {
                let dep = kc.sym(s).dir_dep;
                let m = kc.sym(s).menus.first().copied();
                let why = match m.and_then(|m| hidden_reason(kc, m)) {
                    Some(r) => r,
                    None => format!("needs {}", kc.expr_text(dep, true)),
                };
                return Some(format!("CONFIG_{name} cannot be changed: it {why}"));
            }
            if t < kc.sym(s).rev_dep_tri {
                let sel = kc.sym(s).rev_dep;
                let mut by = Vec::new();
                for x in kc.or_terms(sel) {
                    if kc.expr_value(Some(x)) != Tri::N {
                        by.push(kc.expr_text(Some(x), true));
                    }
                }
                return Some(format!(
                    "CONFIG_{name} is selected by {}: it stays {}",
                    by.join(", "),
                    kc.sym(s).rev_dep_tri.as_str()
                ));
            }
            if t == Tri::M {
                return Some("modules are off in stali: y or n".into());
            }
            return Some(format!("CONFIG_{name} cannot be {want} here"));
        }
        if kc.string_within_range(s, want) {
            return None;
        }
        if !kc.string_valid(s, want) {
            return Some(format!("`{want}` is not a valid {}", ty.name()));
        }
        let range = kc.range_prop(s).and_then(|p| kc.range_bounds(p));
        match range {
            Some((lo, hi)) => Some(format!(
                "`{want}` is out of range {}..{}",
                kc.sym(lo).name,
                kc.sym(hi).name
            )),
            None => Some(format!("CONFIG_{name} cannot be `{want}` here")),
        }
    }

    /// Help about a kernel entry, like menuconfig's: title, help text, then the facts.
    pub fn help(&mut self, m: KMenuId) -> KernelHelp {
        let kc = &mut self.kc;
        let prompt = kc.menu_prompt(m).unwrap_or("").to_string();
        let sym = kc.menus[m as usize].sym;
        let help = reflow(kc.menus[m as usize].help.as_deref().unwrap_or(""));
        let mut status = String::new();
        let mut facts: Vec<(String, String)> = Vec::new();
        let at = format!(
            "{}:{}",
            kc.file_name(kc.menus[m as usize].file),
            kc.menus[m as usize].line
        );
        let mut path = kc.menu_path(m);
        if path.is_empty() {
            path = "(top level)".into();
        }
        let mut why = String::new();
        let title = match sym {
            Some(s) if !kc.sym(s).name.is_empty() => {
                let name = kc.sym(s).name.clone();
                let value = kc.value(s);
                facts.push(("Symbol".into(), format!("CONFIG_{name}")));
                facts.push(("Type".into(), kc.sym(s).ty.name().to_string()));
                facts.push(("Value".into(), value));
                let dep = kc.sym(s).dir_dep;
                if dep.is_some() {
                    let v = kc.expr_value(dep);
                    let t = kc.expr_text(dep, true);
                    facts.push(("Depends on".into(), format!("{t} (= {})", v.as_str())));
                }
                if let Some(r) = hidden_reason(kc, m) {
                    status = format!("Unavailable here: it {r}");
                } else if !kc.is_changeable(s) && kc.sym(s).rev_dep_tri != Tri::N {
                    status = "Forced on by a select (see Selected by)".into();
                } else if !kc.is_changeable(s) {
                    status = "Cannot be changed here".into();
                }
                for (label, e) in [
                    ("Selected by", kc.sym(s).rev_dep),
                    ("Implied by", kc.sym(s).implied),
                ] {
                    for term in kc.or_terms(e) {
                        if kc.term_source(term).is_some_and(|x| kc.is_choice(x)) {
                            continue;
                        }
                        let v = kc.expr_value(Some(term));
                        let t = kc.expr_text(Some(term), true);
                        facts.push((label.into(), format!("{t} (= {})", v.as_str())));
                    }
                }
                for p in kc.sym(s).props.clone() {
                    let label = match kc.props[p as usize].kind {
                        PropKind::Select => "Selects",
                        PropKind::Imply => "Implies",
                        _ => continue,
                    };
                    let target = match kc.props[p as usize].expr.map(|e| kc.exprs[e as usize]) {
                        Some(Expr::Sym(t)) => kc.sym(t).name.clone(),
                        _ => continue,
                    };
                    let cond = kc.props[p as usize].visible;
                    let text = match cond {
                        Some(_) => format!("{target} if {}", kc.expr_text(cond, true)),
                        None => target,
                    };
                    facts.push((label.into(), text));
                }
                why = kc.why(s);
                if let Some(f) = &self.figures {
                    facts.push(("Size".into(), f.sizes.help_line(&name)));
                }
                format!("CONFIG_{name}: {prompt}")
            }
            _ => prompt.clone(),
        };
        facts.push(("Defined at".into(), at));
        facts.push(("Location".into(), format!("Kernel > All options > {path}")));
        if let Some(s) = sym {
            let line = self.size_line(s);
            if !line.is_empty() {
                facts.push(("In the image".into(), line));
            }
        }
        KernelHelp {
            entry: m,
            title,
            status,
            facts,
            help,
            why,
        }
    }
}

/// `menu_is_empty`: no visible entry inside (menuconfig then draws `----`, not `--->`).
fn menu_is_empty(kc: &mut Kconfig, m: KMenuId) -> bool {
    !kc.children(m).into_iter().any(|c| kc.menu_is_visible(c))
}

/// One entry (and what it shows indented below it), after `mconf.c`'s `build_conf`.
fn build(kc: &mut Kconfig, m: KMenuId, indent: usize, show_all: bool, out: &mut Vec<Item>) {
    // The reason (in words, with values) only for what is shown: computing it for every
    // hidden entry evaluated their dependencies after each change.
    let visible = kc.menu_is_visible(m);
    if !visible && !show_all {
        return;
    }
    let hidden = if visible { None } else { hidden_reason(kc, m) };
    let pad = " ".repeat(indent);
    let detail = hidden.clone().unwrap_or_default();
    let menu = &kc.menus[m as usize];
    let (sym, prompt) = (menu.sym, menu.prompt);
    let Some(s) = sym else {
        // A menu, a comment, or an `if` block (no prompt: its entries show here).
        if let Some(p) = prompt {
            let text = kc.props[p as usize].text.clone().unwrap_or_default();
            match kc.props[p as usize].kind {
                PropKind::Menu => {
                    let empty = menu_is_empty(kc, m);
                    let mut it = kitem(
                        m,
                        Marker::Blank,
                        format!("{pad}{text}  {}", if empty { "----" } else { "--->" }),
                    );
                    it.detail = detail;
                    out.push(it);
                    return;
                }
                PropKind::Comment => {
                    let mut it = kitem(m, Marker::Blank, format!("{pad}*** {text} ***"));
                    it.detail = detail;
                    out.push(it);
                }
                _ => {}
            }
        }
        for c in kc.children(m) {
            build(kc, c, indent, show_all, out);
        }
        return;
    };
    let label = kc.menu_prompt(m).unwrap_or("").to_string();
    if kc.is_choice(s) {
        let chosen = kc.children(m).into_iter().find(|c| {
            kc.menus[*c as usize]
                .sym
                .is_some_and(|v| kc.tri_value(v) == Tri::Y)
        });
        let marker = if kc.is_changeable(s) {
            sym_marker(kc, s)
        } else {
            Marker::Blank
        };
        let what = chosen
            .and_then(|c| kc.menu_prompt(c))
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        let mut it = kitem(m, marker, format!("{pad}{label}{what}  --->"));
        it.detail = detail;
        out.push(it);
        return;
    }
    let ty = kc.sym_type(s);
    let mut it = match ty {
        SymType::Bool | SymType::Tristate => kitem(m, sym_marker(kc, s), format!("{pad}{label}")),
        _ => {
            let mut it = kitem(m, Marker::Blank, format!("{pad}{label}"));
            it.value = Some(kc.value(s));
            it
        }
    };
    it.detail = detail;
    let is_menu = prompt.is_some_and(|p| kc.props[p as usize].kind == PropKind::Menu);
    if is_menu {
        let empty = menu_is_empty(kc, m);
        it.label.push_str(if empty { "  ----" } else { "  --->" });
        out.push(it);
        return;
    }
    out.push(it);
    for c in kc.children(m) {
        build(kc, c, indent + 2, show_all, out);
    }
}
