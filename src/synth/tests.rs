//! Unit tests of the generator: files open with dicom-object, carry what the spec says, are
//! deterministic, hold the seeded faults, and leak neither the ID nor the name anywhere else.

use super::*;
use crate::anonymize::profile::Profile;
use dicom_core::header::Header;
use dicom_core::{Tag, VR};
use dicom_object::{InMemDicomObject, open_file};

fn text(obj: &InMemDicomObject, group: u16, elem: u16) -> String {
    obj.element(Tag(group, elem))
        .unwrap_or_else(|e| panic!("({group:04X},{elem:04X}) missing: {e}"))
        .to_str()
        .unwrap()
        .trim_end_matches([' ', '\0'])
        .to_string()
}

fn write(spec: &ParticipantSpec) -> (tempfile::TempDir, Written) {
    let tmp = tempfile::tempdir().unwrap();
    let written = write_participant(&tmp.path().join("p"), spec).unwrap();
    (tmp, written)
}

#[test]
fn files_open_and_carry_the_spec() {
    let spec = ParticipantSpec::new("60784", 7).series(2, 3).matrix(32, 48);
    let (_tmp, w) = write(&spec);
    assert_eq!(w.files.len(), 6);
    assert!(
        w.files[0].ends_with("T1_MPRAGE_0002/IM-0001.dcm"),
        "{:?}",
        w.files[0]
    );
    assert!(w.files[5].ends_with("RESTING_STATE_0003/IM-0003.dcm"));
    let on_disk: u64 = w
        .files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert_eq!(w.bytes, on_disk);
    for (i, path) in w.files.iter().enumerate() {
        let obj = open_file(path).unwrap();
        assert_eq!(
            obj.meta().transfer_syntax().trim_end_matches('\0'),
            EXPLICIT_VR_LE
        );
        assert_eq!(text(&obj, 0x0008, 0x0016), header::MR_IMAGE_STORAGE);
        assert_eq!(
            obj.meta()
                .media_storage_sop_instance_uid()
                .trim_end_matches('\0'),
            text(&obj, 0x0008, 0x0018)
        );
        assert_eq!(text(&obj, 0x0010, 0x0020), "60784");
        assert_eq!(text(&obj, 0x0010, 0x0010), spec.patient_name);
        assert!(FAKE_NAMES.contains(&spec.patient_name.as_str()));
        assert_eq!(text(&obj, 0x0020, 0x0013), ((i % 3) + 1).to_string());
        assert_eq!(
            obj.element(Tag(0x0028, 0x0010))
                .unwrap()
                .to_int::<u16>()
                .unwrap(),
            32
        );
        assert_eq!(
            obj.element(Tag(0x0028, 0x0011))
                .unwrap()
                .to_int::<u16>()
                .unwrap(),
            48
        );
        let pixels = obj.element(Tag(0x7FE0, 0x0010)).unwrap();
        assert_eq!(pixels.to_bytes().unwrap().len(), 32 * 48 * 2);
        let csa = obj.private_element(0x0029, CSA_CREATOR, 0x10).unwrap();
        assert_eq!(csa.vr(), VR::OB);
        assert!(csa.to_bytes().unwrap().starts_with(b"SV10"));
        let medcom = obj.private_element(0x0029, MEDCOM_CREATOR, 0x60).unwrap();
        assert_eq!(medcom.to_str().unwrap().trim(), "com");
        let refs = obj.element(Tag(0x0008, 0x1140)).unwrap();
        assert_eq!(refs.items().unwrap().len(), 3);
        assert!(obj.element(Tag(0x0040, 0x0275)).unwrap().items().is_some());
        assert!(
            obj.element(Tag(0x0033, 0x1013)).is_err(),
            "no fault asked for"
        );
    }
}

#[test]
fn every_lab_rule_but_the_medcom_versions_is_present() {
    // TrioTim files carry (0029,1009)/(0029,1019) but not the MEDCOM (0029,1109)/(0029,1119).
    let (_tmp, w) = write(&ParticipantSpec::new("101", 1).series(1, 1));
    let obj = open_file(&w.files[0]).unwrap();
    for rule in Profile::lab().rules {
        let present = obj.element(Tag(rule.tag.0, rule.tag.1)).is_ok();
        let medcom = rule.tag.0 == 0x0029 && rule.tag.1 >= 0x1100;
        assert_eq!(present, !medcom, "{} {}", rule.tag, rule.keyword);
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_uids() {
    let spec = ParticipantSpec::new("70001", 42).series(2, 2);
    let (_a, wa) = write(&spec);
    let (_b, wb) = write(&spec);
    let (_c, wc) = write(&ParticipantSpec {
        seed: 43,
        ..spec.clone()
    });
    for ((a, b), c) in wa.files.iter().zip(&wb.files).zip(&wc.files) {
        assert_eq!(
            std::fs::read(a).unwrap(),
            std::fs::read(b).unwrap(),
            "{a:?}"
        );
        let (oa, oc) = (open_file(a).unwrap(), open_file(c).unwrap());
        for (g, e) in [
            (0x0008, 0x0018),
            (0x0020, 0x000D),
            (0x0020, 0x000E),
            (0x0020, 0x0052),
        ] {
            assert_ne!(text(&oa, g, e), text(&oc, g, e), "({g:04X},{e:04X})");
        }
        let pixels = |o: &InMemDicomObject| {
            o.element(Tag(0x7FE0, 0x0010))
                .unwrap()
                .to_bytes()
                .unwrap()
                .to_vec()
        };
        assert_ne!(pixels(&oa), pixels(&oc));
    }
}

#[test]
fn uids_are_unique_within_a_participant() {
    let (_tmp, w) = write(&ParticipantSpec::new("70001", 3).series(3, 4));
    let mut sop = std::collections::HashSet::new();
    let mut series = std::collections::HashSet::new();
    let mut study = std::collections::HashSet::new();
    for f in &w.files {
        let o = open_file(f).unwrap();
        assert!(sop.insert(text(&o, 0x0008, 0x0018)));
        series.insert(text(&o, 0x0020, 0x000E));
        study.insert(text(&o, 0x0020, 0x000D));
    }
    assert_eq!((sop.len(), series.len(), study.len()), (12, 3, 1));
}

#[test]
fn implicit_vr_files_open_with_their_private_blocks() {
    let spec = ParticipantSpec::new("70001", 5)
        .series(1, 2)
        .implicit_vr(true);
    let (_tmp, w) = write(&spec);
    let obj = open_file(&w.files[1]).unwrap();
    assert_eq!(
        obj.meta().transfer_syntax().trim_end_matches('\0'),
        IMPLICIT_VR_LE
    );
    assert_eq!(text(&obj, 0x0029, 0x0010), CSA_CREATOR);
    assert_eq!(text(&obj, 0x0010, 0x0020), "70001");
    let csa = obj.element(Tag(0x0029, 0x1010)).unwrap();
    assert!(csa.to_bytes().unwrap().starts_with(b"SV10"));
}

/// Every string in `obj`, recursively through sequences, with its tag; binary values as lossy text.
fn all_text(obj: &InMemDicomObject, out: &mut Vec<(Tag, String)>) {
    for elem in obj.iter() {
        if let Some(items) = elem.items() {
            for item in items {
                all_text(item, out);
            }
        } else if elem.tag() != Tag(0x7FE0, 0x0010) {
            let bytes = elem.to_bytes().map(|b| b.to_vec()).unwrap_or_default();
            out.push((elem.tag(), String::from_utf8_lossy(&bytes).to_lowercase()));
        }
    }
}

#[test]
fn id_and_name_appear_only_where_they_belong() {
    let spec = study_participant(0, 2, 3, 11).matrix(32, 32);
    let (_tmp, w) = write(&spec);
    let components: Vec<String> = spec
        .patient_name
        .split('^')
        .map(str::to_lowercase)
        .collect();
    for f in &w.files {
        let mut texts = Vec::new();
        all_text(&open_file(f).unwrap(), &mut texts);
        for (tag, value) in texts {
            if tag != Tag(0x0010, 0x0020) {
                assert!(!value.contains(&spec.original_id), "ID in {tag} of {f:?}");
            }
            if tag != Tag(0x0010, 0x0010) {
                for c in &components {
                    assert!(!value.contains(c.as_str()), "name part in {tag} of {f:?}");
                }
            }
        }
    }
}

#[test]
fn faults_are_seeded() {
    let spec = ParticipantSpec::new("60784", 9)
        .series(2, 3)
        .faults(Faults::all());
    let (_tmp, w) = write(&spec);
    assert_eq!(w.files.len(), 7);
    let notes = w.files.last().unwrap();
    assert!(notes.ends_with(NOTES_FILE));
    assert!(
        !std::fs::read(notes)
            .unwrap()
            .windows(4)
            .any(|x| x == b"DICM")
    );
    // Name in the MITRA block, first series only.
    let first = open_file(&w.files[0]).unwrap();
    let mitra = first.private_element(0x0033, MITRA_CREATOR, 0x13).unwrap();
    assert_eq!(mitra.to_str().unwrap().trim(), spec.patient_name);
    assert!(
        open_file(&w.files[3])
            .unwrap()
            .element(Tag(0x0033, 0x1013))
            .is_err()
    );
    // Mismatch: last file of the first series is someone else's.
    let other = open_file(&w.files[2]).unwrap();
    assert_eq!(text(&other, 0x0010, 0x0020), "60785");
    assert_ne!(text(&other, 0x0010, 0x0010), spec.patient_name);
    assert_eq!(
        text(&open_file(&w.files[1]).unwrap(), 0x0010, 0x0020),
        "60784"
    );
    // Truncated: the last DICOM file no longer opens, and is shorter than its siblings.
    let truncated = &w.files[5];
    assert!(open_file(truncated).is_err());
    let len = |p: &PathBuf| std::fs::metadata(p).unwrap().len();
    assert!(len(truncated) < len(&w.files[4]));
}

#[test]
fn refuses_a_folder_with_files() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("x"), b"keep").unwrap();
    let err = write_participant(tmp.path(), &ParticipantSpec::new("1", 1)).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert_eq!(std::fs::read(tmp.path().join("x")).unwrap(), b"keep");
}

#[test]
fn study_layout_and_ids() {
    let tmp = tempfile::tempdir().unwrap();
    // Tiny shape through the public spec, to keep the test fast.
    let written: Vec<Written> = (0..2)
        .map(|i| {
            let spec = study_participant(i, 1, 2, 5).matrix(16, 16);
            write_participant(
                &tmp.path().join("sourcedata").join(&spec.original_id),
                &spec,
            )
            .unwrap()
        })
        .collect();
    assert_eq!(written[0].original_id, "70001");
    assert_eq!(written[1].original_id, "70002");
    assert!(
        tmp.path()
            .join("sourcedata/70002/T1_MPRAGE_0002/IM-0002.dcm")
            .is_file()
    );
    let a = open_file(&written[0].files[0]).unwrap();
    let b = open_file(&written[1].files[0]).unwrap();
    assert_ne!(text(&a, 0x0010, 0x0010), text(&b, 0x0010, 0x0010));
    assert_ne!(text(&a, 0x0020, 0x000D), text(&b, 0x0020, 0x000D));
}

#[test]
fn write_study_writes_the_benchmark_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let w = write_study(tmp.path(), 1, 1, 2, 1).unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].files.len(), 2);
    // 240x240 16-bit pixels plus a few KB of header: about 120 KB per file.
    let per_file = w[0].bytes / 2;
    assert!((115_000..125_000).contains(&per_file), "{per_file}");
}

#[test]
fn file_bytes_matches_the_written_file() {
    let spec = ParticipantSpec::new("70001", 4).faults(Faults::all());
    let (_tmp, w) = write(&spec);
    assert_eq!(
        file_bytes(&spec, 1, 2).unwrap(),
        std::fs::read(&w.files[6]).unwrap()
    );
    assert_eq!(
        file_bytes(&spec, 0, 3).unwrap(),
        std::fs::read(&w.files[3]).unwrap()
    );
    assert!(file_bytes(&spec, 1, 4).is_err());
    assert!(file_bytes(&spec, 2, 0).is_err());
}
