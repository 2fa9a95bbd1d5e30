//! The first hour of a new user (issue 13, section 4): short notes in the sheet with the whole
//! finding in the report, warnings naming a row instead of a silent skip, a dry run that reports
//! the workbook's lock, and near-match hints for a missing raw folder.

use crate::sync::Study;

#[test]
fn a_long_finding_gets_a_short_note_and_the_whole_finding_in_the_report() {
    let original = "5880".repeat(20);
    let s = Study::simple(&[("S01", &original, "KH", "")]);
    let run = s.sync(&[]);
    run.expect_code(1);
    let full = format!("no raw folder found at sourcedata/{original}");
    let status = s.status();
    let note = status[0]
        .split_once("problem(KH: ")
        .and_then(|(_, rest)| rest.strip_suffix(") not_started"))
        .unwrap_or_else(|| panic!("{status:?}"));
    assert!(note.chars().count() <= 80, "{note}");
    assert!(
        note.starts_with("no raw folder found at sourcedata/5880") && note.ends_with("..."),
        "{note}"
    );
    let report = s.report("S01-anonymize.json");
    assert_eq!(report["findings"][0]["message"], full.as_str());
    // The terminal shows the whole finding under the short note.
    assert!(
        run.stdout().contains(&format!("finding: {full}")),
        "{}",
        run.stdout()
    );
}

#[test]
fn odd_workflow_cells_get_a_warning_naming_the_row() {
    let s = Study::simple(&[
        ("S01", "5890001", "", "KH"),
        ("S02", "5890002", "KH done", ""),
        ("S03", "5890003", "Kim Ho", ""),
        ("S04", "5890004", "", ""),
    ]);
    for args in [&["--dry-run"][..], &[]] {
        let run = s.sync(args);
        run.expect_code(0);
        let err = run.stderr();
        for expected in [
            "warning: row 3 (`S01`): the check cell E3 has initials but the anonymization cell D3 is empty",
            "warning: row 4 (`S02`): D4 reads `KH done`, neither initials alone nor a problem note",
            "warning: row 5 (`S03`): D5 reads `Kim Ho`, neither initials alone nor a problem note",
        ] {
            assert!(err.contains(expected), "{args:?}: {expected}\n{err}");
        }
        assert!(!err.contains("row 6"), "{err}");
    }
}

#[test]
fn a_dry_run_reports_the_lock_of_excel_or_libreoffice() {
    let s = Study::simple(&[("S01", "5890001", "KH", "")]);
    let run = s.sync(&["--dry-run"]);
    run.expect_code(0);
    assert!(!run.stderr().contains("lock file"), "{}", run.stderr());
    for (lock, app) in [
        (format!("~${}", s.book), "Excel"),
        (format!(".~lock.{}#", s.book), "LibreOffice"),
    ] {
        std::fs::write(s.w.join(&lock), "x").unwrap();
        let run = s.sync(&["--dry-run"]);
        run.expect_code(0);
        assert!(
            run.stdout().contains("plan: 1 to anonymize"),
            "{}",
            run.stdout()
        );
        assert!(
            run.stderr().contains(&format!(
                "note: the workbook is open in {app} (lock file `{lock}`): the real sync would refuse until it is closed"
            )),
            "{}",
            run.stderr()
        );
        // The real sync does refuse.
        s.sync(&[]).expect_code(2);
        std::fs::remove_file(s.w.join(&lock)).unwrap();
    }
}

#[test]
fn a_missing_raw_folder_gets_a_near_match_hint_unless_another_row_owns_it() {
    use anontrack::synth::ParticipantSpec;
    let s = Study::simple(&[("S01", "58253", "KH", "")]);
    s.participant(&ParticipantSpec::new("58235", 7));
    s.sync(&[]).expect_code(1);
    assert_eq!(
        s.status(),
        [
            "3 S01 58253 problem(KH: no raw folder found at sourcedata/58253 (did you mean sourcedata/58235?)) not_started"
        ]
    );
    // The near folder is another row's participant: no hint pointing at their data.
    let s = Study::simple(&[("S01", "58253", "KH", ""), ("S02", "58235", "", "")]);
    s.participant(&ParticipantSpec::new("58235", 7));
    s.sync(&[]).expect_code(1);
    assert_eq!(
        s.status()[0],
        "3 S01 58253 problem(KH: no raw folder found at sourcedata/58253) not_started"
    );
    // A hint that would not fit the cell goes to the report only.
    let long = "5".repeat(50);
    let near = format!("{}6", "5".repeat(49));
    let s = Study::simple(&[("S01", &long, "KH", "")]);
    s.participant(&ParticipantSpec::new(near.clone(), 7));
    s.sync(&[]).expect_code(1);
    let report = s.report("S01-anonymize.json");
    assert_eq!(
        report["findings"][1]["message"],
        format!("a folder with a similar name exists: sourcedata/{near}").as_str()
    );
}
