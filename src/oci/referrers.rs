//! OCI 1.1 referrers: finding and recording the manifests whose `subject` is a given digest.
//!
//! - **Registry with the referrers API**: a manifest PUT answered with an `OCI-Subject`
//!   header, or `GET /v2/<name>/referrers/<digest>` answering 200 with an index, means the
//!   registry indexes referrers itself.
//! - **Registry without it** (distribution 2.8): the fallback tag `sha256-<hex>` holds an
//!   image index of referrer descriptors. We maintain it with read-merge-write: the entry
//!   carries `artifactType` and every annotation of the referrer manifest; duplicates (by
//!   digest) are dropped; the PUT is conditional (`If-Match` on the `ETag`, retry on 412) and,
//!   because some registries (distribution 2.8 among them) ignore `If-Match`, every writer
//!   re-reads after writing, and again after a settle delay, until its entry is present.
//!   The fallback PUT is never blindly repeated (a repeat could overwrite a concurrent
//!   writer's entry); every retry starts from a fresh read.
//! - **OCI layout**: referrers are untagged `index.json` entries (where `oras discover
//!   --oci-layout` looks); listing reads every manifest named in `index.json` and keeps those
//!   whose `subject` matches.

use std::time::Duration;

use super::layout::Layout;
use super::registry::{PutOutcome, RegistryClient, rand_u32};
use crate::error::{Error, Result};
use crate::formats::oci::{
    Descriptor, ImageIndex, IndexEntries, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST,
};
use crate::oci::limits::MANIFEST_MAX;
use crate::util::digest::Digest;

/// The fallback tag for `subject`: `sha256-<hex>`.
pub fn fallback_tag(subject: &Digest) -> String {
    format!("sha256-{}", subject.hex())
}

/// The index descriptor for a referrer manifest: media type, digest, size, and the
/// manifest's `artifactType` (or its config media type) and annotations.
pub fn referrer_descriptor(manifest_bytes: &[u8], media_type: &str) -> Result<Descriptor> {
    let mut d = Descriptor::of(media_type, manifest_bytes);
    let v: serde_json::Value = serde_json::from_slice(manifest_bytes)
        .map_err(|e| Error::msg(format!("referrer manifest {} is not JSON: {e}", d.digest)))?;
    d.artifact_type = v
        .get("artifactType")
        .and_then(|a| a.as_str())
        .or_else(|| v.pointer("/config/mediaType").and_then(|a| a.as_str()))
        .map(str::to_owned);
    if let Some(a) = v.get("annotations").and_then(|a| a.as_object()) {
        for (k, val) in a {
            if let Some(s) = val.as_str() {
                d.annotations.insert(k.clone(), s.to_owned());
            }
        }
    }
    Ok(d)
}

/// The `subject` digest of a manifest or index, if it has one. Only that field is parsed:
/// the rest (annotations a hostile store may pad) is skipped, not built.
pub fn subject_of(manifest_bytes: &[u8]) -> Option<Digest> {
    #[derive(serde::Deserialize)]
    struct Subject {
        digest: String,
    }
    #[derive(serde::Deserialize)]
    struct WithSubject {
        subject: Option<Subject>,
    }
    // A derived struct also reads a JSON array by position: only an object is a manifest.
    if manifest_bytes.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let m: WithSubject = serde_json::from_slice(manifest_bytes).ok()?;
    m.subject?.digest.parse().ok()
}

/// Lists the referrers of `subject` in a layout (entries of `index.json` whose manifest has
/// that subject), sorted by digest.
pub fn layout_referrers(layout: &Layout, subject: &Digest) -> Result<Vec<Descriptor>> {
    let map = layout_referrer_map(layout, |_| Ok(()))?;
    let Some(digests) = map.get(subject) else {
        return Ok(Vec::new());
    };
    let index = layout.index()?;
    digests
        .iter()
        .map(|d| {
            let listed = index.manifests.iter().find(|e| {
                e.digest == *d
                    && (e.media_type == MEDIA_TYPE_MANIFEST || e.media_type == MEDIA_TYPE_INDEX)
            });
            let media_type = listed.map_or(MEDIA_TYPE_MANIFEST, |e| e.media_type.as_str());
            referrer_descriptor(&layout.get_manifest_blob(d)?, media_type)
        })
        .collect()
}

/// The referrers of every subject in a layout, as the digests of the manifests naming it,
/// sorted: one pass over `index.json`, each listed manifest read once, and `read` told the
/// size of each before it is parsed (verify counts them against its read bound). Only the
/// digests are kept, whatever the manifests carry.
pub fn layout_referrer_map(
    layout: &Layout,
    mut read: impl FnMut(u64) -> Result<()>,
) -> Result<std::collections::BTreeMap<Digest, Vec<Digest>>> {
    let mut map: std::collections::BTreeMap<Digest, Vec<Digest>> = Default::default();
    let mut seen = std::collections::BTreeSet::new();
    for entry in layout.index()?.manifests {
        if entry.media_type != MEDIA_TYPE_MANIFEST && entry.media_type != MEDIA_TYPE_INDEX {
            continue;
        }
        // Each manifest is read once, however often index.json lists it.
        if !seen.insert(entry.digest) || !layout.has_blob(&entry.digest) {
            continue;
        }
        let bytes = layout.get_manifest_blob(&entry.digest)?;
        read(bytes.len() as u64)?;
        if let Some(subject) = subject_of(&bytes) {
            map.entry(subject).or_default().push(entry.digest);
        }
    }
    for list in map.values_mut() {
        list.sort();
    }
    Ok(map)
}

/// Lists the referrers of `subject` in a registry: the referrers API's answer merged with the
/// fallback tag's index (a registry may have gained the API after referrers were written the
/// old way), duplicates dropped, sorted by digest. Strict: an entry that does not parse, or a
/// fallback tag that holds no index, is an error (what copies and discovers referrers must
/// not skip); verify reads the [`Listing`] itself and reports what it skipped.
pub fn registry_referrers(client: &RegistryClient, subject: &Digest) -> Result<Vec<Descriptor>> {
    let listing = client.block_on(registry_referrers_async(client, subject))?;
    match listing.skipped.is_empty() {
        true => Ok(listing.entries),
        false => Err(Error::msg(format!(
            "{}; delete or repair it",
            listing.skipped.join("; ")
        ))),
    }
}

/// A registry's referrers of one subject, as read: descriptors, or (as verify keeps them)
/// only their digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<E = Descriptor> {
    /// The entries, one per digest, sorted by digest.
    pub entries: Vec<E>,
    /// What was skipped and why: entries that do not parse, a fallback tag that holds no
    /// image index. Anyone who can push a tag can write these; they must not hide the rest.
    pub skipped: Vec<String>,
}

impl<E> Default for Listing<E> {
    fn default() -> Self {
        Listing {
            entries: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

impl Listing {
    /// The listing with only its entries' digests.
    pub fn digests(self) -> Listing<Digest> {
        Listing {
            entries: self.entries.into_iter().map(|d| d.digest).collect(),
            skipped: self.skipped,
        }
    }
}

/// [`registry_referrers`], to run with other requests, lenient: the referrers API and the
/// fallback tag are asked at the same time, and what does not parse is set aside in
/// [`Listing::skipped`].
pub async fn registry_referrers_async(
    client: &RegistryClient,
    subject: &Digest,
) -> Result<Listing> {
    let tag = fallback_tag(subject);
    let (api, fallback) = futures_util::future::join(
        client.referrers_api_async(subject),
        client.get_manifest_async(&tag),
    )
    .await;
    let repository = &client.reference().repository;
    let mut listing = Listing::default();
    let mut add = |read: IndexEntries, what: String| {
        listing.skipped.extend(read.rejection(&what));
        listing.entries.extend(read.manifests);
    };
    if let Some(read) = api? {
        add(
            read,
            format!("the referrers API's listing of {subject} in {repository}"),
        );
    }
    if let Some(m) = fallback? {
        match IndexEntries::parse(&m.bytes) {
            Ok(read) => add(
                read,
                format!("the referrers fallback tag {tag} in {repository}"),
            ),
            Err(e) => listing.skipped.push(format!(
                "the referrers fallback tag {tag} in {repository} is not an image index ({})",
                crate::formats::oci::shortened(&e)
            )),
        }
    }
    listing.entries = one_per_digest(listing.entries);
    Ok(listing)
}

/// `entries` sorted by digest, one per digest: the first listed, carrying the inline `data`
/// (and the size) of the first entry of that digest whose `data` is the content it names.
/// An entry listed ahead of ours with our digest and forged `data` (or a wrong size) so
/// cannot shadow our inline copy, and a copy with good `data` cannot relabel the first
/// entry (its artifact type and annotations stay). Each entry's `data` is checked once.
fn one_per_digest(mut entries: Vec<Descriptor>) -> Vec<Descriptor> {
    // Stable: entries of one digest keep their listed order.
    entries.sort_by_key(|d| d.digest);
    let inline = |d: &Descriptor| d.embedded(MANIFEST_MAX).is_some();
    let mut kept: Vec<(Descriptor, bool)> = Vec::with_capacity(entries.len());
    for d in entries {
        match kept.last_mut() {
            Some((k, has)) if k.digest == d.digest => {
                if !*has && inline(&d) {
                    (k.data, k.size, *has) = (d.data, d.size, true);
                }
            }
            _ => {
                let has = inline(&d);
                kept.push((d, has));
            }
        }
    }
    kept.into_iter().map(|(d, _)| d).collect()
}

/// An image index as JSON, every field kept.
type JsonIndex = serde_json::Map<String, serde_json::Value>;

/// The fallback tag's index as JSON, every field kept (checked to be an image index), and
/// its `ETag`. The merge edits this, not an [`ImageIndex`]: another tool's index may carry
/// fields ours does not model (a descriptor's `urls`, extensions, the index's own
/// annotations or subject), and rewriting the tag must not drop them.
fn read_fallback(
    client: &RegistryClient,
    subject: &Digest,
) -> Result<Option<(JsonIndex, Option<String>)>> {
    let tag = fallback_tag(subject);
    let Some(m) = client.get_manifest(&tag)? else {
        return Ok(None);
    };
    serde_json::from_slice::<ImageIndex>(&m.bytes).map_err(|e| not_an_index(client, &tag, e))?;
    // An image index is a JSON object (checked just above), so this cannot fail.
    let index = serde_json::from_slice(&m.bytes).map_err(|e| not_an_index(client, &tag, e))?;
    Ok(Some((index, m.etag)))
}

/// The error for a fallback tag whose manifest is not an image index.
fn not_an_index(client: &RegistryClient, tag: &str, e: serde_json::Error) -> Error {
    Error::msg(format!(
        "the referrers fallback tag {tag} in {} is not an image index ({e}); delete the tag \
         or repair it",
        client.reference().repository
    ))
}

/// The digests of a fallback index's entries (JSON), in order.
fn entry_digests(index: &JsonIndex) -> Vec<String> {
    let entries = index.get("manifests").and_then(|m| m.as_array());
    entries
        .into_iter()
        .flatten()
        .map(|d| d["digest"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// How a referrer got recorded in a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The registry indexes referrers itself (referrers API).
    Api,
    /// The fallback tag's index holds the entry.
    FallbackTag,
}

/// Pushes a referrer manifest (its blobs must be there already) and records it for its
/// subject: by the registry when it has the referrers API, else in the fallback tag.
/// Idempotent: re-running never duplicates an entry.
pub fn registry_attach(
    client: &RegistryClient,
    subject: &Digest,
    manifest_bytes: &[u8],
) -> Result<Recorded> {
    let desc = referrer_descriptor(manifest_bytes, MEDIA_TYPE_MANIFEST)?;
    let outcome = client.put_manifest(
        &desc.digest.to_string(),
        manifest_bytes,
        MEDIA_TYPE_MANIFEST,
        None,
        true,
    )?;
    if let PutOutcome::Stored {
        oci_subject: Some(_),
    } = outcome
    {
        return Ok(Recorded::Api);
    }
    if client.referrers_api(subject)?.is_some() {
        return Ok(Recorded::Api);
    }
    // The fallback index carries the manifest inline (up to `EMBED_MAX`): a verifier that
    // read the listing has the manifest.
    update_fallback(client, subject, &desc.with_data(manifest_bytes))?;
    Ok(Recorded::FallbackTag)
}

/// `value` as a JSON object.
fn json_object<T: serde::Serialize>(value: &T) -> Result<JsonIndex> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::msg("internal error: an index is not a JSON object")),
        Err(e) => Err(Error::msg(format!("serialising the referrers index: {e}"))),
    }
}

/// The largest fallback index written with a new entry's content inline: past it, the entry
/// goes in without `data` (readers then fetch the manifest), so that an image attested again
/// and again keeps an index far below the registries' 4 MiB.
const FALLBACK_INLINE_MAX: usize = 1 << 20;

/// The bytes of the fallback `index`; the entry `digest`'s inline `data` is dropped when the
/// index would be larger than [`FALLBACK_INLINE_MAX`] with it.
fn fallback_bytes(index: &mut JsonIndex, digest: &str) -> Result<Vec<u8>> {
    let serialise = |index: &JsonIndex| {
        serde_json::to_vec(index)
            .map_err(|e| Error::msg(format!("serialising the referrers index: {e}")))
    };
    let bytes = serialise(index)?;
    if bytes.len() <= FALLBACK_INLINE_MAX {
        return Ok(bytes);
    }
    let entries = index.get_mut("manifests").and_then(|m| m.as_array_mut());
    for entry in entries.into_iter().flatten() {
        if entry["digest"].as_str() == Some(digest)
            && let Some(e) = entry.as_object_mut()
        {
            e.remove("data");
        }
    }
    serialise(index)
}

/// Rounds of read-merge-write before giving up on the fallback tag.
const FALLBACK_ROUNDS: u32 = 40;

/// Adds `desc` to the fallback index of `subject`, safely against concurrent writers.
pub fn update_fallback(client: &RegistryClient, subject: &Digest, desc: &Descriptor) -> Result<()> {
    let tag = fallback_tag(subject);
    let mut entry = desc.clone();
    entry.platform = None;
    let mut wrote = false;
    let mut last_error: Option<Error> = None;
    for round in 0..FALLBACK_ROUNDS {
        if round > 0 {
            let backoff = 20u64 * u64::from(round.min(10)) + u64::from(rand_u32() % 80);
            std::thread::sleep(Duration::from_millis(backoff));
        }
        let current = match read_fallback(client, subject) {
            Ok(c) => c,
            Err(e) => {
                last_error = Some(e);
                continue;
            }
        };
        let (mut index, etag) = match current {
            Some(c) => c,
            None => (json_object(&ImageIndex::new())?, None),
        };
        let digests = entry_digests(&index);
        let wanted = entry.digest.to_string();
        let present = digests.contains(&wanted);
        let dupes = {
            let mut seen = std::collections::BTreeSet::new();
            digests.iter().any(|d| !seen.insert(d))
        };
        if present && !dupes {
            if !wrote {
                return Ok(()); // already recorded (a re-run): nothing to do
            }
            // We wrote it; a writer that read before our write may still overwrite it
            // (registries that ignore If-Match). Check again after a settle delay.
            std::thread::sleep(Duration::from_millis(150 + u64::from(rand_u32() % 100)));
            match read_fallback(client, subject) {
                Ok(Some((i, _))) if entry_digests(&i).contains(&wanted) => {
                    return Ok(());
                }
                Ok(_) => continue,
                Err(e) => {
                    last_error = Some(e);
                    continue;
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        let manifests = index
            .entry("manifests")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(list) = manifests {
            list.retain(|d| seen.insert(d["digest"].as_str().unwrap_or_default().to_owned()));
            if !present {
                list.push(serde_json::to_value(&entry).map_err(|e| {
                    Error::msg(format!("serialising the referrer descriptor: {e}"))
                })?);
            }
        }
        index
            .entry("mediaType")
            .or_insert_with(|| MEDIA_TYPE_INDEX.into());
        let bytes = fallback_bytes(&mut index, &wanted)?;
        match client.put_manifest_classified(&tag, &bytes, MEDIA_TYPE_INDEX, etag.as_deref(), false)
        {
            Ok(PutOutcome::Stored { .. }) => wrote = true,
            Ok(PutOutcome::PreconditionFailed) => {}
            Ok(PutOutcome::Rejected(message)) => {
                return Err(Error::msg(format!(
                    "the registry refused the referrers index {tag} for {}: {message}",
                    desc.digest
                )));
            }
            Err(e) => {
                // A dropped connection may or may not have stored it: re-read next round.
                wrote = true;
                last_error = Some(e);
            }
        }
    }
    Err(Error::msg(format!(
        "could not record referrer {} in the fallback tag {tag} of {} after {FALLBACK_ROUNDS} \
         rounds{}",
        desc.digest,
        client.reference().repository,
        last_error.map(|e| format!(": {e}")).unwrap_or_default()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_copy_artifact_type_and_annotations() {
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"x/y","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"annotations":{"a":"1","b":"2"}}"#;
        let d = referrer_descriptor(m, MEDIA_TYPE_MANIFEST).unwrap();
        assert_eq!(d.artifact_type.as_deref(), Some("x/y"));
        assert_eq!(d.annotations.len(), 2);
        assert_eq!(d.digest, Digest::of(m));
        assert!(subject_of(m).is_some());
        let array = format!(r#" [{{"digest":"{}"}}]"#, Digest::of(b""));
        assert_eq!(subject_of(array.as_bytes()), None);
        assert_eq!(
            fallback_tag(&Digest::of(b"")),
            "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    /// Of several entries with one digest, the first listed is kept, with the inline data
    /// and size of the first entry whose data is the named content, wherever it is listed.
    #[test]
    fn a_forged_entry_listed_first_does_not_shadow_the_genuine_inline_copy() {
        let genuine = Descriptor::of(MEDIA_TYPE_MANIFEST, b"genuine").with_data(b"genuine");
        let forged = Descriptor {
            data: Descriptor::of(MEDIA_TYPE_MANIFEST, b"forgeed")
                .with_data(b"forgeed")
                .data,
            ..genuine.clone()
        };
        let plain = Descriptor::of(MEDIA_TYPE_MANIFEST, b"other");
        let kept = one_per_digest(vec![
            forged.clone(),
            plain.clone(),
            genuine.clone(),
            forged.clone(),
        ]);
        let mut want = vec![genuine.clone(), plain.clone()];
        want.sort_by_key(|d| d.digest);
        assert_eq!(kept, want);
        let first = Descriptor {
            data: None,
            ..forged.clone()
        };
        assert_eq!(one_per_digest(vec![first.clone(), forged]), vec![first]);
        // A first entry of another size and label keeps its label, and takes the genuine
        // entry's data and size (what its digest names).
        let mut relabelled = Descriptor {
            size: 0,
            data: None,
            ..genuine.clone()
        };
        relabelled.annotations.insert("k".into(), "first".into());
        let kept = one_per_digest(vec![relabelled.clone(), genuine.clone()]);
        assert_eq!(kept[0].annotations, relabelled.annotations);
        assert_eq!((kept[0].size, &kept[0].data), (genuine.size, &genuine.data));
        assert!(kept[0].embedded(MANIFEST_MAX).is_some());
    }

    /// Past 1 MiB, the new entry is written without its inline content; the entries already
    /// there keep theirs, and under the cap nothing is dropped.
    #[test]
    fn a_full_fallback_index_takes_the_new_entry_without_inline_data() {
        let entry = |digest: &str, data: &str| serde_json::json!({"digest": digest, "data": data});
        let big = "A".repeat(FALLBACK_INLINE_MAX);
        let mut index = JsonIndex::new();
        index.insert(
            "manifests".into(),
            serde_json::json!([entry("sha256:old", &big), entry("sha256:new", "e30=")]),
        );
        let bytes = fallback_bytes(&mut index, "sha256:new").unwrap();
        let written: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(written["manifests"][0]["data"].as_str(), Some(big.as_str()));
        assert!(written["manifests"][1].get("data").is_none());
        assert_eq!(written["manifests"][1]["digest"], "sha256:new");

        let mut small = JsonIndex::new();
        small.insert(
            "manifests".into(),
            serde_json::json!([entry("sha256:new", "e30=")]),
        );
        let bytes = fallback_bytes(&mut small, "sha256:new").unwrap();
        let written: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(written["manifests"][0]["data"], "e30=");
    }

    /// A referrer's media type comes from its manifest entry in `index.json`, not from an
    /// entry of the same digest with another type listed before it.
    #[test]
    fn layout_referrers_take_the_media_type_of_the_manifest_entry() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let subject = Digest::of(b"subject");
        let m = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"a/b","digest":"{e}","size":0}},"layers":[],"subject":{{"mediaType":"{MEDIA_TYPE_MANIFEST}","digest":"{subject}","size":7}}}}"#,
            e = Digest::of(b"")
        );
        let d = layout.put_blob(m.as_bytes()).unwrap();
        let mut other = Descriptor::of("application/vnd.example.other", m.as_bytes());
        other.annotations.insert("x".into(), "y".into());
        let mut index = ImageIndex::new();
        index.manifests = vec![other, Descriptor::of(MEDIA_TYPE_MANIFEST, m.as_bytes())];
        layout.write_index(&index).unwrap();
        let found = layout_referrers(&layout, &subject).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].digest, d);
        assert_eq!(found[0].media_type, MEDIA_TYPE_MANIFEST);
        assert_eq!(found[0].artifact_type.as_deref(), Some("a/b"));
    }
}
