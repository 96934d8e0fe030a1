//! The human form of [`BuildInputs`]: a plain-text report, sections in a fixed order, one
//! line per dependency.

use std::fmt::Write as _;

use super::deps::CRATES_IO;
use super::model::{BuildInputs, Source};
use crate::util::time::rfc3339;

/// Renders the report (ends with a newline): toolchain, cargo, git, dependencies, warnings.
pub fn human(inputs: &BuildInputs) -> String {
    let mut s = String::new();
    toolchain(&mut s, inputs);
    cargo(&mut s, inputs);
    git(&mut s, inputs);
    dependencies(&mut s, inputs);
    if !inputs.warnings.is_empty() {
        let _ = writeln!(s, "\nWarnings");
        for w in &inputs.warnings {
            let _ = writeln!(s, "  {w}");
        }
    }
    s
}

/// The toolchain section.
fn toolchain(s: &mut String, inputs: &BuildInputs) {
    let tc = &inputs.toolchain;
    let _ = writeln!(s, "Toolchain");
    line(s, "rustc", &tc.rustc_version_line);
    line(
        s,
        "release",
        &format!(
            "{} (commit {} of {})",
            tc.rustc_release, tc.rustc_commit_hash, tc.rustc_commit_date
        ),
    );
    line(s, "host", &tc.host);
    if let Some(llvm) = &tc.llvm_version {
        line(s, "LLVM", llvm);
    }
    line(s, "cargo", &tc.cargo_version);
    let program = match &tc.rustc_wrapper {
        Some(w) => format!("{} (through RUSTC_WRAPPER {w})", tc.rustc),
        None => tc.rustc.clone(),
    };
    line(s, "program", &program);
    if let Some(t) = &tc.rustup_toolchain {
        let from = tc.rustup_toolchain_source.as_deref().unwrap_or("unknown");
        line(s, "rustup", &format!("{t} (from {from})"));
    }
}

/// The cargo section: target, profile, rustflags, features, packages, binaries.
fn cargo(s: &mut String, inputs: &BuildInputs) {
    let c = &inputs.cargo;
    let _ = writeln!(s, "\nCargo");
    let explicit = if c.target_explicit { "" } else { " (host)" };
    line(s, "target", &format!("{}{explicit}", c.target));
    let p = &c.profile;
    line(s, "profile", &p.name);
    let cgu = p
        .codegen_units
        .map_or_else(|| "default".to_owned(), |n| n.to_string());
    let settings = format!(
        "opt-level={} lto={} codegen-units={cgu} debug={} strip={} panic={} incremental={}",
        p.opt_level, p.lto, p.debug, p.strip, p.panic, p.incremental
    );
    line(s, "", &settings);
    let flags = if c.rustflags.is_empty() {
        "(none)".to_owned()
    } else {
        c.rustflags.join(" ")
    };
    line(
        s,
        "rustflags",
        &format!("{flags} [from {}]", c.rustflags_source),
    );
    let mut features = c.features.join(",");
    if c.all_features {
        features.push_str(" --all-features");
    }
    if c.no_default_features {
        features.push_str(" --no-default-features");
    }
    let features = features.trim();
    line(
        s,
        "features",
        if features.is_empty() {
            "(default)"
        } else {
            features
        },
    );
    line(s, "packages", &c.packages.join(", "));
    let bins: Vec<String> = c
        .binaries
        .iter()
        .map(|b| format!("{} ({})", b.name, b.package))
        .collect();
    line(s, "binaries", &bins.join(", "));
    let ws = if c.workspace_path.is_empty() {
        "."
    } else {
        &c.workspace_path
    };
    line(s, "workspace", ws);
}

/// The git section.
fn git(s: &mut String, inputs: &BuildInputs) {
    let _ = writeln!(s, "\nGit");
    match &inputs.git {
        None => line(s, "", "(no git state)"),
        Some(g) => {
            let time = rfc3339(g.commit_time).unwrap_or_else(|_| g.commit_time.to_string());
            line(
                s,
                "commit",
                &format!("{} ({time}, {})", g.commit, g.commit_time),
            );
            let head = match &g.branch {
                Some(b) => b.clone(),
                None => "(detached HEAD)".to_owned(),
            };
            line(s, "branch", &head);
            if !g.tags.is_empty() {
                line(s, "tags", &g.tags.join(", "));
            }
            if let Some(url) = &g.remote_url {
                let name = g.remote_name.as_deref().unwrap_or("");
                line(s, "remote", &format!("{name} {url}"));
            }
            let pp = if g.package_path.is_empty() {
                "."
            } else {
                &g.package_path
            };
            line(s, "package", pp);
            if g.dirty {
                line(s, "tree", &format!("dirty ({} paths)", g.dirty_paths.len()));
                for p in &g.dirty_paths {
                    line(s, "", &format!("  {p}"));
                }
            } else {
                line(s, "tree", "clean");
            }
        }
    }
}

/// The dependencies section, a line per package.
fn dependencies(s: &mut String, inputs: &BuildInputs) {
    let d = &inputs.dependencies;
    let count = |f: fn(&Source) -> bool| d.packages.iter().filter(|p| f(&p.source)).count();
    let _ = writeln!(
        s,
        "\nDependencies: {} packages ({} registry, {} git, {} path)",
        d.packages.len(),
        count(|s| matches!(s, Source::Registry { .. })),
        count(|s| matches!(s, Source::Git { .. })),
        count(|s| matches!(s, Source::Path { .. })),
    );
    line(s, "roots", &d.roots.join(", "));
    for p in &d.packages {
        let source = match &p.source {
            Source::Registry { url } if url == CRATES_IO => "crates.io".to_owned(),
            Source::Registry { url } => url.clone(),
            Source::Git { url, rev } => format!("git {url}#{rev}"),
            Source::Path { path } => format!("path {path}"),
        };
        let license = p.license.as_deref().unwrap_or("license unknown");
        let _ = writeln!(
            s,
            "  {} {} [{source}] {license}, {} deps",
            p.name,
            p.version,
            p.dependencies.len()
        );
    }
}

fn line(s: &mut String, key: &str, value: &str) {
    let _ = writeln!(s, "  {key:<10} {value}");
}
