//! The menu tree, built from the profile, its plan and the catalog.

use crate::model::catalog::CATEGORIES;
use crate::model::profile::{budget_text, human};
use crate::model::{BootMode, Catalog, Compression, KernelSource, Plan, Profile, ToolDef};

/// A menu (a screen of items).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MenuId {
    /// The top level.
    Main,
    /// Target hardware, a choice.
    Hardware,
    /// Tools by category.
    Tools,
    /// The tools of one category.
    Category(String),
    /// Kernel settings.
    Kernel,
    /// Kernel base configuration, a choice.
    Base,
    /// Kernel fragments, checkboxes.
    Fragments,
    /// Extra kernel options, an editable list.
    Options,
    /// Image and boot settings.
    Image,
    /// Boot mode, a choice.
    Boot,
    /// Compression, a choice.
    Compression,
    /// A menu of the kernel's own tree (Kernel > All options): the engine's menu id and
    /// the path shown as its title.
    KMenu(u32, String),
}

impl MenuId {
    /// The menu's own title.
    pub fn title(&self) -> String {
        match self {
            MenuId::Main => "Main menu".into(),
            MenuId::Hardware => "Target hardware".into(),
            MenuId::Tools => "Tools".into(),
            MenuId::Category(c) => c.clone(),
            MenuId::Kernel => "Kernel".into(),
            MenuId::Base => "Base configuration".into(),
            MenuId::Fragments => "Fragments".into(),
            MenuId::Options => "Extra options".into(),
            MenuId::Image => "Image and boot".into(),
            MenuId::Boot => "Boot mode".into(),
            MenuId::Compression => "Compression".into(),
            MenuId::KMenu(_, path) => path.rsplit(" > ").next().unwrap_or(path).to_string(),
        }
    }

    /// The parent menu.
    pub fn parent(&self) -> Option<MenuId> {
        Some(match self {
            MenuId::Main => return None,
            MenuId::Hardware | MenuId::Tools | MenuId::Kernel | MenuId::Image => MenuId::Main,
            MenuId::Category(_) => MenuId::Tools,
            MenuId::Base | MenuId::Fragments | MenuId::Options => MenuId::Kernel,
            MenuId::Boot | MenuId::Compression => MenuId::Image,
            MenuId::KMenu(..) => MenuId::Kernel,
        })
    }

    /// Where the menu lives: `Tools > network`.
    pub fn path(&self) -> String {
        if let MenuId::KMenu(_, path) = self {
            return path.clone();
        }
        let mut parts = vec![self.title()];
        let mut m = self.parent();
        while let Some(p) = m {
            if p != MenuId::Main {
                parts.push(p.title());
            }
            m = p.parent();
        }
        if *self == MenuId::Main {
            return self.title();
        }
        parts.reverse();
        parts.join(" > ")
    }
}

/// A text setting edited in a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Profile name.
    Name,
    /// Profile description.
    Description,
    /// Kernel source path.
    KernelSource,
    /// Kernel command line.
    Cmdline,
    /// Host name.
    Hostname,
    /// Size budget.
    Budget,
}

impl Field {
    /// Every text setting, in menu order.
    pub const ALL: [Field; 6] = [
        Field::Name,
        Field::Description,
        Field::KernelSource,
        Field::Cmdline,
        Field::Hostname,
        Field::Budget,
    ];

    /// The label shown after the value.
    pub fn label(self) -> &'static str {
        match self {
            Field::Name => "Profile name",
            Field::Description => "Description",
            Field::KernelSource => "Kernel source",
            Field::Cmdline => "Kernel command line",
            Field::Hostname => "Host name",
            Field::Budget => "Size budget",
        }
    }

    /// The profile key it sets.
    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Description => "description",
            Field::KernelSource => "kernel.source",
            Field::Cmdline => "image.cmdline",
            Field::Hostname => "image.hostname",
            Field::Budget => "image.budget",
        }
    }

    /// Its current value as text.
    pub fn value(self, p: &Profile, plan: &Plan) -> String {
        match self {
            Field::Name => p.name.clone(),
            Field::Description => p.description.clone(),
            Field::KernelSource => match &p.kernel.source {
                KernelSource::Path(path) => path.display().to_string(),
                other => other.describe(),
            },
            Field::Cmdline => p
                .image
                .cmdline
                .clone()
                .unwrap_or_else(|| plan.image.cmdline.clone()),
            Field::Hostname => p.image.hostname.clone(),
            Field::Budget => p.image.budget.map(budget_text).unwrap_or_default(),
        }
    }
}

/// What a menu line is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemKind {
    /// A submenu.
    Submenu(MenuId),
    /// A tool, a checkbox.
    Tool(String),
    /// A hardware target, a radio button.
    Hardware(String),
    /// A kernel base configuration, a radio button.
    Base(String),
    /// A kernel fragment, a checkbox.
    Fragment(String),
    /// An extra kernel option of the profile.
    KOption(String),
    /// Adds a kernel option.
    AddOption,
    /// A boot mode, a radio button (`None`: the hardware's default).
    Boot(Option<BootMode>),
    /// A compression, a radio button.
    Compression(Compression),
    /// A text setting.
    Field(Field),
    /// An entry of the kernel's own menu tree (the engine's menu id).
    KEntry(u32),
    /// A line that only informs (the kernel tree loading, or why it cannot).
    Note,
}

/// The marker in front of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// No marker (submenus, fields).
    Blank,
    /// `[*]` chosen.
    On,
    /// `[ ]` not chosen.
    Off,
    /// `-*-` pulled in by a dependency.
    Forced,
    /// `(*)` the chosen radio button.
    RadioOn,
    /// `( )` another radio button.
    RadioOff,
    /// `(X)` the chosen value of a kernel choice.
    Chosen,
    /// `{*}` a kernel option a select holds at m, which may go up to y.
    Floor,
    /// `- -` a kernel option that is off and cannot change.
    Locked,
}

impl Marker {
    /// The three characters drawn.
    pub fn text(self) -> &'static str {
        match self {
            Marker::Blank => "   ",
            Marker::On => "[*]",
            Marker::Off => "[ ]",
            Marker::Forced => "-*-",
            Marker::RadioOn => "(*)",
            Marker::RadioOff => "( )",
            Marker::Chosen => "(X)",
            Marker::Floor => "{*}",
            Marker::Locked => "- -",
        }
    }
}

/// One menu line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What it is.
    pub kind: ItemKind,
    /// Its marker.
    pub marker: Marker,
    /// The main text (a name or a prompt).
    pub label: String,
    /// Secondary text (a description), drawn dimmed.
    pub detail: String,
    /// Value of a text field, drawn as `(value)` in front of the label.
    pub value: Option<String>,
    /// Why the recipe is untested, when it is.
    pub untested: bool,
}

impl Item {
    fn new(
        kind: ItemKind,
        marker: Marker,
        label: impl Into<String>,
        detail: impl Into<String>,
    ) -> Item {
        Item {
            kind,
            marker,
            label: label.into(),
            detail: detail.into(),
            value: None,
            untested: false,
        }
    }

    /// Whether Enter opens a submenu.
    pub fn is_submenu(&self) -> bool {
        matches!(self.kind, ItemKind::Submenu(_))
    }
}

/// Every tool the profile can choose from: the catalog's, with the profile's own recipes
/// replacing or adding to them, sorted by name.
pub fn universe<'a>(profile: &'a Profile, catalog: &'a Catalog) -> Vec<&'a ToolDef> {
    let mut v: Vec<&ToolDef> = catalog
        .tools
        .iter()
        .filter(|t| !profile.inline_tools.iter().any(|i| i.name == t.name))
        .chain(profile.inline_tools.iter())
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// Categories that have at least one tool, in menu order (unknown ones last).
pub fn categories(tools: &[&ToolDef]) -> Vec<String> {
    let mut out: Vec<String> = CATEGORIES
        .iter()
        .filter(|c| tools.iter().any(|t| t.category == **c))
        .map(|c| c.to_string())
        .collect();
    for t in tools {
        if !out.contains(&t.category) {
            out.push(t.category.clone());
        }
    }
    out
}

/// The marker of a tool in the current plan.
pub fn tool_marker(name: &str, profile: &Profile, plan: &Plan) -> Marker {
    if profile.select.iter().any(|s| s == name) {
        Marker::On
    } else if plan.tool(name).is_some() {
        Marker::Forced
    } else {
        Marker::Off
    }
}

/// The marker of a fragment in the current plan.
pub fn fragment_marker(name: &str, profile: &Profile, plan: &Plan) -> Marker {
    if profile.kernel.fragments.iter().any(|s| s == name) {
        Marker::On
    } else if plan.kernel.has_fragment(name) {
        Marker::Forced
    } else {
        Marker::Off
    }
}

/// The lines of menu `id`.
pub fn items(id: &MenuId, profile: &Profile, plan: &Plan, catalog: &Catalog) -> Vec<Item> {
    let radio = |on: bool| {
        if on {
            Marker::RadioOn
        } else {
            Marker::RadioOff
        }
    };
    let field = |f: Field| {
        let mut it = Item::new(ItemKind::Field(f), Marker::Blank, f.label(), "");
        it.value = Some(f.value(profile, plan));
        it
    };
    let sub = |m: MenuId, label: String| Item::new(ItemKind::Submenu(m), Marker::Blank, label, "");
    match id {
        MenuId::Main => {
            let chosen = profile.select.len();
            let pulled = plan
                .tools
                .len()
                .saturating_sub(plan.tools.iter().filter(|t| t.selected).count());
            vec![
                sub(
                    MenuId::Hardware,
                    format!("Target hardware ({})", profile.hardware),
                ),
                sub(
                    MenuId::Tools,
                    if pulled > 0 {
                        format!("Tools ({chosen} chosen, {pulled} pulled in)")
                    } else {
                        format!("Tools ({chosen} chosen)")
                    },
                ),
                sub(
                    MenuId::Kernel,
                    format!(
                        "Kernel ({}, {} fragments)",
                        profile.kernel.base,
                        plan.kernel.fragments.len()
                    ),
                ),
                sub(
                    MenuId::Image,
                    format!(
                        "Image and boot ({}, {})",
                        plan.image.boot.as_str(),
                        plan.image.compression.as_str()
                    ),
                ),
                field(Field::Name),
                field(Field::Description),
            ]
        }
        MenuId::Hardware => catalog
            .hardware
            .iter()
            .map(|h| {
                Item::new(
                    ItemKind::Hardware(h.name.clone()),
                    radio(h.name == profile.hardware),
                    h.name.clone(),
                    h.description.clone(),
                )
            })
            .collect(),
        MenuId::Tools => {
            let all = universe(profile, catalog);
            categories(&all)
                .into_iter()
                .map(|c| {
                    let total = all.iter().filter(|t| t.category == c).count();
                    let inside = all
                        .iter()
                        .filter(|t| t.category == c && plan.tool(&t.name).is_some())
                        .count();
                    sub(
                        MenuId::Category(c.clone()),
                        format!("{c} ({inside}/{total})"),
                    )
                })
                .collect()
        }
        MenuId::Category(c) => universe(profile, catalog)
            .into_iter()
            .filter(|t| &t.category == c)
            .map(|t| {
                let mut it = Item::new(
                    ItemKind::Tool(t.name.clone()),
                    tool_marker(&t.name, profile, plan),
                    t.name.clone(),
                    t.description.clone(),
                );
                it.untested = t.untested.is_some();
                it
            })
            .collect(),
        MenuId::Kernel => vec![
            field(Field::KernelSource),
            sub(
                MenuId::Base,
                format!("Base configuration ({})", profile.kernel.base),
            ),
            sub(
                MenuId::Fragments,
                format!("Fragments ({} in use)", plan.kernel.fragments.len()),
            ),
            sub(
                MenuId::Options,
                format!("Extra options ({})", profile.kernel.options.len()),
            ),
            sub(
                MenuId::KMenu(0, "Kernel > All options".into()),
                "All options".into(),
            ),
        ],
        MenuId::Base => catalog
            .bases
            .iter()
            .map(|b| {
                Item::new(
                    ItemKind::Base(b.name.clone()),
                    radio(b.name == profile.kernel.base),
                    b.name.clone(),
                    format!("{} ({})", b.description, human(b.size)),
                )
            })
            .collect(),
        MenuId::Fragments => catalog
            .fragments
            .iter()
            .map(|f| {
                let marker = fragment_marker(&f.name, profile, plan);
                let detail = match (
                    marker,
                    plan.kernel
                        .fragments
                        .iter()
                        .find(|p| p.fragment.name == f.name),
                ) {
                    (Marker::Forced, Some(p)) => format!("{} [{}]", f.title, p.reason),
                    _ => f.title.clone(),
                };
                Item::new(
                    ItemKind::Fragment(f.name.clone()),
                    marker,
                    f.name.clone(),
                    detail,
                )
            })
            .collect(),
        MenuId::Options => {
            let mut v: Vec<Item> = profile
                .kernel
                .options
                .iter()
                .map(|(k, val)| {
                    let shown = if val == "n" {
                        "is not set".to_string()
                    } else {
                        format!("= {val}")
                    };
                    Item::new(
                        ItemKind::KOption(k.clone()),
                        Marker::Blank,
                        k.clone(),
                        shown,
                    )
                })
                .collect();
            v.push(Item::new(
                ItemKind::AddOption,
                Marker::Blank,
                "<add an option>",
                "",
            ));
            v
        }
        MenuId::Image => vec![
            sub(
                MenuId::Boot,
                format!(
                    "Boot mode ({}{})",
                    plan.image.boot.as_str(),
                    if profile.image.boot.is_none() {
                        ", hardware default"
                    } else {
                        ""
                    }
                ),
            ),
            sub(
                MenuId::Compression,
                format!("Compression ({})", profile.image.compression.as_str()),
            ),
            field(Field::Cmdline),
            field(Field::Hostname),
            field(Field::Budget),
        ],
        MenuId::Boot => {
            let mut v = vec![Item::new(
                ItemKind::Boot(None),
                radio(profile.image.boot.is_none()),
                "default",
                format!("what the hardware uses ({})", plan.hardware.boot.as_str()),
            )];
            for m in BootMode::ALL {
                let detail = match m {
                    BootMode::Bios => "legacy BIOS via isolinux",
                    BootMode::Uefi => "UEFI via the kernel's EFI stub",
                    BootMode::Hybrid => "both in one image (two kernel copies)",
                };
                v.push(Item::new(
                    ItemKind::Boot(Some(m)),
                    radio(profile.image.boot == Some(m)),
                    m.as_str(),
                    detail,
                ));
            }
            v
        }
        MenuId::Compression => Compression::ALL
            .into_iter()
            .map(|c| {
                let detail = match c {
                    Compression::Gzip => "fastest to unpack, largest",
                    Compression::Xz => "smallest",
                    Compression::Zstd => "fast and small",
                };
                Item::new(
                    ItemKind::Compression(c),
                    radio(profile.image.compression == c),
                    c.as_str(),
                    detail,
                )
            })
            .collect(),
        // Drawn from the kernel tree by the app (`App::refresh`).
        MenuId::KMenu(..) => Vec::new(),
    }
}

/// The menu that holds an item of this kind (for search jumps).
pub fn home_of(kind: &ItemKind, profile: &Profile, catalog: &Catalog) -> MenuId {
    match kind {
        ItemKind::Submenu(m) => m.parent().unwrap_or(MenuId::Main),
        ItemKind::Tool(n) => {
            let cat = universe(profile, catalog)
                .into_iter()
                .find(|t| &t.name == n)
                .map(|t| t.category.clone())
                .unwrap_or_else(|| "other".into());
            MenuId::Category(cat)
        }
        ItemKind::Hardware(_) => MenuId::Hardware,
        ItemKind::Base(_) => MenuId::Base,
        ItemKind::Fragment(_) => MenuId::Fragments,
        ItemKind::KOption(_) | ItemKind::AddOption => MenuId::Options,
        ItemKind::Boot(_) => MenuId::Boot,
        ItemKind::Compression(_) => MenuId::Compression,
        ItemKind::KEntry(_) | ItemKind::Note => MenuId::Kernel,
        ItemKind::Field(f) => match f {
            Field::Name | Field::Description => MenuId::Main,
            Field::KernelSource => MenuId::Kernel,
            Field::Cmdline | Field::Hostname | Field::Budget => MenuId::Image,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_breadcrumbs() {
        assert_eq!(MenuId::Category("network".into()).path(), "Tools > network");
        assert_eq!(MenuId::Fragments.path(), "Kernel > Fragments");
        assert_eq!(MenuId::Main.path(), "Main menu");
    }
}
