//! in-toto attestation framework types: the Statement (v1, and v0.1 for reading what cosign
//! `attest-blob` writes) and the ResourceDescriptor
//! (<https://github.com/in-toto/attestation/tree/main/spec/v1>).
//!
//! Field names are the spec's JSON names; absent optional fields are omitted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// `_type` of an in-toto Statement v0.1 (read only: cosign `attest-blob` still writes it).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// The DSSE `payloadType` of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// An in-toto Statement: subjects, a predicate type and the predicate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Statement<P = serde_json::Value> {
    /// The statement type URI ([`STATEMENT_V1`]; [`STATEMENT_V01`] when read).
    #[serde(rename = "_type")]
    pub type_: String,
    /// The artifacts the statement is about; each carries a digest.
    pub subject: Vec<ResourceDescriptor>,
    /// The predicate type URI.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    pub predicate: P,
}

impl<P: Serialize> Statement<P> {
    /// A v1 statement.
    pub fn new(subject: Vec<ResourceDescriptor>, predicate_type: &str, predicate: P) -> Self {
        Statement {
            type_: STATEMENT_V1.to_string(),
            subject,
            predicate_type: predicate_type.to_string(),
            predicate,
        }
    }

    /// The compact JSON bytes signed as the DSSE payload.
    pub fn to_payload(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| Error::with_source("serialising an in-toto statement", e))
    }

    /// Pretty JSON with a trailing newline, as written to `*.intoto.json` files.
    pub fn to_pretty(&self) -> Result<Vec<u8>> {
        let mut v = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::with_source("serialising an in-toto statement", e))?;
        v.push(b'\n');
        Ok(v)
    }
}

impl Statement {
    /// Parses a statement (v1 or v0.1) and checks the framework's rules: a known `_type`, at
    /// least one subject, a digest on every subject, a predicate type. `origin` names the
    /// input in errors.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Statement> {
        let st: Statement = serde_json::from_slice(bytes)
            .map_err(|e| Error::with_source(format!("{origin} is not an in-toto statement"), e))?;
        st.validate(origin)?;
        Ok(st)
    }

    /// Checks the framework's rules (see [`Statement::parse`]).
    pub fn validate(&self, origin: &str) -> Result<()> {
        if self.type_ != STATEMENT_V1 && self.type_ != STATEMENT_V01 {
            return Err(Error::msg(format!(
                "{origin}: unsupported statement `_type` `{}` (expected {STATEMENT_V1} or {STATEMENT_V01})",
                self.type_
            )));
        }
        if self.subject.is_empty() {
            return Err(Error::msg(format!(
                "{origin}: the statement has no subject"
            )));
        }
        for (i, s) in self.subject.iter().enumerate() {
            if s.digest.is_empty() {
                return Err(Error::msg(format!(
                    "{origin}: subject {i} (`{}`) has no digest",
                    s.name.as_deref().unwrap_or("")
                )));
            }
        }
        if self.predicate_type.is_empty() {
            return Err(Error::msg(format!(
                "{origin}: the statement has no predicateType"
            )));
        }
        Ok(())
    }
}

/// A ResourceDescriptor: an artifact or resource, identified by any of uri, digest, content.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescriptor {
    /// A name for the resource (for subjects: a file name or path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A URI identifying the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Digests by algorithm (`sha256` → hex, `gitCommit` → hex).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    /// The content itself, base64 (protobuf `bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Where the resource can be downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_location: Option<String>,
    /// The media type of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Extra information, sorted by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, serde_json::Value>,
}

impl ResourceDescriptor {
    /// A descriptor with a name and a sha256 digest (hex without prefix).
    pub fn named_sha256(name: impl Into<String>, digest: &crate::util::digest::Digest) -> Self {
        ResourceDescriptor {
            name: Some(name.into()),
            digest: BTreeMap::from([("sha256".to_string(), digest.hex())]),
            ..Default::default()
        }
    }

    /// The sha256 digest, when present and well-formed.
    pub fn sha256(&self) -> Option<crate::util::digest::Digest> {
        self.digest
            .get("sha256")
            .and_then(|h| crate::util::digest::Digest::from_hex(h).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_v01_and_v1_and_rejects_others() {
        let v01 = br#"{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"x","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicate":{}}"#;
        let st = Statement::parse(v01, "t").unwrap();
        assert_eq!(st.type_, STATEMENT_V01);
        let bad = String::from_utf8_lossy(v01).replace("v0.1", "v9");
        assert!(Statement::parse(bad.as_bytes(), "t").is_err());
        let nodigest = br#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"x","subject":[{"name":"a"}],"predicate":{}}"#;
        assert!(
            Statement::parse(nodigest, "t")
                .unwrap_err()
                .to_string()
                .contains("no digest")
        );
        let nosubject = br#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"x","subject":[],"predicate":{}}"#;
        assert!(Statement::parse(nosubject, "t").is_err());
    }

    #[test]
    fn v1_field_order_and_omissions() {
        let d = crate::util::digest::Digest::of(b"");
        let st = Statement::new(
            vec![ResourceDescriptor::named_sha256("a", &d)],
            "p",
            serde_json::json!({}),
        );
        let s = String::from_utf8(st.to_payload().unwrap()).unwrap();
        assert_eq!(
            s,
            format!(
                r#"{{"_type":"{STATEMENT_V1}","subject":[{{"name":"a","digest":{{"sha256":"{}"}}}}],"predicateType":"p","predicate":{{}}}}"#,
                d.hex()
            )
        );
    }
}
