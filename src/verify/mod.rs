//! Stage 6, verify: fail-closed checks of an image's attestations against a key and
//! expectations (`cargo provenance verify`), and of single Sigstore bundles.
//!
//! - [`image`]: the image pipeline (resolve, collect referrers, verify, check, require);
//! - [`checks`]: content checks over verified statements;
//! - [`bundle`], [`tlog`]: Sigstore bundles, signatures, single-bundle mode;
//! - [`policy`]: the expectations, from flags or a policy file;
//! - [`source`]: where images and referrers are read from;
//! - [`report`]: the checks' outcomes, for people or as JSON;
//! - [`rebuild`]: `--rebuild`, rebuilding the recorded source and comparing digests.

pub mod bundle;
pub mod checks;
pub mod image;
pub mod policy;
pub mod rebuild;
pub mod report;
pub mod source;
pub mod tlog;

use crate::error::{Error, Result};

pub use bundle::{Artifact, TrustedKey, verify_bundle};
pub use image::{Trust, verify_image};
pub use policy::{Expectations, Requirement};
pub use report::{Report, Status};
pub use tlog::TrustedRoot;

/// Opens the source a reference names: `oci:PATH...` or a registry reference.
pub fn open_source(reference: &str, plain_http: bool) -> Result<Box<dyn source::Source>> {
    if reference.starts_with("oci:") {
        return Ok(Box::new(source::LayoutSource::open(reference)?));
    }
    let _ = plain_http;
    Err(Error::msg(format!(
        "`{reference}`: registry references are not supported by verify yet; copy the image \
         into a layout (`cargo provenance push {reference} oci:DIR`) and verify oci:DIR"
    )))
}
