//! The subject-binding rule under attack (docs/verify.md, "What counts as evidence").
//!
//! The attacker controls the registry (or the layout) but holds no key. Every attack starts
//! from one real signed build of the example (`build --key`, native builder, two platforms:
//! linux/amd64 and linux/amd64/v3) and rearranges what the genuine build made: new indexes,
//! re-attached referrers, hybrid documents. Each must exit 1 and name the failing check and
//! the part of the image that has no evidence. Reports are read as `--format json`.

use crate::support;
use crate::support::read_json;
use crate::support::verify_fixture;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cargo_provenance::formats::oci::{
    Descriptor, ImageIndex, ImageManifest, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_MANIFEST,
};
use cargo_provenance::keys::PrivateKey;
use cargo_provenance::oci::layout::Layout;
use cargo_provenance::util::digest::Digest;
use p256::ecdsa::SigningKey;
use serde_json::{Value, json};
use verify_fixture::{CDX, Key, SLSA, attach, run_verify};

const PASSWORD: &str = "attack-test";
const SEED: u8 = 7;

/// The genuine signed build every attack starts from.
struct Built {
    dir: PathBuf,
    repo: PathBuf,
    key: Key,
    /// The image index and its platform manifests (platform, digest).
    index: Digest,
    platforms: Vec<(String, Digest)>,
    /// One binary of the image: its digest and bytes.
    binary: (Digest, Vec<u8>),
    /// The expectation flags that the genuine provenance satisfies.
    expectations: Vec<String>,
}

/// Builds the example once per test process, under cargo's per-target temporary directory.
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("verify-attacks");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (tmp, repo) = support::example_repo("hello-service");
        let repo_dir = dir.join("hello-service");
        support::copy_dir(&repo, &repo_dir); // .git included
        drop(tmp);
        let key = Key::new(&dir, SEED);
        let secret = PrivateKey::from_signing_key(SigningKey::from_slice(&[SEED; 32]).unwrap());
        let key_file = dir.join("cosign.key");
        std::fs::write(
            &key_file,
            secret.to_encrypted_pem(PASSWORD.as_bytes()).as_bytes(),
        )
        .unwrap();
        let out = dir.join("out");
        let o = support::cargo_provenance()
            .env("CARGO_TARGET_DIR", support::example_target_dir())
            .env("COSIGN_PASSWORD", PASSWORD)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .args([
                "build",
                "-q",
                "--builder",
                "native",
                "--image",
                "hello:attack",
            ])
            .args(["--platform", "linux/amd64,linux/amd64/v3", "--key"])
            .arg(&key_file)
            .arg("--manifest-path")
            .arg(repo_dir.join("Cargo.toml"))
            .arg("--output-dir")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let summary = read_json(&out.join("summary.json"));
        let digest = |v: &Value| v.as_str().unwrap().parse::<Digest>().unwrap();
        let platforms: Vec<(String, Digest)> = summary["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let platform = p["platform"].as_str().unwrap().to_owned();
                (platform, digest(&p["manifest_digest"]))
            })
            .collect();
        let bin = &summary["platforms"][0]["binaries"][0];
        let bin_file = out.join(bin["file"].as_str().unwrap());
        let binary = (digest(&bin["digest"]), std::fs::read(bin_file).unwrap());
        assert_eq!(Digest::of(&binary.1), binary.0);
        let provenance = statement_of(&out.join("provenance.sigstore.json"));
        let ext = &provenance["predicate"]["buildDefinition"]["externalParameters"];
        let builder = &provenance["predicate"]["runDetails"]["builder"]["id"];
        let expectations = [
            ("--source-repo", &ext["source"]["uri"]),
            ("--source-commit", &ext["source"]["commit"]),
            ("--source-ref", &ext["source"]["ref"]),
            ("--builder-id", builder),
        ]
        .into_iter()
        .flat_map(|(flag, v)| [flag.to_owned(), v.as_str().unwrap().to_owned()])
        .chain(["--require".to_owned(), "provenance,sbom".to_owned()])
        .collect();
        Built {
            index: digest(&summary["index_digest"]),
            platforms,
            binary,
            expectations,
            dir,
            repo: repo_dir,
            key,
        }
    })
}

/// The signed statement inside a bundle `build` wrote.
fn statement_of(bundle: &Path) -> Value {
    use base64::Engine as _;
    let b = read_json(bundle);
    let payload = base64::engine::general_purpose::STANDARD
        .decode(b["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// A copy of the genuine layout for one attack.
fn attacked_layout() -> (tempfile::TempDir, Layout) {
    let b = built();
    let tmp = tempfile::tempdir().unwrap();
    support::copy_dir(&b.dir.join("out/oci"), &tmp.path().join("oci"));
    let layout = Layout::open(&tmp.path().join("oci")).unwrap();
    (tmp, layout)
}

fn put(layout: &Layout, media_type: &str, v: &impl serde::Serialize) -> Descriptor {
    let bytes = serde_json::to_vec(v).unwrap();
    layout.put_blob(&bytes).unwrap();
    Descriptor::of(media_type, &bytes)
}

fn with_platform(mut d: Descriptor, platform: &str) -> Descriptor {
    let (os, arch) = platform.split_once('/').unwrap();
    let (arch, variant) = arch
        .split_once('/')
        .map_or((arch, None), |(a, v)| (a, Some(v)));
    let mut p = json!({"os": os, "architecture": arch});
    if let Some(v) = variant {
        p["variant"] = v.into();
    }
    d.platform = Some(serde_json::from_value(p).unwrap());
    d
}

/// The attacker's own linux/amd64 image manifest M (its own config and layer).
fn attacker_manifest(layout: &Layout) -> Descriptor {
    let layer = layout.put_blob(b"the attacker's layer").unwrap();
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "config": {}});
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.into()),
        artifact_type: None,
        config: put(layout, MEDIA_TYPE_CONFIG, &config),
        layers: vec![Descriptor::of(
            MEDIA_TYPE_LAYER_GZIP,
            b"the attacker's layer",
        )],
        subject: None,
        annotations: BTreeMap::new(),
    };
    assert_eq!(m.layers[0].digest, layer);
    with_platform(put(layout, MEDIA_TYPE_MANIFEST, &m), "linux/amd64")
}

/// The genuine manifest of `platform` as an index entry.
fn genuine_entry(layout: &Layout, platform: &str) -> Descriptor {
    let b = built();
    let (_, d) = b.platforms.iter().find(|(p, _)| p == platform).unwrap();
    let bytes = std::fs::read(layout.blob_path(d)).unwrap();
    with_platform(Descriptor::of(MEDIA_TYPE_MANIFEST, &bytes), platform)
}

/// Writes an index of `manifests`, tags it `attack`, and re-attaches the genuine bundles to
/// it and to every entry (referrer manifests are not signed: anyone can attach).
fn point_tag_at(layout: &Layout, media_type: &str, doc: &Value) -> Digest {
    let d = put(layout, media_type, doc);
    layout.tag("attack", &d).unwrap();
    let mut subjects = vec![d.digest];
    subjects.extend(
        doc["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["digest"].as_str()?.parse().ok())
            .filter(|s: &Digest| layout.has_blob(s)),
    );
    for s in subjects {
        reattach_genuine_bundles(layout, &s);
    }
    d.digest
}

fn reattach_genuine_bundles(layout: &Layout, subject: &Digest) {
    let out = built().dir.join("out");
    for (file, pt) in [
        ("provenance.sigstore.json", SLSA),
        ("sbom.sigstore.json", CDX),
    ] {
        attach(layout, subject, &std::fs::read(out.join(file)).unwrap(), pt);
    }
}

fn index_of(manifests: Vec<Descriptor>) -> Value {
    let mut index = ImageIndex::new();
    index.manifests = manifests;
    serde_json::to_value(index).unwrap()
}

/// `verify REF --key K --format json` plus the genuine expectations and `extra`.
fn verify(reference: &str, extra: &[&str]) -> (i32, Value, String) {
    let b = built();
    let key = b.key.pub_path.display().to_string();
    let mut args = vec![reference, "--key", &key, "--format", "json"];
    args.extend(b.expectations.iter().map(String::as_str));
    args.extend(extra);
    let o = run_verify(&args);
    let report = serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}):\n{}\n{}", o.stdout, o.stderr));
    (o.code, report, o.stderr)
}

/// Asserts exit 1 with a failed `check` whose reason contains every one of `needles`.
fn assert_fails(outcome: &(i32, Value, String), check: &str, needles: &[&str]) {
    let (code, report, stderr) = outcome;
    let pretty = serde_json::to_string_pretty(report).unwrap();
    assert_eq!(*code, 1, "expected exit 1:\n{pretty}\n{stderr}");
    assert_eq!(report["verified"], false, "{pretty}");
    let failed = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == check && c["status"] == "fail")
        .any(|c| {
            let reason = c["reason"].as_str().unwrap();
            needles.iter().all(|n| reason.contains(n))
        });
    assert!(failed, "no failed `{check}` naming {needles:?}:\n{pretty}");
}

fn layout_ref(layout: &Layout, at: &str) -> String {
    format!("oci:{}{at}", layout.root().display())
}

#[test]
fn the_genuine_two_platform_image_verifies_and_each_platform_too() {
    let b = built();
    let reference = format!("oci:{}:attack", b.dir.join("out/oci").display());
    let (code, report, stderr) = verify(&reference, &[]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(b.platforms.len(), 2);
    for (platform, digest) in &b.platforms {
        let by_digest = format!("oci:{}@{digest}", b.dir.join("out/oci").display());
        let (code, report, stderr) = verify(&by_digest, &[]);
        assert_eq!(code, 0, "{platform}: {report:#}\n{stderr}");
    }
}

/// 1a: a new index lists the attacker's manifest M first and the genuine linux/amd64 manifest
/// second; the genuine bundles are re-attached to the new index and to M.
#[test]
fn index_smuggling_fails_by_tag_and_by_digest() {
    let (_tmp, layout) = attacked_layout();
    let m = attacker_manifest(&layout);
    let entries = vec![m.clone(), genuine_entry(&layout, "linux/amd64")];
    let c = point_tag_at(&layout, MEDIA_TYPE_INDEX, &index_of(entries));
    for at in [":attack".to_owned(), format!("@{c}")] {
        let outcome = verify(&layout_ref(&layout, &at), &[]);
        let (m, c) = (m.digest.to_string(), c.to_string());
        assert_fails(&outcome, "require", &["provenance", &m, &c]);
        assert_fails(
            &outcome,
            "require",
            &["sbom", &m, "platform manifest linux/amd64"],
        );
    }
}

/// 1a with `--rebuild`: the rebuilt digests match the provenance's subjects, but not the
/// index being verified.
#[test]
fn index_smuggling_fails_with_rebuild() {
    let b = built();
    let (_tmp, layout) = attacked_layout();
    let m = attacker_manifest(&layout);
    let entries = vec![m.clone(), genuine_entry(&layout, "linux/amd64")];
    let c = point_tag_at(&layout, MEDIA_TYPE_INDEX, &index_of(entries));
    let source = b.repo.display().to_string();
    let outcome = verify(
        &layout_ref(&layout, ":attack"),
        &["--rebuild", "--source", &source],
    );
    assert_fails(
        &outcome,
        "rebuild",
        &[&c.to_string(), "not the rebuilt index"],
    );
    assert_fails(
        &outcome,
        "rebuild",
        &[&m.digest.to_string(), "not a rebuilt platform manifest"],
    );
    assert_fails(&outcome, "require", &[&m.digest.to_string()]);
}

/// 1a, variant: M is marked as a BuildKit attestation manifest to be skipped, but keeps a
/// platform a runtime would pick.
#[test]
fn an_attestation_manifest_with_a_real_platform_is_refused() {
    let (_tmp, layout) = attacked_layout();
    let mut m = attacker_manifest(&layout);
    m.annotations.insert(
        "vnd.docker.reference.type".into(),
        "attestation-manifest".into(),
    );
    let entries = vec![m.clone(), genuine_entry(&layout, "linux/amd64")];
    point_tag_at(&layout, MEDIA_TYPE_INDEX, &index_of(entries));
    let outcome = verify(&layout_ref(&layout, ":attack"), &[]);
    assert_fails(
        &outcome,
        "image",
        &[&m.digest.to_string(), "a runtime could pick it"],
    );
}

/// 1b: the genuine index itself as the second entry of the attacker's index.
#[test]
fn a_nested_index_is_refused() {
    let b = built();
    let (_tmp, layout) = attacked_layout();
    let m = attacker_manifest(&layout);
    let genuine = std::fs::read(layout.blob_path(&b.index)).unwrap();
    let nested = with_platform(Descriptor::of(MEDIA_TYPE_INDEX, &genuine), "linux/amd64");
    point_tag_at(
        &layout,
        MEDIA_TYPE_INDEX,
        &index_of(vec![m.clone(), nested]),
    );
    let outcome = verify(&layout_ref(&layout, ":attack"), &[]);
    assert_fails(&outcome, "image", &[&b.index.to_string(), "nested index"]);
    assert_fails(&outcome, "require", &[&m.digest.to_string()]);
}

/// 1c: an image manifest (the attacker's config and layers) that also lists the genuine
/// platform manifest under `manifests`.
#[test]
fn a_hybrid_document_is_refused() {
    let (_tmp, layout) = attacked_layout();
    let m = attacker_manifest(&layout);
    let mut hybrid: Value =
        serde_json::from_slice(&std::fs::read(layout.blob_path(&m.digest)).unwrap()).unwrap();
    hybrid["manifests"] = json!([genuine_entry(&layout, "linux/amd64")]);
    let d = point_tag_at(&layout, MEDIA_TYPE_MANIFEST, &hybrid);
    for at in [":attack".to_owned(), format!("@{d}")] {
        let outcome = verify(&layout_ref(&layout, &at), &[]);
        assert_fails(&outcome, "image", &[&d.to_string(), "hybrid"]);
    }
    // The same bytes listed in index.json as an index: refused all the same.
    let d = put(&layout, MEDIA_TYPE_INDEX, &hybrid);
    layout.tag("attack", &d).unwrap();
    let outcome = verify(&layout_ref(&layout, ":attack"), &[]);
    assert_fails(&outcome, "image", &[&d.digest.to_string(), "fetched as"]);
}

/// 1d: an index lists M and an entry whose digest is the genuine image's binary (statement
/// subjects include the binaries); the genuine bundles are re-attached.
#[test]
fn a_binary_digest_as_an_index_entry_is_refused() {
    let b = built();
    let (_tmp, layout) = attacked_layout();
    let m = attacker_manifest(&layout);
    // Even with the binary's bytes present in the store under its digest.
    layout.put_blob(&b.binary.1).unwrap();
    let mut entry = with_platform(
        Descriptor::of(MEDIA_TYPE_MANIFEST, &b.binary.1),
        "linux/amd64",
    );
    entry.platform.as_mut().unwrap().variant = Some("v3".into());
    point_tag_at(&layout, MEDIA_TYPE_INDEX, &index_of(vec![m.clone(), entry]));
    let outcome = verify(&layout_ref(&layout, ":attack"), &[]);
    assert_fails(
        &outcome,
        "image",
        &[&b.binary.0.to_string(), "not valid JSON"],
    );
    assert_fails(&outcome, "require", &[&m.digest.to_string()]);
    // The same entry typed as a blob.
    let (_tmp, layout) = attacked_layout();
    let m = attacker_manifest(&layout);
    let mut entry = Descriptor::of("application/octet-stream", &b.binary.1);
    entry = with_platform(entry, "linux/amd64");
    point_tag_at(&layout, MEDIA_TYPE_INDEX, &index_of(vec![m, entry]));
    let outcome = verify(&layout_ref(&layout, ":attack"), &[]);
    assert_fails(
        &outcome,
        "image",
        &[&b.binary.0.to_string(), "not an image manifest"],
    );
}

/// A signed SBOM statement with subjects [the genuine image, X] whose `metadata.component`
/// names X does not pass `sbom-subject` for the genuine image.
#[test]
fn an_sbom_naming_another_subject_is_not_about_this_image() {
    let b = built();
    let (_tmp, layout) = attacked_layout();
    let mut statement = statement_of(&b.dir.join("out/sbom.sigstore.json"));
    let x = Digest::of(b"another image");
    statement["subject"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "x", "digest": {"sha256": x.hex()}}));
    statement["predicate"]["metadata"]["component"]["purl"] =
        format!("pkg:oci/x@sha256%3A{}", x.hex()).into();
    let bundle = b.key.bundle(&statement);
    attach(&layout, &b.index, &bundle, CDX);
    let outcome = verify(&layout_ref(&layout, ":attack"), &[]);
    assert_fails(&outcome, "sbom-subject", &["another image", &x.to_string()]);
}

/// Honest evidence for the index and one platform only: the other platform is named.
#[test]
fn a_platform_without_evidence_fails_and_is_named() {
    let b = built();
    let (_tmp, layout) = attacked_layout();
    // Drop every referrer, then sign statements that leave linux/amd64/v3 out.
    let mut index = layout.index().unwrap();
    index.manifests.retain(|d| d.artifact_type.is_none());
    layout.write_index(&index).unwrap();
    let (_, v3) = b
        .platforms
        .iter()
        .find(|(p, _)| p == "linux/amd64/v3")
        .unwrap();
    for (file, pt) in [
        ("provenance.sigstore.json", SLSA),
        ("sbom.sigstore.json", CDX),
    ] {
        let mut statement = statement_of(&b.dir.join("out").join(file));
        statement["subject"]
            .as_array_mut()
            .unwrap()
            .retain(|s| s["digest"]["sha256"] != v3.hex().as_str());
        let bundle = b.key.bundle(&statement);
        for (_, subject) in std::iter::once(&(String::new(), b.index)).chain(&b.platforms) {
            attach(&layout, subject, &bundle, pt);
        }
    }
    let outcome = verify(&layout_ref(&layout, ":attack"), &[]);
    let v3 = v3.to_string();
    assert_fails(
        &outcome,
        "require",
        &["provenance", "platform manifest linux/amd64/v3", &v3],
    );
    assert_fails(
        &outcome,
        "require",
        &["sbom", "platform manifest linux/amd64/v3", &v3],
    );
    // The platform that has evidence still verifies by its own digest.
    let (_, amd64) = &b.platforms[0];
    let (code, report, _) = verify(&layout_ref(&layout, &format!("@{amd64}")), &[]);
    assert_eq!(code, 0, "{report:#}");
}

/// `cosign verify-attestation --key K --type slsaprovenance1` with `cosign` (2.5 or 3.1),
/// offline (an empty trusted root, no log).
fn cosign_verify_attestation(
    peers: &support::Peers,
    cosign: &Path,
    root: &Path,
    reference: &str,
) -> std::process::Output {
    let mut c = peers.cmd(cosign.to_str().unwrap());
    c.args(["verify-attestation", "--key"])
        .arg(&built().key.pub_path)
        .args([
            "--type",
            "slsaprovenance1",
            "--new-bundle-format",
            "--trusted-root",
        ])
        .arg(root)
        .args([
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
            reference,
        ]);
    c.output().unwrap()
}

/// 1a from the registry, by tag and by digest, beside cosign 2.5 and 3.1 on the same
/// references: both cosigns accept the genuine image and reject the smuggling index, and so
/// do we.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn index_smuggling_from_the_registry_fails_here_and_in_cosign() {
    let peers = support::Peers::get();
    let b = built();
    let (tmp, layout) = attacked_layout();
    let m = attacker_manifest(&layout);
    let entries = vec![m.clone(), genuine_entry(&layout, "linux/amd64")];
    let c = point_tag_at(&layout, MEDIA_TYPE_INDEX, &index_of(entries));
    let repo = peers.unique_repo("attack");
    let genuine = format!("oci:{}:attack", b.dir.join("out/oci").display());
    for (from, to) in [
        (genuine, format!("{repo}:genuine")),
        (layout_ref(&layout, ":attack"), format!("{repo}:attack")),
    ] {
        support::run(
            std::process::Command::new(env!("CARGO_BIN_EXE_cargo-provenance")).args([
                "provenance",
                "push",
                "-q",
                &from,
                &to,
            ]),
        );
    }
    let root = support::empty_trusted_root(tmp.path());
    let cosigns = [peers.root.join("root/usr/bin/cosign"), peers.cosign3()];
    let (genuine_ref, attack_refs) = (
        format!("{repo}:genuine"),
        [format!("{repo}:attack"), format!("{repo}@{c}")],
    );
    let (code, report, stderr) = verify(&genuine_ref, &[]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    for cosign in &cosigns {
        let o = cosign_verify_attestation(&peers, cosign, &root, &genuine_ref);
        assert!(
            o.status.success(),
            "{} accepts the genuine image:\n{}",
            cosign.display(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    for reference in &attack_refs {
        let ours = verify(reference, &[]);
        assert_fails(
            &ours,
            "require",
            &["provenance", &m.digest.to_string(), &c.to_string()],
        );
        for cosign in &cosigns {
            let o = cosign_verify_attestation(&peers, cosign, &root, reference);
            eprintln!(
                "{reference}: ours exit {}, {} exit {:?}: {}",
                ours.0,
                cosign.display(),
                o.status.code(),
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            assert_eq!(
                o.status.code(),
                Some(1),
                "{} must reject {reference}",
                cosign.display()
            );
        }
    }
}

mod legacy_tags;
mod red_team;
