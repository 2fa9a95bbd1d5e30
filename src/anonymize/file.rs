//! One file: the step-5 probe (read the first bytes, find PatientID and PatientName) and the
//! anonymization proper (one read, locate, plan the edits, write a temp file, rename).
//!
//! Buffers live in a [`Scratch`] that each worker thread reuses from file to file, so a
//! participant of thousands of files does not allocate per file. Nothing here walks folders.

use super::deflate;
use super::idcheck::IdCheck;
use super::locate::{self, Element, Encoding, LocateError, Node};
use super::patch::{self, Edit, Resolved};
use super::standard;
use super::{FileError, FileOutcome};
use crate::finding::TagRef;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

/// Prefix of the temporary files written beside their target before the rename; a re-run removes
/// any left by a crash.
pub const TMP_PREFIX: &str = ".anontrack-tmp-";

/// How many bytes are read first, by the ID check and the writer; PatientID and the profile's
/// elements sit in the first few kB of real files. When a header or an edited element lies
/// further, more is read (at least [`HEAD_STEP`] past it, at least doubling); whatever is never
/// read (usually the pixel data) the writer has the kernel copy.
const HEAD_BYTES: usize = 16 * 1024;
const HEAD_STEP: usize = 16 * 1024;
const MAX_HINT: usize = 1024 * 1024;

const PATIENT_NAME: u32 = 0x0010_0010;
const PATIENT_ID: u32 = 0x0010_0020;

/// Buffers reused across the files one worker handles.
#[derive(Default)]
pub struct Scratch {
    buf: Vec<u8>,
    elements: Vec<Element>,
    edits: Vec<Edit>,
    values: Vec<u8>,
    nodes: Vec<Node>,
    /// How much of the previous file the writer had to read: files of a series are alike, so
    /// the next one starts with that much (one read instead of two).
    head_hint: usize,
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

/// Receives a file's raw PatientID and PatientName values (either may be absent).
pub type OnIdentity<'f> = dyn FnMut(Option<&[u8]>, Option<&[u8]>) + 'f;

/// Reads the start of `path` (the whole file if the start is not enough) and checks its identity.
pub fn probe(path: &Path, original_id: &str, s: &mut Scratch) -> Probe {
    probe_with(path, original_id, s, &mut |_, _| {})
}

/// The probe, also handing the raw PatientID and PatientName values to `found` (for a failing
/// file's name to be shown without them: see [`super::idcheck::redact`]). Never keep or print
/// them.
pub fn probe_with(
    path: &Path,
    original_id: &str,
    s: &mut Scratch,
    found: &mut OnIdentity<'_>,
) -> Probe {
    let read_err = |e: std::io::Error| Probe::Unreadable(FileError::Read(e.to_string()));
    let mut head = match Head::open(path, HEAD_BYTES, &mut s.buf) {
        Ok(h) => h,
        Err(e) => return read_err(e),
    };
    loop {
        match probe_buf(
            &s.buf,
            head.len,
            original_id,
            head.whole(&s.buf),
            &mut s.elements,
            found,
        ) {
            Ok(p) => return p,
            Err(LocateError::Truncated { at } | LocateError::NeedMore { at })
                if !head.whole(&s.buf) =>
            {
                if let Err(e) = head.read_more(&mut s.buf, at) {
                    return read_err(e);
                }
            }
            Err(LocateError::NotDicom) => return Probe::NotDicom,
            Err(e) => return Probe::Unreadable(FileError::Locate(e)),
        }
    }
}

/// The probe on the bytes read so far; `Truncated`/`NeedMore` with `whole == false` asks for more.
fn probe_buf(
    buf: &[u8],
    file_len: usize,
    original_id: &str,
    whole: bool,
    els: &mut Vec<Element>,
    found: &mut OnIdentity<'_>,
) -> Result<Probe, LocateError> {
    let meta = locate::meta(buf)?;
    if meta.sop_class == locate::SOP_CLASS_DICOMDIR {
        return Ok(Probe::Dicomdir);
    }
    if meta.transfer_syntax == locate::TS_DEFLATED {
        if !whole {
            // Re-encoding needs all of it: read the rest at once.
            return Err(LocateError::NeedMore { at: file_len });
        }
        return Ok(match deflate::open(buf, true) {
            Ok(obj) => {
                let id = deflate::text(&obj, dicom_core::Tag(0x0010, 0x0020));
                let name = deflate::text(&obj, dicom_core::Tag(0x0010, 0x0010));
                found(id.as_deref(), name.as_deref());
                Probe::Dicom(IdCheck::new(id.as_deref(), name.as_deref(), original_id))
            }
            Err(e) => Probe::Unreadable(e),
        });
    }
    els.clear();
    let enc = Encoding::of(meta.transfer_syntax);
    locate::top_level_within(
        buf,
        file_len,
        meta.dataset_start,
        enc,
        Some(PATIENT_ID),
        els,
    )?;
    // The identity values themselves must be in the bytes read.
    let value = |tag| {
        els.iter()
            .find(|e| e.tag == tag)
            .map(|e| buf.get(e.value_start..e.end))
    };
    let (id, name) = (value(PATIENT_ID), value(PATIENT_NAME));
    if id == Some(None) || name == Some(None) {
        return Err(LocateError::NeedMore { at: buf.len() });
    }
    found(id.flatten(), name.flatten());
    Ok(Probe::Dicom(IdCheck::new(
        id.flatten(),
        name.flatten(),
        original_id,
    )))
}

/// What one run applies to each file: the lab's top-level rules, or a standard profile with
/// the participant's context.
#[derive(Debug, Clone)]
pub enum Job {
    Lab(Vec<Resolved>),
    Standard(Box<standard::Context>),
}

/// Anonymizes `src` into `dst` (whose folder exists) via a temp file and a rename.
///
/// Reads the file's first bytes, walks its elements (jumping over values it has not read) and
/// plans the edits; it reads more only when a header or an element to rewrite lies further.
/// The output is the patched head written from memory plus the unread tail copied by the
/// kernel (`copy_file_range`), so pixel data never passes through user space.
pub fn anonymize(
    src: &Path,
    dst: &Path,
    job: &Job,
    s: &mut Scratch,
) -> Result<FileOutcome, FileError> {
    let read_err = |e: std::io::Error| FileError::Read(e.to_string());
    let mut head = Head::open(src, s.head_hint.max(HEAD_BYTES), &mut s.buf).map_err(read_err)?;
    let no_rules: Vec<Resolved> = Vec::new();
    let rules: &[Resolved] = match job {
        Job::Lab(r) => r,
        Job::Standard(_) => &no_rules,
    };
    let (enc, patched) = loop {
        let planned = match job {
            Job::Lab(rules) => plan_head(
                &s.buf,
                head.len,
                rules,
                &mut s.elements,
                &mut s.edits,
                &mut s.values,
            ),
            Job::Standard(ctx) => plan_standard(
                &s.buf,
                head.len,
                ctx,
                (&mut s.elements, &mut s.nodes, &mut s.edits, &mut s.values),
            ),
        };
        match planned {
            Ok(planned) => break planned,
            Err(FileError::Locate(
                LocateError::Truncated { at } | LocateError::NeedMore { at },
            )) if !head.whole(&s.buf) => {
                head.read_more(&mut s.buf, at).map_err(read_err)?;
            }
            Err(e) => return Err(e),
        }
    };
    // Capped: one odd file with a huge header should not make the next ones read whole.
    s.head_hint = s.buf.len().min(MAX_HINT);
    let buf = &s.buf;
    let dir = dst.parent().unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(TMP_PREFIX);
    // Temp files are owner-only by default; the output should read like a copied file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| FileError::Write(e.to_string()))?;
    let write_err = |e: std::io::Error| FileError::Write(e.to_string());
    let outcome = match (enc, patched) {
        (None, _) if let Job::Standard(ctx) = job => {
            let (bytes, p) = standard::deflated(buf, ctx)?;
            tmp.as_file_mut().write_all(&bytes).map_err(write_err)?;
            FileOutcome {
                changed: p.changed,
                reencoded: true,
                private_creators: Vec::new(),
                vr_warnings: p.vr_warnings,
                uids: p.uids,
            }
        }
        (None, _) => {
            let mut w = std::io::BufWriter::with_capacity(256 * 1024, tmp.as_file_mut());
            let r = deflate::reencode(buf, rules, &mut w)?;
            w.flush().map_err(write_err)?;
            FileOutcome {
                changed: r.changed,
                reencoded: true,
                private_creators: r.private_creators,
                vr_warnings: r.vr_warnings,
                uids: Vec::new(),
            }
        }
        (Some(_), p) => {
            patch::write_patched(tmp.as_file_mut(), buf, &s.edits, &s.values).map_err(write_err)?;
            let rest = head.len.saturating_sub(buf.len()) as u64;
            if rest > 0 {
                let copied = std::io::copy(&mut (&head.file).take(rest), tmp.as_file_mut())
                    .map_err(write_err)?;
                if copied != rest {
                    return Err(FileError::Read(
                        "the file changed while it was being read".into(),
                    ));
                }
            }
            let lab = matches!(job, Job::Lab(_));
            let private_creators = p
                .changed
                .iter()
                .filter(|_| lab)
                .filter(|t| t.0 % 2 == 1 && t.1 >= 0x1000)
                .map(|t| (*t, creator(buf, &s.elements, *t)))
                .collect();
            FileOutcome {
                changed: p.changed,
                reencoded: false,
                private_creators,
                vr_warnings: p.vr_warnings,
                uids: p.uids,
            }
        }
    };
    tmp.persist(dst)
        .map_err(|e| FileError::Write(e.error.to_string()))?;
    Ok(outcome)
}

/// The file meta of the bytes read so far, for both planners: `None` for a deflated file (it is
/// inflated whole, so all of it is read first); refuses non-DICOM files and DICOMDIRs.
fn head_meta(buf: &[u8], file_len: usize) -> Result<Option<locate::Meta<'_>>, FileError> {
    let meta = locate::meta(buf).map_err(|e| match e {
        LocateError::NotDicom => FileError::NotDicom,
        e => FileError::Locate(e),
    })?;
    if meta.sop_class == locate::SOP_CLASS_DICOMDIR {
        return Err(FileError::Dicomdir);
    }
    if meta.transfer_syntax == locate::TS_DEFLATED {
        if buf.len() < file_len {
            return Err(FileError::Locate(LocateError::NeedMore { at: file_len }));
        }
        return Ok(None);
    }
    Ok(Some(meta))
}

/// Locates and plans the edits on the bytes read so far. `None` as encoding: deflated, to be
/// re-encoded (needs the whole file). Errors ask for more bytes when the edits or headers lie
/// beyond them.
fn plan_head(
    buf: &[u8],
    file_len: usize,
    rules: &[Resolved],
    els: &mut Vec<Element>,
    edits: &mut Vec<Edit>,
    values: &mut Vec<u8>,
) -> Result<(Option<Encoding>, patch::Patched), FileError> {
    let Some(meta) = head_meta(buf, file_len)? else {
        return Ok((None, patch::Patched::default()));
    };
    let enc = Encoding::of(meta.transfer_syntax);
    els.clear();
    locate::top_level_within(buf, file_len, meta.dataset_start, enc, None, els)
        .map_err(FileError::Locate)?;
    // Elements to rewrite must be in memory; read up to the end of the furthest one.
    let needed = els
        .iter()
        .filter(|e| rules.binary_search_by_key(&e.tag, |r| r.tag).is_ok() || e.tag & 0xFFFF == 0)
        .map(|e| e.end)
        .max()
        .unwrap_or(0);
    if needed > buf.len() {
        return Err(FileError::Locate(LocateError::NeedMore { at: needed }));
    }
    let p = patch::plan(buf, enc, els, rules, edits, values).map_err(FileError::Patch)?;
    Ok((Some(enc), p))
}

/// The buffers [`plan_standard`] fills: meta elements, tree nodes, edits, replacement bytes.
type StandardScratch<'a> = (
    &'a mut Vec<Element>,
    &'a mut Vec<Node>,
    &'a mut Vec<Edit>,
    &'a mut Vec<u8>,
);

/// [`plan_head`] for a standard profile: the whole tree is walked and every element other
/// than the pixel data must be in memory.
fn plan_standard(
    buf: &[u8],
    file_len: usize,
    ctx: &standard::Context,
    scratch: StandardScratch<'_>,
) -> Result<(Option<Encoding>, patch::Patched), FileError> {
    let (meta_els, nodes, edits, values) = scratch;
    let Some(meta) = head_meta(buf, file_len)? else {
        return Ok((None, patch::Patched::default()));
    };
    let enc = Encoding::of(meta.transfer_syntax);
    meta_els.clear();
    // The meta group alone: its elements end where the data set starts.
    let meta_bytes = buf.get(..meta.dataset_start).unwrap_or(buf);
    locate::top_level(meta_bytes, 132, Encoding::ExplicitLe, None, meta_els)
        .map_err(FileError::Locate)?;
    let meta_nodes: Vec<Node> = meta_els
        .iter()
        .filter(|e| e.group() == 0x0002)
        .map(|e| Node {
            kind: locate::Kind::Element,
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
    locate::tree_within(buf, file_len, meta.dataset_start, enc, nodes)
        .map_err(FileError::Locate)?;
    let needed = nodes
        .iter()
        .filter(|n| n.parent.is_none() && n.tag != 0x7FE0_0010)
        .map(|n| n.end)
        .chain(meta_nodes.iter().map(|n| n.end))
        .max()
        .unwrap_or(0);
    if needed > buf.len() {
        return Err(FileError::Locate(LocateError::NeedMore { at: needed }));
    }
    let p =
        standard::plan(buf, &meta_nodes, nodes, ctx, edits, values).map_err(FileError::Standard)?;
    Ok((Some(enc), p))
}

/// An open file and how much of it has been read into the buffer (from its start).
struct Head {
    file: File,
    len: usize,
}

impl Head {
    /// Opens `path` and reads its first `n` bytes (all of it if shorter) into `buf`.
    fn open(path: &Path, n: usize, buf: &mut Vec<u8>) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len() as usize;
        buf.clear();
        let mut head = Self { file, len };
        head.fill(buf, n.min(len))?;
        Ok(head)
    }

    /// Appends up to `want` bytes to `buf`, read straight into its spare capacity (no
    /// zero-filling first, which cost about an eighth of the neuro run). Fewer bytes than asked
    /// means the file shrank while being read: what is there is the file.
    fn fill(&mut self, buf: &mut Vec<u8>, want: usize) -> std::io::Result<()> {
        let start = buf.len();
        buf.reserve_exact(want);
        // `read_to_end` retries `Interrupted` and keeps what it read before an error.
        let read = (&self.file).take(want as u64).read_to_end(buf);
        let got = buf.len() - start;
        read?;
        if got < want {
            self.len = buf.len();
        }
        Ok(())
    }

    /// True when the buffer holds the whole file.
    fn whole(&self, buf: &[u8]) -> bool {
        buf.len() >= self.len
    }

    /// Reads on, to at least `HEAD_STEP` bytes past `at` and twice what was read (or the end).
    fn read_more(&mut self, buf: &mut Vec<u8>, at: usize) -> std::io::Result<()> {
        let target = at
            .saturating_add(HEAD_STEP)
            .max(buf.len() * 2)
            .min(self.len);
        let want = target.saturating_sub(buf.len()).max(1);
        self.fill(buf, want)
    }
}

/// The private creator of `tag`'s block ([`crate::private`]), empty when there is none.
pub(super) fn creator(buf: &[u8], els: &[Element], tag: TagRef) -> String {
    let Some((g, e)) = crate::private::creator_tag((tag.0, tag.1)) else {
        return String::new();
    };
    let ctag = (u32::from(g) << 16) | u32::from(e);
    match els.iter().find(|e| e.tag == ctag) {
        Some(e) => crate::private::creator_name(buf.get(e.value_start..e.end).unwrap_or_default()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymize::Profile;

    fn element(out: &mut Vec<u8>, tag: (u16, u16), vr: &[u8; 2], value: &[u8]) {
        out.extend_from_slice(&tag.0.to_le_bytes());
        out.extend_from_slice(&tag.1.to_le_bytes());
        out.extend_from_slice(vr);
        if matches!(vr, b"OB" | b"OW") {
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            out.extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        out.extend_from_slice(value);
    }

    /// A made-up explicit VR file: a private blob of `blob` bytes before PatientName, then pixels.
    fn file(blob: usize, pixels: usize) -> Vec<u8> {
        let mut v = vec![0u8; 128];
        v.extend_from_slice(b"DICM");
        element(&mut v, (0x0002, 0x0010), b"UI", b"1.2.840.10008.1.2.1\0");
        element(&mut v, (0x0008, 0x0020), b"DA", b"20200101");
        element(&mut v, (0x0009, 0x1010), b"OB", &vec![7u8; blob]);
        element(&mut v, (0x0010, 0x0010), b"PN", b"Doe^Jo");
        let px: Vec<u8> = (0..pixels).map(|i| (i % 251) as u8).collect();
        element(&mut v, (0x7FE0, 0x0010), b"OW", &px);
        v
    }

    /// The expected output: the whole buffer planned and patched in memory.
    fn expected(input: &[u8], rules: &[Resolved]) -> Vec<u8> {
        let m = locate::meta(input).unwrap();
        let mut els = Vec::new();
        locate::top_level(input, m.dataset_start, Encoding::ExplicitLe, None, &mut els).unwrap();
        let (mut edits, mut values) = (Vec::new(), Vec::new());
        patch::plan(
            input,
            Encoding::ExplicitLe,
            &els,
            rules,
            &mut edits,
            &mut values,
        )
        .unwrap();
        let mut out = Vec::new();
        patch::write_patched(&mut out, input, &edits, &values).unwrap();
        out
    }

    #[test]
    fn partial_reads_and_the_head_hint_give_the_same_bytes_as_a_whole_read() {
        let t = tempfile::tempdir().unwrap();
        let rules = patch::resolve(
            &Profile::lab(),
            chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        );
        let mut s = Scratch::default();
        // Big head (edit past the first read), small file, big again: the hint carries over.
        for (i, (blob, pixels)) in [
            (40_000, 300_000),
            (10, 5_000),
            (90_000, 1_000),
            (40_000, 300_000),
        ]
        .into_iter()
        .enumerate()
        {
            let input = file(blob, pixels);
            let (src, dst) = (
                t.path().join(format!("in{i}")),
                t.path().join(format!("out{i}")),
            );
            std::fs::write(&src, &input).unwrap();
            let o = anonymize(&src, &dst, &Job::Lab(rules.clone()), &mut s).unwrap();
            assert_eq!(
                o.changed,
                vec![TagRef(0x0008, 0x0020), TagRef(0x0010, 0x0010)]
            );
            assert!(
                std::fs::read(&dst).unwrap() == expected(&input, &rules),
                "file {i} differs"
            );
        }
    }

    #[test]
    fn a_file_cut_in_its_pixels_is_truncated_not_written() {
        let t = tempfile::tempdir().unwrap();
        let rules = patch::resolve(
            &Profile::lab(),
            chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        );
        let input = file(100, 200_000);
        let src = t.path().join("in");
        std::fs::write(&src, &input[..input.len() - 1]).unwrap();
        let e = anonymize(
            &src,
            &t.path().join("out"),
            &Job::Lab(rules),
            &mut Scratch::default(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("truncated"), "{e}");
        assert_eq!(
            std::fs::read_dir(t.path()).unwrap().count(),
            1,
            "something was written"
        );
    }
}
