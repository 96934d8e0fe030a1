//! What the user sees: cargo-style status lines on stderr, machine-readable JSON lines on
//! stdout with `--message-format json`, verbosity and color.
//!
//! Human status lines follow cargo's look (`   Compiling foo`): a right-aligned green verb
//! and a message. With `--message-format json` nothing decorative is printed; each event is
//! one JSON object on its own line on stdout (`{"reason":"...", ...}`), and the final result
//! is printed the same way.

use std::io::{IsTerminal, Write};

use serde::Serialize;

/// `--message-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MessageFormat {
    /// Status lines for people, on stderr.
    #[default]
    Human,
    /// One JSON object per line on stdout.
    Json,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Color when stderr is a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always color.
    Always,
    /// Never color.
    Never,
}

/// The output settings of one invocation.
#[derive(Debug, Clone)]
pub struct Ui {
    format: MessageFormat,
    /// -1 quiet, 0 normal, 1.. verbose.
    verbosity: i8,
    color: bool,
}

impl Default for Ui {
    fn default() -> Self {
        Ui::new(MessageFormat::Human, 0, ColorChoice::Never)
    }
}

impl Ui {
    /// Builds the output settings from the global flags.
    pub fn new(format: MessageFormat, verbosity: i8, color: ColorChoice) -> Self {
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
            }
        };
        Ui {
            format,
            verbosity,
            color,
        }
    }

    /// The message format in effect.
    pub fn format(&self) -> MessageFormat {
        self.format
    }

    /// True with `--message-format json`.
    pub fn is_json(&self) -> bool {
        self.format == MessageFormat::Json
    }

    /// True with `-v` or more.
    pub fn is_verbose(&self) -> bool {
        self.verbosity > 0
    }

    /// True on a terminal with human output and not `-q`: progress may be drawn.
    pub fn shows_progress(&self) -> bool {
        !self.is_json() && self.verbosity >= 0 && std::io::stderr().is_terminal()
    }

    /// A cargo-style status line (`    Building image`), unless quiet or JSON.
    pub fn status(&self, verb: &str, message: impl std::fmt::Display) {
        if self.is_json() || self.verbosity < 0 {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.color {
            let _ = writeln!(err, "\x1b[1;32m{verb:>12}\x1b[0m {message}");
        } else {
            let _ = writeln!(err, "{verb:>12} {message}");
        }
    }

    /// A status line shown only with `-v`.
    pub fn verbose(&self, verb: &str, message: impl std::fmt::Display) {
        if self.is_verbose() {
            self.status(verb, message);
        }
    }

    /// A warning: `warning: ...` on stderr for people, a `{"reason":"warning"}` line in JSON.
    pub fn warn(&self, message: impl std::fmt::Display) {
        if self.is_json() {
            self.json(&serde_json::json!({"reason": "warning", "message": message.to_string()}));
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.color {
            let _ = writeln!(err, "\x1b[1;33mwarning\x1b[0m: {message}");
        } else {
            let _ = writeln!(err, "warning: {message}");
        }
    }

    /// Prints one JSON value as a single line on stdout (JSON mode events and results).
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) {
        let mut out = std::io::stdout().lock();
        if let Ok(line) = serde_json::to_string(value) {
            let _ = writeln!(out, "{line}");
        }
    }

    /// Prints an error the way cargo does (`error: ...`) on stderr; in JSON mode also a
    /// `{"reason":"error"}` line on stdout.
    pub fn error(&self, message: impl std::fmt::Display) {
        if self.is_json() {
            self.json(&serde_json::json!({"reason": "error", "message": message.to_string()}));
        }
        let mut err = std::io::stderr().lock();
        if self.color {
            let _ = writeln!(err, "\x1b[1;31merror\x1b[0m: {message}");
        } else {
            let _ = writeln!(err, "error: {message}");
        }
    }
}
