//! A binary read and hashed as soon as cargo names it (its `compiler-artifact` message),
//! while cargo finishes and exits (~4 ms for hello-service), instead of after.
//!
//! The bytes are used only if the file still has the size and modification time it had
//! when it was read, once cargo has exited successfully; otherwise it is read again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
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

/// Reads `path` in a thread of its own; `None` when it cannot be read (it is read again
/// later, and that read's error is the one reported).
pub fn start(path: PathBuf) -> JoinHandle<Option<EarlyRead>> {
    std::thread::spawn(move || {
        let before = stamp(&path)?;
        let bytes = std::fs::read(&path).ok()?;
        (stamp(&path) == Some(before) && bytes.len() as u64 == before.0).then(|| EarlyRead {
            digest: Digest::of(&bytes),
            bytes: Arc::new(bytes),
            stamp: before,
        })
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
        let read = start(path.clone()).join().unwrap().unwrap();
        assert_eq!(read.digest, Digest::of(b"first"));
        assert!(read.if_unchanged(&path).is_some());
        std::fs::write(&path, b"second, longer").unwrap();
        assert!(read.if_unchanged(&path).is_none());
        assert!(start(dir.path().join("missing")).join().unwrap().is_none());
    }
}
