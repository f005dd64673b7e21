//! UTC calendar arithmetic for record timestamps and day file names (no time zone data
//! needed: the log is always UTC).

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` for microseconds since the Unix epoch.
pub fn rfc3339_micros(micros: i64) -> String {
    let mut text = String::with_capacity(27);
    push_rfc3339_micros(micros, &mut text);
    text
}

/// [`rfc3339_micros`] written onto `out` (every record has one: no `String` of its own).
pub fn push_rfc3339_micros(micros: i64, out: &mut String) {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    if !(0..=9999).contains(&y) {
        let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
        out.push_str(&format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:06}Z"));
        return;
    }
    // Digits by hand into a fixed layout, not through `fmt`.
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    for (n, end, width) in [
        (y, 4, 4),
        (m, 7, 2),
        (d, 10, 2),
        (rem / 3600, 13, 2),
        (rem % 3600 / 60, 16, 2),
        (rem % 60, 19, 2),
        (frac, 26, 6),
    ] {
        digits(&mut text[end - width..end], n);
    }
    // Only ASCII digits and separators went in.
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

/// Writes `n` (0 <= n < 10^len) into `out` in `out.len()` decimal digits.
fn digits(out: &mut [u8], mut n: i64) {
    for place in out.iter_mut().rev() {
        *place = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// `YYYY-MM-DD`, the UTC day of `micros`.
pub fn day(micros: i64) -> String {
    let (y, m, d) = civil(micros.div_euclid(86_400_000_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.f]Z` back to microseconds (for tests and the clock hook).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let t = text.strip_suffix('Z')?;
    let (date, clock) = t.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
    let mut c = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (c.next()??, c.next()??, c.next()??);
    let micros: i64 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    let days = days_from_civil(y, mo, da);
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) * 1_000_000) + micros)
}

/// Days since 1970-01-01 to (year, month, day); H. Hinnant's `civil_from_days`.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339_micros(951_782_400_000_001), "2000-02-29T00:00:00.000001Z");
        assert_eq!(rfc3339_micros(1_795_478_399_999_999), "2026-11-23T23:59:59.999999Z");
        assert_eq!(day(1_795_478_399_999_999), "2026-11-23");
        assert_eq!(day(1_795_478_400_000_000), "2026-11-24");
        // Years the fixed layout cannot hold are written through `fmt`.
        assert_eq!(rfc3339_micros(-62_167_219_200_000_001), "-001-12-31T23:59:59.999999Z");
        assert_eq!(rfc3339_micros(253_402_300_800_000_000), "10000-01-01T00:00:00.000000Z");
    }

    #[test]
    fn parse_is_the_inverse() {
        for t in [0, 951_782_400_000_001, 1_795_478_399_999_999, 4_102_444_800_123_456] {
            assert_eq!(parse_rfc3339(&rfc3339_micros(t)), Some(t));
        }
        assert_eq!(parse_rfc3339("2026-11-23T23:59:59Z"), Some(1_795_478_399_000_000));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
