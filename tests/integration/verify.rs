//! Tests of `verify`: a correct anonymized folder passes, and every seeded fault is caught with
//! the right finding. Fixtures are built in code (made-up names) or copied from ../shared/dicom;
//! the "correct" anonymized copies are made here by dicom-object (open, put, write), which
//! re-encodes: the case of a folder anonymized by another tool.

use crate::harness::{Workdir, copy_lab_workbook, shared_path, tree_hash};
use anontrack::anonymize::Profile;
use anontrack::anonymize::profile::Action;
use anontrack::verify::Verifier;
use chrono::NaiveDate;
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Tag, VR};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject, OpenFileOptions};
use std::path::{Path, PathBuf};

const EXPLICIT: &str = "1.2.840.10008.1.2.1";
const IMPLICIT: &str = "1.2.840.10008.1.2";
const RUN_DATE: &str = "20240115";

/// A small made-up MR file: lab tags, a private MITRA block, a sequence with a private element
/// inside, a Siemens CSA block and 4x4 16-bit pixels.
fn fixture(path: &Path, instance: u32, ts: &str, name_in_mitra: bool) {
    let uid = format!("1.2.826.0.1.3680043.10.999.{instance}");
    let mut o = InMemDicomObject::new_empty();
    let mut put =
        |g, e, vr, v: &str| o.put(DataElement::new(Tag(g, e), vr, PrimitiveValue::from(v)));
    put(0x0008, 0x0005, VR::CS, "ISO_IR 100");
    put(0x0008, 0x0016, VR::UI, "1.2.840.10008.5.1.4.1.1.4");
    put(0x0008, 0x0018, VR::UI, &uid);
    put(0x0008, 0x0020, VR::DA, "20200101");
    put(0x0008, 0x0021, VR::DA, "20200101");
    put(0x0008, 0x0022, VR::DA, "20200101");
    put(0x0008, 0x0023, VR::DA, "20200101");
    put(0x0008, 0x0030, VR::TM, "101500");
    put(0x0008, 0x0060, VR::CS, "MR");
    put(0x0008, 0x0090, VR::PN, "Roe^Rick");
    put(0x0010, 0x0010, VR::PN, "Doe^Jane");
    put(0x0010, 0x0020, VR::LO, "P4321");
    put(0x0010, 0x0030, VR::DA, "19800102");
    put(0x0010, 0x4000, VR::LT, "made-up comment");
    put(0x0020, 0x000D, VR::UI, "1.2.826.0.1.3680043.10.999.1000");
    put(0x0020, 0x0013, VR::IS, &instance.to_string());
    put(0x0029, 0x0010, VR::LO, "SIEMENS CSA HEADER");
    put(0x0029, 0x1009, VR::LO, "20100114");
    put(0x0033, 0x0010, VR::LO, "MITRA OBJECT UTF8 ATTRIBUTES 1.0");
    put(
        0x0033,
        0x1013,
        VR::LO,
        if name_in_mitra { "Doe Jane" } else { "none" },
    );
    o.put(DataElement::new(
        Tag(0x0029, 0x1010),
        VR::OB,
        PrimitiveValue::U8(b"SV10\x04\x03\x02\x01 Doe made-up binary".as_slice().into()),
    ));
    let mut item = InMemDicomObject::new_empty();
    item.put(DataElement::new(
        Tag(0x0008, 0x1150),
        VR::UI,
        "1.2.840.10008.5.1.4.1.1.4",
    ));
    item.put(DataElement::new(
        Tag(0x0008, 0x1155),
        VR::UI,
        "1.2.826.0.1.3680043.10.999.7",
    ));
    item.put(DataElement::new(Tag(0x0009, 0x0010), VR::LO, "ACME 1.0"));
    item.put(DataElement::new(
        Tag(0x0009, 0x1001),
        VR::LO,
        "private note",
    ));
    o.put(DataElement::new(
        Tag(0x0008, 0x1140),
        VR::SQ,
        DataSetSequence::from(vec![item]),
    ));
    for (e, v) in [
        (0x0002u16, 1u16),
        (0x0010, 4),
        (0x0011, 4),
        (0x0100, 16),
        (0x0101, 16),
        (0x0102, 15),
        (0x0103, 0),
    ] {
        o.put(DataElement::new(
            Tag(0x0028, e),
            VR::US,
            PrimitiveValue::from(v),
        ));
    }
    o.put(DataElement::new(Tag(0x0028, 0x0004), VR::CS, "MONOCHROME2"));
    let pixels: Vec<u16> = (0..16).map(|i| (i * 100 + instance) as u16).collect();
    o.put(DataElement::new(
        Tag(0x7FE0, 0x0010),
        VR::OW,
        PrimitiveValue::U16(pixels.into()),
    ));
    let file = o
        .with_meta(
            FileMetaTableBuilder::new()
                .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.4")
                .media_storage_sop_instance_uid(uid.as_str())
                .transfer_syntax(ts),
        )
        .expect("meta");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    file.write_to_file(path).expect("write fixture");
}

/// Anonymizes one file by the profile with dicom-object (re-encoding it), as another tool would.
fn anonymize_like_a_tool(raw: &Path, anon: &Path, date: &str) {
    let profile = Profile::lab();
    let mut obj = OpenFileOptions::new().open_file(raw).expect("open raw");
    for rule in &profile.rules {
        let tag = Tag(rule.tag.0, rule.tag.1);
        let Some(vr) = obj.get(tag).map(|e| e.vr()) else {
            continue;
        };
        let vr = if vr == VR::UN { VR::LO } else { vr };
        match &rule.action {
            Action::Replace(v) => {
                obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v.as_str())))
            }
            Action::RunDate => obj.put(DataElement::new(tag, vr, PrimitiveValue::from(date))),
            Action::Empty => obj.put(DataElement::new(tag, vr, PrimitiveValue::Empty)),
            Action::Remove => obj.take_element(tag).ok(),
        };
    }
    std::fs::create_dir_all(anon.parent().unwrap()).unwrap();
    obj.write_to_file(anon).expect("write anon");
}

/// Edits an anonymized file in place with dicom-object.
fn edit(path: &Path, f: impl FnOnce(&mut InMemDicomObject)) {
    let mut obj = OpenFileOptions::new().open_file(path).expect("open");
    f(&mut obj);
    obj.write_to_file(path).expect("write");
}

/// A participant: raw/T1_P4321/IM-000N.dcm (3 files plus a notes file) and its correct
/// anonymized copy in AnonDcm/T1_sub-01/.
struct Study {
    w: Workdir,
    raw: PathBuf,
    anon: PathBuf,
}

impl Study {
    fn new(ts: &str, name_in_mitra: bool) -> Self {
        let w = Workdir::new();
        let raw = w.join("raw");
        let anon = w.join("AnonDcm");
        for i in 1..=3 {
            let rel = format!("T1_P4321/IM-000{i}.dcm");
            fixture(&raw.join(&rel), i, ts, name_in_mitra);
            anonymize_like_a_tool(
                &raw.join(&rel),
                &anon.join(format!("T1_sub-01/IM-000{i}.dcm")),
                RUN_DATE,
            );
        }
        std::fs::write(raw.join("T1_P4321/notes.txt"), "scan notes, not DICOM").unwrap();
        std::fs::create_dir_all(&anon).unwrap();
        Study { w, raw, anon }
    }

    fn anon_file(&self, i: u32) -> PathBuf {
        self.anon.join(format!("T1_sub-01/IM-000{i}.dcm"))
    }

    fn run(&self, extra: &[&str]) -> crate::harness::Run {
        let mut args = vec![
            "verify".to_string(),
            self.raw.display().to_string(),
            self.anon.display().to_string(),
            "--original-id".into(),
            "P4321".into(),
            "--study-id".into(),
            "sub-01".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        self.w.run(args)
    }

    /// The findings, as printed, without the summary line.
    fn findings(&self, extra: &[&str]) -> Vec<String> {
        let run = self.run(extra);
        run.expect_code(1);
        let out = run.stdout();
        let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
        let last = lines.pop().unwrap_or_default();
        assert!(last.contains(" in 3 files checked"), "{out}");
        lines
    }
}

#[test]
fn a_correct_folder_anonymized_by_another_tool_passes_and_nothing_is_written() {
    for ts in [EXPLICIT, IMPLICIT] {
        let s = Study::new(ts, false);
        let (raw_before, anon_before) = (tree_hash(&s.raw), tree_hash(&s.anon));
        let run = s.run(&["--date", RUN_DATE]);
        run.expect_code(0);
        assert!(
            run.stdout().contains("passed: 3 files checked"),
            "{}",
            run.stdout()
        );
        // Without the run's date, any past date that differs from the raw one passes too.
        s.run(&[]).expect_code(0);
        assert_eq!(tree_hash(&s.raw), raw_before, "raw tree changed");
        assert_eq!(tree_hash(&s.anon), anon_before, "anon tree changed");
    }
}

#[test]
fn json_output_is_one_report_object() {
    let s = Study::new(EXPLICIT, false);
    let run = s.run(&["--json"]);
    run.expect_code(0);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["files_checked"], 3);
    assert_eq!(lines[0]["files_not_dicom"], 1);
    assert_eq!(lines[0]["passed"], true);
}

#[test]
fn a_missed_tag_in_every_file_is_one_finding() {
    let s = Study::new(EXPLICIT, false);
    for i in 1..=3 {
        edit(&s.anon_file(i), |o| {
            o.put(DataElement::new(
                Tag(0x0010, 0x4000),
                VR::LT,
                "made-up comment",
            ));
        });
    }
    let f = s.findings(&[]);
    assert_eq!(
        f,
        ["(0010,4000) PatientComments not anonymous in 3 files [T1_sub-01/IM-0001.dcm]"]
    );
}

#[test]
fn added_and_changed_elements_are_caught() {
    let s = Study::new(IMPLICIT, false);
    edit(&s.anon_file(2), |o| {
        // PatientSize is in the profile but the raw file lacks it: must not be added.
        o.put(DataElement::new(Tag(0x0010, 0x1020), VR::DS, "Anonymous"));
        o.put(DataElement::new(Tag(0x0008, 0x103E), VR::LO, "added"));
        o.put(DataElement::new(Tag(0x0020, 0x000D), VR::UI, "1.2.3.4"));
    });
    let f = s.findings(&[]);
    assert_eq!(
        f,
        [
            "(0010,1020) PatientSize added [T1_sub-01/IM-0002.dcm]",
            "(0008,103E) SeriesDescription added [T1_sub-01/IM-0002.dcm]",
            "(0020,000D) StudyInstanceUID changed [T1_sub-01/IM-0002.dcm]",
        ]
    );
}

#[test]
fn a_changed_pixel_byte_is_caught() {
    let s = Study::new(EXPLICIT, false);
    let p = s.anon_file(3);
    let mut bytes = std::fs::read(&p).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&p, bytes).unwrap();
    assert_eq!(
        s.findings(&[]),
        ["(7FE0,0010) PixelData changed [T1_sub-01/IM-0003.dcm]"]
    );
}

#[test]
fn a_name_left_in_a_private_element_is_caught_first() {
    // The raw files carry the name in MITRA (0033,1013), which the lab's list misses.
    let s = Study::new(IMPLICIT, true);
    let f = s.findings(&[]);
    assert_eq!(
        f,
        ["(0033,1013) private element holds the patient's name in 3 files [T1_sub-01/IM-0001.dcm]"]
    );

    // A private element inside a sequence, seeded in one anonymized file.
    let s = Study::new(EXPLICIT, false);
    edit(&s.anon_file(1), |o| {
        let mut seq = o.take_element(Tag(0x0008, 0x1140)).unwrap();
        let items = seq.items_mut().unwrap();
        items[0].put(DataElement::new(Tag(0x0009, 0x1001), VR::LO, "JANE"));
        o.put(seq);
    });
    let f = s.findings(&[]);
    assert_eq!(
        f,
        [
            "(0009,1001) private element inside (0008,1140) holds the patient's name [T1_sub-01/IM-0001.dcm]",
            "(0009,1001) private element changed inside (0008,1140) [T1_sub-01/IM-0001.dcm]",
        ]
    );
}

#[test]
fn dropped_extra_and_truncated_files_are_caught() {
    let s = Study::new(EXPLICIT, false);
    std::fs::remove_file(s.anon_file(2)).unwrap();
    std::fs::write(s.anon.join("x.dcm"), b"stray").unwrap();
    let p = s.anon_file(3);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let run = s.run(&[]);
    run.expect_code(1);
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "x.dcm extra file",
            "T1_sub-01/IM-0002.dcm missing",
            "T1_sub-01/IM-0003.dcm truncated",
            "3 findings in 1 file checked against profile `lab`",
        ]
    );
}

#[test]
fn wrong_acquisition_dates_are_caught() {
    for (value, extra, want) in [
        ("29990101", &[][..], "AcquisitionDate in the future"),
        ("20200101", &[][..], "AcquisitionDate unchanged"),
        ("Anonymous", &[][..], "AcquisitionDate not a valid date"),
        (
            "20240116",
            &["--date", RUN_DATE][..],
            "AcquisitionDate not the run's date",
        ),
    ] {
        let s = Study::new(EXPLICIT, false);
        edit(&s.anon_file(1), |o| {
            o.put(DataElement::new(Tag(0x0008, 0x0022), VR::DA, value));
        });
        assert_eq!(
            s.findings(extra),
            [format!("(0008,0022) {want} [T1_sub-01/IM-0001.dcm]")],
            "{value}"
        );
    }
}

#[test]
fn the_original_id_in_a_folder_name_is_caught_without_printing_it() {
    let s = Study::new(EXPLICIT, false);
    // Without --study-id the anon tree must keep the raw names, which hold the original ID.
    std::fs::rename(s.anon.join("T1_sub-01"), s.anon.join("T1_P4321")).unwrap();
    let run = s.w.run([
        "verify",
        &s.raw.display().to_string(),
        &s.anon.display().to_string(),
        "--original-id",
        "P4321",
    ]);
    run.expect_code(1);
    let out = run.stdout();
    assert_eq!(
        out.lines().next(),
        Some("1 file or folder name holds the patient's ID"),
        "{out}"
    );
    assert!(
        !out.contains("P4321") && !out.to_lowercase().contains("doe"),
        "{out}"
    );
}

#[test]
fn bad_input_is_an_error() {
    let s = Study::new(EXPLICIT, false);
    let run = s.w.run([
        "verify",
        "nope",
        &s.anon.display().to_string(),
        "--original-id",
        "1",
    ]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("cannot find folder `nope`"),
        "{}",
        run.stderr()
    );
    let run = s.w.run(["verify", "study.xlsx"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("cannot find `study.xlsx`"),
        "{}",
        run.stderr()
    );
    s.w.run(["verify", "raw", "AnonDcm"]).expect_code(2);
    s.w.run([
        "verify",
        "raw",
        "AnonDcm",
        "--original-id",
        "1",
        "--date",
        "2024-01-01",
    ])
    .expect_code(2);
}

#[test]
fn the_library_checks_one_pair() {
    let s = Study::new(EXPLICIT, false);
    let profile = Profile::lab();
    let v = Verifier::new(&profile)
        .original_id("P4321")
        .run_date(Some(NaiveDate::from_ymd_opt(2024, 1, 15).unwrap()))
        .today(NaiveDate::from_ymd_opt(2024, 1, 15).unwrap());
    let raw = s.raw.join("T1_P4321/IM-0001.dcm");
    assert_eq!(v.verify_file(&raw, &s.anon_file(1)), vec![]);
    let wrong = v.verify_file(&raw, &s.anon_file(2));
    let msgs: Vec<String> = wrong.iter().map(|f| f.detailed()).collect();
    assert!(
        msgs.contains(&"(7FE0,0010) PixelData changed [IM-0002.dcm]".to_string()),
        "{msgs:?}"
    );
}

/// Real files from ../shared/dicom, anonymized by dicom-object: all pass; seeded faults caught.
#[test]
fn real_files_pass_when_correct_and_faults_are_caught() {
    let Some(dicom) = shared_path("dicom") else {
        return;
    };
    let files = [
        "nibabel/0.dcm",
        "nibabel/siemens_dwi_1000.dcm",
        "nibabel/slicethickness_empty_string.dcm",
        "pydicom-data/MR-SIEMENS-DICOM-WithOverlays.dcm",
        "pydicom-data/emri_small_big_endian.dcm",
        "pydicom-data/emri_small_RLE.dcm",
        "pydicom-data/liver.dcm",
        "pydicom/CT_small.dcm",
        "pydicom/MR_small.dcm",
        "dicomscope-deb/reportsi.dcm",
    ];
    let w = Workdir::new();
    let (raw, anon) = (w.join("raw"), w.join("anon"));
    for f in files {
        let name = f.replace('/', "_");
        std::fs::create_dir_all(&raw).unwrap();
        std::fs::copy(dicom.join(f), raw.join(&name)).unwrap();
        anonymize_like_a_tool(&raw.join(&name), &anon.join(&name), RUN_DATE);
    }
    let raw_before = tree_hash(&raw);
    let verify = || {
        w.run([
            "verify",
            &raw.display().to_string(),
            &anon.display().to_string(),
            "--original-id",
            "NOSUCHID-0",
            "--date",
            RUN_DATE,
        ])
    };
    let run = verify();
    // Only tags and wording are shown on failure: never values from the files. Correct copies
    // differ from their raw files in nothing, but the sweep finds what the lab's list leaves:
    // fake names and IDs that these public test files repeat in other elements. The folder is
    // one participant: a name any raw file holds is looked for in every anonymized file. The SR
    // report's placeholder name (`Last Name^First Name`) is no finding in its CodeMeanings
    // (`Recording Observer's Name`): names are not looked for in coded vocabulary.
    run.expect_code(1);
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    let leaks = [
        "(0020,0010) StudyID holds the patient's ID in 2 files [pydicom_CT_small.dcm]",
        "(0020,9421) DimensionDescriptionLabel inside (0020,9222) holds the patient's name [pydicom-data_liver.dcm]",
    ];
    assert_eq!(
        lines,
        [
            leaks[0],
            leaks[1],
            "(0032,4000) StudyComments holds the patient's name [nibabel_0.dcm]",
            "3 findings in 10 files checked against profile `lab`",
        ],
        "{out}"
    );

    // Seed faults: a missed tag, a flipped pixel byte (RLE: inside a fragment), a dropped file.
    let raw_ct = raw.join("pydicom_CT_small.dcm");
    let anon_ct = anon.join("pydicom_CT_small.dcm");
    let orig = OpenFileOptions::new().open_file(&raw_ct).unwrap();
    let birth = orig.get(Tag(0x0010, 0x0030)).unwrap().clone();
    edit(&anon_ct, |o| {
        o.put(birth);
    });
    let rle = anon.join("pydicom-data_emri_small_RLE.dcm");
    let mut bytes = std::fs::read(&rle).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0xFF;
    std::fs::write(&rle, bytes).unwrap();
    std::fs::remove_file(anon.join("nibabel_0.dcm")).unwrap();
    let run = verify();
    run.expect_code(1);
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    // The leaks stay as they were: the missing file's raw copy still adds its needles (the
    // names it holds are the participant's, looked for in every other file).
    assert_eq!(
        &lines[..lines.len() - 1],
        [
            leaks[0],
            leaks[1],
            "(0010,0030) PatientBirthDate not anonymous [pydicom_CT_small.dcm]",
            "nibabel_0.dcm missing",
            "(7FE0,0010) PixelData changed [pydicom-data_emri_small_RLE.dcm]",
        ],
        "{out}"
    );
    assert_eq!(tree_hash(&raw), raw_before);
}

/// `verify SHEET`: rows whose anonymization is done are checked with the folders from the sheet;
/// nothing is written anywhere.
#[test]
fn the_workbook_form_checks_done_rows_and_changes_nothing() {
    let w = Workdir::new();
    let Some(_) = copy_lab_workbook(&w, "study.xlsx") else {
        return;
    };
    // Row 3: ID 101, Original ID 60784, anonymization done (green).
    let spec = anontrack::synth::ParticipantSpec::new("60784", 7).series(1, 2);
    anontrack::synth::write_participant(&w.join("sourcedata/60784"), &spec).unwrap();
    w.run([
        "anonymize",
        "sourcedata/60784",
        "AnonDcm/101",
        "--original-id",
        "60784",
        "--study-id",
        "101",
    ])
    .expect_code(0);
    let before = tree_hash(w.path());

    let run = w.run(["verify", "study.xlsx", "--id", "101"]);
    run.expect_code(0);
    assert!(
        run.stdout()
            .contains("row 3    101        passed (2 files checked)"),
        "{}",
        run.stdout()
    );

    // Every done row: the others have no folders, which is a finding each, not an error.
    let run = w.run(["--json", "verify", "study.xlsx"]);
    run.expect_code(1);
    let rows = run.json_lines();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["101", "110", "111", "102"]);
    assert_eq!(rows[0]["passed"], true);
    assert_eq!(
        rows[1]["findings"][0]["message"],
        "no anonymized folder found at AnonDcm/110"
    );

    // A missed tag in the anonymized copy is caught through the sheet too.
    let anon_file = std::fs::read_dir(w.join("AnonDcm/101"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .next()
        .unwrap();
    edit(&anon_file, |o| {
        o.put(DataElement::new(
            Tag(0x0010, 0x4000),
            VR::LT,
            "made-up comment",
        ));
    });
    let run = w.run(["verify", "study.xlsx", "--id", "101"]);
    run.expect_code(1);
    assert!(run.stdout().contains("(0010,4000)"), "{}", run.stdout());

    // Nothing but the edited file changed: no reports, no workbook change.
    let after: Vec<_> = tree_hash(w.path())
        .into_iter()
        .filter(|(p, _)| !p.starts_with("AnonDcm/101"))
        .collect();
    let before: Vec<_> = before
        .into_iter()
        .filter(|(p, _)| !p.starts_with("AnonDcm/101"))
        .collect();
    assert_eq!(before, after);

    // Unknown IDs and folder arguments with a workbook are usage errors.
    w.run(["verify", "study.xlsx", "--id", "999"])
        .expect_code(2);
    w.run(["verify", "study.xlsx", "AnonDcm/101"])
        .expect_code(2);
}

/// A file whose nested element claims gigabytes (pydicom's 674-byte `UN_sequence.dcm`, read as
/// dicom-object reads it) is refused before parsing, as a finding, not after seconds of
/// zero-filling a huge buffer.
#[test]
fn a_length_beyond_the_end_of_the_file_is_a_finding() {
    let Some(dicom) = shared_path("dicom") else {
        return;
    };
    let w = Workdir::new();
    for dir in ["raw", "anon"] {
        std::fs::create_dir_all(w.join(dir)).unwrap();
        std::fs::copy(
            dicom.join("pydicom/UN_sequence.dcm"),
            w.join(dir).join("x.dcm"),
        )
        .unwrap();
    }
    let run = w.run(["verify", "raw", "anon", "--original-id", "5551234"]);
    run.expect_code(1);
    assert!(
        run.stdout()
            .contains("x.dcm raw file unreadable (element length beyond end of file)"),
        "{}",
        run.stdout()
    );

    // The same refusal for the anonymized side: a valid raw file, a corrupt copy.
    let raw = w.join("raw/x.dcm");
    fixture(&raw, 1, EXPLICIT, false);
    let mut bad = std::fs::read(&raw).unwrap();
    bad.extend_from_slice(&[0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0]);
    bad.extend_from_slice(&0xE000_FFFEu32.to_le_bytes());
    std::fs::write(w.join("anon/x.dcm"), &bad).unwrap();
    let run = w.run(["verify", "raw", "anon", "--original-id", "P4321"]);
    run.expect_code(1);
    assert!(
        run.stdout()
            .contains("x.dcm unreadable (element length beyond end of file)"),
        "{}",
        run.stdout()
    );
}

/// The verifier's note about a character set it does not decode shows only with `-v`, and
/// reaches stderr as plain text when stderr is not a terminal: no colour codes in a log file.
#[test]
fn log_lines_carry_no_colour_codes_when_not_on_a_terminal() {
    let s = Study::new(EXPLICIT, false);
    for root in [&s.raw, &s.anon] {
        for (rel, _) in tree_hash(root) {
            if rel.ends_with(".dcm") {
                edit(&root.join(&rel), |o| {
                    o.put(DataElement::new(
                        Tag(0x0008, 0x0005),
                        VR::CS,
                        PrimitiveValue::from("NOT A CHARSET"),
                    ));
                });
            }
        }
    }
    let quiet = s.run(&[]);
    assert!(
        !quiet.stderr().contains("character set"),
        "{}",
        quiet.stderr()
    );
    let run = s.run(&["-v"]);
    let err = run.stderr();
    assert!(
        err.contains("INFO") && err.contains("character set `NOT A CHARSET`"),
        "no log line to check: {err}"
    );
    assert!(!err.contains('\u{1b}'), "colour codes in {err:?}");
}

/// The needles are the participant's, not each file's: a name one raw file holds as PatientName
/// is a leak in another file that holds it only as OtherPatientNames (which the lab's list
/// leaves) or in free text, although that file's own PatientName is someone else's.
#[test]
fn a_name_held_by_another_file_or_another_pn_element_is_caught() {
    let s = Study::new(EXPLICIT, false);
    for (i, tag, vr) in [
        (2, Tag(0x0010, 0x1001), VR::PN),
        (3, Tag(0x0020, 0x4000), VR::LT),
    ] {
        let raw = s.raw.join(format!("T1_P4321/IM-000{i}.dcm"));
        for path in [&raw, &s.anon_file(i)] {
            edit(path, |o| {
                o.put(DataElement::new(tag, vr, "Doe^Jane"));
            });
        }
        edit(&raw, |o| {
            o.put(DataElement::new(Tag(0x0010, 0x0010), VR::PN, "Roe^Ann"));
        });
    }
    assert_eq!(
        s.findings(&[]),
        [
            "(0010,1001) OtherPatientNames holds the patient's name [T1_sub-01/IM-0002.dcm]",
            "(0020,4000) ImageComments holds the patient's name [T1_sub-01/IM-0003.dcm]",
        ]
    );
}

/// A name only a raw file without its anonymized copy holds is still looked for in the other
/// files: the needles come from every raw file, copied or not.
#[test]
fn a_name_held_only_by_a_file_without_a_copy_is_caught() {
    let s = Study::new(EXPLICIT, false);
    edit(&s.raw.join("T1_P4321/IM-0003.dcm"), |o| {
        o.put(DataElement::new(Tag(0x0010, 0x1001), VR::PN, "Smythe^Zed"));
    });
    for path in [&s.raw.join("T1_P4321/IM-0001.dcm"), &s.anon_file(1)] {
        edit(path, |o| {
            o.put(DataElement::new(
                Tag(0x0020, 0x4000),
                VR::LT,
                "seen by Smythe",
            ));
        });
    }
    std::fs::remove_file(s.anon_file(3)).unwrap();
    let run = s.run(&[]);
    run.expect_code(1);
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "(0020,4000) ImageComments holds the patient's name [T1_sub-01/IM-0001.dcm]",
            "T1_sub-01/IM-0003.dcm missing",
            "2 findings in 2 files checked against profile `lab`",
        ],
        "{out}"
    );
}

/// The standard profiles: the writer's output of the made-up study, checked by the verifier with
/// the same key, passes; seeded faults are each caught; a wrong key makes every UID a finding.
mod standard {
    use super::*;
    use anontrack::anonymize::Anonymizer;
    use anontrack::deid::{Base, StudyKey};
    use anontrack::verify::keyed::Key;

    const KEY: [u8; 32] = [0x5a; 32];

    fn profile(base: Base) -> Profile {
        Profile::standard(base).with_key(StudyKey::from_bytes(KEY))
    }

    /// The made-up study (with an X attribute inside its nested sequence) anonymized by the
    /// writer into `out/`.
    fn written(base: Base) -> (Study, PathBuf) {
        let s = Study::new(EXPLICIT, false);
        for i in 1..=3 {
            put_in(
                &s.raw.join(format!("T1_P4321/IM-000{i}.dcm")),
                REFS,
                DataElement::new(Tag(0x0008, 0x0092), VR::ST, "1 Made-up Street"),
            );
        }
        let out = s.w.join(base.name());
        Anonymizer::new(&profile(base))
            .key(StudyKey::from_bytes(KEY))
            .original_id("P4321")
            .study_id("sub-01")
            .anonymize_dir(&s.raw, &out, &indicatif::ProgressBar::hidden())
            .expect("anonymize");
        (s, out)
    }

    pub(super) fn check(base: Base, s: &Study, out: &Path, key: [u8; 32]) -> Vec<String> {
        let p = profile(base);
        Verifier::new(&p)
            .original_id("P4321")
            .study_id("sub-01")
            .key(Key::new(key))
            .verify_dir(&s.raw, out, &indicatif::ProgressBar::hidden())
            .unwrap()
            .findings
            .iter()
            .map(|f| f.detailed())
            .collect()
    }

    #[test]
    fn the_writers_output_passes() {
        for base in [Base::Basic, Base::Neuro] {
            let (s, out) = written(base);
            assert_eq!(check(base, &s, &out, KEY), Vec::<String>::new(), "{base:?}");
        }
    }

    /// One anonymized file's element set or removed, nested or not.
    fn put_in(path: &Path, seq: Option<Tag>, el: DataElement<InMemDicomObject>) {
        edit(path, |o| match seq {
            None => {
                o.put(el);
            }
            Some(sq) => {
                let mut s = o.take_element(sq).unwrap();
                s.items_mut().unwrap()[0].put(el);
                o.put(s);
            }
        });
    }

    fn ui(g: u16, e: u16, v: &str) -> DataElement<InMemDicomObject> {
        DataElement::new(Tag(g, e), VR::UI, PrimitiveValue::from(v))
    }

    const REFS: Option<Tag> = Some(Tag(0x0008, 0x1140));

    /// The original value of one top-level element of a raw file, as text.
    fn raw_text(s: &Study, file: u32, tag: Tag) -> String {
        let p = s.raw.join(format!("T1_P4321/IM-000{file}.dcm"));
        let o = OpenFileOptions::new().open_file(p).unwrap();
        o.get(tag).unwrap().to_str().unwrap().trim().to_string()
    }

    /// What a seeding function gets: the study, the anonymized file, and the profile.
    type Seed = fn(&Study, &Path, Base);

    /// The seeded faults, each under basic and under neuro: caught with the right
    /// finding, and nothing else found in any other file. The expected findings are
    /// `[basic, neuro]`.
    #[test]
    fn seeded_faults_are_each_caught_with_the_right_finding() {
        let faults: Vec<(&str, u32, [&str; 2], Seed)> = vec![
            (
                "an X attribute left inside a nested sequence",
                1,
                [
                    "(0008,0092) ReferringPhysicianAddress not removed inside (0008,1140)",
                    "(0008,0092) ReferringPhysicianAddress not removed inside (0008,1140)",
                ],
                |_, p, _| {
                    put_in(
                        p,
                        REFS,
                        DataElement::new(Tag(0x0008, 0x0092), VR::ST, "1 Made-up Street"),
                    )
                },
            ),
            (
                "a private element without a safe-listed creator, nested",
                1,
                [
                    "(0009,1001) private element not removed inside (0008,1140)",
                    "(0009,1001) private element not removed inside (0008,1140)",
                ],
                |_, p, _| {
                    put_in(
                        p,
                        REFS,
                        DataElement::new(Tag(0x0009, 0x1001), VR::LO, "private note"),
                    )
                },
            ),
            (
                "a private block outside the safe list",
                1,
                [
                    "(0033,1013) private element not removed",
                    "(0033,1013) private element not removed",
                ],
                |_, p, _| {
                    put_in(
                        p,
                        None,
                        DataElement::new(
                            Tag(0x0033, 0x0010),
                            VR::LO,
                            "MITRA OBJECT UTF8 ATTRIBUTES 1.0",
                        ),
                    );
                    put_in(
                        p,
                        None,
                        DataElement::new(Tag(0x0033, 0x1013), VR::LO, "none"),
                    );
                },
            ),
            (
                "a UID left original",
                1,
                [
                    "(0020,000D) StudyInstanceUID left original",
                    "(0020,000D) StudyInstanceUID left original",
                ],
                |_, p, _| {
                    put_in(
                        p,
                        None,
                        ui(0x0020, 0x000D, "1.2.826.0.1.3680043.10.999.1000"),
                    )
                },
            ),
            (
                "a UID remapped inconsistently between two files",
                2,
                [
                    "(0020,000D) StudyInstanceUID not the UID the study key gives",
                    "(0020,000D) StudyInstanceUID not the UID the study key gives",
                ],
                |_, p, _| put_in(p, None, ui(0x0020, 0x000D, "2.25.1234")),
            ),
            (
                "a reference pointing at the old UID",
                1,
                [
                    "(0008,1155) ReferencedSOPInstanceUID left original inside (0008,1140)",
                    "(0008,1155) ReferencedSOPInstanceUID left original inside (0008,1140)",
                ],
                |_, p, _| put_in(p, REFS, ui(0x0008, 0x1155, "1.2.826.0.1.3680043.10.999.7")),
            ),
            (
                // Basic empties dates (Z): a shifted date there is the original moved, not a
                // dummy. Neuro shifts them: by another offset is wrong.
                "a date shifted by another offset",
                1,
                [
                    "(0008,0020) StudyDate holds the original date shifted",
                    "(0008,0020) StudyDate not shifted by the participant's offset",
                ],
                |s, p, _| {
                    let d = raw_text(s, 1, Tag(0x0008, 0x0020));
                    let d = NaiveDate::parse_from_str(&d, "%Y%m%d").unwrap()
                        - chrono::Duration::days(101);
                    put_in(
                        p,
                        None,
                        DataElement::new(
                            Tag(0x0008, 0x0020),
                            VR::DA,
                            d.format("%Y%m%d").to_string(),
                        ),
                    )
                },
            ),
            (
                // Neuro keeps times: one changed is a change. Basic empties them (Z): another
                // valid time is a dummy by the standard, the original time back is the fault.
                "a time changed",
                1,
                [
                    "(0008,0030) StudyTime holds the original value",
                    "(0008,0030) StudyTime changed",
                ],
                |s, p, base| {
                    let t = match base {
                        Base::Basic => raw_text(s, 1, Tag(0x0008, 0x0030)),
                        Base::Neuro => "101501".into(),
                    };
                    put_in(p, None, DataElement::new(Tag(0x0008, 0x0030), VR::TM, t))
                },
            ),
            (
                "PatientName put back",
                1,
                [
                    "(0010,0010) PatientName not the study ID",
                    "(0010,0010) PatientName not the study ID",
                ],
                |_, p, _| {
                    put_in(
                        p,
                        None,
                        DataElement::new(Tag(0x0010, 0x0010), VR::PN, "Doe^Jane"),
                    )
                },
            ),
            (
                "the original UID pasted into ImageComments",
                1,
                [
                    "(0020,4000) ImageComments holds an original UID",
                    "(0020,4000) ImageComments holds an original UID",
                ],
                |_, p, _| {
                    put_in(
                        p,
                        None,
                        DataElement::new(
                            Tag(0x0020, 0x4000),
                            VR::LT,
                            "was 1.2.826.0.1.3680043.10.999.1",
                        ),
                    )
                },
            ),
            (
                "a Type 1 attribute emptied",
                1,
                [
                    "(0008,0060) Modality changed",
                    "(0008,0060) Modality changed",
                ],
                |_, p, _| {
                    put_in(
                        p,
                        None,
                        DataElement::new(Tag(0x0008, 0x0060), VR::CS, PrimitiveValue::Empty),
                    )
                },
            ),
            (
                "Anonymous written into a dummy date (D)",
                1,
                [
                    "(0008,0023) ContentDate not a valid date (DA)",
                    // Neuro shifts ContentDate rather than replacing it.
                    "(0008,0023) ContentDate not shifted by the participant's offset",
                ],
                |_, p, _| {
                    put_in(
                        p,
                        None,
                        DataElement::new(Tag(0x0008, 0x0023), VR::DA, "Anonymous"),
                    )
                },
            ),
            (
                // Neuro keeps the CSA header with same-length substitutes: one byte outside
                // them is a change. Basic removes it: the header back is not removed.
                "a CSA header altered",
                1,
                [
                    "(0029,1010) private element not removed",
                    "(0029,1010) private element changed",
                ],
                |s, p, base| match base {
                    Base::Neuro => {
                        let mut b = std::fs::read(p).unwrap();
                        let at = b.windows(4).position(|w| w == b"SV10").unwrap();
                        b[at + 2] = b'2';
                        std::fs::write(p, b).unwrap();
                    }
                    Base::Basic => {
                        let raw = s.raw.join("T1_P4321/IM-0001.dcm");
                        let o = OpenFileOptions::new().open_file(raw).unwrap();
                        let creator = o.get(Tag(0x0029, 0x0010)).unwrap().clone();
                        let csa = o.get(Tag(0x0029, 0x1010)).unwrap().clone();
                        edit(p, |a| {
                            a.put(creator);
                            a.put(csa);
                        });
                    }
                },
            ),
            (
                "one pixel byte flipped",
                1,
                [
                    "(7FE0,0010) PixelData changed",
                    "(7FE0,0010) PixelData changed",
                ],
                |_, p, _| {
                    let mut b = std::fs::read(p).unwrap();
                    let last = b.len() - 1;
                    b[last] ^= 1;
                    std::fs::write(p, b).unwrap();
                },
            ),
        ];
        for (what, file, wants, seed) in &faults {
            for (base, want) in [Base::Basic, Base::Neuro].into_iter().zip(wants) {
                let (s, out) = written(base);
                let target = out.join(format!("T1_sub-01/IM-000{file}.dcm"));
                seed(&s, &target, base);
                let got = check(base, &s, &out, KEY);
                let want = format!("{want} [T1_sub-01/IM-000{file}.dcm]");
                assert!(
                    got.contains(&want),
                    "{what}, {base:?}: want {want}, got {got:?}"
                );
                // No false alarm elsewhere: every finding is about the seeded file.
                assert!(
                    got.iter().all(|f| f.contains(&format!("IM-000{file}"))),
                    "{what}, {base:?}: {got:?}"
                );
            }
        }
    }

    /// Without the key, a UID remapped differently in two files is still caught: one original
    /// UID maps to one new UID across the participant.
    #[test]
    fn without_the_key_inconsistent_remapping_is_caught() {
        for base in [Base::Basic, Base::Neuro] {
            let (s, out) = written(base);
            put_in(
                &out.join("T1_sub-01/IM-0002.dcm"),
                None,
                ui(0x0020, 0x000D, "2.25.1234"),
            );
            let p = profile(base);
            let got: Vec<String> = Verifier::new(&p)
                .original_id("P4321")
                .study_id("sub-01")
                .verify_dir(&s.raw, &out, &indicatif::ProgressBar::hidden())
                .unwrap()
                .findings
                .iter()
                .map(|f| f.detailed())
                .collect();
            assert_eq!(
                got,
                [
                    "(0020,000D) StudyInstanceUID remapped inconsistently across files [T1_sub-01/IM-0002.dcm]"
                ],
                "{base:?}"
            );
        }
    }

    /// A real file's name in ../shared/dicom, its raw folder and its anonymized folder.
    type Output = (String, PathBuf, PathBuf);

    /// The real Siemens files (CSA headers, implicit VR, mosaics) and a spread of other real
    /// files, each its own participant, written by basic and neuro: what verify says.
    fn real_outputs(base: Base) -> Option<(Workdir, Vec<Output>)> {
        let dicom = shared_path("dicom")?;
        let manifest = std::fs::read_to_string(dicom.join("MANIFEST.tsv")).unwrap();
        let mut files: Vec<String> = manifest
            .lines()
            .skip(1)
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .filter(|c| c.len() > 11 && c[6] == "SIEMENS" && c[11] == "yes")
            .map(|c| c[0].to_string())
            .collect();
        for f in [
            "pydicom/MR_small_implicit.dcm",
            "pydicom/CT_small.dcm",
            "pydicom-data/emri_small_big_endian.dcm",
            "pydicom-data/eCT_Supplemental.dcm",
            "dicomscope-deb/reportsi.dcm",
            "pydicom-data/liver.dcm",
            "pydicom/image_dfl.dcm",
        ] {
            files.push(f.into());
        }
        let w = Workdir::new();
        let mut out = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let (raw, anon) = (w.join(format!("raw/{i}")), w.join(format!("anon/{i}")));
            std::fs::create_dir_all(&raw).unwrap();
            std::fs::copy(dicom.join(f), raw.join("x.dcm")).unwrap();
            if Anonymizer::new(&profile(base))
                .key(StudyKey::from_bytes(KEY))
                .original_id("P101")
                .study_id("sub-01")
                .anonymize_file(&raw.join("x.dcm"), &anon.join("x.dcm"))
                .is_ok()
            {
                out.push((f.clone(), raw, anon));
            }
        }
        Some((w, out))
    }

    fn verify_one(base: Base, raw: &Path, anon: &Path, key: [u8; 32]) -> Vec<String> {
        let p = profile(base);
        Verifier::new(&p)
            .original_id("P101")
            .study_id("sub-01")
            .key(Key::new(key))
            .verify_dir(raw, anon, &indicatif::ProgressBar::hidden())
            .unwrap()
            .findings
            .iter()
            .map(|f| f.detailed())
            .collect()
    }

    /// Every real file written by basic and neuro passes, but for what is true of the files.
    #[test]
    fn real_files_written_by_basic_and_neuro_pass() {
        let mut bad = Vec::new();
        for base in [Base::Basic, Base::Neuro] {
            let Some((_w, outputs)) = real_outputs(base) else {
                return;
            };
            assert!(outputs.len() >= 15, "{}", outputs.len());
            for (f, raw, anon) in &outputs {
                let got = verify_one(base, raw, anon, KEY);
                if !got.is_empty() {
                    bad.push(format!("{base:?} {f}: {got:?}"));
                }
            }
        }
        // What remains is true of these public test files, and stays listed so any change shows:
        // - eCT_Supplemental: the patient is named after an everyday word that ImageType and
        //   FrameType (kept, K) hold as a keyword;
        // - MR_small_implicit: the institution is also the manufacturer's name (Manufacturer, K);
        // - nibabel 0 and 1 under neuro: the patient is named `dft patient name`, and the CSA
        //   series header (kept) holds the XProtocol keyword `<Name>`; the contract substitutes
        //   name parts in their exact case only (`name` in `"Protocol name"` becomes `XXXX`),
        //   since overwriting `<Name>` would break the protocol's syntax.
        let names = [
            "(0008,0008) ImageType holds the patient's name [x.dcm]",
            "(0008,9007) FrameType inside (5200,9229) holds the patient's name [x.dcm]",
        ];
        let mut want = Vec::new();
        for base in ["Basic", "Neuro"] {
            want.push(format!("{base} pydicom/MR_small_implicit.dcm: [\"(0008,0070) Manufacturer holds an institution, device or accession identifier [x.dcm]\"]"));
            want.push(format!(
                "{base} pydicom-data/eCT_Supplemental.dcm: {names:?}"
            ));
        }
        for f in ["nibabel/0.dcm", "nibabel/1.dcm"] {
            want.push(format!(
                "Neuro {f}: [\"(0029,1020) private element holds the patient's name [x.dcm]\"]"
            ));
        }
        bad.sort();
        want.sort();
        assert_eq!(bad, want, "\n{}", bad.join("\n"));

        // decimal_rescale's data set has no SOPInstanceUID, only its meta: the meta's UID is
        // keyed from the raw meta's, which the verifier recomputes (another key: a finding).
        let Some((_w, outputs)) = real_outputs(Base::Basic) else {
            return;
        };
        let (_, raw, anon) = outputs
            .iter()
            .find(|(f, ..)| f == "nibabel/decimal_rescale.dcm")
            .expect("decimal_rescale");
        let other_key = [7u8; 32];
        assert!(
            verify_one(Base::Basic, raw, anon, other_key)
                .iter()
                .any(|f| f.starts_with("(0002,0003) MediaStorageSOPInstanceUID")),
            "{:?}",
            verify_one(Base::Basic, raw, anon, other_key)
        );
    }

    /// A real Siemens file under neuro: its CSA header is kept with the contract's substitutes,
    /// recomputed here position by position. One byte altered outside a substitution is a
    /// change; the raw header put back is the original UIDs left; a wrong key is every UID.
    #[test]
    fn a_csa_header_is_recomputed_position_by_position() {
        let Some((_w, outputs)) = real_outputs(Base::Neuro) else {
            return;
        };
        let (_, raw, anon) = outputs
            .iter()
            .find(|(f, ..)| f == "nibabel/siemens_dwi_1000.dcm")
            .expect("the Siemens DWI file");
        let file = anon.join("x.dcm");
        assert_eq!(
            verify_one(Base::Neuro, raw, anon, KEY),
            Vec::<String>::new()
        );
        // The raw and anonymized CSA headers differ (UIDs and dates substituted).
        // The series header (0029,1020) holds UIDs; the image header (0029,1010) none.
        let csa = |p: &Path| {
            OpenFileOptions::new()
                .open_file(p)
                .unwrap()
                .get(Tag(0x0029, 0x1020))
                .unwrap()
                .to_bytes()
                .unwrap()
                .to_vec()
        };
        let (raw_csa, anon_csa) = (csa(&raw.join("x.dcm")), csa(&file));
        assert_eq!(raw_csa.len(), anon_csa.len());
        assert!(raw_csa != anon_csa, "no substitution in the series header");
        let good = std::fs::read(&file).unwrap();

        // One byte of the header's magic `SV10`, outside any substitution.
        let mut b = good.clone();
        let at = b.windows(4).position(|w| w == b"SV10").unwrap();
        b[at] = b'T';
        std::fs::write(&file, &b).unwrap();
        assert_eq!(
            verify_one(Base::Neuro, raw, anon, KEY),
            ["(0029,1010) private element changed [x.dcm]"]
        );

        // The raw header put back: the original UIDs are left in it.
        std::fs::write(&file, &good).unwrap();
        edit(&file, |o| {
            o.put(DataElement::new(
                Tag(0x0029, 0x1020),
                VR::OB,
                PrimitiveValue::U8(raw_csa.clone().into()),
            ));
        });
        let got = verify_one(Base::Neuro, raw, anon, KEY);
        assert_eq!(
            got,
            ["(0029,1020) private element holds an original UID [x.dcm]"]
        );

        // Another key: every keyed value is wrong, the blob's substitutes too.
        std::fs::write(&file, &good).unwrap();
        let got = verify_one(Base::Neuro, raw, anon, [0x11; 32]);
        for want in [
            "(0008,0018) SOPInstanceUID not the UID the study key gives [x.dcm]",
            "(0020,000D) StudyInstanceUID not the UID the study key gives [x.dcm]",
            "(0020,000E) SeriesInstanceUID not the UID the study key gives [x.dcm]",
            "(0029,1020) private element changed [x.dcm]",
        ] {
            assert!(got.iter().any(|f| f == want), "want {want}, got {got:?}");
        }
    }

    #[test]
    fn a_wrong_key_makes_every_uid_a_finding() {
        for base in [Base::Basic, Base::Neuro] {
            let (s, out) = written(base);
            let got = check(base, &s, &out, [0x11; 32]);
            for uid in [
                "(0008,0018) SOPInstanceUID not the UID the study key gives in 3 files",
                "(0020,000D) StudyInstanceUID not the UID the study key gives in 3 files",
                "(0008,1155) ReferencedSOPInstanceUID not the UID the study key gives inside (0008,1140) in 3 files",
            ] {
                assert!(
                    got.iter().any(|f| f.starts_with(uid)),
                    "{base:?}: want {uid}, got {got:?}"
                );
            }
            // Neuro's shifted dates come from the key too.
            if base == Base::Neuro {
                assert!(
                    got.iter().any(|f| f.starts_with(
                        "(0008,0020) StudyDate not shifted by the participant's offset in 3 files"
                    )),
                    "{got:?}"
                );
            }
        }
    }
}

/// `--leftovers` lists what the lab profile leaves that the Basic profile would not, counted
/// across files, without values; it changes no finding.
#[test]
fn leftovers_list_what_the_profile_leaves_behind() {
    let s = Study::new(EXPLICIT, false);
    let run = s.run(&["--leftovers"]);
    run.expect_code(0);
    let out = run.stdout();
    println!("{out}");
    assert!(
        out.contains("leftovers (attributes the Basic profile would remove or replace):"),
        "{out}"
    );
    assert!(
        out.contains("  (0020,000D) StudyInstanceUID in 3 file(s)"),
        "{out}"
    );
    assert!(
        out.contains("  (0008,0030) StudyTime in 3 file(s)"),
        "{out}"
    );
    assert!(out.contains("  private group 0033 in 3 file(s)"), "{out}");
    // The lab writes the run's date into AcquisitionDate: its own value, not a leftover.
    assert!(!out.contains("AcquisitionDate"), "{out}");
    assert!(
        !out.contains("PatientName") && !out.contains("P4321"),
        "{out}"
    );
    let run = s.run(&["--leftovers", "--json"]);
    let j = &run.json_lines()[0];
    assert_eq!(j["passed"], true);
    assert!(
        j["leftovers"]["attributes"].as_array().unwrap().len() >= 3,
        "{j}"
    );
    // Without the flag, no summary.
    assert!(!s.run(&[]).stdout().contains("leftovers"));
}

/// `verify study.xlsx --leftovers`: what the green rows checked leave behind, merged across the
/// study (file counts summed, the rows named), in the folder form's format; in `--json` each
/// row's own leftovers and one study line after the rows.
#[test]
fn leftovers_of_a_workbook_are_merged_across_its_rows() {
    let w = Workdir::new();
    let Some(_) = copy_lab_workbook(&w, "study.xlsx") else {
        return;
    };
    // Rows 3 (ID 101, Original ID 60784, 2 files) and 4 (ID 110, 30679, 3 files) are green.
    for (original, id, slices, seed) in [("60784", "101", 2, 7), ("30679", "110", 3, 8)] {
        let spec = anontrack::synth::ParticipantSpec::new(original, seed).series(1, slices);
        let raw = w.join(format!("sourcedata/{original}"));
        anontrack::synth::write_participant(&raw, &spec).unwrap();
        w.run([
            "anonymize",
            &format!("sourcedata/{original}"),
            &format!("AnonDcm/{id}"),
            "--original-id",
            original,
            "--study-id",
            id,
        ])
        .expect_code(0);
    }
    // Only row 3 keeps a ReferringPhysicianAddress (in one file, raw and copy alike).
    let first = |dir: &str| {
        let mut files: Vec<PathBuf> = walk(&w.join(dir));
        files.sort();
        files.remove(0)
    };
    for dir in ["sourcedata/60784", "AnonDcm/101"] {
        edit(&first(dir), |o| {
            o.put(DataElement::new(
                Tag(0x0008, 0x0092),
                VR::ST,
                "1 Made-up Street",
            ));
        });
    }
    let before = tree_hash(w.path());
    let run = w.run(["verify", "study.xlsx", "--leftovers"]);
    // Rows 5 and 7 are green but have no folders: findings, as without `--leftovers`.
    run.expect_code(1);
    let out = run.stdout();
    for line in [
        "row 3    101        passed (2 files checked)",
        "row 4    110        passed (3 files checked)",
        "leftovers (attributes the Basic profile would remove or replace):",
        "  (0008,0050) AccessionNumber in 5 file(s) (rows 3, 4)",
        "  (0008,0030) StudyTime in 5 file(s) (rows 3, 4)",
        "  (0008,0092) ReferringPhysicianAddress in 1 file(s) (row 3)",
        "4 participant(s) checked, 2 with findings; nothing was changed",
    ] {
        assert!(out.lines().any(|l| l == line), "want {line:?} in\n{out}");
    }
    assert!(!out.contains("60784") && !out.contains("30679"), "{out}");
    // The merged block comes after the rows, once.
    assert_eq!(out.matches("leftovers (attributes").count(), 1, "{out}");
    assert!(out.find("row 4 ").unwrap() < out.find("leftovers (").unwrap());

    let run = w.run(["--json", "verify", "study.xlsx", "--leftovers"]);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 5, "{lines:?}");
    let attrs = |v: &serde_json::Value| v["leftovers"]["attributes"].as_array().unwrap().clone();
    let accession = |v: &serde_json::Value| {
        attrs(v)
            .into_iter()
            .find(|a| a["keyword"] == "AccessionNumber")
            .unwrap()
    };
    assert_eq!(accession(&lines[0])["files"], 2);
    assert_eq!(accession(&lines[1])["files"], 3);
    assert!(
        accession(&lines[0]).get("rows").is_none(),
        "a row's own: no rows"
    );
    assert!(
        lines[2].get("leftovers").is_none(),
        "no folders, no leftovers"
    );
    let study = &lines[4];
    assert_eq!(study["rows_checked"], 4);
    assert_eq!(accession(study)["files"], 5);
    assert_eq!(accession(study)["rows"], serde_json::json!([3, 4]));
    // Verifying changed nothing.
    assert_eq!(before, tree_hash(w.path()));
    // Without the flag, no summary.
    assert!(
        !w.run(["verify", "study.xlsx"])
            .stdout()
            .contains("leftovers")
    );
}

/// Every file under `dir`, at any depth.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// On a real Siemens file, `--leftovers` finds the scan date and the scanner's serial number
/// inside the UIDs and the CSA header (numbers only, never the values).
#[test]
fn leftovers_find_the_scan_date_and_serial_hidden_in_uids_and_csa() {
    let Some(dicom) = shared_path("dicom") else {
        return;
    };
    let w = Workdir::new();
    for dir in ["raw", "anon"] {
        std::fs::create_dir_all(w.join(dir)).unwrap();
        std::fs::copy(
            dicom.join("nibabel/siemens_dwi_1000.dcm"),
            w.join(dir).join("x.dcm"),
        )
        .unwrap();
    }
    let run = w.run([
        "verify",
        "raw",
        "anon",
        "--original-id",
        "NOSUCH-0",
        "--leftovers",
    ]);
    let out = run.stdout();
    for line in [
        "  1 file(s) hold the scan date inside a UID",
        "  1 file(s) hold the device serial number inside a UID",
        "  (0018,1000) DeviceSerialNumber in 1 file(s)",
    ] {
        assert!(out.lines().any(|l| l == line), "want {line:?} in {out}");
    }
}

/// Hostile deflated files (issue 11): 5,000 nested sequences, and an element declaring 3.7 GB,
/// each in a few hundred bytes. Each is a finding for its file; nothing aborts, the other file
/// is still checked.
#[test]
fn hostile_deflated_files_are_findings_not_crashes() {
    let deflated = |body: &[u8]| {
        let ts = b"1.2.840.10008.1.2.1.99\0";
        let mut b = vec![0u8; 128];
        b.extend_from_slice(b"DICM");
        b.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        b.extend_from_slice(&(ts.len() as u16).to_le_bytes());
        b.extend_from_slice(ts);
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut z, body).unwrap();
        b.extend(z.finish().unwrap());
        b
    };
    let mut nested = Vec::new();
    for _ in 0..5000 {
        nested.extend_from_slice(&[
            0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        nested.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    let mut huge = vec![0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0];
    huge.extend_from_slice(&0xE000_0000u32.to_le_bytes());
    huge.extend_from_slice(&[0; 64]);
    let w = Workdir::new();
    for dir in ["raw", "anon"] {
        std::fs::create_dir_all(w.join(dir)).unwrap();
        std::fs::write(w.join(dir).join("deep.dcm"), deflated(&nested)).unwrap();
        std::fs::write(w.join(dir).join("huge.dcm"), deflated(&huge)).unwrap();
    }
    assert!(std::fs::metadata(w.join("raw/deep.dcm")).unwrap().len() < 2000);
    let run = w.run(["verify", "raw", "anon", "--original-id", "5551234"]);
    run.expect_code(1);
    let out = run.stdout();
    assert!(
        out.contains("deep.dcm raw file unreadable (sequences nested too deeply)"),
        "{out}"
    );
    assert!(
        out.contains("huge.dcm raw file unreadable (element length beyond end of file)"),
        "{out}"
    );
}
