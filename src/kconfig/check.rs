//! Recursive dependencies: a port of `sym_check_deps` (`symbol.c`), which `conf` runs over
//! every symbol after parsing, and whose messages it prints before it exits with an error.

use super::tree::{Expr, ExprId, Kconfig, PropKind, SymId, flags};

/// Which of a symbol's expressions a stack entry was checking (`dep_stack.expr`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    /// None: a property's visibility (or not yet known).
    Visible,
    /// `depends on`.
    DirDep,
    /// What selects it.
    RevDep,
    /// What implies it.
    Implied,
    /// A `default`'s value.
    Default,
}

/// One entry of `dep_stack`.
#[derive(Clone, Copy)]
struct Frame {
    sym: SymId,
    prop: Option<u32>,
    which: Which,
}

/// The walk's state: `SYMBOL_CHECK` and `SYMBOL_CHECKED` per symbol, the stack, and the
/// messages printed so far.
struct Checker<'a> {
    kc: &'a Kconfig,
    check: Vec<bool>,
    checked: Vec<bool>,
    stack: Vec<Frame>,
    out: String,
}

impl Kconfig {
    /// Every recursive dependency of the tree, as `conf` reports them (empty when none).
    pub fn recursive_dependencies(&self) -> String {
        let n = self.syms.len();
        let mut c = Checker {
            kc: self,
            check: vec![false; n],
            checked: vec![false; n],
            stack: Vec::new(),
            out: String::new(),
        };
        for &s in &self.hash_order {
            c.deps(s);
        }
        c.out
    }
}

impl Checker<'_> {
    fn is_choice(&self, s: SymId) -> bool {
        self.kc.sym(s).flags & flags::CHOICE != 0
    }

    fn is_choice_value(&self, s: SymId) -> bool {
        self.kc.sym(s).flags & flags::CHOICEVAL != 0
    }

    fn name(&self, s: SymId) -> &str {
        let n = &self.kc.sym(s).name;
        if n.is_empty() { "<choice>" } else { n }
    }

    fn push(&mut self, sym: SymId) {
        self.stack.push(Frame {
            sym,
            prop: None,
            which: Which::Visible,
        });
    }

    fn top(&mut self) -> &mut Frame {
        let i = self.stack.len() - 1;
        &mut self.stack[i]
    }

    /// `sym_check_print_recursive`.
    fn print_recursive(&mut self, last: SymId) {
        let kc = self.kc;
        let mut last = last;
        let pushed = self.is_choice_value(last);
        if pushed {
            self.push(last);
            if let Some(c) = kc.sym(last).choice {
                last = c;
            }
        }
        let Some(start) = self.stack.iter().rposition(|f| f.sym == last) else {
            self.out.push_str("unexpected recursive dependency error\n");
            if pushed {
                self.stack.pop();
            }
            return;
        };
        for i in start..self.stack.len() {
            let f = self.stack[i];
            let sym = kc.sym(f.sym);
            let next = self.stack.get(i + 1).map_or(last, |n| n.sym);
            let mut prop = f.prop.or_else(|| sym.props.first().copied());
            let mut menu = None;
            if self.is_choice(f.sym) || self.is_choice_value(f.sym) {
                prop = sym.props.first().copied();
                menu = prop.map(|p| kc.props[p as usize].menu);
            }
            let (pfile, pline) = prop.map_or(("?", 0), |p| {
                let p = &kc.props[p as usize];
                (kc.file_name(p.file), p.line)
            });
            let (mfile, mline) = menu.map_or(("?", 0), |m| {
                let m = &kc.menus[m as usize];
                (kc.file_name(m.file), m.line)
            });
            if f.sym == last {
                self.out.push_str(&format!(
                    "{pfile}:{pline}:error: recursive dependency detected!\n"
                ));
            }
            let (a, b) = (self.name(f.sym), self.name(next));
            let line = if self.is_choice(f.sym) {
                format!("{mfile}:{mline}:\tchoice {a} contains symbol {b}\n")
            } else if self.is_choice_value(f.sym) {
                format!("{mfile}:{mline}:\tsymbol {a} is part of choice {b}\n")
            } else {
                match f.which {
                    Which::DirDep => format!("{pfile}:{pline}:\tsymbol {a} depends on {b}\n"),
                    Which::RevDep => format!("{pfile}:{pline}:\tsymbol {a} is selected by {b}\n"),
                    Which::Implied => format!("{pfile}:{pline}:\tsymbol {a} is implied by {b}\n"),
                    Which::Default => format!(
                        "{pfile}:{pline}:\tsymbol {a} {} value contains {b}\n",
                        prop.map_or("unknown", |p| kind_name(kc.props[p as usize].kind))
                    ),
                    Which::Visible => format!(
                        "{pfile}:{pline}:\tsymbol {a} {} is visible depending on {b}\n",
                        prop.map_or("unknown", |p| kind_name(kc.props[p as usize].kind))
                    ),
                }
            };
            self.out.push_str(&line);
        }
        self.out.push_str(
            "For a resolution refer to Documentation/kbuild/kconfig-language.rst\n\
             subsection \"Kconfig recursive dependency limitations\"\n\n",
        );
        if pushed {
            self.stack.pop();
        }
    }

    /// `sym_check_expr_deps`.
    fn expr_deps(&mut self, e: Option<ExprId>) -> Option<SymId> {
        match self.kc.exprs[e? as usize] {
            Expr::And(a, b) | Expr::Or(a, b) => {
                self.expr_deps(Some(a)).or_else(|| self.expr_deps(Some(b)))
            }
            Expr::Not(a) => self.expr_deps(Some(a)),
            Expr::Cmp(_, a, b) => self.deps(a).or_else(|| self.deps(b)),
            Expr::Sym(s) => self.deps(s),
            Expr::Range(..) => None,
        }
    }

    /// `sym_check_sym_deps`.
    fn sym_deps(&mut self, s: SymId) -> Option<SymId> {
        let kc = self.kc;
        let sym = kc.sym(s);
        self.push(s);
        let found = 'out: {
            for (which, e) in [
                (Which::DirDep, sym.dir_dep),
                (Which::RevDep, sym.rev_dep),
                (Which::Implied, sym.implied),
            ] {
                self.top().which = which;
                if let Some(r) = self.expr_deps(e) {
                    break 'out Some(r);
                }
            }
            self.top().which = Which::Visible;
            for &p in &sym.props {
                let prop = &kc.props[p as usize];
                if matches!(
                    prop.kind,
                    PropKind::Choice | PropKind::Select | PropKind::Imply
                ) {
                    continue;
                }
                self.top().prop = Some(p);
                if let Some(r) = self.expr_deps(prop.visible) {
                    break 'out Some(r);
                }
                if prop.kind != PropKind::Default || self.is_choice(s) {
                    continue;
                }
                self.top().which = Which::Default;
                if let Some(r) = self.expr_deps(prop.expr) {
                    break 'out Some(r);
                }
                self.top().which = Which::Visible;
            }
            None
        };
        self.stack.pop();
        found
    }

    /// `sym_check_choice_deps`.
    fn choice_deps(&mut self, choice: SymId) -> Option<SymId> {
        let values = self.kc.sym(choice).choice_values.clone();
        self.push(choice);
        for &v in &values {
            self.check[v as usize] = true;
            self.checked[v as usize] = true;
        }
        self.check[choice as usize] = true;
        self.checked[choice as usize] = true;
        let mut found = self.sym_deps(choice);
        self.check[choice as usize] = false;
        if found.is_none() {
            for &v in &values {
                found = self.sym_deps(v);
                if found.is_some() {
                    break;
                }
            }
        }
        for &v in &values {
            self.check[v as usize] = false;
        }
        if let Some(f) = found
            && self.is_choice_value(f)
            && self.kc.sym(f).choice == Some(choice)
        {
            found = Some(choice);
        }
        self.stack.pop();
        found
    }

    /// `sym_check_deps`.
    fn deps(&mut self, s: SymId) -> Option<SymId> {
        if self.check[s as usize] {
            self.print_recursive(s);
            return Some(s);
        }
        if self.checked[s as usize] {
            return None;
        }
        if self.is_choice_value(s) {
            self.push(s);
            let found = self.kc.sym(s).choice.and_then(|c| self.deps(c));
            self.stack.pop();
            found
        } else if self.is_choice(s) {
            self.choice_deps(s)
        } else {
            self.check[s as usize] = true;
            self.checked[s as usize] = true;
            let found = self.sym_deps(s);
            self.check[s as usize] = false;
            found
        }
    }
}

/// `prop_get_type_name`.
fn kind_name(k: PropKind) -> &'static str {
    match k {
        PropKind::Prompt => "prompt",
        PropKind::Comment => "comment",
        PropKind::Menu => "menu",
        PropKind::Default => "default",
        PropKind::Choice => "choice",
        PropKind::Select => "select",
        PropKind::Imply => "imply",
        PropKind::Range => "range",
        PropKind::Symbol => "symbol",
    }
}
