//! Vectors and negative tests for DSSE signing and verification.

use super::*;
use p256::ecdsa::SigningKey;

fn rfc6979_key() -> PrivateKey {
    // RFC 6979 A.2.5 (ECDSA, 256 bits, prime field).
    let x =
        hex::decode("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721").unwrap();
    PrivateKey::from_signing_key(SigningKey::from_slice(&x).unwrap())
}

#[test]
fn ecdsa_known_answer_rfc6979() {
    // RFC 6979 A.2.5, SHA-256, message "sample".
    let signer = KeySigner::new(rfc6979_key());
    let der = signer.sign(b"sample").unwrap();
    let sig = EcdsaSignature::from_der(&der).unwrap();
    assert_eq!(
        hex::encode_upper(sig.to_bytes()),
        "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716\
         F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
    );
}

#[test]
fn signing_is_deterministic_and_verifies() {
    let signer = KeySigner::new(rfc6979_key());
    let a = sign_statement(br#"{"a":1}"#, &signer).unwrap();
    let b = sign_statement(br#"{"a":1}"#, &signer).unwrap();
    assert_eq!(a.bytes, b.bytes);
    assert_eq!(a.digest, Digest::of(&a.bytes));
    let parsed = Bundle::parse(&a.bytes, "t").unwrap();
    let v = verify_bundle(&parsed, &signer.public_key()).unwrap();
    assert_eq!(v.payload, br#"{"a":1}"#);
}

#[test]
fn verification_fails_closed() {
    let signer = KeySigner::new(rfc6979_key());
    let good = sign_statement(br#"{"a":1}"#, &signer).unwrap().bundle;
    let key = signer.public_key();

    let other = PrivateKey::generate().public_key();
    assert_eq!(verify_bundle(&good, &other).unwrap_err().exit_code(), 1);

    let mut tampered = good.clone();
    tampered.dsse_envelope.as_mut().unwrap().payload = br#"{"a":2}"#.to_vec();
    assert!(verify_bundle(&tampered, &key).is_err());

    let mut retyped = good.clone();
    retyped.dsse_envelope.as_mut().unwrap().payload_type = "text/plain".into();
    assert!(verify_bundle(&retyped, &key).is_err());

    let mut unsigned = good.clone();
    unsigned.dsse_envelope.as_mut().unwrap().signatures.clear();
    assert!(verify_bundle(&unsigned, &key).is_err());

    let mut garbage = good.clone();
    garbage.dsse_envelope.as_mut().unwrap().signatures[0].sig = vec![0x30, 0x00];
    assert!(verify_bundle(&garbage, &key).is_err());

    let mut raw = good.clone();
    let der = &raw.dsse_envelope.as_ref().unwrap().signatures[0].sig;
    let fixed = EcdsaSignature::from_der(der).unwrap().to_bytes().to_vec();
    raw.dsse_envelope.as_mut().unwrap().signatures[0].sig = fixed;
    assert!(
        verify_bundle(&raw, &key).is_err(),
        "only DER signatures, as cosign"
    );

    let mut none = good;
    none.dsse_envelope = None;
    assert!(verify_bundle(&none, &key).is_err());
}

#[test]
fn high_s_signatures_verify_like_go() {
    // Go's ecdsa does not normalise s; a high-s signature must still verify.
    let signer = KeySigner::new(rfc6979_key());
    let env = sign_envelope(PAYLOAD_TYPE, b"{}", &signer).unwrap();
    let sig = EcdsaSignature::from_der(&env.signatures[0].sig).unwrap();
    let (r, s) = sig.split_scalars();
    let flipped = EcdsaSignature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
    let mut env2 = env.clone();
    env2.signatures[0].sig = flipped.to_der().as_bytes().to_vec();
    verify_envelope(&env2, &signer.public_key()).unwrap();
}

#[test]
fn verify_statement_bundle_parses_and_checks() {
    let signer = KeySigner::new(rfc6979_key());
    let st = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicateType":"p","predicate":{}}"#;
    let signed = sign_statement(st, &signer).unwrap();
    let (_, parsed) =
        verify_statement_bundle(&signed.bytes, "b.json", &signer.public_key()).unwrap();
    assert_eq!(parsed.predicate_type, "p");
    let other = PrivateKey::generate().public_key();
    let e = verify_statement_bundle(&signed.bytes, "b.json", &other).unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().starts_with("b.json: "), "{e}");
    let not_statement = sign_statement(b"{}", &signer).unwrap();
    let e =
        verify_statement_bundle(&not_statement.bytes, "c.json", &signer.public_key()).unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert_eq!(
        verify_statement_bundle(b"{", "d.json", &signer.public_key())
            .unwrap_err()
            .exit_code(),
        2
    );
}

#[test]
fn key_file_signer_warns_on_unencrypted_keys() {
    use p256::pkcs8::der::pem::{LineEnding, encode_string};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("plain.pem");
    let k = PrivateKey::generate();
    std::fs::write(
        &p,
        encode_string("PRIVATE KEY", LineEnding::LF, &k.pkcs8_der()).unwrap(),
    )
    .unwrap();
    let s = KeySigner::from_key_file(&p, &crate::ui::Ui::default()).unwrap();
    assert_eq!(s.public_key(), k.public_key());
}

#[test]
fn the_signature_that_verified_is_the_one_reported() {
    // Another signer's signature first, ours second: the envelope verifies, and the signature
    // handed on (for the log entry check) is ours, not the first one.
    let signer = KeySigner::new(rfc6979_key());
    let other = KeySigner::new(PrivateKey::generate());
    let ours = sign_envelope(PAYLOAD_TYPE, b"{}", &signer).unwrap();
    let theirs = sign_envelope(PAYLOAD_TYPE, b"{}", &other).unwrap();
    let mut env = ours.clone();
    env.signatures = vec![theirs.signatures[0].clone(), ours.signatures[0].clone()];
    let v = verify_envelope(&env, &signer.public_key()).unwrap();
    assert_eq!(v.signature, ours.signatures[0].sig);
}
