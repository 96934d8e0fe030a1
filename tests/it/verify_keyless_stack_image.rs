//! A keyless image (issue 14's Must-show): the real cosign 3.1 attests an image keyless
//! against the local Sigstore stack (../shared/tools/sigstore-stack.sh) with a GitHub Actions
//! identity; `verify REF` with that identity and the stack's trusted root passes, from the
//! registry and from an OCI layout copied with its referrers; another identity, another
//! issuer or the public-good root fail. Subject binding (issue 12) wants evidence for every
//! part of an index: each of the index and its two platform manifests is attested.
//!
//! On top, `certificate-source`: a provenance that claims another source than the
//! certificate's source-repository/source-digest extensions fails.

use crate::support;
use crate::support::keyless_stack;
use crate::support::verify_fixture;

use std::path::Path;

use keyless_stack::{GITHUB_ISSUER as ISSUER, Stack, github_identity};
use support::Peers;
use verify_fixture::{COMMIT, Fixture, Outcome, provenance, run_verify};

const REPO: &str = "example/hello-service";

/// The fixture image (index + 2 platforms) pushed to the registry; returns it and the
/// repository (without tag).
fn pushed(peers: &Peers, prefix: &str) -> (Fixture, String) {
    let f = Fixture::bare();
    let repo = peers.unique_repo(prefix);
    f.push(&format!("{repo}:v1"));
    (f, repo)
}

/// cosign 3.1 attests the fixture's provenance (with `source` changed by `edit`) about the
/// index and each platform manifest, keyless with `tok`.
fn attest_every_part(
    stack: &Stack,
    f: &Fixture,
    repo: &str,
    tok: &Path,
    edit: impl Fn(&mut serde_json::Value),
) {
    let mut predicate = provenance(&f.img.subjects())["predicate"].clone();
    edit(&mut predicate["buildDefinition"]["externalParameters"]["source"]);
    let p = f.dir.path().join("predicate.json");
    std::fs::write(&p, serde_json::to_vec(&predicate).unwrap()).unwrap();
    for d in std::iter::once(&f.img.index).chain(&f.img.platforms) {
        stack.attest_image(tok, &p, &format!("{repo}@{d}"));
    }
}

fn verify(reference: &str, root: Option<&str>, identity: &str, issuer: &str) -> Outcome {
    let mut args = vec![
        reference,
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
    ];
    if let Some(r) = root {
        args.extend(["--trusted-root", r]);
    }
    run_verify(&args)
}

#[test]
#[ignore = "needs peers and the local Sigstore stack (scripts/test.sh runs it)"]
fn cosign3_keyless_image_verifies_from_the_registry_and_a_layout() {
    let peers = Peers::get();
    let stack = Stack::get();
    let (f, repo) = pushed(&peers, "kl-stack-image");
    let tok = stack.github_token(f.dir.path(), "gh", REPO, "refs/heads/main", COMMIT);
    attest_every_part(&stack, &f, &repo, &tok, |_| {});
    let id = github_identity(REPO, "refs/heads/main");
    let root = Some(stack.trusted_root.as_str());
    let reference = format!("{repo}:v1");
    let o = verify(&reference, root, &id, ISSUER);
    o.passes()
        .says("dsse entry in request form")
        .says("pass    certificate-source")
        .says("pass    require");

    // The image with its referrers, copied into a layout by `push`.
    let layout = f.dir.path().join("copy");
    let out = support::cargo_provenance()
        .args(["push", &reference, &format!("oci:{}:v1", layout.display())])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "push: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let local = format!("oci:{}:v1", layout.display());
    verify(&local, root, &id, ISSUER)
        .passes()
        .says("pass    certificate-source");

    for reference in [&reference, &local] {
        // Another identity, another issuer: nothing counts.
        let other = github_identity("evil/app", "refs/heads/main");
        verify(reference, root, &other, ISSUER).fails("require");
        verify(reference, root, &id, "https://accounts.google.com").fails("require");
        // The public-good root (no --trusted-root): exit 1, naming the root.
        let o = verify(reference, None, &id, ISSUER);
        o.fails("require");
        assert!(
            o.stderr
                .contains("trusted root: Sigstore public-good production root"),
            "the error does not name the root:\n{}",
            o.stderr
        );
    }
}

/// A GitHub token for `acme/app` at another commit than the provenance's: the certificate's
/// source extensions differ from the provenance's source, and `certificate-source` fails.
#[test]
#[ignore = "needs peers and the local Sigstore stack (scripts/test.sh runs it)"]
fn a_provenance_claiming_another_source_than_its_certificate_fails() {
    let peers = Peers::get();
    let stack = Stack::get();
    let (f, repo) = pushed(&peers, "kl-stack-source");
    let sha = "fedcba9876543210fedcba9876543210fedcba98";
    let tok = stack.github_token(f.dir.path(), "acme", "acme/app", "refs/tags/v1.0.0", sha);
    // The provenance names example/hello-service at COMMIT, the certificate acme/app at sha.
    attest_every_part(&stack, &f, &repo, &tok, |_| {});
    let id = github_identity("acme/app", "refs/tags/v1.0.0");
    let reference = format!("{repo}:v1");
    let root = Some(stack.trusted_root.as_str());
    verify(&reference, root, &id, ISSUER)
        .fails("certificate-source")
        .says("example/hello-service");

    // The same repository at another commit fails on the commit; the matching source passes.
    let (g, repo2) = pushed(&peers, "kl-stack-source-ok");
    let tok = stack.github_token(g.dir.path(), "acme", "acme/app", "refs/tags/v1.0.0", sha);
    attest_every_part(&stack, &g, &repo2, &tok, |s| {
        s["uri"] = "git+https://github.com/acme/app".into();
    });
    verify(&format!("{repo2}:v1"), root, &id, ISSUER)
        .fails("certificate-source")
        .says(COMMIT);
    let (h, repo3) = pushed(&peers, "kl-stack-source-same");
    let tok = stack.github_token(h.dir.path(), "acme", "acme/app", "refs/tags/v1.0.0", sha);
    attest_every_part(&stack, &h, &repo3, &tok, |s| {
        s["uri"] = "git+https://github.com/acme/app".into();
        s["commit"] = sha.into();
    });
    verify(&format!("{repo3}:v1"), root, &id, ISSUER)
        .passes()
        .says("pass    certificate-source");
}
