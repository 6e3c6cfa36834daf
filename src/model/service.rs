//! Services: what a tool starts at boot, declared as catalog data (`[[tool.service]]`).
//!
//! ```toml
//! [[tool.service]]
//! name = "dropbear"
//! description = "SSH server on port 22"
//! run = ["/usr/sbin/dropbear", "-F", "-E", "-R"]   # an argument vector, never a shell line
//! respawn = true                                    # started again whenever it exits
//! dirs = ["/etc/dropbear"]                          # folders that must exist first
//! after = ["sdhcp"]                                 # services started before it, when present
//! per_link = false                                  # once per network interface, as ${LINK}
//! ```
//!
//! The generated `/etc/rc.init` starts them after the pseudo file systems are mounted and the
//! network links are up; `/etc/rc.shutdown` stops them.

use super::catalog::{short, valid_name};
use super::walk::{Reader, TableNode};

/// Keys a `[[tool.service]]` table may have.
pub const SERVICE_KEYS: &[&str] = &[
    "name",
    "description",
    "run",
    "respawn",
    "per_link",
    "dirs",
    "after",
];

/// The placeholder a `per_link` service's arguments may hold: the interface name.
pub const LINK: &str = "${LINK}";

/// One program a tool starts at boot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Service {
    /// Name (the tool's, unless given).
    pub name: String,
    /// One line saying what it does.
    pub description: String,
    /// The argument vector; the first element is an absolute path in the image.
    pub run: Vec<String>,
    /// Started again (after a second) whenever it exits.
    pub respawn: bool,
    /// Started once for each network interface other than `lo`, `${LINK}` replaced by its name.
    pub per_link: bool,
    /// Absolute folders that exist in the image before it starts (mode 700).
    pub dirs: Vec<String>,
    /// Services to start first, when the image has them.
    pub after: Vec<String>,
}

impl Service {
    /// The command as people read it (`/usr/sbin/dropbear -F -E -R`).
    pub fn command_line(&self) -> String {
        self.run.join(" ")
    }

    /// A one-line summary for `stali list` and the help panel.
    pub fn summary(&self) -> String {
        let mut s = format!("{}: {}", self.name, self.command_line());
        let mut notes = Vec::new();
        if self.respawn {
            notes.push("respawned".to_string());
        }
        if self.per_link {
            notes.push("per network link".to_string());
        }
        if !self.after.is_empty() {
            notes.push(format!("after {}", self.after.join(", ")));
        }
        if !self.dirs.is_empty() {
            notes.push(format!("needs {}", self.dirs.join(", ")));
        }
        if !notes.is_empty() {
            s.push_str(&format!(" ({})", notes.join("; ")));
        }
        s
    }
}

/// Whether `p` is an absolute, clean path that is safe to write into a script or file:
/// `/`-separated parts of letters, digits and `._+-@`, no `.` or `..` parts.
pub fn valid_abs_path(p: &str) -> bool {
    p.len() <= 256
        && p.starts_with('/')
        && p[1..].split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._+-@".contains(&b))
        })
}

/// Why one argument of `run` is refused, or `None`.
fn arg_problem(a: &str, per_link: bool) -> Option<String> {
    if a.len() > 256 {
        return Some("an argument is at most 256 bytes".into());
    }
    if a.chars().any(char::is_control) {
        return Some("an argument may not hold control characters (newlines, tabs)".into());
    }
    let rest = a.replace(LINK, "");
    if rest.contains("${") {
        return Some(format!(
            "`{}`: the only placeholder is {LINK}, in a `per_link` service",
            short(a)
        ));
    }
    if a.contains(LINK) && !per_link {
        return Some(format!(
            "`{}` uses {LINK}, which only a `per_link = true` service has",
            short(a)
        ));
    }
    None
}

/// Reads the `service` array of a `[[tool]]` table named `tool`; problems go to `r`.
pub fn read_services(r: &mut Reader<'_>, t: &TableNode<'_, '_>, tool: &str) -> Vec<Service> {
    use toml::de::DeValue;
    let Some((v, path)) = t.get("service") else {
        return Vec::new();
    };
    let DeValue::Array(items) = v.get_ref() else {
        r.error(&v.span(), &path, "expected [[tool.service]] tables");
        return Vec::new();
    };
    let mut out: Vec<Service> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let spath = format!("{path}[{i}]");
        let Some(st) = r.as_table(item, spath.clone()) else {
            continue;
        };
        r.only_keys(&st, SERVICE_KEYS);
        let name = r
            .string(&st, "name")
            .map(|n| {
                if !valid_name(n.get_ref()) {
                    r.error(
                        &n.span(),
                        &format!("{spath}.name"),
                        format!("`{}` is not a valid service name", short(n.get_ref())),
                    );
                }
                n.into_inner()
            })
            .unwrap_or_else(|| tool.to_string());
        if out.iter().any(|s| s.name == name) {
            r.error(
                &st.span,
                &spath,
                format!("service `{name}` is declared twice; give each a `name`"),
            );
        }
        let description = r
            .string(&st, "description")
            .map(|d| d.into_inner())
            .unwrap_or_default();
        let flag = |r: &mut Reader<'_>, key: &str| match st.get(key) {
            Some((v, p)) => match v.get_ref() {
                DeValue::Boolean(b) => *b,
                _ => {
                    r.error(&v.span(), &p, "expected true or false");
                    false
                }
            },
            None => false,
        };
        let respawn = flag(r, "respawn");
        let per_link = flag(r, "per_link");
        let mut run = Vec::new();
        match r.strings(&st, "run") {
            None => {
                if st.get("run").is_none() {
                    r.error(
                        &st.span,
                        &spath,
                        "a service needs `run = [\"/absolute/program\", \"arg\", ...]`",
                    );
                }
            }
            Some(argv) if argv.is_empty() => r.error(
                &st.key_span("run"),
                &format!("{spath}.run"),
                "`run` is empty: give the program and its arguments",
            ),
            Some(argv) => {
                if !valid_abs_path(argv[0].get_ref()) {
                    r.error(
                        &argv[0].span(),
                        &format!("{spath}.run[0]"),
                        format!(
                            "`{}` is not an absolute program path in the image (e.g. \"/usr/sbin/dropbear\")",
                            short(argv[0].get_ref())
                        ),
                    );
                }
                for (j, a) in argv.iter().enumerate().skip(1) {
                    if let Some(msg) = arg_problem(a.get_ref(), per_link) {
                        r.error(&a.span(), &format!("{spath}.run[{j}]"), msg);
                    }
                }
                run = argv.into_iter().map(|a| a.into_inner()).collect();
            }
        }
        let mut dirs = Vec::new();
        for (j, d) in r
            .strings(&st, "dirs")
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            if valid_abs_path(d.get_ref()) {
                dirs.push(d.into_inner());
            } else {
                r.error(
                    &d.span(),
                    &format!("{spath}.dirs[{j}]"),
                    format!(
                        "`{}` is not an absolute, clean folder path (letters, digits, `._+-@`)",
                        short(d.get_ref())
                    ),
                );
            }
        }
        let mut after = Vec::new();
        for (j, a) in r
            .strings(&st, "after")
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            if valid_name(a.get_ref()) {
                after.push(a.into_inner());
            } else {
                r.error(
                    &a.span(),
                    &format!("{spath}.after[{j}]"),
                    format!("`{}` is not a valid service name", short(a.get_ref())),
                );
            }
        }
        out.push(Service {
            name,
            description,
            run,
            respawn,
            per_link,
            dirs,
            after,
        });
    }
    out
}

/// Orders services so that each comes after the ones it names in `after` (those present);
/// otherwise keeps the given order. A cycle keeps the given order for the services in it.
pub fn start_order(services: &[Service]) -> Vec<&Service> {
    let mut done: Vec<&Service> = Vec::new();
    let mut left: Vec<&Service> = services.iter().collect();
    while !left.is_empty() {
        let ready = left.iter().position(|s| {
            s.after
                .iter()
                .all(|a| !left.iter().any(|o| &o.name == a) || a == &s.name)
        });
        let i = ready.unwrap_or(0);
        done.push(left.remove(i));
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, after: &[&str]) -> Service {
        Service {
            name: name.into(),
            description: String::new(),
            run: vec![format!("/usr/sbin/{name}")],
            respawn: false,
            per_link: false,
            dirs: Vec::new(),
            after: after.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn order_follows_after() {
        let s = [svc("b", &["a"]), svc("a", &[]), svc("c", &["zzz"])];
        let names: Vec<&str> = start_order(&s).iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let cyc = [svc("x", &["y"]), svc("y", &["x"])];
        assert_eq!(start_order(&cyc).len(), 2);
    }

    #[test]
    fn paths_and_arguments() {
        assert!(valid_abs_path("/etc/dropbear"));
        assert!(!valid_abs_path("etc/dropbear"));
        assert!(!valid_abs_path("/etc/../x"));
        assert!(!valid_abs_path("/etc/a b"));
        assert!(!valid_abs_path("/etc/$(x)"));
        assert!(arg_problem("-p", false).is_none());
        assert!(arg_problem("a\nb", false).is_some());
        assert!(arg_problem("${LINK}", false).is_some());
        assert!(arg_problem("${LINK}", true).is_none());
        assert!(arg_problem("${HOME}", true).is_some());
    }

    #[test]
    fn summary_reads_well() {
        let mut s = svc("dropbear", &["sdhcp"]);
        s.run.push("-R".into());
        s.respawn = true;
        s.dirs.push("/etc/dropbear".into());
        assert_eq!(
            s.summary(),
            "dropbear: /usr/sbin/dropbear -R (respawned; after sdhcp; needs /etc/dropbear)"
        );
    }
}
