//! Found by the red-team passes over the rule (each was a hang, a confusing result or a way
//! to make two tools disagree; none verified an attacker's image).

use super::*;

/// Two `index.json` entries carry the same tag, the attacker's after the genuine one
/// (containerd's import takes the last): the tag is ambiguous and refused, by either
/// annotation.
#[test]
fn a_tag_on_two_images_in_a_layout_is_refused() {
    for annotation in [
        "org.opencontainers.image.ref.name",
        "io.containerd.image.name",
    ] {
        let (_tmp, layout) = attacked_layout();
        let m = attacker_manifest(&layout);
        let mut index = layout.index().unwrap();
        let mut entry = m.clone();
        entry.platform = None;
        let value = if annotation.starts_with("io.") {
            "docker.io/library/hello:attack"
        } else {
            "attack"
        };
        entry.annotations.insert(annotation.into(), value.into());
        index.manifests.push(entry);
        layout.write_index(&index).unwrap();
        let key = built().key.pub_path.display().to_string();
        let o = run_verify(&[&layout_ref(&layout, ":attack"), "--key", &key]);
        assert_eq!(o.code, 2, "{}", o.stderr);
        assert!(o.stderr.contains("ambiguous"), "{}", o.stderr);
        assert!(o.stderr.contains(&m.digest.to_string()), "{}", o.stderr);
    }
}

/// Replaces the file at `path` by a FIFO (`kind` "fifo") or a link to `target` ("link").
fn replace_with_special(path: &Path, kind: &str, target: &str) {
    std::fs::remove_file(path).unwrap();
    if kind == "fifo" {
        let ok = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(ok.success());
    } else {
        std::os::unix::fs::symlink(target, path).unwrap();
    }
}

/// A referrer whose bundle layer is a FIFO (reading it would block forever) or a link to a
/// file of this machine (reading it would print its hash): neither is opened.
#[test]
fn blobs_that_are_not_regular_files_are_not_opened() {
    let b = built();
    for kind in ["fifo", "link"] {
        let (_tmp, layout) = attacked_layout();
        let fake = b"x".repeat(40);
        let (_, layer) = verify_fixture::attach_raw(&layout, &b.index, &fake, SLSA);
        replace_with_special(&layout.blob_path(&layer), kind, "/etc/hostname");
        let (code, report, stderr) = verify(&layout_ref(&layout, ":attack"), &[]);
        assert_eq!(code, 0, "{kind}: {report:#}\n{stderr}");
        let text = report.to_string();
        assert!(text.contains("not a regular file"), "{kind}: {report:#}");
    }
}

/// A cosign `.sig` tag on two different manifests of a layout is ambiguous and refused, as
/// an image tag is (the verifier took the first entry), once verify reads cosign's tags:
/// when the referrers leave the image unverified (here a builder id they do not carry). The
/// image verified by its referrers reads no tag, and the ambiguous one does not matter.
#[test]
fn a_cosign_tag_on_two_manifests_in_a_layout_is_refused() {
    let b = built();
    let (_tmp, layout) = attacked_layout();
    let m = attacker_manifest(&layout);
    let mut index = layout.index().unwrap();
    let tag = format!("sha256-{}.sig", b.index.hex());
    let mut first = index.manifests[0].clone();
    let mut second = m.clone();
    for e in [&mut first, &mut second] {
        e.platform = None;
        e.annotations.clear();
        e.annotations
            .insert("org.opencontainers.image.ref.name".into(), tag.clone());
    }
    assert_ne!(first.digest, second.digest);
    index.manifests.extend([first, second]);
    layout.write_index(&index).unwrap();
    let key = b.key.pub_path.display().to_string();
    let image = layout_ref(&layout, ":attack");
    let o = run_verify(&[&image, "--key", &key]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!o.stdout.contains(&tag), "{o:?}");
    let o = run_verify(&[
        &image,
        "--key",
        &key,
        "--builder-id",
        "https://other.example",
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("ambiguous"), "{o:?}");
    assert!(o.stderr.contains(&tag), "{o:?}");
}

/// A layout whose `index.json` is a FIFO (reading it would block forever) or a link to an
/// endless device (reading it would exhaust memory): refused before it is read, exit 2.
#[test]
fn an_index_json_that_is_not_a_regular_file_is_not_read() {
    for kind in ["fifo", "link"] {
        let (_tmp, layout) = attacked_layout();
        replace_with_special(&layout.root().join("index.json"), kind, "/dev/zero");
        let b = built();
        let key = b.key.pub_path.display().to_string();
        let o = run_verify(&[&layout_ref(&layout, ":attack"), "--key", &key]);
        assert_eq!(o.code, 2, "{kind}: {o:?}");
        assert!(o.stderr.contains("not a regular file"), "{kind}: {o:?}");
        assert!(o.stderr.contains("index.json"), "{kind}: {o:?}");
    }
}

/// A referrer whose bundle layer is missing is set aside (`ignored`), not an input error: the
/// genuine evidence still verifies.
#[test]
fn a_dangling_referrer_is_set_aside() {
    let b = built();
    let (_tmp, layout) = attacked_layout();
    let (_, layer) = verify_fixture::attach_raw(&layout, &b.index, b"dangling", SLSA);
    std::fs::remove_file(layout.blob_path(&layer)).unwrap();
    let (code, report, stderr) = verify(&layout_ref(&layout, ":attack"), &[]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert!(
        report.to_string().contains("is not in the store"),
        "{report:#}"
    );
}

/// A copy of the genuine provenance referrer announcing another predicate type (a decoy
/// meant to be read first) does not hide the genuine one: the decoy fails
/// `predicate-type`, and the genuine provenance still counts.
#[test]
fn a_decoy_referrer_does_not_hide_the_genuine_one() {
    let b = built();
    let (_tmp, layout) = attacked_layout();
    let bundle = std::fs::read(b.dir.join("out/provenance.sigstore.json")).unwrap();
    verify_fixture::attach_raw(&layout, &b.index, &bundle, CDX);
    let outcome = verify(&layout_ref(&layout, ":attack"), &[]);
    assert_fails(&outcome, "predicate-type", &["announces"]);
    let failed_require = outcome.1["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["check"] == "require" && c["status"] == "fail");
    assert!(!failed_require, "{:#}", outcome.1);
}

/// The layout's `index.json` entry for the tag says another size than the index has.
#[test]
fn a_tag_entry_with_the_wrong_size_is_refused() {
    let b = built();
    let (_tmp, layout) = attacked_layout();
    let mut index = layout.index().unwrap();
    for d in &mut index.manifests {
        if d.digest == b.index {
            d.size += 1;
        }
    }
    layout.write_index(&index).unwrap();
    let outcome = verify(&layout_ref(&layout, ":attack"), &[]);
    assert_fails(&outcome, "image", &["the layout lists it with"]);
}

/// Tags `sha256-<subject>.sig` with a cosign 2.x signature manifest whose one layer is the
/// simple-signing payload naming `named`, signed by `key`.
fn legacy_sig(layout: &Layout, subject: &Digest, named: &Digest, key: &verify_fixture::Key) {
    use base64::Engine as _;
    use cargo_provenance::formats::cosign_legacy as legacy;
    let payload = legacy::simple_signing_payload("example/hello", named);
    layout.put_blob(&payload).unwrap();
    let sig = key.signer.sign(&payload).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(sig);
    let (manifest, config) =
        legacy::signature_manifest(vec![legacy::signature_layer(&payload, &b64)]);
    layout.put_blob(&config).unwrap();
    layout.put_blob(&manifest).unwrap();
    let d = Descriptor::of(legacy::MANIFEST_MEDIA_TYPE, &manifest);
    layout.tag(&legacy::legacy_tag(subject, "sig"), &d).unwrap();
}

/// cosign 2.x `.sig` tags are reported (`cosign-signature`), never counted: genuine legacy
/// signatures by the key on every part do not satisfy `--require signature` (cosign's image
/// signature is the `cosign/sign/v1` attestation); a legacy signature by the key that names
/// another digest (another part's, moved under this tag) fails. Verify reads the tags only
/// when the referrers leave the image unverified (or with `--all-evidence`): with the
/// provenance they carry, it reads none, and the moved signature is not seen.
#[test]
fn a_legacy_sig_tag_is_reported_never_counted() {
    let f = verify_fixture::Fixture::signed();
    let parts: Vec<Digest> = std::iter::once(f.img.index)
        .chain(f.img.platforms.iter().copied())
        .collect();
    for p in &parts {
        legacy_sig(&f.layout, p, p, &f.key);
    }
    let with_signature = ["--require", "provenance,signature"];
    let o = f.verify(&with_signature);
    o.fails_only(&["require"]).says("signature");
    let passes = o
        .stdout
        .lines()
        .filter(|l| l.starts_with("  pass    cosign-signature"))
        .count();
    assert_eq!(passes, parts.len(), "{}", o.stdout);
    let o = f.verify(&[]);
    o.passes();
    assert!(!o.stdout.contains("cosign-signature"), "{}", o.stdout);
    // The first platform's tag now holds the second platform's signature.
    legacy_sig(&f.layout, &parts[1], &parts[2], &f.key);
    f.verify(&with_signature)
        .fails_only(&["cosign-signature", "require"])
        .says(&parts[2].to_string());
    f.verify(&[]).passes();
    f.verify(&["--all-evidence"])
        .fails_only(&["cosign-signature"])
        .says(&parts[2].to_string());
    // Signed by another key: set aside, not a failure.
    legacy_sig(&f.layout, &parts[1], &parts[2], &f.other);
    f.verify(&with_signature).fails_only(&["require"]);
}

/// The empty config descriptor attestation manifests carry.
fn empty_config() -> Value {
    json!({"mediaType": "application/vnd.oci.empty.v1+json",
           "digest": Digest::of(b"{}").to_string(), "size": 2})
}

/// Found by the hands-on attack (F1): untagged manifests in `index.json`, each near the
/// 4 MiB bound, that name some subject. The referrer search reads each of them: they now
/// count against the read bound (256 MiB), and verify stops (exit 2). Before, they were read
/// uncounted, their annotations kept, and the image verified.
#[test]
fn padded_manifests_in_a_layout_count_against_the_read_bound() {
    let b = built();
    let (_tmp, layout) = attacked_layout();
    let pad = "p".repeat((4 << 20) - 1024);
    for i in 0..66 {
        let m = json!({"schemaVersion": 2, "mediaType": MEDIA_TYPE_MANIFEST,
                       "config": empty_config(), "layers": [],
                       "subject": {"mediaType": MEDIA_TYPE_MANIFEST, "size": 2,
                                   "digest": Digest::of(format!("{i}").as_bytes()).to_string()},
                       "annotations": {"pad": pad}});
        let d = put(&layout, MEDIA_TYPE_MANIFEST, &m);
        layout.add_untagged(&d).unwrap();
    }
    let key = b.key.pub_path.display().to_string();
    let o = run_verify(&[&layout_ref(&layout, ":attack"), "--key", &key]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("read more than 256 MiB"), "{o:?}");
}

/// Found by the hands-on attack (F2): a BuildKit attestation manifest whose 64 layers all
/// name one blob that fails its digest, listed 12 times in the index. The blob is read and
/// hashed once (a failed read is remembered and counted), so verify ends with its verdict
/// (exit 1: the index is not signed) instead of passing the read bound. Before, it was
/// read 768 times (6 GiB hashed here; 24 GiB and 50 s with 32 MiB).
#[test]
fn a_bad_blob_named_again_and_again_is_read_once() {
    const SIZE: usize = 8 << 20;
    let b = built();
    let (_tmp, layout) = attacked_layout();
    let named = Digest::of(b"the blob every layer names");
    std::fs::write(layout.blob_path(&named), vec![0u8; SIZE]).unwrap();
    let layer = json!({"mediaType": "application/vnd.in-toto+json",
                       "digest": named.to_string(), "size": SIZE});
    let att = put(
        &layout,
        MEDIA_TYPE_MANIFEST,
        &json!({"schemaVersion": 2, "mediaType": MEDIA_TYPE_MANIFEST,
                "config": empty_config(), "layers": vec![layer; 64]}),
    );
    let genuine: ImageIndex = serde_json::from_slice(&layout.get_blob(&b.index).unwrap()).unwrap();
    let platform = genuine.manifests[0].clone();
    let mut entries = vec![serde_json::to_value(&platform).unwrap()];
    for _ in 0..12 {
        entries.push(
            json!({"mediaType": MEDIA_TYPE_MANIFEST, "digest": att.digest.to_string(),
            "size": att.size, "platform": {"architecture": "unknown", "os": "unknown"},
            "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                            "vnd.docker.reference.digest": platform.digest.to_string()}}),
        );
    }
    let index = put(
        &layout,
        MEDIA_TYPE_INDEX,
        &json!({"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX, "manifests": entries}),
    );
    layout.tag("bk", &index).unwrap();
    let key = b.key.pub_path.display().to_string();
    let o = run_verify(&[&layout_ref(&layout, ":bk"), "--key", &key]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(!o.stderr.contains("read more than"), "{o:?}");
}
