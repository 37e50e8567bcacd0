//! RFC 3339 timestamps as the clouds print them (`2024-05-01T12:34:56.000Z`,
//! `2024-05-01T05:34:56.123-07:00`), to Unix seconds. Strict: anything else is an error, so
//! an image whose age can not be told is never taken for an old one.

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Howard Hinnant's days_from_civil: years start in March so the leap day comes last.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        _ => 28,
    }
}

/// Unix seconds of an RFC 3339 date-time with a `Z` or `±HH:MM` offset.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not an RFC 3339 time such as 2024-05-01T12:34:56Z");
    let b = s.as_bytes();
    if b.len() < 20 || !s.is_ascii() {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        if b[r.clone()].iter().all(u8::is_ascii_digit) {
            s[r].parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let o = rest.as_bytes();
            if o.len() != 6 || !matches!(o[0], b'+' | b'-') || o[3] != b':' {
                return Err(bad());
            }
            let digits = |r: std::ops::Range<usize>| -> Result<i64, String> {
                if o[r.clone()].iter().all(u8::is_ascii_digit) {
                    rest[r].parse().map_err(|_| bad())
                } else {
                    Err(bad())
                }
            };
            let (h, m) = (digits(1..3)?, digits(4..6)?);
            if h > 23 || m > 59 {
                return Err(bad());
            }
            let secs = h * 3600 + m * 60;
            if o[0] == b'-' { -secs } else { secs }
        }
    };
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// `3 h`, `2 d`, `45 min`: a short age for evidence.
pub fn human_age(secs: i64) -> String {
    match secs {
        s if s < 0 => "in the future".into(),
        s if s < 3600 => format!("{} min old", s / 60),
        s if s < 2 * 86_400 => format!("{} h old", s / 3600),
        s => format!("{} days old", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cloud_timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("2024-05-01T12:34:56.000Z"), Ok(1_714_566_896));
        // gcloud prints local offsets: the same instant.
        assert_eq!(
            parse_rfc3339("2024-05-01T05:34:56.123-07:00"),
            Ok(1_714_566_896)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00+00:00"),
            Ok(1_709_164_800)
        );
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01 12:34:56Z",
            "2024-05-01T12:34:56",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:34:56.Z",
            "2024-05-01T12:34:56+0700",
            "2024-05-01T12:34:56+07:00 ",
            "yesterday at noon, UTC",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn ages() {
        assert_eq!(human_age(7200), "2 h old");
        assert_eq!(human_age(5 * 86_400), "5 days old");
        assert_eq!(human_age(-5), "in the future");
    }
}
