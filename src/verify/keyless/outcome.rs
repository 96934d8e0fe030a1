//! sigstore-verify's verdicts in our report's words: which check (`certificate-chain`,
//! `certificate-identity`, `sct`, `signing-time`, `timestamp`, `tlog-entry`,
//! `tlog-promise`, `tlog-inclusion`, `signature`, `artifact-digest`, `subject`, `bundle`)
//! a failure is about, and what passed when the crate accepted the bundle.

use sigstore_verify::{
    CertificateError as Cert, Error, TimestampError as Ts, TransparencyLogError as Tlog,
};

/// A failure of the crate, as one of our checks; `None` when the trusted root is at fault
/// (an input error, exit 2).
pub fn check_of(e: &Error) -> Option<&'static str> {
    Some(match e {
        Error::IdentityMismatch { .. } | Error::IssuerMismatch { .. } => "certificate-identity",
        Error::SignatureInvalid(_) => "signature",
        Error::ArtifactMismatch(m) => artifact_check(m),
        Error::Certificate(c) => certificate_check(c),
        Error::TransparencyLog(t) => tlog_check(t),
        Error::Timestamp(Ts::NoVerifiedTimestamp(_)) => "signing-time",
        Error::Timestamp(_) => "timestamp",
        Error::Bundle(b) => message_check(&b.to_string()),
        Error::InvalidBundle(m) | Error::UnsupportedBundle(m) => message_check(m),
        Error::InvalidTrustRoot(_) | Error::TrustRoot(_) | Error::TrustedCertificate(_) => {
            return None;
        }
        _ => "bundle",
    })
}

/// True for an RFC 3161 timestamp the crate could not parse at all (as opposed to one that
/// does not verify): the mock TSA's fractional-second `genTime`, for one.
pub fn is_unparsable_timestamp(e: &Error) -> bool {
    matches!(e, Error::Timestamp(Ts::Invalid(m)) if m.contains("Failed to parse timestamp response"))
}

fn artifact_check(message: &str) -> &'static str {
    if message.contains("entry") {
        "tlog-entry"
    } else if message.contains("message digest") {
        "artifact-digest"
    } else {
        "subject"
    }
}

fn certificate_check(c: &Cert) -> &'static str {
    match c {
        Cert::Sct(_) => "sct",
        Cert::NotYetValid { .. } | Cert::Expired { .. } => "signing-time",
        // A certificate of the chain outside its validity at the verified signing time.
        Cert::ChainInvalid(m) if m.contains("CertExpired") || m.contains("CertNotValidYet") => {
            "signing-time"
        }
        _ => "certificate-chain",
    }
}

fn tlog_check(t: &Tlog) -> &'static str {
    match t {
        Tlog::InclusionProof(_) | Tlog::Checkpoint(_) => "tlog-inclusion",
        Tlog::InclusionPromise(_) => "tlog-promise",
        Tlog::IntegratedTime(_) => "signing-time",
        _ => "tlog-entry",
    }
}

fn message_check(message: &str) -> &'static str {
    if message.contains("inclusion proof") || message.contains("checkpoint") {
        "tlog-inclusion"
    } else if message.contains("signing certificate") || message.contains("certificate chain") {
        "certificate-chain"
    } else {
        "bundle"
    }
}

/// Words added to a failure's reason, saying what it means for the user; `root` names the
/// trusted root that was used.
pub fn hint(check: &str, root: &str) -> String {
    let what = match check {
        "certificate-chain" | "sct" | "tlog-promise" | "tlog-inclusion" | "timestamp" => {
            "a bundle from another Sigstore instance needs that instance's root: --trusted-root"
        }
        "signing-time" => {
            "every verified signing time, from the log or a TSA, must lie inside the \
             certificate's validity"
        }
        "tlog-entry" => "a log entry must record this very signature, key and artifact",
        _ => return String::new(),
    };
    format!(" (trusted root: {root}; {what})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_checks() {
        let e: Error = Tlog::InclusionProof("x".into()).into();
        assert_eq!(check_of(&e), Some("tlog-inclusion"));
        let e: Error = Tlog::Checkpoint("x".into()).into();
        assert_eq!(check_of(&e), Some("tlog-inclusion"));
        let e: Error = Tlog::InclusionPromise("x".into()).into();
        assert_eq!(check_of(&e), Some("tlog-promise"));
        let e: Error = Cert::Sct("x".into()).into();
        assert_eq!(check_of(&e), Some("sct"));
        let e: Error = Ts::Invalid("x".into()).into();
        assert_eq!(check_of(&e), Some("timestamp"));
        let e = Error::ArtifactMismatch("artifact hash mismatch for hashedrekord entry".into());
        assert_eq!(check_of(&e), Some("tlog-entry"));
        assert_eq!(check_of(&Error::InvalidTrustRoot("x".into())), None);
    }
}
