//! The signer `build` holds ([`AnySigner`]): loaded before anything is built (a key's
//! password asked first, its decryption overlapped with the build; keyless: the token found
//! and fetched), and what the signer changes in the build (the CI identity as `builder.id`,
//! which BuildKit statements are signed).

use std::path::Path;

use super::Signing;
use crate::attest::RunEnvironment;
use crate::error::{Error, Result};
use crate::sign::{AnySigner, KeySigner};
use crate::ui::Ui;

/// Loads the signer for `signing` (before anything is built, so that a wrong password costs
/// nothing).
pub(super) fn signer_for(signing: &Signing, ui: &Ui) -> Result<Option<AnySigner>> {
    match signing {
        Signing::Key(path) => Ok(Some(AnySigner::Key(KeySigner::from_key_file(path, ui)?))),
        Signing::Keyless(opts) => {
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let s = crate::sign::keyless::KeylessSigner::start(opts, &env)?;
            ui.verbose(
                "Keyless",
                format!(
                    "identity {} (issuer {}), token from {}; Fulcio {}, Rekor {}, TSA {}; trusted root {}",
                    s.identity().unwrap_or("(from the certificate)"),
                    s.issuer(),
                    keyless_source(opts),
                    s.services().fulcio,
                    s.services().rekor,
                    s.services().tsa.as_deref().unwrap_or("none"),
                    opts.trusted_root
                        .as_ref()
                        .map_or("public-good".into(), |p| p.display().to_string()),
                ),
            );
            Ok(Some(AnySigner::Keyless(Box::new(s))))
        }
        Signing::NoSign => Ok(None),
        Signing::Unspecified => {
            ui.warn(
                "no --key or --keyless: nothing is signed and nothing is attached; the \
                 statements are written unsigned (give --key cosign.key to sign, or --no-sign \
                 to say this is intended)",
            );
            Ok(None)
        }
    }
}

/// Where the keyless token comes from, for -v (no secret).
fn keyless_source(opts: &crate::sign::keyless::KeylessOptions) -> &'static str {
    if opts.identity_token.is_some() {
        "--identity-token"
    } else if std::env::var_os("SIGSTORE_ID_TOKEN").is_some() {
        "SIGSTORE_ID_TOKEN"
    } else {
        "the GitHub Actions ID-token endpoint"
    }
}

/// The signer being loaded: the password is asked at once (on this thread, so a prompt comes
/// first), the key decrypted in a thread.
pub(super) enum PendingSigner<'scope> {
    Ready(Option<AnySigner>),
    Decrypting(std::thread::ScopedJoinHandle<'scope, Result<crate::keys::LoadedKey>>),
}

impl PendingSigner<'_> {
    /// Waits for the key (and shows its warning, if any).
    pub(super) fn finish(self, ui: &Ui) -> Result<Option<AnySigner>> {
        match self {
            PendingSigner::Ready(s) => Ok(s),
            PendingSigner::Decrypting(h) => {
                let loaded = h
                    .join()
                    .unwrap_or_else(|_| Err(Error::msg("decrypting the key failed (panic)")))?;
                if let Some(w) = &loaded.warning {
                    ui.warn(w);
                }
                Ok(Some(AnySigner::Key(KeySigner::new(loaded.key))))
            }
        }
    }
}

/// A password asked before the decryption thread starts.
struct Prefetched(Option<p256::elliptic_curve::zeroize::Zeroizing<String>>);

impl crate::keys::PasswordSource for Prefetched {
    fn password(&self, path: &Path) -> Result<p256::elliptic_curve::zeroize::Zeroizing<String>> {
        match &self.0 {
            Some(p) => Ok(p.clone()),
            None => crate::keys::EnvOrPrompt.password(path),
        }
    }
}

/// [`signer_for`], with the decryption of a `--key` in a thread of `scope`.
pub(super) fn start_signer<'scope>(
    signing: &Signing,
    ui: &Ui,
    scope: &'scope std::thread::Scope<'scope, '_>,
) -> Result<PendingSigner<'scope>> {
    let Signing::Key(path) = signing else {
        return signer_for(signing, ui).map(PendingSigner::Ready);
    };
    let bytes = p256::elliptic_curve::zeroize::Zeroizing::new(crate::util::fs::read(path)?);
    let encrypted = String::from_utf8_lossy(&bytes)
        .trim_start()
        .starts_with("-----BEGIN ENCRYPTED");
    let password = if encrypted {
        Some(crate::keys::PasswordSource::password(
            &crate::keys::EnvOrPrompt,
            path,
        )?)
    } else {
        None
    };
    let path = path.clone();
    Ok(PendingSigner::Decrypting(scope.spawn(move || {
        crate::keys::parse_private_key(&bytes, &path, &Prefetched(password))
    })))
}

/// Where the build runs; keyless on GitHub Actions, `builder.id` is the identity that signs
/// (the token's `job_workflow_ref`, which is the certificate's SAN).
pub(super) fn run_environment(signer: Option<&AnySigner>) -> RunEnvironment {
    let mut env = RunEnvironment::detect();
    if env.kind == crate::attest::environment::EnvironmentKind::GithubActions
        && let Some(AnySigner::Keyless(k)) = signer
        && let Some(id) = k.identity()
    {
        env.builder_id = id.to_owned();
    }
    env
}

/// Whether BuildKit's statement `bytes` is signed: always with a key; keyless only when it
/// names a subject (its bundle is verified before it is written, which needs one), else it
/// stays an unsigned file.
pub(super) fn signs_buildkit(signer: Option<&AnySigner>, bytes: &[u8]) -> bool {
    match signer {
        Some(AnySigner::Key(_) | AnySigner::LoggedKey(_)) => true,
        Some(AnySigner::Keyless(_)) => crate::sign::keyless::binds_a_subject(bytes),
        None => false,
    }
}
