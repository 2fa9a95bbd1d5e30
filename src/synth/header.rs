//! The DICOM data set of one synthetic Siemens MR slice: a per-series template (study, patient,
//! protocol, private 0029 blocks, nested sequences) and the few elements that vary per slice.

use super::rng::{hash, uid};
use super::{ParticipantSpec, SeriesSpec, csa};
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_object::InMemDicomObject;

/// MR Image Storage.
pub(crate) const MR_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.4";
/// The private creator of the CSA block at (0029,10xx).
pub const CSA_CREATOR: &str = "SIEMENS CSA HEADER";
/// The private creator of the MEDCOM block at (0029,11xx).
pub const MEDCOM_CREATOR: &str = "SIEMENS MEDCOM HEADER2";
/// The private creator of the MITRA block whose (0033,1013) holds a name (a seeded fault).
pub const MITRA_CREATOR: &str = "MITRA LINKED ATTRIBUTES 1.0";

/// Everything a series' files share, computed once per series.
pub(crate) struct SeriesTemplate {
    pub(crate) obj: InMemDicomObject,
    /// Slice thickness and spacing in mm.
    pub(crate) thickness: f64,
    /// Pixel spacing in mm (square pixels).
    pub(crate) spacing: f64,
}

fn el(
    group: u16,
    elem: u16,
    vr: VR,
    value: impl Into<PrimitiveValue>,
) -> DataElement<InMemDicomObject> {
    DataElement::new(Tag(group, elem), vr, value.into())
}

fn seq(group: u16, elem: u16, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(
        Tag(group, elem),
        VR::SQ,
        Value::from(DataSetSequence::new(items, Length::UNDEFINED)),
    )
}

/// A decimal string of at most 16 characters without trailing zeros (`1`, `-119.5`, `0.640625`).
pub(crate) fn ds(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// Uppercase letters from a hash: identifiers (accession numbers, step IDs) without digits, so
/// they can never contain a numeric participant ID.
fn letters(h: u64, len: usize) -> String {
    let mut h = h;
    (0..len)
        .map(|_| {
            let c = (b'A' + (h % 26) as u8) as char;
            h /= 26;
            c
        })
        .collect()
}

/// A made-up date `YYYYMMDD` from a hash, in the given year range.
fn date(h: u64, first_year: u64, years: u64) -> String {
    let y = first_year + h % years;
    let m = 1 + (h >> 8) % 12;
    let d = 1 + (h >> 16) % 28;
    format!("{y:04}{m:02}{d:02}")
}

/// The per-series template: every element but those [`slice_elements`] sets.
pub(crate) fn series_template(
    spec: &ParticipantSpec,
    index: usize,
    series: &SeriesSpec,
) -> SeriesTemplate {
    let seed = spec.seed;
    let avoid = spec.original_id.as_str();
    let study_date = date(hash(&[seed, 1]), 2019, 6);
    let birth_date = date(hash(&[seed, 2]), 1960, 40);
    let study_hour = 8 + hash(&[seed, 3]) % 9;
    let series_number = index as u64 + 2; // series 1 is the localizer the images refer to
    let study_time = format!("{study_hour:02}0500.000000");
    // Series start 5 minutes apart, carried into the hour so any series count gives a valid TM.
    let minutes = study_hour * 60 + 5 + 5 * series_number;
    let series_time = format!("{:02}{:02}00.000000", (minutes / 60) % 24, minutes % 60);
    let spacing = 240.0 / f64::from(spec.cols.max(1));
    let thickness = if series.slices <= 256 {
        1.0
    } else {
        256.0 / f64::from(series.slices)
    };
    let study_uid = uid(&[seed, 10], avoid);
    let series_uid = uid(&[seed, 11, index as u64], avoid);
    let frame_uid = uid(&[seed, 12], avoid);

    let referenced: Vec<InMemDicomObject> = (0..3u64)
        .map(|i| {
            InMemDicomObject::from_element_iter([
                el(0x0008, 0x1150, VR::UI, MR_IMAGE_STORAGE),
                el(0x0008, 0x1155, VR::UI, uid(&[seed, 13, i], avoid)),
            ])
        })
        .collect();
    let request = InMemDicomObject::from_element_iter([
        el(0x0032, 0x1060, VR::LO, "Head^Research protocol"),
        el(0x0040, 0x0007, VR::LO, "Synthetic research scan"),
        el(0x0040, 0x0009, VR::SH, letters(hash(&[seed, 14]), 8)),
        el(0x0040, 0x1001, VR::SH, letters(hash(&[seed, 15]), 8)),
    ]);

    let mut obj = InMemDicomObject::from_element_iter([
        el(0x0008, 0x0005, VR::CS, "ISO_IR 100"),
        el(0x0008, 0x0008, VR::CS, "ORIGINAL\\PRIMARY\\M\\ND\\NORM"),
        el(0x0008, 0x0012, VR::DA, study_date.as_str()),
        el(0x0008, 0x0013, VR::TM, series_time.as_str()),
        el(0x0008, 0x0016, VR::UI, MR_IMAGE_STORAGE),
        el(0x0008, 0x0020, VR::DA, study_date.as_str()),
        el(0x0008, 0x0021, VR::DA, study_date.as_str()),
        el(0x0008, 0x0022, VR::DA, study_date.as_str()),
        el(0x0008, 0x0023, VR::DA, study_date.as_str()),
        el(0x0008, 0x0030, VR::TM, study_time.as_str()),
        el(0x0008, 0x0031, VR::TM, series_time.as_str()),
        el(0x0008, 0x0032, VR::TM, series_time.as_str()),
        el(0x0008, 0x0033, VR::TM, series_time.as_str()),
        el(0x0008, 0x0050, VR::SH, letters(hash(&[seed, 4]), 10)),
        el(0x0008, 0x0060, VR::CS, "MR"),
        el(0x0008, 0x0070, VR::LO, "SIEMENS"),
        el(0x0008, 0x0080, VR::LO, "Synthetic Imaging Centre"),
        el(0x0008, 0x0081, VR::ST, "Example Road, Nowhere"),
        el(0x0008, 0x0090, VR::PN, "Doctor^Fictional"),
        el(0x0008, 0x1010, VR::SH, "MRSYNTH"),
        el(0x0008, 0x1030, VR::LO, "Research^Synthetic study"),
        el(0x0008, 0x103E, VR::LO, series.description.as_str()),
        el(0x0008, 0x1040, VR::LO, "Department of Made-up Research"),
        el(0x0008, 0x1050, VR::PN, "Physician^Imaginary"),
        el(0x0008, 0x1070, VR::PN, "Operator^Pretend"),
        el(0x0008, 0x1090, VR::LO, "TrioTim"),
        seq(0x0008, 0x1140, referenced),
        el(0x0010, 0x0010, VR::PN, spec.patient_name.as_str()),
        el(0x0010, 0x0020, VR::LO, spec.original_id.as_str()),
        el(0x0010, 0x0030, VR::DA, birth_date.as_str()),
        el(0x0010, 0x0040, VR::CS, "O"),
        el(0x0010, 0x1010, VR::AS, "034Y"),
        el(0x0010, 0x1020, VR::DS, "1.75"),
        el(0x0010, 0x1030, VR::DS, "70"),
        el(
            0x0010,
            0x4000,
            VR::LT,
            "Synthetic participant, made-up data",
        ),
        el(0x0018, 0x0020, VR::CS, "GR\\IR"),
        el(0x0018, 0x0021, VR::CS, "SP\\MP"),
        el(0x0018, 0x0022, VR::CS, "IR"),
        el(0x0018, 0x0023, VR::CS, "3D"),
        el(0x0018, 0x0024, VR::SH, "*tfl3d1_16ns"),
        el(0x0018, 0x0050, VR::DS, ds(thickness)),
        el(0x0018, 0x0080, VR::DS, "2300"),
        el(0x0018, 0x0081, VR::DS, "2.98"),
        el(0x0018, 0x0082, VR::DS, "900"),
        el(0x0018, 0x0083, VR::DS, "1"),
        el(0x0018, 0x0084, VR::DS, "123.2"),
        el(0x0018, 0x0087, VR::DS, "3"),
        el(0x0018, 0x0088, VR::DS, ds(thickness)),
        el(0x0018, 0x1020, VR::LO, "syngo MR B17"),
        el(0x0018, 0x1030, VR::LO, series.protocol.as_str()),
        el(0x0018, 0x1314, VR::DS, "9"),
        el(0x0018, 0x5100, VR::CS, "HFS"),
        el(0x0020, 0x000D, VR::UI, study_uid),
        el(0x0020, 0x000E, VR::UI, series_uid),
        el(0x0020, 0x0010, VR::SH, "SYNTH"),
        el(0x0020, 0x0011, VR::IS, series_number.to_string()),
        el(0x0020, 0x0012, VR::IS, "1"),
        el(0x0020, 0x0037, VR::DS, "1\\0\\0\\0\\1\\0"),
        el(0x0020, 0x0052, VR::UI, frame_uid),
        el(0x0020, 0x1040, VR::LO, ""),
        el(0x0028, 0x0002, VR::US, 1u16),
        el(0x0028, 0x0004, VR::CS, "MONOCHROME2"),
        el(0x0028, 0x0010, VR::US, spec.rows),
        el(0x0028, 0x0011, VR::US, spec.cols),
        el(
            0x0028,
            0x0030,
            VR::DS,
            format!("{}\\{}", ds(spacing), ds(spacing)),
        ),
        el(0x0028, 0x0100, VR::US, 16u16),
        el(0x0028, 0x0101, VR::US, 12u16),
        el(0x0028, 0x0102, VR::US, 11u16),
        el(0x0028, 0x0103, VR::US, 0u16),
        el(0x0028, 0x1050, VR::DS, "1100"),
        el(0x0028, 0x1051, VR::DS, "2200"),
        el(0x0029, 0x0010, VR::LO, CSA_CREATOR),
        el(0x0029, 0x0011, VR::LO, MEDCOM_CREATOR),
        el(0x0029, 0x1008, VR::CS, "IMAGE NUM 4"),
        el(0x0029, 0x1009, VR::LO, "20100114"),
        el(0x0029, 0x1018, VR::CS, "MR"),
        el(0x0029, 0x1019, VR::LO, "20100114"),
        el(0x0029, 0x1020, VR::OB, csa::series_header(&series.protocol)),
        el(0x0029, 0x1160, VR::LO, "com"),
        el(0x0040, 0x0244, VR::DA, study_date.as_str()),
        el(0x0040, 0x0245, VR::TM, study_time.as_str()),
        el(0x0040, 0x0253, VR::SH, letters(hash(&[seed, 5]), 10)),
        el(0x0040, 0x0254, VR::LO, "Research^Synthetic study"),
        seq(0x0040, 0x0275, vec![request]),
    ]);
    if spec.faults.name_in_private && index == 0 {
        obj.put(el(0x0033, 0x0010, VR::LO, MITRA_CREATOR));
        obj.put(el(0x0033, 0x1013, VR::PN, spec.patient_name.as_str()));
    }
    SeriesTemplate {
        obj,
        thickness,
        spacing,
    }
}

/// The elements that differ between the slices of one series.
pub(crate) fn slice_elements(
    spec: &ParticipantSpec,
    template: &SeriesTemplate,
    index: usize,
    slices: u32,
    slice: u32,
) -> Vec<DataElement<InMemDicomObject>> {
    let half_fov = template.spacing * f64::from(spec.cols) / 2.0;
    let half_fov_y = template.spacing * f64::from(spec.rows) / 2.0;
    let z = (f64::from(slice) - f64::from(slices.saturating_sub(1)) / 2.0) * template.thickness;
    let position = format!("{}\\{}\\{}", ds(-half_fov), ds(-half_fov_y), ds(z));
    vec![
        el(
            0x0008,
            0x0018,
            VR::UI,
            uid(
                &[spec.seed, 20, index as u64, u64::from(slice)],
                &spec.original_id,
            ),
        ),
        el(0x0020, 0x0013, VR::IS, (slice + 1).to_string()),
        el(0x0020, 0x0032, VR::DS, position),
        el(0x0020, 0x1041, VR::DS, ds(z)),
        el(0x0029, 0x1010, VR::OB, csa::image_header(slice, spec.rows)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ds_is_short_and_plain() {
        assert_eq!(ds(1.0), "1");
        assert_eq!(ds(-119.5), "-119.5");
        assert_eq!(ds(-0.0), "0");
        assert_eq!(ds(256.0 / 2500.0), "0.1024");
        assert!(ds(-1234.567891).len() <= 16);
    }

    #[test]
    fn letters_are_letters() {
        let s = letters(u64::MAX, 10);
        assert_eq!(s.len(), 10);
        assert!(s.chars().all(|c| c.is_ascii_uppercase()));
    }
}
