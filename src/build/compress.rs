//! Layer compression (`--compression gzip|zstd|none`), deterministic and in one pass: the
//! tar is hashed (the `diff_id`) and compressed piece by piece, and the compressed bytes are
//! hashed (the blob digest) as they come out, so no byte is read twice after compression.
//!
//! gzip is a single gzip member whose deflate stream is cut at fixed 512 KiB boundaries of
//! the tar: each piece is compressed on its own (no history from the one before) and ends
//! with a sync flush, so the pieces can be compressed on several threads and concatenated.
//! The boundaries depend only on the tar, never on the number of threads, so the bytes are
//! the same on every machine (the deflate backend, zlib-rs, picks SIMD routines at run time
//! but they compute the same matches). The header carries no name, mtime 0, OS 255.
//!
//! zstd is one frame at a fixed level with the content size and no checksum; `none` is the
//! tar itself (the blob digest is then the `diff_id`).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use flate2::{Compress, Crc, FlushCompress, Status};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::formats::oci::{MEDIA_TYPE_LAYER, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_ZSTD};
use crate::util::digest::Digest;

/// The tar bytes each gzip piece holds (the last one may hold fewer).
pub const GZIP_PIECE: usize = 1 << 19;
/// The deflate level of gzip layers: zlib-rs' fastest (about 4× level 6's speed on
/// binaries, a few percent larger).
pub const GZIP_LEVEL: u32 = 1;
/// The zstd level of zstd layers (zstd's default).
pub const ZSTD_LEVEL: i32 = 3;
/// At most this many threads compress gzip pieces.
const MAX_THREADS: usize = 8;

/// How image layers are compressed (`--compression`).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LayerCompression {
    /// `tar+gzip`: every image tool pulls it (the default).
    #[default]
    Gzip,
    /// `tar+zstd`: smaller and faster to unpack; containerd, Docker 23+ and podman pull it.
    Zstd,
    /// A plain `tar`.
    None,
}

impl LayerCompression {
    /// The layer descriptor's media type.
    pub fn media_type(self) -> &'static str {
        match self {
            LayerCompression::Gzip => MEDIA_TYPE_LAYER_GZIP,
            LayerCompression::Zstd => MEDIA_TYPE_LAYER_ZSTD,
            LayerCompression::None => MEDIA_TYPE_LAYER,
        }
    }

    /// The flag's value (`gzip`, `zstd`, `none`), as the provenance records it.
    pub fn as_str(self) -> &'static str {
        match self {
            LayerCompression::Gzip => "gzip",
            LayerCompression::Zstd => "zstd",
            LayerCompression::None => "none",
        }
    }
}

/// A compressed layer and its digests.
#[derive(Debug, Clone)]
pub struct Compressed {
    /// The blob.
    pub blob: Vec<u8>,
    /// sha256 of the blob.
    pub digest: Digest,
    /// sha256 of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    pub diff_id: Digest,
    /// The uncompressed tar's size.
    pub tar_size: u64,
}

/// Compresses `tar` with `how`, hashing both sides in the same pass.
pub fn compress(tar: &[u8], how: LayerCompression) -> Result<Compressed> {
    compress_unless(tar, how, &AtomicBool::new(false))?
        .ok_or_else(|| Error::msg("internal error: a layer's compression stopped"))
}

/// [`compress`], given up (`None`) once `stop` is set: looked at before each piece, so a
/// layer made ahead that is no longer wanted stops within a piece per thread.
pub fn compress_unless(
    tar: &[u8],
    how: LayerCompression,
    stop: &AtomicBool,
) -> Result<Option<Compressed>> {
    if stop.load(Ordering::Relaxed) {
        return Ok(None);
    }
    match how {
        LayerCompression::Gzip => gzip(tar, threads(), stop),
        LayerCompression::Zstd => zstd(tar, stop),
        LayerCompression::None => {
            let digest = Digest::of(tar);
            Ok(Some(Compressed {
                blob: tar.to_vec(),
                digest,
                diff_id: digest,
                tar_size: tar.len() as u64,
            }))
        }
    }
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(MAX_THREADS)
}

/// Appends compressed bytes to the blob and hashes them on the way.
struct HashingVec {
    blob: Vec<u8>,
    hash: Sha256,
}

impl HashingVec {
    fn new(capacity: usize) -> Self {
        HashingVec {
            blob: Vec::with_capacity(capacity),
            hash: Sha256::new(),
        }
    }

    fn finish(self, diff_id: Digest, tar_size: usize) -> Compressed {
        Compressed {
            digest: Digest::from_bytes(self.hash.finalize().into()),
            blob: self.blob,
            diff_id,
            tar_size: tar_size as u64,
        }
    }
}

impl Write for HashingVec {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hash.update(buf);
        self.blob.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One gzip piece: raw deflate of `input`, sync-flushed (or finished when `last`).
fn deflate_piece(input: &[u8], last: bool) -> Result<(Vec<u8>, Crc)> {
    let mut c = Compress::new(flate2::Compression::new(GZIP_LEVEL), false);
    let mut out = Vec::with_capacity(input.len() + input.len() / 100 + 64);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        let done = c.total_in() as usize;
        let status = c
            .compress_vec(&input[done..], &mut out, flush)
            .map_err(|e| Error::msg(format!("compressing a layer: {e}")))?;
        let finished = if last {
            status == Status::StreamEnd
        } else {
            c.total_in() as usize == input.len() && out.len() < out.capacity()
        };
        if finished {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    let mut crc = Crc::new();
    crc.update(input);
    Ok((out, crc))
}

/// The gzip header: no name, mtime 0, XFL for the level, OS 255 (unknown).
fn gzip_header() -> [u8; 10] {
    let xfl = if GZIP_LEVEL == 1 { 4 } else { 0 };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

/// gzip with the fixed piece layout, compressed on up to `threads` threads; `None` once
/// `stop` is set.
fn gzip(tar: &[u8], threads: usize, stop: &AtomicBool) -> Result<Option<Compressed>> {
    let pieces: Vec<&[u8]> = if tar.is_empty() {
        vec![tar]
    } else {
        tar.chunks(GZIP_PIECE).collect()
    };
    let n = pieces.len();
    let mut out = HashingVec::new(tar.len() / 2 + 64);
    out.write_all(&gzip_header()).expect("writes to memory");
    let mut diff = Sha256::new();
    let mut crc = Crc::new();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = threads.clamp(1, n);
    let compressed = std::thread::scope(|s| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, pieces) = (&next, &pieces);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if tx.send((i, deflate_piece(pieces[i], i + 1 == n))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // In order: hash the tar piece, then append and hash its compressed bytes.
        let mut waiting = std::collections::BTreeMap::new();
        for (i, tar_piece) in pieces.iter().enumerate() {
            diff.update(tar_piece);
            let piece = loop {
                if let Some(p) = waiting.remove(&i) {
                    break p;
                }
                let (j, p) = rx
                    .recv()
                    .map_err(|_| Error::msg("compressing a layer: a worker thread stopped"))?;
                waiting.insert(j, p);
            };
            let (bytes, piece_crc) = piece?;
            crc.combine(&piece_crc);
            out.write_all(&bytes).expect("writes to memory");
        }
        Ok(())
    });
    // Stopped: the workers left pieces undone (the wait for them failed).
    if stop.load(Ordering::Relaxed) {
        return Ok(None);
    }
    compressed?;
    let mut trailer = [0u8; 8];
    trailer[..4].copy_from_slice(&crc.sum().to_le_bytes());
    trailer[4..].copy_from_slice(&(tar.len() as u32).to_le_bytes());
    out.write_all(&trailer).expect("writes to memory");
    Ok(Some(out.finish(
        Digest::from_bytes(diff.finalize().into()),
        tar.len(),
    )))
}

/// One zstd frame at [`ZSTD_LEVEL`] with the content size, no checksum; `None` once `stop`
/// is set.
fn zstd(tar: &[u8], stop: &AtomicBool) -> Result<Option<Compressed>> {
    let err = |e: std::io::Error| Error::msg(format!("compressing a layer with zstd: {e}"));
    let mut enc =
        zstd::stream::Encoder::new(HashingVec::new(tar.len() / 2 + 64), ZSTD_LEVEL).map_err(err)?;
    enc.include_checksum(false).map_err(err)?;
    enc.include_contentsize(true).map_err(err)?;
    enc.set_pledged_src_size(Some(tar.len() as u64))
        .map_err(err)?;
    let mut diff = Sha256::new();
    for piece in tar.chunks(GZIP_PIECE) {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        diff.update(piece);
        enc.write_all(piece).map_err(err)?;
    }
    let out = enc.finish().map_err(err)?;
    Ok(Some(out.finish(
        Digest::from_bytes(diff.finalize().into()),
        tar.len(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// 3.5 MiB (7 gzip pieces) of compressible, not trivial bytes.
    fn sample() -> Vec<u8> {
        let mut x: u32 = 1;
        (0..(1 << 20) * 7 / 2)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                if i % 7 < 4 {
                    (i / 13) as u8
                } else {
                    (x >> 24) as u8
                }
            })
            .collect()
    }

    #[test]
    fn gzip_bytes_do_not_depend_on_the_thread_count_and_decode() {
        let tar = sample();
        let go = AtomicBool::new(false);
        let one = gzip(&tar, 1, &go).unwrap().unwrap();
        for t in [2, 3, 8] {
            let other = gzip(&tar, t, &go).unwrap().unwrap();
            assert_eq!(one.blob, other.blob, "{t} threads");
        }
        assert_eq!(one.digest, Digest::of(&one.blob));
        assert_eq!(one.diff_id, Digest::of(&tar));
        assert_eq!(&one.blob[4..8], &[0, 0, 0, 0], "gzip mtime is zero");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(one.blob.as_slice())
            .read_to_end(&mut back)
            .unwrap();
        // GzDecoder reads one member: the layer is a single member.
        assert_eq!(back, tar);
        assert!(one.blob.len() < tar.len());
    }

    #[test]
    fn small_and_empty_inputs() {
        for tar in [Vec::new(), b"hello".to_vec()] {
            for how in [
                LayerCompression::Gzip,
                LayerCompression::Zstd,
                LayerCompression::None,
            ] {
                let c = compress(&tar, how).unwrap();
                assert_eq!(c.digest, Digest::of(&c.blob), "{how:?}");
                assert_eq!(c.diff_id, Digest::of(&tar), "{how:?}");
            }
            let g = compress(&tar, LayerCompression::Gzip).unwrap();
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(g.blob.as_slice())
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, tar);
        }
    }

    #[test]
    fn zstd_and_none_round_trip() {
        let tar = sample();
        let z = compress(&tar, LayerCompression::Zstd).unwrap();
        assert_eq!(zstd::decode_all(z.blob.as_slice()).unwrap(), tar);
        assert_eq!(z.blob, compress(&tar, LayerCompression::Zstd).unwrap().blob);
        let n = compress(&tar, LayerCompression::None).unwrap();
        assert_eq!(n.blob, tar);
        assert_eq!(n.digest, n.diff_id);
    }

    /// The bytes are pinned: a change of backend, level or layout (which would change every
    /// image digest) shows here first.
    #[test]
    fn pinned_digests() {
        let tar = sample();
        let got: Vec<String> = [LayerCompression::Gzip, LayerCompression::Zstd]
            .iter()
            .map(|h| compress(&tar, *h).unwrap().digest.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "sha256:1106ccd6a29eea5248e46c1bbffa06bd6b274d25791512e9b5b891e780a73eb7",
                "sha256:1aa10c0387c950e7cdcd9f4e8f2a590206d07e8cd0e300740a65102cd32e603c",
            ]
        );
    }
}
