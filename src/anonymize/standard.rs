//! The standard profiles (`basic`, `neuro`, profile files built on them) applied to one located
//! file, at every depth: each element's action from [`crate::deid::Rules`], keyed UIDs and
//! dates from the study key, the sheet's ID as pseudonym, the de-identification attributes
//! added, and every enclosing length recomputed.
//!
//! Like the lab path ([`super::patch`]), the output is a list of edits of the input bytes:
//! everything outside the changed elements is copied as it was. Defined lengths of enclosing
//! items and sequences, and group lengths, follow the size changes; undefined lengths stay
//! undefined. The file meta changes only when MediaStorageSOPInstanceUID does. A deflated file
//! is inflated, patched the same way and deflated again ([`deflated`]). This module
//! does not read or write files ([`super::file`]) and does not decide what the verifier checks.

use super::clean::Needles;
use super::locate::{Kind, LenField, Node};
use super::patch::{Edit, Patched};
use crate::deid::keyed::{StudyKey, push_shifted_date, push_shifted_datetime, shift_date};
use crate::deid::rules::{TEXT_VALUE, is_binary};
use crate::deid::{Act, DeidOption, Rules};
use crate::finding::TagRef;
use dicom_core::VR;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_dictionary_std::StandardDataDictionary;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// One participant's context for the standard profiles.
#[derive(Debug, Clone)]
pub struct Context {
    pub rules: Rules,
    pub key: StudyKey,
    /// The sheet's ID: PatientID and PatientName in the output.
    pub study_id: String,
    /// The sheet's Original ID (also an identifier to look for in text and blobs).
    pub original_id: String,
    /// Days every date moves under `retain-long-modified-dates`.
    pub offset_days: i64,
}

/// Why a file cannot be patched under a standard profile. Messages carry tags, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StandardError {
    #[error("{0} has the binary VR {1}: text is never written into it (not written)")]
    BinaryText(TagRef, String),
    #[error("{0} value is too long for its VR's 2-byte length")]
    TooLong(TagRef),
}

const PATIENT_NAME: u32 = 0x0010_0010;
const PATIENT_ID: u32 = 0x0010_0020;
const OTHER_PATIENT_IDS: u32 = 0x0010_1000;
const BIRTH_DATE: u32 = 0x0010_0030;
const SOP_INSTANCE_UID: u32 = 0x0008_0018;
const DEVICE_SERIAL: u32 = 0x0018_1000;
const MEDIA_SOP_INSTANCE: u32 = 0x0002_0003;

/// The participant's identifiers found in the file, substituted inside kept private values
/// (the contract in [`crate::deid`]; `clean` looks for more, see [`super::clean`]).
#[derive(Debug, Default)]
struct Identity {
    /// The Original ID, PatientName parts, PatientID and OtherPatientIDs values and the device
    /// serial (unless kept), 3 characters or more: replaced by `X`s.
    texts: Vec<Vec<u8>>,
    /// Original dates (`YYYYMMDD`) of DA values and PatientBirthDate: the shifted date.
    dates: Vec<Vec<u8>>,
}

pub(super) fn value<'a>(buf: &'a [u8], n: &Node) -> &'a [u8] {
    buf.get(n.value_start..n.end).unwrap_or_default()
}

pub(super) fn trimmed(v: &[u8]) -> &[u8] {
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | 0))
        .map_or(0, |i| i + 1);
    let start = v[..end].iter().position(|b| *b != b' ').unwrap_or(end);
    &v[start..end]
}

/// The VR of a node: from the file, or from the dictionary in implicit VR (`UN` if unknown).
pub(super) fn vr_of(n: &Node) -> VR {
    if let Some(v) = n.vr {
        return vr_from_bytes(v);
    }
    if n.walked {
        return VR::SQ;
    }
    if n.group() % 2 == 1 {
        return VR::UN;
    }
    StandardDataDictionary
        .by_tag(dicom_core::Tag(n.group(), n.tag as u16))
        .map(|e| e.vr().relaxed())
        .unwrap_or(VR::UN)
}

/// The VR named by two bytes of an explicit VR header, `UN` if none: what
/// `VR::from_binary(v).unwrap_or(VR::UN)` gives, without its UTF-8 check and string match
/// (called for every element of every file): two capital letters index [`VR_INDEX`].
fn vr_from_bytes(v: [u8; 2]) -> VR {
    let (a, b) = (v[0].wrapping_sub(b'A'), v[1].wrapping_sub(b'A'));
    if a < 26 && b < 26 {
        let k = VR_INDEX[usize::from(a) * 26 + usize::from(b)];
        if let Some((_, vr)) = VR_NAMES.get(usize::from(k)) {
            return *vr;
        }
    }
    VR::from_binary(v).unwrap_or(VR::UN)
}

/// The VRs by name.
const VR_NAMES: [([u8; 2], VR); 34] = [
    (*b"AE", VR::AE),
    (*b"AS", VR::AS),
    (*b"AT", VR::AT),
    (*b"CS", VR::CS),
    (*b"DA", VR::DA),
    (*b"DS", VR::DS),
    (*b"DT", VR::DT),
    (*b"FL", VR::FL),
    (*b"FD", VR::FD),
    (*b"IS", VR::IS),
    (*b"LO", VR::LO),
    (*b"LT", VR::LT),
    (*b"OB", VR::OB),
    (*b"OD", VR::OD),
    (*b"OF", VR::OF),
    (*b"OL", VR::OL),
    (*b"OV", VR::OV),
    (*b"OW", VR::OW),
    (*b"PN", VR::PN),
    (*b"SH", VR::SH),
    (*b"SL", VR::SL),
    (*b"SQ", VR::SQ),
    (*b"SS", VR::SS),
    (*b"ST", VR::ST),
    (*b"SV", VR::SV),
    (*b"TM", VR::TM),
    (*b"UC", VR::UC),
    (*b"UI", VR::UI),
    (*b"UL", VR::UL),
    (*b"UN", VR::UN),
    (*b"UR", VR::UR),
    (*b"US", VR::US),
    (*b"UT", VR::UT),
    (*b"UV", VR::UV),
];

/// For two capital letters `(a, b)` at `(a - 'A') * 26 + (b - 'A')`: the index in
/// [`VR_NAMES`] of the VR so named, or `u8::MAX`.
const VR_INDEX: [u8; 676] = {
    let mut t = [u8::MAX; 676];
    let mut i = 0;
    while i < VR_NAMES.len() {
        let n = VR_NAMES[i].0;
        t[(n[0] - b'A') as usize * 26 + (n[1] - b'A') as usize] = i as u8;
        i += 1;
    }
    t
};

/// The private creator reserving `n`'s block: the `(gggg,00xx)` element in the same container.
fn creator_of<'a>(buf: &'a [u8], nodes: &[Node], i: usize) -> Option<&'a str> {
    let n = &nodes[i];
    let ctag = if (0x0010..=0x00FF).contains(&(n.tag & 0xFFFF)) {
        n.tag
    } else {
        (n.tag & 0xFFFF_0000) | ((n.tag & 0xFF00) >> 8)
    };
    nodes[..=i]
        .iter()
        .rev()
        .find(|m| m.kind == Kind::Element && m.tag == ctag && m.parent == n.parent)
        .and_then(|m| std::str::from_utf8(trimmed(value(buf, m))).ok())
}

/// Plans the edits for `nodes` (the data set) and `meta` (the file meta elements) of `buf`.
pub fn plan(
    buf: &[u8],
    meta: &[Node],
    nodes: &[Node],
    ctx: &Context,
    edits: &mut Vec<Edit>,
    scratch: &mut Vec<u8>,
) -> Result<Patched, StandardError> {
    edits.clear();
    scratch.clear();
    let rules = &ctx.rules;
    let mut patched = Patched::default();
    let id = identity(buf, nodes, ctx);
    // What `clean` looks for, gathered on the first element to clean.
    let mut clean: Option<Needles> = None;
    // What is substituted in kept private values, gathered on the first one.
    let mut blob: Option<BlobNeedles> = None;
    let mut sizes = Sizes::new(nodes);
    let mut sop_uid: Option<String> = None;
    let mut skip_until = 0usize;
    let mut replaced_whole: Vec<u32> = Vec::new();
    // The node of each attribute `added` may write, where the top level holds it already.
    let mut existing: [Option<usize>; ADDED_TAGS.len()] = [None; ADDED_TAGS.len()];
    // The new value of the element at hand (reused: no allocation per element).
    let mut new: Vec<u8> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if n.kind != Kind::Element || n.start < skip_until {
            continue;
        }
        if n.parent.is_none()
            && let Some(k) = ADDED_TAGS.iter().position(|t| *t == n.tag)
        {
            existing[k] = Some(i);
        }
        let tag = TagRef(n.group(), n.tag as u16);
        let vr = vr_of(n);
        let act = if n.group() % 2 == 1 {
            rules.private_action(tag, creator_of(buf, nodes, i))
        } else {
            rules.action(tag, vr)
        };
        if n.tag == SOP_INSTANCE_UID && n.parent.is_none() {
            let v = String::from_utf8_lossy(trimmed(value(buf, n))).into_owned();
            sop_uid = match act {
                Act::ReplaceUid if !v.is_empty() => Some(ctx.key.uid(&v)),
                Act::Keep | Act::Clean if !v.is_empty() => Some(v),
                // Removed, emptied or empty: the meta follows its own rule below.
                _ => None,
            };
        }
        new.clear();
        match act {
            Act::Keep => {
                if n.group() % 2 == 1 && !n.walked && rules.has(DeidOption::RetainSafePrivate) {
                    let blob = blob.get_or_insert_with(|| BlobNeedles::of(&id, ctx));
                    scrub_blob(buf, n, blob, ctx, edits, scratch);
                }
                continue;
            }
            Act::Remove => {
                edits.push(Edit {
                    input: n.start..n.end,
                    output: scratch.len()..scratch.len(),
                });
                sizes.add(nodes, n, -((n.end - n.start) as i64));
                skip_until = n.end;
                patched.changed.push(tag);
                continue;
            }
            Act::Clean if n.walked => continue,
            Act::Clean if is_binary(vr) => continue,
            Act::Clean => {
                let v = value(buf, n);
                let needles =
                    clean.get_or_insert_with(|| Needles::of(buf, nodes, rules, &ctx.original_id));
                if !needles.found_in(v) {
                    continue;
                } else if tag == TEXT_VALUE {
                    // An SR's TEXT item requires its value (Type 1): a dummy, not an empty one.
                    new.extend_from_slice(dummy(vr, &ctx.study_id).as_bytes());
                }
            }
            Act::Empty => {}
            Act::Dummy => new.extend_from_slice(dummy(vr, &ctx.study_id).as_bytes()),
            Act::Pseudonym => new.extend_from_slice(ctx.study_id.as_bytes()),
            Act::ReplaceUid => {
                // Split as `str`s (lossy), the way the verifier reads them: `trim` is Unicode's.
                let v = String::from_utf8_lossy(value(buf, n));
                for (k, u) in v.trim_end_matches(['\0', ' ']).split('\\').enumerate() {
                    if k > 0 {
                        new.push(b'\\');
                    }
                    let u = u.trim();
                    if !u.is_empty() {
                        patched.uids.push(u.to_string());
                        ctx.key.push_uid(u, &mut new);
                    }
                }
            }
            Act::ShiftDate => {
                let v = String::from_utf8_lossy(value(buf, n));
                for (k, d) in v.trim_end_matches(['\0', ' ']).split('\\').enumerate() {
                    if k > 0 {
                        new.push(b'\\');
                    }
                    let d = d.trim();
                    let shifted = d.is_empty()
                        || if vr == VR::DT {
                            push_shifted_datetime(d, ctx.offset_days, &mut new)
                        } else {
                            push_shifted_date(d, ctx.offset_days, &mut new)
                        };
                    if !shifted {
                        // A value that is not a date cannot be shifted: it is emptied, never
                        // kept.
                        new.clear();
                        break;
                    }
                }
            }
        }
        if n.walked {
            // Only an empty value reaches a sequence: zero items.
            let from = scratch.len();
            scratch.extend_from_slice(&buf[n.start..n.value_start]);
            if n.undefined {
                scratch.extend_from_slice(&delimiter(0xFFFE_E0DD, n.big));
            } else {
                set_len(&mut scratch[from..], n, 0);
            }
            push_whole(n, from, scratch, edits, nodes, &mut sizes);
            replaced_whole.push(i as u32);
            skip_until = n.end;
            patched.changed.push(tag);
            continue;
        }
        if !new.is_empty() && is_binary(vr) && vr != VR::UN {
            return Err(StandardError::BinaryText(tag, vr.to_string().to_string()));
        }
        if new.len() % 2 == 1 {
            new.push(if vr == VR::UI { 0 } else { b' ' });
        }
        if new.as_slice() == value(buf, n) {
            continue;
        }
        if n.len_field == LenField::U16 && new.len() > 0xFFFF {
            return Err(StandardError::TooLong(tag));
        }
        let from = scratch.len();
        scratch.extend_from_slice(&buf[n.start..n.value_start]);
        set_len(&mut scratch[from..], n, new.len() as u32);
        scratch.extend_from_slice(&new);
        push_whole(n, from, scratch, edits, nodes, &mut sizes);
        patched.changed.push(tag);
    }
    // Added attributes, in tag order at the top level.
    let top_enc = nodes
        .iter()
        .find(|n| n.parent.is_none())
        .map(|n| (n.big, n.implicit))
        .unwrap_or((false, false));
    for (tag, bytes) in added_bytes(rules, top_enc.0, top_enc.1).iter() {
        let (tag, bytes) = (*tag, bytes.as_slice());
        let at_node = ADDED_TAGS
            .iter()
            .position(|t| *t == tag)
            .and_then(|k| existing[k]);
        if let Some(i) = at_node {
            let n = &nodes[i];
            if n.start < skip_until && edits.iter().any(|e| e.input == (n.start..n.end)) {
                continue;
            }
            let from = scratch.len();
            scratch.extend_from_slice(bytes);
            push_whole(n, from, scratch, edits, nodes, &mut sizes);
        } else {
            let at = nodes
                .iter()
                .find(|n| n.parent.is_none() && n.kind == Kind::Element && n.tag > tag)
                .map_or_else(
                    || {
                        nodes
                            .iter()
                            .rfind(|n| n.parent.is_none())
                            .map_or(0, |n| n.end)
                    },
                    |n| n.start,
                );
            let from = scratch.len();
            scratch.extend_from_slice(bytes);
            edits.push(Edit {
                input: at..at,
                output: from..scratch.len(),
            });
            sizes.add_group(None, (tag >> 16) as u16, bytes.len() as i64);
        }
        patched.changed.push(TagRef((tag >> 16) as u16, tag as u16));
    }
    // Enclosing defined lengths.
    for (i, &d) in sizes.grow.iter().enumerate() {
        let n = &nodes[i];
        if d == 0 || n.undefined || replaced_whole.contains(&(i as u32)) {
            continue;
        }
        let (at, width) = n.len_at();
        let old = read_len(buf, at, width, n.big);
        let new = (old as i64 + d).max(0) as u32;
        let from = scratch.len();
        write_len(scratch, new, width, n.big);
        edits.push(Edit {
            input: at..at + width,
            output: from..scratch.len(),
        });
    }
    // Group lengths.
    for n in nodes {
        if !is_group_length(n) {
            continue;
        }
        let Some(&d) = sizes
            .groups
            .as_ref()
            .and_then(|g| g.get(&(n.parent, n.group())))
        else {
            continue;
        };
        if d == 0
            || edits
                .iter()
                .any(|e| e.input.start <= n.start && n.end <= e.input.end)
        {
            continue;
        }
        let old = read_len(buf, n.value_start, 4, n.big);
        let Ok(new) = u32::try_from(i64::from(old) + d) else {
            continue;
        };
        let from = scratch.len();
        write_len(scratch, new, 4, n.big);
        edits.push(Edit {
            input: n.value_start..n.end,
            output: from..scratch.len(),
        });
    }
    // The file meta follows SOPInstanceUID: the data set's new SOPInstanceUID, whatever the raw
    // meta held (a meta that disagrees with its data set, or pads differently, still ends equal).
    // A data set without one (or whose rule removes it) leaves the meta to its own rule, so an
    // original UID never stays there under `U`.
    let meta_sop = meta.iter().find(|m| m.tag == MEDIA_SOP_INSTANCE);
    let new_meta = match (sop_uid, meta_sop) {
        (Some(u), Some(_)) => Some(u),
        (None, Some(m)) if rules.action(TagRef(0x0002, 0x0003), VR::UI) == Act::ReplaceUid => {
            let raw = String::from_utf8_lossy(trimmed(value(buf, m))).into_owned();
            (!raw.is_empty()).then(|| {
                patched.uids.push(raw.clone());
                ctx.key.uid(&raw)
            })
        }
        _ => None,
    };
    if let (Some(new_uid), Some(m)) = (new_meta, meta_sop) {
        let mut v = new_uid.into_bytes();
        if v.len() % 2 == 1 {
            v.push(0);
        }
        if v.as_slice() != value(buf, m) {
            let d = v.len() as i64 - (m.end - m.value_start) as i64;
            let from = scratch.len();
            let mut header = buf[m.start..m.value_start].to_vec();
            set_len(&mut header, m, v.len() as u32);
            scratch.extend_from_slice(&header);
            scratch.extend_from_slice(&v);
            edits.push(Edit {
                input: m.start..m.end,
                output: from..scratch.len(),
            });
            if let Some(gl) = meta.iter().find(|m| m.tag == 0x0002_0000)
                && gl.end - gl.value_start == 4
            {
                let old = read_len(buf, gl.value_start, 4, false);
                let from = scratch.len();
                write_len(scratch, (i64::from(old) + d).max(0) as u32, 4, false);
                edits.push(Edit {
                    input: gl.value_start..gl.end,
                    output: from..scratch.len(),
                });
            }
            patched.changed.push(TagRef(0x0002, 0x0003));
        }
    }
    edits.sort_by_key(|e| (e.input.start, e.input.end));
    Ok(patched)
}

/// The size changes of one plan: what the enclosing defined lengths and the group lengths
/// must follow.
struct Sizes {
    /// Size change of each node's content, by node index.
    grow: Vec<i64>,
    /// Size change per (container, group), kept only when the data set has a group length.
    groups: Option<HashMap<(Option<u32>, u16), i64>>,
}

impl Sizes {
    fn new(nodes: &[Node]) -> Self {
        let has_group_lengths = nodes.iter().any(is_group_length);
        Sizes {
            grow: vec![0; nodes.len()],
            groups: has_group_lengths.then(HashMap::new),
        }
    }

    /// Element `n` grows by `d` bytes (shrinks if negative).
    fn add(&mut self, nodes: &[Node], n: &Node, d: i64) {
        let mut parent = n.parent;
        while let Some(p) = parent {
            self.grow[p as usize] += d;
            parent = nodes[p as usize].parent;
        }
        self.add_group(n.parent, n.group(), d);
    }

    fn add_group(&mut self, parent: Option<u32>, group: u16, d: i64) {
        if let Some(g) = &mut self.groups {
            *g.entry((parent, group)).or_default() += d;
        }
    }
}

/// A group length element `(gggg,0000)` with its 4-byte value.
fn is_group_length(n: &Node) -> bool {
    n.kind == Kind::Element && n.tag & 0xFFFF == 0 && n.end - n.value_start == 4
}

/// Records an edit replacing node `n` whole by `scratch[from..]`, and its size change.
fn push_whole(
    n: &Node,
    from: usize,
    scratch: &[u8],
    edits: &mut Vec<Edit>,
    nodes: &[Node],
    sizes: &mut Sizes,
) {
    let d = (scratch.len() - from) as i64 - (n.end - n.start) as i64;
    edits.push(Edit {
        input: n.start..n.end,
        output: from..scratch.len(),
    });
    if d != 0 {
        sizes.add(nodes, n, d);
    }
}

fn read_len(buf: &[u8], at: usize, width: usize, big: bool) -> u32 {
    let b = &buf[at..at + width];
    match (width, big) {
        (2, false) => u32::from(u16::from_le_bytes([b[0], b[1]])),
        (2, true) => u32::from(u16::from_be_bytes([b[0], b[1]])),
        (_, false) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        (_, true) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
    }
}

fn write_len(out: &mut Vec<u8>, n: u32, width: usize, big: bool) {
    match (width, big) {
        (2, false) => out.extend_from_slice(&(n as u16).to_le_bytes()),
        (2, true) => out.extend_from_slice(&(n as u16).to_be_bytes()),
        (_, false) => out.extend_from_slice(&n.to_le_bytes()),
        (_, true) => out.extend_from_slice(&n.to_be_bytes()),
    }
}

/// Sets the length field of a copied element header (`header` starts where `n` does).
fn set_len(header: &mut [u8], n: &Node, len: u32) {
    let (at, width) = n.len_at();
    let at = at - n.start;
    let field = &mut header[at..at + width];
    match (width, n.big) {
        (2, false) => field.copy_from_slice(&(len as u16).to_le_bytes()),
        (2, true) => field.copy_from_slice(&(len as u16).to_be_bytes()),
        (_, false) => field.copy_from_slice(&len.to_le_bytes()),
        (_, true) => field.copy_from_slice(&len.to_be_bytes()),
    }
}

fn delimiter(tag: u32, big: bool) -> [u8; 8] {
    let mut d = [0u8; 8];
    let (g, e) = ((tag >> 16) as u16, tag as u16);
    if big {
        d[..2].copy_from_slice(&g.to_be_bytes());
        d[2..4].copy_from_slice(&e.to_be_bytes());
    } else {
        d[..2].copy_from_slice(&g.to_le_bytes());
        d[2..4].copy_from_slice(&e.to_le_bytes());
    }
    d
}

/// A VR-valid dummy value.
fn dummy(vr: VR, study_id: &str) -> &str {
    match vr {
        VR::DA => "19000101",
        VR::TM => "000000",
        VR::DT => "19000101000000",
        VR::DS | VR::IS => "0",
        VR::AS => "000Y",
        VR::PN | VR::LO => study_id,
        VR::CS => "ANONYMIZED",
        _ => "ANONYMIZED",
    }
}

/// Every tag [`added`] may write.
const ADDED_TAGS: [u32; 4] = [0x0012_0062, 0x0012_0063, 0x0012_0064, 0x0028_0303];

/// The attributes every standard-profile output holds: (tag, VR, value).
fn added(rules: &Rules) -> Vec<(u32, [u8; 2], String)> {
    let mut v = vec![
        (0x0012_0062, *b"CS", "YES".to_string()),
        (0x0012_0063, *b"LO", rules.method_text()),
        (0x0012_0064, *b"SQ", String::new()),
    ];
    if rules.has(DeidOption::RetainLongModifiedDates) {
        v.push((0x0028_0303, *b"CS", "MODIFIED".to_string()));
    }
    v
}

/// [`added`]'s attributes as bytes in one encoding (big endian, implicit VR), in order: built
/// once per thread for each rule set and encoding (the code sequence alone is some thirty small
/// buffers, for every file otherwise).
fn added_bytes(rules: &Rules, big: bool, implicit: bool) -> Rc<[(u32, Vec<u8>)]> {
    type Built = Vec<(Rules, bool, bool, Rc<[(u32, Vec<u8>)]>)>;
    thread_local! {
        static BUILT: RefCell<Built> = const { RefCell::new(Vec::new()) };
    }
    BUILT.with(|b| {
        let mut b = b.borrow_mut();
        if let Some((.., bytes)) = b
            .iter()
            .find(|(r, bg, im, _)| *bg == big && *im == implicit && r == rules)
        {
            return Rc::clone(bytes);
        }
        if b.len() >= 16 {
            b.clear(); // a long-lived process with many rule sets: stay bounded
        }
        let bytes: Rc<[(u32, Vec<u8>)]> = added(rules)
            .into_iter()
            .map(|(tag, vr, text)| (tag, element_bytes(tag, vr, &text, big, implicit, rules)))
            .collect();
        b.push((rules.clone(), big, implicit, Rc::clone(&bytes)));
        bytes
    })
}

/// One element's bytes in the file's encoding; the code sequence is built from the rules.
fn element_bytes(
    tag: u32,
    vr: [u8; 2],
    text: &str,
    big: bool,
    implicit: bool,
    rules: &Rules,
) -> Vec<u8> {
    let value: Vec<u8> = if &vr == b"SQ" {
        let mut items = Vec::new();
        for (code, meaning) in rules.method_codes() {
            let mut item = Vec::new();
            item.extend(element_bytes(
                0x0008_0100,
                *b"SH",
                code,
                big,
                implicit,
                rules,
            ));
            item.extend(element_bytes(
                0x0008_0102,
                *b"SH",
                "DCM",
                big,
                implicit,
                rules,
            ));
            item.extend(element_bytes(
                0x0008_0104,
                *b"LO",
                meaning,
                big,
                implicit,
                rules,
            ));
            let mut h = delimiter(0xFFFE_E000, big);
            let len = item.len() as u32;
            h[4..].copy_from_slice(&if big {
                len.to_be_bytes()
            } else {
                len.to_le_bytes()
            });
            items.extend_from_slice(&h);
            items.extend(item);
        }
        items
    } else {
        let mut v = text.as_bytes().to_vec();
        if v.len() % 2 == 1 {
            v.push(b' ');
        }
        v
    };
    let (g, e) = ((tag >> 16) as u16, tag as u16);
    let mut out = Vec::with_capacity(value.len() + 12);
    let u16b = |x: u16| {
        if big {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    };
    let u32b = |x: u32| {
        if big {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    };
    out.extend_from_slice(&u16b(g));
    out.extend_from_slice(&u16b(e));
    if implicit {
        out.extend_from_slice(&u32b(value.len() as u32));
    } else if &vr == b"SQ" {
        out.extend_from_slice(&vr);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&u32b(value.len() as u32));
    } else {
        out.extend_from_slice(&vr);
        out.extend_from_slice(&u16b(value.len() as u16));
    }
    out.extend(value);
    out
}

/// The participant's identifiers in this file (and the sheet's Original ID).
fn identity(buf: &[u8], nodes: &[Node], ctx: &Context) -> Identity {
    let mut id = Identity::default();
    let mut text = |v: &[u8]| {
        let v = trimmed(v);
        if v.len() >= 3 && !id.texts.iter().any(|t| t.eq_ignore_ascii_case(v)) {
            id.texts.push(v.to_vec());
        }
    };
    text(ctx.original_id.as_bytes());
    for n in nodes
        .iter()
        .filter(|n| n.kind == Kind::Element && !n.walked)
    {
        match n.tag {
            PATIENT_NAME => {
                for part in value(buf, n).split(|b| matches!(b, b'^' | b'=' | b' ')) {
                    text(part);
                }
            }
            PATIENT_ID | OTHER_PATIENT_IDS => {
                for part in value(buf, n).split(|b| *b == b'\\') {
                    text(part);
                }
            }
            DEVICE_SERIAL if ctx.rules.action(TagRef(0x0018, 0x1000), VR::LO) != Act::Keep => {
                text(value(buf, n))
            }
            _ => {}
        }
    }
    for n in nodes
        .iter()
        .filter(|n| n.kind == Kind::Element && !n.walked)
    {
        if n.tag != BIRTH_DATE && vr_of(n) != VR::DA {
            continue;
        }
        let v = trimmed(value(buf, n));
        if v.len() == 8 && !id.dates.iter().any(|d| d == v) {
            id.dates.push(v.to_vec());
        }
    }
    id
}

/// A blob needle: the bytes, their same-length substitute, and what may stand beside them.
type Needle = (Vec<u8>, Vec<u8>, fn(u8) -> bool);

/// The dates and words [`scrub_blob`] substitutes, the same for every kept private value of a
/// file: gathered once per file.
struct BlobNeedles {
    /// In the order they are tried at one position: dates first, then the texts.
    needles: Vec<Needle>,
    /// Whether a byte is the first byte of some needle.
    first: [bool; 256],
}

impl BlobNeedles {
    fn of(id: &Identity, ctx: &Context) -> Self {
        let mut needles: Vec<Needle> = Vec::new();
        if !ctx.rules.has(DeidOption::RetainLongFullDates) {
            for d in &id.dates {
                let s = String::from_utf8_lossy(d);
                let sub = shift_date(&s, ctx.offset_days).unwrap_or_else(|| "19000101".into());
                if sub.len() == d.len() {
                    needles.push((d.clone(), sub.into_bytes(), |b: u8| !b.is_ascii_digit()));
                }
            }
        }
        for t in &id.texts {
            needles.push((t.clone(), vec![b'X'; t.len()], |b: u8| {
                !b.is_ascii_alphanumeric()
            }));
        }
        let mut first = [false; 256];
        for (nd, _, _) in &needles {
            first[usize::from(nd[0])] = true;
        }
        BlobNeedles { needles, first }
    }
}

/// Same-length substitutes for the participant's identifiers inside a kept private value:
/// every UID-shaped token (digits and dots, at least 16 characters and 4 dots: the file's own
/// UIDs and the others Siemens writes, which carry the device serial and the scan time) becomes
/// its keyed same-length substitute; every original date (8 digits standing alone) the shifted
/// date; every name part, ID or serial (standing alone, same case) `X`s. Substrings of longer
/// words are left alone, so field names such as `ImagePositionPatient` keep their bytes.
fn scrub_blob(
    buf: &[u8],
    n: &Node,
    blob: &BlobNeedles,
    ctx: &Context,
    edits: &mut Vec<Edit>,
    scratch: &mut Vec<u8>,
) {
    let v = value(buf, n);
    if v.is_empty() {
        return;
    }
    let mut out: Option<Vec<u8>> = None;
    let uidish = |b: u8| b.is_ascii_digit() || b == b'.';
    // UID-shaped tokens.
    let mut i = 0;
    while i < v.len() {
        if !v[i].is_ascii_digit() {
            // Skip to the next digit (a blob is mostly other bytes).
            i += v[i..]
                .iter()
                .position(u8::is_ascii_digit)
                .unwrap_or(v.len() - i);
            continue;
        }
        if i > 0 && uidish(v[i - 1]) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < v.len() && uidish(v[j]) {
            j += 1;
        }
        let tok = &v[i..j];
        let tok = &tok[..tok.len() - tok.iter().rev().take_while(|b| **b == b'.').count()];
        if tok.len() >= 16 && tok.iter().filter(|b| **b == b'.').count() >= 4 {
            let s = String::from_utf8_lossy(tok);
            let sub = ctx.key.blob_uid(&s);
            let o = out.get_or_insert_with(|| v.to_vec());
            o[i..i + tok.len()].copy_from_slice(sub.as_bytes());
        }
        i = j;
    }
    // Dates and words in one pass: (needle, substitute, boundary test), tried only where the
    // byte is the first byte of some needle.
    let (needles, first) = (&blob.needles, &blob.first);
    let mut i = 0;
    while i < v.len() {
        let cur = out.as_deref().unwrap_or(v);
        if !first[usize::from(cur[i])] {
            // Skip to the next byte that starts a needle (`cur` is unchanged till then).
            i += cur[i..]
                .iter()
                .position(|b| first[usize::from(*b)])
                .unwrap_or(cur.len() - i);
            continue;
        }
        let hit = needles.iter().find(|(nd, _, boundary)| {
            cur.len() - i >= nd.len()
                && &cur[i..i + nd.len()] == nd.as_slice()
                && (i == 0 || boundary(cur[i - 1]))
                && cur.get(i + nd.len()).is_none_or(|b| boundary(*b))
        });
        match hit {
            Some((nd, sub, _)) => {
                let len = nd.len();
                let o = out.get_or_insert_with(|| v.to_vec());
                o[i..i + len].copy_from_slice(sub);
                i += len;
            }
            None => i += 1,
        }
    }
    if let Some(o) = out {
        let from = scratch.len();
        scratch.extend_from_slice(&o);
        edits.push(Edit {
            input: n.value_start..n.end,
            output: from..scratch.len(),
        });
    }
}

/// The most a deflated data set may inflate to: larger is refused, not allocated.
const MAX_INFLATED: u64 = 1 << 30;

/// A deflated file (the whole of it in `buf`) under a standard profile: the data set is
/// inflated, patched like any explicit VR little endian data set, and deflated again; the
/// preamble and the file meta are patched in place. Returns the output bytes.
pub fn deflated(buf: &[u8], ctx: &Context) -> Result<(Vec<u8>, Patched), super::FileError> {
    use super::FileError;
    use super::locate::{self, Encoding, Kind};
    use std::io::{Read, Write};
    let meta = locate::meta(buf).map_err(FileError::Locate)?;
    let ds = meta.dataset_start;
    let mut inner = buf[..ds].to_vec();
    let mut dec = flate2::read::DeflateDecoder::new(&buf[ds..]).take(MAX_INFLATED + 1);
    dec.read_to_end(&mut inner)
        .map_err(|e| FileError::Deflated(format!("cannot inflate the data set: {e}")))?;
    if (inner.len() - ds) as u64 > MAX_INFLATED {
        return Err(FileError::Deflated(
            "the data set inflates to more than 1 GiB: refused".into(),
        ));
    }
    let mut meta_els = Vec::new();
    locate::top_level(&inner[..ds], 132, Encoding::ExplicitLe, None, &mut meta_els)
        .map_err(FileError::Locate)?;
    let meta_nodes: Vec<Node> = meta_els
        .iter()
        .filter(|e| e.group() == 0x0002)
        .map(|e| Node {
            kind: Kind::Element,
            tag: e.tag,
            vr: e.vr,
            start: e.start,
            value_start: e.value_start,
            end: e.end,
            undefined: e.undefined,
            len_field: e.len_field,
            parent: None,
            big: false,
            implicit: false,
            walked: false,
        })
        .collect();
    let mut nodes = Vec::new();
    locate::tree_within(&inner, inner.len(), ds, Encoding::ExplicitLe, &mut nodes)
        .map_err(FileError::Locate)?;
    let (mut edits, mut values) = (Vec::new(), Vec::new());
    let patched = plan(&inner, &meta_nodes, &nodes, ctx, &mut edits, &mut values)
        .map_err(FileError::Standard)?;
    let mut whole = Vec::with_capacity(inner.len());
    super::patch::write_patched(&mut whole, &inner, &edits, &values)
        .map_err(|e| FileError::Write(e.to_string()))?;
    let meta_growth: i64 = edits
        .iter()
        .filter(|e| e.input.end <= ds)
        .map(|e| e.output.len() as i64 - e.input.len() as i64)
        .sum();
    let new_ds = (ds as i64 + meta_growth) as usize;
    let mut out = whole[..new_ds].to_vec();
    let mut enc = flate2::write::DeflateEncoder::new(&mut out, flate2::Compression::default());
    enc.write_all(&whole[new_ds..])
        .and_then(|_| enc.finish().map(|_| ()))
        .map_err(|e| FileError::Write(e.to_string()))?;
    Ok((out, patched))
}

/// A relative path with every UID-shaped part (digits and dots, at least 16 characters and 4
/// dots or a UUID-derived `2.25.` UID, standing alone between other characters) replaced by
/// its keyed UID, the way the
/// files' UIDs are replaced: exporters put series and instance UIDs, which carry the scan date
/// and time, into file and folder names. Everything else in the name stays.
pub fn renamed_uids(rel: &str, key: &StudyKey) -> String {
    let b = rel.as_bytes();
    let uidish = |c: u8| c.is_ascii_digit() || c == b'.';
    let mut out = String::with_capacity(rel.len());
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && uidish(b[i - 1])) {
            let ch = rel[i..].chars().next().unwrap_or('\u{FFFD}');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        let mut j = i;
        while j < b.len() && uidish(b[j]) {
            j += 1;
        }
        // A trailing dot belongs to an extension, not to the UID (`1.2.3....4.dcm`).
        let mut end = j;
        while end > i && b[end - 1] == b'.' {
            end -= 1;
        }
        let tok = &rel[i..end];
        if tok.len() >= 16 && (tok.matches('.').count() >= 4 || tok.starts_with("2.25.")) {
            out.push_str(&key.uid(tok));
        } else {
            out.push_str(tok);
        }
        out.push_str(&rel[end..j]);
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::anonymize::{Anonymizer, Profile};
    use crate::deid::{Base, StudyKey};
    use dicom_core::Tag;
    use dicom_object::OpenFileOptions;

    fn el(out: &mut Vec<u8>, g: u16, e: u16, vr: &[u8; 2], value: &[u8]) {
        out.extend_from_slice(&g.to_le_bytes());
        out.extend_from_slice(&e.to_le_bytes());
        out.extend_from_slice(vr);
        if vr == b"SQ" || vr == b"OB" {
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            out.extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        out.extend_from_slice(value);
    }

    /// A made-up file with a defined-length sequence whose defined-length item holds a
    /// reference UID and an element the Basic Profile removes.
    fn file() -> Vec<u8> {
        file_with(b"1.2.3.4.5.6.7.8.9.10", Some(b"1.2.3.4.5.6.7.8.9.10"), &[])
    }

    /// [`file`] with this meta instance UID and SOPInstanceUID (`None`: absent), and `extra`
    /// top-level elements (in tag order among the others' groups 0008 and 0010).
    fn file_with(
        meta_uid: &[u8],
        sop: Option<&[u8]>,
        extra: &[(u16, u16, &[u8; 2], &[u8])],
    ) -> Vec<u8> {
        let mut meta = Vec::new();
        el(&mut meta, 0x0002, 0x0003, b"UI", meta_uid);
        el(&mut meta, 0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0");
        let mut v = vec![0u8; 128];
        v.extend_from_slice(b"DICM");
        el(
            &mut v,
            0x0002,
            0x0000,
            b"UL",
            &(meta.len() as u32).to_le_bytes(),
        );
        v.extend(meta);
        if let Some(sop) = sop {
            el(&mut v, 0x0008, 0x0018, b"UI", sop);
        }
        for (g, e, vr, value) in extra.iter().filter(|x| x.0 == 0x0008) {
            el(&mut v, *g, *e, vr, value);
        }
        let mut item = Vec::new();
        el(
            &mut item,
            0x0008,
            0x1150,
            b"UI",
            b"1.2.840.10008.5.1.4.1.1.4\0",
        );
        el(&mut item, 0x0008, 0x1155, b"UI", b"1.2.3.4.5.6.7.8.9.11");
        el(&mut item, 0x0010, 0x1000, b"LO", b"OTHER-ID");
        let mut seq = vec![0xFE, 0xFF, 0x00, 0xE0];
        seq.extend_from_slice(&(item.len() as u32).to_le_bytes());
        seq.extend(item);
        el(&mut v, 0x0008, 0x1140, b"SQ", &seq);
        el(&mut v, 0x0010, 0x0010, b"PN", b"Doe^Jane");
        el(&mut v, 0x0010, 0x0020, b"LO", b"P101");
        for (g, e, vr, value) in extra.iter().filter(|x| x.0 == 0x0010) {
            el(&mut v, *g, *e, vr, value);
        }
        el(&mut v, 0x0029, 0x0010, b"LO", b"SIEMENS CSA HEADER");
        el(
            &mut v,
            0x0029,
            0x1010,
            b"OB",
            b"x 1.2.3.4.5.6.7.8.9.11 Doe y",
        );
        el(&mut v, 0x7FE0, 0x0010, b"OB", &[1, 2, 3, 4]);
        v
    }

    fn run(base: Base) -> (Vec<u8>, StudyKey) {
        run_file(&Profile::standard(base), &file())
    }

    fn run_file(profile: &Profile, input: &[u8]) -> (Vec<u8>, StudyKey) {
        let (out, key, _) = run_reported(profile, input);
        (out, key)
    }

    fn run_reported(
        profile: &Profile,
        input: &[u8],
    ) -> (Vec<u8>, StudyKey, crate::anonymize::FileOutcome) {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("in.dcm"), t.path().join("out.dcm"));
        std::fs::write(&src, input).unwrap();
        let key = StudyKey::from_bytes([5; 32]);
        let outcome = Anonymizer::new(profile)
            .key(key.clone())
            .original_id("P101")
            .study_id("sub-01")
            .anonymize_file(&src, &dst)
            .unwrap();
        (std::fs::read(&dst).unwrap(), key, outcome)
    }

    fn open(bytes: &[u8]) -> dicom_object::DefaultDicomObject {
        let path = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(path.path(), bytes).unwrap();
        OpenFileOptions::new().open_file(path.path()).unwrap()
    }

    fn text_of(obj: &dicom_object::DefaultDicomObject, g: u16, e: u16) -> Option<String> {
        obj.element(Tag(g, e)).ok().map(|e| {
            e.to_str()
                .unwrap()
                .trim_end_matches(['\0', ' '])
                .to_string()
        })
    }

    #[test]
    fn the_meta_holds_the_new_sop_instance_uid_whatever_the_raw_meta_held() {
        // The raw meta disagrees with the data set (and is padded otherwise).
        let sop = b"1.2.3.4.5.6.7.8.9.10";
        let input = file_with(b"1.2.3.4.5.6.7.8.9.7\0", Some(sop), &[]);
        let (out, key) = run_file(&Profile::standard(Base::Basic), &input);
        let obj = open(&out);
        let new = key.uid("1.2.3.4.5.6.7.8.9.10");
        assert_eq!(text_of(&obj, 0x0008, 0x0018).as_deref(), Some(new.as_str()));
        assert_eq!(obj.meta().media_storage_sop_instance_uid(), new);
        // Under retain-uids the meta takes the kept SOPInstanceUID.
        let keep = Profile::standard(Base::Basic)
            .with_options(&[crate::deid::DeidOption::RetainUids])
            .unwrap();
        let (out, _) = run_file(&keep, &input);
        let obj = open(&out);
        assert_eq!(
            obj.meta().media_storage_sop_instance_uid(),
            "1.2.3.4.5.6.7.8.9.10"
        );
        // No SOPInstanceUID in the data set: the meta's own UID is keyed, never kept.
        let input = file_with(b"1.2.3.4\0", None, &[]);
        let (out, key) = run_file(&Profile::standard(Base::Neuro), &input);
        let obj = open(&out);
        assert_eq!(
            obj.meta().media_storage_sop_instance_uid(),
            key.uid("1.2.3.4")
        );
        assert!(
            obj.element(Tag(0x0008, 0x0018)).is_err(),
            "SOPInstanceUID added"
        );
    }

    #[test]
    fn clean_empties_descriptors_holding_a_staff_name_a_site_or_an_original_date() {
        let input = file_with(
            b"1.2.3.4.5.6.7.8.9.10",
            Some(b"1.2.3.4.5.6.7.8.9.10"),
            &[
                (0x0008, 0x0020, b"DA", b"20131024"),
                (0x0008, 0x0080, b"LO", b"Made-up Clinic"),
                (0x0008, 0x0090, b"PN", b"TEST^DOC^O^^"),
                (0x0008, 0x1030, b"LO", b"Brain^Routine "),
                (0x0008, 0x103E, b"LO", b"T1 at Made-up Clinic"),
                (0x0010, 0x21B0, b"LT", b"test\rRIS COMMENTS-"),
                (0x0010, 0x4000, b"LT", b"seen 20131024 "),
            ],
        );
        let (out, _, outcome) = run_reported(&Profile::standard(Base::Neuro), &input);
        let obj = open(&out);
        // The referring physician's name part `TEST`, standing alone: emptied and reported.
        assert_eq!(text_of(&obj, 0x0010, 0x21B0).as_deref(), Some(""));
        assert!(
            outcome
                .changed
                .contains(&crate::finding::TagRef(0x0010, 0x21B0))
        );
        // The institution (not kept under neuro) and an original date.
        assert_eq!(text_of(&obj, 0x0008, 0x103E).as_deref(), Some(""));
        assert_eq!(text_of(&obj, 0x0010, 0x4000).as_deref(), Some(""));
        // Nobody's identifier: kept byte for byte.
        assert_eq!(
            text_of(&obj, 0x0008, 0x1030).as_deref(),
            Some("Brain^Routine")
        );
        assert!(
            !outcome
                .changed
                .contains(&crate::finding::TagRef(0x0008, 0x1030))
        );
    }

    #[test]
    fn nested_defined_lengths_follow_the_edits_inside() {
        let (out, key) = run(Base::Basic);
        let path = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(path.path(), &out).unwrap();
        let obj = OpenFileOptions::new().open_file(path.path()).unwrap();
        let text = |e: &dicom_object::mem::InMemElement| e.to_str().unwrap().to_string();
        let sop = text(obj.element(Tag(0x0008, 0x0018)).unwrap());
        assert_eq!(sop.trim_end_matches('\0'), key.uid("1.2.3.4.5.6.7.8.9.10"));
        assert_eq!(
            obj.meta().media_storage_sop_instance_uid(),
            key.uid("1.2.3.4.5.6.7.8.9.10")
        );
        let items = obj.element(Tag(0x0008, 0x1140)).unwrap().items().unwrap();
        assert_eq!(items.len(), 1);
        let r = text(items[0].element(Tag(0x0008, 0x1155)).unwrap());
        assert_eq!(r.trim_end_matches('\0'), key.uid("1.2.3.4.5.6.7.8.9.11"));
        assert!(
            items[0].element(Tag(0x0010, 0x1000)).is_err(),
            "nested X kept"
        );
        assert!(
            obj.element(Tag(0x0029, 0x1010)).is_err(),
            "private kept under basic"
        );
        assert_eq!(
            text(obj.element(Tag(0x0012, 0x0062)).unwrap()).trim(),
            "YES"
        );
        assert_eq!(
            text(obj.element(Tag(0x0010, 0x0020)).unwrap()).trim(),
            "sub-01"
        );
        assert!(out.ends_with(&[
            0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 4, 0, 0, 0, 1, 2, 3, 4
        ]));
    }

    #[test]
    fn vr_from_bytes_is_dicom_cores_from_binary() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let want = dicom_core::VR::from_binary([a, b]).unwrap_or(dicom_core::VR::UN);
                assert_eq!(super::vr_from_bytes([a, b]), want, "{a} {b}");
            }
        }
    }

    #[test]
    fn names_holding_a_uid_get_the_keyed_uid() {
        let k = StudyKey::from_bytes([5; 32]);
        let u = "1.3.12.2.1107.5.2.32.35162.2013102415040717859311017";
        assert_eq!(
            super::renamed_uids(&format!("sub/{u}/{u}.1.dcm"), &k),
            format!("sub/{}/{}.dcm", k.uid(u), k.uid(&format!("{u}.1")))
        );
        let v = "2.25.302587365941772113465719236571286153217";
        assert_eq!(
            super::renamed_uids(&format!("{v}.dcm"), &k),
            format!("{}.dcm", k.uid(v))
        );
        assert_eq!(super::renamed_uids("v2.25.1.dcm", &k), "v2.25.1.dcm");
        assert_eq!(
            super::renamed_uids("T1_MPRAGE_0005/IM-0001.dcm", &k),
            "T1_MPRAGE_0005/IM-0001.dcm"
        );
    }

    #[test]
    fn neuro_keeps_the_csa_blob_with_same_length_substitutes() {
        let (out, key) = run(Base::Neuro);
        let blob = b"x 1.2.3.4.5.6.7.8.9.11 Doe y";
        let want = format!("x {} XXX y", key.blob_uid("1.2.3.4.5.6.7.8.9.11"));
        assert_eq!(want.len(), blob.len());
        assert!(out.windows(want.len()).any(|w| w == want.as_bytes()));
        assert!(!out.windows(4).any(|w| w == b"Jane"));
    }
}
