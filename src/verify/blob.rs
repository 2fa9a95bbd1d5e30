//! Retained private blobs (`retain-safe-private`: the Siemens CSA headers and every other kept
//! private value), recomputed position by position from the raw value and the study key.
//!
//! The contract in [`crate::deid`] says what the writer substitutes inside a kept private value,
//! each substitute the same length as what it replaces:
//! - every UID-shaped token (a maximal run of digits and dots that starts with a digit, its
//!   trailing dots cut off, at least 16 characters and 4 dots) becomes its keyed blob UID
//!   ([`Key::blob_uid`]);
//! - every original date of the file (8 characters: the value of a DA element at any depth, or
//!   of PatientBirthDate), standing alone (no digit beside it), becomes the shifted date (an
//!   8-character value that is no real date becomes `19000101`); not under
//!   `retain-long-full-dates`;
//! - every identifier of the participant, standing alone (no letter or digit beside it), exact
//!   case, becomes `X`s: the sheet's Original ID, the parts of PatientName (split at `^`, `=` and
//!   spaces), the values of PatientID and OtherPatientIDs, and DeviceSerialNumber unless the
//!   profile keeps it; 3 characters or more.
//!
//! UIDs are replaced first, then dates and identifiers left to right (at one spot, dates before
//! identifiers, identifiers in the order the file holds them). This module applies that to the
//! raw value on its own (not the writer's code) and compares: every byte that differs from the
//! expected value is a finding, `changed` when the output holds something else there, a leak
//! when it still holds the original there. An identifier left in another case, which no
//! substitution covers, is a leak too, as is the site's identity (InstitutionName, StationName,
//! AccessionNumber, unless the profile keeps them) anywhere in the value.

use super::keyed::{Key, shift_date};
use super::parse::{self, Elem, Val};
use super::sweep::Kind;
use crate::deid::{Act, DeidOption, Rules};
use crate::finding::TagRef;
use dicom_core::{Tag, VR};

/// The participant's identifiers in one raw file, as the blob substitutions need them.
#[derive(Debug)]
pub struct Ids {
    /// Identifiers to become `X`s, in the order found, each with what it is.
    texts: Vec<(Vec<u8>, Kind)>,
    /// Original dates (`YYYYMMDD`) with their substitutes.
    dates: Vec<(Vec<u8>, Vec<u8>)>,
    /// The site's identity the profile does not keep (InstitutionName, StationName,
    /// AccessionNumber): no substitution writes over them, so they must simply be absent.
    site: Vec<Vec<u8>>,
    /// The bytes a date or an identifier starts with: every other spot is passed over without
    /// comparing (most of a blob matches nothing).
    starts: [bool; 256],
}

impl Default for Ids {
    fn default() -> Self {
        Ids {
            texts: Vec::new(),
            dates: Vec::new(),
            site: Vec::new(),
            starts: [false; 256],
        }
    }
}

/// What is wrong at some byte of a kept private value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The original identifier of this kind is still there.
    Left(Kind),
    /// A byte differs from both the raw value and its substitute.
    Changed,
}

impl Ids {
    /// The identifiers of the raw file `raw` (every depth, file order), the sheet's Original ID
    /// first. `offset`: the participant's date offset in days.
    pub fn from_raw(
        raw: &[Elem<'_>],
        original_id: Option<&str>,
        rules: &Rules,
        offset: i64,
    ) -> Self {
        let mut ids = Ids::default();
        if let Some(id) = original_id {
            ids.text(id.as_bytes(), Kind::Id);
        }
        let serial = rules.action(TagRef(0x0018, 0x1000), VR::LO) != Act::Keep;
        let shift = !rules.has(DeidOption::RetainLongFullDates);
        ids.collect(raw, serial, shift.then_some(offset));
        for tag in [(0x0008, 0x0080), (0x0008, 0x1010), (0x0008, 0x0050)] {
            if matches!(
                rules.action(TagRef(tag.0, tag.1), VR::LO),
                Act::Keep | Act::Clean
            ) {
                continue;
            }
            if let Some(Val::Bytes(b)) = parse::get(raw, Tag(tag.0, tag.1)).map(|e| &e.value) {
                let v = trimmed(b);
                let placeholder =
                    v.eq_ignore_ascii_case(b"anonymized") || v.eq_ignore_ascii_case(b"anonymous");
                if v.len() >= 3 && !placeholder {
                    ids.site.push(v.to_vec());
                }
            }
        }
        let firsts = ids
            .dates
            .iter()
            .map(|(d, _)| d)
            .chain(ids.texts.iter().map(|(t, _)| t));
        for first in firsts.filter_map(|w| w.first()) {
            ids.starts[usize::from(*first)] = true;
        }
        ids
    }

    fn text(&mut self, v: &[u8], kind: Kind) {
        let v = trimmed(v);
        if v.len() >= 3 && !self.texts.iter().any(|(t, _)| t.eq_ignore_ascii_case(v)) {
            self.texts.push((v.to_vec(), kind));
        }
    }

    /// Recursion is bounded by the parser's depth limit.
    fn collect(&mut self, ds: &[Elem<'_>], serial: bool, offset: Option<i64>) {
        for e in ds {
            let b = match &e.value {
                Val::Seq(items) => {
                    for item in items.iter() {
                        self.collect(item, serial, offset);
                    }
                    continue;
                }
                Val::Frags(_) => continue,
                Val::Bytes(b) => *b,
            };
            match (e.tag.0, e.tag.1) {
                (0x0010, 0x0010) => {
                    for part in b.split(|c| matches!(c, b'^' | b'=' | b' ')) {
                        self.text(part, Kind::Name);
                    }
                }
                (0x0010, 0x0020) | (0x0010, 0x1000) => {
                    for part in b.split(|c| *c == b'\\') {
                        self.text(part, Kind::Id);
                    }
                }
                (0x0018, 0x1000) if serial => self.text(b, Kind::Identity),
                _ => {}
            }
            let v = trimmed(b);
            if let Some(days) = offset
                && (&e.vr == b"DA" || e.tag == Tag(0x0010, 0x0030))
                && v.len() == 8
                && !self.dates.iter().any(|(d, _)| d == v)
            {
                let sub = std::str::from_utf8(v)
                    .ok()
                    .and_then(|d| shift_date(d, days))
                    .unwrap_or_else(|| "19000101".into());
                self.dates.push((v.to_vec(), sub.into_bytes()));
            }
        }
    }

    /// The value `raw` must become, and the spots substituted (with what they held).
    pub fn expected(&self, key: &Key, raw: &[u8]) -> (Vec<u8>, Vec<(usize, usize, Kind)>) {
        let mut out = raw.to_vec();
        let mut spots = Vec::new();
        let mut i = 0;
        while let Some((at, len)) = next_uid(raw, &mut i) {
            // Digits and dots: always text.
            let tok = std::str::from_utf8(&raw[at..at + len]).unwrap_or_default();
            key.with_blob_uid(tok, |sub| out[at..at + len].copy_from_slice(sub.as_bytes()));
            spots.push((at, at + len, Kind::Uid));
        }
        let mut i = 0;
        while let Some((at, word)) = self.next_word(&out, i) {
            let (end, kind) = match word {
                Word::Date(k) => {
                    let (d, sub) = &self.dates[k];
                    out[at..at + d.len()].copy_from_slice(sub);
                    (at + d.len(), Kind::Date)
                }
                Word::Text(k) => {
                    let (t, kind) = &self.texts[k];
                    out[at..at + t.len()].fill(b'X');
                    (at + t.len(), *kind)
                }
            };
            spots.push((at, end, kind));
            i = end;
        }
        (out, spots)
    }

    /// Whether [`expected`](Self::expected) substitutes anything in `raw` (without copying it):
    /// with no UID there, the second pass sees the raw bytes themselves.
    fn substitutes(&self, raw: &[u8]) -> bool {
        next_uid(raw, &mut 0).is_some() || self.next_word(raw, 0).is_some()
    }

    /// The first original date or identifier standing alone in `v` at or after `from`: dates
    /// first at one spot, then identifiers in the order the file holds them. Only bytes that
    /// start one of them are compared, and runs of NUL padding (most of a CSA header) are passed
    /// over eight bytes at a time when nothing starts with NUL.
    fn next_word(&self, v: &[u8], from: usize) -> Option<(usize, Word)> {
        let alone = |at: usize, n: usize, word: fn(u8) -> bool| {
            (at == 0 || !word(v[at - 1])) && v.get(at + n).is_none_or(|b| !word(*b))
        };
        let digit = |b: u8| b.is_ascii_digit();
        let alnum = |b: u8| b.is_ascii_alphanumeric();
        let mut i = from;
        while i < v.len() {
            if !self.starts[usize::from(v[i])] {
                i = if v[i] == 0 { past_nul(v, i) } else { i + 1 };
                continue;
            }
            let date = self
                .dates
                .iter()
                .position(|(d, _)| v[i..].starts_with(d) && alone(i, d.len(), digit));
            if let Some(k) = date {
                return Some((i, Word::Date(k)));
            }
            let text = self
                .texts
                .iter()
                .position(|(t, _)| v[i..].starts_with(t) && alone(i, t.len(), alnum));
            if let Some(k) = text {
                return Some((i, Word::Text(k)));
            }
            i += 1;
        }
        None
    }

    /// Compares an anonymized kept private value `anon` with what `raw` must become: the
    /// problems found, at most one of each (a leak first).
    pub fn check(&self, key: &Key, raw: &[u8], anon: &[u8]) -> Vec<Problem> {
        // Most kept values hold nothing to substitute and come out as they went in: then only
        // the search for identifiers in another case is left (no copy of the value).
        if anon == raw && !self.substitutes(raw) {
            return self
                .other_case(anon)
                .map(Problem::Left)
                .into_iter()
                .collect();
        }
        self.check_all(key, raw, anon)
    }

    /// [`check`](Self::check) without its shortcut: the expected value computed and compared.
    fn check_all(&self, key: &Key, raw: &[u8], anon: &[u8]) -> Vec<Problem> {
        let (want, spots) = self.expected(key, raw);
        let mut out = Vec::new();
        if trim_end(anon) != trim_end(&want) {
            // A spot that still holds its original token, whole: a leak there, not a change.
            let left: Vec<&(usize, usize, Kind)> = spots
                .iter()
                .filter(|(s, e, _)| anon.get(*s..*e) == raw.get(*s..*e))
                .collect();
            for (_, _, kind) in &left {
                if !out.contains(&Problem::Left(*kind)) {
                    out.push(Problem::Left(*kind));
                }
            }
            let n = want.len().max(anon.len());
            let changed = (0..n).any(|p| {
                want.get(p) != anon.get(p)
                    && !left.iter().any(|(s, e, _)| (*s..*e).contains(&p))
                    && !(p >= want.len().min(anon.len())
                        && trim_end(anon).len() == trim_end(&want).len())
            });
            if changed {
                out.push(Problem::Changed);
            }
        }
        // An identifier in another case escapes the substitutions: still a leak. So is the
        // site's identity, which nothing substitutes.
        if !out.iter().any(|p| matches!(p, Problem::Left(_)))
            && let Some(kind) = self.other_case(anon)
        {
            out.insert(0, Problem::Left(kind));
        }
        out
    }

    /// The first identifier (then the site's identity) in `anon` in any case, standing alone.
    fn other_case(&self, anon: &[u8]) -> Option<Kind> {
        let needles = self.texts.iter().map(|(t, _)| t.as_slice());
        match first_word_ci(anon, needles.chain(self.site.iter().map(Vec::as_slice))) {
            Some(i) if i < self.texts.len() => Some(self.texts[i].1),
            Some(_) => Some(Kind::Identity),
            None => None,
        }
    }
}

/// What [`Ids::next_word`] found: the index of a date or of an identifier.
#[derive(Debug, Clone, Copy)]
enum Word {
    Date(usize),
    Text(usize),
}

/// The next UID-shaped token at or after `*i` (a maximal run of digits and dots that starts
/// with a digit, its trailing dots cut off, at least 16 characters and 4 dots), as its start
/// and length; `*i` moves past its run.
fn next_uid(raw: &[u8], i: &mut usize) -> Option<(usize, usize)> {
    let uidish = |b: u8| b.is_ascii_digit() || b == b'.';
    while *i < raw.len() {
        let at = *i;
        if raw[at] == 0 {
            *i = past_nul(raw, at);
            continue;
        }
        if !raw[at].is_ascii_digit() || (at > 0 && uidish(raw[at - 1])) {
            *i += 1;
            continue;
        }
        let run = raw[at..].iter().take_while(|b| uidish(**b)).count();
        let tok = &raw[at..at + run];
        let len = run - tok.iter().rev().take_while(|b| **b == b'.').count();
        *i = at + run;
        if len >= 16 && tok[..len].iter().filter(|b| **b == b'.').count() >= 4 {
            return Some((at, len));
        }
    }
    None
}

/// `needle` in `hay`, ASCII case ignored, standing alone (no letter or digit beside it); on the
/// bytes, so a binary blob is searched without being copied into text. (The check searches all
/// its needles with [`first_word_ci`]; this one-needle form is its reference in tests.)
#[cfg(test)]
fn word_ci(hay: &[u8], needle: &[u8]) -> bool {
    let alnum = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    !needle.is_empty()
        && hay.len() >= needle.len()
        && (0..=hay.len() - needle.len()).any(|i| {
            hay[i].eq_ignore_ascii_case(&needle[0])
                && hay[i..i + needle.len()].eq_ignore_ascii_case(needle)
                && !alnum(i.checked_sub(1).and_then(|j| hay.get(j)))
                && !alnum(hay.get(i + needle.len()))
        })
}

/// The first of `needles` (by its index) that [`word_ci`] finds in `hay`: what
/// `needles.position(|n| word_ci(hay, n))` gives. Each needle's candidate spots are where its
/// first byte occurs in either case, found with `memchr2` (vectorised) rather than byte by byte:
/// a blob is long, the needles few, and most blobs hold none of them.
fn first_word_ci<'n>(hay: &[u8], needles: impl Iterator<Item = &'n [u8]>) -> Option<usize> {
    let alnum = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    needles.into_iter().position(|n| {
        let Some(&first) = n.first() else {
            return false;
        };
        if n.len() > hay.len() {
            return false;
        }
        let last_start = hay.len() - n.len();
        let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
        memchr::memchr2_iter(lower, upper, &hay[..=last_start]).any(|i| {
            hay[i..i + n.len()].eq_ignore_ascii_case(n)
                && !alnum(i.checked_sub(1).and_then(|j| hay.get(j)))
                && !alnum(hay.get(i + n.len()))
        })
    })
}

/// The index of the first byte at or after `i` that is not NUL (`v.len()` if none): a run of NUL
/// padding passed over eight bytes at a time, by the scans above where no token they look for
/// starts with NUL.
fn past_nul(v: &[u8], mut i: usize) -> usize {
    while let Some(Ok(word)) = v.get(i..i + 8).map(<[u8; 8]>::try_from) {
        if u64::from_ne_bytes(word) != 0 {
            break;
        }
        i += 8;
    }
    while v.get(i) == Some(&0) {
        i += 1;
    }
    i
}

/// `v` without space and NUL padding at either end (padding at the start: spaces only).
fn trimmed(v: &[u8]) -> &[u8] {
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | 0))
        .map_or(0, |i| i + 1);
    let start = v[..end].iter().position(|b| *b != b' ').unwrap_or(end);
    &v[start..end]
}

/// Without trailing space and NUL padding (a re-encoder may pad an odd length either way).
fn trim_end(v: &[u8]) -> &[u8] {
    &v[..v
        .iter()
        .rposition(|b| !matches!(b, b' ' | 0))
        .map_or(0, |i| i + 1)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deid::Base;

    fn key() -> Key {
        Key::new([9u8; 32])
    }

    fn ids() -> Ids {
        let el = |g, e, vr: &[u8; 2], v: &'static [u8]| Elem {
            tag: Tag(g, e),
            vr: *vr,
            value: Val::Bytes(v),
        };
        let raw = vec![
            el(0x0008, 0x0020, b"DA", b"20131024"),
            el(0x0010, 0x0010, b"PN", b"Doe^Jane"),
            el(0x0010, 0x0020, b"LO", b"P4321 "),
            el(0x0008, 0x0080, b"LO", b"Made-up Hospital"),
        ];
        Ids::from_raw(&raw, Some("P4321"), &Rules::resolve(Base::Neuro, &[]), -10)
    }

    const RAW: &[u8] = b"x 1.3.12.2.1107.5.2.32.35162.2013102415 Doe 20131024 Doey P4321\0";

    #[test]
    fn the_expected_value_substitutes_uids_dates_and_identifiers_in_place() {
        let k = key();
        let (want, spots) = ids().expected(&k, RAW);
        let uid = k.blob_uid("1.3.12.2.1107.5.2.32.35162.2013102415");
        let expect = format!("x {uid} XXX 20131014 Doey XXXXX\0");
        assert_eq!(String::from_utf8_lossy(&want), expect);
        let kinds: Vec<Kind> = spots.iter().map(|s| s.2).collect();
        assert_eq!(kinds, [Kind::Uid, Kind::Name, Kind::Date, Kind::Id]);
        assert!(ids().check(&k, RAW, &want).is_empty());
    }

    #[test]
    fn every_other_difference_is_a_finding() {
        let k = key();
        let (want, _) = ids().expected(&k, RAW);
        // One byte outside any substitution.
        let mut b = want.clone();
        b[0] = b'y';
        assert_eq!(ids().check(&k, RAW, &b), [Problem::Changed]);
        // A wrong substitute for the UID (another key's).
        let (other, _) = ids().expected(&Key::new([1u8; 32]), RAW);
        assert_eq!(ids().check(&k, RAW, &other), [Problem::Changed]);
        // The original blob kept as it was: the UID is the first leak.
        assert_eq!(ids().check(&k, RAW, RAW)[0], Problem::Left(Kind::Uid));
        // Only the name put back.
        let mut b = want.clone();
        let at = RAW.windows(3).position(|w| w == b"Doe").unwrap();
        b[at..at + 3].copy_from_slice(b"Doe");
        assert_eq!(ids().check(&k, RAW, &b), [Problem::Left(Kind::Name)]);
        // The same name in upper case, which no substitution covers, is a leak as well.
        let mut b = want.clone();
        let at = want.windows(4).position(|w| w == b"Doey").unwrap();
        b[at..at + 4].copy_from_slice(b"DOE ");
        assert_eq!(ids().check(&k, RAW, &b)[0], Problem::Left(Kind::Name));
        // The institution (neuro does not keep it) anywhere in a kept value.
        let raw = b"at MADE-UP HOSPITAL today";
        assert_eq!(ids().check(&k, raw, raw), [Problem::Left(Kind::Identity)]);
    }

    /// A small deterministic generator of bytes from a short alphabet, so that needles, their
    /// cases, word boundaries and dates meet often.
    fn bytes(seed: &mut u64, alphabet: &[u8], max: usize) -> Vec<u8> {
        let mut next = || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        };
        let n = (next() % (max as u64 + 1)) as usize;
        (0..n)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect()
    }

    /// Up to `max` of `pieces`, drawn with [`bytes`] and joined: values in which the
    /// participant's tokens, padding and separators meet in every order.
    fn joined(seed: &mut u64, pieces: &[&[u8]], max: usize) -> Vec<u8> {
        let indices: Vec<u8> = (0..pieces.len() as u8).collect();
        let mut out = Vec::new();
        for _ in 0..bytes(seed, b"x", max).len() {
            let at = bytes(seed, &indices, 1)
                .first()
                .map_or(0, |i| usize::from(*i));
            out.extend_from_slice(pieces[at]);
        }
        out
    }

    #[test]
    fn one_pass_over_all_needles_finds_what_each_needle_alone_finds() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let mut hay = bytes(&mut seed, b"abAB1 .-x\0", 24);
            // NUL padding, passed over in words: runs of every length at every alignment.
            let run = bytes(&mut seed, b"x", 19).len();
            let at = bytes(&mut seed, b"x", hay.len()).len();
            hay.splice(at..at, std::iter::repeat_n(0u8, run));
            let count = bytes(&mut seed, b"x", 4).len();
            let needles: Vec<Vec<u8>> =
                (0..count).map(|_| bytes(&mut seed, b"abAB1 ", 4)).collect();
            let want = needles.iter().position(|n| word_ci(&hay, n));
            let got = first_word_ci(&hay, needles.iter().map(Vec::as_slice));
            assert_eq!(got, want, "{hay:?} {needles:?}");
        }
    }

    /// [`Ids::expected`] before its first-byte filter and NUL skipping: every spot compared with
    /// every date and identifier.
    fn expected_reference(
        ids: &Ids,
        key: &Key,
        raw: &[u8],
    ) -> (Vec<u8>, Vec<(usize, usize, Kind)>) {
        let (mut out, mut spots) = (raw.to_vec(), Vec::new());
        // The UIDs, byte by byte as first written (no skipping of NUL runs).
        let uidish = |b: u8| b.is_ascii_digit() || b == b'.';
        let mut i = 0;
        while i < raw.len() {
            if !raw[i].is_ascii_digit() || (i > 0 && uidish(raw[i - 1])) {
                i += 1;
                continue;
            }
            let run = raw[i..].iter().take_while(|b| uidish(**b)).count();
            let tok = &raw[i..i + run];
            let len = run - tok.iter().rev().take_while(|b| **b == b'.').count();
            let tok = &tok[..len];
            if len >= 16 && tok.iter().filter(|b| **b == b'.').count() >= 4 {
                let tok = std::str::from_utf8(tok).unwrap();
                key.with_blob_uid(tok, |sub| out[i..i + len].copy_from_slice(sub.as_bytes()));
                spots.push((i, i + len, Kind::Uid));
            }
            i += run;
        }
        let alone = |v: &[u8], at: usize, n: usize, word: fn(u8) -> bool| {
            (at == 0 || !word(v[at - 1])) && v.get(at + n).is_none_or(|b| !word(*b))
        };
        let mut i = 0;
        while i < out.len() {
            let date = ids.dates.iter().find(|(d, _)| {
                out[i..].starts_with(d) && alone(&out, i, d.len(), |b| b.is_ascii_digit())
            });
            if let Some((d, sub)) = date {
                out[i..i + d.len()].copy_from_slice(sub);
                spots.push((i, i + d.len(), Kind::Date));
                i += d.len();
                continue;
            }
            let text = ids.texts.iter().find(|(t, _)| {
                out[i..].starts_with(t) && alone(&out, i, t.len(), |b| b.is_ascii_alphanumeric())
            });
            if let Some((t, kind)) = text {
                out[i..i + t.len()].fill(b'X');
                spots.push((i, i + t.len(), *kind));
                i += t.len();
                continue;
            }
            i += 1;
        }
        (out, spots)
    }

    #[test]
    fn the_shortcut_for_values_with_nothing_to_substitute_changes_no_answer() {
        let k = key();
        let ids = ids();
        let mut seed = 0x51A5_EED5_0BAD_F00Du64;
        let pieces: [&[u8]; 12] = [
            b"Doe",
            b"DOE",
            b"Jane",
            b"P4321",
            b"20131024",
            b"1.3.12.2.1107.5.2.32.35162.2013102415",
            b"1.3.12.2",
            b"MADE-UP HOSPITAL",
            b" ",
            b"x",
            b"9",
            b"\0\0\0\0\0\0\0\0\0",
        ];
        let (mut clean, mut dirty) = (0, 0);
        for _ in 0..5_000 {
            let raw = joined(&mut seed, &pieces, 8);
            let substituted = !ids.expected(&k, &raw).1.is_empty();
            assert_eq!(ids.substitutes(&raw), substituted, "{raw:?}");
            assert_eq!(
                ids.check(&k, &raw, &raw),
                ids.check_all(&k, &raw, &raw),
                "{raw:?}"
            );
            if substituted { dirty += 1 } else { clean += 1 }
        }
        // Both branches were taken, many times.
        assert!(clean > 500 && dirty > 500, "{clean} {dirty}");
    }

    #[test]
    fn the_first_byte_filter_and_nul_skipping_change_no_expected_value() {
        let k = key();
        let ids = ids();
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let pieces: [&[u8]; 10] = [
            b"Doe",
            b"Jane",
            b"P4321",
            b"20131024",
            b"1.3.12.2.1107.5.2.32.35162.2013102415",
            b" ",
            b"x",
            b"9",
            b"\0\0\0\0\0\0\0\0\0\0\0",
            b"\0",
        ];
        for _ in 0..5_000 {
            let raw = joined(&mut seed, &pieces, 12);
            assert_eq!(
                ids.expected(&k, &raw),
                expected_reference(&ids, &k, &raw),
                "{raw:?}"
            );
        }
    }
}
