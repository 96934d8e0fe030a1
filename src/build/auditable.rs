//! cargo-auditable's dependency data in every shipped binary, written by our own build.
//!
//! Each binary gets a `.dep-v0` section holding the zlib-compressed JSON of
//! [`auditable_serde::VersionInfo`]: the crates compiled into it (the SBOM's required set
//! for its package, [`crate::sbom::auditable`]). Scanners read it: `cargo audit bin`, syft,
//! grype, trivy. It gets there the way `cargo auditable` puts it there:
//!
//! 1. while cargo compiles, a thread resolves the crates of each shipped package and writes
//!    an object file per package ([`object_file`]) into a drop directory ([`DropDir`]);
//! 2. cargo runs this program as `RUSTC_WORKSPACE_WRAPPER` (with [`DIR_ENV`] naming the drop
//!    directory); for the `bin` crates of the packages being built, the wrapper
//!    ([`wrapper_main`]) waits for its package's object file and hands it to the linker
//!    (`-Clink-arg=FILE -Clink-arg=-Wl,-u,AUDITABLE_VERSION_INFO`); every other rustc call
//!    passes through unchanged.
//!
//! A user's own workspace wrapper (`RUSTC_WORKSPACE_WRAPPER`,
//! `build.rustc-workspace-wrapper`) still runs: ours runs it in turn ([`USER_WRAPPER_ENV`]).
//! `--no-auditable` turns all of this off. docs/build.md says how, docs/sbom.md how the SBOM
//! tells.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use auditable_serde::VersionInfo;
use object::write::{self, StandardSegment, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, SectionFlags, SectionKind, SymbolFlags, SymbolKind,
    SymbolScope, elf,
};

use crate::error::{Error, Result};

mod wrapper;
pub use wrapper::{
    CargoEnv, WRAPPER_NAME, is_wrapper_invocation, metadata_env, wrapper_dir, wrapper_env,
    wrapper_main,
};

/// The drop directory of the current cargo run (set for the wrapper only).
pub const DIR_ENV: &str = "CARGO_PROVENANCE_AUDITABLE_DIR";
/// The user's own workspace wrapper, which ours runs in turn.
pub const USER_WRAPPER_ENV: &str = "CARGO_PROVENANCE_WORKSPACE_WRAPPER";
/// The section scanners read.
pub const SECTION: &str = ".dep-v0";
/// The symbol that keeps the section in the linked binary (cargo-auditable's name).
pub const SYMBOL: &str = "AUDITABLE_VERSION_INFO";

const ERROR_FILE: &str = "error";
const DONE_FILE: &str = "done";
/// How long the wrapper waits for its object file before giving up.
const WAIT: Duration = Duration::from_secs(600);

/// The JSON scanners read, compressed as cargo-auditable compresses it (zlib, level 7).
pub fn compress(info: &VersionInfo) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(info).map_err(|e| Error::msg(format!("dep-v0 JSON: {e}")))?;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(7));
    z.write_all(&json)
        .and_then(|()| z.finish())
        .map_err(|e| Error::msg(format!("compressing the dep-v0 JSON: {e}")))
}

/// An ELF object file with `contents` in a non-allocated `.dep-v0` section and the global
/// symbol [`SYMBOL`] on it, for the linker. `arch` and `endian` are the target's
/// `target_arch` and `target_endian` cfg values; the flags follow cargo-auditable (and rustc's
/// own metadata objects) for the Linux targets `--platform` knows.
pub fn object_file(triple: &str, arch: &str, endian: &str, contents: &[u8]) -> Result<Vec<u8>> {
    let unsupported = || {
        Error::msg(format!(
            "target {triple}: cargo-auditable data can be embedded only in ELF binaries of \
             x86, x86_64, arm, aarch64, riscv64, powerpc64 and s390x; build with --no-auditable"
        ))
    };
    if triple.contains("-apple-") || triple.contains("-windows") || arch == "wasm32" {
        return Err(unsupported());
    }
    let endianness = match endian {
        "little" => Endianness::Little,
        "big" => Endianness::Big,
        _ => return Err(unsupported()),
    };
    let architecture = match arch {
        "x86_64" => Architecture::X86_64,
        "x86" => Architecture::I386,
        "aarch64" => Architecture::Aarch64,
        "arm" => Architecture::Arm,
        "riscv64" => Architecture::Riscv64,
        "powerpc64" => Architecture::PowerPc64,
        "s390x" => Architecture::S390x,
        _ => return Err(unsupported()),
    };
    let mut file = write::Object::new(BinaryFormat::Elf, architecture, endianness);
    if architecture == Architecture::Riscv64 {
        // riscv64gc: compressed instructions, double-float ABI (as the linker expects).
        file.flags = object::FileFlags::Elf {
            os_abi: elf::ELFOSABI_NONE,
            abi_version: 0,
            e_flags: elf::EF_RISCV_RVC | elf::EF_RISCV_FLOAT_ABI_DOUBLE,
        };
    }
    let section = file.add_section(
        file.segment_name(StandardSegment::Data).to_vec(),
        SECTION.as_bytes().to_vec(),
        SectionKind::ReadOnlyData,
    );
    // Not loaded at run time: no SHF_ALLOC.
    file.section_mut(section).flags = SectionFlags::Elf { sh_flags: 0 };
    let offset = file.append_section_data(section, contents, 1);
    file.add_symbol(Symbol {
        name: SYMBOL.as_bytes().to_vec(),
        value: offset,
        size: contents.len() as u64,
        kind: SymbolKind::Data,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(section),
        flags: SymbolFlags::None,
    });
    file.write()
        .map_err(|e| Error::msg(format!("writing the dep-v0 object file: {e}")))
}

/// The drop directory of one cargo run: an object file per package, then `done`, or
/// `error` with the reason. A fresh temporary directory (builds sharing a target directory
/// each have their own), removed when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct DropDir {
    dir: std::sync::Arc<tempfile::TempDir>,
}

impl DropDir {
    /// A new directory in `parent` (created if missing).
    pub fn create(parent: &Path) -> Result<DropDir> {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
        let dir = tempfile::Builder::new()
            .prefix("dep-v0-")
            .tempdir_in(parent)
            .map_err(|e| Error::io("creating a directory in", parent, e))?;
        Ok(DropDir {
            dir: std::sync::Arc::new(dir),
        })
    }

    /// The directory (for [`DIR_ENV`]).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where the object file of `package` goes.
    fn object_path(dir: &Path, package: &str) -> PathBuf {
        dir.join(format!("{package}.o"))
    }

    /// Writes the object file of `package` (atomically: the wrapper may be waiting; not
    /// synced to disk: the directory lives for this run only, and a sync cost the waiting
    /// wrapper 3-5 ms).
    pub fn publish(&self, package: &str, object: &[u8]) -> Result<()> {
        crate::util::fs::write_atomic_unsynced(&Self::object_path(self.dir(), package), object)
    }

    /// Cargo's environment for one run: the wrapper's ([`wrapper_env`]) and this directory.
    pub fn env(&self, wrapper: &CargoEnv) -> CargoEnv {
        let mut env = wrapper.clone();
        env.push((DIR_ENV, self.dir().as_os_str().to_owned()));
        env
    }

    /// Says every package's file is there.
    pub fn finish(&self) -> Result<()> {
        crate::util::fs::write_atomic_unsynced(&self.dir().join(DONE_FILE), b"")
    }

    /// Says why no file will come; the waiting wrappers fail with this message.
    pub fn fail(&self, why: &str) {
        let _ =
            crate::util::fs::write_atomic_unsynced(&self.dir().join(ERROR_FILE), why.as_bytes());
    }
}

/// One platform's cargo run, as the data for it needs it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The target and rustflags cargo gets.
    pub built_for: crate::sbom::BuiltFor,
    /// The directory its drop directory is made in.
    pub drop_parent: PathBuf,
}

/// One platform's share of the resolution.
#[derive(Debug, Clone)]
struct PlatformJob {
    built_for: crate::sbom::BuiltFor,
    drop: DropDir,
}

/// What was embedded for one platform: package name → the compressed JSON.
pub type Embedded = std::collections::BTreeMap<String, Vec<u8>>;

/// What the resolution gives back: each platform's data (in `plans`' order), and the
/// project it read, resolved for the last platform (the SBOM stage uses it instead of reading
/// the project again).
pub type Resolved = (Vec<Embedded>, Option<crate::sbom::Prepared>);

/// The resolution of the data, in a thread started with the build ([`Resolver::start`]): it
/// reads the project (`cargo metadata`, rustc's cfgs) while the build asks the toolchain,
/// then, given the platforms ([`Resolver::setup`]), resolves each one's lists in platform
/// order (cargo compiles them in that order too) and publishes its object files. It keeps
/// the drop directories until it is finished (after cargo).
pub struct Resolver {
    handle: std::thread::JoinHandle<Result<Resolved>>,
    jobs: Option<std::sync::mpsc::Sender<Vec<PlatformJob>>>,
    drops: Vec<DropDir>,
    /// The user's own workspace wrapper, from the cargo configuration.
    configured: Option<String>,
    /// The wrapper's environment, when its link is in the cache directory.
    wrapper: Option<CargoEnv>,
}

impl Resolver {
    /// Starts reading the project for `selection`, whose cargo configuration is `config`
    /// (for the user's own `build.rustc-workspace-wrapper`). Nothing is written until
    /// [`Resolver::setup`] but the wrapper's link in the cache directory ([`wrapper_dir`]),
    /// whose environment the project's `cargo metadata` gets ([`metadata_env`]).
    pub fn start(
        selection: crate::select::Selection,
        config: &crate::inspect::cargo_config::CargoConfig,
    ) -> Resolver {
        let configured = config
            .get_string(
                &["build", "rustc-workspace-wrapper"],
                "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
            )
            .map(|(v, _)| v);
        let wrapper = wrapper_dir().and_then(|bin| wrapper_env(configured.clone(), &bin).ok());
        if let Some(w) = &wrapper {
            crate::inspect::metadata::set_process_env(metadata_env(w));
        }
        let (tx, rx) = std::sync::mpsc::channel::<Vec<PlatformJob>>();
        let handle = std::thread::spawn(move || {
            let prepared = crate::sbom::prepare(&selection, None);
            // The build stopped before compiling: nothing to publish.
            let Ok(jobs) = rx.recv() else {
                return Ok((Vec::new(), None));
            };
            let result = prepared.and_then(|p| resolve_all(p, &selection, &jobs));
            if let Err(e) = &result {
                // No wrapper waits in vain.
                for j in &jobs {
                    j.drop.fail(&e.to_string());
                }
            }
            result
        });
        Resolver {
            handle,
            jobs: Some(tx),
            drops: Vec::new(),
            configured,
            wrapper,
        }
    }

    /// Prepares every platform's cargo run: cargo's extra environment for each (in `plans`'
    /// order), and hands the platforms to the thread.
    pub fn setup(&mut self, plans: Vec<Plan>) -> Result<Vec<CargoEnv>> {
        let mut envs = Vec::new();
        let mut jobs = Vec::new();
        for plan in plans {
            let drop = DropDir::create(&plan.drop_parent)?;
            let wrapper = match &self.wrapper {
                Some(w) => w.clone(),
                None => wrapper_env(self.configured.clone(), &drop.dir().join("bin"))?,
            };
            envs.push(drop.env(&wrapper));
            self.drops.push(drop.clone());
            jobs.push(PlatformJob {
                built_for: plan.built_for,
                drop,
            });
        }
        let sent = self.jobs.take().map(|tx| tx.send(jobs));
        if !matches!(sent, Some(Ok(()))) {
            return Err(Error::msg(
                "internal error: the cargo-auditable resolution is not running",
            ));
        }
        Ok(envs)
    }

    /// Waits for the thread: each platform's data (in `plans`' order) and the project it
    /// read, or its error.
    pub fn finish(mut self) -> Result<Resolved> {
        self.jobs.take();
        let result = self.handle.join().unwrap_or_else(|_| {
            Err(Error::msg(
                "resolving the cargo-auditable data failed (panic)",
            ))
        });
        drop(self.drops);
        result
    }
}

fn resolve_all(
    mut prepared: crate::sbom::Prepared,
    selection: &crate::select::Selection,
    jobs: &[PlatformJob],
) -> Result<Resolved> {
    let mut out = Vec::new();
    for j in jobs {
        let mut embedded = Embedded::new();
        let (next, lists) =
            crate::sbom::auditable::dependency_lists(prepared, &j.built_for, selection)?;
        prepared = next;
        for (package, info) in &lists.lists {
            let data = compress(info)?;
            let object = object_file(
                &j.built_for.target,
                &lists.target_arch,
                &lists.target_endian,
                &data,
            )?;
            j.drop.publish(package, &object)?;
            embedded.insert(package.clone(), data);
        }
        j.drop.finish()?;
        out.push(embedded);
    }
    Ok((out, Some(prepared)))
}

/// Checks that a binary cargo produced carries exactly the data resolved for its package
/// (`expected`): a binary cargo found fresh, or a linker that dropped the section, would
/// otherwise ship without it or with another build's list.
pub fn check_binary(path: &Path, package: &str, expected: &Embedded) -> Result<()> {
    use object::{Object as _, ObjectSection as _};
    let bytes = crate::util::fs::read(path)?;
    let want = expected.get(package).ok_or_else(|| {
        Error::msg(format!(
            "no cargo-auditable data was resolved for package `{package}`"
        ))
    })?;
    let file = object::File::parse(bytes.as_slice())
        .map_err(|e| Error::msg(format!("reading {} as ELF: {e}", path.display())))?;
    let found = file.section_by_name(SECTION).and_then(|s| s.data().ok());
    match found {
        Some(data) if data == want.as_slice() => Ok(()),
        Some(_) => Err(Error::msg(format!(
            "{} carries cargo-auditable data that is not this build's: remove the binary (or              `cargo clean -p {package}`) and build again",
            path.display()
        ))),
        None => Err(Error::msg(format!(
            "{} has no {SECTION} section: the linker dropped the cargo-auditable data (a              linker not driven through `cc`?); build with --no-auditable",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_holds_the_section_and_symbol() {
        let o = object_file("x86_64-unknown-linux-gnu", "x86_64", "little", b"zz").unwrap();
        assert_eq!(&o[..4], b"\x7fELF");
        let text = String::from_utf8_lossy(&o);
        assert!(text.contains(SECTION) && text.contains(SYMBOL));
        let again = object_file("x86_64-unknown-linux-gnu", "x86_64", "little", b"zz").unwrap();
        assert_eq!(o, again, "deterministic");
        let err = object_file("x86_64-apple-darwin", "x86_64", "little", b"zz").unwrap_err();
        assert!(err.to_string().contains("--no-auditable"));
    }

    #[test]
    fn a_binary_without_this_builds_data_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("bin");
        let triple = "x86_64-unknown-linux-gnu";
        std::fs::write(
            &path,
            object_file(triple, "x86_64", "little", b"ours").unwrap(),
        )
        .unwrap();
        let expect = |data: &[u8]| Embedded::from([("app".to_owned(), data.to_vec())]);
        check_binary(&path, "app", &expect(b"ours")).unwrap();
        let e = check_binary(&path, "app", &expect(b"newer")).unwrap_err();
        assert!(e.to_string().contains("not this build's"), "{e}");
        let e = check_binary(&path, "other", &expect(b"ours")).unwrap_err();
        assert!(e.to_string().contains("`other`"), "{e}");
        let plain = write::Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
        std::fs::write(&path, plain.write().unwrap()).unwrap();
        let e = check_binary(&path, "app", &expect(b"ours")).unwrap_err();
        assert!(e.to_string().contains("no .dep-v0 section"), "{e}");
    }
}
