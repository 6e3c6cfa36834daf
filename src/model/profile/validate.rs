//! The rules a profile's values follow, in one place: [`validate`] is called by the reader
//! (`stali check`), by resolution and so by every edit the configurator makes, so a profile
//! the configurator accepts is one `stali check` accepts.

use super::{BUDGET_HELP, FORMAT, KernelSource, Profile, cmdline_problem, valid_hostname};
use crate::model::catalog::{
    Catalog, PinKind, Source, UrlKind, is_commit, is_sha256, pin_problem, short, url_problem,
};
use crate::model::diag::{Diagnostic, suggestion};

/// Longest kernel option value accepted, in bytes.
pub const MAX_OPTION_VALUE: usize = 1024;

/// Every problem with `profile`'s values, each placed at its key (errors and warnings,
/// in the order of the file's sections). Empty means the values are fine; resolution
/// (dependencies, conflicts) is [`crate::model::resolve`]'s.
pub fn validate(profile: &Profile, catalog: &Catalog) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let error = |msg: String, key: &str| profile.locate(Diagnostic::error(msg), key);
    let p = profile;

    if p.format > FORMAT {
        out.push(error(
            format!(
                "format {} is newer than this stali understands (format {FORMAT}); upgrade stali to read it",
                p.format
            ),
            "format",
        ));
    } else if p.format < 1 {
        out.push(error(format!("format must be {FORMAT}"), "format"));
    }
    if !super::valid_profile_name(&p.name) {
        out.push(error(
            format!(
                "`{}` is not a valid profile name: 1-64 lowercase letters, digits, `-`, `_`, `.`",
                short(&p.name)
            ),
            "name",
        ));
    }
    if p.description.chars().count() > 200 || p.description.chars().any(char::is_control) {
        out.push(error(
            "a description is one line of at most 200 characters".into(),
            "description",
        ));
    }
    if catalog.hardware(&p.hardware).is_none() {
        let hint = suggestion(
            &p.hardware,
            catalog.hardware.iter().map(|h| h.name.as_str()),
        );
        out.push(error(
            format!(
                "unknown hardware `{}`{hint} (see `stali list hardware`)",
                short(&p.hardware)
            ),
            "target.hardware",
        ));
    }

    let tool_names: Vec<&str> = catalog
        .tools
        .iter()
        .map(|t| t.name.as_str())
        .chain(p.inline_tools.iter().map(|t| t.name.as_str()))
        .chain(p.broken_tools.iter().map(String::as_str))
        .collect();
    let unknown_tool = |name: &str| {
        format!(
            "unknown tool `{}`{}",
            short(name),
            suggestion(name, tool_names.iter().copied())
        )
    };
    for (i, name) in p.select.iter().enumerate() {
        if !tool_names.contains(&name.as_str()) {
            out.push(error(
                format!("{} (see `stali list tools`)", unknown_tool(name)),
                &format!("tools.select[{i}]"),
            ));
        }
    }

    match &p.kernel.source {
        KernelSource::Tarball { url, sha256 } => {
            if let Some(why) = url_problem(url, UrlKind::Tarball) {
                out.push(error(why, "kernel.source.tarball"));
            }
            if let Some(why) = pin_problem(sha256, PinKind::Sha256) {
                out.push(error(why, "kernel.source.sha256"));
            }
        }
        KernelSource::Git { url, rev } => {
            if let Some(why) = url_problem(url, UrlKind::Git) {
                out.push(error(why, "kernel.source.git"));
            }
            if let Some(why) = pin_problem(rev, PinKind::Commit) {
                out.push(error(why, "kernel.source.rev"));
            }
        }
        KernelSource::Path(path) => {
            let s = path.to_string_lossy();
            if !s.starts_with('/') || s.chars().any(char::is_control) || s.len() > 4096 {
                out.push(error(
                    "give an absolute path to a kernel tree or tarball".into(),
                    "kernel.source.path",
                ));
            } else if let Ok(m) = std::fs::metadata(path)
                && !m.is_file()
                && !m.is_dir()
            {
                // A FIFO or a device would hang the build or read forever.
                out.push(error(
                    format!(
                        "{} is not a regular file or folder: give a kernel tree or tarball",
                        path.display()
                    ),
                    "kernel.source.path",
                ));
            }
        }
    }
    if catalog.base(&p.kernel.base).is_none() {
        let hint = suggestion(
            &p.kernel.base,
            catalog.bases.iter().map(|b| b.name.as_str()),
        );
        out.push(error(
            format!(
                "unknown base `{}`{hint} (see `stali list bases`)",
                short(&p.kernel.base)
            ),
            "kernel.base",
        ));
    }
    for (i, name) in p.kernel.fragments.iter().enumerate() {
        if catalog.fragment(name).is_none() {
            let hint = suggestion(name, catalog.fragments.iter().map(|f| f.name.as_str()));
            out.push(error(
                format!(
                    "unknown kernel fragment `{}`{hint} (see `stali list fragments`)",
                    short(name)
                ),
                &format!("kernel.fragments[{i}]"),
            ));
        }
    }
    for (name, value) in &p.kernel.options {
        let key = format!("kernel.options.{name}");
        if let Some(why) = option_problem(name, value) {
            let at_name = why.starts_with("not a kernel option name");
            let d = Diagnostic::error(why);
            out.push(if at_name {
                p.locate_name(d, &key)
            } else {
                p.locate(d, &key)
            });
        }
    }

    if let Some(c) = &p.image.cmdline
        && let Some(why) = cmdline_problem(c)
    {
        out.push(p.locate(
            Diagnostic::error(format!("the kernel command line {why}")),
            "image.cmdline",
        ));
    }
    if !valid_hostname(&p.image.hostname) {
        out.push(p.locate(
            Diagnostic::error(format!(
                "`{}` is not a valid host name: 1-63 letters, digits and `-`, not starting or ending with `-`",
                short(&p.image.hostname)
            )),
            "image.hostname",
        ));
    }
    if p.image.budget == Some(0) {
        out.push(p.locate(Diagnostic::error(BUDGET_HELP), "image.budget"));
    }

    // The source a tool name stands for here: the profile's own definition over the catalog's.
    let source_of = |name: &str| {
        catalog
            .tools
            .iter()
            .chain(p.inline_tools.iter())
            .rev()
            .find(|t| t.name == name)
            .map(|t| &t.source)
    };
    for (name, pin) in &p.pins {
        let key = format!("pins.{name}");
        let source = source_of(name);
        if !is_commit(pin) && !is_sha256(pin) {
            out.push(error(
                format!(
                    "`{}` is not a pin: give a 40-hex git commit or a 64-hex sha256",
                    short(pin)
                ),
                &key,
            ));
            continue;
        }
        let problem = match source {
            None => Some(unknown_tool(name)),
            Some(Source::Git { .. }) if !is_commit(pin) => Some(format!(
                "`{name}` comes from git: pin it with a 40-hex commit"
            )),
            Some(Source::Tarball { .. }) if !is_sha256(pin) => Some(format!(
                "`{name}` comes from a tarball: pin it with a 64-hex sha256"
            )),
            _ => None,
        };
        if let Some(why) = problem {
            out.push(p.locate_name(Diagnostic::error(why), &key));
        }
    }
    for (name, _) in &p.track {
        let key = format!("track.{name}");
        let problem = match source_of(name) {
            None => Some(unknown_tool(name)),
            Some(Source::Tarball { .. }) => Some(format!(
                "`{name}` comes from a tarball: only git sources track tags or a branch"
            )),
            _ => None,
        };
        if let Some(why) = problem {
            out.push(p.locate_name(Diagnostic::error(why), &key));
        }
    }
    out
}

/// Why `CONFIG_NAME = value` cannot be in a profile, or `None` when it can.
pub fn option_problem(name: &str, value: &str) -> Option<String> {
    let valid_name = name.starts_with("CONFIG_")
        && name.len() > 7
        && name.len() <= 100
        && name[7..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !valid_name {
        return Some(
            "not a kernel option name: expected CONFIG_ followed by A-Z, 0-9 and _".into(),
        );
    }
    if value.chars().any(char::is_control) || value.len() > MAX_OPTION_VALUE {
        return Some(format!(
            "a kernel option value is one line of at most {MAX_OPTION_VALUE} bytes"
        ));
    }
    if value == "m" {
        return Some(
            "`m` builds a module, and a Stali kernel has no modules: use \"y\" or \"n\"".into(),
        );
    }
    crate::model::owned::owned_option(name, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(p: &Profile) -> Vec<String> {
        validate(p, &Catalog::embedded())
            .into_iter()
            .map(|d| d.to_string())
            .collect()
    }

    #[test]
    fn the_default_profile_breaks_no_rule() {
        assert!(messages(&Profile::default()).is_empty());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut p = Profile::default();
        p.kernel.options.push(("CONFIG_EXT4_FS".into(), "m".into()));
        p.kernel.options.push(("CONFIG_MODULES".into(), "y".into()));
        p.image.hostname = "my host".into();
        p.kernel.base = "tinyconf".into();
        p.select.push("sbsae".into());
        let m = messages(&p);
        assert_eq!(m.len(), 5, "{m:#?}");
        assert!(
            m.iter().any(|m| m.contains("`m` builds a module")),
            "{m:#?}"
        );
        assert!(m.iter().any(|m| m.contains("CONFIG_MODULES is always off")));
        assert!(
            m.iter()
                .any(|m| m.contains("`my host` is not a valid host name"))
        );
        assert!(
            m.iter()
                .any(|m| m.contains("unknown base `tinyconf`; did you mean `tinyconfig`?"))
        );
        assert!(m.iter().any(|m| m.contains("did you mean `sbase`?")));
    }

    #[test]
    fn a_base_comes_from_the_catalog() {
        let mut c = Catalog::embedded();
        let mut p = Profile::default();
        p.kernel.base = "allnoconfig".into();
        assert_eq!(validate(&p, &c).len(), 1);
        let mut b = c.bases[0].clone();
        b.name = "allnoconfig".into();
        c.bases.push(b);
        assert!(validate(&p, &c).is_empty());
    }

    #[test]
    fn option_rules() {
        assert!(option_problem("CONFIG_PRINTK_TIME", "y").is_none());
        assert!(option_problem("CONFIG_CMDLINE", "console=ttyS0").is_some());
        assert!(option_problem("CONFIG_EXTRA_FIRMWARE", "/etc/shadow").is_some());
        assert!(option_problem("config_x", "y").is_some());
        assert!(option_problem("CONFIG_X", "a\nb").is_some());
        assert!(option_problem("CONFIG_X", "m").is_some());
        assert!(option_problem("CONFIG_MODULES", "y").is_some());
        assert!(option_problem("CONFIG_MODULES", "n").is_none());
    }
}
