//! Severity levels: the qualitative rating of a CVSS score (v3.x and v4.0 share it), as the
//! audit gate, `verify --vuln-max-severity` and the admission policies speak of it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A severity level, from the advisory's CVSS vector (v3.x or v4.0 qualitative rating).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// CVSS score 0.0.
    None,
    /// 0.1 to 3.9.
    Low,
    /// 4.0 to 6.9.
    Medium,
    /// 7.0 to 8.9.
    High,
    /// 9.0 to 10.0.
    Critical,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 5] = [
        Level::None,
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Critical,
    ];

    /// The word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = Error;
    fn from_str(s: &str) -> Result<Level> {
        Level::ALL
            .into_iter()
            .filter(|l| *l != Level::None)
            .find(|l| l.as_str() == s.trim())
            .ok_or_else(|| {
                Error::msg(format!(
                    "unknown severity `{s}`: allowed values are low, medium, high, critical"
                ))
            })
    }
}
