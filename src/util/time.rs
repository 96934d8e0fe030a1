//! Time stamps for attestations, derived from `SOURCE_DATE_EPOCH` where reproducibility
//! asks for it.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};

/// Formats seconds since the Unix epoch as RFC 3339 in UTC with a `Z` suffix
/// (`2023-11-14T22:13:20Z`).
pub fn rfc3339(epoch_seconds: i64) -> Result<String> {
    let t = OffsetDateTime::from_unix_timestamp(epoch_seconds)
        .map_err(|e| Error::msg(format!("time stamp {epoch_seconds} is out of range: {e}")))?;
    t.format(&Rfc3339)
        .map_err(|e| Error::msg(format!("formatting time {epoch_seconds}: {e}")))
}

/// Parses a `SOURCE_DATE_EPOCH` value (decimal seconds), naming the variable on error.
pub fn parse_source_date_epoch(value: &str) -> Result<i64> {
    value.trim().parse::<i64>().map_err(|_| {
        Error::msg(format!(
            "SOURCE_DATE_EPOCH=`{value}` is not a whole number of seconds since 1970-01-01; \
             unset it to use the commit time"
        ))
    })
}

/// `SOURCE_DATE_EPOCH` from the environment: the one reader, with the one rule for its
/// values. Unset, empty or blank is `None` (CI systems often export the variable empty);
/// anything else must be a whole number of seconds.
pub fn source_date_epoch_env() -> Result<Option<i64>> {
    source_date_epoch_value(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())
}

/// [`source_date_epoch_env`]'s rule for a value (`None` when the variable is unset).
pub fn source_date_epoch_value(value: Option<&str>) -> Result<Option<i64>> {
    match value {
        Some(v) if !v.trim().is_empty() => parse_source_date_epoch(v).map(Some),
        _ => Ok(None),
    }
}

/// The current time in seconds since the epoch.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// CPU seconds (user + system, all threads) this process used so far, from
/// `/proc/self/stat` (clock ticks of 10 ms); `None` where there is no such file.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(1_700_000_000).unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn an_empty_epoch_is_unset_and_garbage_an_error() {
        assert_eq!(source_date_epoch_value(None).unwrap(), None);
        assert_eq!(source_date_epoch_value(Some("")).unwrap(), None);
        assert_eq!(source_date_epoch_value(Some("  ")).unwrap(), None);
        assert_eq!(source_date_epoch_value(Some("42")).unwrap(), Some(42));
        assert!(source_date_epoch_value(Some("x")).is_err());
    }

    #[test]
    fn rejects_garbage_epoch() {
        let e = parse_source_date_epoch("yesterday").unwrap_err();
        assert!(e.to_string().contains("SOURCE_DATE_EPOCH"));
    }
}
