//! Stage 2, build: the cargo build with reproducibility settings, then the image (BuildKit or the native builder) in an OCI layout.
