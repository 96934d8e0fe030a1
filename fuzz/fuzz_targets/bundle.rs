//! Sigstore bundles (and the DSSE envelopes, statements, certificates and transparency-log
//! entries inside them) through single-bundle verification: key-signed with and without a
//! trusted root, and keyless against the shipped public-good root with an identity policy.
#![no_main]

use std::sync::OnceLock;

use std::sync::Arc;

use cargo_provenance::verify::keyless::{
    self, IdentityFlags, IdentityPolicy, KeylessTrust, SigstoreRoot,
};
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
        TrustedRoot::parse(include_bytes!("../../sigstore/trusted_root.production.json"), "fuzz root")
            .expect("the shipped trusted root parses")
    })
}

fn keyless_trust() -> &'static KeylessTrust {
    static T: OnceLock<KeylessTrust> = OnceLock::new();
    T.get_or_init(|| {
        let flags = IdentityFlags {
            identity: Some("https://github.com/example/app/.github/workflows/release.yml@refs/heads/main".into()),
            issuer: Some("https://token.actions.githubusercontent.com".into()),
            ..IdentityFlags::default()
        };
        KeylessTrust {
            policy: IdentityPolicy::required(&flags, "fuzz").expect("policy"),
            root: Arc::new(SigstoreRoot::load(None).expect("the shipped root")),
            time_threshold: 1,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let artifact = Artifact::Bytes(b"hello".to_vec());
    if keyless::is_keyless(data) {
        let _ = keyless::verify_bundle("fuzz", data, &artifact, keyless_trust());
        return;
    }
    let _ = verify_bundle("fuzz", data, &artifact, Some(key()), Some(root()));
    let _ = verify_bundle("fuzz", data, &artifact, Some(key()), None);
});
