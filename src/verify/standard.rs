//! The check of a standard profile (`basic`, `neuro`, files with `base = ...`): every element,
//! at every depth, against the action the resolved rules give it (PS3.15 Annex E).
//!
//! The rules ([`crate::deid::Rules`]) are the profile's *data*, shared with the writer; deciding
//! what a file must hold from them, and recomputing every keyed value ([`super::keyed`]), is done
//! here independently of the writer's code.
//!
//! Per action: X absent; Z absent, empty or not the original; D present and not the original; K
//! equal (pixel data as bytes); C left to the residual sweep; U each value equal to the keyed UID
//! of the original (without a key: valid, at most 64 characters, not the original); shifted
//! dates equal to the original plus the participant's offset (the time part of a DT unchanged);
//! PatientID and PatientName the study ID. Private elements follow their block's creator; a kept
//! private value may differ only by same-length substitutions (digits, dots and `X`). Only the
//! de-identification block (0012,0062-0064) and (0028,0303) may be added; PatientIdentityRemoved
//! must be `YES`, the method code sequence must list exactly the profile's codes, and
//! MediaStorageSOPInstanceUID must equal SOPInstanceUID.

use super::compare::{by_tag, elem_text, same_value};
use super::keyed::{Key, shift_date};
use super::parse::{self, DataSet, Elem, Enc, File, Val};
use super::{Rank, Ranked, keyword, tag_ref};
use crate::deid::{Act, Rules};
use crate::finding::{Finding, TagRef};
use dicom_core::{Tag, VR};

/// What the check needs besides the two files.
pub struct Ctx<'c> {
    pub rules: &'c Rules,
    pub key: Option<&'c Key>,
    /// The participant's date offset in days, when a key and the original ID are known.
    pub offset: Option<i64>,
    pub study_id: Option<&'c str>,
    /// Every (tag, original, new) UID pair seen, as hashes: checked one-to-one across the
    /// participant by [`inconsistent`].
    pub pairs: std::cell::RefCell<Vec<(Tag, u64, u64)>>,
}

fn push(out: &mut Vec<Ranked>, rank: Rank, tag: Tag, message: String) {
    out.push(Ranked {
        rank,
        finding: Finding::new(message).tag(tag.0, tag.1),
    });
}

/// Checks a standard profile's output file against its raw file.
pub fn check(ctx: &Ctx<'_>, raw: &File<'_>, anon: &File<'_>, out: &mut Vec<Ranked>) {
    let encs = (raw.enc, anon.enc);
    walk(ctx, &raw.root, &anon.root, None, encs, out);
    identity(ctx, anon, out);
}

/// The elements anontrack adds to every output.
fn may_be_added(tag: Tag) -> bool {
    matches!(
        (tag.0, tag.1),
        (0x0012, 0x0062) | (0x0012, 0x0063) | (0x0012, 0x0064) | (0x0028, 0x0303)
    )
}

/// The creator of the private block holding `tag`, read from the raw data set.
fn creator(ds: &[Elem<'_>], tag: Tag) -> Option<String> {
    let at = if tag.1 < 0x0100 { tag.1 } else { tag.1 >> 8 };
    super::sweep::element_text(ds, Tag(tag.0, at)).map(|c| c.trim().to_string())
}

fn vr_of(e: &Elem<'_>) -> VR {
    std::str::from_utf8(&e.vr)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(VR::UN)
}

fn walk(
    ctx: &Ctx<'_>,
    raw: &DataSet<'_>,
    anon: &DataSet<'_>,
    outer: Option<Tag>,
    encs: (Enc, Enc),
    out: &mut Vec<Ranked>,
) {
    let inside = || {
        outer
            .map(|o| format!(" inside {}", tag_ref(o)))
            .unwrap_or_default()
    };
    for (x, y) in by_tag(raw, anon) {
        let tag = x.or(y).map(|e| e.tag).unwrap_or(Tag(0, 0));
        if tag.1 == 0x0000 {
            continue;
        }
        let kw = keyword(tag);
        let t = TagRef(tag.0, tag.1);
        let Some(x) = x else {
            if !(outer.is_none() && may_be_added(tag)) {
                push(out, Rank::Profile, tag, format!("{kw} added{}", inside()));
            }
            continue;
        };
        let act = if !tag.0.is_multiple_of(2) {
            ctx.rules.private_action(t, creator(raw, tag).as_deref())
        } else {
            ctx.rules.action(t, vr_of(x))
        };
        let problem: Option<&str> = match (act, y) {
            (Act::Remove, None) => None,
            (Act::Remove, Some(_)) => Some("not removed"),
            (Act::Empty, None) => None,
            (Act::Empty | Act::Dummy, Some(y)) => {
                let orig = elem_text(x).filter(|s| !s.is_empty());
                match (&y.value, orig) {
                    (Val::Seq(items), _) if !items.is_empty() => Some("not emptied"),
                    (Val::Bytes(_), Some(o)) if elem_text(y).is_some_and(|v| v == o) => {
                        Some("holds the original value")
                    }
                    _ => None,
                }
            }
            (Act::Dummy, None) => Some("missing (a dummy value is required)"),
            (_, None) => Some("missing"),
            (Act::Keep | Act::Clean | Act::ReplaceUid, Some(y))
                if matches!((&x.value, &y.value), (Val::Seq(_), Val::Seq(_))) =>
            {
                let (Val::Seq(sx), Val::Seq(sy)) = (&x.value, &y.value) else {
                    unreachable!()
                };
                if sx.len() != sy.len() {
                    Some("changed")
                } else {
                    for (ix, iy) in sx.iter().zip(sy) {
                        walk(ctx, ix, iy, outer.or(Some(tag)), encs, out);
                    }
                    None
                }
            }
            (Act::Keep, Some(y)) => {
                if same_value(x, y, encs) || (!tag.0.is_multiple_of(2) && substituted(x, y)) {
                    None
                } else {
                    Some("changed")
                }
            }
            // Cleaned text is judged by the residual sweep (it must hold no identifier).
            (Act::Clean, Some(_)) => None,
            (Act::ReplaceUid, Some(y)) => uid_problem(ctx, x, y),
            (Act::Pseudonym, Some(y)) => match (ctx.study_id, elem_text(y)) {
                (Some(id), Some(v)) if v == id => None,
                (None, Some(v)) if elem_text(x).is_none_or(|o| o != v) => None,
                _ => Some("not the study ID"),
            },
            (Act::ShiftDate, Some(y)) => date_problem(ctx, x, y),
        };
        if let Some(p) = problem {
            let rank = if p == "changed" {
                Rank::Changed
            } else {
                Rank::Profile
            };
            let msg = if p == "changed" {
                format!("{kw} changed{}", inside())
            } else {
                format!("{kw} {p}{}", inside())
            };
            push(out, rank, tag, msg);
        }
    }
}

/// A kept private value that differs only where a same-length substitution may write (digits,
/// dots, `X`): the participant's UIDs, dates and identifiers replaced inside a retained blob.
fn substituted(x: &Elem<'_>, y: &Elem<'_>) -> bool {
    match (&x.value, &y.value) {
        (Val::Bytes(p), Val::Bytes(q)) => {
            p.len() == q.len()
                && p.iter().zip(q.iter()).all(|(a, b)| {
                    a == b || (a.is_ascii_alphanumeric() && (b.is_ascii_digit() || *b == b'X'))
                })
        }
        _ => false,
    }
}

/// Each value of a U element: the keyed UID of the original (with a key), else a valid UID that
/// differs from the original.
fn uid_problem(ctx: &Ctx<'_>, x: &Elem<'_>, y: &Elem<'_>) -> Option<&'static str> {
    let (Some(orig), Some(new)) = (elem_text(x), elem_text(y)) else {
        return Some("changed");
    };
    let (ov, nv): (Vec<&str>, Vec<&str>) = (orig.split('\\').collect(), new.split('\\').collect());
    if ov.len() != nv.len() {
        return Some("not one new UID per original");
    }
    for (o, n) in ov.iter().zip(&nv) {
        let (o, n) = (
            o.trim_end_matches(['\0', ' ']),
            n.trim_end_matches(['\0', ' ']),
        );
        if o.is_empty() && n.is_empty() {
            continue;
        }
        if !valid_uid(n) {
            return Some("not a valid UID");
        }
        if o == n {
            return Some("left original");
        }
        ctx.pairs.borrow_mut().push((x.tag, hash(o), hash(n)));
        if let Some(k) = ctx.key
            && k.uid(o) != n
        {
            return Some("not the UID the study key gives");
        }
    }
    None
}

fn hash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// UID pairs of a whole participant, `(file, tag, original, new)`: each original UID must map
/// to one new UID and each new UID come from one original. Returns `(file, tag, message)` for
/// the files whose mapping disagrees with the first one seen (in file order).
pub fn inconsistent(mut pairs: Vec<(usize, Tag, u64, u64)>) -> Vec<(usize, Tag, &'static str)> {
    let mut out = Vec::new();
    // Each group (same original, or same new UID) is judged against its first member.
    pairs.sort_unstable_by_key(|p| (p.2, p.0));
    for g in pairs.chunk_by(|a, b| a.2 == b.2) {
        for p in g.iter().filter(|p| p.3 != g[0].3) {
            out.push((p.0, p.1, "remapped inconsistently across files"));
        }
    }
    pairs.sort_unstable_by_key(|p| (p.3, p.0));
    for g in pairs.chunk_by(|a, b| a.3 == b.3) {
        for p in g.iter().filter(|p| p.2 != g[0].2) {
            out.push((p.0, p.1, "one new UID for two original UIDs"));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Digits and dots, at most 64 characters, no empty component, no leading zero.
pub fn valid_uid(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 64
        && u.split('.').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_digit())
                && (c == "0" || !c.starts_with('0'))
        })
}

/// A shifted DA or DT: the original plus the participant's offset; a DT's time part unchanged.
fn date_problem(ctx: &Ctx<'_>, x: &Elem<'_>, y: &Elem<'_>) -> Option<&'static str> {
    let (Some(orig), Some(new)) = (elem_text(x), elem_text(y)) else {
        return Some("changed");
    };
    if orig.is_empty() {
        return (!new.is_empty()).then_some("changed");
    }
    let Some(days) = ctx.offset else {
        return (orig == new).then_some("not shifted");
    };
    let (ov, nv): (Vec<&str>, Vec<&str>) = (orig.split('\\').collect(), new.split('\\').collect());
    if ov.len() != nv.len() {
        return Some("not shifted by the participant's offset");
    }
    for (o, n) in ov.iter().zip(&nv) {
        let (o, n) = (o.trim(), n.trim());
        // A value whose first 8 bytes are not ASCII is no date (and must not be split inside a
        // character): like any other non-date, it is left to the other checks.
        let Some((od, rest)) = o.split_at_checked(o.len().min(8)) else {
            continue;
        };
        let Some(want) = shift_date(od, days) else {
            continue;
        };
        if n.get(..8) != Some(want.as_str()) {
            return Some("not shifted by the participant's offset");
        }
        if n.get(8..) != Some(rest) {
            return Some("time changed");
        }
    }
    None
}

/// The de-identification block and the meta's SOP instance.
fn identity(ctx: &Ctx<'_>, anon: &File<'_>, out: &mut Vec<Ranked>) {
    let removed = anon.get(Tag(0x0012, 0x0062)).and_then(elem_text);
    if removed.as_deref() != Some("YES") {
        push(
            out,
            Rank::Profile,
            Tag(0x0012, 0x0062),
            "PatientIdentityRemoved not YES".into(),
        );
    }
    let want: Vec<&str> = ctx.rules.method_codes().iter().map(|(c, _)| *c).collect();
    let got: Vec<String> = match anon.get(Tag(0x0012, 0x0064)).map(|e| &e.value) {
        Some(Val::Seq(items)) => items
            .iter()
            .map(|i| {
                parse::get(i, Tag(0x0008, 0x0100))
                    .and_then(elem_text)
                    .map(|c| c.into_owned())
                    .unwrap_or_default()
            })
            .collect(),
        _ => Vec::new(),
    };
    if got != want {
        push(
            out,
            Rank::Profile,
            Tag(0x0012, 0x0064),
            "DeidentificationMethodCodeSequence not the profile's codes".into(),
        );
    }
    let sop = anon.get(Tag(0x0008, 0x0018)).and_then(elem_text);
    if sop.as_deref() != Some(anon.meta.sop_instance.as_str()) {
        push(
            out,
            Rank::Profile,
            Tag(0x0002, 0x0003),
            "MediaStorageSOPInstanceUID differs from SOPInstanceUID".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_mappings_must_be_one_to_one() {
        let t = Tag(0x0020, 0x000D);
        assert!(inconsistent(vec![(0, t, 1, 2), (1, t, 1, 2), (2, t, 3, 4)]).is_empty());
        assert_eq!(
            inconsistent(vec![(0, t, 1, 2), (1, t, 1, 5)]),
            [(1, t, "remapped inconsistently across files")]
        );
        assert_eq!(
            inconsistent(vec![(0, t, 1, 2), (3, t, 7, 2)]),
            [(3, t, "one new UID for two original UIDs")]
        );
    }

    #[test]
    fn uids_are_digits_and_dots_up_to_64() {
        assert!(valid_uid("2.25.123"));
        assert!(valid_uid("1.0.3"));
        assert!(!valid_uid("1.02.3"));
        assert!(!valid_uid("1..3"));
        assert!(!valid_uid("1.2.a"));
        assert!(!valid_uid(&format!("2.25.{}", "1".repeat(61))));
    }
}
