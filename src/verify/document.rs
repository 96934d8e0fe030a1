//! What the image being verified is made of, read strictly: every document is what its media
//! type says, and an index may list nothing a runtime could pick that verify would not check.
//!
//! This is the first half of the subject-binding rule (docs/verify.md, "What counts as
//! evidence"): [`target`] turns the fetched top document into a [`Target`], the list of
//! digests that each need verified evidence of their own (the top document and, for an
//! index, every platform manifest it lists). Anything that does not fit the rule (a hybrid
//! document, a nested index, a child that is a blob, a child without a platform, an
//! attestation manifest that claims a real platform) is a reason the `image` check fails.

use serde_json::Value;

use crate::formats::oci::{Descriptor, ImageIndex, ImageManifest};
use crate::oci::store::{is_index, is_manifest};
use crate::util::digest::Digest;

/// BuildKit's marker of attestation manifests inside an image index.
pub use crate::formats::annotations::DOCKER_REFERENCE_TYPE as BUILDKIT_REFERENCE_TYPE;

/// A document's kind, by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An image index (OCI) or manifest list (Docker).
    Index,
    /// An image manifest (OCI or Docker).
    Manifest,
}

impl Kind {
    /// The kind a media type names, if it names an image document.
    pub fn of(media_type: &str) -> Option<Kind> {
        if is_index(media_type) {
            Some(Kind::Index)
        } else if is_manifest(media_type) {
            Some(Kind::Manifest)
        } else {
            None
        }
    }

    /// `index` or `image manifest`, for reasons.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Index => "index",
            Kind::Manifest => "image manifest",
        }
    }
}

/// A parsed image document.
#[derive(Debug, Clone)]
pub enum Document {
    /// An image index.
    Index(Box<ImageIndex>),
    /// An image manifest.
    Manifest(Box<ImageManifest>),
}

/// Reads `bytes` as the document its media type says it is. `fetched_as` is the media type
/// it was fetched under (the registry's `Content-Type`, the parent's descriptor or the
/// layout's `index.json` entry), when known. Refused, with the reason: not a JSON object; a
/// `mediaType` that disagrees with `fetched_as`; no media type at all; a media type that is
/// no image document; a manifest with a `manifests` field; an index with `config` or
/// `layers`; a document that does not parse as its kind.
pub fn classify(bytes: &[u8], fetched_as: Option<&str>) -> Result<Document, String> {
    // Parsers disagree on a repeated key (we and Go take the last, others the first): a
    // document that reads two ways is refused.
    serde_json::from_slice::<unique::Unique>(bytes)
        .map_err(|e| format!("it is not valid JSON: {e}"))?;
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("it is not valid JSON: {e}"))?;
    let obj = v.as_object().ok_or("it is not a JSON object")?;
    let declared = match obj.get("mediaType") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err("its `mediaType` is not a string".into()),
    };
    let media_type = match (declared, fetched_as) {
        (Some(d), Some(f)) if d != f => {
            return Err(format!(
                "its `mediaType` is `{d}` but it was fetched as `{f}`: a document is one thing"
            ));
        }
        (Some(m), _) | (None, Some(m)) => m,
        (None, None) => {
            return Err("it has no `mediaType`, and nothing says what it is".into());
        }
    };
    let kind = Kind::of(media_type).ok_or_else(|| {
        format!("its media type `{media_type}` is not an image index or manifest")
    })?;
    let has = |k: &str| obj.contains_key(k);
    match kind {
        Kind::Manifest if has("manifests") => Err(format!(
            "it is an image manifest (`{media_type}`) that also carries a `manifests` list: \
             a hybrid document is refused"
        )),
        Kind::Index if has("config") || has("layers") => Err(format!(
            "it is an index (`{media_type}`) that also carries `config` or `layers`: a hybrid \
             document is refused"
        )),
        Kind::Manifest => serde_json::from_value(v)
            .map(|m| Document::Manifest(Box::new(m)))
            .map_err(|e| format!("it is not a valid image manifest: {e}")),
        Kind::Index => serde_json::from_value(v)
            .map(|i| Document::Index(Box::new(i)))
            .map_err(|e| format!("it is not a valid image index: {e}")),
    }
}

/// A JSON reader that only checks that no object repeats a key, at any depth.
mod unique {
    use std::collections::BTreeSet;
    use std::fmt;

    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

    /// Any JSON value whose objects have unique keys.
    pub struct Unique;

    impl<'de> Deserialize<'de> for Unique {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(UniqueVisitor)
        }
    }

    struct UniqueVisitor;

    impl<'de> Visitor<'de> for UniqueVisitor {
        type Value = Unique;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON value")
        }

        fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
            Ok(Unique)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
            Ok(Unique)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
            Ok(Unique)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
            Ok(Unique)
        }

        fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
            Ok(Unique)
        }

        fn visit_unit<E>(self) -> Result<Unique, E> {
            Ok(Unique)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Unique, A::Error> {
            while a.next_element::<Unique>()?.is_some() {}
            Ok(Unique)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Unique, A::Error> {
            let mut keys = BTreeSet::new();
            while let Some(k) = a.next_key::<String>()? {
                if !keys.insert(k.clone()) {
                    return Err(de::Error::custom(format!("the key `{k}` appears twice")));
                }
                a.next_value::<Unique>()?;
            }
            Ok(Unique)
        }
    }
}

/// One digest that needs verified evidence of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The document's digest.
    pub digest: Digest,
    /// What it is.
    pub kind: Kind,
    /// How to name it to people: `index`, `image manifest`, `platform manifest linux/amd64`.
    pub label: String,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.label, self.digest)
    }
}

/// The image being verified: the top document first, then each platform manifest an index
/// lists, in the index's order. Every part needs evidence that names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The parts; never empty once built by [`target`].
    pub parts: Vec<Part>,
}

impl Target {
    /// The digest the reference resolved to.
    pub fn top(&self) -> Option<&Part> {
        self.parts.first()
    }

    /// True when the top document is an index.
    pub fn is_index(&self) -> bool {
        self.top().is_some_and(|p| p.kind == Kind::Index)
    }

    /// The indexes of the parts a subject names: same digest, and, when the subject says
    /// its media type, the same kind. A subject with any other media type (a binary, a blob)
    /// names no image document.
    pub fn named_by(&self, digest: &Digest, media_type: Option<&str>) -> Vec<usize> {
        let kind = media_type.map(Kind::of);
        self.parts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.digest == *digest)
            .filter(|(_, p)| kind.is_none_or(|k| k == Some(p.kind)))
            .map(|(i, _)| i)
            .collect()
    }
}

/// A child of an index, as the rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Child {
    /// A platform manifest: it needs evidence; fetch and [`classify`] it next.
    Platform(Part),
    /// A BuildKit attestation manifest (platform `unknown/unknown`): read for reporting.
    BuildkitAttestation,
}

/// Sorts one index entry, or says why the index is refused because of it.
pub fn child(d: &Descriptor) -> Result<Child, String> {
    let name = format!("the index entry {} (`{}`)", d.digest, d.media_type);
    let platform = d.platform.as_ref().map(|p| p.to_string());
    if crate::formats::index::is_marked_attestation(d) {
        if platform.as_deref() != Some("unknown/unknown") || !is_manifest(&d.media_type) {
            return Err(format!(
                "{name} is marked as a BuildKit attestation manifest but has platform {}: a \
                 runtime could pick it, and attestation manifests are not checked as images",
                platform.as_deref().unwrap_or("(none)")
            ));
        }
        return Ok(Child::BuildkitAttestation);
    }
    match Kind::of(&d.media_type) {
        Some(Kind::Manifest) => {}
        Some(Kind::Index) => {
            return Err(format!(
                "{name} is a nested index: verify does not follow nested indexes (verify that \
                 index by its own digest)"
            ));
        }
        None => return Err(format!("{name} is not an image manifest")),
    }
    let Some(platform) = platform else {
        return Err(format!(
            "{name} has no platform: every image in an index must say which platform it is for"
        ));
    };
    Ok(Child::Platform(Part {
        digest: d.digest,
        kind: Kind::Manifest,
        label: format!("platform manifest {platform}"),
    }))
}

/// The part an index entry refused by [`child`] still is: it is listed, so a runtime may
/// pick it, and the report names it among the parts without evidence.
pub fn refused(d: &Descriptor) -> Part {
    let platform = d
        .platform
        .as_ref()
        .map(|p| format!(" {p}"))
        .unwrap_or_default();
    Part {
        digest: d.digest,
        kind: Kind::Manifest,
        label: format!("refused index entry{platform}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::annotations::DOCKER_ATTESTATION_MANIFEST;
    use crate::formats::oci::{MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST};

    const CFG: &str = r#"{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2}"#;

    fn manifest(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_MANIFEST}","config":{CFG},"layers":[]{extra}}}"#
        )
    }

    #[test]
    fn documents_are_what_their_media_type_says() {
        assert!(matches!(
            classify(manifest("").as_bytes(), Some(MEDIA_TYPE_MANIFEST)),
            Ok(Document::Manifest(_))
        ));
        let index =
            format!(r#"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_INDEX}","manifests":[]}}"#);
        assert!(matches!(
            classify(index.as_bytes(), None),
            Ok(Document::Index(_))
        ));
        // No `mediaType`: the transport's type decides; with neither, refused.
        let bare = r#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            classify(bare.as_bytes(), Some(MEDIA_TYPE_DOCKER_LIST)),
            Ok(Document::Index(_))
        ));
        let err = classify(bare.as_bytes(), None).unwrap_err();
        assert!(err.contains("no `mediaType`"), "{err}");
    }

    #[test]
    fn hybrid_and_mismatched_documents_are_refused() {
        let hybrid = manifest(r#","manifests":[]"#);
        let err = classify(hybrid.as_bytes(), None).unwrap_err();
        assert!(err.contains("hybrid"), "{err}");
        let index_with_layers = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_INDEX}","manifests":[],"layers":[]}}"#
        );
        let err = classify(index_with_layers.as_bytes(), None).unwrap_err();
        assert!(err.contains("hybrid"), "{err}");
        let err = classify(manifest("").as_bytes(), Some(MEDIA_TYPE_INDEX)).unwrap_err();
        assert!(err.contains("fetched as"), "{err}");
        let err = classify(b"\x7fELF", Some(MEDIA_TYPE_MANIFEST)).unwrap_err();
        assert!(err.contains("not valid JSON"), "{err}");
        let twice = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_INDEX}","manifests":[],"manifests":[]}}"#
        );
        let err = classify(twice.as_bytes(), None).unwrap_err();
        assert!(err.contains("`manifests` appears twice"), "{err}");
        let nested = manifest(r#","annotations":{"a":"1","a":"2"}"#);
        let err = classify(nested.as_bytes(), None).unwrap_err();
        assert!(err.contains("`a` appears twice"), "{err}");
        let other = r#"{"mediaType":"application/vnd.example+json"}"#;
        let err = classify(other.as_bytes(), None).unwrap_err();
        assert!(err.contains("not an image index or manifest"), "{err}");
    }

    fn desc(media_type: &str, platform: Option<&str>, buildkit: bool) -> Descriptor {
        let mut d = Descriptor::of(media_type, b"x");
        d.platform = platform.map(|p| {
            let (os, arch) = p.split_once('/').unwrap();
            serde_json::from_value(serde_json::json!({"os": os, "architecture": arch})).unwrap()
        });
        if buildkit {
            d.annotations.insert(
                BUILDKIT_REFERENCE_TYPE.into(),
                DOCKER_ATTESTATION_MANIFEST.into(),
            );
        }
        d
    }

    #[test]
    fn index_children_follow_the_rule() {
        assert!(matches!(
            child(&desc(MEDIA_TYPE_MANIFEST, Some("linux/amd64"), false)),
            Ok(Child::Platform(p)) if p.label == "platform manifest linux/amd64"
        ));
        assert_eq!(
            child(&desc(MEDIA_TYPE_MANIFEST, Some("unknown/unknown"), true)),
            Ok(Child::BuildkitAttestation)
        );
        for (d, why) in [
            (
                desc(MEDIA_TYPE_MANIFEST, Some("linux/amd64"), true),
                "could pick it",
            ),
            (
                desc(MEDIA_TYPE_INDEX, Some("linux/amd64"), false),
                "nested index",
            ),
            (
                desc("application/octet-stream", Some("linux/amd64"), false),
                "not an image manifest",
            ),
            (desc(MEDIA_TYPE_MANIFEST, None, false), "no platform"),
        ] {
            let err = child(&d).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn subjects_name_parts_of_their_own_kind_only() {
        let d = Digest::of(b"m");
        let t = Target {
            parts: vec![Part {
                digest: d,
                kind: Kind::Manifest,
                label: "image manifest".into(),
            }],
        };
        assert_eq!(t.named_by(&d, None), [0]);
        assert_eq!(t.named_by(&d, Some(MEDIA_TYPE_MANIFEST)), [0]);
        assert!(t.named_by(&d, Some(MEDIA_TYPE_INDEX)).is_empty());
        assert!(t.named_by(&d, Some("application/octet-stream")).is_empty());
        assert!(t.named_by(&Digest::of(b"other"), None).is_empty());
    }
}
