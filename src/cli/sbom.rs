//! `cargo provenance sbom`: writes the CycloneDX SBOM of the selected binaries.

use std::io::Write;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::sbom::{SbomRequest, SbomSubject, SpecVersion};
use crate::ui::Ui;

/// Flags of `cargo provenance sbom`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Cargo's selection flags (`--workspace`: one SBOM for every member's binaries).
    #[command(flatten)]
    pub selection: super::SelectionArgs,
    /// Where to write the SBOM: a file, `-` for stdout (the default), or a directory (one
    /// `<package>.cdx.json` each) when several packages are selected without --workspace.
    #[arg(long, short, value_name = "FILE|-|DIR", default_value = "-")]
    pub output: PathBuf,
    /// CycloneDX version: 1.5 (default) or 1.4.
    #[arg(long, value_name = "1.4|1.5", default_value = "1.5")]
    pub spec_version: String,
}

/// Runs the command; returns the exit code.
pub fn run(args: Args, ui: &Ui) -> Result<i32> {
    let started = std::time::Instant::now();
    let selection = args.selection.selection();
    let source_date_epoch = crate::util::time::source_date_epoch_env()?;
    let req = SbomRequest {
        selection: &selection,
        spec_version: args.spec_version.parse::<SpecVersion>()?,
        subject: SbomSubject::Application,
        binaries: Vec::new(),
        compiled_units: None,
        source_date_epoch,
        workspace_mode: selection.workspace,
        built_for: Vec::new(),
        auditable: false,
    };
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout && args.output.is_dir() && !selection.workspace {
        for (package, sbom) in crate::sbom::generate_each(&req, ui)? {
            let path = args.output.join(format!("{package}.cdx.json"));
            crate::util::fs::write_atomic(&path, &sbom.json)?;
            report(ui, &path.display().to_string(), &sbom);
        }
        return Ok(0);
    }
    let sbom = crate::sbom::generate(&req, ui)?;
    if to_stdout {
        let mut out = std::io::stdout().lock();
        out.write_all(&sbom.json)
            .and_then(|_| out.flush())
            .map_err(|e| Error::msg(format!("writing the SBOM to stdout: {e}")))?;
    } else {
        crate::util::fs::write_atomic(&args.output, &sbom.json)?;
        report(ui, &args.output.display().to_string(), &sbom);
    }
    if let Some(exited) = crate::inspect::metadata::last_exited() {
        ui.verbose(
            "Timing",
            format!(
                "cargo metadata exited at {} ms; our work after it {} ms",
                exited.saturating_duration_since(started).as_millis(),
                exited.elapsed().as_millis()
            ),
        );
    }
    if let Some(kib) = peak_rss_kib() {
        ui.verbose(
            "Peak memory",
            format!("{} MiB (VmHWM of this process)", kib / 1024),
        );
    }
    Ok(0)
}

fn report(ui: &Ui, path: &str, sbom: &crate::sbom::Sbom) {
    let required = sbom.required().count();
    let crates = sbom.components.iter().filter(|c| c.scope.is_some()).count();
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "reason": "sbom-written",
            "path": path,
            "serial_number": sbom.serial_number,
            "required": required,
            "excluded": crates - required,
        }));
    } else {
        ui.status(
            "Wrote",
            format!(
                "{path} ({required} crates linked, {} build-only)",
                crates - required
            ),
        );
    }
}

/// The peak resident set size of this process (Linux `VmHWM`), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
