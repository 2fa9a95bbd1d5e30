//! The verifier's own recomputation of the keyed values the contract in [`crate::deid`] specifies
//! (new UIDs, a participant's date offset, UIDs and dates inside retained private blobs).
//!
//! Deliberately a second implementation of the same specification, not a call into the writer's
//! `deid::keyed`: if either side misreads the specification, their outputs differ and verify says
//! so. Tested against the contract's test vectors.

use chrono::{Duration, NaiveDate};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The study key, as the verifier holds it. Never printed (no `Debug` of the bytes).
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// The default range of a date offset, in days before the original.
pub const OFFSET_DAYS: (i64, i64) = (30, 365);

impl Key {
    /// A key from its 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Key(bytes)
    }

    /// Reads `.anontrack/study.key` (32 raw bytes); `None` when missing or not 32 bytes long.
    pub fn read(path: &std::path::Path) -> Option<Self> {
        let b = std::fs::read(path).ok()?;
        Some(Key(b.as_slice().try_into().ok()?))
    }

    /// `H(label, text)` = HMAC-SHA256(key, label ‖ text).
    fn h(&self, label: &str, text: &str) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        m.update(label.as_bytes());
        m.update(text.as_bytes());
        m.finalize().into_bytes().into()
    }

    /// The new UID for an original UID (padding removed first).
    pub fn uid(&self, original: &str) -> String {
        let u = original.trim_end_matches(['\0', ' ']);
        let h = self.h("anontrack-uid:", u);
        let n = u128::from_be_bytes(h[..16].try_into().expect("16 bytes"));
        format!("2.25.{n}")
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
}

/// A `YYYYMMDD` date moved by `days`; `None` when it is not such a date.
pub fn shift_date(date: &str, days: i64) -> Option<String> {
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
}
