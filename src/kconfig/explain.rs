//! Explanations in words: why a symbol has its value, and what a requested value needs.

use super::tree::{Expr, ExprId, Kconfig, MenuId, ROOT_MENU, SymId, SymType, Tri, flags};

impl Kconfig {
    /// An expression as Kconfig writes it, with the current value of each symbol in
    /// brackets when `values` is set.
    pub fn expr_text(&mut self, e: Option<ExprId>, values: bool) -> String {
        match e {
            None => "y".to_string(),
            Some(e) => self.expr_text_prec(e, 0, values),
        }
    }

    fn sym_text(&mut self, s: SymId, values: bool) -> String {
        let sym = &self.syms[s as usize];
        let name = if sym.flags & flags::CONST != 0 {
            format!("\"{}\"", sym.name)
        } else if sym.name.is_empty() {
            "<choice>".to_string()
        } else {
            sym.name.clone()
        };
        if values && sym.flags & flags::CONST == 0 && s > 2 && sym.ty != SymType::Unknown {
            let v = self.value(s);
            format!("{name} [={v}]")
        } else {
            name
        }
    }

    fn expr_text_prec(&mut self, e: ExprId, prec: u8, values: bool) -> String {
        match self.exprs[e as usize] {
            Expr::Sym(s) => self.sym_text(s, values),
            Expr::Not(a) => format!("!{}", self.expr_text_prec(a, 3, values)),
            Expr::And(a, b) => {
                let t = format!(
                    "{} && {}",
                    self.expr_text_prec(a, 2, values),
                    self.expr_text_prec(b, 2, values)
                );
                if prec > 2 { format!("({t})") } else { t }
            }
            Expr::Or(a, b) => {
                let t = format!(
                    "{} || {}",
                    self.expr_text_prec(a, 1, values),
                    self.expr_text_prec(b, 1, values)
                );
                if prec > 1 { format!("({t})") } else { t }
            }
            Expr::Cmp(op, a, b) => format!(
                "{}{}{}",
                self.sym_text(a, values),
                op.as_str(),
                self.sym_text(b, values)
            ),
            Expr::Range(a, b) => format!(
                "[{} {}]",
                self.sym_text(a, values),
                self.sym_text(b, values)
            ),
        }
    }

    /// The terms of an OR chain (`select` and `imply` reverse dependencies).
    pub fn or_terms(&self, e: Option<ExprId>) -> Vec<ExprId> {
        let mut out = Vec::new();
        let mut stack: Vec<ExprId> = e.into_iter().collect();
        while let Some(x) = stack.pop() {
            match self.exprs[x as usize] {
                Expr::Or(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                _ => out.push(x),
            }
        }
        out
    }

    /// The symbol a reverse-dependency term starts with (`SELECTOR && cond`).
    pub fn term_source(&self, t: ExprId) -> Option<SymId> {
        match self.exprs[t as usize] {
            Expr::And(a, _) => match self.exprs[a as usize] {
                Expr::Sym(s) => Some(s),
                _ => None,
            },
            Expr::Sym(s) => Some(s),
            _ => None,
        }
    }

    /// The menu path of an entry ("General setup > Timers subsystem").
    pub fn menu_path(&self, m: MenuId) -> String {
        let mut parts = Vec::new();
        let mut p = self.menus[m as usize].parent;
        while let Some(pm) = p {
            if pm == ROOT_MENU {
                break;
            }
            if let Some(t) = self.menu_prompt(pm) {
                parts.push(t.to_string());
            }
            p = self.menus[pm as usize].parent;
        }
        parts.reverse();
        parts.join(" > ")
    }

    /// Explains the value of `s` in words: where it is defined, what it depends on, what
    /// selects or implies it, which default applies.
    pub fn why(&mut self, s: SymId) -> String {
        let value = self.value(s);
        let name = self.syms[s as usize].name.clone();
        let ty = self.syms[s as usize].ty;
        let mut out = format!("CONFIG_{name} = {value} ({})\n", ty.name());
        for m in self.syms[s as usize].menus.clone() {
            let menu = &self.menus[m as usize];
            let at = format!("{}:{}", self.file_name(menu.file), menu.line);
            let path = self.menu_path(m);
            match menu.prompt {
                Some(p) => {
                    let text = self.props[p as usize].text.clone().unwrap_or_default();
                    let vis = self.props[p as usize].visible;
                    let v = self.expr_value(vis);
                    out.push_str(&format!("  defined at {at}: \"{text}\""));
                    if !path.is_empty() {
                        out.push_str(&format!(" in {path}"));
                    }
                    out.push('\n');
                    if v == Tri::N {
                        let t = self.expr_text(vis, true);
                        out.push_str(&format!(
                            "    its prompt is hidden: it shows only if {t}, which is n here\n"
                        ));
                    }
                }
                None => out.push_str(&format!(
                    "  defined at {at} without a prompt: only defaults and selects set it\n"
                )),
            }
        }
        let dd = self.syms[s as usize].dir_dep;
        if dd.is_some() {
            let v = self.expr_value(dd);
            let t = self.expr_text(dd, true);
            out.push_str(&format!("  depends on {t} (= {})\n", v.as_str()));
        }
        let sel = self.syms[s as usize].rev_dep;
        for term in self.or_terms(sel) {
            let v = self.expr_value(Some(term));
            let t = self.expr_text(Some(term), true);
            if self.term_source(term).is_some_and(|x| self.is_choice(x)) {
                continue;
            }
            out.push_str(&format!("  selected by {t} (= {})\n", v.as_str()));
        }
        let imp = self.syms[s as usize].implied;
        for term in self.or_terms(imp) {
            let v = self.expr_value(Some(term));
            let t = self.expr_text(Some(term), true);
            out.push_str(&format!("  implied by {t} (= {})\n", v.as_str()));
        }
        if self.has_value(s) {
            out.push_str("  the configuration sets it explicitly\n");
        } else if let Some(p) = self.default_prop(s) {
            let e = self.props[p as usize].expr;
            let et = self.expr_text(e, false);
            let (file, line) = (self.props[p as usize].file, self.props[p as usize].line);
            out.push_str(&format!(
                "  its default is {et} ({}:{line})\n",
                self.file_name(file)
            ));
        }
        if self.syms[s as usize].rev_dep_tri > self.syms[s as usize].dir_dep_tri {
            out.push_str("  warning: selected although its dependencies are not met\n");
        }
        out
    }
}
