//! `cargo provenance keygen`: writes a cosign-compatible key pair.

use std::path::PathBuf;

use crate::error::Result;
use crate::keys::{self, PrivateKey};
use crate::ui::Ui;

/// Flags of `cargo provenance keygen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write `cosign.key` and `cosign.pub` into.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub output_dir: PathBuf,
    /// Overwrite an existing `cosign.key` / `cosign.pub`.
    #[arg(long)]
    pub force: bool,
}

/// Runs the command; returns the exit code.
pub fn run(args: Args, ui: &Ui) -> Result<i32> {
    let password = keys::new_key_password()?;
    if password.is_empty() {
        ui.warn(
            "the private key is written with an empty password: anyone who can read it can sign",
        );
    }
    let key = PrivateKey::generate();
    let paths = keys::write_key_pair(&args.output_dir, &key, password.as_bytes(), args.force)?;
    let public = key.public_key();
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "reason": "keygen",
            "private_key": paths.private_key,
            "public_key": paths.public_key,
            "hint": public.hint(),
        }));
    } else {
        ui.status(
            "Generated",
            format!("private key {}", paths.private_key.display()),
        );
        ui.status(
            "Generated",
            format!(
                "public key {} (hint {})",
                paths.public_key.display(),
                public.hint()
            ),
        );
    }
    Ok(0)
}
