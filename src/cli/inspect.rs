//! `cargo provenance inspect`.

use std::io::Write;

use super::ReportFormat;
use crate::error::{Error, Result};
use crate::inspect;
use crate::ui::Ui;

/// Flags of `cargo provenance inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Cargo's selection flags.
    #[command(flatten)]
    pub selection: super::SelectionArgs,
    /// Report format: human (text) or json (the build inputs as one JSON document).
    #[arg(long, value_enum, default_value_t = ReportFormat::Human, value_name = "FMT")]
    pub format: ReportFormat,
}

/// Runs the command; returns the exit code. The report is rendered while cargo exits
/// ([`inspect::collect_then`]) and printed once it succeeded.
pub fn run(args: Args, ui: &Ui) -> Result<i32> {
    let selection = args.selection.selection();
    let (inputs, text) =
        inspect::collect_then(&selection, ui, |inputs| render(args.format, ui, inputs))?;
    let text = text?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::msg(format!("writing to stdout: {e}")))?;
    // The process ends next: freeing a large graph (1-2 ms on corpus/rerun) is left to it.
    std::mem::forget((inputs, text));
    Ok(0)
}

/// The report on `inputs` in `format`.
fn render(format: ReportFormat, ui: &Ui, inputs: &inspect::BuildInputs) -> Result<String> {
    let text = match format {
        ReportFormat::Human => inspect::report::human(inputs),
        ReportFormat::Json if ui.is_json() => {
            // One object per line on stdout, like every other JSON message.
            let mut line = serde_json::to_string(inputs)
                .map_err(|e| Error::with_source("serialising the build inputs", e))?;
            line.push('\n');
            line
        }
        ReportFormat::Json => {
            let mut doc = serde_json::to_string_pretty(inputs)
                .map_err(|e| Error::with_source("serialising the build inputs", e))?;
            doc.push('\n');
            doc
        }
    };
    Ok(text)
}
