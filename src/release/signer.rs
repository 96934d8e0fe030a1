//! The signer `build` holds ([`AnySigner`]): loaded before anything is built (a key's
//! password asked first, its decryption overlapped with the build; keyless: the token found
//! and fetched), and what the signer changes in the build (the CI identity as `builder.id`,
//! which BuildKit statements are signed).

use super::Signing;
use crate::attest::RunEnvironment;
use crate::error::{Error, Result};
use crate::sign::{AnySigner, KeySigner, Signer};
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

/// [`signer_for`], with the decryption of a `--key` in a thread of `scope` (its password
/// is asked at once, on this thread).
pub(super) fn start_signer<'scope>(
    signing: &Signing,
    ui: &Ui,
    scope: &'scope std::thread::Scope<'scope, '_>,
) -> Result<PendingSigner<'scope>> {
    let Signing::Key(path) = signing else {
        return signer_for(signing, ui).map(PendingSigner::Ready);
    };
    let file = crate::keys::KeyFile::read(path, &crate::keys::EnvOrPrompt)?;
    Ok(PendingSigner::Decrypting(
        scope.spawn(move || file.decrypt()),
    ))
}

/// Where the build runs; keyless on GitHub Actions, `builder.id` is the identity that signs
/// (the token's `job_workflow_ref`, which is the certificate's SAN).
pub(super) fn run_environment(signer: Option<&dyn Signer>) -> RunEnvironment {
    let mut env = RunEnvironment::detect();
    if env.kind == crate::attest::environment::EnvironmentKind::GithubActions
        && let Some((id, _)) = signer.and_then(Signer::keyless_identity)
    {
        env.builder_id = id;
    }
    env
}
