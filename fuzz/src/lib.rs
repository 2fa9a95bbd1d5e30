//! What the fuzz targets share: turning fuzz bytes into a DICOM file, the lab profile's rules,
//! and the oracles (the walker tiles the data set; the patcher's output equals its input outside
//! the edited spans, and walks again). Each target in `fuzz_targets/` is one call into here.
//!
//! Input layout: the first byte picks what the rest is. `0`: a whole Part 10 file as is (the
//! seed corpus from `../shared/dicom` uses this); `1`, `2`, `3`: a data set, behind a made-up
//! preamble and file meta group naming implicit VR LE, explicit VR LE or explicit VR BE.

use anontrack::anonymize::deflate;
use anontrack::anonymize::locate::{self, Element, Encoding, LocateError};
use anontrack::anonymize::patch::{self, Edit, Op, Resolved};
use anontrack::anonymize::{Anonymizer, Profile};
use anontrack::verify::Verifier;
use flate2::Compression;
use flate2::write::DeflateEncoder;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

const SYNTAXES: [&str; 3] = [
    locate::TS_IMPLICIT_LE,
    "1.2.840.10008.1.2.1",
    locate::TS_EXPLICIT_BE,
];

/// Preamble, `DICM` and a meta group holding only the transfer syntax `ts`.
pub fn preamble_and_meta(ts: &str) -> Vec<u8> {
    let mut uid = ts.as_bytes().to_vec();
    if uid.len() % 2 == 1 {
        uid.push(0);
    }
    let mut v = vec![0u8; 128];
    v.extend_from_slice(b"DICM");
    // (0002,0000) group length, as every real file has: where the meta ends is then known even
    // when the data set (a deflated stream, say) begins with the bytes `02 00`.
    v.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    v.extend_from_slice(&(8 + uid.len() as u32).to_le_bytes());
    v.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
    v.extend_from_slice(&(uid.len() as u16).to_le_bytes());
    v.extend_from_slice(&uid);
    v
}

/// The file the fuzz bytes describe (see the module doc).
pub fn file_from(data: &[u8]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    match mode % 4 {
        0 => rest.to_vec(),
        m => {
            let mut v = preamble_and_meta(SYNTAXES[usize::from(m) - 1]);
            v.extend_from_slice(rest);
            v
        }
    }
}

/// The lab profile's rules for a fixed date.
pub fn rules() -> &'static [Resolved] {
    static RULES: OnceLock<Vec<Resolved>> = OnceLock::new();
    RULES.get_or_init(|| {
        let date = chrono::NaiveDate::from_ymd_opt(2024, 1, 31).unwrap();
        patch::resolve(&Profile::lab(), date)
    })
}

/// The walker and the patcher on one file, with every oracle. Returns the patched bytes of the
/// walkable prefix (`None` when nothing could be patched).
pub fn walker_patcher(buf: &[u8]) -> Option<Vec<u8>> {
    let meta = locate::meta(buf).ok()?;
    if meta.transfer_syntax == locate::TS_DEFLATED {
        return None;
    }
    let enc = Encoding::of(meta.transfer_syntax);
    patch_dataset(buf, meta.dataset_start, enc)
}

/// Walks and patches the data set of `buf` from `start`; checks the oracles.
pub fn patch_dataset(buf: &[u8], start: usize, enc: Encoding) -> Option<Vec<u8>> {
    let mut els = Vec::new();
    let walked = locate::top_level(buf, start, enc, None, &mut els);
    // A failed walk keeps the complete elements before the failure: they must walk again,
    // alone, to the same list (the walker decides each element from its own bytes).
    let buf = match walked {
        Ok(_) => buf,
        Err(LocateError::NeedMore { .. }) => panic!("NeedMore on a whole buffer"),
        Err(_) => {
            let end = els.last().map_or(start, |e| e.end);
            let prefix = &buf[..end];
            let mut again = Vec::new();
            locate::top_level(prefix, start, enc, None, &mut again)
                .expect("the walked prefix walks again");
            assert_eq!(again, els, "the walked prefix walks to the same elements");
            prefix
        }
    };
    check_tiling(buf, start, &els);
    let (mut edits, mut values) = (Vec::new(), Vec::new());
    let patched = patch::plan(buf, enc, &els, rules(), &mut edits, &mut values).ok()?;
    let mut out = Vec::new();
    patch::write_patched(&mut out, buf, &edits, &values).unwrap();
    check_edits(buf, &els, &edits, &values, &out);
    let changed: Vec<u32> = patched
        .changed
        .iter()
        .map(|t| (u32::from(t.0) << 16) | u32::from(t.1))
        .collect();
    check_rewalk(buf, &out, start, enc, &els, &changed);
    Some(out)
}

/// Top-level elements tile the data set: contiguous from `start` to the end, headers before
/// values.
fn check_tiling(buf: &[u8], start: usize, els: &[Element]) {
    let mut at = start;
    for e in els {
        assert_eq!(e.start, at, "elements are contiguous");
        assert!(e.start < e.value_start && e.value_start <= e.end, "{e:?}");
        at = e.end;
    }
    assert_eq!(at, buf.len(), "the elements cover the data set");
}

/// The edits are sorted, disjoint and each is one whole profile element or one group length's
/// value; the output is the input with exactly those ranges replaced.
fn check_edits(buf: &[u8], els: &[Element], edits: &[Edit], values: &[u8], out: &[u8]) {
    let rules = rules();
    let mut at = 0;
    let mut o = 0;
    for e in edits {
        assert!(e.input.start >= at, "edits sorted and disjoint");
        assert!(e.input.end <= buf.len());
        let whole = els
            .iter()
            .find(|x| x.start == e.input.start && x.end == e.input.end);
        let group_len = els.iter().find(|x| {
            x.tag & 0xFFFF == 0 && x.value_start == e.input.start && x.end == e.input.end
        });
        let replacement = &values[e.output.clone()];
        match (whole, group_len) {
            (Some(x), _) => {
                let i = rules
                    .binary_search_by_key(&x.tag, |r| r.tag)
                    .expect("an edited element is in the profile");
                match &rules[i].op {
                    Op::Remove => assert!(replacement.is_empty()),
                    Op::Set(v) => {
                        let head = x.value_start - x.start;
                        assert_eq!(replacement.len(), head + v.len());
                        assert_eq!(replacement[..4], buf[x.start..x.start + 4], "same tag");
                        if head == 8 && x.vr.is_some() {
                            assert_eq!(replacement[4..6], buf[x.start + 4..x.start + 6], "VR");
                        }
                        assert_eq!(&replacement[head..], v.as_slice(), "the profile's value");
                    }
                }
            }
            (None, Some(_)) => assert_eq!(replacement.len(), 4, "a group length value"),
            (None, None) => panic!("an edit that is no element: {e:?}"),
        }
        // The output, up to here: the input's bytes, then the replacement.
        let gap = &buf[at..e.input.start];
        assert_eq!(&out[o..o + gap.len()], gap, "bytes outside the edits kept");
        o += gap.len();
        assert_eq!(&out[o..o + replacement.len()], replacement);
        o += replacement.len();
        at = e.input.end;
    }
    assert_eq!(&out[o..], &buf[at..], "the tail kept");
}

/// The output walks again: the same elements in the same order, less the removed ones, every
/// unchanged one byte for byte (a group length may differ by the size change).
fn check_rewalk(
    buf: &[u8],
    out: &[u8],
    start: usize,
    enc: Encoding,
    a: &[Element],
    changed: &[u32],
) {
    let mut b = Vec::new();
    locate::top_level(out, start, enc, None, &mut b).expect("the patched output walks");
    let removed = |tag: u32| {
        changed.contains(&tag)
            && rules()
                .binary_search_by_key(&tag, |r| r.tag)
                .is_ok_and(|i| rules()[i].op == Op::Remove)
    };
    let kept: Vec<&Element> = a.iter().filter(|x| !removed(x.tag)).collect();
    assert_eq!(kept.len(), b.len(), "the same elements, less the removed");
    for (x, y) in kept.iter().zip(&b) {
        assert_eq!(x.tag, y.tag, "in the same order");
        let group_len = x.tag & 0xFFFF == 0 && x.end - x.value_start == 4;
        if !changed.contains(&x.tag) && !group_len {
            assert_eq!(x.bytes(buf), y.bytes(out), "unchanged elements kept");
        }
    }
}

/// A deflated file around `dataset`.
pub fn deflated_file(dataset: &[u8]) -> Vec<u8> {
    let mut v = preamble_and_meta(locate::TS_DEFLATED);
    let mut z = DeflateEncoder::new(Vec::new(), Compression::fast());
    z.write_all(dataset).unwrap();
    v.extend(z.finish().unwrap());
    v
}

/// The deflate path. Even first byte: the rest is an inflated data set, deflated here; the
/// re-encoded file must inflate to what the byte patcher makes of that data set. Odd: the rest
/// is the compressed stream itself (corrupt streams, bombs).
pub fn deflate_path(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = if mode % 2 == 0 {
        deflated_file(rest)
    } else {
        let mut v = preamble_and_meta(locate::TS_DEFLATED);
        v.extend_from_slice(rest);
        v
    };
    let meta_end = locate::meta(&file).unwrap().dataset_start;
    let _ = deflate::open(&file, true);
    let mut out = Vec::new();
    let Ok(_) = deflate::reencode(&file, rules(), &mut out) else {
        return;
    };
    assert_eq!(out[..meta_end], file[..meta_end], "preamble and meta kept");
    assert_eq!(
        (out.len() - meta_end) % 2,
        0,
        "the stream is padded to even length"
    );
    let inflated = deflate::inflate(&out[meta_end..]).expect("the output inflates");
    if mode % 2 == 0 {
        let expected = patch_dataset(rest, 0, Encoding::ExplicitLe);
        assert_eq!(Some(inflated), expected, "re-encoding is byte patching");
    }
}

/// The writer then the verifier on one file, through their public per-file API (temp files).
pub fn verify_file(data: &[u8]) {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap()).path();
    let (raw, anon): (PathBuf, PathBuf) = (dir.join("raw.dcm"), dir.join("anon.dcm"));
    std::fs::write(&raw, file_from(data)).unwrap();
    std::fs::remove_file(&anon).ok();
    static PROFILE: OnceLock<Profile> = OnceLock::new();
    let profile = PROFILE.get_or_init(Profile::lab);
    let date = chrono::NaiveDate::from_ymd_opt(2024, 1, 31).unwrap();
    // A file the writer refuses is checked against itself (as if copied by hand).
    if Anonymizer::new(profile)
        .date(date)
        .anonymize_file(&raw, &anon)
        .is_err()
    {
        std::fs::copy(&raw, &anon).unwrap();
    }
    let _ = Verifier::new(profile)
        .run_date(Some(date))
        .verify_file(&raw, &anon);

    // The same file through the standard writer and verifier (`neuro`: every depth, keyed UIDs
    // and dates, retained private blobs with same-length substitutions).
    static NEURO: OnceLock<Profile> = OnceLock::new();
    let neuro = NEURO.get_or_init(|| Profile::load("neuro", dir).unwrap());
    const KEY: [u8; 32] = [7; 32];
    std::fs::remove_file(&anon).ok();
    if Anonymizer::new(neuro)
        .date(date)
        .key(anontrack::deid::StudyKey::from_bytes(KEY))
        .original_id("58235")
        .study_id("S01")
        .anonymize_file(&raw, &anon)
        .is_err()
    {
        std::fs::copy(&raw, &anon).unwrap();
    }
    let _ = Verifier::new(neuro)
        .key(anontrack::verify::keyed::Key::new(KEY))
        .original_id("58235")
        .study_id("S01")
        .run_date(Some(date))
        .verify_file(&raw, &anon);
}
