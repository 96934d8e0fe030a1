//! The parts of a Sigstore trusted root that key-based verification reads: the
//! transparency logs and their keys.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::verify::signed::b64;

/// One transparency log of a trusted root.
#[derive(Debug, Clone)]
pub struct TrustedLog {
    /// `logId.keyId` bytes (sha256 of the DER key).
    pub log_id: Vec<u8>,
    /// Its key, when it is ECDSA P-256 (other kinds are not checked yet).
    pub key: Option<PublicKey>,
    /// Validity start and end (unix seconds).
    pub valid_from: Option<i64>,
    /// Validity end (unix seconds), inclusive.
    pub valid_until: Option<i64>,
    /// `baseUrl`, for messages.
    pub url: String,
}

/// The parts of a Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json`)
/// key-based verification uses: the transparency logs.
#[derive(Debug, Clone, Default)]
pub struct TrustedRoot {
    /// The logs.
    pub tlogs: Vec<TrustedLog>,
}

fn unix(v: &Value) -> Result<Option<i64>> {
    match v.as_str() {
        None => Ok(None),
        Some(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| Some(t.unix_timestamp()))
            .map_err(|e| Error::msg(format!("validFor time `{s}` is not RFC 3339: {e}"))),
    }
}

impl TrustedRoot {
    /// Parses a trusted root file's JSON; `origin` names it in errors.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<TrustedRoot> {
        let v: Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::msg(format!("{origin} is not valid JSON: {e}")))?;
        if !v["mediaType"]
            .as_str()
            .is_some_and(|m| m.starts_with("application/vnd.dev.sigstore.trustedroot"))
        {
            return Err(Error::msg(format!(
                "{origin} is not a Sigstore trusted root (mediaType application/vnd.dev.sigstore.trustedroot+json)"
            )));
        }
        let mut tlogs = Vec::new();
        for (i, l) in v["tlogs"].as_array().into_iter().flatten().enumerate() {
            let bad = |what: &str| Error::msg(format!("{origin}: tlogs[{i}]: {what}"));
            let log_id = l["logId"]["keyId"]
                .as_str()
                .and_then(b64)
                .ok_or_else(|| bad("logId.keyId is not base64"))?;
            let pk = &l["publicKey"];
            let key = match pk["keyDetails"].as_str() {
                Some("PKIX_ECDSA_P256_SHA_256") => Some(
                    pk["rawBytes"]
                        .as_str()
                        .and_then(b64)
                        .and_then(|der| PublicKey::from_spki_der(&der, origin).ok())
                        .ok_or_else(|| bad("publicKey.rawBytes is not an ECDSA P-256 key"))?,
                ),
                _ => None,
            };
            tlogs.push(TrustedLog {
                log_id,
                key,
                valid_from: unix(&pk["validFor"]["start"]).map_err(|e| e.context(origin))?,
                valid_until: unix(&pk["validFor"]["end"]).map_err(|e| e.context(origin))?,
                url: l["baseUrl"].as_str().unwrap_or_default().to_owned(),
            });
        }
        Ok(TrustedRoot { tlogs })
    }

    /// Reads a trusted root file.
    pub fn read(path: &std::path::Path) -> Result<TrustedRoot> {
        Self::parse(&crate::util::fs::read(path)?, &path.display().to_string())
    }
}
