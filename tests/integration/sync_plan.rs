//! Tests of `anontrack sync --dry-run`: the plan from the workbook, and that nothing is written.

use crate::harness::copy_lab_workbook;
use crate::harness::{Workdir, tree_hash};
use crate::status::{save, simple_book};

/// `row action [reason-or-folders]` per JSON line.
fn plan_lines(w: &Workdir, file: &str) -> Vec<String> {
    let run = w.run(["sync", "--dry-run", "--json", file]);
    run.expect_code(0);
    run.json_lines()
        .iter()
        .map(|v| {
            let action = v["action"].as_str().unwrap_or("?");
            let tail = match action {
                "skip" => format!(
                    "problem={} {}",
                    v["problem"],
                    v["reason"].as_str().unwrap_or("")
                ),
                _ => format!(
                    "{} {} by {}",
                    v["raw_dir"].as_str().unwrap_or("?"),
                    v["anon_dir"].as_str().unwrap_or("?"),
                    v["initials"].as_str().unwrap_or("-")
                ),
            };
            format!(
                "{} {} {action} {tail}",
                v["row"],
                v["id"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[test]
fn the_labs_workbook_plans_one_anonymization_and_one_check() {
    let w = Workdir::new();
    let Some(_) = copy_lab_workbook(&w, "STUDYNAME_dataprocessing.xlsx") else {
        return;
    };
    let before = tree_hash(w.path());
    let lines = plan_lines(&w, "STUDYNAME_dataprocessing.xlsx");
    assert_eq!(lines.len(), 7, "{lines:#?}");
    assert_eq!(lines[1], "4 110 verify sourcedata/30679 AnonDcm/110 by KH");
    assert_eq!(
        lines[6],
        "9 114 anonymize sourcedata/58253 AnonDcm/114 by KH"
    );
    for (i, row) in [
        (0, "3 101 skip problem=false nothing to do"),
        (2, "5 111 skip problem=false the check found a problem"),
        (3, "6 112 skip problem=false nothing to do"),
        (5, "8 113 skip problem=false excluded"),
    ] {
        assert!(lines[i].starts_with(row), "{} vs {row}", lines[i]);
    }

    let run = w.run(["sync", "--dry-run", "STUDYNAME_dataprocessing.xlsx"]);
    run.expect_code(0);
    assert!(
        run.stdout()
            .contains("plan: 1 to anonymize, 1 to verify, 5 skipped"),
        "{}",
        run.stdout()
    );
    // A dry run writes nothing: no folders, no lock file, the workbook byte-identical.
    assert_eq!(tree_hash(w.path()), before);
    assert!(!w.join("AnonDcm").exists());

    // Excel date cells give `{scan_date}` as YYYYMMDD.
    std::fs::write(
        w.join("anontrack.toml"),
        "raw_dir = \"raw/{scan_date}_{original_id}\"\n",
    )
    .unwrap();
    let lines = plan_lines(&w, "STUDYNAME_dataprocessing.xlsx");
    assert_eq!(
        lines[6],
        "9 114 anonymize raw/20211115_58253 AnonDcm/114 by KH"
    );
}

#[test]
fn unsafe_or_missing_folder_values_are_problems_not_crashes() {
    let w = Workdir::new();
    let book = simple_book(&[
        ("../escape", "1", "JD", ""),
        ("S02", "", "JD", ""),
        ("S03", "a/b", "JD", ""),
        ("S04", "9", "JD", ""),
    ]);
    save(&w, "s.xlsx", book);
    let lines = plan_lines(&w, "s.xlsx");
    assert_eq!(
        lines,
        [
            "3 ../escape skip problem=true anonymized folder: `ID` holds a path separator or `..`; refused as a folder name",
            "4 S02 skip problem=true raw folder: `Original ID` is empty but the folder template needs `{original_id}`",
            "5 S03 skip problem=true raw folder: `Original ID` holds a path separator or `..`; refused as a folder name",
            "6 S04 anonymize sourcedata/9 AnonDcm/S04 by JD",
        ]
    );
}

#[test]
fn folder_templates_come_from_anontrack_toml() {
    let w = Workdir::new();
    let mut book = simple_book(&[("S01", "777", "KH", "")]);
    let ws = book.worksheet_from_index(0).unwrap();
    ws.write(2, 1, "Pilot").unwrap();
    ws.write(2, 0, "2021-11-01").unwrap();
    save(&w, "s.xlsx", book);
    std::fs::write(
        w.join("anontrack.toml"),
        "raw_dir = \"raw/{study}/{scan_date}_{original_id}\"\nanon_dir = \"/abs/anon/{id}\"\n",
    )
    .unwrap();
    assert_eq!(
        plan_lines(&w, "s.xlsx"),
        ["3 S01 anonymize raw/Pilot/20211101_777 /abs/anon/S01 by KH"]
    );
}
