//! The direction of dependencies (README "Architecture"), read from the sources: every
//! `crate::a::…` and `super::…` path in `src/**/*.rs` becomes an edge of a module graph.
//!
//! - A module imports only what lies below it in [`LAYERS`] (the foundation `error`, `util`,
//!   `formats` lies below everything);
//! - `verify` imports no producer stage;
//! - no cycle between top-level modules, and none between the modules inside one.
//!
//! [`KNOWN`] lists accepted exceptions, each with where it is and why; it is empty, and an
//! entry that no longer occurs must be deleted (the test says so).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules from the bottom up; a module may import those on lower lines and those
/// on its own line (as long as that makes no cycle).
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["util"],
    &["formats"],
    &["ui", "select"],
    &["oci", "keys"],
    // The consumer's library: it needs no producer, and the signers use it to check what
    // Fulcio and Rekor return before handing a bundle out (as cosign does).
    &["verify"],
    &["inspect"],
    &["sbom"],
    &["build"],
    &["attest"],
    &["sign"],
    &["publish"],
    &["audit", "policy", "vex", "rebuild"],
    &["release"],
    &["cli"],
];

/// The producer stages `verify` must not import, whatever their layer.
const PRODUCERS: &[&str] = &["build", "attest", "sbom", "sign", "publish", "release"];

/// Known violations, `(from, to)` between top-level modules or `("cycle", "a ↔ b")`, each
/// with who removes it. Keep this as short as possible; it is to end empty.
const KNOWN: &[(&str, &str, &str)] = &[];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// A file's module path below `src/` (`verify/bundle` for src/verify/bundle.rs and for
/// src/verify/bundle/mod.rs; `lib` and `main` for the roots).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().map(String::as_str) == Some("mod") {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The text without comments (line and block) and string literals, so that a path in a doc
/// comment or a message is no edge.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let end = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            i = end;
        } else if b[i] == b'"' && !(i > 0 && b[i - 1] == b'\'') {
            // Raw strings: r#"…"#.
            let hashes = text[..i].chars().rev().take_while(|c| *c == '#').count();
            let raw = i > hashes && b[i - hashes - 1] == b'r';
            i += 1;
            while i < b.len() {
                if !raw && b[i] == b'\\' {
                    i += 2;
                    continue;
                }
                if b[i] == b'"' && (!raw || text[i + 1..].starts_with(&"#".repeat(hashes))) {
                    i += 1 + if raw { hashes } else { 0 };
                    break;
                }
                i += 1;
            }
            out.push_str("\"\"");
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The module paths a file names: `crate::a::b`, the items of `use crate::{a::…, b}` groups,
/// and `super::x` (resolved against `module`).
fn referenced(code: &str, module: &[String]) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|p| {
                p.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|p| !p.is_empty())
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        if i > 0 && code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find(';').unwrap_or(group.len())];
            for item in group.split([',', '{']) {
                let path = ident(item.trim());
                if !path.is_empty() {
                    out.insert(path);
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    for (i, _) in code.match_indices("super::") {
        if i > 0 && code[..i].ends_with("super::") {
            continue;
        }
        let mut base: Vec<String> = module.to_vec();
        let mut rest = &code[i..];
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        if rest.starts_with('{') {
            continue;
        }
        base.extend(ident(rest));
        out.insert(base);
    }
    out
}

/// The edges of the graph: top-level `a -> b`, and `a/x -> a/y` inside a module.
fn edges() -> BTreeMap<(String, String), BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let tops: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|l| l.iter())
        .map(|s| s.to_string())
        .collect();
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let module = module_of(&src, &f);
        if module.len() == 1 && (module[0] == "lib" || module[0] == "main") {
            continue;
        }
        assert!(
            tops.contains(&module[0]),
            "src/{} is in no layer of tests/it/architecture.rs: add its module to LAYERS",
            module.join("/")
        );
        let code = code_only(&std::fs::read_to_string(&f).unwrap());
        let file = f.strip_prefix(&src).unwrap().display().to_string();
        for path in referenced(&code, &module) {
            let Some(to) = path.first() else { continue };
            if !tops.contains(to) {
                continue;
            }
            if *to != module[0] {
                out.entry((module[0].clone(), to.clone()))
                    .or_default()
                    .insert(file.clone());
            } else if module.len() > 1 && path.len() > 1 && path[1] != module[1] {
                let sub = |m: &str| format!("{}/{m}", module[0]);
                if src
                    .join(&module[0])
                    .join(format!("{}.rs", path[1]))
                    .exists()
                    || src.join(&module[0]).join(&path[1]).is_dir()
                {
                    out.entry((sub(&module[1]), sub(&path[1])))
                        .or_default()
                        .insert(file.clone());
                }
            }
        }
    }
    out
}

/// The cycles of a graph: each set of two or more nodes that all reach each other, as
/// `a ↔ b ↔ c`.
fn cycles(edges: &BTreeSet<(String, String)>) -> BTreeSet<String> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
    }
    fn reach<'a>(next: &BTreeMap<&'a str, Vec<&'a str>>, from: &'a str) -> BTreeSet<&'a str> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            if seen.insert(n) {
                stack.extend(next.get(n).into_iter().flatten());
            }
        }
        seen
    }
    let nodes: BTreeSet<&str> = edges
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    let mut out = BTreeSet::new();
    for n in &nodes {
        let from_n = reach(&next, n);
        let scc: Vec<&str> = nodes
            .iter()
            .copied()
            .filter(|m| from_n.contains(m) && reach(&next, m).contains(n))
            .collect();
        if scc.len() > 1 {
            out.insert(scc.join(" ↔ "));
        }
    }
    out
}

/// Every violation, keyed `(from, to)` (a cycle as `("cycle", "a ↔ b")`), with why.
fn violations() -> BTreeMap<(String, String), String> {
    let edges = edges();
    let mut out = BTreeMap::new();
    let mut same_layer = BTreeSet::new();
    let mut inner = BTreeSet::new();
    for ((a, b), files) in &edges {
        let files = files.iter().cloned().collect::<Vec<_>>().join(", ");
        if a.contains('/') {
            inner.insert((a.clone(), b.clone()));
        } else if a == "verify" && PRODUCERS.contains(&b.as_str()) {
            let why = format!("verify imports the producer stage {b} ({files})");
            out.insert((a.clone(), b.clone()), why);
        } else if rank(b) > rank(a) {
            let why = format!("{a} imports {b}, which lies above it ({files})");
            out.insert((a.clone(), b.clone()), why);
        } else if rank(b) == rank(a) {
            same_layer.insert((a.clone(), b.clone()));
        }
    }
    for c in cycles(&same_layer).into_iter().chain(cycles(&inner)) {
        let why = format!("module cycle {c}");
        out.insert(("cycle".to_owned(), c), why);
    }
    out
}

#[test]
fn dependencies_point_down_and_make_no_cycle() {
    let found = violations();
    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(a, b, _)| (a.to_string(), b.to_string()))
        .collect();
    let new: Vec<&String> = found
        .iter()
        .filter(|(k, _)| !known.contains(*k))
        .map(|(_, why)| why)
        .collect();
    let stale: Vec<&(String, String)> = known.iter().filter(|k| !found.contains_key(*k)).collect();
    assert!(
        new.is_empty(),
        "dependency direction broken (README \"Architecture\"; tests/it/architecture.rs LAYERS):\n{}",
        new.iter()
            .map(|s| format!("- {s}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        stale.is_empty(),
        "these KNOWN violations are gone: delete them from tests/it/architecture.rs KNOWN: {stale:?}"
    );
}

#[test]
fn the_reader_sees_paths_in_code_only() {
    let code = code_only(
        "use crate::a::b; // crate::c\nlet s = \"crate::d\"; /* crate::e */ crate::{f::x, g};",
    );
    let m = vec!["x".to_owned(), "y".to_owned()];
    let r: Vec<String> = referenced(&code, &m)
        .into_iter()
        .map(|p| p.join("/"))
        .collect();
    assert_eq!(r, ["a/b", "f/x", "g"]);
    let r: Vec<String> = referenced("use super::z::w;", &m)
        .into_iter()
        .map(|p| p.join("/"))
        .collect();
    assert_eq!(r, ["x/z/w"]);
}
