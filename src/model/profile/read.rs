//! Reading a profile: the TOML text walked by hand over its spanned tree (see
//! [`crate::model::walk`]) into a [`Profile`], recording where every key sits. This file
//! knows the shape of a profile (which keys, which types); the rules its values must follow
//! are [`super::validate::validate`]'s, which the reader calls before it returns.

use std::path::{Path, PathBuf};

use super::validate::validate;
use super::{BootMode, Compression, FORMAT, KernelSource, MAX_FILE, Profile, parse_size};
use crate::model::catalog::{Catalog, Origin, is_commit, is_sha256, read_tool, short};
use crate::model::diag::{Diagnostic, Invalid, suggestion};
use crate::model::walk::{Reader, TableNode};

const TOP_KEYS: &[&str] = &[
    "format",
    "name",
    "description",
    "target",
    "tools",
    "kernel",
    "image",
    "pins",
    "track",
    "tool",
    "access",
];

/// The key under which [`Profile::locations`] keeps where the *name* of `key` is written
/// (its value's place is kept under `key` itself).
pub fn name_key(key: &str) -> String {
    format!("{key}#name")
}

impl Profile {
    /// Reads a profile file and validates it against `catalog`; a missing, unreadable,
    /// oversized, binary or non-file path is an error.
    pub fn load(path: &Path, catalog: &Catalog) -> Result<Profile, Invalid> {
        let fail = |msg: String| Err(Invalid(vec![Diagnostic::error(msg).in_file(path)]));
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return fail("no such file".into());
            }
            Err(e) => return fail(format!("cannot read: {e}")),
        };
        if meta.is_dir() {
            return fail("is a directory, not a profile file".into());
        }
        if !meta.is_file() {
            return fail("is not a regular file".into());
        }
        if meta.len() > MAX_FILE {
            return fail(format!(
                "is {} bytes; a profile is at most {} bytes",
                meta.len(),
                MAX_FILE
            ));
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return fail(format!("cannot read: {e}")),
        };
        match String::from_utf8(bytes) {
            Ok(text) => Profile::parse(&text, Some(path), catalog),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let good = String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned();
                let (line, col) = crate::model::diag::line_col(&good, good.len());
                Err(Invalid(vec![
                    Diagnostic::error(format!(
                        "not UTF-8 text (invalid byte at offset {at}); a profile is a TOML text file"
                    ))
                    .at_pos(Some((line, col)))
                    .in_file(path),
                ]))
            }
        }
    }

    /// Parses profile text and validates it against `catalog`; `file` is only used in
    /// messages and for the default name. Every problem found is returned, not the first.
    pub fn parse(text: &str, file: Option<&Path>, catalog: &Catalog) -> Result<Profile, Invalid> {
        let mut r = Reader::new(text, file);
        let p = read(&mut r, text, file);
        let mut diags = r.diags;
        if let Some(p) = &p {
            for d in validate(p, catalog) {
                if !diags.contains(&d) {
                    diags.push(d);
                }
            }
        }
        match p {
            Some(p) if !diags.iter().any(Diagnostic::is_error) => Ok(p),
            _ => {
                diags.sort_by_key(|d| (std::cmp::Reverse(d.severity), d.pos));
                Err(Invalid(diags))
            }
        }
    }

    /// The default name of a profile read from `file`: its lowercased stem when that is a
    /// valid name, else `stali`.
    pub fn default_name(file: Option<&Path>) -> String {
        file.and_then(|f| f.file_stem())
            .map(|s| s.to_string_lossy().to_lowercase())
            .filter(|s| super::valid_profile_name(s))
            .unwrap_or_else(|| Profile::default().name)
    }
}

/// Reads the shape of a profile; `None` when the text is not a TOML document at all.
fn read(r: &mut Reader<'_>, text: &str, file: Option<&Path>) -> Option<Profile> {
    if text.contains('\0') {
        r.error(
            &(0..0),
            "",
            "contains NUL bytes; a profile is a TOML text file",
        );
        return None;
    }
    if text.trim().is_empty() {
        r.error(
            &(0..0),
            "",
            format!("the file is empty; a profile needs at least `format = {FORMAT}`"),
        );
        return None;
    }
    let doc = r.parse()?;
    let mut p = Profile {
        file: file.map(Path::to_path_buf),
        name: Profile::default_name(file),
        ..Profile::default()
    };
    let root = TableNode::root(&doc);
    r.only_keys(&root, TOP_KEYS);
    let mut loc = |r: &Reader<'_>, key: &str, span: &std::ops::Range<usize>| {
        p.locations.insert(key.to_string(), r.pos(span));
    };

    match r.integer(&root, "format") {
        Some(f) => {
            loc(r, "format", &f.span());
            p.format = *f.get_ref();
        }
        None => {
            if root.get("format").is_none() {
                r.error(
                    &(0..0),
                    "format",
                    format!(
                        "missing `format = {FORMAT}` (the schema version) at the top of the file"
                    ),
                );
            }
        }
    }
    if let Some(n) = r.string(&root, "name") {
        loc(r, "name", &n.span());
        p.name = n.into_inner();
    }
    if let Some(d) = r.string(&root, "description") {
        loc(r, "description", &d.span());
        p.description = d.into_inner();
    }

    if let Some(t) = r.table(&root, "target") {
        r.only_keys(&t, &["hardware"]);
        if let Some(h) = r.string(&t, "hardware") {
            loc(r, "target.hardware", &h.span());
            p.hardware = h.into_inner();
        }
    }

    if let Some(t) = r.table(&root, "tools") {
        r.only_keys(&t, &["select"]);
        if t.get("select").is_some() {
            loc(r, "tools.select", &t.key_span("select"));
        }
        if let Some(list) = r.strings(&t, "select") {
            p.select.clear();
            for (i, s) in list.into_iter().enumerate() {
                let key = format!("tools.select[{i}]");
                if p.select.contains(s.get_ref()) {
                    r.warning(
                        &s.span(),
                        &key,
                        format!("`{}` is listed twice", short(s.get_ref())),
                    );
                    continue;
                }
                loc(r, &format!("tools.select[{}]", p.select.len()), &s.span());
                p.select.push(s.into_inner());
            }
        }
    }

    if let Some(t) = r.table(&root, "kernel") {
        r.only_keys(&t, &["source", "base", "fragments", "options"]);
        if let Some(src) = r.table(&t, "source") {
            r.only_keys(&src, &["tarball", "sha256", "git", "rev", "path"]);
            let mut get = |r: &mut Reader<'_>, key: &str| {
                let v = r.string(&src, key);
                if let Some(v) = &v {
                    loc(r, &format!("kernel.source.{key}"), &v.span());
                }
                v
            };
            let tarball = get(r, "tarball");
            let sha = get(r, "sha256");
            let git = get(r, "git");
            let rev = get(r, "rev");
            let path = get(r, "path");
            match (tarball, sha, git, rev, path) {
                (Some(u), Some(s), None, None, None) => {
                    p.kernel.source = KernelSource::Tarball {
                        url: u.into_inner(),
                        sha256: s.into_inner().to_ascii_lowercase(),
                    };
                }
                (None, None, Some(u), Some(v), None) => {
                    p.kernel.source = KernelSource::Git {
                        url: u.into_inner(),
                        rev: v.into_inner().to_ascii_lowercase(),
                    };
                }
                (None, None, None, None, Some(path)) => {
                    p.kernel.source = KernelSource::Path(PathBuf::from(path.into_inner()));
                }
                (Some(u), None, None, None, None) => r.error(
                    &u.span(),
                    "kernel.source",
                    "a tarball source needs `sha256 = \"<64 hex>\"` beside it",
                ),
                (None, None, Some(u), None, None) => r.error(
                    &u.span(),
                    "kernel.source",
                    "a git source needs `rev = \"<40-hex commit>\"` beside it",
                ),
                _ => r.error(
                    &src.span,
                    "kernel.source",
                    "give exactly one of { tarball, sha256 }, { git, rev } or { path }",
                ),
            }
        }
        if let Some(b) = r.string(&t, "base") {
            loc(r, "kernel.base", &b.span());
            p.kernel.base = b.into_inner();
        }
        if let Some(list) = r.strings(&t, "fragments") {
            for s in list {
                if !p.kernel.fragments.contains(s.get_ref()) {
                    let key = format!("kernel.fragments[{}]", p.kernel.fragments.len());
                    loc(r, &key, &s.span());
                    p.kernel.fragments.push(s.into_inner());
                }
            }
        }
        if let Some(opts) = r.table(&t, "options") {
            for (k, node) in opts.keys() {
                let name: &str = k.get_ref();
                let key = format!("kernel.options.{name}");
                use toml::de::DeValue;
                let value = match node.value.get_ref() {
                    DeValue::String(s) => s.to_string(),
                    DeValue::Boolean(true) => "y".to_string(),
                    DeValue::Boolean(false) => "n".to_string(),
                    DeValue::Integer(i) => i.as_str().to_string(),
                    other => {
                        r.error(
                            &node.value.span(),
                            &key,
                            format!(
                                "expected \"y\", \"n\", a number or a string, found {}",
                                crate::model::walk::type_name(other)
                            ),
                        );
                        continue;
                    }
                };
                loc(r, &name_key(&key), &k.span());
                loc(r, &key, &node.value.span());
                p.kernel.options.push((name.to_string(), value));
            }
        }
    }

    if let Some(t) = r.table(&root, "image") {
        r.only_keys(
            &t,
            &["boot", "compression", "cmdline", "hostname", "budget"],
        );
        if let Some(b) = r.string(&t, "boot") {
            match BootMode::parse(b.get_ref()) {
                Some(m) => p.image.boot = Some(m),
                None => {
                    let hint = suggestion(b.get_ref(), ["bios", "uefi", "hybrid"]);
                    r.error(
                        &b.span(),
                        "image.boot",
                        format!(
                            "unknown boot mode `{}`{hint} (use bios, uefi or hybrid)",
                            short(b.get_ref())
                        ),
                    );
                }
            }
        }
        if let Some(c) = r.string(&t, "compression") {
            match Compression::parse(c.get_ref()) {
                Some(m) => p.image.compression = m,
                None => {
                    let hint = suggestion(c.get_ref(), ["gzip", "xz", "zstd"]);
                    r.error(
                        &c.span(),
                        "image.compression",
                        format!(
                            "unknown compression `{}`{hint} (use gzip, xz or zstd)",
                            short(c.get_ref())
                        ),
                    );
                }
            }
        }
        if let Some(c) = r.string(&t, "cmdline") {
            loc(r, "image.cmdline", &c.span());
            p.image.cmdline = Some(c.into_inner());
        }
        if let Some(h) = r.string(&t, "hostname") {
            loc(r, "image.hostname", &h.span());
            p.image.hostname = h.into_inner();
        }
        if let Some((v, _)) = t.get("budget") {
            use toml::de::DeValue;
            let parsed = match v.get_ref() {
                DeValue::String(s) => parse_size(s),
                DeValue::Integer(i) => i.as_str().replace('_', "").parse().ok(),
                _ => None,
            };
            loc(r, "image.budget", &v.span());
            match parsed {
                Some(b) => p.image.budget = Some(b),
                None => r.error(&v.span(), "image.budget", super::BUDGET_HELP),
            }
        }
    }

    if let Some(t) = r.table(&root, "pins") {
        for (k, node) in t.keys() {
            let name: &str = k.get_ref();
            let key = format!("pins.{name}");
            if let Some(v) = r.as_string(node.value, &key) {
                loc(r, &name_key(&key), &k.span());
                loc(r, &key, &v.span());
                let pin = v.into_inner();
                let pin = if is_commit(&pin) || is_sha256(&pin) {
                    pin.to_ascii_lowercase()
                } else {
                    pin
                };
                p.pins.push((name.to_string(), pin));
            }
        }
    }

    if let Some(t) = r.table(&root, "track") {
        for (k, node) in t.keys() {
            let name: &str = k.get_ref();
            let key = format!("track.{name}");
            if let Some(v) = r.as_string(node.value, &key) {
                loc(r, &name_key(&key), &k.span());
                loc(r, &key, &v.span());
                match crate::model::track::Track::parse(v.get_ref()) {
                    Ok(tr) => p.track.push((name.to_string(), tr)),
                    Err(e) => r.error(&v.span(), &key, e),
                }
            }
        }
    }

    if let Some((v, path)) = root.get("tool") {
        use toml::de::DeValue;
        match v.get_ref() {
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let tpath = format!("tool[{i}]");
                    let Some(t) = r.as_table(item, tpath.clone()) else {
                        continue;
                    };
                    if let Some((n, _)) = t.get("name") {
                        loc(r, &format!("{tpath}.name"), &n.span());
                    }
                    if let Some((d, _)) = t.get("depends") {
                        loc(r, &format!("{tpath}.depends"), &d.span());
                    }
                    loc(r, &tpath, &t.span);
                    let named = t.get("name").and_then(|(n, _)| match n.get_ref() {
                        toml::de::DeValue::String(s) => Some(s.to_string()),
                        _ => None,
                    });
                    let Some(tool) = read_tool(r, &t, Origin::Profile) else {
                        // Its errors are reported; naming it elsewhere is not another one.
                        p.broken_tools.extend(named);
                        continue;
                    };
                    {
                        if p.inline_tools.iter().any(|x| x.name == tool.name) {
                            r.error(
                                &t.span,
                                &tpath,
                                format!("tool `{}` is defined twice", tool.name),
                            );
                            continue;
                        }
                        p.inline_tools.push(tool);
                    }
                }
            }
            _ => r.error(&v.span(), &path, "expected [[tool]] tables"),
        }
    }
    p.access = crate::model::access::read(r, &root);
    Some(p)
}
