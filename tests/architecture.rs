//! The import graph of `src/`: `main -> cli -> {ui, pipeline} -> model`, the Kconfig
//! engine (`kconfig`) beside the pipeline, `host`, `fsutil` and `shell` as neutral helpers. Built from every `crate::X` reference (and `stali::X` in
//! `main.rs`) of every source file; fails on a cycle or on an arrow not in [`ALLOWED`],
//! naming the edge and where it is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every arrow the layering allows: (from, to).
const ALLOWED: &[(&str, &str)] = &[
    ("main", "cli"),
    // The child supervisor (`stali __child`) starts before the command line is parsed.
    ("main", "pipeline"),
    ("cli", "ui"),
    ("cli", "pipeline"),
    ("cli", "model"),
    ("cli", "host"),
    ("cli", "fsutil"),
    ("cli", "kconfig"),
    ("pipeline", "kconfig"),
    // The configurator shows and edits the kernel's own tree through the engine.
    ("ui", "kconfig"),
    ("kconfig", "model"),
    ("kconfig", "fsutil"),
    ("cli", "shell"),
    ("ui", "shell"),
    ("pipeline", "shell"),
    ("kconfig", "shell"),
    ("host", "shell"),
    ("model", "shell"),
    ("ui", "model"),
    ("ui", "fsutil"),
    ("pipeline", "model"),
    ("pipeline", "host"),
    ("pipeline", "fsutil"),
    ("host", "model"),
    ("model", "fsutil"),
];

/// One reference: the module it is in, the module it names, and where.
#[derive(Debug, Clone)]
struct Edge {
    from: String,
    to: String,
    at: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries {
        let p = e.expect("directory entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`src/ui/app.rs` -> `ui`).
fn module_of(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

/// The modules `text` names through `prefix` (`crate::`): `crate::a::b` and
/// `crate::{a, b::c}` name `a` (and `b`), with line numbers. Comments are skipped.
fn references(text: &str, prefix: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push((n + 1, name));
                    }
                }
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push((n + 1, name));
            }
        }
    }
    out
}

fn edges() -> Vec<Edge> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut edges = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&src).expect("under src");
        let from = module_of(rel);
        if from == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let prefix = if from == "main" { "stali::" } else { "crate::" };
        for (line, to) in references(&text, prefix) {
            if to != from {
                edges.push(Edge {
                    from: from.clone(),
                    to,
                    at: format!("src/{}:{line}", rel.display()),
                });
            }
        }
    }
    edges
}

/// Edges not in `allowed`, as messages naming the edge and where it is written.
fn forbidden(edges: &[Edge], allowed: &[(&str, &str)]) -> Vec<String> {
    edges
        .iter()
        .filter(|e| !allowed.contains(&(e.from.as_str(), e.to.as_str())))
        .map(|e| format!("{} -> {} (at {})", e.from, e.to, e.at))
        .collect()
}

/// A cycle of the graph, as the modules along it (first repeated at the end), if any.
fn cycle(edges: &[Edge]) -> Option<Vec<String>> {
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in edges {
        graph.entry(&e.from).or_default().insert(&e.to);
    }
    fn visit<'a>(
        n: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| *p == n) {
            let mut c: Vec<String> = path[i..].iter().map(|s| s.to_string()).collect();
            c.push(n.to_string());
            return Some(c);
        }
        if !done.insert(n) {
            return None;
        }
        path.push(n);
        for next in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, &graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn import_graph_has_no_cycle_and_no_upward_arrow() {
    let edges = edges();
    assert!(
        edges.iter().any(|e| e.from == "cli" && e.to == "pipeline"),
        "the scan found no cli -> pipeline reference: is it reading src/?"
    );
    if let Some(c) = cycle(&edges) {
        panic!("import cycle: {}", c.join(" -> "));
    }
    let bad = forbidden(&edges, ALLOWED);
    assert!(bad.is_empty(), "forbidden imports:\n  {}", bad.join("\n  "));
}

#[test]
fn the_checker_names_forbidden_edges_and_cycles() {
    let text = "use crate::model::Plan;\n// crate::ui in a comment\nuse crate::{cli::out, host};\nfoo_crate::x";
    let refs = references(text, "crate::");
    assert_eq!(
        refs,
        [(1, "model".into()), (3, "cli".into()), (3, "host".into())]
    );
    let e = |from: &str, to: &str| Edge {
        from: from.into(),
        to: to.into(),
        at: "src/x.rs:1".into(),
    };
    let edges = [
        e("pipeline", "model"),
        e("pipeline", "cli"),
        e("cli", "pipeline"),
    ];
    assert_eq!(
        forbidden(&edges, ALLOWED),
        ["pipeline -> cli (at src/x.rs:1)"]
    );
    let c = cycle(&edges).expect("a cycle");
    assert_eq!(c.first(), c.last());
    assert!(c.contains(&"cli".to_string()) && c.contains(&"pipeline".to_string()));
    assert!(cycle(&edges[..1]).is_none());
}
