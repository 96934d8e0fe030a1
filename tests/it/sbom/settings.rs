//! The SBOM reads cargo's settings as the build does (docs/sbom.md, "Where the crate set comes
//! from"): the target configured in `.cargo/config.toml` or `CARGO_BUILD_TARGET`, rustflags of
//! cargo configuration files in the cfg resolution (and `build` agrees), and, for a crate
//! compiled twice, the features of the unit that is linked.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::helpers::*;
use super::support::{self, cargo_provenance, example_repo};

/// `sbom` in `dir` with the outer run's rustflags and target removed; the checked document.
fn sbom_clean(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut cmd = cargo_provenance();
    cmd.current_dir(dir).arg("sbom").args(args);
    for v in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "sbom {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_sbom(&out.stdout)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_configured_target_is_the_sboms_target() {
    let (_tmp, dir) = example_repo("workspace-app");
    let darwin = "aarch64-apple-darwin";
    let expected = tree_set(
        &dir,
        "app-server",
        "normal,no-proc-macro",
        darwin,
        &[],
        "--no-dedupe",
    );
    assert!(
        expected
            .iter()
            .any(|r| r.starts_with("core-foundation-sys@"))
    );
    let doc = sbom_clean(
        &dir,
        &["-p", "app-server"],
        &[("CARGO_BUILD_TARGET", darwin)],
    );
    assert_eq!(scoped(&doc, "required"), expected, "CARGO_BUILD_TARGET");
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(
        dir.join(".cargo/config.toml"),
        format!("[build]\ntarget = \"{darwin}\"\n"),
    )
    .unwrap();
    let doc = sbom_clean(&dir, &["-p", "app-server"], &[]);
    assert_eq!(scoped(&doc, "required"), expected, "build.target");
    // --target wins over the configuration, as in cargo.
    let doc = sbom_clean(&dir, &["-p", "app-server", "--target", &host()], &[]);
    assert_eq!(
        scoped(&doc, "required"),
        cargo_tree(&dir, "app-server", &[])
    );
}

/// A binary with one path dependency gated on `cfg(<cfg>)` and one on `cfg(not(<cfg>))`
/// (offline: no registry crate), committed in a git repository.
fn gated_fixture(cfg: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gated-app");
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "Cargo.toml",
        &format!(
            "[package]\nname = \"gated-app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [workspace]\n\n[target.'cfg({cfg})'.dependencies]\ngated = {{ path = \"gated\" }}\n\n\
             [target.'cfg(not({cfg}))'.dependencies]\nungated = {{ path = \"ungated\" }}\n"
        ),
    );
    write(
        "src/main.rs",
        &format!(
            "#[cfg({cfg})]\nfn main() {{ gated::hi() }}\n\
             #[cfg(not({cfg}))]\nfn main() {{ ungated::hi() }}\n"
        ),
    );
    for name in ["gated", "ungated"] {
        write(
            &format!("{name}/Cargo.toml"),
            &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        );
        write(
            &format!("{name}/src/lib.rs"),
            &format!("pub fn hi() {{ println!(\"{name}\"); }}\n"),
        );
    }
    support::run(
        Command::new("cargo")
            .current_dir(&dir)
            .args(["generate-lockfile", "--offline"]),
    );
    support::git(&dir, &["init", "-q"]);
    support::git(&dir, &["add", "-A"]);
    support::git(&dir, &["commit", "-q", "-m", "gated"]);
    (tmp, dir)
}

#[test]
fn config_rustflags_decide_cfg_gated_dependencies_in_sbom_and_build() {
    let (tmp, dir) = gated_fixture("myflag");
    let doc = sbom_clean(&dir, &[], &[]);
    assert_eq!(scoped(&doc, "required"), set(&["ungated@0.1.0"]));
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    let config = dir.join(".cargo/config.toml");
    std::fs::write(&config, "[build]\nrustflags = [\"--cfg\", \"myflag\"]\n").unwrap();
    let doc = sbom_clean(&dir, &[], &[]);
    assert_eq!(
        scoped(&doc, "required"),
        set(&["gated@0.1.0"]),
        "build.rustflags"
    );
    std::fs::write(
        &config,
        format!("[target.{}]\nrustflags = [\"--cfg\", \"myflag\"]\n", host()),
    )
    .unwrap();
    let doc = sbom_clean(&dir, &[], &[]);
    assert_eq!(
        scoped(&doc, "required"),
        set(&["gated@0.1.0"]),
        "target.<triple>.rustflags"
    );

    // `build` compiles the gated crate and its SBOM lists it (a compiled crate the SBOM did
    // not list would be exit 2, tests/it/sbom/mod.rs::library_api_...).
    let (built, run) = build_fixture(tmp.path(), &dir, &[]);
    assert_eq!(scoped(&built, "required"), set(&["gated@0.1.0"]));
    assert_eq!(run, "gated");
}

/// Two platforms whose flags differ (`linux/amd64/v3` is built with `-Ctarget-cpu=x86-64-v3`,
/// which turns on `target_feature = "avx2"`): the SBOM lists the crates linked into either.
#[test]
fn the_builds_sbom_lists_the_crates_of_every_platform() {
    let (tmp, dir) = gated_fixture("target_feature = \"avx2\"");
    let (built, run) = build_fixture(
        tmp.path(),
        &dir,
        &["--platform", "linux/amd64,linux/amd64/v3"],
    );
    assert_eq!(
        scoped(&built, "required"),
        set(&["gated@0.1.0", "ungated@0.1.0"])
    );
    assert_eq!(run, "ungated", "the first platform's binary");
}

/// `build` links statically (`+crt-static` on `scratch`): its SBOM is resolved for the flags
/// cargo got, so a dependency gated on `target_feature = "crt-static"` is the one listed,
/// where `sbom` (a plain, dynamic cargo build) lists the other.
#[test]
fn the_builds_sbom_is_resolved_for_the_flags_cargo_got() {
    let (tmp, dir) = gated_fixture("target_feature = \"crt-static\"");
    let doc = sbom_clean(&dir, &[], &[]);
    assert_eq!(scoped(&doc, "required"), set(&["ungated@0.1.0"]));
    let (built, run) = build_fixture(tmp.path(), &dir, &[]);
    assert_eq!(scoped(&built, "required"), set(&["gated@0.1.0"]));
    assert_eq!(run, "gated");
}

/// `build --builder native --no-sign` of a fixture (plus `extra`): its checked SBOM and what
/// the first platform's binary prints.
fn build_fixture(tmp: &Path, dir: &Path, extra: &[&str]) -> (Value, String) {
    let out_dir = tmp.join("out");
    let out = cargo_provenance()
        .current_dir(dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("BUILDKIT_HOST")
        .args(["build", "--builder", "native", "--no-sign", "--offline"])
        .arg("--output-dir")
        .arg(&out_dir)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built = check_sbom(&std::fs::read(out_dir.join("sbom.cdx.json")).unwrap());
    let bin = out_dir.join("bin/linux/amd64/gated-app");
    let run = support::run(&mut Command::new(bin));
    (built, run.trim().to_owned())
}

/// proc-macro2 linked into the binary without default features, and compiled for serde's
/// derive macro with them: the SBOM shows the linked unit's features (none), which are the
/// features cargo compiled the target unit with.
#[test]
fn a_crate_compiled_twice_shows_the_linked_units_features() {
    let (_tmp, dir) = example_repo("hello-service");
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            "itoa = \"1\"\n",
            "itoa = \"1\"\nproc-macro2 = { version = \"1\", default-features = false }\n",
        ),
    )
    .unwrap();
    support::run(Command::new("cargo").current_dir(&dir).args([
        "metadata",
        "--offline",
        "--format-version",
        "1",
    ]));
    let doc = sbom_clean(&dir, &[], &[]);
    let component = |name: &str| -> Value {
        doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed"))
            .clone()
    };
    let features = |c: &Value| -> Option<String> {
        c["properties"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == "cargo-provenance:features")
            .map(|p| p["value"].as_str().unwrap().to_owned())
    };
    let pm2 = component("proc-macro2");
    assert_eq!(pm2["scope"], "required");
    assert_eq!(features(&pm2), cargo_target_features(&dir, "proc_macro2"));
    assert_eq!(features(&pm2), None, "the linked unit has no features");
    // A crate only built for the host keeps the host unit's features.
    assert_eq!(
        features(&component("syn")),
        cargo_host_features(&dir, "syn")
    );
}

/// The features cargo compiled a crate's target (`--target host`) or host unit with, from
/// its `compiler-artifact` messages; `None` for no features.
fn cargo_features(dir: &Path, lib: &str, target_unit: bool) -> Option<String> {
    let triple = host();
    let out = support::run(
        Command::new("cargo")
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", support::example_target_dir())
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .args([
                "build",
                "--release",
                "--locked",
                "--offline",
                "--target",
                &triple,
            ])
            .args(["--message-format", "json"]),
    );
    let marker = format!("/{triple}/release/");
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == lib)
        .find(|m| {
            let in_target_dir = m["filenames"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f.as_str().unwrap().contains(&marker));
            in_target_dir == target_unit
        })
        .map(|m| {
            let mut f: Vec<&str> = m["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            f.sort();
            f.join(",")
        })
        .filter(|f| !f.is_empty())
}

fn cargo_target_features(dir: &Path, lib: &str) -> Option<String> {
    cargo_features(dir, lib, true)
}

fn cargo_host_features(dir: &Path, lib: &str) -> Option<String> {
    cargo_features(dir, lib, false)
}
