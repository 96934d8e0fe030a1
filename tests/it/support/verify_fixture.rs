//! Fixtures for the verify tests: images in an OCI layout, statements like the ones `build`
//! writes, signed with a test key into Sigstore bundles, attached as OCI 1.1 referrers
//! (docs/referrers.md).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cargo_provenance::formats::oci::{
    ANNOTATION_CREATED, Descriptor, ImageIndex, ImageManifest, MEDIA_TYPE_CONFIG, MEDIA_TYPE_EMPTY,
    MEDIA_TYPE_INDEX, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_MANIFEST,
};
use cargo_provenance::keys::PrivateKey;
use cargo_provenance::oci::layout::Layout;
use cargo_provenance::oci::store::Store;
use cargo_provenance::publish::{BundleInfo, Role, attach_bundle, attach_to_image};
use cargo_provenance::sign::{KeySigner, sign_statement};
use cargo_provenance::util::digest::Digest;
use p256::ecdsa::SigningKey;
use serde_json::{Value, json};

pub use cargo_provenance::attest::SBOM_PREDICATE_TYPE as CDX;
pub use cargo_provenance::attest::params::BUILD_TYPE;
pub use cargo_provenance::formats::slsa::PREDICATE_TYPE as SLSA;
pub use cargo_provenance::publish::MEDIA_TYPE_BUNDLE as BUNDLE_V03;
pub use cargo_provenance::verify::checks::OPENVEX as VEX;
pub const REPO: &str = "git+https://github.com/example/hello-service";
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
pub const BUILDER: &str = "https://cargo-provenance.dev/builders/local/v1";

/// A test signing key (the product's signer) and its public key file.
pub struct Key {
    pub signer: KeySigner,
    pub pub_path: PathBuf,
}

impl Key {
    pub fn new(dir: &Path, seed: u8) -> Key {
        let sk = SigningKey::from_slice(&[seed; 32]).unwrap();
        let signer = KeySigner::new(PrivateKey::from_signing_key(sk));
        let pub_path = dir.join(format!("key-{seed}.pub"));
        std::fs::write(&pub_path, signer.public_key().to_pem()).unwrap();
        Key { signer, pub_path }
    }

    /// A v0.3 bundle holding a DSSE envelope over `statement`, signed by `sign_statement`.
    pub fn bundle(&self, statement: &Value) -> Vec<u8> {
        let payload = serde_json::to_vec(statement).unwrap();
        sign_statement(&payload, &self.signer).unwrap().bytes
    }
}

/// An image (index + 2 platform manifests) in a layout.
#[derive(Debug, Clone)]
pub struct Image {
    pub index: Digest,
    pub platforms: Vec<Digest>,
    pub tag: String,
}

impl Image {
    pub fn subjects(&self) -> Value {
        let mut s = vec![json!({"name": "example/hello", "digest": {"sha256": self.index.hex()}})];
        for (i, p) in self.platforms.iter().enumerate() {
            s.push(json!({"name": format!("linux/arch{i}"), "digest": {"sha256": p.hex()}}));
        }
        s.push(json!({"name": "/usr/local/bin/hello", "digest": {"sha256": "ab".repeat(32)}}));
        Value::Array(s)
    }
}

fn put_json(layout: &Layout, v: &impl serde::Serialize) -> (Digest, u64) {
    let bytes = serde_json::to_vec(v).unwrap();
    (layout.put_blob(&bytes).unwrap(), bytes.len() as u64)
}

fn desc(media_type: &str, (digest, size): (Digest, u64)) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest,
        size,
        platform: None,
        artifact_type: None,
        annotations: BTreeMap::new(),
        data: None,
    }
}

/// Writes an image whose content depends on `seed` and tags it `tag`.
pub fn image(layout: &Layout, tag: &str, seed: &str) -> Image {
    let mut manifests = Vec::new();
    for arch in ["amd64", "arm64"] {
        let layer_bytes = format!("layer {seed} {arch}").into_bytes();
        let layer = layout.put_blob(&layer_bytes).unwrap();
        let config = json!({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "config": {}});
        let m = ImageManifest {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_MANIFEST.into()),
            artifact_type: None,
            config: desc(MEDIA_TYPE_CONFIG, put_json(layout, &config)),
            layers: vec![desc(
                MEDIA_TYPE_LAYER_GZIP,
                (layer, layer_bytes.len() as u64),
            )],
            subject: None,
            annotations: BTreeMap::new(),
        };
        let mut d = desc(MEDIA_TYPE_MANIFEST, put_json(layout, &m));
        d.platform =
            Some(serde_json::from_value(json!({"architecture": arch, "os": "linux"})).unwrap());
        manifests.push(d);
    }
    let platforms = manifests.iter().map(|d| d.digest).collect();
    let mut index = ImageIndex::new();
    index.manifests = manifests;
    let idx = desc(MEDIA_TYPE_INDEX, put_json(layout, &index));
    layout.tag(tag, &idx).unwrap();
    Image {
        index: idx.digest,
        platforms,
        tag: tag.into(),
    }
}

/// Adds an unsigned BuildKit-style attestation manifest (platform unknown/unknown, marked
/// `vnd.docker.reference.type: attestation-manifest`) for the first platform to the image
/// index; returns the new image (the index digest changes).
pub fn with_buildkit_attestation(layout: &Layout, img: &Image) -> Image {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "subject": [{"name": "x", "digest": {"sha256": img.platforms[0].hex()}}],
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "predicate": {"builder": {"id": "https://mobyproject.org/buildkit@v1"}}
    });
    let bytes = serde_json::to_vec(&statement).unwrap();
    let mut layer = desc(
        "application/vnd.in-toto+json",
        (layout.put_blob(&bytes).unwrap(), bytes.len() as u64),
    );
    layer.annotations.insert(
        "in-toto.io/predicate-type".into(),
        "https://slsa.dev/provenance/v0.2".into(),
    );
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.into()),
        artifact_type: None,
        config: desc(MEDIA_TYPE_EMPTY, (layout.put_blob(b"{}").unwrap(), 2)),
        layers: vec![layer],
        subject: None,
        annotations: BTreeMap::new(),
    };
    let mut d = desc(MEDIA_TYPE_MANIFEST, put_json(layout, &m));
    d.platform =
        Some(serde_json::from_value(json!({"architecture": "unknown", "os": "unknown"})).unwrap());
    d.annotations.insert(
        "vnd.docker.reference.type".into(),
        "attestation-manifest".into(),
    );
    d.annotations.insert(
        "vnd.docker.reference.digest".into(),
        img.platforms[0].to_string(),
    );
    let bytes = std::fs::read(layout.blob_path(&img.index)).unwrap();
    let mut index: ImageIndex = serde_json::from_slice(&bytes).unwrap();
    index.manifests.push(d);
    let idx = desc(MEDIA_TYPE_INDEX, put_json(layout, &index));
    layout.tag(&img.tag, &idx).unwrap();
    Image {
        index: idx.digest,
        platforms: img.platforms.clone(),
        tag: img.tag.clone(),
    }
}

/// A provenance statement like `build` writes (our buildType).
pub fn provenance(subjects: &Value) -> Value {
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects,
        "predicateType": SLSA,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "source": {"uri": REPO, "ref": "refs/heads/main", "commit": COMMIT},
                    "packages": ["hello-service"],
                    "binaries": ["hello-service"],
                    "profile": "release",
                    "features": [],
                    "allFeatures": false,
                    "noDefaultFeatures": false,
                    "target": "x86_64-unknown-linux-gnu",
                    "builder": "native",
                    "baseImage": "scratch",
                    "platforms": ["linux/amd64", "linux/arm64"]
                },
                "internalParameters": {},
                "resolvedDependencies": [{"uri": REPO, "digest": {"gitCommit": COMMIT}}]
            },
            "runDetails": {"builder": {"id": BUILDER}, "metadata": {}}
        }
    })
}

/// A CycloneDX SBOM statement whose `metadata.component` is the image `described`.
pub fn sbom(subjects: &Value, described: &Digest) -> Value {
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects,
        "predicateType": CDX,
        "predicate": {
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "metadata": {"component": {"type": "container", "name": "hello",
                "purl": format!("pkg:oci/hello@sha256%3A{}", described.hex())}},
            "components": []
        }
    })
}

/// An OpenVEX statement.
pub fn vex(subjects: &Value) -> Value {
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects,
        "predicateType": VEX,
        "predicate": {"@context": "https://openvex.dev/ns/v0.2.0", "statements": []}
    })
}

/// Attaches bytes that need not be a bundle at all as a referrer of `subject` (the publish
/// stage refuses to); returns the referrer manifest digest and the layer digest.
pub fn attach_raw(
    layout: &Layout,
    subject: &Digest,
    bundle: &[u8],
    predicate_type: &str,
) -> (Digest, Digest) {
    let subject_bytes = std::fs::read(layout.blob_path(subject)).unwrap();
    let mut subject_desc = desc(
        if serde_json::from_slice::<Value>(&subject_bytes)
            .unwrap()
            .get("manifests")
            .is_some()
        {
            MEDIA_TYPE_INDEX
        } else {
            MEDIA_TYPE_MANIFEST
        },
        (*subject, subject_bytes.len() as u64),
    );
    subject_desc.platform = None;
    let layer = layout.put_blob(bundle).unwrap();
    let empty = layout.put_blob(b"{}").unwrap();
    let annotations: BTreeMap<String, String> = [
        (ANNOTATION_CREATED, "2024-01-02T03:04:05Z"),
        ("dev.sigstore.bundle.content", "dsse-envelope"),
        ("dev.sigstore.bundle.predicateType", predicate_type),
        ("dev.cargo-provenance.role", "image-attestation"),
        ("dev.cargo-provenance.subject.name", "example/hello"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.into()),
        artifact_type: Some(BUNDLE_V03.into()),
        config: desc(MEDIA_TYPE_EMPTY, (empty, 2)),
        layers: vec![desc(BUNDLE_V03, (layer, bundle.len() as u64))],
        subject: Some(subject_desc),
        annotations: annotations.clone(),
    };
    let mut d = desc(MEDIA_TYPE_MANIFEST, put_json(layout, &m));
    d.artifact_type = Some(BUNDLE_V03.into());
    d.annotations = annotations;
    let mut index = layout.index().unwrap();
    index.manifests.push(d.clone());
    layout.write_index(&index).unwrap();
    (d.digest, layer)
}

fn info<'a>(bundle: &'a [u8], predicate_type: &'a str) -> BundleInfo<'a> {
    BundleInfo {
        bundle_json: bundle,
        predicate_type,
        role: Role::ImageAttestation,
        created: "2024-01-02T03:04:05Z",
    }
}

fn descriptor_of(layout: &Layout, d: &Digest) -> Descriptor {
    let bytes = std::fs::read(layout.blob_path(d)).unwrap();
    Descriptor::of(&cargo_provenance::oci::store::media_type_of(&bytes), &bytes)
}

/// Attaches `bundle` as a referrer of `subject` with the publish stage; returns the referrer
/// manifest digest and the bundle blob digest.
pub fn attach(
    layout: &Layout,
    subject: &Digest,
    bundle: &[u8],
    predicate_type: &str,
) -> (Digest, Digest) {
    let store = Store::Layout(layout.clone());
    let d = attach_bundle(
        &store,
        &descriptor_of(layout, subject),
        "example/hello",
        &info(bundle, predicate_type),
    )
    .unwrap();
    (d.digest, Digest::of(bundle))
}

/// Attaches `bundle` to the image index and every platform manifest, as `build` does.
pub fn attach_all(
    layout: &Layout,
    img: &Image,
    bundle: &[u8],
    predicate_type: &str,
) -> Vec<(Digest, Digest)> {
    let store = Store::Layout(layout.clone());
    attach_to_image(
        &store,
        &descriptor_of(layout, &img.index),
        "example/hello",
        &info(bundle, predicate_type),
    )
    .unwrap()
    .into_iter()
    .map(|d| (d.digest, Digest::of(bundle)))
    .collect()
}

/// Attaches bytes to the index and every platform manifest without any check.
pub fn attach_all_raw(layout: &Layout, img: &Image, bytes: &[u8], predicate_type: &str) {
    for s in std::iter::once(&img.index).chain(&img.platforms) {
        attach_raw(layout, s, bytes, predicate_type);
    }
}

/// A temporary layout with one image `hello:v1`, signed provenance and SBOM attached, a
/// trusted key and a stranger's key.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub layout: Layout,
    pub img: Image,
    pub key: Key,
    pub other: Key,
}

impl Fixture {
    /// `cargo provenance push` of the layout's image and referrers to `dest`.
    pub fn push(&self, dest: &str) {
        let out = crate::support::cargo_provenance()
            .args(["push", &self.reference(), dest])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "push: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The layout without attestations.
    pub fn bare() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(&dir.path().join("oci")).unwrap();
        let img = image(&layout, "v1", "A");
        let key = Key::new(dir.path(), 7);
        let other = Key::new(dir.path(), 9);
        Fixture {
            dir,
            layout,
            img,
            key,
            other,
        }
    }

    /// The layout with signed provenance and SBOM attached everywhere.
    pub fn signed() -> Fixture {
        let f = Fixture::bare();
        let s = f.img.subjects();
        attach_all(&f.layout, &f.img, &f.key.bundle(&provenance(&s)), SLSA);
        attach_all(
            &f.layout,
            &f.img,
            &f.key.bundle(&sbom(&s, &f.img.index)),
            CDX,
        );
        f
    }

    /// `oci:PATH:TAG` of the image.
    pub fn reference(&self) -> String {
        format!("oci:{}:{}", self.layout.root().display(), self.img.tag)
    }

    /// `verify REF --key KEY` plus `extra`.
    pub fn verify(&self, extra: &[&str]) -> Outcome {
        self.verify_with(&self.reference(), &self.key.pub_path, extra)
    }

    /// `verify REF --key KEY` plus `extra`.
    pub fn verify_with(&self, reference: &str, key: &Path, extra: &[&str]) -> Outcome {
        let key = key.display().to_string();
        let mut args = vec![reference, "--key", &key];
        args.extend(extra);
        run_verify(&args)
    }
}

/// Runs `cargo-provenance verify ARGS...`.
pub fn run_verify(args: &[&str]) -> Outcome {
    let out = assert_cmd::Command::cargo_bin("cargo-provenance")
        .unwrap()
        .arg("verify")
        .args(args)
        .output()
        .unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What a `verify` run gave.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Asserts exit 1 and an error message naming `check`.
    pub fn fails(&self, check: &str) -> &Self {
        assert_eq!(
            self.code, 1,
            "expected exit 1:\n{}\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(&format!("{check}: ")),
            "the error does not name check `{check}`:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The names of the checks reported as failed (human report lines `  fail    NAME`).
    pub fn failed_checks(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("  fail    "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .collect();
        v.dedup();
        v
    }

    /// Asserts exit 1 and that exactly the `checks` failed, in report order.
    pub fn fails_only(&self, checks: &[&str]) -> &Self {
        self.fails(checks[0]);
        assert_eq!(
            self.failed_checks(),
            checks,
            "\n{}\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts exit 0.
    pub fn passes(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "expected exit 0:\n{}\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts the stderr or stdout mentions `s`.
    pub fn says(&self, s: &str) -> &Self {
        assert!(
            self.stdout.contains(s) || self.stderr.contains(s),
            "expected `{s}` in:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Flips one byte of a bundle's DSSE payload, keeping everything else.
pub fn flip_payload_byte(bundle: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let mut v: Value = serde_json::from_slice(bundle).unwrap();
    let mut payload = STANDARD
        .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let i = payload.len() / 2;
    payload[i] ^= 0x01;
    v["dsseEnvelope"]["payload"] = STANDARD.encode(&payload).into();
    serde_json::to_vec_pretty(&v).unwrap()
}
