//! The gate and the scan attestation against the real peers: with `--push` to the local
//! registry, a failed gate pushes nothing (the registry is asked); with a VEX statement the
//! build pushes, and cosign 2.5 and 3.1 `verify-attestation --type vuln` accept the scan.

use std::process::Command;

use super::build::{build, setup};
use super::{db, support};
use support::Peers;

/// The registry's answer for `repo:tag` (HEAD on the manifest): the HTTP status line's code.
fn registry_status(peers: &Peers, repo_path: &str, reference: &str) -> String {
    let url = format!(
        "http://{}/v2/{repo_path}/manifests/{reference}",
        peers.registry
    );
    let o = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-I", "-H"])
        .arg(
            "Accept: application/vnd.oci.image.index.v1+json, \
             application/vnd.oci.image.manifest.v1+json",
        )
        .arg(&url)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Tags of a repository (`/v2/<repo>/tags/list`), empty when the repository is unknown.
fn registry_tags(peers: &Peers, repo_path: &str) -> String {
    let o = Command::new("curl")
        .args(["-s"])
        .arg(format!(
            "http://{}/v2/{repo_path}/tags/list",
            peers.registry
        ))
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn a_failed_gate_pushes_nothing_and_cosign_accepts_the_scan() {
    let peers = Peers::get();
    let cosign3 = peers.cosign3();
    let (tmp, repo, key, public, db) = setup();
    let registry_repo = peers.unique_repo("audit-gate");
    let repo_path = registry_repo.split_once('/').unwrap().1.to_owned();
    let image = format!("{registry_repo}:v1");
    let out = tmp.path().join("out");
    let dbs = db.to_str().unwrap();
    let (code, err) = build(
        &repo,
        &key,
        &out,
        &[
            "--fail-on",
            "high",
            "--advisory-db",
            dbs,
            "--push",
            "--image",
            &image,
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("RUSTSEC-2099-0001"), "{err}");
    assert!(!out.join("vuln.sigstore.json").exists());
    assert!(!out.join("sbom.sigstore.json").exists());
    assert_eq!(registry_status(&peers, &repo_path, "v1"), "404");
    let tags = registry_tags(&peers, &repo_path);
    assert!(!tags.contains("\"v1\""), "tags after a failed gate: {tags}");

    // With the VEX statement the build passes and pushes; cosign verifies the scan.
    let vex = tmp.path().join("vex.json");
    db::vex(
        &vex,
        "RUSTSEC-2099-0001",
        "pkg:cargo/itoa@1.0.18",
        "not_affected",
    );
    let (code, err) = build(
        &repo,
        &key,
        &out,
        &[
            "--fail-on",
            "high",
            "--advisory-db",
            dbs,
            "--vex",
            vex.to_str().unwrap(),
            "--push",
            "--image",
            &image,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(registry_status(&peers, &repo_path, "v1"), "200");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let index = summary["index_digest"].as_str().unwrap();
    let at = format!("{registry_repo}@{index}");
    let root = support::empty_trusted_root(tmp.path());
    for cosign in [std::path::PathBuf::from("cosign"), cosign3] {
        let o = peers
            .cmd(cosign.to_str().unwrap())
            .args(["verify-attestation", "--key"])
            .arg(&public)
            .args(["--type", "vuln", "--new-bundle-format", "--trusted-root"])
            .arg(&root)
            .args(["--insecure-ignore-tlog=true", "--allow-http-registry", &at])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{} verify-attestation --type vuln {at}:\n{}",
            cosign.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(stdout.contains("payload"), "{stdout}");
        eprintln!("{} verify-attestation --type vuln: ok", cosign.display());
    }
}
