//! The one `cargo metadata` runner: `inspect`, the SBOM and the build all start cargo here.
//!
//! - cargo's stdout is read at pipe speed and parsed once its one line is complete, while
//!   cargo exits ([`Running::finish`] says why not while it arrives); stderr is drained by a
//!   thread beside it.
//! - [`shared`] answers the same question (program, arguments, directory) once per process:
//!   a second caller (the build's `inspect` beside the cargo-auditable resolution) waits for
//!   the first caller's cargo instead of starting another one.
//! - A failure says what to do; a lockfile that would need updating is left untouched.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use cargo_metadata::Metadata;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::util::url::redact;

/// A running `cargo metadata`; [`Running::finish`] parses its output.
pub struct Running {
    child: Child,
    stdout: ChildStdout,
    stderr: JoinHandle<Vec<u8>>,
    manifest: PathBuf,
}

/// Starts `cargo` with `args` (after the program) in `dir`, so cargo config and rustup
/// overrides apply as for a build there; `manifest` names the project in errors.
pub fn spawn(cargo: &OsStr, args: &[OsString], dir: &Path, manifest: &Path) -> Result<Running> {
    let mut child = Command::new(cargo)
        .args(args)
        .envs(process_env().iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::msg(format!(
                "cannot run `{} metadata`: {e}; install Rust (https://rustup.rs) or set CARGO",
                cargo.to_string_lossy()
            ))
        })?;
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::msg(
            "internal error: `cargo metadata` has no output pipes",
        ));
    };
    let stderr = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    Ok(Running {
        child,
        stdout,
        stderr,
        manifest: manifest.to_path_buf(),
    })
}

impl Running {
    /// Reads cargo's output as it is written, parses it as soon as it is complete, then waits
    /// for cargo ([`Running::finish_early`] and [`Exit::check`]).
    pub fn finish<T: DeserializeOwned>(self) -> Result<T> {
        let (parsed, exit) = self.finish_early()?;
        exit.check()?;
        Ok(parsed)
    }

    /// Reads cargo's output as it is written and parses it as soon as it is complete; cargo's
    /// exit is awaited beside the caller's work on it, and what was parsed counts only once
    /// [`Exit::check`] said cargo succeeded. A lockfile that would need updating is an error
    /// that says so (the file is left as it was).
    ///
    /// Not parsed from the pipe: cargo writes its answer at the very end, in a few large
    /// writes, and serde's reader-based parse (a byte at a time through `Read`) was slower
    /// than cargo's writing, so cargo waited on a full pipe for the parse (measured on
    /// corpus/rerun, 6.9 MB: cargo exited ~150 ms later than alone). Read at pipe speed and
    /// parsed from the bytes, the whole takes less.
    ///
    /// Parsed before cargo exits: cargo prints one line of compact JSON (a newline ends it;
    /// JSON strings hold none unescaped) and then spends 20-45 ms freeing its state and
    /// exiting (corpus/rerun, `strace`); the line is parsed meanwhile. Output after the line
    /// other than whitespace is an error; output that is not one line that parses is read
    /// whole and parsed once cargo exited, as before.
    pub fn finish_early<T: DeserializeOwned>(mut self) -> Result<(T, Arc<Exit>)> {
        let mut bytes = Vec::with_capacity(1 << 20);
        let line = read_line(&mut self.stdout, &mut bytes);
        if let Ok(true) = line
            && let Ok(parsed) = serde_json::from_slice::<T>(&bytes)
        {
            let waiting = std::thread::spawn(move || match self.wait()? {
                rest if rest.iter().all(|b| b" \t\r\n".contains(b)) => Ok(()),
                _ => Err(unreadable("more output after its line of JSON")),
            });
            return Ok((parsed, Exit::waiting(waiting)));
        }
        let rest = self.wait()?;
        line.map_err(read_failed)?;
        bytes.extend_from_slice(&rest);
        let parsed = serde_json::from_slice(&bytes).map_err(|e| unreadable(&e.to_string()))?;
        Ok((parsed, Exit::succeeded()))
    }

    /// Reads the rest of cargo's output and waits for it to exit: the rest, or cargo's failure.
    fn wait(mut self) -> Result<Vec<u8>> {
        let mut rest = Vec::new();
        let read = self.stdout.read_to_end(&mut rest);
        let status = self
            .child
            .wait()
            .map_err(|e| Error::msg(format!("running `cargo metadata`: {e}")))?;
        let stderr = self.stderr.join().unwrap_or_default();
        *last_exit().lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        if !status.success() {
            return Err(failed(&self.manifest, &stderr));
        }
        read.map_err(read_failed)?;
        Ok(rest)
    }

    /// Stops cargo (another probe failed first).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// cargo's exit, awaited by a thread of its own while its parsed output is worked on.
#[derive(Debug, Default)]
pub struct Exit {
    /// The thread waiting for cargo, until [`Exit::check`] joined it.
    waiting: Mutex<Option<JoinHandle<Result<()>>>>,
    /// What it found (an error kept as its message); unset is a failure.
    found: OnceLock<std::result::Result<(), String>>,
}

impl Exit {
    fn waiting(thread: JoinHandle<Result<()>>) -> Arc<Exit> {
        Arc::new(Exit {
            waiting: Mutex::new(Some(thread)),
            found: OnceLock::new(),
        })
    }

    /// The exit of a cargo whose success is known.
    pub fn succeeded() -> Arc<Exit> {
        let exit = Exit::default();
        let _ = exit.found.set(Ok(()));
        Arc::new(exit)
    }

    /// Waits for cargo (once; later calls give the same answer): `Ok` when it succeeded and
    /// printed nothing after its line of JSON, else what went wrong. Nothing parsed from its
    /// output may be used for a result before this said `Ok`.
    pub fn check(&self) -> Result<()> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(thread) = waiting.take() {
            let r = thread
                .join()
                .unwrap_or_else(|_| Err(Error::msg("internal error: waiting for cargo panicked")));
            let _ = self.found.set(r.map_err(|e| e.to_string()));
        }
        drop(waiting);
        match self.found.get() {
            Some(r) => r.clone().map_err(Error::msg),
            None => Err(Error::msg("internal error: cargo's exit is unknown")),
        }
    }
}

fn read_failed(e: std::io::Error) -> Error {
    Error::msg(format!("reading the output of `cargo metadata`: {e}"))
}

fn unreadable(why: &str) -> Error {
    Error::msg(format!(
        "`cargo metadata` printed output this tool cannot read ({why}); is cargo too old?"
    ))
}

/// Reads `from` into `bytes` up to the end of the chunk holding the first newline: `true`
/// once one arrived, `false` at the end of the output without one.
fn read_line(from: &mut impl Read, bytes: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        bytes.extend_from_slice(&chunk[..n]);
        if chunk[..n].contains(&b'\n') {
            return Ok(true);
        }
    }
}

/// Extra environment for every `cargo metadata` this process starts from now on.
static PROCESS_ENV: OnceLock<Vec<(OsString, OsString)>> = OnceLock::new();

fn process_env() -> &'static [(OsString, OsString)] {
    PROCESS_ENV.get().map(Vec::as_slice).unwrap_or_default()
}

/// Gives every later `cargo metadata` of this process `env` (the first call wins). The build
/// sets its rustc wrapper's environment here, so that cargo keys its rustc-info cache
/// (`<target>/.rustc_info.json`) as for the build: with two keys, each run of one
/// discarded the other's answers.
pub fn set_process_env(env: Vec<(OsString, OsString)>) {
    let _ = PROCESS_ENV.set(env);
}

fn last_exit() -> &'static Mutex<Option<Instant>> {
    static LAST: OnceLock<Mutex<Option<Instant>>> = OnceLock::new();
    LAST.get_or_init(Default::default)
}

/// When the last `cargo metadata` of this process exited (its output read to the end):
/// what follows is our own work (the `-v` timing lines, `scripts/bench-sbom.sh`).
pub fn last_exited() -> Option<Instant> {
    *last_exit().lock().unwrap_or_else(|e| e.into_inner())
}

/// The error for a failed `cargo metadata`.
fn failed(manifest: &Path, stderr: &[u8]) -> Error {
    let stderr = redact(String::from_utf8_lossy(stderr).trim());
    if stderr.contains("--locked was passed") || stderr.contains("needs to be updated") {
        return Error::msg(format!(
            "the lockfile needs updating: Cargo.lock of the workspace of {} does not match \
             its manifests, and cargo-provenance never rewrites it, so it was left \
             untouched. Run `cargo update --workspace` (or `cargo generate-lockfile`), \
             review and commit Cargo.lock, then run again.\ncargo said: {stderr}",
            manifest.display()
        ));
    }
    Error::msg(format!(
        "`cargo metadata` failed for {}:\n{stderr}",
        manifest.display()
    ))
}

/// One question to cargo: the program, its arguments and the directory it runs in.
type Question = (OsString, Vec<OsString>, PathBuf);
/// Its parsed answer once there is one, with cargo's exit (an error kept as its message).
type Parsed = std::result::Result<(Arc<Metadata>, Arc<Exit>), String>;
type Answer = Arc<Mutex<Option<Parsed>>>;

fn answers() -> &'static Mutex<HashMap<Question, Answer>> {
    static ANSWERS: OnceLock<Mutex<HashMap<Question, Answer>>> = OnceLock::new();
    ANSWERS.get_or_init(Default::default)
}

/// Opened once `cargo metadata` was started ([`shared_early`]): `inspect`'s probes beside
/// it wait for it, so that on a machine of two cores cargo is not the one left waiting for
/// a core while they start (git, rustc, reading Cargo.lock).
#[derive(Debug, Default)]
pub struct Started {
    open: Mutex<bool>,
    opened: std::sync::Condvar,
}

impl Started {
    /// Opens it (again: harmless).
    pub fn open(&self) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.opened.notify_all();
    }

    /// Waits until it is open.
    pub fn wait(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while !*open {
            open = self.opened.wait(open).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Opens a [`Started`] when dropped: on every way out, a panic included.
struct OpenOnDrop<'a>(&'a Started);

impl Drop for OpenOnDrop<'_> {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// `cargo metadata` for this question, asked once per process, once cargo exited
/// successfully ([`shared_early`] and [`Exit::check`]).
pub fn shared(
    cargo: &OsStr,
    args: &[OsString],
    dir: &Path,
    manifest: &Path,
) -> Result<Arc<Metadata>> {
    let (metadata, exit) = shared_early(cargo, args, dir, manifest, &Started::default())?;
    exit.check()?;
    Ok(metadata)
}

/// `cargo metadata` for this question, asked once per process: the first caller runs cargo
/// (see [`spawn`]); a caller asking the same while it runs waits for that answer. Returned as
/// soon as cargo's output is parsed ([`Running::finish_early`]): the caller checks the
/// [`Exit`] before anything it made of the answer is used.
///
/// `started` is opened as soon as cargo runs, or the answer is known, or another caller's
/// cargo is awaited, or this fails (whatever happens, once this returns it is open).
pub fn shared_early(
    cargo: &OsStr,
    args: &[OsString],
    dir: &Path,
    manifest: &Path,
    started: &Started,
) -> Result<(Arc<Metadata>, Arc<Exit>)> {
    let _open = OpenOnDrop(started);
    let question = (cargo.to_owned(), args.to_vec(), dir.to_path_buf());
    let answer = {
        let mut map = answers().lock().unwrap_or_else(|e| e.into_inner());
        map.entry(question).or_default().clone()
    };
    // The first caller holds the entry while cargo runs; later callers block here.
    let mut slot = match answer.try_lock() {
        Ok(slot) => slot,
        Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => {
            started.open();
            answer.lock().unwrap_or_else(|e| e.into_inner())
        }
    };
    if let Some(known) = slot.as_ref() {
        return known.clone().map_err(Error::msg);
    }
    let running = spawn(cargo, args, dir, manifest);
    started.open();
    let result = running
        .and_then(Running::finish_early::<Metadata>)
        .map(|(m, exit)| (Arc::new(m), exit));
    *slot = Some(result.as_ref().map(Clone::clone).map_err(|e| e.to_string()));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_failure_says_the_lockfile_is_untouched() {
        let e = failed(
            Path::new("/w/Cargo.toml"),
            b"error: the lock file needs to be updated but --locked was passed",
        );
        let text = e.to_string();
        assert!(text.contains("left untouched") && text.contains("/w/Cargo.toml"));
        let other = failed(Path::new("/w/Cargo.toml"), b"error: boom").to_string();
        assert!(other.contains("failed for /w/Cargo.toml") && other.contains("boom"));
    }

    #[test]
    fn a_missing_cargo_is_an_error_that_names_it() {
        let dir = std::env::temp_dir();
        let Err(e) = spawn(
            OsStr::new("/nonexistent/cargo-xyz"),
            &[],
            &dir,
            Path::new("Cargo.toml"),
        ) else {
            panic!("a missing program started");
        };
        assert!(e.to_string().contains("cargo-xyz"));
    }

    #[test]
    fn the_same_question_runs_cargo_once() {
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("count");
        let json = r#"{"packages":[],"workspace_members":[],"resolve":null,"target_directory":"/t","workspace_root":"/w","version":1}"#;
        let script = format!("echo run >> '{}'; printf '%s' '{json}'", count.display());
        let args: Vec<OsString> = vec!["-c".into(), script.into()];
        let ask = || shared(OsStr::new("sh"), &args, dir.path(), Path::new("Cargo.toml"));
        let (a, b) = std::thread::scope(|s| {
            let first = s.spawn(ask);
            let second = s.spawn(ask);
            (
                first.join().unwrap().unwrap(),
                second.join().unwrap().unwrap(),
            )
        });
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.workspace_root.as_str(), "/w");
        assert_eq!(std::fs::read_to_string(&count).unwrap(), "run\n");
        // Another question (another directory) runs again.
        let other = tempfile::tempdir().unwrap();
        let c = shared(
            OsStr::new("sh"),
            &args,
            other.path(),
            Path::new("Cargo.toml"),
        )
        .unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(std::fs::read_to_string(&count).unwrap(), "run\nrun\n");
    }

    #[test]
    fn output_that_is_not_metadata_is_refused_after_cargo_exits() {
        let dir = std::env::temp_dir();
        let args = ["-c".into(), "printf '{\"x\": 1}'".into()];
        let r = spawn(OsStr::new("sh"), &args, &dir, Path::new("Cargo.toml")).unwrap();
        let e = r.finish::<Metadata>().unwrap_err().to_string();
        assert!(e.contains("cannot read"), "{e}");
        let args = ["-c".into(), "echo oops >&2; exit 3".into()];
        let r = spawn(OsStr::new("sh"), &args, &dir, Path::new("/p/Cargo.toml")).unwrap();
        let e = r.finish::<Metadata>().unwrap_err().to_string();
        assert!(e.contains("oops") && e.contains("/p/Cargo.toml"), "{e}");
    }

    /// The line is parsed before cargo exits, but nothing is decided before it did: what
    /// follows the line still counts, a JSON document over several lines is read whole, and
    /// a cargo that failed after printing is a failure.
    #[test]
    fn the_early_parse_decides_nothing_before_cargo_exits() {
        let dir = std::env::temp_dir();
        let run = |script: &str| {
            let args = ["-c".into(), script.into()];
            spawn(OsStr::new("sh"), &args, &dir, Path::new("/p/Cargo.toml"))
                .unwrap()
                .finish::<serde_json::Value>()
        };
        let one = serde_json::json!({"x": 1});
        assert_eq!(run("echo '{\"x\": 1}'; sleep 0.1").unwrap(), one);
        assert_eq!(run("printf '{\"x\": 1}\\n \\n'").unwrap(), one);
        assert_eq!(run("printf '{\\n\"x\": 1\\n}\\n'").unwrap(), one);
        // An exit never recorded is a failure, not a success.
        assert!(Exit::default().check().is_err());
        assert!(Exit::succeeded().check().is_ok());
        // JSON's whitespace only: a form feed after the line is output.
        assert!(run("printf '{\"x\": 1}\\n\\f'").is_err());
        let e = run("echo '{\"x\": 1}'; sleep 0.1; echo more").unwrap_err();
        assert!(e.to_string().contains("cannot read"), "{e}");
        let e = run("echo '{\"x\": 1}'; echo broke >&2; exit 3").unwrap_err();
        assert!(e.to_string().contains("broke"), "{e}");
    }
}
