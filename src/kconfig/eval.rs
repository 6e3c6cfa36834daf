//! Evaluation, ported from `scripts/kconfig/symbol.c` and `menu_finalize` in `menu.c`.

use super::tree::{
    Cmp, Expr, ExprId, Kconfig, MenuId, PropId, PropKind, SYM_MOD, SYM_NO, SYM_YES, SymId, SymType,
    Tri, flags,
};

/// Parses a number as C's `strtoll`/`strtoull` do: returns (value as i128, characters
/// consumed, overflowed).
fn c_strtol(s: &str, mut base: u32) -> (i128, usize, bool) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && (b[i] == b' ' || (b'\t'..=b'\r').contains(&b[i])) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let has_hex_prefix = i + 1 < b.len()
        && b[i] == b'0'
        && (b[i + 1] == b'x' || b[i + 1] == b'X')
        && b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit());
    if base == 0 {
        base = if has_hex_prefix {
            16
        } else if b.get(i) == Some(&b'0') {
            8
        } else {
            10
        };
    }
    if base == 16 && has_hex_prefix {
        i += 2;
    }
    let start = i;
    let mut v: i128 = 0;
    let mut over = false;
    while i < b.len() {
        let d = match (b[i] as char).to_digit(base) {
            Some(d) => d,
            None => break,
        };
        v = v * i128::from(base) + i128::from(d);
        if v > u64::MAX as i128 * 2 {
            over = true;
            v = u64::MAX as i128 * 2;
        }
        i += 1;
    }
    if i == start {
        return (0, 0, false);
    }
    (if neg { -v } else { v }, i, over)
}

/// C's `strtoll` (saturating).
pub fn strtoll(s: &str, base: u32) -> i64 {
    let (v, _, _) = c_strtol(s, base);
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

#[derive(Clone, Copy)]
enum Num {
    Str,
    Signed(i64),
    Unsigned(u64),
}

/// `expr_parse_string` from `expr.c`.
fn parse_string(s: &str, ty: SymType) -> Num {
    match ty {
        SymType::Bool | SymType::Tristate => {
            return Num::Signed(match s {
                "n" => 0,
                "m" => 1,
                "y" => 2,
                _ => -1,
            });
        }
        _ => {}
    }
    let (base, unsigned) = match ty {
        SymType::Int => (10, false),
        SymType::Hex => (16, true),
        _ => (0, false),
    };
    let (v, n, over) = c_strtol(s, base);
    let ok = n > 0 && n == s.len() && s.as_bytes()[n - 1].is_ascii_hexdigit();
    if !ok {
        return Num::Str;
    }
    if unsigned {
        // strtoull: negative values wrap, out of range sets errno.
        if over || v > u64::MAX as i128 || v < -(u64::MAX as i128) {
            return Num::Str;
        }
        Num::Unsigned(if v < 0 { (v as i64) as u64 } else { v as u64 })
    } else {
        if over || v > i64::MAX as i128 || v < i64::MIN as i128 {
            return Num::Str;
        }
        Num::Signed(v as i64)
    }
}

fn is_hex_valid(s: &str) -> bool {
    let t = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    // The C loop checks the first character even when the string is empty.
    !t.is_empty() && t.bytes().all(|c| c.is_ascii_hexdigit())
}

impl Kconfig {
    fn flag(&self, s: SymId, f: u32) -> bool {
        self.syms[s as usize].flags & f != 0
    }

    fn set_flag(&mut self, s: SymId, f: u32) {
        self.syms[s as usize].flags |= f;
    }

    fn clear_flag(&mut self, s: SymId, f: u32) {
        self.syms[s as usize].flags &= !f;
    }

    /// Whether the symbol is a choice.
    pub fn is_choice(&self, s: SymId) -> bool {
        self.flag(s, flags::CHOICE)
    }

    /// Whether the symbol is a value of a choice.
    pub fn is_choice_value(&self, s: SymId) -> bool {
        self.flag(s, flags::CHOICEVAL)
    }

    /// Whether the symbol has a user value (`sym_has_value`).
    pub fn has_value(&self, s: SymId) -> bool {
        self.flag(s, flags::DEF_USER)
    }

    fn prop_sym(&self, p: PropId) -> Option<SymId> {
        match self.props[p as usize].expr.map(|e| self.exprs[e as usize]) {
            Some(Expr::Sym(s)) => Some(s),
            _ => None,
        }
    }

    /// `expr_calc_value`.
    pub fn expr_value(&mut self, e: Option<ExprId>) -> Tri {
        let Some(e) = e else {
            return Tri::Y;
        };
        match self.exprs[e as usize] {
            Expr::Sym(s) => {
                self.calc_value(s);
                self.syms[s as usize].curr_tri
            }
            Expr::And(a, b) => {
                let x = self.expr_value(Some(a));
                let y = self.expr_value(Some(b));
                x.and(y)
            }
            Expr::Or(a, b) => {
                let x = self.expr_value(Some(a));
                let y = self.expr_value(Some(b));
                x.or(y)
            }
            Expr::Not(a) => self.expr_value(Some(a)).negate(),
            Expr::Cmp(op, a, b) => {
                self.calc_value(a);
                self.calc_value(b);
                let s1 = self.string_value(a);
                let s2 = self.string_value(b);
                let (t1, t2) = (self.syms[a as usize].ty, self.syms[b as usize].ty);
                let (k1, k2) = if t1 != SymType::String || t2 != SymType::String {
                    (parse_string(&s1, t1), parse_string(&s2, t2))
                } else {
                    (Num::Str, Num::Str)
                };
                let res = match (k1, k2) {
                    (Num::Str, _) | (_, Num::Str) => s1.as_bytes().cmp(s2.as_bytes()),
                    (Num::Unsigned(_), _) | (_, Num::Unsigned(_)) => {
                        let u = |k: Num| match k {
                            Num::Unsigned(u) => u,
                            Num::Signed(s) => s as u64,
                            Num::Str => 0,
                        };
                        u(k1).cmp(&u(k2))
                    }
                    (Num::Signed(x), Num::Signed(y)) => x.cmp(&y),
                };
                use std::cmp::Ordering::*;
                let t = match op {
                    Cmp::Eq => res == Equal,
                    Cmp::Ne => res != Equal,
                    Cmp::Lt => res == Less,
                    Cmp::Le => res != Greater,
                    Cmp::Gt => res == Greater,
                    Cmp::Ge => res != Less,
                };
                if t { Tri::Y } else { Tri::N }
            }
            Expr::Range(..) => Tri::N,
        }
    }

    /// `sym_get_string_value`: the value as `.config` would show it.
    pub fn string_value(&self, s: SymId) -> String {
        let sym = &self.syms[s as usize];
        match sym.ty {
            SymType::Bool | SymType::Tristate => sym.curr_tri.as_str().to_string(),
            _ => sym.curr_val.clone(),
        }
    }

    /// The first property of `kind` whose condition holds (storing the conditions' values).
    fn first_prop(&mut self, s: SymId, kind: PropKind) -> Option<PropId> {
        let n = self.syms[s as usize].props.len();
        for i in 0..n {
            let p = self.syms[s as usize].props[i];
            if self.props[p as usize].kind != kind {
                continue;
            }
            let v = self.expr_value(self.props[p as usize].visible);
            self.props[p as usize].visible_tri = v;
            if v != Tri::N {
                return Some(p);
            }
        }
        None
    }

    /// `sym_get_default_prop`: the first default whose condition holds.
    pub fn default_prop(&mut self, s: SymId) -> Option<PropId> {
        self.first_prop(s, PropKind::Default)
    }

    /// `sym_get_range_prop`: the first range whose condition holds.
    pub fn range_prop(&mut self, s: SymId) -> Option<PropId> {
        self.first_prop(s, PropKind::Range)
    }

    /// The two bounds of a range property.
    pub fn range_bounds(&self, p: PropId) -> Option<(SymId, SymId)> {
        match self.props[p as usize].expr.map(|e| self.exprs[e as usize]) {
            Some(Expr::Range(a, b)) => Some((a, b)),
            _ => None,
        }
    }

    fn range_val(&mut self, s: SymId, base: u32) -> i64 {
        self.calc_value(s);
        let base = match self.syms[s as usize].ty {
            SymType::Int => 10,
            SymType::Hex => 16,
            _ => base,
        };
        strtoll(&self.syms[s as usize].curr_val, base)
    }

    fn validate_range(&mut self, s: SymId) {
        let base = match self.syms[s as usize].ty {
            SymType::Int => 10,
            SymType::Hex => 16,
            _ => return,
        };
        let Some(p) = self.range_prop(s) else {
            return;
        };
        let Some((lo, hi)) = self.range_bounds(p) else {
            return;
        };
        let val = strtoll(&self.syms[s as usize].curr_val, base);
        let mut rs = lo;
        let v2 = self.range_val(lo, base);
        if val >= v2 {
            rs = hi;
            let v3 = self.range_val(hi, base);
            if val <= v3 {
                return;
            }
        }
        let v = self.syms[rs as usize].curr_val.clone();
        self.syms[s as usize].curr_val = v;
    }

    fn calc_visibility(&mut self, s: SymId) {
        let choice_sym = if self.is_choice_value(s) {
            self.syms[s as usize].choice
        } else {
            None
        };
        let mut tri = Tri::N;
        let n = self.syms[s as usize].props.len();
        for i in 0..n {
            let p = self.syms[s as usize].props[i];
            if self.props[p as usize].text.is_none() {
                continue;
            }
            let mut v = self.expr_value(self.props[p as usize].visible);
            if let Some(c) = choice_sym
                && self.syms[s as usize].ty == SymType::Tristate
                && v == Tri::M
                && self.syms[c as usize].curr_tri == Tri::Y
            {
                v = Tri::N;
            }
            self.props[p as usize].visible_tri = v;
            tri = tri.or(v);
        }
        if tri == Tri::M
            && (self.syms[s as usize].ty != SymType::Tristate || self.modules_val == Tri::N)
        {
            tri = Tri::Y;
        }
        self.syms[s as usize].visible = tri;
        if self.is_choice_value(s) {
            return;
        }
        let mut t = self.expr_value(self.syms[s as usize].dir_dep);
        if t == Tri::M && self.sym_type(s) == SymType::Bool {
            t = Tri::Y;
        }
        self.syms[s as usize].dir_dep_tri = t;
        let mut t = match self.syms[s as usize].rev_dep {
            Some(e) => self.expr_value(Some(e)),
            None => Tri::N,
        };
        if t == Tri::M && self.sym_type(s) == SymType::Bool {
            t = Tri::Y;
        }
        self.syms[s as usize].rev_dep_tri = t;
        let mut t = match self.syms[s as usize].implied {
            Some(e) => self.expr_value(Some(e)),
            None => Tri::N,
        };
        if t == Tri::M && self.sym_type(s) == SymType::Bool {
            t = Tri::Y;
        }
        self.syms[s as usize].implied_tri = t;
    }

    /// `sym_choice_default`: the choice's default value, or its first visible value.
    pub fn choice_default(&mut self, c: SymId) -> Option<SymId> {
        let n = self.syms[c as usize].props.len();
        for i in 0..n {
            let p = self.syms[c as usize].props[i];
            if self.props[p as usize].kind != PropKind::Default {
                continue;
            }
            let v = self.expr_value(self.props[p as usize].visible);
            self.props[p as usize].visible_tri = v;
            if v == Tri::N {
                continue;
            }
            if let Some(d) = self.prop_sym(p)
                && self.syms[d as usize].visible != Tri::N
            {
                return Some(d);
            }
        }
        let vals = self.syms[c as usize].choice_values.clone();
        vals.into_iter()
            .find(|&d| self.syms[d as usize].visible != Tri::N)
    }

    fn calc_choice(&mut self, c: SymId) -> Option<SymId> {
        let mut f = self.syms[c as usize].flags;
        let vals = self.syms[c as usize].choice_values.clone();
        for &d in &vals {
            self.calc_visibility(d);
            if self.syms[d as usize].visible != Tri::N {
                f &= self.syms[d as usize].flags;
            }
        }
        self.syms[c as usize].flags &= f | !flags::DEF_USER;
        if let Some(d) = self.syms[c as usize].def_choice
            && self.syms[d as usize].visible != Tri::N
        {
            return Some(d);
        }
        let d = self.choice_default(c);
        if d.is_none() {
            self.syms[c as usize].curr_tri = Tri::N;
        }
        d
    }

    /// `sym_calc_value`: computes the symbol's value (once until invalidated).
    pub fn calc_value(&mut self, s: SymId) {
        if self.flag(s, flags::VALID) {
            return;
        }
        if self.is_choice_value(s) && self.flag(s, flags::NEED_SET_CHOICE_VALUES) {
            self.clear_flag(s, flags::NEED_SET_CHOICE_VALUES);
            if let Some(c) = self.syms[s as usize].choice {
                self.calc_value(c);
            }
        }
        self.set_flag(s, flags::VALID);
        // Only a change of MODULES matters (it changes every tristate's type).
        let old_tri = self.syms[s as usize].curr_tri;
        let ty = self.syms[s as usize].ty;
        let (mut new_tri, mut new_val) = match ty {
            SymType::Int | SymType::Hex | SymType::String | SymType::Bool | SymType::Tristate => {
                (Tri::N, String::new())
            }
            SymType::Unknown => {
                let sym = &mut self.syms[s as usize];
                sym.curr_val = sym.name.clone();
                sym.curr_tri = Tri::N;
                return;
            }
        };
        self.clear_flag(s, flags::WRITE);
        self.calc_visibility(s);
        if self.syms[s as usize].visible != Tri::N {
            self.set_flag(s, flags::WRITE);
        }
        {
            let sym = &mut self.syms[s as usize];
            sym.curr_tri = new_tri;
            sym.curr_val.clear();
            sym.curr_choice = None;
        }
        match self.sym_type(s) {
            SymType::Bool | SymType::Tristate => {
                let visible = self.syms[s as usize].visible;
                if self.is_choice_value(s) && visible == Tri::Y {
                    let c = self.syms[s as usize].choice;
                    new_tri = match c {
                        Some(c) if self.syms[c as usize].curr_choice == Some(s) => Tri::Y,
                        _ => Tri::N,
                    };
                } else {
                    let mut done = false;
                    if visible != Tri::N && self.has_value(s) {
                        new_tri = self.syms[s as usize].def_tri.and(visible);
                        done = true;
                    }
                    if !done {
                        if self.syms[s as usize].rev_dep_tri != Tri::N {
                            self.set_flag(s, flags::WRITE);
                        }
                        if !self.is_choice(s) {
                            if let Some(p) = self.default_prop(s) {
                                let e = self.props[p as usize].expr;
                                let v = self.expr_value(e);
                                new_tri = v.and(self.props[p as usize].visible_tri);
                                if new_tri != Tri::N {
                                    self.set_flag(s, flags::WRITE);
                                }
                            }
                            let imp = self.syms[s as usize].implied_tri;
                            if imp != Tri::N {
                                self.set_flag(s, flags::WRITE);
                                new_tri = new_tri.or(imp);
                                new_tri = new_tri.and(self.syms[s as usize].dir_dep_tri);
                            }
                        }
                    }
                    let sym = &self.syms[s as usize];
                    if sym.dir_dep_tri < sym.rev_dep_tri {
                        let w = format!("unmet direct dependencies detected for {}", sym.name);
                        if self.warnings.len() < 10_000 {
                            self.warnings.push(w);
                        }
                    }
                    new_tri = new_tri.or(self.syms[s as usize].rev_dep_tri);
                }
                if new_tri == Tri::M && self.sym_type(s) == SymType::Bool {
                    new_tri = Tri::Y;
                }
            }
            SymType::String | SymType::Hex | SymType::Int => {
                let mut done = false;
                if self.syms[s as usize].visible != Tri::N && self.has_value(s) {
                    new_val = self.syms[s as usize].def_val.clone().unwrap_or_default();
                    done = true;
                }
                if !done
                    && let Some(p) = self.default_prop(s)
                    && let Some(ds) = self.prop_sym(p)
                {
                    self.set_flag(s, flags::WRITE);
                    self.calc_value(ds);
                    new_val = self.syms[ds as usize].curr_val.clone();
                }
            }
            SymType::Unknown => {}
        }
        {
            let sym = &mut self.syms[s as usize];
            sym.curr_tri = new_tri;
            sym.curr_val = new_val;
        }
        if self.is_choice(s) && new_tri == Tri::Y {
            let c = self.calc_choice(s);
            self.syms[s as usize].curr_choice = c;
        }
        self.validate_range(s);
        if self.modules_sym == s && old_tri != self.syms[s as usize].curr_tri {
            self.modules_val = self.syms[s as usize].curr_tri;
        }
        if self.is_choice(s) {
            let write = self.flag(s, flags::WRITE);
            let vals = self.syms[s as usize].choice_values.clone();
            for v in vals {
                if write && self.syms[v as usize].visible != Tri::N {
                    self.set_flag(v, flags::WRITE);
                }
            }
        }
        if self.flag(s, flags::NO_WRITE) {
            self.clear_flag(s, flags::WRITE);
        }
        if self.flag(s, flags::NEED_SET_CHOICE_VALUES) {
            self.set_all_choice_values(s);
        }
    }

    /// `set_all_choice_values`: choice values without a user value become `n`.
    pub fn set_all_choice_values(&mut self, c: SymId) {
        let vals = self.syms[c as usize].choice_values.clone();
        for v in vals {
            if !self.has_value(v) {
                self.syms[v as usize].def_tri = Tri::N;
            }
        }
        self.set_flag(c, flags::DEF_USER);
        self.clear_flag(c, flags::VALID | flags::NEED_SET_CHOICE_VALUES);
    }

    /// `sym_clear_all_valid`: invalidates every value and recomputes `MODULES`.
    pub fn clear_all_valid(&mut self) {
        for i in 3..self.syms.len() {
            self.syms[i].flags &= !flags::VALID;
        }
        self.changed = true;
        let m = self.modules_sym;
        self.calc_value(m);
    }

    /// The current tristate value (computed if needed).
    pub fn tri_value(&mut self, s: SymId) -> Tri {
        self.calc_value(s);
        self.syms[s as usize].curr_tri
    }

    /// The current value as `.config` writes it (`n`, `m`, `y`, a number or a string).
    pub fn value(&mut self, s: SymId) -> String {
        self.calc_value(s);
        self.string_value(s)
    }

    /// `sym_tristate_within_range`.
    pub fn tristate_within_range(&mut self, s: SymId, val: Tri) -> bool {
        let ty = self.sym_type(s);
        let sym = &self.syms[s as usize];
        if sym.visible == Tri::N {
            return false;
        }
        if ty != SymType::Bool && ty != SymType::Tristate {
            return false;
        }
        if ty == SymType::Bool && val == Tri::M {
            return false;
        }
        if sym.visible <= sym.rev_dep_tri {
            return false;
        }
        if sym.flags & flags::CHOICEVAL != 0 && sym.visible == Tri::Y {
            return val == Tri::Y;
        }
        val >= sym.rev_dep_tri && val <= sym.visible
    }

    /// `sym_set_tristate_value`: sets a user value; false when out of range.
    pub fn set_tristate_value(&mut self, s: SymId, val: Tri) -> bool {
        let old = self.tri_value(s);
        if old != val && !self.tristate_within_range(s, val) {
            return false;
        }
        if !self.has_value(s) {
            self.set_flag(s, flags::DEF_USER);
        }
        if self.is_choice_value(s)
            && val == Tri::Y
            && let Some(c) = self.syms[s as usize].choice
        {
            {
                self.syms[c as usize].def_choice = Some(s);
                self.set_flag(c, flags::DEF_USER);
                let vals = self.syms[c as usize].choice_values.clone();
                for v in vals {
                    if self.syms[v as usize].visible != Tri::N {
                        self.set_flag(v, flags::DEF_USER);
                    }
                }
            }
        }
        self.syms[s as usize].def_tri = val;
        if old != val {
            self.clear_all_valid();
        }
        true
    }

    /// `sym_string_valid`.
    pub fn string_valid(&self, s: SymId, v: &str) -> bool {
        match self.syms[s as usize].ty {
            SymType::String => true,
            SymType::Int => {
                let t = v.strip_prefix('-').unwrap_or(v);
                let b = t.as_bytes();
                !b.is_empty()
                    && b[0].is_ascii_digit()
                    && !(b[0] == b'0' && b.len() > 1)
                    && b.iter().all(u8::is_ascii_digit)
            }
            SymType::Hex => is_hex_valid(v),
            SymType::Bool | SymType::Tristate => {
                matches!(
                    v.as_bytes().first(),
                    Some(b'y' | b'Y' | b'm' | b'M' | b'n' | b'N')
                )
            }
            SymType::Unknown => false,
        }
    }

    /// `sym_string_within_range`.
    pub fn string_within_range(&mut self, s: SymId, v: &str) -> bool {
        let ty = self.syms[s as usize].ty;
        match ty {
            SymType::String => true,
            SymType::Int | SymType::Hex => {
                if !self.string_valid(s, v) {
                    return false;
                }
                let Some(p) = self.range_prop(s) else {
                    return true;
                };
                let Some((lo, hi)) = self.range_bounds(p) else {
                    return true;
                };
                let base = if ty == SymType::Int { 10 } else { 16 };
                let val = strtoll(v, base);
                val >= self.range_val(lo, base) && val <= self.range_val(hi, base)
            }
            SymType::Bool | SymType::Tristate => match v.as_bytes().first() {
                Some(b'y' | b'Y') => self.tristate_within_range(s, Tri::Y),
                Some(b'm' | b'M') => self.tristate_within_range(s, Tri::M),
                Some(b'n' | b'N') => self.tristate_within_range(s, Tri::N),
                _ => false,
            },
            SymType::Unknown => false,
        }
    }

    /// `sym_set_string_value`: sets a user value from text; false when invalid or out of
    /// range (the values stay untouched).
    pub fn set_value(&mut self, s: SymId, v: &str) -> bool {
        match self.syms[s as usize].ty {
            SymType::Bool | SymType::Tristate => {
                return match v.as_bytes().first() {
                    Some(b'y' | b'Y') => self.set_tristate_value(s, Tri::Y),
                    Some(b'm' | b'M') => self.set_tristate_value(s, Tri::M),
                    Some(b'n' | b'N') => self.set_tristate_value(s, Tri::N),
                    _ => false,
                };
            }
            SymType::Unknown => return false,
            _ => {}
        }
        if !self.string_within_range(s, v) {
            return false;
        }
        self.set_flag(s, flags::DEF_USER);
        let prefix = self.syms[s as usize].ty == SymType::Hex
            && !(v.starts_with("0x") || v.starts_with("0X"));
        if !prefix && self.syms[s as usize].def_val.as_deref() == Some(v) {
            return true;
        }
        let nv = if prefix {
            format!("0x{v}")
        } else {
            v.to_string()
        };
        self.syms[s as usize].def_val = Some(nv);
        self.clear_all_valid();
        true
    }

    /// `sym_get_string_default`: the value the symbol would have without a user value.
    pub fn string_default(&mut self, s: SymId) -> String {
        self.calc_visibility(s);
        let m = self.modules_sym;
        self.calc_value(m);
        let mut val = Tri::N;
        let mut st = String::new();
        let ty = self.syms[s as usize].ty;
        if let Some(p) = self.default_prop(s) {
            match ty {
                SymType::Bool | SymType::Tristate => {
                    let e = self.props[p as usize].expr;
                    val = self.expr_value(e).and(self.props[p as usize].visible_tri);
                }
                _ => {
                    if let Some(ds) = self.prop_sym(p) {
                        self.calc_value(ds);
                        st = self.syms[ds as usize].curr_val.clone();
                    }
                }
            }
        }
        val = val.or(self.syms[s as usize].rev_dep_tri);
        if val == Tri::M
            && !self.is_choice_value(s)
            && self.syms[self.modules_sym as usize].curr_tri == Tri::N
        {
            val = Tri::Y;
        }
        if ty == SymType::Bool && val == Tri::M {
            val = Tri::Y;
        }
        if val < self.syms[s as usize].implied_tri {
            val = self.syms[s as usize].implied_tri;
        }
        match ty {
            SymType::Bool | SymType::Tristate => val.as_str().to_string(),
            SymType::Int | SymType::Hex | SymType::String => st,
            SymType::Unknown => String::new(),
        }
    }

    /// `sym_is_changeable`: the user can change it (visible above what selects force).
    pub fn is_changeable(&self, s: SymId) -> bool {
        let sym = &self.syms[s as usize];
        sym.visible > sym.rev_dep_tri
    }

    /// `menu_is_visible`.
    pub fn menu_is_visible(&mut self, m: MenuId) -> bool {
        let Some(p) = self.menus[m as usize].prompt else {
            return false;
        };
        if let Some(v) = self.menus[m as usize].visibility
            && self.expr_value(Some(v)) == Tri::N
        {
            return false;
        }
        let sym = self.menus[m as usize].sym;
        let visible = if let Some(s) = sym {
            self.calc_value(s);
            self.props[p as usize].visible_tri
        } else {
            let v = self.expr_value(self.props[p as usize].visible);
            self.props[p as usize].visible_tri = v;
            v
        };
        if visible != Tri::N {
            return true;
        }
        let Some(s) = sym else {
            return false;
        };
        if self.syms[s as usize].curr_tri == Tri::N {
            return false;
        }
        let mut c = self.menus[m as usize].list;
        while let Some(ch) = c {
            if self.menu_is_visible(ch) {
                self.set_flag(s, flags::DEF_USER);
                return true;
            }
            c = self.menus[ch as usize].next;
        }
        false
    }

    /// `rewrite_m`: `m` in a dependency means `m && MODULES`.
    fn rewrite_m(&mut self, e: Option<ExprId>) -> Option<ExprId> {
        let e = e?;
        Some(match self.exprs[e as usize] {
            Expr::Not(a) => {
                let a2 = self.rewrite_m(Some(a))?;
                if a2 == a { e } else { self.expr(Expr::Not(a2)) }
            }
            Expr::And(a, b) | Expr::Or(a, b) => {
                let a2 = self.rewrite_m(Some(a))?;
                let b2 = self.rewrite_m(Some(b))?;
                if a2 == a && b2 == b {
                    e
                } else if matches!(self.exprs[e as usize], Expr::And(..)) {
                    self.expr(Expr::And(a2, b2))
                } else {
                    self.expr(Expr::Or(a2, b2))
                }
            }
            Expr::Sym(SYM_MOD) => {
                let m = self.expr(Expr::Sym(self.modules_sym));
                self.expr(Expr::And(e, m))
            }
            _ => e,
        })
    }

    /// `expr_contains_symbol`.
    pub fn expr_contains(&self, e: Option<ExprId>, s: SymId) -> bool {
        let Some(e) = e else {
            return false;
        };
        match self.exprs[e as usize] {
            Expr::And(a, b) | Expr::Or(a, b) => {
                self.expr_contains(Some(a), s) || self.expr_contains(Some(b), s)
            }
            Expr::Not(a) => self.expr_contains(Some(a), s),
            Expr::Sym(x) => x == s,
            Expr::Cmp(_, a, b) | Expr::Range(a, b) => a == s || b == s,
        }
    }

    /// `expr_depends_symbol`.
    fn expr_depends(&self, e: Option<ExprId>, s: SymId) -> bool {
        let Some(e) = e else {
            return false;
        };
        match self.exprs[e as usize] {
            Expr::And(a, b) => self.expr_depends(Some(a), s) || self.expr_depends(Some(b), s),
            Expr::Sym(x) => x == s,
            Expr::Cmp(Cmp::Eq, a, b) => a == s && (b == SYM_YES || b == SYM_MOD),
            Expr::Cmp(Cmp::Ne, a, b) => a == s && b == SYM_NO,
            _ => false,
        }
    }

    fn conjuncts(&self, e: Option<ExprId>, out: &mut Vec<ExprId>) {
        let Some(e) = e else {
            return;
        };
        match self.exprs[e as usize] {
            Expr::And(a, b) => {
                self.conjuncts(Some(a), out);
                self.conjuncts(Some(b), out);
            }
            _ => out.push(e),
        }
    }

    /// Structural equality of two expressions.
    pub fn expr_eq(&self, a: ExprId, b: ExprId) -> bool {
        if a == b {
            return true;
        }
        match (self.exprs[a as usize], self.exprs[b as usize]) {
            (Expr::Sym(x), Expr::Sym(y)) => x == y,
            (Expr::Not(x), Expr::Not(y)) => self.expr_eq(x, y),
            (Expr::And(a1, b1), Expr::And(a2, b2)) | (Expr::Or(a1, b1), Expr::Or(a2, b2)) => {
                self.expr_eq(a1, a2) && self.expr_eq(b1, b2)
            }
            (Expr::Cmp(o1, a1, b1), Expr::Cmp(o2, a2, b2)) => o1 == o2 && a1 == a2 && b1 == b2,
            _ => false,
        }
    }
}

/// `menu_finalize`: propagates dependencies into children and properties, builds reverse
/// dependencies, gathers choice values, nests entries that depend on the one before them
/// and flattens `if` blocks.
pub fn menu_finalize(kc: &mut Kconfig, parent: MenuId) {
    let sym = kc.menus[parent as usize].sym;
    if kc.menus[parent as usize].list.is_some() {
        let parentdep = if let Some(s) = sym.filter(|&s| kc.is_choice(s)) {
            if kc.syms[s as usize].ty == SymType::Unknown {
                for ch in kc.children(parent) {
                    if let Some(cs) = kc.menus[ch as usize].sym
                        && kc.syms[cs as usize].ty != SymType::Unknown
                    {
                        kc.syms[s as usize].ty = kc.syms[cs as usize].ty;
                        break;
                    }
                }
            }
            for ch in kc.children(parent) {
                if let Some(cs) = kc.menus[ch as usize].sym
                    && kc.syms[cs as usize].ty == SymType::Unknown
                {
                    kc.syms[cs as usize].ty = kc.syms[s as usize].ty;
                }
            }
            Some(kc.expr(Expr::Sym(s)))
        } else {
            kc.menus[parent as usize].dep
        };
        for ch in kc.children(parent) {
            let d = kc.menus[ch as usize].dep;
            let d = kc.rewrite_m(d);
            let basedep = kc.expr_and(parentdep, d);
            kc.menus[ch as usize].dep = basedep;
            let props: Vec<PropId> = match kc.menus[ch as usize].sym {
                Some(s) => kc.syms[s as usize].props.clone(),
                None => kc.menus[ch as usize].prompt.into_iter().collect(),
            };
            for p in props {
                if kc.props[p as usize].menu != ch {
                    continue;
                }
                let v = kc.props[p as usize].visible;
                let v = kc.rewrite_m(v);
                let dep = kc.expr_and(basedep, v);
                kc.props[p as usize].visible = dep;
                let kind = kc.props[p as usize].kind;
                if matches!(kind, PropKind::Select | PropKind::Imply)
                    && let Some(es) = kc.prop_sym(p)
                    && let Some(ms) = kc.menus[ch as usize].sym
                {
                    let me = kc.expr(Expr::Sym(ms));
                    let term = kc.expr_and(Some(me), dep);
                    if kind == PropKind::Select {
                        let old = kc.syms[es as usize].rev_dep;
                        kc.syms[es as usize].rev_dep = kc.expr_or(old, term);
                    } else {
                        let old = kc.syms[es as usize].implied;
                        kc.syms[es as usize].implied = kc.expr_or(old, term);
                    }
                }
            }
        }
        // The next pointers are read after each call: finalizing an entry may move the
        // entries after it into its submenu.
        let mut c = kc.menus[parent as usize].list;
        while let Some(ch) = c {
            menu_finalize(kc, ch);
            c = kc.menus[ch as usize].next;
        }
    } else if let Some(s) = sym {
        let basedep = kc.menus[parent as usize]
            .prompt
            .and_then(|p| kc.props[p as usize].visible);
        let mut base_conj = Vec::new();
        kc.conjuncts(basedep, &mut base_conj);
        let mut last: Option<MenuId> = None;
        let mut m = kc.menus[parent as usize].next;
        while let Some(mi) = m {
            let dep = match kc.menus[mi as usize].prompt {
                Some(p) => kc.props[p as usize].visible,
                None => kc.menus[mi as usize].dep,
            };
            if !kc.expr_contains(dep, s) {
                break;
            }
            if !kc.expr_depends(dep, s) {
                let mut dc = Vec::new();
                kc.conjuncts(dep, &mut dc);
                let superset = basedep.is_some()
                    && base_conj
                        .iter()
                        .all(|&b| dc.iter().any(|&d| kc.expr_eq(b, d)));
                if !superset {
                    break;
                }
            }
            menu_finalize(kc, mi);
            kc.menus[mi as usize].parent = Some(parent);
            last = Some(mi);
            m = kc.menus[mi as usize].next;
        }
        if let Some(l) = last {
            kc.menus[parent as usize].list = kc.menus[parent as usize].next;
            kc.menus[parent as usize].next = kc.menus[l as usize].next;
            kc.menus[l as usize].next = None;
        }
        let pd = kc.menus[parent as usize].dep;
        let old = kc.syms[s as usize].dir_dep;
        kc.syms[s as usize].dir_dep = kc.expr_or(old, pd);
    }
    let mut m = kc.menus[parent as usize].list;
    while let Some(mi) = m {
        if let Some(cs) = sym.filter(|&c| kc.is_choice(c))
            && let Some(ms) = kc.menus[mi as usize].sym
            && !kc.is_choice_value(ms)
        {
            kc.syms[ms as usize].flags |= flags::CHOICEVAL;
            if kc.syms[cs as usize].ty == SymType::Tristate
                && kc.syms[ms as usize].ty != SymType::Tristate
            {
                let eq = kc.expr(Expr::Cmp(Cmp::Eq, cs, SYM_YES));
                let d = kc.menus[mi as usize].dep;
                kc.menus[mi as usize].dep = kc.expr_and(Some(eq), d);
                for p in kc.syms[ms as usize].props.clone() {
                    if kc.props[p as usize].menu != mi {
                        continue;
                    }
                    let v = kc.props[p as usize].visible;
                    kc.props[p as usize].visible = kc.expr_and(Some(eq), v);
                }
            }
            let pid = kc.props.len() as PropId;
            let ce = kc.expr(Expr::Sym(cs));
            let (file, line) = (kc.menus[mi as usize].file, kc.menus[mi as usize].line);
            kc.props.push(super::tree::Property {
                kind: PropKind::Choice,
                expr: Some(ce),
                visible: None,
                visible_tri: Tri::N,
                menu: mi,
                file,
                line,
                text: None,
            });
            kc.syms[ms as usize].props.push(pid);
            kc.syms[ms as usize].choice = Some(cs);
            kc.syms[cs as usize].choice_values.push(ms);
        }
        let has_text = kc.menus[mi as usize]
            .prompt
            .is_some_and(|p| kc.props[p as usize].text.is_some());
        if let Some(first) = kc.menus[mi as usize].list
            && !has_text
        {
            let mut lm = first;
            loop {
                kc.menus[lm as usize].parent = Some(parent);
                match kc.menus[lm as usize].next {
                    Some(n) => lm = n,
                    None => break,
                }
            }
            kc.menus[lm as usize].next = kc.menus[mi as usize].next;
            kc.menus[mi as usize].next = Some(first);
            kc.menus[mi as usize].list = None;
        }
        m = kc.menus[mi as usize].next;
    }
    if let Some(s) = sym
        && kc.syms[s as usize].flags & flags::OPTIONAL == 0
        && let Some(p) = kc.menus[parent as usize].prompt
    {
        let v = kc.props[p as usize].visible;
        let me = kc.expr(Expr::Sym(SYM_MOD));
        let term = kc.expr_and(v, Some(me));
        let old = kc.syms[s as usize].rev_dep;
        kc.syms[s as usize].rev_dep = kc.expr_or(old, term);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_like_strtoll() {
        assert_eq!(strtoll("0x1f", 16), 31);
        assert_eq!(strtoll("1f", 16), 31);
        assert_eq!(strtoll("-12abc", 10), -12);
        assert_eq!(strtoll("junk", 10), 0);
        assert_eq!(strtoll("99999999999999999999", 10), i64::MAX);
        assert!(matches!(
            parse_string("0x10", SymType::Hex),
            Num::Unsigned(16)
        ));
        assert!(matches!(parse_string("12", SymType::Int), Num::Signed(12)));
        assert!(matches!(parse_string("12a", SymType::Int), Num::Str));
        assert!(matches!(parse_string("y", SymType::Bool), Num::Signed(2)));
    }
}
