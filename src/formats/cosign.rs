//! cosign's image signature as cosign 3 writes it (`cosign sign`, bundle format): an in-toto
//! statement whose only subject is the image digest, with an empty predicate, signed in a
//! Sigstore bundle and attached to that digest as an OCI referrer.

use super::intoto::{ResourceDescriptor, Statement};
use crate::util::digest::Digest;

/// The predicate type of cosign's image signature.
pub use super::predicate::COSIGN_SIGN as SIGN_PREDICATE_TYPE;

/// The image-signature statement about `digest` (an index or a platform manifest): one
/// subject with only the digest, as cosign writes it, and an empty predicate.
pub fn sign_statement(digest: &Digest) -> Statement<serde_json::Value> {
    let subject = ResourceDescriptor {
        digest: [("sha256".to_string(), digest.hex())].into(),
        ..ResourceDescriptor::default()
    };
    Statement::new(
        vec![subject],
        SIGN_PREDICATE_TYPE,
        serde_json::Value::Object(serde_json::Map::new()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_is_cosigns() {
        let d = Digest::of(b"image");
        let payload = sign_statement(&d).to_payload().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"digest": {"sha256": d.hex()}}],
                "predicateType": SIGN_PREDICATE_TYPE,
                "predicate": {}
            })
        );
    }
}
