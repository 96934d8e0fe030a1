//! OCI storage: image layouts on disk, registries, references, and OCI 1.1 referrers.

pub mod auth;
pub mod copy;
mod http;
pub mod layout;
pub mod legacy_tags;
pub mod limits;
pub use crate::formats::reference;
pub mod referrers;
pub mod registry;
pub mod retry;
pub mod store;
