//! The verifier's own recomputation of the keyed values the contract in [`crate::deid`] specifies
//! (new UIDs, a participant's date offset, UIDs and dates inside retained private blobs).
//!
//! Deliberately a second implementation of the same specification, not a call into the writer's
//! `deid::keyed`: if either side misreads the specification, their outputs differ and verify says
//! so. Tested against the contract's test vectors.

use chrono::{Duration, NaiveDate};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The study key, as the verifier holds it: HMAC-SHA256 already keyed with it (the key
/// schedule done once, the state cloned for each value). Never printed (no `Debug` of the key).
#[derive(Clone)]
pub struct Key {
    mac: Hmac<Sha256>,
    /// Names this key (and its clones) in the per-thread caches of computed values.
    id: u64,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// The default range of a date offset, in days before the original.
pub const OFFSET_DAYS: (i64, i64) = (30, 365);

/// Keyed values computed on this thread, for one key at a time: a participant's files repeat
/// the same Study, Series and FrameOfReference UIDs (and the same UIDs inside their private
/// blobs), each recomputed otherwise for every file.
#[derive(Default)]
struct Memo {
    key: u64,
    uids: std::collections::HashMap<String, String>,
    blob_uids: std::collections::HashMap<String, String>,
}

/// Past this many values a thread's memo starts over (a long run stays bounded).
const MEMO_MAX: usize = 4096;

thread_local! {
    static MEMO: std::cell::RefCell<Memo> = Default::default();
}

impl Key {
    /// A key from its 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Key {
            mac: <Hmac<Sha256> as KeyInit>::new_from_slice(&bytes)
                .expect("HMAC takes a key of any length"),
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Reads `.anontrack/study.key` (32 raw bytes); `None` when missing or not 32 bytes long.
    pub fn read(path: &std::path::Path) -> Option<Self> {
        let b = std::fs::read(path).ok()?;
        Some(Key::new(b.as_slice().try_into().ok()?))
    }

    /// `H(label, text)` = HMAC-SHA256(key, label ‖ text).
    fn h(&self, label: &str, text: &str) -> [u8; 32] {
        let mut m = self.mac.clone();
        m.update(label.as_bytes());
        m.update(text.as_bytes());
        m.finalize().into_bytes().into()
    }

    /// `f` of this thread's memo, emptied first when it holds another key's values or too many.
    fn memo<R>(&self, f: impl FnOnce(&mut Memo) -> R) -> R {
        MEMO.with(|m| {
            let mut m = m.borrow_mut();
            if m.key != self.id || m.uids.len() + m.blob_uids.len() > MEMO_MAX {
                *m = Memo {
                    key: self.id,
                    ..Memo::default()
                };
            }
            f(&mut m)
        })
    }

    /// The new UID for an original UID (padding removed first).
    pub fn uid(&self, original: &str) -> String {
        let u = original.trim_end_matches(['\0', ' ']);
        let h = self.h("anontrack-uid:", u);
        let n = u128::from_be_bytes(h[..16].try_into().expect("16 bytes"));
        format!("2.25.{n}")
    }

    /// Whether `new` is [`uid`](Self::uid)`(original)`, from this thread's memo when the same
    /// original was seen before.
    pub fn is_uid_of(&self, original: &str, new: &str) -> bool {
        let u = original.trim_end_matches(['\0', ' ']);
        self.memo(|m| {
            if let Some(want) = m.uids.get(u) {
                return want == new;
            }
            let want = self.uid(u);
            let same = want == new;
            m.uids.insert(u.to_string(), want);
            same
        })
    }

    /// A participant's date offset in days (negative), from the sheet's Original ID.
    pub fn date_offset(&self, original_id: &str, (min, max): (i64, i64)) -> i64 {
        let h = self.h("anontrack-date:", original_id.trim());
        let v = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
        let span = u64::try_from(max - min + 1).unwrap_or(1).max(1);
        -(min + i64::try_from(v % span).unwrap_or(0))
    }

    /// The same-length replacement of a UID found inside a retained private blob.
    pub fn blob_uid(&self, s: &str) -> String {
        let h = self.h("anontrack-blob-uid:", s);
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::with_capacity(s.len());
        for (i, &c) in chars.iter().enumerate() {
            if c == '.' {
                out.push('.');
                continue;
            }
            let mut d = h[i % 32] % 10;
            let starts = i == 0 || chars[i - 1] == '.';
            let long = chars.get(i + 1).is_some_and(|n| *n != '.');
            if d == 0 && starts && long {
                d = 1;
            }
            out.push(char::from(b'0' + d));
        }
        out
    }

    /// `f` of [`blob_uid`](Self::blob_uid)`(s)`, from this thread's memo when `s` was seen
    /// before.
    pub fn with_blob_uid<R>(&self, s: &str, f: impl FnOnce(&str) -> R) -> R {
        self.memo(|m| {
            if let Some(sub) = m.blob_uids.get(s) {
                return f(sub);
            }
            let sub = self.blob_uid(s);
            let r = f(&sub);
            m.blob_uids.insert(s.to_string(), sub);
            r
        })
    }
}

/// A `YYYYMMDD` date moved by `days`; `None` when it is not such a date.
///
/// Eight ASCII digits (every date a file holds) are moved by civil-calendar arithmetic
/// (`days_from_civil`, `civil_from_days`); anything else, and a result outside the years
/// 0000-9999, goes through chrono, whose answer this gives in every case (tested).
pub fn shift_date(date: &str, days: i64) -> Option<String> {
    if let Some(moved) = shift_digits(date.as_bytes(), days) {
        return moved.map(|d| String::from_utf8_lossy(&d).into_owned());
    }
    shift_date_chrono(date, days)
}

/// [`shift_date`] for eight ASCII digits without chrono: `None` when it cannot say (not eight
/// digits, a huge offset, or a result outside the years 0000-9999), `Some(None)` when it is no
/// valid date.
fn shift_digits(date: &[u8], days: i64) -> Option<Option<[u8; 8]>> {
    let d: [u8; 8] = date.try_into().ok()?;
    if !d.iter().all(u8::is_ascii_digit) || !(-3_000_000..=3_000_000).contains(&days) {
        return None;
    }
    let num =
        |r: std::ops::Range<usize>| d[r].iter().fold(0i64, |n, c| n * 10 + i64::from(c - b'0'));
    let (y, m, day) = (num(0..4), num(4..6), num(6..8));
    if !(1..=12).contains(&m) || day < 1 || day > days_in_month(y, m) {
        return Some(None);
    }
    let (y, m, day) = civil_from_days(days_from_civil(y, m, day) + days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let mut out = [b'0'; 8];
    for (at, (v, width)) in [(0, (y, 4)), (4, (m, 2)), (6, (day, 2))] {
        let mut v = v;
        for i in (at..at + width).rev() {
            out[i] = b'0' + u8::try_from(v % 10).unwrap_or(0);
            v /= 10;
        }
    }
    Some(Some(out))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `z` days from 1970-01-01, as (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `NaiveDate::parse_from_str(date, "%Y%m%d")`, without chrono's format parser for eight ASCII
/// digits (every date a file holds); anything else still goes through it (tested to agree).
pub fn ymd(date: &str) -> Option<NaiveDate> {
    let d = date.as_bytes();
    if d.len() != 8 || !d.iter().all(u8::is_ascii_digit) {
        return NaiveDate::parse_from_str(date, "%Y%m%d").ok();
    }
    let num =
        |r: std::ops::Range<usize>| d[r].iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
    let year = i32::try_from(num(0..4)).ok()?;
    NaiveDate::from_ymd_opt(year, num(4..6), num(6..8))
}

/// [`shift_date`] by chrono, for what is not eight digits.
fn shift_date_chrono(date: &str, days: i64) -> Option<String> {
    let d = NaiveDate::parse_from_str(date, "%Y%m%d").ok()?;
    if date.len() != 8 {
        return None;
    }
    let moved = d.checked_add_signed(Duration::try_days(days)?)?;
    Some(moved.format("%Y%m%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        Key::new(k)
    }

    #[test]
    fn the_contracts_test_vectors() {
        let k = key();
        assert_eq!(
            k.uid("1.2.840.113619.2.1.1.1"),
            "2.25.25695716793682185042020248520443766625"
        );
        assert_eq!(
            k.uid("1.2.840.113619.2.1.1.1\0"),
            k.uid("1.2.840.113619.2.1.1.1")
        );
        assert_eq!(k.date_offset("60784", OFFSET_DAYS), -164);
        assert_eq!(k.date_offset(" 60784 ", OFFSET_DAYS), -164);
        assert_eq!(
            k.blob_uid("1.3.12.2.1107.5.2.32.35162.2013102415040717859311017"),
            "0.5.27.8.3863.7.6.11.83641.9994602522778538638766411"
        );
    }

    #[test]
    fn another_key_gives_other_values_and_the_key_is_never_shown() {
        let mut other = [7u8; 32];
        other[0] = 1;
        let other = Key::new(other);
        assert_ne!(other.uid("1.2.3"), key().uid("1.2.3"));
        assert_eq!(format!("{other:?}"), "Key(..)");
    }

    #[test]
    fn dates_shift_by_days() {
        assert_eq!(shift_date("20240301", -1).as_deref(), Some("20240229"));
        assert_eq!(shift_date("2024031", -1), None);
        assert_eq!(shift_date("Anonymous", -1), None);
    }

    #[test]
    fn the_civil_calendar_shift_agrees_with_chrono() {
        // Every day of some years (leap rules included), by offsets either way.
        let mut checked = 0;
        for y in [
            0, 1, 4, 99, 100, 400, 1582, 1899, 1900, 1999, 2000, 2023, 2024, 2100, 9999,
        ] {
            for m in 0..=13 {
                for d in 0..=32 {
                    let date = format!("{y:04}{m:02}{d:02}");
                    for days in [-400_000, -366, -365, -164, -30, -1, 0, 1, 59, 365, 800_000] {
                        assert_eq!(
                            shift_date(&date, days),
                            shift_date_chrono(&date, days),
                            "{date} {days}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 70_000);
        // Every date of 1900-2099 (by day number), moved by the default offsets' range.
        for z in days_from_civil(1900, 1, 1)..days_from_civil(2100, 1, 1) {
            let (y, m, d) = civil_from_days(z);
            let date = format!("{y:04}{m:02}{d:02}");
            for days in [-365, -200, -30] {
                assert_eq!(
                    shift_date(&date, days),
                    shift_date_chrono(&date, days),
                    "{date}"
                );
            }
        }
        // What is not eight digits goes to chrono as before.
        for odd in [
            "2024031",
            "-0010101",
            "+2024011",
            "2024 301",
            "２０２４0301",
            "",
            "20240301 ",
        ] {
            assert_eq!(shift_date(odd, -1), shift_date_chrono(odd, -1), "{odd}");
        }
    }

    #[test]
    fn dates_are_read_as_chrono_reads_them() {
        let chrono = |s: &str| NaiveDate::parse_from_str(s, "%Y%m%d").ok();
        for y in [0, 1, 99, 100, 1900, 1999, 2000, 2023, 2024, 2100, 9999] {
            for m in 0..=13 {
                for d in 0..=32 {
                    let s = format!("{y:04}{m:02}{d:02}");
                    assert_eq!(ymd(&s), chrono(&s), "{s}");
                }
            }
        }
        for odd in [
            "2024031",
            "-0010101",
            "+2024011",
            "2024 301",
            "",
            "20240301 ",
            "2024-3-1",
        ] {
            assert_eq!(ymd(odd), chrono(odd), "{odd}");
        }
    }

    #[test]
    fn memoised_values_are_the_computed_ones_for_each_key() {
        let (k, other) = (key(), Key::new([3u8; 32]));
        for u in ["1.2.3", "1.2.3\0", "1.2.840.113619.2.1.1.1"] {
            for _ in 0..2 {
                assert!(k.is_uid_of(u, &k.uid(u)));
                assert!(!k.is_uid_of(u, &other.uid(u)));
                assert!(other.is_uid_of(u, &other.uid(u)));
            }
        }
        let b = "1.3.12.2.1107.5.2.32.35162.2013102415040717859311017";
        for _ in 0..2 {
            assert_eq!(k.with_blob_uid(b, str::to_string), k.blob_uid(b));
            assert_eq!(other.with_blob_uid(b, str::to_string), other.blob_uid(b));
        }
    }
}
