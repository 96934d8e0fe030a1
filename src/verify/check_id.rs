//! The checks `verify` runs, by id: one enum, each variant with its stable kebab-case name
//! (what the report and `--format json` print), what it is about, and a one-line description
//! of when it fails. docs/verify.md's check table is [`CheckId::doc_table`], held equal by a
//! test.

use serde::{Serialize, Serializer};

macro_rules! check_ids {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $about:literal, $description:literal;)*) => {
        /// One check of the verification report.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum CheckId {
            $($(#[$doc])* $variant,)*
        }

        impl CheckId {
            /// Every check, in the order docs/verify.md lists them.
            pub const ALL: &'static [CheckId] = &[$(CheckId::$variant,)*];

            /// The stable kebab-case name, as printed in both report formats.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(CheckId::$variant => $name,)*
                }
            }

            /// What the check is about (the image, an attestation, provenance, ...).
            pub fn about(self) -> &'static str {
                match self {
                    $(CheckId::$variant => $about,)*
                }
            }

            /// One line: when the check fails (or sets the attestation aside).
            pub fn description(self) -> &'static str {
                match self {
                    $(CheckId::$variant => $description,)*
                }
            }
        }
    };
}

check_ids! {
    /// The image's documents.
    Image = "image", "the image", "the index/manifest bytes do not match the digest; the document is not what its media type says (see [What counts as evidence](#what-counts-as-evidence)); an index entry is a nested index, not an image manifest, has no platform, is missing, or differs from its entry's size or media type; an attestation manifest claims a real platform; an index lists no platform manifest";
    /// A referrer manifest's kind.
    Referrer = "referrer", "a referrer", "(skip) it holds no Sigstore bundle layer; (ignored) it is not an image manifest, or a listing's entry does not parse or its fallback tag holds no image index (skipped, the other entries are read); a subject lists more than 256 referrers, or an attestation manifest (BuildKit's, cosign's `.att`/`.sig` tag, when read: see [Where attestations are found](#where-attestations-are-found)) has more than 64 layers: more than verify reads, so not every one could be checked";
    /// A blob against its digest.
    BlobDigest = "blob-digest", "an attestation", "(ignored) a referrer manifest or bundle blob does not match its digest: truncated or swapped";
    /// The Sigstore bundle's shape.
    Bundle = "bundle", "an attestation", "(ignored) not valid JSON, unknown bundle version, no DSSE envelope; in single-bundle mode: not JSON, unknown media type, bad base64, negative log index, malformed checkpoint";
    /// The signature over the DSSE payload or the artifact.
    Signature = "signature", "an attestation", "(ignored) no DSSE signature verifies against `--key`; unsigned (BuildKit's in-index attestations); keyless without an identity policy; key-signed without `--key`";
    /// The message signature's artifact digest (single-bundle mode).
    ArtifactDigest = "artifact-digest", "a bundle", "single-bundle mode: the message signature's digest is not the artifact's";
    /// The keyless certificate chain.
    CertificateChain = "certificate-chain", "a keyless attestation", "the leaf does not chain to a Fulcio CA of the trusted root valid at the signing time, lacks code-signing usage, the chain is empty, or the bundle carries its own root";
    /// The keyless identity policy.
    CertificateIdentity = "certificate-identity", "a keyless attestation", "the SAN or issuer does not equal or match the identity policy, or a `--certificate-github-workflow-*` claim differs (Fulcio's extensions .2 to .6)";
    /// The embedded SCT.
    Sct = "sct", "a keyless attestation", "the embedded SCT is missing or not signed by a CT log of the trusted root";
    /// The verified signing time.
    SigningTime = "signing-time", "a keyless attestation", "no verified signing time, fewer independent observers than `--verified-time-threshold`, or one outside the validity of the certificate or its chain";
    /// RFC 3161 timestamps.
    Timestamp = "timestamp", "a keyless attestation", "an RFC 3161 timestamp does not verify against a TSA of the trusted root, is outside that TSA's validity, or stamps another signature (skip: the bundle has none)";
    /// The keyless certificate's source against the provenance's.
    CertificateSource = "certificate-source", "keyless provenance", "the certificate's source repository or source digest (Fulcio extensions .12, .13) differ from the provenance's `externalParameters.source` uri or commit (skip when either says nothing)";
    /// The signed payload is an in-toto statement.
    Statement = "statement", "an attestation", "the signed payload is not an in-toto Statement v1/v0.1 with subjects and a predicate type, or its predicate is not what its predicate type defines";
    /// Subject binding (src/verify/document.rs).
    Subject = "subject", "an attestation", "no subject names a part of the image (the digest being verified or a platform manifest its index lists); a subject whose `mediaType` is not that part's kind names nothing";
    /// The announced predicate type.
    PredicateType = "predicate-type", "an attestation", "the referrer's `dev.sigstore.bundle.predicateType` annotation differs from the signed statement's";
    /// The provenance's `buildType`.
    BuildType = "build-type", "provenance", "`buildType` is not ours (`https://cargo-provenance.dev/build/v1`, see docs/provenance.md)";
    /// The provenance's `externalParameters`.
    ExternalParameters = "external-parameters", "provenance", "`externalParameters` holds a field this verifier does not know (SLSA's verifier rule), or is not what our build type defines";
    /// `--builder-id`.
    BuilderId = "builder-id", "provenance", "`runDetails.builder.id` differs from `--builder-id` (skip when not given)";
    /// `--source-repo`.
    SourceRepo = "source-repo", "provenance", "`externalParameters.source.uri` differs from `--source-repo` (compared without `git+`, `.git`, `@ref`, trailing `/`; scheme and host case-insensitive; ssh and scp-like spellings as their https form, [inspect.md](inspect.md#source-url))";
    /// `--source-commit`.
    SourceCommit = "source-commit", "provenance", "`externalParameters.source.commit` differs from `--source-commit` (case-insensitive)";
    /// `--source-ref`.
    SourceRef = "source-ref", "provenance", "`externalParameters.source.ref` differs from `--source-ref`";
    /// The SBOM describes the image.
    SbomSubject = "sbom-subject", "SBOM", "the CycloneDX BOM's `metadata.component.purl` (`pkg:oci/NAME@sha256:...`) names another digest than the one being verified; for a platform manifest, an index is accepted only if it is a subject of the same signed statement and lists the manifest";
    /// cosign's `.sig` image signature.
    CosignSignature = "cosign-signature", "cosign `.sig`", "a cosign image signature verifies with the key but names another digest (a signature by another key is ignored); the tags are read only when the referrers leave the image unverified ([Where attestations are found](#where-attestations-are-found))";
    /// `--vuln-max-severity`.
    VulnSeverity = "vuln-severity", "the image", "with `--require vuln --vuln-max-severity LEVEL`: a verified scan lists an unsuppressed vulnerability of a shipped crate above LEVEL (unrated counts as high), or no scan could be read ([audit.md](audit.md))";
    /// `--require`.
    Require = "require", "the image", "a kind in `--require` (default: provenance; `signature` is cosign's image signature, predicate type `https://sigstore.dev/cosign/sign/v1`, as `build --key` and `cosign sign` write it) has no counted attestation naming some part of the image; the reason names each uncovered part and what was set aside and why";
    /// `--rebuild`.
    Rebuild = "rebuild", "the image", "`--rebuild`: the rebuilt index or platform manifests differ from the digest being verified (see below)";
    /// Whether a bundle carries a log entry at all (single-bundle mode).
    Tlog = "tlog", "a bundle", "(skip) single-bundle mode: the bundle has no transparency-log entry";
    /// The log entry records this signature.
    TlogEntry = "tlog-entry", "an attestation", "no log entry (with `--require-tlog`, or keyless); with `--require-tlog`, no single entry that both records this signature and is shown in the log (an `intoto` entry's body is not checked: a skip, which does not count); the same entry twice; the entry's body does not record this signature, certificate or key, and artifact";
    /// Rekor v1's signed entry timestamp.
    TlogPromise = "tlog-promise", "an attestation", "a Rekor v1 SET does not verify against a log of the trusted root valid at its time (skip: no `--trusted-root`, or Rekor v2)";
    /// The inclusion proof and checkpoint.
    TlogInclusion = "tlog-inclusion", "an attestation", "the inclusion proof does not lead to the checkpoint's root, the checkpoint is not signed by the log's key, or the proof is missing (skip: no `--trusted-root`)";
}

impl CheckId {
    /// The check named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<CheckId> {
        CheckId::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// docs/verify.md's check table (header and one row per check), as a test holds it.
    pub fn doc_table() -> String {
        let mut out =
            String::from("| check | about | fails (or sets aside) when |\n|---|---|---|\n");
        for c in CheckId::ALL {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.as_str(),
                c.about(),
                c.description()
            ));
        }
        out
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CheckId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = include_str!("../../docs/verify.md");
    const BEGIN: &str = "<!-- check-table: generated from src/verify/check_id.rs -->\n";
    const END: &str = "<!-- end check-table -->";

    #[test]
    fn names_are_unique_kebab_case_and_round_trip() {
        for c in CheckId::ALL {
            let n = c.as_str();
            assert!(
                !n.is_empty()
                    && n.split('-')
                        .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())),
                "{n} is not kebab-case"
            );
            assert_eq!(CheckId::from_name(n), Some(*c));
            assert!(!c.description().contains('\n'), "{n}: one line");
            assert_eq!(serde_json::to_value(c).unwrap(), n);
        }
        assert_eq!(CheckId::from_name("no-such-check"), None);
    }

    /// docs/verify.md's check table is exactly the enum's: a missing, extra or differing
    /// row fails. Regenerate it with `CheckId::doc_table()` (the failure prints it).
    #[test]
    fn docs_check_table_equals_the_enum() {
        let start = DOC
            .find(BEGIN)
            .expect("docs/verify.md has the check-table marker")
            + BEGIN.len();
        let len = DOC[start..]
            .find(END)
            .expect("docs/verify.md ends the check table");
        let table = &DOC[start..start + len];
        let want = CheckId::doc_table();
        assert!(
            table == want,
            "docs/verify.md's check table differs from CheckId; replace it with:\n{want}"
        );
    }

    /// Every check a `| check | ... |` table of docs/verify.md names (the single-bundle
    /// table too) is one of the enum's.
    #[test]
    fn every_check_named_in_docs_tables_is_an_id() {
        let mut in_table = false;
        let mut named = 0;
        for line in DOC.lines() {
            if !line.starts_with('|') {
                in_table = false;
                continue;
            }
            if line.starts_with("| check |") {
                in_table = true;
                continue;
            }
            let first = line.split('|').nth(1).unwrap_or_default();
            if !in_table || first.starts_with("---") {
                continue;
            }
            for name in first.split(',').map(|s| s.trim().trim_matches('`')) {
                named += 1;
                assert!(
                    CheckId::from_name(name).is_some(),
                    "docs/verify.md names check `{name}`, not in CheckId"
                );
            }
        }
        assert!(named > CheckId::ALL.len(), "the tables were read");
    }
}
