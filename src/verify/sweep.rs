//! The residual-PHI sweep: the participant's ID, name and birth date must not survive anywhere
//! in an anonymized file (outside the profile's own elements) or in its file and folder names.
//!
//! What is searched, case-insensitively:
//! - the original ID (from the sheet or `--original-id`), the raw file's PatientID, and each
//!   component of the raw PatientName of 3+ characters (split on `^`, `=`, `\` and spaces);
//! - in every text element at any depth (AE CS LO LT PN SH ST UC UR UT, private ones included),
//!   in `UN` elements (private elements of implicit-VR files) decoded as text, and in the names of
//!   the anonymized folder, its subfolders and files;
//! - a needle shorter than 6 characters matches only as a whole word (not next to a letter or
//!   digit; `^`, `_`, `-`, `.` and spaces separate words), so `Ann` does not hit `channel` nor
//!   `101` a `1010`, while `DOE^JANE`, `sub_101` or `Jane Doe` are caught; longer needles match
//!   anywhere (a name glued to another word is still a leak, and is unlikely by chance);
//! - the raw PatientBirthDate in every DA and DT element.
//!
//! What is not searched: binary VRs (OB OW OF OD OL FL FD SL SS UL US AT...) and pixel data;
//! format-restricted VRs that cannot hold a name (DA DT TM DS IS UI AS), where a numeric ID would
//! only match by coincidence (UIDs are checked for equality with the raw file instead); and the
//! Siemens CSA headers (private block `SIEMENS CSA HEADER`, usually (0029,1010) and (0029,1020)):
//! they are binary scanner parameters the lab's procedure keeps as they are, so the comparison
//! requires them byte-identical to the raw file and the sweep leaves them alone. Names (only
//! names) are not looked for in coded vocabulary: the parts of a code and an SR content item's
//! ValueType and RelationshipType (see `is_coded`).
//! Needles that occur in the profile's own replacement values (a raw name of `Anonymous`) are
//! dropped, or every anonymized element would match.

use super::parse::{self, DataSet, Elem, Val};
use super::{Rank, Ranked, keyword};
use crate::finding::Finding;
use aho_corasick::{AhoCorasick, AhoCorasickKind};
use dicom_core::Tag;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

/// Needles shorter than this (in characters) match only as whole words.
const WHOLE_WORD_BELOW: usize = 6;

/// What a needle is: decides the finding's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Id,
    Name,
    BirthDate,
    Identity,
    Uid,
    Date,
}

impl Kind {
    /// The needle's kind in a finding's words: `holds the patient's name`.
    pub fn what(self) -> &'static str {
        match self {
            Kind::Id => "the patient's ID",
            Kind::Name => "the patient's name",
            Kind::BirthDate => "the birth date",
            Kind::Identity => "an institution, device or accession identifier",
            Kind::Uid => "an original UID",
            Kind::Date => "an original date",
        }
    }
}

/// The PHI strings to look for, lowercase. Kept in memory only; never printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needles {
    text: BTreeSet<(Kind, String)>,
    birth_dates: BTreeSet<String>,
    /// Original UIDs and dates (extended needles only), searched as tokens in free text.
    uids: BTreeSet<String>,
    dates: BTreeSet<String>,
    /// Some UID in `uids` is shorter than a date (8 characters): without one, a shorter
    /// token is looked up in neither set.
    short_uids: bool,
}

/// `kept(tag, vr)`: whether the profile keeps an element's original value (see
/// [`Needles::from_raw`]).
pub type Kept<'a> = dyn Fn(Tag, &[u8]) -> bool + 'a;

impl Needles {
    /// The needles of one raw file: `original_id`, its PatientID, the names in its patient PN
    /// elements (group 0010: PatientName, OtherPatientNames, ...) and its birth date. With
    /// `extended` (every profile but `lab`): also every PN element at any depth (staff names),
    /// InstitutionName, StationName, DeviceSerialNumber, AccessionNumber, and the file's
    /// original UIDs and dates (searched for in free text, see [`Needles::sweep`]).
    pub fn from_raw(
        raw: &[Elem<'_>],
        original_id: Option<&str>,
        exclude: &[String],
        extended: Option<&Kept<'_>>,
    ) -> Self {
        // `kept(tag, vr)`: the profile keeps this element's original value (an option such as
        // retain-device-identity or retain-uids), so that value is no needle.
        let kept = |tag: Tag, vr: &[u8]| extended.is_some_and(|k| k(tag, vr));
        let extended_on = extended.is_some();
        let mut n = Needles::default();
        let add = |n: &mut Needles, kind: Kind, s: &str| {
            let s = s.trim().to_lowercase();
            if !s.is_empty() && !exclude.iter().any(|x| x.contains(&s)) {
                n.text.insert((kind, s));
            }
        };
        let add_name = |n: &mut Needles, name: &str| {
            for part in name.split(['^', '=', '\\', ' ']) {
                if part.trim().chars().count() >= 3 {
                    add(n, Kind::Name, part);
                }
            }
        };
        if let Some(id) = original_id {
            add(&mut n, Kind::Id, id);
        }
        if let Some(id) = element_text(raw, Tag(0x0010, 0x0020)) {
            add(&mut n, Kind::Id, &id);
        }
        if let Some(bd) = element_text(raw, Tag(0x0010, 0x0030)) {
            let bd = bd.trim();
            // Under a standard profile, the dummy date `19000101` of a file anonymized before is
            // no one's birth date (the lab profile's needles stay as they always were).
            if bd.len() == 8
                && bd.bytes().all(|b| b.is_ascii_digit())
                && !(extended_on && bd == "19000101")
            {
                n.birth_dates.insert(bd.to_string());
            }
        }
        if extended_on {
            for tag in [
                Tag(0x0008, 0x0050),
                Tag(0x0008, 0x0080),
                Tag(0x0008, 0x1010),
                Tag(0x0018, 0x1000),
            ] {
                if kept(tag, b"LO") {
                    continue;
                }
                // A serial of `0` or a one-letter station is no one's identity.
                if let Some(v) = element_text(raw, tag).filter(|v| v.chars().count() >= 3) {
                    add(&mut n, Kind::Identity, &v);
                }
            }
        }
        // Every data set, iteratively (the parser bounds the depth).
        let mut stack: Vec<(&[Elem<'_>], bool)> = vec![(raw, true)];
        while let Some((ds, top)) = stack.pop() {
            for e in ds {
                match &e.value {
                    Val::Seq(items) => stack.extend(items.iter().map(|i| (i.as_slice(), false))),
                    Val::Bytes(b) => match &e.vr {
                        b"PN"
                            if (extended_on && !kept(e.tag, b"PN"))
                                || (top && e.tag.0 == 0x0010) =>
                        {
                            add_name(&mut n, &parse::text(b));
                        }
                        b"UI" if extended_on && !kept(e.tag, b"UI") => {
                            for u in parse::text(b).split('\\') {
                                // Well-known UIDs (SOP classes, transfer syntaxes) are no one's.
                                if u.len() >= 8 && !u.starts_with("1.2.840.10008.") {
                                    n.add_uid(u.trim());
                                }
                            }
                        }
                        b"DA" | b"DT" if extended_on && !kept(e.tag, &e.vr) => {
                            for d in parse::text(b).split('\\') {
                                let d = d.trim().get(..8).unwrap_or("");
                                if d.bytes().all(|c| c.is_ascii_digit()) && d.len() == 8 {
                                    n.dates.insert(d.to_string());
                                }
                            }
                        }
                        _ => {}
                    },
                    Val::Frags(_) => {}
                }
            }
        }
        n
    }

    /// [`from_raw`](Self::from_raw) without extended needles (the lab profile), with the
    /// needles' [`fingerprint`](Self::fingerprint), remembered per thread. Those needles come
    /// only from `original_id`, `exclude` and the raw file's top-level group-0010 elements,
    /// which a participant's files share: the same inputs give the same needles, so they are
    /// built once per participant and thread, and handed out shared. A file whose group-0010
    /// tags are not strictly ascending (a tag twice: which one a lookup finds depends on the
    /// rest of the file) is not remembered.
    pub fn patient_shared(
        raw: &[Elem<'_>],
        original_id: Option<&str>,
        exclude: &[String],
    ) -> (Arc<Needles>, u64) {
        let build = || {
            let n = Needles::from_raw(raw, original_id, exclude, None);
            let fp = n.fingerprint();
            (Arc::new(n), fp)
        };
        let Some(key) = patient_key(raw, original_id, exclude) else {
            return build();
        };
        let cached = PATIENT_NEEDLES
            .try_with(|c| {
                c.borrow()
                    .as_ref()
                    .filter(|(k, ..)| *k == key)
                    .map(|(_, n, fp)| (Arc::clone(n), *fp))
            })
            .ok()
            .flatten();
        cached.unwrap_or_else(|| {
            let (n, fp) = build();
            let _ = PATIENT_NEEDLES.try_with(|c| *c.borrow_mut() = Some((key, Arc::clone(&n), fp)));
            (n, fp)
        })
    }

    /// A fingerprint of the names, IDs and birth dates (not the UIDs and dates, which differ
    /// from file to file): files with equal fingerprints were swept with the same needles.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.text.hash(&mut h);
        self.birth_dates.hash(&mut h);
        h.finish()
    }

    /// Adds another file's needles (a folder's files normally share them).
    pub fn extend(&mut self, other: Needles) {
        self.text.extend(other.text);
        self.birth_dates.extend(other.birth_dates);
        self.uids.extend(other.uids);
        self.dates.extend(other.dates);
        self.short_uids |= other.short_uids;
    }

    fn add_uid(&mut self, u: &str) {
        // The empty UID needs no flag: empty runs are answered before the length filter.
        self.short_uids |= !u.is_empty() && u.len() < 8;
        self.uids.insert(u.to_string());
    }

    /// The first kind of needle found in `hay` (a name or a value).
    pub fn find(&self, hay: &str) -> Option<Kind> {
        self.find_text(hay, true)
            .or_else(|| {
                self.birth_dates
                    .iter()
                    .any(|d| hay.contains(d.as_str()))
                    .then_some(Kind::BirthDate)
            })
            .or_else(|| self.find_token(hay))
    }

    /// An original UID or date in `hay`, as a whole run of digits and dots (a UID) or a run of
    /// 8+ digits starting with the date: one set lookup per run, whatever the number of needles.
    /// The runs are those `hay.split(|c| !(c.is_ascii_digit() || c == '.'))` gives, empty ones
    /// included, found on the bytes (a value without digits costs one pass, no lookup).
    fn find_token(&self, hay: &str) -> Option<Kind> {
        if self.uids.is_empty() && self.dates.is_empty() {
            return None;
        }
        // Every empty run gives the same answer.
        let empty = self.uids.contains("").then_some(Kind::Uid);
        let b = hay.as_bytes();
        let tokenish = |c: u8| c.is_ascii_digit() || c == b'.';
        let mut i = 0;
        loop {
            let start = i;
            while i < b.len() && tokenish(b[i]) {
                i += 1;
            }
            let run = &b[start..i];
            let found = if run.len() < 8 && !self.short_uids {
                // Too short for a date and for every UID: no lookup (most runs are numbers).
                // Only a run of dots (or none) trims to the empty token.
                if run.iter().all(|c| *c == b'.') {
                    empty
                } else {
                    None
                }
            } else {
                let t = hay[start..i].trim_matches('.');
                if t.is_empty() {
                    empty
                } else if self.uids.contains(t) {
                    Some(Kind::Uid)
                } else if t.len() >= 8 && self.dates.contains(&t[..8]) && !t.contains('.') {
                    Some(Kind::Date)
                } else {
                    None
                }
            };
            if found.is_some() {
                return found;
            }
            // The separator: one character, whatever its length in bytes (a UTF-8 character's
            // continuation bytes follow its first).
            if i == b.len() {
                return None;
            }
            i += 1;
            while i < b.len() && b[i] & 0xC0 == 0x80 {
                i += 1;
            }
        }
    }

    /// [`find_token`](Self::find_token) as first written, the reference in tests.
    #[cfg(test)]
    fn find_token_by_split(&self, hay: &str) -> Option<Kind> {
        if self.uids.is_empty() && self.dates.is_empty() {
            return None;
        }
        hay.split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map(|t| t.trim_matches('.'))
            .find_map(|t| {
                if self.uids.contains(t) {
                    Some(Kind::Uid)
                } else if t.len() >= 8 && self.dates.contains(&t[..8]) && !t.contains('.') {
                    Some(Kind::Date)
                } else {
                    None
                }
            })
    }

    /// The first ID or name found in `hay`: short needles as whole words only; `names`: also
    /// the name needles.
    fn find_text(&self, hay: &str, names: bool) -> Option<Kind> {
        Searcher::of(&self.text).find(hay, names)
    }

    /// Replaces every needle in `s` with `[redacted]` (for file paths put in findings).
    pub fn redact(&self, s: &str) -> String {
        let mut out = s.to_string();
        let all = self
            .text
            .iter()
            .map(|(_, n)| n.as_str())
            .chain(self.birth_dates.iter().map(String::as_str));
        const MARK: &str = "[redacted]";
        for n in all {
            let mut pos = 0;
            while let Some(i) = find_ci(&out[pos..], n, false).map(|i| i + pos) {
                let end = i + n.len();
                if end > out.len() || !out.is_char_boundary(end) {
                    break;
                }
                out.replace_range(i..end, MARK);
                pos = i + MARK.len();
            }
        }
        out
    }

    /// Sweeps an anonymized data set; `skip_top` names top-level tags checked elsewhere.
    pub fn sweep<S: Fn(Tag) -> bool + ?Sized>(
        &self,
        ds: &DataSet<'_>,
        skip_top: &S,
        out: &mut Vec<Ranked>,
    ) {
        if self.text.is_empty()
            && self.birth_dates.is_empty()
            && self.uids.is_empty()
            && self.dates.is_empty()
        {
            return;
        }
        let searcher = Searcher::of(&self.text);
        self.sweep_in(ds, None, skip_top, &searcher, out);
    }

    /// Recursion is bounded by the parser's depth limit.
    fn sweep_in<S: Fn(Tag) -> bool + ?Sized>(
        &self,
        ds: &DataSet<'_>,
        outer: Option<Tag>,
        skip_top: &S,
        searcher: &Searcher,
        out: &mut Vec<Ranked>,
    ) {
        for elem in ds {
            let tag = elem.tag;
            if tag == parse::PIXEL_DATA || (outer.is_none() && skip_top(tag)) || is_csa(ds, tag) {
                continue;
            }
            let found = match &elem.value {
                Val::Seq(items) => {
                    for item in items.iter() {
                        self.sweep_in(item, outer.or(Some(tag)), skip_top, searcher, out);
                    }
                    None
                }
                Val::Frags(_) => None,
                Val::Bytes(b) => self.find_in_value(searcher, elem.vr, b, !is_coded(tag)),
            };
            if let Some(kind) = found {
                let inside = outer
                    .map(|o| format!(" inside {}", super::tag_ref(o)))
                    .unwrap_or_default();
                out.push(Ranked {
                    rank: Rank::Phi,
                    finding: Finding::new(format!(
                        "{}{inside} holds {}",
                        keyword(tag),
                        kind.what()
                    ))
                    .tag(tag.0, tag.1),
                });
            }
        }
    }

    /// The first needle in one value; `names`: also the name needles (not in coded vocabulary).
    fn find_in_value(
        &self,
        searcher: &Searcher,
        vr: [u8; 2],
        v: &[u8],
        names: bool,
    ) -> Option<Kind> {
        match &vr {
            b"DA" | b"DT" => {
                let s = parse::text(v);
                self.birth_dates
                    .iter()
                    .any(|d| s.contains(d.as_str()))
                    .then_some(Kind::BirthDate)
            }
            b"AE" | b"CS" | b"LO" | b"LT" | b"PN" | b"SH" | b"ST" | b"UC" | b"UR" | b"UT"
            | b"UN" => {
                if searcher.other.is_empty() && self.uids.is_empty() && self.dates.is_empty() {
                    // ASCII needles only, no UID or date to look up (the lab profile): the
                    // value is searched as bytes, undecoded. An ASCII needle matches the same
                    // bytes whether the value is read as UTF-8 or as Latin-1, and a byte
                    // above 127 is no letter or digit to the whole-word test either way.
                    return searcher.find_ascii(parse::trimmed(v), names);
                }
                let t = parse::text(v);
                searcher.find(&t, names).or_else(|| self.find_token(&t))
            }
            _ => None,
        }
    }
}

/// Needles remembered with what they were built from ([`patient_key`]) and their fingerprint.
type Remembered = (Vec<u8>, Arc<Needles>, u64);

thread_local! {
    /// The last [`Needles::patient_shared`] on this thread.
    static PATIENT_NEEDLES: RefCell<Option<Remembered>> = const { RefCell::new(None) };
}

/// Everything the lab profile's needles of `raw` depend on, as bytes: `original_id`,
/// `exclude`, and each top-level element of group 0010 (tag, VR, value). `None` when those
/// elements' tags are not strictly ascending.
fn patient_key(raw: &[Elem<'_>], original_id: Option<&str>, exclude: &[String]) -> Option<Vec<u8>> {
    let mut key = vec![u8::from(original_id.is_some())];
    key.reserve(256);
    let mut text = |s: &str| {
        key.extend_from_slice(&(s.len() as u64).to_le_bytes());
        key.extend_from_slice(s.as_bytes());
    };
    text(original_id.unwrap_or_default());
    for x in exclude {
        text(x);
    }
    key.extend_from_slice(&(exclude.len() as u64).to_le_bytes());
    let mut last: Option<Tag> = None;
    for e in raw.iter().filter(|e| e.tag.0 == 0x0010) {
        if last.is_some_and(|l| l >= e.tag) {
            return None;
        }
        last = Some(e.tag);
        key.extend_from_slice(&e.tag.1.to_le_bytes());
        key.extend_from_slice(&e.vr);
        match e.value {
            Val::Bytes(b) => {
                key.push(0);
                key.extend_from_slice(&(b.len() as u64).to_le_bytes());
                key.extend_from_slice(b);
            }
            Val::Seq(_) | Val::Frags(_) => key.push(1),
        }
    }
    Some(key)
}

/// Coded vocabulary, where the name sweep does not look: the parts of a code (CodeValue,
/// CodingSchemeDesignator, CodingSchemeVersion, CodeMeaning, LongCodeValue) and an SR content
/// item's ValueType and RelationshipType. Their values come from a coding scheme or the
/// standard's defined terms (`TEXT`, `PNAME`, `CONTAINS`, `Person Name`), not from whoever typed
/// the report, so a name cannot hide there; but under a standard profile every PN element gives
/// name needles, and SR templates ship placeholder names (`Last Name^First Name`, `Enter text`,
/// `Test^S R`) whose parts (`name`, `text`, `test`) are words of that vocabulary: every report
/// would be a false alarm. IDs, birth dates, UIDs and dates are still looked for there, and names
/// in every free-text element (TextValue, comments, descriptions).
fn is_coded(tag: Tag) -> bool {
    matches!(
        (tag.0, tag.1),
        (0x0008, 0x0100 | 0x0102 | 0x0103 | 0x0104 | 0x0119) | (0x0040, 0xA010 | 0xA040)
    )
}

/// The ID and name needles as one automaton: every value is scanned once for all of them,
/// case-insensitively, instead of once per needle. Same answers as [`contains_ci`] needle by
/// needle: short needles only as whole words (checked at each occurrence), the first kind in
/// [`Kind`] order when several needles match. Needles with non-ASCII letters, which ASCII case
/// folding cannot match, are searched one by one as before (rare).
#[derive(Debug)]
struct Searcher {
    /// The needles it was built from: a cached searcher is reused only for the same needles.
    needles: Vec<(Kind, String)>,
    /// The ASCII needles, one pattern per distinct string (`None`: there are none).
    ac: Option<AhoCorasick>,
    /// Per pattern of `ac`.
    pats: Vec<Pattern>,
    /// The bytes a pattern of `ac` starts with, in either case, and the shortest pattern's
    /// length: a value with no such byte, or shorter, is not handed to the automaton (most
    /// values are short codes; the automaton's setup costs more than this check).
    starts: [bool; 256],
    /// When every pattern has two bytes or more: bit `a * 256 + b` is set when a pattern
    /// starts with `a`, `b` (in any case). A value with no such pair of bytes is not handed
    /// to the automaton either: a single letter such as `a` or `t` starts a needle, and most
    /// text has one, but few values hold a needle's first two letters.
    pairs: Option<Box<[u64; 1024]>>,
    shortest: usize,
    /// The needles with non-ASCII characters.
    other: Vec<(Kind, String)>,
}

/// What a match of one pattern means.
#[derive(Debug, Clone, Copy)]
struct Pattern {
    /// The first kind the string is a needle of.
    kind: Kind,
    /// The first kind other than a name (for coded vocabulary), if any.
    not_name: Option<Kind>,
    /// Matches only as a whole word.
    words: bool,
}

thread_local! {
    /// The last searcher built on this thread: a participant's files share their needles, so
    /// the automaton is built once per participant and thread, not once per file.
    static SEARCHER: RefCell<Option<Rc<Searcher>>> = const { RefCell::new(None) };
}

impl Searcher {
    /// The searcher for `text` (the needles' set), from the thread's cache when it fits.
    fn of(text: &BTreeSet<(Kind, String)>) -> Rc<Searcher> {
        let fits = |s: &Searcher| {
            s.needles.len() == text.len() && s.needles.iter().zip(text).all(|(a, b)| a == b)
        };
        if let Ok(Some(s)) = SEARCHER.try_with(|c| c.borrow().clone())
            && fits(&s)
        {
            return s;
        }
        let s = Rc::new(Searcher::new(text));
        let _ = SEARCHER.try_with(|c| *c.borrow_mut() = Some(Rc::clone(&s)));
        s
    }

    fn new(text: &BTreeSet<(Kind, String)>) -> Searcher {
        let mut strings: Vec<&str> = Vec::new();
        let mut pats: Vec<Pattern> = Vec::new();
        let mut other = Vec::new();
        // In set order: the first kind of a string comes first.
        for (kind, n) in text {
            if n.is_empty() {
                continue;
            }
            if !n.is_ascii() {
                other.push((*kind, n.clone()));
                continue;
            }
            match strings.iter().position(|s| s == n) {
                Some(i) => {
                    let p = &mut pats[i];
                    if *kind != Kind::Name && p.not_name.is_none() {
                        p.not_name = Some(*kind);
                    }
                }
                None => {
                    strings.push(n);
                    pats.push(Pattern {
                        kind: *kind,
                        not_name: (*kind != Kind::Name).then_some(*kind),
                        words: is_short(n),
                    });
                }
            }
        }
        let ac = if strings.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&strings)
                .or_else(|_| {
                    AhoCorasick::builder()
                        .ascii_case_insensitive(true)
                        .build(&strings)
                })
                .ok()
        };
        if ac.is_none() {
            // Cannot happen for real needles; searched one by one all the same.
            for (s, p) in strings.iter().zip(&pats) {
                other.push((p.kind, s.to_string()));
                if let Some(k) = p.not_name.filter(|k| *k != p.kind) {
                    other.push((k, s.to_string()));
                }
            }
            pats.clear();
        }
        let mut starts = [false; 256];
        let shortest = if ac.is_some() {
            strings.iter().map(|s| s.len()).min().unwrap_or(0)
        } else {
            0
        };
        if ac.is_some() {
            for s in &strings {
                let b = s.as_bytes()[0];
                starts[usize::from(b.to_ascii_lowercase())] = true;
                starts[usize::from(b.to_ascii_uppercase())] = true;
            }
        }
        let pairs = (ac.is_some() && shortest >= 2).then(|| {
            let mut pairs = Box::new([0u64; 1024]);
            for s in &strings {
                let (a, b) = (s.as_bytes()[0], s.as_bytes()[1]);
                for a in [a.to_ascii_lowercase(), a.to_ascii_uppercase()] {
                    for b in [b.to_ascii_lowercase(), b.to_ascii_uppercase()] {
                        let i = usize::from(a) << 8 | usize::from(b);
                        pairs[i >> 6] |= 1 << (i & 63);
                    }
                }
            }
            pairs
        });
        Searcher {
            needles: text.iter().cloned().collect(),
            ac,
            pats,
            starts,
            pairs,
            shortest,
            other,
        }
    }

    /// The first kind (in [`Kind`] order) of needle in `hay`; `names`: name needles too.
    fn find(&self, hay: &str, names: bool) -> Option<Kind> {
        let mut best = self.find_ascii(hay.as_bytes(), names);
        for (kind, n) in &self.other {
            if (names || *kind != Kind::Name)
                && best.is_none_or(|b| *kind < b)
                && contains_ci(hay, n, is_short(n))
            {
                best = Some(*kind);
            }
        }
        best
    }

    /// Whether `h` may hold a pattern of the automaton: long enough, and with a pattern's
    /// first two bytes (or, with a one-byte pattern, its first byte) somewhere.
    fn worth(&self, h: &[u8]) -> bool {
        if h.len() < self.shortest {
            return false;
        }
        match &self.pairs {
            Some(pairs) => h.windows(2).any(|w| {
                let i = usize::from(w[0]) << 8 | usize::from(w[1]);
                pairs[i >> 6] & (1 << (i & 63)) != 0
            }),
            None => h.iter().any(|&b| self.starts[usize::from(b)]),
        }
    }

    /// [`find`](Self::find) for the ASCII needles alone, on bytes.
    fn find_ascii(&self, h: &[u8], names: bool) -> Option<Kind> {
        let mut best: Option<Kind> = None;
        if let Some(ac) = self.ac.as_ref().filter(|_| self.worth(h)) {
            for m in ac.find_overlapping_iter(h) {
                let p = self.pats[m.pattern().as_usize()];
                let Some(kind) = (if names { Some(p.kind) } else { p.not_name }) else {
                    continue;
                };
                if best.is_some_and(|b| b <= kind) {
                    continue;
                }
                if p.words && !whole_word(h, m.start(), m.end()) {
                    continue;
                }
                best = Some(kind);
                if kind == Kind::Id {
                    return best;
                }
            }
        }
        best
    }
}

/// `h[start..end]` is not inside a longer word: no letter or digit on either side.
fn whole_word(h: &[u8], start: usize, end: usize) -> bool {
    (start == 0 || !h[start - 1].is_ascii_alphanumeric())
        && h.get(end).is_none_or(|c| !c.is_ascii_alphanumeric())
}

/// True for an element of a private block whose creator is `SIEMENS CSA HEADER`.
/// The verifier's own creator lookup (on its own parser), independent of the writer's.
#[inline]
pub fn is_csa(ds: &[Elem<'_>], tag: Tag) -> bool {
    !tag.0.is_multiple_of(2) && tag.1 >= 0x1000 && csa_creator(ds, tag)
}

/// [`is_csa`] for a private data element (odd group, element 0x1000 or above).
fn csa_creator(ds: &[Elem<'_>], tag: Tag) -> bool {
    // On the bytes: `parse::text(b) == "SIEMENS CSA HEADER"` without decoding (the name is
    // ASCII, so only these bytes, padded with spaces or NULs, decode to it).
    let pad = |c: &u8| *c == b' ' || *c == 0;
    parse::get(ds, Tag(tag.0, tag.1 >> 8)).is_some_and(|c| match c.value {
        Val::Bytes(b) => {
            let start = b.iter().position(|c| !pad(c)).unwrap_or(b.len());
            let end = b.iter().rposition(|c| !pad(c)).map_or(start, |i| i + 1);
            &b[start..end] == b"SIEMENS CSA HEADER"
        }
        _ => false,
    })
}

/// An element's value as text, trimmed of padding (UTF-8, else Latin-1).
pub fn element_text(ds: &[Elem<'_>], tag: Tag) -> Option<String> {
    match parse::get(ds, tag)?.value {
        Val::Bytes(b) => Some(parse::text(b).into_owned()),
        _ => None,
    }
}

/// A needle shorter than [`WHOLE_WORD_BELOW`] characters (counted only when it matters).
fn is_short(n: &str) -> bool {
    n.len() < WHOLE_WORD_BELOW || (!n.is_ascii() && n.chars().count() < WHOLE_WORD_BELOW)
}

/// Case-insensitive `needle` (already lowercase) in `hay`; `words`: not inside a longer word.
pub fn contains_ci(hay: &str, needle: &str, words: bool) -> bool {
    find_ci(hay, needle, words).is_some()
}

fn find_ci(hay: &str, needle: &str, words: bool) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    // Non-ASCII needles: lowercase the haystack (rare, so the allocation does not matter).
    let lowered;
    let hay = if needle.is_ascii() {
        hay
    } else {
        lowered = hay.to_lowercase();
        lowered.as_str()
    };
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if h.len() < n.len() {
        return None;
    }
    let first = n[0].to_ascii_lowercase();
    (0..=h.len() - n.len()).find(|&i| {
        h[i].to_ascii_lowercase() == first
            && h[i..i + n.len()].eq_ignore_ascii_case(n)
            && (!words || whole_word(h, i, i + n.len()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::PrimitiveValue;
    use dicom_core::{DataElement, VR};
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

    /// An object as the bytes of an explicit VR little endian file.
    fn bytes(o: InMemDicomObject) -> Vec<u8> {
        let f = o
            .with_meta(
                FileMetaTableBuilder::new()
                    .media_storage_sop_class_uid("1.2.3")
                    .media_storage_sop_instance_uid("1.2.3.4")
                    .transfer_syntax("1.2.840.10008.1.2.1"),
            )
            .unwrap();
        let mut out = Vec::new();
        f.write_all(&mut out).unwrap();
        out
    }

    /// Needles from an object, through the verifier's own parser.
    fn needles(o: InMemDicomObject, id: Option<&str>, exclude: &[String]) -> Needles {
        let b = bytes(o);
        let s = parse::Scratch::default();
        let f = parse::read(&b, &s).unwrap();
        Needles::from_raw(&f.root, id, exclude, None)
    }

    /// The findings of a sweep over an object.
    fn swept(n: &Needles, o: InMemDicomObject, skip: &dyn Fn(Tag) -> bool) -> Vec<String> {
        let b = bytes(o);
        let s = parse::Scratch::default();
        let f = parse::read(&b, &s).unwrap();
        let mut out = Vec::new();
        n.sweep(&f.root, skip, &mut out);
        out.iter().map(|r| r.finding.to_string()).collect()
    }

    fn raw() -> InMemDicomObject {
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(Tag(0x0010, 0x0010), VR::PN, "Doe^Jane^Al"));
        o.put(DataElement::new(Tag(0x0010, 0x0020), VR::LO, "P7 "));
        o.put(DataElement::new(Tag(0x0010, 0x0030), VR::DA, "19800102"));
        o
    }

    #[test]
    fn needles_are_the_ids_name_parts_and_birth_date() {
        let n = needles(raw(), Some("101"), &["anonymous".into()]);
        assert_eq!(n.find("x DOE^y"), Some(Kind::Name));
        assert_eq!(n.find("jane"), Some(Kind::Name));
        assert_eq!(
            n.find("janet"),
            None,
            "short needles match whole words only"
        );
        assert_eq!(
            n.find("al"),
            None,
            "name parts under 3 characters are ignored"
        );
        assert_eq!(n.find("sub_101.dcm"), Some(Kind::Id));
        assert_eq!(n.find("sub1010"), None);
        assert_eq!(n.find("a p7"), Some(Kind::Id));
        assert_eq!(n.find("19800102"), Some(Kind::BirthDate));
        assert_eq!(n.find("Anonymous"), None);
        let mut o = raw();
        o.put(DataElement::new(
            Tag(0x0010, 0x0010),
            VR::PN,
            "Johansson^Ann",
        ));
        let n = needles(o, None, &[]);
        assert_eq!(n.find("channel"), None);
        assert_eq!(
            n.find("MrsJohanssonX"),
            Some(Kind::Name),
            "long needles anywhere"
        );
    }

    #[test]
    fn needles_inside_the_profile_values_are_dropped() {
        let mut o = raw();
        o.put(DataElement::new(Tag(0x0010, 0x0010), VR::PN, "Anon^Ymous"));
        let n = needles(o, None, &["anonymous".into()]);
        assert_eq!(n.find("anonymous"), None);
    }

    #[test]
    fn sweep_finds_names_in_private_and_nested_elements_but_not_in_binary() {
        let n = needles(raw(), Some("101"), &[]);
        let mut item = InMemDicomObject::new_empty();
        item.put(DataElement::new(Tag(0x0033, 0x1013), VR::LO, "JANE DOE"));
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(Tag(0x0010, 0x0010), VR::PN, "Doe^Jane"));
        o.put(DataElement::new(
            Tag(0x0008, 0x1140),
            VR::SQ,
            dicom_core::value::DataSetSequence::from(vec![item]),
        ));
        o.put(DataElement::new(
            Tag(0x0019, 0x1001),
            VR::UN,
            PrimitiveValue::U8(b"x Doe ".as_slice().into()),
        ));
        o.put(DataElement::new(
            Tag(0x0019, 0x1002),
            VR::OB,
            PrimitiveValue::U8(b"Doe ".as_slice().into()),
        ));
        o.put(DataElement::new(
            Tag(0x0019, 0x1003),
            VR::UN,
            PrimitiveValue::U8(b"Doey".as_slice().into()),
        ));
        o.put(DataElement::new(Tag(0x0008, 0x0020), VR::DA, "19800102"));
        o.put(DataElement::new(Tag(0x0020, 0x000D), VR::UI, "1.2.101"));
        let got = swept(&n, o, &|t| t == Tag(0x0010, 0x0010));
        assert_eq!(
            got,
            [
                "(0008,0020) StudyDate holds the birth date",
                "(0033,1013) private element inside (0008,1140) holds the patient's name",
                "(0019,1001) private element holds the patient's name",
            ]
        );
    }

    #[test]
    fn csa_headers_are_left_alone() {
        let n = needles(raw(), None, &[]);
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(
            Tag(0x0029, 0x0010),
            VR::LO,
            "SIEMENS CSA HEADER",
        ));
        o.put(DataElement::new(
            Tag(0x0029, 0x1010),
            VR::UN,
            PrimitiveValue::U8(b" Doe ".as_slice().into()),
        ));
        assert!(swept(&n, o, &|_| false).is_empty());
    }

    #[test]
    fn the_csa_creator_is_recognised_on_its_bytes_as_by_its_text() {
        let creators: [&[u8]; 8] = [
            b"SIEMENS CSA HEADER",
            b"SIEMENS CSA HEADER\0",
            b" SIEMENS CSA HEADER  ",
            b"\0SIEMENS CSA HEADER \0",
            b"SIEMENS CSA HEADER2",
            b"siemens csa header",
            b"SIEMENS CSA\xA0HEADER",
            b"",
        ];
        for c in creators {
            let ds = [
                Elem {
                    tag: Tag(0x0029, 0x0010),
                    vr: *b"LO",
                    value: Val::Bytes(c),
                },
                Elem {
                    tag: Tag(0x0029, 0x1010),
                    vr: *b"OB",
                    value: Val::Bytes(b"x"),
                },
            ];
            let by_text = parse::text(c) == "SIEMENS CSA HEADER";
            assert_eq!(is_csa(&ds, Tag(0x0029, 0x1010)), by_text, "{c:?}");
            assert!(!is_csa(&ds, Tag(0x0029, 0x0010)));
        }
    }

    /// An SR document's template placeholders (`Last Name^First Name`, `Enter text`) give name
    /// needles (`name`, `text`) that are also words of its coded vocabulary: no finding there,
    /// while a name typed into a TextValue is still caught, and an ID in a code too.
    #[test]
    fn names_are_not_looked_for_in_coded_vocabulary_but_in_sr_text() {
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(Tag(0x0010, 0x0010), VR::PN, "Test^S R"));
        o.put(DataElement::new(Tag(0x0010, 0x0020), VR::LO, "ID4321"));
        o.put(DataElement::new(
            Tag(0x0040, 0xA123),
            VR::PN,
            "Last Name^First Name",
        ));
        o.put(DataElement::new(Tag(0x0040, 0xA075), VR::PN, "Enter text"));
        let b = bytes(o);
        let sc = parse::Scratch::default();
        let f = parse::read(&b, &sc).unwrap();
        let n = Needles::from_raw(&f.root, None, &[], Some(&|_, _| false));
        let code = |value: &str, meaning: &str| {
            let mut c = InMemDicomObject::new_empty();
            c.put(DataElement::new(Tag(0x0008, 0x0100), VR::SH, value));
            c.put(DataElement::new(Tag(0x0008, 0x0102), VR::SH, "TEST"));
            c.put(DataElement::new(Tag(0x0008, 0x0103), VR::SH, "Name 1"));
            c.put(DataElement::new(Tag(0x0008, 0x0104), VR::LO, meaning));
            dicom_core::value::DataSetSequence::from(vec![c])
        };
        let item = |value_type: &str, text: Option<&str>| {
            let mut i = InMemDicomObject::new_empty();
            i.put(DataElement::new(Tag(0x0040, 0xA010), VR::CS, "HAS TEXT"));
            i.put(DataElement::new(Tag(0x0040, 0xA040), VR::CS, value_type));
            i.put(DataElement::new(
                Tag(0x0040, 0xA043),
                VR::SQ,
                code("TEXT", "Person Name, first and last"),
            ));
            if let Some(t) = text {
                i.put(DataElement::new(Tag(0x0040, 0xA160), VR::UT, t));
            }
            i
        };
        let sr = |text: Option<&str>, code_value: &str| {
            let mut o = InMemDicomObject::new_empty();
            o.put(DataElement::new(Tag(0x0040, 0xA040), VR::CS, "TEXT"));
            o.put(DataElement::new(
                Tag(0x0040, 0xA043),
                VR::SQ,
                code(code_value, "Test Name"),
            ));
            o.put(DataElement::new(
                Tag(0x0040, 0xA730),
                VR::SQ,
                dicom_core::value::DataSetSequence::from(vec![
                    item("TEXT", None),
                    item("PNAME", text),
                ]),
            ));
            o
        };
        assert_eq!(swept(&n, sr(None, "T1"), &|_| false), Vec::<String>::new());
        assert_eq!(
            swept(&n, sr(Some("seen by Dr Test"), "T1"), &|_| false),
            ["(0040,A160) TextValue inside (0040,A730) holds the patient's name"]
        );
        assert_eq!(
            swept(&n, sr(None, "ID4321"), &|_| false),
            ["(0008,0100) CodeValue inside (0040,A043) holds the patient's ID"]
        );
    }

    /// The automaton answers as the needle-by-needle search it replaced: same kind, whole words
    /// for short needles, non-ASCII needles, a string that is a needle of two kinds.
    #[test]
    fn the_searcher_answers_as_one_search_per_needle() {
        let text: BTreeSet<(Kind, String)> = [
            (Kind::Id, "p7"),
            (Kind::Id, "sub-01x"),
            (Kind::Name, "doe"),
            (Kind::Name, "johansson"),
            (Kind::Name, "sub-01x"),
            (Kind::Name, "jörg"),
            (Kind::Identity, "mrc35162"),
            (Kind::Identity, "doe"),
        ]
        .into_iter()
        .map(|(k, s)| (k, s.to_string()))
        .collect();
        let one_by_one = |hay: &str, names: bool| {
            text.iter()
                .filter(|(k, _)| names || *k != Kind::Name)
                .find(|(_, n)| contains_ci(hay, n, is_short(n)))
                .map(|(k, _)| *k)
        };
        let s = Searcher::new(&text);
        let hays = [
            "",
            "doe",
            "DOE^JANE",
            "doey",
            "a doe p7",
            "MrsJohanssonX",
            "JÖRG",
            "jörg",
            "x Jörg y",
            "station MRC35162",
            "sub-01xy p7x",
            "p7 MRC35162 doe",
            "ddoe doe",
            "doedoe",
        ];
        for hay in hays {
            for names in [true, false] {
                assert_eq!(
                    s.find(hay, names),
                    one_by_one(hay, names),
                    "{hay:?} {names}"
                );
            }
        }
        // The cached searcher is rebuilt for other needles.
        let a = Searcher::of(&text);
        assert_eq!(a.find("doe", true), Some(Kind::Name));
        let other: BTreeSet<(Kind, String)> = [(Kind::Id, "x101".to_string())].into();
        assert_eq!(Searcher::of(&other).find("doe", true), None);
        assert_eq!(Searcher::of(&other).find("a x101", true), Some(Kind::Id));
    }

    /// The lab needles remembered per thread are the ones `from_raw` builds, whichever input
    /// changes from one file to the next: a name (padding included), the ID, the birth date,
    /// another group-0010 element's value or VR, the original ID, the exclusions; and a file
    /// holding PatientName twice is never taken from memory.
    #[test]
    fn remembered_patient_needles_are_the_built_ones() {
        let names: [&[u8]; 3] = [b"Doe^Jane", b"Roe^Rick ", b"Doe^Jane\0"];
        let ids: [&[u8]; 2] = [b"P7", b"Q8 "];
        let births: [&[u8]; 2] = [b"19800102", b"19800103"];
        let others: [&[u8]; 2] = [b"Smith^Alan", b""];
        let vrs = [*b"PN", *b"LO"];
        let originals = [Some("70001"), Some("p7"), None];
        let excludes = [
            vec![],
            vec!["anonymous".to_string()],
            vec!["jane".to_string()],
        ];
        // Which of each is used: [name, id, birth, other, vr, original, exclude, twice].
        let sizes: [usize; 8] = [3, 2, 2, 2, 2, 3, 3, 2];
        let mut at = [0usize; 8];
        let mut rng = crate::synth::rng::Stream::new(3);
        let (mut reused, mut prev) = (0, None::<Arc<Needles>>);
        for _ in 0..4000 {
            if rng.next_u64().is_multiple_of(2) {
                let k = (rng.next_u64() % 8) as usize;
                at[k] = (at[k] + 1 + (rng.next_u64() % (sizes[k] as u64 - 1)) as usize) % sizes[k];
            }
            let el = |g, e, vr: [u8; 2], v: &'static [u8]| Elem {
                tag: Tag(g, e),
                vr,
                value: Val::Bytes(v),
            };
            let mut raw = vec![
                el(0x0008, 0x0020, *b"DA", b"20240101"),
                el(0x0010, 0x0010, *b"PN", names[at[0]]),
                el(0x0010, 0x0020, *b"LO", ids[at[1]]),
                el(0x0010, 0x0030, *b"DA", births[at[2]]),
                el(0x0010, 0x1001, vrs[at[4]], others[at[3]]),
                el(0x0020, 0x000D, *b"UI", b"1.2.3.4"),
            ];
            if at[7] == 1 {
                raw.push(el(0x0010, 0x0010, *b"PN", b"Poe^Edgar"));
            }
            let (original, exclude) = (originals[at[5]], &excludes[at[6]]);
            let (shared, fingerprint) = Needles::patient_shared(&raw, original, exclude);
            let built = Needles::from_raw(&raw, original, exclude, None);
            assert_eq!(*shared, built, "{at:?}");
            assert_eq!(fingerprint, built.fingerprint());
            if prev.is_some_and(|p| Arc::ptr_eq(&p, &shared)) {
                assert_eq!(at[7], 0, "a file with PatientName twice is built anew");
                reused += 1;
            }
            prev = Some(shared);
        }
        // Half the files repeat the last inputs, half of those hold PatientName once.
        assert!((600..1400).contains(&reused), "{reused}");
    }

    /// With ASCII needles only and no UIDs or dates (the lab profile), a value is searched as
    /// bytes without decoding: the answer is the decoded search's, for UTF-8 and Latin-1
    /// values, padded or not, whole words or not.
    #[test]
    fn values_are_searched_undecoded_with_the_decoded_answer() {
        let mut n = Needles::default();
        for (k, s) in [
            (Kind::Id, "p7"),
            (Kind::Id, "sub-01x"),
            (Kind::Name, "doe"),
            (Kind::Name, "johansson"),
            (Kind::Identity, "mrc35162"),
        ] {
            n.text.insert((k, s.to_string()));
        }
        let searcher = Searcher::of(&n.text);
        assert!(searcher.other.is_empty() && n.uids.is_empty() && n.dates.is_empty());
        let pieces: [&[u8]; 16] = [
            b"p7",
            b"P7",
            b"sub-01x",
            b"SUB-01X",
            b"doe",
            b"DoE",
            b"johansson",
            b"MRC35162",
            b"\xc3\xa9",
            b"\xe9",
            b"\xff",
            b" ",
            b"\0",
            b"^",
            b"x",
            b"1",
        ];
        let mut rng = crate::synth::rng::Stream::new(11);
        let mut found = [0usize; 2];
        for _ in 0..20_000 {
            let len = rng.next_u64() % 7;
            let v: Vec<u8> = (0..len)
                .flat_map(|_| pieces[(rng.next_u64() % 16) as usize].iter().copied())
                .collect();
            for names in [true, false] {
                let undecoded = n.find_in_value(&searcher, *b"LO", &v, names);
                let decoded = searcher.find(&parse::text(&v), names);
                assert_eq!(undecoded, decoded, "{v:02x?} names {names}");
                found[usize::from(decoded.is_some())] += 1;
            }
        }
        // Both answers were given often.
        assert!(found.iter().all(|&k| k > 5_000), "{found:?}");
    }

    /// A value the prefilter turns away holds no pattern of the automaton, with one-byte
    /// patterns (first bytes only) and without (first pairs), in any case.
    #[test]
    fn the_prefilter_turns_away_only_values_without_a_needle() {
        let sets: [&[(Kind, &str)]; 2] = [
            &[
                (Kind::Id, "p7"),
                (Kind::Name, "doe"),
                (Kind::Identity, "mrc35162"),
            ],
            &[(Kind::Id, "7"), (Kind::Name, "doe"), (Kind::Name, "ann")],
        ];
        let mut rng = crate::synth::rng::Stream::new(5);
        for (i, set) in sets.iter().enumerate() {
            let text: BTreeSet<(Kind, String)> =
                set.iter().map(|(k, s)| (*k, s.to_string())).collect();
            let s = Searcher::new(&text);
            assert_eq!(s.pairs.is_some(), i == 0);
            let ac = s.ac.as_ref().expect("ASCII needles");
            let alphabet = b"pP7dDoOeEmMrRcC3aAnNx ^\xe9";
            let mut turned_away = 0;
            for _ in 0..20_000 {
                let len = rng.next_u64() % 9;
                let h: Vec<u8> = (0..len)
                    .map(|_| alphabet[(rng.next_u64() % alphabet.len() as u64) as usize])
                    .collect();
                if !s.worth(&h) {
                    turned_away += 1;
                    assert!(ac.find_overlapping_iter(&h).next().is_none(), "{h:02x?}");
                }
            }
            assert!(turned_away > 1_000, "{turned_away}");
        }
    }

    #[test]
    fn redacts_paths() {
        let n = needles(raw(), Some("101"), &[]);
        assert_eq!(n.redact("101_DOE/a.dcm"), "[redacted]_[redacted]/a.dcm");
        // A needle inside the mark itself must not loop forever.
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(Tag(0x0010, 0x0010), VR::PN, "Red^Acted"));
        let n = needles(o, None, &[]);
        assert_eq!(n.redact("red/x"), "[redacted]/x");
    }

    #[test]
    fn extended_needles_find_uids_dates_and_site_identity_in_free_text() {
        let mut o = raw();
        o.put(DataElement::new(Tag(0x0008, 0x0020), VR::DA, "20131024"));
        o.put(DataElement::new(Tag(0x0008, 0x1010), VR::SH, "MRC35162"));
        o.put(DataElement::new(
            Tag(0x0008, 0x1070),
            VR::PN,
            "Smythe^Operator",
        ));
        o.put(DataElement::new(
            Tag(0x0020, 0x000D),
            VR::UI,
            "1.3.12.2.1107.5.2.32.35162.30000013102413",
        ));
        o.put(DataElement::new(
            Tag(0x0008, 0x0016),
            VR::UI,
            "1.2.840.10008.5.1.4.1.1.4",
        ));
        let b = bytes(o);
        let sc = parse::Scratch::default();
        let f = parse::read(&b, &sc).unwrap();
        let lab = Needles::from_raw(&f.root, None, &[], None);
        let ext = Needles::from_raw(&f.root, None, &[], Some(&|_, _| false));
        let uid = "see 1.3.12.2.1107.5.2.32.35162.30000013102413.";
        assert_eq!(lab.find(uid), None, "lab keeps today's needles");
        assert_eq!(ext.find(uid), Some(Kind::Uid));
        assert_eq!(ext.find("1.3.12.2.1107.5.2.32.35162.300000131024139"), None);
        assert_eq!(ext.find("scanned 20131024 at 10:00"), Some(Kind::Date));
        assert_eq!(ext.find("station mrc35162"), Some(Kind::Identity));
        assert_eq!(ext.find("op SMYTHE"), Some(Kind::Name));
        assert_eq!(lab.find("op SMYTHE"), None, "lab: patient names only");
        assert_eq!(
            ext.find("1.2.840.10008.5.1.4.1.1.4"),
            None,
            "well-known UIDs"
        );
    }

    #[test]
    fn tokens_are_found_as_the_split_found_them() {
        let mut seed = 0x1234_5678_9ABC_DEF1u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pieces = [
            "1.2.3",
            "1.2.3.4.5.6.7.8",
            "1.2.3.4",
            "20240101",
            "2024010112",
            "1.2.3.",
            ".",
            "9",
            "a",
            " ",
            "é",
            "\\",
            "12345678.5",
            "",
        ];
        // With and without a UID shorter than a date (which turns the length filter off), with
        // and without the empty UID.
        for (short, with_empty) in [(true, false), (true, true), (false, false), (false, true)] {
            let mut n = Needles::default();
            n.add_uid("12345678.5");
            n.add_uid("1.2.3.4.5.6.7.8");
            if short {
                n.add_uid("1.2.3");
            }
            n.dates.insert("20240101".to_string());
            if with_empty {
                n.add_uid("");
            }
            for _ in 0..20_000 {
                let len = next() % 8;
                let hay: String = (0..len)
                    .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                    .collect();
                assert_eq!(n.find_token(&hay), n.find_token_by_split(&hay), "{hay:?}");
            }
        }
    }
}
