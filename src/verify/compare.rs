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

use super::sweep::value_text;
use super::{Rank, Ranked, keyword, tag_ref};
use crate::anonymize::profile::{Action, Profile};
use crate::finding::Finding;
use chrono::NaiveDate;
use dicom_core::Tag;
use dicom_core::header::Header;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_object::mem::InMemElement;
use dicom_object::{FileMetaTable, InMemDicomObject};
use std::cmp::Ordering;

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
pub fn compare_meta(raw: &FileMetaTable, anon: &FileMetaTable, out: &mut Vec<Ranked>) {
    let trim = |s: &str| s.trim_end_matches(['\0', ' ']).to_string();
    if trim(&raw.media_storage_sop_class_uid) != trim(&anon.media_storage_sop_class_uid) {
        push(
            out,
            Rank::Changed,
            Tag(0x0002, 0x0002),
            "MediaStorageSOPClassUID changed".into(),
        );
    }
    if trim(&raw.media_storage_sop_instance_uid) != trim(&anon.media_storage_sop_instance_uid) {
        push(
            out,
            Rank::Changed,
            Tag(0x0002, 0x0003),
            "MediaStorageSOPInstanceUID changed".into(),
        );
    }
}

/// The profile's rules, applied like DicomBrowser: only to elements the raw file has at the top
/// level, and nothing added where the raw file lacked the element.
pub fn check_profile(
    profile: &Profile,
    dates: DateRule,
    raw: &InMemDicomObject,
    anon: &InMemDicomObject,
    out: &mut Vec<Ranked>,
) {
    for rule in &profile.rules {
        let tag = Tag(rule.tag.0, rule.tag.1);
        let kw = &rule.keyword;
        let (raw_el, anon_el) = (raw.get(tag), anon.get(tag));
        let Some(raw_el) = raw_el else {
            if anon_el.is_some() {
                push(out, Rank::Profile, tag, format!("{kw} added"));
            }
            continue;
        };
        let anon_text = anon_el.and_then(|e| match e.value() {
            Value::Primitive(v) => Some(value_text(v)),
            _ => None,
        });
        let problem = match (&rule.action, anon_el, anon_text) {
            (Action::Remove, None, _) => None,
            (Action::Remove, Some(_), _) => Some("not removed"),
            (_, None, _) => Some("missing"),
            (Action::Replace(want), Some(_), Some(t)) if t == want.trim() => None,
            (Action::Replace(_), ..) => Some("not anonymous"),
            (Action::Empty, Some(_), Some(t)) if t.is_empty() => None,
            (Action::Empty, ..) => Some("not empty"),
            (Action::RunDate, Some(_), text) => {
                let raw_text = match raw_el.value() {
                    Value::Primitive(v) => Some(value_text(v)),
                    _ => None,
                };
                check_date(text.as_deref(), raw_text.as_deref(), dates)
            }
        };
        if let Some(p) = problem {
            push(out, Rank::Profile, tag, format!("{kw} {p}"));
        }
    }
}

/// The AcquisitionDate rule: a real YYYYMMDD date, the run's date when known, else one that
/// differs from the raw date and is not in the future.
fn check_date(anon: Option<&str>, raw: Option<&str>, dates: DateRule) -> Option<&'static str> {
    let Some(text) = anon else {
        return Some("not a valid date");
    };
    let valid = text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit());
    let Some(date) = valid
        .then(|| NaiveDate::parse_from_str(text, "%Y%m%d").ok())
        .flatten()
    else {
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

/// Every element outside the profile, recursively: present on both sides with equal values.
pub fn compare_elements(
    profile: &Profile,
    raw: &InMemDicomObject,
    anon: &InMemDicomObject,
    out: &mut Vec<Ranked>,
) {
    let skip = |t: Tag| profile.rule(crate::finding::TagRef(t.0, t.1)).is_some();
    compare_in(raw, anon, None, &skip, out);
}

fn compare_in(
    raw: &InMemDicomObject,
    anon: &InMemDicomObject,
    outer: Option<Tag>,
    skip: &dyn Fn(Tag) -> bool,
    out: &mut Vec<Ranked>,
) {
    let inside = || {
        outer
            .map(|o| format!(" inside {}", tag_ref(o)))
            .unwrap_or_default()
    };
    // Both objects iterate in tag order: walk them side by side.
    let (mut a, mut b) = (raw.iter().peekable(), anon.iter().peekable());
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => x.tag().cmp(&y.tag()),
        };
        let (ra, an) = match order {
            Ordering::Less => (a.next(), None),
            Ordering::Greater => (None, b.next()),
            Ordering::Equal => (a.next(), b.next()),
        };
        let tag = ra.or(an).map(|e| e.tag()).unwrap_or(Tag(0, 0));
        if tag.1 == 0x0000 || (outer.is_none() && skip(tag)) {
            continue;
        }
        let message = match (ra, an) {
            (Some(_), None) => format!("{} missing{}", keyword(tag), inside()),
            (None, Some(_)) => format!("{} added{}", keyword(tag), inside()),
            (Some(x), Some(y)) => match (x.value(), y.value()) {
                (Value::Sequence(sx), Value::Sequence(sy))
                    if sx.items().len() == sy.items().len() =>
                {
                    for (ix, iy) in sx.items().iter().zip(sy.items()) {
                        compare_in(ix, iy, outer.or(Some(tag)), skip, out);
                    }
                    continue;
                }
                _ if same_value(x, y) => continue,
                _ => format!("{} changed{}", keyword(tag), inside()),
            },
            (None, None) => continue,
        };
        push(out, Rank::Changed, tag, message);
    }
}

/// Two non-sequence elements hold the same value (pixel data: the same bytes, not decoded).
fn same_value(x: &InMemElement, y: &InMemElement) -> bool {
    match (x.value(), y.value()) {
        (Value::Primitive(p), Value::Primitive(q)) => p == q || same_bytes(p, q),
        (Value::PixelSequence(p), Value::PixelSequence(q)) => {
            let (fp, fq) = (p.fragments(), q.fragments());
            // A re-encoder may rebuild or drop the offset table; the fragments are the data.
            let tables_ok = p.offset_table() == q.offset_table()
                || p.offset_table().is_empty()
                || q.offset_table().is_empty();
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

/// The slow path: the values' bytes equal once trailing space and NUL padding is trimmed
/// (`UN` bytes against decoded text or numbers, odd lengths padded by a re-encoder).
fn same_bytes(p: &PrimitiveValue, q: &PrimitiveValue) -> bool {
    let trim = |b: &[u8]| {
        b.iter()
            .rposition(|c| *c != b' ' && *c != 0)
            .map_or(0, |i| i + 1)
    };
    let (bp, bq) = (p.to_bytes(), q.to_bytes());
    bp[..trim(&bp)] == bq[..trim(&bq)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y%m%d").unwrap()
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
    fn bytes_compare_through_padding_and_vr() {
        let text = PrimitiveValue::from("ABC");
        let un = PrimitiveValue::U8(b"ABC ".as_slice().into());
        assert!(same_bytes(&text, &un));
        assert!(!same_bytes(&text, &PrimitiveValue::from("ABD")));
        let num = PrimitiveValue::U16([0x4241u16].as_slice().into());
        assert!(same_bytes(
            &num,
            &PrimitiveValue::U8(b"AB".as_slice().into())
        ));
    }
}
