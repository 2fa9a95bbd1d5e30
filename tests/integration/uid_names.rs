//! UIDs in file and folder names (issue 9): under a standard profile, a raw name holding an
//! original UID gets the keyed UID in the anonymized folder, and `verify` maps names the same way
//! with its own implementation. Never print DICOM values here.

use crate::harness::{Workdir, listing};
use anontrack::deid::StudyKey;
use anontrack::synth::{ParticipantSpec, write_participant};
use dicom_dictionary_std::tags;
use std::path::Path;

fn uid_of(path: &Path, tag: dicom_core::Tag) -> String {
    let obj = dicom_object::open_file(path).unwrap();
    let v = obj.element(tag).unwrap().to_str().unwrap();
    v.trim_end_matches(['\0', ' ']).to_string()
}

/// A synthetic participant `P4321` in `raw/`, each series folder renamed `S_<SeriesInstanceUID>`
/// and each file `<SOPInstanceUID>.dcm`, as some exporters name them; returns the original UIDs.
fn participant_with_uid_names(w: &Workdir) -> Vec<String> {
    let raw = w.join("raw");
    let spec = ParticipantSpec::new("P4321", 41);
    write_participant(&raw, &spec).unwrap();
    let mut uids = Vec::new();
    for series in &spec.series {
        let dir = raw.join(&series.dir);
        let mut series_uid = None;
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let sop = uid_of(&f, tags::SOP_INSTANCE_UID);
            series_uid.get_or_insert_with(|| uid_of(&f, tags::SERIES_INSTANCE_UID));
            std::fs::rename(&f, dir.join(format!("{sop}.dcm"))).unwrap();
            uids.push(sop);
        }
        let s = series_uid.unwrap();
        std::fs::rename(&dir, raw.join(format!("S_{s}"))).unwrap();
        uids.push(s);
    }
    uids
}

fn cmd(w: &Workdir, what: &str, key: &str) -> crate::harness::Run {
    w.run([
        what,
        "raw",
        "anon",
        "--original-id",
        "P4321",
        "--study-id",
        "sub-01",
        "--profile",
        "basic",
        "--key-file",
        key,
    ])
}

#[test]
fn uids_in_names_are_keyed_and_verify_maps_them_with_the_right_key_only() {
    let w = Workdir::new();
    let uids = participant_with_uid_names(&w);
    assert!(uids.iter().all(|u| u.len() >= 16 && u.starts_with("2.25.")));
    StudyKey::load_or_create(&w.join("k1")).unwrap();
    StudyKey::load_or_create(&w.join("k2")).unwrap();
    cmd(&w, "anonymize", "k1").expect_code(0);
    let names = listing(&w.join("anon"));
    assert_eq!(names.len(), listing(&w.join("raw")).len());
    for n in &names {
        assert!(
            !uids.iter().any(|u| n.contains(u.as_str())),
            "an original UID in {n}"
        );
        let (dir, file) = n.rsplit_once('/').unwrap();
        assert!(
            dir.starts_with("S_2.25.") && file.starts_with("2.25."),
            "{n}"
        );
        assert!(file.ends_with(".dcm"));
    }
    let ok = cmd(&w, "verify", "k1");
    ok.expect_code(0);
    // Another key gives other names (and other UIDs): nothing pairs up.
    let wrong = cmd(&w, "verify", "k2");
    wrong.expect_code(1);
    assert!(wrong.stdout().contains("missing"), "{}", wrong.stdout());

    // A name holding an original UID is a finding of its own (the residual sweep of names).
    let one = w.join("anon").join(&names[0]);
    std::fs::copy(&one, one.with_file_name(format!("{}.dcm", uids[0]))).unwrap();
    let run = cmd(&w, "verify", "k1");
    run.expect_code(1);
    assert!(run.stdout().contains("an original UID"), "{}", run.stdout());
}

#[test]
fn sync_with_the_basic_profile_still_passes_on_the_synthetic_study() {
    let s = crate::sync::Study::simple(&[("S01", "5860001", "KH", "")]);
    s.participant(&ParticipantSpec::new("5860001", 62));
    std::fs::write(s.w.join("anontrack.toml"), "profile = \"basic\"\n").unwrap();
    s.sync(&[]).expect_code(0);
    assert_eq!(s.status(), ["3 S01 5860001 done(KH) not_started"]);
    assert!(!s.anon_files("S01").is_empty());
}

#[test]
fn the_lab_profile_leaves_uids_in_names_alone() {
    let w = Workdir::new();
    participant_with_uid_names(&w);
    let args = |what: &'static str| {
        [
            what,
            "raw",
            "anon",
            "--original-id",
            "P4321",
            "--study-id",
            "sub-01",
        ]
    };
    w.run(args("anonymize")).expect_code(0);
    assert_eq!(listing(&w.join("anon")), listing(&w.join("raw")));
    w.run(args("verify")).expect_code(0);
}
