//! The command line: a thin layer of clap types over the library.
//!
//! Each subcommand has a file of its own with its `Args` and a `run` function that turns the
//! flags into library calls and prints the result. Cargo runs `cargo-provenance provenance
//! ARGS...` for `cargo provenance ARGS...`; [`run`] drops that extra word so both spellings
//! work.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::Result;
use crate::select::Selection;
use crate::ui::{ColorChoice, MessageFormat, Ui};

pub mod audit;
pub mod build;
pub mod discover;
pub mod identity;
pub mod inspect;
pub mod keygen;
pub mod policy;
pub mod push;
pub mod sbom;
pub mod verify;
pub mod vex;

/// `cargo provenance`: reproducible Rust container builds with signed SLSA provenance and
/// SBOMs attached as OCI referrers.
#[derive(Debug, Parser)]
#[command(name = "cargo-provenance", bin_name = "cargo provenance", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
    /// Global output flags.
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Flags every subcommand takes, as cargo spells them.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Use verbose output (-vv very verbose).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Do not print cargo-style status messages.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Coloring: auto, always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Output format for messages: human (stderr) or json (one object per line on stdout).
    #[arg(long, value_enum, default_value_t = MessageFormat::Human, global = true, value_name = "FMT")]
    pub message_format: MessageFormat,
}

impl GlobalArgs {
    /// The output settings these flags ask for.
    pub fn ui(&self) -> Ui {
        let verbosity = if self.quiet {
            -1
        } else {
            self.verbose.min(10) as i8
        };
        Ui::new(self.message_format, verbosity, self.color)
    }
}

/// The subcommands (README.md, "Usage").
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the build inputs: toolchain, git state, dependency graph, cargo settings.
    Inspect(inspect::Args),
    /// Write a CycloneDX SBOM of exactly the crates compiled into the selected binaries.
    Sbom(sbom::Args),
    /// Write a cosign-compatible key pair (cosign.key, cosign.pub).
    Keygen(keygen::Args),
    /// Build binaries and image, then SBOM, provenance, signatures and referrers.
    Build(Box<build::Args>),
    /// Copy an image and all its referrers between OCI layouts and registries.
    Push(push::Args),
    /// List the referrers of an image as a tree or JSON.
    Discover(discover::Args),
    /// Verify signatures, subjects and provenance content of an image's attestations.
    Verify(Box<verify::Args>),
    /// Sign an OpenVEX statement about an image and attach it as a referrer.
    Vex(vex::Args),
    /// Print admission policies that admit only verified images.
    Policy(policy::Args),
    /// Check the crates compiled into the shipped binaries against RustSec advisories.
    Audit(Box<audit::Args>),
}

/// Cargo's package selection flags, shared by the commands that look at a project.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SelectionArgs {
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Package(s) to select.
    #[arg(short, long = "package", value_name = "SPEC")]
    pub package: Vec<String>,
    /// Select every package in the workspace.
    #[arg(long)]
    pub workspace: bool,
    /// Binary(ies) to select.
    #[arg(long = "bin", value_name = "NAME")]
    pub bin: Vec<String>,
    /// Space or comma separated list of features to activate.
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Activate all available features.
    #[arg(long)]
    pub all_features: bool,
    /// Do not activate the `default` feature.
    #[arg(long)]
    pub no_default_features: bool,
    /// Build for the target triple.
    #[arg(long, value_name = "TRIPLE")]
    pub target: Option<String>,
    /// Assert that `Cargo.lock` will remain unchanged.
    #[arg(long)]
    pub locked: bool,
    /// Run without accessing the network.
    #[arg(long)]
    pub offline: bool,
    /// Build artifacts with the specified profile (default: release).
    #[arg(long, value_name = "PROFILE-NAME")]
    pub profile: Option<String>,
    /// The repository's source URL to record (image label, SBOM, provenance), instead of
    /// the git remote's or the CI platform's.
    #[arg(long, value_name = "URL")]
    pub source_url: Option<String>,
}

impl SelectionArgs {
    /// The library's form of these flags.
    pub fn selection(&self) -> Selection {
        Selection {
            manifest_path: self.manifest_path.clone(),
            packages: self.package.clone(),
            workspace: self.workspace,
            bins: self.bin.clone(),
            features: self.features.clone(),
            all_features: self.all_features,
            no_default_features: self.no_default_features,
            target: self.target.clone(),
            locked: self.locked,
            offline: self.offline,
            profile: self.profile.clone(),
            source_url: self.source_url.clone(),
        }
    }
}

/// `--format human|json` for commands whose main output is a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReportFormat {
    /// Text for people.
    #[default]
    Human,
    /// A JSON document.
    Json,
}

/// Drops the `provenance` word cargo inserts when it runs `cargo-provenance` for
/// `cargo provenance`.
pub fn normalize_args(mut args: Vec<OsString>) -> Vec<OsString> {
    if args.get(1).is_some_and(|a| a == "provenance") {
        args.remove(1);
    }
    args
}

/// Parses the command line and runs the command. Returns the process exit code.
pub fn run(args: Vec<OsString>) -> i32 {
    // Started by cargo as the rustc wrapper of `build` (cargo-auditable data).
    if crate::build::auditable::is_wrapper_invocation(&args) {
        return crate::build::auditable::wrapper_main(args);
    }
    let cli = match Cli::try_parse_from(normalize_args(args)) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let ui = cli.global.ui();
    match dispatch(cli.command, &ui) {
        Ok(code) => code,
        Err(e) => {
            ui.error(&e);
            e.exit_code()
        }
    }
}

fn dispatch(command: Command, ui: &Ui) -> Result<i32> {
    match command {
        Command::Inspect(a) => inspect::run(a, ui),
        Command::Sbom(a) => sbom::run(a, ui),
        Command::Keygen(a) => keygen::run(a, ui),
        Command::Build(a) => build::run(*a, ui),
        Command::Push(a) => push::run(a, ui),
        Command::Discover(a) => discover::run(a, ui),
        Command::Verify(a) => verify::run(*a, ui),
        Command::Vex(a) => vex::run(a, ui),
        Command::Policy(a) => policy::run(a, ui),
        Command::Audit(a) => audit::run(*a, ui),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_subcommand_word_is_dropped() {
        let a = normalize_args(vec![
            "cargo-provenance".into(),
            "provenance".into(),
            "inspect".into(),
        ]);
        assert_eq!(
            a,
            vec![OsString::from("cargo-provenance"), "inspect".into()]
        );
        let b = normalize_args(vec!["cargo-provenance".into(), "inspect".into()]);
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
