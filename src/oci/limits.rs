//! Bounds on what we read from a registry or a layout: a hostile registry decides what it
//! sends, so nothing is read past the size we expect, and the digest of a blob is computed
//! while it streams in.
//!
//! | what | bound |
//! |---|---|
//! | a manifest or index (registry or layout) | [`MANIFEST_MAX`], 4 MiB, as the distribution registry caps it |
//! | a blob | its descriptor's `size`, exactly; at most 1 MiB reserved before bytes arrive |
//! | an attestation layer verify reads | [`ATTESTATION_MAX`], 32 MiB, checked on the descriptor |
//! | any other answer (errors, tokens, upload answers) | [`SMALL_BODY_MAX`] |
//! | referrers API pages | [`REFERRERS_PAGES_MAX`], [`MANIFEST_MAX`] in all |
//! | referrers of one subject verify reads | [`REFERRERS_MAX`]; a listing with more fails the verdict |
//! | entries of an image index verify reads | [`INDEX_ENTRIES_MAX`]; more fails the verdict |
//! | layers of one attestation manifest verify reads (BuildKit's, cosign's tags) | [`ATTESTATION_LAYERS_MAX`]; more fails the verdict |
//! | bytes one `verify` reads from the store in all (every body byte the registry client receives, failed, retried and error answers included; a layout's files and referrer search; listings as parsed when that is more; read ahead or not) | [`VERIFY_READ_MAX`]; more is an error (exit 2) |
//! | redirects | [`REDIRECTS_MAX`] per request; `Authorization` is never sent to another host |
//! | requests in flight at once (verify's prefetch) | [`CONCURRENT_REQUESTS`] |
//! | time | [`deadline`] per request (30 s plus a second per MiB), one retry after a time-out |
//! | token round trips | one per request (a second 401 is an error) |
//! | JSON nesting | serde_json's recursion limit (128) |
//!
//! Gzip layers are never inflated by us (layers are copied and hashed as stored; diff ids
//! come from image configs), so there is no decompression ratio to bound.

use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest as _, Sha256};

use crate::util::digest::Digest;

/// The largest manifest or index we read: 4 MiB, the distribution registry's own cap.
pub const MANIFEST_MAX: u64 = 4 << 20;
/// The largest answer we read that is neither a manifest nor a blob.
pub const SMALL_BODY_MAX: u64 = 1 << 20;
/// The largest attestation layer (a Sigstore bundle, a DSSE envelope, a BuildKit statement)
/// verify reads: a descriptor that claims more is set aside before anything is fetched.
pub const ATTESTATION_MAX: u64 = 32 << 20;
/// The most pages of one referrers listing we follow (`Link: <...>; rel="next"`).
pub const REFERRERS_PAGES_MAX: usize = 32;
/// The most referrers of one subject verify reads. A listing with more fails the verdict
/// (`referrer`): the verifier cannot check them all, and a registry that lists thousands
/// would otherwise make it fetch thousands of manifests and bundles.
pub const REFERRERS_MAX: usize = 256;
/// The most layers of one attestation manifest (BuildKit's, cosign's `.att`/`.sig` tags)
/// verify reads; more fails the verdict (`referrer`), for the same reason.
pub const ATTESTATION_LAYERS_MAX: usize = 64;
/// The most entries of one image index verify reads (platform manifests and BuildKit's
/// attestation manifests together); an index with more fails `image` before any is read.
/// Multi-platform images list a few dozen.
pub const INDEX_ENTRIES_MAX: usize = 128;
/// The most bytes one `verify` run reads from the store in all (every body byte a registry
/// sends, whatever becomes of the answer; a layout's files; read ahead or not;
/// docs/referrers.md lists what is counted how): the per-item bounds above
/// still let a hostile store serve 256 referrers of 32 MiB each, per part. Past it verify
/// stops with an error (exit 2); genuine evidence is a few KiB to a few MiB per attestation.
pub const VERIFY_READ_MAX: u64 = 256 << 20;
/// The most redirects one request follows.
pub const REDIRECTS_MAX: usize = 5;
/// The most requests one client has in flight at once (each bounded as above).
pub const CONCURRENT_REQUESTS: usize = 8;

/// The time one request may take: 30 s, plus a second per MiB it may send or receive (a
/// registry that drips its answer a byte at a time cannot hold us for longer).
pub fn deadline(max_answer: u64, sent: u64) -> std::time::Duration {
    std::time::Duration::from_secs(30 + max_answer.saturating_add(sent) / (1 << 20))
}

/// Why a body was not read whole.
#[derive(Debug)]
pub enum BodyError {
    /// The connection failed while reading.
    Transport(reqwest::Error),
    /// The registry announced or sent more than allowed.
    TooLarge {
        /// The bound.
        max: u64,
        /// What it announced (`Content-Length`) or had sent when we stopped.
        got: u64,
    },
}

/// A body read within its bound, and the sha256 of its bytes, computed as they arrived.
#[derive(Debug)]
pub struct Body {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Their digest.
    pub digest: Digest,
}

/// Reads a response body of at most `max` bytes, refusing as soon as `Content-Length` or
/// the bytes received pass it. Every byte that arrives is added to `received`, whatever
/// becomes of the answer (a failed, refused or retried one too): what a caller that bounds
/// all it reads counts.
pub async fn read(
    mut resp: reqwest::Response,
    max: u64,
    received: &AtomicU64,
) -> Result<Body, BodyError> {
    if let Some(len) = resp.content_length().filter(|l| *l > max) {
        return Err(BodyError::TooLarge { max, got: len });
    }
    // What the registry announces decides nothing up front: at most 1 MiB is reserved, the
    // rest grows as bytes actually arrive.
    let capacity = resp.content_length().unwrap_or(0).min(max).min(1 << 20);
    let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    let mut hasher = Sha256::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        received.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        let got = bytes.len() as u64 + chunk.len() as u64;
        if got > max {
            return Err(BodyError::TooLarge { max, got });
        }
        hasher.update(&chunk);
        bytes.extend_from_slice(&chunk);
    }
    Ok(Body {
        bytes,
        digest: Digest::from_bytes(hasher.finalize().into()),
    })
}

/// `N MiB` or `N bytes`, for messages about bounds.
pub fn size_words(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// The length of a layout file that must be a regular file: a FIFO (which would block), a
/// device or a symbolic link (which could point at any file of this machine) is refused
/// before anything is opened. `Ok(None)` when there is no such file. A check only: the read
/// that follows ([`read_file_at_most`]) checks again on the file it opened.
pub fn regular_file_len(path: &std::path::Path) -> crate::error::Result<Option<u64>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(crate::error::Error::io("reading", path, e)),
    };
    if !meta.file_type().is_file() {
        return Err(not_regular(path));
    }
    Ok(Some(meta.len()))
}

/// The error for a layout file that is not a regular file.
fn not_regular(path: &std::path::Path) -> crate::error::Error {
    crate::error::Error::msg(format!(
        "{} is not a regular file (a link, FIFO or device): refused; a layout's blobs are \
         plain files",
        path.display()
    ))
}

/// Opens a layout file that must be a regular file, in one step that cannot be raced: a
/// link is not followed (`O_NOFOLLOW`), a FIFO does not block (`O_NONBLOCK`), and what was
/// opened is checked on the open file itself (`fstat`), so swapping the path for a link or
/// a FIFO after some earlier check gains nothing. Returns the file and its length.
fn open_regular(path: &std::path::Path) -> crate::error::Result<(std::fs::File, u64)> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => not_regular(path),
            _ => crate::error::Error::io("reading", path, e),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| crate::error::Error::io("reading", path, e))?;
    if !meta.file_type().is_file() {
        return Err(not_regular(path));
    }
    Ok((file, meta.len()))
}

/// Reads a file of a layout that must hold at most `max` bytes: a regular file
/// ([`open_regular`]) whose length is checked before reading it.
pub fn read_file_at_most(path: &std::path::Path, max: u64) -> crate::error::Result<Vec<u8>> {
    use std::io::Read;
    let (file, len) = open_regular(path)?;
    if len > max {
        return Err(crate::error::Error::msg(format!(
            "{} has {len} bytes, more than the {} allowed here: refused",
            path.display(),
            size_words(max)
        )));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| crate::error::Error::io("reading", path, e))?;
    if bytes.len() as u64 > max {
        return Err(crate::error::Error::msg(format!(
            "{} grew past {} while being read: refused",
            path.display(),
            size_words(max)
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_words() {
        assert_eq!(size_words(MANIFEST_MAX), "4 MiB");
        assert_eq!(size_words(11), "11 bytes");
    }

    #[test]
    fn a_file_past_its_bound_is_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'x'; 100]).unwrap();
        assert_eq!(read_file_at_most(&p, 100).unwrap().len(), 100);
        let err = read_file_at_most(&p, 99).unwrap_err().to_string();
        assert!(err.contains("more than the 99 bytes allowed"), "{err}");
    }

    /// A link and a FIFO in `dir`.
    fn link_and_fifo(dir: &std::path::Path) -> [std::path::PathBuf; 2] {
        let link = dir.join("link");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        [link, fifo]
    }

    /// Links and FIFOs are refused by the check before opening ([`regular_file_len`]) and by
    /// the open itself, which checks the file it opened, not the path checked before: one put
    /// in place after the check (the race) is refused without following the link or
    /// blocking on the FIFO.
    #[test]
    fn links_and_fifos_are_refused_by_the_check_and_by_the_open() {
        let dir = tempfile::tempdir().unwrap();
        for path in link_and_fifo(dir.path()) {
            for err in [
                regular_file_len(&path).unwrap_err(),
                open_regular(&path).unwrap_err(),
                read_file_at_most(&path, 100).unwrap_err(),
            ] {
                assert!(err.to_string().contains("not a regular file"), "{err}");
            }
        }
        let err = open_regular(std::path::Path::new("/dev/null")).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert_eq!(regular_file_len(&dir.path().join("absent")).unwrap(), None);
        let file = dir.path().join("file");
        std::fs::write(&file, b"abc").unwrap();
        assert_eq!(open_regular(&file).unwrap().1, 3);
    }
}
