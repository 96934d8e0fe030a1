//! Tests of the statement builders on a fixture of build inputs.

use std::collections::BTreeMap;

use super::params::{ExternalParameters, InternalParameters};
use super::provenance::*;
use super::*;
use crate::build::{BaseImageInfo, BuilderKind, DockerfileInfo, PlatformImage};
use crate::formats::oci::{Descriptor, MEDIA_TYPE_MANIFEST};
use crate::inspect::model::{BuildInputs, BuiltBinary};
use crate::util::digest::Digest;

/// A provenance input of a BuildKit build (the sign stage's tests use it too).
pub(crate) fn fixture(reproducible: bool) -> ProvenanceInput {
    let inputs: BuildInputs =
        serde_json::from_str(include_str!("../../tests/fixtures/build-inputs.json")).unwrap();
    ProvenanceInput {
        inputs,
        crates: vec![
            ShippedCrate {
                name: "serde".into(),
                version: "1.0.200".into(),
                purl: "pkg:cargo/serde@1.0.200".into(),
                sha256: Some("AB".repeat(32)),
            },
            ShippedCrate {
                name: "hello-service".into(),
                version: "0.1.0".into(),
                purl: "pkg:cargo/hello-service@0.1.0".into(),
                sha256: None,
            },
        ],
        builder: BuilderKind::Buildx,
        builder_details: BTreeMap::from([("name".into(), "default".into())]),
        dockerfile: Some(DockerfileInfo {
            path: "Dockerfile".into(),
            digest: Digest::of(b"FROM scratch"),
        }),
        base_image: Some(BaseImageInfo {
            reference: "local/cc:bookworm".into(),
            digest: Some(Digest::of(b"base")),
        }),
        other_images: vec![],
        image_name: Some("127.0.0.1:5000/hello:1.0".into()),
        index_digest: Digest::of(b"index"),
        manifests: vec![
            PlatformImage {
                platform: "linux/amd64/v3".parse().unwrap(),
                rust_target: "x86_64-unknown-linux-musl".into(),
                rustflags: vec![],
                manifest: Descriptor::of(MEDIA_TYPE_MANIFEST, b"v3"),
                binaries: vec![],
            },
            PlatformImage {
                platform: "linux/amd64".parse().unwrap(),
                rust_target: "x86_64-unknown-linux-musl".into(),
                rustflags: vec![],
                manifest: Descriptor::of(MEDIA_TYPE_MANIFEST, b"amd64"),
                binaries: vec![],
            },
        ],
        binaries: vec![BuiltBinary {
            package: "hello-service".into(),
            name: "hello-service".into(),
            path_in_image: "/usr/local/bin/hello-service".into(),
            digest: Digest::of(b"bin"),
            size: 3,
            local_path: "/home/someone/target/release/hello-service".into(),
        }],
        auditable: true,
        sbom_digest: Some(Digest::of(b"sbom")),
        source_date_epoch: 1_704_164_645,
        started_on: 1_800_000_000,
        finished_on: 1_800_000_060,
        reproducible,
        environment: RunEnvironment::detect_with(&|_| None),
        layer_compression: crate::build::compress::LayerCompression::Gzip,
    }
}

#[test]
fn provenance_content() {
    let st = provenance::statement(&fixture(false)).unwrap();
    let v = serde_json::to_value(&st).unwrap();
    assert_eq!(v["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(v["predicateType"], "https://slsa.dev/provenance/v1");
    let names: Vec<_> = st.subject.iter().map(|s| s.name.clone().unwrap()).collect();
    assert_eq!(
        names,
        [
            "127.0.0.1:5000/hello:1.0",
            "linux/amd64",
            "linux/amd64/v3",
            "/usr/local/bin/hello-service"
        ]
    );
    let p = &v["predicate"];
    assert_eq!(p["buildDefinition"]["buildType"], params::BUILD_TYPE);
    let ext: ExternalParameters =
        serde_json::from_value(p["buildDefinition"]["externalParameters"].clone()).unwrap();
    let src = ext.source.unwrap();
    assert_eq!(
        src.uri.as_deref(),
        Some("git+https://github.com/example/hello-service")
    );
    assert_eq!(src.git_ref.as_deref(), Some("refs/heads/main"));
    assert_eq!(
        ext.base_image,
        format!("local/cc:bookworm@{}", Digest::of(b"base"))
    );
    assert_eq!(ext.platforms, ["linux/amd64", "linux/amd64/v3"]);
    let int: InternalParameters =
        serde_json::from_value(p["buildDefinition"]["internalParameters"].clone()).unwrap();
    assert_eq!(int.source_date_epoch, 1_704_164_645);
    let deps = p["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    assert_eq!(
        deps[0]["uri"],
        "git+https://github.com/example/hello-service@refs/heads/main"
    );
    assert_eq!(
        deps[0]["digest"]["gitCommit"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(deps[1]["name"], "rustc");
    assert_eq!(deps[2]["uri"], "docker-image://local/cc:bookworm");
    assert_eq!(deps[3]["uri"], "pkg:cargo/hello-service@0.1.0");
    assert_eq!(deps[4]["digest"]["sha256"], "ab".repeat(32));
    for d in deps {
        assert!(d.get("uri").is_some() || d.get("digest").is_some(), "{d}");
    }
    assert_eq!(
        p["runDetails"]["builder"]["id"],
        environment::LOCAL_BUILDER_ID
    );
    assert_eq!(
        p["runDetails"]["builder"]["version"]["cargo-provenance"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        p["runDetails"]["metadata"]["startedOn"],
        "2027-01-15T08:00:00Z"
    );
    assert!(
        p["runDetails"]["metadata"]["invocationId"]
            .as_str()
            .unwrap()
            .starts_with("urn:uuid:")
    );
    assert_eq!(
        p["runDetails"]["byproducts"][0]["digest"]["sha256"],
        Digest::of(b"sbom").hex()
    );
    let text = serde_json::to_string(&v).unwrap();
    assert!(!text.contains("/home/someone"), "no local path");
}

#[test]
fn detached_head_at_a_tag_records_the_tag() {
    let mut f = fixture(true);
    let g = f.inputs.git.as_mut().unwrap();
    g.head_ref = None;
    g.detached = true;
    g.tags = vec!["v1.0.0".into()];
    let st = provenance::statement(&f).unwrap();
    let ext: ExternalParameters =
        serde_json::from_value(st.predicate.build_definition.external_parameters.clone()).unwrap();
    assert_eq!(
        ext.source.unwrap().git_ref.as_deref(),
        Some("refs/tags/v1.0.0")
    );
    f.inputs.git.as_mut().unwrap().tags.clear();
    let st = provenance::statement(&f).unwrap();
    let uri = st.predicate.build_definition.resolved_dependencies[0]
        .uri
        .clone()
        .unwrap();
    assert_eq!(uri, "git+https://github.com/example/hello-service");
}

#[test]
fn unknown_external_parameters_are_rejected_by_the_typed_reader() {
    let st = provenance::statement(&fixture(true)).unwrap();
    let mut ext = st.predicate.build_definition.external_parameters.clone();
    ext["extra"] = "x".into();
    assert!(serde_json::from_value::<ExternalParameters>(ext).is_err());
}

#[test]
fn reproducible_provenance_is_byte_stable() {
    let a = provenance::statement(&fixture(true))
        .unwrap()
        .to_pretty()
        .unwrap();
    let mut other = fixture(true);
    other.started_on += 1000;
    other.finished_on += 5000;
    let b = provenance::statement(&other).unwrap().to_pretty().unwrap();
    assert_eq!(a, b);
    let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
    let md = &v["predicate"]["runDetails"]["metadata"];
    assert_eq!(md["startedOn"], "2024-01-02T03:04:05Z");
    assert_eq!(md["finishedOn"], "2024-01-02T03:04:05Z");
    assert!(md.get("invocationId").is_none());
}

#[test]
fn secrets_in_inputs_are_cut() {
    let mut f = fixture(false);
    let g = f.inputs.git.as_mut().unwrap();
    g.remote_url =
        Some("https://x-access-token:ghp_CANARY@github.com/example/hello-service?t=CANARY2".into());
    f.inputs.cargo.rustflags = vec!["--remap-path-prefix=/home/someone/src=/src".into()];
    f.builder_details
        .insert("endpoint".into(), "tcp://user:CANARY3@buildkit:1234".into());
    f.environment = RunEnvironment::detect_with(&|k| match k {
        "GITLAB_CI" => Some("true".into()),
        "CI_SERVER_URL" => Some("https://u:CANARY4@gitlab.example.com".into()),
        "CI_PROJECT_PATH" => Some("g/p".into()),
        "CI_RUNNER_ID" => Some("1".into()),
        "CI_JOB_URL" => {
            Some("https://gitlab-ci-token:CANARY5@gitlab.example.com/g/p/-/jobs/2".into())
        }
        _ => None,
    });
    let text = String::from_utf8(provenance::statement(&f).unwrap().to_pretty().unwrap()).unwrap();
    for canary in ["CANARY", "/home/someone", "x-access-token"] {
        assert!(!text.contains(canary), "{canary} leaked:\n{text}");
    }
    assert!(text.contains("https://gitlab.example.com/g/p/-/runners/1"));
}
