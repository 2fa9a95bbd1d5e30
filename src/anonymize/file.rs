//! One file: the step-5 probe (read the first bytes, find PatientID and PatientName) and the
//! anonymization proper (one read, locate, plan the edits, write a temp file, rename).
//!
//! Buffers live in a [`Scratch`] that each worker thread reuses from file to file, so a
//! participant of thousands of files does not allocate per file. Nothing here walks folders.

use super::deflate;
use super::idcheck::IdCheck;
use super::locate::{self, Element, Encoding, LocateError, Walked};
use super::patch::{self, Edit, Resolved};
use super::{FileError, FileOutcome};
use crate::finding::TagRef;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

/// Prefix of the temporary files written beside their target before the rename; a re-run removes
/// any left by a crash.
pub const TMP_PREFIX: &str = ".anontrack-tmp-";

/// How many bytes the ID check reads first; PatientID sits in the first few kB of real files.
const PROBE_BYTES: u64 = 16 * 1024;

const PATIENT_NAME: u32 = 0x0010_0010;
const PATIENT_ID: u32 = 0x0010_0020;

/// Buffers reused across the files one worker handles.
#[derive(Default)]
pub struct Scratch {
    buf: Vec<u8>,
    elements: Vec<Element>,
    edits: Vec<Edit>,
    values: Vec<u8>,
}

/// What the step-5 probe found in one file.
#[derive(Debug)]
pub enum Probe {
    /// No `DICM` at byte 128: not copied.
    NotDicom,
    /// A DICOMDIR (an index holding names of its own): not copied.
    Dicomdir,
    /// A DICOM file and how its identity fields compare with the original ID.
    Dicom(IdCheck),
    /// A DICOM file that cannot be read far enough.
    Unreadable(FileError),
}

/// Reads the start of `path` (the whole file if the start is not enough) and checks its identity.
pub fn probe(path: &Path, original_id: &str, s: &mut Scratch) -> Probe {
    let mut complete = match read_prefix(path, PROBE_BYTES, &mut s.buf) {
        Ok(c) => c,
        Err(e) => return Probe::Unreadable(FileError::Read(e.to_string())),
    };
    loop {
        match probe_buf(&s.buf, original_id, complete, &mut s.elements) {
            Ok(p) => return p,
            Err(LocateError::Truncated { .. }) if !complete => {
                if let Err(e) = read_all(path, &mut s.buf) {
                    return Probe::Unreadable(FileError::Read(e.to_string()));
                }
                complete = true;
            }
            Err(LocateError::NotDicom) => return Probe::NotDicom,
            Err(e) => return Probe::Unreadable(FileError::Locate(e)),
        }
    }
}

/// The probe on bytes in memory; `Truncated` with `complete == false` asks for more bytes.
fn probe_buf(
    buf: &[u8],
    original_id: &str,
    complete: bool,
    els: &mut Vec<Element>,
) -> Result<Probe, LocateError> {
    let meta = locate::meta(buf)?;
    if meta.sop_class == locate::SOP_CLASS_DICOMDIR {
        return Ok(Probe::Dicomdir);
    }
    if meta.transfer_syntax == locate::TS_DEFLATED {
        if !complete {
            return Err(LocateError::Truncated { at: buf.len() });
        }
        return Ok(match deflate::open(buf, true) {
            Ok(obj) => {
                let id = deflate::text(&obj, dicom_core::Tag(0x0010, 0x0020));
                let name = deflate::text(&obj, dicom_core::Tag(0x0010, 0x0010));
                Probe::Dicom(IdCheck::new(id.as_deref(), name.as_deref(), original_id))
            }
            Err(e) => Probe::Unreadable(e),
        });
    }
    els.clear();
    let enc = Encoding::of(meta.transfer_syntax);
    let walked = locate::top_level(buf, meta.dataset_start, enc, Some(PATIENT_ID), els)?;
    if walked == Walked::Complete && !complete {
        return Err(LocateError::Truncated { at: buf.len() });
    }
    let value = |tag| els.iter().find(|e| e.tag == tag).map(|e| e.value(buf));
    Ok(Probe::Dicom(IdCheck::new(
        value(PATIENT_ID),
        value(PATIENT_NAME),
        original_id,
    )))
}

/// Anonymizes `src` into `dst` (whose folder exists): one read, patch, temp file, rename.
pub fn anonymize(
    src: &Path,
    dst: &Path,
    rules: &[Resolved],
    s: &mut Scratch,
) -> Result<FileOutcome, FileError> {
    read_all(src, &mut s.buf).map_err(|e| FileError::Read(e.to_string()))?;
    let buf = &s.buf;
    let meta = locate::meta(buf).map_err(|e| match e {
        LocateError::NotDicom => FileError::NotDicom,
        e => FileError::Locate(e),
    })?;
    if meta.sop_class == locate::SOP_CLASS_DICOMDIR {
        return Err(FileError::Dicomdir);
    }
    let dir = dst.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| FileError::Write(e.to_string()))?;
    let outcome = if meta.transfer_syntax == locate::TS_DEFLATED {
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, tmp.as_file_mut());
        let r = deflate::reencode(buf, rules, &mut w)?;
        w.flush().map_err(|e| FileError::Write(e.to_string()))?;
        FileOutcome {
            changed: r.changed,
            reencoded: true,
            private_creators: r.private_creators,
            vr_warnings: r.vr_warnings,
        }
    } else {
        let enc = Encoding::of(meta.transfer_syntax);
        s.elements.clear();
        locate::top_level(buf, meta.dataset_start, enc, None, &mut s.elements)
            .map_err(FileError::Locate)?;
        let p = patch::plan(buf, enc, &s.elements, rules, &mut s.edits, &mut s.values)
            .map_err(FileError::Patch)?;
        patch::write_patched(tmp.as_file_mut(), buf, &s.edits, &s.values)
            .map_err(|e| FileError::Write(e.to_string()))?;
        let private_creators = p
            .changed
            .iter()
            .filter(|t| t.0 % 2 == 1 && t.1 >= 0x1000)
            .map(|t| (*t, creator(buf, &s.elements, *t)))
            .collect();
        FileOutcome {
            changed: p.changed,
            reencoded: false,
            private_creators,
            vr_warnings: p.vr_warnings,
        }
    };
    set_readable(tmp.as_file());
    tmp.persist(dst)
        .map_err(|e| FileError::Write(e.error.to_string()))?;
    Ok(outcome)
}

/// The private creator of `tag`'s block, `(gggg,00xx)` for `(gggg,xxyy)`, as text.
fn creator(buf: &[u8], els: &[Element], tag: TagRef) -> String {
    let ctag = (u32::from(tag.0) << 16) | u32::from(tag.1 >> 8);
    match els.iter().find(|e| e.tag == ctag) {
        Some(e) => String::from_utf8_lossy(e.value(buf))
            .trim_matches([' ', '\0'])
            .to_string(),
        None => String::new(),
    }
}

/// Temp files are created owner-only; the output should read like a copied file.
fn set_readable(f: &File) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = f.set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    #[cfg(not(unix))]
    let _ = f;
}

/// Reads the whole file into `buf` (cleared first, capacity kept).
pub fn read_all(path: &Path, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut f = File::open(path)?;
    let len = f.metadata().map(|m| m.len() as usize).unwrap_or(0);
    buf.clear();
    buf.reserve(len + 1);
    f.read_to_end(buf)?;
    Ok(())
}

/// Reads at most `n` bytes; true when that is the whole file.
fn read_prefix(path: &Path, n: u64, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    buf.clear();
    f.take(n).read_to_end(buf)?;
    Ok(len <= n)
}
