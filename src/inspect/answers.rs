//! The toolchain's answers about itself, remembered between runs, as cargo remembers them
//! (`<target>/.rustc_info.json`): `rustc -vV`, `rustc --print cfg [--target T FLAGS]`,
//! `cargo -V`. Each rustc start costs 10–20 ms of CPU; a build asked four such questions
//! before every compile, on two cores beside cargo.
//!
//! An answer is remembered only when nothing but the program file and the question can
//! change it:
//! - the program is a rustup toolchain's own executable (its canonical path is under
//!   `$RUSTUP_HOME/toolchains/`, default `~/.rustup`), never a proxy or a wrapper, whose
//!   answer depends on the directory or on another program;
//! - no argument names a file (a target spec `*.json`, an `@argfile`, a `--sysroot`) or the
//!   machine (`native`), every `--target` is a built-in target (`rustc --print
//!   target-list`: for other names rustc reads a spec file), and `RUST_TARGET_PATH` is unset;
//! - the answer is the program's successful exit.
//!
//! The key is a SHA-256 of the program's canonical path, its size, inode and modification
//! and change times (rustup replaces the files of a toolchain it updates), the arguments,
//! and every `RUST*` variable of the environment. Answers live one file each in
//! `$XDG_CACHE_HOME/cargo-provenance/toolchain-answers` (else `~/.cache/...`), written
//! atomically and synced; a missing, unreadable or empty one is asked again. Past
//! [`KEPT_MAX`] answers, the oldest written are dropped ([`prune`]): a toolchain update or a
//! change of `RUSTFLAGS` makes new keys, and the old ones would otherwise stay for ever.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::error::{Error, Result};
use crate::util::digest::Digest;

/// An answer: remembered, or on its way from a running program.
#[derive(Debug)]
pub enum Answer {
    /// Remembered from an earlier run (or given).
    Known(String),
    /// The program runs; its answer is kept under `key` when it succeeds.
    Running {
        /// The program.
        child: Child,
        /// Where its answer is remembered (`None`: not to be remembered).
        key: Option<PathBuf>,
    },
}

/// The answer of `cmd` (running `program`): remembered, or started.
pub fn ask(cmd: &mut Command, program: &OsString) -> Result<Answer> {
    ask_in(store().as_deref(), toolchains().as_deref(), cmd, program)
}

impl Answer {
    /// The answer: its text, or the program's output once it exits (remembered when it
    /// succeeds); `arg` names the question in an error.
    pub fn finish(self, program: &OsString, arg: &str) -> Result<String> {
        match self {
            Answer::Known(text) => Ok(text),
            Answer::Running { child, key } => {
                let text = wait(child, program, arg)?;
                if let Some(path) = key.filter(|_| !text.trim().is_empty()) {
                    // Not remembered is only slower next time. The user's own: `--print cfg`
                    // repeats the `--cfg` values of their rustflags.
                    let _ = path
                        .parent()
                        .map_or(Ok(()), std::fs::create_dir_all)
                        .map(|()| {
                            crate::util::fs::write_atomic_with(
                                &path,
                                text.as_bytes(),
                                Some(0o600),
                                true,
                            )
                        });
                    if let Some(store) = path.parent() {
                        prune(store);
                    }
                }
                Ok(text)
            }
        }
    }
}

/// How many answers the store keeps: a build asks about five questions per toolchain and
/// target, so this is dozens of toolchains, targets and flag sets.
pub const KEPT_MAX: usize = 256;

/// Once `store` holds more than [`KEPT_MAX`] answers, drops the oldest written (by
/// modification time) down to half of it. Run after an answer was written (a miss, which
/// ran a program anyway), so a hit never reads the directory. Only answer files (their
/// 32-hex names) are touched; another process's concurrent pruning is harmless (a removal
/// that fails is skipped, and a dropped answer is only asked again).
fn prune(store: &Path) {
    let Ok(dir) = std::fs::read_dir(store) else {
        return;
    };
    let is_key = |name: &std::ffi::OsStr| {
        name.len() == 32 && name.as_encoded_bytes().iter().all(u8::is_ascii_hexdigit)
    };
    let mut answers: Vec<(std::time::SystemTime, PathBuf)> = dir
        .flatten()
        .filter(|e| is_key(&e.file_name()))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if answers.len() <= KEPT_MAX {
        return;
    }
    answers.sort();
    for (_, old) in &answers[..answers.len() - KEPT_MAX / 2] {
        let _ = std::fs::remove_file(old);
    }
}

/// [`ask`] with the store and rustup's toolchains directory given.
fn ask_in(
    store: Option<&Path>,
    toolchains: Option<&Path>,
    cmd: &mut Command,
    program: &OsString,
) -> Result<Answer> {
    let key = store.zip(toolchains).and_then(|(s, t)| {
        let key = key_of(cmd, t)?;
        targets_are_builtin(cmd, s, t).then(|| s.join(key))
    });
    // None of these questions has an empty answer: an empty file (a power loss between the
    // rename and the data reaching the disk) is asked again.
    let known = key.as_ref().and_then(|k| std::fs::read_to_string(k).ok());
    if let Some(text) = known.filter(|t| !t.trim().is_empty()) {
        return Ok(Answer::Known(text));
    }
    let child = spawn(cmd, program)?;
    Ok(Answer::Running { child, key })
}

/// Starts `cmd` (running `program`) with its output piped; an error says how to get the
/// program.
pub fn spawn(cmd: &mut Command, program: &OsString) -> Result<Child> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::msg(format!(
                "cannot run `{}`: {e}; install Rust (https://rustup.rs) or set RUSTC/CARGO",
                program.to_string_lossy()
            ))
        })
}

/// Waits for a child of [`spawn`] running `program arg`: its stdout, or an error with its
/// stderr (credentials removed).
pub fn wait(child: Child, program: &OsString, arg: &str) -> Result<String> {
    let out = child.wait_with_output().map_err(|e| {
        Error::msg(format!(
            "running `{} {arg}`: {e}",
            program.to_string_lossy()
        ))
    })?;
    if !out.status.success() {
        return Err(Error::msg(format!(
            "`{} {arg}` failed ({}): {}",
            program.to_string_lossy(),
            out.status,
            crate::util::url::redact(String::from_utf8_lossy(&out.stderr).trim())
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Where answers are kept: `toolchain-answers` in our cache directory.
fn store() -> Option<PathBuf> {
    Some(crate::util::fs::cache_dir()?.join("toolchain-answers"))
}

/// rustup's toolchains directory (`$RUSTUP_HOME/toolchains`, else `~/.rustup/toolchains`),
/// canonical.
fn toolchains() -> Option<PathBuf> {
    let home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".rustup"))
                .filter(|p| p.is_absolute())
        })?;
    home.join("toolchains").canonicalize().ok()
}

/// The key of `cmd`'s answer, when it can be remembered (see the module docs).
fn key_of(cmd: &Command, toolchains: &Path) -> Option<String> {
    let program = Path::new(cmd.get_program());
    // Custom targets are looked up there: their files can change under the same question.
    if !program.is_absolute() || std::env::var_os("RUST_TARGET_PATH").is_some() {
        return None;
    }
    let canonical = program.canonicalize().ok()?;
    if !canonical.starts_with(toolchains) {
        return None;
    }
    let meta = std::fs::metadata(&canonical).ok()?;
    let mut material = Vec::new();
    let mut put = |bytes: &[u8]| {
        material.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        material.extend_from_slice(bytes);
    };
    put(canonical.as_os_str().as_encoded_bytes());
    put(format!("{:?}", file_identity(&meta)).as_bytes());
    for arg in cmd.get_args() {
        let a = arg.to_str()?;
        // A target spec file, an argument file, another sysroot: files the answer depends on.
        if a.ends_with(".json")
            || a.contains("native")
            || a.starts_with('@')
            || a.contains("sysroot")
        {
            return None;
        }
        put(a.as_bytes());
    }
    for (k, v) in cmd.get_envs() {
        put(k.as_encoded_bytes());
        put(v.map(|v| v.as_encoded_bytes()).unwrap_or(b"\0unset"));
    }
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| k.as_encoded_bytes().starts_with(b"RUST"))
        .collect();
    env.sort();
    for (k, v) in &env {
        put(k.as_encoded_bytes());
        put(v.as_encoded_bytes());
    }
    Some(Digest::of(&material).hex()[..32].to_owned())
}

/// Whether every `--target` of `cmd` is one of rustc's built-in targets (`rustc --print
/// target-list`, itself remembered). Built-in names come first; for any other, rustc reads a
/// spec file (`T.json` in the current directory or `RUST_TARGET_PATH`, or in the sysroot),
/// which can change under the same question.
fn targets_are_builtin(cmd: &Command, store: &Path, toolchains: &Path) -> bool {
    let args: Vec<&std::ffi::OsStr> = cmd.get_args().collect();
    let targets: Vec<&str> = args
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a.to_str()? {
            "--target" => args.get(i + 1)?.to_str(),
            other => other.strip_prefix("--target="),
        })
        .collect();
    if targets.is_empty() {
        return true;
    }
    let program = cmd.get_program().to_owned();
    let mut query = Command::new(&program);
    query.args(["--print", "target-list"]);
    let Ok(list) = ask_in(Some(store), Some(toolchains), &mut query, &program)
        .and_then(|a| a.finish(&program, "--print target-list"))
    else {
        return false;
    };
    targets.iter().all(|t| list.lines().any(|l| l.trim() == *t))
}

/// What changes when the file is replaced or rewritten.
#[cfg(unix)]
fn file_identity(meta: &std::fs::Metadata) -> (u64, u64, u64, i64, i64, i64, i64) {
    use std::os::unix::fs::MetadataExt as _;
    (
        meta.len(),
        meta.dev(),
        meta.ino(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
    )
}

/// What changes when the file is replaced or rewritten.
#[cfg(not(unix))]
fn file_identity(meta: &std::fs::Metadata) -> (u64, Option<std::time::SystemTime>) {
    (meta.len(), meta.modified().ok())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A fake toolchain program that counts its runs in `runs` and prints `answer` (and one
    /// built-in target, `builtin-target`, for `--print target-list`).
    fn program(dir: &Path, answer: &str, runs: &Path) -> PathBuf {
        let bin = dir.join("toolchains/stable/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let path = bin.join("rustc");
        let script = format!(
            "#!/bin/sh\necho run >> '{}'\n[ \"$1\" = fail ] && exit 1\n\
             [ \"$2\" = target-list ] && {{ echo builtin-target; exit 0; }}\necho '{answer}'\n",
            runs.display()
        );
        // Written under another name and renamed: a child forked meanwhile by another test
        // may hold the written file open, and running it would fail (ETXTBSY).
        let tmp = bin.join(".rustc.tmp");
        std::fs::write(&tmp, script).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    }

    fn runs(path: &Path) -> usize {
        std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
    }

    fn answer(store: &Path, toolchains: &Path, prog: &Path, arg: &str) -> Result<String> {
        answer_to(store, toolchains, prog, &[arg])
    }

    fn answer_to(store: &Path, toolchains: &Path, prog: &Path, args: &[&str]) -> Result<String> {
        let p = OsString::from(prog);
        ask_in(
            Some(store),
            Some(toolchains),
            Command::new(prog).args(args),
            &p,
        )?
        .finish(&p, &args.join(" "))
    }

    /// A directory with a store, a run counter, a program answering `text` in a fake
    /// toolchain, and that toolchains directory.
    fn fixture(text: &str) -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let (store, count) = (d.path().join("store"), d.path().join("runs"));
        let prog = program(d.path(), text, &count);
        let tc = d.path().join("toolchains").canonicalize().unwrap();
        (d, store, count, prog, tc)
    }

    #[test]
    fn the_store_keeps_the_newest_answers_and_nothing_else_is_touched() {
        let store = tempfile::tempdir().unwrap();
        let at = |i: u64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000 + i);
        let name = |i: usize| format!("{:032x}", i * 7919);
        let make = |i: usize| {
            let p = store.path().join(name(i));
            std::fs::write(&p, "answer").unwrap();
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(at(i as u64))
                .unwrap();
        };
        for i in 0..KEPT_MAX {
            make(i);
        }
        std::fs::write(store.path().join("not-an-answer"), "x").unwrap();
        std::fs::write(store.path().join(format!(".tmp{}", name(1))), "x").unwrap();
        prune(store.path());
        let count = || std::fs::read_dir(store.path()).unwrap().count();
        assert_eq!(count(), KEPT_MAX + 2, "at the bound nothing is dropped");
        make(KEPT_MAX);
        prune(store.path());
        assert_eq!(count(), KEPT_MAX / 2 + 2);
        for i in 0..=KEPT_MAX {
            let kept = store.path().join(name(i)).exists();
            assert_eq!(kept, i > KEPT_MAX / 2, "answer {i}");
        }
        assert!(store.path().join("not-an-answer").exists());
    }

    #[test]
    fn an_answer_is_asked_once_until_the_program_changes() {
        let (d, store, count, prog, tc) = fixture("rustc 1.0");
        assert_eq!(
            answer(&store, &tc, &prog, "-vV").unwrap().trim(),
            "rustc 1.0"
        );
        assert_eq!(
            answer(&store, &tc, &prog, "-vV").unwrap().trim(),
            "rustc 1.0"
        );
        assert_eq!(runs(&count), 1, "the second answer was remembered");
        // An empty file (a power loss after the rename) is asked again, and replaced.
        for f in std::fs::read_dir(&store).unwrap() {
            std::fs::write(f.unwrap().path(), "").unwrap();
        }
        assert_eq!(
            answer(&store, &tc, &prog, "-vV").unwrap().trim(),
            "rustc 1.0"
        );
        assert_eq!(runs(&count), 2);
        answer(&store, &tc, &prog, "-vV").unwrap();
        assert_eq!(runs(&count), 2, "the empty answer was replaced");
        // Another question is asked.
        answer(&store, &tc, &prog, "--print=cfg").unwrap();
        assert_eq!(runs(&count), 3);
        // The toolchain is updated in place: asked again, and the new answer is given.
        std::thread::sleep(std::time::Duration::from_millis(20));
        program(d.path(), "rustc 2.0", &count);
        assert_eq!(
            answer(&store, &tc, &prog, "-vV").unwrap().trim(),
            "rustc 2.0"
        );
        assert_eq!(runs(&count), 4);
    }

    #[test]
    fn failures_and_programs_outside_a_toolchain_are_not_remembered() {
        let (d, store, count, prog, tc) = fixture("x");
        for _ in 0..2 {
            assert!(answer(&store, &tc, &prog, "fail").is_err());
        }
        assert_eq!(runs(&count), 2, "a failure is asked again");
        // The same program, but rustup's toolchains are elsewhere (a proxy, a distro rustc).
        let elsewhere = d.path().join("other");
        std::fs::create_dir_all(&elsewhere).unwrap();
        for _ in 0..2 {
            answer(&store, &elsewhere, &prog, "-vV").unwrap();
        }
        assert_eq!(runs(&count), 4);
        // A target spec file is read by rustc: its answer can change without the program.
        for _ in 0..2 {
            answer(&store, &tc, &prog, "my-target.json").unwrap();
        }
        assert_eq!(runs(&count), 6);
    }

    #[test]
    fn only_built_in_targets_and_no_argument_files_are_remembered() {
        let (_d, store, count, prog, tc) = fixture("target_os=\"none\"");
        // A built-in target: asked once (and the target list once).
        for _ in 0..2 {
            answer_to(
                &store,
                &tc,
                &prog,
                &["--print", "cfg", "--target", "builtin-target"],
            )
            .unwrap();
        }
        assert_eq!(runs(&count), 2);
        // Any other name is a spec file rustc reads (`./my-os.json`, the sysroot): asked
        // every time; the target list stays remembered.
        for _ in 0..2 {
            answer_to(&store, &tc, &prog, &["--print", "cfg", "--target=my-os"]).unwrap();
        }
        assert_eq!(runs(&count), 4);
        // Argument files and another sysroot are files too.
        for args in [["--print", "@flags.txt"], ["--print", "--sysroot=/s"]] {
            for _ in 0..2 {
                answer_to(&store, &tc, &prog, &args).unwrap();
            }
        }
        assert_eq!(runs(&count), 8);
    }
}
