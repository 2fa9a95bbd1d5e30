//! Synthetic Siemens-like MR studies with made-up PHI, built in code: for `demo`, the tests and
//! the benchmarks.
//!
//! [`write_participant`] writes S series x K slices of valid Part 10 MR Image Storage files for one
//! [`ParticipantSpec`]; [`write_study`] lays out several participants as
//! `sourcedata/<original_id>/<series_dir>/IM-0001.dcm`. Everything is deterministic from the seed
//! (same seed, byte-identical files; another seed, other UIDs and noise). Each file carries
//! made-up values in the lab's 18 tags and around them (institution, operator, nested sequences),
//! the Siemens private blocks `SIEMENS CSA HEADER` and `SIEMENS MEDCOM HEADER2` in group 0029
//! with CSA2 blobs, and a 12-bit phantom slice that dcm2niix can stack into a volume.
//! [`Faults`] seeds the problems an anonymizer must report. This module never prints and holds no
//! real names: patient names come from [`FAKE_NAMES`].

mod csa;
mod header;
mod pixels;
pub(crate) mod rng;

pub use header::{CSA_CREATOR, MEDCOM_CREATOR, MITRA_CREATOR};

use crate::error::{Error, Result};
use dicom_object::meta::FileMetaTableBuilder;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Obviously made-up patient names, in DICOM PN form.
pub const FAKE_NAMES: [&str; 8] = [
    "Testperson^Alpha",
    "Testperson^Bravo",
    "Testperson^Charlie",
    "Testperson^Delta",
    "Testperson^Echo",
    "Testperson^Foxtrot",
    "Testperson^Golf",
    "Testperson^Hotel",
];

/// Explicit VR Little Endian, the default encoding.
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
/// Implicit VR Little Endian, as in the older Siemens files.
pub const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
/// The implementation class UID written in every synthetic file's meta group.
const IMPLEMENTATION_CLASS_UID: &str = "2.25.302587365941772113465719236571286153217";
/// Name of the non-DICOM file [`Faults::notes_file`] adds to the participant folder.
pub const NOTES_FILE: &str = "notes.txt";

/// Problems to seed into a participant's files, for tests and the demo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Every file of the first series keeps the patient's name in private (0033,1013) of a
    /// `MITRA LINKED ATTRIBUTES 1.0` block, which the lab's 18 tags miss.
    pub name_in_private: bool,
    /// A non-DICOM `notes.txt` in the participant folder.
    pub notes_file: bool,
    /// The last file of the last series is cut in the middle of its pixel data.
    pub truncated_file: bool,
    /// The last file of the first series belongs to someone else: another PatientID and name.
    pub id_mismatch: bool,
}

impl Faults {
    /// All faults at once.
    pub fn all() -> Self {
        Self {
            name_in_private: true,
            notes_file: true,
            truncated_file: true,
            id_mismatch: true,
        }
    }
}

/// One series: its folder name, description and slice count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesSpec {
    /// Folder name under the participant folder, e.g. `T1_MPRAGE_0002`.
    pub dir: String,
    /// SeriesDescription (0008,103E).
    pub description: String,
    /// ProtocolName (0018,1030).
    pub protocol: String,
    /// Number of slices (files).
    pub slices: u32,
}

/// Protocols the standard series cycle through: (folder stem, description).
const PROTOCOLS: [(&str, &str); 6] = [
    ("T1_MPRAGE", "t1_mprage_sag"),
    ("RESTING_STATE", "ep2d_bold_rest"),
    ("DTI", "ep2d_diff_mddw"),
    ("T2_SPACE", "t2_space_sag"),
    ("FLAIR", "t2_flair_tra"),
    ("FIELDMAP", "gre_field_mapping"),
];

impl SeriesSpec {
    /// The `index`-th (0-based) standard series with `slices` slices, named like a scanner export
    /// (`T1_MPRAGE_0002`: series numbers start at 2, series 1 being the localizer).
    pub fn standard(index: usize, slices: u32) -> Self {
        let (stem, description) = PROTOCOLS[index % PROTOCOLS.len()];
        Self {
            dir: format!("{stem}_{:04}", index + 2),
            description: description.to_string(),
            protocol: description.to_string(),
            slices,
        }
    }
}

/// What to generate for one participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantSpec {
    /// The participant's original ID, written as PatientID (0010,0020).
    pub original_id: String,
    /// PatientName (0010,0010), one of [`FAKE_NAMES`] unless set.
    pub patient_name: String,
    /// Drives UIDs, dates, codes and pixel noise.
    pub seed: u64,
    /// The series to write.
    pub series: Vec<SeriesSpec>,
    /// Image rows.
    pub rows: u16,
    /// Image columns.
    pub cols: u16,
    /// Write Implicit VR Little Endian instead of Explicit VR Little Endian.
    pub implicit_vr: bool,
    /// Problems to seed.
    pub faults: Faults,
}

impl ParticipantSpec {
    /// A small participant (2 series x 4 slices of 64x64, explicit VR, no faults) whose name is
    /// picked from [`FAKE_NAMES`] by the seed. Use the setters for the benchmark shape
    /// (`.series(4, 400).matrix(240, 240)`: about 120 KB per file).
    pub fn new(original_id: impl Into<String>, seed: u64) -> Self {
        Self {
            original_id: original_id.into(),
            patient_name: FAKE_NAMES[(rng::mix(seed) % FAKE_NAMES.len() as u64) as usize]
                .to_string(),
            seed,
            series: (0..2).map(|i| SeriesSpec::standard(i, 4)).collect(),
            rows: 64,
            cols: 64,
            implicit_vr: false,
            faults: Faults::default(),
        }
    }

    /// Replaces the series by `count` standard series of `slices` slices each.
    pub fn series(mut self, count: usize, slices: u32) -> Self {
        self.series = (0..count)
            .map(|i| SeriesSpec::standard(i, slices))
            .collect();
        self
    }

    /// Sets the image size.
    pub fn matrix(mut self, rows: u16, cols: u16) -> Self {
        self.rows = rows;
        self.cols = cols;
        self
    }

    /// Sets PatientName (use a made-up name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.patient_name = name.into();
        self
    }

    /// Writes Implicit VR Little Endian files when `yes`.
    pub fn implicit_vr(mut self, yes: bool) -> Self {
        self.implicit_vr = yes;
        self
    }

    /// Sets the faults to seed.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// The number of DICOM files [`write_participant`] writes.
    pub fn file_count(&self) -> usize {
        self.series.iter().map(|s| s.slices as usize).sum()
    }
}

/// What [`write_participant`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The participant's original ID.
    pub original_id: String,
    /// The participant folder.
    pub dir: PathBuf,
    /// Every file written (DICOM files in series order, then any non-DICOM file).
    pub files: Vec<PathBuf>,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// File name of slice `slice` (0-based): `IM-0001.dcm`, like a scanner export.
pub fn file_name(slice: u32) -> String {
    format!("IM-{:04}.dcm", slice + 1)
}

/// Writes one participant's series into `dir` (created if needed) and returns what it wrote.
///
/// Refuses a `dir` that already holds files, so nothing is ever overwritten. Files are written
/// in parallel; their bytes depend only on `spec`.
pub fn write_participant(dir: &Path, spec: &ParticipantSpec) -> Result<Written> {
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::AlreadyExists {
            path: dir.to_path_buf(),
        });
    }
    let mut jobs = Vec::with_capacity(spec.file_count());
    let mut templates = Vec::with_capacity(spec.series.len());
    for (index, series) in spec.series.iter().enumerate() {
        let series_dir = dir.join(&series.dir);
        std::fs::create_dir_all(&series_dir).map_err(|e| Error::write(&series_dir, e))?;
        templates.push(header::series_template(spec, index, series));
        jobs.extend((0..series.slices).map(|slice| (index, slice)));
    }
    let written: Vec<(PathBuf, u64)> = jobs
        .par_iter()
        .map(|&(index, slice)| {
            let series = &spec.series[index];
            let path = dir.join(&series.dir).join(file_name(slice));
            let fault = FileFaults::of(spec, index, slice);
            let bytes = encode_file(spec, &templates[index], index, slice, fault)
                .map_err(|e| Error::write(&path, e))?;
            std::fs::write(&path, &bytes).map_err(|e| Error::write(&path, e))?;
            Ok((path, bytes.len() as u64))
        })
        .collect::<Result<_>>()?;
    let mut out = Written {
        original_id: spec.original_id.clone(),
        dir: dir.to_path_buf(),
        bytes: written.iter().map(|(_, n)| n).sum(),
        files: written.into_iter().map(|(p, _)| p).collect(),
    };
    if spec.faults.notes_file {
        let path = dir.join(NOTES_FILE);
        let text = "Scan session notes (made-up): all series acquired, no remarks.\n";
        std::fs::write(&path, text).map_err(|e| Error::write(&path, e))?;
        out.bytes += text.len() as u64;
        out.files.push(path);
    }
    Ok(out)
}

/// The bytes of one file, without writing it: series `series` (0-based), slice `slice` (0-based).
///
/// Byte-identical to the file [`write_participant`] writes for the same spec, so tests and
/// benchmarks can work in memory. Builds the series template on each call: for many files of one
/// series, [`write_participant`] is faster.
pub fn file_bytes(spec: &ParticipantSpec, series: usize, slice: u32) -> Result<Vec<u8>> {
    let name = || format!("series {series} slice {slice}");
    let Some(series_spec) = spec.series.get(series).filter(|s| slice < s.slices) else {
        return Err(Error::Usage(format!(
            "synthetic participant has no {} (hint: check the spec's series and slices)",
            name()
        )));
    };
    let template = header::series_template(spec, series, series_spec);
    let fault = FileFaults::of(spec, series, slice);
    encode_file(spec, &template, series, slice, fault).map_err(|e| Error::write(name(), e))
}

/// Per-file faults, decided by [`write_participant`].
#[derive(Debug, Clone, Copy)]
struct FileFaults {
    mismatch: bool,
    truncate: bool,
}

impl FileFaults {
    /// Which faults land in series `index`, slice `slice`: the last file of the first series is
    /// the mismatched one, the last file of the last series the truncated one.
    fn of(spec: &ParticipantSpec, index: usize, slice: u32) -> Self {
        let last = spec
            .series
            .get(index)
            .is_some_and(|s| slice + 1 == s.slices);
        Self {
            mismatch: spec.faults.id_mismatch && index == 0 && last,
            truncate: spec.faults.truncated_file && index + 1 == spec.series.len() && last,
        }
    }
}

/// The bytes of one file: preamble, `DICM`, file meta group and data set.
fn encode_file(
    spec: &ParticipantSpec,
    template: &header::SeriesTemplate,
    index: usize,
    slice: u32,
    fault: FileFaults,
) -> std::io::Result<Vec<u8>> {
    let slices = spec.series[index].slices;
    let mut obj = template.obj.clone();
    for element in header::slice_elements(spec, template, index, slices, slice) {
        obj.put(element);
    }
    if fault.mismatch {
        let other = ParticipantSpec::new(other_id(&spec.original_id), spec.seed ^ 1);
        let name = FAKE_NAMES
            .iter()
            .find(|n| **n != spec.patient_name)
            .copied()
            .unwrap_or("Someone^Else");
        obj.put_str(dicom_core::Tag(0x0010, 0x0010), dicom_core::VR::PN, name);
        obj.put_str(
            dicom_core::Tag(0x0010, 0x0020),
            dicom_core::VR::LO,
            other.original_id,
        );
    }
    let pixel_seed = rng::hash(&[spec.seed, 30, index as u64, u64::from(slice)]);
    let pixels = pixels::slice(spec.rows, spec.cols, slice, slices, pixel_seed);
    let pixel_len = pixels.len();
    obj.put(dicom_core::DataElement::new(
        dicom_core::Tag(0x7FE0, 0x0010),
        dicom_core::VR::OW,
        dicom_core::PrimitiveValue::from(pixels),
    ));
    let ts = if spec.implicit_vr {
        IMPLICIT_VR_LE
    } else {
        EXPLICIT_VR_LE
    };
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(ts)
                .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
                .implementation_version_name("ANONTRACK_SYNTH"),
        )
        .map_err(std::io::Error::other)?;
    let mut bytes = Vec::with_capacity(pixel_len + 8192);
    file.write_all(&mut bytes).map_err(std::io::Error::other)?;
    if fault.truncate {
        bytes.truncate(bytes.len() - pixel_len / 2);
    }
    Ok(bytes)
}

/// Another participant's ID for the mismatch fault: the next number, or the ID with `X` added.
fn other_id(id: &str) -> String {
    match id.trim().parse::<u64>() {
        Ok(n) => (n + 1).to_string(),
        Err(_) => format!("{id}X"),
    }
}

/// The original ID of the `index`-th (0-based) participant of [`write_study`]: `70001`, `70002`...
/// (numbers, like the lab's IDs).
pub fn study_participant_id(index: usize) -> String {
    (70001 + index).to_string()
}

/// Writes `participants` participants of `series` x `slices` benchmark-shaped files (240x240,
/// about 120 KB each) under `root/sourcedata/<original_id>/`.
///
/// Participant `i` gets ID [`study_participant_id`]`(i)`, the `i`-th fake name and a seed derived
/// from `seed` and `i`.
pub fn write_study(
    root: &Path,
    participants: usize,
    series: usize,
    slices: u32,
    seed: u64,
) -> Result<Vec<Written>> {
    (0..participants)
        .map(|i| {
            let spec = study_participant(i, series, slices, seed);
            write_participant(&root.join("sourcedata").join(&spec.original_id), &spec)
        })
        .collect()
}

/// The spec [`write_study`] uses for participant `index`; change it (faults, encoding) and call
/// [`write_participant`] to vary one participant.
pub fn study_participant(index: usize, series: usize, slices: u32, seed: u64) -> ParticipantSpec {
    ParticipantSpec::new(
        study_participant_id(index),
        rng::hash(&[seed, index as u64]),
    )
    .name(FAKE_NAMES[index % FAKE_NAMES.len()])
    .series(series, slices)
    .matrix(240, 240)
}

#[cfg(test)]
mod tests;
