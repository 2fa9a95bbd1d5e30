//! The study key and the keyed values of the contract in [`crate::deid`]: new UIDs, the
//! participant's date offset, same-length substitutes inside retained private blobs.
//!
//! The key is 32 bytes from the operating system's random source, kept in
//! `.anontrack/study.key` beside the workbook (or where `key_file` / `--key-file` says), mode
//! 0600. It is never printed: [`StudyKey`]'s `Debug` shows only its fingerprint (the first 16
//! hex digits of the key's SHA-256), which plans and reports may quote. Losing the key means a
//! re-run gives other UIDs and other dates.
//!
//! The writer calls these for every UID and date of every file, so they avoid the obvious costs:
//! the HMAC's key schedule is done once per key (each value clones the keyed state), a UID's
//! decimal is written without `u128`'s formatter, each thread remembers the UIDs it keyed last
//! (for the last key it used), and a date is shifted by day arithmetic on its digits (chrono
//! only for years outside 0001-9999, where its own rules decide).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the key lives by default, relative to the workbook's folder.
pub const DEFAULT_KEY_FILE: &str = ".anontrack/study.key";

/// The key file of a study: `key_file` from anontrack.toml (relative to the workbook's folder
/// `base`) or `.anontrack/study.key` there.
pub fn key_path(base: &Path, key_file: Option<&str>) -> PathBuf {
    base.join(key_file.unwrap_or(DEFAULT_KEY_FILE))
}

/// The default range of date offsets, in days before the original date.
pub const DEFAULT_OFFSET_DAYS: (u32, u32) = (30, 365);

/// The study's secret key.
#[derive(Clone)]
pub struct StudyKey {
    bytes: [u8; 32],
    /// HMAC-SHA256 keyed with `bytes`, nothing hashed yet: cloned for every keyed value.
    mac: Hmac<Sha256>,
}

impl PartialEq for StudyKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for StudyKey {}

impl fmt::Debug for StudyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StudyKey({})", self.fingerprint())
    }
}

/// Why the key could not be read or created. Messages name the path, never the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the study key `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the study key `{path}` holds {len} bytes, not 32 (hint: it was changed or truncated; \
         restore it from a backup, because a new key gives other UIDs and dates)"
    )]
    Length { path: PathBuf, len: usize },
    #[error("cannot create the study key `{path}`: {reason}")]
    Create { path: PathBuf, reason: String },
}

impl StudyKey {
    /// A key from its 32 bytes (tests and the verifier's own loading).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&bytes)
            .expect("HMAC takes a key of any length");
        Self { bytes, mac }
    }

    /// A new key from the operating system's random source.
    pub fn generate() -> Result<Self, String> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| e.to_string())?;
        Ok(Self::from_bytes(b))
    }

    /// Reads the key at `path`: exactly 32 raw bytes.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let bytes = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::Length {
            path: path.to_path_buf(),
            len: bytes.len(),
        })?;
        Ok(Self::from_bytes(arr))
    }

    /// Reads the key at `path`, or creates it there (mode 0600, its folder created) if no file
    /// exists; the flag says whether it was created now. Creation writes a temp file and links
    /// it into place, so two runs starting at once end up with one key.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), KeyError> {
        if path.exists() {
            return Self::load(path).map(|k| (k, false));
        }
        let create = |reason: String| KeyError::Create {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| create(e.to_string()))?;
        }
        let key = Self::generate().map_err(create)?;
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let written = (|| -> std::io::Result<()> {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&tmp)?;
            f.write_all(&key.bytes)?;
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(create(e.to_string()));
        }
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok((key, true)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::load(path).map(|k| (k, false))
            }
            Err(e) => Err(create(e.to_string())),
        }
    }

    /// The first 16 hex digits of the key's SHA-256: names the key in plans and reports.
    pub fn fingerprint(&self) -> String {
        let d = Sha256::digest(self.bytes);
        d.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// `H(label, text)` = HMAC-SHA256(key, label ‖ text).
    fn h(&self, label: &str, text: &str) -> [u8; 32] {
        let mut m = self.mac.clone();
        m.update(label.as_bytes());
        m.update(text.as_bytes());
        m.finalize().into_bytes().into()
    }

    /// The new UID for an original UID (action U): `2.25.` and the decimal of the first 16
    /// bytes of `H("anontrack-uid:", u)`, `u` without trailing NUL and space padding.
    pub fn uid(&self, original: &str) -> String {
        let mut out = Vec::with_capacity(44);
        self.push_uid(original, &mut out);
        String::from_utf8(out).expect("a UID is ASCII")
    }

    /// [`StudyKey::uid`] appended to `out`. Remembered per thread for the last key used there
    /// (a participant's files share their study, series and frame-of-reference UIDs, and a
    /// SOPInstanceUID is asked for twice per file): a bounded map, emptied when it fills up.
    pub fn push_uid(&self, original: &str, out: &mut Vec<u8>) {
        type Memo = Option<([u8; 32], HashMap<Box<str>, Box<[u8]>>)>;
        thread_local! {
            static MEMO: RefCell<Memo> = const { RefCell::new(None) };
        }
        let u = original.trim_end_matches(['\0', ' ']);
        MEMO.with(|m| {
            let mut m = m.borrow_mut();
            let memo = match &mut *m {
                Some((key, memo)) if *key == self.bytes => memo,
                other => &mut other.insert((self.bytes, HashMap::new())).1,
            };
            if let Some(new) = memo.get(u) {
                out.extend_from_slice(new);
                return;
            }
            let from = out.len();
            let h = self.h("anontrack-uid:", u);
            let n = u128::from_be_bytes(h[..16].try_into().expect("16 bytes"));
            out.extend_from_slice(b"2.25.");
            push_decimal(n, out);
            if memo.len() >= 1 << 14 {
                memo.clear();
            }
            memo.insert(u.into(), out[from..].into());
        })
    }

    /// The participant's date offset in days (negative), in the default range.
    pub fn date_offset(&self, original_id: &str) -> i64 {
        self.date_offset_in(original_id, DEFAULT_OFFSET_DAYS.0, DEFAULT_OFFSET_DAYS.1)
    }

    /// The participant's date offset in days: `-(min + v % (max - min + 1))`, `v` the first 8
    /// bytes of `H("anontrack-date:", original_id.trim())`. `max < min` is read as `max = min`.
    pub fn date_offset_in(&self, original_id: &str, min: u32, max: u32) -> i64 {
        let max = max.max(min);
        let h = self.h("anontrack-date:", original_id.trim());
        let v = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
        -(i64::from(min) + (v % (u64::from(max - min) + 1)) as i64)
    }

    /// The same-length substitute for a UID found inside a retained private blob.
    pub fn blob_uid(&self, found: &str) -> String {
        let h = self.h("anontrack-blob-uid:", found);
        let chars: Vec<char> = found.chars().collect();
        let mut out = String::with_capacity(found.len());
        for (i, c) in chars.iter().enumerate() {
            if *c == '.' {
                out.push('.');
                continue;
            }
            let mut d = char::from(b'0' + h[i % 32] % 10);
            let starts_component = i == 0 || chars[i - 1] == '.';
            let component_longer_than_one = chars.get(i + 1).is_some_and(|n| *n != '.');
            if d == '0' && starts_component && component_longer_than_one {
                d = '1';
            }
            out.push(d);
        }
        out
    }
}

/// `n` in decimal, appended to `out` (what `format!("{n}")` writes).
fn push_decimal(n: u128, out: &mut Vec<u8>) {
    // Long division of four 32-bit limbs by 10^9: u64 divisions by a constant (multiplications),
    // not the software u128 division `u128`'s formatter and `%` call.
    const BILLION: u64 = 1_000_000_000;
    let mut limbs = [
        (n >> 96) as u32,
        (n >> 64) as u32,
        (n >> 32) as u32,
        n as u32,
    ];
    let mut digits = [0u8; 45];
    let mut i = digits.len();
    loop {
        let mut rem = 0u64;
        for l in &mut limbs {
            let cur = (rem << 32) | u64::from(*l);
            *l = (cur / BILLION) as u32;
            rem = cur % BILLION;
        }
        let done = limbs.iter().all(|l| *l == 0);
        for _ in 0..9 {
            i -= 1;
            digits[i] = b'0' + (rem % 10) as u8;
            rem /= 10;
            if done && rem == 0 {
                break;
            }
        }
        if done {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// A DA value (`YYYYMMDD`) moved by `days`; `None` when it is not a valid date.
pub fn shift_date(value: &str, days: i64) -> Option<String> {
    let mut out = Vec::with_capacity(8);
    push_shifted_date(value, days, &mut out).then(|| String::from_utf8(out).expect("ASCII"))
}

/// [`shift_date`] appended to `out`; false (nothing appended) when `value` is not a valid date.
pub fn push_shifted_date(value: &str, days: i64, out: &mut Vec<u8>) -> bool {
    let v = value.trim_end_matches(['\0', ' ']).as_bytes();
    let Ok(v) = <[u8; 8]>::try_from(v) else {
        return false;
    };
    if !v.iter().all(u8::is_ascii_digit) {
        return false;
    }
    match shifted_digits(v, days) {
        Shifted::Invalid => false,
        Shifted::To(d) => {
            out.extend_from_slice(&d);
            true
        }
        Shifted::Chrono => match shift_date_chrono(&v, days) {
            Some(d) => {
                out.extend_from_slice(d.as_bytes());
                true
            }
            None => false,
        },
    }
}

/// What [`shifted_digits`] found.
#[derive(Debug, PartialEq, Eq)]
enum Shifted {
    /// No such day (month 00 or 13, 30 February, ...).
    Invalid,
    /// The moved date's digits.
    To([u8; 8]),
    /// A year outside 0001-9999 on either side, or a huge shift: chrono decides.
    Chrono,
}

/// Eight ASCII digits `YYYYMMDD` moved by `days`, by the days-from-civil arithmetic of the
/// proleptic Gregorian calendar (what chrono does) where both years are 0001-9999.
fn shifted_digits(v: [u8; 8], days: i64) -> Shifted {
    let num =
        |r: std::ops::Range<usize>| v[r].iter().fold(0i64, |n, b| n * 10 + i64::from(b - b'0'));
    let (y, m, d) = (num(0..4), num(4..6), num(6..8));
    if y == 0 || !(-3_000_000..=3_000_000).contains(&days) {
        return Shifted::Chrono;
    }
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Shifted::Invalid;
    }
    let (y, m, d) = civil_from_days(days_from_civil(y, m, d) + days);
    if !(1..=9999).contains(&y) {
        return Shifted::Chrono;
    }
    let mut out = [0u8; 8];
    for (i, (n, w)) in [(y, 4), (m, 2), (d, 2)].into_iter().enumerate() {
        let at = [0, 4, 6][i];
        let mut n = n;
        for k in (0..w).rev() {
            out[at + k] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    Shifted::To(out)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `z` days after 1970-01-01 (Howard Hinnant's `civil_from_days`).
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

/// [`shift_date`] by chrono, for what [`shifted_digits`] leaves to it (and its tests).
fn shift_date_chrono(v: &[u8; 8], days: i64) -> Option<String> {
    let v = std::str::from_utf8(v).ok()?;
    let d = chrono::NaiveDate::parse_from_str(v, "%Y%m%d").ok()?;
    let moved = d.checked_add_signed(chrono::TimeDelta::try_days(days)?)?;
    Some(moved.format("%Y%m%d").to_string())
}

/// A DT value with its date part (the first 8 characters) moved by `days`; the time part and
/// any UTC offset stay as they were. `None` when it does not start with a valid date.
pub fn shift_datetime(value: &str, days: i64) -> Option<String> {
    let mut out = Vec::with_capacity(value.len());
    push_shifted_datetime(value, days, &mut out)
        .then(|| String::from_utf8(out).expect("a shifted date and the rest of a str"))
}

/// [`shift_datetime`] appended to `out`; false (nothing appended) when `value` does not start
/// with a valid date.
pub fn push_shifted_datetime(value: &str, days: i64, out: &mut Vec<u8>) -> bool {
    let v = value.trim_end_matches(['\0', ' ']);
    if v.len() < 8 || !v.is_char_boundary(8) || !push_shifted_date(&v[..8], days, out) {
        return false;
    }
    out.extend_from_slice(&v.as_bytes()[8..]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_key() -> StudyKey {
        let mut b = [0u8; 32];
        for (i, x) in b.iter_mut().enumerate() {
            *x = i as u8;
        }
        StudyKey::from_bytes(b)
    }

    #[test]
    fn the_contracts_test_vectors() {
        let k = test_key();
        assert_eq!(
            k.uid("1.2.840.113619.2.1.1.1"),
            "2.25.25695716793682185042020248520443766625"
        );
        assert_eq!(
            k.uid("1.2.840.113619.2.1.1.1\0"),
            k.uid("1.2.840.113619.2.1.1.1")
        );
        assert_eq!(k.date_offset("60784"), -164);
        assert_eq!(k.date_offset(" 60784 "), -164);
        assert_eq!(
            k.blob_uid("1.3.12.2.1107.5.2.32.35162.2013102415040717859311017"),
            "0.5.27.8.3863.7.6.11.83641.9994602522778538638766411"
        );
    }

    #[test]
    fn another_key_gives_other_values() {
        let a = test_key();
        let b = StudyKey::from_bytes([7; 32]);
        assert_ne!(a.uid("1.2.3"), b.uid("1.2.3"));
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
        assert!(!format!("{a:?}").contains("000102"), "{a:?}");
    }

    #[test]
    fn offsets_stay_in_range_and_uids_are_valid() {
        let k = test_key();
        for id in ["1", "60784", "abc", "999999"] {
            let o = k.date_offset(id);
            assert!((-365..=-30).contains(&o), "{o}");
            assert_eq!(k.date_offset_in(id, 7, 7), -7);
            let u = k.uid(id);
            assert!(u.len() <= 64 && u.starts_with("2.25."), "{u}");
        }
        let s = k.blob_uid("1.20.300.4000");
        assert_eq!(s.len(), 13);
        for comp in s.split('.') {
            assert!(comp.len() == 1 || !comp.starts_with('0'), "{s}");
        }
    }

    #[test]
    fn dates_shift_and_times_stay() {
        assert_eq!(shift_date("20131024", -164).as_deref(), Some("20130513"));
        assert_eq!(shift_date("20240301", -1).as_deref(), Some("20240229"));
        assert_eq!(shift_date("2013102", -1), None);
        assert_eq!(shift_date("Anonymous", -1), None);
        assert_eq!(
            shift_datetime("20131024150407.178000+0100", -164).as_deref(),
            Some("20130513150407.178000+0100")
        );
        assert_eq!(shift_datetime("2013", -1), None);
    }

    #[test]
    fn uid_decimals_are_formats() {
        for n in [
            0u128,
            9,
            10,
            9_999_999_999_999_999_999,
            10_000_000_000_000_000_000,
            10_000_000_000_000_000_001,
            100_000_000_000_000_000_000_000_000_000_000_000_000,
            u128::MAX,
            u128::from(u64::MAX) * 12_345,
        ] {
            let mut out = Vec::new();
            push_decimal(n, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
        // Twice each (the second from the thread's memo), under two keys in turn.
        let keys = [test_key(), StudyKey::from_bytes([7; 32])];
        for round in 0..2 {
            for i in 0..2000u32 {
                for k in &keys {
                    let u = format!("1.2.{i}.{}", i * 7919);
                    let h = k.h("anontrack-uid:", &u);
                    let n = u128::from_be_bytes(h[..16].try_into().unwrap());
                    assert_eq!(k.uid(&u), format!("2.25.{n}"), "{round}");
                    assert_eq!(k.uid(&format!("{u}\0 ")), format!("2.25.{n}"));
                }
            }
        }
    }

    #[test]
    fn dates_shift_as_chrono_shifts_them() {
        let offsets = [
            0,
            -1,
            1,
            -30,
            -164,
            -365,
            -366,
            400,
            -1461,
            146_097,
            -146_097,
            -2_999_999,
            3_000_001,
            -3_000_001,
            i64::MAX,
            i64::MIN,
        ];
        let years = (0..=130)
            .chain((1580..=2110).step_by(3))
            .chain([1600, 1700, 1800, 1900, 2000, 2100, 2400])
            .chain(9860..=9999)
            .chain((0..10_000).step_by(97));
        for y in years {
            for m in [0, 1, 2, 3, 4, 6, 9, 11, 12, 13, 19, 99] {
                for d in [0, 1, 2, 15, 28, 29, 30, 31, 32, 39, 99] {
                    let v = format!("{y:04}{m:02}{d:02}");
                    for &days in &offsets {
                        let want = shift_date_chrono(v.as_bytes().try_into().unwrap(), days);
                        assert_eq!(shift_date(&v, days), want, "{v} {days}");
                    }
                }
            }
        }
        // Every day of four years around a leap day, every shift the offsets give.
        let start = days_from_civil(1999, 12, 1);
        for z in start..start + 4 * 366 {
            let (y, m, d) = civil_from_days(z);
            let v = format!("{y:04}{m:02}{d:02}");
            for days in (-400..=-25).step_by(7) {
                let want = shift_date_chrono(v.as_bytes().try_into().unwrap(), days);
                assert_eq!(shift_date(&v, days), want, "{v} {days}");
            }
        }
        assert_eq!(shift_date("2013102 ", -1), None);
        assert_eq!(shift_date("20131024\0", -1).as_deref(), Some("20131023"));
        assert_eq!(shift_date("20131024 \0", -1).as_deref(), Some("20131023"));
        assert_eq!(shift_date(" 20131024", -1).as_deref(), None);
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".anontrack/study.key");
        let (k1, created) = StudyKey::load_or_create(&path).unwrap();
        assert!(created);
        let (k2, created) = StudyKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(k1, k2);
        assert_eq!(std::fs::read(&path).unwrap().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").unwrap();
        let e = StudyKey::load(&path).unwrap_err().to_string();
        assert!(e.contains("5 bytes, not 32"), "{e}");
        assert_eq!(
            std::fs::read_dir(dir.path().join(".anontrack"))
                .unwrap()
                .count(),
            1
        );
    }
}
