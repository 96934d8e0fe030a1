//! `build --keyless` against the local Sigstore stack (../shared/tools/sigstore-stack.sh:
//! Fulcio, Rekor v1, TSA, OIDC with the GitHub Actions ID-token emulation), pushing to the
//! peers' registry: our verify, cosign 3.1 and sigstore-go 1.3 accept what it publishes; the
//! certificate agrees with the provenance; no secret reaches an output. And the faults: a
//! fault-injecting proxy in front of a service (or a service that is not there, a bad token, a
//! foreign trusted root) makes the build exit 2 naming the service, with nothing signed
//! written, attached or pushed.

use crate::support;
use crate::support::keyless as keyless_support;
use crate::support::read_json;

use keyless_support::{Fault, ISSUER, Proxy, REPO, Stack, gh_identity};
use serde_json::Value;
use support::Peers;

/// The JWT header of every token the stack mints (`{"alg":"ES256",`): no token may appear.
const JWT_HEADER: &str = "eyJhbGciOiJFUzI1NiIs";
/// The base64 DER prefix of a P-256 PKCS#8 private key: no key may appear.
const PKCS8_P256: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg";

#[test]
#[ignore = "needs peers: the Sigstore stack and the registry (scripts/test.sh runs it)"]
fn keyless_github_build_is_accepted_by_us_cosign_and_sigstore_go() {
    let stack = Stack::get();
    let peers = Peers::get();
    let image = format!("{}:v1", peers.unique_repo("sign15-keyless"));
    let b = keyless_support::Build::new();
    let o = b.run(&stack, &peers, &image, |_| {}, &["-vv"]);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let pushed = stdout.lines().last().unwrap().trim().to_owned();
    assert!(pushed.contains("@sha256:"), "{stdout}");
    let index_digest = pushed.rsplit_once('@').unwrap().1.to_owned();

    // Our verify: the right identity passes, another fails (exit 1).
    let verify = |identity: &str| {
        support::cargo_provenance()
            .args(["verify", &pushed, "--certificate-identity", identity])
            .args(["--certificate-oidc-issuer", ISSUER, "--trusted-root"])
            .arg(&stack.trusted_root)
            .args(["--certificate-github-workflow-repository", REPO])
            .output()
            .unwrap()
    };
    let ok = verify(&gh_identity());
    let report = String::from_utf8_lossy(&ok.stdout);
    assert!(report.contains("SLSA build level: L2"), "{report}");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let other =
        verify("https://github.com/example/other/.github/workflows/release.yml@refs/heads/main");
    assert_eq!(
        other.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );

    // The level and its reasons in JSON.
    let json = support::cargo_provenance()
        .args(["verify", &pushed, "--format", "json"])
        .args(["--certificate-identity", &gh_identity()])
        .args(["--certificate-oidc-issuer", ISSUER, "--trusted-root"])
        .arg(&stack.trusted_root)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["slsa"]["level"], 2, "{v}");
    assert_eq!(v["slsa"]["name"], "SLSA_BUILD_LEVEL_2");
    let reasons = v["slsa"]["reasons"].to_string();
    assert!(
        reasons.contains("github-hosted") && reasons.contains("L3 not claimed"),
        "{reasons}"
    );

    // cosign 3.1 from the registry.
    for kind in ["slsaprovenance1", "cyclonedx"] {
        let o = std::process::Command::new(peers.cosign3())
            .args(["verify-attestation", "--type", kind])
            .args(["--certificate-identity", &gh_identity()])
            .args(["--certificate-oidc-issuer", ISSUER])
            .args(["--certificate-github-workflow-repository", REPO])
            .arg("--trusted-root")
            .arg(&stack.trusted_root)
            .args([
                "--allow-insecure-registry",
                "--allow-http-registry",
                &pushed,
            ])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "cosign {kind}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // cosign 3.1 `verify` (the image signature, not an attestation), keyless, by index digest
    // and by each platform digest; another identity is rejected.
    let summary: Value = read_json(&b.out.join("summary.json"));
    let repo = pushed.rsplit_once('@').unwrap().0;
    let mut subjects = vec![index_digest.clone()];
    for p in summary["platforms"].as_array().unwrap() {
        subjects.push(p["manifest_digest"].as_str().unwrap().to_owned());
    }
    for subject in &subjects {
        let at = format!("{repo}@{subject}");
        let other =
            "https://github.com/example/other/.github/workflows/release.yml@refs/heads/main";
        for (identity, ok) in [(gh_identity(), true), (other.to_owned(), false)] {
            let o = std::process::Command::new(peers.cosign3())
                .args(["verify", "--certificate-identity", &identity])
                .args(["--certificate-oidc-issuer", ISSUER])
                .args(["--certificate-github-workflow-repository", REPO])
                .arg("--trusted-root")
                .arg(&stack.trusted_root)
                .args(["--allow-insecure-registry", "--allow-http-registry", &at])
                .output()
                .unwrap();
            assert_eq!(
                o.status.success(),
                ok,
                "cosign verify {at} as {identity}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    // sigstore-go 1.3 on the bundle files.
    for f in ["provenance.sigstore.json", "sbom.sigstore.json"] {
        let o = std::process::Command::new(&stack.sigstore_go)
            .arg("-trustedrootJSONpath")
            .arg(&stack.trusted_root)
            .args(["-expectedIssuer", ISSUER, "-expectedSAN", &gh_identity()])
            .args([
                "-artifact-digest",
                index_digest.trim_start_matches("sha256:"),
            ])
            .arg(b.out.join(f))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "sigstore-go {f}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    // The certificate agrees with the provenance.
    let bundle: Value = read_json(&b.out.join("provenance.sigstore.json"));
    let prov: Value = read_json(&b.out.join("provenance.intoto.json"));
    let cert = keyless_support::certificate(&bundle);
    let pred = &prov["predicate"];
    let builder = pred["runDetails"]["builder"]["id"].as_str().unwrap();
    assert_eq!(cert.identity.as_ref().unwrap().as_str(), builder);
    assert_eq!(builder, gh_identity());
    let source = &pred["buildDefinition"]["externalParameters"]["source"];
    let claims = &cert.ci_claims;
    assert_eq!(
        source["uri"].as_str().unwrap(),
        format!("git+{}", claims.source_repository_uri.as_deref().unwrap())
    );
    assert_eq!(
        source["commit"].as_str(),
        claims.source_repository_digest.as_deref()
    );
    assert_eq!(source["commit"].as_str().unwrap(), b.sha);
    assert_eq!(
        source["ref"].as_str(),
        claims.source_repository_ref.as_deref()
    );
    assert_eq!(
        pred["runDetails"]["metadata"]["invocationId"].as_str(),
        claims.run_invocation_uri.as_deref()
    );
    // A Rekor v1 dsse entry with its promise and proof, and a TSA timestamp.
    let vm = &bundle["verificationMaterial"];
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(vm["tlogEntries"][0]["kindVersion"]["kind"], "dsse");
    assert!(vm["tlogEntries"][0]["inclusionPromise"].is_object());
    assert!(vm["tlogEntries"][0]["inclusionProof"]["checkpoint"].is_object());
    assert_eq!(
        vm["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // vex --keyless: an OpenVEX statement signed keyless and attached; sigstore-go accepts
    // its bundle, cosign 3.1 the attestation from the registry.
    let vex_bundle = b.tmp.path().join("vex.sigstore.json");
    let vex = b
        .gh_command(&stack, &peers, &keyless_support::Cmd::default())
        .args([
            "vex",
            &pushed,
            "--keyless",
            "--vulnerability",
            "CVE-2024-1000",
        ])
        .args([
            "--status",
            "not_affected",
            "--justification",
            "component_not_present",
        ])
        .arg("--signing-config")
        .arg(&stack.signing_config)
        .arg("--trusted-root")
        .arg(&stack.trusted_root)
        .arg("--output")
        .arg(&vex_bundle)
        .arg("-vv")
        .output()
        .unwrap();
    let vex_err = String::from_utf8_lossy(&vex.stderr).into_owned();
    assert!(vex.status.success(), "{vex_err}");
    let o = std::process::Command::new(&stack.sigstore_go)
        .arg("-trustedrootJSONpath")
        .arg(&stack.trusted_root)
        .args(["-expectedIssuer", ISSUER, "-expectedSAN", &gh_identity()])
        .args([
            "-artifact-digest",
            index_digest.trim_start_matches("sha256:"),
        ])
        .arg(&vex_bundle)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "sigstore-go vex: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = std::process::Command::new(peers.cosign3())
        .args([
            "verify-attestation",
            "--type",
            "https://openvex.dev/ns/v0.2.0",
        ])
        .args(["--certificate-identity", &gh_identity()])
        .args(["--certificate-oidc-issuer", ISSUER])
        .arg("--trusted-root")
        .arg(&stack.trusted_root)
        .args([
            "--allow-insecure-registry",
            "--allow-http-registry",
            &pushed,
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "cosign openvex: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Canary: no token, bearer or private key in any output file, referrer (the layout holds
    // every referrer pushed) or the -vv log.
    let mut texts = vec![
        ("stderr".to_owned(), stderr),
        ("stdout".to_owned(), stdout),
        ("vex stderr".to_owned(), vex_err),
        (
            "vex bundle".to_owned(),
            String::from_utf8_lossy(&std::fs::read(&vex_bundle).unwrap()).into_owned(),
        ),
    ];
    texts.extend(keyless_support::all_files(&b.out));
    for (name, text) in &texts {
        for secret in [
            stack.actions_bearer.as_str(),
            JWT_HEADER,
            PKCS8_P256,
            "PRIVATE KEY",
        ] {
            assert!(!text.contains(secret), "{name} holds a secret ({secret})");
        }
    }
}

/// Runs a keyless build with the signing config's `service` behind `fault` (or with the
/// environment changed by `tweak`), and checks exit 2, the message naming `needle`, and
/// nothing signed written, attached or pushed.
fn fails_cleanly(
    service: Option<(&str, Fault)>,
    tweak: impl Fn(&mut keyless_support::Cmd),
    needle: &str,
) -> (String, usize) {
    let stack = Stack::get();
    let peers = Peers::get();
    let repo = peers.unique_repo("sign15-fault");
    let image = format!("{repo}:v1");
    let b = keyless_support::Build::new();
    let mut proxy = None;
    let config = match service {
        Some((name, fault)) => {
            let p = Proxy::start(&stack.url(name), fault);
            let c = stack.config_with(name, &p.url(), b.tmp.path());
            proxy = Some(p);
            c
        }
        None => stack.signing_config.clone(),
    };
    let o = b.run_with_config(&stack, &peers, &image, &config, tweak, &[]);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(needle), "expected `{needle}` in:\n{stderr}");
    let bundles: Vec<_> = keyless_support::all_files(&b.out)
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.ends_with(".sigstore.json"))
        .collect();
    assert!(bundles.is_empty(), "bundles written: {bundles:?}");
    // The build stage's summary.json may be there; it lists nothing signed.
    if let Ok(bytes) = std::fs::read(b.out.join("summary.json")) {
        let summary: Value = serde_json::from_slice(&bytes).unwrap();
        let atts = summary["attestations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(atts.iter().all(|a| a["signed"] != true), "{summary}");
    }
    assert_eq!(
        keyless_support::referrers_in_layout(&b.out),
        0,
        "referrers attached"
    );
    assert!(!keyless_support::pushed(&repo), "{repo} was pushed");
    (stderr, proxy.map_or(0, |p| p.hits()))
}

#[test]
#[ignore = "needs peers: the Sigstore stack and the registry (scripts/test.sh runs it)"]
fn fulcio_down_fails_naming_fulcio() {
    fails_cleanly(
        Some(("fulcio", Fault::Down)),
        |_| {},
        "Fulcio (http://127.0.0.1:",
    );
}

#[test]
#[ignore = "needs peers: the Sigstore stack and the registry (scripts/test.sh runs it)"]
fn fulcio_5xx_fails_naming_fulcio() {
    let (err, _) = fails_cleanly(Some(("fulcio", Fault::Status(500))), |_| {}, "Fulcio (");
    assert!(err.contains("HTTP 500"), "{err}");
}

#[test]
#[ignore = "needs peers: the Sigstore stack and the registry (scripts/test.sh runs it)"]
fn rekor_5xx_and_429_are_retried_then_fail_naming_rekor() {
    for status in [503, 429] {
        let (err, hits) = fails_cleanly(Some(("rekor", Fault::Status(status))), |_| {}, "Rekor (");
        assert!(err.contains("after 4 attempts"), "{err}");
        assert!(err.contains(&format!("HTTP {status}")), "{err}");
        // 4 attempts for each entry (provenance, SBOM, two image signatures).
        assert_eq!(hits % 4, 0, "{hits} requests");
        assert!(hits >= 4, "{hits} requests");
    }
}

#[test]
#[ignore = "needs peers: the Sigstore stack and the registry (scripts/test.sh runs it)"]
fn a_rekor_answer_for_another_entry_fails_naming_rekor() {
    let (err, _) = fails_cleanly(Some(("rekor", Fault::Replay)), |_| {}, "Rekor (");
    assert!(err.contains("not about this signature"), "{err}");
}

#[test]
#[ignore = "needs peers: the Sigstore stack and the registry (scripts/test.sh runs it)"]
fn an_expired_token_fails_before_the_build() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().unwrap();
    let tok = dir.path().join("tok");
    std::fs::write(&tok, stack.mint("&ttl=-120")).unwrap();
    let arg = format!("@{}", tok.display());
    let (err, _) = fails_cleanly(
        None,
        |c| {
            c.args.extend(["--identity-token".to_owned(), arg.clone()]);
        },
        "OIDC identity token from --identity-token: it expired",
    );
    assert!(!err.contains(JWT_HEADER), "{err}");
}

#[test]
#[ignore = "needs peers: the Sigstore stack and the registry (scripts/test.sh runs it)"]
fn a_token_for_another_audience_is_refused_by_fulcio() {
    let stack = Stack::get();
    let token = stack.mint("&audience=not-sigstore");
    let (err, _) = fails_cleanly(
        None,
        |c| {
            c.env.push(("SIGSTORE_ID_TOKEN".into(), token.clone()));
        },
        "Fulcio (",
    );
    assert!(
        err.contains("HTTP 401") && err.contains("audience"),
        "{err}"
    );
    assert!(!err.contains(&token) && !err.contains(JWT_HEADER), "{err}");
}

#[test]
#[ignore = "needs peers: the Sigstore stack and the registry (scripts/test.sh runs it)"]
fn a_certificate_not_chaining_to_the_trusted_root_fails_naming_fulcio() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().unwrap();
    let root = stack.root_with_foreign_ca(dir.path());
    let (err, _) = fails_cleanly(None, |c| c.trusted_root = Some(root.clone()), "Fulcio (");
    assert!(err.contains("certificate-chain"), "{err}");
}

/// A key-signed build on a developer machine (no CI): verify reports L1, and says why not L2.
#[test]
fn a_key_signed_local_build_is_slsa_level_1() {
    let (tmp, repo) = support::example_repo("hello-service");
    let (key, public) = support::keygen(&tmp.path().join("keys"), "pw");
    let out = tmp.path().join("out");
    let o = support::cargo_provenance()
        .current_dir(&repo)
        .env("CARGO_TARGET_DIR", support::example_target_dir())
        .env("COSIGN_PASSWORD", "pw")
        .env_remove("CI")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args(["build", "--builder", "native", "--offline", "--key"])
        .arg(&key)
        .arg("--output-dir")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let layout = format!("oci:{}", out.join("oci").display());
    let v = support::cargo_provenance()
        .args(["verify", &layout, "--format", "json", "--key"])
        .arg(&public)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let v: Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(v["slsa"]["level"], 1, "{v}");
    let reasons = v["slsa"]["reasons"].to_string();
    assert!(reasons.contains("signed with a key"), "{reasons}");
}

/// `build --key --tlog`: every key signature is logged in the stack's Rekor, and `verify
/// --key --require-tlog` checks each entry (body, signed entry timestamp, inclusion proof)
/// against the stack's trusted root; without the stack's root the entries do not verify.
#[test]
#[ignore = "needs peers: the Sigstore stack (scripts/test.sh runs it)"]
fn key_signatures_are_logged_in_rekor_with_tlog() {
    let stack = Stack::get();
    let (tmp, repo) = support::example_repo("hello-service");
    let (key, public) = support::keygen(&tmp.path().join("keys"), "pw");
    let out = tmp.path().join("out");
    let o = support::cargo_provenance()
        .current_dir(&repo)
        .env("CARGO_TARGET_DIR", support::example_target_dir())
        .env("COSIGN_PASSWORD", "pw")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args([
            "build",
            "--builder",
            "native",
            "--offline",
            "--tlog",
            "--key",
        ])
        .arg(&key)
        .arg("--signing-config")
        .arg(&stack.signing_config)
        .arg("--trusted-root")
        .arg(&stack.trusted_root)
        .arg("--output-dir")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bundle = read_json(&out.join("provenance.sigstore.json"));
    assert_eq!(
        bundle["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"],
        "dsse"
    );
    assert!(bundle["verificationMaterial"]["publicKey"]["hint"].is_string());
    let layout = format!("oci:{}", out.join("oci").display());
    let verify = |root: &std::path::Path| {
        support::cargo_provenance()
            .args(["verify", &layout, "--require-tlog", "--key"])
            .arg(&public)
            .arg("--trusted-root")
            .arg(root)
            .output()
            .unwrap()
    };
    let ok = verify(&stack.trusted_root);
    let text = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        text.contains("tlog-inclusion") && text.contains("dsse entry (request form) matches"),
        "{text}"
    );
    let other = support::empty_trusted_root(tmp.path());
    assert_eq!(verify(&other).status.code(), Some(1));
}

/// A GitHub token about to expire (here: minted for 20 s, under the 30 s we require at
/// signing time) is fetched again before Fulcio is asked: two requests to the token endpoint,
/// and the build signs.
#[test]
#[ignore = "needs peers: the Sigstore stack and the registry (scripts/test.sh runs it)"]
fn an_ambient_token_about_to_expire_is_fetched_again() {
    let stack = Stack::get();
    let peers = Peers::get();
    let image = format!("{}:v1", peers.unique_repo("sign15-refetch"));
    let b = keyless_support::Build::new();
    let proxy = Proxy::start(&stack.oidc, Fault::Count);
    let url = format!(
        "{}&repository={REPO}&workflow_file={}&ref=refs/heads/main&sha={}&ttl=20",
        stack.actions_url.replace(&stack.oidc, &proxy.url()),
        keyless_support::WORKFLOW,
        b.sha
    );
    let o = b.run(
        &stack,
        &peers,
        &image,
        |c| {
            c.env
                .push(("ACTIONS_ID_TOKEN_REQUEST_URL".into(), url.clone()))
        },
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        proxy.hits(),
        2,
        "the token endpoint was asked {} times",
        proxy.hits()
    );
}
