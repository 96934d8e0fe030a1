//! `verify --rebuild`: the example rebuilds to identical digests from the recorded commit; a
//! build made from a source file changed after that commit fails, naming the differing
//! binary.
//!
//! In the first two tests the provenance is made here from the build's `summary.json` (what
//! `build --key` records: subjects, source, parameters), signed with the product's signer and
//! attached with the publish stage, so that a changed source can be recorded as the old
//! commit. The last runs `keygen`, `build --key` and `verify --rebuild` as a user would, on
//! the provenance exactly as `build` wrote it (real toolchain fields, rustup toolchain).

use crate::support;
use crate::support::verify_fixture;

use std::path::Path;

use cargo_provenance::oci::layout::Layout;
use serde_json::{Value, json};
use verify_fixture::*;

fn build(repo: &Path, out: &Path) -> Value {
    let o = support::cargo_provenance()
        .env("CARGO_TARGET_DIR", support::example_target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args([
            "build",
            "-q",
            "--no-sign",
            "--builder",
            "native",
            "--manifest-path",
        ])
        .arg(repo.join("Cargo.toml"))
        .arg("--output-dir")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "build: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
}

/// The provenance `build --key` would record for this summary.
fn provenance_of(summary: &Value, commit: &str, dirty: bool) -> Value {
    let mut subjects = vec![
        json!({"name": "image", "digest": {"sha256": summary["index_digest"].as_str().unwrap()[7..]},
        "mediaType": "application/vnd.oci.image.index.v1+json"}),
    ];
    let mut platforms = Vec::new();
    for p in summary["platforms"].as_array().unwrap() {
        platforms.push(p["platform"].clone());
        subjects.push(json!({"name": p["platform"], "digest": {"sha256": p["manifest_digest"].as_str().unwrap()[7..]},
            "mediaType": "application/vnd.oci.image.manifest.v1+json"}));
        for b in p["binaries"].as_array().unwrap() {
            subjects.push(json!({"name": b["path"], "digest": {"sha256": b["digest"].as_str().unwrap()[7..]}}));
        }
    }
    let target = summary["platforms"][0]["rust_target"].clone();
    let bins = summary["platforms"][0]["binaries"].as_array().unwrap();
    let mut packages: Vec<&str> = bins
        .iter()
        .map(|b| b["package"].as_str().unwrap())
        .collect();
    packages.sort();
    packages.dedup();
    let mut names: Vec<&str> = bins.iter().map(|b| b["name"].as_str().unwrap()).collect();
    names.sort();
    let mut p = provenance(&Value::Array(subjects));
    let def = &mut p["predicate"]["buildDefinition"];
    let ext = &mut def["externalParameters"];
    ext["source"]["commit"] = commit.into();
    ext["source"]["dirty"] = dirty.into();
    ext["packages"] = json!(packages);
    ext["binaries"] = json!(names);
    ext["target"] = target;
    ext["platforms"] = Value::Array(platforms);
    // The builds here carry the cargo-auditable data (the default).
    ext["auditable"] = true.into();
    def["internalParameters"] = json!({
        "toolchain": {"rustcRelease": "x", "rustcCommitHash": "x", "rustcCommitDate": "x", "host": "x", "cargoVersion": "x"},
        "rustflagsSource": "none",
        "profileSettings": {"optLevel": "3", "lto": "false", "debug": "0", "strip": "none", "panic": "unwind"},
        "sourceDateEpoch": summary["source_date_epoch"], "reproducible": true
    });
    p
}

fn rebuild(reference: &str, key: &Key, repo: &Path) -> Outcome {
    let (public, source) = (
        key.pub_path.display().to_string(),
        repo.display().to_string(),
    );
    run_verify(&[
        reference,
        "--key",
        &public,
        "--rebuild",
        "--source",
        &source,
    ])
}

fn sign_and_attach(out: &Path, key: &Key, statement: &Value) -> String {
    let layout = Layout::open(&out.join("oci")).unwrap();
    let tag = layout.index().unwrap().manifests[0].annotations["org.opencontainers.image.ref.name"]
        .clone();
    let index = layout.resolve_tag(&tag).unwrap().digest;
    let img = Image {
        index,
        platforms: vec![],
        tag: tag.clone(),
    };
    attach_all(&layout, &img, &key.bundle(statement), SLSA);
    format!("oci:{}:{tag}", out.join("oci").display())
}

#[test]
fn rebuild_passes_on_the_example_and_names_a_changed_binary() {
    let (tmp, repo) = support::example_repo("hello-service");
    let key = Key::new(tmp.path(), 7);
    let commit = support::git(&repo, &["rev-parse", "HEAD"])
        .trim()
        .to_owned();

    let out = tmp.path().join("out1");
    let summary = build(&repo, &out);
    let reference = sign_and_attach(&out, &key, &provenance_of(&summary, &commit, false));
    rebuild(&reference, &key, &repo)
        .passes()
        .says("pass    rebuild");

    // The same build claimed to be without the cargo-auditable data: the rebuild follows the
    // claim (`--no-auditable`) and gets other binaries.
    let out3 = tmp.path().join("out3");
    let summary3 = build(&repo, &out3);
    let mut claim = provenance_of(&summary3, &commit, false);
    claim["predicate"]["buildDefinition"]["externalParameters"]["auditable"] = false.into();
    let reference = sign_and_attach(&out3, &key, &claim);
    rebuild(&reference, &key, &repo)
        .fails_only(&["rebuild"])
        .says("binary /usr/local/bin/hello-service: recorded");

    // A source file changed after the recorded commit, built as that commit.
    let main = repo.join("src/main.rs");
    let text = std::fs::read_to_string(&main).unwrap();
    let changed = text.replacen("fn main() {", "fn main() {\n    println!(\"tampered\");", 1);
    assert_ne!(text, changed, "src/main.rs has no `fn main() {{`");
    std::fs::write(&main, changed).unwrap();
    let out2 = tmp.path().join("out2");
    let summary2 = build(&repo, &out2);
    let reference = sign_and_attach(&out2, &key, &provenance_of(&summary2, &commit, true));
    rebuild(&reference, &key, &repo)
        .fails_only(&["rebuild"])
        .says("binary /usr/local/bin/hello-service: recorded")
        .says("uncommitted changes");
}

#[test]
fn rebuild_passes_on_the_workspace_example() {
    let (tmp, repo) = support::example_repo("workspace-app");
    let key = Key::new(tmp.path(), 7);
    let commit = support::git(&repo, &["rev-parse", "HEAD"])
        .trim()
        .to_owned();
    let out = tmp.path().join("out");
    let summary = build(&repo, &out);
    let reference = sign_and_attach(&out, &key, &provenance_of(&summary, &commit, false));
    rebuild(&reference, &key, &repo)
        .passes()
        .says("pass    rebuild");

    // A repository without the recorded commit fails the check and says what to do.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    support::git(&other, &["init", "-q"]);
    std::fs::write(other.join("f"), "x").unwrap();
    support::git(&other, &["add", "f"]);
    support::git(&other, &["commit", "-q", "-m", "x"]);
    rebuild(&reference, &key, &other)
        .fails_only(&["rebuild"])
        .says(&format!("commit {commit} is not in the repository at"))
        .says("fetch it or pass --source PATH");

    // A directory outside git cannot be rebuilt from: an error, not a verdict.
    let plain = tempfile::tempdir().unwrap();
    let o = rebuild(&reference, &key, plain.path());
    assert!(o.code != 0 && o.code != 1, "exit {}: {}", o.code, o.stderr);
    o.says("is not in a git repository");
}

/// The whole loop with nothing made up: `keygen`, `build --key` (the provenance as `build`
/// records it, with the real toolchain fields and the rustup toolchain), then `verify
/// --rebuild` of its layout, which rebuilds from the recorded inputs to the same digests.
#[test]
fn rebuild_passes_on_a_real_signed_build() {
    let (tmp, repo) = support::example_repo("hello-service");
    let keys = tmp.path().join("keys");
    let (key, public) = support::keygen(&keys, "rebuild-test");
    let out = tmp.path().join("out");
    let o = support::cargo_provenance()
        .env("CARGO_TARGET_DIR", support::example_target_dir())
        .env("COSIGN_PASSWORD", "rebuild-test")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args([
            "build",
            "-q",
            "--builder",
            "native",
            "--image",
            "hello:rebuild",
        ])
        .arg("--key")
        .arg(&key)
        .arg("--manifest-path")
        .arg(repo.join("Cargo.toml"))
        .arg("--output-dir")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let statement: Value =
        serde_json::from_slice(&std::fs::read(out.join("provenance.intoto.json")).unwrap())
            .unwrap();
    let toolchain = &statement["predicate"]["buildDefinition"]["internalParameters"]["toolchain"];
    assert!(
        toolchain["rustcCommitHash"]
            .as_str()
            .is_some_and(|h| h.len() == 40),
        "{toolchain}"
    );
    let reference = format!("oci:{}:rebuild", out.join("oci").display());
    let public = public.display().to_string();
    let source = repo.display().to_string();
    run_verify(&[
        &reference,
        "--key",
        &public,
        "--rebuild",
        "--source",
        &source,
    ])
    .passes()
    .says("pass    rebuild");
}

/// The image a clone with an https remote built rebuilds to the same digests from a clone
/// over ssh (scp-like remote): the image's `org.opencontainers.image.source` label records
/// one canonical source URL (docs/inspect.md, "Source URL").
#[test]
fn rebuild_from_an_ssh_clone_passes_on_an_https_clones_image() {
    let (tmp, repo) = support::example_repo("hello-service");
    support::git(
        &repo,
        &[
            "remote",
            "set-url",
            "origin",
            "https://github.com/example/hello-service.git",
        ],
    );
    let key = Key::new(tmp.path(), 9);
    let commit = support::git(&repo, &["rev-parse", "HEAD"])
        .trim()
        .to_owned();
    let out = tmp.path().join("out");
    let summary = build(&repo, &out);
    let reference = sign_and_attach(&out, &key, &provenance_of(&summary, &commit, false));
    let ssh = tmp.path().join("ssh-clone");
    support::run(
        std::process::Command::new("git")
            .args(["clone", "-q"])
            .arg(&repo)
            .arg(&ssh),
    );
    support::git(
        &ssh,
        &[
            "remote",
            "set-url",
            "origin",
            "git@github.com:example/hello-service.git",
        ],
    );
    rebuild(&reference, &key, &ssh)
        .passes()
        .says("pass    rebuild");
}
