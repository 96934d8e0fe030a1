//! The local Sigstore stack (../shared/tools/sigstore-stack.sh: Fulcio, Rekor v1, TSA, OIDC
//! built on Sigstore's own mock services) and the real cosign 3.1 signing against it, for the
//! keyless tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support;

/// The issuer of GitHub-style tokens (the stack maps it to its own keys).
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The running stack and cosign 3.1.
pub struct Stack {
    tools: PathBuf,
    dir: String,
    /// `trusted_root.json` of the stack.
    pub trusted_root: String,
    signing_config: String,
    rekor_url: String,
    /// cosign 3.1.
    pub cosign: PathBuf,
}

impl Stack {
    /// The running stack (`SIGSTORE_STACK_DIR`, default /tmp/sigstore-stack) or a panic
    /// saying how to start it.
    pub fn get() -> Stack {
        let tools = support::shared_dir().join("tools");
        let dir =
            std::env::var("SIGSTORE_STACK_DIR").unwrap_or_else(|_| "/tmp/sigstore-stack".into());
        let env = support::run(Command::new(tools.join("sigstore-stack.sh")).arg("env"));
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .map(|v| v.trim_matches('\'').to_owned())
                .unwrap_or_else(|| panic!("{name} missing from sigstore-stack.sh env"))
        };
        let trusted_root = var("SIGSTORE_STACK_TRUSTED_ROOT");
        assert!(
            Path::new(&trusted_root).is_file(),
            "the Sigstore stack is not running: ../shared/tools/sigstore-stack.sh install && start"
        );
        let peers = PathBuf::from(std::env::var("PEERS").unwrap_or_else(|_| "/tmp/peers".into()));
        let cosign = std::env::var_os("COSIGN3")
            .map(PathBuf::from)
            .unwrap_or_else(|| peers.join("current/usr/bin/cosign"));
        assert!(
            cosign.is_file(),
            "cosign 3.1 not found at {}: setup-peers.sh install",
            cosign.display()
        );
        Stack {
            tools,
            dir,
            trusted_root,
            signing_config: var("SIGSTORE_STACK_SIGNING_CONFIG"),
            rekor_url: var("SIGSTORE_STACK_REKOR_URL"),
            cosign,
        }
    }

    /// A GitHub Actions token for `repo` (`owner/name`), written to `dir/NAME.tok`.
    pub fn github_token(
        &self,
        dir: &Path,
        name: &str,
        repo: &str,
        git_ref: &str,
        sha: &str,
    ) -> PathBuf {
        let token = support::run(
            Command::new(self.tools.join("sigstore-stack.sh"))
                .env("SIGSTORE_STACK_DIR", &self.dir)
                .args([
                    "token",
                    "--github",
                    repo,
                    ".github/workflows/release.yml",
                    git_ref,
                    sha,
                ]),
        );
        let tok = dir.join(format!("{name}.tok"));
        std::fs::write(&tok, token.trim_end()).unwrap();
        tok
    }

    /// cosign 3.1 `SUBCOMMAND` keyless against the stack with the token `tok`.
    pub fn cosign(&self, subcommand: &str, tok: &Path) -> Command {
        let mut c = Command::new(&self.cosign);
        c.args([
            subcommand,
            "--yes",
            "--signing-config",
            &self.signing_config,
        ])
        .args(["--trusted-root", &self.trusted_root, "--identity-token"])
        .arg(tok);
        c
    }

    /// `cosign attest-blob` of `predicate` (SLSA v1) about `blob`; returns the bundle.
    pub fn attest_blob(&self, tok: &Path, predicate: &Path, blob: &Path, out: &Path) -> Value {
        support::run(
            self.cosign("attest-blob", tok)
                .args(["--type", "slsaprovenance1", "--predicate"])
                .arg(predicate)
                .arg("--bundle")
                .arg(out)
                .arg(blob),
        );
        serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
    }

    /// `cosign attest` of `predicate` (SLSA v1) about the image `reference` (pinned).
    pub fn attest_image(&self, tok: &Path, predicate: &Path, reference: &str) {
        support::run(
            self.cosign("attest", tok)
                .args([
                    "--type",
                    "slsaprovenance1",
                    "--allow-http-registry",
                    "--predicate",
                ])
                .arg(predicate)
                .arg(reference),
        );
    }

    /// Logs a `dsse` request body (`envelope` JSON text, PEM `verifiers`) in the stack's Rekor
    /// and returns the entry as a bundle's `tlogEntries[]` item: a genuine log entry, SET and
    /// inclusion proof included, for whatever the caller put in the body.
    pub fn log_dsse(&self, envelope: &str, verifiers: &[Vec<u8>]) -> Value {
        let verifiers: Vec<String> = verifiers.iter().map(|v| STANDARD.encode(v)).collect();
        let request = json!({"apiVersion": "0.0.1", "kind": "dsse",
            "spec": {"proposedContent": {"envelope": envelope, "verifiers": verifiers}}});
        let out = support::run(Command::new("curl").args([
            "-fsS",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &request.to_string(),
            &format!("{}/api/v1/log/entries", self.rekor_url),
        ]));
        let v: Value = serde_json::from_str(&out).unwrap();
        let (_, e) = v.as_object().unwrap().iter().next().unwrap();
        let b64 =
            |hex_str: &Value| STANDARD.encode(hex::decode(hex_str.as_str().unwrap()).unwrap());
        let proof = &e["verification"]["inclusionProof"];
        json!({
            "logIndex": e["logIndex"].to_string(),
            "logId": {"keyId": b64(&e["logID"])},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": e["integratedTime"].to_string(),
            "inclusionPromise": {"signedEntryTimestamp": e["verification"]["signedEntryTimestamp"]},
            "inclusionProof": {
                "logIndex": proof["logIndex"].to_string(),
                "rootHash": b64(&proof["rootHash"]),
                "treeSize": proof["treeSize"].to_string(),
                "hashes": proof["hashes"].as_array().unwrap().iter().map(b64).collect::<Vec<_>>(),
                "checkpoint": {"envelope": proof["checkpoint"]},
            },
            "canonicalizedBody": e["body"],
        })
    }
}

/// The identity of the stack's GitHub tokens for `repo` at `git_ref`.
pub fn github_identity(repo: &str, git_ref: &str) -> String {
    format!("https://github.com/{repo}/.github/workflows/release.yml@{git_ref}")
}

/// The request body logged for a bundle's first entry, decoded.
pub fn logged_body(bundle: &Value) -> Value {
    let body = bundle["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]
        .as_str()
        .unwrap();
    serde_json::from_slice(&STANDARD.decode(body).unwrap()).unwrap()
}
