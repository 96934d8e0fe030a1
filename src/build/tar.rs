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
    let mut files = files.to_vec();
    files.sort();
    let mut entries = Vec::with_capacity(files.len());
    for f in &files {
        let m = std::fs::metadata(&f.source).map_err(|e| Error::io("reading", &f.source, e))?;
        entries.push((f.path.as_str(), m.len()));
    }
    write_tar(&entries, source_date_epoch, |i, out| {
        // The file read straight into the tar; a file that changed size meanwhile is an
        // error.
        let (f, size) = (&files[i], entries[i].1);
        let file =
            std::fs::File::open(&f.source).map_err(|e| Error::io("reading", &f.source, e))?;
        let read = std::io::Read::read_to_end(&mut std::io::Read::take(file, size), out)
            .map_err(|e| Error::io("reading", &f.source, e))?;
        if read as u64 != size {
            return Err(Error::msg(format!(
                "{} changed while the layer was written: build again",
                f.source.display()
            )));
        }
        Ok(())
    })
}

/// The tar of files given as bytes (path inside the image, contents): the same bytes as
/// [`tar`] of files with those contents.
pub fn tar_of_bytes(files: &[(String, &[u8])], source_date_epoch: i64) -> Result<Vec<u8>> {
    let mut files = files.to_vec();
    files.sort();
    let entries: Vec<(&str, u64)> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.len() as u64))
        .collect();
    write_tar(&entries, source_date_epoch, |i, out| {
        out.extend_from_slice(files[i].1);
        Ok(())
    })
}

/// The tar of `files` (path, size; sorted), their parent directories first: every header
/// fixed but for path and size, each file's contents appended by `contents(index, tar)` and
/// padded to 512 bytes, then the end marker.
fn write_tar(
    files: &[(&str, u64)],
    source_date_epoch: i64,
    mut contents: impl FnMut(usize, &mut Vec<u8>) -> Result<()>,
) -> Result<Vec<u8>> {
    let mtime = source_date_epoch.max(0) as u64;
    let mut dirs = std::collections::BTreeSet::new();
    for (path, _) in files {
        let mut acc = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for p in &parts[..parts.len() - 1] {
            acc.push_str(p);
            acc.push('/');
            dirs.insert(acc.clone());
        }
    }
    // Headers, contents rounded up to 512 bytes, the end marker.
    let capacity = files
        .iter()
        .map(|(_, s)| s.div_ceil(512) * 512 + 512)
        .sum::<u64>()
        + 512 * dirs.len() as u64
        + 1024;
    let mut b = tar::Builder::new(Vec::with_capacity(capacity as usize));
    for d in &dirs {
        let h = header(d, tar::EntryType::Directory, 0, mtime)?;
        b.append(&h, std::io::empty())
            .map_err(|e| Error::msg(format!("writing tar entry {d}: {e}")))?;
    }
    for (i, (path, size)) in files.iter().enumerate() {
        let h = header(path, tar::EntryType::Regular, *size, mtime)?;
        b.append(&h, std::io::empty())
            .map_err(|e| Error::msg(format!("writing tar entry {path}: {e}")))?;
        let out = b.get_mut();
        let before = out.len();
        contents(i, out)?;
        let written = (out.len() - before) as u64;
        out.resize(out.len() + ((512 - written % 512) % 512) as usize, 0);
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
