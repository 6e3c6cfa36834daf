//! Diagnostics: errors and warnings about a profile, with a place in the file.

use std::fmt;
use std::path::{Path, PathBuf};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Does not stop a build; shown by `stali check`.
    Warning,
    /// Makes the profile invalid.
    Error,
}

/// One problem found in a profile, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file, when the profile came from one.
    pub file: Option<PathBuf>,
    /// 1-based line and column of the offending text, when known.
    pub pos: Option<(usize, usize)>,
    /// The dotted key the problem is about (`tools.select[2]`), when it has one.
    pub key: Option<String>,
    /// The message, in words.
    pub message: String,
}

impl Diagnostic {
    /// An error with no position yet.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: None,
            pos: None,
            key: None,
            message: message.into(),
        }
    }

    /// A warning with no position yet.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    /// The same diagnostic about `key`.
    pub fn at_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The same diagnostic at a line and column.
    pub fn at_pos(mut self, pos: Option<(usize, usize)>) -> Self {
        self.pos = pos;
        self
    }

    /// The same diagnostic in `file`.
    pub fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut prefix = String::new();
        if let Some(file) = &self.file {
            prefix.push_str(&file.display().to_string());
            if let Some((line, col)) = self.pos {
                prefix.push_str(&format!(":{line}:{col}"));
            }
            prefix.push_str(": ");
        } else if let Some((line, col)) = self.pos {
            prefix.push_str(&format!("{line}:{col}: "));
        }
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{prefix}{level}: ")?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// A list of diagnostics that makes a profile invalid (at least one error).
#[derive(Debug, Clone)]
pub struct Invalid(pub Vec<Diagnostic>);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Invalid {}

/// Where each line of a text starts, so that many offsets become (line, column) in
/// logarithmic time each instead of a rescan of the text per offset.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    /// Byte offset of each line's first byte.
    starts: Vec<usize>,
    /// Whether each line is ASCII (its column is then its byte offset).
    ascii: Vec<bool>,
}

impl LineIndex {
    /// Indexes `text` in one pass.
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        let mut ascii = Vec::new();
        let mut line_ascii = true;
        for (i, b) in text.bytes().enumerate() {
            line_ascii &= b.is_ascii();
            if b == b'\n' {
                starts.push(i + 1);
                ascii.push(line_ascii);
                line_ascii = true;
            }
        }
        ascii.push(line_ascii);
        LineIndex { starts, ascii }
    }

    /// Byte offset to 1-based (line, column in characters), like [`line_col`].
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        // The last line starting at or before `offset`.
        let line = self.starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = self.starts.get(line).copied().unwrap_or(0);
        let col = if self.ascii.get(line).copied().unwrap_or(false) {
            offset - start
        } else {
            text.get(start..offset)
                .map(|s| s.chars().count())
                .unwrap_or(offset - start)
        };
        (line + 1, col + 1)
    }
}

/// Byte offset to 1-based (line, column in characters).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut line = 1;
    let mut line_start = 0;
    for (i, b) in text.as_bytes()[..offset].iter().enumerate() {
        if *b == b'\n' {
            line += 1;
            line_start = i + 1;
        }
    }
    let col = text
        .get(line_start..offset)
        .map(|s| s.chars().count())
        .unwrap_or(offset - line_start)
        + 1;
    (line, col)
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&lower, &c.to_ascii_lowercase());
        let dist = strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase());
        let close = score >= 0.85 || (dist <= 2 && c.len() > 2) || (dist <= 1);
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// " did you mean `x`?" or nothing.
pub fn suggestion<'a, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    match did_you_mean(word, candidates) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 8), (2, 3));
    }

    #[test]
    fn the_line_index_agrees_with_a_rescan() {
        let t = "a = 1\nbb = \"é\" # ü\n\nlast";
        let idx = LineIndex::new(t);
        for off in 0..=t.len() + 2 {
            if t.is_char_boundary(off.min(t.len())) {
                assert_eq!(idx.line_col(t, off), line_col(t, off), "offset {off}");
            }
        }
        assert_eq!(LineIndex::new("").line_col("", 0), (1, 1));
    }

    #[test]
    fn suggests_close_names_only() {
        let names = ["sbase", "ubase", "sinit", "mksh"];
        assert_eq!(did_you_mean("sbsae", names), Some("sbase".into()));
        assert_eq!(did_you_mean("mksj", names), Some("mksh".into()));
        assert_eq!(did_you_mean("firefox", names), None);
    }
}
