//! Stage 6, verify: fail-closed checks of an image's attestations against a key and
//! expectations (`cargo provenance verify`), and of single Sigstore bundles.
//!
//! - [`image`]: the image pipeline (resolve, collect referrers, verify, check, require);
//! - [`checks`]: content checks over verified statements;
//! - [`signed`]: what a Sigstore bundle holds, and its signature checks;
//! - [`bundle`], [`tlog`]: single-bundle mode, transparency-log entries;
//! - [`keyless`]: keyless (Fulcio certificate) bundles, through sigstore-verify;
//! - [`policy`]: the expectations, from flags or a policy file;
//! - [`source`]: where images and referrers are read from; [`prefetch`]: registry reads ahead;
//! - [`tally`]: what the checked attestations count for, and the `require` check;
//! - [`report`]: the checks' outcomes, for people or as JSON.
//!
//! `verify --rebuild` lives above verify, in [`crate::rebuild`]: it runs the producer stages.

pub mod bundle;
pub mod check_id;
pub mod checks;
mod collect;
pub mod document;
pub mod image;
pub mod keyless;
pub mod policy;
pub mod prefetch;
pub mod report;
pub mod signed;
pub mod slsa_level;
pub mod source;
mod tally;
pub mod tlog;

pub use crate::keys::PublicKey;
pub use bundle::{Artifact, verify_bundle};
pub use image::{Reading, Trust, verify_image};
pub use policy::{Expectations, Requirement};
pub use report::{CheckId, Report, Status};
pub use source::{DEFAULT_TIMEOUT, Source};
pub use tlog::TrustedRoot;
