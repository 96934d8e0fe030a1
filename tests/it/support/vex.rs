//! Shared helpers of the `vex` tests: keys, a two-platform image with an earlier referrer,
//! the `vex` command, referrer listings, the OpenVEX schema and signed SBOMs.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cargo_provenance::formats::oci::Descriptor;
use cargo_provenance::oci::layout::Layout;
use cargo_provenance::oci::store::Store;
use cargo_provenance::publish::{self, ANNOTATION_ROLE, BundleInfo, Role};
use serde_json::Value;

use crate::support::{self, oci as oci_support};

pub fn openvex_validator() -> jsonschema::Validator {
    let path = support::shared_dir().join("schemas/openvex/openvex_json_schema.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

pub fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

pub const VEX: &str = "https://openvex.dev/ns/v0.2.0";
pub const PASSWORD: &str = "vex-test-password";

/// A cosign key pair made by `cargo provenance keygen` in `dir`: (cosign.key, cosign.pub).
pub fn keygen(dir: &Path) -> (PathBuf, PathBuf) {
    support::keygen(dir, PASSWORD)
}

/// A two-platform image in a new layout, tagged `v1`, with an earlier (SLSA) referrer on
/// every subject.
pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub layout: Layout,
    pub index: Descriptor,
    pub platforms: Vec<Descriptor>,
}

pub fn fixture(seed: &str) -> Fixture {
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
    pub fn layout_ref(&self) -> String {
        format!("oci:{}:v1", self.layout.root().display())
    }
}

pub fn vex_cmd(reference: &str, key: &Path, vuln: &str) -> assert_cmd::Command {
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
pub fn referrers(store: &Store, subject: &Descriptor) -> BTreeSet<(String, String)> {
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

pub fn vex_count(set: &BTreeSet<(String, String)>) -> usize {
    set.iter().filter(|(_, r)| r == "vex").count()
}

/// Attaches a CycloneDX SBOM statement listing `purls`, signed with `key`, to the fixture.
pub fn attach_sbom(f: &Fixture, key: &Path, purls: &[&str]) {
    let store = Store::Layout(f.layout.clone());
    let subjects = publish::image_subjects(&store, &f.index, "app").unwrap();
    let subjects: Vec<_> = subjects.iter().map(|s| s.descriptor.digest).collect();
    attach_sbom_about(f, key, purls, &subjects);
}

/// Like [`attach_sbom`], but the signed statement's subjects are `subjects` (another image's,
/// say), whatever it is attached to.
pub fn attach_sbom_about(
    f: &Fixture,
    key: &Path,
    purls: &[&str],
    subjects: &[cargo_provenance::util::digest::Digest],
) {
    use cargo_provenance::keys::{FixedPassword, load_private_key};
    use cargo_provenance::sign::{KeySigner, sign_statement};
    let loaded = load_private_key(key, &FixedPassword(PASSWORD.into())).unwrap();
    let signer = KeySigner::new(loaded.key);
    let store = Store::Layout(f.layout.clone());
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects.iter().map(|d| serde_json::json!({"name": "app", "digest": {"sha256": d.hex()}})).collect::<Vec<_>>(),
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
