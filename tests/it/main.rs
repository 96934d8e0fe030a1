//! The integration tests, one binary: a module per area, and one support module
//! (`support`: our binary, the example fixtures, the real peers and the fixtures shared
//! between areas). Run one area with `cargo test --test it -- --include-ignored AREA::`.

mod action;
mod architecture;
pub mod audit;
mod auditable;
mod build_cargo_runs;
mod conformance;
mod hostile_registry;
mod image;
mod image_peers;
mod inspect;
mod keygen_cli;
mod keyless_build;
mod no_network;
mod policy;
mod policy_cel;
mod provenance_schema;
mod push_registry;
mod referrers;
mod referrers_registry;
mod registry_auth;
mod registry_faults;
mod release;
mod release_peers;
mod sbom;
mod secrets_canary;
mod sign_interop;
mod support;
mod verify_attacks;
mod verify_keyless;
mod verify_keyless_image;
mod verify_keyless_stack;
mod verify_keyless_stack_image;
mod verify_policy;
mod verify_rebuild;
mod verify_registry;
mod verify_tamper;
mod vex;
mod vex_registry;
mod vex_verify;
