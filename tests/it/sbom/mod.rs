//! `cargo provenance sbom`: the crate set equals cargo's own resolution (checked against
//! `cargo tree`), scoping of build-only crates, schema validity of every SBOM written here,
//! determinism across checkouts, the stale-lockfile error, and the real corpus workspaces.

use crate::support;

mod filtered;
mod helpers;
mod same_name;
mod settings;

use std::collections::BTreeSet;

use helpers::*;
use serde_json::Value;
use support::{cargo_provenance, example_repo};

#[test]
fn hello_service_required_set_equals_cargo_tree() {
    let (_tmp, dir) = example_repo("hello-service");
    let (_, doc) = sbom(&dir, &[]);
    assert_eq!(
        scoped(&doc, "required"),
        cargo_tree(&dir, "hello-service", &[])
    );
    let everything: BTreeSet<String> = scoped(&doc, "required")
        .union(&scoped(&doc, "excluded"))
        .cloned()
        .collect();
    assert_eq!(
        everything,
        cargo_tree_all(&dir, "hello-service", &host(), &[])
    );
    // serde_derive is a proc-macro; it and what only it pulls in are build-only.
    let excluded = scoped(&doc, "excluded");
    for n in [
        "serde_derive",
        "syn",
        "quote",
        "proc-macro2",
        "unicode-ident",
    ] {
        assert!(
            excluded.iter().any(|e| e.starts_with(&format!("{n}@"))),
            "{n} excluded: {excluded:?}"
        );
    }
    assert_eq!(doc["metadata"]["component"]["name"], "hello-service");
    assert_eq!(
        doc["metadata"]["component"]["purl"],
        "pkg:cargo/hello-service@0.1.0"
    );
    assert_eq!(
        doc["metadata"]["timestamp"], "2024-01-02T03:04:05Z",
        "commit time by default"
    );
    let tools = &doc["metadata"]["tools"]["components"][0];
    assert_eq!(tools["name"], "cargo-provenance");
    assert_eq!(tools["version"], env!("CARGO_PKG_VERSION"));
    // Every registry crate carries purl, Cargo.lock sha256, license expression.
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap();
    for c in doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "library")
    {
        let (name, version) = (c["name"].as_str().unwrap(), c["version"].as_str().unwrap());
        assert_eq!(c["purl"], format!("pkg:cargo/{name}@{version}"));
        let hash = c["hashes"][0]["content"].as_str().unwrap();
        assert_eq!(c["hashes"][0]["alg"], "SHA-256");
        assert!(
            lock.contains(&format!("checksum = \"{hash}\"")),
            "{name}: hash from Cargo.lock"
        );
        assert!(
            c["licenses"][0]["expression"].is_string(),
            "{name}: license expression"
        );
    }
}

#[test]
fn workspace_app_scopes_build_only_dev_and_other_target_crates() {
    let (_tmp, dir) = example_repo("workspace-app");
    let (_, doc) = sbom(&dir, &["-p", "app-server"]);
    let required = scoped(&doc, "required");
    assert_eq!(required, cargo_tree(&dir, "app-server", &[]));
    let everything: BTreeSet<String> = required.union(&scoped(&doc, "excluded")).cloned().collect();
    assert_eq!(everything, cargo_tree_all(&dir, "app-server", &host(), &[]));
    let excluded = scoped(&doc, "excluded");
    for n in [
        "app-macros",
        "proc-macro2",
        "quote",
        "unicode-ident",
        "autocfg",
    ] {
        assert!(
            excluded.iter().any(|e| e.starts_with(&format!("{n}@"))),
            "{n} excluded: {excluded:?}"
        );
    }
    let all = names(&doc);
    assert!(!all.contains("fastrand"), "dev-dependency absent");
    assert!(
        !all.contains("core-foundation-sys"),
        "macOS-only dependency absent"
    );
    assert!(
        !all.contains("serde_json"),
        "optional dependency off by default"
    );
    // app-core is a path dependency: marked as such, relative path only.
    let core = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "app-core")
        .unwrap();
    assert_eq!(core["scope"], "required");
    assert_eq!(core["bom-ref"], "app-core@0.3.0+path:crates/app-core");
    assert!(
        core["purl"]
            .as_str()
            .unwrap()
            .contains("download_url=file:crates/app-core")
    );
    assert!(
        core["properties"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "cargo-provenance:source" && p["value"] == "path")
    );
}

#[test]
fn optional_feature_adds_exactly_its_crates() {
    let (_tmp, dir) = example_repo("workspace-app");
    let (_, base) = sbom(&dir, &["-p", "app-server"]);
    let (_, json) = sbom(&dir, &["-p", "app-server", "--features", "json"]);
    let with = scoped(&json, "required");
    assert_eq!(
        with,
        cargo_tree(&dir, "app-server", &["--features", "json"])
    );
    let added: BTreeSet<String> = with
        .difference(&scoped(&base, "required"))
        .map(|s| s.split('@').next().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = ["serde_json", "memchr", "serde_core", "zmij"]
        .map(String::from)
        .into();
    assert_eq!(added, expected);
    assert_eq!(scoped(&json, "excluded"), scoped(&base, "excluded"));
}

#[test]
fn workspace_mode_one_sbom_for_all_binaries_and_per_package_files() {
    let (_tmp, dir) = example_repo("workspace-app");
    let (_, doc) = sbom(&dir, &["--workspace"]);
    let comp = &doc["metadata"]["component"];
    assert_eq!(comp["name"], "workspace-app", "named after the repository");
    assert_eq!(comp["version"], "0.3.0");
    let bins: BTreeSet<&str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "application")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(bins, ["app-admin", "app-server"].into());
    let deps = doc["dependencies"].as_array().unwrap();
    let root = deps.iter().find(|d| d["ref"] == comp["bom-ref"]).unwrap();
    assert_eq!(root["dependsOn"].as_array().unwrap().len(), 2);
    // Default members without --workspace: one file per package into a directory.
    let out = dir.join("sboms");
    std::fs::create_dir(&out).unwrap();
    cargo_provenance()
        .current_dir(&dir)
        .args(["sbom", "--output"])
        .arg(&out)
        .assert()
        .success();
    for p in ["app-admin", "app-server"] {
        let doc = check_sbom(&std::fs::read(out.join(format!("{p}.cdx.json"))).unwrap());
        assert_eq!(doc["metadata"]["component"]["name"], p);
    }
    // ... and to stdout that is an error that says what to do.
    cargo_provenance()
        .current_dir(&dir)
        .arg("sbom")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--workspace"));
}

#[test]
fn spec_version_1_4() {
    let (_tmp, dir) = example_repo("hello-service");
    let (_, doc) = sbom(&dir, &["--spec-version", "1.4"]);
    assert_eq!(doc["specVersion"], "1.4");
    assert_eq!(doc["metadata"]["tools"][0]["name"], "cargo-provenance");
    cargo_provenance()
        .current_dir(&dir)
        .args(["sbom", "--spec-version", "1.3"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("1.4 or 1.5"));
}

#[test]
fn byte_identical_across_checkouts_and_runs() {
    for (example, args) in [
        ("hello-service", vec![]),
        ("workspace-app", vec!["--workspace"]),
    ] {
        let (_a, dir_a) = example_repo(example);
        let (_b, cloned) = example_repo(example);
        // The second checkout also has another directory name.
        let dir_b = cloned.with_file_name("another-checkout-name");
        std::fs::rename(&cloned, &dir_b).unwrap();
        assert_ne!(dir_a.parent(), dir_b.parent());
        let (one, doc) = sbom(&dir_a, &args);
        let (two, _) = sbom(&dir_b, &args);
        let (three, _) = sbom(&dir_a, &args);
        assert!(one == two, "{example}: SBOMs differ between checkouts");
        assert!(one == three, "{example}: SBOMs differ between runs");
        assert!(
            doc["serialNumber"]
                .as_str()
                .unwrap()
                .starts_with("urn:uuid:")
        );
    }
    // SOURCE_DATE_EPOCH wins over the commit time, and changes the serial number.
    let (_t, dir) = example_repo("hello-service");
    let (a, _) = sbom(&dir, &[]);
    let out = cargo_provenance()
        .current_dir(&dir)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .arg("sbom")
        .output()
        .unwrap();
    let doc = check_sbom(&out.stdout);
    assert_eq!(doc["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
    let first: Value = serde_json::from_slice(&a).unwrap();
    assert_ne!(first["serialNumber"], doc["serialNumber"]);
}

#[test]
fn output_file_is_written_atomically() {
    let (_tmp, dir) = example_repo("hello-service");
    let path = dir.join("out/sbom.cdx.json");
    cargo_provenance()
        .current_dir(&dir)
        .args(["sbom", "--output", "out/sbom.cdx.json"])
        .assert()
        .success();
    check_sbom(&std::fs::read(&path).unwrap());
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("out")).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left");
}

#[test]
fn stale_lockfile_is_exit_2_and_never_rewritten() {
    let (_tmp, dir) = example_repo("hello-service");
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("version = \"0.1.0\"", "version = \"0.1.1\""),
    )
    .unwrap();
    let lock_before = std::fs::read(dir.join("Cargo.lock")).unwrap();
    cargo_provenance()
        .current_dir(&dir)
        .arg("sbom")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicates::str::contains("Cargo.lock"));
    assert_eq!(
        std::fs::read(dir.join("Cargo.lock")).unwrap(),
        lock_before,
        "Cargo.lock untouched"
    );
}

#[test]
fn missing_manifest_is_exit_2() {
    cargo_provenance()
        .args(["sbom", "--manifest-path", "/nonexistent/Cargo.toml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("/nonexistent/Cargo.toml"));
}

#[test]
fn corpus_workspaces_give_valid_sboms() {
    for name in ["ripgrep", "uv", "deno", "rerun"] {
        let (_tmp, dir) = corpus_repo(name);
        let (_, doc) = sbom(&dir, &["--workspace"]);
        let required = scoped(&doc, "required").len();
        assert!(required > 10, "{name}: {required} required crates");
        assert!(
            doc["metadata"]["timestamp"]
                .as_str()
                .unwrap()
                .starts_with("2026-08-"),
            "{name}: commit time"
        );
        eprintln!(
            "{name}: {required} required, {} excluded",
            scoped(&doc, "excluded").len()
        );
    }
    let (_tmp, dir) = corpus_repo("ripgrep");
    sbom(&dir, &["--workspace", "--all-features"]);
}

#[test]
fn corpus_required_sets_equal_cargo_tree() {
    for (name, pkg, extra) in [
        ("ripgrep", "ripgrep", vec![]),
        ("ripgrep", "ripgrep", vec!["--features", "pcre2"]),
        ("uv", "uv", vec![]),
    ] {
        let (_tmp, dir) = corpus_repo(name);
        let mut args = vec!["-p", pkg];
        args.extend(&extra);
        let (_, doc) = sbom(&dir, &args);
        let ours = scoped(&doc, "required");
        let tree = cargo_tree_with(&dir, pkg, &extra, "");
        let missing: Vec<_> = tree.difference(&ours).collect();
        let extra_: Vec<_> = ours.difference(&tree).collect();
        assert!(
            missing.is_empty() && extra_.is_empty(),
            "{name} -p {pkg} {extra:?}: missing {missing:?}, extra {extra_:?}"
        );
        let everything: BTreeSet<String> = ours.union(&scoped(&doc, "excluded")).cloned().collect();
        assert_eq!(
            everything,
            cargo_tree_all(&dir, pkg, &host(), &extra),
            "{name}: linked + build-only"
        );
    }
    // Another target: cfg(..) dependencies follow the target, build-time ones the host.
    let (_tmp, dir) = corpus_repo("ripgrep");
    let target = "x86_64-pc-windows-msvc";
    let out = cargo_provenance()
        .current_dir(&dir)
        .args(["sbom", "-p", "ripgrep", "--target", target])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = check_sbom(&out.stdout);
    let required = scoped(&doc, "required");
    assert_eq!(
        required,
        tree_set(&dir, "ripgrep", "normal,no-proc-macro", target, &[], "")
    );
    assert!(
        required.iter().any(|r| r.starts_with("winapi-util@")),
        "windows-only crate linked"
    );
}

#[test]
fn schema_check_fails_on_broken_documents() {
    let (_tmp, dir) = example_repo("hello-service");
    let (_, doc) = sbom(&dir, &[]);
    assert!(schema_1_5().is_valid(&doc));
    let mut bad = doc.clone();
    bad["components"][1]["scope"] = "sometimes".into();
    assert!(!schema_1_5().is_valid(&bad), "unknown scope rejected");
    let mut bad = doc.clone();
    bad["components"][1]["hashes"][0]["content"] = "xyz".into();
    assert!(!schema_1_5().is_valid(&bad), "bad hash rejected");
    let mut bad = doc.clone();
    bad["components"][1]["licenses"][0] = serde_json::json!({"license": {"id": "Not-A-License"}});
    assert!(
        !schema_1_5().is_valid(&bad),
        "spdx.schema.json reference enforced"
    );
    // The consistency checks of check_sbom fail too.
    let mut bad = doc;
    bad["dependencies"][0]["dependsOn"] = serde_json::json!(["nowhere@1.0.0"]);
    let text = serde_json::to_vec(&bad).unwrap();
    assert!(
        std::panic::catch_unwind(|| check_sbom(&text)).is_err(),
        "dangling ref rejected"
    );
}

#[test]
fn other_target_dependency_appears_for_its_target() {
    let (_tmp, dir) = example_repo("workspace-app");
    let (_, doc) = sbom(
        &dir,
        &["-p", "app-server", "--target", "aarch64-apple-darwin"],
    );
    let required = scoped(&doc, "required");
    assert!(
        required
            .iter()
            .any(|r| r.starts_with("core-foundation-sys@")),
        "{required:?}"
    );
    assert_eq!(
        required,
        tree_set(
            &dir,
            "app-server",
            "normal,no-proc-macro",
            "aarch64-apple-darwin",
            &[],
            "--no-dedupe"
        )
    );
}

#[test]
fn library_api_with_build_units_binaries_and_image_subject() {
    use cargo_provenance::sbom::{SbomRequest, SbomSubject, SpecVersion, generate};
    use cargo_provenance::util::digest::Digest;
    let (_tmp, dir) = example_repo("hello-service");
    let (units, bins) = build_units(&dir);
    let (bin_name, exe) = bins.first().expect("a binary was built").clone();
    let file = std::fs::read(&exe).unwrap();
    let binary = cargo_provenance::inspect::BuiltBinary {
        package: "hello-service".into(),
        name: bin_name,
        path_in_image: "/usr/local/bin/hello-service".into(),
        digest: Digest::of(&file),
        size: file.len() as u64,
        local_path: exe,
    };
    let selection = cargo_provenance::select::Selection {
        manifest_path: Some(dir.join("Cargo.toml")),
        // In-process: a CI run's own repository URL must not meet the fixture's remote.
        source_url: Some("https://github.com/example/hello-service".into()),
        ..Default::default()
    };
    let image_digest = Digest::of(b"an image index");
    let req = SbomRequest {
        selection: &selection,
        spec_version: SpecVersion::V1_5,
        subject: SbomSubject::Image {
            name: "127.0.0.1:5000/team/hello:1.0".into(),
            digest: image_digest,
        },
        binaries: vec![binary.clone()],
        compiled_units: Some(units.clone()),
        source_date_epoch: Some(1_700_000_000),
        workspace_mode: false,
        built_for: Vec::new(),
        auditable: false,
    };
    let ui = cargo_provenance::ui::Ui::default();
    let sbom = generate(&req, &ui).expect("SBOM from build units");
    let doc = check_sbom(&sbom.json);
    assert!(sbom.warnings.is_empty(), "{:?}", sbom.warnings);
    let subject = &doc["metadata"]["component"];
    assert_eq!(subject["type"], "container");
    assert_eq!(
        subject["purl"],
        format!(
            "pkg:oci/hello@sha256%3A{}?repository_url=127.0.0.1:5000/team/hello&tag=1.0",
            image_digest.hex()
        )
    );
    let bin = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "application")
        .unwrap();
    assert_eq!(bin["hashes"][0]["content"], binary.digest.hex());
    // Every required crate was compiled; take one away and the SBOM is refused.
    let without_itoa: Vec<_> = units.iter().filter(|u| u.name != "itoa").cloned().collect();
    let req2 = SbomRequest {
        compiled_units: Some(without_itoa),
        ..req.clone()
    };
    let err = generate(&req2, &ui).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("itoa@"), "{err}");
    // A unit compiled but not listed is refused too: an SBOM that misses a compiled crate is
    // never written.
    let mut extra = units.clone();
    extra.push(cargo_provenance::inspect::CompiledUnit {
        package_id: "registry+https://github.com/rust-lang/crates.io-index#fastrand@2.0.0".into(),
        name: "fastrand".into(),
        version: "2.0.0".into(),
        target_name: "fastrand".into(),
        target_kinds: vec!["lib".into()],
    });
    let req3 = SbomRequest {
        compiled_units: Some(extra),
        ..req.clone()
    };
    let err = generate(&req3, &ui).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .contains("the build compiled fastrand@2.0.0, which the SBOM does not list"),
        "{err}"
    );
    // A built binary that is not in the selection is an error.
    let mut other = binary;
    other.name = "not-a-bin".into();
    let req4 = SbomRequest {
        binaries: vec![other],
        ..req
    };
    assert!(
        generate(&req4, &ui)
            .unwrap_err()
            .to_string()
            .contains("not-a-bin")
    );
}

#[test]
fn path_and_git_sources_and_licenses() {
    let (_tmp, dir, url, rev) = sources_fixture();
    let (bytes, doc) = sbom_checked(&dir, &[], false);
    let find = |n: &str| {
        doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .unwrap_or_else(|| panic!("{n} listed"))
            .clone()
    };
    let g = find("gitdep");
    assert_eq!(g["scope"], "required");
    assert_eq!(
        g["purl"],
        format!("pkg:cargo/gitdep@0.1.0?vcs_url=git%2B{}%40{rev}", url)
    );
    assert_eq!(
        g["licenses"][0]["expression"], "MIT OR Apache-2.0",
        "legacy `/` normalised"
    );
    assert!(
        g["hashes"].is_null(),
        "git crates have no Cargo.lock checksum"
    );
    let w = find("weird");
    assert_eq!(
        w["licenses"][0]["license"]["name"], "Weird License 1.0",
        "kept, named"
    );
    assert!(
        w["purl"]
            .as_str()
            .unwrap()
            .ends_with("?download_url=file:crates/weird")
    );
    let f = find("filelic");
    assert_eq!(
        f["licenses"][0]["license"]["name"],
        "license-file: LICENSE.txt"
    );
    assert!(!String::from_utf8_lossy(&bytes).contains("THE FULL LICENSE TEXT"));
}
