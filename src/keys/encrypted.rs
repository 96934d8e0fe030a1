//! cosign's encrypted private key format.
//!
//! A PEM block of type `ENCRYPTED SIGSTORE PRIVATE KEY` (cosign 2+; cosign 1 wrote
//! `ENCRYPTED COSIGN PRIVATE KEY`) whose body is the JSON written by go-securesystemslib's
//! `encrypted` package:
//!
//! ```json
//! {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<b64 32 bytes>"},
//!  "cipher":{"name":"nacl/secretbox","nonce":"<b64 24 bytes>"},
//!  "ciphertext":"<b64>"}
//! ```
//!
//! The secretbox key is `scrypt(password, salt, N, r, p, 32)`; the plaintext is the PKCS#8
//! DER of the private key. We write exactly cosign's parameters (N = 2^16, r = 8, p = 1).

use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, KeyInit};
use p256::elliptic_curve::zeroize::Zeroizing;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::formats::dsse::b64;

/// The PEM label cosign 2 writes.
pub const PEM_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The PEM label cosign 1 wrote (read only).
pub const PEM_LABEL_COSIGN: &str = "ENCRYPTED COSIGN PRIVATE KEY";

/// scrypt log2(N) cosign uses.
const LOG_N: u8 = 16;
/// scrypt r.
const R: u32 = 8;
/// scrypt p.
const P: u32 = 1;
/// The largest log2(N) we accept when reading (2^20 × r=8 × 128 B = 1 GiB of memory).
const MAX_LOG_N: u8 = 20;

/// Why decryption failed.
#[derive(Debug, PartialEq, Eq)]
pub enum DecryptError {
    /// The file is not in the expected format (the reason).
    Format(String),
    /// The password does not open the box.
    WrongPassword,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    kdf: Kdf,
    cipher: Cipher,
    #[serde(with = "b64")]
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    #[serde(with = "b64")]
    salt: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    #[serde(with = "b64")]
    nonce: Vec<u8>,
}

fn derive_key(
    password: &[u8],
    salt: &[u8],
    log_n: u8,
    r: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, DecryptError> {
    let params = scrypt::Params::new(log_n, r, p, 32)
        .map_err(|e| DecryptError::Format(format!("unusable scrypt parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, key.as_mut())
        .map_err(|e| DecryptError::Format(format!("scrypt: {e}")))?;
    Ok(key)
}

/// Decrypts the JSON body of an encrypted key PEM block into PKCS#8 DER.
pub fn decrypt(json: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let sealed: Sealed = serde_json::from_slice(json)
        .map_err(|e| DecryptError::Format(format!("not cosign's encrypted key JSON: {e}")))?;
    if sealed.kdf.name != "scrypt" {
        return Err(DecryptError::Format(format!(
            "unsupported key derivation `{}` (expected scrypt)",
            sealed.kdf.name
        )));
    }
    if sealed.cipher.name != "nacl/secretbox" {
        return Err(DecryptError::Format(format!(
            "unsupported cipher `{}` (expected nacl/secretbox)",
            sealed.cipher.name
        )));
    }
    let KdfParams { n, r, p } = sealed.kdf.params;
    if !n.is_power_of_two() || n < 2 {
        return Err(DecryptError::Format(format!(
            "scrypt N = {n} is not a power of two"
        )));
    }
    let log_n = n.trailing_zeros() as u8;
    if log_n > MAX_LOG_N || r == 0 || r > 32 || p == 0 || p > 16 {
        return Err(DecryptError::Format(format!(
            "scrypt parameters N={n} r={r} p={p} are out of the supported range"
        )));
    }
    if sealed.cipher.nonce.len() != 24 {
        return Err(DecryptError::Format(format!(
            "secretbox nonce is {} bytes, expected 24",
            sealed.cipher.nonce.len()
        )));
    }
    let key = derive_key(password, &sealed.kdf.salt, log_n, r, p)?;
    let cipher = XSalsa20Poly1305::new(key.as_ref().into());
    let plain = cipher
        .decrypt(
            sealed.cipher.nonce.as_slice().into(),
            sealed.ciphertext.as_slice(),
        )
        .map_err(|_| DecryptError::WrongPassword)?;
    Ok(Zeroizing::new(plain))
}

/// Encrypts PKCS#8 DER into the JSON body cosign writes (random salt and nonce).
pub fn encrypt(pkcs8_der: &[u8], password: &[u8]) -> Vec<u8> {
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut nonce);
    encrypt_with(pkcs8_der, password, &salt, &nonce)
}

fn encrypt_with(pkcs8_der: &[u8], password: &[u8], salt: &[u8; 32], nonce: &[u8; 24]) -> Vec<u8> {
    let key =
        derive_key(password, salt, LOG_N, R, P).expect("cosign's scrypt parameters are valid");
    let cipher = XSalsa20Poly1305::new(key.as_ref().into());
    let ciphertext = cipher
        .encrypt(nonce.into(), pkcs8_der)
        .expect("secretbox encryption of a small buffer cannot fail");
    let sealed = Sealed {
        kdf: Kdf {
            name: "scrypt".into(),
            params: KdfParams {
                n: 1 << LOG_N,
                r: R,
                p: P,
            },
            salt: salt.to_vec(),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: nonce.to_vec(),
        },
        ciphertext,
    };
    serde_json::to_vec(&sealed).expect("plain struct serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_password() {
        let json = encrypt_with(b"secret der", b"pw", &[7; 32], &[9; 24]);
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(
            text.starts_with(
                r#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""#
            ),
            "{text}"
        );
        assert_eq!(decrypt(&json, b"pw").unwrap().as_slice(), b"secret der");
        assert_eq!(
            decrypt(&json, b"nope").unwrap_err(),
            DecryptError::WrongPassword
        );
    }

    #[test]
    fn rejects_hostile_parameters() {
        let json = encrypt_with(b"x", b"pw", &[7; 32], &[9; 24]);
        let text = String::from_utf8(json).unwrap();
        for (from, to) in [
            ("65536", "1073741824"),
            ("65536", "1000"),
            ("secretbox", "aesgcm"),
            ("scrypt", "pbkdf2"),
        ] {
            let bad = text.replacen(from, to, 1);
            assert!(
                matches!(decrypt(bad.as_bytes(), b"pw"), Err(DecryptError::Format(_))),
                "{to}"
            );
        }
    }
}
