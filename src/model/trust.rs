//! What code a profile brings with it. Building a profile runs the build systems of its
//! own `[[tool]]` recipes (a Makefile, a configure script, or its `steps`) and of a kernel
//! source fetched from a URL, as the user who builds it: such a profile is built only
//! once the user trusts its exact content (`stali trust`). Catalog recipes and the
//! shipped profiles are trusted; the default kernel is a file already on the machine.

use sha2::{Digest, Sha256};

use super::catalog::{BuildStyle, EMBEDDED_PROFILES};
use super::{Diagnostic, KernelSource, Profile};

/// One piece of code a profile carries: where it is in the profile and what it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedCode {
    /// The profile key (`tool[0]`, `kernel.source`).
    pub key: String,
    /// What runs, in words, with each command of a `steps` recipe.
    pub runs: String,
}

/// The code `p` brings: its own recipes and a kernel source from a URL.
pub fn carried_code(p: &Profile) -> Vec<CarriedCode> {
    let mut out = Vec::new();
    for (i, t) in p.inline_tools.iter().enumerate() {
        let what = match &t.build {
            BuildStyle::Make => "`make` and `make install` from its source".to_string(),
            BuildStyle::Autotools => {
                "`./configure`, `make` and `make install` from its source".to_string()
            }
            BuildStyle::Steps(steps) => {
                let cmds: Vec<String> = steps
                    .iter()
                    .map(|s| format!("`{}`", crate::shell::display_argv(s)))
                    .collect();
                format!("the commands {}", cmds.join(", "))
            }
        };
        out.push(CarriedCode {
            key: format!("tool[{i}]"),
            runs: format!("recipe `{}` ({}) runs {what}", t.name, t.source.url()),
        });
    }
    match &p.kernel.source {
        KernelSource::Git { url, .. } | KernelSource::Tarball { url, .. } => {
            out.push(CarriedCode {
                key: "kernel.source".into(),
                runs: format!("the kernel from {url} runs its own kbuild Makefiles and scripts"),
            });
        }
        KernelSource::Path(_) => {}
    }
    out
}

/// `stali check`'s warnings saying what code `p` carries (none when it carries none).
pub fn carried_code_warnings(p: &Profile) -> Vec<Diagnostic> {
    carried_code(p)
        .into_iter()
        .map(|c| {
            p.locate(
                Diagnostic::warning(format!(
                    "this profile carries code: {}; `stali build` runs it as you only once you \
                     trust this file (`stali trust FILE`)",
                    c.runs
                )),
                &c.key,
            )
        })
        .collect()
}

/// The SHA-256 of a profile's exact bytes, lowercase hex: what `stali trust` records.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `bytes` are exactly one of the shipped profiles (trusted as stali itself is).
pub fn is_shipped(bytes: &[u8]) -> bool {
    EMBEDDED_PROFILES
        .iter()
        .any(|(_, text)| text.as_bytes() == bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Catalog;

    #[test]
    fn recipes_and_kernel_urls_are_code_and_each_command_is_named() {
        let text = r#"format = 1
[kernel]
source = { tarball = "https://example.org/linux.tar.xz", sha256 = "0000000000000000000000000000000000000000000000000000000000000000" }
[[tool]]
name = "hello"
description = "hi"
git = "https://example.org/hello"
rev = "0123456789012345678901234567890123456789"
build = { steps = [["sh", "-c", "cat ~/.ssh/id_rsa > ${DESTDIR}/x"], ["make"]] }
license = "MIT"
size = 1
"#;
        let p = Profile::parse(text, None, &Catalog::load()).expect("valid");
        let code = carried_code(&p);
        assert_eq!(code.len(), 2, "{code:?}");
        assert_eq!(code[0].key, "tool[0]");
        assert!(
            code[0]
                .runs
                .contains("`sh -c 'cat ~/.ssh/id_rsa > ${DESTDIR}/x'`, `make`"),
            "{}",
            code[0].runs
        );
        assert!(code[1].runs.contains("https://example.org/linux.tar.xz"));
    }

    #[test]
    fn shipped_profiles_carry_no_code() {
        for (name, text) in EMBEDDED_PROFILES {
            let p = Profile::parse(text, None, &Catalog::load()).expect("valid");
            assert!(carried_code(&p).is_empty(), "{name}");
            assert!(is_shipped(text.as_bytes()));
        }
        assert!(!is_shipped(b"format = 1\n"));
        assert_eq!(
            content_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
