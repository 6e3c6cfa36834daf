//! Turns the bytes read from the terminal into key events.
//!
//! The configurator reads the terminal itself (a blocking read in its own thread) rather
//! than through crossterm's event source, so that end of file or an I/O error on a terminal
//! that went away ends the program instead of being retried in a loop.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Parses as many keys as `buf` holds; returns them and how many bytes were used (an
/// incomplete UTF-8 character at the end is left for the next read).
pub fn parse(buf: &[u8]) -> (Vec<KeyEvent>, usize) {
    let mut out = Vec::new();
    let mut i = 0;
    while i < buf.len() {
        let b = buf[i];
        match b {
            0x1b => {
                let rest = &buf[i + 1..];
                match rest.first() {
                    None => {
                        out.push(key(KeyCode::Esc));
                        i += 1;
                    }
                    Some(b'[') | Some(b'O') => {
                        let ss3 = rest[0] == b'O';
                        // Parameters, then a final byte in 0x40..=0x7e.
                        let mut j = 1;
                        while j < rest.len() && !(0x40..=0x7e).contains(&rest[j]) {
                            j += 1;
                        }
                        if j >= rest.len() {
                            // Cut short: take the Esc alone and drop the fragment.
                            out.push(key(KeyCode::Esc));
                            i = buf.len();
                            continue;
                        }
                        let params = &rest[1..j];
                        let fin = rest[j];
                        let mut mods = KeyModifiers::NONE;
                        let nums: Vec<u32> = std::str::from_utf8(params)
                            .unwrap_or("")
                            .split(';')
                            .map(|s| s.parse().unwrap_or(0))
                            .collect();
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
                        if let Some(c) = code {
                            out.push(KeyEvent::new(c, mods));
                        }
                        i += 2 + j;
                    }
                    Some(_) => {
                        // Esc then a key (or Alt+key): both keys.
                        out.push(key(KeyCode::Esc));
                        i += 1;
                    }
                }
            }
            b'\r' | b'\n' => {
                out.push(key(KeyCode::Enter));
                i += 1;
            }
            b'\t' => {
                out.push(key(KeyCode::Tab));
                i += 1;
            }
            0x7f | 0x08 => {
                out.push(key(KeyCode::Backspace));
                i += 1;
            }
            0x01..=0x1a => {
                out.push(KeyEvent::new(
                    KeyCode::Char((b - 1 + b'a') as char),
                    KeyModifiers::CONTROL,
                ));
                i += 1;
            }
            0x00 | 0x1c..=0x1f => i += 1,
            _ => {
                let len = match b {
                    0x00..=0x7f => 1,
                    0xc0..=0xdf => 2,
                    0xe0..=0xef => 3,
                    0xf0..=0xf7 => 4,
                    _ => {
                        i += 1;
                        continue;
                    }
                };
                if i + len > buf.len() {
                    break;
                }
                if let Some(c) = std::str::from_utf8(&buf[i..i + len])
                    .ok()
                    .and_then(|s| s.chars().next())
                {
                    let mods = if c.is_uppercase() {
                        KeyModifiers::SHIFT
                    } else {
                        KeyModifiers::NONE
                    };
                    out.push(KeyEvent::new(KeyCode::Char(c), mods));
                }
                i += len;
            }
        }
    }
    (out, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_letters_and_controls() {
        let (k, n) = parse(b"\x1b[A\x1bOBj\r\x12\x1b");
        assert_eq!(n, 10);
        let codes: Vec<KeyCode> = k.iter().map(|k| k.code).collect();
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
        assert!(k[4].modifiers.contains(KeyModifiers::CONTROL));
        let (k, _) = parse(b"\x1b[5~\x1b[1;5C");
        assert_eq!(k[0].code, KeyCode::PageUp);
        assert_eq!(k[1], KeyEvent::new(KeyCode::Right, KeyModifiers::CONTROL));
    }

    #[test]
    fn utf8_split_across_reads() {
        let bytes = "é".as_bytes();
        let (k, n) = parse(&bytes[..1]);
        assert!(k.is_empty());
        assert_eq!(n, 0);
        let (k, _) = parse(bytes);
        assert_eq!(k[0].code, KeyCode::Char('é'));
    }
}
