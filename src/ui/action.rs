//! What the keys do, in one place: each screen has a table of [`Binding`]s from keys to an
//! [`Action`]. `App::handle` looks keys up here, the hint bar is made from the same tables
//! (`App::hints`), and so is the list of keys in the help ([`key_help`]): the three cannot
//! disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Something the user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Move down one line (or scroll).
    Down,
    /// Move up one line.
    Up,
    /// Move down a page.
    PageDown,
    /// Move up a page.
    PageUp,
    /// Go to the first line.
    First,
    /// Go to the last line.
    Last,
    /// Back one screen.
    Back,
    /// Open the highlighted submenu.
    Open,
    /// Enter or Space on the highlighted line: open, edit, toggle or choose.
    Activate,
    /// Space: toggle or choose (a kernel menuconfig entry toggles rather than opens).
    Toggle,
    /// Show or hide the kernel options that are invisible, with why.
    ShowAll,
    /// Turn the highlighted item on (`y`), when it is off.
    Set,
    /// Turn the highlighted item off (`n`), when it is on.
    Unset,
    /// Add a kernel option.
    AddOption,
    /// Remove the highlighted kernel option.
    RemoveOption,
    /// Complete the name typed in a prompt (a kernel option).
    Complete,
    /// Start a new search.
    Search,
    /// Help about the highlighted line.
    Help,
    /// Save.
    Save,
    /// Save under another name.
    SaveAs,
    /// Open another profile.
    OpenProfile,
    /// Undo the last change.
    Undo,
    /// Redo what was undone.
    Redo,
    /// Show the changes since the last save.
    Diff,
    /// Quit (asking first when there are unsaved changes).
    Quit,
    /// Jump to the selected search result.
    Jump,
    /// Jump to search result N (0-based).
    JumpTo(usize),
    /// Switch between typing the query and picking a result.
    SwitchToList,
    /// Type the query again (from the results list).
    EditQuery,
    /// Delete the query's last character (leaves the search when it is empty).
    Erase,
    /// Clear the query or the prompt.
    Clear,
    /// Accept a prompt.
    Accept,
    /// Cancel a prompt.
    Cancel,
    /// From help about an item, the list of every key (and back from it).
    Keys,
}

/// A key: a code, with or without Ctrl. Shift is part of the character (`S`); a key with
/// Alt matches no binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Whether Ctrl is held.
    pub ctrl: bool,
}

const fn ch(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

impl Key {
    /// Whether the event is this key.
    pub fn matches(&self, e: &KeyEvent) -> bool {
        !e.modifiers.contains(KeyModifiers::ALT)
            && e.modifiers.contains(KeyModifiers::CONTROL) == self.ctrl
            && e.code == self.code
    }

    /// How the key is written in the help: `j`, `Down`, `Ctrl-r`, `Space`.
    pub fn name(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::BackTab => "Shift-Tab".to_string(),
            KeyCode::PageDown => "PgDn".to_string(),
            KeyCode::PageUp => "PgUp".to_string(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{base}")
        } else {
            base
        }
    }
}

/// Keys bound to an action on one screen, and how the hint bar shows it.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// What the keys do.
    pub action: Action,
    /// The keys.
    pub keys: &'static [Key],
    /// The hint bar's key and word for it (`("j/k", "move")`), if it has a place there.
    pub hint: Option<(&'static str, &'static str)>,
    /// What the action does, for the key help.
    pub what: &'static str,
}

const fn bind(
    action: Action,
    keys: &'static [Key],
    hint: Option<(&'static str, &'static str)>,
    what: &'static str,
) -> Binding {
    Binding {
        action,
        keys,
        hint,
        what,
    }
}

use Action as A;

const BACK_KEYS: &[Key] = &[
    code(KeyCode::Esc),
    code(KeyCode::Left),
    ch('h'),
    code(KeyCode::Backspace),
];
const BACK: Binding = bind(A::Back, BACK_KEYS, Some(("Esc/h", "back")), "back");
const PAGE_DOWN: Binding = bind(A::PageDown, &[code(KeyCode::PageDown)], None, "a page down");
const PAGE_UP: Binding = bind(A::PageUp, &[code(KeyCode::PageUp)], None, "a page up");
const FIRST: Binding = bind(
    A::First,
    &[code(KeyCode::Home), ch('g')],
    None,
    "to the first line",
);
const LAST: Binding = bind(
    A::Last,
    &[code(KeyCode::End), ch('G')],
    None,
    "to the last line",
);

/// Keys that act on every screen but the search query and dialogs, after the screen's own.
#[rustfmt::skip]
pub const GLOBAL: &[Binding] = &[
    bind(A::Search, &[ch('/')], Some(("/", "search")), "search everything"),
    bind(A::Help, &[ch('?')], Some(("?", "help")), "help about the highlighted line"),
    bind(A::Save, &[ch('s')], Some(("s", "save")), "save (atomic; comments and key order kept)"),
    bind(A::SaveAs, &[ch('S')], None, "save as"),
    bind(A::OpenProfile, &[ch('o')], None, "open a profile file or a shipped profile"),
    bind(A::Undo, &[ch('u')], Some(("u", "undo")), "undo, saying what"),
    bind(A::Redo, &[ctrl('r')], Some(("^r", "redo")), "redo"),
    bind(A::Diff, &[ch('d')], Some(("d", "diff")), "the changes since the last save"),
    bind(A::Quit, &[ch('q'), ctrl('c')], Some(("q", "quit")), "quit (asks when there are unsaved changes)"),
];

/// Keys of a menu. The hint for Enter/Space depends on the highlighted line
/// (`App::hints`).
#[rustfmt::skip]
pub const MENU: &[Binding] = &[
    bind(A::Activate, &[code(KeyCode::Enter)], Some(("Enter", "open")), "open a submenu, edit a field, toggle or choose"),
    bind(A::Toggle, &[ch(' ')], None, "toggle or choose (a kernel entry with a submenu toggles)"),
    bind(A::ShowAll, &[ch('z')], Some(("z", "show hidden")), "kernel tree: show or hide the invisible options, with why"),
    bind(A::RemoveOption, &[ch('x'), code(KeyCode::Delete)], Some(("x", "remove")), "remove the kernel option"),
    bind(A::AddOption, &[ch('a')], Some(("a", "add")), "add a kernel option (in Extra options)"),
    BACK,
    bind(A::Down, &[code(KeyCode::Down), ch('j'), code(KeyCode::Tab), ctrl('n')], None, "move down"),
    bind(A::Up, &[code(KeyCode::Up), ch('k'), code(KeyCode::BackTab), ctrl('p')], None, "move up"),
    bind(A::PageDown, &[code(KeyCode::PageDown), ctrl('f')], None, "a page down"),
    bind(A::PageUp, &[code(KeyCode::PageUp), ctrl('b')], None, "a page up"),
    FIRST,
    LAST,
    bind(A::Open, &[code(KeyCode::Right), ch('l')], None, "open a submenu"),
    bind(A::Set, &[ch('y')], None, "choose the highlighted item"),
    bind(A::Unset, &[ch('n')], None, "leave the highlighted item out"),
];

/// Keys of the search results list (after Tab).
#[rustfmt::skip]
pub const RESULTS: &[Binding] = &[
    bind(A::JumpTo(0), &[ch('1')], Some(("1-9", "jump")), "jump to result 1 to 9"),
    bind(A::JumpTo(1), &[ch('2')], None, ""),
    bind(A::JumpTo(2), &[ch('3')], None, ""),
    bind(A::JumpTo(3), &[ch('4')], None, ""),
    bind(A::JumpTo(4), &[ch('5')], None, ""),
    bind(A::JumpTo(5), &[ch('6')], None, ""),
    bind(A::JumpTo(6), &[ch('7')], None, ""),
    bind(A::JumpTo(7), &[ch('8')], None, ""),
    bind(A::JumpTo(8), &[ch('9')], None, ""),
    bind(A::Jump, &[code(KeyCode::Enter), ch('l'), code(KeyCode::Right)], Some(("Enter", "jump")), "jump to the result"),
    bind(A::Down, &[code(KeyCode::Down), ch('j')], Some(("j/k", "move")), "next result"),
    bind(A::Up, &[code(KeyCode::Up), ch('k')], None, "previous result"),
    bind(A::EditQuery, &[ch('/')], Some(("/", "edit query")), "type the query again"),
    BACK,
    PAGE_DOWN,
    PAGE_UP,
    bind(A::SwitchToList, &[code(KeyCode::Tab), code(KeyCode::BackTab)], None, "back to typing"),
];

/// Keys while typing a search query; any other character is typed.
#[rustfmt::skip]
pub const QUERY: &[Binding] = &[
    bind(A::Jump, &[code(KeyCode::Enter)], Some(("Enter", "jump")), "jump to the highlighted result"),
    bind(A::Down, &[code(KeyCode::Down)], Some(("Up/Down", "move")), "next result"),
    bind(A::Up, &[code(KeyCode::Up)], None, "previous result"),
    bind(A::SwitchToList, &[code(KeyCode::Tab), code(KeyCode::BackTab)], Some(("Tab", "pick 1-9")), "into the results, where 1-9 jump"),
    bind(A::Back, &[code(KeyCode::Esc), code(KeyCode::Left)], Some(("Esc", "back")), "back"),
    PAGE_DOWN,
    PAGE_UP,
    bind(A::Erase, &[code(KeyCode::Backspace)], None, "delete a character (leave when empty)"),
    bind(A::Clear, &[ctrl('u')], None, "clear the query"),
    bind(A::Quit, &[ctrl('c')], None, "quit"),
];

/// Keys of the help and diff screens.
#[rustfmt::skip]
pub const TEXT: &[Binding] = &[
    bind(A::Down, &[code(KeyCode::Down), ch('j')], Some(("j/k", "scroll")), "scroll down"),
    bind(A::Up, &[code(KeyCode::Up), ch('k')], None, "scroll up"),
    bind(A::PageDown, &[code(KeyCode::PageDown), ch(' ')], None, "a page down"),
    PAGE_UP,
    FIRST,
    LAST,
    bind(A::Back, &[code(KeyCode::Esc), code(KeyCode::Left), ch('h'), code(KeyCode::Backspace), code(KeyCode::Enter)], Some(("Esc/h", "back")), "back"),
];

/// On the help about an item, `?` lists every key; there, `?` goes back.
pub const HELP: &[Binding] = &[bind(
    A::Keys,
    &[ch('?')],
    Some(("?", "all keys")),
    "every key",
)];

/// On the diff screen, `d` closes it.
pub const DIFF: &[Binding] = &[bind(A::Back, &[ch('d')], None, "close the diff")];

/// Keys of a text prompt besides editing.
#[rustfmt::skip]
pub const PROMPT: &[Binding] = &[
    bind(A::Accept, &[code(KeyCode::Enter)], Some(("Enter", "accept")), "accept"),
    bind(A::Cancel, &[code(KeyCode::Esc), ctrl('c')], Some(("Esc", "cancel")), "cancel"),
    bind(A::Clear, &[ctrl('u')], Some(("Ctrl-u", "clear")), "clear"),
    bind(A::Complete, &[code(KeyCode::Tab)], None, "complete a kernel option's name"),
];

/// The binding of `e` in the first table that has one.
pub fn find(tables: &[&'static [Binding]], e: &KeyEvent) -> Option<&'static Binding> {
    tables
        .iter()
        .flat_map(|t| t.iter())
        .find(|b| b.keys.iter().any(|k| k.matches(e)))
}

/// The key help for `tables`: one line per action, its keys then what it does.
pub fn key_help(tables: &[&'static [Binding]]) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for b in tables.iter().flat_map(|t| t.iter()) {
        if b.what.is_empty() || out.iter().any(|(_, w)| *w == b.what) {
            continue;
        }
        let keys: Vec<String> = b.keys.iter().map(Key::name).collect();
        out.push((keys.join(", "), b.what));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn no_key_is_bound_twice_in_a_table() {
        for t in [GLOBAL, MENU, RESULTS, QUERY, TEXT, HELP, DIFF, PROMPT] {
            let keys: Vec<Key> = t.iter().flat_map(|b| b.keys.iter().copied()).collect();
            for (i, k) in keys.iter().enumerate() {
                assert!(!keys[i + 1..].contains(k), "{k:?} bound twice");
            }
        }
    }

    #[test]
    fn keys_match_with_ctrl_only_when_bound_so() {
        let r = ev(KeyCode::Char('r'), KeyModifiers::CONTROL);
        assert_eq!(find(&[GLOBAL], &r).map(|b| b.action), Some(Action::Redo));
        let s = ev(KeyCode::Char('S'), KeyModifiers::SHIFT);
        assert_eq!(find(&[GLOBAL], &s).map(|b| b.action), Some(Action::SaveAs));
        let alt_q = ev(KeyCode::Char('q'), KeyModifiers::ALT);
        assert!(find(&[GLOBAL], &alt_q).is_none(), "Alt-q does not quit");
        assert_eq!(ctrl('r').name(), "Ctrl-r");
        assert_eq!(ch(' ').name(), "Space");
    }

    #[test]
    fn every_action_of_a_table_has_words_for_the_help() {
        let help = key_help(&[MENU, GLOBAL]);
        assert!(help.iter().any(|(k, w)| k == "u" && w.starts_with("undo")));
        assert!(
            help.iter().any(|(k, _)| k == "Down, j, Tab, Ctrl-n"),
            "{help:?}"
        );
    }
}
