//! A binary read and hashed as soon as cargo names it (its `compiler-artifact` message),
//! while cargo finishes and exits (~4 ms for hello-service), instead of after.
//!
//! The bytes are used only if the file still has the size and modification time it had
//! when it was read, once cargo has exited successfully; otherwise it is read again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use crate::util::digest::Digest;

/// A binary's bytes and digest, and the file's size and modification time when read.
#[derive(Clone)]
pub struct EarlyRead {
    /// The file's bytes.
    pub bytes: Arc<Vec<u8>>,
    /// Their sha256.
    pub digest: Digest,
    stamp: (u64, SystemTime),
}

impl std::fmt::Debug for EarlyRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EarlyRead({} bytes, {})", self.bytes.len(), self.digest)
    }
}

impl PartialEq for EarlyRead {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest && self.stamp == other.stamp
    }
}

impl Eq for EarlyRead {}

impl EarlyRead {
    /// The bytes of `path` as read now, if it is still the same file (size and
    /// modification time).
    pub fn if_unchanged(&self, path: &Path) -> Option<&EarlyRead> {
        (stamp(path) == Some(self.stamp)).then_some(self)
    }
}

fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// A read under way, whose result any number of callers wait for ([`Pending::wait`]): the
/// copy-out after cargo, and the native builder's layer made ahead ([`super::layer_ahead`]).
#[derive(Clone)]
pub struct Pending(Arc<OnceLock<Option<EarlyRead>>>);

impl Pending {
    /// Waits for the read: `None` when the file could not be read whole and unchanged.
    pub fn wait(&self) -> Option<EarlyRead> {
        self.0.wait().clone()
    }
}

/// Reads `path` in a thread of its own; its result is `None` when it cannot be read (it is
/// read again later, and that read's error is the one reported).
pub fn start(path: PathBuf) -> Pending {
    let cell = Arc::new(OnceLock::new());
    let result = Arc::clone(&cell);
    std::thread::spawn(move || {
        let read = std::panic::catch_unwind(|| read(&path)).ok().flatten();
        let _ = result.set(read);
    });
    Pending(cell)
}

fn read(path: &Path) -> Option<EarlyRead> {
    let before = stamp(path)?;
    let bytes = std::fs::read(path).ok()?;
    (stamp(path) == Some(before) && bytes.len() as u64 == before.0).then(|| EarlyRead {
        digest: Digest::of(&bytes),
        bytes: Arc::new(bytes),
        stamp: before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_changed_after_the_read_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bin");
        std::fs::write(&path, b"first").unwrap();
        let read = start(path.clone()).wait().unwrap();
        assert_eq!(read.digest, Digest::of(b"first"));
        assert!(read.if_unchanged(&path).is_some());
        std::fs::write(&path, b"second, longer").unwrap();
        assert!(read.if_unchanged(&path).is_none());
        assert!(start(dir.path().join("missing")).wait().is_none());
    }
}
