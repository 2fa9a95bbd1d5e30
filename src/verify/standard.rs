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
//! private value may differ only by the same-length substitutions the contract gives, recomputed
//! position by position ([`super::blob`]; without a key: only digits, dots and `X`). Only the
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
    /// The verifier's [`rules_token`], for the cache of [`action`].
    pub token: u64,
    pub key: Option<&'c Key>,
    /// The participant's date offset in days, when a key and the original ID are known.
    pub offset: Option<i64>,
    pub study_id: Option<&'c str>,
    /// Every (tag, original, new) UID pair seen, as hashes: checked one-to-one across the
    /// participant by [`inconsistent`].
    pub pairs: std::cell::RefCell<Vec<(Tag, u64, u64)>>,
    /// The raw file's identifiers for recomputing kept private values ([`super::blob`]), when
    /// the key and the date offset are known and the profile keeps private values.
    pub blob: Option<super::blob::Ids>,
}

/// A token naming one verifier's rules, for [`action`]'s cache (never reused in a process).
pub fn rules_token() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// `rules.action(tag, vr)` for a public element whose VR is given as its two bytes (read as
/// `UN` when they name none), cached per thread under `token` (from [`rules_token`], one per
/// verifier): the standard's table is scanned row by row for every tag it does not list, for
/// every element of every file otherwise.
pub fn action(rules: &Rules, token: u64, tag: TagRef, vr: [u8; 2]) -> Act {
    /// The verifier's token, and its actions by tag and VR packed in one word.
    type Cache = (u64, std::collections::HashMap<u64, Act, FastHash>);
    thread_local! {
        static ACTS: std::cell::RefCell<Cache> = Default::default();
    }
    let packed =
        u64::from(tag.0) << 32 | u64::from(tag.1) << 16 | u64::from(vr[0]) << 8 | u64::from(vr[1]);
    ACTS.with(|c| {
        let (cached_for, acts) = &mut *c.borrow_mut();
        if *cached_for != token || acts.len() > 1 << 16 {
            // Another verifier's rules (one at a time on a thread, as `sync` runs them), or a
            // long-lived process: start over.
            acts.clear();
            *cached_for = token;
        }
        *acts
            .entry(packed)
            .or_insert_with(|| rules.action(tag, vr_named(vr)))
    })
}

/// A multiply-rotate hasher (as rustc's `FxHasher`) for the small fixed keys of [`action`]'s
/// cache, looked up once per element: SipHash cost more than the lookup itself. The keys come
/// from the verifier and the files' tags, never from a party that could choose collisions to
/// any effect but a slower verify.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FastHasher`]s.
pub type FastHash = std::hash::BuildHasherDefault<FastHasher>;

impl Ctx<'_> {
    /// Whether the rules can keep a private value (only then are blob identifiers needed).
    pub fn keeps_private(rules: &Rules) -> bool {
        rules.has(crate::deid::DeidOption::RetainSafePrivate)
            || rules.overrides().keys().any(|t| t.0 % 2 == 1)
    }
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
    identity(ctx, raw, anon, out);
}

/// The elements anontrack adds to every output.
pub fn may_be_added(tag: Tag) -> bool {
    matches!(
        (tag.0, tag.1),
        (0x0012, 0x0062) | (0x0012, 0x0063) | (0x0012, 0x0064) | (0x0028, 0x0303)
    )
}

/// The creator of the private block holding `tag`, read from the raw data set (untrimmed:
/// the caller trims it, without copying).
fn creator<'a>(ds: &'a [Elem<'a>], tag: Tag) -> Option<std::borrow::Cow<'a, str>> {
    let at = if tag.1 < 0x0100 { tag.1 } else { tag.1 >> 8 };
    match parse::get(ds, Tag(tag.0, at))?.value {
        Val::Bytes(b) => Some(parse::text(b)),
        _ => None,
    }
}

/// The VR two bytes name, `UN` when they name none.
pub fn vr_named(vr: [u8; 2]) -> VR {
    std::str::from_utf8(&vr)
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
        // The keyword only for a finding (a dictionary lookup and a `String`).
        let kw = || keyword(tag);
        let t = TagRef(tag.0, tag.1);
        if outer.is_none() && may_be_added(tag) {
            // The de-identification block is the writer's own, whatever the raw file held (a
            // file anonymized before); `identity` checks what it must say.
            continue;
        }
        let Some(x) = x else {
            push(
                out,
                Rank::Profile,
                tag,
                format!("{} added{}", kw(), inside()),
            );
            continue;
        };
        let act = if !tag.0.is_multiple_of(2) {
            ctx.rules
                .private_action(t, creator(raw, tag).as_deref().map(str::trim))
        } else {
            action(ctx.rules, ctx.token, t, x.vr)
        };
        let problem: Option<&str> = match (act, y) {
            (Act::Remove, None) => None,
            (Act::Remove, Some(_)) => Some("not removed"),
            (Act::Empty, None) => None,
            (Act::Empty | Act::Dummy, Some(y)) => dummy_problem(act, x, y),
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
                    for (ix, iy) in sx.iter().zip(sy.iter()) {
                        walk(ctx, ix, iy, outer.or(Some(tag)), encs, out);
                    }
                    None
                }
            }
            (Act::Keep, Some(y)) if !tag.0.is_multiple_of(2) => {
                match kept_private(ctx, x, y, encs) {
                    Ok(()) => None,
                    Err(problems) => {
                        for p in problems {
                            match p {
                                super::blob::Problem::Left(kind) => push(
                                    out,
                                    Rank::Phi,
                                    tag,
                                    format!("{}{} holds {}", kw(), inside(), kind.what()),
                                ),
                                super::blob::Problem::Changed => push(
                                    out,
                                    Rank::Changed,
                                    tag,
                                    format!("{} changed{}", kw(), inside()),
                                ),
                            }
                        }
                        None
                    }
                }
            }
            (Act::Keep, Some(y)) => (!same_value(x, y, encs)).then_some("changed"),
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
                format!("{} changed{}", kw(), inside())
            } else {
                format!("{} {p}{}", kw(), inside())
            };
            push(out, rank, tag, msg);
        }
    }
}

/// What a Z (empty) or D (dummy) element holds: Z empty or a dummy, D a dummy; a dummy valid
/// for its VR, not the original value, and (dates) not the original date moved by days.
fn dummy_problem(act: Act, x: &Elem<'_>, y: &Elem<'_>) -> Option<&'static str> {
    let b = match &y.value {
        Val::Seq([]) => return None,
        Val::Seq(_) => return (act == Act::Empty).then_some("not emptied"),
        Val::Frags(_) => return None,
        Val::Bytes(b) => *b,
    };
    let new = parse::text(b);
    if new.is_empty() {
        return (act == Act::Dummy).then_some("empty (a dummy value is required)");
    }
    // The output's VR, unless it is `UN` (an implicit-VR reader's), then the raw one's.
    let vr = if &y.vr == b"UN" { x.vr } else { y.vr };
    if elem_text(x).is_some_and(|o| !o.is_empty() && o == new) && !placeholder(vr, &new) {
        return Some("holds the original value");
    }
    if !vr_valid(vr, b) {
        return Some(match &vr {
            b"DA" => "not a valid date (DA)",
            b"TM" => "not a valid time (TM)",
            b"DT" => "not a valid date and time (DT)",
            b"DS" => "not a valid decimal (DS)",
            b"IS" => "not a valid integer (IS)",
            b"UI" => "not a valid UID (UI)",
            b"AS" => "not a valid age (AS)",
            b"CS" => "not a valid code string (CS)",
            _ => "not valid for its VR",
        });
    }
    if matches!(&vr, b"DA" | b"DT") && near_original_date(x, &new) {
        return Some("holds the original date shifted");
    }
    None
}

/// A value that is itself a dummy (files anonymized before hold them): keeping it keeps
/// nothing of the participant's.
fn placeholder(vr: [u8; 2], v: &str) -> bool {
    match &vr {
        b"DA" => v == "19000101",
        b"DT" => v.starts_with("19000101") && v[8..].bytes().all(|c| c == b'0'),
        b"TM" => v.bytes().all(|c| c == b'0' || c == b'.'),
        b"DS" | b"IS" => v == "0",
        _ => v.eq_ignore_ascii_case("anonymized") || v.eq_ignore_ascii_case("anonymous"),
    }
}

/// A D/Z date that lies within a year of the original date (other than the original itself):
/// the original moved by some offset, not a dummy (a dummy, such as `19000101`, is unrelated).
fn near_original_date(x: &Elem<'_>, new: &str) -> bool {
    let Some(orig) = elem_text(x) else {
        return false;
    };
    let date = |s: &str| s.get(..8).and_then(super::keyed::ymd);
    orig.split('\\')
        .zip(new.split('\\'))
        .any(|(o, n)| match (date(o.trim()), date(n.trim())) {
            (Some(o), Some(n)) => {
                let days = (n - o).num_days().abs();
                days > 0 && days <= super::keyed::OFFSET_DAYS.1
            }
            _ => false,
        })
}

/// A value valid for its VR (PS3.5 6.2): every value of a multi-valued string, each of the
/// right characters and length; binary values a whole number of their words.
pub fn vr_valid(vr: [u8; 2], b: &[u8]) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let date = |s: &str| s.len() == 8 && digits(s) && super::keyed::ymd(s).is_some();
    let time = |s: &str| {
        let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
        let frac_ok = frac.is_empty() || (frac.len() <= 6 && digits(frac));
        let n = |r: std::ops::Range<usize>, max: u32| {
            hms.get(r)
                .filter(|p| digits(p))
                .and_then(|p| p.parse::<u32>().ok())
                .is_some_and(|v| v <= max)
        };
        frac_ok
            && matches!(hms.len(), 2 | 4 | 6)
            && n(0..2, 23)
            && (hms.len() < 4 || n(2..4, 59))
            && (hms.len() < 6 || n(4..6, 60))
            && (frac.is_empty() || hms.len() == 6)
    };
    let text = parse::text(b);
    let values = || text.split('\\').map(|v| v.trim_matches([' ', '\0']));
    match &vr {
        b"DA" => values().all(|v| v.is_empty() || date(v)),
        b"TM" => values().all(|v| v.is_empty() || time(v)),
        b"DT" => values().all(|v| {
            let v = v.split(['+', '-']).next().unwrap_or("");
            v.is_empty()
                || (v.len() >= 4
                    && digits(&v[..4])
                    && (v.len() < 8 || date(&v[..8]))
                    && (v.len() <= 8 || time(&v[8..])))
        }),
        b"DS" => values().all(|v| {
            v.is_empty()
                || (v.len() <= 16
                    && v.bytes().all(|c| {
                        c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E')
                    })
                    && v.parse::<f64>().is_ok_and(f64::is_finite))
        }),
        b"IS" => values().all(|v| {
            v.is_empty()
                || (v.len() <= 12 && v.parse::<i64>().is_ok_and(|n| i32::try_from(n).is_ok()))
        }),
        b"UI" => values().all(|v| v.is_empty() || valid_uid(v)),
        b"AS" => values().all(|v| {
            v.is_empty()
                || (v.len() == 4 && digits(&v[..3]) && matches!(&v[3..], "D" | "W" | "M" | "Y"))
        }),
        b"CS" => values().all(|v| {
            v.len() <= 16
                && v.bytes()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b' ' || c == b'_')
        }),
        b"AE" | b"SH" => values().all(|v| v.chars().count() <= 16),
        b"LO" => values().all(|v| v.chars().count() <= 64),
        b"PN" => values().all(|v| v.split('=').all(|g| g.chars().count() <= 64)),
        b"ST" => text.chars().count() <= 1024,
        b"LT" => text.chars().count() <= 10240,
        _ if !parse::is_text(vr) => b.len().is_multiple_of(parse::word(vr)),
        _ => true,
    }
}

/// A kept private value: with the key, recomputed position by position ([`super::blob`]);
/// without it, equal but for same-length substitutions of the right shape ([`substituted`]).
fn kept_private(
    ctx: &Ctx<'_>,
    x: &Elem<'_>,
    y: &Elem<'_>,
    encs: (Enc, Enc),
) -> Result<(), Vec<super::blob::Problem>> {
    let changed = || vec![super::blob::Problem::Changed];
    let (Some(ids), Some(key), Val::Bytes(p), Val::Bytes(q)) =
        (&ctx.blob, ctx.key, &x.value, &y.value)
    else {
        return if same_value(x, y, encs) || substituted(x, y) {
            Ok(())
        } else {
            Err(changed())
        };
    };
    let problems = ids.check(key, p, q);
    if problems.is_empty() {
        return Ok(());
    }
    // Nothing to substitute and equal by value (a re-encoder's byte order): unchanged.
    if problems == changed() && same_value(x, y, encs) && ids.expected(key, p).0 == *p {
        return Ok(());
    }
    Err(problems)
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
            && !k.is_uid_of(o, n)
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
fn identity(ctx: &Ctx<'_>, raw: &File<'_>, anon: &File<'_>, out: &mut Vec<Ranked>) {
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
    let sop_tag = Tag(0x0008, 0x0018);
    let sop = anon.get(sop_tag).and_then(elem_text);
    let meta_ok = match sop.as_deref() {
        Some(s) => s == anon.meta.sop_instance,
        // A data set without SOPInstanceUID (the raw one had none either): the meta's own UID
        // follows the UID rule, recomputed here from the raw meta.
        None if raw.get(sop_tag).is_none() => {
            let (old, new) = (&*raw.meta.sop_instance, &*anon.meta.sop_instance);
            match action(ctx.rules, ctx.token, TagRef(0x0002, 0x0003), *b"UI") {
                Act::ReplaceUid => {
                    new != old
                        && valid_uid(new)
                        && ctx
                            .key
                            .is_none_or(|k| old.is_empty() || k.is_uid_of(old, new))
                }
                _ => new == old,
            }
        }
        None => false,
    };
    if !meta_ok {
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
    fn dummies_must_be_valid_for_their_vr() {
        for (vr, ok, bad) in [
            (b"DA", "19000101", "Anonymous"),
            (b"DA", "20240229\\19000101", "20230229"),
            (b"TM", "000000", "Anonymous"),
            (b"TM", "101500.123", "2500"),
            (b"DT", "19000101000000", "Anonymous"),
            (b"DT", "20240101120000.5+0100", "2024010112xx"),
            (b"DS", "0", "Anonymous"),
            (b"DS", "-1.5e3\\2", "1.2.3"),
            (b"IS", "0", "Anonymous"),
            (b"IS", "-12", "99999999999"),
            (b"UI", "2.25.1", "Anonymous"),
            (b"AS", "000Y", "Anonymous"),
            (b"CS", "ANONYMIZED", "Anonymous"),
            (b"SH", "sub-01", "a name far longer than sixteen"),
        ] {
            assert!(vr_valid(*vr, ok.as_bytes()), "{ok}");
            assert!(!vr_valid(*vr, bad.as_bytes()), "{bad}");
        }
        assert!(vr_valid(*b"LO", b"Anonymous"));
        assert!(vr_valid(*b"US", b"\x01\x00") && !vr_valid(*b"US", b"\x01"));
    }

    #[test]
    fn z_and_d_elements_hold_empty_or_a_valid_unrelated_dummy() {
        let el = |vr: &[u8; 2], b: &'static [u8]| Elem {
            tag: Tag(0x0008, 0x0020),
            vr: *vr,
            value: Val::Bytes(b),
        };
        let raw = el(b"DA", b"20200101");
        let z = |b: &'static [u8]| dummy_problem(Act::Empty, &raw, &el(b"DA", b));
        assert_eq!(z(b""), None);
        assert_eq!(z(b"19000101"), None);
        assert_eq!(z(b"20200101"), Some("holds the original value"));
        assert_eq!(z(b"Anonymous"), Some("not a valid date (DA)"));
        assert_eq!(z(b"20191002"), Some("holds the original date shifted"));
        // A raw file anonymized before: its dummy may stay.
        let dummy = el(b"DA", b"19000101");
        assert_eq!(dummy_problem(Act::Dummy, &dummy, &dummy), None);
        let d = |b: &'static [u8]| dummy_problem(Act::Dummy, &raw, &el(b"DA", b));
        assert_eq!(d(b""), Some("empty (a dummy value is required)"));
        assert_eq!(d(b"19000101"), None);
        // An implicit-VR reader's `UN` is judged by the raw element's VR.
        assert_eq!(
            dummy_problem(Act::Empty, &raw, &el(b"UN", b"Anonymous")),
            Some("not a valid date (DA)")
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
