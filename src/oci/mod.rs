//! OCI storage: image layouts on disk (and, with the publish stage, registries).

pub mod layout;
