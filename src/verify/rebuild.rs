//! `verify --rebuild`: check the recorded commit out into a temporary worktree, rebuild it
//! with the recorded parameters, and compare binary and image digests, naming what differs.

use std::path::Path;

use super::image::Trust;
use super::report::Report;
use crate::error::Result;
use crate::ui::Ui;

/// Runs the rebuild and records its checks in `report`.
pub fn run(report: &mut Report, _trust: &Trust, _source: Option<&Path>, _ui: &Ui) -> Result<()> {
    report.fail(
        "rebuild",
        None,
        "--rebuild is not available yet: the build stage has not landed",
    );
    Ok(())
}
