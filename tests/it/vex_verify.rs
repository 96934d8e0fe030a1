//! `verify --require vex` and `discover` see the statements `vex` attaches (OCI layout, no
//! peers needed).

use crate::support;
use crate::support::vex as vex_support;

use vex_support::*;

fn verify(reference: &str, public: &std::path::Path) -> std::process::Output {
    support::cargo_provenance()
        .args([
            "verify",
            reference,
            "--key",
            public.to_str().unwrap(),
            "--require",
            "vex",
            "--format",
            "json",
        ])
        .output()
        .unwrap()
}

#[test]
fn verify_requires_the_vex_statement_and_discover_lists_it() {
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keygen(keys.path());
    let f = fixture("verify");
    // Before: no VEX, the requirement fails (exit 1).
    let out = verify(&f.layout_ref(), &public);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    vex_cmd(&f.layout_ref(), &key, "CVE-2024-5000")
        .assert()
        .success();
    let out = verify(&f.layout_ref(), &public);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A VEX signed by another key does not count.
    let g = fixture("verify-other");
    let other = tempfile::tempdir().unwrap();
    let (other_key, _) = keygen(other.path());
    vex_cmd(&g.layout_ref(), &other_key, "CVE-2024-5001")
        .assert()
        .success();
    assert_eq!(verify(&g.layout_ref(), &public).status.code(), Some(1));
    // discover lists it with its role and predicate type.
    let out = support::cargo_provenance()
        .args(["discover", &f.layout_ref()])
        .assert()
        .success();
    let tree = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(tree.contains(VEX) && tree.contains("vex"), "{tree}");
}
