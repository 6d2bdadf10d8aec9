//! [`Timestamp`]: a UTC instant with nanosecond precision.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::error::Error;

/// A UTC instant with nanosecond precision.
///
/// On the wire it is an RFC 3339 string in UTC with nine fractional digits
/// (`2026-11-23T17:00:00.123456789Z`). Any RFC 3339 offset is accepted when
/// reading and converted to UTC, so the instant is kept exactly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// Milliseconds since the Unix epoch (0 before it).
    pub(crate) fn unix_millis(self) -> u64 {
        u64::try_from(self.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
    }

    /// From any offset date-time; converted to UTC. The wire format holds
    /// UTC years 0000 to 9999 only: [`crate::Event::validate`] rejects an
    /// event whose timestamp lies outside them.
    pub fn from_datetime(dt: OffsetDateTime) -> Self {
        Self(dt.to_offset(UtcOffset::UTC))
    }

    /// From nanoseconds since the Unix epoch; an error outside the UTC years
    /// 0000 to 9999 that the wire format holds.
    pub fn from_unix_nanos(nanos: i128) -> Result<Self, Error> {
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map_err(|e| Error::invalid_input(format!("timestamp out of range: {e}")))
            .map(Self)?
            .checked_wire_range()
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(&self) -> i128 {
        self.0.unix_timestamp_nanos()
    }

    /// The UTC date-time.
    pub fn as_datetime(&self) -> OffsetDateTime {
        self.0
    }

    /// Parses an RFC 3339 string with any offset; an error when the instant
    /// falls outside the UTC years 0000 to 9999 (as `0000-01-01T00:00:00+01:00`
    /// does), since it could not be written back.
    pub fn parse_rfc3339(s: &str) -> Result<Self, Error> {
        if let Some(t) = Self::parse_canonical(s.as_bytes()) {
            return Ok(t);
        }
        OffsetDateTime::parse(s, &Rfc3339)
            .map(Self::from_datetime)
            .map_err(|e| Error::invalid_input(format!("invalid RFC 3339 timestamp {s:?}: {e}")))?
            .checked_wire_range()
    }

    /// Self, or an error when its UTC year is outside 0000 to 9999: RFC 3339
    /// (our wire format) cannot write such an instant in a way it reads back.
    pub(crate) fn checked_wire_range(self) -> Result<Self, Error> {
        // Compared as instants: cheaper than deriving the calendar year on every append.
        const FIRST: OffsetDateTime = time::macros::datetime!(0000-01-01 0:00 UTC);
        const LAST: OffsetDateTime = time::macros::datetime!(9999-12-31 23:59:59.999_999_999 UTC);
        if (FIRST..=LAST).contains(&self.0) {
            Ok(self)
        } else {
            Err(Error::invalid_input(format!(
                "timestamp {self} is outside the years 0000 to 9999 that RFC 3339 can hold"
            )))
        }
    }

    /// Fast path for the form we write: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`. `None` for
    /// anything else (the general parser then decides).
    fn parse_canonical(b: &[u8]) -> Option<Self> {
        if b.len() != 30
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'.'
            || b[29] != b'Z'
        {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        let date = time::Date::from_calendar_date(
            i32::try_from(num(0..4)?).ok()?,
            time::Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?,
            u8::try_from(num(8..10)?).ok()?,
        )
        .ok()?;
        let t = time::Time::from_hms_nano(
            u8::try_from(num(11..13)?).ok()?,
            u8::try_from(num(14..16)?).ok()?,
            u8::try_from(num(17..19)?).ok()?,
            num(20..29)?,
        )
        .ok()?;
        Some(Self(time::PrimitiveDateTime::new(date, t).assume_utc()))
    }

    /// The RFC 3339 form in UTC with nine fractional digits.
    pub fn to_rfc3339(&self) -> String {
        let mut buf = [0u8; 30];
        match self.write_canonical(&mut buf) {
            Some(s) => s.to_owned(),
            None => self.rfc3339_general(),
        }
    }

    /// Writes the canonical form into `buf` without allocating; `None` for years
    /// outside 0..=9999, which need the general form.
    fn write_canonical<'b>(&self, buf: &'b mut [u8; 30]) -> Option<&'b str> {
        let d = self.0;
        let year = u32::try_from(d.year()).ok().filter(|y| *y <= 9999)?;
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, u32::from(u8::from(d.month())));
        put(8, 2, u32::from(d.day()));
        put(11, 2, u32::from(d.hour()));
        put(14, 2, u32::from(d.minute()));
        put(17, 2, u32::from(d.second()));
        put(20, 9, d.nanosecond());
        for (i, c) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (29, b'Z'),
        ] {
            buf[i] = c;
        }
        std::str::from_utf8(buf).ok()
    }

    fn rfc3339_general(&self) -> String {
        let d = self.0;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second(),
            d.nanosecond()
        )
    }
}

impl Default for Timestamp {
    fn default() -> Self {
        Self::now()
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 30];
        match self.write_canonical(&mut buf) {
            Some(s) => f.write_str(s),
            None => f.write_str(&self.rfc3339_general()),
        }
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(dt: OffsetDateTime) -> Self {
        Self::from_datetime(dt)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 30];
        match self.write_canonical(&mut buf) {
            Some(s) => serializer.serialize_str(s),
            None => serializer.serialize_str(&self.rfc3339_general()),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A visitor of `&str` rather than a `Cow<str>`, which serde always
        // fills with an owned copy: this runs for every event read.
        struct TimestampVisitor;
        impl serde::de::Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(s).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(TimestampVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_nanoseconds_and_normalises_offsets() {
        let t = Timestamp::parse_rfc3339("2024-02-29T23:30:00.123456789+05:30").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-02-29T18:00:00.123456789Z");
        let back: Timestamp = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        let neg = Timestamp::parse_rfc3339("1969-12-31T20:00:00.000000001-04:00").unwrap();
        assert_eq!(neg.unix_nanos(), 1);
    }

    #[test]
    fn fast_and_general_paths_agree() {
        for s in [
            "2026-11-23T17:00:00.123456789Z",
            "0001-01-01T00:00:00.000000000Z",
            "9999-12-31T23:59:59.999999999Z",
            "2024-02-29T00:00:00.000000001Z",
        ] {
            let fast = Timestamp::parse_canonical(s.as_bytes()).unwrap();
            let general = Timestamp::from_datetime(OffsetDateTime::parse(s, &Rfc3339).unwrap());
            assert_eq!(fast, general);
            assert_eq!(fast.to_rfc3339(), s);
            assert_eq!(fast.to_rfc3339(), fast.rfc3339_general());
        }
        for bad in [
            "2023-02-29T00:00:00.000000000Z",
            "2026-13-01T00:00:00.000000000Z",
            "2026-11-23T24:00:00.000000000Z",
            "2026-11-23T17:00:00.12345678xZ",
            "+026-11-23T17:00:00.000000000Z",
        ] {
            assert!(
                Timestamp::parse_canonical(bad.as_bytes()).is_none(),
                "{bad}"
            );
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    /// Regression: instants before year 0 were accepted, then written as
    /// `-001-12-31T..Z`, which no reader accepts: an event carrying one was
    /// stored and then poisoned every replay of its actor.
    #[test]
    fn instants_outside_the_wire_range_are_refused() {
        let before_year_0 = -62_167_219_200_000_000_001;
        assert!(Timestamp::from_unix_nanos(before_year_0).is_err());
        assert!(Timestamp::from_unix_nanos(before_year_0 + 1).is_ok());
        assert!(Timestamp::parse_rfc3339("0000-01-01T00:00:00+01:00").is_err());
        let t = Timestamp::parse_rfc3339("0000-01-01T00:00:00Z").unwrap();
        let back: Timestamp = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        let far = Timestamp::from_datetime(
            OffsetDateTime::from_unix_timestamp_nanos(before_year_0).unwrap(),
        );
        assert!(far.checked_wire_range().is_err());
    }

    #[test]
    fn rejects_garbage() {
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
        assert!(serde_json::from_str::<Timestamp>("42").is_err());
    }
}
