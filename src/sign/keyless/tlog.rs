//! `--key --tlog`: key signatures recorded in Rekor too, so that "every signature is in the
//! log" holds for key-signed CI builds. The bundle keeps the key hint and gains the log entry
//! (Rekor v1 `dsse`, with its signed entry timestamp, inclusion proof and checkpoint), checked
//! to be about this signature and key, and verified with `verify --key --require-tlog`'s
//! checks against the trusted root before it is returned. Offline key signing stays the
//! default.

use sigstore_types::{DsseEnvelope, DsseSignature, KeyId, PayloadBytes, SignatureBytes};

use super::{Services, entry, services};
use crate::error::{Error, Result};
use crate::formats::intoto::PAYLOAD_TYPE;
use crate::sign::{KeySigner, SignedBundle, Signer, sign_envelope};
use crate::verify::tlog::TrustedRoot;

/// A key signer whose signatures are logged in Rekor.
pub struct LoggedKeySigner {
    key: KeySigner,
    rekor: String,
    root: TrustedRoot,
    root_name: String,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
    signed: std::sync::Mutex<std::collections::HashMap<crate::util::digest::Digest, SignedBundle>>,
}

impl std::fmt::Debug for LoggedKeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggedKeySigner")
            .field("rekor", &self.rekor)
            .finish_non_exhaustive()
    }
}

impl LoggedKeySigner {
    /// `key`, logging in the Rekor of `signing_config` (default public-good), checked against
    /// `trusted_root` (default the public-good root).
    pub fn new(
        key: KeySigner,
        signing_config: Option<&std::path::Path>,
        trusted_root: Option<&std::path::Path>,
    ) -> Result<Self> {
        let services = Services::load(signing_config)?;
        let (root, root_name) = match trusted_root {
            Some(p) => (TrustedRoot::read(p)?, p.display().to_string()),
            None => (
                TrustedRoot::parse(
                    crate::verify::keyless::root::PUBLIC_GOOD_ROOT.as_bytes(),
                    crate::verify::keyless::root::PUBLIC_GOOD_NAME,
                )?,
                crate::verify::keyless::root::PUBLIC_GOOD_NAME.to_owned(),
            ),
        };
        let (http, rt) = super::http_client()?;
        Ok(LoggedKeySigner {
            key,
            rekor: services.rekor,
            root,
            root_name,
            http,
            rt,
            signed: Default::default(),
        })
    }
}

impl LoggedKeySigner {
    /// The key.
    pub fn key(&self) -> &KeySigner {
        &self.key
    }
}

impl Signer for LoggedKeySigner {
    fn sign_statement(&self, statement: &[u8]) -> Result<SignedBundle> {
        let d = crate::util::digest::Digest::of(statement);
        let cache = |s: &Self| {
            s.signed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&d)
                .cloned()
        };
        if let Some(b) = cache(self) {
            return Ok(b);
        }
        let b = self.log_one(statement)?;
        self.signed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(d, b.clone());
        Ok(b)
    }

    fn key(&self) -> Option<&crate::sign::KeySigner> {
        Some(LoggedKeySigner::key(self))
    }

    fn prepare(&self, statements: &[&[u8]]) -> Result<()> {
        for st in statements {
            self.sign_statement(st)?;
        }
        Ok(())
    }
}

impl LoggedKeySigner {
    fn log_one(&self, statement: &[u8]) -> Result<SignedBundle> {
        let ours = sign_envelope(PAYLOAD_TYPE, statement, &self.key)?;
        let sig = ours.signatures[0].sig.clone();
        let envelope = DsseEnvelope::new(
            PAYLOAD_TYPE,
            PayloadBytes::from_bytes(statement),
            DsseSignature::new(SignatureBytes::new(sig.clone()), KeyId::default()),
        );
        let public = self.key.public_key();
        let pem = public.to_pem();
        let (logged, tlog) = self.rt.block_on(services::log_dsse_verifier(
            &self.http,
            &self.rekor,
            &envelope,
            &pem,
        ))?;
        let sent = entry::Sent {
            payload: statement,
            signature: &sig,
            cert_pem: &pem,
        };
        entry::check(logged.body.as_bytes(), &sent).map_err(|why| {
            Error::msg(format!(
                "Rekor ({}): its answer is not about this signature: {why}",
                self.rekor
            ))
        })?;
        let mut bundle = crate::formats::bundle::Bundle::with_key_hint(public.hint(), ours);
        let entry = serde_json::to_value(&tlog)
            .map_err(|e| Error::with_source("serialising the log entry", e))?;
        bundle.verification_material.tlog_entries = vec![entry];
        let signed = SignedBundle::new(bundle)?;
        // verify --key --require-tlog, before anything is written.
        let subject = super::first_subject(statement)?;
        let artifact = crate::verify::bundle::Artifact::Digest(subject);
        let mut report = crate::verify::verify_bundle(
            "the logged bundle",
            &signed.bytes,
            &artifact,
            Some(&public),
            Some(&self.root),
        )?;
        crate::verify::keyless::tlog_required(&mut report, None);
        if let Some(c) = report.failures().next() {
            return Err(Error::msg(format!(
                "Rekor ({}): the log entry does not verify against the trusted root {}: {}: {}; \
                 nothing signed was written",
                self.rekor, self.root_name, c.check, c.reason
            )));
        }
        Ok(signed)
    }
}
