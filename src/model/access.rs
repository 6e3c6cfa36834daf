//! The profile's `[access]` table: how root logs in to the booted image.
//!
//! ```toml
//! [access]
//! ssh_keys = ["ssh-ed25519 AAAAC3Nza... me@laptop"]   # root's authorized keys
//! password_hash = "$6$salt$..."                      # root's password, as crypt(3) makes it
//! ```
//!
//! Every value ends up in a file of the image (`/root/.ssh/authorized_keys`, `/etc/shadow`),
//! so each is checked here: a key line is exactly `type base64 [comment]` with the type
//! repeated inside the decoded key (no `command=` or other options, no second line); a
//! password is only ever a crypt(3) hash that musl can check, never the password itself.

use super::catalog::short;
use super::walk::{Reader, TableNode};

/// The keys an `[access]` table may have.
pub const ACCESS_KEYS: &[&str] = &["ssh_keys", "password_hash"];

/// Key types OpenSSH and dropbear accept in `authorized_keys`.
pub const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// Longest authorized key line accepted (an RSA-16384 key is about 2,800 bytes).
pub const MAX_KEY_LINE: usize = 8192;

/// How root may log in, as the profile says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Access {
    /// Root's SSH public keys, each normalised to `type base64 [comment]`.
    pub ssh_keys: Vec<String>,
    /// Root's password as a crypt(3) hash (`$6$...`); `None` leaves the password locked.
    pub password_hash: Option<String>,
}

impl Access {
    /// Whether the profile gives any way to log in over the network.
    pub fn can_log_in(&self) -> bool {
        !self.ssh_keys.is_empty() || self.password_hash.is_some()
    }

    /// The text of `/root/.ssh/authorized_keys` (one checked key per line).
    pub fn authorized_keys(&self) -> String {
        self.ssh_keys.iter().map(|k| format!("{k}\n")).collect()
    }

    /// The text of `/etc/shadow`: root's hash, or `!` (locked: no password logs in).
    pub fn shadow(&self) -> String {
        format!(
            "root:{}:0:0:99999:7:::\n",
            self.password_hash.as_deref().unwrap_or("!")
        )
    }
}

/// Reads the `[access]` table of a profile's root, if present; problems go to `r`.
pub fn read(r: &mut Reader<'_>, root: &TableNode<'_, '_>) -> Access {
    let mut access = Access::default();
    let Some(t) = r.table(root, "access") else {
        return access;
    };
    r.only_keys(&t, ACCESS_KEYS);
    for (i, k) in r
        .strings(&t, "ssh_keys")
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        match authorized_key(k.get_ref()) {
            Ok(line) => access.ssh_keys.push(line),
            Err(msg) => r.error(&k.span(), &format!("access.ssh_keys[{i}]"), msg),
        }
    }
    if let Some(h) = r.string(&t, "password_hash") {
        match password_problem(h.get_ref()) {
            None => access.password_hash = Some(h.into_inner()),
            Some(msg) => r.error(&h.span(), "access.password_hash", msg),
        }
    }
    access
}

/// Checks one authorized key and returns it normalised (`type base64 [comment]`, single
/// spaces), or says what is wrong with it.
pub fn authorized_key(line: &str) -> Result<String, String> {
    if line.len() > MAX_KEY_LINE {
        return Err(format!(
            "is {} bytes long; an SSH public key line is at most {MAX_KEY_LINE}",
            line.len()
        ));
    }
    if line.chars().any(char::is_control) {
        return Err(
            "contains a control character (a newline?); give one public key per string".into(),
        );
    }
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let Some(kind) = parts.next() else {
        return Err("is empty; give a public key such as the line in ~/.ssh/id_ed25519.pub".into());
    };
    if !KEY_TYPES.contains(&kind) {
        return Err(format!(
            "`{}` is not an SSH key type; a key is `TYPE BASE64 [COMMENT]` with TYPE one of {} (options such as `command=` are not accepted)",
            short(kind),
            KEY_TYPES.join(", ")
        ));
    }
    let Some(body) = parts.next() else {
        return Err(format!("has the type `{kind}` but no key after it"));
    };
    let Some(blob) = base64_decode(body) else {
        return Err(format!("the key after `{kind}` is not base64"));
    };
    if embedded_type(&blob) != Some(kind.as_bytes()) {
        return Err(format!(
            "the key data does not hold a `{kind}` key (was the type or the key cut or changed?)"
        ));
    }
    let comment: Vec<&str> = parts.collect();
    let mut out = format!("{kind} {body}");
    if !comment.is_empty() {
        out.push(' ');
        out.push_str(&comment.join(" "));
    }
    Ok(out)
}

/// The key type written at the start of an SSH public key blob (a length-prefixed string).
fn embedded_type(blob: &[u8]) -> Option<&[u8]> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    blob.get(4..4usize.checked_add(len)?)
}

/// Decodes standard base64 (with `=` padding); `None` when it is not base64.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.chunks(4).count();
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..4 - pad]);
    }
    Some(out)
}

/// Why a password hash is refused, or `None` when musl's crypt(3) can check it.
pub fn password_problem(h: &str) -> Option<String> {
    const HOW: &str = "make one with `mkpasswd -m sha-512` or `openssl passwd -6`";
    if h.is_empty() {
        return Some(format!(
            "an empty password hash would let anyone log in as root without a password; {HOW}, or leave `password_hash` out to lock the password"
        ));
    }
    let alphabet = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    };
    if !h.starts_with('$') {
        return Some(format!(
            "`password_hash` takes a crypt(3) hash such as `$6$salt$...`, never the password itself; {HOW}"
        ));
    }
    let fields: Vec<&str> = h.split('$').collect();
    // "$6$salt$hash" splits into ["", "6", "salt", "hash"]; a rounds= field may follow the id.
    let (id, rest) = (
        fields.get(1).copied().unwrap_or(""),
        &fields[2.min(fields.len())..],
    );
    let (expected, rest): (usize, &[&str]) = match id {
        "1" => (22, rest),
        "5" | "6" => {
            let rest = match rest.first() {
                Some(r) if r.starts_with("rounds=") => {
                    if r["rounds=".len()..].parse::<u32>().is_err() {
                        return Some(format!("`{}` is not a valid rounds= field", short(r)));
                    }
                    &rest[1..]
                }
                _ => rest,
            };
            (if id == "5" { 43 } else { 86 }, rest)
        }
        "2a" | "2b" | "2y" => {
            let ok = rest.len() == 2
                && rest[0].len() == 2
                && rest[0].bytes().all(|b| b.is_ascii_digit())
                && rest[1].len() == 53
                && alphabet(rest[1]);
            return (!ok).then(|| {
                format!(
                    "`{}` is not a well-formed bcrypt hash ($2b$NN$ and 53 characters); {HOW}",
                    short(h)
                )
            });
        }
        "y" | "gy" | "7" => {
            return Some(format!(
                "musl's crypt(3) cannot check yescrypt or scrypt hashes (`${id}$`); {HOW}"
            ));
        }
        _ => {
            return Some(format!(
                "`${}$` is not a crypt(3) method musl knows ($1$ MD5, $2b$ bcrypt, $5$ SHA-256, $6$ SHA-512); {HOW}",
                short(id)
            ));
        }
    };
    let ok = rest.len() == 2
        && !rest[0].is_empty()
        && rest[0].len() <= 16
        && alphabet(rest[0])
        && rest[1].len() == expected
        && alphabet(rest[1]);
    (!ok).then(|| {
        format!(
            "`{}` is not a well-formed `${id}$salt$hash` (salt of 1-16 and hash of {expected} characters from `a-zA-Z0-9./`); {HOW}",
            short(h)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbUe6JZ6u7qzQBKkNtW1+ENz+VZ1ELz8xEQ+TmvGzX6";

    #[test]
    fn keys_are_checked_and_normalised() {
        assert_eq!(authorized_key(ED).as_deref(), Ok(ED));
        let with = format!("{ED}   me@laptop  x");
        assert_eq!(
            authorized_key(&with).as_deref(),
            Ok(format!("{ED} me@laptop x").as_str())
        );
        for bad in [
            "",
            "ssh-ed25519",
            "ssh-ed25519 not-base64!",
            "command=\"/bin/sh\" ssh-ed25519 AAAA",
            "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGbUe6JZ6u7qzQBKkNtW1+ENz+VZ1ELz8xEQ+TmvGzX6",
        ] {
            assert!(authorized_key(bad).is_err(), "{bad:?} accepted");
        }
        let injected = format!("{ED}\ncommand=\"reboot\" {ED}");
        let e = authorized_key(&injected).expect_err("newline");
        assert!(e.contains("control character"), "{e}");
    }

    #[test]
    fn base64_round_trip_and_garbage() {
        assert_eq!(base64_decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64_decode("aGVsbA==").as_deref(), Some(&b"hell"[..]));
        assert_eq!(base64_decode("aGVs").as_deref(), Some(&b"hel"[..]));
        assert_eq!(base64_decode("aGV"), None);
        assert_eq!(base64_decode("a=Vs"), None);
        assert_eq!(base64_decode("aG=s"), None);
    }

    #[test]
    fn password_hashes() {
        let sha512 = format!("$6$saltsalt${}", "a".repeat(86));
        assert_eq!(password_problem(&sha512), None);
        let rounds = format!("$6$rounds=5000$saltsalt${}", "a".repeat(86));
        assert_eq!(password_problem(&rounds), None);
        assert_eq!(
            password_problem(&format!("$2b$10${}", "a".repeat(53))),
            None
        );
        assert_eq!(password_problem(&format!("$1$s${}", "b".repeat(22))), None);
        for bad in [
            "",
            "hunter2",
            "$y$j9T$salt$hash",
            "$6$salt$short",
            "$6$sa:lt$aaaa",
            "$9$x$y",
        ] {
            assert!(password_problem(bad).is_some(), "{bad:?} accepted");
        }
        let colon = format!("$6$salt:x${}", "a".repeat(86));
        assert!(password_problem(&colon).is_some());
    }

    #[test]
    fn files_for_the_image() {
        let a = Access {
            ssh_keys: vec![ED.into()],
            password_hash: None,
        };
        assert!(a.can_log_in());
        assert_eq!(a.authorized_keys(), format!("{ED}\n"));
        assert!(a.shadow().starts_with("root:!:"));
        assert!(!Access::default().can_log_in());
    }
}
