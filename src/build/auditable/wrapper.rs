//! The rustc-wrapper half of the cargo-auditable data: what runs inside cargo (as
//! `RUSTC_WORKSPACE_WRAPPER`) and the environment that makes cargo run it. The parent module
//! resolves the data and writes the object files the wrapper waits for.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{DIR_ENV, DONE_FILE, DropDir, ERROR_FILE, SYMBOL, USER_WRAPPER_ENV, WAIT};
use crate::error::{Error, Result};

/// True when this process was started by cargo as our rustc wrapper: [`DIR_ENV`] is set
/// (only for the cargo runs of `build`) and the first argument is not `provenance` (the word
/// cargo adds when it runs us as `cargo provenance`).
pub fn is_wrapper_invocation(args: &[OsString]) -> bool {
    std::env::var_os(DIR_ENV).is_some() && args.get(1).is_some_and(|a| a != "provenance")
}

/// The rustc wrapper: `ARGS[1]` is rustc, the rest its arguments. Returns rustc's exit code.
pub fn wrapper_main(args: Vec<OsString>) -> i32 {
    let mut rustc_args: Vec<OsString> = args.into_iter().skip(1).collect();
    if rustc_args.is_empty() {
        eprintln!("cargo-provenance (rustc wrapper): no rustc to run");
        return 2;
    }
    let primary = std::env::var_os("CARGO_PRIMARY_PACKAGE").is_some();
    if links_shipped_binary(primary, &rustc_args[1..]) {
        match linker_args() {
            Ok(extra) => rustc_args.extend(extra),
            Err(e) => {
                eprintln!("error: cargo-provenance: {e}");
                return 2;
            }
        }
    }
    let mut cmd = match std::env::var_os(USER_WRAPPER_ENV).filter(|w| !w.is_empty()) {
        Some(user) => {
            let mut c = Command::new(user);
            c.args(&rustc_args);
            c
        }
        None => {
            let mut c = Command::new(&rustc_args[0]);
            c.args(&rustc_args[1..]);
            c
        }
    };
    cmd.env_remove(DIR_ENV).env_remove(USER_WRAPPER_ENV);
    run(cmd)
}

/// Runs rustc (or the user's wrapper) in this process's place: nothing is left to do after
/// it, so cargo waits for rustc itself (no fork, no second process waiting beside it).
#[cfg(unix)]
fn run(mut cmd: Command) -> i32 {
    use std::os::unix::process::CommandExt;
    let e = cmd.exec();
    eprintln!(
        "error: cargo-provenance (rustc wrapper): running {}: {e}",
        cmd.get_program().to_string_lossy()
    );
    101
}

/// Runs rustc (or the user's wrapper) and returns its exit code.
#[cfg(not(unix))]
fn run(mut cmd: Command) -> i32 {
    match cmd.status() {
        Ok(s) => s.code().unwrap_or(101),
        Err(e) => {
            eprintln!(
                "error: cargo-provenance (rustc wrapper): running {}: {e}",
                cmd.get_program().to_string_lossy()
            );
            101
        }
    }
}

/// Whether rustc is about to link a binary of a package cargo was asked to build (not a
/// `--print` query, not a library, not another `--emit`).
fn links_shipped_binary(primary: bool, args: &[OsString]) -> bool {
    if !primary {
        return false;
    }
    let mut crate_types = Vec::new();
    let mut emit = Vec::new();
    let mut print = false;
    let mut it = args.iter().map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        let value = |flag: &str, it: &mut dyn Iterator<Item = std::borrow::Cow<'_, str>>| match a
            .strip_prefix(flag)
        {
            Some("") => it.next().map(|v| v.into_owned()),
            Some(v) => v.strip_prefix('=').map(str::to_owned),
            None => None,
        };
        if let Some(v) = value("--crate-name", &mut it) {
            // A build script: compiled as a `bin`, never shipped.
            if v.starts_with("build_script_") {
                return false;
            }
        } else if let Some(v) = value("--crate-type", &mut it) {
            crate_types.extend(v.split(',').map(str::to_owned));
        } else if let Some(v) = value("--emit", &mut it) {
            emit.extend(
                v.split(',')
                    .map(|e| e.split('=').next().unwrap_or("").to_owned()),
            );
        } else if a.starts_with("--print") {
            print = true;
        }
    }
    crate_types.iter().any(|t| t == "bin")
        && (emit.is_empty() || emit.iter().any(|e| e == "link"))
        && !(print && emit.is_empty())
}

/// Waits for this package's object file; the rustc arguments that link it.
fn linker_args() -> Result<Vec<OsString>> {
    let dir = PathBuf::from(std::env::var_os(DIR_ENV).unwrap_or_default());
    let package = std::env::var("CARGO_PKG_NAME")
        .map_err(|_| Error::msg("cargo did not set CARGO_PKG_NAME for the rustc wrapper"))?;
    let object = wait_for(&dir, &package)?;
    let mut link = OsString::from("-Clink-arg=");
    link.push(object.as_os_str());
    Ok(vec![
        link,
        OsString::from(format!("-Clink-arg=-Wl,-u,{SYMBOL}")),
    ])
}

/// The object file of `package` in `dir`, once the build has written it.
fn wait_for(dir: &Path, package: &str) -> Result<PathBuf> {
    let object = DropDir::object_path(dir, package);
    let start = Instant::now();
    loop {
        if object.is_file() {
            return Ok(object);
        }
        if let Ok(why) = std::fs::read_to_string(dir.join(ERROR_FILE)) {
            return Err(Error::msg(format!(
                "no cargo-auditable data for `{package}`: {why}"
            )));
        }
        if dir.join(DONE_FILE).is_file() && !object.is_file() {
            return Err(Error::msg(format!(
                "no cargo-auditable data was resolved for package `{package}` (not among the \
                 selected packages' binaries); build with --no-auditable to skip it"
            )));
        }
        if start.elapsed() > WAIT {
            return Err(Error::msg(format!(
                "waited {}s for the cargo-auditable data of `{package}` in {}",
                WAIT.as_secs(),
                dir.display()
            )));
        }
        // A millisecond: the file appears once (written whole, then renamed), and each look
        // is one `stat`; rustc waits on this, so a coarser step is time added to the build.
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Extra environment variables for one cargo run.
pub type CargoEnv = Vec<(&'static str, OsString)>;

/// The name cargo runs the wrapper by. Cargo mixes the workspace wrapper, as named, into
/// the `-C metadata` hash of workspace members, and so into their symbol names: an absolute
/// path would make the binaries depend on where cargo-provenance is installed. A fixed bare
/// name, found on a `PATH` that starts with a link to this program, keeps them the same on
/// every machine.
pub const WRAPPER_NAME: &str = "cargo-provenance-rustc-wrapper";

/// The wrapper's part of cargo's environment for every build with the data: our program as
/// the workspace wrapper (by [`WRAPPER_NAME`], linked in `bin`), found first on `PATH`, and
/// the user's own workspace wrapper if there is one (`configured`:
/// `build.rustc-workspace-wrapper` of the cargo configuration). [`DropDir::env`] adds the
/// drop directory of one cargo run.
pub fn wrapper_env(configured: Option<String>, bin: &Path) -> Result<CargoEnv> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::msg(format!("finding this program for the rustc wrapper: {e}")))?;
    std::fs::create_dir_all(bin).map_err(|e| Error::io("creating", bin, e))?;
    link_program(&exe, &bin.join(WRAPPER_NAME))?;
    let mut path = vec![bin.to_path_buf()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(path)
        .map_err(|e| Error::msg(format!("PATH for the rustc wrapper: {e}")))?;
    let user = std::env::var_os("RUSTC_WORKSPACE_WRAPPER")
        .or_else(|| configured.map(OsString::from))
        .filter(|w| !w.is_empty() && Path::new(w) != exe && w != WRAPPER_NAME);
    let mut env = vec![
        ("RUSTC_WORKSPACE_WRAPPER", OsString::from(WRAPPER_NAME)),
        ("PATH", path),
    ];
    if let Some(u) = user {
        env.push((USER_WRAPPER_ENV, u));
    }
    Ok(env)
}

/// The environment of a `cargo metadata` started beside the build: the wrapper's, with no
/// drop directory (the wrapper passes every rustc call of cargo metadata through). Cargo
/// then keys its rustc-info cache as for the build.
pub fn metadata_env(wrapper: &CargoEnv) -> Vec<(OsString, OsString)> {
    wrapper
        .iter()
        .map(|(k, v)| (OsString::from(k), v.clone()))
        .chain([(OsString::from(DIR_ENV), OsString::new())])
        .collect()
}

/// The directory that holds the wrapper's link, the same for every build by this program
/// (`wrapper-` and a hash of its path, in the user's cache directory:
/// `$XDG_CACHE_HOME/cargo-provenance`, else `~/.cache/cargo-provenance`). Cargo mixes the
/// `PATH` it finds the wrapper on into the key of its rustc-info cache
/// (`<target>/.rustc_info.json`): a directory of its own per build made cargo ask rustc again
/// (`-vV`, `--print` target info, through the wrapper) on every build, serially, before
/// compiling anything.
pub fn wrapper_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let hash = crate::util::digest::Digest::of(exe.as_os_str().as_encoded_bytes());
    Some(crate::util::fs::cache_dir()?.join(format!("wrapper-{}", &hash.hex()[..16])))
}

/// `link` → `exe` (a symbolic link; a copy where there are none), left as it is when it is
/// already that link, else replaced atomically (builds sharing a target directory share it).
fn link_program(exe: &Path, link: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        if std::fs::read_link(link).is_ok_and(|t| t == exe) {
            return Ok(());
        }
        let dir = link.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".{WRAPPER_NAME}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(exe, &tmp)
            .and_then(|()| std::fs::rename(&tmp, link))
            .map_err(|e| Error::io("linking the rustc wrapper at", link, e))
    }
    #[cfg(not(unix))]
    {
        let _ = std::fs::remove_file(link);
        std::fs::copy(exe, link)
            .map(|_| ())
            .map_err(|e| Error::io("linking the rustc wrapper at", link, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_linked_binaries_get_the_data() {
        assert!(links_shipped_binary(
            true,
            &args(&[
                "--crate-name",
                "x",
                "--crate-type",
                "bin",
                "--emit=dep-info,link",
            ])
        ));
        assert!(!links_shipped_binary(
            false,
            &args(&["--crate-type", "bin"])
        ));
        assert!(!links_shipped_binary(
            true,
            &args(&["--crate-name", "build_script_build", "--crate-type", "bin"])
        ));
        assert!(!links_shipped_binary(
            true,
            &args(&["--crate-type", "lib", "--emit=dep-info,metadata,link"])
        ));
        assert!(!links_shipped_binary(
            true,
            &args(&["--crate-type=bin", "--emit=metadata"])
        ));
        assert!(!links_shipped_binary(
            true,
            &args(&["-", "--crate-type", "bin", "--print=file-names"])
        ));
    }

    #[test]
    fn a_failed_resolution_reaches_the_wrapper() {
        let tmp = tempfile::tempdir().unwrap();
        let drop = DropDir::create(tmp.path()).unwrap();
        drop.fail("cargo metadata failed");
        let e = wait_for(drop.dir(), "app").unwrap_err().to_string();
        assert!(e.contains("cargo metadata failed") && e.contains("`app`"));
        let drop = DropDir::create(tmp.path()).unwrap();
        drop.publish("app", b"o").unwrap();
        drop.finish().unwrap();
        assert!(wait_for(drop.dir(), "app").is_ok());
        let e = wait_for(drop.dir(), "other").unwrap_err().to_string();
        assert!(e.contains("--no-auditable"));
    }
}
