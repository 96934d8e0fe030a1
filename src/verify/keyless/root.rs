//! The trusted root of keyless verification: `--trusted-root FILE` (a protobuf-JSON
//! `TrustedRoot`), else the Sigstore public-good production root this project ships
//! (`sigstore/trusted_root.production.json`, a copy of ../shared/sigstore).

use std::path::Path;

use sigstore_verify::Verifier;
use sigstore_verify::trust_root::TrustedRoot;

use crate::error::{Error, Result};

/// The public-good production trusted root, as shipped in `sigstore/`.
pub const PUBLIC_GOOD_ROOT: &str = include_str!("../../../sigstore/trusted_root.production.json");

/// The name the shipped root is reported under.
pub const PUBLIC_GOOD_NAME: &str = "Sigstore public-good production root, shipped";

/// A trusted root, checked and ready to verify with, and the name it is reported under.
pub struct SigstoreRoot {
    /// `public-good` or the file's path.
    pub name: String,
    /// The parsed root.
    pub root: TrustedRoot,
    /// The crate's verifier over it (keys and anchors prepared once).
    pub verifier: Verifier,
    /// Its transparency logs as our `verify/tlog/` reads them (request-form dsse entries,
    /// see [`super::request_form`]).
    pub logs: crate::verify::tlog::TrustedRoot,
}

impl std::fmt::Debug for SigstoreRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigstoreRoot({})", self.name)
    }
}

impl SigstoreRoot {
    /// `--trusted-root FILE`, else the shipped public-good root.
    pub fn load(path: Option<&Path>) -> Result<SigstoreRoot> {
        match path {
            Some(p) => {
                let text = String::from_utf8(crate::util::fs::read(p)?).map_err(|_| {
                    Error::msg(format!(
                        "{}: the trusted root is not UTF-8 JSON",
                        p.display()
                    ))
                })?;
                Self::parse(&text, &p.display().to_string())
            }
            None => Self::parse(PUBLIC_GOOD_ROOT, PUBLIC_GOOD_NAME),
        }
    }

    /// Parses a trusted root's JSON; `name` names it in messages and in the report.
    pub fn parse(json: &str, name: &str) -> Result<SigstoreRoot> {
        let bad = |e: &dyn std::fmt::Display| {
            Error::msg(format!(
                "trusted root {name}: {e}; pass a Sigstore TrustedRoot (protobuf JSON, \
                 application/vnd.dev.sigstore.trustedroot+json) with --trusted-root"
            ))
        };
        let root = TrustedRoot::from_json(json).map_err(|e| bad(&e))?;
        let verifier = Verifier::new(&root).map_err(|e| bad(&e))?;
        let logs = crate::verify::tlog::TrustedRoot::parse(json.as_bytes(), name)?;
        Ok(SigstoreRoot {
            name: name.to_owned(),
            root,
            verifier,
            logs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_root_loads_and_broken_roots_name_the_file() {
        let r = SigstoreRoot::load(None).unwrap();
        assert!(!r.root.certificate_authorities.is_empty());
        assert_eq!(r.name, PUBLIC_GOOD_NAME);
        let e = SigstoreRoot::parse("{}", "x.json").unwrap_err().to_string();
        assert!(e.contains("x.json") && e.contains("--trusted-root"), "{e}");
    }
}
