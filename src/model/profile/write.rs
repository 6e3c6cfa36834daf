//! Writing a profile back, like the kernel's `savedefconfig`: the text it was read from is
//! edited in place, so the user's comments and key order survive, and a key is written only
//! when it was already in the file or its value differs from the default. A default is
//! never frozen into a file: `format = 1` saved unchanged stays one line.

use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, TableLike, Value};

use super::{KernelSource, Profile, budget_text, parse_size};

/// The comment a profile written from nothing starts with.
pub const HEADER: &str = "# A Stali profile: `stali check`, `stali size`, `stali build` read it.\n";

/// The text to save for `profile`: `base` (the text of the file, or the one it was started
/// from) with the profile's values edited in, or a fresh file when there is no base.
/// Fails only when `base` is not TOML.
pub fn write(profile: &Profile, base: Option<&str>) -> Result<String, toml_edit::TomlError> {
    let mut doc = match base {
        Some(text) => text.parse::<DocumentMut>()?,
        None => {
            let mut d = DocumentMut::new();
            d.decor_mut().set_prefix(HEADER);
            d
        }
    };
    update(profile, &mut doc);
    Ok(doc.to_string())
}

/// How a wanted value compares to what a key holds.
enum Want<'a> {
    /// An integer.
    Int(i64),
    /// A string; a key holding `true`/`false`/a number compares like the reader reads it.
    Str(&'a str),
    /// A list of strings.
    List(&'a [String]),
    /// A size in bytes.
    Size(u64),
    /// A kernel source.
    Source(&'a KernelSource),
}

impl Want<'_> {
    /// Whether `item` already holds this value.
    fn held_by(&self, item: &Item) -> bool {
        match self {
            Want::Int(i) => item.as_integer() == Some(*i),
            Want::Str(s) => reader_text(item).as_deref() == Some(*s),
            Want::List(l) => item.as_array().is_some_and(|a| {
                a.len() == l.len() && a.iter().zip(l.iter()).all(|(v, w)| v.as_str() == Some(w))
            }),
            Want::Size(b) => match item.as_value() {
                Some(Value::String(s)) => parse_size(s.value()) == Some(*b),
                Some(Value::Integer(i)) => u64::try_from(*i.value()).ok() == Some(*b),
                _ => false,
            },
            Want::Source(src) => item.as_table_like().and_then(source_of).as_ref() == Some(*src),
        }
    }

    /// The value written for a key that does not hold it yet.
    fn value(&self) -> Value {
        match self {
            Want::Int(i) => Value::from(*i),
            Want::Str(s) => Value::from(*s),
            Want::List(l) => {
                let mut a = Array::new();
                for s in *l {
                    a.push(s.as_str());
                }
                Value::Array(a)
            }
            Want::Size(b) => Value::from(budget_text(*b)),
            Want::Source(src) => {
                let mut t = InlineTable::new();
                match src {
                    KernelSource::Tarball { url, sha256 } => {
                        t.insert("tarball", url.as_str().into());
                        t.insert("sha256", sha256.as_str().into());
                    }
                    KernelSource::Git { url, rev } => {
                        t.insert("git", url.as_str().into());
                        t.insert("rev", rev.as_str().into());
                    }
                    KernelSource::Path(p) => {
                        t.insert("path", p.to_string_lossy().as_ref().into());
                    }
                }
                Value::InlineTable(t)
            }
        }
    }
}

/// A scalar as the reader takes it: strings as they are, booleans as `y`/`n`, numbers as
/// written.
fn reader_text(item: &Item) -> Option<String> {
    match item.as_value()? {
        Value::String(s) => Some(s.value().clone()),
        Value::Boolean(b) => Some(if *b.value() { "y" } else { "n" }.to_string()),
        Value::Integer(i) => Some(i.value().to_string()),
        _ => None,
    }
}

fn source_of(t: &dyn TableLike) -> Option<KernelSource> {
    let s = |k: &str| t.get(k).and_then(Item::as_str).map(String::from);
    Some(
        match (s("tarball"), s("sha256"), s("git"), s("rev"), s("path")) {
            (Some(url), Some(sha256), None, None, None) => KernelSource::Tarball {
                url,
                sha256: sha256.to_ascii_lowercase(),
            },
            (None, None, Some(url), Some(rev), None) => KernelSource::Git {
                url,
                rev: rev.to_ascii_lowercase(),
            },
            (None, None, None, None, Some(p)) => KernelSource::Path(p.into()),
            _ => return None,
        },
    )
}

/// The table at `path` (`[]` is the root), created when `create` and missing.
fn table_at<'d>(
    doc: &'d mut DocumentMut,
    path: &[&str],
    create: bool,
) -> Option<&'d mut dyn TableLike> {
    let mut t: &mut dyn TableLike = doc.as_table_mut();
    for key in path {
        if t.get(key).is_none() {
            if !create {
                return None;
            }
            let mut new = Table::new();
            new.set_implicit(true);
            t.insert(key, Item::Table(new));
        }
        t = t.get_mut(key)?.as_table_like_mut()?;
    }
    Some(t)
}

/// Makes `key` in the table at `path` hold `want`: left alone when it already does, its
/// value replaced (comments kept) when it holds another, added only when `want` is not the
/// default. `None` removes the key.
fn put(doc: &mut DocumentMut, path: &[&str], key: &str, want: Option<Want<'_>>, is_default: bool) {
    let Some(want) = want else {
        if let Some(t) = table_at(doc, path, false) {
            t.remove(key);
        }
        return;
    };
    let present = table_at(doc, path, false)
        .and_then(|t| t.get(key))
        .is_some();
    if !present && is_default {
        return;
    }
    let Some(t) = table_at(doc, path, true) else {
        return;
    };
    match t.get_mut(key) {
        Some(item) if want.held_by(item) => {}
        Some(Item::Value(old)) => {
            if let (Value::Array(a), Want::List(l)) = (&mut *old, &want) {
                patch_string_array(a, l);
                if want.held_by(&Item::Value(old.clone())) {
                    return;
                }
            }
            let decor = old.decor().clone();
            *old = want.value();
            *old.decor_mut() = decor;
        }
        _ => {
            t.insert(key, Item::Value(want.value()));
        }
    }
}

/// Makes the table at `path` hold exactly `entries` (keys in the file kept in place,
/// new ones appended); the table is created only when there is something to put in it.
fn put_map(doc: &mut DocumentMut, path: &[&str], entries: &[(String, String)]) {
    let Some(t) = table_at(doc, path, !entries.is_empty()) else {
        return;
    };
    let gone: Vec<String> = t
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| !entries.iter().any(|(n, _)| n == k))
        .collect();
    for k in gone {
        t.remove(&k);
    }
    for (k, v) in entries {
        match t.get_mut(k) {
            Some(item) if Want::Str(v).held_by(item) => {}
            Some(Item::Value(old)) => {
                let decor = old.decor().clone();
                *old = Value::from(v.as_str());
                *old.decor_mut() = decor;
            }
            _ => {
                t.insert(k, Item::Value(Value::from(v.as_str())));
            }
        }
    }
}

/// Writes this profile's values into `doc` (see the module comment); `[[tool]]` tables and
/// anything else the profile does not manage are left as they are.
pub fn update(p: &Profile, doc: &mut DocumentMut) {
    let d = Profile {
        name: Profile::default_name(p.file.as_deref()),
        ..Profile::default()
    };
    put(doc, &[], "format", Some(Want::Int(p.format as i64)), false);
    put(doc, &[], "name", Some(Want::Str(&p.name)), p.name == d.name);
    put(
        doc,
        &[],
        "description",
        Some(Want::Str(&p.description)),
        p.description == d.description,
    );
    put(
        doc,
        &["target"],
        "hardware",
        Some(Want::Str(&p.hardware)),
        p.hardware == d.hardware,
    );
    put(
        doc,
        &["tools"],
        "select",
        Some(Want::List(&p.select)),
        p.select == d.select,
    );
    let k = &p.kernel;
    put(
        doc,
        &["kernel"],
        "source",
        Some(Want::Source(&k.source)),
        k.source == d.kernel.source,
    );
    put(
        doc,
        &["kernel"],
        "base",
        Some(Want::Str(&k.base)),
        k.base == d.kernel.base,
    );
    put(
        doc,
        &["kernel"],
        "fragments",
        Some(Want::List(&k.fragments)),
        k.fragments.is_empty(),
    );
    put_map(doc, &["kernel", "options"], &k.options);
    let i = &p.image;
    put(
        doc,
        &["image"],
        "boot",
        i.boot.map(|b| Want::Str(b.as_str())),
        false,
    );
    put(
        doc,
        &["image"],
        "compression",
        Some(Want::Str(i.compression.as_str())),
        i.compression == d.image.compression,
    );
    put(
        doc,
        &["image"],
        "cmdline",
        i.cmdline.as_deref().map(Want::Str),
        false,
    );
    put(
        doc,
        &["image"],
        "hostname",
        Some(Want::Str(&i.hostname)),
        i.hostname == d.image.hostname,
    );
    put(doc, &["image"], "budget", i.budget.map(Want::Size), false);
    put_map(doc, &["pins"], &p.pins);
}

fn raw(r: Option<&toml_edit::RawString>) -> String {
    r.and_then(|r| r.as_str()).unwrap_or("").to_string()
}

fn split_last_newline(s: &str) -> (&str, &str) {
    match s.rfind('\n') {
        Some(i) => (&s[..=i], &s[i + 1..]),
        None => ("", s),
    }
}

/// Makes a TOML array of strings hold `want`, removing and appending items in place so that
/// the comment after each remaining item stays on its line. An array whose order differs
/// from `want` is left as it is (the caller replaces it).
pub fn patch_string_array(arr: &mut Array, want: &[String]) {
    if !arr.iter().all(|v| v.as_str().is_some()) {
        return;
    }
    let mut i = arr.len();
    while i > 0 {
        i -= 1;
        let keep = arr
            .get(i)
            .and_then(|v| v.as_str())
            .is_some_and(|s| want.iter().any(|w| w == s));
        if keep {
            continue;
        }
        // An item's prefix holds the comment of the item before it: hand it on.
        let removed = raw(arr.get(i).and_then(|v| v.decor().prefix()));
        let (carry, _) = split_last_newline(&removed);
        let carry = carry.to_string();
        if i + 1 < arr.len() {
            if let Some(next) = arr.get_mut(i + 1) {
                let np = raw(next.decor().prefix());
                let new = if removed.contains('\n') {
                    format!("{carry}{}", split_last_newline(&np).1)
                } else {
                    removed.clone()
                };
                next.decor_mut().set_prefix(new);
            }
        } else if removed.contains('\n') {
            let t = raw(Some(arr.trailing()));
            let new = format!("{carry}{}", split_last_newline(&t).1);
            arr.set_trailing(new);
        }
        arr.remove(i);
    }
    let multiline = arr.iter().any(|v| raw(v.decor().prefix()).contains('\n'))
        || raw(Some(arr.trailing())).contains('\n');
    for w in want {
        if arr.iter().any(|v| v.as_str() == Some(w.as_str())) {
            continue;
        }
        if !multiline {
            arr.push(w.as_str());
            continue;
        }
        let indent = arr
            .iter()
            .last()
            .map(|v| split_last_newline(&raw(v.decor().prefix())).1.to_string())
            .unwrap_or_else(|| "  ".into());
        let trailing = raw(Some(arr.trailing()));
        let (comment, close) = split_last_newline(&trailing);
        let (comment, close) = (comment.to_string(), close.to_string());
        let mut v = Value::from(w.as_str());
        let mut suffix = String::new();
        let comma = arr.trailing_comma();
        if !comma && let Some(last) = arr.iter_mut().last() {
            suffix = raw(last.decor().suffix());
            last.decor_mut().set_suffix("");
        }
        let lead = if comment.is_empty() {
            "\n".to_string()
        } else {
            comment
        };
        v.decor_mut().set_prefix(format!("{lead}{indent}"));
        v.decor_mut().set_suffix(suffix);
        arr.push_formatted(v);
        if comma {
            arr.set_trailing(format!("\n{close}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Catalog;

    fn parse(text: &str) -> Profile {
        Profile::parse(text, None, &Catalog::embedded()).expect("valid")
    }

    #[test]
    fn one_line_stays_one_line() {
        let p = parse("format = 1\n");
        assert_eq!(
            write(&p, Some("format = 1\n")).expect("toml"),
            "format = 1\n"
        );
    }

    #[test]
    fn only_what_differs_is_added() {
        let mut p = parse("format = 1\n");
        p.image.hostname = "box".into();
        p.kernel
            .options
            .push(("CONFIG_PRINTK_TIME".into(), "y".into()));
        let out = write(&p, Some("format = 1 # mine\n")).expect("toml");
        assert_eq!(
            out,
            "format = 1 # mine\n\n[kernel.options]\nCONFIG_PRINTK_TIME = \"y\"\n\n[image]\nhostname = \"box\"\n"
        );
        assert_eq!(parse(&out).image.hostname, "box");
        // Back to the default: the key stays, as the user's file now has it.
        p.image.hostname = "stali".into();
        let again = write(&p, Some(&out)).expect("toml");
        assert!(again.contains("hostname = \"stali\""), "{again}");
    }

    #[test]
    fn update_keeps_comments_and_order() {
        let text = "# my profile\nformat = 1 # schema\nname = \"x\"\n\n[tools]\n# chosen by hand\nselect = [\"sinit\", \"mksh\"] # keep\n\n[image]\nhostname = \"box\" # the name\n";
        let mut p = parse(text);
        p.select.push("sbase".into());
        p.image.hostname = "other".into();
        let out = write(&p, Some(text)).expect("toml");
        assert!(
            out.starts_with("# my profile\nformat = 1 # schema\nname = \"x\"\n"),
            "{out}"
        );
        assert!(
            out.contains("# chosen by hand\nselect = [\"sinit\", \"mksh\", \"sbase\"] # keep"),
            "{out}"
        );
        assert!(out.contains("hostname = \"other\" # the name"), "{out}");
        let back = parse(&out);
        assert_eq!(back.select, p.select);
        assert_eq!(back.image.hostname, "other");
    }

    #[test]
    fn values_the_reader_reads_alike_are_left_alone() {
        let text = "format = 1\n[kernel.options]\nCONFIG_PRINTK = true # on\nCONFIG_LOG_BUF_SHIFT = 14\n[image]\nbudget = 8388608\n";
        let p = parse(text);
        assert_eq!(write(&p, Some(text)).expect("toml"), text);
    }

    #[test]
    fn fresh_text_round_trips() {
        let mut p = Profile::default();
        p.kernel
            .options
            .push(("CONFIG_PRINTK_TIME".into(), "y".into()));
        p.image.budget = Some(8 << 20);
        let text = write(&p, None).expect("toml");
        assert!(text.starts_with(HEADER), "{text}");
        assert!(!text.contains("hostname"), "a default was written: {text}");
        let back = parse(&text);
        assert_eq!(back.kernel.options, p.kernel.options);
        assert_eq!(back.image.budget, Some(8 << 20));
        assert_eq!(back.select, p.select);
    }

    fn patched(text: &str, want: &[&str]) -> String {
        let mut doc: DocumentMut = text.parse().expect("toml");
        let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        let arr = doc["select"].as_array_mut().expect("array");
        patch_string_array(arr, &want);
        doc.to_string()
    }

    #[test]
    fn list_comments_stay_on_their_lines() {
        let text = "select = [\n  \"a\",   # first\n  \"b\",   # second\n  \"c\",   # third\n]\n";
        assert_eq!(
            patched(text, &["a", "c", "d"]),
            "select = [\n  \"a\",   # first\n  \"c\",   # third\n  \"d\",\n]\n"
        );
        assert_eq!(
            patched(text, &["a", "b"]),
            "select = [\n  \"a\",   # first\n  \"b\",   # second\n]\n"
        );
        assert_eq!(
            patched("select = [\"a\", \"b\"]\n", &["b", "c"]),
            "select = [\"b\", \"c\"]\n"
        );
        assert_eq!(
            patched("select = [\n  \"a\"\n]\n", &["a", "b"]),
            "select = [\n  \"a\",\n  \"b\"\n]\n"
        );
    }
}
