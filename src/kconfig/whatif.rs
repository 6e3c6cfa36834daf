//! "What if": the symbols that change when one option is switched, everything it selects,
//! implies and needs included, without keeping the change.

use super::tree::{Expr, ExprId, Kconfig, SymId, Tri, flags};

/// For each symbol, the symbols whose value reads it (in a dependency, a select, an imply,
/// a prompt's or default's condition, a default or range value, or a choice group): what
/// may change when it changes. Build once per tree with [`Kconfig::dependents`].
pub struct Dependents {
    of: Vec<Vec<SymId>>,
}

fn expr_syms(kc: &Kconfig, e: Option<ExprId>, out: &mut Vec<SymId>) {
    let Some(e) = e else { return };
    match kc.exprs[e as usize] {
        Expr::Sym(s) => out.push(s),
        Expr::Not(a) => expr_syms(kc, Some(a), out),
        Expr::And(a, b) | Expr::Or(a, b) => {
            expr_syms(kc, Some(a), out);
            expr_syms(kc, Some(b), out);
        }
        Expr::Cmp(_, a, b) | Expr::Range(a, b) => {
            out.push(a);
            out.push(b);
        }
    }
}

/// A symbol's computed state (what evaluation writes), saved to be put back exactly, so
/// that a what-if leaves nothing to recompute.
#[derive(Clone, Copy)]
struct Computed {
    flags: u32,
    curr_tri: Tri,
    curr_choice: Option<SymId>,
    visible: Tri,
    dir_dep_tri: Tri,
    rev_dep_tri: Tri,
    implied_tri: Tri,
}

/// A symbol's user value, saved to be put back.
struct Saved {
    sym: SymId,
    def_tri: Tri,
    def_val: Option<String>,
    def_choice: Option<SymId>,
}

impl Kconfig {
    /// The reverse dependency graph of the tree (see [`Dependents`]).
    pub fn dependents(&self) -> Dependents {
        let mut of: Vec<Vec<SymId>> = vec![Vec::new(); self.syms.len()];
        let mut read = Vec::new();
        for (i, y) in self.syms.iter().enumerate() {
            let x = i as SymId;
            read.clear();
            expr_syms(self, y.dir_dep, &mut read);
            expr_syms(self, y.rev_dep, &mut read);
            expr_syms(self, y.implied, &mut read);
            for &p in &y.props {
                let p = &self.props[p as usize];
                expr_syms(self, p.expr, &mut read);
                expr_syms(self, p.visible, &mut read);
            }
            if let Some(c) = y.choice {
                read.push(c);
            }
            read.extend(y.choice_values.iter().copied());
            for &r in &read {
                if (r as usize) < of.len() && r != x {
                    of[r as usize].push(x);
                }
            }
        }
        for v in &mut of {
            v.sort_unstable();
            v.dedup();
        }
        Dependents { of }
    }

    /// Symbols in `e` that are `n` and would have to be on for it to hold (its AND terms,
    /// the first term of an OR).
    pub fn missing_deps(&mut self, e: Option<ExprId>, out: &mut Vec<SymId>) {
        let Some(e) = e else { return };
        if self.expr_value(Some(e)) != Tri::N {
            return;
        }
        match self.exprs[e as usize] {
            Expr::And(a, b) => {
                self.missing_deps(Some(a), out);
                self.missing_deps(Some(b), out);
            }
            Expr::Or(a, _) => self.missing_deps(Some(a), out),
            Expr::Sym(s) if s > 2 && !self.is_choice(s) && !out.contains(&s) => out.push(s),
            _ => {}
        }
    }

    fn save(&self, s: SymId, saved: &mut Vec<Saved>) {
        let mut ids = vec![s];
        if let Some(c) = self.syms[s as usize].choice {
            ids.push(c);
            ids.extend(self.syms[c as usize].choice_values.iter().copied());
        }
        for id in ids {
            let y = &self.syms[id as usize];
            saved.push(Saved {
                sym: id,
                def_tri: y.def_tri,
                def_val: y.def_val.clone(),
                def_choice: y.def_choice,
            });
        }
    }

    /// Turns `s` on as a user would: its missing dependencies first (up to 8 levels).
    fn switch_on(&mut self, s: SymId, saved: &mut Vec<Saved>, depth: u32) -> bool {
        if self.tri_value(s) != Tri::N {
            return true;
        }
        if !self.tristate_within_range(s, Tri::Y) && depth < 8 {
            let mut deps = Vec::new();
            let dep = self.syms[s as usize].dir_dep;
            self.missing_deps(dep, &mut deps);
            for d in deps {
                self.switch_on(d, saved, depth + 1);
            }
        }
        self.save(s, saved);
        self.set_tristate_value(s, Tri::Y)
    }

    /// Switches `s` on (with what it needs) or off, reads the values of `watch`, and puts
    /// every user value back: returns the watched symbols whose value changed as
    /// `(symbol, was on, is on)` ("on" is anything but `n`). Empty when `s` cannot change.
    pub fn what_if(&mut self, s: SymId, on: bool, watch: &[SymId]) -> Vec<(SymId, bool, bool)> {
        self.what_if_in(s, on, watch, None)
    }

    /// [`Kconfig::what_if`], recomputing only what can change: with `deps` (the tree's
    /// [`Kconfig::dependents`]), the values of symbols that do not read, even indirectly,
    /// a symbol the switch touched are kept instead of being recomputed.
    pub fn what_if_in(
        &mut self,
        s: SymId,
        on: bool,
        watch: &[SymId],
        deps: Option<&Dependents>,
    ) -> Vec<(SymId, bool, bool)> {
        let before: Vec<bool> = watch.iter().map(|&w| self.tri_value(w) != Tri::N).collect();
        // Everything evaluation may write, to put back afterwards: the tree is then exactly
        // as it was, with nothing left to recompute.
        let computed: Vec<Computed> = self
            .syms
            .iter()
            .map(|y| Computed {
                flags: y.flags,
                curr_tri: y.curr_tri,
                curr_choice: y.curr_choice,
                visible: y.visible,
                dir_dep_tri: y.dir_dep_tri,
                rev_dep_tri: y.rev_dep_tri,
                implied_tri: y.implied_tri,
            })
            .collect();
        let values: Vec<(SymId, String)> = self
            .syms
            .iter()
            .enumerate()
            .filter(|(_, y)| !y.curr_val.is_empty())
            .map(|(i, y)| (i as SymId, y.curr_val.clone()))
            .collect();
        let prop_vis: Vec<Tri> = self.props.iter().map(|p| p.visible_tri).collect();
        let (was_changed, modules_val) = (self.changed, self.modules_val);
        let mut saved = Vec::new();
        let changed = if on {
            self.switch_on(s, &mut saved, 0)
        } else {
            self.save(s, &mut saved);
            self.set_tristate_value(s, Tri::N)
        };
        // Everything that may change: what reads a touched symbol, transitively. Every other
        // value is still right: mark it valid again instead of recomputing it.
        let reach = deps.map(|d| {
            let mut seen = vec![false; self.syms.len()];
            let mut stack: Vec<SymId> = saved.iter().map(|v| v.sym).collect();
            while let Some(x) = stack.pop() {
                if std::mem::replace(&mut seen[x as usize], true) {
                    continue;
                }
                stack.extend(d.of[x as usize].iter().copied());
            }
            seen
        });
        if let Some(seen) = &reach {
            for (i, y) in self.syms.iter_mut().enumerate().skip(3) {
                if !seen[i] && computed[i].flags & flags::VALID != 0 {
                    y.flags |= flags::VALID;
                }
            }
        }
        let mut out = Vec::new();
        if changed {
            for (i, &w) in watch.iter().enumerate() {
                if reach.as_ref().is_some_and(|r| !r[w as usize]) {
                    continue;
                }
                let now = self.tri_value(w) != Tri::N;
                if now != before[i] {
                    out.push((w, before[i], now));
                }
            }
        }
        for sv in saved.into_iter().rev() {
            let y = &mut self.syms[sv.sym as usize];
            y.def_tri = sv.def_tri;
            y.def_val = sv.def_val;
            y.def_choice = sv.def_choice;
        }
        for (y, c) in self.syms.iter_mut().zip(&computed) {
            y.flags = c.flags;
            y.curr_tri = c.curr_tri;
            y.curr_choice = c.curr_choice;
            y.visible = c.visible;
            y.dir_dep_tri = c.dir_dep_tri;
            y.rev_dep_tri = c.rev_dep_tri;
            y.implied_tri = c.implied_tri;
            y.curr_val.clear();
        }
        for (i, v) in values {
            self.syms[i as usize].curr_val = v;
        }
        for (p, v) in self.props.iter_mut().zip(prop_vis) {
            p.visible_tri = v;
        }
        self.changed = was_changed;
        self.modules_val = modules_val;
        out
    }
}
