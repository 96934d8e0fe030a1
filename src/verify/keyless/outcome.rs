//! sigstore-verify's verdicts in our report's words: which check (`certificate-chain`,
//! `certificate-identity`, `sct`, `signing-time`, `timestamp`, `tlog-entry`,
//! `tlog-promise`, `tlog-inclusion`, `signature`, `artifact-digest`, `subject`, `bundle`)
//! a failure is about, and what passed when the crate accepted the bundle.

use crate::verify::CheckId;
use sigstore_verify::{
    CertificateError as Cert, Error, TimestampError as Ts, TransparencyLogError as Tlog,
};

/// A failure of the crate, as one of our checks; `None` when the trusted root is at fault
/// (an input error, exit 2).
pub fn check_of(e: &Error) -> Option<CheckId> {
    Some(match e {
        Error::IdentityMismatch { .. } | Error::IssuerMismatch { .. } => {
            CheckId::CertificateIdentity
        }
        Error::SignatureInvalid(_) => CheckId::Signature,
        Error::ArtifactMismatch(m) => artifact_check(m),
        Error::Certificate(c) => certificate_check(c),
        Error::TransparencyLog(t) => tlog_check(t),
        Error::Timestamp(Ts::NoVerifiedTimestamp(_)) => CheckId::SigningTime,
        Error::Timestamp(_) => CheckId::Timestamp,
        Error::Bundle(b) => message_check(&b.to_string()),
        Error::InvalidBundle(m) | Error::UnsupportedBundle(m) => message_check(m),
        Error::InvalidTrustRoot(_) | Error::TrustRoot(_) | Error::TrustedCertificate(_) => {
            return None;
        }
        _ => CheckId::Bundle,
    })
}

/// True for an RFC 3161 timestamp the crate could not parse at all (as opposed to one that
/// does not verify): the mock TSA's fractional-second `genTime`, for one.
pub fn is_unparsable_timestamp(e: &Error) -> bool {
    matches!(e, Error::Timestamp(Ts::Invalid(m)) if m.contains("Failed to parse timestamp response"))
}

fn artifact_check(message: &str) -> CheckId {
    if message.contains("entry") {
        CheckId::TlogEntry
    } else if message.contains("message digest") {
        CheckId::ArtifactDigest
    } else {
        CheckId::Subject
    }
}

fn certificate_check(c: &Cert) -> CheckId {
    match c {
        Cert::Sct(_) => CheckId::Sct,
        Cert::NotYetValid { .. } | Cert::Expired { .. } => CheckId::SigningTime,
        // A certificate of the chain outside its validity at the verified signing time.
        Cert::ChainInvalid(m) if m.contains("CertExpired") || m.contains("CertNotValidYet") => {
            CheckId::SigningTime
        }
        _ => CheckId::CertificateChain,
    }
}

fn tlog_check(t: &Tlog) -> CheckId {
    match t {
        Tlog::InclusionProof(_) | Tlog::Checkpoint(_) => CheckId::TlogInclusion,
        Tlog::InclusionPromise(_) => CheckId::TlogPromise,
        Tlog::IntegratedTime(_) => CheckId::SigningTime,
        _ => CheckId::TlogEntry,
    }
}

fn message_check(message: &str) -> CheckId {
    if message.contains("inclusion proof") || message.contains("checkpoint") {
        CheckId::TlogInclusion
    } else if message.contains("signing certificate") || message.contains("certificate chain") {
        CheckId::CertificateChain
    } else {
        CheckId::Bundle
    }
}

/// Words added to a failure's reason, saying what it means for the user; `root` names the
/// trusted root that was used.
pub fn hint(check: CheckId, root: &str) -> String {
    let what = match check {
        CheckId::CertificateChain
        | CheckId::Sct
        | CheckId::TlogPromise
        | CheckId::TlogInclusion
        | CheckId::Timestamp => {
            "a bundle from another Sigstore instance needs that instance's root: --trusted-root"
        }
        CheckId::SigningTime => {
            "every verified signing time, from the log or a TSA, must lie inside the \
             certificate's validity"
        }
        CheckId::TlogEntry => "a log entry must record this very signature, key and artifact",
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
        assert_eq!(check_of(&e), Some(CheckId::TlogInclusion));
        let e: Error = Tlog::Checkpoint("x".into()).into();
        assert_eq!(check_of(&e), Some(CheckId::TlogInclusion));
        let e: Error = Tlog::InclusionPromise("x".into()).into();
        assert_eq!(check_of(&e), Some(CheckId::TlogPromise));
        let e: Error = Cert::Sct("x".into()).into();
        assert_eq!(check_of(&e), Some(CheckId::Sct));
        let e: Error = Ts::Invalid("x".into()).into();
        assert_eq!(check_of(&e), Some(CheckId::Timestamp));
        let e = Error::ArtifactMismatch("artifact hash mismatch for hashedrekord entry".into());
        assert_eq!(check_of(&e), Some(CheckId::TlogEntry));
        assert_eq!(check_of(&Error::InvalidTrustRoot("x".into())), None);
    }
}
