//! What to build and describe: cargo's package, binary, feature and target selection.
//!
//! Every command that looks at a Rust project takes the same flags as cargo
//! (`--manifest-path`, `-p`, `--bin`, `--features`, `--all-features`,
//! `--no-default-features`, `--target`, `--locked`, `--offline`); this is their typed form.

use std::path::PathBuf;

/// The selection flags, as cargo would take them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `--manifest-path`: the `Cargo.toml` to start from (default: found from the current
    /// directory upwards, as cargo does).
    pub manifest_path: Option<PathBuf>,
    /// `-p/--package`: packages to select (default: the current package, or the workspace's
    /// default members).
    pub packages: Vec<String>,
    /// `--workspace`: select every workspace member.
    pub workspace: bool,
    /// `--bin`: binaries to select (default: every binary of the selected packages).
    pub bins: Vec<String>,
    /// `--features`: features to enable, comma- or space-separated, `pkg/feat` allowed.
    pub features: Vec<String>,
    /// `--all-features`.
    pub all_features: bool,
    /// `--no-default-features`.
    pub no_default_features: bool,
    /// `--target`: the target triple (default: the host).
    pub target: Option<String>,
    /// `--locked`: fail rather than update `Cargo.lock`. The tool never rewrites the
    /// lockfile in any case; this flag is passed on to cargo.
    pub locked: bool,
    /// `--offline`: do not touch the network.
    pub offline: bool,
    /// `--profile`: the cargo profile (default `release`).
    pub profile: Option<String>,
    /// `--source-url`: the repository's source URL, recorded instead of what the git remote
    /// or the CI platform says (docs/inspect.md, "Source URL"). Not a cargo flag.
    pub source_url: Option<String>,
}

impl Selection {
    /// The profile in effect (`release` unless `--profile` says otherwise).
    pub fn profile_name(&self) -> &str {
        self.profile.as_deref().unwrap_or("release")
    }

    /// The features as cargo's command line takes them (`--features a,b`), split on commas
    /// and white space, empty entries dropped.
    pub fn feature_list(&self) -> Vec<String> {
        self.features
            .iter()
            .flat_map(|f| f.split([',', ' ']))
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The flags to pass to `cargo` (metadata, build, tree) for this selection's features,
    /// manifest, lock and network settings. Package, bin and target flags are left to each
    /// caller because cargo subcommands differ in which they take.
    pub fn cargo_common_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(m) = &self.manifest_path {
            args.push("--manifest-path".to_owned());
            args.push(m.display().to_string());
        }
        let features = self.feature_list();
        if !features.is_empty() {
            args.push("--features".to_owned());
            args.push(features.join(","));
        }
        if self.all_features {
            args.push("--all-features".to_owned());
        }
        if self.no_default_features {
            args.push("--no-default-features".to_owned());
        }
        if self.locked {
            args.push("--locked".to_owned());
        }
        if self.offline {
            args.push("--offline".to_owned());
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_split_like_cargo() {
        let s = Selection {
            features: vec!["a,b".into(), "c d".into(), ",".into()],
            ..Default::default()
        };
        assert_eq!(s.feature_list(), ["a", "b", "c", "d"]);
        assert_eq!(s.cargo_common_args(), ["--features", "a,b,c,d"]);
    }
}
