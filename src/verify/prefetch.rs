//! Reading a registry ahead of the verifier: the requests verify will make one after
//! another are sent together, a wave at a time (each wave needs the answers of the one
//! before), over the client's pooled connections, and their answers are kept for
//! [`super::Source`] to hand out.
//!
//! Nothing here decides anything: the verifier's own calls read from the cache exactly what
//! they would have fetched (bytes whose digest was checked when they arrived; a tag's answer
//! is also kept under its digest), and every check runs as before. A request that failed is
//! not kept, so the verifier's call asks again and reports the failure where it always did.
//! The bounds of [`crate::oci::limits`] hold for every request; at most
//! [`crate::oci::limits::CONCURRENT_REQUESTS`] are in flight.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use crate::formats::bundle::MEDIA_TYPES_READ;
use crate::formats::oci::{Descriptor, ImageManifest};
use crate::oci::limits::ATTESTATION_MAX;
use crate::oci::registry::{FetchedManifest, RegistryClient};
use crate::util::digest::Digest;

/// What one request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Want {
    /// A manifest by tag or digest.
    Manifest(String),
    /// A blob of a given size.
    Blob(Digest, u64),
    /// The referrers of a subject (the API and the fallback tag).
    Referrers(Digest),
}

/// Answers kept for the verifier.
#[derive(Debug, Default)]
pub struct Cache {
    manifests: HashMap<String, Option<FetchedManifest>>,
    blobs: HashMap<(Digest, u64), Option<Vec<u8>>>,
    referrers: HashMap<Digest, Vec<Descriptor>>,
}

impl Cache {
    fn has(&self, w: &Want) -> bool {
        match w {
            Want::Manifest(r) => self.manifests.contains_key(r),
            Want::Blob(d, s) => self.blobs.contains_key(&(*d, *s)),
            Want::Referrers(d) => self.referrers.contains_key(d),
        }
    }

    /// Keeps a manifest under the name it was asked by and, when found, under its digest.
    pub fn put_manifest(&mut self, reference: &str, m: Option<FetchedManifest>) {
        if let Some(m) = &m {
            self.manifests
                .entry(m.digest.to_string())
                .or_insert_with(|| Some(m.clone()));
        }
        self.manifests.insert(reference.to_owned(), m);
    }

    /// A kept manifest answer (`Some(None)`: the registry said it has none).
    pub fn manifest(&self, reference: &str) -> Option<Option<FetchedManifest>> {
        self.manifests.get(reference).cloned()
    }

    /// A kept blob answer.
    pub fn blob(&self, digest: &Digest, size: u64) -> Option<Option<Vec<u8>>> {
        self.blobs.get(&(*digest, size)).cloned()
    }

    /// A kept referrers listing.
    pub fn referrers(&self, subject: &Digest) -> Option<Vec<Descriptor>> {
        self.referrers.get(subject).cloned()
    }
}

/// Fetches what `wants` names and is not kept yet, concurrently; keeps what arrived intact.
pub fn fetch(client: &RegistryClient, cache: &Mutex<Cache>, wants: Vec<Want>) {
    let wants: Vec<Want> = {
        let c = cache.lock().unwrap();
        let unique: BTreeSet<Want> = wants.into_iter().filter(|w| !c.has(w)).collect();
        unique.into_iter().collect()
    };
    if wants.is_empty() {
        return;
    }
    let futures = wants.iter().map(|w| async move {
        match w {
            Want::Manifest(r) => Got::Manifest(client.get_manifest_async(r).await.ok()),
            Want::Blob(d, s) => Got::Blob(client.find_blob_async(d, *s).await.ok()),
            Want::Referrers(d) => Got::Referrers(
                crate::oci::referrers::registry_referrers_async(client, d)
                    .await
                    .ok(),
            ),
        }
    });
    let got = client.run_all(futures.collect());
    let mut c = cache.lock().unwrap();
    for (w, g) in wants.into_iter().zip(got) {
        match (w, g) {
            (Want::Manifest(r), Got::Manifest(Some(m))) => c.put_manifest(&r, m),
            (Want::Blob(d, s), Got::Blob(Some(b))) => {
                c.blobs.insert((d, s), b);
            }
            (Want::Referrers(d), Got::Referrers(Some(l))) => {
                c.referrers.insert(d, l);
            }
            _ => {}
        }
    }
}

enum Got {
    Manifest(Option<Option<FetchedManifest>>),
    Blob(Option<Option<Vec<u8>>>),
    Referrers(Option<Vec<Descriptor>>),
}

/// The cosign tags verify reads for `subject` with a key (`sha256-HEX.att`, `.sig`).
pub fn cosign_tags(subject: &Digest) -> [String; 2] {
    ["att", "sig"].map(|s| format!("sha256-{}.{s}", subject.hex()))
}

/// Everything verify reads about the parts `subjects`, in three waves: the referrers
/// listings (and cosign's tags when `tags`), the referrer manifests, then the attestation
/// layers of those manifests and of the tags' manifests.
pub fn evidence(client: &RegistryClient, cache: &Mutex<Cache>, subjects: &[Digest], tags: bool) {
    let mut first: Vec<Want> = subjects.iter().map(|s| Want::Referrers(*s)).collect();
    let tag_names: Vec<String> = if tags {
        subjects.iter().flat_map(cosign_tags).collect()
    } else {
        Vec::new()
    };
    first.extend(tag_names.iter().cloned().map(Want::Manifest));
    fetch(client, cache, first);

    let referrers: Vec<Digest> = {
        let c = cache.lock().unwrap();
        subjects
            .iter()
            .filter_map(|s| c.referrers.get(s))
            .flatten()
            .map(|d| d.digest)
            .collect()
    };
    fetch(
        client,
        cache,
        referrers
            .iter()
            .map(|d| Want::Manifest(d.to_string()))
            .collect(),
    );

    let layers: Vec<Want> = {
        let c = cache.lock().unwrap();
        let manifest = |r: &str| -> Option<ImageManifest> {
            let m = c.manifests.get(r)?.as_ref()?;
            serde_json::from_slice(&m.bytes).ok()
        };
        let from_referrers = referrers
            .iter()
            .filter_map(|d| manifest(&d.to_string()))
            .filter_map(|m| m.layers.into_iter().next())
            .filter(|l| MEDIA_TYPES_READ.contains(&l.media_type.as_str()));
        let from_tags = tag_names
            .iter()
            .filter_map(|t| manifest(t))
            .flat_map(|m| m.layers);
        from_referrers
            .chain(from_tags)
            .filter(|l| l.size <= ATTESTATION_MAX)
            .map(|l| Want::Blob(l.digest, l.size))
            .collect()
    };
    fetch(client, cache, layers);
}
