//! `cargo provenance build` against the real peers: cosign 2.5 verifies our bundles (as blob
//! attestations of the built binary, and as referrers in the registry after `--push`); the
//! registry holds the digests summary.json lists; `oras discover` lists the referrers.

use crate::support;
use crate::support::read_json;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::Peers;

const PASSWORD: &str = "release-peers-pw";

/// keygen + `build --key --builder native` of hello-service; extra args appended. Returns
/// (guard, output dir, public key).
fn signed_build(extra: &[&str]) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    signed_build_with(None, &["--builder", "native"], extra)
}

fn signed_build_with(
    peers: Option<&Peers>,
    builder: &[&str],
    extra: &[&str],
) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    support::signed_build(peers, builder, extra, PASSWORD)
}

/// cosign verify-blob-attestation accepts the provenance (and SBOM) bundle `build` wrote,
/// with the built binary as the artifact.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn cosign_verifies_the_build_bundles_as_blob_attestations() {
    let peers = Peers::get();
    let (tmp, out, pubkey) = signed_build(&[]);
    let root = support::empty_trusted_root(tmp.path());
    let binary = out.join("bin/linux/amd64/hello-service");
    assert!(binary.is_file());
    for tier in peers.tiers() {
        for (kind, bundle) in [
            ("slsaprovenance1", "provenance.sigstore.json"),
            ("cyclonedx", "sbom.sigstore.json"),
        ] {
            let o = tier
                .cosign()
                .args(["verify-blob-attestation", "--key"])
                .arg(&pubkey)
                .args(["--type", kind, "--bundle"])
                .arg(out.join(bundle))
                .args(["--new-bundle-format", "--trusted-root"])
                .arg(&root)
                .arg("--insecure-ignore-tlog=true")
                .arg(&binary)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{} verify-blob-attestation --type {kind}:\n{}",
                tier.name(),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

/// The digest a registry gives for `repo`'s manifest `reference` (HEAD).
fn registry_digest(peers: &Peers, repo_path: &str, reference: &str) -> Option<String> {
    let url = format!(
        "http://{}/v2/{repo_path}/manifests/{reference}",
        peers.registry
    );
    let o = Command::new("curl")
        .args(["-fsI", "-H"])
        .arg(
            "Accept: application/vnd.oci.image.index.v1+json, \
             application/vnd.oci.image.manifest.v1+json",
        )
        .arg(&url)
        .output()
        .unwrap();
    if !o.status.success() {
        return None;
    }
    String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("docker-content-digest")
            .then(|| v.trim().to_owned())
    })
}

/// `build --push --image REGISTRY/REPO:v1`: the registry holds the image and every referrer
/// under the digests in summary.json; cosign verify-attestation finds and verifies the
/// provenance and SBOM on the index; oras discover lists the referrers of the index and of the
/// platform manifest.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn push_puts_image_and_referrers_in_the_registry_with_the_summary_digests() {
    let peers = Peers::get();
    let repo = peers.unique_repo("release");
    let image = format!("{repo}:v1");
    let (tmp, out, pubkey) = signed_build(&["--push", "--image", &image]);
    let summary = read_json(&out.join("summary.json"));
    let index = summary["index_digest"].as_str().unwrap();
    let manifest = summary["platforms"][0]["manifest_digest"].as_str().unwrap();
    let repo_path = repo.split_once('/').unwrap().1;

    // Registry digests = summary digests.
    assert_eq!(
        registry_digest(&peers, repo_path, "v1").as_deref(),
        Some(index)
    );
    assert_eq!(
        registry_digest(&peers, repo_path, manifest).as_deref(),
        Some(manifest)
    );
    let mut referrers = Vec::new();
    for a in summary["attestations"].as_array().unwrap() {
        for r in a["referrers"].as_array().unwrap() {
            let d = r["manifest_digest"].as_str().unwrap().to_owned();
            assert_eq!(
                registry_digest(&peers, repo_path, &d).as_deref(),
                Some(d.as_str()),
                "referrer {d} not in the registry"
            );
            referrers.push((r["subject"].as_str().unwrap().to_owned(), d));
        }
    }
    assert_eq!(referrers.len(), 6);

    // cosign (both generations) finds and verifies them.
    let root = support::empty_trusted_root(tmp.path());
    let at = format!("{repo}@{index}");
    let other = tempfile::tempdir().unwrap();
    let (_, other_pub) = support::keygen(other.path(), "other");
    for tier in peers.tiers() {
        for kind in ["slsaprovenance1", "cyclonedx"] {
            let o = tier
                .cosign()
                .args(["verify-attestation", "--key"])
                .arg(&pubkey)
                .args(["--type", kind, "--new-bundle-format", "--trusted-root"])
                .arg(&root)
                .args(["--insecure-ignore-tlog=true", "--allow-http-registry", &at])
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{} verify-attestation --type {kind} {at}:\n{}",
                tier.name(),
                String::from_utf8_lossy(&o.stderr)
            );
        }

        // `cosign verify` (the image signature, not an attestation) by index digest and by
        // platform digest; another key is rejected. cosign 3.1 reads the image-signature
        // referrers; cosign 2.5 reads only the legacy `.sig` tag, which this build (no
        // --legacy-signature-tag) does not write, so it finds nothing with either key
        // (docs/build.md; the legacy form: legacy_signature_tag_is_what_cosign_2_verifies).
        for subject in [index, manifest] {
            let at = format!("{repo}@{subject}");
            for (key, ok) in [(&pubkey, tier.is_current()), (&other_pub, false)] {
                let o = tier
                    .cosign()
                    .args(["verify", "--key"])
                    .arg(key)
                    .arg("--trusted-root")
                    .arg(&root)
                    .args(["--insecure-ignore-tlog=true", "--allow-http-registry", &at])
                    .output()
                    .unwrap();
                assert_eq!(
                    o.status.success(),
                    ok,
                    "{} verify {at} with {}:\n{}",
                    tier.name(),
                    key.display(),
                    String::from_utf8_lossy(&o.stderr)
                );
            }
        }

        // oras lists the referrers of the index and of the platform manifest.
        for subject in [index, manifest] {
            let listed = tier.oras_discover(&["--plain-http", &format!("{repo}@{subject}")]);
            let mut got: Vec<String> = listed
                .iter()
                .map(|m| m["digest"].as_str().unwrap().to_owned())
                .collect();
            got.sort();
            let mut want: Vec<String> = referrers
                .iter()
                .filter(|(s, _)| s == subject)
                .map(|(_, d)| d.clone())
                .collect();
            want.sort();
            assert_eq!(got, want, "{} oras discover {subject}", tier.name());
        }
    }
}

/// With BuildKit: its own statements are kept as files, signed (the bundle's payload is their
/// exact bytes) and attached to their platform manifest with role `buildkit-attestation`,
/// next to our provenance and SBOM.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn buildkit_statements_are_signed_and_attached_to_their_manifest() {
    let peers = Peers::get();
    peers.require_docker();
    let (_tmp, out, _pubkey) = signed_build_with(Some(&peers), &["--builder", "buildx"], &[]);
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["builder"]["kind"], "buildx");
    let manifest = summary["platforms"][0]["manifest_digest"].as_str().unwrap();
    let bk: Vec<&Value> = summary["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["role"] == "buildkit-attestation")
        .collect();
    assert!(!bk.is_empty(), "no BuildKit attestation: {summary}");
    for a in bk {
        assert_eq!(a["signed"], true);
        let statement = std::fs::read(out.join(a["statement_file"].as_str().unwrap())).unwrap();
        let bundle = read_json(&out.join(a["bundle_file"].as_str().unwrap()));
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::STANDARD
            .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        assert_eq!(payload, statement);
        let refs = a["referrers"].as_array().unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0]["subject"], manifest);
        let d = refs[0]["manifest_digest"].as_str().unwrap();
        let m = read_json(
            &out.join("oci/blobs/sha256")
                .join(d.strip_prefix("sha256:").unwrap()),
        );
        assert_eq!(m["subject"]["digest"], manifest);
        assert_eq!(
            m["annotations"]["dev.cargo-provenance.role"],
            "buildkit-attestation"
        );
    }
}

/// `build --builder buildx --key --push`: BuildKit's statements are attached with the
/// subject BuildKit's attestation manifest names (Docker's BuildKit leaves it empty), so our
/// verify accepts the whole image, and cosign 3.1 verifies BuildKit's SLSA v0.2 provenance on
/// the platform manifest with our key.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn a_buildx_build_signed_with_a_key_verifies() {
    let peers = Peers::get();
    peers.require_docker();
    let repo = peers.unique_repo("release-buildx");
    let image = format!("{repo}:v1");
    let (tmp, out, pubkey) = signed_build_with(
        Some(&peers),
        &["--builder", "buildx"],
        &["--push", "--image", &image],
    );
    let summary = read_json(&out.join("summary.json"));
    let manifest = summary["platforms"][0]["manifest_digest"].as_str().unwrap();
    let report = support::cargo_provenance()
        .envs(peers.envs())
        .args(["verify", &image, "--require", "provenance,sbom", "--key"])
        .arg(&pubkey)
        .output()
        .unwrap();
    assert!(report.status.success(), "{report:?}");
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(text.contains("slsa.dev/provenance/v0.2"), "{text}");
    let root = support::empty_trusted_root(tmp.path());
    let o = Command::new(peers.cosign3())
        .args(["verify-attestation", "--key"])
        .arg(&pubkey)
        .args([
            "--type",
            "slsaprovenance02",
            "--new-bundle-format",
            "--trusted-root",
        ])
        .arg(&root)
        .args(["--insecure-ignore-tlog=true", "--allow-http-registry"])
        .arg(format!("{repo}@{manifest}"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "cosign 3.1: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `build --key --legacy-signature-tag --push`: every image digest also carries cosign 2.x's
/// `sha256-HEX.sig` tag. cosign 2.5 and 3.1 `verify` accept the image by index digest and by
/// platform digest with the key, and reject another key; our `verify` reports the legacy
/// signature; a second push onto a repository where another key already signed (cosign 2.5,
/// `.sig`) keeps both signatures.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn legacy_signature_tag_is_what_cosign_2_verifies() {
    let peers = Peers::get();
    let repo = peers.unique_repo("sig17-legacy");
    let image = format!("{repo}:v1");
    let (tmp, out, pubkey) = signed_build(&["--push", "--image", &image, "--legacy-signature-tag"]);
    let summary = read_json(&out.join("summary.json"));
    let index = summary["index_digest"].as_str().unwrap().to_owned();
    let manifest = summary["platforms"][0]["manifest_digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let legacy = summary["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["role"] == "legacy-image-signature")
        .unwrap_or_else(|| panic!("no legacy signature in {summary}"));
    let tags: Vec<&str> = legacy["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap())
        .collect();
    let tag_of = |d: &str| format!("sha256-{}.sig", d.strip_prefix("sha256:").unwrap());
    assert_eq!(tags, [tag_of(&index), tag_of(&manifest)]);

    let other = tempfile::tempdir().unwrap();
    let (other_key, other_pub) = support::keygen(other.path(), "other");
    for tier in peers.tiers() {
        for subject in [&index, &manifest] {
            let at = format!("{repo}@{subject}");
            for (key, ok) in [(&pubkey, true), (&other_pub, false)] {
                let o = legacy_verify(&tier, key, &at);
                assert_eq!(
                    o.status.success(),
                    ok,
                    "{} verify {at} with {}:\n{}",
                    tier.name(),
                    key.display(),
                    String::from_utf8_lossy(&o.stderr)
                );
                if ok {
                    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
                    assert_eq!(
                        v[0]["critical"]["image"]["docker-manifest-digest"],
                        **subject,
                        "{}",
                        tier.name()
                    );
                    assert_eq!(v[0]["critical"]["identity"]["docker-reference"], repo);
                }
            }
        }
    }

    // Our verify reports the legacy signature on both digests: with `--all-evidence` (by
    // default the tags are not read once the referrers verify the image).
    let report = support::cargo_provenance()
        .args(["verify", &format!("{repo}@{index}"), "--key"])
        .arg(&pubkey)
        .args(["--format", "json", "--all-evidence"])
        .output()
        .unwrap();
    assert!(report.status.success(), "{report:?}");
    let v: Value = serde_json::from_slice(&report.stdout).unwrap();
    for subject in [&index, &manifest] {
        let id = format!("{}#0", tag_of(subject));
        let passed = v["checks"].as_array().unwrap().iter().any(|c| {
            c["check"] == "cosign-signature" && c["attestation"] == id && c["status"] == "pass"
        });
        assert!(passed, "no passing cosign-signature for {id}: {v}");
    }

    // Another signer got there first (cosign 2.5 `sign` on a copy without our tags); our
    // push merges, as cosign appends: both keys verify.
    let repo2 = peers.unique_repo("sig17-legacy-merge");
    let o = Command::new(
        std::env::var_os("CRANE")
            .unwrap_or_else(|| peers.root.join("current/usr/bin/crane").into_os_string()),
    )
    .args([
        "copy",
        "--insecure",
        &format!("{repo}@{index}"),
        &format!("{repo2}:v1"),
    ])
    .output()
    .unwrap();
    assert!(o.status.success(), "crane copy: {o:?}");
    support::run(
        peers
            .cmd("cosign")
            .args(["sign", "--key"])
            .arg(&other_key)
            .args(["--tlog-upload=false", "--allow-http-registry", "-y"])
            .arg(format!("{repo2}@{index}"))
            .env("COSIGN_PASSWORD", "other"),
    );
    let src = format!("oci:{}:v1", out.join("oci").display());
    support::run(
        Command::new(assert_cmd::cargo::cargo_bin("cargo-provenance")).args([
            "push",
            &src,
            &format!("{repo2}:v1"),
        ]),
    );
    for tier in peers.tiers() {
        for key in [&pubkey, &other_pub] {
            let o = legacy_verify(&tier, key, &format!("{repo2}@{index}"));
            assert!(o.status.success(), "{}: {o:?}", tier.name());
        }
    }
    drop(tmp);
}

/// `cosign verify --key KEY AT` reading the legacy `.sig` tag alone: cosign 2.5 reads nothing
/// else; cosign 3.1 is told not to look for bundles (`--new-bundle-format=false`), so only the
/// `.sig` form can satisfy it.
fn legacy_verify(tier: &support::Tier, key: &Path, at: &str) -> std::process::Output {
    let mut c = tier.cosign();
    c.args(["verify", "--key"])
        .arg(key)
        .args(["--insecure-ignore-tlog", "--allow-http-registry"]);
    if tier.is_current() {
        c.arg("--new-bundle-format=false");
    }
    c.arg(at).output().unwrap()
}
