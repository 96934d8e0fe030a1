//! Referrers listings rewritten by someone who can push tags but holds no key: the fallback
//! tag (`sha256-<hex>`) is anyone's to write. Whatever they put there must neither pass as
//! evidence nor hide the genuine entries beside it.

use base64::Engine as _;
use serde_json::{Value, json};

use super::manifest_json;
use crate::support::Peers;
use crate::support::verify_fixture::*;

/// `curl` against the test registry's `/v2/NAME/manifests/REFERENCE` of `repo`
/// (`HOST/NAME`), with `args` before the URL; asserts it succeeded.
fn curl_manifest(repo: &str, reference: &str, args: &[&str]) {
    let (host, name) = repo.split_once('/').unwrap();
    let out = std::process::Command::new("curl")
        .arg("-fsS")
        .args(args)
        .arg(format!("http://{host}/v2/{name}/manifests/{reference}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {} {reference}: {out:?}",
        args[1]
    );
}

/// Puts `index` under the tag `tag` of `repo`.
fn put_index(repo: &str, tag: &str, index: &Value) {
    let body = serde_json::to_string(index).unwrap();
    let content_type = "Content-Type: application/vnd.oci.image.index.v1+json";
    curl_manifest(
        repo,
        tag,
        &["-X", "PUT", "-H", content_type, "--data-binary", &body],
    );
}

/// A signed image pushed to a fresh repository, and the fallback tag of each of its
/// subjects (the index and each platform manifest) with the listing it holds.
fn pushed(name: &str) -> (Fixture, String, Vec<(String, Value)>) {
    let f = Fixture::signed();
    let repo = Peers::get().unique_repo(name);
    f.push(&format!("{repo}:v1"));
    let listings = std::iter::once(&f.img.index)
        .chain(&f.img.platforms)
        .map(|s| {
            let tag = format!("sha256-{}", s.hex());
            let listing = manifest_json(&repo, &tag);
            (tag, listing)
        })
        .collect();
    (f, repo, listings)
}

/// Entries that do not parse (negative sizes, which the registry takes) in each
/// fallback index: the entries beside it are still read, and verify passes, saying what it
/// skipped. Before, the whole listing failed to parse and verify stopped with exit 2.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn an_entry_that_does_not_parse_does_not_hide_the_others() {
    let (f, repo, listings) = pushed("verify-bad-entry");
    for (tag, mut listing) in listings {
        let entries = listing["manifests"].as_array_mut().unwrap();
        let mut bad = entries[0].clone();
        bad["size"] = json!(-1);
        let mut junk = entries[0].clone();
        junk["size"] = json!(i64::MIN);
        entries.splice(0..0, [bad, junk]);
        put_index(&repo, &tag, &listing);
    }
    f.verify_with(
        &format!("{repo}:v1"),
        &f.key.pub_path,
        &["--require", "provenance,sbom"],
    )
    .passes()
    .says("2 of its entries do not parse and were skipped");
}

/// A fallback tag that holds an image manifest, not an index: its subject's listing is
/// reported and set aside, and what the other subjects' listings hold is still checked.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn a_fallback_tag_holding_no_index_is_set_aside() {
    let (f, repo, listings) = pushed("verify-tag-no-index");
    let (tag, _) = &listings[0];
    let platform = format!("sha256:{}", &listings[1].0["sha256-".len()..]);
    let manifest = manifest_json(&repo, &platform);
    let body = serde_json::to_string(&manifest).unwrap();
    let content_type = "Content-Type: application/vnd.oci.image.manifest.v1+json";
    curl_manifest(
        &repo,
        tag,
        &["-X", "PUT", "-H", content_type, "--data-binary", &body],
    );
    let dest = format!("{repo}:v1");
    f.verify_with(&dest, &f.key.pub_path, &["--require", "provenance,sbom"])
        .passes()
        .says("is not an image index");
    f.verify_with(&dest, &f.other.pub_path, &[])
        .fails("require");
}

/// An entry listed ahead of the genuine one, with its digest but forged inline `data`,
/// does not shadow the genuine entry's inline copy: with the registry's own copies of the
/// referrer manifests deleted, verify still reads them from the genuine entries and passes.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn a_forged_entry_listed_first_does_not_shadow_the_genuine_inline_copy() {
    let (f, repo, listings) = pushed("verify-shadowed");
    let forged = base64::engine::general_purpose::STANDARD.encode(br#"{"schemaVersion":2}"#);
    let mut referrers = Vec::new();
    for (tag, mut listing) in listings {
        let entries = listing["manifests"].as_array_mut().unwrap();
        let mut out = Vec::new();
        for genuine in entries.drain(..) {
            let mut fake = genuine.clone();
            fake["data"] = json!(forged);
            referrers.push(genuine["digest"].as_str().unwrap().to_owned());
            out.extend([fake, genuine]);
        }
        *entries = out;
        put_index(&repo, &tag, &listing);
    }
    referrers.sort();
    referrers.dedup();
    for digest in &referrers {
        curl_manifest(&repo, digest, &["-X", "DELETE"]);
    }
    let dest = format!("{repo}:v1");
    f.verify_with(&dest, &f.key.pub_path, &["--require", "provenance,sbom"])
        .passes();
    f.verify_with(&dest, &f.other.pub_path, &[])
        .fails("require");
}
