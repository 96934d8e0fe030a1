//! `--platform`: OCI platforms (`linux/amd64`, `linux/amd64/v3`, `linux/arm64`) and the Rust
//! target triple plus extra codegen flags each one is built with.
//!
//! `linux/amd64/vN` is the same triple as `linux/amd64` compiled with `-C
//! target-cpu=x86-64-vN`. Other architectures are built only when their Rust standard library
//! is installed (`rustup target add TRIPLE`); otherwise the error says which command to run.

use std::path::Path;

use crate::error::{Error, Result};
use crate::formats::oci::Platform;

/// One platform of the image and how its binaries are compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPlatform {
    /// The OCI platform (`linux/amd64/v3`).
    pub platform: Platform,
    /// The Rust target triple (`x86_64-unknown-linux-gnu`).
    pub rust_target: String,
    /// Extra rustflags for this platform (`-Ctarget-cpu=x86-64-v3`).
    pub rustflags: Vec<String>,
}

impl TargetPlatform {
    /// The platform as `os/arch[/variant]`.
    pub fn name(&self) -> String {
        self.platform.to_string()
    }

    /// A relative directory for this platform's files (`linux/amd64/v3`), as BuildKit's
    /// `TARGETPLATFORM` spells it.
    pub fn dir(&self) -> String {
        self.name()
    }
}

/// The Rust triple for an OCI architecture (and variant) on Linux.
fn triple_for(arch: &str, variant: Option<&str>) -> Option<&'static str> {
    Some(match (arch, variant) {
        ("amd64", _) => "x86_64-unknown-linux-gnu",
        ("arm64", None | Some("v8")) => "aarch64-unknown-linux-gnu",
        ("arm", Some("v7")) => "armv7-unknown-linux-gnueabihf",
        ("arm", Some("v6")) => "arm-unknown-linux-gnueabihf",
        ("386", None) => "i686-unknown-linux-gnu",
        ("riscv64", None) => "riscv64gc-unknown-linux-gnu",
        ("ppc64le", None) => "powerpc64le-unknown-linux-gnu",
        ("s390x", None) => "s390x-unknown-linux-gnu",
        _ => return None,
    })
}

/// The OCI platform for a Rust triple (the inverse of the table above, for `--target`).
pub fn platform_for_triple(triple: &str) -> Option<Platform> {
    let (arch, variant) = match triple.split('-').next()? {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", None),
        "armv7" => ("arm", Some("v7")),
        "arm" => ("arm", Some("v6")),
        "i686" | "i586" => ("386", None),
        "riscv64gc" => ("riscv64", None),
        "powerpc64le" => ("ppc64le", None),
        "s390x" => ("s390x", None),
        _ => return None,
    };
    if !triple.contains("-linux-") {
        return None;
    }
    Some(Platform {
        architecture: arch.to_owned(),
        os: "linux".to_owned(),
        os_version: None,
        variant: variant.map(str::to_owned),
    })
}

/// Parses one `--platform` value (`linux/amd64`, `linux/amd64/v3`).
pub fn parse(value: &str, explicit_target: Option<&str>) -> Result<TargetPlatform> {
    let parsed: Platform = value.parse().map_err(|_| {
        Error::msg(format!(
            "--platform `{value}` is not OS/ARCH[/VARIANT] (e.g. linux/amd64, linux/amd64/v3)"
        ))
    })?;
    let (os, arch, variant) = (
        parsed.os.as_str(),
        parsed.architecture.as_str(),
        parsed.variant.as_deref(),
    );
    if os != "linux" {
        return Err(Error::msg(format!(
            "--platform `{value}`: only linux images can be built (OS `{os}`)"
        )));
    }
    let triple = match explicit_target {
        Some(t) => {
            let p = platform_for_triple(t);
            if p.as_ref().map(|p| p.architecture.as_str()) != Some(arch) {
                return Err(Error::msg(format!(
                    "--target {t} does not build for --platform {value}; drop --target or pick a matching platform"
                )));
            }
            t.to_owned()
        }
        None => triple_for(arch, variant)
            .ok_or_else(|| {
                Error::msg(format!(
                    "--platform `{value}`: no Rust target is known for this architecture; \
                     use --target TRIPLE with a single --platform"
                ))
            })?
            .to_owned(),
    };
    let mut rustflags = Vec::new();
    if arch == "amd64"
        && let Some(v) = variant
    {
        match v {
            "v1" => {}
            "v2" | "v3" | "v4" => rustflags.push(format!("-Ctarget-cpu=x86-64-{v}")),
            _ => {
                return Err(Error::msg(format!(
                    "--platform `{value}`: amd64 variants are v1, v2, v3 and v4"
                )));
            }
        }
    }
    Ok(TargetPlatform {
        platform: Platform {
            architecture: arch.to_owned(),
            os: os.to_owned(),
            os_version: None,
            variant: variant.filter(|v| *v != "v1").map(str::to_owned),
        },
        rust_target: triple,
        rustflags,
    })
}

/// Parses `--platform` values (comma-separated, repeatable). Without any, the platform of
/// `--target` or of the host.
pub fn parse_list(
    values: &[String],
    target: Option<&str>,
    host: &str,
) -> Result<Vec<TargetPlatform>> {
    let mut out: Vec<TargetPlatform> = Vec::new();
    for v in values
        .iter()
        .flat_map(|v| v.split(','))
        .filter(|v| !v.trim().is_empty())
    {
        let p = parse(v, target)?;
        if out.iter().any(|o| o.platform == p.platform) {
            return Err(Error::msg(format!("--platform `{v}` is given twice")));
        }
        out.push(p);
    }
    if out.is_empty() {
        let triple = target.unwrap_or(host);
        let platform = platform_for_triple(triple).ok_or_else(|| {
            Error::msg(format!(
                "{triple} has no Linux container platform; give --target for Linux or --platform linux/ARCH"
            ))
        })?;
        out.push(TargetPlatform {
            platform,
            rust_target: triple.to_owned(),
            rustflags: Vec::new(),
        });
    }
    Ok(out)
}

/// Checks that the standard library for `triple` is installed in `sysroot`; the error names
/// `rustup target add`.
pub fn check_installed(triple: &str, host: &str, sysroot: &Path) -> Result<()> {
    if triple == host
        || sysroot
            .join("lib/rustlib")
            .join(triple)
            .join("lib")
            .is_dir()
    {
        return Ok(());
    }
    Err(Error::msg(format!(
        "the Rust target {triple} is not installed for this toolchain: run `rustup target add {triple}` \
         (and install a linker for it), or drop that --platform"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amd64_variants_map_to_target_cpu() {
        let p = parse("linux/amd64/v3", None).unwrap();
        assert_eq!(p.rust_target, "x86_64-unknown-linux-gnu");
        assert_eq!(p.rustflags, ["-Ctarget-cpu=x86-64-v3"]);
        assert_eq!(p.name(), "linux/amd64/v3");
        let p = parse("linux/amd64", None).unwrap();
        assert!(p.rustflags.is_empty());
        assert_eq!(
            parse("linux/arm64", None).unwrap().rust_target,
            "aarch64-unknown-linux-gnu"
        );
    }

    #[test]
    fn bad_platforms_are_rejected() {
        assert!(parse("windows/amd64", None).is_err());
        assert!(parse("linux", None).is_err());
        assert!(parse("linux/amd64/v9", None).is_err());
        assert!(parse("linux/arm64", Some("x86_64-unknown-linux-gnu")).is_err());
        let two = vec!["linux/amd64,linux/amd64".to_owned()];
        assert!(parse_list(&two, None, "x86_64-unknown-linux-gnu").is_err());
    }

    #[test]
    fn default_is_the_host() {
        let l = parse_list(&[], None, "x86_64-unknown-linux-gnu").unwrap();
        assert_eq!(l[0].name(), "linux/amd64");
    }

    #[test]
    fn missing_target_names_rustup() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_installed(
            "aarch64-unknown-linux-gnu",
            "x86_64-unknown-linux-gnu",
            dir.path(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("rustup target add aarch64-unknown-linux-gnu")
        );
    }
}
