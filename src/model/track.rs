//! What a recipe tracks upstream, for `stali update`: release tags matching a pattern
//! (pre-releases skipped, the newest by version order) or the head of a branch.

use std::cmp::Ordering;
use std::fmt;

/// What `stali update` follows for one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Track {
    /// Release tags matching a glob with one `*` (`v*`, `mksh-R*`, `curl-*`).
    Tags(String),
    /// The head of a branch (`master`).
    Branch(String),
}

impl Track {
    /// Reads `tags:PATTERN` or `branch:NAME`; the error says what is wrong.
    pub fn parse(s: &str) -> Result<Track, String> {
        let bad_char = |v: &str| {
            v.is_empty()
                || v.len() > 100
                || v.chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "~^:?[\\".contains(c))
                || v.starts_with(['-', '/'])
                || v.contains("..")
        };
        if let Some(p) = s.strip_prefix("tags:") {
            if bad_char(p) || p.matches('*').count() != 1 {
                return Err(format!(
                    "`{s}`: a tag pattern has exactly one `*` and no spaces (e.g. \"tags:v*\")"
                ));
            }
            Ok(Track::Tags(p.to_string()))
        } else if let Some(b) = s.strip_prefix("branch:") {
            if bad_char(b) || b.contains('*') {
                return Err(format!(
                    "`{s}`: a branch name has no spaces or `*` (e.g. \"branch:master\")"
                ));
            }
            Ok(Track::Branch(b.to_string()))
        } else {
            Err(format!(
                "`{s}`: track \"tags:PATTERN\" (release tags, e.g. \"tags:v*\") or \"branch:NAME\""
            ))
        }
    }

    /// For a tag pattern, the part of `tag` the `*` stands for, if the tag matches.
    pub fn version_of<'a>(&self, tag: &'a str) -> Option<&'a str> {
        let Track::Tags(p) = self else {
            return None;
        };
        let (pre, post) = p.split_once('*')?;
        let rest = tag.strip_prefix(pre)?.strip_suffix(post)?;
        // `v1.0*` matches `v1.0` itself; a bare `*` matches no empty tag.
        (!rest.is_empty() || !pre.is_empty() || !post.is_empty()).then_some(rest)
    }
}

impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Track::Tags(p) => write!(f, "tags:{p}"),
            Track::Branch(b) => write!(f, "branch:{b}"),
        }
    }
}

/// A version split into numbers and words, compared part by part (`59c` > `59`,
/// `8_14_1` > `8_9_0`, `1.3.1` > `1.3`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Num(u64),
    Word(String),
}

fn parts(v: &str) -> Vec<Part> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut digits = false;
    let flush = |cur: &mut String, digits: bool, out: &mut Vec<Part>| {
        if cur.is_empty() {
            return;
        }
        out.push(if digits {
            Part::Num(cur.parse().unwrap_or(u64::MAX))
        } else {
            Part::Word(cur.to_ascii_lowercase())
        });
        cur.clear();
    };
    for c in v.chars() {
        if c.is_ascii_alphanumeric() {
            let d = c.is_ascii_digit();
            if d != digits {
                flush(&mut cur, digits, &mut out);
                digits = d;
            }
            cur.push(c);
        } else {
            flush(&mut cur, digits, &mut out);
        }
    }
    flush(&mut cur, digits, &mut out);
    out
}

/// Orders two versions (the parts a tag pattern's `*` matched).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (a, b) = (parts(a), parts(b));
    for (x, y) in a.iter().zip(b.iter()) {
        let o = match (x, y) {
            (Part::Num(m), Part::Num(n)) => m.cmp(n),
            (Part::Word(m), Part::Word(n)) => m.cmp(n),
            // A number after the same prefix is a later release than a word (1.2.1 > 1.2.x).
            (Part::Num(_), Part::Word(_)) => Ordering::Greater,
            (Part::Word(_), Part::Num(_)) => Ordering::Less,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Whether a version names a pre-release (`rc`, `alpha`, `beta`, `pre`, `dev`, `snapshot`).
pub fn is_prerelease(version: &str) -> bool {
    parts(version).iter().any(|p| {
        matches!(p, Part::Word(w) if ["rc", "alpha", "beta", "pre", "dev", "snapshot"].contains(&w.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_parse_and_refuse_nonsense() {
        assert_eq!(Track::parse("tags:v*"), Ok(Track::Tags("v*".into())));
        assert_eq!(
            Track::parse("branch:master"),
            Ok(Track::Branch("master".into()))
        );
        for bad in [
            "v*",
            "tags:v",
            "tags:v**",
            "tags:a b*",
            "branch:",
            "branch:a*",
            "tags:../*",
        ] {
            assert!(Track::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_order_like_releases() {
        let t = Track::Tags("mksh-R*".into());
        assert_eq!(t.version_of("mksh-R59c"), Some("59c"));
        assert_eq!(t.version_of("mksh-59c"), None);
        assert_eq!(Track::Tags("v1.0*".into()).version_of("v1.0"), Some(""));
        let mut v = vec!["8_9_0", "8_14_1", "8_14_0", "7_88_1"];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(v, ["7_88_1", "8_9_0", "8_14_0", "8_14_1"]);
        assert_eq!(compare_versions("59c", "59"), Ordering::Greater);
        assert_eq!(compare_versions("1.3.1", "1.3"), Ordering::Greater);
        assert_eq!(compare_versions("2026.94", "2026.100"), Ordering::Less);
    }

    #[test]
    fn prereleases_are_recognised() {
        for p in [
            "1.2.0-rc1",
            "2.0beta",
            "3.0-pre",
            "1.0.0-alpha.2",
            "2_8_0_RC1",
        ] {
            assert!(is_prerelease(p), "{p}");
        }
        for r in ["59c", "1.47.4", "8_14_1", "2026.94"] {
            assert!(!is_prerelease(r), "{r}");
        }
    }
}
