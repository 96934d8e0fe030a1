//! `cargo provenance build` end to end without peers: the native builder, the SBOM, the
//! signed provenance, the referrers in the layout, reproducibility, the signing choices and
//! their errors, and the secrets canary. Peer tests (cosign, the registry, oras) are in
//! `tests/it/release_peers.rs`.

use crate::support;
use crate::support::{blob, read_json};

use std::path::{Path, PathBuf};

use serde_json::Value;

const PASSWORD: &str = "release-test-pw";

/// Makes a key pair with `keygen` in `dir` (password `password`); returns the key's path.
fn keygen(dir: &Path, password: &str) -> PathBuf {
    support::keygen(dir, password).0
}

/// `build` on the example in `repo`, with the shared example target directory.
fn build_cmd(repo: &Path, out: &Path) -> assert_cmd::Command {
    let mut c = support::cargo_provenance();
    c.current_dir(repo)
        .env("CARGO_TARGET_DIR", support::example_target_dir())
        .env_remove("BUILDKIT_HOST")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("COSIGN_PASSWORD")
        .args(["build", "--builder", "native", "--offline", "--output-dir"])
        .arg(out);
    c
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The referrer manifests listed in the layout's index.json: (digest, manifest).
fn layout_referrers(layout: &Path) -> Vec<(String, Value)> {
    let top = read_json(&layout.join("index.json"));
    top["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| {
            let digest = d["digest"].as_str().unwrap().to_owned();
            let m: Value = serde_json::from_slice(&blob(layout, &digest)).ok()?;
            m.get("subject")?;
            Some((digest, m))
        })
        .collect()
}

/// `--key`: every file of the output layout is written; the provenance and SBOM bundles are
/// referrers of the index and of each platform manifest in the layout's index.json, as
/// summary.json lists them.
#[test]
fn signed_build_writes_statements_bundles_and_referrers() {
    let (tmp, repo) = support::example_repo("hello-service");
    let key = keygen(&tmp.path().join("keys"), PASSWORD);
    let out = tmp.path().join("out");
    let o = build_cmd(&repo, &out)
        .env("COSIGN_PASSWORD", PASSWORD)
        .arg("--key")
        .arg(&key)
        .args(["--image", "hello-service:v1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "build failed:\n{}", stderr(&o));
    let err = stderr(&o);
    for stage in ["   Attesting", "     Signing", "   Attaching"] {
        assert!(err.contains(stage), "no `{stage}` line in:\n{err}");
    }
    assert!(!err.contains("nothing is signed"), "{err}");
    for f in [
        "oci/index.json",
        "sbom.cdx.json",
        "provenance.intoto.json",
        "provenance.sigstore.json",
        "sbom.sigstore.json",
        "summary.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let summary = read_json(&out.join("summary.json"));
    let index_digest = summary["index_digest"].as_str().unwrap().to_owned();
    let manifest_digest = summary["platforms"][0]["manifest_digest"]
        .as_str()
        .unwrap()
        .to_owned();

    // The SBOM is about the image.
    let sbom = read_json(&out.join("sbom.cdx.json"));
    assert_eq!(sbom["specVersion"], "1.5");
    let purl = sbom["metadata"]["component"]["purl"].as_str().unwrap();
    assert!(
        purl.starts_with("pkg:oci/hello-service@sha256%3A")
            && purl.contains(index_digest.strip_prefix("sha256:").unwrap()),
        "{purl}"
    );
    // The provenance names the image, its manifest and the binary, and the SBOM's digest.
    let prov = read_json(&out.join("provenance.intoto.json"));
    let subjects: Vec<&str> = prov["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["digest"]["sha256"].as_str().unwrap())
        .collect();
    assert!(subjects.contains(&index_digest.strip_prefix("sha256:").unwrap()));
    assert!(subjects.contains(&manifest_digest.strip_prefix("sha256:").unwrap()));
    let sbom_hex = hex_sha256(&std::fs::read(out.join("sbom.cdx.json")).unwrap());
    assert_eq!(
        prov["predicate"]["runDetails"]["byproducts"][0]["digest"]["sha256"],
        sbom_hex.as_str()
    );
    let deps = prov["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    for c in ["pkg:cargo/serde_json@", "pkg:cargo/itoa@"] {
        assert!(
            deps.iter()
                .any(|d| d["uri"].as_str().unwrap_or("").starts_with(c)),
            "{c} not in resolvedDependencies"
        );
    }
    // The bundle signs exactly provenance.intoto.json.
    let bundle = read_json(&out.join("provenance.sigstore.json"));
    let payload = base64_decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap());
    assert_eq!(
        payload,
        std::fs::read(out.join("provenance.intoto.json")).unwrap()
    );

    // Referrers in the layout: provenance, SBOM and the image signature, each on the index
    // and the manifest.
    let layout = out.join("oci");
    let refs = layout_referrers(&layout);
    assert_eq!(refs.len(), 6, "{refs:?}");
    let signatures: Vec<_> = refs
        .iter()
        .filter(|(_, m)| m["annotations"]["dev.cargo-provenance.role"] == "image-signature")
        .collect();
    assert_eq!(signatures.len(), 2, "one image signature per digest");
    for (_, m) in &signatures {
        assert_eq!(
            m["annotations"]["dev.sigstore.bundle.predicateType"],
            "https://sigstore.dev/cosign/sign/v1"
        );
    }
    for pt in [
        "https://slsa.dev/provenance/v1",
        "https://cyclonedx.org/bom",
    ] {
        let mut subjects: Vec<&str> = refs
            .iter()
            .filter(|(_, m)| m["annotations"]["dev.sigstore.bundle.predicateType"] == pt)
            .map(|(_, m)| m["subject"]["digest"].as_str().unwrap())
            .collect();
        subjects.sort();
        let mut want = vec![index_digest.as_str(), manifest_digest.as_str()];
        want.sort();
        assert_eq!(subjects, want, "{pt}");
    }
    for (_, m) in &refs {
        assert_eq!(
            m["artifactType"],
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        let signature = m["annotations"]["dev.sigstore.bundle.predicateType"]
            == "https://sigstore.dev/cosign/sign/v1";
        assert_eq!(
            m["annotations"]["dev.cargo-provenance.role"],
            if signature {
                "image-signature"
            } else {
                "image-attestation"
            }
        );
        assert_eq!(
            m["annotations"]["org.opencontainers.image.created"],
            "2024-01-02T03:04:05Z"
        );
    }
    // summary.json lists the same referrer manifests.
    let mut listed: Vec<String> = summary["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["referrers"].as_array().unwrap().clone())
        .map(|r| r["manifest_digest"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    let mut have: Vec<String> = refs.iter().map(|(d, _)| d.clone()).collect();
    have.sort();
    assert_eq!(listed, have);
    let a = &summary["attestations"][0];
    assert_eq!(a["predicate_type"], "https://slsa.dev/provenance/v1");
    assert_eq!(a["role"], "image-attestation");
    assert_eq!(a["statement_file"], "provenance.intoto.json");
    assert_eq!(a["bundle_file"], "provenance.sigstore.json");
    assert_eq!(
        summary["attestations"][1]["bundle_file"],
        "sbom.sigstore.json"
    );

    // `verify` accepts the output: signatures, subjects, source, both attestations and the
    // image signature.
    let commit = support::git(&repo, &["rev-parse", "HEAD"]);
    let layout_ref = format!("oci:{}:v1", layout.display());
    let o = support::cargo_provenance()
        .args(["verify", &layout_ref, "--key"])
        .arg(key.with_extension("pub"))
        .args([
            "--require",
            "signature,provenance,sbom",
            "--source-repo",
            "https://github.com/example/hello-service",
            "--source-commit",
            commit.trim(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "verify:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    // ... and fails closed with another key.
    let other = keygen(&tmp.path().join("other"), PASSWORD);
    let o = support::cargo_provenance()
        .args(["verify", &layout_ref, "--key"])
        .arg(other.with_extension("pub"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

/// `--reproducible` twice in two directories, two platforms: byte-identical provenance,
/// bundles, referrer manifests and summary digests.
#[test]
fn reproducible_builds_give_identical_provenance_and_referrers() {
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path(), PASSWORD);
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (tmp, repo) = support::example_repo("hello-service");
        let out = tmp.path().join("out");
        let o = build_cmd(&repo, &out)
            .env("COSIGN_PASSWORD", PASSWORD)
            .arg("--key")
            .arg(&key)
            .args([
                "--reproducible",
                "-q",
                "--platform",
                "linux/amd64,linux/amd64/v3",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "build failed:\n{}", stderr(&o));
        runs.push((tmp, out));
    }
    let (a, b) = (&runs[0].1, &runs[1].1);
    for f in [
        "provenance.intoto.json",
        "provenance.sigstore.json",
        "sbom.sigstore.json",
        "sbom.cdx.json",
        "oci/index.json",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between the two builds"
        );
    }
    let ra = layout_referrers(&a.join("oci"));
    let rb = layout_referrers(&b.join("oci"));
    // Provenance, SBOM and the image signature (deterministic ECDSA, RFC 6979), each on the
    // index and both platform manifests.
    assert_eq!(ra.len(), 9);
    for ((da, _), (db, _)) in ra.iter().zip(&rb) {
        assert_eq!(da, db);
        assert_eq!(blob(&a.join("oci"), da), blob(&b.join("oci"), db));
    }
    let sa = read_json(&a.join("summary.json"));
    let sb = read_json(&b.join("summary.json"));
    assert_eq!(sa["index_digest"], sb["index_digest"]);
    assert_eq!(sa["attestations"], sb["attestations"]);
    let prov = read_json(&a.join("provenance.intoto.json"));
    assert!(
        prov["predicate"]["runDetails"]["metadata"]
            .get("invocationId")
            .is_none()
    );
}

/// `build` with a key and the wrong password (plus `extra` arguments): asserts exit 2, an
/// error about the password and no output directory; returns stderr.
fn build_with_wrong_password(extra: &[&str]) -> String {
    let (tmp, repo) = support::example_repo("hello-service");
    let key = keygen(&tmp.path().join("keys"), PASSWORD);
    let out = tmp.path().join("out");
    let o = build_cmd(&repo, &out)
        .env("COSIGN_PASSWORD", "not-the-password")
        .arg("--key")
        .arg(&key)
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.to_lowercase().contains("password"), "{err}");
    assert!(err.contains("wrong") || err.contains("incorrect"), "{err}");
    assert!(!out.exists(), "the output directory was created");
    err
}

/// A wrong key password fails before anything is built: exit 2, the message says the password
/// is wrong, and the output directory is not even created.
#[test]
fn wrong_password_fails_first_and_writes_nothing() {
    let err = build_with_wrong_password(&[]);
    assert!(
        !err.contains("Compiling"),
        "built before checking the key:\n{err}"
    );
}

/// A wrong password is reported even when the build fails before it would check the key (a
/// missing manifest): the key comes first, and nothing is written.
#[test]
fn a_key_error_comes_before_a_project_error() {
    build_with_wrong_password(&["--manifest-path", "no/such/Cargo.toml"]);
}

/// `--keyless` without an identity token (no `--identity-token`, no `SIGSTORE_ID_TOKEN`, not
/// in GitHub Actions) is refused (exit 2) before building, saying where a token comes from.
#[test]
fn keyless_without_a_token_is_refused_before_building() {
    let (tmp, repo) = support::example_repo("hello-service");
    let out = tmp.path().join("out");
    let o = build_cmd(&repo, &out)
        .arg("--keyless")
        .env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("--keyless needs an OIDC identity token") && err.contains("SIGSTORE_ID_TOKEN"),
        "{err}"
    );
    assert!(!out.exists());
}

/// `--legacy-signature-tag` signs with the key: without `--key` it is a usage error (exit 2)
/// naming `--key`, before building.
#[test]
fn legacy_signature_tag_needs_a_key() {
    let (tmp, repo) = support::example_repo("hello-service");
    let out = tmp.path().join("out");
    let o = build_cmd(&repo, &out)
        .arg("--legacy-signature-tag")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--key"), "{}", stderr(&o));
    assert!(!out.exists());
}

/// Without --key: a warning, unsigned statements only, no bundle, no referrer; the JSON
/// message format ends with the summary.
#[test]
fn without_a_key_statements_are_unsigned_and_nothing_is_attached() {
    let (tmp, repo) = support::example_repo("hello-service");
    let out = tmp.path().join("out");
    // A stale bundle from an earlier signed run is removed.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("provenance.sigstore.json"), "{}").unwrap();
    let o = build_cmd(&repo, &out)
        .args(["--message-format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["reason"] == "warning"
            && l["message"].as_str().unwrap().contains("nothing is signed")),
        "{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["reason"] == "stage" && l["stage"] == "attesting")
    );
    let last = lines.last().unwrap();
    assert_eq!(last["reason"], "build-finished");
    assert_eq!(last["signed"], false);
    assert!(out.join("provenance.intoto.json").is_file());
    assert!(out.join("sbom.cdx.json").is_file());
    assert!(!out.join("provenance.sigstore.json").exists());
    assert!(!out.join("sbom.sigstore.json").exists());
    assert!(layout_referrers(&out.join("oci")).is_empty());
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(last["summary"], summary);
    for a in summary["attestations"].as_array().unwrap() {
        assert_eq!(a["signed"], false);
        assert!(a["referrers"].as_array().unwrap().is_empty());
    }
}

/// Canary secrets in the git remote, the environment and the key password appear in no
/// output file (recursively, blobs included, gzip layers decompressed) and not on
/// stdout/stderr.
#[test]
fn no_secret_reaches_any_build_output() {
    const CANARIES: &[&str] = &[
        "canary-token-123",
        "canary-env-456",
        "canary-pass-789",
        "canary-cosign-321",
    ];
    let (tmp, repo) = support::example_repo("hello-service");
    support::git(
        &repo,
        &[
            "remote",
            "set-url",
            "origin",
            "https://user:canary-token-123@github.com/x/y",
        ],
    );
    let key = keygen(&tmp.path().join("keys"), "canary-cosign-321");
    let out = tmp.path().join("out");
    let o = build_cmd(&repo, &out)
        .env("MY_TOKEN", "canary-env-456")
        .env("REGISTRY_PASSWORD", "canary-pass-789")
        .env("COSIGN_PASSWORD", "canary-cosign-321")
        .arg("--key")
        .arg(&key)
        .arg("-v")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mut texts = vec![
        ("stdout".to_owned(), o.stdout.clone()),
        ("stderr".to_owned(), o.stderr.clone()),
    ];
    let mut files = 0;
    collect_files(&out, &mut |p| {
        files += 1;
        let bytes = std::fs::read(p).unwrap();
        let mut d = flate2::read::GzDecoder::new(bytes.as_slice());
        let mut plain = Vec::new();
        if std::io::Read::read_to_end(&mut d, &mut plain).is_ok() && !plain.is_empty() {
            texts.push((format!("{} (gunzipped)", p.display()), plain));
        }
        // Bundles: the base64 payload too.
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes)
            && let Some(pl) = v["dsseEnvelope"]["payload"].as_str()
        {
            texts.push((format!("{} (payload)", p.display()), base64_decode(pl)));
        }
        texts.push((p.display().to_string(), bytes));
    });
    assert!(files > 10, "only {files} files");
    for (name, bytes) in &texts {
        for c in CANARIES {
            assert!(
                !bytes.windows(c.len()).any(|w| w == c.as_bytes()),
                "{c} leaked into {name}"
            );
        }
    }
    // The remote is still recorded, without its credentials.
    let prov = std::fs::read_to_string(out.join("provenance.intoto.json")).unwrap();
    assert!(prov.contains("github.com/x/y"), "{prov}");
}

fn collect_files(dir: &Path, f: &mut dyn FnMut(&Path)) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect_files(&p, f);
        } else {
            f(&p);
        }
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// A workspace whose image ships two packages' binaries: one SBOM for both, signed and
/// attached like any other.
#[test]
fn workspace_image_gets_one_sbom_of_every_shipped_binary() {
    let (tmp, repo) = support::example_repo("workspace-app");
    let key = keygen(&tmp.path().join("keys"), PASSWORD);
    let out = tmp.path().join("out");
    let o = build_cmd(&repo, &out)
        .env("COSIGN_PASSWORD", PASSWORD)
        .arg("--key")
        .arg(&key)
        .arg("-q")
        .output()
        .unwrap();
    assert!(o.status.success(), "build failed:\n{}", stderr(&o));
    let sbom = read_json(&out.join("sbom.cdx.json"));
    let apps: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "application")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for bin in ["app-server", "app-admin"] {
        assert!(
            apps.iter().any(|a| a.contains(bin)),
            "{bin} not in {apps:?}"
        );
    }
    let summary = read_json(&out.join("summary.json"));
    for a in summary["attestations"].as_array().unwrap() {
        assert_eq!(a["signed"], true);
        assert_eq!(a["referrers"].as_array().unwrap().len(), 2);
    }
}
