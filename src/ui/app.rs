//! The configurator's state and key handling. Nothing here touches the terminal: `App::handle`
//! takes a key and returns an [`Effect`]; `super::draw::draw` paints an `&App`.

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::{self, Action, Binding};
use super::kernel::{Kernel, KernelFocus, KernelHelp, Loader, Notify, menu_id, opens};
use super::menu::{Field, Item, ItemKind, Marker, MenuId, items};
use super::prompt::{Prompt, PromptKind, PromptOutcome};
use super::save;
use super::search::{Index, Search};
use super::theme::Look;
use crate::model::diff::{Change, diff};
use crate::model::estimate::estimate_with;
use crate::model::plan::EXCLUSIVE;
use crate::model::profile::{BUDGET_HELP, parse_size};
use crate::model::{Catalog, Estimate, KernelSource, Plan, Profile, estimate, resolve};

/// What the terminal loop should do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Keep going (redraw).
    None,
    /// Leave the configurator.
    Quit,
}

/// How a message reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Plain information.
    Info,
    /// Something worked (saved).
    Ok,
    /// A warning from the model.
    Warn,
    /// A refusal or error.
    Error,
}

/// The message line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its tone.
    pub level: Level,
    /// Its text.
    pub text: String,
}

/// A screen on the navigation stack.
#[derive(Debug, Clone, PartialEq)]
pub enum View {
    /// A menu with its highlighted line.
    Menu {
        /// Which menu.
        id: MenuId,
        /// Highlighted line.
        cursor: usize,
    },
    /// The search results (the search itself is `App::search`).
    Search,
    /// Help about an item.
    Help {
        /// The item (`None`: the menu itself).
        subject: Option<ItemKind>,
        /// Lines scrolled.
        scroll: u16,
    },
    /// Changes since the last save.
    Diff {
        /// The changes.
        changes: Vec<Change>,
        /// Lines scrolled.
        scroll: u16,
    },
}

/// A question waiting for y/n.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// Quit with unsaved changes?
    Quit,
    /// Recover the changes kept in this file?
    Recover {
        /// The recovery file.
        path: PathBuf,
        /// When it was written, in words (`4 minutes ago`).
        age: String,
        /// What it changes, one line each.
        changes: Vec<String>,
    },
    /// Discard unsaved changes to open another profile?
    Open,
    /// Overwrite this existing file?
    Overwrite(PathBuf),
}

impl Confirm {
    /// The question.
    pub fn question(&self) -> String {
        match self {
            Confirm::Quit => "There are unsaved changes. Quit without saving?".into(),
            Confirm::Recover { path, age, changes } => {
                let mut q = format!(
                    "Unsaved changes from {age} were kept in {}:",
                    path.display()
                );
                for c in changes {
                    q.push_str(&format!("\n  {c}"));
                }
                q.push_str("\nRecover them?");
                q
            }
            Confirm::Open => {
                "There are unsaved changes. Discard them and open another profile?".into()
            }
            Confirm::Overwrite(p) => format!("{} exists. Overwrite it?", p.display()),
        }
    }

    /// The answers, for the key-hint line.
    pub fn answers(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Confirm::Quit => &[("y", "quit"), ("s", "save and quit"), ("n", "stay")],
            Confirm::Recover { .. } => &[("y", "recover"), ("n", "discard them")],
            Confirm::Open => &[("y", "discard"), ("n", "keep editing")],
            Confirm::Overwrite(_) => &[("y", "overwrite"), ("n", "cancel")],
        }
    }
}

/// A dialog over the current screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    /// A one-line text prompt.
    Prompt(Prompt),
    /// A yes/no question.
    Confirm(Confirm),
}

/// What the highlighted item would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    /// Nothing to say (a submenu, a text field).
    None,
    /// This is already the choice.
    Current,
    /// The size change and the new total.
    Bytes {
        /// Signed change in bytes.
        delta: i64,
        /// Estimated total afterwards.
        total: u64,
    },
    /// The change would be refused, and why.
    Refused(String),
}

/// The configurator's whole state.
#[derive(Debug)]
pub struct App {
    /// Tools, hardware, fragments, themes.
    pub catalog: Catalog,
    /// Colours and glyphs.
    pub look: Look,
    /// The profile being edited.
    pub profile: Profile,
    /// Its resolution.
    pub plan: Plan,
    /// Its size estimate.
    pub estimate: Estimate,
    /// The profile as last saved (or as started from).
    pub saved: Profile,
    /// Text of the saved file (or of the embedded default), whose comments a save keeps.
    pub saved_text: Option<String>,
    /// Earlier profiles, for undo.
    pub undo: Vec<Profile>,
    /// Undone profiles, for redo.
    pub redo: Vec<Profile>,
    /// Navigation stack; never empty, the main menu at the bottom.
    pub stack: Vec<View>,
    /// Lines of the menu on top of the stack (cached).
    pub items: Vec<Item>,
    /// What the highlighted item would change.
    pub delta: Delta,
    /// The message line.
    pub message: Option<Message>,
    /// A dialog, if one is open.
    pub modal: Option<Modal>,
    /// The search, kept while its results are on the stack.
    pub search: Option<Search>,
    /// The terminal's width and height.
    pub size: (u16, u16),
    /// The kernel's own menu tree (Kernel > All options).
    pub kernel: Kernel,
    /// Help about the kernel entry on a help screen: title, facts, help text, why.
    pub kernel_help: Option<KernelHelp>,
    /// What the side panel says about the highlighted kernel entry.
    pub kernel_focus: Option<KernelFocus>,
    quit_after_save: bool,
}

/// Smallest terminal width drawn normally.
pub const MIN_W: u16 = 80;
/// Smallest terminal height drawn normally.
pub const MIN_H: u16 = 24;

/// A duration in words, as an age: `a few seconds ago`, `4 minutes ago`, `2 days ago`.
pub fn ago(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s < 10 {
        return "a few seconds ago".into();
    }
    let (n, unit) = match s {
        0..60 => (s, "second"),
        60..3600 => (s / 60, "minute"),
        3600..86400 => (s / 3600, "hour"),
        _ => (s / 86400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

fn content_eq(a: &Profile, b: &Profile) -> bool {
    let strip = |p: &Profile| {
        let mut p = p.clone();
        p.locations.clear();
        p.file = None;
        p
    };
    strip(a) == strip(b)
}

/// What going from profile `from` to `to` changes, in the diff's words (the size line last,
/// left out when the size does not change).
fn changes_between(catalog: &Catalog, from: &Profile, to: &Profile) -> Vec<String> {
    let plans = resolve(from, catalog).and_then(|a| Ok((a, resolve(to, catalog)?)));
    match plans {
        Ok((a, b)) => {
            let (ea, eb) = (estimate(&a, catalog), estimate(&b, catalog));
            diff(&a, &ea, &b, &eb)
                .into_iter()
                .filter(|c| c.area != "size" || ea.total_bytes != eb.total_bytes)
                .map(|c| c.text)
                .collect()
        }
        Err(e) => vec![format!("(it does not resolve: {})", first_error(&e))],
    }
}

fn first_error(e: &crate::model::Invalid) -> String {
    e.0.iter()
        .find(|d| d.is_error())
        .or(e.0.first())
        .map(|d| d.message.clone())
        .unwrap_or_else(|| "invalid".into())
}

fn ctrl(key: &KeyEvent, c: char) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char(c)
}

impl App {
    /// A configurator on `profile`; `saved_text` is the text it was read from (its comments
    /// survive saving). Fails when the profile does not resolve against the catalog.
    pub fn new(
        profile: Profile,
        saved_text: Option<String>,
        catalog: Catalog,
        look: Look,
    ) -> Result<App, crate::model::Invalid> {
        let plan = resolve(&profile, &catalog)?;
        let est = estimate(&plan, &catalog);
        let mut app = App {
            catalog,
            look,
            saved: profile.clone(),
            profile,
            plan,
            estimate: est,
            saved_text,
            undo: Vec::new(),
            redo: Vec::new(),
            stack: vec![View::Menu {
                id: MenuId::Main,
                cursor: 0,
            }],
            items: Vec::new(),
            delta: Delta::None,
            message: None,
            modal: None,
            search: None,
            size: (MIN_W, MIN_H),
            kernel: Kernel::default(),
            kernel_help: None,
            kernel_focus: None,
            quit_after_save: false,
        };
        if let Some(w) = app.catalog.warnings.first() {
            app.message = Some(Message {
                level: Level::Warn,
                text: w.message.clone(),
            });
        }
        app.refresh();
        Ok(app)
    }

    /// Shows the kernel's own tree, loaded by `loader` in the background (`notify` wakes
    /// the terminal loop when it is ready).
    pub fn set_kernel_loader(&mut self, loader: Loader, notify: Option<Notify>) {
        self.kernel.set_loader(loader, notify);
        self.refresh();
    }

    /// Waits until the kernel tree has loaded (or failed), for tests and benchmarks.
    pub fn wait_kernel(&mut self) {
        self.kernel.wait();
        self.refresh();
    }

    /// Whether the profile differs from the saved one.
    pub fn dirty(&self) -> bool {
        !content_eq(&self.profile, &self.saved)
    }

    /// Asks whether to recover the unsaved changes kept in `path`, saying what they change
    /// and how old they are.
    pub fn offer_recovery(&mut self, path: PathBuf) {
        let age = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .map(ago)
            .unwrap_or_else(|| "an earlier session".into());
        let changes = match self.load_recovery(&path) {
            Ok(p) => {
                let mut c = self.changes_to(&p);
                if c.len() > 6 {
                    let more = c.len() - 5;
                    c.truncate(5);
                    c.push(format!("and {more} more"));
                }
                c
            }
            Err(e) => vec![format!("(it cannot be read: {})", first_error(&e))],
        };
        self.modal = Some(Modal::Confirm(Confirm::Recover { path, age, changes }));
    }

    /// What going from the current profile to `to` changes, in words (the size line last).
    fn changes_to(&self, to: &Profile) -> Vec<String> {
        changes_between(&self.catalog, &self.profile, to)
    }

    /// Whether the terminal is too small to draw the configurator.
    pub fn too_small(&self) -> bool {
        self.size.0 < MIN_W || self.size.1 < MIN_H
    }

    /// The terminal's size changed (or is first known).
    pub fn resize(&mut self, width: u16, height: u16) {
        self.size = (width, height);
        self.clamp_scroll();
    }

    /// The screen on top of the stack.
    pub fn view(&self) -> &View {
        // The stack is never empty: `back` keeps the main menu.
        self.stack.last().unwrap_or(&View::Search)
    }

    /// The highlighted menu line, when a menu is showing.
    pub fn current_item(&self) -> Option<&Item> {
        match self.view() {
            View::Menu { cursor, .. } => self.items.get(*cursor),
            _ => None,
        }
    }

    /// The item the size panel talks about: the highlighted line, search result or help subject.
    pub fn focused(&self) -> Option<ItemKind> {
        match self.view() {
            View::Menu { .. } => self.current_item().map(|i| i.kind.clone()),
            View::Search => self
                .search
                .as_ref()?
                .current()?
                .target
                .as_ref()
                .map(|t| t.1.clone()),
            View::Help { subject, .. } => subject.clone(),
            View::Diff { .. } => None,
        }
    }

    /// Rebuilds cached lines and the delta after any change.
    pub fn refresh(&mut self) {
        self.kernel.poll();
        self.kernel.sync(&self.plan);
        if let Some(View::Menu { id, .. }) = self.stack.last() {
            let id = id.clone();
            self.items = self.menu_lines(&id);
            // While the kernel tree reloads its menus show one line: the cursor stays.
            let waiting = matches!(self.items.as_slice(), [i] if i.kind == ItemKind::Note);
            if let Some(View::Menu { cursor, .. }) = self.stack.last_mut()
                && *cursor >= self.items.len()
                && !waiting
            {
                *cursor = self.items.len().saturating_sub(1);
            }
        }
        self.kernel_help = match self.stack.last() {
            Some(View::Help {
                subject: Some(ItemKind::KEntry(m)),
                ..
            }) => {
                let m = *m;
                self.kernel
                    .tree()
                    .filter(|t| (m as usize) < t.kc.menus.len())
                    .map(|t| t.help(m))
            }
            _ => None,
        };
        self.delta = match self.focused() {
            Some(k) => self.delta_of(&k),
            None => Delta::None,
        };
        self.kernel_focus = match self.focused() {
            Some(ItemKind::KEntry(m)) => self.kernel.tree().and_then(|t| t.focus(m)),
            _ => None,
        };
        // With the kernel tree loaded and measured, the kernel is estimated from its
        // options' figures (the tree is in the profile's state); else from the fragments.
        if self.kernel.matches(&self.plan) {
            let plan = &self.plan;
            let k = self.kernel.tree().and_then(|t| t.kernel_estimate(plan));
            if k.is_some() {
                self.estimate = estimate_with(&self.plan, &self.catalog, k.as_ref());
            }
        }
    }

    /// The lines of a menu: the catalog's, or the kernel tree's.
    pub fn menu_lines(&mut self, id: &MenuId) -> Vec<Item> {
        let status = self.kernel.status();
        match id {
            MenuId::KMenu(m, _) => {
                let show_all = self.kernel.show_all;
                match self.kernel.tree() {
                    Some(t) if (*m as usize) < t.kc.menus.len() => t.lines(*m, show_all),
                    Some(_) => vec![note("this menu is not in the kernel tree now")],
                    None => vec![note(&status.unwrap_or_default())],
                }
            }
            _ => {
                let mut v = items(id, &self.profile, &self.plan, &self.catalog);
                if let Some(st) = status
                    && let Some(it) = v
                        .iter_mut()
                        .find(|i| matches!(i.kind, ItemKind::Submenu(MenuId::KMenu(..))))
                {
                    let short = if matches!(self.kernel.state, super::kernel::State::Loading) {
                        "loading...".to_string()
                    } else {
                        "not available".to_string()
                    };
                    it.label = format!("All options ({short})");
                    it.detail = st;
                }
                v
            }
        }
    }

    /// Sets kernel option `m`'s symbol to `want` through the engine (which refuses what
    /// the kernel's constraints refuse), and writes `[kernel.options]`: a line only where
    /// the value differs from what the base and fragments give.
    pub fn kernel_set(&mut self, m: u32, want: &str) -> Result<(), String> {
        let Some(t) = self.kernel.tree() else {
            return Err("the kernel tree is not loaded yet".into());
        };
        let Some(s) = t.kc.menus.get(m as usize).and_then(|x| x.sym) else {
            return Ok(());
        };
        if let Some(why) = t.refusal(s, want) {
            return Err(why);
        }
        let name = t.kc.sym(s).name.clone();
        let mut touched = vec![s];
        if let Some(c) = t.kc.sym(s).choice {
            touched.extend(t.kc.sym(c).choice_values.clone());
        }
        if !t.kc.set_value(s, want) {
            return Err(format!("CONFIG_{name} cannot be {want} here"));
        }
        let mut p = self.profile.clone();
        let mut also = Vec::new();
        for x in &touched {
            let v = t.kc.value(*x);
            let r = t.reference.get(*x as usize).cloned().unwrap_or_default();
            let n = format!("CONFIG_{}", t.kc.sym(*x).name);
            if *x != s && v == "n" {
                // The other values of a choice: the chosen one's line says it all.
                p.kernel.options.retain(|(k, _)| *k != n);
            } else {
                set_line(&mut p, &n, &v, &r);
            }
        }
        // Lines whose value no longer holds follow the engine, so that what is saved sticks.
        for (k, v) in self.profile.kernel.options.clone() {
            let Some(x) = t.kc.find(&k) else { continue };
            if touched.contains(&x) {
                continue;
            }
            let now = t.kc.value(x);
            if now != v.trim_matches('"') {
                let r = t.reference.get(x as usize).cloned().unwrap_or_default();
                set_line(&mut p, &k, &now, &r);
                also.push(format!("{k} = {now}"));
            }
        }
        let v = t.kc.value(s);
        let mut note = format!("CONFIG_{name} = {v}");
        if !also.is_empty() {
            note.push_str(&format!("; also {}", also.join(", ")));
        }
        let r = self.apply(p, Some(note));
        if r.is_ok() {
            self.kernel.adopt(&self.plan);
        } else {
            // The engine moved but the profile did not: load the profile's state again.
            self.kernel.reload();
        }
        r
    }

    fn delta_of(&self, kind: &ItemKind) -> Delta {
        let current = match kind {
            ItemKind::Hardware(h) => *h == self.profile.hardware,
            ItemKind::Base(b) => *b == self.profile.kernel.base,
            ItemKind::Boot(b) => *b == self.profile.image.boot,
            ItemKind::Compression(c) => *c == self.profile.image.compression,
            ItemKind::Tool(_) | ItemKind::Fragment(_) => false,
            _ => return Delta::None,
        };
        if current {
            return Delta::Current;
        }
        match self.change_for(kind) {
            None => Delta::None,
            Some(Err(why)) => Delta::Refused(why),
            Some(Ok((p, _))) => match resolve(&p, &self.catalog) {
                Ok(plan) => {
                    // Both sides by the same model (the fragments' deltas), added to the
                    // total shown (which may come from per-option figures).
                    let delta = estimate(&plan, &self.catalog).total_bytes as i64
                        - estimate(&self.plan, &self.catalog).total_bytes as i64;
                    let total = (self.estimate.total_bytes as i64 + delta).max(0) as u64;
                    Delta::Bytes { delta, total }
                }
                Err(e) => Delta::Refused(first_error(&e)),
            },
        }
    }

    /// The profile after Space on `kind`, with a note on side effects, or why it is refused.
    pub fn change_for(&self, kind: &ItemKind) -> Option<Result<(Profile, Option<String>), String>> {
        let mut p = self.profile.clone();
        let mut note = None;
        match kind {
            ItemKind::Tool(name) => {
                let selected = p.select.iter().any(|s| s == name);
                if let Some(t) = self.plan.tool(name).filter(|t| !t.required_by.is_empty())
                    && (selected || !t.selected)
                {
                    let verb = if selected {
                        "keep it"
                    } else {
                        "it is pulled in"
                    };
                    return Some(Err(format!(
                        "{name} is needed by {} ({verb})",
                        t.required_by.join(", ")
                    )));
                }
                if selected {
                    p.select.retain(|s| s != name);
                } else {
                    let all = super::menu::universe(&p, &self.catalog);
                    let Some(def) = all.iter().find(|t| &t.name == name) else {
                        return Some(Err(format!("unknown tool {name}")));
                    };
                    let mut replaced = Vec::new();
                    for other in &all {
                        if other.name == *name || !p.select.contains(&other.name) {
                            continue;
                        }
                        let shared = EXCLUSIVE.iter().find(|cap| {
                            def.provides.iter().any(|x| x == *cap)
                                && other.provides.iter().any(|x| x == *cap)
                        });
                        let conflict =
                            def.conflicts.contains(&other.name) || other.conflicts.contains(name);
                        if let Some(cap) = shared {
                            replaced.push(format!("{} (both provide {cap})", other.name));
                        } else if conflict {
                            replaced.push(format!("{} (they conflict)", other.name));
                        } else {
                            continue;
                        }
                    }
                    p.select.retain(|s| {
                        !replaced
                            .iter()
                            .any(|r| r.split(' ').next() == Some(s.as_str()))
                    });
                    p.select.push(name.clone());
                    if !replaced.is_empty() {
                        note = Some(format!("{name} replaces {}", replaced.join(", ")));
                    }
                }
            }
            ItemKind::Fragment(name) => {
                if p.kernel.fragments.iter().any(|f| f == name) {
                    p.kernel.fragments.retain(|f| f != name);
                    if let Some(f) = self
                        .plan
                        .kernel
                        .fragments
                        .iter()
                        .find(|f| &f.fragment.name == name)
                        .filter(|f| f.reason != "profile")
                    {
                        note = Some(format!("{name} stays in the kernel: {}", f.reason));
                    }
                } else if let Some(f) = self
                    .plan
                    .kernel
                    .fragments
                    .iter()
                    .find(|f| &f.fragment.name == name)
                {
                    let why = match f.reason.as_str() {
                        "hardware" => format!("needed by the hardware {}", self.profile.hardware),
                        r => r.to_string(),
                    };
                    return Some(Err(format!("{name} is {why}")));
                } else {
                    p.kernel.fragments.push(name.clone());
                }
            }
            ItemKind::Hardware(h) => note = p.retarget(h, &self.catalog),
            ItemKind::Base(b) => p.kernel.base = b.clone(),
            ItemKind::Boot(b) => p.image.boot = *b,
            ItemKind::Compression(c) => p.image.compression = *c,
            _ => return None,
        }
        Some(Ok((p, note)))
    }

    /// Replaces the profile if it resolves, remembering the old one for undo.
    pub fn apply(&mut self, p: Profile, note: Option<String>) -> Result<(), String> {
        let plan = resolve(&p, &self.catalog).map_err(|e| first_error(&e))?;
        let est = estimate(&plan, &self.catalog);
        let old_plan = std::mem::replace(&mut self.plan, plan);
        let old = std::mem::replace(&mut self.profile, p);
        self.estimate = est;
        self.undo.push(old);
        if self.undo.len() > 1000 {
            self.undo.remove(0);
        }
        self.redo.clear();
        let pulled: Vec<&str> = self
            .plan
            .tools
            .iter()
            .filter(|t| !t.selected && old_plan.tool(&t.def.name).is_none())
            .map(|t| t.def.name.as_str())
            .collect();
        let new_warning = self
            .plan
            .warnings
            .iter()
            .find(|w| !old_plan.warnings.iter().any(|o| o.message == w.message))
            .map(|w| w.message.clone());
        self.message = if let Some(n) = note {
            Some(Message {
                level: Level::Info,
                text: n,
            })
        } else if !pulled.is_empty() {
            Some(Message {
                level: Level::Info,
                text: format!("also pulled in: {}", pulled.join(", ")),
            })
        } else {
            new_warning.map(|text| Message {
                level: Level::Warn,
                text,
            })
        };
        Ok(())
    }

    fn set_message(&mut self, level: Level, text: impl Into<String>) {
        self.message = Some(Message {
            level,
            text: text.into(),
        });
    }

    fn restore(&mut self, p: Profile) {
        // Snapshots on the undo stack resolved once; if the catalog changed they may not now.
        match resolve(&p, &self.catalog) {
            Ok(plan) => {
                self.estimate = estimate(&plan, &self.catalog);
                self.plan = plan;
                self.profile = p;
            }
            Err(e) => self.set_message(Level::Error, first_error(&e)),
        }
    }

    /// Handles one key.
    pub fn handle(&mut self, key: KeyEvent) -> Effect {
        if key.kind == KeyEventKind::Release {
            return Effect::None;
        }
        if self.too_small() {
            // Nothing is visible: only quitting (and answering its question) acts.
            let quit =
                action::find(&[action::GLOBAL], &key).map(|b| b.action) == Some(Action::Quit);
            let effect = match &self.modal {
                Some(Modal::Confirm(Confirm::Quit)) => self.handle_modal(key),
                _ if quit => self.quit(),
                _ => Effect::None,
            };
            self.refresh();
            return effect;
        }
        let effect = if self.modal.is_some() {
            self.handle_modal(key)
        } else {
            self.message = None;
            match action::find(self.tables(), &key) {
                Some(b) => self.perform(b.action),
                None => {
                    self.type_in_query(&key);
                    Effect::None
                }
            }
        };
        self.refresh();
        effect
    }

    /// The key tables of the screen showing; the first binding of a key wins.
    pub fn tables(&self) -> &'static [&'static [Binding]] {
        match (&self.modal, self.view()) {
            (Some(Modal::Prompt(_)), _) => &[action::PROMPT],
            (Some(Modal::Confirm(_)), _) => &[],
            (None, View::Menu { .. }) => &[action::MENU, action::GLOBAL],
            (None, View::Search) if self.search.as_ref().is_some_and(|s| s.typing) => {
                &[action::QUERY]
            }
            (None, View::Search) => &[action::RESULTS, action::GLOBAL],
            (None, View::Help { .. }) => &[action::TEXT, action::HELP, action::GLOBAL],
            (None, View::Diff { .. }) => &[action::TEXT, action::DIFF, action::GLOBAL],
        }
    }

    /// The key hints for the current screen, most important first: made from the same
    /// tables the keys are looked up in, keeping what applies to the highlighted line.
    pub fn hints(&self) -> Vec<(&'static str, &'static str)> {
        if let Some(Modal::Confirm(c)) = &self.modal {
            return c.answers().to_vec();
        }
        let mut out: Vec<(&'static str, &'static str)> = Vec::new();
        for b in self.tables().iter().flat_map(|t| t.iter()) {
            if let Some(h) = b.hint.and_then(|h| self.offered(b.action, h))
                && !out.iter().any(|(k, _)| *k == h.0)
            {
                out.push(h);
            }
        }
        out
    }

    /// How the hint bar offers `action` here, or `None` when it does not apply.
    fn offered(
        &self,
        action: Action,
        hint: (&'static str, &'static str),
    ) -> Option<(&'static str, &'static str)> {
        let item = self.current_item();
        let in_options = matches!(
            self.view(),
            View::Menu {
                id: MenuId::Options,
                ..
            }
        );
        match action {
            Action::Activate => match item.map(|i| (&i.kind, i.marker)) {
                Some((ItemKind::Note, _)) => None,
                Some((ItemKind::KEntry(_), m)) => {
                    let it = item?;
                    if it.label.ends_with("--->") || it.label.ends_with("----") {
                        Some(("Enter", "open"))
                    } else if it.value.is_some() {
                        Some(("Enter", "edit"))
                    } else if matches!(m, Marker::On | Marker::Off | Marker::Floor) {
                        Some(("Space", "toggle"))
                    } else if m == Marker::RadioOff {
                        Some(("Space", "choose"))
                    } else {
                        None
                    }
                }
                Some((ItemKind::Submenu(_), _)) => Some(("Enter", "open")),
                Some((ItemKind::Field(_) | ItemKind::KOption(_), _)) => Some(("Enter", "edit")),
                Some((ItemKind::AddOption, _)) => Some(("Enter", "add")),
                Some((_, Marker::RadioOff)) => Some(("Space", "choose")),
                Some((_, Marker::RadioOn)) | None => None,
                Some(_) => Some(("Space", "toggle")),
            },
            Action::RemoveOption => {
                matches!(item.map(|i| &i.kind), Some(ItemKind::KOption(_))).then_some(hint)
            }
            Action::AddOption => (in_options
                && !matches!(item.map(|i| &i.kind), Some(ItemKind::AddOption)))
            .then_some(hint),
            Action::Back if matches!(self.view(), View::Menu { .. }) => {
                (self.stack.len() > 1).then_some(hint)
            }
            Action::Keys => matches!(
                self.view(),
                View::Help {
                    subject: Some(_),
                    ..
                }
            )
            .then_some(hint),
            Action::ShowAll => matches!(
                self.view(),
                View::Menu {
                    id: MenuId::KMenu(..),
                    ..
                }
            )
            .then_some(hint),
            Action::Undo => (!self.undo.is_empty()).then_some(hint),
            Action::Redo => (!self.redo.is_empty()).then_some(hint),
            _ => Some(hint),
        }
    }

    /// Does what `action` means on the screen showing.
    fn perform(&mut self, action: Action) -> Effect {
        let view = self.view().clone();
        match action {
            Action::Down => self.step(1),
            Action::Up => self.step(-1),
            Action::PageDown => self.step(10),
            Action::PageUp => self.step(-10),
            Action::First => self.step(i64::MIN),
            Action::Last => self.step(i64::MAX),
            Action::Back => self.back(),
            Action::Open => {
                if let Some(ItemKind::Submenu(m)) = self.current_item().map(|i| i.kind.clone()) {
                    self.push(View::Menu { id: m, cursor: 0 });
                }
            }
            Action::Activate => self.activate(),
            Action::Toggle => match self.current_item().map(|i| (i.kind.clone(), i.marker)) {
                Some((ItemKind::KEntry(m), marker)) => self.kernel_toggle(m, marker),
                _ => self.activate(),
            },
            Action::ShowAll => {
                if matches!(
                    view,
                    View::Menu {
                        id: MenuId::KMenu(..),
                        ..
                    }
                ) {
                    self.kernel.show_all = !self.kernel.show_all;
                    self.set_message(
                        Level::Info,
                        if self.kernel.show_all {
                            "showing hidden options, each with why (z hides them)"
                        } else {
                            "hidden options are not shown (z shows them)"
                        },
                    );
                }
            }
            Action::Set | Action::Unset
                if matches!(
                    self.current_item().map(|i| &i.kind),
                    Some(ItemKind::KEntry(_))
                ) =>
            {
                if let Some(ItemKind::KEntry(m)) = self.current_item().map(|i| i.kind.clone())
                    && let Err(e) =
                        self.kernel_set(m, if action == Action::Set { "y" } else { "n" })
                {
                    self.set_message(Level::Error, e);
                }
            }
            Action::Set | Action::Unset => {
                let on = matches!(
                    self.current_item().map(|i| i.marker),
                    Some(Marker::On | Marker::Forced)
                );
                let off = matches!(
                    self.current_item().map(|i| i.marker),
                    Some(Marker::Off | Marker::RadioOff)
                );
                if (action == Action::Set && off) || (action == Action::Unset && on) {
                    self.activate();
                }
            }
            Action::RemoveOption => {
                if let Some(ItemKind::KOption(name)) = self.current_item().map(|i| i.kind.clone()) {
                    let mut p = self.profile.clone();
                    p.kernel.options.retain(|(k, _)| *k != name);
                    if let Err(e) = self.apply(p, Some(format!("removed {name}"))) {
                        self.set_message(Level::Error, e);
                    }
                }
            }
            Action::AddOption => {
                if matches!(
                    view,
                    View::Menu {
                        id: MenuId::Options,
                        ..
                    }
                ) {
                    self.modal = Some(Modal::Prompt(Prompt::new(PromptKind::NewOption, "CONFIG_")));
                }
            }
            Action::Search => self.open_search(),
            Action::Help => {
                let subject = self.focused();
                self.push(View::Help { subject, scroll: 0 });
            }
            Action::Save => self.save(),
            Action::SaveAs => self.save_as_prompt(),
            Action::OpenProfile => {
                if self.dirty() {
                    self.modal = Some(Modal::Confirm(Confirm::Open));
                } else {
                    self.open_prompt();
                }
            }
            Action::Undo => self.undo_step(),
            Action::Redo => self.redo_step(),
            Action::Diff => self.show_diff(),
            Action::Quit => return self.quit(),
            Action::Jump => {
                let n = self.search.as_ref().map(|s| s.selected).unwrap_or(0);
                self.jump_to_result(n);
            }
            Action::JumpTo(n) => {
                // Like mconf: the digits label the first nine results.
                if self.search.as_ref().is_some_and(|s| n < s.results.len()) {
                    self.jump_to_result(n);
                }
            }
            Action::SwitchToList => {
                if let Some(s) = self.search.as_mut() {
                    s.typing = !s.typing;
                }
            }
            Action::EditQuery => {
                if let Some(s) = self.search.as_mut() {
                    s.typing = true;
                }
            }
            Action::Erase => match self.search.as_mut() {
                Some(s) if !s.query.is_empty() => {
                    let mut q = s.query.clone();
                    q.pop();
                    s.set_query(&q);
                }
                _ => self.back(),
            },
            Action::Clear => {
                if let Some(s) = self.search.as_mut() {
                    s.set_query("");
                }
            }
            Action::Keys => match self.stack.last_mut() {
                Some(View::Help { subject, scroll }) if subject.is_some() => {
                    *subject = None;
                    *scroll = 0;
                }
                _ => self.back(),
            },
            // A prompt's own keys (see `Prompt::handle`).
            Action::Accept | Action::Cancel | Action::Complete => {}
        }
        Effect::None
    }

    /// Moves the highlight (a menu, the search results) or scrolls (help, diff) by `by`
    /// lines; `i64::MIN` and `i64::MAX` go to the first and last.
    fn step(&mut self, by: i64) {
        let apply = |at: usize, len: usize| -> usize {
            let last = len.saturating_sub(1);
            match by {
                i64::MIN => 0,
                i64::MAX => last,
                b if b < 0 => at.saturating_sub(b.unsigned_abs() as usize),
                b => at.saturating_add(b as usize).min(last),
            }
        };
        let len = self.items.len();
        match self.stack.last_mut() {
            Some(View::Menu { cursor, .. }) => *cursor = apply(*cursor, len),
            Some(View::Search) => {
                if let Some(s) = self.search.as_mut() {
                    s.selected = apply(s.selected, s.results.len());
                }
            }
            Some(View::Help { scroll, .. } | View::Diff { scroll, .. }) => {
                *scroll = apply(*scroll as usize, usize::from(u16::MAX)) as u16;
                self.clamp_scroll();
            }
            None => {}
        }
    }

    /// A character typed while the search query is being typed.
    fn type_in_query(&mut self, key: &KeyEvent) {
        let Some(s) = self.search.as_mut().filter(|s| s.typing) else {
            return;
        };
        if !matches!(self.stack.last(), Some(View::Search)) {
            return;
        }
        if let KeyCode::Char(c) = key.code
            && !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            && !c.is_control()
            && s.query.len() < 200
        {
            let q = format!("{}{c}", s.query);
            s.set_query(&q);
        }
    }

    fn push(&mut self, v: View) {
        self.stack.push(v);
    }

    /// Goes back one screen; the main menu stays.
    pub fn back(&mut self) {
        if self.stack.len() > 1 {
            let gone = self.stack.pop();
            if gone == Some(View::Search) {
                self.search = None;
            }
        } else {
            self.set_message(Level::Info, "This is the main menu: q quits");
        }
    }

    fn quit(&mut self) -> Effect {
        if self.dirty() {
            self.modal = Some(Modal::Confirm(Confirm::Quit));
            Effect::None
        } else {
            save::remove_recovery(self.profile.file.as_deref());
            Effect::Quit
        }
    }

    fn undo_step(&mut self) {
        self.step_back_or_forth(true);
    }

    fn redo_step(&mut self) {
        self.step_back_or_forth(false);
    }

    /// Undo (or redo): restores the snapshot and says which change it took back (or made
    /// again), in the diff's words.
    fn step_back_or_forth(&mut self, undo: bool) {
        let (from, verb, left) = if undo {
            (&mut self.undo, "undid", "to undo")
        } else {
            (&mut self.redo, "redid", "to redo")
        };
        let Some(p) = from.pop() else {
            self.set_message(Level::Info, format!("nothing {left}"));
            return;
        };
        let cur = self.profile.clone();
        // Undoing takes back what p -> cur did; redoing makes cur -> p again.
        let changes = if undo {
            changes_between(&self.catalog, &p, &cur)
        } else {
            self.changes_to(&p)
        };
        self.restore(p);
        let more = if undo {
            self.redo.push(cur);
            self.undo.len()
        } else {
            self.undo.push(cur);
            self.redo.len()
        };
        // What the user did first, what it pulled in or dropped after.
        let (mut what, pulled): (Vec<String>, Vec<String>) = changes
            .into_iter()
            .filter(|c| !c.starts_with("estimated image"))
            .partition(|c| !c.contains("(needed by "));
        what.extend(pulled);
        what.truncate(2);
        let what = if what.is_empty() {
            "a change".to_string()
        } else {
            what.join("; ")
        };
        self.set_message(Level::Info, format!("{verb} {what} ({more} more {left})"));
    }

    /// `/`: a new search with an empty query. An earlier one still on the stack (its
    /// results, the menus jumped to from it) is closed first.
    fn open_search(&mut self) {
        if let Some(i) = self.stack.iter().position(|v| *v == View::Search) {
            self.stack.truncate(i.max(1));
        }
        let mut index = Index::build(&self.profile, &self.catalog);
        if let Some(t) = self.kernel.tree() {
            index.append(&t.index);
        } else if let Some(st) = self.kernel.status() {
            self.set_message(Level::Info, format!("kernel options: {st}"));
        }
        self.search = Some(Search::new(index));
        self.push(View::Search);
    }

    fn show_diff(&mut self) {
        let changes = match resolve(&self.saved, &self.catalog) {
            Ok(sp) => {
                let se = estimate(&sp, &self.catalog);
                let mut d = diff(&sp, &se, &self.plan, &self.estimate);
                if se.total_bytes == self.estimate.total_bytes && d.iter().all(|c| c.area == "size")
                {
                    d.clear();
                }
                d
            }
            Err(e) => vec![Change {
                area: "profile".into(),
                text: format!("the saved profile no longer resolves: {}", first_error(&e)),
            }],
        };
        self.push(View::Diff { changes, scroll: 0 });
    }

    /// Enter or Space on the highlighted line.
    fn activate(&mut self) {
        let Some(item) = self.current_item().cloned() else {
            return;
        };
        match &item.kind {
            ItemKind::Submenu(m) => self.push(View::Menu {
                id: m.clone(),
                cursor: 0,
            }),
            ItemKind::Field(f) => {
                let kind = match f {
                    Field::Name => PromptKind::Name,
                    Field::Description => PromptKind::Description,
                    Field::KernelSource => PromptKind::KernelPath,
                    Field::Cmdline => PromptKind::Cmdline,
                    Field::Hostname => PromptKind::Hostname,
                    Field::Budget => PromptKind::Budget,
                };
                let text = match (f, &self.profile.kernel.source) {
                    (Field::KernelSource, KernelSource::Path(p)) => p.display().to_string(),
                    (Field::KernelSource, _) => String::new(),
                    _ => item.value.clone().unwrap_or_default(),
                };
                self.modal = Some(Modal::Prompt(Prompt::new(kind, text)));
            }
            ItemKind::KOption(name) => {
                let v = self
                    .profile
                    .kernel
                    .options
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                self.modal = Some(Modal::Prompt(Prompt::new(
                    PromptKind::OptionValue(name.clone()),
                    v,
                )));
            }
            ItemKind::AddOption => {
                self.modal = Some(Modal::Prompt(Prompt::new(PromptKind::NewOption, "CONFIG_")));
            }
            ItemKind::KEntry(m) => {
                let m = *m;
                let opens_menu = self
                    .kernel
                    .tree()
                    .is_some_and(|t| (m as usize) < t.kc.menus.len() && opens(&t.kc, m));
                if opens_menu {
                    self.kernel_open(m);
                } else {
                    self.kernel_toggle(m, item.marker);
                }
            }
            ItemKind::Note => {}
            kind => {
                if matches!(item.marker, Marker::RadioOn) {
                    return;
                }
                match self.change_for(kind) {
                    Some(Ok((p, note))) => {
                        if let Err(e) = self.apply(p, note) {
                            self.set_message(Level::Error, e);
                        }
                    }
                    Some(Err(why)) => self.set_message(Level::Error, why),
                    None => {}
                }
            }
        }
    }

    /// Tab in the new-option prompt: completes `CONFIG_` names from the kernel tree (the
    /// longest common start of the names that begin with what is typed) and lists some.
    fn complete(&mut self, p: &mut Prompt) {
        if p.kind != PromptKind::NewOption || p.text.contains('=') {
            return;
        }
        let status = self.kernel.status();
        let Some(t) = self.kernel.tree() else {
            p.note = status;
            return;
        };
        let typed = p.text.trim().to_uppercase();
        let typed = typed.strip_prefix("CONFIG_").unwrap_or(&typed).to_string();
        let mut names: Vec<&str> = t
            .index
            .entries
            .iter()
            .map(|e| e.name.as_str())
            .filter(|n| n.starts_with(&typed))
            .collect();
        names.sort_unstable();
        let Some(first) = names.first() else {
            p.note = Some(format!("no kernel option starts with {typed}"));
            return;
        };
        let mut common = first.len();
        for n in &names {
            common = common.min(
                first
                    .bytes()
                    .zip(n.bytes())
                    .take_while(|(a, b)| a == b)
                    .count(),
            );
        }
        p.text = format!(
            "CONFIG_{}{}",
            &first[..common],
            if names.len() == 1 { "=" } else { "" }
        );
        p.cursor = p.text.chars().count();
        let shown: Vec<&str> = names.iter().take(4).copied().collect();
        p.note = Some(if names.len() > 4 {
            format!("{} ... ({} options)", shown.join(" "), names.len())
        } else {
            shown.join(" ")
        });
    }

    /// Opens kernel menu `m` (a menu, a menuconfig entry, a choice).
    fn kernel_open(&mut self, m: u32) {
        if let Some(t) = self.kernel.tree() {
            let id = menu_id(&t.kc, m);
            self.push(View::Menu { id, cursor: 0 });
        }
    }

    /// Space on a kernel entry: toggles a bool, chooses a choice value, edits a value,
    /// opens a menu.
    fn kernel_toggle(&mut self, m: u32, marker: Marker) {
        let Some(t) = self.kernel.tree() else { return };
        if m as usize >= t.kc.menus.len() {
            return;
        }
        let sym = t.kc.menus[m as usize].sym;
        let Some(s) = sym.filter(|s| !t.kc.is_choice(*s)) else {
            if opens(&t.kc, m) {
                self.kernel_open(m);
            }
            return;
        };
        let name = format!("CONFIG_{}", t.kc.sym(s).name);
        let r = match t.kc.sym_type(s) {
            crate::kconfig::SymType::Bool | crate::kconfig::SymType::Tristate => {
                if marker == Marker::Chosen {
                    return;
                }
                let on = t.kc.tri_value(s) != crate::kconfig::Tri::N;
                let want = if on && marker != Marker::RadioOff {
                    "n"
                } else {
                    "y"
                };
                self.kernel_set(m, want)
            }
            _ => {
                let v = t.kc.value(s);
                self.modal = Some(Modal::Prompt(Prompt::new(PromptKind::KValue(m, name), v)));
                Ok(())
            }
        };
        if let Err(e) = r {
            self.set_message(Level::Error, e);
        }
    }

    fn jump_to_result(&mut self, n: usize) {
        let target = self
            .search
            .as_ref()
            .and_then(|s| s.results.get(n))
            .and_then(|i| self.search.as_ref().and_then(|s| s.index.entries.get(*i)))
            .and_then(|e| e.target.clone());
        if let Some(s) = self.search.as_mut() {
            s.selected = n.min(s.results.len().saturating_sub(1));
            s.typing = false;
        }
        if let Some((menu, kind)) = target {
            let mut lines = self.menu_lines(&menu);
            if matches!(kind, ItemKind::KEntry(_))
                && !lines.iter().any(|i| i.kind == kind)
                && !self.kernel.show_all
            {
                self.kernel.show_all = true;
                lines = self.menu_lines(&menu);
                self.set_message(
                    Level::Info,
                    "it is hidden here: showing hidden options, each with why (z hides them)",
                );
            }
            let cursor = lines.iter().position(|i| i.kind == kind).unwrap_or(0);
            self.push(View::Menu { id: menu, cursor });
        }
    }

    /// Keeps the help or diff screen from scrolling past its last line.
    fn clamp_scroll(&mut self) {
        let limit = super::draw::scroll_limit(self);
        if let Some(View::Help { scroll, .. } | View::Diff { scroll, .. }) = self.stack.last_mut() {
            *scroll = (*scroll).min(limit);
        }
    }

    fn handle_modal(&mut self, key: KeyEvent) -> Effect {
        match self.modal.take() {
            Some(Modal::Confirm(c)) => self.handle_confirm(c, key),
            Some(Modal::Prompt(mut p)) => {
                match p.handle(key) {
                    PromptOutcome::Editing => self.modal = Some(Modal::Prompt(p)),
                    PromptOutcome::Complete => {
                        self.complete(&mut p);
                        self.modal = Some(Modal::Prompt(p));
                    }
                    PromptOutcome::Cancel => {
                        self.quit_after_save = false;
                    }
                    PromptOutcome::Submit => {
                        if let Err(e) = self.submit(&p) {
                            p.error = Some(e);
                            self.modal = Some(Modal::Prompt(p));
                        } else if self.quit_after_save && !self.dirty() {
                            return Effect::Quit;
                        }
                    }
                }
                Effect::None
            }
            None => Effect::None,
        }
    }

    fn handle_confirm(&mut self, c: Confirm, key: KeyEvent) -> Effect {
        let yes = matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y'));
        let no = matches!(
            key.code,
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Left
        ) || ctrl(&key, 'c');
        match c {
            Confirm::Quit if yes => {
                // Quitting without saving discards the changes, recovered ones included.
                save::remove_recovery(self.profile.file.as_deref());
                return Effect::Quit;
            }
            Confirm::Quit if key.code == KeyCode::Char('s') => {
                self.quit_after_save = true;
                self.save();
                if !self.dirty() {
                    return Effect::Quit;
                }
            }
            Confirm::Recover { path, .. } if yes => self.recover(&path),
            Confirm::Recover { path, .. } if no => {
                let _ = std::fs::remove_file(&path);
                self.set_message(Level::Info, format!("discarded {}", path.display()));
            }
            Confirm::Open if yes => self.open_prompt(),
            Confirm::Overwrite(path) if yes => self.save_to(&path),
            _ if no => {}
            c => self.modal = Some(Modal::Confirm(c)),
        }
        Effect::None
    }

    /// The profile kept in recovery file `path`, as if read from the profile's own file
    /// (a name it does not set is the profile's, not the recovery file's).
    fn load_recovery(&self, path: &Path) -> Result<Profile, crate::model::Invalid> {
        let mut p = Profile::load(path, &self.catalog)?;
        if !p.locations.contains_key("name") {
            p.name = Profile::default_name(self.profile.file.as_deref());
        }
        p.file = self.profile.file.clone();
        Ok(p)
    }

    fn recover(&mut self, path: &Path) {
        match self.load_recovery(path) {
            Ok(p) => match self.apply(p, None) {
                Ok(()) => self.set_message(
                    Level::Ok,
                    format!("recovered unsaved changes from {}", path.display()),
                ),
                Err(e) => self.set_message(Level::Error, format!("cannot recover: {e}")),
            },
            Err(e) => self.set_message(
                Level::Error,
                format!("cannot recover {}: {}", path.display(), first_error(&e)),
            ),
        }
    }

    fn save_as_prompt(&mut self) {
        let text = self
            .profile
            .file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        self.modal = Some(Modal::Prompt(Prompt::new(PromptKind::SaveAs, text)));
    }

    fn open_prompt(&mut self) {
        self.modal = Some(Modal::Prompt(Prompt::new(PromptKind::Open, "")));
    }

    /// Saves to the profile's file, or asks for one.
    pub fn save(&mut self) {
        match self.profile.file.clone() {
            Some(f) => self.save_to(&f),
            None => self.save_as_prompt(),
        }
    }

    /// Saves to `path` and makes it the profile's file.
    pub fn save_to(&mut self, path: &Path) {
        let mut p = self.profile.clone();
        let first = p.file.is_none();
        p.file = Some(path.to_path_buf());
        if first && p.name == self.saved.name {
            p.name = Profile::default_name(Some(path));
        }
        match save::save_profile(&p, path, self.saved_text.as_deref()) {
            Ok(text) => {
                if self.profile.file.as_deref() != Some(path) {
                    save::remove_recovery(self.profile.file.as_deref());
                }
                save::remove_recovery(Some(path));
                self.profile = p;
                self.saved = self.profile.clone();
                self.saved_text = Some(text);
                self.set_message(Level::Ok, format!("saved {}", path.display()));
            }
            Err(e) => self.set_message(Level::Error, format!("not saved: {e:#}")),
        }
    }

    /// Applies a prompt's text. The profile's rules are not checked here: `apply` resolves
    /// the edited profile, which runs the same `validate` as `stali check`.
    fn submit(&mut self, prompt: &Prompt) -> Result<(), String> {
        let text = prompt.text.trim().to_string();
        let mut p = self.profile.clone();
        match &prompt.kind {
            PromptKind::Cmdline => p.image.cmdline = (!text.is_empty()).then_some(text),
            PromptKind::Hostname => p.image.hostname = text,
            PromptKind::Budget if text.is_empty() => p.image.budget = None,
            PromptKind::Budget => p.image.budget = Some(parse_size(&text).ok_or(BUDGET_HELP)?),
            PromptKind::Name => p.name = text,
            PromptKind::Description => p.description = text,
            PromptKind::KernelPath => p.kernel.source = KernelSource::Path(PathBuf::from(&text)),
            PromptKind::KValue(m, _) => return self.kernel_set(*m, &text),
            PromptKind::OptionValue(name) => {
                if let Some(o) = p.kernel.options.iter_mut().find(|(k, _)| k == name) {
                    o.1 = text;
                }
            }
            PromptKind::NewOption => {
                let (k, v) = text.split_once('=').ok_or_else(|| {
                    "write CONFIG_NAME=value (value y, n, a number or text)".to_string()
                })?;
                let k = k.trim();
                let k = if k.starts_with("CONFIG_") {
                    k.to_string()
                } else {
                    format!("CONFIG_{k}")
                };
                let v = v.trim().to_string();
                if let Some(t) = self.kernel.tree() {
                    let Some(sym) = t.kc.find(&k) else {
                        let hint = crate::model::diag::suggestion(
                            k.trim_start_matches("CONFIG_"),
                            t.index.entries.iter().map(|e| e.name.as_str()),
                        );
                        return Err(format!("{k} is not a kernel option here{hint}"));
                    };
                    if let Some(why) = t.refusal(sym, v.trim_matches('"')) {
                        return Err(why);
                    }
                }
                match p.kernel.options.iter_mut().find(|(n, _)| *n == k) {
                    Some(o) => o.1 = v,
                    None => p.kernel.options.push((k, v)),
                }
            }
            PromptKind::SaveAs => {
                if text.is_empty() {
                    return Err("give a file name".into());
                }
                let path = expand_home(&text);
                if path.is_dir() {
                    return Err(format!("{} is a directory", path.display()));
                }
                if path.exists() && self.profile.file.as_deref() != Some(path.as_path()) {
                    self.modal = Some(Modal::Confirm(Confirm::Overwrite(path)));
                    return Ok(());
                }
                self.save_to(&path);
                return match &self.message {
                    Some(Message {
                        level: Level::Error,
                        text,
                    }) => Err(text.clone()),
                    _ => Ok(()),
                };
            }
            PromptKind::Open => {
                // A file, or a shipped profile by name (opened with no file, so that `s`
                // asks where to save rather than overwrite the shipped one).
                let path = expand_home(&text);
                let shipped = crate::model::catalog::shipped_profile(&text).is_some();
                let (loaded, base) = if path.exists() || shipped {
                    super::starting_profile(Some(&path), &self.catalog)?
                } else {
                    let e = Profile::load(&path, &self.catalog).err();
                    let hint = crate::model::diag::suggestion(
                        &text,
                        crate::model::catalog::EMBEDDED_PROFILES
                            .iter()
                            .map(|(n, _)| *n),
                    );
                    let why = e.map(|e| first_error(&e)).unwrap_or_default();
                    return Err(format!(
                        "{}: {why}{}",
                        path.display(),
                        hint.replace("did you mean", "did you mean the shipped profile")
                    ));
                };
                let look = self.look.clone();
                let catalog = self.catalog.clone();
                let size = self.size;
                let mut app = App::new(loaded, base, catalog, look).map_err(|e| first_error(&e))?;
                app.kernel.carry_from(&self.kernel);
                *self = app;
                self.refresh();
                self.size = size;
                let opened = if path.exists() {
                    format!("opened {}", path.display())
                } else {
                    format!("opened the shipped profile {text}; s asks where to save it")
                };
                self.set_message(Level::Ok, opened);
                return Ok(());
            }
        }
        self.apply(p, None)
    }
}

/// An informative menu line.
fn note(text: &str) -> Item {
    Item {
        kind: ItemKind::Note,
        marker: Marker::Blank,
        label: text.to_string(),
        detail: String::new(),
        value: None,
        untested: false,
    }
}

/// Sets (or, when `value` is what base and fragments give, removes) kernel option `name`.
fn set_line(p: &mut Profile, name: &str, value: &str, reference: &str) {
    if value == reference {
        p.kernel.options.retain(|(k, _)| k != name);
    } else if let Some(o) = p.kernel.options.iter_mut().find(|(k, _)| k == name) {
        o.1 = value.to_string();
    } else {
        p.kernel.options.push((name.to_string(), value.to_string()));
    }
}

fn expand_home(s: &str) -> PathBuf {
    match (s.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(h)) => PathBuf::from(h).join(rest),
        _ => PathBuf::from(s),
    }
}
