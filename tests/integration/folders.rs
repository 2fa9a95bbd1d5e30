//! Tests of the rules `anonymize` and `verify` share about a participant's folder: one listing
//! rule for symbolic links (followed inside the folder, refused with a note outside it) and the
//! refusal of overlapping raw and anonymized folders.

use crate::harness::Workdir;
use anontrack::synth::{ParticipantSpec, write_participant};
use std::os::unix::fs::symlink;
use std::path::Path;

const ORIGINAL: &str = "5890001";

/// A participant written under `dir` (two series folders of four files); returns the series
/// folder names.
fn participant(dir: &Path) -> Vec<String> {
    write_participant(dir, &ParticipantSpec::new(ORIGINAL, 7)).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn anonymize(w: &Workdir, raw: &str, anon: &str) -> crate::harness::Run {
    w.run([
        "anonymize",
        raw,
        anon,
        "--original-id",
        ORIGINAL,
        "--study-id",
        "S01",
        "--date",
        "20240131",
    ])
}

fn verify(w: &Workdir, raw: &str, anon: &str) -> crate::harness::Run {
    w.run([
        "verify",
        raw,
        anon,
        "--original-id",
        ORIGINAL,
        "--study-id",
        "S01",
        "--date",
        "20240131",
    ])
}

#[test]
fn a_series_folder_linked_inside_the_raw_folder_is_anonymized_and_verified_alike() {
    let w = Workdir::new();
    // The scans live in `raw/.store`; the series folders the lab sees are links to them.
    let series = participant(&w.join("raw/.store"));
    for s in &series {
        symlink(Path::new(".store").join(s), w.join("raw").join(s)).unwrap();
    }
    let run = anonymize(&w, "raw", "anon");
    run.expect_code(0);
    assert!(
        run.stdout().starts_with("anonymized 16 of 16 DICOM files"),
        "{}",
        run.stdout()
    );
    assert_eq!(
        std::fs::read_dir(w.join("anon").join(&series[0]))
            .unwrap()
            .count(),
        4,
        "the linked series was not written"
    );
    verify(&w, "raw", "anon").expect_code(0);
}

#[test]
fn a_series_folder_linked_from_outside_is_refused_by_both_with_a_note() {
    let w = Workdir::new();
    let series = participant(&w.join("elsewhere"));
    std::fs::create_dir_all(w.join("raw")).unwrap();
    symlink(
        w.join("elsewhere").join(&series[0]),
        w.join("raw").join(&series[0]),
    )
    .unwrap();
    std::fs::rename(
        w.join("elsewhere").join(&series[1]),
        w.join("raw").join(&series[1]),
    )
    .unwrap();
    let note = format!(
        "{} is a symbolic link to a place outside the participant's folder; not followed",
        series[0]
    );
    let run = anonymize(&w, "raw", "anon");
    run.expect_code(1);
    assert!(run.stdout().contains(&note), "{}", run.stdout());
    assert!(!run.stdout().contains("elsewhere"), "{}", run.stdout());
    assert!(!w.join("anon").join(&series[0]).exists());
    let run = verify(&w, "raw", "anon");
    run.expect_code(1);
    assert!(run.stdout().contains(&note), "{}", run.stdout());
}

#[test]
fn verify_refuses_overlapping_folders_like_anonymize() {
    let w = Workdir::new();
    participant(&w.join("raw"));
    for anon in ["raw", "raw/anon", "."] {
        for run in [anonymize(&w, "raw", anon), verify(&w, "raw", anon)] {
            run.expect_code(2);
            assert!(run.stderr().contains("overlap"), "{}", run.stderr());
        }
    }
    assert!(!w.join("raw/anon").exists());
}
