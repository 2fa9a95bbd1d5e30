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
//! requires them byte-identical to the raw file and the sweep leaves them alone.
//! Needles that occur in the profile's own replacement values (a raw name of `Anonymous`) are
//! dropped, or every anonymized element would match.

use super::{Rank, Ranked, keyword};
use crate::finding::Finding;
use dicom_core::header::Header;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{Tag, VR};
use dicom_object::InMemDicomObject;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// Needles shorter than this (in characters) match only as whole words.
const WHOLE_WORD_BELOW: usize = 6;

/// What a needle is: decides the finding's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Id,
    Name,
    BirthDate,
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Kind::Id => "the patient's ID",
            Kind::Name => "the patient's name",
            Kind::BirthDate => "the birth date",
        }
    }
}

/// The PHI strings to look for, lowercase. Kept in memory only; never printed.
#[derive(Debug, Clone, Default)]
pub struct Needles {
    text: BTreeSet<(Kind, String)>,
    birth_dates: BTreeSet<String>,
}

impl Needles {
    /// The needles of one raw file: `original_id`, its PatientID, PatientName and birth date.
    pub fn from_raw(raw: &InMemDicomObject, original_id: Option<&str>, exclude: &[String]) -> Self {
        let mut n = Needles::default();
        let mut add = |kind: Kind, s: &str| {
            let s = s.trim().to_lowercase();
            if !s.is_empty() && !exclude.iter().any(|x| x.contains(&s)) {
                n.text.insert((kind, s));
            }
        };
        if let Some(id) = original_id {
            add(Kind::Id, id);
        }
        if let Some(id) = element_text(raw, Tag(0x0010, 0x0020)) {
            add(Kind::Id, &id);
        }
        if let Some(name) = element_text(raw, Tag(0x0010, 0x0010)) {
            for part in name.split(['^', '=', '\\', ' ']) {
                if part.trim().chars().count() >= 3 {
                    add(Kind::Name, part);
                }
            }
        }
        if let Some(bd) = element_text(raw, Tag(0x0010, 0x0030)) {
            let bd = bd.trim();
            if bd.len() == 8 && bd.bytes().all(|b| b.is_ascii_digit()) {
                n.birth_dates.insert(bd.to_string());
            }
        }
        n
    }

    /// Adds another file's needles (a folder's files normally share them).
    pub fn extend(&mut self, other: Needles) {
        self.text.extend(other.text);
        self.birth_dates.extend(other.birth_dates);
    }

    /// The first kind of needle found in `hay` (a name or a value).
    pub fn find(&self, hay: &str) -> Option<Kind> {
        self.find_text(hay).or_else(|| {
            self.birth_dates
                .iter()
                .any(|d| hay.contains(d.as_str()))
                .then_some(Kind::BirthDate)
        })
    }

    /// The first ID or name found in `hay`: short needles as whole words only.
    fn find_text(&self, hay: &str) -> Option<Kind> {
        self.text
            .iter()
            .find(|(_, n)| contains_ci(hay, n, n.chars().count() < WHOLE_WORD_BELOW))
            .map(|(k, _)| *k)
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

    /// Sweeps an anonymized object; `skip_top` names top-level tags checked elsewhere.
    pub fn sweep(
        &self,
        obj: &InMemDicomObject,
        skip_top: &dyn Fn(Tag) -> bool,
        out: &mut Vec<Ranked>,
    ) {
        if self.text.is_empty() && self.birth_dates.is_empty() {
            return;
        }
        self.sweep_in(obj, None, skip_top, out);
    }

    fn sweep_in(
        &self,
        obj: &InMemDicomObject,
        outer: Option<Tag>,
        skip_top: &dyn Fn(Tag) -> bool,
        out: &mut Vec<Ranked>,
    ) {
        for elem in obj.iter() {
            let tag = elem.tag();
            if tag == Tag(0x7FE0, 0x0010) || (outer.is_none() && skip_top(tag)) || is_csa(obj, tag)
            {
                continue;
            }
            let found = match elem.value() {
                Value::Sequence(seq) => {
                    for item in seq.items() {
                        self.sweep_in(item, outer.or(Some(tag)), skip_top, out);
                    }
                    None
                }
                Value::PixelSequence(_) => None,
                Value::Primitive(v) => self.find_in_value(elem.vr(), v),
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

    fn find_in_value(&self, vr: VR, v: &PrimitiveValue) -> Option<Kind> {
        match vr {
            VR::DA | VR::DT => {
                let s = v.to_str();
                self.birth_dates
                    .iter()
                    .any(|d| s.contains(d.as_str()))
                    .then_some(Kind::BirthDate)
            }
            VR::AE
            | VR::CS
            | VR::LO
            | VR::LT
            | VR::PN
            | VR::SH
            | VR::ST
            | VR::UC
            | VR::UR
            | VR::UT => self.find_text(&v.to_str()),
            VR::UN => self.find_text(&decode_bytes(&v.to_bytes())),
            _ => None,
        }
    }
}

/// True for an element of a private block whose creator is `SIEMENS CSA HEADER`.
fn is_csa(obj: &InMemDicomObject, tag: Tag) -> bool {
    crate::private::creator_of(obj, (tag.0, tag.1)).is_some_and(|c| c == "SIEMENS CSA HEADER")
}

/// An element's value as text, trimmed of padding; `UN` bytes decoded (UTF-8, else Latin-1).
pub fn element_text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    match obj.get(tag)?.value() {
        Value::Primitive(v) => Some(value_text(v).into_owned()),
        _ => None,
    }
}

/// A primitive value as text, trimmed of space and NUL padding at both ends.
pub fn value_text(v: &PrimitiveValue) -> Cow<'_, str> {
    let s: Cow<'_, str> = match v {
        PrimitiveValue::U8(b) => Cow::Owned(decode_bytes(b)),
        other => other.to_str(),
    };
    let t = s.trim_matches([' ', '\0']);
    if t.len() == s.len() {
        s
    } else {
        Cow::Owned(t.to_string())
    }
}

/// Bytes as text: UTF-8 when valid, else Latin-1 (the usual single-byte character set).
fn decode_bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b.iter().map(|&c| c as char).collect(),
    }
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
    (0..=h.len() - n.len()).find(|&i| {
        h[i..i + n.len()].eq_ignore_ascii_case(n)
            && (!words
                || ((i == 0 || !h[i - 1].is_ascii_alphanumeric())
                    && h.get(i + n.len())
                        .is_none_or(|c| !c.is_ascii_alphanumeric())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::DataElement;

    fn raw() -> InMemDicomObject {
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(Tag(0x0010, 0x0010), VR::PN, "Doe^Jane^Al"));
        o.put(DataElement::new(Tag(0x0010, 0x0020), VR::LO, "P7 "));
        o.put(DataElement::new(Tag(0x0010, 0x0030), VR::DA, "19800102"));
        o
    }

    #[test]
    fn needles_are_the_ids_name_parts_and_birth_date() {
        let n = Needles::from_raw(&raw(), Some("101"), &["anonymous".into()]);
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
        let n = Needles::from_raw(&o, None, &[]);
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
        let n = Needles::from_raw(&o, None, &["anonymous".into()]);
        assert_eq!(n.find("anonymous"), None);
    }

    #[test]
    fn sweep_finds_names_in_private_and_nested_elements_but_not_in_binary() {
        let n = Needles::from_raw(&raw(), Some("101"), &[]);
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
        let mut out = Vec::new();
        n.sweep(&o, &|t| t == Tag(0x0010, 0x0010), &mut out);
        let got: Vec<String> = out.iter().map(|r| r.finding.to_string()).collect();
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
        let n = Needles::from_raw(&raw(), None, &[]);
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
        let mut out = Vec::new();
        n.sweep(&o, &|_| false, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn redacts_paths() {
        let n = Needles::from_raw(&raw(), Some("101"), &[]);
        assert_eq!(n.redact("101_DOE/a.dcm"), "[redacted]_[redacted]/a.dcm");
        // A needle inside the mark itself must not loop forever.
        let mut o = InMemDicomObject::new_empty();
        o.put(DataElement::new(Tag(0x0010, 0x0010), VR::PN, "Red^Acted"));
        let n = Needles::from_raw(&o, None, &[]);
        assert_eq!(n.redact("red/x"), "[redacted]/x");
    }
}
