//! The native builder's layer made while cargo finishes.
//!
//! Cargo names a binary (its `compiler-artifact` message) ~4 ms before it exits (hello-service
//! on 2 cores: fingerprints, the build-finished message, its own exit), and the binary is
//! read and hashed from then on ([`super::early_read`]). The layer of the binaries named so
//! far is made meanwhile, from those bytes, with the settings the image will use; a binary
//! named later stops it and starts the next. The image step takes a layer made ahead only
//! when it holds exactly the binaries it packs (same paths in the image, same digests) with
//! the same settings ([`Ahead::matches`]); otherwise it makes its own. Either way the layer
//! is the same bytes: [`super::tar::tar_of_bytes`] writes what [`super::tar::tar`] writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::early_read::Pending;
use super::tar::{Layer, LayerCompression};
use crate::util::digest::Digest;

/// How the layer is made: the settings of the image step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// SOURCE_DATE_EPOCH: every entry's mtime.
    pub source_date_epoch: i64,
    /// `--compression`.
    pub compression: LayerCompression,
}

/// A layer made ahead, with what it holds.
#[derive(Debug, Clone)]
pub struct Ahead {
    /// Each file's path in the image (no leading `/`) and digest, sorted.
    files: Vec<(String, Digest)>,
    settings: Settings,
    /// The layer.
    pub layer: Layer,
    /// How long making it took, and this process's CPU time meanwhile (all threads).
    pub took: (Duration, Option<f64>),
}

impl Ahead {
    /// Whether it holds exactly `files` (path in the image, digest; any order) made with
    /// `settings`.
    pub fn matches(&self, files: &[(String, Digest)], settings: Settings) -> bool {
        let mut files = files.to_vec();
        files.sort();
        files == self.files && settings == self.settings
    }
}

/// The layer being made of the binaries named so far.
pub struct Runner {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Option<Ahead>>,
}

impl Runner {
    /// Starts making the layer of `files` (path in the image, the binary's read): once every
    /// read is in, unless [`Runner::stop`] comes first.
    pub fn start(settings: Settings, files: Vec<(String, Pending)>) -> Runner {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || make(settings, &files, &flag));
        Runner { stop, handle }
    }

    /// Stops it: a later binary makes the layer the image needs.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Waits for it: the layer, or `None` when a read failed or it stopped.
    pub fn finish(self) -> Option<Ahead> {
        self.handle.join().ok().flatten()
    }
}

fn make(settings: Settings, files: &[(String, Pending)], stop: &AtomicBool) -> Option<Ahead> {
    let reads: Vec<_> = files
        .iter()
        .map(|(path, read)| Some((path.clone(), read.wait()?)))
        .collect::<Option<_>>()?;
    let started = (Instant::now(), super::native::cpu_seconds());
    let bytes: Vec<(String, &[u8])> = reads
        .iter()
        .map(|(p, r)| (p.clone(), r.bytes.as_slice()))
        .collect();
    let tar = super::tar::tar_of_bytes(&bytes, settings.source_date_epoch).ok()?;
    let layer = super::compress::compress_unless(&tar, settings.compression, stop).ok()??;
    let cpu = super::native::cpu_seconds()
        .zip(started.1)
        .map(|(b, a)| b - a);
    let mut files: Vec<(String, Digest)> = reads.into_iter().map(|(p, r)| (p, r.digest)).collect();
    files.sort();
    Some(Ahead {
        files,
        settings,
        layer,
        took: (started.0.elapsed(), cpu),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            source_date_epoch: 1_700_000_000,
            compression: LayerCompression::Gzip,
        }
    }

    /// A layer made ahead is the layer made from the files, and is taken only for the same
    /// files and settings.
    #[test]
    fn a_layer_made_ahead_is_the_one_made_after_and_only_for_the_same_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, vec![7u8; 700_000]).unwrap();
        std::fs::write(&b, b"#!/bin/sh\n").unwrap();
        let files = vec![
            (
                "usr/local/bin/b".to_owned(),
                super::super::early_read::start(b.clone()),
            ),
            (
                "usr/local/bin/a".to_owned(),
                super::super::early_read::start(a.clone()),
            ),
        ];
        let ahead = Runner::start(settings(), files).finish().unwrap();
        let after = super::super::tar::layer(
            &[
                super::super::tar::LayerFile {
                    path: "usr/local/bin/a".into(),
                    source: a.clone(),
                },
                super::super::tar::LayerFile {
                    path: "usr/local/bin/b".into(),
                    source: b.clone(),
                },
            ],
            settings().source_date_epoch,
            settings().compression,
        )
        .unwrap();
        assert_eq!(
            (ahead.layer.digest, ahead.layer.diff_id, &ahead.layer.blob),
            (after.digest, after.diff_id, &after.blob)
        );
        let inputs = vec![
            ("usr/local/bin/b".to_owned(), Digest::of(b"#!/bin/sh\n")),
            (
                "usr/local/bin/a".to_owned(),
                Digest::of(&vec![7u8; 700_000]),
            ),
        ];
        let other = Settings {
            compression: LayerCompression::Zstd,
            ..settings()
        };
        let fewer = inputs[..1].to_vec();
        let renamed = vec![inputs[0].clone(), ("usr/local/bin/c".into(), inputs[1].1)];
        assert!(ahead.matches(&inputs, settings()));
        assert!(!ahead.matches(&inputs, other));
        assert!(!ahead.matches(&fewer, settings()));
        assert!(!ahead.matches(&renamed, settings()));
    }

    /// A binary that could not be read, or a stop, leaves no layer.
    #[test]
    fn an_unreadable_binary_or_a_stop_leaves_no_layer() {
        let dir = tempfile::tempdir().unwrap();
        let missing = super::super::early_read::start(dir.path().join("missing"));
        let r = Runner::start(settings(), vec![("usr/local/bin/x".into(), missing)]);
        assert!(r.finish().is_none());
        let stop = AtomicBool::new(true);
        assert!(
            super::super::compress::compress_unless(b"tar", LayerCompression::Gzip, &stop)
                .unwrap()
                .is_none()
        );
    }
}
