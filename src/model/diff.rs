//! Semantic differences between two plans: what a reviewer of a profile change wants to read.

use super::estimate::Estimate;
use super::plan::Plan;
use super::profile::{human, human_delta};

/// One difference, in words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// Area: `tools`, `hardware`, `kernel`, `image`, `size`, `profile`.
    pub area: String,
    /// The sentence.
    pub text: String,
}

fn change(area: &str, text: String) -> Change {
    Change {
        area: area.into(),
        text,
    }
}

/// What changes from plan `a` to plan `b`, the size delta last.
pub fn diff(a: &Plan, ea: &Estimate, b: &Plan, eb: &Estimate) -> Vec<Change> {
    let mut out = Vec::new();
    if a.name != b.name {
        out.push(change("profile", format!("name: {} -> {}", a.name, b.name)));
    }
    if a.description != b.description {
        out.push(change(
            "profile",
            format!(
                "description: \"{}\" -> \"{}\"",
                a.description, b.description
            ),
        ));
    }
    if a.hardware.name != b.hardware.name {
        out.push(change(
            "hardware",
            format!("hardware: {} -> {}", a.hardware.name, b.hardware.name),
        ));
    }
    let label = |p: &Plan, n: &str| match p.tool(n) {
        Some(t) if !t.selected => format!("{n} (needed by {})", t.required_by.join(", ")),
        _ => n.to_string(),
    };
    for t in &b.tools {
        if a.tool(&t.def.name).is_none() {
            out.push(change(
                "tools",
                format!(
                    "+ {} ({} installed)",
                    label(b, &t.def.name),
                    human_delta(t.def.size as i64)
                ),
            ));
        }
    }
    for t in &a.tools {
        if b.tool(&t.def.name).is_none() {
            out.push(change(
                "tools",
                format!(
                    "- {} ({} installed)",
                    label(a, &t.def.name),
                    human_delta(-(t.def.size as i64))
                ),
            ));
        }
    }
    for t in &b.tools {
        if let Some(old) = a.tool(&t.def.name) {
            if old.def.source != t.def.source {
                out.push(change(
                    "tools",
                    format!(
                        "~ {}: source {} -> {}",
                        t.def.name,
                        short_pin(old.def.source.pin()),
                        short_pin(t.def.source.pin())
                    ),
                ));
            }
            if old.selected != t.selected {
                let how = if t.selected {
                    "now chosen explicitly"
                } else {
                    "now only a dependency"
                };
                out.push(change("tools", format!("~ {}: {how}", t.def.name)));
            }
        }
    }
    if a.kernel.source != b.kernel.source {
        out.push(change(
            "kernel",
            format!(
                "source: {} -> {}",
                a.kernel.source.describe(),
                b.kernel.source.describe()
            ),
        ));
    }
    if a.kernel.base != b.kernel.base {
        out.push(change(
            "kernel",
            format!("base: {} -> {}", a.kernel.base, b.kernel.base),
        ));
    }
    for f in &b.kernel.fragments {
        if !a.kernel.has_fragment(&f.fragment.name) {
            out.push(change(
                "kernel",
                format!("+ fragment {} ({})", f.fragment.name, f.reason),
            ));
        }
    }
    for f in &a.kernel.fragments {
        if !b.kernel.has_fragment(&f.fragment.name) {
            out.push(change("kernel", format!("- fragment {}", f.fragment.name)));
        }
    }
    let ra = a.kernel.requested();
    let rb = b.kernel.requested();
    for (k, v) in &rb {
        match ra.iter().find(|(n, _)| n == k) {
            None => out.push(change("kernel", format!("+ {k}={v}"))),
            Some((_, old)) if old != v => {
                out.push(change("kernel", format!("~ {k}: {old} -> {v}")))
            }
            _ => {}
        }
    }
    for (k, v) in &ra {
        if !rb.iter().any(|(n, _)| n == k) {
            out.push(change("kernel", format!("- {k}={v}")));
        }
    }
    let (ia, ib) = (&a.image, &b.image);
    if ia.boot != ib.boot {
        out.push(change(
            "image",
            format!("boot: {} -> {}", ia.boot.as_str(), ib.boot.as_str()),
        ));
    }
    if ia.compression != ib.compression {
        out.push(change(
            "image",
            format!(
                "compression: {} -> {}",
                ia.compression.as_str(),
                ib.compression.as_str()
            ),
        ));
    }
    if ia.cmdline != ib.cmdline {
        out.push(change(
            "image",
            format!("cmdline: \"{}\" -> \"{}\"", ia.cmdline, ib.cmdline),
        ));
    }
    if ia.hostname != ib.hostname {
        out.push(change(
            "image",
            format!("hostname: {} -> {}", ia.hostname, ib.hostname),
        ));
    }
    if ia.budget != ib.budget {
        let show = |b: Option<u64>| b.map(human).unwrap_or_else(|| "none".into());
        out.push(change(
            "image",
            format!("budget: {} -> {}", show(ia.budget), show(ib.budget)),
        ));
    }
    let delta = eb.total_bytes as i64 - ea.total_bytes as i64;
    out.push(change(
        "size",
        format!(
            "estimated image: {} -> {} ({})",
            human(ea.total_bytes),
            human(eb.total_bytes),
            human_delta(delta)
        ),
    ));
    out
}

fn short_pin(p: &str) -> &str {
    &p[..p.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Catalog, Profile, estimate, resolve};

    #[test]
    fn adding_dropbear_shows_zlib_and_a_growth() {
        let c = Catalog::embedded();
        let a = resolve(&Profile::parse("format = 1\n", None, &c).expect("a"), &c).expect("a");
        let b = resolve(
            &Profile::parse(
                "format = 1\n[tools]\nselect = [\"sinit\", \"mksh\", \"sbase\", \"dropbear\"]\n",
                None,
                &c,
            )
            .expect("b"),
            &c,
        )
        .expect("b");
        let d = diff(&a, &estimate(&a, &c), &b, &estimate(&b, &c));
        let text: Vec<&str> = d.iter().map(|c| c.text.as_str()).collect();
        assert!(text.iter().any(|t| t.starts_with("+ dropbear")), "{text:?}");
        assert!(
            text.iter()
                .any(|t| t.starts_with("+ zlib (needed by dropbear)")),
            "{text:?}"
        );
        assert!(text.last().is_some_and(|t| t.contains("(+")), "{text:?}");
    }
}
