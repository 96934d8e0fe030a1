//! Keyless attestations of an image (`verify REF --certificate-identity ...`): the bundle is
//! verified as in single-bundle mode, about the image digest its statement names, and
//! failures set the attestation aside (status `ignored`), as a signature by another key
//! would be. On top, one check of ours: `certificate-source`, the certificate's source
//! repository and digest (Fulcio's extensions .12 and .13) must be the provenance's source.

use crate::verify::CheckId;
use serde_json::Value;
use sigstore_verify::crypto::FulcioCiClaims;
use sigstore_verify::types::SignatureContent;

use super::{Ctx, KeylessTrust, parse, verify_parsed};
use crate::util::digest::Digest;
use crate::verify::bundle::Artifact;
use crate::verify::checks::normalize_repo;
use crate::verify::report::{Report, Status};

/// Verifies a keyless bundle found for the image whose documents are `image` (the top
/// digest first, then its platform manifests). Returns the verified DSSE payload, or `None`
/// when it does not verify (the reason is in the report; a trusted root the crate cannot
/// use sets the attestation aside too).
pub fn verify_attestation(
    report: &mut Report,
    att: Option<&str>,
    bytes: &[u8],
    image: &[Digest],
    trust: Option<&KeylessTrust>,
) -> Option<Vec<u8>> {
    let Some(trust) = trust else {
        report.ignore(
            CheckId::Signature,
            att,
            "signed keyless (a Fulcio certificate): pass --certificate-identity and \
             --certificate-oidc-issuer (or their -regexp forms) to verify it",
        );
        return None;
    };
    report.trusted_root = Some(trust.root.name.clone());
    let mut ctx = Ctx {
        report,
        att,
        failure: Status::Ignored,
    };
    let bundle = parse(&mut ctx, bytes)?;
    let SignatureContent::DsseEnvelope(envelope) = &bundle.content else {
        ctx.failed(CheckId::Bundle, "a message signature, not an attestation");
        return None;
    };
    let payload = envelope.payload.as_bytes().to_vec();
    let artifact = Artifact::Digest(image_subject(&payload, image));
    let result = match verify_parsed(&mut ctx, &bundle, &artifact, trust) {
        Ok(r) => r?,
        Err(e) => {
            ctx.failed(CheckId::CertificateChain, e.to_string());
            return None;
        }
    };
    check_source(report, att, &payload, &result.ci_claims);
    if let Some(id) = att {
        report.signers.insert(
            id.to_owned(),
            crate::verify::slsa_level::SignerInfo {
                kind: "keyless".into(),
                identity: result.identity.as_ref().map(|s| s.as_str().to_owned()),
                issuer: result.issuer.clone(),
                runner_environment: result.ci_claims.runner_environment.clone(),
            },
        );
    }
    Some(payload)
}

/// The digest of this image the statement is about (the crate checks the subject against
/// it); the top digest when it names none, which then fails as `subject`. The image's own
/// subject-binding rule runs on the statement afterwards, as for key-signed attestations.
fn image_subject(payload: &[u8], image: &[Digest]) -> Digest {
    let statement: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let named: Vec<Digest> = statement["subject"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["digest"]["sha256"].as_str())
        .filter_map(|h| Digest::from_hex(h).ok())
        .collect();
    named
        .into_iter()
        .find(|d| image.contains(d))
        .or(image.first().copied())
        .unwrap_or_else(|| Digest::of(b""))
}

/// `certificate-source`: a provenance that claims another source than the workflow that
/// signed it fails. Skipped when either side says nothing about the source.
pub fn check_source(
    report: &mut Report,
    att: Option<&str>,
    payload: &[u8],
    claims: &FulcioCiClaims,
) {
    let statement: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    if statement["predicateType"] != crate::verify::checks::SLSA_PROVENANCE_V1 {
        return;
    }
    let source = &statement["predicate"]["buildDefinition"]["externalParameters"]["source"];
    let (Some(cert_repo), Some(prov_repo)) = (
        claims.source_repository_uri.as_deref(),
        source["uri"].as_str(),
    ) else {
        report.skip(
            CheckId::CertificateSource,
            att,
            "the certificate or the provenance names no source repository",
        );
        return;
    };
    if normalize_repo(cert_repo) != normalize_repo(prov_repo) {
        report.fail(
            CheckId::CertificateSource,
            att,
            format!(
                "the provenance's source is `{prov_repo}`, the signing certificate's source \
                 repository is `{cert_repo}`"
            ),
        );
        return;
    }
    let cert_commit = claims
        .source_repository_digest
        .as_deref()
        .unwrap_or_default();
    let prov_commit = source["commit"].as_str().unwrap_or_default();
    if !cert_commit.is_empty() && !cert_commit.eq_ignore_ascii_case(prov_commit) {
        report.fail(
            CheckId::CertificateSource,
            att,
            format!(
                "the provenance's source commit is `{prov_commit}`, the signing certificate's \
                 source digest is `{cert_commit}`"
            ),
        );
        return;
    }
    report.pass(
        CheckId::CertificateSource,
        att,
        format!("the provenance's source `{prov_repo}` is the signing certificate's ({cert_repo} @ {cert_commit})"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provenance(uri: &str, commit: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "predicateType": crate::verify::checks::SLSA_PROVENANCE_V1,
            "predicate": {"buildDefinition": {"externalParameters": {
                "source": {"uri": uri, "commit": commit}}}}
        }))
        .unwrap()
    }

    fn claims(repo: &str, digest: &str) -> FulcioCiClaims {
        let mut c = FulcioCiClaims::default();
        c.source_repository_uri = Some(repo.into());
        c.source_repository_digest = Some(digest.into());
        c
    }

    fn outcome(payload: &[u8], claims: &FulcioCiClaims) -> (Status, String) {
        let mut r = Report::new("x");
        check_source(&mut r, Some("a"), payload, claims);
        let c = r.checks.pop().unwrap();
        assert_eq!(c.check, CheckId::CertificateSource);
        (c.status, c.reason)
    }

    #[test]
    fn provenance_source_must_be_the_certificates() {
        let cert = claims("https://github.com/acme/app", "abc123");
        let same = provenance(
            "git+https://github.com/acme/app.git@refs/heads/main",
            "ABC123",
        );
        assert_eq!(outcome(&same, &cert).0, Status::Pass);
        let (s, why) = outcome(
            &provenance("git+https://github.com/evil/app", "abc123"),
            &cert,
        );
        assert_eq!(s, Status::Fail);
        assert!(why.contains("evil/app"), "{why}");
        let (s, why) = outcome(&provenance("https://github.com/acme/app", "def456"), &cert);
        assert_eq!(s, Status::Fail);
        assert!(why.contains("def456"), "{why}");
        let (s, _) = outcome(&same, &FulcioCiClaims::default());
        assert_eq!(s, Status::Skip);
    }
}
