//! The formats we read and write, as plain serde types, one module per format. No logic
//! beyond (de)serialisation and constants lives here.

pub mod bundle;
pub mod cosign;
pub mod cosign_legacy;
pub mod cyclonedx;
pub mod dsse;
pub mod intoto;
pub mod oci;
pub mod openvex;
pub mod slsa;
