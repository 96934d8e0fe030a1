//! Atomic file writes: outputs are either complete or absent, never half-written.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Our directory in the user's cache: `$XDG_CACHE_HOME/cargo-provenance`, else
/// `~/.cache/cargo-provenance` (absolute paths only). `None` without either.
pub fn cache_dir() -> Option<std::path::PathBuf> {
    let absolute =
        |v: std::ffi::OsString| Some(std::path::PathBuf::from(v)).filter(|p| p.is_absolute());
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".cache"))
        })?;
    Some(cache.join("cargo-provenance"))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed
/// and synced, then renamed over the target. Creates the parent directory if needed. The file
/// gets the mode a plain `File::create` gives (0666 less the umask, usually 0644), so that
/// layouts, SBOMs and bundles are readable by the tools and users they are handed to.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating directory", dir, e))?;
    write_atomic_with(path, bytes, Some(0o666), true)
}

/// The atomic write of [`write_atomic`] into an existing directory, with `mode` (unix; less
/// the umask) set on the temporary file before any byte is written (tempfile's 0600 when
/// `None`). Without
/// `replace`, a file that appeared in the meantime is not clobbered.
pub fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    mode: Option<u32>,
    replace: bool,
) -> Result<()> {
    write_atomic_inner(path, bytes, mode, replace, true)
}

/// [`write_atomic`] without the sync to disk: still complete or absent for every reader,
/// but a power loss may leave an empty file. For files in a staging directory that is
/// itself renamed into place when complete and can be rebuilt (an image layout the build
/// writes): each sync costs milliseconds on a busy disk.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating directory", dir, e))?;
    write_atomic_inner(path, bytes, Some(0o666), true, false)
}

fn write_atomic_inner(
    path: &Path,
    bytes: &[u8],
    mode: Option<u32>,
    replace: bool,
    sync: bool,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    #[cfg(unix)]
    if let Some(mode) = mode {
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
    if sync {
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io("syncing", tmp.path(), e))?;
    }
    let persisted = if replace {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    persisted.map_err(|e| Error::io("writing", path, e.error))?;
    Ok(())
}

/// Serialises `value` as pretty JSON with a trailing newline and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::with_source(format!("serialising {}", path.display()), e))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Reads a file, with an error that names it.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io("reading", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn outputs_get_the_mode_of_a_plain_create() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("ours");
        let plain = dir.path().join("plain");
        write_atomic(&ours, b"x").unwrap();
        std::fs::write(&plain, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&ours), mode(&plain));
        write_atomic_with(&ours, b"y", Some(0o600), true).unwrap();
        assert_eq!(mode(&ours), 0o600);
    }

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/out.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }
}
