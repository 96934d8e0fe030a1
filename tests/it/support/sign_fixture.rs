//! A provenance input fixture for the signing tests (the build stage fills the real one).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use cargo_provenance::attest::provenance::*;
use cargo_provenance::attest::{RunEnvironment, sbom_statement};
use cargo_provenance::build::{BuilderKind, PlatformImage};
use cargo_provenance::formats::intoto::Statement;
use cargo_provenance::formats::oci::{Descriptor, MEDIA_TYPE_MANIFEST};
use cargo_provenance::formats::slsa::Provenance;
use cargo_provenance::inspect::model::{BuildInputs, BuiltBinary};
use cargo_provenance::util::digest::Digest;

/// Build inputs from `tests/fixtures/build-inputs.json`.
pub fn build_inputs() -> BuildInputs {
    serde_json::from_str(include_str!("../../fixtures/build-inputs.json")).unwrap()
}

/// A provenance input whose one binary is the file at `binary` (its digest is a subject).
pub fn input(binary: &Path, inputs: BuildInputs, environment: RunEnvironment) -> ProvenanceInput {
    let bytes = std::fs::read(binary).unwrap();
    ProvenanceInput {
        inputs,
        crates: vec![ShippedCrate {
            name: "itoa".into(),
            version: "1.0.11".into(),
            purl: "pkg:cargo/itoa@1.0.11".into(),
            sha256: Some("49f1f14873335454500d59611f1cf4a4b0f786f9ac11f4312a78e4cf2566695b".into()),
        }],
        builder: BuilderKind::Native,
        builder_details: BTreeMap::new(),
        dockerfile: None,
        base_image: None,
        other_images: vec![],
        image_name: Some("127.0.0.1:5000/hello-service:1.0".into()),
        index_digest: Digest::of(b"index"),
        manifests: vec![PlatformImage {
            platform: "linux/amd64".parse().unwrap(),
            rust_target: "x86_64-unknown-linux-musl".into(),
            rustflags: vec![],
            manifest: Descriptor::of(MEDIA_TYPE_MANIFEST, b"manifest"),
            binaries: vec![],
        }],
        binaries: vec![BuiltBinary {
            package: "hello-service".into(),
            name: "hello-service".into(),
            path_in_image: "/usr/local/bin/hello-service".into(),
            digest: Digest::of(&bytes),
            size: bytes.len() as u64,
            local_path: binary.to_path_buf(),
        }],
        auditable: true,
        sbom_digest: Some(Digest::of(SBOM)),
        source_date_epoch: 1_704_164_645,
        started_on: 1_704_164_645,
        finished_on: 1_704_164_700,
        reproducible: true,
        environment,
        layer_compression: cargo_provenance::build::compress::LayerCompression::Gzip,
    }
}

/// A minimal CycloneDX document.
pub const SBOM: &[u8] =
    br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[]}"#;

/// The provenance and SBOM statements of `input`.
pub fn statements(input: &ProvenanceInput) -> (Statement<Provenance>, Statement) {
    let prov = statement(input).unwrap();
    let sbom = sbom_statement(SBOM, subjects(input)).unwrap();
    (prov, sbom)
}

/// Writes a file of pseudo-binary content and returns its path.
pub fn fake_binary(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("hello-service");
    let content: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&p, content).unwrap();
    p
}
