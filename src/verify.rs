//! Stage 6, verify: fail-closed checks of an image's attestations against a key and expectations.
