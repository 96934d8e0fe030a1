//! Sigstore bundles (and the DSSE envelopes, statements and transparency-log entries inside
//! them) through single-bundle verification, with and without a trusted root.
#![no_main]

use std::sync::OnceLock;

use cargo_provenance::verify::{Artifact, PublicKey, TrustedRoot, verify_bundle};
use libfuzzer_sys::fuzz_target;

/// A fixed P-256 public key: no input is signed by it, so every path up to the signature
/// check and the log entries (which do not depend on the key) is reached.
const KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEcOZ6fVXkRdRFB4pLTe0Au6PPF8m8
kxJTNKKw/fVxujfuwKM8Ohv+Q9vD1Xbi1uol1IlD1ETUax4kqtRzJzvjPw==
-----END PUBLIC KEY-----
";

fn key() -> &'static PublicKey {
    static K: OnceLock<PublicKey> = OnceLock::new();
    K.get_or_init(|| PublicKey::from_pem(KEY.as_bytes(), "fuzz key").expect("fuzz key"))
}

fn root() -> &'static TrustedRoot {
    static R: OnceLock<TrustedRoot> = OnceLock::new();
    R.get_or_init(|| {
        TrustedRoot::parse(include_bytes!("../trusted_root.json"), "fuzz root")
            .expect("the shipped trusted root parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let artifact = Artifact::Bytes(b"hello".to_vec());
    let _ = verify_bundle("fuzz", data, &artifact, Some(key()), Some(root()));
    let _ = verify_bundle("fuzz", data, &artifact, Some(key()), None);
});
