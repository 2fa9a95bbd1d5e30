//! Tests of `anontrack status`: the lab's real workbook, LibreOffice's re-save of it, workbooks
//! built here with other layouts and greens, and every kind of bad input.
//!
//! `simple_book()`, `save()` and `status_summaries()` are shared with the `sync`, `sync_plan` and
//! `sync_crash` tests.

use crate::harness::{Workdir, copy_lab_workbook, require, tool_present, tree_hash};
use rust_xlsxwriter::{Color, Format, Workbook};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The lab's example rows, as `summary` prints them.
pub const LAB_EXPECTED: [&str; 7] = [
    "3 101 60784 done(JD) done(MF)",
    "4 110 30679 done(JD) pending(KH)",
    "5 111 44872 done(KH) problem(MF: (0010,4000) Patient Comments not anonymous)",
    "6 112 58770 not_started not_started",
    "7 102 70312 done(JD) done(KH)",
    "8 113 43823 not_started not_started excluded",
    "9 114 58253 pending(KH) not_started",
];

/// One `status --json` object in one line: `row id original anon check [excluded]`.
pub fn summary(v: &Value) -> String {
    let cell = |c: &Value| {
        let state = c["state"].as_str().unwrap_or("?").to_string();
        match (c["initials"].as_str(), c["note"].as_str()) {
            (Some(i), Some(n)) => format!("{state}({i}: {n})"),
            (Some(i), None) => format!("{state}({i})"),
            (None, Some(n)) => format!("{state}(: {n})"),
            (None, None) => state,
        }
    };
    let mut s = format!(
        "{} {} {} {} {}",
        v["row"],
        v["id"].as_str().unwrap_or("?"),
        v["original_id"].as_str().unwrap_or("-"),
        cell(&v["anonymization"]),
        cell(&v["check"])
    );
    if v["excluded"] == Value::Bool(true) {
        s.push_str(" excluded");
    }
    s
}

/// `status --json FILE` in `w`, expected to succeed, as summaries.
pub fn status_summaries(w: &Workdir, file: &str) -> Vec<String> {
    let run = w.run(["status", "--json", file]);
    run.expect_code(0);
    run.json_lines().iter().map(summary).collect()
}

/// A solid fill of the given colour.
pub fn fill(color: Color) -> Format {
    Format::new().set_background_color(color)
}

/// Saves `book` as `name` in `w`.
pub fn save(w: &Workdir, name: &str, mut book: Workbook) -> PathBuf {
    let path = w.join(name);
    book.save(&path).expect("save workbook");
    path
}

/// A workbook with the lab's headers in row 2 of `Sheet1` and the given participant rows
/// (ID, Original ID, anonymization text, check text), none coloured.
pub fn simple_book(rows: &[(&str, &str, &str, &str)]) -> Workbook {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    for (col, h) in [
        "Scan Date",
        "Study",
        "ID",
        "DICOMS Anonymized",
        "DICOM anonymization check",
        "Original ID",
    ]
    .iter()
    .enumerate()
    {
        ws.write(1, col as u16, *h).unwrap();
    }
    for (i, (id, orig, a, c)) in rows.iter().enumerate() {
        let r = 2 + i as u32;
        for (col, v) in [(2, id), (5, orig), (3, a), (4, c)] {
            if !v.is_empty() {
                ws.write(r, col, *v).unwrap();
            }
        }
    }
    book
}

#[test]
fn help_lists_the_subcommands() {
    let run = Workdir::new().run(["--help"]);
    run.expect_code(0);
    for sub in ["sync", "status", "init", "anonymize", "verify", "demo"] {
        assert!(run.stdout().contains(sub), "help lacks `{sub}`");
    }
}

#[test]
fn the_labs_workbook_reads_as_the_lab_reads_it() {
    let w = Workdir::new();
    let Some(_) = copy_lab_workbook(&w, "STUDYNAME_dataprocessing.xlsx") else {
        return;
    };
    let before = tree_hash(w.path());
    assert_eq!(
        status_summaries(&w, "STUDYNAME_dataprocessing.xlsx"),
        LAB_EXPECTED
    );
    // The human table and progress lines, from the same reading.
    let run = w.run(["status", "STUDYNAME_dataprocessing.xlsx"]);
    run.expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains("problem (MF): (0010,4000) Patient Comments not anonymous"),
        "{out}"
    );
    assert!(out.contains("excluded"), "{out}");
    assert!(
        out.contains("progress over 6 participants (1 excluded not counted)"),
        "{out}"
    );
    let anonymized = out
        .lines()
        .find(|l| l.trim_start().starts_with("DICOMS Anonymized"));
    assert!(anonymized.is_some_and(|l| l.contains("4/6")), "{out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("Deface") && l.contains("0/6")),
        "{out}"
    );
    assert!(
        !out.contains("Quality Check Notes"),
        "notes columns are not stages: {out}"
    );
    // Never writes: the file is byte-identical and no lock or temp file appeared.
    assert_eq!(tree_hash(w.path()), before);
}

#[test]
fn a_libreoffice_resave_reads_the_same() {
    let w = Workdir::new();
    let Some(src) = copy_lab_workbook(&w, "lab.xlsx") else {
        return;
    };
    if !require(
        "LibreOffice (soffice)",
        tool_present("soffice", &["--version"]),
    ) {
        return;
    }
    let profile = format!("file://{}", w.join("lo-profile").display());
    let out = Command::new("soffice")
        .arg(format!("-env:UserInstallation={profile}"))
        .args(["--headless", "--convert-to", "xlsx", "--outdir"])
        .arg(w.join("out"))
        .arg(&src)
        .output()
        .expect("run soffice");
    let resaved = w.join("out/lab.xlsx");
    assert!(
        resaved.is_file(),
        "soffice made nothing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(
        std::fs::read(&resaved).unwrap(),
        std::fs::read(&src).unwrap()
    );
    assert_eq!(status_summaries(&w, "out/lab.xlsx"), LAB_EXPECTED);
}

/// Header on a second sheet below a merged title row, re-spelled and reordered headers, text
/// IDs, a gap of empty rows, and greens other than the lab's.
#[test]
fn another_layout_with_other_greens() {
    let w = Workdir::new();
    let mut book = Workbook::new();
    let notes = book.add_worksheet().set_name("Read me").unwrap();
    notes.write(0, 0, "How we track scans").unwrap();
    notes
        .write(3, 1, "DICOMS Anonymized is done when green")
        .unwrap();
    let ws = book.add_worksheet().set_name("Tracking 2024").unwrap();
    ws.write(0, 0, "Study tracking").unwrap();
    ws.merge_range(4, 2, 4, 4, "DICOMS Anonymized", &Format::new())
        .unwrap();
    let headers = [
        "  original   id",
        "Scan notes",
        "dicoms  ANONYMIZED ",
        "Deface",
        "DICOM Anonymization Check",
        "subject id",
        "id",
    ];
    for (col, h) in headers.iter().enumerate() {
        ws.write(5, col as u16, *h).unwrap();
    }
    // Columns: A Original ID, B Scan Notes, C anonymized, D Deface (stage), E check, F a stage
    // named like ID but not equal to it, G ID.
    let light = fill(Color::RGB(0x92D050));
    let good = fill(Color::RGB(0xC6EFCE));
    // rust_xlsxwriter writes the Office 2007 theme, whose green is accent 3 (9BBB59): this is
    // `<fgColor theme="6" tint="0.8"/>`, resolved by calamine to EBF1DE. Accent 6 is orange there.
    let theme = fill(Color::Theme(6, 1));
    let orange_theme = fill(Color::Theme(9, 1));
    let red = fill(Color::RGB(0xFF0000));
    let yellow = fill(Color::RGB(0xFFFF00));
    ws.write(6, 6, "S01").unwrap();
    ws.write(6, 0, "A-17").unwrap();
    ws.write_with_format(6, 2, "J.D.", &light).unwrap();
    ws.write_with_format(6, 4, "mf", &good).unwrap();
    ws.write_with_format(6, 3, "", &good).unwrap();
    ws.write(7, 6, "S02").unwrap();
    ws.write(7, 0, 58253).unwrap();
    ws.write_with_format(7, 2, "KH", &theme).unwrap();
    ws.write_with_format(7, 4, "AB", &orange_theme).unwrap();
    ws.write(7, 3, "x").unwrap();
    // rows 9-11 empty, then more participants
    ws.write_with_format(11, 6, 7, &yellow).unwrap();
    ws.write(11, 2, "KH").unwrap();
    for col in 0..7 {
        ws.write_blank(12, col, &red).unwrap();
    }
    ws.write_with_format(12, 6, "S04", &red).unwrap();
    ws.write_with_format(12, 2, "JD", &red).unwrap();
    ws.write(13, 6, "S05").unwrap();
    ws.write(13, 2, "(0010,4000) not anonymous").unwrap();
    ws.write_with_format(13, 4, "JD", &fill(Color::RGB(0xFFC000)))
        .unwrap();
    save(&w, "study.xlsx", book);

    assert_eq!(
        status_summaries(&w, "study.xlsx"),
        [
            "7 S01 A-17 done(J.D.) done(mf)",
            "8 S02 58253 done(KH) pending(AB)",
            "12 7 - pending(KH) not_started",
            "13 S04 - pending(JD) not_started excluded",
            "14 S05 - problem(: (0010,4000) not anonymous) pending(JD)",
        ]
    );
    let run = w.run(["status", "study.xlsx"]);
    let out = run.stdout();
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("Deface") && l.contains("2/4")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("subject id") && l.contains("0/4")),
        "{out}"
    );
}

#[test]
fn column_names_from_anontrack_toml() {
    let w = Workdir::new();
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    for (col, h) in ["Subject", "Anon done", "QC"].iter().enumerate() {
        ws.write(0, col as u16, *h).unwrap();
    }
    ws.write(1, 0, "P1").unwrap();
    ws.write(1, 1, "JD").unwrap();
    save(&w, "s.xlsx", book);
    let run = w.run(["status", "s.xlsx"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("`DICOMS Anonymized`"),
        "{}",
        run.stderr()
    );

    std::fs::write(
        w.join("anontrack.toml"),
        "[columns]\nid = \"subject\"\nanonymized = \"anon  done\"\ncheck = \"qc\"\n",
    )
    .unwrap();
    assert_eq!(
        status_summaries(&w, "s.xlsx"),
        ["2 P1 - pending(JD) not_started"]
    );

    // --config wins over the file beside the workbook.
    std::fs::write(w.join("other.toml"), "[columns]\nid = \"nope\"\n").unwrap();
    let run = w.run(["status", "s.xlsx", "--config", "other.toml"]);
    run.expect_code(2);

    std::fs::write(w.join("anontrack.toml"), "[columns]\nanonymised = \"x\"\n").unwrap();
    let run = w.run(["status", "s.xlsx"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("unknown field `anonymised`"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("anontrack.toml"), "{}", run.stderr());
}

/// Runs `status` on `file` and returns stderr, asserting exit 2 and an empty stdout.
fn status_error(w: &Workdir, file: &str) -> String {
    let run = w.run(["status", file]);
    run.expect_code(2);
    assert_eq!(run.stdout(), "");
    let err = run.stderr();
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn missing_workbook_is_a_clear_error() {
    let err = status_error(&Workdir::new(), "nope.xlsx");
    assert!(err.contains("cannot find `nope.xlsx`"), "{err}");
}

#[test]
fn other_file_kinds_say_save_as_xlsx() {
    let w = Workdir::new();
    for name in ["old.xls", "export.csv", "calc.ods"] {
        std::fs::write(w.join(name), "ID,DICOMS Anonymized\n101,JD\n").unwrap();
        let err = status_error(&w, name);
        assert!(err.contains("save it as .xlsx"), "{name}: {err}");
    }
    // A legacy .xls renamed to .xlsx is recognised by its bytes.
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.resize(1024, 0);
    std::fs::write(w.join("renamed.xlsx"), &ole).unwrap();
    let err = status_error(&w, "renamed.xlsx");
    assert!(
        err.contains(".xls") && err.contains("save it as .xlsx"),
        "{err}"
    );
}

#[test]
fn a_password_protected_workbook_is_named_so() {
    // An encrypted xlsx is an OLE compound file with an `EncryptedPackage` stream; the name
    // sits in the directory as UTF-16LE. (No tool here writes real encrypted xlsx files.)
    let w = Workdir::new();
    let mut bytes = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    bytes.resize(1024, 0);
    bytes.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
    bytes.resize(2048, 0);
    std::fs::write(w.join("locked.xlsx"), &bytes).unwrap();
    let err = status_error(&w, "locked.xlsx");
    assert!(err.contains("password-protected"), "{err}");
}

#[test]
fn a_damaged_workbook_is_a_clear_error() {
    let w = Workdir::new();
    let good = save(&w, "good.xlsx", simple_book(&[("101", "1", "JD", "")]));
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(w.join("cut.xlsx"), &bytes[..bytes.len() / 2]).unwrap();
    let err = status_error(&w, "cut.xlsx");
    assert!(err.contains("cannot read workbook `cut.xlsx`"), "{err}");
    std::fs::write(w.join("text.xlsx"), "not a workbook").unwrap();
    let err = status_error(&w, "text.xlsx");
    assert!(err.contains("not a zip"), "{err}");
    std::fs::write(w.join("empty.xlsx"), "").unwrap();
    let err = status_error(&w, "empty.xlsx");
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn no_header_row_says_where_it_looked() {
    let w = Workdir::new();
    let mut book = Workbook::new();
    book.add_worksheet()
        .set_name("Data")
        .unwrap()
        .write(0, 0, "hello")
        .unwrap();
    let late = book.add_worksheet().set_name("Late").unwrap();
    // Row 31 is beyond the search.
    late.write(30, 0, "DICOMS Anonymized").unwrap();
    save(&w, "s.xlsx", book);
    let err = status_error(&w, "s.xlsx");
    assert!(
        err.contains("first 30 rows of sheets `Data`, `Late`"),
        "{err}"
    );
    assert!(
        err.contains("`DICOMS Anonymized`") && err.contains("columns.anonymized"),
        "{err}"
    );
}

#[test]
fn a_missing_required_column_names_the_fix() {
    let w = Workdir::new();
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.write(2, 0, "DICOMS Anonymized").unwrap();
    ws.write(2, 1, "DICOM anonymization check").unwrap();
    ws.write(2, 2, "Participant").unwrap();
    save(&w, "s.xlsx", book);
    let err = status_error(&w, "s.xlsx");
    assert!(
        err.contains("cannot find column `ID` in row 3 of sheet `Sheet1`"),
        "{err}"
    );
    assert!(err.contains("columns.id"), "{err}");
}

#[test]
fn duplicate_ids_name_both_rows() {
    let w = Workdir::new();
    let book = simple_book(&[
        ("101", "1", "JD", ""),
        ("102", "2", "", ""),
        ("101", "3", "", ""),
    ]);
    save(&w, "s.xlsx", book);
    let err = status_error(&w, "s.xlsx");
    assert!(
        err.contains("ID `101` appears twice") && err.contains("rows 3 and 5"),
        "{err}"
    );
}

#[test]
fn an_empty_workbook_is_a_clear_error() {
    let w = Workdir::new();
    let mut book = Workbook::new();
    book.add_worksheet();
    book.add_worksheet();
    save(&w, "s.xlsx", book);
    let err = status_error(&w, "s.xlsx");
    assert!(err.contains("no sheets with data"), "{err}");
}

#[test]
fn json_mode_prints_only_json() {
    let w = Workdir::new();
    save(&w, "s.xlsx", simple_book(&[("101", "60784", "KH", "")]));
    let run = w.run(["status", "--json", "s.xlsx"]);
    run.expect_code(0);
    let lines = run.json_lines();
    assert_eq!(lines.len(), run.stdout().lines().count());
    let keys: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "anonymization",
            "check",
            "excluded",
            "id",
            "original_id",
            "profile",
            "row"
        ]
    );
    // Never anonymized: no profile yet.
    assert!(lines[0]["profile"].is_null());
    assert_eq!(summary(&lines[0]), "3 101 60784 pending(KH) not_started");
}

/// `status` names the profile each row was anonymized with (from the audit log), and each
/// `sync` report carries a one-line summary of what the profile leaves behind: the lab profile
/// leaves UIDs and times (but its own AcquisitionDate is no leftover), neuro far less.
#[test]
fn status_names_each_rows_profile_and_sync_reports_carry_a_leftovers_line() {
    use crate::sync::Study;
    use anontrack::synth::ParticipantSpec;
    let s = Study::simple(&[("S01", "5890001", "KH", ""), ("S02", "5890002", "", "")]);
    s.participant(&ParticipantSpec::new("5890001", 71));
    s.participant(&ParticipantSpec::new("5890002", 72));
    // Before any work: no profile column.
    let before = s.w.run(["status", &s.book]);
    before.expect_code(0);
    assert!(!before.stdout().contains("profile"), "{}", before.stdout());

    s.sync(&[]).expect_code(0);
    let lab = s.report("S01-anonymize.json");
    let line = lab["leftovers"].as_str().expect("a leftovers line");
    assert!(
        line.contains("the Basic profile would remove or replace still hold a value"),
        "{line}"
    );
    assert!(line.contains("StudyTime"), "{line}");
    assert!(!line.contains("AcquisitionDate"), "{line}");
    let count = |l: &str| l.split(' ').next().unwrap().parse::<usize>().unwrap_or(0);
    let listed = |r: &serde_json::Value| {
        r["verify"]["leftovers"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["keyword"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(count(line), listed(&lab).len(), "{line}");
    assert!(listed(&lab).contains(&"StudyTime".to_string()));
    assert!(!listed(&lab).contains(&"AcquisitionDate".to_string()));

    // S02 is anonymized later, under neuro.
    std::fs::write(s.w.join("anontrack.toml"), "profile = \"neuro\"\n").unwrap();
    s.set_text(4, 3, "KH");
    s.sync(&[]).expect_code(0);
    let neuro = s.report("S02-anonymize.json");
    let nline = neuro["leftovers"].as_str().expect("a leftovers line");
    assert_eq!(count(nline), listed(&neuro).len(), "{nline}");
    // Neuro keeps the (shifted) dates and the times: information, not findings.
    assert!(listed(&neuro).contains(&"StudyDate".to_string()));
    assert_eq!(neuro["outcome"], "passed");

    let run = s.w.run(["status", &s.book]);
    run.expect_code(0);
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("row") && lines[0].ends_with("profile"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("3") && lines[1].ends_with("  lab"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("4") && lines[2].ends_with("  neuro"),
        "{out}"
    );
    let json = s.w.run(["status", "--json", &s.book]);
    let rows = json.json_lines();
    assert_eq!(rows[0]["profile"], "lab");
    assert_eq!(rows[1]["profile"], "neuro");
}
