//! Durations as cosign and Go spell them on the command line: `3m`, `90s`, `1m30s`,
//! `500ms`, `1h` (a plain number is seconds).

use std::time::Duration;

/// Parses `text` (`3m`, `1m30s`, `500ms`, `90`); the error says what is accepted.
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!("`{text}` is not a duration: write a number with a unit, such as 90s, 3m or 1m30s")
    };
    let trimmed = text.trim();
    let total = match trimmed.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => with_units(trimmed).ok_or_else(bad)?,
    };
    match total.is_zero() {
        true => Err(bad()),
        false => Ok(total),
    }
}

/// `text` as numbers with units (`1m30s`); `None` when it is not that.
fn with_units(text: &str) -> Option<Duration> {
    let (mut total, mut rest) = (Duration::ZERO, text);
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u32 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let one = match &rest[..unit] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return None,
        };
        total = total.checked_add(one.checked_mul(n)?)?;
        rest = &rest[unit..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        let s = Duration::from_secs;
        assert_eq!(parse("3m"), Ok(s(180)));
        assert_eq!(parse("1m30s"), Ok(s(90)));
        assert_eq!(parse("90"), Ok(s(90)));
        assert_eq!(parse("1h"), Ok(s(3600)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        for bad in [
            "",
            "0",
            "0s",
            "3 m",
            "m",
            "3d",
            "-1s",
            "1.5s",
            "99999999999h",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
