//! What the `clean` action (C: `clean-descriptors`, `clean-structured-content`) looks for in a
//! text value before keeping it: the participant's and the site's identifiers in one raw file.
//!
//! The issue's rule is "kept only when it holds none of the participant's identifiers, the same
//! sweep the verifier uses", so these needles are the verifier's residual-sweep needles for one
//! file ([`crate::verify`] builds them with its own parser, on purpose: the two must not share
//! code), and the match is the sweep's: ASCII case ignored, a needle of fewer than 6 characters
//! only as a whole word, a longer one anywhere; original UIDs and dates as whole tokens. The
//! needles:
//! - the sheet's Original ID and PatientID (any length);
//! - the parts of every PN element's value at any depth (split at `^`, `=`, `\` and spaces,
//!   3 characters or more): patient, staff and private PN elements, except those the profile
//!   keeps (K or C); the top-level patient PN elements (group 0010) always;
//! - AccessionNumber, InstitutionName, StationName and DeviceSerialNumber (top level, 3
//!   characters or more) unless the profile keeps them;
//! - PatientBirthDate (8 digits), anywhere in the text;
//! - every UID (8 characters or more, not a well-known `1.2.840.10008.` UID) and the date of
//!   every DA and DT value of an element the profile does not keep, as a token.
//!
//! Unlike the verifier, which sweeps with the union of the needles of all a participant's raw
//! files, the writer works one file alone (its output depends on nothing else), so a name only
//! another file of the participant holds is not looked for here.

use super::locate::{Kind, Node};
use super::standard::{trimmed, value, vr_of};
use crate::deid::{Act, Rules};
use crate::finding::TagRef;
use dicom_core::VR;

/// A needle shorter than this (in characters) matches only as a whole word.
const WHOLE_WORD_BELOW: usize = 6;

/// The needles of one raw file (see the module docs).
#[derive(Debug, Default)]
pub struct Needles {
    /// Lowercase words: IDs, name parts, the site's identity.
    words: Vec<Vec<u8>>,
    /// For each word: whether it is ASCII, and whether it is short (whole words only).
    shapes: Vec<(bool, bool)>,
    /// The bytes an ASCII word can start with (either case), as bits: the text is scanned once
    /// for them, and the ASCII words starting so tried where one is.
    ascii_first: [u64; 4],
    /// The ASCII words' first bytes and indices in `words` (with their `short`), for that scan
    /// (the first byte here, not behind the word's pointer, where most tries end).
    ascii_words: Vec<(u8, usize, bool)>,
    birth_dates: Vec<Vec<u8>>,
    /// Sorted, for a binary search (a hash set's SipHash cost more, for a few dozen needles).
    uids: Vec<Vec<u8>>,
    /// Sorted, as `uids`.
    dates: Vec<Vec<u8>>,
}

impl Needles {
    /// The needles of the raw data set `nodes` (every depth) of `buf`, with the sheet's
    /// Original ID.
    pub fn of(buf: &[u8], nodes: &[Node], rules: &Rules, original_id: &str) -> Self {
        let kept = |n: &Node, vr: VR| {
            matches!(
                rules.action(TagRef(n.group(), n.tag as u16), vr),
                Act::Keep | Act::Clean
            )
        };
        let mut s = Needles::default();
        s.word(original_id.as_bytes());
        for n in nodes
            .iter()
            .filter(|n| n.kind == Kind::Element && !n.walked)
        {
            let top = n.parent.is_none();
            // Trimmed only where looked at: pixel data is trimmed from its end otherwise.
            let v = || trimmed(value(buf, n));
            match n.tag {
                0x0010_0020 if top => s.word(v()),
                0x0010_0030
                    if top
                        && v().len() == 8
                        && v().iter().all(u8::is_ascii_digit)
                        && v() != b"19000101" =>
                {
                    s.birth_dates.push(v().to_vec())
                }
                0x0008_0050 | 0x0008_0080 | 0x0008_1010 | 0x0018_1000
                    if top && !kept(n, VR::LO) && v().len() >= 3 =>
                {
                    s.word(v())
                }
                _ => {}
            }
            let vr = vr_of(n);
            match vr {
                VR::PN if !kept(n, VR::PN) || (top && n.group() == 0x0010) => {
                    for part in v().split(|b| matches!(b, b'^' | b'=' | b'\\' | b' ')) {
                        if trimmed(part).len() >= 3 {
                            s.word(part);
                        }
                    }
                }
                VR::UI if !kept(n, VR::UI) => {
                    for u in v().split(|b| *b == b'\\') {
                        let u = trimmed(u);
                        if u.len() >= 8 && !u.starts_with(b"1.2.840.10008.") {
                            s.uids.push(u.to_vec());
                        }
                    }
                }
                VR::DA | VR::DT if !kept(n, vr) => {
                    for d in v().split(|b| *b == b'\\') {
                        let d = trimmed(d);
                        if d.len() >= 8 && d[..8].iter().all(u8::is_ascii_digit) {
                            s.dates.push(d[..8].to_vec());
                        }
                    }
                }
                _ => {}
            }
        }
        for set in [&mut s.uids, &mut s.dates] {
            set.sort_unstable();
            set.dedup();
        }
        s
    }

    fn word(&mut self, v: &[u8]) {
        let v = trimmed(v);
        // An ASCII word already held, found without lowercasing a copy first (a held word is
        // lowercase, and a non-ASCII one never equals an ASCII text ignoring ASCII case).
        if v.is_ascii() && self.words.iter().any(|w| w.eq_ignore_ascii_case(v)) {
            return;
        }
        let v = if v.is_ascii() {
            v.to_ascii_lowercase() // what `str::to_lowercase` gives for ASCII
        } else {
            match std::str::from_utf8(v) {
                Ok(t) => t.to_lowercase().into_bytes(),
                Err(_) => v.to_ascii_lowercase(),
            }
        };
        if !v.is_empty() && !self.words.contains(&v) {
            let text = std::str::from_utf8(&v).unwrap_or_default();
            let ascii = v.is_ascii();
            self.shapes
                .push((ascii, text.chars().count() < WHOLE_WORD_BELOW));
            if ascii {
                for b in [v[0].to_ascii_lowercase(), v[0].to_ascii_uppercase()] {
                    self.ascii_first[usize::from(b >> 6)] |= 1 << (b & 63);
                }
                let short = v.len() < WHOLE_WORD_BELOW;
                self.ascii_words.push((v[0], self.words.len(), short));
            }
            self.words.push(v);
        }
    }

    /// Whether the text value `v` holds any needle.
    pub fn found_in(&self, v: &[u8]) -> bool {
        self.ascii_word_in(v)
            || self
                .words
                .iter()
                .zip(&self.shapes)
                .any(|(w, &(ascii, short))| !ascii && holds(v, w, false, short))
            || self
                .birth_dates
                .iter()
                .any(|d| v.windows(d.len()).any(|x| x == d.as_slice()))
            || self.token_in(v)
    }

    /// Whether `v` holds an ASCII word: [`holds`] for each, in one scan of `v`.
    fn ascii_word_in(&self, v: &[u8]) -> bool {
        let alnum = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
        (0..v.len()).any(|i| {
            let b = v[i];
            if self.ascii_first[usize::from(b >> 6)] & (1 << (b & 63)) == 0 {
                return false;
            }
            let lower = b.to_ascii_lowercase();
            self.ascii_words.iter().any(|&(first, k, short)| {
                first == lower && {
                    let w = &self.words[k];
                    v.len() - i >= w.len()
                        && v[i..i + w.len()].eq_ignore_ascii_case(w)
                        && (!short
                            || (!alnum(i.checked_sub(1).and_then(|j| v.get(j)))
                                && !alnum(v.get(i + w.len()))))
                }
            })
        })
    }

    /// An original UID or date as a whole run of digits and dots (a date: 8 or more digits
    /// starting with it, no dot).
    fn token_in(&self, v: &[u8]) -> bool {
        if self.uids.is_empty() && self.dates.is_empty() {
            return false;
        }
        v.split(|b| !(b.is_ascii_digit() || *b == b'.'))
            .map(|t| {
                let start = t.iter().position(|b| *b != b'.').unwrap_or(t.len());
                let end = t.iter().rposition(|b| *b != b'.').map_or(start, |i| i + 1);
                &t[start..end]
            })
            // Every UID and date needle has 8 characters or more: no shorter token is looked up.
            .any(|t| {
                let has = |set: &[Vec<u8>], t: &[u8]| {
                    set.binary_search_by(|x| x.as_slice().cmp(t)).is_ok()
                };
                t.len() >= 8
                    && (has(&self.uids, t) || (!t.contains(&b'.') && has(&self.dates, &t[..8])))
            })
    }
}

/// `needle` (lowercase; `ascii` and `short` its shape, from [`Needles::word`]) in `hay`, case
/// ignored: a short needle only standing alone (no ASCII letter or digit beside it). A
/// non-ASCII needle is looked for in the lowercased text.
fn holds(hay: &[u8], needle: &[u8], ascii: bool, short: bool) -> bool {
    if ascii {
        return find(hay, needle, short, |a, b| a.eq_ignore_ascii_case(b));
    }
    let lowered = String::from_utf8_lossy(hay).to_lowercase();
    find(lowered.as_bytes(), needle, short, |a, b| a == b)
}

fn find(hay: &[u8], needle: &[u8], words: bool, eq: fn(&[u8], &[u8]) -> bool) -> bool {
    let alnum = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    let Some(&first) = needle.first() else {
        return false;
    };
    // Only where the first byte can match (either case: `eq` ignores ASCII case or none).
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    hay.windows(needle.len()).enumerate().any(|(i, w)| {
        (w[0] == first || w[0] == lo || w[0] == up)
            && eq(w, needle)
            && (!words
                || (!alnum(i.checked_sub(1).and_then(|j| hay.get(j)))
                    && !alnum(hay.get(i + needle.len()))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needles(words: &[&str]) -> Needles {
        let mut n = Needles::default();
        for w in words {
            n.word(w.as_bytes());
        }
        n.uids.push(b"1.2.3.4.5.6".to_vec());
        n.dates.push(b"20131024".to_vec());
        n.birth_dates.push(b"19800102".to_vec());
        n
    }

    #[test]
    fn short_needles_match_whole_words_and_long_ones_anywhere() {
        let n = needles(&["TEST", "Zzzdowntime"]);
        assert!(n.found_in(b"test\rRIS COMMENTS-"));
        assert!(!n.found_in(b"testRIS COMMENTS"));
        assert!(n.found_in(b"seen by xZZZDOWNTIMEx"));
        assert!(!n.found_in(b"T1 MPRAGE"));
    }

    /// The matching rule as first written: each window compared, the needle's shape each time.
    fn holds_naive(hay: &[u8], needle: &[u8]) -> bool {
        let text = std::str::from_utf8(needle).unwrap_or_default();
        let short = text.chars().count() < WHOLE_WORD_BELOW;
        let alnum = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
        let lowered = String::from_utf8_lossy(hay).to_lowercase();
        let hay = if needle.is_ascii() {
            hay
        } else {
            lowered.as_bytes()
        };
        !needle.is_empty()
            && hay.windows(needle.len()).enumerate().any(|(i, w)| {
                (if needle.is_ascii() {
                    w.eq_ignore_ascii_case(needle)
                } else {
                    w == needle
                }) && (!short
                    || (!alnum(i.checked_sub(1).and_then(|j| hay.get(j)))
                        && !alnum(hay.get(i + needle.len()))))
            })
    }

    #[test]
    fn words_match_as_the_naive_search_matches() {
        let words = [
            "doe",
            "jane",
            "p101",
            "zzzdowntime",
            "müller",
            "a-b",
            "x",
            "1.2",
            "@!",
        ];
        let hays: [&[u8]; 12] = [
            b"",
            b"Doe^Jane",
            b"JANEDOE",
            b"t1 p101x p101",
            b"seen by ZZZDOWNTIME.",
            "Herr MÜLLER".as_bytes(),
            b"a-b-c",
            b"X y",
            b"v1.2.3",
            b"@!",
            &[0xFF, b'd', b'o', b'e', 0xC3],
            b"dOe",
        ];
        for w in words {
            let mut n = Needles::default();
            n.word(w.as_bytes());
            let (needle, (ascii, short)) = (&n.words[0], n.shapes[0]);
            for h in hays {
                for cut in 0..=h.len() {
                    let h = &h[..cut];
                    assert_eq!(
                        holds(h, needle, ascii, short),
                        holds_naive(h, needle),
                        "{w} in {h:?}"
                    );
                }
            }
        }
        // All the words at once, as `found_in` looks for them.
        let mut n = Needles::default();
        for w in words {
            n.word(w.as_bytes());
        }
        for h in hays {
            for from in 0..h.len() {
                for cut in from..=h.len() {
                    let h = &h[from..cut];
                    let want = n.words.iter().any(|w| holds_naive(h, w));
                    assert_eq!(n.found_in(h), want, "{h:?}");
                }
            }
        }
        let mut once = Needles::default();
        for w in ["Doe", "DOE ", "doe", "Müller", "MÜLLER", "müller", "jane"] {
            once.word(w.as_bytes());
        }
        assert_eq!(once.words, [&b"doe"[..], "müller".as_bytes(), b"jane"]);
        assert_eq!(once.ascii_words, [(b'd', 0, true), (b'j', 2, true)]);
        for w in ["DOE", "Müller", "P101 "] {
            let mut a = Needles::default();
            a.word(w.as_bytes());
            let t = std::str::from_utf8(trimmed(w.as_bytes())).unwrap();
            assert_eq!(a.words[0], t.to_lowercase().into_bytes());
        }
    }

    #[test]
    fn uids_and_dates_are_tokens_and_the_birth_date_is_anywhere() {
        let n = needles(&[]);
        assert!(n.found_in(b"ref 1.2.3.4.5.6."));
        assert!(!n.found_in(b"ref 1.2.3.4.5.6.7"));
        assert!(n.found_in(b"scan 201310241504"));
        assert!(!n.found_in(b"scan 2013.10.24"));
        assert!(n.found_in(b"b19800102x"));
    }
}
