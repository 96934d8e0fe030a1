//! Referrers in OCI layouts (no peers needed), `push` between layouts, and `discover`.
//! Registry tests (distribution 2.8 fallback path, the referrers-API registry, concurrency,
//! chaos) are in `tests/it/referrers_registry.rs`.

use crate::support;
use crate::support::oci as oci_support;

use std::collections::BTreeSet;

use cargo_provenance::formats::oci::{ANNOTATION_REF_NAME, Descriptor};
use cargo_provenance::oci::layout::Layout;
use cargo_provenance::oci::store::Store;
use cargo_provenance::publish::{self, BundleInfo, Role};
use cargo_provenance::util::digest::Digest;
use oci_support::{Signer, layout_files, make_image};

pub const SLSA: &str = "https://slsa.dev/provenance/v1";
pub const CDX: &str = "https://cyclonedx.org/bom";

/// Signs a provenance and an SBOM statement about the image's subjects and attaches both to
/// the index and every platform manifest. Returns the referrer descriptors.
fn attach_both(store: &Store, signer: &Signer, image: &Descriptor, name: &str) -> Vec<Descriptor> {
    let subjects = publish::image_subjects(store, image, name).unwrap();
    let names: Vec<(String, Digest)> = subjects
        .iter()
        .map(|s| (s.name.clone(), s.descriptor.digest))
        .collect();
    let prov = signer.bundle(
        &names,
        SLSA,
        serde_json::json!({"buildDefinition": {"buildType": "https://example.com/t", "externalParameters": {"a": 1}}, "runDetails": {"builder": {"id": "https://example.com/b"}}}),
    );
    let sbom = signer.bundle(
        &names,
        CDX,
        serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.5"}),
    );
    let mut out = Vec::new();
    for (bundle, pt) in [(&prov, SLSA), (&sbom, CDX)] {
        let info = BundleInfo {
            bundle_json: bundle,
            predicate_type: pt,
            role: Role::ImageAttestation,
            created: "2024-01-02T03:04:05Z",
        };
        out.extend(publish::attach_to_image(store, image, name, &info).unwrap());
    }
    out
}

fn untagged(l: &Layout) -> Vec<Descriptor> {
    l.index()
        .unwrap()
        .manifests
        .into_iter()
        .filter(|d| !d.annotations.contains_key(ANNOTATION_REF_NAME))
        .collect()
}

#[test]
fn layout_referrers_on_index_and_every_platform_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    let (index, platforms) = make_image(&layout, "v1", &["linux/amd64", "linux/amd64/v3"], "a");
    let store = Store::Layout(layout.clone());
    let signer = Signer::new();
    let refs = attach_both(&store, &signer, &index, "example/app");
    assert_eq!(refs.len(), 6, "2 statements x (index + 2 platforms)");
    assert_eq!(untagged(&layout).len(), 6);
    for subject in std::iter::once(&index).chain(platforms.iter()) {
        let r = store.referrers(&subject.digest).unwrap();
        let types: BTreeSet<_> = r
            .iter()
            .map(|d| d.annotations[publish::ANNOTATION_PREDICATE_TYPE].clone())
            .collect();
        assert_eq!(
            types,
            BTreeSet::from([CDX.to_owned(), SLSA.to_owned()]),
            "{}",
            subject.digest
        );
        for d in &r {
            assert_eq!(d.artifact_type.as_deref(), Some(publish::MEDIA_TYPE_BUNDLE));
            assert_eq!(d.annotations[publish::ANNOTATION_ROLE], "image-attestation");
        }
    }
    // Re-running never duplicates, and the image is untouched.
    // (RFC 6979 signatures: the same statement gives the same bundle and referrers.)
    let index_json = std::fs::read(dir.path().join("index.json")).unwrap();
    let again = attach_both(&store, &signer, &index, "example/app");
    assert_eq!(again, refs);
    assert_eq!(
        std::fs::read(dir.path().join("index.json")).unwrap(),
        index_json
    );
    assert_eq!(layout.resolve_tag("v1").unwrap().digest, index.digest);
}

#[test]
fn reattaching_the_same_bundle_is_idempotent_and_later_referrers_leave_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    let (index, _) = make_image(&layout, "v1", &["linux/amd64"], "b");
    let store = Store::Layout(layout.clone());
    let signer = Signer::new();
    let bundle = signer.bundle(&[("x".into(), index.digest)], SLSA, serde_json::json!({}));
    let info = BundleInfo {
        bundle_json: &bundle,
        predicate_type: SLSA,
        role: Role::ImageAttestation,
        created: "2024-01-02T03:04:05Z",
    };
    let first = publish::attach_to_image(&store, &index, "x", &info).unwrap();
    let before: Vec<Descriptor> = untagged(&layout);
    let second = publish::attach_to_image(&store, &index, "x", &info).unwrap();
    assert_eq!(first, second);
    assert_eq!(
        untagged(&layout),
        before,
        "same bundle again: nothing changes"
    );
    // A later VEX referrer: tag, index digest and earlier referrers unchanged.
    let vex = signer.bundle(
        &[("x".into(), index.digest)],
        "https://openvex.dev/ns/v0.2.0",
        serde_json::json!({}),
    );
    let vinfo = BundleInfo {
        bundle_json: &vex,
        predicate_type: "https://openvex.dev/ns/v0.2.0",
        role: Role::Vex,
        created: "2024-02-02T00:00:00Z",
    };
    publish::attach_bundle(&store, &index, "x", &vinfo).unwrap();
    assert_eq!(layout.resolve_tag("v1").unwrap().digest, index.digest);
    let after = untagged(&layout);
    assert_eq!(after.len(), before.len() + 1);
    for d in &before {
        assert!(after.contains(d), "earlier referrer {} kept", d.digest);
    }
}

#[test]
fn concurrent_layout_attaches_keep_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    let (index, _) = make_image(&layout, "v1", &["linux/amd64"], "c");
    let signer = std::sync::Arc::new(Signer::new());
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (root, signer, index) = (dir.path().to_owned(), signer.clone(), index.clone());
            std::thread::spawn(move || {
                let store = Store::Layout(Layout::open(&root).unwrap());
                let b = signer.bundle(
                    &[(format!("n{i}"), index.digest)],
                    SLSA,
                    serde_json::json!({"i": i}),
                );
                let info = BundleInfo {
                    bundle_json: &b,
                    predicate_type: SLSA,
                    role: Role::ImageAttestation,
                    created: "2024-01-02T03:04:05Z",
                };
                publish::attach_bundle(&store, &index, &format!("n{i}"), &info).unwrap()
            })
        })
        .collect();
    let descs: BTreeSet<Digest> = threads
        .into_iter()
        .map(|t| t.join().unwrap().digest)
        .collect();
    let listed: BTreeSet<Digest> = Store::Layout(layout.clone())
        .referrers(&index.digest)
        .unwrap()
        .iter()
        .map(|d| d.digest)
        .collect();
    assert_eq!(descs.len(), 8);
    assert_eq!(listed, descs);
    assert_eq!(untagged(&layout).len(), 8);
}

#[test]
fn push_layout_to_layout_copies_everything_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let layout = Layout::create(&src).unwrap();
    let (index, _) = make_image(&layout, "v1", &["linux/amd64", "linux/arm64"], "d");
    attach_both(&Store::Layout(layout), &Signer::new(), &index, "app");
    let dst = dir.path().join("dst");
    support::cargo_provenance()
        .args([
            "push",
            &format!("oci:{}:v1", src.display()),
            &format!("oci:{}", dst.display()),
        ])
        .assert()
        .success();
    assert_eq!(layout_files(&src), layout_files(&dst));
}

#[test]
fn discover_lists_a_layout_tree_and_json_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    let (index, _) = make_image(&layout, "v1", &["linux/amd64"], "e");
    let refs = attach_both(&Store::Layout(layout), &Signer::new(), &index, "app");
    let r = format!("oci:{}:v1", dir.path().display());
    let out = support::cargo_provenance()
        .args(["discover", &r])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains(publish::MEDIA_TYPE_BUNDLE), "{text}");
    assert!(
        text.contains(SLSA) && text.contains(CDX) && text.contains("(image-attestation)"),
        "{text}"
    );
    let out = support::cargo_provenance()
        .args(["discover", &r, "--format", "json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["digest"], index.digest.to_string());
    let listed: BTreeSet<String> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = refs
        .iter()
        .filter(|d| !d.annotations[publish::ANNOTATION_SUBJECT_NAME].contains('['))
        .map(|d| d.digest.to_string())
        .collect();
    assert_eq!(expected.len(), 2);
    assert_eq!(listed, expected);
    let out = support::cargo_provenance()
        .args([
            "discover",
            &r,
            "--format",
            "json",
            "--artifact-type",
            "application/x-nothing",
        ])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 0);
    // Errors name the reference.
    let out = support::cargo_provenance()
        .args(["discover", "oci:/nonexistent/x:v1"])
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("/nonexistent/x"));
}

/// cosign's legacy `.sig` tags (`build --legacy-signature-tag`): a layout holding them still
/// resolves `oci:PATH` to its one image; `push` carries them; pushing another signer's
/// signature of the same image onto them merges the layers (as `cosign sign` appends), and
/// pushing again adds nothing.
#[test]
fn legacy_signature_tags_travel_and_merge() {
    use cargo_provenance::formats::cosign_legacy::{SIGNATURE_ANNOTATION, legacy_tag};
    use cargo_provenance::keys::PrivateKey;
    use cargo_provenance::oci::reference::Reference;
    use cargo_provenance::oci::registry::Options;
    use cargo_provenance::publish::copy::push;
    use cargo_provenance::publish::legacy_signature::sign_image_legacy;
    use cargo_provenance::sign::KeySigner;

    let dir = tempfile::tempdir().unwrap();
    let signed_layout = |name: &str| {
        let layout = Layout::create(&dir.path().join(name)).unwrap();
        let (index, _) = make_image(&layout, "v1", &["linux/amd64"], "legacy");
        let store = Store::Layout(layout.clone());
        let subjects = publish::image_subjects(&store, &index, "app").unwrap();
        let signer = KeySigner::new(PrivateKey::generate());
        let signed = sign_image_legacy(&store, &subjects, &signer, "reg.example/app:v1").unwrap();
        assert_eq!(signed.len(), 2, "the index and its platform manifest");
        (layout, index)
    };
    let (ours, index) = signed_layout("ours");
    let (theirs, their_index) = signed_layout("theirs");
    assert_eq!(index, their_index);
    let oci = |l: &Layout| format!("oci:{}", l.root().display());
    let store = Store::Layout(ours.clone());
    assert_eq!(
        store
            .resolve(&Reference::parse(&oci(&ours)).unwrap())
            .unwrap()
            .digest,
        index.digest,
        "the .sig tags do not make oci:PATH ambiguous"
    );

    let dst = dir.path().join("dst");
    let to_dst = format!("oci:{}", dst.display());
    let opts = Options::default();
    let (_, report) = push(&oci(&ours), &to_dst, &opts, &|_| {}).unwrap();
    assert_eq!(report.legacy_tags, 2);
    let (_, report) = push(&oci(&theirs), &to_dst, &opts, &|_| {}).unwrap();
    assert_eq!(report.legacy_tags, 2, "merged into both tags");
    let (_, report) = push(&oci(&ours), &to_dst, &opts, &|_| {}).unwrap();
    assert_eq!(report.legacy_tags, 0, "nothing new");

    let dst = Store::Layout(Layout::open(&dst).unwrap());
    let (bytes, _) = dst
        .find_tag(&legacy_tag(&index.digest, "sig"))
        .unwrap()
        .unwrap();
    let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let sigs: BTreeSet<&str> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["annotations"][SIGNATURE_ANNOTATION].as_str().unwrap())
        .collect();
    assert_eq!(sigs.len(), 2, "both signers' layers: {m}");
    let diff_ids = {
        let c = &m["config"];
        let digest: Digest = c["digest"].as_str().unwrap().parse().unwrap();
        let config: serde_json::Value =
            serde_json::from_slice(&dst.get_blob(&digest, c["size"].as_u64().unwrap()).unwrap())
                .unwrap();
        config["rootfs"]["diff_ids"].as_array().unwrap().len()
    };
    assert_eq!(diff_ids, 2, "the config names both layers");
}
