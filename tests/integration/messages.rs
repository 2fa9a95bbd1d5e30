//! Snapshots (insta) of the messages users see most: the errors that stop a command and the
//! notes a row gets in the sheet. A change of wording shows up as a snapshot diff to review
//! (`INSTA_UPDATE=always cargo test --test integration messages`, then read the `.snap` files).

use crate::harness::Workdir;
use crate::status::{save, simple_book};
use crate::sync::Study;
use anontrack::synth::{ParticipantSpec, write_participant};
use rust_xlsxwriter::Workbook;

/// The stderr of `anontrack ARGS` run in `w`, which must exit with `code`.
fn stderr(w: &Workdir, args: &[&str], code: i32) -> String {
    let run = w.run(args);
    run.expect_code(code);
    run.stderr()
}

#[test]
fn a_missing_workbook() {
    let w = Workdir::new();
    insta::assert_snapshot!(stderr(&w, &["sync", "STUDY_dataprocessing.xlsx"], 2));
}

#[test]
fn a_csv_instead_of_a_workbook() {
    let w = Workdir::new();
    std::fs::write(w.join("study.csv"), "ID,Original ID\n").unwrap();
    insta::assert_snapshot!(stderr(&w, &["status", "study.csv"], 2));
}

#[test]
fn a_workbook_without_the_header_row() {
    let w = Workdir::new();
    let mut book = Workbook::new();
    book.add_worksheet().write(0, 0, "Participant").unwrap();
    save(&w, "other.xlsx", book);
    insta::assert_snapshot!(stderr(&w, &["sync", "other.xlsx"], 2));
}

#[test]
fn a_workbook_without_the_id_column() {
    let w = Workdir::new();
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.write(1, 0, "DICOMS Anonymized").unwrap();
    ws.write(1, 1, "DICOM anonymization check").unwrap();
    save(&w, "other.xlsx", book);
    insta::assert_snapshot!(stderr(&w, &["status", "other.xlsx"], 2));
}

#[test]
fn a_workbook_open_in_excel() {
    let s = Study::simple(&[("S01", "5820001", "KH", "")]);
    std::fs::write(s.w.join("~$STUDY_dataprocessing.xlsx"), b"owner").unwrap();
    insta::assert_snapshot!(stderr(&s.w, &["sync", &s.book], 2));
}

#[test]
fn an_unknown_key_in_anontrack_toml() {
    let s = Study::simple(&[("S01", "5820001", "KH", "")]);
    std::fs::write(s.w.join("anontrack.toml"), "raw_dirs = \"raw/{id}\"\n").unwrap();
    insta::assert_snapshot!(stderr(&s.w, &["sync", "--dry-run", &s.book], 2));
}

#[test]
fn an_unknown_profile() {
    let s = Study::simple(&[("S01", "5820001", "KH", "")]);
    std::fs::write(s.w.join("anontrack.toml"), "profile = \"labb\"\n").unwrap();
    insta::assert_snapshot!(stderr(&s.w, &["sync", &s.book], 2));
}

#[test]
fn overlapping_folders() {
    let w = Workdir::new();
    write_participant(&w.join("raw"), &ParticipantSpec::new("5820001", 1)).unwrap();
    let args = ["raw", "raw/anon", "--original-id", "5820001"];
    let anonymize = [&["anonymize"][..], &args, &["--study-id", "S01"]].concat();
    let verify = [&["verify"][..], &args].concat();
    insta::assert_snapshot!(format!(
        "{}{}",
        stderr(&w, &anonymize, 2),
        stderr(&w, &verify, 2)
    ));
}

#[test]
fn the_notes_rows_get_in_the_sheet() {
    // A missing raw folder, an empty Original ID, an unsafe ID, and a check of a folder that
    // was never made: the notes a lab user reads most.
    let s = Study::simple(&[
        ("S01", "5820001", "KH", ""),
        ("S02", "", "KH", ""),
        ("S/03", "5820003", "JD", ""),
    ]);
    let mut book = simple_book(&[("S04", "5820004", "JD", "MF")]);
    let green =
        rust_xlsxwriter::Format::new().set_background_color(rust_xlsxwriter::Color::RGB(0x00B050));
    book.worksheet_from_index(0)
        .unwrap()
        .write_with_format(2, 3, "JD", &green)
        .unwrap();
    save(&s.w, "CHECK_dataprocessing.xlsx", book);
    s.sync(&[]).expect_code(1);
    s.w.run(["sync", "CHECK_dataprocessing.xlsx"])
        .expect_code(1);
    let mut status = s.status();
    status.extend(crate::status::status_summaries(
        &s.w,
        "CHECK_dataprocessing.xlsx",
    ));
    insta::assert_snapshot!(status.join("\n"));
}
