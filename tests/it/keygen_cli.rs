//! `cargo provenance keygen`: files, modes, overwrite protection, password handling.

use crate::support;

use cargo_provenance::keys::{FixedPassword, PublicKey, load_private_key};

#[test]
fn writes_a_usable_encrypted_pair() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let out = support::cargo_provenance()
        .args(["keygen", "--output-dir"])
        .arg(&dir)
        .env("COSIGN_PASSWORD", "s3cret-CANARY")
        .assert()
        .success()
        .get_output()
        .clone();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains("s3cret-CANARY"),
        "the password is never printed"
    );
    let key_text = std::fs::read_to_string(dir.join("cosign.key")).unwrap();
    assert!(key_text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    assert!(!key_text.contains("s3cret"));
    let public = PublicKey::read(&dir.join("cosign.pub")).unwrap();
    let key = load_private_key(
        &dir.join("cosign.key"),
        &FixedPassword("s3cret-CANARY".into()),
    )
    .unwrap();
    assert_eq!(key.key.public_key(), public);
    assert!(all.contains(&public.hint()), "the hint is shown: {all}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("cosign.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    // A wrong password is named as such (exit 2 through any command that loads the key).
    let e = load_private_key(&dir.join("cosign.key"), &FixedPassword("nope".into())).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("wrong password for"), "{e}");
}

#[test]
fn refuses_to_overwrite_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |force: bool| {
        let mut c = support::cargo_provenance();
        c.args(["keygen", "--output-dir"])
            .arg(tmp.path())
            .env("COSIGN_PASSWORD", "pw");
        if force {
            c.arg("--force");
        }
        c.assert()
    };
    run(false).success();
    let before = std::fs::read(tmp.path().join("cosign.key")).unwrap();
    let out = run(false).code(2).get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cosign.key already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(tmp.path().join("cosign.key")).unwrap(),
        before,
        "untouched"
    );
    run(true).success();
    assert_ne!(
        std::fs::read(tmp.path().join("cosign.key")).unwrap(),
        before
    );
}

#[test]
fn needs_a_password_without_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let out = support::cargo_provenance()
        .args(["keygen", "--output-dir"])
        .arg(tmp.path())
        .env_remove("COSIGN_PASSWORD")
        .write_stdin("")
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("COSIGN_PASSWORD"));
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn corrupt_and_unsupported_key_files_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let pw = FixedPassword("pw".into());
    let cases: [(&str, &[u8]); 4] = [
        ("garbage.key", b"not a key at all"),
        ("rsa.key", b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"),
        (
            "bad-json.key",
            b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJ4IjoxfQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
        ),
        ("pkcs8-garbage.key", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
    ];
    for (name, content) in cases {
        let p = tmp.path().join(name);
        std::fs::write(&p, content).unwrap();
        let e = load_private_key(&p, &pw).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains(name), "{name}: {e}");
        assert!(!e.to_string().contains("wrong password"), "{name}: {e}");
    }
    let missing = load_private_key(&tmp.path().join("missing.key"), &pw).unwrap_err();
    assert!(missing.to_string().contains("missing.key"));
}
