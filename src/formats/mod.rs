//! The shared vocabulary: the formats we read and write as plain serde types (one module per
//! format), and the few names and rules every stage speaks about them: image references
//! ([`reference`]), platforms ([`oci::Platform`]), descriptors ([`oci::Descriptor`]),
//! predicate types ([`predicate`]), annotation keys and referrer roles ([`annotations`]), our
//! `buildType`'s parameters ([`build_type`]), package URLs ([`purl`]), what a consumer can require of an image
//! ([`requirement`]), severity levels ([`severity`]) and the one rule for which
//! entries of an index are platform manifests ([`index`]).
//!
//! It sits just above `util` and `error` and imports nothing else from the crate, so every
//! stage may use it (`tests/it/architecture.rs` holds that).

pub mod annotations;
pub mod build_type;
pub mod bundle;
pub mod cosign;
pub mod cosign_legacy;
pub mod cyclonedx;
pub mod dsse;
pub mod index;
pub mod intoto;
pub mod oci;
pub mod openvex;
pub mod predicate;
pub mod purl;
pub mod reference;
pub mod requirement;
pub mod severity;
pub mod slsa;
