//! `action.yml`, the composite GitHub Action: it parses, each input maps onto a real `build`
//! flag, and its build step, run as GitHub runs it (bash, `INPUT_*` from the inputs, the
//! Actions environment emulated by the local Sigstore stack), builds keyless, pushes, sets
//! its outputs and writes a job summary rendered from the build's summary.json.

use crate::support;
use crate::support::keyless as keyless_support;

use std::collections::BTreeMap;

use keyless_support::{Stack, gh_identity};
use serde_json::Value;

/// Each input and the `build` flag it becomes (`None`: it picks the binary, no flag).
const INPUTS: &[(&str, Option<&str>)] = &[
    ("image", Some("--image")),
    ("push", Some("--push")),
    ("builder", Some("--builder")),
    ("platforms", Some("--platform")),
    ("fail-on", Some("--fail-on")),
    ("signing-config", Some("--signing-config")),
    ("trusted-root", Some("--trusted-root")),
    ("output-dir", Some("--output-dir")),
    ("manifest-path", Some("--manifest-path")),
    ("version", None),
];

fn action() -> Value {
    let text = std::fs::read_to_string(support::repo_root().join("action.yml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("action.yml is not YAML: {e}"))
}

/// The build step (id `build`).
fn build_step(a: &Value) -> Value {
    a["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "build")
        .expect("a step with id build")
        .clone()
}

#[test]
fn action_yml_parses_and_its_inputs_map_onto_build_flags() {
    let a = action();
    assert_eq!(a["runs"]["using"], "composite");
    let inputs: Vec<String> = a["inputs"].as_object().unwrap().keys().cloned().collect();
    let mapped: Vec<String> = INPUTS.iter().map(|(i, _)| i.to_string()).collect();
    assert_eq!(
        inputs.iter().collect::<std::collections::BTreeSet<_>>(),
        mapped.iter().collect(),
        "every input is mapped in this test, and only those"
    );
    let help = support::cargo_provenance()
        .args(["build", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let step = build_step(&a);
    let script = step["run"].as_str().unwrap();
    assert!(script.contains("build --keyless"), "{script}");
    let env: BTreeMap<String, String> = serde_json::from_value(step["env"].clone()).unwrap();
    for (input, flag) in INPUTS {
        let Some(flag) = flag else { continue };
        let var = format!("INPUT_{}", input.to_uppercase().replace('-', "_"));
        assert_eq!(
            env.get(&var).map(String::as_str),
            Some(format!("${{{{ inputs.{input} }}}}").as_str()),
            "{var}"
        );
        let line = script
            .lines()
            .find(|l| l.contains(&format!("\"${var}\"")) || l.contains(&format!("\"${var}\" =")))
            .unwrap_or_else(|| panic!("{var} is not used in the build step"));
        assert!(line.contains(flag), "{var} does not become {flag}: {line}");
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{flag} ")) || l.trim() == *flag),
            "{flag} is not a flag of `cargo provenance build`"
        );
    }
    for out in ["digest", "reference", "summary"] {
        assert!(
            a["outputs"][out]["value"]
                .as_str()
                .unwrap()
                .contains("steps.build.outputs")
        );
    }
}

#[test]
#[ignore = "needs peers: the Sigstore stack and the registry (scripts/test.sh runs it)"]
fn the_action_build_step_builds_keyless_and_writes_the_job_summary() {
    let stack = Stack::get();
    let peers = support::Peers::get();
    let image = format!("{}:v1", peers.unique_repo("sign15-action"));
    let b = keyless_support::Build::new();
    let gh = b.tmp.path().join("gh");
    std::fs::create_dir_all(&gh).unwrap();
    let (summary_md, output) = (gh.join("step_summary.md"), gh.join("output"));
    let bin = assert_cmd::cargo::cargo_bin("cargo-provenance");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        peers.envs()[0].1.to_string_lossy()
    );
    let step = build_step(&action());
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(step["run"].as_str().unwrap())
        .current_dir(&b.repo)
        .envs(b.gh_env(&stack))
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", support::example_target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("SIGSTORE_ID_TOKEN")
        .env("GITHUB_STEP_SUMMARY", &summary_md)
        .env("GITHUB_OUTPUT", &output)
        .env("INPUT_IMAGE", &image)
        .env("INPUT_PUSH", "true")
        .env("INPUT_BUILDER", "native")
        .env("INPUT_PLATFORMS", "")
        .env("INPUT_FAIL_ON", "")
        .env("INPUT_SIGNING_CONFIG", &stack.signing_config)
        .env("INPUT_TRUSTED_ROOT", &stack.trusted_root)
        .env("INPUT_OUTPUT_DIR", &b.out)
        .env("INPUT_MANIFEST_PATH", "")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let outputs = std::fs::read_to_string(&output).unwrap();
    let summary: Value =
        serde_json::from_slice(&std::fs::read(b.out.join("summary.json")).unwrap()).unwrap();
    let digest = summary["index_digest"].as_str().unwrap();
    assert!(outputs.contains(&format!("digest={digest}")), "{outputs}");
    let pushed = format!("{image}@{digest}");
    assert!(
        outputs.contains(&format!("reference={pushed}")),
        "{outputs}"
    );
    let md = std::fs::read_to_string(&summary_md).unwrap();
    assert!(md.contains(&format!("index digest: `{digest}`")), "{md}");
    for a in summary["attestations"].as_array().unwrap() {
        let row = format!(
            "| `{}` | {} | yes | {} |",
            a["predicate_type"].as_str().unwrap(),
            a["role"].as_str().unwrap(),
            a["referrers"].as_array().unwrap().len()
        );
        if a["signed"] == true {
            assert!(md.contains(&row), "{row} missing from:\n{md}");
        }
    }
    let verify = format!(
        "cargo provenance verify {pushed} --certificate-identity {} --certificate-oidc-issuer {} --certificate-github-workflow-repository {}",
        gh_identity(),
        keyless_support::ISSUER,
        keyless_support::REPO
    );
    assert!(md.contains(&verify), "{md}");
    // The commands the summary gives work: ours (plus the trusted root of this stack) and cosign's.
    let ours: Vec<String> = verify.split(' ').skip(2).map(str::to_owned).collect();
    let o = support::cargo_provenance()
        .args(&ours)
        .arg("--trusted-root")
        .arg(&stack.trusted_root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cosign_line = md
        .lines()
        .find(|l| l.starts_with("cosign verify-attestation --type slsaprovenance1"))
        .unwrap();
    let o = std::process::Command::new(peers.cosign3())
        .args(cosign_line.split(' ').skip(1))
        .arg("--trusted-root")
        .arg(&stack.trusted_root)
        .args(["--allow-insecure-registry", "--allow-http-registry"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{cosign_line}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}
