//! cargo-provenance: turns a Rust release build into evidence a consumer can check.
//!
//! The library is laid out as the pipeline it runs:
//!
//! | stage | module | input → output |
//! |---|---|---|
//! | inspect | [`inspect`] | a cargo project → [`inspect::BuildInputs`] (toolchain, git, graph) |
//! | build | [`build`] | build inputs → binaries and an OCI image in a layout |
//! | attest | [`attest`], [`sbom`] | inputs + image → in-toto statements (SLSA, CycloneDX) |
//! | sign | [`sign`], [`keys`] | statements → DSSE envelopes in Sigstore bundles |
//! | publish | [`publish`], [`oci`] | bundles → OCI 1.1 referrers in a layout or registry |
//! | verify | [`verify`] | an image reference → checked claims |
//! | rebuild | [`rebuild`] | a verified provenance → the recorded build repeated, digests compared |
//! | audit | [`audit`] | the shipped crates (SBOM) → RustSec findings, a gate, a scan attestation |
//!
//! The formats themselves (OCI, in-toto, SLSA, CycloneDX, DSSE, Sigstore bundle, OpenVEX)
//! are plain serde types in [`formats`]. The command line ([`cli`]) is a thin layer on top.

pub mod attest;
pub mod audit;
pub mod build;
pub mod cli;
pub mod error;
pub mod formats;
pub mod inspect;
pub mod keys;
pub mod oci;
pub mod policy;
pub mod publish;
pub mod rebuild;
pub mod release;
pub mod sbom;
pub mod select;
pub mod sign;
pub mod ui;
pub mod util;
pub mod verify;
pub mod vex;

pub use error::{Error, Result};
