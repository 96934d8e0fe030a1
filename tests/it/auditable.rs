//! cargo-auditable's dependency data in the binaries `build` makes (docs/build.md,
//! docs/sbom.md): `cargo audit bin` reads it from a binary taken out of the image and reports
//! the fixture's vulnerable crate, and finds none in a `--no-auditable` build; the data
//! equals what `cargo auditable build` embeds for the same project and target, but for the
//! build-only crates, which we leave out; the provenance and the SBOM say whether the
//! binaries carry it. Reproducibility with the data on: `tests/it/image.rs`.

use crate::support;
use crate::support::{blob, read_json};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// A copy of `tests/fixtures/<name>` or `examples/<name>`, committed in git.
fn project(name: &str) -> (tempfile::TempDir, PathBuf) {
    let fixture = support::repo_root().join("tests/fixtures").join(name);
    if !fixture.is_dir() {
        return support::example_repo(name);
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    support::copy_dir(&fixture, &dir);
    support::git(&dir, &["init", "-q"]);
    support::git(&dir, &["add", "-A"]);
    support::git(&dir, &["commit", "-q", "-m", "initial"]);
    (tmp, dir)
}

/// `build --builder native --no-sign` into `out`.
fn build(dir: &Path, out: &Path, extra: &[&str]) -> Output {
    let o = support::cargo_provenance()
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", support::example_target_dir())
        .env_remove("BUILDKIT_HOST")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .args(["build", "--builder", "native", "--no-sign", "--offline"])
        .args(["--target", TARGET, "--output-dir"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "build failed (offline: the fixture's crates must be in cargo's cache; scripts/test.sh \
         runs `cargo fetch --locked --manifest-path tests/fixtures/audit-vulnerable/Cargo.toml`):\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The binary `/usr/local/bin/<name>` of the image's first platform, taken out of the OCI
/// layout (not the copy in `<out>/bin`), written to `dest`.
fn binary_from_layout(out: &Path, name: &str, dest: &Path) -> PathBuf {
    let layout = out.join("oci");
    let top = read_json(&layout.join("index.json"));
    let index_digest = top["manifests"][0]["digest"].as_str().unwrap();
    let index: Value = serde_json::from_slice(&blob(&layout, index_digest)).unwrap();
    let manifest: Value = serde_json::from_slice(&blob(
        &layout,
        index["manifests"][0]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    let wanted = format!("usr/local/bin/{name}");
    for layer in manifest["layers"].as_array().unwrap() {
        let bytes = blob(&layout, layer["digest"].as_str().unwrap());
        let reader: Box<dyn std::io::Read> = match bytes.get(..2) {
            Some([0x1f, 0x8b]) => Box::new(flate2::read::GzDecoder::new(bytes.as_slice())),
            _ => Box::new(bytes.as_slice()),
        };
        let mut ar = tar::Archive::new(reader);
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().to_string_lossy().trim_start_matches("./") == wanted {
                std::fs::create_dir_all(dest).unwrap();
                let path = dest.join(name);
                e.unpack(&path).unwrap();
                return path;
            }
        }
    }
    panic!("{wanted} is in no layer of {}", layout.display());
}

/// The embedded data, as JSON (after auditable-serde's validation).
fn embedded(binary: &Path) -> Value {
    let info = auditable_info::audit_info_from_file(binary, Default::default())
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    serde_json::to_value(info).unwrap()
}

/// `cargo audit` must be there (scripts/test.sh installs it when missing).
fn cargo_audit(args: &[&str]) -> Output {
    let o = Command::new("cargo")
        .arg("audit")
        .args(args)
        .output()
        .expect("running cargo");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("no such command"),
        "cargo-audit is missing: scripts/test.sh installs it (`cargo install cargo-audit --locked`)"
    );
    o
}

/// Properties of the SBOM's binary components: bom-ref → the `cargo-provenance:auditable`
/// value, if any.
fn sbom_auditable_property(out: &Path) -> Vec<Option<String>> {
    let sbom = read_json(&out.join("sbom.cdx.json"));
    sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["bom-ref"].as_str().unwrap().starts_with("bin:"))
        .map(|c| {
            c["properties"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == "cargo-provenance:auditable")
                .map(|p| p["value"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn external_parameters(out: &Path) -> Value {
    let st = read_json(&out.join("provenance.intoto.json"));
    st["predicate"]["buildDefinition"]["externalParameters"].clone()
}

/// A binary from `build`, taken out of the image, carries the crates compiled into it;
/// `cargo audit bin` lists them and reports quick-xml's advisories. The provenance records
/// `auditable: true` and the SBOM's binary component says `dep-v0`. With `--no-auditable`
/// there is no data: cargo audit says the binary was not built with cargo auditable, and the
/// provenance and the SBOM say so too.
#[test]
#[ignore = "needs cargo-audit: scripts/test.sh installs it"]
fn cargo_audit_bin_reads_the_crates_and_reports_the_advisory() {
    let db = support::shared_dir().join("advisory-db");
    let (tmp, dir) = project("audit-vulnerable");
    let out = tmp.path().join("out");
    build(&dir, &out, &[]);
    let bin = binary_from_layout(&out, "audit-vulnerable", &tmp.path().join("extracted"));
    let data = embedded(&bin);
    let names: BTreeSet<&str> = data["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["adler", "audit-vulnerable", "memchr", "quick-xml"]),
        "exactly the crates linked in: {data}"
    );
    let dbs = db.to_str().unwrap();
    let binary = bin.to_str().unwrap();
    let o = cargo_audit(&["--db", dbs, "--no-fetch", "bin", binary]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "vulnerabilities found: {err}");
    assert!(
        err.contains("Found 'cargo auditable' data") && err.contains("(4 dependencies)"),
        "{err}"
    );
    let o = cargo_audit(&["--db", dbs, "--no-fetch", "--json", "bin", binary]);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["lockfile"]["dependency-count"], 4);
    let ids: BTreeSet<&str> = report["vulnerabilities"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["advisory"]["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains("RUSTSEC-2026-0194"), "{ids:?}");
    assert_eq!(external_parameters(&out)["auditable"], true);
    assert_eq!(sbom_auditable_property(&out), [Some("dep-v0".to_owned())]);

    let out2 = tmp.path().join("out-no-auditable");
    build(&dir, &out2, &["--no-auditable"]);
    let bin = binary_from_layout(&out2, "audit-vulnerable", &tmp.path().join("plain"));
    assert!(
        matches!(
            auditable_info::audit_info_from_file(&bin, Default::default()),
            Err(auditable_info::Error::NoAuditData)
        ),
        "no .dep-v0 section"
    );
    let o = cargo_audit(&[
        "--db",
        db.to_str().unwrap(),
        "--no-fetch",
        "bin",
        bin.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("was not built with 'cargo auditable'")
            && !err.contains("Found 'cargo auditable' data"),
        "{err}"
    );
    assert_eq!(external_parameters(&out2)["auditable"], false);
    assert_eq!(sbom_auditable_property(&out2), [None]);
}

/// `cargo auditable` must be there (scripts/test.sh installs it when missing).
fn cargo_auditable_build(dir: &Path) -> PathBuf {
    let o = Command::new("cargo")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", support::example_target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .args(["auditable", "build", "--release", "--locked", "--offline"])
        .args(["--target", TARGET])
        .output()
        .expect("running cargo");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("no such command"),
        "cargo-auditable is missing: scripts/test.sh installs it (`cargo install cargo-auditable --locked`)"
    );
    assert!(o.status.success(), "cargo auditable build failed: {err}");
    support::example_target_dir()
        .join(TARGET)
        .join("release")
        .join(dir.file_name().unwrap())
}

/// `list` without the packages `drop` picks, indices renumbered.
fn without(list: &Value, drop: impl Fn(&Value) -> bool) -> (Value, BTreeSet<String>) {
    let packages = list["packages"].as_array().unwrap();
    let mut renumber = Vec::new();
    let mut kept = Vec::new();
    let mut dropped = BTreeSet::new();
    for p in packages {
        if drop(p) {
            renumber.push(None);
            dropped.insert(format!("{}@{}", p["name"], p["version"]).replace('"', ""));
        } else {
            renumber.push(Some(kept.len()));
            kept.push(p.clone());
        }
    }
    for p in &mut kept {
        if let Some(deps) = p.get_mut("dependencies") {
            let new: Vec<Value> = deps
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|d| renumber[d.as_u64().unwrap() as usize])
                .map(Value::from)
                .collect();
            *deps = Value::from(new);
        }
    }
    let mut out = list.clone();
    out["packages"] = Value::from(kept);
    (out, dropped)
}

/// The SBOM's build-only crates (`scope: excluded`), as `name@version`.
fn build_only(out: &Path) -> BTreeSet<String> {
    let sbom = read_json(&out.join("sbom.cdx.json"));
    sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["scope"] == "excluded")
        .map(|c| format!("{}@{}", c["name"], c["version"]).replace('"', ""))
        .collect()
}

/// For the same project and target, our `.dep-v0` JSON equals `cargo auditable build`'s,
/// compared as parsed JSON, once its build-only crates are taken out: the ones it marks
/// `"kind": "build"` and the proc-macro it records as a runtime dependency (paste, which has
/// a build script, so cargo-auditable 0.7 does not see that it is a proc-macro). Those are
/// exactly the SBOM's `excluded` crates. docs/sbom.md names this difference.
#[test]
#[ignore = "needs cargo-auditable: scripts/test.sh installs it"]
fn the_data_equals_cargo_auditables_but_for_build_only_crates() {
    for name in ["audit-vulnerable", "hello-service"] {
        let (tmp, dir) = project(name);
        let out = tmp.path().join("out");
        build(&dir, &out, &[]);
        let ours = embedded(&binary_from_layout(
            &out,
            name,
            &tmp.path().join("extracted"),
        ));
        let reference = cargo_auditable_build(&dir);
        let theirs = embedded(&reference);
        let excluded = build_only(&out);
        let (theirs_runtime, dropped) = without(&theirs, |p| {
            p["kind"] == "build"
                || excluded.contains(&format!("{}@{}", p["name"], p["version"]).replace('"', ""))
        });
        assert_eq!(ours, theirs_runtime, "{name}: ours vs cargo auditable's");
        assert_eq!(
            dropped, excluded,
            "{name}: the difference is the build-only crates"
        );
        assert!(!dropped.is_empty(), "{name} has build-only crates");
    }
}

/// A workspace wrapper of the user's own (`RUSTC_WORKSPACE_WRAPPER`) still runs, called by
/// ours, and the binary still carries the data. No tool needed.
#[test]
fn the_users_workspace_wrapper_still_runs() {
    let (tmp, dir) = crate::support::image::tiny_crate("fn main() {}\n");
    let log = tmp.path().join("wrapper.log");
    let wrapper = tmp.path().join("my-wrapper.sh");
    support::write_script(
        &wrapper,
        &format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nexec \"$@\"\n",
            log.display()
        ),
    );
    let out = tmp.path().join("out");
    let o = support::cargo_provenance()
        .current_dir(&dir)
        .env("RUSTC_WORKSPACE_WRAPPER", &wrapper)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("BUILDKIT_HOST")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args(["build", "--builder", "native", "--no-sign", "--offline"])
        .args(["--target", TARGET, "--output-dir"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("--crate-name tiny") && logged.contains("AUDITABLE_VERSION_INFO"),
        "the user's wrapper ran rustc for the binary, with our link arguments: {logged}"
    );
    let data = embedded(&out.join("bin/linux/amd64/tiny"));
    assert_eq!(data["packages"][0]["name"], "tiny");
    assert_eq!(data["packages"][0]["root"], true);
}
