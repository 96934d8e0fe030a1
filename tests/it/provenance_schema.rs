//! Our statements pass the in-toto attestation framework's own definitions: the official
//! protobuf bindings (PyPI `in-toto-attestation`), parsed strictly, plus the framework's
//! SLSA provenance v1 rules (`scripts/validate-intoto.py`).

use crate::support;
use crate::support::sign_fixture;

use std::path::{Path, PathBuf};
use std::process::Command;

use cargo_provenance::attest::RunEnvironment;
use cargo_provenance::keys::PrivateKey;
use cargo_provenance::sign::KeySigner;
use cargo_provenance::sign::write_attestations;

/// `$INTOTO_PYTHON`, else the venv `scripts/python-env.sh` makes (`target/pyenv`), else
/// `python3`; panics with the install line when the package is missing.
fn python() -> PathBuf {
    let candidates = [
        std::env::var_os("INTOTO_PYTHON").map(PathBuf::from),
        Some(support::repo_root().join("target/pyenv/bin/python")).filter(|p| p.exists()),
        Some(PathBuf::from("python3")),
    ];
    let py = candidates.into_iter().flatten().next().unwrap();
    let ok = Command::new(&py)
        .args([
            "-c",
            "import in_toto_attestation.predicates.provenance.v1.provenance_pb2",
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{} lacks the in-toto-attestation package: run `scripts/python-env.sh` (a venv in \
         target/pyenv) or set INTOTO_PYTHON",
        py.display()
    );
    py
}

fn validate(py: &Path, files: &[PathBuf]) -> (bool, String) {
    let o = Command::new(py)
        .arg(support::repo_root().join("scripts/validate-intoto.py"))
        .args(files)
        .output()
        .unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it (python in-toto-attestation)"]
fn our_statements_pass_the_framework_rules() {
    let py = python();
    let tmp = tempfile::tempdir().unwrap();
    let binary = sign_fixture::fake_binary(tmp.path());
    for reproducible in [true, false] {
        let mut input = sign_fixture::input(
            &binary,
            sign_fixture::build_inputs(),
            RunEnvironment::detect_with(&|_| None),
        );
        input.reproducible = reproducible;
        let (prov, sbom) = sign_fixture::statements(&input);
        let out = tmp.path().join(format!("out-{reproducible}"));
        write_attestations(
            &out,
            &prov,
            Some(&sbom),
            Some(&KeySigner::new(PrivateKey::generate())),
        )
        .unwrap();
        let files = [
            out.join("provenance.intoto.json"),
            out.join("provenance.sigstore.json"),
            out.join("sbom.sigstore.json"),
        ];
        let (ok, text) = validate(&py, &files);
        println!("{text}");
        assert!(ok, "{text}");
    }
}

#[test]
#[ignore = "needs peers: scripts/test.sh runs it (python in-toto-attestation)"]
fn the_validator_rejects_broken_statements() {
    let py = python();
    let tmp = tempfile::tempdir().unwrap();
    let binary = sign_fixture::fake_binary(tmp.path());
    let input = sign_fixture::input(
        &binary,
        sign_fixture::build_inputs(),
        RunEnvironment::detect_with(&|_| None),
    );
    let (prov, _) = sign_fixture::statements(&input);
    let good = serde_json::to_value(&prov).unwrap();
    type Breaker = fn(&mut serde_json::Value);
    let breakages: [(&str, Breaker); 6] = [
        ("unknown field", |v| {
            v["predicate"]["runDetails"]["extra"] = 1.into()
        }),
        ("empty builder id", |v| {
            v["predicate"]["runDetails"]["builder"]["id"] = "".into()
        }),
        ("empty buildType", |v| {
            v["predicate"]["buildDefinition"]["buildType"] = "".into()
        }),
        ("empty externalParameters", |v| {
            v["predicate"]["buildDefinition"]["externalParameters"] = serde_json::json!({})
        }),
        ("descriptor without uri/digest", |v| {
            v["predicate"]["buildDefinition"]["resolvedDependencies"][0] =
                serde_json::json!({"name": "x"})
        }),
        ("bad timestamp", |v| {
            v["predicate"]["runDetails"]["metadata"]["startedOn"] = "yesterday".into()
        }),
    ];
    for (what, breaker) in breakages {
        let mut v = good.clone();
        breaker(&mut v);
        let f = tmp.path().join("broken.json");
        std::fs::write(&f, serde_json::to_vec(&v).unwrap()).unwrap();
        let (ok, text) = validate(&py, &[f]);
        assert!(!ok, "{what} passed:\n{text}");
    }
}
