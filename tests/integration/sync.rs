//! Tests of `sync`, end to end with the real binary: the lab's workbook and a richer one keep
//! everything but the owned cells (checked byte-level per zip entry, with xlsx_diff/openpyxl and
//! LibreOffice), Excel's lock file, the problem paths (ID mismatch, a name in a private element,
//! a non-DICOM file, unsafe folder names, `--fail-fast`, a cleared note), the output modes, and
//! the reports and audit log. The crash test is in `sync_crash.rs`.
//!
//! Participants are synthetic (`anontrack::synth`, made-up names). Never print DICOM values.

use crate::harness::{Run, Workdir, copy_lab_workbook, listing, tree_hash};
use crate::status::{save, simple_book, status_summaries};
use crate::xlsx_check::{
    FEATURES, SHEET_XML, STYLES_XML, assert_only_parts_changed, cell_element, openpyxl, part,
    soffice_csv, strip_cells, xlsx_diff,
};
use anontrack::synth::{FAKE_NAMES, Faults, ParticipantSpec, write_participant};
use rust_xlsxwriter::{
    Chart, Color, ConditionalFormatCell, ConditionalFormatCellRule, DataValidation,
    DataValidationRule, Format, FormatBorder, Formula, Note, Workbook,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A study folder: the workbook, raw participants under `sourcedata/`, and the binary run there.
pub struct Study {
    pub w: Workdir,
    pub book: String,
}

impl Study {
    /// A copy of the lab's workbook as `STUDYNAME_dataprocessing.xlsx`; `None` without ../shared.
    pub fn lab() -> Option<Self> {
        let w = Workdir::new();
        let name = "STUDYNAME_dataprocessing.xlsx";
        copy_lab_workbook(&w, name)?;
        Some(Self {
            w,
            book: name.into(),
        })
    }

    /// `book` saved as `STUDY_dataprocessing.xlsx`.
    pub fn with_book(book: Workbook) -> Self {
        let w = Workdir::new();
        let name = "STUDY_dataprocessing.xlsx";
        save(&w, name, book);
        Self {
            w,
            book: name.into(),
        }
    }

    /// A study whose workbook is `simple_book(rows)`: (ID, Original ID, anonymization, check)
    /// in rows 3.., with the anonymization in column D and the check in column E.
    pub fn simple(rows: &[(&str, &str, &str, &str)]) -> Self {
        Self::with_book(simple_book(rows))
    }

    /// Writes a synthetic participant into `sourcedata/<original_id>`.
    pub fn participant(&self, spec: &ParticipantSpec) -> PathBuf {
        let dir = self.raw().join(&spec.original_id);
        write_participant(&dir, spec).expect("write participant");
        dir
    }

    pub fn raw(&self) -> PathBuf {
        self.w.join("sourcedata")
    }

    pub fn path(&self) -> PathBuf {
        self.w.join(&self.book)
    }

    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(self.path()).expect("read workbook")
    }

    /// What a person does in Excel to clear a note: sets the cell's text (row 1-based, column
    /// 0-based, on `Sheet1`), keeping its style.
    pub fn set_text(&self, row: u32, col: u32, text: &str) {
        let edited = anontrack::sheet::write::patch_package(
            &self.bytes(),
            "Sheet1",
            &[anontrack::sheet::write::CellEdit {
                row,
                col,
                text: Some(text.into()),
                green: false,
            }],
        )
        .unwrap();
        std::fs::write(self.path(), edited).unwrap();
    }

    /// `anontrack [extra...] sync BOOK`.
    pub fn sync(&self, extra: &[&str]) -> Run {
        let mut args = vec!["sync"];
        args.extend_from_slice(extra);
        args.push(&self.book);
        self.w.run(args)
    }

    pub fn status(&self) -> Vec<String> {
        status_summaries(&self.w, &self.book)
    }

    /// Every file in the study folder outside `sourcedata/`, `AnonDcm/` and `.anontrack/`,
    /// other than the workbook.
    pub fn stray_files(&self) -> Vec<String> {
        tree_hash(self.w.path())
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| {
                !(p.starts_with("sourcedata/")
                    || p.starts_with("AnonDcm/")
                    || p.starts_with(".anontrack/")
                    || *p == self.book)
            })
            .collect()
    }

    /// Every file under `AnonDcm/<id>`, relative, sorted.
    pub fn anon_files(&self, id: &str) -> Vec<String> {
        let dir = self.w.join("AnonDcm").join(id);
        if !dir.exists() {
            return Vec::new();
        }
        listing(&dir)
    }

    /// Everything anontrack wrote that a person reads: the reports, the audit log and the sheet XML.
    pub fn written_text(&self) -> String {
        let mut out = String::new();
        let state = self.w.join(".anontrack");
        if state.exists() {
            for (rel, _) in tree_hash(&state) {
                // Backups are the workbook; rejected/ holds the DICOM output that failed the
                // check (data kept for inspection, not text anontrack writes).
                if rel.starts_with("backups/") || rel.starts_with("rejected/") {
                    continue;
                }
                out.push_str(&std::fs::read_to_string(state.join(&rel)).unwrap());
            }
        }
        for (name, _, plain) in crate::xlsx_check::entries(&self.bytes()) {
            if name.ends_with(".xml") {
                out.push_str(&String::from_utf8_lossy(&plain));
            }
        }
        out
    }

    /// The report `.anontrack/reports/<name>`, parsed.
    pub fn report(&self, name: &str) -> Value {
        let p = self.w.join(".anontrack/reports").join(name);
        serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{name}: {e}")))
            .unwrap()
    }

    /// The audit log's lines, parsed.
    pub fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.w.join(".anontrack/audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
            .collect()
    }
}

/// Asserts that none of the made-up names (nor `extra` strings) appear in `text`.
#[track_caller]
fn assert_no_phi(what: &str, text: &str, extra: &[&str]) {
    for name in FAKE_NAMES {
        for part in name.split('^') {
            assert!(!text.contains(part), "{what} holds a patient name part");
        }
    }
    for e in extra {
        assert!(!text.contains(e), "{what} holds `{e}`");
    }
}

/// Asserts both output streams and everything written hold no PHI.
#[track_caller]
pub(crate) fn assert_run_has_no_phi(s: &Study, run: &Run, extra: &[&str]) {
    assert_no_phi("stdout", &run.stdout(), extra);
    assert_no_phi("stderr", &run.stderr(), extra);
    assert_no_phi(
        "the reports, audit log or workbook",
        &s.written_text(),
        extra,
    );
}

// ---------------------------------------------------------------- the lab's workbook

/// F4's note: row 110's check is pending but neither of its folders exists.
const F4_NOTE: &str = "KH no anonymized folder found at AnonDcm/110 (+1 more)";

#[test]
fn lab_workbook_end_to_end_changes_only_the_owned_cells() {
    let Some(s) = Study::lab() else { return };
    let spec = ParticipantSpec::new("58253", 11);
    s.participant(&spec);
    let raw_before = tree_hash(&s.raw());
    let before = s.bytes();

    let run = s.sync(&[]);
    run.expect_code(1);
    let out = run.stdout();
    assert!(
        out.contains("row 9    114        anonymized: passed (8 files written)"),
        "{out}"
    );
    assert!(
        out.contains(
            "row 4    110        problem: no anonymized folder found at AnonDcm/110 (+1 more) (details: .anontrack/reports/110-verify.json)"
        ),
        "{out}"
    );

    // Byte level: every entry but the sheet XML and styles.xml is untouched, and inside the
    // sheet XML only E9 and F4 changed.
    let after = s.bytes();
    let changed = assert_only_parts_changed(&before, &after, &[SHEET_XML, STYLES_XML]);
    assert!(changed.contains(&SHEET_XML.to_owned()), "{changed:?}");
    let (xa, xb) = (part(&before, SHEET_XML), part(&after, SHEET_XML));
    assert_eq!(
        strip_cells(&xa, &["E9", "F4"]),
        strip_cells(&xb, &["E9", "F4"])
    );
    let f4 = cell_element(&xb, "F4");
    assert!(f4.contains(&format!(">{F4_NOTE}</t>")), "{f4}");

    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("before.xlsx");
    std::fs::write(&a, &before).unwrap();
    if let Some((cells, lines)) = xlsx_diff(&a, &s.path()) {
        assert_eq!(
            cells,
            BTreeSet::from(["Sheet1!E9".to_owned(), "Sheet1!F4".to_owned()]),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .filter(|l| l.starts_with("part"))
                .all(|l| { l.ends_with(SHEET_XML) || l.ends_with(STYLES_XML) }),
            "{lines:?}"
        );
    }
    let script = r#"
import sys, openpyxl
ws = openpyxl.load_workbook(sys.argv[1])["Sheet1"]
print(ws["E9"].value, ws["E9"].fill.fill_type, ws["E9"].fill.fgColor.rgb)
print(ws["F4"].value, ws["F4"].fill.fill_type)
"#;
    if let Some(o) = openpyxl(script, &[&s.path()]) {
        assert_eq!(o, format!("KH solid FF00B050\n{F4_NOTE} None\n"));
    }
    if let Some(csv) = soffice_csv(&s.path()) {
        assert!(csv.lines().nth(3).unwrap().contains(F4_NOTE), "{csv}");
        assert!(csv.lines().nth(8).unwrap().contains("KH"), "{csv}");
    }

    let status = s.status();
    assert_eq!(status[6], "9 114 58253 done(KH) not_started");
    assert_eq!(
        status[1],
        format!(
            "4 110 30679 done(JD) problem({})",
            F4_NOTE.replacen(' ', ": ", 1)
        )
    );
    assert_eq!(s.anon_files("114").len(), spec.file_count());
    assert_eq!(tree_hash(&s.raw()), raw_before, "the raw tree changed");
    assert_eq!(s.stray_files(), Vec::<String>::new());

    // A second sync: F4 waits for a person, E9 is done: nothing to do, the file is untouched.
    let mtime = std::fs::metadata(s.path()).unwrap().modified().unwrap();
    let again = s.sync(&[]);
    again.expect_code(0);
    assert!(
        again.stdout().contains("nothing to do"),
        "{}",
        again.stdout()
    );
    assert!(s.bytes() == after, "a second sync changed the workbook");
    assert_eq!(
        std::fs::metadata(s.path()).unwrap().modified().unwrap(),
        mtime
    );
    assert_eq!(tree_hash(&s.raw()), raw_before);
    assert_eq!(s.stray_files(), Vec::<String>::new());
}

// ---------------------------------------------------------------- a richer workbook

const RICH_HEADERS: [&str; 8] = [
    "Scan Date",
    "Study",
    "Scan Notes",
    "ID",
    "DICOMS Anonymized",
    "DICOM anonymization check",
    "BIDS Conversion",
    "Original ID",
];

/// A workflow cell of the rich workbook: (text, green), or empty.
type Cell = Option<(&'static str, bool)>;

/// A workbook a lab could have grown: a read-me sheet with a note first, the participant table
/// on the second sheet under a merged title (header in row 3), a validation with two formulas,
/// conditional formats, a chart, notes, defined names, an autofilter, merges, frozen panes and
/// widths, and a third sheet of limits.
fn rich_book() -> Workbook {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold().set_border(FormatBorder::Thin);
    let body = Format::new()
        .set_border(FormatBorder::Thin)
        .set_font_size(12);
    let green = body.clone().set_background_color(Color::RGB(0x00B050));
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let red = Format::new().set_font_color("#9C0006");
    {
        let ws = wb.add_worksheet();
        ws.set_name("Read me").unwrap();
        ws.write(0, 0, "How we track scans (made-up text)").unwrap();
        ws.insert_note(0, 0, &Note::new("kept by the lab manager"))
            .unwrap();
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("Tracking").unwrap();
        ws.merge_range(0, 0, 0, 3, "Participants", &bold).unwrap();
        ws.merge_range(1, 4, 1, 5, "DICOM", &bold).unwrap();
        for (c, h) in RICH_HEADERS.iter().enumerate() {
            ws.write_with_format(2, c as u16, *h, &bold).unwrap();
        }
        // S01 pending anonymization (raw folder present), S02 anonymized with a pending check
        // and no anonymized folder, S03 done and checked, S04 not started.
        let rows: [(&str, &str, Cell, Cell); 4] = [
            ("S01", "5810001", Some(("KH", false)), None),
            ("S02", "5810002", Some(("JD", true)), Some(("MF", false))),
            ("S03", "5810003", Some(("JD", true)), Some(("KH", true))),
            ("S04", "5810004", None, None),
        ];
        for (i, (id, orig, anon, check)) in rows.iter().enumerate() {
            let r = 3 + i as u32;
            ws.write_number_with_format(r, 0, 45000.0 + f64::from(r), &date)
                .unwrap();
            ws.write(r, 1, "Pilot & <main>").unwrap();
            ws.write_with_format(r, 3, *id, &body).unwrap();
            for (col, cell) in [(4, anon), (5, check)] {
                match cell {
                    Some((text, true)) => ws.write_with_format(r, col, *text, &green).unwrap(),
                    Some((text, false)) => ws.write_with_format(r, col, *text, &body).unwrap(),
                    None => ws.write_blank(r, col, &body).unwrap(),
                };
            }
            ws.write(r, 7, *orig).unwrap();
        }
        ws.write_formula(9, 6, Formula::new("=COUNTA(D4:D7)"))
            .unwrap();
        ws.set_column_width(2, 40).unwrap();
        ws.set_column_width(4, 14.5).unwrap();
        ws.set_freeze_panes(3, 0).unwrap();
        ws.autofilter(2, 0, 6, 7).unwrap();
        let dv = DataValidation::new().allow_whole_number_formula(DataValidationRule::Between(
            Formula::new("=Limits!$A$1"),
            Formula::new("=Limits!$A$2"),
        ));
        ws.add_data_validation(3, 6, 30, 6, &dv).unwrap();
        let cf = ConditionalFormatCell::new()
            .set_rule(ConditionalFormatCellRule::GreaterThan(45005))
            .set_format(&red);
        ws.add_conditional_format(3, 0, 30, 0, &cf).unwrap();
        ws.insert_note(
            3,
            2,
            &Note::new("made-up note for S01").add_author_prefix(false),
        )
        .unwrap();
        let mut chart = Chart::new_column();
        chart.add_series().set_values("=Limits!$A$1:$A$2");
        ws.insert_chart(12, 1, &chart).unwrap();
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("Limits").unwrap();
        ws.write(0, 0, 1).unwrap();
        ws.write(1, 0, 9).unwrap();
        ws.insert_note(0, 0, &Note::new("lower bound")).unwrap();
    }
    wb.define_name("LowBound", "=Limits!$A$1").unwrap();
    wb.define_name("Tracking!Queue", "=Tracking!$E$4:$E$7")
        .unwrap();
    wb
}

#[test]
fn rich_workbook_end_to_end_changes_only_the_owned_cells() {
    const TRACKING_XML: &str = "xl/worksheets/sheet2.xml";
    let s = Study::with_book(rich_book());
    s.participant(&ParticipantSpec::new("5810001", 21));
    let raw_before = tree_hash(&s.raw());
    let before = s.bytes();

    s.sync(&[]).expect_code(1);
    let after = s.bytes();
    // styles.xml may gain a green twin of E4's format; here one exists already (E5).
    let changed = assert_only_parts_changed(&before, &after, &[TRACKING_XML, STYLES_XML]);
    assert_eq!(changed, [TRACKING_XML]);
    let (xa, xb) = (part(&before, TRACKING_XML), part(&after, TRACKING_XML));
    assert_eq!(
        strip_cells(&xa, &["E4", "F5"]),
        strip_cells(&xb, &["E4", "F5"])
    );
    assert_eq!(
        s.status(),
        [
            "4 S01 5810001 done(KH) not_started",
            "5 S02 5810002 done(JD) problem(MF: no anonymized folder found at AnonDcm/S02 (+1 more))",
            "6 S03 5810003 done(JD) done(KH)",
            "7 S04 5810004 not_started not_started",
        ]
    );

    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("before.xlsx");
    std::fs::write(&a, &before).unwrap();
    if let Some((cells, lines)) = xlsx_diff(&a, &s.path()) {
        assert_eq!(
            cells,
            BTreeSet::from(["Tracking!E4".to_owned(), "Tracking!F5".to_owned()]),
            "{lines:?}"
        );
    }
    if let (Some(fa), Some(fb)) = (openpyxl(FEATURES, &[&a]), openpyxl(FEATURES, &[&s.path()])) {
        // The features are really there, so comparing them means something.
        for want in [
            "Tracking dv [('whole', None, 'Limits!$A$1', 'Limits!$A$2', 'G4:G31')]",
            "Tracking merged ['A1:D1', 'E2:F2']",
            "Tracking panes A4 filter A3:H7",
            "Tracking charts 1",
            "Tracking C4 None made-up note for S01",
            "Tracking cf [('A4:A31', [('cellIs', 'greaterThan', ['45005'])])]",
        ] {
            assert!(fa.contains(want), "missing `{want}` in\n{fa}");
        }
        let owned = |l: &&str| l.starts_with("Tracking E4 ") || l.starts_with("Tracking F5 ");
        let rest = |f: &str| {
            f.lines()
                .filter(|l| !owned(l))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(rest(&fa), rest(&fb));
        let line = |f: &str, p: &str| f.lines().find(|l| l.starts_with(p)).unwrap().to_owned();
        assert_eq!(
            line(&fb, "Tracking E4 "),
            line(&fa, "Tracking E4 ").replace("None 00000000", "solid FF00B050")
        );
        assert!(
            line(&fb, "Tracking F5 ").starts_with(
                "Tracking F5 'MF no anonymized folder found at AnonDcm/S02 (+1 more)' None None"
            ),
            "{fb}"
        );
    }
    if let Some(csv) = soffice_csv(&s.path()) {
        // LibreOffice converts the first sheet; it must open the package at all.
        assert!(csv.contains("How we track scans"), "{csv}");
    }
    assert_eq!(tree_hash(&s.raw()), raw_before);
    assert_eq!(s.stray_files(), Vec::<String>::new());
    s.sync(&[]).expect_code(0);
    assert!(s.bytes() == after, "a second sync changed the workbook");
}

// ---------------------------------------------------------------- Excel's lock file

#[test]
fn a_lock_file_stops_sync_before_any_work() {
    let s = Study::simple(&[("S01", "5820001", "KH", "")]);
    s.participant(&ParticipantSpec::new("5820001", 31));
    std::fs::write(s.w.join("~$STUDY_dataprocessing.xlsx"), b"owner").unwrap();
    let before = tree_hash(s.w.path());

    let run = s.sync(&[]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("close the workbook in Excel"),
        "{}",
        run.stderr()
    );
    assert_eq!(tree_hash(s.w.path()), before, "something was written");
    assert!(!s.w.join("AnonDcm").exists());

    // Closing Excel (the lock file goes) lets the same sync through.
    std::fs::remove_file(s.w.join("~$STUDY_dataprocessing.xlsx")).unwrap();
    s.sync(&[]).expect_code(0);
    assert_eq!(s.status(), ["3 S01 5820001 done(KH) not_started"]);
}

// ---------------------------------------------------------------- problem paths

#[test]
fn an_id_mismatch_is_a_note_without_phi_and_writes_nothing() {
    let s = Study::simple(&[("S01", "5830001", "KH", "")]);
    let spec = ParticipantSpec::new("5830001", 41).faults(Faults {
        id_mismatch: true,
        ..Faults::default()
    });
    s.participant(&spec);
    let raw_before = tree_hash(&s.raw());

    let run = s.sync(&[]);
    run.expect_code(1);
    let status = s.status();
    assert_eq!(status.len(), 1);
    // The note fits the cell whole and says what to check; the report holds the details.
    assert_eq!(
        status[0],
        "3 S01 5830001 problem(KH: ID check failed in 1 of 8 files: check the folder and Original ID) not_started"
    );
    assert_eq!(s.anon_files("S01"), Vec::<String>::new());
    assert_eq!(tree_hash(&s.raw()), raw_before);
    // The mismatching file's ID is the next number; neither it nor any name leaks anywhere.
    assert_run_has_no_phi(&s, &run, &["5830002"]);
    let report = s.report("S01-anonymize.json");
    assert_eq!(report["outcome"], "problem");
    let id_check = &report["anonymize"]["id_check"];
    assert_eq!(id_check["failing"], 1, "{id_check}");
    assert_eq!(id_check["patient_id"]["differs"], 1, "{id_check}");
    assert_eq!(report["anonymize"]["written"], Value::Array(vec![]));
}

#[test]
fn a_name_in_a_private_element_becomes_the_verifiers_note() {
    let s = Study::simple(&[("S01", "5840001", "KH", "")]);
    s.participant(&ParticipantSpec::new("5840001", 51).faults(Faults {
        name_in_private: true,
        ..Faults::default()
    }));
    let run = s.sync(&[]);
    run.expect_code(1);
    let status = s.status();
    assert!(
        status[0]
            == "3 S01 5840001 problem(KH: (0033,1013) private element holds the patient's name in 4 files) not_started",
        "{status:?}"
    );
    assert_run_has_no_phi(&s, &run, &[]);
    let report = s.report("S01-anonymize.json");
    assert_eq!(report["outcome"], "problem");
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["tag"] == "(0033,1013)"),
        "{report}"
    );
    // The output that failed the check is not left where anonymized data lives.
    assert!(!s.w.join("AnonDcm/S01").exists());
    assert!(s.w.join(".anontrack/rejected/S01").is_dir());
    assert!(
        run.stdout().contains("moved to .anontrack/rejected/S01"),
        "{}",
        run.stdout()
    );

    // Fixed (here: the raw files replaced by clean ones), the note cleared: the next sync
    // anonymizes again into AnonDcm, and the old rejected copy stays out of the way.
    std::fs::remove_dir_all(s.w.join("sourcedata/5840001")).unwrap();
    s.participant(&ParticipantSpec::new("5840001", 52));
    s.set_text(3, 3, "KH");
    s.sync(&[]).expect_code(0);
    assert_eq!(s.anon_files("S01").len(), 8);
    assert!(s.w.join(".anontrack/rejected/S01").is_dir());
}

#[test]
fn a_non_dicom_file_is_skipped_and_listed_but_not_a_problem() {
    let s = Study::simple(&[("S01", "5850001", "KH", "")]);
    s.participant(&ParticipantSpec::new("5850001", 61).faults(Faults {
        notes_file: true,
        ..Faults::default()
    }));
    let run = s.sync(&[]);
    run.expect_code(0);
    assert!(run.stdout().contains("notes.txt"), "{}", run.stdout());
    assert_eq!(s.status(), ["3 S01 5850001 done(KH) not_started"]);
    assert!(!s.anon_files("S01").iter().any(|f| f.ends_with("notes.txt")));
    let report = s.report("S01-anonymize.json");
    assert_eq!(
        report["anonymize"]["not_dicom"],
        serde_json::json!(["notes.txt"])
    );
    assert_eq!(s.audit()[0]["files_skipped"], 1);
}

#[test]
fn a_raw_folder_without_dicom_files_is_a_note_naming_it() {
    let s = Study::simple(&[("S01", "5851001", "KH", ""), ("S02", "5851002", "JD", "")]);
    std::fs::create_dir_all(s.raw().join("5851001")).unwrap();
    std::fs::create_dir_all(s.raw().join("5851002")).unwrap();
    std::fs::write(s.raw().join("5851002/notes.txt"), b"scan notes").unwrap();
    let run = s.sync(&[]);
    run.expect_code(1);
    assert_eq!(
        s.status(),
        [
            "3 S01 5851001 problem(KH: no DICOM files found in sourcedata/5851001) not_started",
            "4 S02 5851002 problem(JD: no DICOM files found in sourcedata/5851002) not_started"
        ]
    );
    assert!(s.anon_files("S01").is_empty() && s.anon_files("S02").is_empty());
}

#[test]
fn an_unsafe_folder_name_is_a_note_not_a_crash() {
    let s = Study::simple(&[("S01", "../x", "KH", ""), ("S/02", "5860002", "JD", "")]);
    let run = s.sync(&[]);
    run.expect_code(1);
    let status = s.status();
    assert!(
        status[0].starts_with("3 S01 ../x problem(KH: raw folder:"),
        "{status:?}"
    );
    assert!(
        status[1].starts_with("4 S/02 5860002 problem(JD: anonymized folder:"),
        "{status:?}"
    );
    assert!(!s.w.join("AnonDcm").exists());
    assert!(!s.w.path().parent().unwrap().join("x").exists());
    assert_eq!(s.stray_files(), Vec::<String>::new());
}

#[test]
fn fail_fast_stops_after_the_first_problem_row_in_sheet_order() {
    // Row 3 passes, row 4 has an unsafe name (a problem found while planning), row 5 would pass.
    let s = Study::simple(&[
        ("S01", "5870001", "KH", ""),
        ("S02", "../x", "KH", ""),
        ("S03", "5870003", "KH", ""),
    ]);
    s.participant(&ParticipantSpec::new("5870001", 71));
    s.participant(&ParticipantSpec::new("5870003", 73));
    let run = s.sync(&["--fail-fast"]);
    run.expect_code(1);
    let status = s.status();
    assert_eq!(status[0], "3 S01 5870001 done(KH) not_started");
    assert!(status[1].contains("problem(KH: raw folder:"), "{status:?}");
    assert_eq!(status[2], "5 S03 5870003 pending(KH) not_started");
    assert!(s.anon_files("S03").is_empty());
    assert!(
        run.stderr().contains("--fail-fast") && run.stderr().contains("1 row(s) not started"),
        "{}",
        run.stderr()
    );
    // Without it, the rest is done and the problem row waits for a person.
    s.sync(&[]).expect_code(0);
    assert_eq!(s.status()[2], "5 S03 5870003 done(KH) not_started");
}

#[test]
fn a_cleared_note_is_picked_up_again() {
    let s = Study::simple(&[("S01", "5880001", "KH", "")]);
    // No raw folder yet: a problem.
    s.sync(&[]).expect_code(1);
    assert_eq!(
        s.status(),
        ["3 S01 5880001 problem(KH: no raw folder found at sourcedata/5880001) not_started"]
    );
    // While the note is there, nothing happens even once the folder exists.
    s.participant(&ParticipantSpec::new("5880001", 81));
    s.sync(&[]).expect_code(0);
    assert!(s.anon_files("S01").is_empty());
    // A person clears the note, keeping the initials.
    s.set_text(3, 3, "KH");
    s.sync(&[]).expect_code(0);
    assert_eq!(s.status(), ["3 S01 5880001 done(KH) not_started"]);
    assert_eq!(s.anon_files("S01").len(), 8);
}

// ---------------------------------------------------------------- output modes

/// One passing row, one problem row (no anonymized folder for a pending check).
fn two_row_study() -> Study {
    let s = Study::with_book({
        let mut b = simple_book(&[("S01", "5890001", "KH", ""), ("S02", "5890002", "", "MF")]);
        // S02's anonymization is green (done).
        let green = Format::new().set_background_color(Color::RGB(0x00B050));
        b.worksheet_from_index(0)
            .unwrap()
            .write_with_format(3, 3, "JD", &green)
            .unwrap();
        b
    });
    s.participant(&ParticipantSpec::new("5890001", 91));
    s
}

#[test]
fn json_mode_prints_one_object_per_line_and_nothing_else() {
    let s = two_row_study();
    let run = s.sync(&["--json"]);
    run.expect_code(1);
    let lines = run.json_lines();
    assert!(lines.iter().all(Value::is_object), "{}", run.stdout());
    let rows: Vec<_> = lines
        .iter()
        .filter(|v| v.get("row").is_some())
        .map(|v| format!("{} {} {}", v["row"], v["action"], v["passed"]))
        .collect();
    assert_eq!(rows, ["3 \"anonymize\" true", "4 \"verify\" false"]);
    let last = lines.last().unwrap();
    assert_eq!(last["summary"], true);
    assert_eq!(last["problems"], 1);
    assert_eq!(last["workbook_written"], true);
}

#[test]
fn quiet_mode_prints_nothing_on_stdout() {
    let s = two_row_study();
    let run = s.sync(&["--quiet"]);
    run.expect_code(1);
    assert_eq!(run.stdout(), "");
    assert_eq!(run.stderr(), "");
    assert_eq!(s.status()[0], "3 S01 5890001 done(KH) not_started");
}

// ---------------------------------------------------------------- reports and audit

#[test]
fn reports_and_audit_lines_hold_the_listed_fields_and_no_phi() {
    let s = two_row_study();
    let run = s.sync(&["--date", "20240102"]);
    run.expect_code(1);

    let r = s.report("S01-anonymize.json");
    for key in [
        "tool_version",
        "time",
        "profile",
        "findings",
        "anonymize",
        "verify",
    ] {
        assert!(r.get(key).is_some(), "report lacks `{key}`: {r}");
    }
    assert_eq!(
        (&r["row"], &r["id"], &r["action"], &r["date"], &r["outcome"]),
        (
            &Value::from(3),
            &Value::from("S01"),
            &Value::from("anonymize"),
            &Value::from("20240102"),
            &Value::from("passed")
        )
    );
    assert_eq!(r["anonymize"]["written"].as_array().unwrap().len(), 8);
    let v = s.report("S02-verify.json");
    assert_eq!(v["outcome"], "problem");
    assert!(
        v["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no anonymized folder found at AnonDcm/S02")
    );

    let audit = s.audit();
    assert_eq!(audit.len(), 2);
    for line in &audit {
        for key in [
            "time",
            "tool_version",
            "workbook",
            "row",
            "id",
            "initials",
            "action",
            "profile",
            "date",
            "files_written",
            "files_skipped",
            "outcome",
        ] {
            assert!(line.get(key).is_some(), "audit line lacks `{key}`: {line}");
        }
    }
    let short: Vec<_> = audit
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {} {} {} {}",
                a["row"],
                a["id"],
                a["initials"],
                a["action"],
                a["date"],
                a["files_written"],
                a["outcome"]
            )
        })
        .collect();
    assert_eq!(
        short,
        [
            "3 \"S01\" \"KH\" \"anonymize\" \"20240102\" 8 \"passed\"",
            "4 \"S02\" \"MF\" \"verify\" null 0 \"problem\"",
        ]
    );
    assert_run_has_no_phi(&s, &run, &[]);
}

// ---------------------------------------------------------------- messages around the run

#[test]
fn the_vr_note_is_short_and_printed_once_and_paths_have_no_dot_slash() {
    let s = Study::simple(&[("S01", "5895001", "KH", ""), ("S02", "5895002", "KH", "")]);
    s.participant(&ParticipantSpec::new("5895001", 95));
    s.participant(&ParticipantSpec::new("5895002", 96));
    // A temp file a sync killed during its save left behind, a while ago; and a fresh one that
    // might be another run's, which is left alone.
    let stale = s.w.join(".anontrack-save-killed.tmp");
    let fresh = s.w.join(".anontrack-save-other.tmp");
    std::fs::write(&stale, b"half a workbook").unwrap();
    std::fs::write(&fresh, b"half a workbook").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();

    let run = s.sync(&[]);
    run.expect_code(0);
    let err = run.stderr();
    let notes: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("not valid DICOM"))
        .collect();
    assert_eq!(notes.len(), 1, "{err}");
    assert!(
        notes[0].starts_with("note: the `lab` profile writes `Anonymous` into ")
            && notes[0].contains("the images are not affected")
            && notes[0].len() < 300,
        "{err}"
    );
    assert!(
        err.contains("backup of the previous workbook: `.anontrack/backups/"),
        "{err}"
    );
    assert!(!err.contains("./") && !run.stdout().contains("./"), "{err}");
    // The full list stays in the report.
    let r = s.report("S01-anonymize.json");
    assert!(
        r["anonymize"]["vr_warnings"].as_array().unwrap().len() > 3,
        "{r}"
    );
    assert!(!stale.exists(), "the stale temp file is still there");
    assert!(fresh.exists(), "a fresh temp file was removed");
}

#[test]
fn a_workbook_that_is_a_folder_is_a_clear_error() {
    let w = Workdir::new();
    std::fs::create_dir_all(w.join("study.xlsx")).unwrap();
    for cmd in ["sync", "status"] {
        let run = w.run([cmd, "study.xlsx"]);
        run.expect_code(2);
        let err = run.stderr();
        assert!(
            err.starts_with("error: `study.xlsx` is a folder, not a workbook (hint: "),
            "{cmd}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{cmd}: {err}");
    }
}

#[test]
fn a_closed_stdout_does_not_stop_the_work_or_the_save() {
    // `anontrack sync BOOK | head -1`: the reader is gone before the first row's line.
    let s = two_row_study();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(crate::harness::bin())
        .args(["sync", &s.book])
        .current_dir(s.w.path())
        .stdout(writer)
        .output()
        .expect("run anontrack");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        s.status()[..2],
        [
            "3 S01 5890001 done(KH) not_started",
            "4 S02 5890002 done(JD) problem(MF: no anonymized folder found at AnonDcm/S02 (+1 more))"
        ]
    );
}

// ---------------------------------------------------------------- standard profiles

#[test]
fn sync_with_the_neuro_profile_anonymizes_verifies_and_keys_the_study() {
    let s = Study::simple(&[("S01", "5860001", "KH", "")]);
    s.participant(&ParticipantSpec::new("5860001", 61));
    std::fs::write(s.w.join("anontrack.toml"), "profile = \"neuro\"\n").unwrap();

    let run = s.sync(&[]);
    run.expect_code(0);
    assert_eq!(s.status(), ["3 S01 5860001 done(KH) not_started"]);
    // The key was made on first use, private to its owner, and never printed.
    let key_path = s.w.join(".anontrack/study.key");
    let key = std::fs::read(&key_path).expect("the study key");
    assert_eq!(key.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(run.stderr().contains("study key"), "{}", run.stderr());

    // The sheet's ID is the pseudonym and the standard's markers are there.
    let files = s.anon_files("S01");
    assert!(!files.is_empty());
    for rel in &files {
        let obj = dicom_object::open_file(s.w.join("AnonDcm/S01").join(rel)).unwrap();
        let text =
            |t: dicom_core::Tag| obj.element(t).unwrap().to_str().unwrap().trim().to_string();
        assert_eq!(text(dicom_core::Tag(0x0010, 0x0020)), "S01");
        assert_eq!(text(dicom_core::Tag(0x0010, 0x0010)), "S01");
        assert_eq!(text(dicom_core::Tag(0x0012, 0x0062)), "YES");
        assert!(text(dicom_core::Tag(0x0008, 0x0018)).starts_with("2.25."));
    }

    // A second run of the same study with the same key gives the same bytes.
    let first: Vec<_> = tree_hash(&s.w.join("AnonDcm"));
    let again = Study::simple(&[("S01", "5860001", "KH", "")]);
    again.participant(&ParticipantSpec::new("5860001", 61));
    std::fs::write(again.w.join("anontrack.toml"), "profile = \"neuro\"\n").unwrap();
    std::fs::create_dir_all(again.w.join(".anontrack")).unwrap();
    std::fs::write(again.w.join(".anontrack/study.key"), &key).unwrap();
    again.sync(&[]).expect_code(0);
    assert_eq!(tree_hash(&again.w.join("AnonDcm")), first);
}

#[test]
fn nothing_to_do_names_the_rows_waiting_for_a_person() {
    let s = Study::simple(&[
        (
            "S01",
            "5870001",
            "KH no raw folder found at sourcedata/5870001",
            "",
        ),
        ("S02", "5870002", "", ""),
    ]);
    let run = s.sync(&[]);
    run.expect_code(0);
    let out = run.stdout();
    assert!(out.contains("nothing to do"), "{out}");
    assert!(
        out.contains("1 row(s) wait for a person (a note in the sheet): S01 (row 3)"),
        "{out}"
    );
}

#[test]
fn each_collect_appends_its_audit_lines_in_sheet_order_not_completion_order() {
    use crate::cluster::{collect, plan_out, six_participants, work};
    let s = six_participants();
    plan_out(&s).expect_code(0);
    let rows = |lines: &[Value]| -> Vec<u64> {
        lines
            .iter()
            .map(|l| l["row"].as_u64().unwrap_or(0))
            .collect()
    };
    // Items finished last row first, collected in two turns: S05 and S03, then S04, S02, S01.
    for i in [4, 2] {
        work(&s, i);
    }
    collect(&s).expect_code(1);
    let first = s.audit();
    // S03 (row 5), S05 (row 7) and the plan's problem row S06 (row 8).
    assert_eq!(rows(&first), [5, 7, 8]);
    for i in [3, 1, 0] {
        work(&s, i).expect_code(0);
    }
    collect(&s).expect_code(0);
    let all = s.audit();
    assert_eq!(rows(&all), [5, 7, 8, 3, 4, 6]);
    // Their work ended in the other order: the lines follow the sheet, not the clock.
    let time = |row: u64| {
        all.iter()
            .find(|l| l["row"] == row)
            .and_then(|l| l["time"].as_str())
            .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
            .unwrap()
    };
    assert!(time(6) < time(4) && time(4) < time(3));
    assert!(time(7) < time(5));
}
