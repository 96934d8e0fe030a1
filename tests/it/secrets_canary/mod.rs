//! Canary secrets planted in the git remote and the environment never reach an output: the
//! attest and sign stages on fixture build inputs here (a GitLab CI environment with
//! credentials in its URLs), and every output of `build` and `vex` in [`build`].

mod build;

use crate::support;
use crate::support::sign_fixture;

use cargo_provenance::attest::RunEnvironment;
use cargo_provenance::formats::bundle::Bundle;
use cargo_provenance::keys::{FixedPassword, load_private_key};
use cargo_provenance::sign::KeySigner;
use cargo_provenance::sign::write_attestations;

const CANARIES: &[&str] = &[
    "CANARYTOKEN1",
    "CANARYPASS2",
    "CANARYJOB3",
    "CANARYREMOTE4",
    "CANARYKEYPW5",
];

#[test]
fn no_secret_reaches_any_output() {
    // The environment a CI job would have, given to the stages as a map: the tests share one
    // binary, so none of them changes the process environment.
    let env: std::collections::BTreeMap<&str, &str> = [
        ("GITHUB_TOKEN", "ghs_CANARYTOKEN1"),
        ("REGISTRY_PASSWORD", "CANARYPASS2"),
        ("CI_JOB_TOKEN", "CANARYJOB3"),
        ("GITLAB_CI", "true"),
        ("CI_SERVER_URL", "https://oauth2:CANARYJOB3@gitlab.example.com"),
        ("CI_PROJECT_PATH", "group/app"),
        ("CI_RUNNER_ID", "12"),
        (
            "CI_JOB_URL",
            "https://gitlab-ci-token:CANARYJOB3@gitlab.example.com/group/app/-/jobs/99?token=CANARYJOB3",
        ),
        ("COSIGN_PASSWORD", "CANARYKEYPW5"),
    ]
    .into_iter()
    .collect();
    let environment = RunEnvironment::detect_with(&|k| env.get(k).map(|v| v.to_string()));
    let tmp = tempfile::tempdir().unwrap();
    let (key_file, _) = support::keygen(&tmp.path().join("keys"), "CANARYKEYPW5");
    let key = load_private_key(&key_file, &FixedPassword(env["COSIGN_PASSWORD"].into()))
        .unwrap()
        .key;

    let mut inputs = sign_fixture::build_inputs();
    let git = inputs.git.as_mut().unwrap();
    git.remote_url =
        Some("https://x-access-token:CANARYREMOTE4@github.com/example/hello-service.git".into());
    let binary = sign_fixture::fake_binary(tmp.path());
    let mut input = sign_fixture::input(&binary, inputs, environment);
    input.reproducible = false;
    assert_eq!(
        input.environment.builder_id,
        "https://gitlab.example.com/group/app/-/runners/12"
    );
    let (prov, sbom) = sign_fixture::statements(&input);
    let out = tmp.path().join("out");
    write_attestations(&out, &prov, Some(&sbom), Some(&KeySigner::new(key))).unwrap();

    let mut checked = 0;
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let mut texts = vec![std::fs::read_to_string(&path).unwrap()];
        if let Ok(b) = Bundle::parse(texts[0].as_bytes(), "bundle") {
            texts.push(String::from_utf8(b.dsse_envelope.unwrap().payload).unwrap());
        }
        for text in &texts {
            for canary in CANARIES {
                assert!(
                    !text.contains(canary),
                    "{canary} leaked into {}:\n{text}",
                    path.display()
                );
            }
            assert!(
                !text.contains(&tmp.path().display().to_string()),
                "a local path leaked into {}",
                path.display()
            );
        }
        checked += texts.len();
    }
    assert_eq!(
        checked, 5,
        "provenance statement, two bundles and their payloads were checked"
    );
    let text = std::fs::read_to_string(out.join("provenance.intoto.json")).unwrap();
    assert!(
        text.contains("\"git+https://github.com/example/hello-service\""),
        "the remote is kept without credentials (canonical form: no `.git`)"
    );
    assert!(
        text.contains("https://gitlab.example.com/group/app/-/jobs/99\""),
        "the job URL is kept without credentials"
    );
}
