//! The CycloneDX SBOM of exactly the crates compiled into the shipped binaries.
