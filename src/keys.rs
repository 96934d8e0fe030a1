//! Signing keys: cosign's encrypted private key format, PKCS#8 PEM, SPKI public keys, and key generation.
