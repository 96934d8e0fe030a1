//! `verify --policy FILE`: the expectations from a TOML or JSON file, for CI; flags override
//! it; unknown keys are input errors.

use crate::support::verify_fixture;

use verify_fixture::*;

fn run(f: &Fixture, args: &[&str]) -> Outcome {
    let reference = f.reference();
    let mut all = vec![reference.as_str()];
    all.extend(args);
    run_verify(&all)
}

#[test]
fn toml_policy_checks_the_same_as_flags() {
    let f = Fixture::signed();
    let key = f.key.pub_path.file_name().unwrap().to_str().unwrap();
    let p = f.dir.path().join("policy.toml");
    std::fs::write(
        &p,
        format!(
            "key = \"{key}\"\nbuilder-id = \"{BUILDER}\"\nsource-repo = \"https://github.com/example/hello-service\"\nsource-commit = \"{COMMIT}\"\nsource-ref = \"refs/heads/main\"\nrequire = [\"provenance\", \"sbom\"]\n"
        ),
    )
    .unwrap();
    let policy = p.to_str().unwrap();
    run(&f, &["--policy", policy])
        .passes()
        .says("pass    source-commit");
    // A flag overrides the file.
    run(
        &f,
        &["--policy", policy, "--source-commit", &"e".repeat(40)],
    )
    .fails("source-commit");
    // The file's own requirements are enforced.
    std::fs::write(&p, format!("key = \"{key}\"\nrequire = [\"vex\"]\n")).unwrap();
    run(&f, &["--policy", policy]).fails("require");
}

#[test]
fn json_policy_and_bad_policies() {
    let f = Fixture::signed();
    let p = f.dir.path().join("policy.json");
    let key = f.key.pub_path.display().to_string();
    std::fs::write(
        &p,
        serde_json::json!({"key": key, "builder-id": "https://elsewhere"}).to_string(),
    )
    .unwrap();
    run(&f, &["--policy", p.to_str().unwrap()]).fails("builder-id");
    std::fs::write(&p, r#"{"builder_id": "x"}"#).unwrap();
    let o = run(&f, &["--policy", p.to_str().unwrap()]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("policy.json"), "{o:?}");
    // No key at all: an input error, never a pass.
    let o = run(&f, &[]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("--key"), "{o:?}");
    let o = run(
        &f,
        &[
            "--certificate-identity",
            "x",
            "--certificate-oidc-issuer",
            "y",
        ],
    );
    // Keyless only: the key-signed attestations are set aside, never counted.
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("pass --key PUB"), "{o:?}");
}
