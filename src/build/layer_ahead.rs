//! The native builder's layer made while cargo finishes.
//!
//! Cargo names a binary (its `compiler-artifact` message) ~4 ms before it exits (hello-service
//! on 2 cores: fingerprints, the build-finished message, its own exit), and the binary is
//! read and hashed from then on ([`super::early_read`]). The layer of the binaries named so
//! far is made meanwhile, from those bytes, with the settings the image will use: at once
//! for the first binary, after cargo's `build-finished` for a later one (which stops the
//! one before, see [`Runner::start`]). The image step waits for it, and takes it only when
//! it holds exactly the binaries it packs (same paths in the image, same digests) with the
//! same settings ([`Ahead::matches`]); otherwise it makes its own. Either way the layer
//! is the same bytes: [`super::tar::tar_of_bytes`] writes what [`super::tar::tar`] writes.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
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

/// Whether the image step makes its own layer, that is, whether the native builder builds the
/// image: known before cargo with `--builder native`, and with `--builder auto` once its
/// probe chose (the probe's thread says so, [`super::builder::Probe::start`]). Until it is
/// known, nothing is made ahead.
#[derive(Debug, Clone, Default)]
pub struct Wanted(Arc<AtomicU8>);

impl Wanted {
    /// Says whether the native builder builds the image.
    pub fn set(&self, native: bool) {
        self.0.store(if native { 1 } else { 2 }, Ordering::Relaxed);
    }

    /// Whether the native builder is known to build the image.
    pub fn native(&self) -> bool {
        self.0.load(Ordering::Relaxed) == 1
    }
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

/// The layer being made of the binaries named so far. Dropped unfinished, it stops.
pub struct Runner {
    gate: Arc<Gate>,
    handle: Option<JoinHandle<Option<Ahead>>>,
}

/// When the layer may be made: `go` (now, or once cargo says it is done) or `stop`.
#[derive(Default)]
struct Gate {
    state: Mutex<(bool, bool)>,
    changed: Condvar,
    /// `stop`, for the compression to look at between pieces.
    stop: AtomicBool,
}

impl Gate {
    fn set(&self, go: bool, stop: bool) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 |= go;
        s.1 |= stop;
        self.stop.fetch_or(stop, Ordering::Relaxed);
        self.changed.notify_all();
    }

    /// Waits for `go` or `stop`: whether to go on.
    fn wait(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while !s.0 && !s.1 {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        !s.1
    }
}

impl Runner {
    /// Starts making the layer of `files` (path in the image, the binary's read) once every
    /// read is in: at once with `now`, else once [`Runner::go`] says so (cargo's
    /// `build-finished`), unless it is stopped first.
    ///
    /// Only the first binary cargo names goes at once: a build of several binaries names
    /// them far apart, and making a layer of the binaries so far at each one would compress
    /// the first ones again and again beside the compiler. So at most one binary's layer is
    /// made in vain.
    pub fn start(settings: Settings, files: Vec<(String, Pending)>, now: bool) -> Runner {
        let gate = Arc::new(Gate::default());
        gate.set(now, false);
        let shared = Arc::clone(&gate);
        let handle = std::thread::spawn(move || make(settings, &files, &shared));
        Runner {
            gate,
            handle: Some(handle),
        }
    }

    /// Lets it make the layer (cargo has named every binary).
    pub fn go(&self) {
        self.gate.set(true, false);
    }

    /// Waits for it: the layer, or `None` when a read failed.
    pub fn finish(mut self) -> Option<Ahead> {
        self.go();
        self.handle.take()?.join().ok().flatten()
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if self.handle.is_some() {
            self.gate.set(false, true);
        }
    }
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("layer_ahead::Runner")
    }
}

fn make(settings: Settings, files: &[(String, Pending)], gate: &Gate) -> Option<Ahead> {
    let reads: Vec<_> = files
        .iter()
        .map(|(path, read)| Some((path.clone(), read.wait()?)))
        .collect::<Option<_>>()?;
    if !gate.wait() {
        return None;
    }
    let started = (Instant::now(), crate::util::time::cpu_seconds());
    let bytes: Vec<(String, &[u8])> = reads
        .iter()
        .map(|(p, r)| (p.clone(), r.bytes.as_slice()))
        .collect();
    let tar = super::tar::tar_of_bytes(&bytes, settings.source_date_epoch).ok()?;
    let layer = super::compress::compress_unless(&tar, settings.compression, &gate.stop).ok()??;
    let cpu = crate::util::time::cpu_seconds()
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
        let ahead = Runner::start(settings(), files, true).finish().unwrap();
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
        let r = Runner::start(settings(), vec![("usr/local/bin/x".into(), missing)], true);
        assert!(r.finish().is_none());
        let stop = AtomicBool::new(true);
        assert!(
            super::super::compress::compress_unless(b"tar", LayerCompression::Gzip, &stop)
                .unwrap()
                .is_none()
        );
        // Waiting for cargo's go, then dropped (a later binary was named): it stops, and a
        // waiting one made nothing.
        let file = dir.path().join("bin");
        std::fs::write(&file, b"bin").unwrap();
        let read = super::super::early_read::start(file);
        let waiting = Runner::start(settings(), vec![("usr/local/bin/x".into(), read)], false);
        let gate = Arc::clone(&waiting.gate);
        let handle = {
            let mut waiting = waiting;
            let h = waiting.handle.take().unwrap();
            gate.set(false, true);
            h
        };
        assert!(handle.join().unwrap().is_none());
    }
}
