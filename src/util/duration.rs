//! Durations as cosign and Go spell them on the command line: `3m`, `90s`, `1m30s`,
//! `500ms`, `1h` (a plain number is seconds).

use std::time::Duration;

/// Parses `text` (`3m`, `1m30s`, `500ms`, `90`); the error says what is accepted.
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!("`{text}` is not a duration: write a number with a unit, such as 90s, 3m or 1m30s")
    };
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let (mut total, mut rest) = (Duration::ZERO, text);
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let one = match &rest[..unit] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        let part = u32::try_from(n).ok().and_then(|n| one.checked_mul(n));
        total = part.and_then(|p| total.checked_add(p)).ok_or_else(bad)?;
        rest = &rest[unit..];
    }
    match total.is_zero() {
        true => Err(bad()),
        false => Ok(total),
    }
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
        for bad in ["", "0s", "3 m", "m", "3d", "-1s", "1.5s", "99999999999h"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
