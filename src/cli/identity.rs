//! The keyless identity flags `verify` and `policy kyverno` share, with cosign's names: who
//! must have signed (the certificate's identity and its OIDC issuer, exactly or by a
//! regular expression that must match the whole value).

/// `--certificate-identity[-regexp]` and `--certificate-oidc-issuer[-regexp]`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct IdentityArgs {
    /// Keyless: the signer's certificate identity (SAN), exactly.
    #[arg(long, value_name = "ID")]
    pub certificate_identity: Option<String>,
    /// Keyless: a regular expression the whole certificate identity must match.
    #[arg(long, value_name = "REGEXP", conflicts_with = "certificate_identity")]
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer of the signer's certificate, exactly.
    #[arg(long, value_name = "URL")]
    pub certificate_oidc_issuer: Option<String>,
    /// Keyless: a regular expression the whole OIDC issuer must match.
    #[arg(
        long,
        value_name = "REGEXP",
        conflicts_with = "certificate_oidc_issuer"
    )]
    pub certificate_oidc_issuer_regexp: Option<String>,
}

impl IdentityArgs {
    /// The identity as given, exactly or as a regular expression.
    pub fn identity(&self) -> Option<String> {
        self.certificate_identity
            .clone()
            .or(self.certificate_identity_regexp.clone())
    }

    /// The OIDC issuer as given, exactly or as a regular expression.
    pub fn issuer(&self) -> Option<String> {
        self.certificate_oidc_issuer
            .clone()
            .or(self.certificate_oidc_issuer_regexp.clone())
    }
}
