//! A one-line text prompt: editing keys, and what the text is for.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::{Action, PROMPT, find};

/// What a prompt's text will be used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    /// The kernel command line.
    Cmdline,
    /// The host name.
    Hostname,
    /// The size budget (empty for none).
    Budget,
    /// The profile name.
    Name,
    /// The profile description.
    Description,
    /// A local kernel source path.
    KernelPath,
    /// The value of an existing kernel option.
    OptionValue(String),
    /// A new kernel option, `CONFIG_X=value`.
    NewOption,
    /// The value of a kernel tree entry (int, hex or string): its menu id and `CONFIG_X`.
    KValue(u32, String),
    /// A path to save the profile to.
    SaveAs,
    /// A profile to open.
    Open,
}

impl PromptKind {
    /// The prompt's title.
    pub fn title(&self) -> String {
        match self {
            PromptKind::Cmdline => "Kernel command line".into(),
            PromptKind::Hostname => "Host name".into(),
            PromptKind::Budget => "Size budget (e.g. 2 MiB; empty for none)".into(),
            PromptKind::Name => "Profile name".into(),
            PromptKind::Description => "Description".into(),
            PromptKind::KernelPath => "Kernel source (a local path)".into(),
            PromptKind::OptionValue(n) | PromptKind::KValue(_, n) => format!("{n} ="),
            PromptKind::NewOption => "New kernel option (CONFIG_X=value)".into(),
            PromptKind::SaveAs => "Save profile as".into(),
            PromptKind::Open => "Open profile".into(),
        }
    }
}

/// A one-line editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// What the text is for.
    pub kind: PromptKind,
    /// The text.
    pub text: String,
    /// Cursor position, in characters.
    pub cursor: usize,
    /// Why the text was refused, shown under it.
    pub error: Option<String>,
    /// Completions or other information, shown under it.
    pub note: Option<String>,
}

/// What a key did to a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptOutcome {
    /// Still editing.
    Editing,
    /// Enter: the caller validates the text.
    Submit,
    /// Esc or Ctrl-c: dropped.
    Cancel,
    /// Tab: the caller completes the text.
    Complete,
}

impl Prompt {
    /// A prompt holding `text` with the cursor at its end.
    pub fn new(kind: PromptKind, text: impl Into<String>) -> Prompt {
        let text = text.into();
        Prompt {
            kind,
            cursor: text.chars().count(),
            text,
            error: None,
            note: None,
        }
    }

    fn byte(&self, ch: usize) -> usize {
        self.text
            .char_indices()
            .nth(ch)
            .map(|(i, _)| i)
            .unwrap_or(self.text.len())
    }

    /// Applies an editing key.
    pub fn handle(&mut self, key: KeyEvent) -> PromptOutcome {
        if key.modifiers.contains(KeyModifiers::ALT) {
            // No prompt key uses Alt; Esc typed just before a key must not type that key.
            return PromptOutcome::Editing;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let len = self.text.chars().count();
        match find(&[PROMPT], &key).map(|b| b.action) {
            Some(Action::Accept) => return PromptOutcome::Submit,
            Some(Action::Cancel) => return PromptOutcome::Cancel,
            Some(Action::Complete) => return PromptOutcome::Complete,
            Some(Action::Clear) => {
                // Everything before the cursor, like readline's Ctrl-u.
                let b = self.byte(self.cursor);
                self.text.drain(..b);
                self.cursor = 0;
                self.error = None;
                return PromptOutcome::Editing;
            }
            _ => {}
        }
        match key.code {
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = len,
            KeyCode::Char('k') if ctrl => {
                let b = self.byte(self.cursor);
                self.text.truncate(b);
            }
            KeyCode::Char('w') if ctrl => {
                let chars: Vec<char> = self.text.chars().collect();
                let mut start = self.cursor;
                while start > 0 && chars[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && chars[start - 1] != ' ' {
                    start -= 1;
                }
                let (a, b) = (self.byte(start), self.byte(self.cursor));
                self.text.drain(a..b);
                self.cursor = start;
            }
            KeyCode::Char(c) if !ctrl && !c.is_control() => {
                if self.text.len() < 4096 {
                    let b = self.byte(self.cursor);
                    self.text.insert(b, c);
                    self.cursor += 1;
                }
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let b = self.byte(self.cursor);
                self.text.remove(b);
            }
            KeyCode::Delete if self.cursor < len => {
                let b = self.byte(self.cursor);
                self.text.remove(b);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(len),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = len,
            _ => return PromptOutcome::Editing,
        }
        self.error = None;
        self.note = None;
        PromptOutcome::Editing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn edits_in_the_middle() {
        let mut p = Prompt::new(PromptKind::Hostname, "stali");
        p.handle(k(KeyCode::Left));
        p.handle(k(KeyCode::Char('X')));
        assert_eq!(p.text, "stalXi");
        p.handle(k(KeyCode::Backspace));
        p.handle(k(KeyCode::Home));
        p.handle(k(KeyCode::Delete));
        assert_eq!(p.text, "tali");
        assert_eq!(p.handle(k(KeyCode::Enter)), PromptOutcome::Submit);
        p.handle(KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL));
        assert_eq!(p.text, "");
    }

    #[test]
    fn alt_keys_type_nothing() {
        let mut p = Prompt::new(PromptKind::Hostname, "a");
        let alt = |c| KeyEvent::new(c, KeyModifiers::ALT);
        assert_eq!(p.handle(alt(KeyCode::Char('x'))), PromptOutcome::Editing);
        assert_eq!(p.handle(alt(KeyCode::Enter)), PromptOutcome::Editing);
        assert_eq!(p.text, "a");
    }
}
