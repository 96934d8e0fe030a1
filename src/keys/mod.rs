//! Signing keys: cosign's encrypted private keys, unencrypted PKCS#8 PEM, SPKI PEM public
//! keys, key generation and the key hint Sigstore bundles carry; and checking DSSE envelopes
//! and bundles against a public key ([`dsse`]).
//!
//! Only ECDSA P-256 is supported (what `cosign generate-key-pair` makes). Passwords come from
//! `COSIGN_PASSWORD` (an empty value is a valid, empty password, as for cosign) or, when it
//! is unset and stdin is a terminal, from a prompt.

pub mod dsse;
pub mod encrypted;
mod files;

use std::path::Path;

use base64::Engine as _;
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::elliptic_curve::zeroize::Zeroizing;
use p256::pkcs8::der::pem::{self, LineEnding};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};

use crate::error::{Error, Result};
use crate::util::digest::Digest;

pub use files::{KeyPairPaths, write_key_pair};

/// The environment variable holding the private key's password (cosign's name).
pub const PASSWORD_ENV: &str = "COSIGN_PASSWORD";

/// An ECDSA P-256 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Wraps a p256 verifying key.
    pub fn from_verifying_key(key: VerifyingKey) -> Self {
        PublicKey(key)
    }

    /// The p256 verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// True when `der_sig` is a valid DER ECDSA P-256 signature by this key over `message`
    /// (hashed with SHA-256): the one signature check every verifier here uses.
    ///
    /// Checked by aws-lc (strict DER, `r` and `s` in `[1, n)`), which the sigstore crates link
    /// already: p256's pure-Rust check took ~0.5 ms of a registry verify's ~4 ms of CPU.
    pub fn verifies_der(&self, message: &[u8], der_sig: &[u8]) -> bool {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
        let point = self.0.to_encoded_point(false);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point.as_bytes())
            .verify(message, der_sig)
            .is_ok()
    }

    /// Parses a `PUBLIC KEY` PEM (SubjectPublicKeyInfo). `origin` names the input in errors.
    pub fn from_pem(text: &[u8], origin: &str) -> Result<Self> {
        let (label, der) = pem::decode_vec(text).map_err(|e| {
            Error::msg(format!(
                "{origin} is not a PEM public key ({e}); expected `-----BEGIN PUBLIC KEY-----`"
            ))
        })?;
        if label != "PUBLIC KEY" {
            return Err(Error::msg(format!(
                "{origin} holds a `{label}` PEM block; expected a `PUBLIC KEY` (SubjectPublicKeyInfo)"
            )));
        }
        Self::from_spki_der(&der, origin)
    }

    /// Parses DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8], origin: &str) -> Result<Self> {
        use p256::pkcs8::DecodePublicKey;
        VerifyingKey::from_public_key_der(der)
            .map(PublicKey)
            .map_err(|e| {
                Error::msg(format!(
                    "{origin}: unsupported public key ({e}); only ECDSA P-256 keys are supported"
                ))
            })
    }

    /// Reads a public key PEM file.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = crate::util::fs::read(path)?;
        Self::from_pem(&bytes, &path.display().to_string())
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        self.0
            .to_public_key_der()
            .expect("a P-256 key always encodes")
            .into_vec()
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM with LF line endings, as cosign writes it.
    pub fn to_pem(&self) -> String {
        pem::encode_string("PUBLIC KEY", LineEnding::LF, &self.spki_der())
            .expect("PEM encoding of a short buffer cannot fail")
    }

    /// The key hint of Sigstore bundles: base64(sha256(DER SPKI)).
    pub fn hint(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(Digest::of(&self.spki_der()).as_bytes())
    }
}

/// An ECDSA P-256 private key.
pub struct PrivateKey(SigningKey);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PrivateKey")
            .field(&self.public_key().hint())
            .finish()
    }
}

impl PrivateKey {
    /// A new random key.
    pub fn generate() -> Self {
        PrivateKey(SigningKey::random(&mut rand_core::OsRng))
    }

    /// Wraps a p256 signing key.
    pub fn from_signing_key(key: SigningKey) -> Self {
        PrivateKey(key)
    }

    /// The p256 signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.0
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(*self.0.verifying_key())
    }

    /// PKCS#8 DER.
    pub fn pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(
            self.0
                .to_pkcs8_der()
                .expect("a P-256 key always encodes")
                .as_bytes()
                .to_vec(),
        )
    }

    /// cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` PEM, encrypted with `password`.
    pub fn to_encrypted_pem(&self, password: &[u8]) -> Zeroizing<String> {
        let json = encrypted::encrypt(&self.pkcs8_der(), password);
        Zeroizing::new(
            pem::encode_string(encrypted::PEM_LABEL, LineEnding::LF, &json)
                .expect("PEM encoding cannot fail"),
        )
    }

    fn from_pkcs8_der(der: &[u8], origin: &str) -> Result<Self> {
        SigningKey::from_pkcs8_der(der)
            .map(PrivateKey)
            .map_err(|e| {
                Error::msg(format!(
                    "{origin}: unsupported private key ({e}); only ECDSA P-256 keys are supported \
                 (make one with `cargo provenance keygen` or `cosign generate-key-pair`)"
                ))
            })
    }
}

/// A private key read from a file, with a warning to show when it was stored unencrypted.
#[derive(Debug)]
pub struct LoadedKey {
    /// The key.
    pub key: PrivateKey,
    /// `Some(text)` when the user should be warned (unencrypted key file).
    pub warning: Option<String>,
}

/// Where a password comes from.
pub trait PasswordSource {
    /// The password for `path`, or an error saying how to provide one.
    fn password(&self, path: &Path) -> Result<Zeroizing<String>>;
}

/// `COSIGN_PASSWORD`, else a prompt when stdin is a terminal.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvOrPrompt;

impl PasswordSource for EnvOrPrompt {
    fn password(&self, path: &Path) -> Result<Zeroizing<String>> {
        if let Some(v) = std::env::var_os(PASSWORD_ENV) {
            return v
                .into_string()
                .map(Zeroizing::new)
                .map_err(|_| Error::msg(format!("{PASSWORD_ENV} is not valid UTF-8")));
        }
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            return rpassword::prompt_password(format!("Enter password for {}: ", path.display()))
                .map(Zeroizing::new)
                .map_err(|e| Error::with_source("reading the key password from the terminal", e));
        }
        Err(Error::msg(format!(
            "{} is encrypted: set {PASSWORD_ENV} to its password (no terminal to prompt on)",
            path.display()
        )))
    }
}

/// The password for a new key: `COSIGN_PASSWORD` when set (even empty, as for cosign),
/// else asked twice on the terminal; an error when there is neither.
pub fn new_key_password() -> Result<Zeroizing<String>> {
    if let Some(v) = std::env::var_os(PASSWORD_ENV) {
        return v
            .into_string()
            .map(Zeroizing::new)
            .map_err(|_| Error::msg(format!("{PASSWORD_ENV} is not valid UTF-8")));
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(Error::msg(format!(
            "set {PASSWORD_ENV} to the password for the new key (no terminal to prompt on)"
        )));
    }
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| Error::with_source("reading the key password from the terminal", e))
    };
    let first = read("Enter password for private key: ")?;
    let second = read("Enter password for private key again: ")?;
    if first != second {
        return Err(Error::msg("the passwords do not match"));
    }
    Ok(first)
}

/// A fixed password (tests, callers that already asked).
#[derive(Debug, Clone)]
pub struct FixedPassword(pub String);

impl PasswordSource for FixedPassword {
    fn password(&self, _path: &Path) -> Result<Zeroizing<String>> {
        Ok(Zeroizing::new(self.0.clone()))
    }
}

/// Reads a private key file: cosign's encrypted PEM (`ENCRYPTED SIGSTORE PRIVATE KEY`, or
/// cosign 1's `ENCRYPTED COSIGN PRIVATE KEY`), or unencrypted PKCS#8 `PRIVATE KEY` PEM (with
/// a warning). Errors name the file; a wrong password says so.
pub fn load_private_key(path: &Path, passwords: &dyn PasswordSource) -> Result<LoadedKey> {
    KeyFile::read(path, passwords)?.decrypt()
}

/// [`load_private_key`] on bytes already read; `path` names them.
pub fn parse_private_key(
    bytes: &[u8],
    path: &Path,
    passwords: &dyn PasswordSource,
) -> Result<LoadedKey> {
    KeyFile::parse(bytes, path, passwords)?.decrypt()
}

/// A private key file read and its PEM block recognised, with the password already asked
/// when the key is encrypted: [`KeyFile::decrypt`] (scrypt, slow) needs nothing more from the
/// user, so it can run on another thread. The one reader of key files.
pub struct KeyFile {
    name: String,
    label: String,
    body: Zeroizing<Vec<u8>>,
    password: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile")
            .field("name", &self.name)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl KeyFile {
    /// Reads the key file at `path`; asks `passwords` when it is encrypted.
    pub fn read(path: &Path, passwords: &dyn PasswordSource) -> Result<KeyFile> {
        let bytes = Zeroizing::new(crate::util::fs::read(path)?);
        KeyFile::parse(&bytes, path, passwords)
    }

    /// [`KeyFile::read`] on bytes already read; `path` names them.
    pub fn parse(bytes: &[u8], path: &Path, passwords: &dyn PasswordSource) -> Result<KeyFile> {
        let name = path.display().to_string();
        let (label, body) = pem::decode_vec(bytes).map_err(|e| {
            Error::msg(format!(
                "{name} is not a PEM private key ({e}); expected cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` \
                 or a PKCS#8 `PRIVATE KEY`"
            ))
        })?;
        let password = match label {
            encrypted::PEM_LABEL | encrypted::PEM_LABEL_COSIGN => Some(passwords.password(path)?),
            _ => None,
        };
        Ok(KeyFile {
            name,
            label: label.to_owned(),
            body: Zeroizing::new(body),
            password,
        })
    }

    /// Whether the key is encrypted (its password was asked).
    pub fn is_encrypted(&self) -> bool {
        self.password.is_some()
    }

    /// Decrypts (encrypted keys) and parses the key.
    pub fn decrypt(self) -> Result<LoadedKey> {
        let name = &self.name;
        match (self.label.as_str(), &self.password) {
            (encrypted::PEM_LABEL | encrypted::PEM_LABEL_COSIGN, Some(password)) => {
                let der = encrypted::decrypt(&self.body, password.as_bytes()).map_err(|e| match e {
                    encrypted::DecryptError::WrongPassword => Error::msg(format!(
                        "wrong password for {name}: the key could not be decrypted; check {PASSWORD_ENV}"
                    )),
                    encrypted::DecryptError::Format(why) => {
                        Error::msg(format!("{name} is not a usable cosign key: {why}"))
                    }
                })?;
                Ok(LoadedKey {
                    key: PrivateKey::from_pkcs8_der(&der, name)?,
                    warning: None,
                })
            }
            ("PRIVATE KEY", _) => Ok(LoadedKey {
                key: PrivateKey::from_pkcs8_der(&self.body, name)?,
                warning: Some(format!(
                    "{name} is an unencrypted private key; prefer an encrypted one \
                     (`cargo provenance keygen` or `cosign import-key-pair`)"
                )),
            }),
            (other, _) => Err(Error::msg(format!(
                "{name} holds a `{other}` PEM block, which is not supported; expected cosign's \
                 `ENCRYPTED SIGSTORE PRIVATE KEY` or a PKCS#8 `PRIVATE KEY` with an ECDSA P-256 key"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signature check ([`PublicKey::verifies_der`], aws-lc) gives p256's answer on
    /// valid signatures and on every kind of bad one: another message or key, flipped
    /// bytes, non-minimal DER, trailing bytes, `r` or `s` zero or `n`, the high-`s` twin
    /// (accepted by both, as by cosign), and raw `r || s`.
    #[test]
    fn the_signature_check_agrees_with_p256() {
        use p256::ecdsa::signature::{Signer as _, Verifier as _};
        use p256::ecdsa::{Signature, SigningKey};
        use p256::elliptic_curve::PrimeField as _;
        let oracle = |k: &PublicKey, m: &[u8], der: &[u8]| {
            Signature::from_der(der).is_ok_and(|s| k.0.verify(m, &s).is_ok())
        };
        let der_of = |r: &[u8], s: &[u8]| {
            let int = |x: &[u8]| {
                let x: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
                let mut v = if x.first().is_some_and(|b| b & 0x80 != 0) {
                    vec![0]
                } else {
                    vec![]
                };
                v.extend(if x.is_empty() { vec![0] } else { x });
                let mut out = vec![2, v.len() as u8];
                out.extend(v);
                out
            };
            let body = [int(r), int(s)].concat();
            [vec![0x30, body.len() as u8], body].concat()
        };
        // The group order n.
        let n = hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
            .unwrap();
        let other = PrivateKey::generate().public_key();
        for i in 0..16u8 {
            let sk = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
            let pk = PublicKey(*sk.verifying_key());
            let msg = vec![i; 40 + i as usize];
            let sig: Signature = sk.sign(&msg);
            let (r, s) = (sig.r().to_bytes(), sig.s().to_bytes());
            let high_s = (-*sig.s()).to_repr();
            let der = sig.to_der().as_bytes().to_vec();
            let mut cases = vec![
                der.clone(),
                der_of(&r, &high_s),
                der_of(&[0], &s),
                der_of(&r, &[0]),
                der_of(&n, &s),
                der_of(&r, &n),
                [der.clone(), vec![0]].concat(),
                sig.to_bytes().to_vec(),
                Vec::new(),
            ];
            let mut padded = der.clone();
            padded.splice(4..4, [0u8]);
            padded[1] += 1;
            padded[3] += 1;
            cases.push(padded);
            for j in 0..der.len() {
                let mut d = der.clone();
                d[j] ^= 1 << (j % 8);
                cases.push(d);
            }
            assert!(pk.verifies_der(&msg, &der));
            assert!(!pk.verifies_der(b"another message", &der));
            assert!(!other.verifies_der(&msg, &der));
            assert!(pk.verifies_der(&msg, &cases[1]), "the high-s twin");
            for (k, case) in cases.iter().enumerate() {
                assert_eq!(
                    pk.verifies_der(&msg, case),
                    oracle(&pk, &msg, case),
                    "case {k}: {case:02x?}"
                );
            }
        }
    }

    #[test]
    fn encrypted_pem_round_trip_and_errors() {
        let k = PrivateKey::generate();
        let pem_text = k.to_encrypted_pem(b"pw");
        assert!(pem_text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let p = Path::new("k.key");
        let back = parse_private_key(pem_text.as_bytes(), p, &FixedPassword("pw".into())).unwrap();
        assert_eq!(back.key.public_key(), k.public_key());
        assert!(back.warning.is_none());
        let e = parse_private_key(pem_text.as_bytes(), p, &FixedPassword("x".into())).unwrap_err();
        assert!(e.to_string().starts_with("wrong password for k.key"), "{e}");
        assert_eq!(e.exit_code(), 2);
        let e = parse_private_key(b"garbage", p, &FixedPassword("x".into())).unwrap_err();
        assert!(e.to_string().contains("k.key"), "{e}");
    }

    #[test]
    fn reads_cosign_1_label() {
        let k = PrivateKey::generate();
        let text = k
            .to_encrypted_pem(b"pw")
            .replace(encrypted::PEM_LABEL, encrypted::PEM_LABEL_COSIGN);
        let back = parse_private_key(
            text.as_bytes(),
            Path::new("old.key"),
            &FixedPassword("pw".into()),
        )
        .unwrap();
        assert_eq!(back.key.public_key(), k.public_key());
    }

    #[test]
    fn unencrypted_pkcs8_warns() {
        let k = PrivateKey::generate();
        let text = pem::encode_string("PRIVATE KEY", LineEnding::LF, &k.pkcs8_der()).unwrap();
        let back = parse_private_key(
            text.as_bytes(),
            Path::new("p.pem"),
            &FixedPassword(String::new()),
        )
        .unwrap();
        assert_eq!(back.key.public_key(), k.public_key());
        assert!(back.warning.unwrap().contains("unencrypted"));
    }

    #[test]
    fn public_key_pem_and_hint() {
        // A key and hint produced by cosign 2.5 (`generate-key-pair`, then `attest-blob
        // --new-bundle-format`).
        let pem_text = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE/J3xO/1dDa6PV1R1kBBEv8bBsfyd\nwGsbpw/5NGcChGuDueJR6479uaZ5Tqjk+ED4MyDImV72cEVkanL3JO9Dng==\n-----END PUBLIC KEY-----\n";
        let k = PublicKey::from_pem(pem_text.as_bytes(), "cosign.pub").unwrap();
        assert_eq!(k.hint(), "IZ9irzlxPUMGRsG/Hk6AiNLj7WbSnteRurrbHiydM78=");
        assert_eq!(k.to_pem(), pem_text);
        let e = PublicKey::from_pem(b"-----BEGIN X-----\nAA==\n-----END X-----\n", "a.pub")
            .unwrap_err();
        assert!(e.to_string().contains("a.pub"));
    }
}
