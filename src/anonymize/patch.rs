//! Rewriting the profile's elements in a located byte buffer: new value and length, group
//! lengths adjusted, every other byte copied as it was.
//!
//! The output is described as a list of edits (byte ranges of the input replaced by new bytes),
//! then written with vectored writes straight from the input buffer: no copy of the pixel data
//! in user space, a handful of syscalls per file. This module does not locate elements
//! (`locate.rs`) nor decide which files to touch (`dir.rs`).

use super::locate::{Element, Encoding, LenField};
use super::profile::{Action, Profile};
use crate::finding::TagRef;
use chrono::NaiveDate;
use dicom_core::Tag;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_dictionary_std::StandardDataDictionary;
use std::io::{self, IoSlice, Write};
use std::ops::Range;

/// What a resolved rule does to the element's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// New value bytes, already padded to even length.
    Set(Vec<u8>),
    /// Remove the element entirely.
    Remove,
}

/// A profile rule with its value turned into bytes, for one run.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub tag: u32,
    pub keyword: String,
    pub op: Op,
    /// The text set (without padding), for the VR check; `None` for remove.
    pub text: Option<String>,
}

/// Turns the profile into per-tag byte operations for `date`, sorted by tag.
pub fn resolve(profile: &Profile, date: NaiveDate) -> Vec<Resolved> {
    let mut out: Vec<Resolved> = profile
        .rules
        .iter()
        .map(|r| {
            let text = match &r.action {
                Action::Replace(v) => Some(v.clone()),
                Action::RunDate => Some(date.format("%Y%m%d").to_string()),
                Action::Empty => Some(String::new()),
                Action::Remove => None,
            };
            let op = match &text {
                Some(t) => Op::Set(padded(t)),
                None => Op::Remove,
            };
            Resolved {
                tag: (u32::from(r.tag.0) << 16) | u32::from(r.tag.1),
                keyword: r.keyword.clone(),
                op,
                text,
            }
        })
        .collect();
    out.sort_by_key(|r| r.tag);
    out
}

/// Text padded to even length with a space, as DICOM text values are.
pub fn padded(text: &str) -> Vec<u8> {
    let mut v = text.as_bytes().to_vec();
    if v.len() % 2 == 1 {
        v.push(b' ');
    }
    v
}

/// One replaced byte range of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The input bytes replaced.
    pub input: Range<usize>,
    /// The replacement, as a range of the scratch buffer.
    pub output: Range<usize>,
}

/// What patching one file found, besides the edits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patched {
    /// Tags changed (or removed), in file order.
    pub changed: Vec<TagRef>,
    /// `(tag, VR)` of elements given text their VR does not allow (`Anonymous` in a DA).
    pub vr_warnings: Vec<(TagRef, String)>,
    /// The original UIDs replaced by keyed ones (standard profiles), for `--write-mapping`.
    pub uids: Vec<String>,
}

/// Why a located file cannot be patched as the profile asks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("{0} is a sequence here; only `empty` or `remove` can change it")]
    Sequence(TagRef),
    #[error("{0} value is too long for its VR's 2-byte length")]
    TooLong(TagRef),
    #[error(
        "{0} has the binary VR {1} here, so it cannot hold the profile's text (the file may be damaged)"
    )]
    BinaryVr(TagRef, String),
}

/// VRs whose value is binary: text written into one would make the file unreadable. (`UN` is
/// not among them: private elements of implicit-VR origin arrive as `UN` and hold text.)
fn is_binary_vr(vr: &str) -> bool {
    matches!(
        vr,
        "FD" | "FL"
            | "SL"
            | "SS"
            | "UL"
            | "US"
            | "SV"
            | "UV"
            | "AT"
            | "OB"
            | "OD"
            | "OF"
            | "OL"
            | "OV"
            | "OW"
    )
}

/// Plans the edits for `elements` of `buf` under `rules`; replacement bytes go to `scratch`.
pub fn plan(
    buf: &[u8],
    enc: Encoding,
    elements: &[Element],
    rules: &[Resolved],
    edits: &mut Vec<Edit>,
    scratch: &mut Vec<u8>,
) -> Result<Patched, PatchError> {
    edits.clear();
    scratch.clear();
    let big = enc == Encoding::ExplicitBe;
    let mut patched = Patched::default();
    // Size change per group, for the group length elements.
    let mut deltas: Vec<(u16, i64)> = Vec::new();
    for el in elements {
        let Ok(i) = rules.binary_search_by_key(&el.tag, |r| r.tag) else {
            continue;
        };
        let rule = &rules[i];
        let tag = TagRef(el.group(), el.tag as u16);
        let old_len = (el.end - el.start) as i64;
        let new_len = match &rule.op {
            Op::Remove => {
                edits.push(Edit {
                    input: el.start..el.end,
                    output: scratch.len()..scratch.len(),
                });
                0
            }
            Op::Set(value) => {
                if holds_sequence(el) && !value.is_empty() {
                    return Err(PatchError::Sequence(tag));
                }
                // Text never goes into a binary VR; emptying one is fine (a zero-length value
                // is valid for every VR, as the standard profiles' writer also allows).
                if rule.text.as_deref().is_some_and(|t| !t.is_empty())
                    && let Some(vr) = vr_of(el)
                    && is_binary_vr(&vr)
                {
                    return Err(PatchError::BinaryVr(tag, vr));
                }
                let from = scratch.len();
                scratch.extend_from_slice(&buf[el.start..el.value_start]);
                let len_at = match el.len_field {
                    LenField::U16 => {
                        let n = u16::try_from(value.len()).map_err(|_| PatchError::TooLong(tag))?;
                        let b = if big {
                            n.to_be_bytes()
                        } else {
                            n.to_le_bytes()
                        };
                        (from + 6, b.to_vec())
                    }
                    LenField::U32 => {
                        let n = value.len() as u32;
                        let b = if big {
                            n.to_be_bytes()
                        } else {
                            n.to_le_bytes()
                        };
                        (scratch.len() - 4, b.to_vec())
                    }
                };
                scratch[len_at.0..len_at.0 + len_at.1.len()].copy_from_slice(&len_at.1);
                scratch.extend_from_slice(value);
                edits.push(Edit {
                    input: el.start..el.end,
                    output: from..scratch.len(),
                });
                if let Some(text) = &rule.text
                    && let Some(vr) = vr_of(el)
                    && !valid_for_vr(&vr, text)
                {
                    patched.vr_warnings.push((tag, vr));
                }
                (scratch.len() - from) as i64
            }
        };
        patched.changed.push(tag);
        if new_len != old_len {
            match deltas.iter_mut().find(|(g, _)| *g == el.group()) {
                Some((_, d)) => *d += new_len - old_len,
                None => deltas.push((el.group(), new_len - old_len)),
            }
        }
    }
    for el in elements {
        if el.tag & 0xFFFF != 0 || el.value_start + 4 != el.end {
            continue;
        }
        let Some((_, delta)) = deltas.iter().find(|(g, _)| *g == el.group()) else {
            continue;
        };
        let b: [u8; 4] = buf[el.value_start..el.end].try_into().unwrap_or_default();
        let old = if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        };
        // A group length that no longer fits is left alone rather than wrapped.
        let Ok(new) = u32::try_from(i64::from(old) + delta) else {
            continue;
        };
        let from = scratch.len();
        scratch.extend_from_slice(&if big {
            new.to_be_bytes()
        } else {
            new.to_le_bytes()
        });
        edits.push(Edit {
            input: el.value_start..el.end,
            output: from..scratch.len(),
        });
    }
    edits.sort_by_key(|e| e.input.start);
    Ok(patched)
}

/// Writes `buf` with `edits` applied (sorted, disjoint) to `out`, in as few writes as it can.
pub fn write_patched(
    out: &mut impl Write,
    buf: &[u8],
    edits: &[Edit],
    scratch: &[u8],
) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(edits.len() * 2 + 1);
    let mut at = 0;
    for e in edits {
        if e.input.start > at {
            slices.push(IoSlice::new(&buf[at..e.input.start]));
        }
        if !e.output.is_empty() {
            slices.push(IoSlice::new(&scratch[e.output.clone()]));
        }
        at = e.input.end;
    }
    if at < buf.len() {
        slices.push(IoSlice::new(&buf[at..]));
    }
    let mut rest: &mut [IoSlice<'_>] = &mut slices;
    while !rest.is_empty() {
        match out.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// True when the element is a sequence: by its encoding, or in implicit VR by the dictionary
/// (text in place of a known sequence would make readers fail on it).
pub fn holds_sequence(el: &Element) -> bool {
    el.is_sequence() || el.vr.is_none() && vr_of(el).as_deref() == Some("SQ")
}

/// The element's VR: from the file in explicit VR, from the standard dictionary otherwise.
fn vr_of(el: &Element) -> Option<String> {
    if let Some(vr) = el.vr {
        return Some(String::from_utf8_lossy(&vr).into_owned());
    }
    let tag = Tag(el.group(), el.tag as u16);
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.vr().relaxed().to_string().to_string())
}

/// Whether `text` is a valid value for `vr` (checked for the VRs with a fixed syntax only).
pub fn valid_for_vr(vr: &str, text: &str) -> bool {
    let t = text.trim_matches(' ');
    if t.is_empty() {
        return true;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match vr {
        "DA" => t.len() == 8 && digits(t),
        "TM" => t
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b':'),
        "DT" => t.bytes().all(|b| b.is_ascii_digit() || b"+-.".contains(&b)),
        "DS" => t.len() <= 16 && t.split('\\').all(|v| v.trim().parse::<f64>().is_ok()),
        "IS" => t.split('\\').all(|v| v.trim().parse::<i64>().is_ok()),
        "AS" => t.len() == 4 && digits(&t[..3]) && matches!(&t[3..], "D" | "W" | "M" | "Y"),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vr_syntax_checks() {
        assert!(!valid_for_vr("DA", "Anonymous"));
        assert!(valid_for_vr("DA", "20240131"));
        assert!(valid_for_vr("DA", ""));
        assert!(!valid_for_vr("DS", "Anonymous"));
        assert!(valid_for_vr("DS", "1.75"));
        assert!(valid_for_vr("LO", "Anonymous"));
        assert!(valid_for_vr("PN", "Anonymous"));
    }

    #[test]
    fn text_is_padded_to_even_length() {
        assert_eq!(padded("Anonymous"), b"Anonymous ".to_vec());
        assert_eq!(padded("20240101"), b"20240101".to_vec());
        assert_eq!(padded(""), Vec::<u8>::new());
    }

    fn el(tag: u32, start: usize, vs: usize, end: usize, vr: &[u8; 2]) -> Element {
        Element {
            tag,
            vr: Some(*vr),
            start,
            value_start: vs,
            end,
            undefined: false,
            len_field: LenField::U16,
        }
    }

    #[test]
    fn replacing_a_value_rewrites_length_and_group_length() {
        // (0010,0000) UL 18, (0010,0010) PN "Doe^Jo", (0010,0020) LO "P1"
        let mut buf = vec![0x10, 0, 0, 0, b'U', b'L', 4, 0, 18, 0, 0, 0];
        buf.extend_from_slice(&[0x10, 0, 0x10, 0, b'P', b'N', 6, 0]);
        buf.extend_from_slice(b"Doe^Jo");
        buf.extend_from_slice(&[0x10, 0, 0x20, 0, b'L', b'O', 2, 0, b'P', b'1']);
        let els = [
            el(0x0010_0000, 0, 8, 12, b"UL"),
            el(0x0010_0010, 12, 20, 26, b"PN"),
            el(0x0010_0020, 26, 34, 36, b"LO"),
        ];
        let profile = Profile::from_toml(
            "t",
            "name='t'\n[[rule]]\ntag='0010,0010'\nkeyword='PatientName'\naction='replace'\nvalue='Anonymous'\n",
        )
        .unwrap();
        let rules = resolve(&profile, NaiveDate::from_ymd_opt(2024, 1, 2).unwrap());
        let (mut edits, mut scratch) = (Vec::new(), Vec::new());
        let p = plan(
            &buf,
            Encoding::ExplicitLe,
            &els,
            &rules,
            &mut edits,
            &mut scratch,
        )
        .unwrap();
        assert_eq!(p.changed, vec![TagRef(0x10, 0x10)]);
        let mut out = Vec::new();
        write_patched(&mut out, &buf, &edits, &scratch).unwrap();
        let mut want = vec![0x10, 0, 0, 0, b'U', b'L', 4, 0, 22, 0, 0, 0];
        want.extend_from_slice(&[0x10, 0, 0x10, 0, b'P', b'N', 10, 0]);
        want.extend_from_slice(b"Anonymous ");
        want.extend_from_slice(&[0x10, 0, 0x20, 0, b'L', b'O', 2, 0, b'P', b'1']);
        assert_eq!(out, want);
    }
}
