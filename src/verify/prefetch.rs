//! Reading a registry ahead of the verifier: the requests verify will make one after
//! another are sent together, each as soon as the answer that names it has arrived
//! (pipelined, not a wave at a time), over the client's pooled connections, and their
//! answers are kept for [`super::Source`] to hand out. For an index, its platform manifests
//! and the evidence about them start together: the index names their digests.
//!
//! Nothing here decides anything: the verifier's own calls read from the cache exactly what
//! they would have fetched (bytes whose digest was checked when they arrived; a tag's answer
//! is also kept under its digest), and every check runs as before. Content a listing or a
//! manifest carries inline (a descriptor's `data`, as our attach writes referrer manifests
//! and bundles) is kept as the answer to the fetch it spares, when it has the descriptor's
//! size and digest: what a fetch by digest would have returned. A request that failed is
//! not kept, so the verifier's call asks again and reports the failure where it always did.
//! The bounds of [`crate::oci::limits`] hold for every request; at most
//! [`crate::oci::limits::CONCURRENT_REQUESTS`] are in flight, and nothing more is read ahead
//! once [`VERIFY_READ_MAX`] bytes were (the verifier's own reads then stop at that bound).

use std::collections::{HashMap, HashSet, VecDeque};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::sync::Mutex;

use crate::formats::bundle::MEDIA_TYPES_READ;
use crate::formats::oci::{Descriptor, ImageManifest};
use crate::oci::limits::{
    ATTESTATION_LAYERS_MAX, ATTESTATION_MAX, CONCURRENT_REQUESTS, MANIFEST_MAX, REFERRERS_MAX,
    VERIFY_READ_MAX,
};
use crate::oci::referrers::Listing;
use crate::oci::registry::{FetchedManifest, RegistryClient};
use crate::util::digest::Digest;

/// What one request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Want {
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
    /// The digests each listing names (all verify reads of it), and what it skipped.
    referrers: HashMap<Digest, Listing<Digest>>,
    /// What was read beside the registry client's own count: a layout's files, and what
    /// referrers listings hold once parsed beyond the bytes they came in.
    arrived: u64,
    /// The registry client's count of every body byte it received ([`RegistryClient::received`]).
    network: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

impl Cache {
    fn has(&self, w: &Want) -> bool {
        match w {
            Want::Manifest(r) => self.manifests.contains_key(r),
            Want::Blob(d, s) => self.blobs.contains_key(&(*d, *s)),
            Want::Referrers(d) => self.referrers.contains_key(d),
        }
    }

    /// A cache for reads from `client`, counting what it receives.
    pub fn counting(client: &RegistryClient) -> Cache {
        Cache {
            network: Some(client.received()),
            ..Cache::default()
        }
    }

    /// Counts `n` bytes read beside the registry client's count; `false` once more than
    /// [`VERIFY_READ_MAX`] were read in all.
    pub fn charge(&mut self, n: u64) -> bool {
        self.arrived = self.arrived.saturating_add(n);
        self.total() <= VERIFY_READ_MAX
    }

    /// The bytes read so far, in all: at most [`VERIFY_READ_MAX`] are read ahead, and the
    /// verifier's own reads past it are an error ([`Cache::charge`]).
    pub fn total(&self) -> u64 {
        let network = self.network.as_ref();
        let received = network.map_or(0, |n| n.load(std::sync::atomic::Ordering::Relaxed));
        self.arrived.saturating_add(received)
    }

    /// Keeps the answer `g` to `w`, unless the request failed. Its bytes were counted as
    /// they arrived, by the client; a listing also counts what it holds parsed beyond them.
    fn keep(&mut self, w: Want, g: Got) {
        match (w, g) {
            (Want::Manifest(r), Got::Manifest(Some(m))) => {
                if let Some(m) = &m {
                    self.take_inline_layers(&m.bytes);
                }
                self.put_manifest(&r, m)
            }
            (Want::Blob(d, s), Got::Blob(Some(b))) => {
                self.blobs.insert((d, s), b);
            }
            (Want::Referrers(d), Got::Referrers(Some(l))) => {
                self.charge(listing_bytes(&l.entries));
                self.take_inline_manifests(&l.entries);
                self.referrers.insert(d, l.digests());
            }
            _ => {}
        }
    }

    /// Keeps the manifests a listing carries inline (`data`, written by our attach), each
    /// checked against its descriptor's size and digest as a fetch by digest is, and the
    /// layers they carry inline in turn; the verifier then reads them without a request. What
    /// does not match is left to the fetch.
    fn take_inline_manifests(&mut self, listing: &[Descriptor]) {
        for d in listing {
            let key = d.digest.to_string();
            if self.manifests.contains_key(&key) {
                continue;
            }
            let Some(bytes) = d.embedded(MANIFEST_MAX) else {
                continue;
            };
            if !self.charge(bytes.len() as u64) {
                return;
            }
            self.take_inline_layers(&bytes);
            let m = FetchedManifest {
                media_type: d.media_type.clone(),
                // As from a registry that sends no `Content-Type`: the verifier goes by the
                // manifest's own `mediaType`.
                content_type: None,
                digest: d.digest,
                etag: None,
                bytes,
            };
            self.manifests.insert(key, Some(m));
        }
    }

    /// Keeps the layers `manifest` carries inline (`data`: our attach writes a bundle so),
    /// each checked against its descriptor's size and digest, within [`ATTESTATION_MAX`].
    fn take_inline_layers(&mut self, manifest: &[u8]) {
        #[derive(serde::Deserialize)]
        struct Layers {
            #[serde(default)]
            layers: Vec<Descriptor>,
        }
        let Ok(m) = serde_json::from_slice::<Layers>(manifest) else {
            return;
        };
        for l in m.layers.iter().filter(|l| l.data.is_some()) {
            let key = (l.digest, l.size);
            if self.blobs.contains_key(&key) {
                continue;
            }
            let Some(bytes) = l.embedded(ATTESTATION_MAX) else {
                continue;
            };
            if !self.charge(bytes.len() as u64) {
                return;
            }
            self.blobs.insert(key, Some(bytes));
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

    /// A kept referrers listing: the digests it names, and what it skipped.
    pub fn referrers(&self, subject: &Digest) -> Option<Listing<Digest>> {
        self.referrers.get(subject).cloned()
    }
}

/// One request's answer; `None` when it failed (not kept).
enum Got {
    Manifest(Option<Option<FetchedManifest>>),
    Blob(Option<Option<Vec<u8>>>),
    Referrers(Option<Listing>),
}

/// What a referrers listing holds in memory once parsed, about: each descriptor's strings
/// plus what a descriptor and each annotation cost beyond them. Counted so, a listing of many
/// tiny annotations (a few bytes of JSON each, ten times that parsed) counts for what it
/// costs. Counted beside the bytes it came in (which the client counts): a listing is small
/// unless padded. Only its digests are kept.
pub fn listing_bytes(listing: &[Descriptor]) -> u64 {
    const DESCRIPTOR: u64 = 256;
    const ANNOTATION: u64 = 96;
    let strings = |d: &Descriptor| {
        d.annotations
            .iter()
            .map(|(k, v)| ANNOTATION + (k.len() + v.len()) as u64)
            .sum::<u64>()
            + (d.media_type.len()
                + d.artifact_type.as_ref().map_or(0, String::len)
                + d.data.as_ref().map_or(0, String::len)) as u64
    };
    listing.iter().map(|d| DESCRIPTOR + strings(d)).sum()
}

/// Sends the request `w` names.
async fn get(client: &RegistryClient, w: &Want) -> Got {
    match w {
        Want::Manifest(r) => Got::Manifest(client.get_manifest_async(r).await.ok()),
        Want::Blob(d, s) => Got::Blob(client.find_blob_async(d, *s).await.ok()),
        Want::Referrers(d) => Got::Referrers(
            crate::oci::referrers::registry_referrers_async(client, d)
                .await
                .ok(),
        ),
    }
}

/// The cosign tags verify reads for `subject` with a key (`sha256-HEX.att`, `.sig`).
pub fn cosign_tags(subject: &Digest) -> [String; 2] {
    ["att", "sig"].map(|s| format!("sha256-{}.{s}", subject.hex()))
}

/// Why a request of [`evidence`] is made: what its answer leads to.
#[derive(Debug, Clone)]
enum Step {
    /// An image document (an index's entry): the end (its evidence is asked beside it).
    Document(Digest),
    /// The referrers of a subject: then each referrer's manifest.
    Listing(Digest),
    /// A referrer's manifest: then its first layer, when it is an attestation.
    Referrer(Digest),
    /// A cosign tag's manifest: then its layers.
    Tag(String),
    /// An attestation layer: the end.
    Layer(Digest, u64),
}

impl Step {
    fn want(&self) -> Want {
        match self {
            Step::Listing(d) => Want::Referrers(*d),
            Step::Referrer(d) | Step::Document(d) => Want::Manifest(d.to_string()),
            Step::Tag(t) => Want::Manifest(t.clone()),
            Step::Layer(d, s) => Want::Blob(*d, *s),
        }
    }

    /// The requests this step's kept answer leads to (none when it was not kept).
    fn next(&self, c: &Cache) -> Vec<Step> {
        let manifest = |r: &str| -> Option<ImageManifest> {
            let m = c.manifests.get(r)?.as_ref()?;
            serde_json::from_slice(&m.bytes).ok()
        };
        let layers: Vec<Descriptor> = match self {
            // Past the bounds verify reads, it fails without reading any of them.
            Step::Listing(d) => {
                let listed = c.referrers.get(d).map_or(&[][..], |l| &l.entries);
                if listed.len() > REFERRERS_MAX {
                    return Vec::new();
                }
                return listed.iter().map(|r| Step::Referrer(*r)).collect();
            }
            Step::Referrer(d) => manifest(&d.to_string())
                .and_then(|m| m.layers.into_iter().next())
                .filter(|l| MEDIA_TYPES_READ.contains(&l.media_type.as_str()))
                .into_iter()
                .collect(),
            Step::Tag(t) => manifest(t)
                .map(|m| m.layers)
                .filter(|l| l.len() <= ATTESTATION_LAYERS_MAX)
                .unwrap_or_default(),
            Step::Layer(..) | Step::Document(_) => Vec::new(),
        };
        layers
            .into_iter()
            .filter(|l| l.size <= ATTESTATION_MAX)
            .map(|l| Step::Layer(l.digest, l.size))
            .collect()
    }
}

/// What [`evidence`] reads ahead.
#[derive(Debug, Clone, Copy)]
pub struct Ahead<'a> {
    /// Image documents to fetch (an index's entries), beside the evidence.
    pub documents: &'a [Digest],
    /// The parts whose evidence verify reads.
    pub subjects: &'a [Digest],
    /// Whether cosign's tags are read too (verify with a key).
    pub tags: bool,
}

/// Everything verify reads about the parts `subjects`: the referrers listings (and cosign's
/// tags when `tags`), the referrer manifests, and the attestation layers of those manifests
/// and of the tags' manifests; and beside them the image documents `documents`. Pipelined:
/// each request starts as soon as the answer that names it has arrived (not a wave after
/// the slowest of its wave), at most [`CONCURRENT_REQUESTS`] in flight. What is kept
/// already is not asked again. Verify asks for cosign's tags only once it has read the
/// listings and they left the image unverified (`verify::image`).
pub fn evidence(client: &RegistryClient, cache: &Mutex<Cache>, ahead: Ahead<'_>) {
    let Ahead {
        documents,
        subjects,
        tags,
    } = ahead;
    let mut queue: VecDeque<Step> = documents.iter().map(|d| Step::Document(*d)).collect();
    queue.extend(subjects.iter().map(|s| Step::Listing(*s)));
    if tags {
        queue.extend(subjects.iter().flat_map(cosign_tags).map(Step::Tag));
    }
    client.block_on(async {
        let mut started: HashSet<Want> = HashSet::new();
        let mut in_flight = FuturesUnordered::new();
        // The sizes of the blobs in flight (what arrived is counted in the cache).
        let mut reserved = 0u64;
        let room = |reserved: u64| {
            cache.lock().unwrap().total().saturating_add(reserved) < VERIFY_READ_MAX
        };
        loop {
            while in_flight.len() < CONCURRENT_REQUESTS && room(reserved) {
                let Some(step) = queue.pop_front() else { break };
                let want = step.want();
                if !started.insert(want.clone()) {
                    continue;
                }
                let known = cache.lock().unwrap().has(&want);
                if known {
                    queue.extend(step.next(&cache.lock().unwrap()));
                } else {
                    if let Want::Blob(_, size) = want {
                        reserved = reserved.saturating_add(size);
                    }
                    in_flight.push(async move { (get(client, &want).await, want, step) });
                }
            }
            let Some((got, want, step)) = in_flight.next().await else {
                break;
            };
            if let Want::Blob(_, size) = want {
                reserved = reserved.saturating_sub(size);
            }
            let mut c = cache.lock().unwrap();
            c.keep(want, got);
            queue.extend(step.next(&c));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(c: &mut Cache, name: &str, layers: Vec<Descriptor>) -> Digest {
        let m = ImageManifest {
            schema_version: 2,
            media_type: None,
            artifact_type: None,
            config: Descriptor::of("application/vnd.oci.empty.v1+json", b"{}"),
            layers,
            subject: None,
            annotations: Default::default(),
        };
        let bytes = serde_json::to_vec(&m).unwrap();
        let digest = Digest::of(&bytes);
        let name = if name.is_empty() {
            digest.to_string()
        } else {
            name.to_owned()
        };
        let fetched = FetchedManifest {
            bytes,
            media_type: crate::formats::oci::MEDIA_TYPE_MANIFEST.into(),
            content_type: None,
            digest,
            etag: None,
        };
        c.put_manifest(&name, Some(fetched));
        digest
    }

    fn layers(steps: Vec<Step>) -> Vec<(Digest, u64)> {
        steps
            .into_iter()
            .map(|s| match s {
                Step::Layer(d, n) => (d, n),
                other => panic!("expected a layer, got {other:?}"),
            })
            .collect()
    }

    #[test]
    fn each_answer_leads_to_the_requests_verify_makes_next_and_no_more() {
        let mut c = Cache::default();
        let bundle = Descriptor::of(MEDIA_TYPES_READ[0], b"bundle");
        let other = Descriptor::of("application/octet-stream", b"not an attestation");
        let mut huge = Descriptor::of(MEDIA_TYPES_READ[0], b"huge");
        huge.size = ATTESTATION_MAX + 1;
        let good = kept(&mut c, "", vec![bundle.clone(), other.clone()]);
        let foreign = kept(&mut c, "", vec![other.clone()]);
        let too_big = kept(&mut c, "", vec![huge]);
        let subject = Digest::of(b"subject");
        let missing = Digest::of(b"missing");
        let listing = [good, foreign, too_big, missing]
            .map(|digest| Descriptor {
                digest,
                ..Descriptor::of(crate::formats::oci::MEDIA_TYPE_MANIFEST, b"")
            })
            .to_vec();
        let listing = Listing {
            entries: listing,
            skipped: Vec::new(),
        };
        c.referrers.insert(subject, listing.digests());

        let next: Vec<Want> = Step::Listing(subject)
            .next(&c)
            .iter()
            .map(Step::want)
            .collect();
        let manifests = [good, foreign, too_big, missing].map(|d| Want::Manifest(d.to_string()));
        assert_eq!(next, manifests, "one manifest request per listed referrer");
        // A referrer: its first layer only, and only when it is a bundle within the bound.
        assert_eq!(
            layers(Step::Referrer(good).next(&c)),
            [(bundle.digest, bundle.size)]
        );
        assert!(Step::Referrer(foreign).next(&c).is_empty());
        assert!(Step::Referrer(too_big).next(&c).is_empty());
        // Not kept (failed or missing): nothing follows; the verifier asks again itself.
        assert!(Step::Referrer(missing).next(&c).is_empty());
        assert!(Step::Listing(Digest::of(b"unlisted")).next(&c).is_empty());
        // A cosign tag: every layer within the bound.
        let tag = cosign_tags(&subject)[0].clone();
        kept(&mut c, &tag, vec![bundle.clone(), other.clone()]);
        assert_eq!(
            layers(Step::Tag(tag).next(&c)),
            [(bundle.digest, bundle.size), (other.digest, other.size)]
        );
        assert!(Step::Layer(bundle.digest, bundle.size).next(&c).is_empty());
        // An index's entry is fetched by digest and leads nowhere: its evidence is asked
        // beside it, as a listing of its own.
        assert_eq!(
            Step::Document(good).want(),
            Want::Manifest(good.to_string())
        );
        assert!(Step::Document(good).next(&c).is_empty());
    }

    /// A listing's inline manifests, and their inline layers, are kept only when they are
    /// the content their descriptors name; a forged one is left to the fetch (which then
    /// gets the real one, or fails its digest check).
    #[test]
    fn inline_content_is_kept_only_when_it_is_what_its_descriptor_names() {
        let mut c = Cache::default();
        let bundle = b"the bundle";
        let layer = Descriptor::of(MEDIA_TYPES_READ[0], bundle).with_data(bundle);
        let good = kept(&mut c, "", vec![layer.clone()]);
        let good_bytes = c.manifest(&good.to_string()).unwrap().unwrap().bytes;
        let mut c = Cache::default();
        let forged_layer = Descriptor {
            data: Descriptor::of("", b"the bundlX")
                .with_data(b"the bundlX")
                .data,
            ..layer.clone()
        };
        let forged = kept(&mut c, "", vec![forged_layer]);
        let forged_bytes = c.manifest(&forged.to_string()).unwrap().unwrap().bytes;
        let mut c = Cache::default();
        let entry = Descriptor::of(crate::formats::oci::MEDIA_TYPE_MANIFEST, &good_bytes);
        let listing = vec![
            entry.clone().with_data(&good_bytes),
            // Another manifest's bytes under a digest they do not have.
            Descriptor {
                digest: Digest::of(b"listed"),
                ..entry.clone().with_data(&forged_bytes)
            },
        ];
        c.keep(
            Want::Referrers(Digest::of(b"subject")),
            Got::Referrers(Some(Listing {
                entries: listing,
                skipped: Vec::new(),
            })),
        );
        let m = c.manifest(&good.to_string()).unwrap().unwrap();
        assert_eq!(
            (m.bytes, m.digest, m.content_type),
            (good_bytes, good, None)
        );
        assert_eq!(
            c.blob(&layer.digest, layer.size),
            Some(Some(bundle.to_vec()))
        );
        assert!(c.manifest(&Digest::of(b"listed").to_string()).is_none());
        // A fetched manifest's inline layer that is not what it names: not kept.
        let mut c = Cache::default();
        let fetched = FetchedManifest {
            digest: forged,
            media_type: crate::formats::oci::MEDIA_TYPE_MANIFEST.into(),
            content_type: None,
            etag: None,
            bytes: forged_bytes,
        };
        c.keep(
            Want::Manifest(forged.to_string()),
            Got::Manifest(Some(Some(fetched))),
        );
        assert!(c.manifest(&forged.to_string()).is_some());
        assert_eq!(c.blob(&layer.digest, layer.size), None);
    }

    /// A listing counts for what it holds parsed (tiny annotations cost far more than their
    /// JSON), beside the bytes it came in (whitespace, padding), which the client counts.
    #[test]
    fn a_listing_counts_for_what_it_holds() {
        assert_eq!(listing_bytes(&[]), 0);
        let mut d = Descriptor::of(crate::formats::oci::MEDIA_TYPE_MANIFEST, b"");
        for i in 0..1000 {
            d.annotations.insert(format!("{i}"), String::new());
        }
        let held = listing_bytes(&[d]);
        assert!(held > 96 * 1000, "{held}");
    }

    #[test]
    fn past_the_bounds_nothing_is_read_ahead() {
        let mut c = Cache::default();
        let subject = Digest::of(b"subject");
        let listing: Vec<Descriptor> = (0..=REFERRERS_MAX)
            .map(|i| Descriptor::of(crate::formats::oci::MEDIA_TYPE_MANIFEST, &i.to_le_bytes()))
            .collect();
        let listing: Vec<Digest> = listing.iter().map(|d| d.digest).collect();
        let digests = |entries: &[Digest]| Listing {
            entries: entries.to_vec(),
            skipped: Vec::new(),
        };
        c.referrers.insert(subject, digests(&listing));
        assert!(Step::Listing(subject).next(&c).is_empty());
        c.referrers
            .insert(subject, digests(&listing[..REFERRERS_MAX]));
        assert_eq!(Step::Listing(subject).next(&c).len(), REFERRERS_MAX);
        let layers: Vec<Descriptor> = (0..=ATTESTATION_LAYERS_MAX)
            .map(|i| Descriptor::of(MEDIA_TYPES_READ[0], &i.to_le_bytes()))
            .collect();
        let tag = cosign_tags(&subject)[1].clone();
        kept(&mut c, &tag, layers.clone());
        assert!(Step::Tag(tag.clone()).next(&c).is_empty());
        kept(&mut c, &tag, layers[..ATTESTATION_LAYERS_MAX].to_vec());
        assert_eq!(Step::Tag(tag).next(&c).len(), ATTESTATION_LAYERS_MAX);
    }
}
