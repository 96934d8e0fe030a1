//! Interop with the real cosign 2.5 and sigstore-go: our bundles verify with cosign, cosign's
//! outputs verify with us, and keys made by either side work on the other.

use crate::support;
use crate::support::sign_fixture;

use std::path::{Path, PathBuf};
use std::process::Output;

use cargo_provenance::attest::RunEnvironment;
use cargo_provenance::formats::bundle::Bundle;
use cargo_provenance::formats::dsse::Envelope;
use cargo_provenance::formats::intoto::{STATEMENT_V01, Statement};
use cargo_provenance::keys::{FixedPassword, PublicKey, load_private_key};
use cargo_provenance::sign::write_attestations;
use cargo_provenance::sign::{KeySigner, verify_bundle, verify_envelope};
use support::{Peers, Tier, empty_trusted_root};

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `cargo provenance keygen` into `dir` with password `pw`.
fn our_keygen(dir: &Path) -> (PathBuf, PathBuf) {
    support::keygen(dir, "pw")
}

fn cosign_keygen(peers: &Peers, dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    support::run(
        peers
            .cmd("cosign")
            .current_dir(dir)
            .args(["generate-key-pair"])
            .env("COSIGN_PASSWORD", "theirs"),
    );
    (dir.join("cosign.key"), dir.join("cosign.pub"))
}

fn verify_blob_attestation(
    tier: &Tier,
    key: &Path,
    kind: &str,
    bundle: &Path,
    artifact: &Path,
    root: &Path,
) -> Output {
    tier.cosign()
        .args(["verify-blob-attestation", "--key"])
        .arg(key)
        .args(["--type", kind, "--bundle"])
        .arg(bundle)
        .args(["--new-bundle-format", "--trusted-root"])
        .arg(root)
        .arg("--insecure-ignore-tlog=true")
        .arg(artifact)
        .output()
        .unwrap()
}

/// `cosign attest-blob` of a CycloneDX `predicate` about `binary` into a bundle v0.3 at
/// `bundle`, with `key` (password `pw`) and no transparency log.
fn cosign_attest_sbom(tier: &Tier, key: &Path, predicate: &Path, bundle: &Path, binary: &Path) {
    let dir = bundle.parent().unwrap();
    support::run(
        tier.cosign()
            .args(["attest-blob", "--yes"])
            .args(tier.sign_flags(dir))
            .args(["--new-bundle-format", "--type", "cyclonedx", "--key"])
            .arg(key)
            .arg("--predicate")
            .arg(predicate)
            .arg("--bundle")
            .arg(bundle)
            .arg(binary)
            .env("COSIGN_PASSWORD", "pw"),
    );
}

fn sign_ours(key: &Path, password: &str, binary: &Path, out_dir: &Path) {
    let key = load_private_key(key, &FixedPassword(password.into()))
        .unwrap()
        .key;
    let input = sign_fixture::input(
        binary,
        sign_fixture::build_inputs(),
        RunEnvironment::detect_with(&|_| None),
    );
    let (prov, sbom) = sign_fixture::statements(&input);
    write_attestations(out_dir, &prov, Some(&sbom), Some(&KeySigner::new(key))).unwrap();
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn cosign_verifies_our_bundles_and_rejects_other_keys() {
    let peers = Peers::get();
    let tmp = tempfile::tempdir().unwrap();
    let root = empty_trusted_root(tmp.path());
    let binary = sign_fixture::fake_binary(tmp.path());
    let (key, public) = our_keygen(&tmp.path().join("ours"));
    let (_, their_public) = cosign_keygen(&peers, &tmp.path().join("theirs"));
    let out_dir = tmp.path().join("out");
    sign_ours(&key, "pw", &binary, &out_dir);
    let prov = out_dir.join("provenance.sigstore.json");
    let sbom = out_dir.join("sbom.sigstore.json");

    let other = tmp.path().join("other");
    std::fs::write(&other, b"not the binary").unwrap();
    for tier in peers.tiers() {
        let name = tier.name();
        for (kind, bundle) in [("slsaprovenance1", &prov), ("cyclonedx", &sbom)] {
            let ok = verify_blob_attestation(&tier, &public, kind, bundle, &binary, &root);
            assert!(
                ok.status.success(),
                "{name} rejected our {kind} bundle:\n{}",
                out(&ok)
            );
            let bad = verify_blob_attestation(&tier, &their_public, kind, bundle, &binary, &root);
            assert!(
                !bad.status.success(),
                "{name} accepted our {kind} bundle with another key"
            );
            // Note: cosign 2.5 does not compare `--type` with the predicate type for
            // `--new-bundle-format` bundles (it does for `--signature` envelopes), so a wrong
            // `--type` cannot be shown to fail here; our own verifier checks predicate types.
        }
        // Another artifact is not a subject.
        let bad = verify_blob_attestation(&tier, &public, "slsaprovenance1", &prov, &other, &root);
        assert!(
            !bad.status.success(),
            "{name} accepted a bundle for an artifact that is not a subject"
        );
    }
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn keys_interoperate_both_ways() {
    let peers = Peers::get();
    let tmp = tempfile::tempdir().unwrap();
    let root = empty_trusted_root(tmp.path());
    let binary = sign_fixture::fake_binary(tmp.path());
    let predicate = tmp.path().join("predicate.json");
    std::fs::write(&predicate, sign_fixture::SBOM).unwrap();

    let (our_key, our_pub) = our_keygen(&tmp.path().join("ours"));
    let (their_key, their_pub) = cosign_keygen(&peers, &tmp.path().join("theirs"));
    let out_dir = tmp.path().join("out");
    sign_ours(&their_key, "theirs", &binary, &out_dir);
    for tier in peers.tiers() {
        // cosign signs with a key made by `cargo provenance keygen`, and verifies it.
        let dir = tmp.path().join(format!("{:?}", tier.generation));
        std::fs::create_dir_all(&dir).unwrap();
        let bundle = dir.join("cosign-with-our-key.json");
        cosign_attest_sbom(&tier, &our_key, &predicate, &bundle, &binary);
        let ok = verify_blob_attestation(&tier, &our_pub, "cyclonedx", &bundle, &binary, &root);
        assert!(ok.status.success(), "{}: {}", tier.name(), out(&ok));
        let parsed = Bundle::parse(&std::fs::read(&bundle).unwrap(), "cosign bundle").unwrap();
        verify_bundle(&parsed, &PublicKey::read(&our_pub).unwrap()).unwrap();

        // We sign with a key made by `cosign generate-key-pair`; cosign verifies.
        let ok = verify_blob_attestation(
            &tier,
            &their_pub,
            "slsaprovenance1",
            &out_dir.join("provenance.sigstore.json"),
            &binary,
            &root,
        );
        assert!(ok.status.success(), "{}: {}", tier.name(), out(&ok));
    }

    // A wrong password for a cosign key says so.
    let e = load_private_key(&their_key, &FixedPassword("wrong".into())).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(
        e.to_string()
            .starts_with(&format!("wrong password for {}", their_key.display())),
        "{e}"
    );
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn we_read_cosign_attest_blob_outputs() {
    let peers = Peers::get();
    let tmp = tempfile::tempdir().unwrap();
    let binary = sign_fixture::fake_binary(tmp.path());
    let predicate = tmp.path().join("predicate.json");
    std::fs::write(&predicate, br#"{"buildDefinition":{"buildType":"x","externalParameters":{"a":1}},"runDetails":{"builder":{"id":"y"}}}"#).unwrap();
    let (key, public) = cosign_keygen(&peers, &tmp.path().join("theirs"));
    let public = PublicKey::read(&public).unwrap();
    let digest = cargo_provenance::util::digest::Digest::of(&std::fs::read(&binary).unwrap());
    for tier in peers.tiers() {
        let dir = tmp.path().join(format!("{:?}", tier.generation));
        std::fs::create_dir_all(&dir).unwrap();
        let attest = |extra: &[String]| {
            support::run(
                tier.cosign()
                    .args(["attest-blob", "--yes", "--type", "slsaprovenance1", "--key"])
                    .arg(&key)
                    .arg("--predicate")
                    .arg(&predicate)
                    .args(extra)
                    .arg(&binary)
                    .env("COSIGN_PASSWORD", "theirs")
                    .current_dir(&dir),
            )
        };
        let strings = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

        // The old format: a bare DSSE envelope (`--output-signature`). cosign 3.1 writes it
        // only with the bundle format and the signing config turned off, and then takes
        // `--tlog-upload=false`.
        let mut old = strings(&["--tlog-upload=false", "--output-signature", "old.sig"]);
        if tier.is_current() {
            old.extend(strings(&[
                "--new-bundle-format=false",
                "--use-signing-config=false",
            ]));
        }
        attest(&old);
        let env: Envelope =
            serde_json::from_slice(&std::fs::read(dir.join("old.sig")).unwrap()).unwrap();
        let payload = verify_envelope(&env, &public).unwrap().payload;
        let st = Statement::parse(&payload, "old.sig").unwrap();
        assert_eq!(st.type_, STATEMENT_V01, "{}", tier.name());
        assert_eq!(st.subject[0].sha256(), Some(digest));

        // The new bundle format.
        let mut new = tier.sign_flags(&dir);
        new.extend(strings(&["--new-bundle-format", "--bundle", "new.json"]));
        attest(&new);
        let b = Bundle::parse(&std::fs::read(dir.join("new.json")).unwrap(), "new.json").unwrap();
        assert_eq!(
            b.verification_material.public_key.as_ref().unwrap().hint,
            public.hint()
        );
        let st =
            Statement::parse(&verify_bundle(&b, &public).unwrap().payload, "new.json").unwrap();
        assert_eq!(st.predicate_type, "https://slsa.dev/provenance/v1");
        assert_eq!(st.subject[0].sha256(), Some(digest));

        // Any byte changed in the payload fails.
        let mut tampered = b.clone();
        tampered.dsse_envelope.as_mut().unwrap().payload[10] ^= 1;
        assert_eq!(
            verify_bundle(&tampered, &public).unwrap_err().exit_code(),
            1
        );
        let other = cargo_provenance::keys::PrivateKey::generate().public_key();
        assert!(verify_envelope(&env, &other).is_err());
    }
}

/// sigstore-go's example verifier (0.7, and 1.3 alike: its `-requireTimestamp=false` stops
/// at "you must specify at least one of WithObserverTimestamps() ..." because the example
/// never sets `WithNoObserverTimestamps`) always needs a certificate identity policy and a
/// verified timestamp (observer timestamps come only from tlog entries or RFC 3161
/// timestamps), so no offline key-signed bundle can pass it, cosign's own included. What it
/// shows: our bundle loads and validates as a v0.3 bundle and fails at exactly the point
/// cosign's bundle fails, while a malformed bundle fails earlier.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn sigstore_go_treats_our_bundle_like_cosigns() {
    let peers = Peers::get();
    let tmp = tempfile::tempdir().unwrap();
    let root = empty_trusted_root(tmp.path());
    let binary = sign_fixture::fake_binary(tmp.path());
    let (key, public) = our_keygen(&tmp.path().join("ours"));
    let out_dir = tmp.path().join("out");
    sign_ours(&key, "pw", &binary, &out_dir);
    let predicate = tmp.path().join("predicate.json");
    std::fs::write(&predicate, sign_fixture::SBOM).unwrap();
    let malformed = tmp.path().join("malformed.json");
    std::fs::write(&malformed, br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{},"dsseEnvelope":{}}"#).unwrap();
    // sigstore-go 0.7 beside cosign 2.5; sigstore-go 1.3 beside cosign 3.1 (each compared
    // with the bundle its cosign generation writes).
    let verifiers = [
        PathBuf::from("sigstore-go-verification"),
        peers.sigstore_go_verify13(),
    ];
    for (tier, verifier) in peers.tiers().into_iter().zip(verifiers) {
        let cosigns = tmp
            .path()
            .join(format!("cosign-{:?}.json", tier.generation));
        cosign_attest_sbom(&tier, &key, &predicate, &cosigns, &binary);
        let run = |bundle: &Path| {
            let o = peers
                .cmd(verifier.to_str().unwrap())
                .arg("-publicKey")
                .arg(&public)
                .arg("-artifact")
                .arg(&binary)
                .arg("-trustedrootJSONpath")
                .arg(&root)
                .args([
                    "-requireTlog=false",
                    "-requireCTlog=false",
                    "-expectedSANRegex",
                    ".*",
                    "-expectedIssuerRegex",
                    ".*",
                ])
                .arg("-minBundleVersion=0.3")
                .arg(bundle)
                .output()
                .unwrap();
            out(&o)
        };
        let ours = run(&out_dir.join("provenance.sigstore.json"));
        let theirs = run(&cosigns);
        let bad = run(&malformed);
        let v = verifier.display();
        println!("{v} on our bundle: {ours}");
        println!("{v} on {}'s bundle: {theirs}", tier.name());
        println!("{v} on a malformed bundle: {bad}");
        assert!(
            ours.contains(
                "threshold not met for verified signed & log entry integrated timestamps"
            ),
            "{v}: {ours}"
        );
        assert_eq!(ours, theirs, "{v}");
        assert_ne!(bad, ours, "{v}");
    }
}
