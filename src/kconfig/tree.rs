//! The loaded Kconfig tree: symbols, properties, expressions and menu entries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::cache::ShellCache;

/// A tristate value.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum Tri {
    /// `n`
    #[default]
    N = 0,
    /// `m`
    M = 1,
    /// `y`
    Y = 2,
}

impl Tri {
    /// `EXPR_AND`: the minimum.
    pub fn and(self, o: Tri) -> Tri {
        self.min(o)
    }
    /// `EXPR_OR`: the maximum.
    pub fn or(self, o: Tri) -> Tri {
        self.max(o)
    }
    /// `EXPR_NOT`: `2 - x`.
    pub fn negate(self) -> Tri {
        match self {
            Tri::N => Tri::Y,
            Tri::M => Tri::M,
            Tri::Y => Tri::N,
        }
    }
    /// `"n"`, `"m"` or `"y"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tri::N => "n",
            Tri::M => "m",
            Tri::Y => "y",
        }
    }
}

/// A symbol's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum SymType {
    /// No type given (constants and words used as values).
    #[default]
    Unknown,
    /// `bool`
    Bool,
    /// `tristate`
    Tristate,
    /// `int`
    Int,
    /// `hex`
    Hex,
    /// `string`
    String,
}

impl SymType {
    /// The name `conf` uses for the type.
    pub fn name(self) -> &'static str {
        match self {
            SymType::Unknown => "unknown",
            SymType::Bool => "bool",
            SymType::Tristate => "tristate",
            SymType::Int => "integer",
            SymType::Hex => "hex",
            SymType::String => "string",
        }
    }
}

/// Index of a symbol in [`Kconfig::syms`].
pub type SymId = u32;
/// Index of an expression node in [`Kconfig::exprs`].
pub type ExprId = u32;
/// Index of a property in [`Kconfig::props`].
pub type PropId = u32;
/// Index of a menu entry in [`Kconfig::menus`].
pub type MenuId = u32;

/// The root menu entry (the `mainmenu`).
pub const ROOT_MENU: MenuId = 0;
/// The constant symbol `n`.
pub const SYM_NO: SymId = 0;
/// The constant symbol `m`.
pub const SYM_MOD: SymId = 1;
/// The constant symbol `y`.
pub const SYM_YES: SymId = 2;

/// Comparison operators in expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    /// The operator as written in Kconfig.
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

/// An expression node (children are indices into the same arena).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Expr {
    /// A symbol's value.
    Sym(SymId),
    /// `!e`
    Not(ExprId),
    /// `a && b`
    And(ExprId, ExprId),
    /// `a || b`
    Or(ExprId, ExprId),
    /// `a OP b` between two symbols.
    Cmp(Cmp, SymId, SymId),
    /// `range a b`
    Range(SymId, SymId),
}

/// What a property is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PropKind {
    /// A prompt of a config or choice.
    Prompt,
    /// A menu's title (also a menuconfig's prompt, and the mainmenu).
    Menu,
    /// A comment's text.
    Comment,
    /// `default`
    Default,
    /// `select`
    Select,
    /// `imply`
    Imply,
    /// `range`
    Range,
    /// The link from a symbol to a menu entry defining it.
    Symbol,
    /// The link from a choice value to its choice.
    Choice,
}

/// A property of a symbol or menu entry.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Property {
    /// Kind.
    pub kind: PropKind,
    /// Value expression (default value, selected symbol, range...).
    pub expr: Option<ExprId>,
    /// Condition (`if ...` plus the menu's dependencies after finalization).
    pub visible: Option<ExprId>,
    /// Last computed value of `visible`.
    pub visible_tri: Tri,
    /// Menu entry the property belongs to.
    pub menu: MenuId,
    /// File index in [`Kconfig::files`].
    pub file: u32,
    /// Line.
    pub line: u32,
    /// Prompt text.
    pub text: Option<String>,
}

/// Flags, as in `expr.h`.
pub mod flags {
    /// A constant (quoted) symbol.
    pub const CONST: u32 = 0x0001;
    /// A choice.
    pub const CHOICE: u32 = 0x0010;
    /// A value of a choice.
    pub const CHOICEVAL: u32 = 0x0020;
    /// `curr` is computed.
    pub const VALID: u32 = 0x0080;
    /// Optional (choices without `optional` lack it).
    pub const OPTIONAL: u32 = 0x0100;
    /// To be written to `.config`.
    pub const WRITE: u32 = 0x0200;
    /// Changed since last drawn.
    pub const CHANGED: u32 = 0x0400;
    /// Already written.
    pub const WRITTEN: u32 = 0x0800;
    /// Never written.
    pub const NO_WRITE: u32 = 0x1000;
    /// Warned about.
    pub const WARNED: u32 = 0x8000;
    /// Has a user value.
    pub const DEF_USER: u32 = 0x10000;
    /// Choice values still to be set.
    pub const NEED_SET_CHOICE_VALUES: u32 = 0x100000;
}

/// A symbol (a `config` name, a choice, or a constant word).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Symbol {
    /// Name (empty for a choice).
    pub name: String,
    /// Type.
    pub ty: SymType,
    /// Flags ([`flags`]).
    pub flags: u32,
    /// Current tristate value.
    pub curr_tri: Tri,
    /// Current string value (int, hex, string; the name for constants).
    pub curr_val: String,
    /// For a choice whose value is `y`: the selected choice value.
    pub curr_choice: Option<SymId>,
    /// The user's tristate value.
    pub def_tri: Tri,
    /// The user's string value.
    pub def_val: Option<String>,
    /// For a choice: the user's selected value.
    pub def_choice: Option<SymId>,
    /// Visibility of its prompts.
    pub visible: Tri,
    /// Direct dependencies (`depends on`, menus and ifs around it).
    pub dir_dep: Option<ExprId>,
    /// Value of `dir_dep`.
    pub dir_dep_tri: Tri,
    /// Reverse dependencies: what selects it.
    pub rev_dep: Option<ExprId>,
    /// Value of `rev_dep`.
    pub rev_dep_tri: Tri,
    /// Weak reverse dependencies: what implies it.
    pub implied: Option<ExprId>,
    /// Value of `implied`.
    pub implied_tri: Tri,
    /// Properties in definition order.
    pub props: Vec<PropId>,
    /// Menu entries defining it.
    pub menus: Vec<MenuId>,
    /// For a choice value: its choice.
    pub choice: Option<SymId>,
    /// For a choice: its values in order.
    pub choice_values: Vec<SymId>,
}

/// A menu entry: a config, menuconfig, choice, menu, comment or if block.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Menu {
    /// The symbol it defines, if any.
    pub sym: Option<SymId>,
    /// Its prompt (or menu title, or comment text).
    pub prompt: Option<PropId>,
    /// Dependencies (after finalization, including the parents').
    pub dep: Option<ExprId>,
    /// `visible if`.
    pub visibility: Option<ExprId>,
    /// Help text.
    pub help: Option<String>,
    /// Parent entry.
    pub parent: Option<MenuId>,
    /// First child.
    pub list: Option<MenuId>,
    /// Next sibling.
    pub next: Option<MenuId>,
    /// File index in [`Kconfig::files`].
    pub file: u32,
    /// Line.
    pub line: u32,
}

/// What a load needs besides the source tree.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `ARCH` as given to make (`x86_64`).
    pub arch: String,
    /// `SRCARCH` (`x86`).
    pub srcarch: String,
    /// C compiler command (`gcc`).
    pub cc: String,
    /// Linker command (`ld`).
    pub ld: String,
    /// Where the probe results are memoized (none: in memory only).
    pub cache_file: Option<PathBuf>,
    /// Extra or overriding environment variables.
    pub extra_env: Vec<(String, String)>,
    /// A folder where parsed trees are kept, so a second load of the same tree with the
    /// same environment reads one file instead of parsing (none: always parse).
    pub tree_cache: Option<PathBuf>,
}

impl LoadOptions {
    /// Options for `ARCH=x86_64` with gcc and ld, as kbuild sets them.
    pub fn x86_64() -> Self {
        LoadOptions::new("x86_64", "x86", "")
    }

    /// Options for `ARCH=arch` (`SRCARCH=srcarch`) with the GNU tools of
    /// `CROSS_COMPILE=cross_compile` (empty for the host's own), as kbuild sets them.
    pub fn new(arch: &str, srcarch: &str, cross_compile: &str) -> Self {
        LoadOptions {
            arch: arch.into(),
            srcarch: srcarch.into(),
            cc: format!("{cross_compile}gcc"),
            ld: format!("{cross_compile}ld"),
            cache_file: None,
            extra_env: if cross_compile.is_empty() {
                Vec::new()
            } else {
                ["NM", "AR", "OBJCOPY"]
                    .into_iter()
                    .map(|t| {
                        (
                            t.to_string(),
                            format!("{cross_compile}{}", t.to_lowercase()),
                        )
                    })
                    .chain([("CROSS_COMPILE".to_string(), cross_compile.to_string())])
                    .collect()
            },
            tree_cache: None,
        }
    }

    /// The environment kbuild exports to `conf` for these options (the variables
    /// `include/config/auto.conf.cmd` lists), without `CC_VERSION_TEXT`.
    pub fn kbuild_env(&self, srctree: &Path) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = HashMap::new();
        env.insert("ARCH".into(), self.arch.clone());
        env.insert("SRCARCH".into(), self.srcarch.clone());
        env.insert("srctree".into(), srctree.display().to_string());
        env.insert("CC".into(), self.cc.clone());
        env.insert("LD".into(), self.ld.clone());
        for (k, v) in [
            ("NM", "nm"),
            ("AR", "ar"),
            ("OBJCOPY", "objcopy"),
            ("PAHOLE", "pahole"),
            ("RUSTC", "rustc"),
            ("BINDGEN", "bindgen"),
        ] {
            env.insert(k.into(), v.into());
        }
        env.insert(
            "KERNELVERSION".into(),
            kernel_version(srctree).unwrap_or_default(),
        );
        if let Ok(p) = std::env::var("PATH") {
            env.insert("PATH".into(), p);
        }
        for (k, v) in &self.extra_env {
            env.insert(k.clone(), v.clone());
        }
        env
    }
}

/// A loaded Kconfig tree with its current values.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Kconfig {
    /// Source tree root.
    pub srctree: PathBuf,
    /// All symbols; 0, 1, 2 are `n`, `m`, `y`.
    pub syms: Vec<Symbol>,
    /// Expression arena.
    pub exprs: Vec<Expr>,
    /// Property arena.
    pub props: Vec<Property>,
    /// Menu entries; 0 is the root.
    pub menus: Vec<Menu>,
    /// File names relative to the source tree.
    pub files: Vec<String>,
    /// Symbol name -> id (non-constant, non-choice symbols).
    pub by_name: HashMap<String, SymId>,
    /// Quoted constants by text.
    pub consts: HashMap<String, SymId>,
    /// The symbol with the `modules` attribute (or `n`).
    pub modules_sym: SymId,
    /// Cached value of `modules_sym`, as `modules_val` in `symbol.c`.
    pub modules_val: Tri,
    /// Symbols in the C hash table's iteration order (`for_all_symbols`).
    pub hash_order: Vec<SymId>,
    /// `conf_set_changed` state.
    pub changed: bool,
    /// Warnings from parsing and reading.
    pub warnings: Vec<String>,
    /// Environment variables the tree referenced, with their values.
    pub env_used: Vec<(String, String)>,
    /// Number of `Kconfig*` files read.
    pub file_count: usize,
    /// Whether this tree was read from the tree cache ([`LoadOptions::tree_cache`]) rather
    /// than parsed.
    #[serde(skip)]
    pub from_store: bool,
}

/// `strhash` from `symbol.c` (FNV-1a 32).
pub fn strhash(s: &str) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for &b in s.as_bytes() {
        h = (h ^ (b as i8 as i32 as u32)).wrapping_mul(0x0100_0193);
    }
    h
}

/// The kernel version kbuild exports as `KERNELVERSION`, read from the top Makefile.
pub fn kernel_version(srctree: &Path) -> Result<String> {
    let mk = srctree.join("Makefile");
    let text = std::fs::read_to_string(&mk).with_context(|| format!("reading {}", mk.display()))?;
    let get = |k: &str| -> String {
        text.lines()
            .find_map(|l| {
                let (a, b) = l.split_once('=')?;
                (a.trim() == k).then(|| b.trim().to_string())
            })
            .unwrap_or_default()
    };
    let (v, p, s, e) = (
        get("VERSION"),
        get("PATCHLEVEL"),
        get("SUBLEVEL"),
        get("EXTRAVERSION"),
    );
    let mut out = v;
    if !p.is_empty() {
        out.push('.');
        out.push_str(&p);
        if !s.is_empty() {
            out.push('.');
            out.push_str(&s);
        }
    }
    out.push_str(&e);
    Ok(out)
}

impl Kconfig {
    /// Parses and finalizes the tree under `srctree` (root file `Kconfig`), runs the
    /// toolchain probes (memoized), and computes the values with no `.config` read.
    pub fn load(srctree: &Path, opts: &LoadOptions) -> Result<Kconfig> {
        let srctree = srctree
            .canonicalize()
            .with_context(|| format!("kernel source {}", srctree.display()))?;
        let mut env = opts.kbuild_env(&srctree);
        let mut cache = match &opts.cache_file {
            Some(p) => ShellCache::open(p),
            None => ShellCache::in_memory(),
        };
        let workdir = std::env::temp_dir();
        if !env.contains_key("CC_VERSION_TEXT") {
            let cmd = format!("{} --version 2>/dev/null | head -n 1", opts.cc);
            let text = match cache.get(&cmd) {
                Some(t) => t.to_string(),
                None => {
                    let t = super::preprocess::run_shell(&cmd, &env, &workdir)?;
                    cache.insert(&cmd, &t);
                    t
                }
            };
            env.insert("CC_VERSION_TEXT".into(), text);
        }
        let stored = opts.tree_cache.as_ref().map(|dir| {
            super::cache::TreeCache::new(dir, &srctree, &env, opts.cache_file.as_deref())
        });
        if let Some(mut kc) = stored.as_ref().and_then(|s| s.load()) {
            cache.save()?;
            kc.from_store = true;
            return Ok(kc);
        }
        let mut kc = Kconfig {
            srctree: srctree.clone(),
            ..Default::default()
        };
        kc.init_constants();
        super::parser::parse(&mut kc, &env, &mut cache, &workdir)?;
        cache.save()?;
        kc.finish_parse();
        let cycles = kc.recursive_dependencies();
        if !cycles.is_empty() {
            bail!("{}", cycles.trim_end());
        }
        if let Some(s) = &stored {
            // A tree that cannot be stored is still a tree: the next load parses again.
            let _ = s.store(&kc);
        }
        Ok(kc)
    }

    fn init_constants(&mut self) {
        for (name, t) in [("n", Tri::N), ("m", Tri::M), ("y", Tri::Y)] {
            self.syms.push(Symbol {
                name: name.into(),
                ty: SymType::Tristate,
                flags: flags::CONST | flags::VALID,
                curr_tri: t,
                curr_val: name.into(),
                ..Default::default()
            });
        }
        self.menus.push(Menu::default());
        self.modules_sym = SYM_NO;
    }

    /// `sym_lookup`: finds or creates a symbol (`flag` CONST for quoted words, CHOICE for
    /// a choice).
    pub fn sym_lookup(&mut self, name: Option<&str>, flag: u32) -> SymId {
        if let Some(n) = name {
            match n {
                "n" => return SYM_NO,
                "m" => return SYM_MOD,
                "y" => return SYM_YES,
                _ => {}
            }
            if flag == 0 {
                if let Some(&id) = self.by_name.get(n) {
                    return id;
                }
            } else if flag == flags::CONST {
                if let Some(&id) = self.consts.get(n) {
                    return id;
                }
            } else if let Some(id) = self
                .syms
                .iter()
                .position(|s| s.name == n && s.flags & flag != 0)
            {
                return id as SymId;
            }
        }
        let id = self.syms.len() as SymId;
        self.syms.push(Symbol {
            name: name.unwrap_or("").to_string(),
            flags: flag,
            ..Default::default()
        });
        if let Some(n) = name {
            if flag == 0 {
                self.by_name.insert(n.to_string(), id);
            } else if flag == flags::CONST {
                self.consts.insert(n.to_string(), id);
            }
        }
        id
    }

    /// `sym_find`: a non-constant symbol by name (without `CONFIG_`).
    pub fn sym_find(&self, name: &str) -> Option<SymId> {
        match name {
            "n" => Some(SYM_NO),
            "m" => Some(SYM_MOD),
            "y" => Some(SYM_YES),
            _ => self.by_name.get(name).copied(),
        }
    }

    /// Adds an expression node.
    pub fn expr(&mut self, e: Expr) -> ExprId {
        self.exprs.push(e);
        (self.exprs.len() - 1) as ExprId
    }

    /// `expr_alloc_and` (either side may be absent).
    pub fn expr_and(&mut self, a: Option<ExprId>, b: Option<ExprId>) -> Option<ExprId> {
        match (a, b) {
            (None, x) | (x, None) => x,
            (Some(a), Some(b)) => Some(self.expr(Expr::And(a, b))),
        }
    }

    /// `expr_alloc_or` (either side may be absent).
    pub fn expr_or(&mut self, a: Option<ExprId>, b: Option<ExprId>) -> Option<ExprId> {
        match (a, b) {
            (None, x) | (x, None) => x,
            (Some(a), Some(b)) => Some(self.expr(Expr::Or(a, b))),
        }
    }

    /// Builds the `for_all_symbols` order: bucket `strhash % 9973`, newest first.
    fn finish_parse(&mut self) {
        let mut order: Vec<(u32, std::cmp::Reverse<SymId>)> = (3..self.syms.len() as SymId)
            .map(|id| {
                let s = &self.syms[id as usize];
                let bucket = if s.flags & flags::CHOICE != 0 && s.name.is_empty() {
                    0
                } else {
                    strhash(&s.name) % 9973
                };
                (bucket, std::cmp::Reverse(id))
            })
            .collect();
        order.sort_unstable();
        self.hash_order = order.into_iter().map(|(_, r)| r.0).collect();
        super::eval::menu_finalize(self, ROOT_MENU);
        self.changed = true;
    }

    /// A symbol by name (with or without `CONFIG_`).
    pub fn find(&self, name: &str) -> Option<SymId> {
        let n = name.strip_prefix("CONFIG_").unwrap_or(name);
        self.by_name.get(n).copied()
    }

    /// A symbol.
    pub fn sym(&self, id: SymId) -> &Symbol {
        &self.syms[id as usize]
    }

    /// The symbol's type as `conf` sees it now (tristate reads as bool without modules).
    pub fn sym_type(&self, id: SymId) -> SymType {
        let s = &self.syms[id as usize];
        if s.ty == SymType::Tristate
            && ((s.flags & flags::CHOICEVAL != 0 && s.visible == Tri::Y)
                || self.modules_val == Tri::N)
        {
            return SymType::Bool;
        }
        s.ty
    }

    /// The file name of a file index.
    pub fn file_name(&self, f: u32) -> &str {
        self.files.get(f as usize).map_or("?", String::as_str)
    }

    /// The prompt text of a menu entry, or its symbol's name.
    pub fn menu_prompt(&self, m: MenuId) -> Option<&str> {
        let menu = &self.menus[m as usize];
        if let Some(p) = menu.prompt {
            return self.props[p as usize].text.as_deref();
        }
        menu.sym.map(|s| self.syms[s as usize].name.as_str())
    }

    /// Children of a menu entry, in order.
    pub fn children(&self, m: MenuId) -> Vec<MenuId> {
        let mut out = Vec::new();
        let mut c = self.menus[m as usize].list;
        while let Some(id) = c {
            out.push(id);
            c = self.menus[id as usize].next;
        }
        out
    }
}
