//! `cargo provenance discover`.

use crate::error::{Error, Result};
use crate::ui::Ui;

/// Flags of `cargo provenance discover`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Cargo's selection flags.
    #[command(flatten)]
    pub selection: super::SelectionArgs,
}

/// Runs the command; returns the exit code.
pub fn run(_args: Args, _ui: &Ui) -> Result<i32> {
    Err(Error::msg(
        "`cargo provenance discover` is not implemented yet",
    ))
}
