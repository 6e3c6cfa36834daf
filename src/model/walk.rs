//! A checked walk over a parsed TOML document that keeps every value's place in the file.
//!
//! Profiles and catalog files are read through this, not through serde, so that each
//! complaint can name the key, its line and column, and suggest the key that was meant.

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::{Diagnostic, LineIndex, suggestion};

/// The deepest `[`/`{` nesting a document may have before it is refused unparsed.
pub const MAX_NESTING: usize = 32;

/// The text being read, and the diagnostics found so far.
pub struct Reader<'t> {
    text: &'t str,
    lines: LineIndex,
    file: Option<PathBuf>,
    /// Problems found so far, in document order.
    pub diags: Vec<Diagnostic>,
}

/// A value together with its dotted key path.
#[derive(Clone, Copy)]
pub struct Node<'a, 'i> {
    /// The value and its byte span.
    pub value: &'a Spanned<DeValue<'i>>,
    key: &'a str,
}

/// A table and its dotted path, for reading its keys one by one.
pub struct TableNode<'a, 'i> {
    /// The table's entries.
    pub table: &'a DeTable<'i>,
    /// The dotted path (`""` for the root).
    pub path: String,
    /// Byte span of the table in the text.
    pub span: std::ops::Range<usize>,
}

impl<'t> Reader<'t> {
    /// A reader over `text`, which came from `file` if given.
    pub fn new(text: &'t str, file: Option<&Path>) -> Self {
        Reader {
            text,
            lines: LineIndex::new(text),
            file: file.map(Path::to_path_buf),
            diags: Vec::new(),
        }
    }

    /// 1-based line and column of a byte span's start.
    pub fn pos(&self, span: &std::ops::Range<usize>) -> (usize, usize) {
        self.lines.line_col(self.text, span.start)
    }

    fn located(&self, d: Diagnostic, span: Option<&std::ops::Range<usize>>) -> Diagnostic {
        let d = d.at_pos(span.map(|s| self.pos(s)));
        match &self.file {
            Some(f) => d.in_file(f),
            None => d,
        }
    }

    /// Records an error at `span` about `key`.
    pub fn error(&mut self, span: &std::ops::Range<usize>, key: &str, msg: impl Into<String>) {
        let mut d = Diagnostic::error(msg);
        if !key.is_empty() {
            d = d.at_key(key);
        }
        let d = self.located(d, Some(span));
        self.diags.push(d);
    }

    /// Records a warning at `span` about `key`.
    pub fn warning(&mut self, span: &std::ops::Range<usize>, key: &str, msg: impl Into<String>) {
        let mut d = Diagnostic::warning(msg);
        if !key.is_empty() {
            d = d.at_key(key);
        }
        let d = self.located(d, Some(span));
        self.diags.push(d);
    }

    /// Whether any error was recorded.
    pub fn failed(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }

    /// Parses the text as a TOML document, or records the syntax error.
    pub fn parse(&mut self) -> Option<Spanned<DeTable<'t>>> {
        if let Some(offset) = too_deep(self.text) {
            let span = offset..offset;
            self.error(
                &span,
                "",
                format!("nesting deeper than {MAX_NESTING} levels; a profile is never this deep"),
            );
            return None;
        }
        match DeTable::parse(self.text) {
            Ok(t) => Some(t),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let mut msg = e.message().trim().replace('\n', " ");
                if msg == "duplicate key" {
                    let key: String = self.text[span.clone()].chars().take(60).collect();
                    msg = format!("duplicate key `{key}`: each key may appear once in a table");
                }
                self.error(&span, "", format!("TOML syntax: {msg}"));
                None
            }
        }
    }

    /// Complains about every key of `t` not in `allowed`, suggesting the likely one.
    pub fn only_keys(&mut self, t: &TableNode<'_, '_>, allowed: &[&str]) {
        for (k, _) in t.table.iter() {
            let name: &str = k.get_ref();
            if !allowed.contains(&name) {
                let path = join(&t.path, name);
                let hint = suggestion(name, allowed.iter().copied());
                let where_ = if t.path.is_empty() {
                    "at the top level".to_string()
                } else {
                    format!("in [{}]", t.path)
                };
                let hint = if hint.is_empty() {
                    format!("; expected one of {}", allowed.join(", "))
                } else {
                    hint
                };
                self.error(&k.span(), &path, format!("unknown key {where_}{hint}"));
            }
        }
    }

    /// The string at `key`, complaining when it has another type.
    pub fn string(&mut self, t: &TableNode<'_, '_>, key: &str) -> Option<Spanned<String>> {
        let (v, path) = t.get(key)?;
        self.as_string(v, &path)
    }

    /// A value as a string, complaining when it has another type.
    pub fn as_string(&mut self, v: &Spanned<DeValue<'_>>, path: &str) -> Option<Spanned<String>> {
        match v.get_ref() {
            DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
            other => {
                self.error(
                    &v.span(),
                    path,
                    format!("expected a string, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// The non-negative integer at `key`, complaining otherwise.
    pub fn integer(&mut self, t: &TableNode<'_, '_>, key: &str) -> Option<Spanned<u64>> {
        let (v, path) = t.get(key)?;
        match v.get_ref() {
            DeValue::Integer(i) => {
                let digits = i.as_str().replace('_', "");
                match u64::from_str_radix(digits.trim_start_matches('+'), i.radix()) {
                    Ok(n) => Some(Spanned::new(v.span(), n)),
                    Err(_) => {
                        self.error(
                            &v.span(),
                            &path,
                            "expected a non-negative whole number that fits in 64 bits",
                        );
                        None
                    }
                }
            }
            other => {
                self.error(
                    &v.span(),
                    &path,
                    format!("expected an integer, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// The array of strings at `key`, complaining about the array or any element.
    pub fn strings(&mut self, t: &TableNode<'_, '_>, key: &str) -> Option<Vec<Spanned<String>>> {
        let (v, path) = t.get(key)?;
        self.as_strings(v, &path)
    }

    /// A value as an array of strings.
    pub fn as_strings(
        &mut self,
        v: &Spanned<DeValue<'_>>,
        path: &str,
    ) -> Option<Vec<Spanned<String>>> {
        match v.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    if let Some(s) = self.as_string(item, &p) {
                        out.push(s);
                    }
                }
                Some(out)
            }
            other => {
                self.error(
                    &v.span(),
                    path,
                    format!("expected an array of strings, found {}", type_name(other)),
                );
                None
            }
        }
    }

    /// The table at `key`, complaining when it has another type.
    pub fn table<'a, 'i>(&mut self, t: &TableNode<'a, 'i>, key: &str) -> Option<TableNode<'a, 'i>> {
        let (v, path) = t.get(key)?;
        self.as_table(v, path)
    }

    /// A value as a table.
    pub fn as_table<'a, 'i>(
        &mut self,
        v: &'a Spanned<DeValue<'i>>,
        path: String,
    ) -> Option<TableNode<'a, 'i>> {
        match v.get_ref() {
            DeValue::Table(table) => Some(TableNode {
                table,
                path,
                span: v.span(),
            }),
            other => {
                self.error(
                    &v.span(),
                    &path,
                    format!("expected a table, found {}", type_name(other)),
                );
                None
            }
        }
    }
}

impl<'a, 'i> TableNode<'a, 'i> {
    /// The root table of a document.
    pub fn root(doc: &'a Spanned<DeTable<'i>>) -> Self {
        TableNode {
            table: doc.get_ref(),
            path: String::new(),
            span: doc.span(),
        }
    }

    /// The value at `key` and its dotted path.
    pub fn get(&self, key: &str) -> Option<(&'a Spanned<DeValue<'i>>, String)> {
        self.table.get(key).map(|v| (v, join(&self.path, key)))
    }

    /// The span of `key` itself (the key text), or of the table.
    pub fn key_span(&self, key: &str) -> std::ops::Range<usize> {
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(k, _)| k.span())
            .unwrap_or(self.span.clone())
    }

    /// The keys present, in the order stored.
    pub fn keys(
        &self,
    ) -> impl Iterator<Item = (&'a Spanned<toml::de::DeString<'i>>, Node<'a, 'i>)> {
        self.table.iter().map(|(k, v)| {
            (
                k,
                Node {
                    value: v,
                    key: k.get_ref(),
                },
            )
        })
    }
}

impl Node<'_, '_> {
    /// The key this value sits under.
    pub fn key(&self) -> &str {
        self.key
    }
}

/// `a.b` from `a` and `b` (no dot for the root).
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A TOML type's name, in words.
pub fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The byte offset where bracket nesting first goes past [`MAX_NESTING`], ignoring strings
/// and comments; guards the parser's recursion against hostile input.
pub fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            q @ (b'"' | b'\'') => {
                let triple = bytes.get(i..i + 3) == Some(&[q, q, q][..]);
                if triple {
                    i += 3;
                    while i < bytes.len() && bytes.get(i..i + 3) != Some(&[q, q, q][..]) {
                        if q == b'"' && bytes[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    i += 2;
                } else {
                    i += 1;
                    while i < bytes.len() && bytes[i] != q && bytes[i] != b'\n' {
                        if q == b'"' && bytes[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}
