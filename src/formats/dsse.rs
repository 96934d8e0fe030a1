//! DSSE envelopes (<https://github.com/secure-systems-lab/dsse/blob/master/envelope.md>).
//!
//! Payload and signatures are bytes, written as standard base64 with padding. Readers also
//! accept unpadded and URL-safe base64, as protobuf JSON does. What is signed is the
//! pre-authentication encoding of type and payload ([`pae`]); signing is `crate::sign`'s,
//! checking a signature `crate::keys::dsse`'s.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A DSSE envelope. Field order is the Sigstore bundle's protobuf JSON order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// The signed payload (for in-toto: the statement's JSON bytes).
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
    /// The payload's type (`application/vnd.in-toto+json`).
    pub payload_type: String,
    /// Signatures over the PAE of type and payload.
    pub signatures: Vec<Signature>,
}

/// One signature in an envelope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Signature {
    /// The signature bytes (ECDSA: ASN.1 DER, as cosign writes it).
    #[serde(with = "b64")]
    pub sig: Vec<u8>,
    /// An optional key id hint; omitted when empty (cosign writes none in bundles).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyid: String,
}

/// The DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Serde helpers for protobuf-JSON `bytes`: write standard padded base64, read any of
/// standard/URL-safe, padded or not.
pub mod b64 {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

    /// Encodes as standard padded base64.
    pub fn encode(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    /// Decodes lenient base64 (see the module documentation).
    pub fn decode(s: &str) -> Option<Vec<u8>> {
        [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|e| e.decode(s).ok())
    }

    /// Serde `serialize_with`.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(bytes))
    }

    /// Serde `deserialize_with`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        decode(&s).ok_or_else(|| serde::de::Error::custom("invalid base64"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cosign_old_envelope_field_order_and_keyid() {
        let j = r#"{"payloadType":"application/vnd.in-toto+json","payload":"aGk=","signatures":[{"keyid":"","sig":"AAE"}]}"#;
        let e: Envelope = serde_json::from_str(j).unwrap();
        assert_eq!(e.payload, b"hi");
        assert_eq!(e.signatures[0].sig, vec![0, 1]);
        let out = serde_json::to_string(&e).unwrap();
        assert_eq!(
            out,
            r#"{"payload":"aGk=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AAE="}]}"#
        );
    }

    #[test]
    fn pae_matches_the_dsse_spec_vector() {
        // DSSE protocol.md, "Test Vectors".
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn rejects_bad_base64() {
        let j = r#"{"payloadType":"x","payload":"!!","signatures":[]}"#;
        assert!(serde_json::from_str::<Envelope>(j).is_err());
    }
}
