//! Stage 4, sign: DSSE envelopes over in-toto statements, wrapped in Sigstore bundles v0.3.
