//! Tests of `anontrack init`: the template's layout, `status` on it, and never overwriting.

use crate::harness::{Workdir, tree_hash};
use calamine::{Data, Reader, Xlsx, open_workbook};
use std::io::Read;

#[test]
fn init_then_status_shows_no_participants() {
    let w = Workdir::new();
    let run = w.run(["init", "--study", "PILOT", "study"]);
    run.expect_code(0);
    assert!(w.join("study/PILOT_dataprocessing.xlsx").is_file());
    assert!(w.join("study/anontrack.toml").is_file());

    let run = w.run(["status", "study/PILOT_dataprocessing.xlsx"]);
    run.expect_code(0);
    assert!(
        run.stdout()
            .contains("no participants yet (headers found in row 2 of sheet `Sheet1`)"),
        "{}",
        run.stdout()
    );
    let run = w.run(["status", "--json", "study/PILOT_dataprocessing.xlsx"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), "");
    // The commented anontrack.toml is read by status (it sits beside the workbook) and is valid.
    let toml = std::fs::read_to_string(w.join("study/anontrack.toml")).unwrap();
    assert!(
        toml.contains("raw_dir = \"sourcedata/{original_id}\"") && toml.contains("# "),
        "{toml}"
    );
}

#[test]
fn the_template_has_the_labs_layout() {
    let w = Workdir::new();
    w.run(["init"]).expect_code(0);
    let path = w.join("STUDYNAME_dataprocessing.xlsx");
    let mut book: Xlsx<_> = open_workbook(&path).expect("open template");
    assert_eq!(book.sheet_names(), ["Sheet1"]);
    let range = book.worksheet_range("Sheet1").unwrap();
    let text = |r: u32, c: u32| match range.get_value((r, c)) {
        Some(Data::String(s)) => s.clone(),
        _ => String::new(),
    };
    assert_eq!(text(1, 0), "Scan Date");
    assert_eq!(text(1, 3), "ID");
    assert_eq!(text(1, 4), "DICOMS Anonymized");
    assert_eq!(text(1, 5), "DICOM anonymization check");
    assert_eq!(text(1, 31), "Next steps:");
    assert_eq!(text(1, 32), "");
    assert_eq!(text(1, 33), "Original ID");
    assert_eq!(text(0, 4), "BIDS Conversion");
    assert_eq!(text(0, 11), "Quality Checks");
    assert_eq!(range.end(), Some((1, 33)), "no rows below the headers");

    let mut merges: Vec<String> = book
        .merge_cells_by_sheet_name("Sheet1")
        .unwrap()
        .iter()
        .map(|d| format!("{:?}-{:?}", d.start, d.end))
        .collect();
    merges.sort();
    assert_eq!(
        merges,
        ["(0, 11)-(0, 30)", "(0, 4)-(0, 8)", "(0, 9)-(0, 10)"]
    );

    let styles = book.worksheet_style("Sheet1").unwrap();
    let fill = |r: u32, c: u32| {
        styles
            .get((r, c))
            .and_then(|s| s.fill.as_ref())
            .and_then(|f| f.foreground_color)
            .map(|c| c.to_argb() & 0xFF_FFFF)
    };
    assert_eq!(fill(1, 0), Some(0xFFC000));
    assert_eq!(fill(1, 4), Some(0xF4B083));
    assert_eq!(fill(1, 9), Some(0xE2EFDA));
    assert_eq!(fill(1, 11), Some(0xBDD7EE));
    assert_eq!(fill(1, 33), Some(0xFFC000));
    assert_eq!(fill(0, 4), Some(0xF4B084));

    // Frozen panes at A3 (rows 1-2 frozen), as in the lab's file.
    let mut xml = String::new();
    zip::ZipArchive::new(std::fs::File::open(&path).unwrap())
        .unwrap()
        .by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    assert!(
        xml.contains(r#"<pane ySplit="2" topLeftCell="A3""#),
        "{xml}"
    );
}

#[test]
fn a_second_init_refuses_and_changes_nothing() {
    let w = Workdir::new();
    w.run(["init", "--study", "S"]).expect_code(0);
    let before = tree_hash(w.path());
    let run = w.run(["init", "--study", "S"]);
    run.expect_code(2);
    assert!(run.stderr().contains("already exists"), "{}", run.stderr());
    assert_eq!(tree_hash(w.path()), before);

    // Only the toml there: still refuses, and does not make the workbook.
    let w = Workdir::new();
    std::fs::write(w.join("anontrack.toml"), "# mine\n").unwrap();
    let run = w.run(["init", "--study", "S"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("anontrack.toml` already exists"),
        "{}",
        run.stderr()
    );
    assert!(!w.join("S_dataprocessing.xlsx").exists());
    assert_eq!(
        std::fs::read_to_string(w.join("anontrack.toml")).unwrap(),
        "# mine\n"
    );
}

#[test]
fn a_study_name_cannot_leave_the_folder() {
    let w = Workdir::new();
    let run = w.run(["init", "--study", "../evil"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("invalid study name"),
        "{}",
        run.stderr()
    );
    assert!(tree_hash(w.path()).is_empty());
}

/// The help a lab user reads: a first step to try, output flags apart from the command's own,
/// and no contradicting defaults (`default: one per core [default: 0]`).
#[test]
fn help_pages_read_well() {
    let w = Workdir::new();
    let top = w.run(["--help"]);
    top.expect_code(0);
    assert!(
        top.stdout().contains("Start with `anontrack demo`"),
        "{}",
        top.stdout()
    );
    for (cmd, not) in [("anonymize", "[default: 0]"), ("init", "[default: .]")] {
        let run = w.run([cmd, "--help"]);
        run.expect_code(0);
        let out = run.stdout();
        assert!(!out.contains(not), "{cmd}: {out}");
        assert!(out.contains("\nOutput:\n"), "{cmd}: {out}");
    }
}

#[test]
fn config_only_writes_just_the_toml_beside_a_workbook() {
    let w = Workdir::new();
    w.run(["init", "--study", "LAB", "study"]).expect_code(0);
    std::fs::remove_file(w.join("study/anontrack.toml")).unwrap();
    let before = tree_hash(&w.join("study"));

    let run = w.run(["init", "--config-only", "study"]);
    run.expect_code(0);
    assert!(
        run.stdout()
            .contains("run `anontrack status study/LAB_dataprocessing.xlsx`"),
        "{}",
        run.stdout()
    );
    let toml = std::fs::read_to_string(w.join("study/anontrack.toml")).unwrap();
    assert!(
        toml.contains("raw_dir = \"sourcedata/{original_id}\""),
        "{toml}"
    );
    let names: Vec<_> = std::fs::read_dir(w.join("study"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // The workbook is untouched, and status reads the new config.
    std::fs::remove_file(w.join("study/anontrack.toml")).unwrap();
    assert_eq!(tree_hash(&w.join("study")), before);
    w.run(["init", "--config-only", "study"]).expect_code(0);
    w.run(["status", "study/LAB_dataprocessing.xlsx"])
        .expect_code(0);

    // A second run refuses and keeps the file; `--study` makes no sense with it.
    let run = w.run(["init", "--config-only", "study"]);
    run.expect_code(2);
    assert!(run.stderr().contains("anontrack.toml"), "{}", run.stderr());
    w.run(["init", "--config-only", "--study", "X", "study"])
        .expect_code(2);
    let run = w.run(["init", "--config-only", "missing"]);
    run.expect_code(2);
    assert!(!w.join("missing").exists());
}
