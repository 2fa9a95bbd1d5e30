//! Tests of `demo`: the README's first command, run by the real binary in a temp folder.

use crate::harness::{Workdir, tree_hash};
use serde_json::Value;

const WORKBOOK: &str = "DEMO_dataprocessing.xlsx";

/// `status --json` of a demo folder, by ID.
fn status(wd: &Workdir, dir: &str) -> Vec<Value> {
    let run = wd.run(["--json", "status", &format!("{dir}/{WORKBOOK}")]);
    run.expect_code(0);
    run.json_lines()
}

fn by_id<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["id"] == id)
        .unwrap_or_else(|| panic!("no row for ID {id} in {lines:#?}"))
}

#[track_caller]
fn assert_cell(line: &Value, cell: &str, state: &str, initials: Option<&str>) {
    assert_eq!(line[cell]["state"], state, "{cell} of {line}");
    match initials {
        Some(i) => assert_eq!(line[cell]["initials"], i, "{cell} of {line}"),
        None => assert!(line[cell]["initials"].is_null(), "{cell} of {line}"),
    }
}

#[test]
fn demo_runs_sync_and_leaves_every_state_as_designed() {
    let wd = Workdir::new();
    let run = wd.run(["demo"]);
    run.expect_code(0);
    let out = run.stdout();
    assert!(out.contains("$ anontrack sync anontrack-demo/DEMO_dataprocessing.xlsx"));
    assert!(out.contains("$ anontrack status"), "{out}");
    assert!(out.contains(".anontrack/reports/"), "{out}");
    assert!(out.contains("working as designed"), "{out}");

    let lines = status(&wd, "anontrack-demo");
    assert_eq!(lines.len(), 7, "{lines:#?}");
    // Done and checked before: untouched.
    let l = by_id(&lines, "101");
    assert_cell(l, "anonymization", "done", Some("JD"));
    assert_cell(l, "check", "done", Some("MF"));
    // Anonymization pending: sync anonymized it and turned it green, initials kept.
    let l = by_id(&lines, "102");
    assert_eq!(l["original_id"], "58102");
    assert_cell(l, "anonymization", "done", Some("KH"));
    assert_cell(l, "check", "not_started", None);
    // Check pending on a correct folder: verified green.
    let l = by_id(&lines, "103");
    assert_cell(l, "anonymization", "done", Some("JD"));
    assert_cell(l, "check", "done", Some("MF"));
    // Check pending on a folder anonymized by hand without PatientComments: the lab's note.
    let l = by_id(&lines, "104");
    assert_cell(l, "check", "problem", Some("KH"));
    let note = l["check"]["note"].as_str().unwrap();
    assert!(
        note.starts_with("(0010,4000)") && note.contains("PatientComments not anonymous"),
        "{note}"
    );
    // The name in a private element: the anonymization cell names the element.
    let l = by_id(&lines, "105");
    assert_cell(l, "anonymization", "problem", Some("KH"));
    assert_cell(l, "check", "not_started", None);
    let note = l["anonymization"]["note"].as_str().unwrap();
    assert!(note.contains("(0033,1013)"), "{note}");
    // Red row: excluded, left alone.
    let l = by_id(&lines, "106");
    assert_eq!(l["excluded"], true);
    assert_cell(l, "anonymization", "not_started", None);
    // Nobody claimed it: not started.
    let l = by_id(&lines, "107");
    assert_eq!(l["excluded"], false);
    assert_cell(l, "anonymization", "not_started", None);
    assert_cell(l, "check", "not_started", None);

    // The folders sync made or left, and its reports.
    let dir = wd.join("anontrack-demo");
    assert!(dir.join("AnonDcm/102").is_dir());
    assert!(!dir.join("AnonDcm/107").exists());
    assert!(dir.join(".anontrack/reports/104-verify.json").is_file());
    assert!(dir.join(".anontrack/audit.jsonl").is_file());
    assert!(dir.join("anontrack.toml").is_file());
    // Nothing but the demo folder in the current directory.
    let names: Vec<_> = std::fs::read_dir(wd.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["anontrack-demo"]);

    // The demo's sync finished the job: a second sync has nothing to do and changes nothing.
    let before = std::fs::read(dir.join(WORKBOOK)).unwrap();
    wd.run(["sync", "anontrack-demo/DEMO_dataprocessing.xlsx"])
        .expect_code(0);
    assert_eq!(std::fs::read(dir.join(WORKBOOK)).unwrap(), before);
}

#[test]
fn a_second_demo_gets_its_own_folder_and_leaves_the_first_alone() {
    let wd = Workdir::new();
    wd.run(["demo"]).expect_code(0);
    let first = tree_hash(&wd.join("anontrack-demo"));
    let run = wd.run(["demo"]);
    run.expect_code(0);
    assert!(
        run.stdout().contains("anontrack-demo-2"),
        "{}",
        run.stdout()
    );
    assert_eq!(tree_hash(&wd.join("anontrack-demo")), first);
    assert_eq!(status(&wd, "anontrack-demo-2").len(), 7);
}

#[test]
fn an_explicit_folder_must_be_new_or_empty() {
    let wd = Workdir::new();
    // New: made.
    wd.run(["demo", "my/new/place"]).expect_code(0);
    assert!(wd.join("my/new/place").join(WORKBOOK).is_file());
    // Empty: used.
    std::fs::create_dir(wd.join("empty")).unwrap();
    wd.run(["demo", "empty"]).expect_code(0);
    assert!(wd.join("empty").join(WORKBOOK).is_file());
    // Not empty: refused, untouched.
    std::fs::create_dir(wd.join("full")).unwrap();
    std::fs::write(wd.join("full/keep.txt"), "mine").unwrap();
    let before = tree_hash(wd.path());
    let run = wd.run(["demo", "full"]);
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("`full` exists and is not an empty folder"),
        "{}",
        run.stderr()
    );
    assert!(run.stdout().is_empty());
    assert_eq!(tree_hash(wd.path()), before);
}

#[test]
fn json_is_refused_with_a_hint_and_nothing_on_stdout() {
    let wd = Workdir::new();
    let run = wd.run(["--json", "demo"]);
    run.expect_code(2);
    assert!(run.stdout().is_empty(), "{}", run.stdout());
    assert!(run.stderr().contains("status --json"), "{}", run.stderr());
    assert_eq!(std::fs::read_dir(wd.path()).unwrap().count(), 0);
}

#[test]
fn only_made_up_names_in_the_scans_and_none_in_notes_reports_or_output() {
    let wd = Workdir::new();
    let run = wd.run(["demo", "d"]);
    run.expect_code(0);
    let dir = wd.join("d");

    // Every raw file's PatientName is one of synth's fake names.
    let mut names = std::collections::BTreeSet::new();
    let mut stack = vec![dir.join("sourcedata")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let obj = dicom_object::open_file(&p).unwrap();
            let name = obj
                .element(dicom_dictionary_std::tags::PATIENT_NAME)
                .unwrap()
                .to_str()
                .unwrap()
                .trim_end()
                .to_string();
            names.insert(name);
        }
    }
    assert!(!names.is_empty());
    for n in &names {
        assert!(anontrack::synth::FAKE_NAMES.contains(&n.as_str()), "{n}");
    }

    // Even those made-up names never reach the output, the reports, the audit log or the
    // workbook (the xlsx is a zip: read its sheet and shared strings through calamine).
    let mut texts = vec![run.stdout(), run.stderr()];
    for sub in [".anontrack/reports", ".anontrack"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                texts.push(std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(dir.join(WORKBOOK)).unwrap();
    let range = book.worksheet_range("Sheet1").unwrap();
    texts.extend(range.cells().map(|(_, _, v)| v.to_string()));
    for text in &texts {
        for fake in anontrack::synth::FAKE_NAMES {
            let family = fake.split('^').nth(1).unwrap();
            assert!(
                !text.contains(fake) && !text.contains(family),
                "{fake} in {text}"
            );
        }
    }
}
