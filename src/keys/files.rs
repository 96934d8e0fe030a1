//! Writing a key pair to disk: `cosign.key` (encrypted, mode 0600) and `cosign.pub`, each
//! written atomically, refusing to overwrite unless asked.

use std::path::{Path, PathBuf};

use super::PrivateKey;
use crate::error::{Error, Result};
use crate::util::fs::write_atomic_with;

/// Where a key pair was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairPaths {
    /// The encrypted private key (`cosign.key`).
    pub private_key: PathBuf,
    /// The public key (`cosign.pub`).
    pub public_key: PathBuf,
}

/// Writes `key` as `dir/cosign.key` (encrypted with `password`, mode 0600) and
/// `dir/cosign.pub`. Without `force`, an existing file is an error naming it.
pub fn write_key_pair(
    dir: &Path,
    key: &PrivateKey,
    password: &[u8],
    force: bool,
) -> Result<KeyPairPaths> {
    let paths = KeyPairPaths {
        private_key: dir.join("cosign.key"),
        public_key: dir.join("cosign.pub"),
    };
    if !force {
        for p in [&paths.private_key, &paths.public_key] {
            if p.exists() {
                return Err(Error::msg(format!(
                    "{} already exists; pass --force to overwrite it or choose another --output-dir",
                    p.display()
                )));
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating directory", dir, e))?;
    let private_pem = key.to_encrypted_pem(password);
    write_atomic_with(
        &paths.private_key,
        private_pem.as_bytes(),
        Some(0o600),
        force,
    )?;
    write_atomic_with(
        &paths.public_key,
        key.public_key().to_pem().as_bytes(),
        Some(0o644),
        force,
    )?;
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_0600_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let k = PrivateKey::generate();
        let p = write_key_pair(dir.path(), &k, b"pw", false).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p.private_key)
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        let e = write_key_pair(dir.path(), &k, b"pw", false).unwrap_err();
        assert!(e.to_string().contains("cosign.key already exists"), "{e}");
        write_key_pair(dir.path(), &PrivateKey::generate(), b"pw", true).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
