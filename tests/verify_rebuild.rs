//! `verify --rebuild`: the examples rebuild to identical digests from the recorded commit;
//! a build made from a changed source file (not in the recorded commit) fails, naming the
//! differing binary.

mod support;
mod verify_fixture;

use std::path::Path;

use verify_fixture::*;

fn build(repo: &Path, key: &Path, out: &Path) {
    let o = support::cargo_provenance()
        .env("COSIGN_PASSWORD", "pw")
        .env("CARGO_TARGET_DIR", support::example_target_dir())
        .args([
            "build",
            "-q",
            "--builder",
            "native",
            "--reproducible",
            "--manifest-path",
        ])
        .arg(repo.join("Cargo.toml"))
        .arg("--key")
        .arg(key)
        .arg("--output-dir")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "build: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn rebuild_passes_on_the_example_and_names_a_changed_binary() {
    let (tmp, repo) = support::example_repo("hello-service");
    let keys = tmp.path().join("keys");
    let o = support::cargo_provenance()
        .env("COSIGN_PASSWORD", "pw")
        .args(["keygen", "--output-dir"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "keygen: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (key, public) = (keys.join("cosign.key"), keys.join("cosign.pub"));

    let out = tmp.path().join("out1");
    build(&repo, &key, &out);
    let reference = format!("oci:{}", out.join("oci").display());
    let source = repo.display().to_string();
    let public = public.display().to_string();
    run_verify(&[
        &reference,
        "--key",
        &public,
        "--rebuild",
        "--source",
        &source,
    ])
    .passes()
    .says("pass    rebuild");

    // The source changes after the commit the provenance records.
    let main = repo.join("src/main.rs");
    let text = std::fs::read_to_string(&main).unwrap();
    let changed = text.replacen("fn main() {", "fn main() {\n    println!(\"tampered\");", 1);
    assert_ne!(text, changed, "src/main.rs has no `fn main() {{`");
    std::fs::write(&main, changed).unwrap();
    let out2 = tmp.path().join("out2");
    build(&repo, &key, &out2);
    let reference = format!("oci:{}", out2.join("oci").display());
    run_verify(&[
        &reference,
        "--key",
        &public,
        "--rebuild",
        "--source",
        &source,
    ])
    .fails_only(&["rebuild"])
    .says("binary /usr/local/bin/hello-service: recorded");
}
