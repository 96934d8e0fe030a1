//! The crate's error type and its mapping to exit codes.
//!
//! Every error carries a message that names the thing at fault (a file, a field, a
//! reference) and, where there is one, what to do about it. Two kinds exist because the
//! command contract has two failure exit codes: a check that ran and failed (`1`), and
//! everything else (`2`).

use std::fmt;
use std::path::Path;

/// Which exit code an error maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A verification or policy check ran and failed: exit code 1.
    CheckFailed,
    /// Bad arguments, bad input, an unreachable daemon or registry: exit code 2.
    Input,
}

/// An error with a human message, a kind, and an optional chain of causes.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An input error (exit 2) with a message.
    pub fn msg(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Input,
            message: message.into(),
            source: None,
        }
    }

    /// A failed check (exit 1) with a message.
    pub fn check_failed(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::CheckFailed,
            message: message.into(),
            source: None,
        }
    }

    /// An I/O error on `path`, with what we were doing (`"reading"`, `"writing"`, ...).
    pub fn io(action: &str, path: &Path, source: std::io::Error) -> Self {
        Error {
            kind: ErrorKind::Input,
            message: format!("{action} {}: {source}", path.display()),
            source: None,
        }
    }

    /// Wraps any error as the cause of a new message.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error {
            kind: ErrorKind::Input,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// Prepends context to the message, keeping kind and cause.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The kind of the error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The first cause of type `E` in the chain, for callers that branch on what went wrong
    /// (never on the message).
    pub fn cause<E: std::error::Error + 'static>(&self) -> Option<&E> {
        let mut cause = self
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(e) = cause {
            if let Some(found) = e.downcast_ref::<E>() {
                return Some(found);
            }
            cause = e.source();
        }
        None
    }

    /// The process exit code for this error (1 for a failed check, 2 otherwise).
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::CheckFailed => 1,
            ErrorKind::Input => 2,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        let mut cause = self
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Adds context to results whose error converts into [`Error`].
pub trait Context<T> {
    /// Wraps the error with a message computed lazily.
    fn context_with<C: fmt::Display>(self, f: impl FnOnce() -> C) -> Result<T>;
    /// Wraps the error with a fixed message.
    fn context<C: fmt::Display>(self, c: C) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn context_with<C: fmt::Display>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::with_source(f().to_string(), e))
    }
    fn context<C: fmt::Display>(self, c: C) -> Result<T> {
        self.map_err(|e| Error::with_source(c.to_string(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(Error::msg("x").exit_code(), 2);
        assert_eq!(Error::check_failed("x").exit_code(), 1);
    }

    #[test]
    fn display_includes_the_cause_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = Error::with_source("reading a.json", io).context("loading policy");
        assert_eq!(e.to_string(), "loading policy: reading a.json: gone");
    }
}
