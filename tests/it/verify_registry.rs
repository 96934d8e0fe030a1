//! Verify against the real distribution registry (no referrers API: fallback tags) and
//! cosign's own attestations: our referrers pushed with `push`, cosign's legacy `.att`/`.sig`
//! tags, and cosign's bundle referrers (`--new-bundle-format`).

mod listings;

use crate::support;
use crate::support::verify_fixture;

use std::path::Path;

use support::{Peers, Tier};
use verify_fixture::*;

fn cosign(tier: &Tier, dir: &Path, args: &[&str]) -> String {
    let mut c = tier.cosign();
    c.current_dir(dir)
        .env("COSIGN_PASSWORD", "pw")
        .env("COSIGN_YES", "true")
        .args(args);
    support::run(&mut c)
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn registry_image_with_our_referrers_verifies_and_fails_closed() {
    let peers = Peers::get();
    let f = Fixture::signed();
    let dest = format!("{}:v1", peers.unique_repo("verify-ours"));
    f.push(&dest);
    f.verify_with(
        &dest,
        &f.key.pub_path,
        &["--require", "provenance,sbom", "--source-commit", COMMIT],
    )
    .passes()
    .says("VERIFIED");
    f.verify_with(&dest, &f.other.pub_path, &[])
        .fails("require");
    f.verify_with(&dest, &f.key.pub_path, &["--builder-id", "https://other"])
        .fails("builder-id");
    // By platform manifest digest: the statements attached there verify too.
    let by_platform = format!(
        "{}@{}",
        dest.rsplit_once(':').unwrap().0,
        f.img.platforms[1]
    );
    f.verify_with(
        &by_platform,
        &f.key.pub_path,
        &["--require", "provenance,sbom"],
    )
    .passes();
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn cosign_legacy_tags_and_bundle_referrers_are_found() {
    let peers = Peers::get();
    for tier in peers.tiers() {
        legacy_tags_and_bundle_referrers(&peers, &tier);
    }
}

/// The legacy flags of `cosign attest|sign` for `tier`: cosign 2.5 writes `.att`/`.sig` tags
/// by default; cosign 3.1 only with the bundle format and the signing config turned off.
fn legacy_flags(tier: &Tier) -> Vec<&'static str> {
    let mut v = vec!["--tlog-upload=false"];
    if tier.is_current() {
        v.extend(["--new-bundle-format=false", "--use-signing-config=false"]);
    }
    v
}

fn legacy_tags_and_bundle_referrers(peers: &Peers, tier: &Tier) {
    let f = Fixture::bare();
    let repo = peers.unique_repo("verify-cosign");
    let dest = format!("{repo}:v1");
    f.push(&dest);
    let dir = f.dir.path();
    cosign(tier, dir, &["generate-key-pair"]);
    let predicate = provenance(&f.img.subjects())["predicate"].clone();
    std::fs::write(
        dir.join("predicate.json"),
        serde_json::to_vec(&predicate).unwrap(),
    )
    .unwrap();
    let pinned = format!("{repo}@{}", f.img.index);
    let sign_flags = tier.sign_flags(dir);
    let attest = |at: &str, predicate: &str, bundles: bool| {
        let mut args = vec![
            "attest",
            "--key",
            "cosign.key",
            "--type",
            "slsaprovenance1",
            "--predicate",
            predicate,
            "--allow-http-registry",
        ];
        if bundles {
            args.push("--new-bundle-format");
            args.extend(sign_flags.iter().map(String::as_str));
        } else {
            args.extend(legacy_flags(tier));
        }
        args.push(at);
        cosign(tier, dir, &args);
    };
    // Legacy: `.att` and `.sig` tags. cosign attests the digest it is given: an attestation
    // of the index alone does not vouch for its platform manifests (docs/verify.md).
    attest(&pinned, "predicate.json", false);
    let key = dir.join("cosign.pub");
    f.verify_with(&dest, &key, &["--source-commit", COMMIT])
        .fails("require")
        .says("platform manifest linux/amd64");
    for p in &f.img.platforms {
        attest(&format!("{repo}@{p}"), "predicate.json", false);
    }
    let mut sign = vec!["sign", "--key", "cosign.key", "--allow-http-registry"];
    sign.extend(legacy_flags(tier));
    sign.push(&pinned);
    cosign(tier, dir, &sign);
    let o = f.verify_with(&dest, &key, &["--source-commit", COMMIT]);
    o.passes().says(".att#0").says("cosign-signature");
    // The same with another key: nothing counts.
    f.verify_with(&dest, &f.key.pub_path, &[]).fails("require");

    // cosign's bundle referrers on a second image.
    let g = Fixture::bare();
    let dest2 = format!("{}:v1", peers.unique_repo("verify-cosign-bundle"));
    g.push(&dest2);
    let pinned2 = format!("{}@{}", dest2.rsplit_once(':').unwrap().0, g.img.index);
    let predicate = provenance(&g.img.subjects())["predicate"].clone();
    std::fs::write(
        dir.join("predicate2.json"),
        serde_json::to_vec(&predicate).unwrap(),
    )
    .unwrap();
    let repo2 = dest2.rsplit_once(':').unwrap().0;
    for at in std::iter::once(pinned2.clone())
        .chain(g.img.platforms.iter().map(|p| format!("{repo2}@{p}")))
    {
        attest(&at, "predicate2.json", true);
    }
    let o = g.verify_with(&dest2, &key, &["--format", "json"]);
    o.passes();
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["attestations"][0]["foundAs"], "referrer", "{}", o.stdout);
    assert_eq!(v["attestations"][0]["verified"], true, "{}", o.stdout);

    // cosign 3's image signature (a `sign/v1` bundle referrer on every digest) satisfies
    // `--require signature`; cosign 2.5 signs only in the legacy form (above), which verify
    // reports but does not count for it.
    if tier.is_current() {
        g.verify_with(&dest2, &key, &["--require", "signature"])
            .fails("require");
        for at in std::iter::once(pinned2.clone())
            .chain(g.img.platforms.iter().map(|p| format!("{repo2}@{p}")))
        {
            let mut sign = vec!["sign", "--key", "cosign.key", "--allow-http-registry"];
            sign.extend(sign_flags.iter().map(String::as_str));
            sign.push(&at);
            cosign(tier, dir, &sign);
        }
        g.verify_with(&dest2, &key, &["--require", "signature"])
            .passes();
        g.verify_with(&dest2, &f.key.pub_path, &["--require", "signature"])
            .fails("require");
    }
}

/// The registry with the OCI referrers API (ferro-oci-server): `FERRO_REG` as
/// `scripts/test.sh` exports it, else started with `scripts/referrers-registry.sh` on its
/// default address.
fn referrers_api_registry() -> String {
    if let Ok(r) = std::env::var("FERRO_REG") {
        return r;
    }
    let addr = "127.0.0.1:5077";
    let up = std::process::Command::new("curl")
        .args(["-fs", &format!("http://{addr}/v2/")])
        .output()
        .is_ok_and(|o| o.status.success());
    if up {
        return addr.to_owned();
    }
    let script = support::repo_root().join("scripts/referrers-registry.sh");
    let mut start = std::process::Command::new("bash");
    start
        .arg(&script)
        .arg("start")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let status = start.status().unwrap();
    assert!(
        status.success(),
        "ferro-oci-server did not start ({status})"
    );
    "127.0.0.1:5077".to_owned()
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn registry_with_the_referrers_api() {
    let reg = referrers_api_registry();
    let f = Fixture::signed();
    let dest = format!("{reg}/verify-api-{}:v1", std::process::id());
    f.push(&dest);
    f.verify_with(&dest, &f.key.pub_path, &["--require", "provenance,sbom"])
        .passes();
    f.verify_with(&dest, &f.other.pub_path, &[])
        .fails_only(&["require"]);
}

/// A manifest of `repo` (`HOST/NAME`) by `reference`, as JSON, read with curl.
fn manifest_json(repo: &str, reference: &str) -> serde_json::Value {
    let (host, name) = repo.split_once('/').unwrap();
    let out = std::process::Command::new("curl")
        .args(["-fsS", "-H"])
        .arg("Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json")
        .arg(format!("http://{host}/v2/{name}/manifests/{reference}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {reference}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Our attach writes each referrer manifest inline in the fallback index and each bundle
/// inline in its referrer manifest (`data`): verify from the registry reads both from the
/// listing and asks for neither, two round trips fewer, and still verifies (and fails with
/// another key). Verified so, it asks for none of cosign's legacy tags either; unverified
/// (another key), it asks for them. cosign and oras reading the same referrers: `referrers_registry`,
/// `release_peers`.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn verify_reads_inline_referrers_without_asking_for_them() {
    let peers = Peers::get();
    let f = Fixture::signed();
    let repo = peers.unique_repo("verify-inline");
    f.push(&format!("{repo}:v1"));
    // What the listings name: referrer manifests, and the bundles those carry.
    let mut inline = Vec::new();
    for subject in std::iter::once(&f.img.index).chain(&f.img.platforms) {
        let listing = manifest_json(&repo, &format!("sha256-{}", subject.hex()));
        for entry in listing["manifests"].as_array().unwrap() {
            assert!(entry["data"].is_string(), "not inline: {entry}");
            let digest = entry["digest"].as_str().unwrap().to_owned();
            let referrer = manifest_json(&repo, &digest);
            assert!(referrer["layers"][0]["data"].is_string(), "{referrer}");
            inline.push(digest);
            inline.push(referrer["layers"][0]["digest"].as_str().unwrap().to_owned());
        }
    }
    assert!(inline.len() >= 4, "{inline:?}");
    let proxy = support::oci::ChaosProxy::start(&peers.registry, 0);
    let via = format!("{}:v1", repo.replacen(&peers.registry, &proxy.addr, 1));
    f.verify_with(&via, &f.key.pub_path, &["--require", "provenance,sbom"])
        .passes();
    let seen = proxy.seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|l| l.contains("/manifests/sha256-")),
        "{seen:#?}"
    );
    for digest in &inline {
        assert!(
            !seen.iter().any(|l| l.contains(digest.as_str())),
            "{digest} was asked although the listing carried it:\n{seen:#?}"
        );
    }
    // Verified by its referrers: cosign's legacy tags were not asked. Another key leaves
    // the image unverified, and then they are, for every part.
    let tags = |seen: &[String]| {
        seen.iter()
            .filter(|l| l.contains(".att ") || l.contains(".sig "))
            .count()
    };
    assert_eq!(tags(&seen), 0, "{seen:#?}");
    f.verify_with(&via, &f.other.pub_path, &[]).fails("require");
    let seen = proxy.seen.lock().unwrap().clone();
    assert_eq!(tags(&seen), 2 * (1 + f.img.platforms.len()), "{seen:#?}");
}
