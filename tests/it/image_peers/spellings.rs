//! Remote spellings with BuildKit (issue 13's Must show, the buildx half of
//! `image::remote_spellings_give_one_image_sbom_and_provenance`).

use super::{Peers, image_common::*, peer_build, support};

/// One commit cloned three ways (https remote, scp-like ssh remote, local path named with
/// `--source-url`) gives, with `--builder buildx`, the same image index digest, a
/// byte-identical SBOM and, with `--reproducible`, byte-identical provenance; no output holds
/// a path of this machine.
#[test]
#[ignore = "needs peers: scripts/test.sh runs it"]
fn buildx_remote_spellings_give_one_image_sbom_and_provenance() {
    let peers = Peers::get();
    peers.require_docker();
    let (tmp, origin) = support::example_repo("hello-service");
    let [https, ssh, local] = three_clones(tmp.path(), &origin);
    let build = |dir: &std::path::Path, extra: &[&str]| {
        let out_dir = dir.with_extension("out");
        let out = peer_build(&peers, dir)
            .env("CARGO_TARGET_DIR", support::example_target_dir())
            .args(["--builder", "buildx", "--reproducible", "--output-dir"])
            .arg(&out_dir)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let file = |f: &str| std::fs::read(out_dir.join(f)).unwrap();
        let summary = read_json(&out_dir.join("summary.json"));
        (
            summary["index_digest"].as_str().unwrap().to_owned(),
            file("sbom.cdx.json"),
            file("provenance.intoto.json"),
        )
    };
    let first = build(&https, &[]);
    let sbom: serde_json::Value = serde_json::from_slice(&first.1).unwrap();
    assert_eq!(
        sbom["metadata"]["component"]["externalReferences"][0]["url"],
        "https://github.com/example/hello-service"
    );
    let ssh_outputs = build(&ssh, &[]);
    assert_eq!(
        ssh_outputs.0, first.0,
        "the ssh clone's index digest differs"
    );
    assert!(ssh_outputs.1 == first.1, "the ssh clone's SBOM differs");
    assert!(
        ssh_outputs.2 == first.2,
        "the ssh clone's provenance differs"
    );
    let named = ["--source-url", "https://github.com/example/hello-service"];
    let local_outputs = build(&local, &named);
    assert_eq!(
        local_outputs.0, first.0,
        "the local clone's index digest differs"
    );
    assert!(local_outputs.1 == first.1, "the local clone's SBOM differs");
    assert!(
        local_outputs.2 == first.2,
        "the local clone's provenance differs"
    );
    let machine = tmp.path().display().to_string();
    for dir in [&https, &ssh, &local] {
        assert_no_machine_path(&dir.with_extension("out"), &machine);
    }
}
