//! Stage 4, sign: DSSE envelopes over in-toto statements, wrapped in Sigstore bundles v0.3.
//! The matching signature check, which verify builds on too, is [`crate::keys::dsse`].
//!
//! Signatures are ECDSA P-256 over SHA-256 of the DSSE pre-authentication encoding, with
//! RFC 6979 deterministic nonces (the same key and statement always give the same bytes),
//! encoded as ASN.1 DER, as cosign writes them. Keyless signing ([`keyless`]) signs the same
//! PAE with an ephemeral key certified by Fulcio.

use p256::ecdsa::Signature as EcdsaSignature;
use p256::ecdsa::signature::Signer as _;

pub mod keyless;
pub mod write;

pub use write::{WrittenAttestation, write_attestations};

use crate::error::Result;
use crate::formats::bundle::Bundle;
use crate::formats::dsse::{Envelope, Signature};
use crate::formats::intoto::PAYLOAD_TYPE;
use crate::keys::{PrivateKey, PublicKey};
use crate::util::digest::Digest;

/// The DSSE pre-authentication encoding ([`crate::formats::dsse::pae`]), which is what is
/// signed.
pub use crate::formats::dsse::pae;
/// The envelope and bundle signature checks live below both sign and verify
/// ([`crate::keys::dsse`]); re-exported for the callers that sign and check at once.
pub use crate::keys::dsse::{
    VerifiedPayload, verify_bundle, verify_envelope, verify_statement_bundle,
    verify_statement_envelope,
};

/// Something that signs in-toto statements into Sigstore bundles: a key ([`KeySigner`]) or
/// keyless ([`keyless::KeylessSigner`]); [`AnySigner`] is the one the commands hold.
pub trait Signer: Sync {
    /// Signs in-toto statement bytes (the exact payload) into a Sigstore bundle v0.3.
    fn sign_statement(&self, statement: &[u8]) -> Result<SignedBundle>;

    /// Signs these statements ahead, so that a failure comes before anything is written
    /// (keyless: one certificate, the log entries concurrently, every bundle verified); the
    /// later [`Signer::sign_statement`] calls then answer from what was signed. A key
    /// signer needs nothing ahead.
    fn prepare(&self, _statements: &[&[u8]]) -> Result<()> {
        Ok(())
    }

    /// What [`Signer::prepare`] took, for `-v` (keyless: the time per service).
    fn prepare_report(&self) -> Option<String> {
        None
    }

    /// Whether this signer signs `statement`: a key signs anything; keyless only a statement
    /// naming a subject (its bundle is verified before it is written, which needs one).
    fn signs(&self, _statement: &[u8]) -> bool {
        true
    }

    /// The key, when signing with one (cosign 2.x's legacy `.sig` signatures need it).
    fn key(&self) -> Option<&KeySigner> {
        None
    }

    /// Keyless: the certificate identity (SAN) and its OIDC issuer.
    fn keyless_identity(&self) -> Option<(String, String)> {
        None
    }
}

/// Signs with an ECDSA P-256 key.
#[derive(Debug)]
pub struct KeySigner {
    key: PrivateKey,
    hint: String,
}

impl KeySigner {
    /// A signer for `key`.
    pub fn new(key: PrivateKey) -> Self {
        let hint = key.public_key().hint();
        KeySigner { key, hint }
    }

    /// Loads the private key at `path` (`--key`): cosign's encrypted format with the password
    /// from `COSIGN_PASSWORD` or a terminal prompt, or unencrypted PKCS#8 (warned about on
    /// `ui`). Errors name the file; a wrong password says so (exit 2).
    pub fn from_key_file(path: &std::path::Path, ui: &crate::ui::Ui) -> Result<Self> {
        let loaded = crate::keys::load_private_key(path, &crate::keys::EnvOrPrompt)?;
        if let Some(w) = &loaded.warning {
            ui.warn(w);
        }
        Ok(KeySigner::new(loaded.key))
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Signs `message` (the PAE): ASN.1 DER, SHA-256, RFC 6979 nonces.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let sig: EcdsaSignature = self.key.signing_key().sign(message);
        Ok(sig.to_der().as_bytes().to_vec())
    }
}

impl Signer for KeySigner {
    fn sign_statement(&self, statement: &[u8]) -> Result<SignedBundle> {
        let envelope = sign_envelope(PAYLOAD_TYPE, statement, self)?;
        SignedBundle::new(Bundle::with_key_hint(self.hint.clone(), envelope))
    }

    fn key(&self) -> Option<&KeySigner> {
        Some(self)
    }
}

/// The signer a command holds: a key, or keyless. Callers use it through [`Signer`].
#[derive(Debug)]
pub enum AnySigner {
    /// `--key`.
    Key(KeySigner),
    /// `--keyless`.
    Keyless(Box<keyless::KeylessSigner>),
    /// `--key --tlog`: the key's signatures logged in Rekor.
    LoggedKey(Box<keyless::tlog::LoggedKeySigner>),
}

impl AnySigner {
    /// `--key` with `--tlog`: the key's signatures logged in the Rekor of `tlog`'s signing
    /// config; any other signer as it is.
    pub fn with_tlog(self, tlog: Option<&keyless::KeylessOptions>) -> Result<AnySigner> {
        match (self, tlog) {
            (AnySigner::Key(key), Some(t)) => Ok(AnySigner::LoggedKey(Box::new(
                keyless::tlog::LoggedKeySigner::new(
                    key,
                    t.signing_config.as_deref(),
                    t.trusted_root.as_deref(),
                )?,
            ))),
            (s, _) => Ok(s),
        }
    }

    fn inner(&self) -> &dyn Signer {
        match self {
            AnySigner::Key(k) => k,
            AnySigner::Keyless(k) => k.as_ref(),
            AnySigner::LoggedKey(k) => k.as_ref(),
        }
    }
}

impl Signer for AnySigner {
    fn sign_statement(&self, statement: &[u8]) -> Result<SignedBundle> {
        self.inner().sign_statement(statement)
    }

    fn prepare(&self, statements: &[&[u8]]) -> Result<()> {
        self.inner().prepare(statements)
    }

    fn prepare_report(&self) -> Option<String> {
        self.inner().prepare_report()
    }

    fn signs(&self, statement: &[u8]) -> bool {
        self.inner().signs(statement)
    }

    fn key(&self) -> Option<&KeySigner> {
        self.inner().key()
    }

    fn keyless_identity(&self) -> Option<(String, String)> {
        self.inner().keyless_identity()
    }
}

/// Signs `payload` of `payload_type` into a DSSE envelope with one signature by `key`.
pub fn sign_envelope(payload_type: &str, payload: &[u8], key: &KeySigner) -> Result<Envelope> {
    let sig = key.sign(&pae(payload_type, payload))?;
    Ok(Envelope {
        payload: payload.to_vec(),
        payload_type: payload_type.to_string(),
        signatures: vec![Signature {
            sig,
            keyid: String::new(),
        }],
    })
}

/// A signed statement, ready to write and attach.
#[derive(Debug, Clone)]
pub struct SignedBundle {
    /// The bundle.
    pub bundle: Bundle,
    /// Its serialised bytes (what goes in `*.sigstore.json` and the referrer layer).
    pub bytes: Vec<u8>,
    /// The sha256 of `bytes`.
    pub digest: Digest,
}

impl SignedBundle {
    /// Serialises `bundle`.
    pub fn new(bundle: Bundle) -> Result<Self> {
        let bytes = bundle.to_bytes()?;
        let digest = Digest::of(&bytes);
        Ok(SignedBundle {
            bundle,
            bytes,
            digest,
        })
    }
}

/// Signs in-toto statement bytes (the exact payload) into a Sigstore bundle v0.3.
pub fn sign_statement(statement: &[u8], signer: &dyn Signer) -> Result<SignedBundle> {
    signer.sign_statement(statement)
}

#[cfg(test)]
mod tests;
