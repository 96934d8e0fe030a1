//! OpenVEX statements that suppress findings (`--vex FILE...`).
//!
//! A statement applies to a finding when its vulnerability (`name` or an alias) is the
//! advisory's RustSec id or one of its aliases (CVE, GHSA), and one of its products is the
//! crate: a `pkg:cargo/NAME@VERSION` purl (`@id` or `identifiers.purl`, qualifiers ignored;
//! without `@VERSION` any version), directly or as a subcomponent of another product. Of the
//! statements that apply, the latest (statement timestamp, else the document's; then the
//! later file and position) decides: `not_affected` and `fixed` suppress, `affected` and
//! `under_investigation` do not.

use std::path::Path;

use serde::Serialize;

use super::Finding;
use super::input::parse_cargo_purl;
use crate::error::{Error, Result};
use crate::formats::openvex::{Component, Document, Statement, Status};

/// A parsed VEX document and where it came from.
#[derive(Debug, Clone)]
pub struct VexSource {
    /// The file (or the referrer) it was read from, as shown in reports.
    pub origin: String,
    /// The document.
    pub document: Document,
}

/// The statement that decided a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The file or referrer holding the statement.
    pub source: String,
    /// The document's `@id`.
    pub document: String,
    /// The statement's position in the document, from 0.
    pub statement: usize,
    /// The statement's `@id`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_id: Option<String>,
    /// The vulnerability name it uses.
    pub vulnerability: String,
    /// Its status.
    pub status: Status,
    /// Its justification (`not_affected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// Its impact statement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact_statement: Option<String>,
    /// When it was made.
    pub timestamp: String,
}

impl Decision {
    /// True for `not_affected` and `fixed`.
    pub fn suppresses(&self) -> bool {
        matches!(self.status, Status::NotAffected | Status::Fixed)
    }
}

/// Reads a VEX file: an OpenVEX document, or an in-toto statement whose predicate is one.
pub fn load(path: &Path) -> Result<VexSource> {
    let bytes = crate::util::fs::read(path)?;
    parse(&bytes, &path.display().to_string())
}

/// Parses VEX bytes (`origin` names them in errors).
pub fn parse(bytes: &[u8], origin: &str) -> Result<VexSource> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::msg(format!(
            "VEX file {origin} is not JSON: {e}; --vex takes OpenVEX v0.2.0 documents"
        ))
    })?;
    let doc_value = if value.get("predicateType").is_some() && value.get("predicate").is_some() {
        value["predicate"].clone()
    } else {
        value
    };
    let document: Document = serde_json::from_value(doc_value).map_err(|e| {
        Error::msg(format!(
            "VEX file {origin} is not an OpenVEX v0.2.0 document: {e}"
        ))
    })?;
    Ok(VexSource {
        origin: origin.to_owned(),
        document,
    })
}

/// The statement deciding `finding`, if any applies.
pub fn decide(sources: &[VexSource], finding: &Finding) -> Option<Decision> {
    let mut best: Option<(String, usize, usize, Decision)> = None;
    for (si, src) in sources.iter().enumerate() {
        for (i, st) in src.document.statements.iter().enumerate() {
            if !names_vulnerability(st, finding)
                || !st.products.iter().any(|p| names_crate(p, finding))
            {
                continue;
            }
            let ts = st
                .last_updated
                .clone()
                .or_else(|| st.timestamp.clone())
                .unwrap_or_else(|| src.document.timestamp.clone());
            let key = (ts.clone(), si, i);
            if best
                .as_ref()
                .is_some_and(|(t, a, b, _)| (t.clone(), *a, *b) > key)
            {
                continue;
            }
            let d = Decision {
                source: src.origin.clone(),
                document: src.document.id.clone(),
                statement: i,
                statement_id: st.id.clone(),
                vulnerability: st.vulnerability.name.clone(),
                status: st.status,
                justification: st.justification.map(|j| j.as_str().to_owned()),
                impact_statement: st.impact_statement.clone(),
                timestamp: ts.clone(),
            };
            best = Some((ts, si, i, d));
        }
    }
    best.map(|(_, _, _, d)| d)
}

fn names_vulnerability(st: &Statement, f: &Finding) -> bool {
    let v = &st.vulnerability;
    std::iter::once(&v.name)
        .chain(v.aliases.iter())
        .chain(v.id.iter())
        .any(|n| f.is_named(n.rsplit('/').next().unwrap_or(n)))
}

fn names_crate(c: &Component, f: &Finding) -> bool {
    let purls =
        c.id.iter()
            .chain(c.identifiers.iter().filter_map(|i| i.purl.as_ref()));
    for p in purls {
        if p.starts_with("pkg:cargo/") {
            let bare = p.split(['?', '#']).next().unwrap_or(p);
            let matches = match parse_cargo_purl(bare) {
                Some((name, version)) => name == f.package && version == f.version,
                None => bare
                    .strip_prefix("pkg:cargo/")
                    .is_some_and(|n| n == f.package),
            };
            if matches {
                return true;
            }
        }
    }
    c.subcomponents.iter().any(|s| names_crate(s, f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AdvisoryKind, CrateScope};

    fn finding() -> Finding {
        Finding {
            id: "RUSTSEC-2099-0001".into(),
            aliases: vec!["CVE-2099-1".into()],
            kind: AdvisoryKind::Vulnerability,
            package: "itoa".into(),
            version: "1.0.18".into(),
            purl: "pkg:cargo/itoa@1.0.18".into(),
            scope: CrateScope::Shipped,
            severity: None,
            score: None,
            cvss: None,
            title: "t".into(),
            date: "2099-01-01".into(),
            patched: vec![],
            url: String::new(),
        }
    }

    fn doc(statements: serde_json::Value) -> VexSource {
        parse(
            serde_json::json!({
                "@context": crate::formats::openvex::CONTEXT, "@id": "doc", "author": "a",
                "timestamp": "2099-01-01T00:00:00Z", "version": 1, "statements": statements,
            })
            .to_string()
            .as_bytes(),
            "v.json",
        )
        .unwrap()
    }

    #[test]
    fn not_affected_by_alias_on_an_image_subcomponent_suppresses() {
        let v = doc(serde_json::json!([{
            "vulnerability": {"name": "CVE-2099-1"},
            "products": [{"@id": "pkg:oci/app@sha256%3Aab", "subcomponents": [{"@id": "pkg:cargo/itoa@1.0.18"}]}],
            "status": "not_affected", "justification": "vulnerable_code_not_present",
        }]));
        let d = decide(&[v], &finding()).unwrap();
        assert!(d.suppresses());
        assert_eq!(
            d.justification.as_deref(),
            Some("vulnerable_code_not_present")
        );
    }

    #[test]
    fn the_latest_statement_decides_and_other_crates_do_not_match() {
        let v = doc(serde_json::json!([
            {"vulnerability": {"name": "RUSTSEC-2099-0001"}, "products": [{"@id": "pkg:cargo/itoa"}],
             "status": "not_affected", "justification": "component_not_present",
             "timestamp": "2099-01-01T00:00:00Z"},
            {"vulnerability": {"name": "RUSTSEC-2099-0001"}, "products": [{"@id": "pkg:cargo/itoa@1.0.18"}],
             "status": "affected", "action_statement": "upgrade", "timestamp": "2099-02-01T00:00:00Z"},
            {"vulnerability": {"name": "RUSTSEC-2099-0001"}, "products": [{"@id": "pkg:cargo/ryu@1.0.18"}],
             "status": "fixed", "timestamp": "2099-03-01T00:00:00Z"},
        ]));
        let d = decide(&[v], &finding()).unwrap();
        assert_eq!(d.status, Status::Affected);
        assert!(!d.suppresses());
    }

    #[test]
    fn broken_vex_names_the_file() {
        let e = parse(b"{not json", "bad.vex.json").unwrap_err();
        assert!(e.to_string().contains("bad.vex.json"), "{e}");
        let e = parse(b"{\"statements\": []}", "half.json").unwrap_err();
        assert!(
            e.to_string().contains("half.json") && e.to_string().contains("OpenVEX"),
            "{e}"
        );
    }
}
