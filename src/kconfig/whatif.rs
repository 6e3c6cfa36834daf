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

/// Everything evaluation writes in a tree, to put back.
struct Snapshot {
    computed: Vec<Computed>,
    values: Vec<(SymId, String)>,
    prop_vis: Vec<Tri>,
    changed: bool,
    modules_val: Tri,
}

impl Snapshot {
    fn take(kc: &Kconfig) -> Snapshot {
        Snapshot {
            computed: kc
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
                .collect(),
            values: kc
                .syms
                .iter()
                .enumerate()
                .filter(|(_, y)| !y.curr_val.is_empty())
                .map(|(i, y)| (i as SymId, y.curr_val.clone()))
                .collect(),
            prop_vis: kc.props.iter().map(|p| p.visible_tri).collect(),
            changed: kc.changed,
            modules_val: kc.modules_val,
        }
    }

    /// Puts the computed state back; the symbols in `user` keep their flags (a switch set
    /// their user values) but are to be recomputed.
    fn restore(&self, kc: &mut Kconfig, user: &[SymId]) {
        for (i, (y, c)) in kc.syms.iter_mut().zip(&self.computed).enumerate() {
            if user.contains(&(i as SymId)) {
                y.flags &= !flags::VALID;
            } else {
                y.flags = c.flags;
            }
            y.curr_tri = c.curr_tri;
            y.curr_choice = c.curr_choice;
            y.visible = c.visible;
            y.dir_dep_tri = c.dir_dep_tri;
            y.rev_dep_tri = c.rev_dep_tri;
            y.implied_tri = c.implied_tri;
            y.curr_val.clear();
        }
        for (i, v) in &self.values {
            kc.syms[*i as usize].curr_val.clone_from(v);
        }
        for (p, v) in kc.props.iter_mut().zip(&self.prop_vis) {
            p.visible_tri = *v;
        }
        kc.changed = self.changed;
        kc.modules_val = self.modules_val;
    }
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

    /// After a switch of the `user` symbols, with every other value as it was before it:
    /// the switched symbols are recomputed and, wherever a symbol's value really changed,
    /// the symbols that read it (`deps`), until nothing changes. What the switch cannot
    /// reach, or reaches without a change, is never recomputed.
    fn propagate(&mut self, deps: &Dependents, user: &[SymId]) {
        let state = |y: &super::tree::Symbol| {
            (
                y.curr_tri,
                y.visible,
                y.curr_choice,
                y.rev_dep_tri,
                y.dir_dep_tri,
                y.implied_tri,
                y.curr_val.clone(),
            )
        };
        let mut queued = vec![false; self.syms.len()];
        let mut queue = std::collections::VecDeque::new();
        for &u in user {
            if !std::mem::replace(&mut queued[u as usize], true) {
                queue.push_back(u);
            }
        }
        while let Some(x) = queue.pop_front() {
            queued[x as usize] = false;
            if x < 3 {
                continue;
            }
            let old = state(&self.syms[x as usize]);
            self.syms[x as usize].flags &= !flags::VALID;
            self.calc_value(x);
            if state(&self.syms[x as usize]) != old {
                for &y in &deps.of[x as usize] {
                    if !std::mem::replace(&mut queued[y as usize], true) {
                        queue.push_back(y);
                    }
                }
            }
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
        let snap = Snapshot::take(self);
        let mut saved = Vec::new();
        let changed = if on {
            self.switch_on(s, &mut saved, 0)
        } else {
            self.save(s, &mut saved);
            self.set_tristate_value(s, Tri::N)
        };
        if let Some(d) = deps {
            // The values from before the switch, then recomputed only where it reaches.
            let user: Vec<SymId> = saved.iter().map(|v| v.sym).collect();
            snap.restore(self, &user);
            self.propagate(d, &user);
        }
        let mut out = Vec::new();
        if changed {
            for (i, &w) in watch.iter().enumerate() {
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
        snap.restore(self, &[]);
        out
    }
}
