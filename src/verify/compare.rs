//! Value-level comparison of one anonymized file with its raw file: the profile's elements have
//! their target values, and everything else is equal, recursively.
//!
//! Equality is by value, not by bytes, so files re-encoded by another tool (DicomBrowser,
//! pydicom) pass when correct: explicit or implicit VR, either byte order, defined or undefined
//! sequence lengths, and padding all compare equal. A private element read as `UN` bytes on one
//! side and as text or numbers on the other is compared through its bytes. Group length elements
//! (gggg,0000) are encoding, not content, and are skipped. In the file meta group only the SOP
//! class and instance UIDs must match (a re-encoding tool legitimately writes its own
//! implementation UID and may change the transfer syntax).

use super::parse::{self, DataSet, Elem, Enc, File, Val};
use super::{Rank, Ranked, keyword, tag_ref};
use crate::anonymize::profile::{Action, Profile};
use crate::finding::Finding;
use chrono::NaiveDate;
use dicom_core::Tag;
use std::cell::Cell;
use std::cmp::Ordering;

/// A sorted set of tags asked about in ascending order (a data set's elements, one by one):
/// each question costs a step of a cursor, not a search; a question out of order restarts the
/// cursor with a binary search, so any order still gets the right answer.
#[derive(Debug)]
pub struct TagSet<'t> {
    tags: &'t [Tag],
    /// The index of the first tag not below the last question.
    at: Cell<usize>,
    last: Cell<Tag>,
}

impl<'t> TagSet<'t> {
    /// `tags` must be sorted.
    pub fn new(tags: &'t [Tag]) -> Self {
        debug_assert!(tags.is_sorted());
        Self {
            tags,
            at: Cell::new(0),
            last: Cell::new(Tag(0, 0)),
        }
    }

    /// Whether `tag` is in the set.
    pub fn contains(&self, tag: Tag) -> bool {
        let mut at = if tag >= self.last.get() {
            self.at.get()
        } else {
            self.tags.partition_point(|t| *t < tag)
        };
        while self.tags.get(at).is_some_and(|t| *t < tag) {
            at += 1;
        }
        self.at.set(at);
        self.last.set(tag);
        self.tags.get(at) == Some(&tag)
    }
}

/// When an AcquisitionDate (`run_date` rule) passes.
#[derive(Debug, Clone, Copy)]
pub struct DateRule {
    /// The date the run used, when known: the value must be exactly this.
    pub run_date: Option<NaiveDate>,
    /// No date may be after this one.
    pub today: NaiveDate,
}

fn push(out: &mut Vec<Ranked>, rank: Rank, tag: Tag, message: String) {
    out.push(Ranked {
        rank,
        finding: Finding::new(message).tag(tag.0, tag.1),
    });
}

/// The file meta group: the SOP class and instance UIDs must be unchanged.
pub fn compare_meta(raw: &parse::Meta, anon: &parse::Meta, out: &mut Vec<Ranked>) {
    if raw.sop_class != anon.sop_class {
        push(
            out,
            Rank::Changed,
            Tag(0x0002, 0x0002),
            "MediaStorageSOPClassUID changed".into(),
        );
    }
    if raw.sop_instance != anon.sop_instance {
        push(
            out,
            Rank::Changed,
            Tag(0x0002, 0x0003),
            "MediaStorageSOPInstanceUID changed".into(),
        );
    }
}

/// The profile's rule tags in tag order, for looking the rules up in one pass over each file;
/// computed once per verifier, not per file.
#[derive(Debug, Clone)]
pub struct RuleOrder {
    /// The rules' tags, sorted (stably: rules of equal tags keep their order).
    tags: Vec<Tag>,
    /// For each rule (in the profile's order), the index of its tag in `tags`.
    at: Vec<usize>,
}

impl RuleOrder {
    /// The order of `profile`'s rules.
    pub fn new(profile: &Profile) -> Self {
        let mut order: Vec<usize> = (0..profile.rules.len()).collect();
        order.sort_by_key(|&i| profile.rules[i].tag);
        let tags = order
            .iter()
            .map(|&i| Tag(profile.rules[i].tag.0, profile.rules[i].tag.1))
            .collect();
        let mut at = vec![0; order.len()];
        for (k, &i) in order.iter().enumerate() {
            at[i] = k;
        }
        Self { tags, at }
    }
}

/// The profile's rules, applied like DicomBrowser: only to elements the raw file has at the top
/// level, and nothing added where the raw file lacked the element. `order` is
/// [`RuleOrder::new`] of `profile`.
pub fn check_profile(
    profile: &Profile,
    order: &RuleOrder,
    dates: DateRule,
    raw: &File<'_>,
    anon: &File<'_>,
    out: &mut Vec<Ranked>,
) {
    // The rules in tag order, looked up in one pass over each file; findings in rule order.
    let (tags, at) = (&order.tags, &order.at);
    debug_assert_eq!(at.len(), profile.rules.len());
    let (raw_els, anon_els) = (raw.get_sorted(tags), anon.get_sorted(tags));
    for (rule, &k) in profile.rules.iter().zip(at) {
        let tag = tags[k];
        let kw = &rule.keyword;
        let (raw_el, anon_el) = (raw_els[k], anon_els[k]);
        let Some(raw_el) = raw_el else {
            if anon_el.is_some() {
                push(out, Rank::Profile, tag, format!("{kw} added"));
            }
            continue;
        };
        // The value's trimmed bytes: compared undecoded with a replacement (see `is_text`).
        let anon_bytes = anon_el.and_then(|e| match e.value {
            Val::Bytes(b) => Some(parse::trimmed(b)),
            _ => None,
        });
        let problem = match (&rule.action, anon_el, anon_bytes) {
            (Action::Remove, None, _) => None,
            (Action::Remove, Some(_), _) => Some("not removed"),
            (_, None, _) => Some("missing"),
            (Action::Replace(want), Some(_), Some(b)) if is_text(b, want.trim()) => None,
            (Action::Replace(_), ..) => Some("not anonymous"),
            (Action::Empty, Some(_), Some([])) => None,
            (Action::Empty, ..) => Some("not empty"),
            (Action::RunDate, Some(y), _) => {
                let (text, raw_text) = (elem_text(y), elem_text(raw_el));
                check_date(text.as_deref(), raw_text.as_deref(), dates)
            }
        };
        if let Some(p) = problem {
            push(out, Rank::Profile, tag, format!("{kw} {p}"));
        }
    }
}

/// Trimmed bytes `b` read as text ([`parse::text`]) are `want`. An ASCII `want` is compared
/// with the bytes undecoded: UTF-8 and Latin-1 give the same ASCII text only for the same
/// bytes, and bytes that are not UTF-8 hold a byte above 127, which no ASCII text decodes from.
fn is_text(b: &[u8], want: &str) -> bool {
    if want.is_ascii() {
        b == want.as_bytes()
    } else {
        parse::text(b) == want
    }
}

/// A non-sequence element's value as trimmed text.
pub fn elem_text<'a>(e: &Elem<'a>) -> Option<std::borrow::Cow<'a, str>> {
    match e.value {
        Val::Bytes(b) => Some(parse::text(b)),
        _ => None,
    }
}

/// The AcquisitionDate rule: a real YYYYMMDD date, the run's date when known, else one that
/// differs from the raw date and is not in the future.
fn check_date(anon: Option<&str>, raw: Option<&str>, dates: DateRule) -> Option<&'static str> {
    let Some(text) = anon else {
        return Some("not a valid date");
    };
    let valid = text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit());
    let Some(date) = valid.then(|| super::keyed::ymd(text)).flatten() else {
        return Some("not a valid date");
    };
    match dates.run_date {
        Some(d) if d != date => Some("not the run's date"),
        Some(_) => None,
        None if raw == Some(text) => Some("unchanged"),
        None if date > dates.today => Some("in the future"),
        None => None,
    }
}

/// Every element outside the profile (whose rules `order` holds), recursively: present on both
/// sides with equal values.
pub fn compare_elements(order: &RuleOrder, raw: &File<'_>, anon: &File<'_>, out: &mut Vec<Ranked>) {
    let rules = TagSet::new(&order.tags);
    let skip = |t: Tag| rules.contains(t);
    let encs = (raw.enc, anon.enc);
    compare_in(&raw.root, &anon.root, None, encs, &skip, out);
}

/// Compares two data sets side by side (both in tag order). Recursion is bounded by the
/// parser's depth limit.
fn compare_in<S: Fn(Tag) -> bool>(
    raw: &DataSet<'_>,
    anon: &DataSet<'_>,
    outer: Option<Tag>,
    encs: (Enc, Enc),
    skip: &S,
    out: &mut Vec<Ranked>,
) {
    let inside = || {
        outer
            .map(|o| format!(" inside {}", tag_ref(o)))
            .unwrap_or_default()
    };
    for (ra, an) in by_tag(raw, anon) {
        let tag = ra.or(an).map(|e| e.tag).unwrap_or(Tag(0, 0));
        if tag.1 == 0x0000 || (outer.is_none() && skip(tag)) {
            continue;
        }
        let message = match (ra, an) {
            (Some(_), None) => format!("{} missing{}", keyword(tag), inside()),
            (None, Some(_)) => format!("{} added{}", keyword(tag), inside()),
            (Some(x), Some(y)) => match (&x.value, &y.value) {
                (Val::Seq(sx), Val::Seq(sy)) if sx.len() == sy.len() => {
                    for (ix, iy) in sx.iter().zip(sy.iter()) {
                        compare_in(ix, iy, outer.or(Some(tag)), encs, skip, out);
                    }
                    continue;
                }
                _ if same_value(x, y, encs) => continue,
                _ => format!("{} changed{}", keyword(tag), inside()),
            },
            (None, None) => continue,
        };
        push(out, Rank::Changed, tag, message);
    }
}

/// Two non-sequence elements hold the same value (pixel data: the same bytes, not decoded).
pub fn same_value(x: &Elem<'_>, y: &Elem<'_>, encs: (Enc, Enc)) -> bool {
    match (&x.value, &y.value) {
        (Val::Bytes(p), Val::Bytes(q)) => {
            if p == q {
                return true;
            }
            let w = parse::word(x.vr).max(parse::word(y.vr));
            if encs.0.big != encs.1.big && w > 1 {
                return swapped_eq(p, q, w);
            }
            // Text, `UN` bytes against text, or odd lengths padded by a re-encoder; binary
            // values of the same VR must match exactly (a last pixel byte 0 -> space is a change).
            let binary = x.vr == y.vr && !parse::is_text(x.vr) && &x.vr != b"UN";
            !binary && trim(p) == trim(q)
        }
        (Val::Frags(p), Val::Frags(q)) => {
            let (tp, tq) = (p.first().copied(), q.first().copied());
            let (fp, fq) = (p.get(1..).unwrap_or(&[]), q.get(1..).unwrap_or(&[]));
            // A re-encoder may rebuild or drop the offset table; the fragments are the data.
            let tables_ok =
                tp == tq || tp.is_none_or(<[u8]>::is_empty) || tq.is_none_or(<[u8]>::is_empty);
            tables_ok
                && (fp == fq
                    || fp
                        .iter()
                        .flat_map(|f| f.iter())
                        .eq(fq.iter().flat_map(|f| f.iter())))
        }
        _ => false,
    }
}

/// Equal numbers of `w` bytes each, one side in the other byte order.
fn swapped_eq(p: &[u8], q: &[u8], w: usize) -> bool {
    p.len() == q.len()
        && p.len().is_multiple_of(w)
        && p.chunks_exact(w)
            .zip(q.chunks_exact(w))
            .all(|(a, b)| a.iter().eq(b.iter().rev()))
}

/// Bytes without trailing space and NUL padding.
fn trim(b: &[u8]) -> &[u8] {
    &b[..b
        .iter()
        .rposition(|c| *c != b' ' && *c != 0)
        .map_or(0, |i| i + 1)]
}

/// The elements of two data sets side by side in tag order: `(raw, anon)`, one side `None`
/// where only the other holds the tag. Both comparers of the verifier walk pairs this way.
pub fn by_tag<'s, 'a>(raw: &'s [Elem<'a>], anon: &'s [Elem<'a>]) -> ByTag<'s, 'a> {
    ByTag {
        raw,
        anon,
        i: 0,
        j: 0,
    }
}

/// The iterator [`by_tag`] returns: a merge of two lists by index.
pub struct ByTag<'s, 'a> {
    raw: &'s [Elem<'a>],
    anon: &'s [Elem<'a>],
    i: usize,
    j: usize,
}

impl<'s, 'a> Iterator for ByTag<'s, 'a> {
    type Item = (Option<&'s Elem<'a>>, Option<&'s Elem<'a>>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (x, y) = (self.raw.get(self.i), self.anon.get(self.j));
        let order = match (x, y) {
            (None, None) => return None,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => x.tag.cmp(&y.tag),
        };
        Some(match order {
            Ordering::Less => {
                self.i += 1;
                (x, None)
            }
            Ordering::Greater => {
                self.j += 1;
                (None, y)
            }
            Ordering::Equal => {
                self.i += 1;
                self.j += 1;
                (x, y)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y%m%d").unwrap()
    }

    /// The undecoded comparison with a replacement gives the decoded answer: values built from
    /// the replacement's pieces, other cases, UTF-8 and Latin-1 `é`, 0xFF, padding.
    #[test]
    fn replacements_are_compared_undecoded_with_the_decoded_answer() {
        let pieces: [&[u8]; 10] = [
            b"Anonymous",
            b"Anon",
            b"ymous",
            b"ANONYMOUS",
            b"\xc3\xa9",
            b"\xe9",
            b"\xff",
            b" ",
            b"\0",
            b"x",
        ];
        let wants = ["Anonymous", "", "Anoné", "Anon\u{ff}"];
        let mut rng = crate::synth::rng::Stream::new(5);
        let mut equal = [0usize; 4];
        for _ in 0..20_000 {
            let len = rng.next_u64() % 4;
            let v: Vec<u8> = (0..len)
                .flat_map(|_| pieces[(rng.next_u64() % 10) as usize].iter().copied())
                .collect();
            for (i, want) in wants.iter().enumerate() {
                let decoded = parse::text(&v) == *want;
                assert_eq!(
                    is_text(parse::trimmed(&v), want),
                    decoded,
                    "{v:02x?} {want:?}"
                );
                equal[i] += usize::from(decoded);
            }
        }
        // Each replacement was met, so both answers were given for each.
        assert!(equal.iter().all(|&k| k > 20), "{equal:?}");
    }

    #[test]
    fn acquisition_date_rules() {
        let free = DateRule {
            run_date: None,
            today: d("20240610"),
        };
        let pinned = DateRule {
            run_date: Some(d("20240601")),
            ..free
        };
        assert_eq!(check_date(Some("20240609"), Some("20200101"), free), None);
        assert_eq!(check_date(Some("20240610"), Some("20200101"), free), None);
        assert_eq!(
            check_date(Some("20240611"), Some("20200101"), free),
            Some("in the future")
        );
        assert_eq!(
            check_date(Some("20200101"), Some("20200101"), free),
            Some("unchanged")
        );
        for bad in ["Anonymous", "2024061", "20241301", "2024-06-01", ""] {
            assert_eq!(
                check_date(Some(bad), None, free),
                Some("not a valid date"),
                "{bad}"
            );
        }
        assert_eq!(check_date(None, None, free), Some("not a valid date"));
        assert_eq!(check_date(Some("20240601"), None, pinned), None);
        assert_eq!(
            check_date(Some("20240602"), None, pinned),
            Some("not the run's date")
        );
    }

    #[test]
    fn a_tag_set_answers_in_any_order() {
        let tags = [
            Tag(8, 0x20),
            Tag(0x10, 0x10),
            Tag(0x10, 0x20),
            Tag(0x29, 0x1010),
        ];
        let set = TagSet::new(&tags);
        let asked = [
            (Tag(8, 5), false),
            (Tag(8, 0x20), true),
            (Tag(8, 0x20), true),
            (Tag(0x10, 0x15), false),
            (Tag(0x10, 0x20), true),
            (Tag(0x7FE0, 0x10), false),
            // Out of order (a nested set, an unsorted file): still right.
            (Tag(0x10, 0x10), true),
            (Tag(8, 0x21), false),
            (Tag(0x29, 0x1010), true),
            (Tag(0, 0), false),
            (Tag(8, 0x20), true),
        ];
        for (tag, want) in asked {
            assert_eq!(set.contains(tag), want, "{tag:?}");
        }
        assert!(!TagSet::new(&[]).contains(Tag(8, 0x20)));
    }

    #[test]
    fn bytes_compare_through_padding_vr_and_byte_order() {
        let le = Enc {
            explicit: true,
            big: false,
        };
        let be = Enc {
            explicit: true,
            big: true,
        };
        let el = |vr: &[u8; 2], b: &'static [u8]| Elem {
            tag: Tag(0x0009, 0x1001),
            vr: *vr,
            value: Val::Bytes(b),
        };
        assert!(same_value(
            &el(b"LO", b"ABC"),
            &el(b"UN", b"ABC "),
            (le, le)
        ));
        assert!(!same_value(
            &el(b"LO", b"ABC"),
            &el(b"LO", b"ABD"),
            (le, le)
        ));
        assert!(!same_value(&el(b"OB", b"A\0"), &el(b"OB", b"A "), (le, le)));
        assert!(same_value(
            &el(b"US", b"\x01\x02"),
            &el(b"US", b"\x02\x01"),
            (le, be)
        ));
        assert!(!same_value(
            &el(b"US", b"\x01\x02"),
            &el(b"US", b"\x01\x02\x00\x00"),
            (le, be)
        ));
    }
}
