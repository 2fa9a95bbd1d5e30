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
        ("S05", "5890005", "done", ""),
        ("S06", "5890006", "OK", ""),
        ("S07", "5890007", "x", ""),
    ]);
    for args in [&["--dry-run"][..], &[]] {
        let run = s.sync(args);
        run.expect_code(0);
        let err = run.stderr();
        let mut expected = vec![
            "warning: row 3 (`S01`): the check cell E3 has initials but the anonymization cell D3 is empty".to_string(),
            "warning: row 4 (`S02`): D4 holds initials and one more word, neither initials alone nor a problem note, so the row is skipped (hint: write initials alone to ask for the work; a finished step is filled green)".into(),
            "warning: row 5 (`S03`): D5 holds initials and one more word, neither initials alone nor a problem note".into(),
        ];
        // A word for "done" is not a claim: the row is not worked, and the warning says why.
        for (row, id) in [(7, "S05"), (8, "S06"), (9, "S07")] {
            expected.push(format!(
                "warning: row {row} (`{id}`): D{row} holds a word that marks a step done, not initials, so the row is skipped (hint: a finished step is filled green; initials alone ask for the work, with dots if they spell a word, like `O.K.`)"
            ));
        }
        for e in &expected {
            assert!(err.contains(e.as_str()), "{args:?}: {e}\n{err}");
        }
        assert!(!err.contains("row 6"), "{err}");
        // The cells' text is not repeated on stderr.
        for text in ["KH done", "Kim Ho", "`done`", "`OK`", "`x`"] {
            assert!(!err.contains(text), "{text}: {err}");
        }
    }
    let out = s.sync(&["--dry-run"]).stdout();
    assert!(
        out.contains("plan: 0 to anonymize, 0 to verify, 7 skipped"),
        "{out}"
    );
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

#[test]
fn the_vr_note_shows_once_per_study_and_always_with_verbose() {
    use anontrack::synth::ParticipantSpec;
    let s = Study::simple(&[
        ("S01", "5896001", "KH", ""),
        ("S02", "5896002", "", ""),
        ("S03", "5896003", "", ""),
    ]);
    for (i, original) in ["5896001", "5896002", "5896003"].into_iter().enumerate() {
        s.participant(&ParticipantSpec::new(original, 90 + i as u64));
    }
    let vr_notes = |run: &crate::harness::Run| {
        run.stderr()
            .lines()
            .filter(|l| l.starts_with("note: the `lab` profile writes `Anonymous`"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let run = s.sync(&[]);
    run.expect_code(0);
    let first = vr_notes(&run);
    assert_eq!(first.len(), 1, "{}", run.stderr());
    assert!(
        first[0].ends_with("(shown once per study; `-v` always shows it)"),
        "{first:?}"
    );
    assert!(s.w.join(".anontrack/notes-shown").is_file());
    // The next sync that writes the same kind of fields stays quiet about it.
    s.set_text(4, 3, "KH");
    let run = s.sync(&[]);
    run.expect_code(0);
    assert!(run.stdout().contains("S02"), "{}", run.stdout());
    assert_eq!(vr_notes(&run), Vec::<String>::new(), "{}", run.stderr());
    // `-v` shows it again.
    s.set_text(5, 3, "KH");
    let run = s.sync(&["-v"]);
    run.expect_code(0);
    assert_eq!(vr_notes(&run).len(), 1, "{}", run.stderr());
}

#[test]
fn an_id_check_failure_names_the_first_files_in_the_report_and_with_verbose() {
    use anontrack::synth::{ParticipantSpec, write_participant};
    let s = Study::simple(&[("S01", "5897001", "KH", "")]);
    let raw = s.participant(&ParticipantSpec::new("5897001", 71));
    // Someone else's scans copied into the folder: 8 more files, none of them this person's.
    write_participant(&raw.join("extra"), &ParticipantSpec::new("5897002", 72)).unwrap();
    // One named after that other person, as exporters do: their ID is masked in its name.
    let series = raw.join("extra/RESTING_STATE_0003");
    std::fs::rename(series.join("IM-0001.dcm"), series.join("5897002_0001.dcm")).unwrap();
    let first = [
        "extra/RESTING_STATE_0003/[PatientID]_0001.dcm",
        "extra/RESTING_STATE_0003/IM-0002.dcm",
        "extra/RESTING_STATE_0003/IM-0003.dcm",
    ];
    let note = "ID check failed in 8 of 16 files: check the folder and Original ID";

    let run = s.sync(&[]);
    run.expect_code(1);
    // The note fits the cell, says what to check, and names no file.
    assert_eq!(
        s.status(),
        [format!("3 S01 5897001 problem(KH: {note}) not_started")]
    );
    assert!(note.chars().count() <= 80);
    // Without `-v` the files are named only in the report.
    assert!(!run.stderr().contains("extra/"), "{}", run.stderr());
    let report = s.report("S01-anonymize.json");
    assert_eq!(report["findings"][0]["message"], note);
    let id_check = &report["anonymize"]["id_check"];
    assert_eq!(
        (id_check["files"].as_u64(), id_check["failing"].as_u64()),
        (Some(16), Some(8))
    );
    let named: Vec<&str> = id_check["first_failing"]
        .as_array()
        .unwrap_or_else(|| panic!("{id_check}"))
        .iter()
        .map(|f| f["file"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(named, first);
    assert_eq!(id_check["first_failing"][0]["patient_id"], "differs");
    assert_eq!(id_check["patient_name"]["differs"], 8);
    crate::sync::assert_run_has_no_phi(&s, &run, &["5897002"]);

    // With `-v` (the note cleared, as a person does after looking): the counts by field and the
    // first files, on stderr, with why each fails.
    s.set_text(3, 3, "KH");
    let run = s.sync(&["-v"]);
    run.expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains(
            "note: row 3 (`S01`): ID check: neither PatientID nor PatientName matches the Original ID in 8 of 16 files (PatientID differs in 8, PatientName differs in 8); nothing was written"
        ),
        "{err}"
    );
    for f in first {
        assert!(
            err.contains(&format!(
                "      {f}: PatientID and PatientName do not match the Original ID"
            )),
            "{f}: {err}"
        );
    }
    assert!(err.contains("      and 5 more failing file(s)"), "{err}");
    assert!(!err.contains("IM-0004.dcm"), "only the first three: {err}");
    assert!(!run.stdout().contains("extra/"), "{}", run.stdout());
    crate::sync::assert_run_has_no_phi(&s, &run, &["5897002"]);
    assert_eq!(
        s.status(),
        [format!("3 S01 5897001 problem(KH: {note}) not_started")]
    );

    // `anontrack anonymize` prints them too.
    let run = s.w.run([
        "anonymize",
        "sourcedata/5897001",
        "out",
        "--original-id",
        "5897001",
        "--study-id",
        "S01",
    ]);
    run.expect_code(1);
    let out = run.stdout();
    assert!(out.contains(&format!("  {note}")), "{out}");
    for f in first {
        assert!(out.contains(&format!("  {f}: ")), "{f}: {out}");
    }
    assert!(!s.w.join("out").exists());
    crate::sync::assert_run_has_no_phi(&s, &run, &["5897002"]);
}

#[test]
fn the_vr_note_shows_once_per_study_in_cluster_work_too() {
    use crate::cluster::{plan_out, six_participants, work};
    let s = six_participants();
    plan_out(&s).expect_code(0);
    let vr_notes = |run: &crate::harness::Run| {
        run.stderr()
            .lines()
            .filter(|l| l.starts_with("note: the `lab` profile writes `Anonymous`"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    // The first task to write such fields says it, and says it once.
    let first = work(&s, 0);
    first.expect_code(0);
    let notes = vr_notes(&first);
    assert_eq!(notes.len(), 1, "{}", first.stderr());
    assert!(
        notes[0].ends_with("(shown once per study; `-v` always shows it)"),
        "{notes:?}"
    );
    assert!(s.w.join(".anontrack/notes-shown").is_file());
    // The next tasks of the study stay quiet about it.
    for i in [1, 2] {
        let run = work(&s, i);
        run.expect_code(0);
        assert_eq!(vr_notes(&run), Vec::<String>::new(), "{}", run.stderr());
    }
    // `-v` shows it every time.
    let run = s.w.run(["-v", "work", "plan.json", "--index", "3"]);
    run.expect_code(0);
    assert_eq!(vr_notes(&run).len(), 1, "{}", run.stderr());
    // And a local sync of the same study knows it was shown.
    let run = s.sync(&[]);
    assert!(run.stdout().contains("S01"), "{}", run.stdout());
    assert_eq!(vr_notes(&run), Vec::<String>::new(), "{}", run.stderr());
}

#[test]
fn a_cluster_task_names_the_id_checks_first_files_with_verbose() {
    use anontrack::synth::{Faults, ParticipantSpec};
    let s = Study::simple(&[("S01", "5898001", "KH", "")]);
    s.participant(&ParticipantSpec::new("5898001", 81).faults(Faults {
        id_mismatch: true,
        ..Faults::default()
    }));
    crate::cluster::plan_out(&s).expect_code(0);
    let file = "T1_MPRAGE_0002/IM-0004.dcm";
    let quiet = crate::cluster::work(&s, 0);
    quiet.expect_code(1);
    assert!(!quiet.stderr().contains(file), "{}", quiet.stderr());
    let run = s.w.run(["-v", "work", "plan.json", "--index", "0"]);
    run.expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("note: row 3 (`S01`): ID check: neither PatientID nor PatientName matches the Original ID in 1 of 8 files"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "      {file}: PatientID and PatientName do not match the Original ID"
        )),
        "{err}"
    );
    // The saved result carries it to the collect step; the note stays short.
    crate::cluster::collect(&s).expect_code(1);
    assert_eq!(
        s.status(),
        [
            "3 S01 5898001 problem(KH: ID check failed in 1 of 8 files: check the folder and Original ID) not_started"
        ]
    );
    crate::sync::assert_run_has_no_phi(&s, &run, &["5898002"]);
}

/// A checker no machine has, for the two probes below.
const NEVER_INSTALLED: &str = "the never-installed checker (a test probe)";

/// Skips like a test whose checker is missing, only when the test below runs it.
fn skip_probe() {
    if std::env::var_os("ANONTRACK_SKIP_PROBE").is_some() {
        assert!(!crate::harness::require(NEVER_INSTALLED, false));
    }
}

#[test]
fn skip_probe_one() {
    skip_probe();
}

#[test]
fn skip_probe_two() {
    skip_probe();
}

#[test]
fn a_missing_checker_shows_one_line_in_the_cargo_test_output() {
    // This test binary again, running the two probes as `cargo test` would (output captured).
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "first_hour::skip_probe_one",
            "first_hour::skip_probe_two",
        ])
        .args(["--test-threads", "1"])
        .env("ANONTRACK_SKIP_PROBE", "1")
        .env_remove("ANONTRACK_REQUIRE_TOOLS")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 passed"), "{stdout}");
    let line = format!(
        "note: tests that need {NEVER_INSTALLED} skip those checks: it is missing (ANONTRACK_REQUIRE_TOOLS=1 fails instead)"
    );
    let shown = format!("{stdout}{stderr}");
    assert_eq!(shown.matches(line.as_str()).count(), 1, "{shown}");
    // Under ANONTRACK_REQUIRE_TOOLS=1 the same skip is a failure.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "first_hour::skip_probe_one"])
        .env("ANONTRACK_SKIP_PROBE", "1")
        .env("ANONTRACK_REQUIRE_TOOLS", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn a_mistyped_workbook_or_profile_file_gets_a_near_match_hint() {
    let s = Study::simple(&[("S01", "5890001", "KH", "")]);
    let run = s.w.run(["sync", "--dry-run", "STUDY_dataprocesing.xlsx"]);
    run.expect_code(2);
    assert_eq!(
        run.stderr().trim_end(),
        "error: cannot find `STUDY_dataprocesing.xlsx` (hint: did you mean `STUDY_dataprocessing.xlsx`?)"
    );
    // Far from any file: the usual hint.
    let run = s.w.run(["sync", "--dry-run", "OTHER.xlsx"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("(hint: check the path;"),
        "{}",
        run.stderr()
    );
    // A profile file named in anontrack.toml.
    let profile = s.w.run(["profile", "show", "lab"]);
    profile.expect_code(0);
    std::fs::write(s.w.join("lab_profile.toml"), profile.stdout()).unwrap();
    std::fs::write(
        s.w.join("anontrack.toml"),
        "profile = \"lab_profle.toml\"\n",
    )
    .unwrap();
    let run = s.sync(&["--dry-run"]);
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("lab_profle.toml` (hint: did you mean `")
            && run.stderr().contains("lab_profile.toml`?)"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_mistyped_header_gets_a_near_match_hint() {
    let s = Study::simple(&[("S01", "5890001", "KH", "")]);
    s.set_text(2, 3, "DICOMS Anonymised");
    let run = s.sync(&["--dry-run"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains(
            "no cell equal to `DICOMS Anonymized` (hint: did you mean `DICOMS Anonymised` in sheet `Sheet1`? rename that cell to `DICOMS Anonymized`, or set `columns.anonymized` in anontrack.toml to its text)"
        ),
        "{}",
        run.stderr()
    );
    let s = Study::simple(&[("S01", "5890001", "KH", "")]);
    s.set_text(2, 4, "DICOM anonymisation chek");
    let run = s.sync(&["--dry-run"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains(
            "cannot find column `DICOM anonymization check` in row 2 of sheet `Sheet1` in `STUDY_dataprocessing.xlsx` (hint: did you mean `DICOM anonymisation chek`? rename that header to `DICOM anonymization check`, or set `columns.check` in anontrack.toml to its text)"
        ),
        "{}",
        run.stderr()
    );
    // Nothing near: the general hint, no guess.
    s.set_text(2, 4, "Reviewed by");
    let run = s.sync(&["--dry-run"]);
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("cannot find column `DICOM anonymization check`")
            && !run.stderr().contains("did you mean"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_config_error_names_the_line_it_is_on() {
    let s = Study::simple(&[("S01", "5890001", "KH", "")]);
    std::fs::write(
        s.w.join("anontrack.toml"),
        "# anontrack settings\n\n# where the scans are\nraw_dir = \"sourcedata/{original_id}\"\n\n[columns]\nidd = \"Subject\"\n",
    )
    .unwrap();
    let run = s.sync(&["--dry-run"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains(": line 7: unknown field `idd`"),
        "{}",
        run.stderr()
    );
}
