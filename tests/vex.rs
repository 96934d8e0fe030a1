//! `cargo provenance vex`: the OpenVEX document validates against the official schema
//! (../shared/schemas/openvex) for every status; bad input is exit 2 with the allowed values.

mod oci_support;
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use cargo_provenance::formats::oci::Descriptor;
use cargo_provenance::formats::oci::Platform;
use cargo_provenance::formats::openvex::{Justification, Status};
use cargo_provenance::oci::layout::Layout;
use cargo_provenance::oci::reference::Reference;
use cargo_provenance::oci::registry::Options;
use cargo_provenance::oci::store::Store;
use cargo_provenance::publish::{self, ANNOTATION_ROLE, BundleInfo, Role};
use cargo_provenance::util::digest::Digest;
use cargo_provenance::vex::{ImageProduct, VexInput, document};
use serde_json::{Value, json};
use support::Peers;

fn openvex_validator() -> jsonschema::Validator {
    let path = support::shared_dir().join("schemas/openvex/openvex_json_schema.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn images() -> Vec<ImageProduct> {
    vec![
        ImageProduct {
            repository: "127.0.0.1:5000/team/app".into(),
            digest: Digest::of(b"index"),
            platform: None,
        },
        ImageProduct {
            repository: "127.0.0.1:5000/team/app".into(),
            digest: Digest::of(b"amd64"),
            platform: Some(Platform {
                architecture: "amd64".into(),
                os: "linux".into(),
                os_version: None,
                variant: None,
            }),
        },
    ]
}

fn input(status: Status) -> VexInput {
    VexInput {
        vulnerability: "RUSTSEC-2020-0071".into(),
        status,
        justification: (status == Status::NotAffected)
            .then_some(Justification::VulnerableCodeNotInExecutePath),
        impact_statement: None,
        action_statement: (status == Status::Affected).then(|| "upgrade to 1.2.3".into()),
        subcomponents: vec!["pkg:cargo/time@0.1.45".into()],
        author: "Release team".into(),
    }
}

#[test]
fn documents_validate_against_the_openvex_schema() {
    let v = openvex_validator();
    for status in Status::ALL {
        let doc = document(&input(*status), &images(), "2024-01-02T03:04:05Z").unwrap();
        let value = serde_json::to_value(&doc).unwrap();
        let errs = errors(&v, &value);
        assert!(errs.is_empty(), "{status}: {errs:#?}\n{value:#}");
        assert_eq!(value["@context"], "https://openvex.dev/ns/v0.2.0");
        assert_eq!(value["version"], 1);
        let product = &value["statements"][0]["products"][0];
        assert!(
            product["@id"]
                .as_str()
                .unwrap()
                .starts_with("pkg:oci/app@sha256%3A")
        );
        assert_eq!(
            product["subcomponents"][0]["identifiers"]["purl"],
            "pkg:cargo/time@0.1.45"
        );
    }
    // With every optional flag, and with no subcomponents.
    let mut i = input(Status::NotAffected);
    i.impact_statement = Some("the vulnerable API is never called".into());
    i.action_statement = Some("none needed".into());
    i.subcomponents.clear();
    let doc =
        serde_json::to_value(document(&i, &images(), "2024-01-02T03:04:05Z").unwrap()).unwrap();
    assert!(errors(&v, &doc).is_empty(), "{:#?}", errors(&v, &doc));
    assert!(
        doc["statements"][0]["products"][0]
            .get("subcomponents")
            .is_none()
    );
}

#[test]
fn the_schema_check_bites() {
    let v = openvex_validator();
    let good = serde_json::to_value(
        document(
            &input(Status::NotAffected),
            &images(),
            "2024-01-02T03:04:05Z",
        )
        .unwrap(),
    )
    .unwrap();
    let mut no_justification = good.clone();
    no_justification["statements"][0]
        .as_object_mut()
        .unwrap()
        .remove("justification");
    assert!(!errors(&v, &no_justification).is_empty());
    let mut bad_status = good.clone();
    bad_status["statements"][0]["status"] = json!("unaffected");
    assert!(!errors(&v, &bad_status).is_empty());
    let mut bad_time = good.clone();
    bad_time["timestamp"] = json!("yesterday");
    assert!(!errors(&v, &bad_time).is_empty());
    let mut extra = good;
    extra["note"] = json!("x");
    assert!(!errors(&v, &extra).is_empty());
}

/// Runs `vex ARGS` expecting exit 2 with `needle` in stderr.
fn vex_fails(args: &[&str], needle: &str) {
    let out = support::cargo_provenance()
        .arg("vex")
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in:\n{err}"
    );
}

#[test]
fn bad_input_is_exit_2_with_the_allowed_values() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cosign.key");
    std::fs::write(&key, "not a key").unwrap();
    let key = key.to_str().unwrap();
    let base = [
        "oci:/nonexistent/layout:v1",
        "--vulnerability",
        "CVE-2024-1",
        "--key",
        key,
    ];
    let with = |extra: &[&'static str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let run = |args: Vec<String>, needle: &str| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        vex_fails(&a, needle);
    };
    run(
        with(&["--status", "unaffected"]),
        "not_affected, affected, fixed, under_investigation",
    );
    run(
        with(&["--status", "not_affected"]),
        "vulnerable_code_not_in_execute_path",
    );
    run(
        with(&["--status", "not_affected", "--justification", "because"]),
        "component_not_present, vulnerable_code_not_present",
    );
    run(
        with(&[
            "--status",
            "fixed",
            "--justification",
            "component_not_present",
        ]),
        "only goes with --status not_affected",
    );
    run(with(&["--status", "affected"]), "--action-statement");
    run(
        with(&["--status", "fixed", "--product", "time@0.3"]),
        "not a package URL",
    );
}

const VEX: &str = "https://openvex.dev/ns/v0.2.0";
const PASSWORD: &str = "vex-test-password";

/// A cosign key pair made by `cargo provenance keygen` in `dir`: (cosign.key, cosign.pub).
fn keygen(dir: &Path) -> (PathBuf, PathBuf) {
    support::cargo_provenance()
        .args(["keygen", "--output-dir", dir.to_str().unwrap()])
        .env("COSIGN_PASSWORD", PASSWORD)
        .assert()
        .success();
    (dir.join("cosign.key"), dir.join("cosign.pub"))
}

/// A two-platform image in a new layout, tagged `v1`, with an earlier (SLSA) referrer on
/// every subject.
struct Fixture {
    _dir: tempfile::TempDir,
    layout: Layout,
    index: Descriptor,
    platforms: Vec<Descriptor>,
}

fn fixture(seed: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(&dir.path().join("app")).unwrap();
    let (index, platforms) =
        oci_support::make_image(&layout, "v1", &["linux/amd64", "linux/arm64/v8"], seed);
    let store = Store::Layout(layout.clone());
    let subjects = publish::image_subjects(&store, &index, "app").unwrap();
    let names: Vec<_> = subjects
        .iter()
        .map(|s| (s.name.clone(), s.descriptor.digest))
        .collect();
    let bundle = oci_support::Signer::new().bundle(
        &names,
        "https://slsa.dev/provenance/v1",
        serde_json::json!({"buildDefinition": {"buildType": "https://example.com/t"}}),
    );
    let info = BundleInfo {
        bundle_json: &bundle,
        predicate_type: "https://slsa.dev/provenance/v1",
        role: Role::ImageAttestation,
        created: "2024-01-02T03:04:05Z",
    };
    publish::attach_to_image(&store, &index, "app", &info).unwrap();
    Fixture {
        _dir: dir,
        layout,
        index,
        platforms,
    }
}

impl Fixture {
    fn layout_ref(&self) -> String {
        format!("oci:{}:v1", self.layout.root().display())
    }
}

fn vex_cmd(reference: &str, key: &Path, vuln: &str) -> assert_cmd::Command {
    let mut c = support::cargo_provenance();
    c.args([
        "vex",
        reference,
        "--vulnerability",
        vuln,
        "--status",
        "not_affected",
        "--justification",
        "vulnerable_code_not_in_execute_path",
        "--impact-statement",
        "the vulnerable function is never called",
        "--product",
        "pkg:cargo/time@0.1.45",
        "--key",
        key.to_str().unwrap(),
    ])
    .env("COSIGN_PASSWORD", PASSWORD)
    .env("SOURCE_DATE_EPOCH", "1704164645");
    c
}

/// Referrers of `subject`, by digest, with their role.
fn referrers(store: &Store, subject: &Descriptor) -> BTreeSet<(String, String)> {
    store
        .referrers(&subject.digest)
        .unwrap()
        .into_iter()
        .map(|d| {
            let role = d
                .annotations
                .get(ANNOTATION_ROLE)
                .cloned()
                .unwrap_or_default();
            (d.digest.to_string(), role)
        })
        .collect()
}

fn vex_count(set: &BTreeSet<(String, String)>) -> usize {
    set.iter().filter(|(_, r)| r == "vex").count()
}

#[test]
fn vex_in_a_layout_is_signed_and_attached_to_every_subject() {
    let f = fixture("layout");
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keygen(keys.path());
    let store = Store::Layout(f.layout.clone());
    let subjects: Vec<Descriptor> = std::iter::once(f.index.clone())
        .chain(f.platforms.iter().cloned())
        .collect();
    let before: Vec<_> = subjects.iter().map(|s| referrers(&store, s)).collect();
    let bundle_file = keys.path().join("vex.sigstore.json");
    let out = vex_cmd(&f.layout_ref(), &key, "CVE-2024-0001")
        .args(["--output", bundle_file.to_str().unwrap()])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains(&f.index.digest.to_string()), "{stdout}");
    for (s, b) in subjects.iter().zip(&before) {
        let after = referrers(&store, s);
        assert!(b.is_subset(&after), "earlier referrers are kept");
        assert_eq!(after.len(), b.len() + 1);
        assert_eq!(vex_count(&after), 1);
    }
    assert_eq!(
        f.layout.resolve_tag("v1").unwrap().digest,
        f.index.digest,
        "the tag still names the same index"
    );
    // The bundle verifies with the public key; its statement is about the image's digests
    // and its predicate is a schema-valid OpenVEX document.
    let bundle: cargo_provenance::formats::bundle::Bundle =
        serde_json::from_slice(&std::fs::read(&bundle_file).unwrap()).unwrap();
    let pubkey = cargo_provenance::keys::PublicKey::read(&public).unwrap();
    let verified = cargo_provenance::sign::verify_bundle(&bundle, &pubkey).unwrap();
    let statement: Value = serde_json::from_slice(&verified.payload).unwrap();
    assert_eq!(statement["predicateType"], VEX);
    let subject_digests: BTreeSet<String> = statement["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("sha256:{}", s["digest"]["sha256"].as_str().unwrap()))
        .collect();
    let want: BTreeSet<String> = subjects.iter().map(|s| s.digest.to_string()).collect();
    assert_eq!(subject_digests, want);
    let errs = errors(&openvex_validator(), &statement["predicate"]);
    assert!(errs.is_empty(), "{errs:#?}");
    assert_eq!(statement["predicate"]["timestamp"], "2024-01-02T03:04:05Z");
    // Another key does not verify it.
    let other = cargo_provenance::keys::PrivateKey::generate().public_key();
    assert!(cargo_provenance::sign::verify_bundle(&bundle, &other).is_err());
    // Re-running the same statement adds nothing.
    vex_cmd(&f.layout_ref(), &key, "CVE-2024-0001")
        .assert()
        .success();
    assert_eq!(vex_count(&referrers(&store, &f.index)), 1);
}

#[test]
fn an_unresolvable_layout_ref_is_exit_2_with_the_cause() {
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = keygen(keys.path());
    let f = fixture("missing-tag");
    let missing_tag = format!("oci:{}:v2", f.layout.root().display());
    let missing_dir = format!("oci:{}/nowhere:v1", keys.path().display());
    for (reference, cause) in [
        (missing_tag.as_str(), "v2"),
        (missing_dir.as_str(), "nowhere"),
    ] {
        let out = vex_cmd(reference, &key, "CVE-2024-0002").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("does not resolve"), "{err}");
        assert!(err.contains(cause), "{err}");
    }
}

/// Pushes the fixture to a fresh repository of the peers' registry; returns `REG/REPO:v1`.
fn push(peers: &Peers, f: &Fixture, prefix: &str) -> String {
    let dest = format!("{}:v1", peers.unique_repo(prefix));
    support::cargo_provenance()
        .args(["push", &f.layout_ref(), &dest])
        .assert()
        .success();
    dest
}

fn registry_store(reference: &str) -> Store {
    Store::open(
        &Reference::parse(reference).unwrap(),
        &Options::default(),
        false,
    )
    .unwrap()
}

fn cosign_verify(
    peers: &Peers,
    reference: &str,
    public: &Path,
    root: &Path,
) -> std::process::Output {
    peers
        .cmd("cosign")
        .args([
            "verify-attestation",
            "--type",
            VEX,
            "--key",
            public.to_str().unwrap(),
            "--new-bundle-format",
            "--trusted-root",
            root.to_str().unwrap(),
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
            reference,
        ])
        .output()
        .unwrap()
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn cosign_verifies_the_vex_from_the_registry_and_the_image_is_unchanged() {
    let peers = Peers::get();
    let f = fixture("cosign");
    let dest = push(&peers, &f, "vex-cosign");
    let repo = dest.trim_end_matches(":v1").to_owned();
    let store = registry_store(&dest);
    let reference = Reference::parse(&dest).unwrap();
    let index_before = store.resolve(&reference).unwrap();
    assert_eq!(index_before.digest, f.index.digest);
    let (index_bytes, _) = store.get_manifest(&f.index.digest).unwrap();
    let subjects: Vec<Descriptor> = std::iter::once(f.index.clone())
        .chain(f.platforms.iter().cloned())
        .collect();
    let before: Vec<_> = subjects.iter().map(|s| referrers(&store, s)).collect();
    assert!(before.iter().all(|b| b.len() == 1), "{before:?}");

    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keygen(keys.path());
    vex_cmd(&dest, &key, "CVE-2024-1000").assert().success();

    // Tag, index digest and bytes unchanged; earlier referrers kept; one VEX per subject.
    assert_eq!(store.resolve(&reference).unwrap().digest, f.index.digest);
    assert_eq!(store.get_manifest(&f.index.digest).unwrap().0, index_bytes);
    for (s, b) in subjects.iter().zip(&before) {
        let after = referrers(&store, s);
        assert!(b.is_subset(&after), "{b:?} not in {after:?}");
        assert_eq!(vex_count(&after), 1, "{after:?}");
    }

    let root = support::empty_trusted_root(keys.path());
    for s in &subjects {
        let r = format!("{repo}@{}", s.digest);
        let out = cosign_verify(&peers, &r, &public, &root);
        assert!(
            out.status.success(),
            "cosign verify-attestation {r}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap()
            .to_owned();
        let v: Value = serde_json::from_str(&line).unwrap();
        let payload = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            v["payload"].as_str().unwrap(),
        )
        .unwrap();
        let st: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(st["predicateType"], VEX);
        assert_eq!(st["predicate"]["statements"][0]["status"], "not_affected");
    }
    // Another key: cosign refuses.
    let other = tempfile::tempdir().unwrap();
    let (_, other_pub) = keygen(other.path());
    let out = cosign_verify(
        &peers,
        &format!("{repo}@{}", f.index.digest),
        &other_pub,
        &root,
    );
    assert!(!out.status.success(), "cosign accepted another key");

    // discover shows it.
    let out = support::cargo_provenance()
        .args(["discover", "--format", "json", &dest])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains(VEX) && text.contains("\"vex\""), "{text}");
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn eight_concurrent_vex_runs_leave_eight_referrers() {
    let peers = Peers::get();
    let f = fixture("concurrent");
    let dest = push(&peers, &f, "vex-concurrent");
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = keygen(keys.path());
    let bin = assert_cmd::cargo::cargo_bin("cargo-provenance");
    let children: Vec<_> = (0..8)
        .map(|i| {
            Command::new(&bin)
                .args([
                    "vex",
                    &dest,
                    "--vulnerability",
                    &format!("CVE-2024-20{i:02}"),
                    "--status",
                    "under_investigation",
                    "--key",
                    key.to_str().unwrap(),
                ])
                .env("COSIGN_PASSWORD", PASSWORD)
                .env("SOURCE_DATE_EPOCH", "1704164645")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = registry_store(&dest);
    for s in std::iter::once(&f.index).chain(&f.platforms) {
        let refs = referrers(&store, s);
        assert_eq!(vex_count(&refs), 8, "{} has {refs:?}", s.digest);
        assert_eq!(refs.len(), 9, "the earlier referrer is kept");
    }
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn an_unresolvable_registry_ref_is_exit_2_with_the_cause() {
    let peers = Peers::get();
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = keygen(keys.path());
    let reference = format!("{}:v9", peers.unique_repo("vex-missing"));
    let out = vex_cmd(&reference, &key, "CVE-2024-3000").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("does not resolve"), "{err}");
    assert!(err.contains("no such image"), "{err}");
}

/// Attaches a CycloneDX SBOM statement listing `purls`, signed with `key`, to the fixture.
fn attach_sbom(f: &Fixture, key: &Path, purls: &[&str]) {
    use cargo_provenance::keys::{FixedPassword, load_private_key};
    use cargo_provenance::sign::{KeySigner, sign_statement};
    let loaded = load_private_key(key, &FixedPassword(PASSWORD.into())).unwrap();
    let signer = KeySigner::new(loaded.key);
    let store = Store::Layout(f.layout.clone());
    let subjects = publish::image_subjects(&store, &f.index, "app").unwrap();
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects.iter().map(|s| serde_json::json!({"name": s.name, "digest": {"sha256": s.descriptor.digest.hex()}})).collect::<Vec<_>>(),
        "predicateType": "https://cyclonedx.org/bom",
        "predicate": {
            "bomFormat": "CycloneDX", "specVersion": "1.5",
            "components": purls.iter().map(|p| serde_json::json!({"type": "library", "name": "x", "purl": p})).collect::<Vec<_>>(),
        },
    });
    let signed = sign_statement(&serde_json::to_vec(&statement).unwrap(), &signer).unwrap();
    let info = BundleInfo {
        bundle_json: &signed.bytes,
        predicate_type: "https://cyclonedx.org/bom",
        role: Role::ImageAttestation,
        created: "2024-01-02T03:04:05Z",
    };
    publish::attach_to_image(&store, &f.index, "app", &info).unwrap();
}

#[test]
fn products_are_checked_against_the_sbom_signed_by_the_same_key() {
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = keygen(keys.path());
    let f = fixture("sbom-check");
    attach_sbom(
        &f,
        &key,
        &["pkg:cargo/time@0.1.44", "pkg:cargo/itoa@1.0.11"],
    );
    let store = Store::Layout(f.layout.clone());
    // pkg:cargo/time@0.1.45 (vex_cmd's --product) is not shipped: exit 2, nothing attached.
    let out = vex_cmd(&f.layout_ref(), &key, "CVE-2024-4000")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a component of the image's SBOM"), "{err}");
    assert!(err.contains("it has pkg:cargo/time@0.1.44"), "{err}");
    assert_eq!(vex_count(&referrers(&store, &f.index)), 0);
    // A shipped crate is accepted, without a warning.
    let out = support::cargo_provenance()
        .args([
            "vex",
            &f.layout_ref(),
            "--vulnerability",
            "CVE-2024-4001",
            "--status",
            "fixed",
            "--product",
            "pkg:cargo/itoa@1.0.11",
            "--key",
            key.to_str().unwrap(),
        ])
        .env("COSIGN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert_eq!(vex_count(&referrers(&store, &f.index)), 1);

    // An SBOM signed by another key is not trusted for the check: a warning, no error.
    let g = fixture("sbom-other-key");
    let other = tempfile::tempdir().unwrap();
    let (other_key, _) = keygen(other.path());
    attach_sbom(&g, &other_key, &["pkg:cargo/itoa@1.0.11"]);
    let out = vex_cmd(&g.layout_ref(), &key, "CVE-2024-4002")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("no SBOM signed by this key"), "{err}");
}
