//! Writing a key pair to disk: `cosign.key` (encrypted, mode 0600) and `cosign.pub`, each
//! written atomically, refusing to overwrite unless asked.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::PrivateKey;
use crate::error::{Error, Result};

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
    write_with_mode(&paths.private_key, private_pem.as_bytes(), 0o600, force)?;
    write_with_mode(
        &paths.public_key,
        key.public_key().to_pem().as_bytes(),
        0o644,
        force,
    )?;
    Ok(paths)
}

/// Atomic write (temporary file in the same directory, synced, renamed) with `mode` set on the
/// temporary file before any byte is written. Without `replace`, a file that appeared in the
/// meantime is not clobbered.
fn write_with_mode(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| Error::io("creating a temporary file in", dir, e))?;
    tmp.write_all(bytes)
        .map_err(|e| Error::io("writing", tmp.path(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io("syncing", tmp.path(), e))?;
    let persisted = if replace {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    persisted.map_err(|e| Error::io("writing", path, e.error))?;
    Ok(())
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
