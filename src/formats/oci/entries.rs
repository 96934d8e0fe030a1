//! Image indexes read entry by entry, as referrers listings are: whoever can push the
//! fallback tag writes one, so an entry that does not parse must not hide the others, and
//! what it holds must not cost more than its bytes.

use serde::de::{Deserializer, SeqAccess, Visitor};

use super::{Descriptor, Deserialize};

/// An image index read entry by entry: one that does not parse (a size of -1, a digest that
/// is not one) is counted, not fatal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexEntries {
    /// The entries that parse, in order.
    pub manifests: Vec<Descriptor>,
    /// How many entries did not parse.
    pub rejected: usize,
    /// Why the first of them did not (shortened, control characters escaped: it is the
    /// registry's text).
    pub first_rejection: Option<String>,
}

/// How much of a rejected entry's reason is kept.
const REASON_MAX: usize = 200;

impl IndexEntries {
    /// Reads `bytes` as an image index whose entries are parsed one at a time, each
    /// dropped before the next (a listing of two million `0`s holds no more than its
    /// entries that parse); `Err` when it is not an image index at all (no `manifests`
    /// list: an image manifest, say).
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct Loose {
            #[serde(deserialize_with = "one_at_a_time")]
            manifests: IndexEntries,
        }
        #[derive(Deserialize)]
        struct Strict {
            manifests: Vec<Descriptor>,
        }
        // Every entry parses (our listings, and any sound one): in one pass.
        if let Ok(all) = serde_json::from_slice::<Strict>(bytes) {
            return Ok(IndexEntries {
                manifests: all.manifests,
                ..IndexEntries::default()
            });
        }
        Ok(serde_json::from_slice::<Loose>(bytes)?.manifests)
    }

    /// Appends the entries of `other` (another page of the same listing).
    pub fn extend(&mut self, other: IndexEntries) {
        self.manifests.extend(other.manifests);
        self.rejected += other.rejected;
        if self.first_rejection.is_none() {
            self.first_rejection = other.first_rejection;
        }
    }

    /// What was skipped, for a report: `None` when every entry parsed.
    pub fn rejection(&self, what: &str) -> Option<String> {
        let first = self.first_rejection.as_deref()?;
        Some(format!(
            "{what}: {} of its entries do not parse and were skipped (first: {first})",
            self.rejected
        ))
    }
}

/// The `manifests` list, each element parsed as a [`Descriptor`] and dropped unless it is one.
fn one_at_a_time<'de, D: Deserializer<'de>>(d: D) -> Result<IndexEntries, D::Error> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = IndexEntries;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of descriptors")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IndexEntries, A::Error> {
            let mut out = IndexEntries::default();
            let mut i = 0usize;
            while let Some(entry) = seq.next_element::<serde_json::Value>()? {
                match serde_json::from_value::<Descriptor>(entry) {
                    Ok(d) => out.manifests.push(d),
                    Err(e) => {
                        out.rejected += 1;
                        out.first_rejection.get_or_insert_with(|| reason(i, &e));
                    }
                }
                i += 1;
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Entries)
}

/// Why entry `i` was rejected, as a report may show it ([`shortened`]).
fn reason(i: usize, e: &serde_json::Error) -> String {
    format!("entry {i}: {}", shortened(e))
}

/// A parse error of the registry's text as a report may show it: at most [`REASON_MAX`]
/// characters, control characters escaped (serde quotes the value it met).
pub fn shortened(e: &serde_json::Error) -> String {
    let text: String = e.to_string().chars().take(REASON_MAX).collect();
    text.escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::super::MEDIA_TYPE_MANIFEST;
    use super::*;

    #[test]
    fn an_entry_that_does_not_parse_does_not_hide_the_others() {
        let good = serde_json::to_value(Descriptor::of(MEDIA_TYPE_MANIFEST, b"x")).unwrap();
        let mut bad = good.clone();
        bad["size"] = serde_json::json!(-1);
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [bad, good, "junk"]});
        let read = IndexEntries::parse(index.to_string().as_bytes()).unwrap();
        assert_eq!(
            read.manifests,
            vec![Descriptor::of(MEDIA_TYPE_MANIFEST, b"x")]
        );
        assert_eq!(read.rejected, 2);
        let note = read.rejection("the listing").unwrap();
        assert!(
            note.contains("2 of its entries") && note.contains("entry 0"),
            "{note}"
        );
        // An image manifest is no index at all.
        let manifest = serde_json::json!({"schemaVersion": 2, "layers": []});
        assert!(IndexEntries::parse(manifest.to_string().as_bytes()).is_err());
    }

    /// The registry's text in a reason is short and has no raw control characters.
    #[test]
    fn a_reason_is_short_and_escaped() {
        let digest = format!("sha256:\u{1b}[31m{}", "a".repeat(100_000));
        let index =
            serde_json::json!({"manifests": [{"mediaType": "m", "digest": digest, "size": 1}]});
        let read = IndexEntries::parse(index.to_string().as_bytes()).unwrap();
        let why = read.first_rejection.unwrap();
        assert!(why.len() < 2 * REASON_MAX, "{}", why.len());
        assert!(!why.contains('\u{1b}'), "{why}");
    }
}
