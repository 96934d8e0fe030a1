//! Deterministic image layers: a tar whose bytes depend only on the files' contents, names
//! and SOURCE_DATE_EPOCH, compressed with fixed settings ([`super::compress`]).
//!
//! Entries are sorted; every entry has uid/gid 0, no user or group names, mtime =
//! SOURCE_DATE_EPOCH (clamped at 0), mode 0755 (directories and executables).

use std::path::PathBuf;

use crate::error::{Error, Result};

pub use super::compress::{Compressed as Layer, LayerCompression};

/// A file to put in a layer: its path inside the image (relative, `usr/local/bin/x`) and
/// where its bytes are on this machine.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LayerFile {
    /// Path inside the image, without a leading `/`.
    pub path: String,
    /// The file on this machine.
    pub source: PathBuf,
}

fn header(path: &str, kind: tar::EntryType, size: u64, mtime: u64) -> Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)
        .map_err(|e| Error::msg(format!("`{path}` cannot be stored in a tar layer: {e}")))?;
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_cksum();
    Ok(h)
}

/// Builds the tar of `files` plus their parent directories, deterministically.
pub fn tar(files: &[LayerFile], source_date_epoch: i64) -> Result<Vec<u8>> {
    let mtime = source_date_epoch.max(0) as u64;
    let mut files = files.to_vec();
    files.sort();
    let mut dirs = std::collections::BTreeSet::new();
    for f in &files {
        let mut acc = String::new();
        let parts: Vec<&str> = f.path.split('/').collect();
        for p in &parts[..parts.len() - 1] {
            acc.push_str(p);
            acc.push('/');
            dirs.insert(acc.clone());
        }
    }
    let mut sizes = Vec::with_capacity(files.len());
    for f in &files {
        let m = std::fs::metadata(&f.source).map_err(|e| Error::io("reading", &f.source, e))?;
        sizes.push(m.len());
    }
    // Headers, contents rounded up to 512 bytes, the end marker.
    let capacity = sizes
        .iter()
        .map(|s| s.div_ceil(512) * 512 + 512)
        .sum::<u64>()
        + 512 * dirs.len() as u64
        + 1024;
    let mut b = tar::Builder::new(Vec::with_capacity(capacity as usize));
    for d in &dirs {
        let h = header(d, tar::EntryType::Directory, 0, mtime)?;
        b.append(&h, std::io::empty())
            .map_err(|e| Error::msg(format!("writing tar entry {d}: {e}")))?;
    }
    for (f, size) in files.iter().zip(sizes) {
        // The header, then the file read straight into the tar and padded to 512 bytes; a
        // file that changed size meanwhile is an error.
        let file =
            std::fs::File::open(&f.source).map_err(|e| Error::io("reading", &f.source, e))?;
        let h = header(&f.path, tar::EntryType::Regular, size, mtime)?;
        b.append(&h, std::io::empty())
            .map_err(|e| Error::msg(format!("writing tar entry {}: {e}", f.path)))?;
        let out = b.get_mut();
        let read = std::io::Read::read_to_end(&mut std::io::Read::take(file, size), out)
            .map_err(|e| Error::io("reading", &f.source, e))?;
        if read as u64 != size {
            return Err(Error::msg(format!(
                "{} changed while the layer was written: build again",
                f.source.display()
            )));
        }
        out.resize(out.len() + (512 - read % 512) % 512, 0);
    }
    b.into_inner()
        .map_err(|e| Error::msg(format!("finishing the layer tar: {e}")))
}

/// The layer holding `files`, compressed with `how`.
pub fn layer(files: &[LayerFile], source_date_epoch: i64, how: LayerCompression) -> Result<Layer> {
    let tar = tar(files, source_date_epoch)?;
    super::compress::compress(&tar, how)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_input_same_bytes_and_sane_entries() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"#!/bin/sh\necho a\n").unwrap();
        let files = vec![
            LayerFile {
                path: "usr/local/bin/b".into(),
                source: a.clone(),
            },
            LayerFile {
                path: "usr/local/bin/a".into(),
                source: a.clone(),
            },
        ];
        let one = layer(&files, 1_700_000_000, LayerCompression::Gzip).unwrap();
        let mut rev = files.clone();
        rev.reverse();
        let two = layer(&rev, 1_700_000_000, LayerCompression::Gzip).unwrap();
        assert_eq!(one.digest, two.digest);
        assert_ne!(
            layer(&files, 1, LayerCompression::Gzip).unwrap().diff_id,
            one.diff_id
        );

        let t = tar(&files, 5).unwrap();
        let mut ar = tar::Archive::new(t.as_slice());
        let names: Vec<(String, u64, u32, u64)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mtime().unwrap(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                )
            })
            .collect();
        assert_eq!(names[0], ("usr/".into(), 5, 0o755, 0));
        assert_eq!(names[3].0, "usr/local/bin/a");
        assert_eq!(names.len(), 5);
        assert_eq!(&one.blob[4..8], &[0, 0, 0, 0], "gzip mtime is zero");
    }
}
