//! Reading and writing `.config` (`scripts/kconfig/confdata.c`) and the `conf` modes
//! (`scripts/kconfig/conf.c`): allnoconfig, alldefconfig, defconfig, olddefconfig,
//! savedefconfig, tinyconfig.

use std::path::Path;

use anyhow::{Context, Result};

use super::tree::{Kconfig, MenuId, PropKind, ROOT_MENU, SymId, SymType, Tri, flags};

/// What `conf_set_all_new_symbols` gives symbols without a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// allnoconfig: `n`.
    AllNo,
    /// allyesconfig: `y`.
    AllYes,
    /// allmodconfig: `m`.
    AllMod,
    /// alldefconfig and defconfig: their defaults.
    AllDef,
}

/// Escapes a string value as `.config` writes it (`escape_string_value`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `merge_config.sh -m`: lines of `base` that name a symbol the fragment sets are removed,
/// then the fragment is appended.
pub fn merge_config(base: &str, fragment: &str) -> String {
    let mut names = Vec::new();
    for line in fragment.lines() {
        let name = if let Some(r) = line.strip_prefix("# ") {
            r.strip_suffix(" is not set")
                .filter(|n| n.starts_with("CONFIG_"))
        } else if line.starts_with("CONFIG_") {
            line.split_once('=').map(|(n, _)| n)
        } else {
            None
        };
        if let Some(n) = name
            && n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            names.push(format!("{n} "));
            names.push(format!("{n}="));
        }
    }
    let mut out = String::new();
    for line in base.split_inclusive('\n') {
        if !names.iter().any(|n| line.contains(n.as_str())) {
            out.push_str(line);
        }
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(fragment);
    if !fragment.is_empty() && !fragment.ends_with('\n') {
        out.push('\n');
    }
    out
}

impl Kconfig {
    /// Forgets every value, as if the tree had just been parsed.
    pub fn reset_values(&mut self) {
        let keep =
            flags::CONST | flags::CHOICE | flags::CHOICEVAL | flags::OPTIONAL | flags::NO_WRITE;
        for s in self.syms.iter_mut().skip(3) {
            s.flags &= keep;
            s.curr_tri = Tri::N;
            s.curr_val.clear();
            s.curr_choice = None;
            s.def_tri = Tri::N;
            s.def_val = None;
            s.def_choice = None;
            s.visible = Tri::N;
            s.dir_dep_tri = Tri::N;
            s.rev_dep_tri = Tri::N;
            s.implied_tri = Tri::N;
        }
        for p in &mut self.props {
            p.visible_tri = Tri::N;
        }
        self.modules_val = Tri::N;
        self.changed = true;
    }

    /// `conf_read_simple` into the user values; returns the number of warnings.
    pub fn read_simple(&mut self, text: &str) -> usize {
        let mut warnings = 0;
        for i in 0..self.hash_order.len() {
            let id = self.hash_order[i];
            let s = &mut self.syms[id as usize];
            s.flags |= flags::CHANGED;
            s.flags &= !(flags::DEF_USER | flags::VALID);
            if s.flags & flags::CHOICE != 0 {
                s.flags |= flags::DEF_USER;
            }
            s.def_val = None;
            s.def_choice = None;
            s.def_tri = Tri::N;
        }
        for line in text.split_inclusive('\n') {
            let b = line.as_bytes();
            let (name, val): (&str, &str) = if b.first() == Some(&b'#') {
                if b.get(1) != Some(&b' ') {
                    continue;
                }
                let Some(rest) = line[2..].strip_prefix("CONFIG_") else {
                    continue;
                };
                let Some((name, after)) = rest.split_once(' ') else {
                    continue;
                };
                if !after.starts_with("is not set") {
                    continue;
                }
                (name, "n")
            } else if let Some(rest) = line.strip_prefix("CONFIG_") {
                let Some((name, v)) = rest.split_once('=') else {
                    continue;
                };
                let v = match v.find('\n') {
                    Some(i) => {
                        let v = &v[..i];
                        v.strip_suffix('\r').unwrap_or(v)
                    }
                    None => v,
                };
                (name, v)
            } else {
                if !matches!(b.first(), Some(b'\r' | b'\n')) {
                    warnings += 1;
                }
                continue;
            };
            let Some(sym) = self.sym_find(name).filter(|&s| s > 2) else {
                self.changed = true;
                continue;
            };
            if self.has_value(sym) {
                warnings += 1;
            }
            match self.set_sym_val(sym, val) {
                Some(true) => {}
                Some(false) => {
                    warnings += 1;
                    continue;
                }
                None => continue,
            }
            if self.is_choice_value(sym)
                && let Some(cs) = self.syms[sym as usize].choice
            {
                let t = self.syms[sym as usize].def_tri;
                match t {
                    Tri::N => {}
                    Tri::M => {
                        if self.syms[cs as usize].def_tri == Tri::Y {
                            warnings += 1;
                            self.syms[cs as usize].flags &= !flags::DEF_USER;
                        }
                    }
                    Tri::Y => {
                        if self.syms[cs as usize].def_tri != Tri::N {
                            warnings += 1;
                        }
                        self.syms[cs as usize].def_choice = Some(sym);
                    }
                }
                let c = &mut self.syms[cs as usize];
                c.def_tri = c.def_tri.or(t);
            }
        }
        warnings
    }

    /// `conf_set_sym_val`: Some(true) when set, Some(false) on an invalid value (a
    /// warning), None when the line is ignored without a warning.
    fn set_sym_val(&mut self, s: SymId, p: &str) -> Option<bool> {
        let ty = self.syms[s as usize].ty;
        let first = p.as_bytes().first().copied();
        match ty {
            SymType::Tristate | SymType::Bool => {
                let t = match first {
                    Some(b'm') if ty == SymType::Tristate => Tri::M,
                    Some(b'y') => Tri::Y,
                    Some(b'n') => Tri::N,
                    _ => return Some(false),
                };
                let sym = &mut self.syms[s as usize];
                sym.def_tri = t;
                sym.flags |= flags::DEF_USER;
                Some(true)
            }
            SymType::String | SymType::Int | SymType::Hex => {
                let v = if ty == SymType::String {
                    let Some(rest) = p.strip_prefix('"') else {
                        return Some(true);
                    };
                    let mut out = String::new();
                    let mut it = rest.chars();
                    let mut closed = false;
                    while let Some(c) = it.next() {
                        match c {
                            '"' => {
                                closed = true;
                                break;
                            }
                            '\\' => {
                                if let Some(n) = it.next() {
                                    if n == '"' {
                                        // An escaped quote is kept and scanning goes on.
                                        out.push('"');
                                        continue;
                                    }
                                    out.push(n);
                                }
                            }
                            c => out.push(c),
                        }
                    }
                    if !closed {
                        return Some(false);
                    }
                    out
                } else {
                    p.to_string()
                };
                if self.string_valid(s, &v) {
                    let sym = &mut self.syms[s as usize];
                    sym.def_val = Some(v);
                    sym.flags |= flags::DEF_USER;
                    Some(true)
                } else {
                    Some(false)
                }
            }
            SymType::Unknown => None,
        }
    }

    /// `conf_read`: reads a `.config` as `olddefconfig` and `defconfig` do.
    pub fn read_config(&mut self, text: &str) {
        self.changed = false;
        let warnings = self.read_simple(text);
        let m = self.modules_sym;
        self.calc_value(m);
        let mut unsaved = 0;
        for i in 0..self.hash_order.len() {
            let s = self.hash_order[i];
            self.calc_value(s);
            let f = self.syms[s as usize].flags;
            if f & flags::CHOICE != 0 || f & flags::NO_WRITE != 0 {
                continue;
            }
            let has = f & flags::DEF_USER != 0;
            if has && f & flags::WRITE != 0 {
                let sym = &self.syms[s as usize];
                let same = match sym.ty {
                    SymType::Bool | SymType::Tristate => sym.def_tri == sym.curr_tri,
                    _ => sym.def_val.as_deref() == Some(sym.curr_val.as_str()),
                };
                if same {
                    continue;
                }
            } else if !has && f & flags::WRITE == 0 {
                continue;
            }
            unsaved += 1;
        }
        for i in 0..self.hash_order.len() {
            let s = self.hash_order[i];
            if !self.has_value(s) || self.is_choice_value(s) {
                continue;
            }
            if self.syms[s as usize].visible == Tri::N && unsaved == 0 {
                self.syms[s as usize].flags &= !flags::DEF_USER;
            }
            if matches!(
                self.syms[s as usize].ty,
                SymType::String | SymType::Int | SymType::Hex
            ) {
                let v = self.syms[s as usize].def_val.clone().unwrap_or_default();
                if !self.string_within_range(s, &v) {
                    self.syms[s as usize].flags &= !(flags::VALID | flags::DEF_USER);
                    unsaved += 1;
                }
            }
        }
        if warnings > 0 || unsaved > 0 {
            self.changed = true;
        }
    }

    /// `conf_set_all_new_symbols` for the non-random modes.
    pub fn set_all_new_symbols(&mut self, mode: Mode) {
        for i in 0..self.hash_order.len() {
            let s = self.hash_order[i];
            if self.has_value(s) || self.syms[s as usize].flags & flags::VALID != 0 {
                continue;
            }
            match self.sym_type(s) {
                SymType::Bool | SymType::Tristate => {
                    let t = match mode {
                        Mode::AllYes => Tri::Y,
                        Mode::AllMod => Tri::M,
                        Mode::AllNo => Tri::N,
                        Mode::AllDef => continue,
                    };
                    let sym = &mut self.syms[s as usize];
                    sym.def_tri = t;
                    sym.flags |= flags::DEF_USER;
                }
                _ => {}
            }
        }
        self.clear_all_valid();
        for i in 0..self.hash_order.len() {
            let s = self.hash_order[i];
            if (self.is_choice(s) && !self.has_value(s)) || self.is_choice_value(s) {
                self.syms[s as usize].flags |= flags::NEED_SET_CHOICE_VALUES;
            }
        }
        for i in 0..self.hash_order.len() {
            let s = self.hash_order[i];
            if self.has_value(s) || !self.is_choice(s) {
                continue;
            }
            self.calc_value(s);
            self.set_all_choice_values(s);
        }
    }

    /// `conf_write`: the `.config` text.
    pub fn write_config(&mut self) -> String {
        let mut out = String::with_capacity(256 * 1024);
        let title = self.menu_prompt(ROOT_MENU).unwrap_or("").to_string();
        out.push_str("#\n# Automatically generated file; DO NOT EDIT.\n");
        out.push_str(&format!("# {title}\n#\n"));
        if !self.changed {
            self.clear_all_valid();
        }
        let mut need_newline = false;
        let mut written: Vec<SymId> = Vec::new();
        let mut menu = self.menus[ROOT_MENU as usize].list;
        while let Some(m) = menu {
            match self.menus[m as usize].sym {
                None => {
                    if self.menu_is_visible(m) {
                        let p = self.menu_prompt(m).unwrap_or("");
                        out.push_str(&format!("\n#\n# {p}\n#\n"));
                        need_newline = false;
                    }
                }
                Some(s) => {
                    let f = self.syms[s as usize].flags;
                    if f & flags::CHOICE == 0 && f & flags::WRITTEN == 0 {
                        self.calc_value(s);
                        if self.syms[s as usize].flags & flags::WRITE != 0 {
                            if need_newline {
                                out.push('\n');
                                need_newline = false;
                            }
                            self.syms[s as usize].flags |= flags::WRITTEN;
                            written.push(s);
                            self.print_symbol(&mut out, s);
                        }
                    }
                }
            }
            if let Some(c) = self.menus[m as usize].list {
                menu = Some(c);
                continue;
            }
            let mut cur = m;
            loop {
                if self.menus[cur as usize].sym.is_none()
                    && cur != ROOT_MENU
                    && self.menu_is_visible(cur)
                    && self.menus[cur as usize]
                        .prompt
                        .is_some_and(|p| self.props[p as usize].kind == PropKind::Menu)
                {
                    let p = self.menu_prompt(cur).unwrap_or("");
                    out.push_str(&format!("# end of {p}\n"));
                    need_newline = true;
                }
                if let Some(n) = self.menus[cur as usize].next {
                    menu = Some(n);
                    break;
                }
                match self.menus[cur as usize].parent {
                    Some(p) => cur = p,
                    None => {
                        menu = None;
                        break;
                    }
                }
            }
        }
        for s in written {
            self.syms[s as usize].flags &= !flags::WRITTEN;
        }
        self.changed = false;
        out
    }

    fn print_symbol(&self, out: &mut String, s: SymId) {
        let sym = &self.syms[s as usize];
        match sym.ty {
            SymType::Unknown => {}
            SymType::Bool | SymType::Tristate => {
                if sym.curr_tri == Tri::N {
                    out.push_str(&format!("# CONFIG_{} is not set\n", sym.name));
                } else {
                    out.push_str(&format!("CONFIG_{}={}\n", sym.name, sym.curr_tri.as_str()));
                }
            }
            SymType::String => {
                out.push_str(&format!("CONFIG_{}={}\n", sym.name, escape(&sym.curr_val)));
            }
            SymType::Int | SymType::Hex => {
                out.push_str(&format!("CONFIG_{}={}\n", sym.name, sym.curr_val));
            }
        }
    }

    /// `conf_write_defconfig`: only the values that differ from their defaults.
    pub fn write_defconfig(&mut self) -> String {
        let mut out = String::new();
        self.clear_all_valid();
        let mut menu = self.menus[ROOT_MENU as usize].list;
        while let Some(m) = menu {
            match self.menus[m as usize].sym {
                None => {
                    // menu_is_visible is called for its side effects only.
                    let _ = self.menu_is_visible(m);
                }
                Some(s) if !self.is_choice(s) => self.defconfig_symbol(&mut out, s),
                Some(_) => {}
            }
            menu = self.next_menu(m);
        }
        out
    }

    fn defconfig_symbol(&mut self, out: &mut String, s: SymId) {
        self.calc_value(s);
        if self.syms[s as usize].flags & flags::WRITE == 0 {
            return;
        }
        self.syms[s as usize].flags &= !flags::WRITE;
        if !self.is_changeable(s) {
            return;
        }
        if self.string_value(s) == self.string_default(s) {
            return;
        }
        if self.is_choice_value(s)
            && let Some(cs) = self.syms[s as usize].choice
        {
            let ds = self.choice_default(cs);
            if self.syms[cs as usize].flags & flags::OPTIONAL == 0
                && ds == Some(s)
                && self.syms[s as usize].ty == SymType::Bool
                && self.syms[s as usize].curr_tri == Tri::Y
            {
                return;
            }
        }
        self.print_symbol(out, s);
    }

    fn next_menu(&self, m: MenuId) -> Option<MenuId> {
        if let Some(c) = self.menus[m as usize].list {
            return Some(c);
        }
        if let Some(n) = self.menus[m as usize].next {
            return Some(n);
        }
        let mut cur = m;
        while let Some(p) = self.menus[cur as usize].parent {
            if let Some(n) = self.menus[p as usize].next {
                return Some(n);
            }
            cur = p;
        }
        None
    }

    /// `conf --olddefconfig` on `config`: the `.config` it writes.
    pub fn olddefconfig(&mut self, config: &str) -> String {
        self.reset_values();
        self.read_config(config);
        self.write_config()
    }

    /// `conf --allnoconfig` (and the other `all*` modes) with an optional
    /// `KCONFIG_ALLCONFIG` text.
    pub fn allconfig(&mut self, mode: Mode, allconfig: Option<&str>) -> String {
        self.reset_values();
        if let Some(t) = allconfig {
            self.read_simple(t);
        }
        self.set_all_new_symbols(mode);
        self.write_config()
    }

    /// `conf --defconfig=FILE` with the file's text.
    pub fn defconfig(&mut self, text: &str) -> String {
        self.reset_values();
        self.read_config(text);
        self.set_all_new_symbols(Mode::AllDef);
        self.write_config()
    }

    /// `conf --savedefconfig` after reading `config`.
    pub fn savedefconfig(&mut self, config: &str) -> String {
        self.reset_values();
        self.read_config(config);
        self.write_defconfig()
    }

    /// `make tinyconfig`: allnoconfig with `kernel/configs/tiny-base.config`, then
    /// `tiny.config` (kernel and arch fragments) merged in and olddefconfig.
    pub fn tinyconfig(&mut self, srcarch: &str) -> Result<String> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
        };
        let base = read(&self.srctree.join("kernel/configs/tiny-base.config"))?;
        let mut text = self.allconfig(Mode::AllNo, Some(&base));
        for f in [
            self.srctree.join("kernel/configs/tiny.config"),
            self.srctree
                .join(format!("arch/{srcarch}/configs/tiny.config")),
        ] {
            if f.is_file() {
                text = merge_config(&text, &read(&f)?);
            }
        }
        Ok(self.olddefconfig(&text))
    }

    /// `make defconfig` for the architecture (`arch/SRCARCH/configs/ARCH_defconfig`, or
    /// `arch/SRCARCH/configs/defconfig` where there is none, as on arm64).
    pub fn arch_defconfig(&mut self, srcarch: &str, arch: &str) -> Result<String> {
        let dir = self.srctree.join(format!("arch/{srcarch}/configs"));
        let own = dir.join(format!("{arch}_defconfig"));
        let p = if own.is_file() {
            own
        } else {
            dir.join("defconfig")
        };
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        Ok(self.defconfig(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_replaces_lines_the_fragment_sets_and_appends_it() {
        let base = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_AB=y\n";
        let frag = "CONFIG_B=y\n# CONFIG_A is not set\n";
        assert_eq!(
            merge_config(base, frag),
            "CONFIG_AB=y\nCONFIG_B=y\n# CONFIG_A is not set\n"
        );
    }

    #[test]
    fn strings_are_escaped_like_conf() {
        assert_eq!(escape(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
