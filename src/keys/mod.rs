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
    /// (hashed with SHA-256): the signature check every key-based verifier here uses, with
    /// [`PublicKey::verifies_der_prehashed`] for signatures over a given digest.
    ///
    /// Checked by aws-lc (strict DER, `r` and `s` in `[1, n)`), which the sigstore crates link
    /// already: p256's pure-Rust check was the largest user-space cost of a verify from a
    /// registry (docs/verify.md, "Speed").
    pub fn verifies_der(&self, message: &[u8], der_sig: &[u8]) -> bool {
        self.aws_lc().verify(message, der_sig).is_ok()
    }

    /// [`PublicKey::verifies_der`] over an already computed SHA-256 `digest` (cosign
    /// `sign-blob`'s message signatures).
    pub fn verifies_der_prehashed(&self, digest: &Digest, der_sig: &[u8]) -> bool {
        use aws_lc_rs::digest::{Digest as Imported, SHA256};
        Imported::import_less_safe(digest.as_bytes(), &SHA256)
            .is_ok_and(|d| self.aws_lc().verify_digest(&d, der_sig).is_ok())
    }

    /// This key for aws-lc's ECDSA P-256 / SHA-256 / DER check (the uncompressed point).
    fn aws_lc(&self) -> aws_lc_rs::signature::UnparsedPublicKey<Vec<u8>> {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
        let point = self.0.to_encoded_point(false).as_bytes().to_vec();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
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

    /// DER `SEQUENCE { INTEGER r, INTEGER s }` from big-endian magnitudes, minimal.
    fn der_of(r: &[u8], s: &[u8]) -> Vec<u8> {
        let int = |x: &[u8]| {
            let x: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
            let mut v = if x.first().is_some_and(|b| b & 0x80 != 0) {
                vec![0]
            } else {
                vec![]
            };
            v.extend(if x.is_empty() { vec![0] } else { x });
            [vec![2, v.len() as u8], v].concat()
        };
        let body = [int(r), int(s)].concat();
        [vec![0x30, body.len() as u8], body].concat()
    }

    /// Malformed and out-of-range variants of the DER signature `(r, s)`.
    fn hostile_variants(der: &[u8], r: &[u8], s: &[u8]) -> Vec<Vec<u8>> {
        let hex = |h: &str| hex::decode(h).unwrap();
        let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        let n1 = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632552");
        let max = vec![0xff; 32];
        let plus_n = |x: &[u8]| {
            let (mut out, mut carry) = (vec![0u8; 33], 0u16);
            for i in (0..32).rev() {
                let v = x[i] as u16 + n[i] as u16 + carry;
                out[i + 1] = v as u8;
                carry = v >> 8;
            }
            out[0] = carry as u8;
            out
        };
        let body = &der[2..];
        let mut cases = vec![
            der_of(&[0], s),
            der_of(r, &[0]),
            der_of(&n, s),
            der_of(r, &n),
            der_of(&n1, s),
            der_of(r, &max),
            der_of(&plus_n(r), s),
            der_of(r, &plus_n(s)),
            [der, &[0]].concat(),
            [&[0x30, 0x81, body.len() as u8], body].concat(),
            [&[0x30, 0x80], body, &[0, 0]].concat(),
            [&[0x31, body.len() as u8], body].concat(),
            [&[0x30, body.len() as u8 + 3], body, &[2, 1, 1]].concat(),
            [&[0x30, body.len() as u8 + 2], body, &[5, 0]].concat(),
            vec![0x30, 0],
            Vec::new(),
        ];
        // r's INTEGER with a long-form length, and with a superfluous leading zero.
        let rlen = body[1] as usize;
        let (rint, rest) = body.split_at(2 + rlen);
        let long = [&[2, 0x81, rlen as u8], &rint[2..], rest].concat();
        cases.push([&[0x30, long.len() as u8], &long[..]].concat());
        let padded = [&[2, rlen as u8 + 1, 0], &rint[2..], rest].concat();
        cases.push([&[0x30, padded.len() as u8], &padded[..]].concat());
        // r as a negative INTEGER (its high bit set, the zero pad dropped).
        if rint[2] == 0 {
            let neg = [&[2, rlen as u8 - 1], &rint[3..], rest].concat();
            cases.push([&[0x30, neg.len() as u8], &neg[..]].concat());
        }
        // Every bit of the first 6 bytes (tags and lengths) flipped, then every 7th bit (p256
        // checks unoptimised in tests: each parsing variant costs a whole verification);
        // every byte dropped once.
        for j in (0..der.len() * 8).filter(|j| *j < 48 || j % 7 == 0) {
            let mut d = der.to_vec();
            d[j / 8] ^= 1 << (j % 8);
            cases.push(d);
        }
        for j in 0..der.len() {
            let mut d = der.to_vec();
            d.remove(j);
            cases.push(d);
        }
        cases
    }

    /// The signature checks ([`PublicKey::verifies_der`] and
    /// [`PublicKey::verifies_der_prehashed`], aws-lc) give p256's answer on valid signatures
    /// and on every kind of bad one ([`hostile_variants`]): `r` or `s` zero, `n`, `n + 1`,
    /// `2^256 - 1` or plus `n`; trailing bytes, long-form and indefinite lengths, a SET, a
    /// third INTEGER or other bytes inside the SEQUENCE, a non-minimal or negative INTEGER,
    /// bits flipped and every byte dropped; and another message, digest or key. The
    /// high-`s` twin of a low-`s` signature is accepted by both, as by cosign. Fixed keys:
    /// a failure replays.
    #[test]
    fn the_signature_check_agrees_with_p256() {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        use p256::ecdsa::signature::{Signer as _, Verifier as _};
        use p256::ecdsa::{Signature, SigningKey};
        use p256::elliptic_curve::PrimeField as _;
        let other = PublicKey(*SigningKey::from_slice(&[99; 32]).unwrap().verifying_key());
        for i in 0..4u8 {
            let sk = SigningKey::from_slice(&[i + 1; 32]).unwrap();
            let pk = PublicKey(*sk.verifying_key());
            let msg = vec![i; i as usize * 40];
            let digest = Digest::of(&msg);
            let sig: Signature = sk.sign(&msg);
            let sig = sig.normalize_s().unwrap_or(sig);
            let (r, s) = (sig.r().to_bytes(), sig.s().to_bytes());
            let der = sig.to_der().as_bytes().to_vec();
            let high_s = der_of(&r, &(-*sig.s()).to_repr());
            assert!(pk.verifies_der(&msg, &der));
            assert!(pk.verifies_der_prehashed(&digest, &der));
            assert!(pk.verifies_der(&msg, &high_s), "the high-s twin");
            assert!(!pk.verifies_der(b"another message", &der));
            assert!(!pk.verifies_der_prehashed(&Digest::of(b"another"), &der));
            assert!(!other.verifies_der(&msg, &der));
            let oracle = |m: &[u8], d: &[u8]| {
                Signature::from_der(d).is_ok_and(|s| pk.0.verify(m, &s).is_ok())
            };
            let oracle_prehash = |d: &[u8]| {
                Signature::from_der(d)
                    .is_ok_and(|s| pk.0.verify_prehash(digest.as_bytes(), &s).is_ok())
            };
            let cases = [vec![der.clone(), high_s], hostile_variants(&der, &r, &s)].concat();
            for (k, case) in cases.iter().enumerate() {
                let want = oracle(&msg, case);
                assert_eq!(
                    pk.verifies_der(&msg, case),
                    want,
                    "key {i} case {k}: {case:02x?}"
                );
                assert_eq!(
                    pk.verifies_der_prehashed(&digest, case),
                    oracle_prehash(case)
                );
                assert!(!want || k < 2, "key {i} case {k} verifies: {case:02x?}");
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
