//! The rebuild compared with the record: the provenance's subjects, the digest being
//! verified, and the toolchain.

use std::collections::BTreeMap;

use super::recorded::Recorded;
use crate::build::Summary;
use crate::formats::build_type::ToolchainParameters;
use crate::util::digest::Digest;
use crate::verify::document::{Kind, Target};

/// Rebuilt digests by subject name, from `summary.json`; the index under `index_name`.
pub fn rebuilt_subjects(summary: &Summary, index_name: &str) -> BTreeMap<String, Vec<Digest>> {
    let mut out: BTreeMap<String, Vec<Digest>> = BTreeMap::new();
    out.entry(index_name.to_owned())
        .or_default()
        .push(summary.index_digest);
    for p in &summary.platforms {
        out.entry(p.platform.clone())
            .or_default()
            .push(p.manifest_digest);
        for b in &p.binaries {
            out.entry(b.path.clone()).or_default().push(b.digest);
        }
    }
    out
}

/// Compares recorded subjects with rebuilt ones: the differences, binaries first.
pub fn differences(recorded: &Recorded, rebuilt: &BTreeMap<String, Vec<Digest>>) -> Vec<String> {
    let mut bins = Vec::new();
    let mut images = Vec::new();
    for s in &recorded.subjects {
        let (name, digest) = (&s.name, &s.digest);
        let got = rebuilt.get(name).cloned().unwrap_or_default();
        if got.contains(digest) {
            continue;
        }
        let what = match got.as_slice() {
            [] => format!("{name}: recorded {digest}, absent from the rebuild"),
            g => format!("{name}: recorded {digest}, rebuilt {}", list(g)),
        };
        if s.is_index || !name.starts_with('/') {
            images.push(format!("image {what}"));
        } else {
            bins.push(format!("binary {what}"));
        }
    }
    bins.extend(images);
    bins
}

/// Compares the digest being verified (and, for an index, each platform manifest it lists)
/// with the rebuild: an index must be the rebuilt index, a manifest one of the rebuilt
/// platform manifests. The provenance's subjects alone are not enough: a statement about a
/// genuine image says nothing about another index that lists that image's manifests.
pub fn target_differences(target: &Target, summary: &Summary) -> Vec<String> {
    let rebuilt: Vec<Digest> = summary
        .platforms
        .iter()
        .map(|p| p.manifest_digest)
        .collect();
    if target.parts.is_empty() {
        return vec!["no image digest to compare with the rebuild".into()];
    }
    target
        .parts
        .iter()
        .filter_map(|p| match p.kind {
            Kind::Index if p.digest != summary.index_digest => Some(format!(
                "image {p} being verified is not the rebuilt index {}",
                summary.index_digest
            )),
            Kind::Manifest if !rebuilt.contains(&p.digest) => Some(format!(
                "image {p} being verified is not a rebuilt platform manifest ({})",
                list(&rebuilt)
            )),
            _ => None,
        })
        .collect()
}

/// ` (toolchain differs: ...)` when the rebuild's rustc (as its own provenance records it)
/// is not the recorded one.
pub fn toolchain_difference(
    recorded: &ToolchainParameters,
    rebuilt: &ToolchainParameters,
) -> Option<String> {
    if rebuilt.rustc_release == recorded.rustc_release
        && rebuilt.rustc_commit_hash == recorded.rustc_commit_hash
    {
        return None;
    }
    Some(format!(
        " (toolchain differs: recorded rustc {} ({}), the rebuild used {} ({}))",
        recorded.rustc_release,
        recorded.rustc_commit_hash,
        rebuilt.rustc_release,
        rebuilt.rustc_commit_hash
    ))
}

fn list(digests: &[Digest]) -> String {
    digests
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::recorded::Subject;
    use super::*;

    fn d(c: char) -> Digest {
        Digest::from_hex(&c.to_string().repeat(64)).unwrap()
    }

    fn toolchain(release: &str, hash: &str) -> ToolchainParameters {
        serde_json::from_value(serde_json::json!({"rustcRelease": release,
            "rustcCommitHash": hash, "rustcCommitDate": "d", "host": "h", "cargoVersion": "c"}))
        .unwrap()
    }

    fn summary(index: char, manifest: char, binary: char) -> Summary {
        serde_json::from_value(serde_json::json!({
            "tag": "latest", "layout": "oci", "index_digest": d(index).to_string(),
            "platforms": [{"platform": "linux/amd64", "manifest_digest": d(manifest).to_string(),
                "rust_target": "x86_64-unknown-linux-gnu",
                "binaries": [{"name": "hello", "package": "hello", "path": "/usr/local/bin/hello",
                    "digest": d(binary).to_string(), "size": 1, "file": "bin/hello"}]}],
            "builder": {"kind": "native", "id": "native"}, "source_date_epoch": 1, "source_date_epoch_source": "env"
        }))
        .unwrap()
    }

    #[test]
    fn differences_name_binaries_first() {
        let rec = Recorded {
            external: serde_json::from_value(serde_json::json!({
                "packages": [], "binaries": [], "profile": "release", "target": "t",
                "builder": "native", "baseImage": "scratch", "platforms": []
            }))
            .unwrap(),
            internal: serde_json::from_value(serde_json::json!({
                "toolchain": {"rustcRelease": "1", "rustcCommitHash": "x", "rustcCommitDate": "d", "host": "h", "cargoVersion": "c"},
                "rustflagsSource": "none", "profileSettings": {"optLevel": "3", "lto": "false", "codegenUnits": 1, "debug": "0", "strip": "none", "panic": "unwind"},
                "sourceDateEpoch": 1, "reproducible": true
            }))
            .unwrap_or_else(|e| panic!("{e}")),
            subjects: [("img", 'a', true), ("linux/amd64", 'b', false)]
                .into_iter()
                .chain([("/usr/local/bin/hello", 'c', false)])
                .map(|(name, c, is_index)| Subject {
                    name: name.into(),
                    digest: d(c),
                    is_index,
                })
                .collect(),
        };
        assert_eq!(rec.index_name(), "img");
        let diffs = differences(&rec, &rebuilt_subjects(&summary('a', 'e', 'f'), "img"));
        assert_eq!(diffs.len(), 2, "{diffs:?}");
        assert!(
            diffs[0].starts_with("binary /usr/local/bin/hello: recorded"),
            "{diffs:?}"
        );
        assert!(diffs[1].starts_with("image linux/amd64"), "{diffs:?}");
        assert!(differences(&rec, &rebuilt_subjects(&summary('a', 'b', 'c'), "img")).is_empty());
    }

    #[test]
    fn a_toolchain_difference_names_both_rustcs() {
        let recorded = toolchain("1.95.0", "aaa");
        assert_eq!(
            toolchain_difference(&recorded, &toolchain("1.95.0", "aaa")),
            None
        );
        let other = toolchain_difference(&recorded, &toolchain("1.96.0", "bbb")).unwrap();
        assert!(other.contains("recorded rustc 1.95.0 (aaa)"), "{other}");
        assert!(other.contains("the rebuild used 1.96.0 (bbb)"), "{other}");
        assert!(toolchain_difference(&recorded, &toolchain("1.95.0", "ccc")).is_some());
    }
}
