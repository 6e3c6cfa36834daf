//! The Kconfig parser (`scripts/kconfig/parser.y` and the parse-time half of `menu.c`):
//! statements build the menu tree and the symbols' properties exactly as the C actions do.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Result, anyhow, bail};

use super::cache::ShellCache;
use super::lexer::{Kw, Lexer, Tok};
use super::preprocess::{Flavor, Preprocessor};
use super::tree::{
    Cmp, Expr, ExprId, Kconfig, Menu, MenuId, PropId, PropKind, Property, ROOT_MENU, SymId,
    SymType, flags,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    List(MenuId),
    Next(MenuId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    None,
    Config,
    MenuConfig,
    Choice,
    Menu,
    Comment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Menu,
    Choice,
    If,
}

struct Parser<'a, 'b> {
    kc: &'a mut Kconfig,
    pp: Preprocessor<'b>,
    current_menu: MenuId,
    current_entry: MenuId,
    last: Link,
    kind: Kind,
    file: u32,
    line: u32,
    blocks: Vec<(Block, MenuId, u32)>,
    stack: Vec<String>,
    depth: u32,
}

/// Parses the tree's root `Kconfig` (and everything it sources) into `kc`.
pub fn parse(
    kc: &mut Kconfig,
    env: &HashMap<String, String>,
    cache: &mut ShellCache,
    workdir: &Path,
) -> Result<()> {
    let pp = Preprocessor::new(env, cache, workdir);
    let mut p = Parser {
        kc,
        pp,
        current_menu: ROOT_MENU,
        current_entry: ROOT_MENU,
        last: Link::List(ROOT_MENU),
        kind: Kind::None,
        file: 0,
        line: 0,
        blocks: Vec::new(),
        stack: Vec::new(),
        depth: 0,
    };
    p.parse_file("Kconfig")?;
    if let Some(&(b, m, _)) = p.blocks.last() {
        let menu = &p.kc.menus[m as usize];
        bail!(
            "{}:{}: missing end statement for this {:?} entry",
            p.kc.file_name(menu.file),
            menu.line,
            b
        );
    }
    p.kc.env_used = std::mem::take(&mut p.pp.env_used);
    p.kc.warnings.extend(std::mem::take(&mut p.pp.messages));
    if p.kc.menus[ROOT_MENU as usize].prompt.is_none() {
        p.current_entry = ROOT_MENU;
        p.add_prompt(PropKind::Menu, "Main menu".into(), None);
    }
    Ok(())
}

impl Parser<'_, '_> {
    fn err(&self, msg: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("{}:{}: {}", self.kc.file_name(self.file), self.line, msg)
    }

    fn parse_file(&mut self, name: &str) -> Result<()> {
        if self.stack.iter().any(|n| n == name) {
            return Err(self.err(format!(
                "recursive inclusion detected: {} -> {name}",
                self.stack.join(" -> ")
            )));
        }
        let path = if Path::new(name).is_absolute() {
            Path::new(name).to_path_buf()
        } else {
            self.kc.srctree.join(name)
        };
        let text = std::fs::read(&path).map_err(|e| {
            if self.stack.is_empty() {
                anyhow!("can't find file {}: {e}", path.display())
            } else {
                self.err(format!("can't open file \"{name}\": {e}"))
            }
        })?;
        let saved = (self.file, self.line, self.pp.file.clone());
        self.kc.files.push(name.to_string());
        self.kc.file_count += 1;
        self.file = (self.kc.files.len() - 1) as u32;
        self.pp.file = name.to_string();
        self.stack.push(name.to_string());
        let depth = self.blocks.len();
        let mut lx = Lexer::new(text);
        let r = self.parse_stmts(&mut lx);
        self.stack.pop();
        r?;
        if self.blocks.len() > depth {
            let m = self.blocks[self.blocks.len() - 1].1;
            let line = self.kc.menus[m as usize].line;
            self.line = line;
            return Err(self.err("missing end statement for this entry"));
        }
        (self.file, self.line, self.pp.file) = saved;
        self.pp.line = self.line;
        Ok(())
    }

    fn parse_stmts(&mut self, lx: &mut Lexer) -> Result<()> {
        loop {
            let mut tok = lx.next(&mut self.pp)?;
            while tok == Tok::Eol {
                tok = lx.next(&mut self.pp)?;
            }
            if tok == Tok::Eof {
                return Ok(());
            }
            self.line = lx.line;
            self.pp.line = lx.line;
            let mut toks = vec![tok];
            loop {
                let t = lx.next(&mut self.pp)?;
                if toks.len() == 1
                    && matches!(toks[0], Tok::Word(_))
                    && matches!(t, Tok::Equal | Tok::ColonEqual | Tok::PlusEqual)
                {
                    let value = lx.assign_value();
                    let flavor = match t {
                        Tok::Equal => Flavor::Recursive,
                        Tok::ColonEqual => Flavor::Simple,
                        _ => Flavor::Append,
                    };
                    if let Tok::Word(name) = &toks[0] {
                        self.pp.add_variable(name, &value, flavor)?;
                    }
                    self.kind = Kind::None;
                    toks.clear();
                    break;
                }
                if matches!(t, Tok::Eol | Tok::Eof) {
                    break;
                }
                toks.push(t);
            }
            if toks.is_empty() {
                continue;
            }
            if toks[0] == Tok::Kw(Kw::Help) {
                if toks.len() != 1 {
                    return Err(self.err("invalid statement: text after 'help'"));
                }
                let text = lx.help_text();
                self.help(text)?;
                continue;
            }
            self.statement(&toks)?;
        }
    }

    fn help(&mut self, text: String) -> Result<()> {
        if !matches!(self.kind, Kind::Config | Kind::MenuConfig | Kind::Choice) {
            return Err(self.err("invalid statement: help outside a config or choice"));
        }
        self.kc.menus[self.current_entry as usize].help = Some(text);
        Ok(())
    }

    fn statement(&mut self, t: &[Tok]) -> Result<()> {
        let Tok::Kw(kw) = &t[0] else {
            if let Tok::Word(w) = &t[0] {
                return Err(self.err(format!("unknown statement \"{w}\"")));
            }
            return Err(self.err("invalid statement"));
        };
        match kw {
            Kw::MainMenu => {
                let text = self.quote_only(&t[1..])?;
                self.add_prompt(PropKind::Menu, text, None);
                self.kind = Kind::None;
            }
            Kw::Config | Kw::MenuConfig => {
                let name = match t {
                    [_, Tok::Word(w)] => w.clone(),
                    _ => return Err(self.err("expected one symbol name after config")),
                };
                let sym = self.kc.sym_lookup(Some(&name), 0);
                self.kc.syms[sym as usize].flags |= flags::OPTIONAL;
                self.add_entry(Some(sym));
                self.kind = if *kw == Kw::Config {
                    Kind::Config
                } else {
                    Kind::MenuConfig
                };
            }
            Kw::Choice => {
                let name = match t {
                    [_] => None,
                    [_, Tok::Word(w)] => Some(w.clone()),
                    _ => return Err(self.err("invalid choice statement")),
                };
                let sym = self.kc.sym_lookup(name.as_deref(), flags::CHOICE);
                self.kc.syms[sym as usize].flags |= flags::NO_WRITE;
                self.add_entry(Some(sym));
                self.add_prop(PropKind::Choice, None, None);
                self.add_menu(Block::Choice);
                self.kind = Kind::Choice;
            }
            Kw::Menu => {
                let text = self.quote_only(&t[1..])?;
                self.add_entry(None);
                self.add_prompt(PropKind::Menu, text, None);
                self.add_menu(Block::Menu);
                self.kind = Kind::Menu;
            }
            Kw::Comment => {
                let text = self.quote_only(&t[1..])?;
                self.add_entry(None);
                self.add_prompt(PropKind::Comment, text, None);
                self.kind = Kind::Comment;
            }
            Kw::If => {
                let e = self.expr_all(&t[1..])?;
                self.add_entry(None);
                self.add_dep(Some(e));
                self.add_menu(Block::If);
                self.kind = Kind::None;
            }
            Kw::EndMenu | Kw::EndChoice | Kw::EndIf => {
                if t.len() != 1 {
                    return Err(self.err("invalid statement"));
                }
                let want = match kw {
                    Kw::EndMenu => Block::Menu,
                    Kw::EndChoice => Block::Choice,
                    _ => Block::If,
                };
                let name = |b: Block| match b {
                    Block::Menu => "menu",
                    Block::Choice => "choice",
                    Block::If => "if",
                };
                match self.blocks.last() {
                    None => {
                        return Err(self.err(format!("unexpected 'end{}'", name(want))));
                    }
                    Some(&(b, _, f)) => {
                        if b != want {
                            return Err(self.err(format!(
                                "unexpected '{}' within {} block",
                                name(want),
                                name(b)
                            )));
                        }
                        if f != self.file {
                            return Err(self.err(format!(
                                "'{}' in different file than '{}'",
                                name(want),
                                name(b)
                            )));
                        }
                    }
                }
                self.blocks.pop();
                self.last = Link::Next(self.current_menu);
                self.current_menu = self.kc.menus[self.current_menu as usize]
                    .parent
                    .unwrap_or(ROOT_MENU);
                self.kind = Kind::None;
            }
            Kw::Source => {
                let path = self.quote_only(&t[1..])?;
                self.kind = Kind::None;
                self.parse_file(&path)?;
            }
            _ => self.option(*kw, t)?,
        }
        Ok(())
    }

    fn option(&mut self, kw: Kw, t: &[Tok]) -> Result<()> {
        let k = self.kind;
        let is_config = matches!(k, Kind::Config | Kind::MenuConfig);
        match kw {
            Kw::Bool | Kw::Tristate | Kw::Int | Kw::Hex | Kw::String
                if is_config || (k == Kind::Choice && matches!(kw, Kw::Bool | Kw::Tristate)) =>
            {
                let ty = match kw {
                    Kw::Bool => SymType::Bool,
                    Kw::Tristate => SymType::Tristate,
                    Kw::Int => SymType::Int,
                    Kw::Hex => SymType::Hex,
                    _ => SymType::String,
                };
                if t.len() > 1 {
                    let (text, cond) = self.prompt_args(&t[1..])?;
                    self.add_prompt(PropKind::Prompt, text, cond);
                }
                self.set_type(ty);
            }
            Kw::Prompt if is_config || k == Kind::Choice => {
                let (text, cond) = self.prompt_args(&t[1..])?;
                self.add_prompt(PropKind::Prompt, text, cond);
            }
            Kw::Default | Kw::DefBool | Kw::DefTristate if is_config => {
                let (e, cond) = self.expr_if(&t[1..])?;
                self.add_prop(PropKind::Default, Some(e), cond);
                match kw {
                    Kw::DefBool => self.set_type(SymType::Bool),
                    Kw::DefTristate => self.set_type(SymType::Tristate),
                    _ => {}
                }
            }
            Kw::Default if k == Kind::Choice => {
                let (e, cond) = self.expr_if(&t[1..])?;
                if !matches!(t.get(1), Some(Tok::Word(_)))
                    || !matches!(self.kc.exprs[e as usize], Expr::Sym(_))
                {
                    return Err(self.err("a choice default must be a symbol"));
                }
                self.add_prop(PropKind::Default, Some(e), cond);
            }
            Kw::Select | Kw::Imply if is_config => {
                let (e, cond) = self.expr_if(&t[1..])?;
                if !matches!(t.get(1), Some(Tok::Word(_)))
                    || !matches!(self.kc.exprs[e as usize], Expr::Sym(_))
                {
                    return Err(self.err("select and imply take one symbol name"));
                }
                let kind = if kw == Kw::Select {
                    PropKind::Select
                } else {
                    PropKind::Imply
                };
                self.add_prop(kind, Some(e), cond);
            }
            Kw::Range if is_config => {
                let split = t.iter().position(|x| *x == Tok::Kw(Kw::If));
                let (vals, cond) = match split {
                    Some(i) => (&t[1..i], Some(self.expr_all(&t[i + 1..])?)),
                    None => (&t[1..], None),
                };
                let [a, b] = vals else {
                    return Err(self.err("range takes two values"));
                };
                let a = self.symbol(a)?;
                let b = self.symbol(b)?;
                let e = self.kc.expr(Expr::Range(a, b));
                self.add_prop(PropKind::Range, Some(e), cond);
            }
            Kw::Modules if is_config && t.len() == 1 => {
                let sym = self.kc.menus[self.current_entry as usize]
                    .sym
                    .ok_or_else(|| self.err("modules outside a config"))?;
                if self.kc.modules_sym != super::tree::SYM_NO {
                    return Err(self.err(format!(
                        "symbol '{}' redefines option 'modules' already defined by symbol '{}'",
                        self.kc.syms[sym as usize].name,
                        self.kc.syms[self.kc.modules_sym as usize].name
                    )));
                }
                self.kc.modules_sym = sym;
            }
            Kw::Depends
                if matches!(
                    k,
                    Kind::Config | Kind::MenuConfig | Kind::Choice | Kind::Menu | Kind::Comment
                ) =>
            {
                if t.get(1) != Some(&Tok::Kw(Kw::On)) {
                    return Err(self.err("expected 'depends on'"));
                }
                let e = self.expr_all(&t[2..])?;
                self.add_dep(Some(e));
            }
            Kw::Visible if k == Kind::Menu => {
                let cond = match t.get(1) {
                    None => None,
                    Some(Tok::Kw(Kw::If)) => Some(self.expr_all(&t[2..])?),
                    _ => return Err(self.err("expected 'visible if'")),
                };
                let m = &mut self.kc.menus[self.current_entry as usize];
                let old = m.visibility;
                let v = self.kc.expr_and(old, cond);
                self.kc.menus[self.current_entry as usize].visibility = v;
            }
            Kw::Optional if k == Kind::Choice && t.len() == 1 => {
                if let Some(s) = self.kc.menus[self.current_entry as usize].sym {
                    self.kc.syms[s as usize].flags |= flags::OPTIONAL;
                }
            }
            _ => return Err(self.err("invalid statement")),
        }
        Ok(())
    }

    fn quote_only(&self, t: &[Tok]) -> Result<String> {
        match t {
            [Tok::Quote(q)] => Ok(q.clone()),
            _ => Err(self.err("expected one quoted string")),
        }
    }

    fn prompt_args(&mut self, t: &[Tok]) -> Result<(String, Option<ExprId>)> {
        match t {
            [Tok::Quote(q)] => Ok((q.clone(), None)),
            [Tok::Quote(q), Tok::Kw(Kw::If), rest @ ..] => {
                Ok((q.clone(), Some(self.expr_all(rest)?)))
            }
            _ => Err(self.err("expected a quoted prompt, optionally followed by 'if'")),
        }
    }

    fn expr_if(&mut self, t: &[Tok]) -> Result<(ExprId, Option<ExprId>)> {
        let split = t.iter().position(|x| *x == Tok::Kw(Kw::If));
        match split {
            Some(i) => {
                let e = self.expr_all(&t[..i])?;
                let c = self.expr_all(&t[i + 1..])?;
                Ok((e, Some(c)))
            }
            None => Ok((self.expr_all(t)?, None)),
        }
    }

    fn set_type(&mut self, ty: SymType) {
        let Some(s) = self.kc.menus[self.current_entry as usize].sym else {
            return;
        };
        let old = self.kc.syms[s as usize].ty;
        if old == SymType::Unknown {
            self.kc.syms[s as usize].ty = ty;
        } else if old != ty {
            let w = format!(
                "{}:{}:warning: ignoring type redefinition of '{}' from '{}' to '{}'",
                self.kc.file_name(self.file),
                self.line,
                self.kc.syms[s as usize].name,
                old.name(),
                ty.name()
            );
            self.kc.warnings.push(w);
        }
    }

    fn add_entry(&mut self, sym: Option<SymId>) {
        let id = self.kc.menus.len() as MenuId;
        self.kc.menus.push(Menu {
            sym,
            parent: Some(self.current_menu),
            file: self.file,
            line: self.line,
            ..Default::default()
        });
        match self.last {
            Link::List(m) => self.kc.menus[m as usize].list = Some(id),
            Link::Next(m) => self.kc.menus[m as usize].next = Some(id),
        }
        self.last = Link::Next(id);
        self.current_entry = id;
        if let Some(s) = sym {
            self.kc.syms[s as usize].menus.push(id);
            let e = self.kc.expr(Expr::Sym(s));
            self.add_prop(PropKind::Symbol, Some(e), None);
        }
    }

    fn add_menu(&mut self, b: Block) {
        self.last = Link::List(self.current_entry);
        self.current_menu = self.current_entry;
        self.blocks.push((b, self.current_entry, self.file));
    }

    fn add_dep(&mut self, e: Option<ExprId>) {
        let old = self.kc.menus[self.current_entry as usize].dep;
        let d = self.kc.expr_and(old, e);
        self.kc.menus[self.current_entry as usize].dep = d;
    }

    fn add_prop(&mut self, kind: PropKind, expr: Option<ExprId>, dep: Option<ExprId>) -> PropId {
        let id = self.kc.props.len() as PropId;
        self.kc.props.push(Property {
            kind,
            expr,
            visible: dep,
            visible_tri: Default::default(),
            menu: self.current_entry,
            file: self.file,
            line: self.line,
            text: None,
        });
        if let Some(s) = self.kc.menus[self.current_entry as usize].sym {
            self.kc.syms[s as usize].props.push(id);
        }
        id
    }

    fn add_prompt(&mut self, mut kind: PropKind, text: String, dep: Option<ExprId>) -> PropId {
        let is_prompt = kind == PropKind::Prompt;
        if is_prompt && self.kind == Kind::MenuConfig {
            // menuconfig_stmt turns the entry's prompt into a menu prompt.
            kind = PropKind::Menu;
        }
        let id = self.add_prop(kind, None, dep);
        let text = text.trim_start().to_string();
        if is_prompt {
            let mut m = self.kc.menus[self.current_entry as usize].parent;
            while let Some(pm) = m {
                if let Some(v) = self.kc.menus[pm as usize].visibility {
                    let old = self.kc.props[id as usize].visible;
                    let nv = self.kc.expr_and(old, Some(v));
                    self.kc.props[id as usize].visible = nv;
                }
                m = self.kc.menus[pm as usize].parent;
            }
        }
        self.kc.menus[self.current_entry as usize].prompt = Some(id);
        self.kc.props[id as usize].text = Some(text);
        id
    }

    fn symbol(&mut self, t: &Tok) -> Result<SymId> {
        match t {
            Tok::Word(w) => Ok(self.kc.sym_lookup(Some(w), 0)),
            Tok::Quote(q) => Ok(self.kc.sym_lookup(Some(q), flags::CONST)),
            other => Err(self.err(format!("expected a symbol, found {other:?}"))),
        }
    }

    fn expr_all(&mut self, t: &[Tok]) -> Result<ExprId> {
        let mut pos = 0;
        let e = self.expr_or(t, &mut pos)?;
        if pos != t.len() {
            return Err(self.err(format!("syntax error in expression at {:?}", t[pos])));
        }
        Ok(e)
    }

    fn expr_or(&mut self, t: &[Tok], pos: &mut usize) -> Result<ExprId> {
        let mut l = self.expr_and(t, pos)?;
        while t.get(*pos) == Some(&Tok::Or) {
            *pos += 1;
            let r = self.expr_and(t, pos)?;
            l = self.kc.expr(Expr::Or(l, r));
        }
        Ok(l)
    }

    fn expr_and(&mut self, t: &[Tok], pos: &mut usize) -> Result<ExprId> {
        let mut l = self.expr_unary(t, pos)?;
        while t.get(*pos) == Some(&Tok::And) {
            *pos += 1;
            let r = self.expr_unary(t, pos)?;
            l = self.kc.expr(Expr::And(l, r));
        }
        Ok(l)
    }

    fn expr_unary(&mut self, t: &[Tok], pos: &mut usize) -> Result<ExprId> {
        self.depth += 1;
        let r = if self.depth > 200 {
            Err(self.err("expression nested too deeply"))
        } else {
            self.expr_unary_inner(t, pos)
        };
        self.depth -= 1;
        r
    }

    fn expr_unary_inner(&mut self, t: &[Tok], pos: &mut usize) -> Result<ExprId> {
        match t.get(*pos) {
            Some(Tok::Not) => {
                *pos += 1;
                let e = self.expr_unary(t, pos)?;
                Ok(self.kc.expr(Expr::Not(e)))
            }
            Some(Tok::Open) => {
                *pos += 1;
                let e = self.expr_or(t, pos)?;
                if t.get(*pos) != Some(&Tok::Close) {
                    return Err(self.err("missing ')' in expression"));
                }
                *pos += 1;
                Ok(e)
            }
            Some(tok @ (Tok::Word(_) | Tok::Quote(_))) => {
                let a = self.symbol(tok)?;
                *pos += 1;
                let op = match t.get(*pos) {
                    Some(Tok::Equal) => Some(Cmp::Eq),
                    Some(Tok::Unequal) => Some(Cmp::Ne),
                    Some(Tok::Less) => Some(Cmp::Lt),
                    Some(Tok::LessEqual) => Some(Cmp::Le),
                    Some(Tok::Greater) => Some(Cmp::Gt),
                    Some(Tok::GreaterEqual) => Some(Cmp::Ge),
                    _ => None,
                };
                let Some(op) = op else {
                    return Ok(self.kc.expr(Expr::Sym(a)));
                };
                *pos += 1;
                let b = match t.get(*pos) {
                    Some(tok @ (Tok::Word(_) | Tok::Quote(_))) => self.symbol(tok)?,
                    _ => return Err(self.err("expected a symbol after a comparison")),
                };
                *pos += 1;
                Ok(self.kc.expr(Expr::Cmp(op, a, b)))
            }
            Some(other) => Err(self.err(format!("syntax error in expression at {other:?}"))),
            None => Err(self.err("expression expected")),
        }
    }
}
