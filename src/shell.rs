//! Argument vectors shown as POSIX shell text (in messages, logs and `stali check`'s
//! warnings). It imports nothing from the crate, so every layer may use it.

/// Joins an argument vector for display, single-quoting arguments that need it.
pub fn display_argv<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| quote_arg(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One argument as POSIX shell text: as is when plain, else single-quoted.
pub fn quote_arg(a: &str) -> String {
    let plain = !a.is_empty()
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_arguments_stay_and_others_are_single_quoted() {
        assert_eq!(
            display_argv(&["make", "-j2", "CC=musl-gcc"]),
            "make -j2 CC=musl-gcc"
        );
        assert_eq!(quote_arg("a b"), "'a b'");
        assert_eq!(quote_arg(""), "''");
        assert_eq!(quote_arg("it's"), "'it'\\''s'");
    }
}
