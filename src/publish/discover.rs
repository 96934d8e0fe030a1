//! Discovering an image's referrers as a tree (referrers of referrers included), like
//! `oras discover`, with our annotations pulled out for display.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{ANNOTATION_PREDICATE_TYPE, ANNOTATION_ROLE};
use crate::error::Result;
use crate::formats::oci::Descriptor;
use crate::oci::store::Store;
use crate::util::digest::Digest;

/// One referrer and what refers to it in turn.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReferrerNode {
    /// The referrer manifest's media type.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// Its artifact type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// `dev.sigstore.bundle.predicateType`, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// `dev.cargo-provenance.role`, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// All annotations.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Referrers of this referrer (named `manifests` as in `oras discover --format json`).
    #[serde(rename = "manifests")]
    pub referrers: Vec<ReferrerNode>,
}

impl ReferrerNode {
    fn from_descriptor(d: Descriptor) -> Self {
        ReferrerNode {
            predicate_type: d.annotations.get(ANNOTATION_PREDICATE_TYPE).cloned(),
            role: d.annotations.get(ANNOTATION_ROLE).cloned(),
            media_type: d.media_type,
            digest: d.digest,
            size: d.size,
            artifact_type: d.artifact_type,
            annotations: d.annotations,
            referrers: Vec::new(),
        }
    }
}

/// The referrers of `subject`, recursively, sorted by digest at each level; with
/// `artifact_type`, only referrers of that type are listed (at every level).
pub fn discover(
    store: &Store,
    subject: &Digest,
    artifact_type: Option<&str>,
) -> Result<Vec<ReferrerNode>> {
    let mut seen = BTreeSet::new();
    seen.insert(*subject);
    walk(store, subject, artifact_type, &mut seen, 0)
}

const MAX_DEPTH: usize = 16;

fn walk(
    store: &Store,
    subject: &Digest,
    artifact_type: Option<&str>,
    seen: &mut BTreeSet<Digest>,
    depth: usize,
) -> Result<Vec<ReferrerNode>> {
    let mut out = Vec::new();
    if depth >= MAX_DEPTH {
        return Ok(out);
    }
    for d in store.referrers(subject)? {
        if let Some(t) = artifact_type
            && d.artifact_type.as_deref() != Some(t)
        {
            continue;
        }
        if !seen.insert(d.digest) {
            continue;
        }
        let mut node = ReferrerNode::from_descriptor(d);
        node.referrers = walk(store, &node.digest, artifact_type, seen, depth + 1)?;
        out.push(node);
    }
    Ok(out)
}

/// Renders the tree as `oras discover` does: the subject, then referrers grouped by artifact
/// type, each line `DIGEST  PREDICATE-TYPE  (ROLE)`.
pub fn render_tree(root: &str, nodes: &[ReferrerNode]) -> String {
    let mut out = format!("{root}\n");
    render_level(nodes, "", &mut out);
    out
}

fn render_level(nodes: &[ReferrerNode], prefix: &str, out: &mut String) {
    let mut groups: Vec<(String, Vec<&ReferrerNode>)> = Vec::new();
    for n in nodes {
        let t = n
            .artifact_type
            .clone()
            .unwrap_or_else(|| "<no artifact type>".to_owned());
        match groups.iter_mut().find(|(k, _)| *k == t) {
            Some((_, v)) => v.push(n),
            None => groups.push((t, vec![n])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    for (gi, (t, members)) in groups.iter().enumerate() {
        let last_group = gi + 1 == groups.len();
        out.push_str(&format!(
            "{prefix}{}{t}\n",
            if last_group {
                "└── "
            } else {
                "├── "
            }
        ));
        let gprefix = format!("{prefix}{}", if last_group { "    " } else { "│   " });
        for (i, n) in members.iter().enumerate() {
            let last = i + 1 == members.len();
            let mut line = n.digest.to_string();
            if let Some(p) = &n.predicate_type {
                line.push_str(&format!("  {p}"));
            }
            if let Some(r) = &n.role {
                line.push_str(&format!("  ({r})"));
            }
            out.push_str(&format!(
                "{gprefix}{}{line}\n",
                if last { "└── " } else { "├── " }
            ));
            let nprefix = format!("{gprefix}{}", if last { "    " } else { "│   " });
            render_level(&n.referrers, &nprefix, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(data: &[u8], at: &str, pt: Option<&str>) -> ReferrerNode {
        ReferrerNode {
            media_type: "m".into(),
            digest: Digest::of(data),
            size: 1,
            artifact_type: Some(at.into()),
            predicate_type: pt.map(str::to_owned),
            role: Some("image-attestation".into()),
            annotations: Default::default(),
            referrers: vec![],
        }
    }

    #[test]
    fn tree_groups_by_artifact_type() {
        let mut a = node(b"a", "t/bundle", Some("https://slsa.dev/provenance/v1"));
        a.referrers.push(node(b"c", "t/sig", None));
        let b = node(b"b", "t/bundle", Some("https://cyclonedx.org/bom"));
        let s = render_tree("reg/x@sha256:00", &[a, b]);
        assert_eq!(s.lines().count(), 6, "{s}");
        assert!(s.lines().nth(1).unwrap().starts_with("└── t/bundle"));
        assert!(s.contains("https://slsa.dev/provenance/v1  (image-attestation)"));
        assert!(s.contains("    │   └── t/sig"), "{s}");
    }
}
