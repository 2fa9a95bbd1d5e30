//! The one exception to byte patching: Deflated Explicit VR Little Endian files, whose data set is
//! one zlib stream. They are decoded with dicom-object, the profile applied at the value level,
//! and the data set re-encoded (and deflated again). The preamble is kept; the file meta and
//! data set are dicom-object's encoding, so the caller reports these files as re-encoded.

use super::FileError;
use super::patch::{Op, Resolved, valid_for_vr};
use crate::finding::TagRef;
use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use std::io::Write;

/// Decodes a deflated file from its bytes (preamble and `DICM` included).
pub fn open(buf: &[u8], header_only: bool) -> Result<DefaultDicomObject, FileError> {
    let mut options = OpenFileOptions::new().read_preamble(ReadPreamble::Never);
    if header_only {
        options = options.read_until(dicom_dictionary_std::tags::PIXEL_DATA);
    }
    options
        .from_reader(buf.get(128..).unwrap_or_default())
        .map_err(|e| FileError::Deflated(e.to_string()))
}

/// The raw bytes of a top-level text element, for the ID check.
pub fn text(obj: &DefaultDicomObject, tag: Tag) -> Option<Vec<u8>> {
    let e = obj.element(tag).ok()?;
    Some(e.to_str().ok()?.into_owned().into_bytes())
}

/// What re-encoding changed, in the same terms as the byte patcher.
pub struct Reencoded {
    pub changed: Vec<TagRef>,
    pub vr_warnings: Vec<(TagRef, String)>,
    pub private_creators: Vec<(TagRef, String)>,
}

/// Applies `rules` to the top-level elements present and writes the whole file to `out`.
pub fn reencode(
    buf: &[u8],
    rules: &[Resolved],
    out: &mut impl Write,
) -> Result<Reencoded, FileError> {
    let mut obj = open(buf, false)?;
    let mut done = Reencoded {
        changed: Vec::new(),
        vr_warnings: Vec::new(),
        private_creators: Vec::new(),
    };
    for rule in rules {
        let tag = Tag((rule.tag >> 16) as u16, rule.tag as u16);
        let tref = TagRef(tag.0, tag.1);
        let Ok(el) = obj.element(tag) else { continue };
        let vr = el.vr();
        if let Some(c) = crate::private::creator_of(&obj, (tag.0, tag.1)) {
            done.private_creators.push((tref, c));
        }
        match (&rule.op, &rule.text) {
            (Op::Remove, _) => {
                obj.remove_element(tag);
            }
            (Op::Set(_), Some(text)) => {
                if vr == VR::SQ && !text.is_empty() {
                    return Err(FileError::Patch(super::patch::PatchError::Sequence(tref)));
                }
                if !valid_for_vr(vr.to_string(), text) {
                    done.vr_warnings.push((tref, vr.to_string().to_string()));
                }
                let value = if text.is_empty() {
                    PrimitiveValue::Empty
                } else {
                    PrimitiveValue::from(text.as_str())
                };
                obj.put(DataElement::new(tag, vr, value));
            }
            (Op::Set(_), None) => {}
        }
        done.changed.push(tref);
    }
    let fail = |e: &dyn std::fmt::Display| FileError::Deflated(e.to_string());
    out.write_all(&buf[..132]).map_err(|e| fail(&e))?;
    obj.write_meta(&mut *out).map_err(|e| fail(&e))?;
    obj.write_dataset(&mut *out).map_err(|e| fail(&e))?;
    Ok(done)
}
