//! Tests of [`super`]: BuildKit's layout, statements and command lines.

use super::*;

#[test]
fn an_empty_subject_becomes_the_manifest_the_attestation_refers_to() {
    let m = Digest::of(b"platform manifest");
    let filled = format!(r#"[{{"name":"_","digest":{{"sha256":"{}"}}}}]"#, m.hex());
    for given in [r#""subject":[],"#, r#""subject":null,"#, ""] {
        let st = format!(r#"{{"_type":"t",{given}"predicateType":"p","predicate":{{}}}}"#);
        let v: Value = serde_json::from_slice(&with_subject(st.into_bytes(), &m)).unwrap();
        assert_eq!(v["subject"].to_string(), filled, "{given}");
        assert_eq!(v["predicateType"], "p");
    }
    let named = br#"{"_type":"t", "subject":[{"name":"x","digest":{"sha256":"00"}}]}"#;
    assert_eq!(
        with_subject(named.to_vec(), &m),
        named,
        "kept byte for byte"
    );
    assert!(!names_only(named, &m), "another subject");
    assert!(names_only(&with_subject(b"{}".to_vec(), &m), &m));
    let also = format!(
        r#"{{"subject":[{{"digest":{{"sha256":"{}"}}}},{{"digest":{{"sha256":"00"}}}}]}}"#,
        m.hex()
    );
    assert!(!names_only(also.as_bytes(), &m), "this one and another");
    assert_eq!(with_subject(b"[]".to_vec(), &m), b"[]");
}

#[test]
fn excerpt_starts_at_the_error() {
    let log = "#1 load\n#2 DONE\n------\n > [1/2] FROM x:\n------\nERROR: failed to solve: x: not found\n";
    let e = error_excerpt(log);
    assert!(e.starts_with("------"));
    assert!(e.contains("failed to solve"));
}

#[test]
fn unreachable_names_the_variables() {
    let e = unreachable(&Client::Buildx { builder: None }, "Cannot connect");
    let s = e.to_string();
    assert!(
        s.contains("DOCKER_HOST") && s.contains("BUILDKIT_HOST") && s.contains("--builder native")
    );
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn buildx_command_line() {
    let mut req = Request {
        client: &Client::Buildx {
            builder: Some("remote".into()),
        },
        dockerfile: Path::new("/c/Dockerfile"),
        context: Path::new("/c"),
        bins: Path::new("/b"),
        platforms: &[super::super::platform::parse("linux/amd64", None).unwrap()],
        build_args: BTreeMap::from([("SOURCE_DATE_EPOCH".into(), "5".into())]),
        labels: BTreeMap::new(),
        out_dir: Path::new("/o"),
        metadata_file: Path::new("/m.json"),
        layout_contexts: BTreeMap::new(),
        compression: super::super::compress::LayerCompression::Gzip,
    };
    let c = req.command();
    let args: Vec<String> = c
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let s = args.join(" ");
    assert!(s.contains("--builder remote"));
    assert!(s.contains("--build-context bins=/b"));
    assert!(s.contains("--build-arg SOURCE_DATE_EPOCH=5"));
    assert!(s.contains("--provenance mode=max"));
    assert!(
        args.iter()
            .any(|a| a == "type=oci,dest=/o,tar=false,rewrite-timestamp=true")
    );
    req.compression = super::super::compress::LayerCompression::Zstd;
    let args: Vec<String> = req
        .command()
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert!(args.iter().any(|a| a
        == "type=oci,dest=/o,tar=false,rewrite-timestamp=true,compression=zstd,force-compression=true"));
}

/// An image index of two platforms, each with its attestation manifest (as BuildKit's image
/// exporter writes it, with Docker 26's empty subjects): each platform stays in the index,
/// and each statement is bound to its own platform manifest, not the other's. A statement
/// about another image is left out (never signed with the user's key).
#[test]
fn each_platform_keeps_its_own_statements() {
    use crate::formats::annotations::DOCKER_ATTESTATION_MANIFEST;
    use crate::formats::oci::{MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST, Platform};
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    let mut index = ImageIndex::new();
    let mut platforms = Vec::new();
    for arch in ["amd64", "arm64"] {
        let manifest = format!(r#"{{"schemaVersion":2,"layers":[],"arch":"{arch}"}}"#);
        let platform = Descriptor {
            platform: Some(format!("linux/{arch}").parse().unwrap()),
            ..Descriptor::of(MEDIA_TYPE_MANIFEST, manifest.as_bytes())
        };
        layout.put_blob(manifest.as_bytes()).unwrap();
        let statement = format!(r#"{{"_type":"t","subject":[],"predicateType":"{arch}"}}"#);
        let layer = Descriptor::of("application/vnd.in-toto+json", statement.as_bytes());
        layout.put_blob(statement.as_bytes()).unwrap();
        // A statement about another image (a hostile builder's): left out.
        let other = Digest::of(b"another image").hex();
        let foreign = format!(r#"{{"subject":[{{"digest":{{"sha256":"{other}"}}}}]}}"#);
        let foreign_layer = Descriptor::of("application/vnd.in-toto+json", foreign.as_bytes());
        layout.put_blob(foreign.as_bytes()).unwrap();
        let attestation = serde_json::to_vec(&ImageManifest {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_MANIFEST.into()),
            artifact_type: None,
            config: Descriptor::empty(),
            layers: vec![layer, foreign_layer],
            subject: None,
            annotations: Default::default(),
        })
        .unwrap();
        layout.put_blob(&attestation).unwrap();
        let mut entry = Descriptor {
            platform: Some(Platform {
                architecture: "unknown".into(),
                os: "unknown".into(),
                os_version: None,
                variant: None,
            }),
            ..Descriptor::of(MEDIA_TYPE_MANIFEST, &attestation)
        };
        entry.annotations.extend([
            (
                REFERENCE_TYPE.to_owned(),
                DOCKER_ATTESTATION_MANIFEST.to_owned(),
            ),
            (REFERENCE_DIGEST.to_owned(), platform.digest.to_string()),
        ]);
        index.manifests.extend([platform.clone(), entry]);
        platforms.push(platform);
    }
    let bytes = serde_json::to_vec(&index).unwrap();
    let root = Descriptor::of(MEDIA_TYPE_INDEX, &bytes);
    layout.put_blob(&bytes).unwrap();
    let mut top = ImageIndex::new();
    top.manifests.push(root.clone());
    layout.write_index(&top).unwrap();

    let out = strip_attestations(dir.path(), root.digest).unwrap();
    assert_eq!(out.index.manifests, platforms);
    assert_eq!(out.statements.len(), 2);
    assert_eq!(out.refused.len(), 2, "{:?}", out.refused);
    assert!(out.refused[0].contains("names another subject"));
    for (st, (platform, arch)) in out
        .statements
        .iter()
        .zip(platforms.iter().zip(["amd64", "arm64"]))
    {
        assert_eq!(
            (st.subject, st.predicate_type.as_str()),
            (platform.digest, "")
        );
        let v: Value = serde_json::from_slice(&st.bytes).unwrap();
        assert_eq!(v["predicateType"], arch);
        assert_eq!(v["subject"][0]["digest"]["sha256"], platform.digest.hex());
    }
}
