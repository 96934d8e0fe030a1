//! Agreement with cargo-audit on the shared RustSec snapshot (`../shared/advisory-db`):
//! restricted to the crates we ship, our advisory ids equal cargo-audit's; what cargo-audit
//! reports beyond ours is exactly the crates that are not shipped, each with its reason,
//! found with `cargo tree` (dev, build-only, other target, disabled feature, or a member
//! without a shipped binary).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::support;

/// cargo-audit, or a panic saying how to get it.
pub fn cargo_audit() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let p = home.join("bin/cargo-audit");
    assert!(
        p.is_file(),
        "cargo-audit not found at {}: `cargo install cargo-audit --locked` (scripts/test.sh \
         installs it)",
        p.display()
    );
    p
}

pub fn snapshot() -> PathBuf {
    support::shared_dir().join("advisory-db")
}

/// (advisory id, crate, version).
type Key = (String, String, String);

/// cargo-audit's vulnerabilities and unmaintained/unsound warnings for `dir`'s Cargo.lock.
pub fn theirs(dir: &Path) -> BTreeSet<Key> {
    let o = Command::new(cargo_audit())
        .current_dir(dir)
        .args(["audit", "--no-fetch", "--json", "--db"])
        .arg(snapshot())
        .arg("--file")
        .arg(dir.join("Cargo.lock"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "cargo audit on {}: {e}\n{}",
            dir.display(),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let mut out = BTreeSet::new();
    let key = |e: &Value| -> Option<Key> {
        Some((
            e["advisory"]["id"].as_str()?.to_owned(),
            e["package"]["name"].as_str()?.to_owned(),
            e["package"]["version"].as_str()?.to_owned(),
        ))
    };
    for e in v["vulnerabilities"]["list"].as_array().unwrap() {
        out.extend(key(e));
    }
    for kind in ["unmaintained", "unsound"] {
        for e in v["warnings"][kind].as_array().into_iter().flatten() {
            out.extend(key(e));
        }
    }
    out
}

/// Our report (JSON) for the workspace in `dir` on the snapshot.
pub fn ours(dir: &Path, extra: &[&str]) -> Value {
    let o = support::cargo_provenance()
        .current_dir(dir)
        .args(["audit", "--workspace", "--offline", "--format", "json"])
        .args(extra)
        .arg("--advisory-db")
        .arg(snapshot())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "audit {}: {}",
        dir.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn keys(list: &Value, kinds: &[&str]) -> BTreeSet<Key> {
    list.as_array()
        .unwrap()
        .iter()
        .filter(|f| kinds.contains(&f["kind"].as_str().unwrap_or("")))
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_owned(),
                f["package"].as_str().unwrap().to_owned(),
                f["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `name@version` of every package `cargo tree` prints.
fn tree(dir: &Path, args: &[&str]) -> BTreeSet<String> {
    let out = support::run(
        Command::new("cargo")
            .current_dir(dir)
            .args(["tree", "--offline", "--prefix", "none", "--format", "{p}"])
            .args(args),
    );
    out.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next()?;
            let version = it.next()?.trim_start_matches('v');
            Some(format!("{name}@{version}"))
        })
        .collect()
}

/// Why a crate is not shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// Only runs at build time (the SBOM's `excluded`).
    BuildOnly,
    /// Reached only through dev-dependencies.
    Dev,
    /// Only on another target (`cfg(...)` dependencies, or an advisory's `affected.os/arch`).
    OtherTarget,
    /// Only with features the build does not enable.
    DisabledFeature,
    /// Only used by workspace members that ship no binary (libraries, tests, examples).
    NoShippedBinary,
}

/// Classifies every crate cargo-audit reports beyond ours.
pub fn reasons(dir: &Path, report: &Value, extra_found: &BTreeSet<Key>) -> BTreeMap<Key, Reason> {
    let build_only = keys(
        &report["build_only"],
        &["vulnerability", "unmaintained", "unsound"],
    );
    let not_applicable: BTreeSet<(String, String)> = report["not_applicable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_owned(),
                n["package"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // The packages whose binaries ship (cargo metadata: members with a bin target).
    let meta: Value = serde_json::from_str(&support::run(
        Command::new("cargo").current_dir(dir).args([
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--no-deps",
        ]),
    ))
    .unwrap();
    let mut bins: Vec<String> = Vec::new();
    for p in meta["packages"].as_array().unwrap() {
        if p["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"][0] == "bin")
        {
            bins.push(p["name"].as_str().unwrap().to_owned());
        }
    }
    let mut pkg_args: Vec<&str> = Vec::new();
    for b in &bins {
        pkg_args.push("-p");
        pkg_args.push(b);
    }
    let with = |more: &[&str]| {
        let mut a = pkg_args.clone();
        a.extend(more);
        tree(dir, &a)
    };
    let host_default = with(&["-e", "normal,build"]);
    let host_all = with(&["-e", "normal,build", "--all-features"]);
    let all_targets = with(&["-e", "normal,build", "--all-features", "--target", "all"]);
    let workspace_nodev = tree(
        dir,
        &[
            "--workspace",
            "-e",
            "normal,build",
            "--all-features",
            "--target",
            "all",
        ],
    );
    let mut out = BTreeMap::new();
    for k in extra_found {
        let pv = format!("{}@{}", k.1, k.2);
        let r = if build_only.contains(k) {
            Reason::BuildOnly
        } else if not_applicable.contains(&(k.0.clone(), k.1.clone())) {
            Reason::OtherTarget
        } else if !workspace_nodev.contains(&pv) {
            Reason::Dev
        } else if !all_targets.contains(&pv) {
            Reason::NoShippedBinary
        } else if !host_all.contains(&pv) {
            Reason::OtherTarget
        } else if !host_default.contains(&pv) {
            Reason::DisabledFeature
        } else {
            panic!(
                "{}: cargo-audit reports {k:?}, which cargo tree says the shipped binaries use \
                 on this target with these features, and we do not",
                dir.display()
            );
        };
        out.insert(k.clone(), r);
    }
    out
}

/// One workspace: ours == cargo-audit's on the shipped crates; the rest classified.
pub fn agree(dir: &Path, name: &str) -> BTreeMap<Key, Reason> {
    let report = ours(dir, &[]);
    let mine = keys(
        &report["vulnerabilities"],
        &["vulnerability", "unmaintained", "unsound"],
    )
    .union(&keys(
        &report["warnings"],
        &["vulnerability", "unmaintained", "unsound"],
    ))
    .cloned()
    .collect::<BTreeSet<_>>();
    let theirs = theirs(dir);
    let missing: Vec<&Key> = mine.difference(&theirs).collect();
    assert!(
        missing.is_empty(),
        "{name}: we report what cargo-audit does not: {missing:?}"
    );
    let extra: BTreeSet<Key> = theirs.difference(&mine).cloned().collect();
    let reasons = reasons(dir, &report, &extra);
    eprintln!(
        "{name}: {} shipped crates; ours {} = cargo-audit's on shipped crates; cargo-audit also \
         reports {}:",
        report["crates"]["shipped"],
        mine.len(),
        extra.len()
    );
    for (k, r) in &reasons {
        eprintln!("  {} {}@{}: {r:?}", k.0, k.1, k.2);
    }
    reasons
}

fn corpus_repo(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join(name);
    support::run(
        Command::new("sh")
            .arg(support::shared_dir().join("corpus/make-repo.sh"))
            .arg(name)
            .arg(&dest),
    );
    (tmp, dest)
}

#[test]
#[ignore = "needs cargo-audit: scripts/test.sh installs it"]
fn agrees_with_cargo_audit_on_the_corpus_and_the_fixture() {
    cargo_audit();
    for name in ["ripgrep", "uv", "deno", "rerun"] {
        let (_tmp, dir) = corpus_repo(name);
        agree(&dir, name);
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit-vulnerable");
    support::copy_dir(
        &support::repo_root().join("tests/fixtures/audit-vulnerable"),
        &dir,
    );
    let reasons = agree(&dir, "fixture");
    let by_crate: BTreeMap<String, Reason> = reasons
        .into_iter()
        .map(|(k, r)| (format!("{}@{}", k.1, k.2), r))
        .collect();
    let want: BTreeMap<String, Reason> = [
        ("paste@1.0.15", Reason::BuildOnly),
        ("bincode@1.3.3", Reason::Dev),
        ("anyhow@1.0.98", Reason::OtherTarget),
        ("crossbeam-epoch@0.9.18", Reason::DisabledFeature),
    ]
    .into_iter()
    .map(|(c, r)| (c.to_owned(), r))
    .collect();
    assert_eq!(by_crate, want, "fixture: one crate for each reason");
}
