//! Deflated Explicit VR Little Endian files, whose data set is one raw deflate stream: inflated
//! into memory under a size limit, located and patched by the same walker and patcher as every
//! other file, then deflated again. The preamble and file meta are copied as they were; only the
//! compressed bytes differ, so the caller reports these files as re-encoded.
//!
//! Hostile input stays a finding for the file, never an abort or a memory blow-up: inflating
//! stops at [`inflate_limit`] (a decompression bomb is refused), every declared length is checked
//! by the walker against the bytes actually inflated (a 354-byte file declaring a 3.7 GB element
//! costs nothing), and nesting is bounded by the walker's depth limit (5,000 nested sequences are
//! refused, not followed into a stack overflow). dicom-object is not used here: it reserves a
//! value's declared length before reading it and parses nested sequences recursively.

use super::FileError;
use super::locate::{self, Element, Encoding, LocateError};
use super::patch::{self, Resolved};
use crate::finding::TagRef;
use dicom_core::Tag;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use std::io::{Read, Write};

/// A deflated data set may inflate to this many times its compressed size; real DICOM data sets
/// compress a few times, a zip bomb a thousand.
pub const MAX_RATIO: u64 = 64;
/// Small files may inflate to this much whatever their ratio (a tiny file of zeros is harmless).
pub const MIN_LIMIT: u64 = 4 << 20;
/// No data set is inflated past this, whatever its compressed size.
pub const MAX_LIMIT: u64 = 1 << 30;

/// How many bytes a compressed data set of `compressed` bytes may inflate to: [`MAX_RATIO`]
/// times its size, at least [`MIN_LIMIT`], at most [`MAX_LIMIT`].
pub fn inflate_limit(compressed: usize) -> u64 {
    (compressed as u64)
        .saturating_mul(MAX_RATIO)
        .clamp(MIN_LIMIT, MAX_LIMIT)
}

/// A deflated file's data set, inflated, with its top-level elements located.
#[derive(Debug)]
pub struct Inflated {
    /// Offset of the compressed data set in the file (after the file meta).
    pub dataset_start: usize,
    /// The inflated data set.
    pub data: Vec<u8>,
    /// Its top-level elements (up to PatientID only, when opened for the ID check).
    pub elements: Vec<Element>,
}

/// Inflates and locates a deflated file from its bytes (preamble and `DICM` included).
/// `header_only` stops the walk after PatientID (the ID check needs no more).
pub fn open(buf: &[u8], header_only: bool) -> Result<Inflated, FileError> {
    let dataset_start = locate::meta(buf)
        .map_err(|e| match e {
            LocateError::NotDicom => FileError::NotDicom,
            e => FileError::Locate(e),
        })?
        .dataset_start;
    let data = inflate(&buf[dataset_start..])?;
    let mut elements = Vec::new();
    let stop = header_only.then_some(0x0010_0020);
    locate::top_level(&data, 0, Encoding::ExplicitLe, stop, &mut elements)
        .map_err(|e| FileError::Deflated(inflated_error(&e)))?;
    Ok(Inflated {
        dataset_start,
        data,
        elements,
    })
}

/// The raw value bytes of a top-level element, for the ID check.
pub fn text(obj: &Inflated, tag: Tag) -> Option<Vec<u8>> {
    let tag = (u32::from(tag.0) << 16) | u32::from(tag.1);
    let e = obj.elements.iter().find(|e| e.tag == tag)?;
    Some(e.value(&obj.data).to_vec())
}

/// What re-encoding changed, in the same terms as the byte patcher.
pub struct Reencoded {
    pub changed: Vec<TagRef>,
    pub vr_warnings: Vec<(TagRef, String)>,
    pub private_creators: Vec<(TagRef, String)>,
}

/// Applies `rules` to the top-level elements of the inflated data set and writes the whole file
/// to `out`: preamble and file meta as they were, then the patched data set deflated again.
pub fn reencode(
    buf: &[u8],
    rules: &[Resolved],
    out: &mut impl Write,
) -> Result<Reencoded, FileError> {
    let obj = open(buf, false)?;
    let (mut edits, mut values) = (Vec::new(), Vec::new());
    let p = patch::plan(
        &obj.data,
        Encoding::ExplicitLe,
        &obj.elements,
        rules,
        &mut edits,
        &mut values,
    )
    .map_err(FileError::Patch)?;
    let private_creators = p
        .changed
        .iter()
        .filter(|t| t.0 % 2 == 1 && t.1 >= 0x1000)
        .map(|t| (*t, super::file::creator(&obj.data, &obj.elements, *t)))
        .collect();
    let write_err = |e: std::io::Error| FileError::Write(e.to_string());
    out.write_all(&buf[..obj.dataset_start])
        .map_err(write_err)?;
    let mut z = DeflateEncoder::new(CountingWriter { inner: out, n: 0 }, Compression::default());
    patch::write_patched(&mut z, &obj.data, &edits, &values).map_err(write_err)?;
    let counted = z.finish().map_err(write_err)?;
    // PS3.5 A.5: the deflated stream is padded to an even length with one NUL byte.
    if counted.n % 2 == 1 {
        counted.inner.write_all(&[0]).map_err(write_err)?;
    }
    Ok(Reencoded {
        changed: p.changed,
        vr_warnings: p.vr_warnings,
        private_creators,
    })
}

/// Inflates a raw deflate stream, refusing it once it passes [`inflate_limit`].
pub fn inflate(compressed: &[u8]) -> Result<Vec<u8>, FileError> {
    let limit = inflate_limit(compressed.len());
    let mut data = Vec::new();
    DeflateDecoder::new(compressed)
        .take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|e| FileError::Deflated(format!("the compressed data set is corrupt ({e})")))?;
    if data.len() as u64 > limit {
        return Err(FileError::Deflated(format!(
            "the data set inflates to more than {} MB ({MAX_RATIO} times its compressed size, \
             at least {} MB): refused as a possible decompression bomb",
            limit >> 20,
            MIN_LIMIT >> 20
        )));
    }
    Ok(data)
}

/// A walker error on the inflated data set, worded so offsets are not taken for file offsets.
fn inflated_error(e: &LocateError) -> String {
    match e {
        LocateError::Truncated { at } | LocateError::NeedMore { at } => format!(
            "an element at byte {at} of the inflated data set declares more bytes than it holds"
        ),
        LocateError::Malformed { at, what } => {
            format!("{what} at byte {at} of the inflated data set")
        }
        e => e.to_string(),
    }
}

/// Counts the bytes written through it (for the even-length padding).
struct CountingWriter<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymize::Profile;

    /// An explicit VR little endian element with a 2-byte length.
    fn short(tag: (u16, u16), vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&tag.0.to_le_bytes());
        v.extend_from_slice(&tag.1.to_le_bytes());
        v.extend_from_slice(vr);
        v.extend_from_slice(&(value.len() as u16).to_le_bytes());
        v.extend_from_slice(value);
        v
    }

    /// A deflated Part 10 file holding `dataset` (compressed here).
    fn deflated_file(dataset: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 128];
        v.extend_from_slice(b"DICM");
        v.extend(short((0x0002, 0x0010), b"UI", b"1.2.840.10008.1.2.1.99"));
        let mut z = DeflateEncoder::new(Vec::new(), Compression::default());
        z.write_all(dataset).unwrap();
        v.extend(z.finish().unwrap());
        v
    }

    fn rules() -> Vec<Resolved> {
        patch::resolve(
            &Profile::lab(),
            chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        )
    }

    #[test]
    fn a_deflated_file_is_patched_and_deflated_again() {
        let mut ds = short((0x0008, 0x0020), b"DA", b"20200101");
        ds.extend(short((0x0010, 0x0010), b"PN", b"Doe^Jo"));
        ds.extend(short((0x0010, 0x0020), b"LO", b"P1"));
        let file = deflated_file(&ds);
        let obj = open(&file, true).unwrap();
        assert_eq!(text(&obj, Tag(0x0010, 0x0020)).unwrap(), b"P1");
        let mut out = Vec::new();
        let r = reencode(&file, &rules(), &mut out).unwrap();
        assert!(r.changed.contains(&TagRef(0x0010, 0x0010)));
        let meta_end = open(&file, true).unwrap().dataset_start;
        assert_eq!((out.len() - meta_end) % 2, 0, "even-length stream");
        assert_eq!(out[..meta_end], file[..meta_end], "preamble and meta kept");
        let again = open(&out, false).unwrap();
        assert_eq!(
            text(&again, Tag(0x0010, 0x0010)).unwrap(),
            b"Anonymous ".to_vec()
        );
        let tags = |o: &Inflated| o.elements.iter().map(|e| e.tag).collect::<Vec<_>>();
        assert_eq!(tags(&again), tags(&open(&file, false).unwrap()));
    }

    #[test]
    fn a_declared_length_beyond_the_inflated_bytes_is_a_finding() {
        // (0009,1010) OB declaring 3.7 GB, holding 4 bytes.
        let mut ds = vec![0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0];
        ds.extend_from_slice(&3_700_000_000u32.to_le_bytes());
        ds.extend_from_slice(b"abcd");
        let err = reencode(&deflated_file(&ds), &rules(), &mut Vec::new()).err();
        assert!(
            matches!(&err, Some(FileError::Deflated(m)) if m.contains("declares more bytes")),
            "{err:?}"
        );
    }

    #[test]
    fn deep_nesting_is_a_finding_not_a_stack_overflow() {
        let mut ds = Vec::new();
        for _ in 0..5000 {
            ds.extend_from_slice(&[
                0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
            ]);
            ds.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        let err = open(&deflated_file(&ds), false).err();
        assert!(
            matches!(&err, Some(FileError::Deflated(m)) if m.contains("nested too deeply")),
            "{err:?}"
        );
    }

    #[test]
    fn a_decompression_bomb_is_refused_at_the_limit() {
        let zeros = vec![0u8; (MIN_LIMIT + 1) as usize];
        let err = open(&deflated_file(&zeros), false).err();
        assert!(
            matches!(&err, Some(FileError::Deflated(m)) if m.contains("decompression bomb")),
            "{err:?}"
        );
        // Just under the limit inflates (and then is a walk error, not a bomb).
        let zeros = vec![0u8; MIN_LIMIT as usize];
        let err = open(&deflated_file(&zeros), false).err();
        assert!(
            !matches!(&err, Some(FileError::Deflated(m)) if m.contains("bomb")),
            "{err:?}"
        );
    }

    #[test]
    fn limits_scale_with_the_compressed_size() {
        assert_eq!(inflate_limit(0), MIN_LIMIT);
        assert_eq!(inflate_limit(1 << 20), 64 << 20);
        assert_eq!(inflate_limit(usize::MAX), MAX_LIMIT);
    }

    #[test]
    fn a_corrupt_stream_is_a_finding() {
        // A reserved block type in the first byte.
        let mut file = deflated_file(b"");
        let meta_end = open(&file, true).unwrap().dataset_start;
        file.truncate(meta_end);
        file.extend_from_slice(&[0xFF; 64]);
        assert!(matches!(
            open(&file, false).err(),
            Some(FileError::Deflated(_))
        ));
    }
}
