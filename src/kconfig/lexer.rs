//! The Kconfig lexer (`scripts/kconfig/lexer.l`): words, quoted strings, keywords and
//! operators, with `$(...)` expanded as the C lexer does, plus help text and raw
//! assignment values.

use anyhow::Result;

use super::preprocess::Preprocessor;

/// Keywords of the Kconfig language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kw {
    /// `bool`
    Bool,
    /// `choice`
    Choice,
    /// `comment`
    Comment,
    /// `config`
    Config,
    /// `def_bool`
    DefBool,
    /// `def_tristate`
    DefTristate,
    /// `default`
    Default,
    /// `depends`
    Depends,
    /// `endchoice`
    EndChoice,
    /// `endif`
    EndIf,
    /// `endmenu`
    EndMenu,
    /// `help`
    Help,
    /// `hex`
    Hex,
    /// `if`
    If,
    /// `imply`
    Imply,
    /// `int`
    Int,
    /// `mainmenu`
    MainMenu,
    /// `menu`
    Menu,
    /// `menuconfig`
    MenuConfig,
    /// `modules`
    Modules,
    /// `on`
    On,
    /// `optional`
    Optional,
    /// `prompt`
    Prompt,
    /// `range`
    Range,
    /// `select`
    Select,
    /// `source`
    Source,
    /// `string`
    String,
    /// `tristate`
    Tristate,
    /// `visible`
    Visible,
}

fn keyword(w: &[u8]) -> Option<Kw> {
    Some(match w {
        b"bool" => Kw::Bool,
        b"choice" => Kw::Choice,
        b"comment" => Kw::Comment,
        b"config" => Kw::Config,
        b"def_bool" => Kw::DefBool,
        b"def_tristate" => Kw::DefTristate,
        b"default" => Kw::Default,
        b"depends" => Kw::Depends,
        b"endchoice" => Kw::EndChoice,
        b"endif" => Kw::EndIf,
        b"endmenu" => Kw::EndMenu,
        b"help" => Kw::Help,
        b"hex" => Kw::Hex,
        b"if" => Kw::If,
        b"imply" => Kw::Imply,
        b"int" => Kw::Int,
        b"mainmenu" => Kw::MainMenu,
        b"menu" => Kw::Menu,
        b"menuconfig" => Kw::MenuConfig,
        b"modules" => Kw::Modules,
        b"on" => Kw::On,
        b"optional" => Kw::Optional,
        b"prompt" => Kw::Prompt,
        b"range" => Kw::Range,
        b"select" => Kw::Select,
        b"source" => Kw::Source,
        b"string" => Kw::String,
        b"tristate" => Kw::Tristate,
        b"visible" => Kw::Visible,
        _ => return None,
    })
}

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A word (symbol name, number...), after expansion.
    Word(String),
    /// A quoted string, after escapes and expansion.
    Quote(String),
    /// A keyword.
    Kw(Kw),
    /// `||`
    Or,
    /// `&&`
    And,
    /// `=`
    Equal,
    /// `!=`
    Unequal,
    /// `<`
    Less,
    /// `<=`
    LessEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterEqual,
    /// `!`
    Not,
    /// `(`
    Open,
    /// `)`
    Close,
    /// `:=`
    ColonEqual,
    /// `+=`
    PlusEqual,
    /// End of line.
    Eol,
    /// End of file.
    Eof,
}

/// A lexer over one file's text.
pub struct Lexer {
    buf: Vec<u8>,
    pos: usize,
    /// Current line (1-based), as flex's `yylineno`.
    pub line: u32,
}

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

impl Lexer {
    /// A lexer over `text`.
    pub fn new(text: Vec<u8>) -> Self {
        Lexer {
            buf: text,
            pos: 0,
            line: 1,
        }
    }

    fn peek(&self, off: usize) -> u8 {
        self.buf.get(self.pos + off).copied().unwrap_or(0)
    }

    fn line_end(&self) -> usize {
        self.buf[self.pos..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(self.buf.len(), |i| self.pos + i)
    }

    /// The next token; `pp` expands `$(...)` in words and strings.
    pub fn next(&mut self, pp: &mut Preprocessor) -> Result<Tok> {
        loop {
            if self.pos >= self.buf.len() {
                return Ok(Tok::Eof);
            }
            let c = self.peek(0);
            match c {
                b'#' => {
                    self.pos = self.line_end();
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\\' if self.peek(1) == b'\n' => {
                    self.pos += 2;
                    self.line += 1;
                }
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    return Ok(Tok::Eol);
                }
                b'"' | b'\'' => return self.string(c, pp),
                c if is_word_char(c) || c == b'$' => {
                    let start = self.pos;
                    let mut end = start;
                    let mut dollar = false;
                    while end < self.buf.len()
                        && (is_word_char(self.buf[end]) || self.buf[end] == b'$')
                    {
                        dollar |= self.buf[end] == b'$';
                        end += 1;
                    }
                    if !dollar {
                        self.pos = end;
                        let w = &self.buf[start..end];
                        if let Some(k) = keyword(w) {
                            return Ok(Tok::Kw(k));
                        }
                        return Ok(Tok::Word(String::from_utf8_lossy(w).into_owned()));
                    }
                    let le = self.line_end();
                    let slice = &self.buf[..le];
                    let mut p = start;
                    pp.line = self.line;
                    let s = pp.expand_one_token(slice, &mut p)?;
                    self.pos = p.max(start + 1);
                    if !s.is_empty() {
                        return Ok(Tok::Word(s));
                    }
                }
                _ => {
                    let two = [c, self.peek(1)];
                    let (tok, n) = match &two {
                        b"||" => (Some(Tok::Or), 2),
                        b"&&" => (Some(Tok::And), 2),
                        b"!=" => (Some(Tok::Unequal), 2),
                        b"<=" => (Some(Tok::LessEqual), 2),
                        b">=" => (Some(Tok::GreaterEqual), 2),
                        b":=" => (Some(Tok::ColonEqual), 2),
                        b"+=" => (Some(Tok::PlusEqual), 2),
                        _ => match c {
                            b'=' => (Some(Tok::Equal), 1),
                            b'<' => (Some(Tok::Less), 1),
                            b'>' => (Some(Tok::Greater), 1),
                            b'!' => (Some(Tok::Not), 1),
                            b'(' => (Some(Tok::Open), 1),
                            b')' => (Some(Tok::Close), 1),
                            _ => (None, 1),
                        },
                    };
                    self.pos += n;
                    if let Some(t) = tok {
                        return Ok(t);
                    }
                }
            }
        }
    }

    fn string(&mut self, quote: u8, pp: &mut Preprocessor) -> Result<Tok> {
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            if self.pos >= self.buf.len() {
                break;
            }
            let c = self.peek(0);
            match c {
                b'$' => {
                    let le = self.line_end();
                    let slice = &self.buf[..le];
                    let mut p = self.pos + 1;
                    pp.line = self.line;
                    let s = pp.expand_dollar(slice, &mut p)?;
                    out.extend_from_slice(s.as_bytes());
                    self.pos = p;
                }
                b'\\' => {
                    let n = self.peek(1);
                    if n != b'\n' && self.pos + 1 < self.buf.len() {
                        out.push(n);
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                    }
                }
                b'\n' => break,
                c if c == quote => {
                    self.pos += 1;
                    break;
                }
                c => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        Ok(Tok::Quote(String::from_utf8_lossy(&out).into_owned()))
    }

    /// The raw value of an assignment: the rest of the line after blanks; consumes the newline.
    pub fn assign_value(&mut self) -> String {
        while matches!(self.peek(0), b' ' | b'\t') {
            self.pos += 1;
        }
        let le = self.line_end();
        let v = String::from_utf8_lossy(&self.buf[self.pos..le]).into_owned();
        self.pos = le;
        if self.pos < self.buf.len() {
            self.pos += 1;
            self.line += 1;
        }
        v
    }

    /// Help text, read from the line after `help` until a line indented less than the first.
    pub fn help_text(&mut self) -> String {
        let mut text = String::new();
        let mut first_ts = 0usize;
        let mut last_ts = 0usize;
        loop {
            if self.pos >= self.buf.len() {
                return text;
            }
            let mut ws_end = self.pos;
            while matches!(self.buf.get(ws_end), Some(b' ' | b'\t')) {
                ws_end += 1;
            }
            let at = self.buf.get(ws_end).copied();
            if at == Some(b'\n') {
                self.pos = ws_end + 1;
                self.line += 1;
                match self.buf.get(self.pos) {
                    Some(c) if !matches!(c, b' ' | b'\t' | b'\n') => return text,
                    _ => text.push('\n'),
                }
                continue;
            }
            if ws_end > self.pos {
                let mut ts = 0;
                for &c in &self.buf[self.pos..ws_end] {
                    if c == b'\t' {
                        ts = (ts & !7) + 8;
                    } else {
                        ts += 1;
                    }
                }
                last_ts = ts;
                self.pos = ws_end;
                if first_ts != 0 {
                    if ts < first_ts {
                        return text;
                    }
                    for _ in 0..ts - first_ts {
                        text.push(' ');
                    }
                }
                if at.is_none() {
                    return text;
                }
            }
            let le = self.line_end();
            let mut end = le;
            while end > self.pos && matches!(self.buf[end - 1], b' ' | b'\t') {
                end -= 1;
            }
            text.push_str(&String::from_utf8_lossy(&self.buf[self.pos..end]));
            if first_ts == 0 {
                first_ts = last_ts;
            }
            self.pos = le;
        }
    }
}
