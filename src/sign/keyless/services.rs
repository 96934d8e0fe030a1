//! The Sigstore services keyless signing calls, chosen from a signing config
//! (`application/vnd.dev.sigstore.signingconfig.v0.2+json`), and the calls themselves.
//!
//! From sigstore-rust: the signing config's parsing and service selection
//! (`sigstore-sign`'s `SigningServices`), and the clients (`sigstore-fulcio`'s v2
//! `signingCert` with a proof of possession, `sigstore-rekor`'s `dsse` v0.0.1 entry,
//! not the TSA: see [`timestamp`]). Ours: the RFC 3161 request, the bounded retries, errors that name the service, and [`super::entry`]'s check that Rekor's answer is
//! about this signature.

use std::time::Duration;

use sigstore_crypto::KeyPair;
use sigstore_oidc::IdentityToken;
use sigstore_rekor::{DsseEntry, RekorApiVersion, RekorClient};
use sigstore_sign::SigningServices;
use sigstore_types::{
    DerCertificate, DsseEnvelope, KindVersion, SignatureBytes, TimestampToken, TransparencyLogEntry,
};

use crate::error::{Error, Result};
use crate::util::digest::Digest;

/// The shipped public-good signing config (Sigstore's TUF target, 2025).
pub const PUBLIC_GOOD_CONFIG: &str =
    include_str!("../../../sigstore/signing_config.production.json");

/// Delays between attempts: four attempts in all, at most 1.75 s of waiting.
const BACKOFF: [Duration; 3] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_millis(1000),
];

/// The services, from a signing config.
#[derive(Debug, Clone)]
pub struct Services {
    /// Where the config came from, for messages.
    pub config_name: String,
    /// Fulcio's base URL.
    pub fulcio: String,
    /// Rekor's base URL (a v1 log).
    pub rekor: String,
    /// The TSA's timestamp URL, when the config lists one.
    pub tsa: Option<String>,
}

impl Services {
    /// Reads `path` (`--signing-config`), else the shipped public-good config. Rekor v1 is
    /// chosen: v2 signing is not claimed (no v2 log to test against).
    pub fn load(path: Option<&std::path::Path>) -> Result<Services> {
        let (text, name) = match path {
            Some(p) => (
                String::from_utf8(crate::util::fs::read(p)?).map_err(|_| {
                    Error::msg(format!("--signing-config {}: not UTF-8 JSON", p.display()))
                })?,
                p.display().to_string(),
            ),
            None => (
                PUBLIC_GOOD_CONFIG.to_owned(),
                "the public-good signing config".to_owned(),
            ),
        };
        Self::parse(&text, &name)
    }

    /// Parses a signing config; `name` names it in errors.
    pub fn parse(json: &str, name: &str) -> Result<Services> {
        let bad = |e: &dyn std::fmt::Display| {
            Error::msg(format!(
                "signing config {name}: {e}; pass a Sigstore SigningConfig \
                 (application/vnd.dev.sigstore.signingconfig.v0.2+json) with --signing-config"
            ))
        };
        let config = sigstore_trust_root::SigningConfig::from_json(json).map_err(|e| bad(&e))?;
        let s = SigningServices::from_signing_config_with_rekor_version(
            &config,
            Some(RekorApiVersion::V1),
        )
        .map_err(|e| bad(&e))?;
        Ok(Services {
            config_name: name.to_owned(),
            fulcio: s.fulcio_url().to_owned(),
            rekor: s.rekor_url().to_owned(),
            tsa: s.tsa_url().map(str::to_owned),
        })
    }
}

/// An error from `service` at `url`.
fn service_error(service: &str, url: &str, e: impl std::fmt::Display) -> Error {
    Error::msg(format!("{service} ({url}): {e}"))
}

/// Whether a failed call is worth another attempt: HTTP 5xx, 429, or no answer.
fn transient(status: Option<u16>, no_answer: bool) -> bool {
    no_answer || matches!(status, Some(429) | Some(500..=599))
}

/// Runs `call` up to four times while it fails transiently, waiting [`BACKOFF`] between.
async fn with_retry<T, E, F, Fut>(
    mut call: F,
    is_transient: impl Fn(&E) -> bool,
) -> std::result::Result<T, (E, usize)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < BACKOFF.len() && is_transient(&e) => {
                tokio::time::sleep(BACKOFF[attempt]).await;
                attempt += 1;
            }
            Err(e) => return Err((e, attempt + 1)),
        }
    }
}

fn attempts(n: usize) -> String {
    if n > 1 {
        format!(" (after {n} attempts)")
    } else {
        String::new()
    }
}

/// Fulcio's certificate for `key` and `token` (v2 `signingCert`, proof of possession): the
/// leaf (a v0.3 bundle carries the leaf only).
pub async fn certificate(
    http: &reqwest::Client,
    url: &str,
    token: &IdentityToken,
    key: &KeyPair,
) -> Result<DerCertificate> {
    let client = sigstore_fulcio::FulcioClient::builder(url)
        .with_http_client(http.clone())
        .build()
        .map_err(|e| service_error("Fulcio", url, e))?;
    let r = with_retry(
        || client.create_signing_certificate(token, key),
        |e| match e {
            sigstore_fulcio::Error::Status { status, .. } => transient(Some(*status), false),
            sigstore_fulcio::Error::Http(_) => transient(None, true),
            _ => false,
        },
    )
    .await;
    match r {
        Ok(c) => Ok(c.leaf_certificate().clone()),
        Err((e, n)) => {
            let hint = match &e {
                sigstore_fulcio::Error::Status {
                    status: 401 | 403, ..
                } => {
                    "; the identity token was refused (expired, wrong audience — it must be \
                     `sigstore` — or an issuer this Fulcio does not trust)"
                }
                _ => "",
            };
            Err(service_error(
                "Fulcio",
                url,
                format!("{e}{}{hint}", attempts(n)),
            ))
        }
    }
}

/// Rekor v1's `dsse` entry for `envelope` signed by `cert`.
pub async fn log_dsse(
    http: &reqwest::Client,
    url: &str,
    envelope: &DsseEnvelope,
    cert: &DerCertificate,
) -> Result<(sigstore_rekor::LogEntry, TransparencyLogEntry)> {
    log_dsse_verifier(http, url, envelope, &cert.to_pem()).await
}

/// Rekor v1's `dsse` entry for `envelope`, whose signature `verifier_pem` (a certificate or a
/// public key, PEM) verifies; `sigstore-rekor`'s request, with the verifier as given.
pub async fn log_dsse_verifier(
    http: &reqwest::Client,
    url: &str,
    envelope: &DsseEnvelope,
    verifier_pem: &str,
) -> Result<(sigstore_rekor::LogEntry, TransparencyLogEntry)> {
    use base64::Engine;
    let client = RekorClient::builder(url)
        .with_http_client(http.clone())
        .build()
        .map_err(|e| service_error("Rekor", url, e))?;
    let envelope_json =
        serde_json::to_string(envelope).map_err(|e| service_error("Rekor", url, e))?;
    let verifier = base64::engine::general_purpose::STANDARD.encode(verifier_pem);
    let request: DsseEntry = serde_json::from_value(serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {"proposedContent": {"envelope": envelope_json, "verifiers": [verifier]}},
    }))
    .map_err(|e| service_error("Rekor", url, e))?;
    let r = with_retry(
        || client.create_dsse_entry(request.clone()),
        |e| match e {
            sigstore_rekor::Error::Status { status, .. } => transient(Some(*status), false),
            sigstore_rekor::Error::Http(_) => transient(None, true),
            _ => false,
        },
    )
    .await;
    let entry = r.map_err(|(e, n)| service_error("Rekor", url, format!("{e}{}", attempts(n))))?;
    let bundle_entry = entry
        .to_bundle_entry(KindVersion::DsseV001)
        .map_err(|e| service_error("Rekor", url, format!("the log entry does not convert: {e}")))?;
    Ok((entry, bundle_entry))
}

/// An RFC 3161 timestamp over `signature` from the TSA at `url`: the DER `TimeStampResp`,
/// as a bundle carries it.
///
/// Ours, not `sigstore-tsa`'s client: that client refuses a `genTime` with fractional seconds
/// (which RFC 3161 allows, and which the local stack's TSA sends). We check what binds the
/// answer to the request (status granted, our SHA-256 imprint and our nonce in the token);
/// the token's signature and chain are verified with the whole bundle before it is written.
pub async fn timestamp(
    http: &reqwest::Client,
    url: &str,
    signature: &SignatureBytes,
) -> Result<TimestampToken> {
    let imprint = Digest::of(signature.as_bytes());
    let mut nonce = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    nonce[0] = (nonce[0] & 0x7f) | 0x01;
    let request = timestamp_request(imprint.as_bytes(), &nonce);
    let r = with_retry(
        || async {
            let resp = http
                .post(url)
                .header("Content-Type", "application/timestamp-query")
                .body(request.clone())
                .send()
                .await
                .map_err(|e| (None, super::token::without_url(&e)))?;
            let status = resp.status();
            if !status.is_success() {
                return Err((Some(status.as_u16()), format!("HTTP {status}")));
            }
            resp.bytes()
                .await
                .map(|b| b.to_vec())
                .map_err(|e| (None, super::token::without_url(&e)))
        },
        |(status, _)| transient(*status, status.is_none()),
    )
    .await;
    let der = r.map_err(|((_, e), n)| service_error("TSA", url, format!("{e}{}", attempts(n))))?;
    check_timestamp_response(&der, imprint.as_bytes(), &nonce)
        .map_err(|why| service_error("TSA", url, why))?;
    Ok(TimestampToken::new(der))
}

/// A DER `TimeStampReq` (RFC 3161 2.4.1): v1, a SHA-256 imprint, a nonce, certReq true.
fn timestamp_request(imprint: &[u8; 32], nonce: &[u8; 8]) -> Vec<u8> {
    const SHA256_ALG: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    ];
    let mut body = vec![0x02, 0x01, 0x01, 0x30, 49];
    body.extend_from_slice(&SHA256_ALG);
    body.extend_from_slice(&[0x04, 0x20]);
    body.extend_from_slice(imprint);
    body.extend_from_slice(&[0x02, 0x08]);
    body.extend_from_slice(nonce);
    body.extend_from_slice(&[0x01, 0x01, 0xff]);
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// The answer is granted (PKIStatus 0 or 1) and its token holds our imprint and nonce.
fn check_timestamp_response(
    der: &[u8],
    imprint: &[u8; 32],
    nonce: &[u8; 8],
) -> std::result::Result<(), String> {
    // TimeStampResp ::= SEQUENCE { status PKIStatusInfo (SEQUENCE { INTEGER, ... }), token }
    let status = der
        .windows(5)
        .take(8)
        .find(|w| w[0] == 0x30 && w[2] == 0x02 && w[3] == 0x01)
        .map(|w| w[4]);
    match status {
        Some(0 | 1) => {}
        Some(s) => return Err(format!("the timestamp request was refused (PKIStatus {s})")),
        None => return Err("the answer is not an RFC 3161 TimeStampResp".into()),
    }
    let holds = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
    if !holds(imprint) {
        return Err("the timestamp is not over this signature (message imprint differs)".into());
    }
    if !holds(nonce) {
        return Err("the timestamp does not carry the request's nonce".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_good_config_gives_v1_rekor_and_a_tsa() {
        let s = Services::load(None).unwrap();
        assert!(s.fulcio.starts_with("https://fulcio."), "{s:?}");
        assert!(s.rekor.starts_with("https://rekor."), "{s:?}");
        assert!(s.tsa.is_some());
        let e = Services::parse("{}", "x.json").unwrap_err().to_string();
        assert!(e.contains("signing config x.json"), "{e}");
    }

    #[test]
    fn retries_are_bounded() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut calls = 0;
        let r: std::result::Result<(), (u16, usize)> = rt.block_on(with_retry(
            || {
                calls += 1;
                async { Err::<(), u16>(503) }
            },
            |s| transient(Some(*s), false),
        ));
        assert_eq!(r.unwrap_err().1, 4);
        assert_eq!(calls, 4);
        let r: std::result::Result<(), (u16, usize)> = rt.block_on(with_retry(
            || async { Err::<(), u16>(400) },
            |s| transient(Some(*s), false),
        ));
        assert_eq!(r.unwrap_err().1, 1);
        assert!(transient(Some(429), false) && !transient(Some(404), false));
    }

    #[test]
    fn timestamp_request_is_der_and_answers_are_bound() {
        let req = timestamp_request(&[7; 32], &[1; 8]);
        assert_eq!(req.len(), 69);
        assert_eq!(&req[..2], &[0x30, 67]);
        let mut resp = vec![0x30, 0x82, 0x01, 0x00, 0x30, 0x03, 0x02, 0x01, 0x00];
        resp.extend([7; 32]);
        resp.extend([1; 8]);
        check_timestamp_response(&resp, &[7; 32], &[1; 8]).unwrap();
        assert!(
            check_timestamp_response(&resp, &[8; 32], &[1; 8])
                .unwrap_err()
                .contains("imprint")
        );
        assert!(
            check_timestamp_response(&resp, &[7; 32], &[2; 8])
                .unwrap_err()
                .contains("nonce")
        );
        resp[8] = 2;
        assert!(
            check_timestamp_response(&resp, &[7; 32], &[1; 8])
                .unwrap_err()
                .contains("refused")
        );
    }
}
