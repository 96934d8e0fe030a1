//! Keyless interop with the local Sigstore stack (../shared/tools/sigstore-stack.sh: Fulcio,
//! Rekor v1, TSA, OIDC built on Sigstore's own mock services): the real cosign 3.1 signs a
//! blob keyless with a GitHub Actions identity; we verify it against the stack's trusted
//! root, and refuse it with another identity, another issuer, or the public-good root.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

const REPO: &str = "example/hello-service";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

struct Stack {
    tools: PathBuf,
    dir: String,
    trusted_root: String,
    signing_config: String,
    cosign: PathBuf,
}

impl Stack {
    /// The running stack (`SIGSTORE_STACK_DIR`, default /tmp/sigstore-stack) or a panic
    /// saying how to start it.
    fn get() -> Stack {
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
            cosign,
        }
    }

    /// cosign 3.1 `sign-blob` keyless with a GitHub workflow token; returns the bundle.
    fn sign_blob(&self, dir: &Path, blob: &Path) -> PathBuf {
        let token = support::run(
            Command::new(self.tools.join("sigstore-stack.sh"))
                .env("SIGSTORE_STACK_DIR", &self.dir)
                .args([
                    "token",
                    "--github",
                    REPO,
                    ".github/workflows/release.yml",
                    "refs/heads/main",
                    SHA,
                ]),
        );
        let tok = dir.join("gh.tok");
        std::fs::write(&tok, token.trim_end()).unwrap();
        let bundle = dir.join("blob.sigstore.json");
        support::run(
            Command::new(&self.cosign)
                .args([
                    "sign-blob",
                    "--yes",
                    "--signing-config",
                    &self.signing_config,
                ])
                .args(["--trusted-root", &self.trusted_root, "--identity-token"])
                .arg(&tok)
                .arg("--bundle")
                .arg(&bundle)
                .arg(blob),
        );
        bundle
    }
}

fn identity() -> String {
    format!("https://github.com/{REPO}/.github/workflows/release.yml@refs/heads/main")
}

fn verify<S: AsRef<std::ffi::OsStr>>(bundle: &Path, blob: &Path, extra: &[S]) -> (i32, String) {
    let out = support::cargo_provenance()
        .arg("verify")
        .arg("--bundle")
        .arg(bundle)
        .arg("--artifact")
        .arg(blob)
        .args(extra)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
#[ignore = "needs the local Sigstore stack (../shared/tools/sigstore-stack.sh start) and cosign 3.1"]
fn cosign3_keyless_blob_from_the_local_stack() {
    let stack = Stack::get();
    let tmp = tempfile::tempdir().unwrap();
    let blob = tmp.path().join("artifact.txt");
    std::fs::write(&blob, "keyless\n").unwrap();
    let bundle = stack.sign_blob(tmp.path(), &blob);
    let id = identity();
    let root = ["--trusted-root", stack.trusted_root.as_str()];
    let policy = |id: &str, iss: &str| {
        let mut v = root.to_vec();
        v.extend([
            "--certificate-identity",
            id,
            "--certificate-oidc-issuer",
            iss,
        ]);
        v.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let mut good = policy(&id, ISSUER);
    good.extend([
        "--certificate-github-workflow-repository".into(),
        REPO.into(),
    ]);
    good.extend(["--certificate-github-workflow-sha".into(), SHA.into()]);
    let (code, out) = verify(&bundle, &blob, &good);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("pass    sct") && out.contains("pass    tlog-inclusion"),
        "{out}"
    );
    let (code, out) = verify(&bundle, &blob, &policy("https://github.com/evil/x", ISSUER));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("certificate-identity: "), "{out}");
    let (code, out) = verify(&bundle, &blob, &policy(&id, "https://accounts.google.com"));
    assert_eq!(code, 1, "{out}");
    // On the public-good root the stack's certificate does not chain: exit 1 naming the root.
    let (code, out) = verify(
        &bundle,
        &blob,
        &[
            "--certificate-identity",
            &id,
            "--certificate-oidc-issuer",
            ISSUER,
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Sigstore public-good production root"),
        "{out}"
    );
}
