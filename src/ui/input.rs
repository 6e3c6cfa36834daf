//! Turns the bytes read from the terminal into key events, however the link splits them.
//!
//! The configurator reads the terminal itself (a blocking read in its own thread) rather
//! than through crossterm's event source, so that end of file or an I/O error on a terminal
//! that went away ends the program instead of being retried in a loop.
//!
//! Over a slow link an escape sequence can arrive in pieces, and a lone ESC byte is either
//! the Esc key or the start of a sequence still on its way. [`Decoder`] is the usual
//! ESC-timeout state machine: bytes that may still become a longer key are held back until
//! the rest arrives or [`ESC_TIMEOUT`] passes without more input (then [`Decoder::flush`]
//! decides: a lone ESC is Esc, ESC + a key is that key with Alt).

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// How long a held-back ESC (or an unfinished sequence) waits for the rest of its bytes.
pub const ESC_TIMEOUT: Duration = Duration::from_millis(150);

/// Longest escape sequence kept waiting; anything longer is not a key and is dropped.
const MAX_SEQUENCE: usize = 32;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Decodes terminal input fed in arbitrary pieces.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Vec<u8>,
}

/// What the bytes at the start of a buffer are.
enum Step {
    /// A key (or nothing, for bytes that are not one) taking this many bytes.
    Key(Option<KeyEvent>, usize),
    /// The start of something longer: wait for more bytes.
    Incomplete,
}

impl Decoder {
    /// A decoder with nothing held back.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Adds bytes just read; returns every key they complete. Bytes that may be the start
    /// of a longer key are kept for the next call (or for [`Decoder::flush`]).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<KeyEvent> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.pending.len() {
            match step(&self.pending[i..]) {
                Step::Key(k, n) => {
                    out.extend(k);
                    i += n;
                }
                Step::Incomplete => break,
            }
        }
        self.pending.drain(..i);
        if self.pending.len() > MAX_SEQUENCE {
            self.pending.clear();
        }
        out
    }

    /// Whether bytes are held back, so the reader should wait at most [`ESC_TIMEOUT`] for
    /// more before calling [`Decoder::flush`].
    pub fn waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// No more bytes came in time: what is held back is taken as it stands. A lone ESC is
    /// Esc; ESC + one character is Alt + that character; an unfinished sequence is Esc
    /// followed by its other bytes as typed.
    pub fn flush(&mut self) -> Vec<KeyEvent> {
        let held = std::mem::take(&mut self.pending);
        let mut out = Vec::new();
        let rest = match held.as_slice() {
            [] => return out,
            [0x1b] => {
                out.push(key(KeyCode::Esc));
                &held[1..]
            }
            [0x1b, b @ (b'[' | b'O')] => {
                out.push(KeyEvent::new(KeyCode::Char(*b as char), KeyModifiers::ALT));
                &held[2..]
            }
            [0x1b, ..] => {
                out.push(key(KeyCode::Esc));
                &held[1..]
            }
            _ => &held[..],
        };
        // What follows cannot be waiting for an ESC any more: an unfinished UTF-8
        // character or sequence fragment left over is dropped.
        out.extend(self.feed(rest));
        self.pending.clear();
        out
    }
}

/// Reads one key from the start of `buf`.
fn step(buf: &[u8]) -> Step {
    let Some(&b) = buf.first() else {
        return Step::Incomplete;
    };
    let one = |code| Step::Key(Some(key(code)), 1);
    match b {
        0x1b => escape(buf),
        b'\r' | b'\n' => one(KeyCode::Enter),
        b'\t' => one(KeyCode::Tab),
        0x7f | 0x08 => one(KeyCode::Backspace),
        0x01..=0x1a => Step::Key(
            Some(KeyEvent::new(
                KeyCode::Char((b - 1 + b'a') as char),
                KeyModifiers::CONTROL,
            )),
            1,
        ),
        0x00 | 0x1c..=0x1f => Step::Key(None, 1),
        _ => {
            let len = match b {
                0x00..=0x7f => 1,
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf7 => 4,
                _ => return Step::Key(None, 1),
            };
            if buf.len() < len {
                return Step::Incomplete;
            }
            let c = std::str::from_utf8(&buf[..len])
                .ok()
                .and_then(|s| s.chars().next());
            match c {
                Some(c) => {
                    let mods = if c.is_uppercase() {
                        KeyModifiers::SHIFT
                    } else {
                        KeyModifiers::NONE
                    };
                    Step::Key(Some(KeyEvent::new(KeyCode::Char(c), mods)), len)
                }
                None => Step::Key(None, 1),
            }
        }
    }
}

/// Reads a key that starts with ESC: a CSI (`ESC [`) or SS3 (`ESC O`) sequence, Alt + a
/// key, or (at the end of the input) nothing yet.
fn escape(buf: &[u8]) -> Step {
    let Some(&next) = buf.get(1) else {
        return Step::Incomplete;
    };
    if next != b'[' && next != b'O' {
        if next == 0x1b {
            // ESC ESC: the first one is Esc on its own.
            return Step::Key(Some(key(KeyCode::Esc)), 1);
        }
        // Alt + the key that follows.
        return match step(&buf[1..]) {
            Step::Incomplete => Step::Incomplete,
            Step::Key(k, n) => Step::Key(
                k.map(|mut k| {
                    k.modifiers |= KeyModifiers::ALT;
                    k
                }),
                1 + n,
            ),
        };
    }
    let ss3 = next == b'O';
    // Parameters, then a final byte in 0x40..=0x7e.
    let Some(j) = buf[2..].iter().position(|b| (0x40..=0x7e).contains(b)) else {
        return if buf.len() > MAX_SEQUENCE {
            Step::Key(None, buf.len())
        } else {
            Step::Incomplete
        };
    };
    let params = &buf[2..2 + j];
    let fin = buf[2 + j];
    let nums: Vec<u32> = std::str::from_utf8(params)
        .unwrap_or("")
        .split(';')
        .map(|s| s.parse().unwrap_or(0))
        .collect();
    let mut mods = KeyModifiers::NONE;
    if let Some(m) = nums.get(1).copied().filter(|m| *m > 1) {
        let m = m - 1;
        if m & 1 != 0 {
            mods |= KeyModifiers::SHIFT;
        }
        if m & 2 != 0 {
            mods |= KeyModifiers::ALT;
        }
        if m & 4 != 0 {
            mods |= KeyModifiers::CONTROL;
        }
    }
    let code = match fin {
        b'A' => Some(KeyCode::Up),
        b'B' => Some(KeyCode::Down),
        b'C' => Some(KeyCode::Right),
        b'D' => Some(KeyCode::Left),
        b'H' => Some(KeyCode::Home),
        b'F' => Some(KeyCode::End),
        b'P' => Some(KeyCode::F(1)),
        b'Q' => Some(KeyCode::F(2)),
        b'R' => Some(KeyCode::F(3)),
        b'S' => Some(KeyCode::F(4)),
        b'Z' if !ss3 => Some(KeyCode::BackTab),
        b'~' => match nums.first().copied().unwrap_or(0) {
            1 | 7 => Some(KeyCode::Home),
            2 => Some(KeyCode::Insert),
            3 => Some(KeyCode::Delete),
            4 | 8 => Some(KeyCode::End),
            5 => Some(KeyCode::PageUp),
            6 => Some(KeyCode::PageDown),
            _ => None,
        },
        _ => None,
    };
    Step::Key(code.map(|c| KeyEvent::new(c, mods)), 3 + j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(bytes: &[u8]) -> Vec<KeyEvent> {
        let mut d = Decoder::new();
        let mut k = d.feed(bytes);
        k.extend(d.flush());
        k
    }

    #[test]
    fn arrows_letters_and_controls() {
        let codes: Vec<KeyCode> = all(b"\x1b[A\x1bOBj\r\x12\x1b")
            .iter()
            .map(|k| k.code)
            .collect();
        assert_eq!(
            codes,
            vec![
                KeyCode::Up,
                KeyCode::Down,
                KeyCode::Char('j'),
                KeyCode::Enter,
                KeyCode::Char('r'),
                KeyCode::Esc
            ]
        );
        let k = all(b"\x1b[5~\x1b[1;5C");
        assert_eq!(k[0].code, KeyCode::PageUp);
        assert_eq!(k[1], KeyEvent::new(KeyCode::Right, KeyModifiers::CONTROL));
    }

    /// Every key the configurator understands, as a terminal sends it.
    const SEQUENCES: &[(&[u8], KeyCode, KeyModifiers)] = &[
        (b"\x1b[A", KeyCode::Up, KeyModifiers::NONE),
        (b"\x1bOB", KeyCode::Down, KeyModifiers::NONE),
        (b"\x1b[1;5C", KeyCode::Right, KeyModifiers::CONTROL),
        (b"\x1b[1;2D", KeyCode::Left, KeyModifiers::SHIFT),
        (b"\x1b[5~", KeyCode::PageUp, KeyModifiers::NONE),
        (b"\x1b[6~", KeyCode::PageDown, KeyModifiers::NONE),
        (b"\x1b[3~", KeyCode::Delete, KeyModifiers::NONE),
        (b"\x1b[H", KeyCode::Home, KeyModifiers::NONE),
        (b"\x1b[4~", KeyCode::End, KeyModifiers::NONE),
        (b"\x1b[Z", KeyCode::BackTab, KeyModifiers::NONE),
        (b"\x1bOP", KeyCode::F(1), KeyModifiers::NONE),
        (b"\x1bx", KeyCode::Char('x'), KeyModifiers::ALT),
        (b"\x1bq", KeyCode::Char('q'), KeyModifiers::ALT),
        (b"\x1b\r", KeyCode::Enter, KeyModifiers::ALT),
        ("\x1bé".as_bytes(), KeyCode::Char('é'), KeyModifiers::ALT),
        ("é".as_bytes(), KeyCode::Char('é'), KeyModifiers::NONE),
        ("€".as_bytes(), KeyCode::Char('€'), KeyModifiers::NONE),
        (b"j", KeyCode::Char('j'), KeyModifiers::NONE),
        (b"\x12", KeyCode::Char('r'), KeyModifiers::CONTROL),
    ];

    #[test]
    fn sequences_split_at_every_byte_are_the_same_key() {
        for (bytes, code, mods) in SEQUENCES {
            let want = vec![KeyEvent::new(*code, *mods)];
            for cut in 0..=bytes.len() {
                let mut d = Decoder::new();
                let mut got = d.feed(&bytes[..cut]);
                if cut < bytes.len() {
                    assert!(got.is_empty(), "{bytes:?} cut at {cut}: {got:?} too early");
                    assert!(d.waiting() || cut == 0, "{bytes:?} cut at {cut}");
                }
                got.extend(d.feed(&bytes[cut..]));
                assert_eq!(got, want, "{bytes:?} cut at {cut}");
                assert!(!d.waiting(), "{bytes:?}: bytes left over");
            }
            // Byte by byte, in one stream with others around it.
            let mut stream = b"j".to_vec();
            stream.extend_from_slice(bytes);
            stream.extend_from_slice(b"k");
            let mut d = Decoder::new();
            let got: Vec<KeyEvent> = stream.iter().flat_map(|b| d.feed(&[*b])).collect();
            let mut expect = vec![key(KeyCode::Char('j'))];
            expect.extend(want);
            expect.push(key(KeyCode::Char('k')));
            assert_eq!(got, expect, "{bytes:?} byte by byte");
        }
    }

    #[test]
    fn a_lone_esc_waits_for_the_timeout() {
        let mut d = Decoder::new();
        assert!(d.feed(b"\x1b").is_empty());
        assert!(d.waiting());
        assert_eq!(d.flush(), vec![key(KeyCode::Esc)]);
        assert!(!d.waiting());
        // Esc, a pause, then j: two keys.
        assert!(d.feed(b"\x1b").is_empty());
        let mut k = d.flush();
        k.extend(d.feed(b"j"));
        assert_eq!(k, vec![key(KeyCode::Esc), key(KeyCode::Char('j'))]);
        // Esc Esc: the first is Esc at once, the second waits.
        assert_eq!(d.feed(b"\x1b\x1b"), vec![key(KeyCode::Esc)]);
        assert_eq!(d.flush(), vec![key(KeyCode::Esc)]);
        // An unfinished sequence that times out: Esc, then what was typed.
        assert!(d.feed(b"\x1b[1;").is_empty());
        let k = d.flush();
        assert_eq!(k[0], key(KeyCode::Esc));
        assert_eq!(k[1], key(KeyCode::Char('[')));
        assert_eq!(
            d.feed(b"\x1b[").len() + d.flush().len(),
            1,
            "ESC [ alone is Alt-["
        );
    }

    #[test]
    fn garbage_is_dropped_not_kept() {
        let mut d = Decoder::new();
        let mut long = b"\x1b[".to_vec();
        long.extend(std::iter::repeat_n(b'1', 100));
        assert!(d.feed(&long).is_empty());
        assert!(!d.waiting());
        assert_eq!(d.feed(b"j"), vec![key(KeyCode::Char('j'))]);
        assert_eq!(all(&[0xff, b'j']), vec![key(KeyCode::Char('j'))]);
    }
}
