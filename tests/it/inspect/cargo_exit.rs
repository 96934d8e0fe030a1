//! cargo's answer is parsed before cargo exits (src/inspect/metadata.rs), but nothing made of
//! it is used before cargo's exit was checked: a `cargo metadata` that prints its whole answer
//! and then fails makes `inspect` and `sbom` fail with cargo's message, writing nothing.

use std::path::{Path, PathBuf};

use super::support::{cargo_provenance, copy_example};

/// A `cargo` that runs the real one and, for `metadata`, fails once its answer is printed.
fn failing_cargo(dir: &Path) -> PathBuf {
    let real = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let script = dir.join("cargo-fails-after-metadata");
    let text = format!(
        "#!/bin/sh\n\"{}\" \"$@\" || exit $?\n\
         [ \"$1\" = metadata ] || exit 0\n\
         sleep 0.3\necho 'cargo broke after printing its answer' >&2\nexit 3\n",
        real.to_string_lossy()
    );
    super::support::write_script(&script, &text);
    script
}

/// Runs cargo-provenance with `args` and the failing cargo: it must fail with cargo's
/// message; its stdout.
fn fails_with_cargos_message(cargo: &Path, args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let out = cargo_provenance()
        .env("CARGO", cargo)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} passed:\n{stderr}");
    assert!(stderr.contains("cargo broke after printing"), "{stderr}");
    out.stdout
}

#[test]
fn a_cargo_that_fails_after_its_answer_fails_inspect_and_sbom() {
    let (tmp, dir) = copy_example("hello-service");
    let cargo = failing_cargo(tmp.path());
    let manifest = dir.join("Cargo.toml");
    let m = manifest.as_os_str();
    let args = ["inspect", "--format", "json", "--manifest-path"].map(std::ffi::OsStr::new);
    let stdout = fails_with_cargos_message(&cargo, &[&args[..], &[m]].concat());
    assert!(stdout.is_empty(), "inspect printed a report");

    let sbom = tmp.path().join("sbom.json");
    let args = ["sbom", "--manifest-path"].map(std::ffi::OsStr::new);
    let out = [m, "-o".as_ref(), sbom.as_os_str()];
    fails_with_cargos_message(&cargo, &[&args[..], &out].concat());
    assert!(!sbom.exists(), "sbom wrote {}", sbom.display());
}
