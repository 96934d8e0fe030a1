//! Helpers of tests/it/sbom/mod.rs: the schema check every SBOM goes through, `cargo tree` as the
//! reference for the crate set, corpus repositories, and a build with cargo's JSON messages.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{self, cargo_provenance, run, shared_dir};

pub const HOST_FALLBACK: &str = "x86_64-unknown-linux-gnu";

pub fn host() -> String {
    let out = run(Command::new("rustc").arg("-vV"));
    out.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap_or(HOST_FALLBACK)
        .trim()
        .to_owned()
}

/// The official CycloneDX 1.5 schema, with its spdx and jsf references served locally.
pub fn schema_1_5() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let dir = shared_dir().join("schemas/cyclonedx");
        let load = |f: &str| -> Value {
            serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap()
        };
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .should_validate_formats(true)
            .with_resource(
                "http://cyclonedx.org/schema/spdx.schema.json",
                jsonschema::Resource::from_contents(load("spdx.schema.json")),
            )
            .with_resource(
                "http://cyclonedx.org/schema/jsf-0.82.schema.json",
                jsonschema::Resource::from_contents(load("jsf-0.82.schema.json")),
            )
            .build(&load("bom-1.5.schema.json"))
            .expect("the CycloneDX 1.5 schema compiles")
    })
}

/// Validates an SBOM against the schema of its spec version and checks its internal
/// consistency (refs resolve, no absolute paths). There is no 1.4 schema in ../shared: 1.4
/// documents are checked with cyclonedx-bom's own 1.4 model and validation instead.
pub fn check_sbom(bytes: &[u8]) -> Value {
    check_sbom_with(bytes, true)
}

/// [`check_sbom`], optionally without the absolute-path check (for a fixture whose
/// manifest itself names a `file://` git source).
pub fn check_sbom_with(bytes: &[u8], forbid_paths: bool) -> Value {
    let doc: Value = serde_json::from_slice(bytes).expect("SBOM is JSON");
    match doc["specVersion"].as_str() {
        Some("1.5") => {
            let errors: Vec<String> = schema_1_5()
                .iter_errors(&doc)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .take(10)
                .collect();
            assert!(
                errors.is_empty(),
                "SBOM is not valid CycloneDX 1.5: {errors:#?}"
            );
        }
        Some("1.4") => {
            use cyclonedx_bom::prelude::Validate;
            let bom =
                cyclonedx_bom::prelude::Bom::parse_from_json_v1_4(bytes).expect("parses as 1.4");
            let r = bom.validate_version(cyclonedx_bom::prelude::SpecVersion::V1_4);
            assert!(r.passed(), "1.4 validation: {r:?}");
        }
        other => panic!("unexpected specVersion {other:?}"),
    }
    let mut refs: BTreeSet<String> = BTreeSet::new();
    refs.insert(
        doc["metadata"]["component"]["bom-ref"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    for c in doc["components"].as_array().unwrap() {
        assert!(
            refs.insert(c["bom-ref"].as_str().unwrap().to_owned()),
            "duplicate bom-ref {c}"
        );
    }
    let deps = doc["dependencies"].as_array().unwrap();
    let listed: BTreeSet<String> = deps
        .iter()
        .map(|d| d["ref"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed, refs,
        "every component has exactly one dependencies entry"
    );
    for d in deps {
        for r in d["dependsOn"].as_array().into_iter().flatten() {
            assert!(refs.contains(r.as_str().unwrap()), "dangling ref {r}");
        }
    }
    let text = String::from_utf8_lossy(bytes);
    for bad in ["/tmp/", "/home/", "/root/", "/work/", "file:///"] {
        assert!(
            !forbid_paths || !text.contains(bad),
            "SBOM holds an absolute path ({bad})"
        );
    }
    doc
}

/// Runs `sbom` and returns the checked document.
pub fn sbom(dir: &Path, args: &[&str]) -> (Vec<u8>, Value) {
    sbom_checked(dir, args, true)
}

/// [`sbom`], `forbid_paths` as [`check_sbom_with`] takes it (a `file://` git URL names a
/// directory of this machine).
pub fn sbom_checked(dir: &Path, args: &[&str], forbid_paths: bool) -> (Vec<u8>, Value) {
    let out = cargo_provenance()
        .current_dir(dir)
        .arg("sbom")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sbom {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = check_sbom_with(&out.stdout, forbid_paths);
    (out.stdout, doc)
}

/// `name@version` of the components with the given scope.
pub fn scoped(doc: &Value, scope: &str) -> BTreeSet<String> {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["scope"] == scope)
        .map(|c| {
            format!(
                "{}@{}",
                c["name"].as_str().unwrap(),
                c["version"].as_str().unwrap()
            )
        })
        .collect()
}

pub fn names(doc: &Value) -> BTreeSet<String> {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

/// `cargo tree -e normal,no-proc-macro --target <host> -p PKG --prefix none --no-dedupe`,
/// as a set of `name@version`, without the package itself.
pub fn cargo_tree(dir: &Path, pkg: &str, extra: &[&str]) -> BTreeSet<String> {
    cargo_tree_with(dir, pkg, extra, "--no-dedupe")
}

/// The same set, with cargo tree's deduplication (`--no-dedupe` prints tens of millions of
/// lines on the large corpus workspaces; the set of packages is the same).
pub fn cargo_tree_with(dir: &Path, pkg: &str, extra: &[&str], dedupe: &str) -> BTreeSet<String> {
    tree_set(dir, pkg, "normal,no-proc-macro", &host(), extra, dedupe)
}

/// Every crate the build uses, linked or build-only: `cargo tree -e normal,build`.
pub fn cargo_tree_all(dir: &Path, pkg: &str, target: &str, extra: &[&str]) -> BTreeSet<String> {
    tree_set(dir, pkg, "normal,build", target, extra, "")
}

pub fn tree_set(
    dir: &Path,
    pkg: &str,
    edges: &str,
    target: &str,
    extra: &[&str],
    dedupe: &str,
) -> BTreeSet<String> {
    let out = run(Command::new("cargo")
        .current_dir(dir)
        .args(["tree", "-e", edges, "--target", target, "-p", pkg])
        .args(["--prefix", "none", "--locked"])
        .args([dedupe].into_iter().filter(|d| !d.is_empty()))
        .args(extra));
    let mut set: BTreeSet<String> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next().unwrap();
            let version = it.next().unwrap().trim_start_matches('v');
            format!("{name}@{version}")
        })
        .collect();
    let root = out
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>();
    set.remove(&format!("{}@{}", root[0], root[1].trim_start_matches('v')));
    set
}

/// Copies a corpus workspace into a temporary git repository.
pub fn corpus_repo(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join(name);
    run(Command::new("sh")
        .arg(shared_dir().join("corpus/make-repo.sh"))
        .arg(name)
        .arg(&dest));
    (tmp, dest)
}

/// Builds an example with cargo's JSON messages, as the build stage does, and returns the
/// compiled units and the built binaries.
pub fn build_units(
    dir: &Path,
) -> (
    Vec<cargo_provenance::inspect::CompiledUnit>,
    Vec<(String, std::path::PathBuf)>,
) {
    let out = run(Command::new("cargo")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", support::example_target_dir())
        .args(["build", "--release", "--locked", "--message-format", "json"]));
    let mut units = Vec::new();
    let mut bins = Vec::new();
    for line in out.lines() {
        let m: Value = serde_json::from_str(line).unwrap();
        if m["reason"] != "compiler-artifact" {
            continue;
        }
        let id = m["package_id"].as_str().unwrap().to_owned();
        let tail = id.rsplit('#').next().unwrap();
        let (name, version) = match tail.split_once('@') {
            Some((n, v)) => (n.to_owned(), v.to_owned()),
            None => (
                m["target"]["name"].as_str().unwrap().to_owned(),
                tail.to_owned(),
            ),
        };
        let kinds: Vec<String> = m["target"]["kind"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        if let Some(exe) = m["executable"].as_str() {
            bins.push((m["target"]["name"].as_str().unwrap().to_owned(), exe.into()));
        }
        units.push(cargo_provenance::inspect::CompiledUnit {
            package_id: id,
            name,
            version,
            target_name: m["target"]["name"].as_str().unwrap().to_owned(),
            target_kinds: kinds,
        });
    }
    (units, bins)
}

/// hello-service with a git dependency (a local repository: no network) and two path crates,
/// one with a license that is not SPDX and one with a license file; the lockfile is refreshed
/// as fixture setup. Returns the guard, the project, the git URL and the locked commit.
pub fn sources_fixture() -> (tempfile::TempDir, std::path::PathBuf, String, String) {
    let (tmp, dir) = support::copy_example("hello-service");
    let gitdep = tmp.path().join("gitdep");
    std::fs::create_dir_all(gitdep.join("src")).unwrap();
    std::fs::write(
        gitdep.join("Cargo.toml"),
        "[package]\nname = \"gitdep\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT/Apache-2.0\"\n",
    )
    .unwrap();
    std::fs::write(gitdep.join("src/lib.rs"), "").unwrap();
    support::git(&gitdep, &["init", "-q"]);
    support::git(&gitdep, &["add", "-A"]);
    support::git(&gitdep, &["commit", "-q", "-m", "gitdep"]);
    let rev = support::git(&gitdep, &["rev-parse", "HEAD"])
        .trim()
        .to_owned();
    for (name, license) in [
        ("weird", "license = \"Weird License 1.0\""),
        ("filelic", "license-file = \"LICENSE.txt\""),
    ] {
        let d = dir.join("crates").join(name);
        std::fs::create_dir_all(d.join("src")).unwrap();
        std::fs::write(
            d.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{license}\n"
            ),
        )
        .unwrap();
        std::fs::write(d.join("src/lib.rs"), "").unwrap();
        std::fs::write(d.join("LICENSE.txt"), "THE FULL LICENSE TEXT").unwrap();
    }
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let url = format!("file://{}", gitdep.display());
    let deps = format!(
        "itoa = \"1\"\nweird = {{ path = \"crates/weird\" }}\nfilelic = {{ path = \"crates/filelic\" }}\ngitdep = {{ git = \"{url}\" }}\n"
    );
    std::fs::write(&manifest, text.replace("itoa = \"1\"\n", &deps)).unwrap();
    support::run(std::process::Command::new("cargo").current_dir(&dir).args([
        "metadata",
        "--format-version",
        "1",
    ]));
    (tmp, dir, url, rev)
}
