//! `cargo provenance policy kyverno`: the generated ImageValidatingPolicy validates against
//! the CRD's openAPIV3Schema (../shared/schemas/kyverno), matches the golden files, and every
//! CEL expression in it parses. Bad flags are exit 2 naming the flag.
//!
//! Regenerate the golden files with `UPDATE_GOLDEN=1 cargo test --test it -- policy::`.

use crate::support;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

const CRD: &str = "schemas/kyverno/policies.kyverno.io_imagevalidatingpolicies.yaml";

fn golden_dir() -> PathBuf {
    support::repo_root().join("tests/golden")
}

fn test_key() -> PathBuf {
    golden_dir().join("kyverno-test-cosign.pub")
}

/// Runs `policy kyverno ARGS` and returns stdout, asserting success.
fn render(args: &[&str]) -> String {
    let out = support::cargo_provenance()
        .args(["policy", "kyverno"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "policy kyverno {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The variants the tests check: (golden file name, arguments).
fn variants() -> Vec<(&'static str, Vec<String>)> {
    let key = test_key().display().to_string();
    vec![
        (
            "kyverno-key.yaml",
            vec![
                "--image-glob".into(),
                "registry.example.com/team/app:*".into(),
                "--image-glob".into(),
                "registry.example.com/team/app@*".into(),
                "--key".into(),
                key.clone(),
            ],
        ),
        (
            "kyverno-key-all.yaml",
            vec![
                "--image-glob".into(),
                "127.0.0.1:5000/*".into(),
                "--key".into(),
                key,
                "--require".into(),
                "signature,provenance,sbom,vex".into(),
                "--name".into(),
                "local-evidence".into(),
                "--validation-action".into(),
                "audit".into(),
                "--allow-insecure-registry".into(),
            ],
        ),
        (
            "kyverno-key-vuln.yaml",
            vec![
                "--image-glob".into(),
                "registry.example.com/team/app:*".into(),
                "--key".into(),
                test_key().display().to_string(),
                "--require".into(),
                "provenance,sbom,vuln".into(),
                "--vuln-max-severity".into(),
                "medium".into(),
            ],
        ),
        (
            "kyverno-keyless.yaml",
            vec![
                "--image-glob".into(),
                "ghcr.io/example/app*".into(),
                "--certificate-identity".into(),
                "https://github.com/example/app/.github/workflows/release.yml@refs/heads/main"
                    .into(),
                "--certificate-oidc-issuer".into(),
                "https://token.actions.githubusercontent.com".into(),
                "--require".into(),
                "provenance,sbom,vex".into(),
                "--api-version".into(),
                "v1".into(),
            ],
        ),
        (
            // Keyless with anchored regular expressions (subjectRegExp, issuerRegExp).
            "kyverno-keyless-regexp.yaml",
            vec![
                "--image-glob".into(),
                "ghcr.io/example/*".into(),
                "--certificate-identity-regexp".into(),
                r"https://github\.com/example/[^/]+/\.github/workflows/release\.yml@refs/tags/v.*"
                    .into(),
                "--certificate-oidc-issuer-regexp".into(),
                r"https://token\.actions\.githubusercontent\.com".into(),
            ],
        ),
        (
            // Keyless from another Sigstore instance: its roots, Rekor, CT log and TSA.
            "kyverno-keyless-private.yaml",
            vec![
                "--image-glob".into(),
                "registry.internal/app*".into(),
                "--certificate-identity".into(),
                "ci@example.com".into(),
                "--certificate-oidc-issuer".into(),
                "https://oidc.internal".into(),
                "--trusted-root".into(),
                support::shared_dir()
                    .join("conformance/sigstore/bundle-verify/intoto-with-custom-trust-root")
                    .join("trusted_root.json")
                    .display()
                    .to_string(),
            ],
        ),
    ]
}

#[test]
fn golden_files_match() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (file, args) in variants() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let got = render(&args);
        let path = golden_dir().join(file);
        if update {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
        assert_eq!(
            got, want,
            "{file} differs from the output (UPDATE_GOLDEN=1 regenerates it)"
        );
    }
    assert!(
        !update,
        "golden files rewritten: rerun without UPDATE_GOLDEN to compare"
    );
}

/// The CRD's openAPIV3Schema for one served version, as a JSON Schema: `x-kubernetes-*`
/// keys and `nullable` are dropped, and every object schema that lists `properties` (and
/// does not preserve unknown fields) gets `additionalProperties: false`, because the API
/// server silently prunes unknown fields: a misspelt field would be lost, not rejected.
fn crd_schema(version: &str) -> Value {
    let path = support::shared_dir().join(CRD);
    let crd: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let versions = crd["spec"]["versions"].as_array().unwrap();
    let v = versions
        .iter()
        .find(|v| v["name"] == version)
        .unwrap_or_else(|| panic!("{version} not in {}", path.display()));
    assert_eq!(v["served"], true, "{version} is not served");
    let mut schema = to_json_schema(&v["schema"]["openAPIV3Schema"]);
    schema["$schema"] = json!("http://json-schema.org/draft-04/schema#");
    schema
}

fn to_json_schema(s: &Value) -> Value {
    let Some(obj) = s.as_object() else {
        return s.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        if k.starts_with("x-kubernetes-") || k == "nullable" {
            continue;
        }
        let v = match k.as_str() {
            "properties" => Value::Object(
                v.as_object()
                    .unwrap()
                    .iter()
                    .map(|(name, sub)| (name.clone(), to_json_schema(sub)))
                    .collect(),
            ),
            "items" | "not" => to_json_schema(v),
            "additionalProperties" if v.is_object() => to_json_schema(v),
            "allOf" | "anyOf" | "oneOf" => {
                Value::Array(v.as_array().unwrap().iter().map(to_json_schema).collect())
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    let preserves = obj
        .get("x-kubernetes-preserve-unknown-fields")
        .is_some_and(|v| v == true);
    if obj.contains_key("properties") && !obj.contains_key("additionalProperties") && !preserves {
        out.insert("additionalProperties".into(), json!(false));
    }
    Value::Object(out)
}

fn schema_errors(doc: &Value) -> Vec<String> {
    let api = doc["apiVersion"].as_str().unwrap();
    let version = api.rsplit('/').next().unwrap();
    let schema = crd_schema(version);
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn parse_yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
}

#[test]
fn policies_validate_against_the_crd_schema() {
    for (file, args) in variants() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let doc = parse_yaml(&render(&args));
        assert_eq!(doc["kind"], "ImageValidatingPolicy");
        let errors = schema_errors(&doc);
        assert!(errors.is_empty(), "{file}: {errors:#?}");
    }
    // Every served apiVersion.
    for v in ["v1alpha1", "v1beta1", "v1"] {
        let key = test_key().display().to_string();
        let doc = parse_yaml(&render(&[
            "--image-glob",
            "r.example/*",
            "--key",
            &key,
            "--api-version",
            v,
        ]));
        assert_eq!(doc["apiVersion"], format!("policies.kyverno.io/{v}"));
        assert!(
            schema_errors(&doc).is_empty(),
            "{v}: {:#?}",
            schema_errors(&doc)
        );
    }
}

#[test]
fn the_schema_check_catches_broken_policies() {
    let key = test_key().display().to_string();
    let good = parse_yaml(&render(&["--image-glob", "r.example/*", "--key", &key]));

    let mut misspelt = good.clone();
    misspelt["spec"]["matchImageReference"] = json!([{"glob": "x"}]);
    assert!(
        !schema_errors(&misspelt).is_empty(),
        "an unknown field must fail"
    );

    let mut missing = good.clone();
    missing["spec"]
        .as_object_mut()
        .unwrap()
        .remove("validations");
    assert!(
        !schema_errors(&missing).is_empty(),
        "a missing required field must fail"
    );

    let mut bad_enum = good.clone();
    bad_enum["spec"]["validationActions"] = json!(["Reject"]);
    assert!(
        !schema_errors(&bad_enum).is_empty(),
        "a bad enum value must fail"
    );

    let mut two_kinds = good;
    two_kinds["spec"]["matchImageReferences"] = json!([{"glob": "a", "expression": "true"}]);
    assert!(
        !schema_errors(&two_kinds).is_empty(),
        "oneOf glob/expression must hold"
    );
}

/// Every `expression` anywhere in the document.
fn expressions(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "expression" {
                    out.push(v.as_str().expect("expression is a string").to_owned());
                } else {
                    expressions(v, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| expressions(v, out)),
        _ => {}
    }
}

#[test]
fn every_cel_expression_parses() {
    let mut seen_sig = false;
    let mut seen_att = false;
    for (file, args) in variants() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let doc = parse_yaml(&render(&args));
        let mut exprs = Vec::new();
        expressions(&doc, &mut exprs);
        assert!(!exprs.is_empty(), "{file} has no expressions");
        let attestations: Vec<&str> = doc["spec"]["attestations"]
            .as_array()
            .map(|a| a.iter().map(|a| a["name"].as_str().unwrap()).collect())
            .unwrap_or_default();
        for e in &exprs {
            let program = cel::Program::compile(e)
                .unwrap_or_else(|err| panic!("{file}: CEL does not parse: {e}\n{err:?}"));
            let refs = program.references();
            assert!(refs.has_variable("images"), "{file}: {e}");
            assert!(refs.has_variable("attestors"), "{file}: {e}");
            if refs.has_function("verifyImageSignatures") {
                seen_sig = true;
            }
            if refs.has_function("verifyAttestationSignatures") {
                seen_att = true;
                // The attestation named in the expression is declared in spec.attestations.
                assert!(
                    attestations
                        .iter()
                        .any(|a| e.contains(&format!("attestations.{a},"))),
                    "{file}: {e} names no declared attestation ({attestations:?})"
                );
            }
        }
    }
    assert!(seen_sig && seen_att);
    // The parser is a real check: a broken expression is refused.
    assert!(cel::Program::compile("images.containers.map(image, ").is_err());
}

#[test]
fn attestations_name_the_predicate_types_we_publish() {
    let key = test_key().display().to_string();
    let doc = parse_yaml(&render(&[
        "--image-glob",
        "r.example/*",
        "--key",
        &key,
        "--require",
        "vex,sbom,provenance",
    ]));
    let types: Vec<&str> = doc["spec"]["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["intoto"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "https://slsa.dev/provenance/v1",
            "https://cyclonedx.org/bom",
            "https://openvex.dev/ns/v0.2.0"
        ]
    );
    let spec = &doc["spec"];
    assert_eq!(
        spec["validationConfigurations"],
        json!({"mutateDigest": true, "verifyDigest": true, "required": true})
    );
    assert_eq!(spec["failurePolicy"], "Fail");
    assert_eq!(spec["validationActions"], json!(["Deny"]));
    let rule = &spec["matchConstraints"]["resourceRules"][0];
    assert_eq!(rule["resources"][0], "pods");
    assert_eq!(rule["operations"], json!(["CREATE", "UPDATE"]));
    let key_pem = std::fs::read_to_string(test_key()).unwrap();
    assert_eq!(
        spec["attestors"][0]["cosign"]["key"]["data"]
            .as_str()
            .unwrap(),
        key_pem
    );
    // No image signature is demanded when `--require` leaves it out...
    assert!(!doc.to_string().contains("verifyImageSignatures"));
    // ...and by default it is, with the v1 API (`build --key` signs every image digest).
    let default = parse_yaml(&render(&["--image-glob", "r.example/*", "--key", &key]));
    assert_eq!(default["apiVersion"], "policies.kyverno.io/v1");
    let text = default.to_string();
    assert!(
        text.contains("verifyImageSignatures(image, [attestors.cosign])"),
        "{text}"
    );
    assert!(text.contains("attestations.provenance"), "{text}");
    assert!(text.contains("attestations.sbom"), "{text}");
}

#[test]
fn values_are_quoted_so_globs_cannot_inject_fields() {
    let key = test_key().display().to_string();
    let text = render(&[
        "--image-glob",
        "r.example/a\"},{\"glob\":\"*",
        "--image-glob",
        "r.example/#not-a-comment:x",
        "--key",
        &key,
    ]);
    let doc = parse_yaml(&text);
    assert_eq!(
        doc["spec"]["matchImageReferences"],
        json!([{"glob": "r.example/a\"},{\"glob\":\"*"}, {"glob": "r.example/#not-a-comment:x"}])
    );
    assert!(schema_errors(&doc).is_empty());
}

fn fails_with(args: &[&str], needle: &str) {
    support::fails_with(&["policy", "kyverno"], args, needle);
}

#[test]
fn bad_flags_are_exit_2_naming_the_problem() {
    let key = test_key().display().to_string();
    fails_with(&["--image-glob", "r/*"], "--key");
    fails_with(
        &["--image-glob", "r/*", "--key", &key, "--require", "slsa"],
        "signature, provenance, sbom, vex",
    );
    fails_with(
        &["--image-glob", "r/*", "--key", &key, "--name", "Not_A_Name"],
        "--name",
    );
    fails_with(
        &[
            "--image-glob",
            "r/*",
            "--key",
            &key,
            "--certificate-identity",
            "x",
            "--certificate-oidc-issuer",
            "https://i",
        ],
        "cannot be used with",
    );
    fails_with(
        &["--image-glob", "r/*", "--certificate-identity", "x"],
        "--certificate-oidc-issuer",
    );
    fails_with(
        &[
            "--image-glob",
            "r/*",
            "--certificate-identity",
            "x",
            "--certificate-oidc-issuer",
            "not-a-url",
        ],
        "--certificate-oidc-issuer",
    );
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pub");
    std::fs::write(
        &junk,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    fails_with(
        &["--image-glob", "r/*", "--key", junk.to_str().unwrap()],
        "junk.pub",
    );
    let missing = dir.path().join("missing.pub");
    fails_with(
        &["--image-glob", "r/*", "--key", missing.to_str().unwrap()],
        "missing.pub",
    );
}

#[test]
fn output_flag_writes_the_same_document() {
    let key = test_key().display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out: &Path = &dir.path().join("policy.yaml");
    let stdout = render(&["--image-glob", "r/*", "--key", &key]);
    render(&[
        "--image-glob",
        "r/*",
        "--key",
        &key,
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(out).unwrap(), stdout);
}
