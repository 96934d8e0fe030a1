//! OCI storage: image layouts on disk, registries, references, and OCI 1.1 referrers.

pub mod auth;
mod http;
pub mod layout;
pub mod limits;
pub mod reference;
pub mod referrers;
pub mod registry;
pub mod retry;
pub mod store;
