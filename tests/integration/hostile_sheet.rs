//! Hostile or odd sheets, through the real binary: a value in the last cell of the grid, a part
//! that inflates past the size limit, control characters in values, an over-long ID, an ID
//! formula with no saved value, and a workbook that is a symbolic link.

use crate::harness::Workdir;
use crate::status::{save, simple_book};
use crate::sync::Study;
use anontrack::synth::ParticipantSpec;
use std::io::{Cursor, Read, Write};
use std::path::Path;

/// `bytes` with zip entry `name` rewritten by `edit`, and `extra` entries added (name, writer).
fn rewrite(bytes: &[u8], name: &str, edit: impl Fn(String) -> String) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let n = f.name().unwrap().into_owned();
        if n == name {
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            drop(f);
            out.start_file(n, zip::write::SimpleFileOptions::default())
                .unwrap();
            out.write_all(edit(s).as_bytes()).unwrap();
        } else {
            drop(f);
            out.raw_copy_file(zip.by_index_raw(i).unwrap()).unwrap();
        }
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn status_on_a_value_in_the_last_cell_of_the_grid_stays_small() {
    let w = Workdir::new();
    let mut book = simple_book(&[("S01", "5801", "KH", "")]);
    let ws = book.worksheet_from_index(0).unwrap();
    ws.write(1_048_575, 16_383, "far").unwrap();
    save(&w, "far.xlsx", book);
    if !Path::new("/usr/bin/time").exists() {
        let run = w.run(["status", "far.xlsx"]);
        run.expect_code(0);
        return;
    }
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(crate::harness::bin())
        .args(["status", "far.xlsx"])
        .current_dir(w.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("S01"));
    let kb: u64 = err
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .expect("time -v reports the peak")
        .trim()
        .parse()
        .unwrap();
    assert!(kb < 50 * 1024, "peak RSS {kb} kB");
}

#[test]
fn a_part_inflating_past_the_limit_is_refused_before_any_work() {
    let s = Study::simple(&[("S01", "5801", "KH", "")]);
    s.participant(&ParticipantSpec::new("5801", 1));
    // 300 MiB of XML whitespace: a few hundred kB compressed.
    let mut zip = zip::ZipArchive::new(Cursor::new(s.bytes())).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        out.raw_copy_file(zip.by_index_raw(i).unwrap()).unwrap();
    }
    out.start_file("xl/bomb.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..300 {
        out.write_all(&chunk).unwrap();
    }
    std::fs::write(s.path(), out.finish().unwrap().into_inner()).unwrap();
    for args in [
        vec!["status", s.book.as_str()],
        vec!["sync", s.book.as_str()],
    ] {
        let run = s.w.run(args);
        run.expect_code(2);
        assert!(run.stderr().contains("too large"), "{}", run.stderr());
    }
    assert!(!s.w.join("AnonDcm").exists(), "no work was done");
}

#[test]
fn control_characters_are_escaped_and_refused_as_folder_names() {
    let s = Study::simple(&[
        ("S0\u{1b}[2J1", "5801", "KH", ""),
        ("S02", "58\u{202e}02", "KH", ""),
    ]);
    let status = s.w.run(["status", s.book.as_str()]);
    status.expect_code(0);
    let out = status.stdout();
    assert!(
        !out.contains('\u{1b}') && !out.contains('\u{202e}'),
        "{out:?}"
    );
    assert!(
        out.contains("S0\\u{1b}[2J1") && out.contains("58\\u{202e}02"),
        "{out}"
    );
    let plan = s.sync(&["--dry-run"]);
    let out = plan.stdout();
    assert!(
        !out.contains('\u{1b}') && !out.contains('\u{202e}'),
        "{out:?}"
    );
    assert!(
        out.contains("`ID` holds a control character or direction mark"),
        "{out}"
    );
    assert!(
        out.contains("`Original ID` holds a control character or direction mark"),
        "{out}"
    );
}

#[test]
fn an_overlong_id_is_that_rows_problem_and_the_others_go_on() {
    let long = "S".repeat(300);
    let s = Study::simple(&[(long.as_str(), "5801", "KH", ""), ("S02", "5802", "KH", "")]);
    s.participant(&ParticipantSpec::new("5802", 2));
    let run = s.sync(&[]);
    run.expect_code(1);
    let status = s.status();
    assert_eq!(status.len(), 2, "{status:?}");
    assert!(status[0].contains("problem"), "{status:?}");
    assert!(status[1].contains("S02 5802 done("), "{status:?}");
    assert!(
        run.stdout().contains("more than 255 bytes"),
        "{}",
        run.stdout()
    );
}

#[test]
fn an_id_formula_with_no_saved_value_is_named_per_row() {
    let w = Workdir::new();
    let mut book = simple_book(&[("S01", "5801", "KH", "")]);
    let ws = book.worksheet_from_index(0).unwrap();
    ws.write_formula(3, 2, "=\"S\"&\"02\"").unwrap();
    let path = save(&w, "f.xlsx", book);
    let bytes = rewrite(
        &std::fs::read(&path).unwrap(),
        "xl/worksheets/sheet1.xml",
        |x| {
            let f = x.find("<c r=\"C4\"").expect("the formula cell");
            let end = f + x[f..].find("</c>").unwrap();
            let cell = &x[f..end];
            let v = cell.find("<v>").map_or(cell.len(), |i| i);
            format!("{}{}{}", &x[..f], &cell[..v], &x[end..])
        },
    );
    std::fs::write(&path, bytes).unwrap();
    let run = w.run(["status", "f.xlsx"]);
    run.expect_code(0);
    assert!(
        run.stderr()
            .contains("row 4: its ID or Original ID is a formula with no saved value"),
        "{}",
        run.stderr()
    );
}

#[cfg(unix)]
#[test]
fn a_symlinked_workbook_is_written_through_to_its_target() {
    let s = Study::simple(&[("S01", "5801", "KH", "")]);
    s.participant(&ParticipantSpec::new("5801", 1));
    let shared = Workdir::new();
    let target = shared.join("shared_copy.xlsx");
    std::fs::rename(s.path(), &target).unwrap();
    std::os::unix::fs::symlink(&target, s.path()).unwrap();
    let before = std::fs::read(&target).unwrap();
    s.sync(&[]).expect_code(0);
    let meta = std::fs::symlink_metadata(s.path()).unwrap();
    assert!(meta.file_type().is_symlink(), "the link stays a link");
    assert_ne!(
        std::fs::read(&target).unwrap(),
        before,
        "the target got the result"
    );
    assert!(s.status()[0].contains("S01 5801 done("), "{:?}", s.status());
    // No temp file left beside the target or the link; the backup is beside the link.
    let names: Vec<String> = std::fs::read_dir(shared.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["shared_copy.xlsx"]);
    assert!(s.w.join(".anontrack/backups").read_dir().unwrap().count() == 1);
}

#[test]
fn a_sheet_that_cannot_be_read_does_not_refuse_the_workbook() {
    // A first sheet (an XLM macro sheet here) whose part is missing: the tracking sheet after
    // it is still read and written.
    let s = Study::simple(&[("S01", "5801", "KH", "")]);
    let with_rel = rewrite(&s.bytes(), "xl/_rels/workbook.xml.rels", |x| {
        x.replace(
            "</Relationships>",
            r#"<Relationship Id="rIdM" Type="http://schemas.microsoft.com/office/2006/relationships/xlMacrosheet" Target="macrosheets/sheet1.xml"/></Relationships>"#,
        )
    });
    let bytes = rewrite(&with_rel, "xl/workbook.xml", |x| {
        x.replacen(
            "<sheets>",
            r#"<sheets><sheet name="Macro1" sheetId="9" r:id="rIdM"/>"#,
            1,
        )
    });
    std::fs::write(s.path(), bytes).unwrap();
    let status = s.status();
    assert!(status[0].contains("S01 5801 pending(KH)"), "{status:?}");
    s.sync(&[]).expect_code(1);
    assert!(
        s.status()[0].contains("S01 5801 problem(KH"),
        "{:?}",
        s.status()
    );
}

#[test]
fn entity_bombs_and_truncated_xml_are_refused_cleanly() {
    let bomb = |x: String| {
        let decl = r#"<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]>"#;
        let at = x.find("<worksheet").unwrap();
        let x = format!("{}{decl}{}", &x[..at], &x[at..]);
        // The first participant's anonymization cell holds the bomb.
        let c = x.find("<c r=\"D3\"").expect("cell D3");
        let end = c + x[c..].find("</c>").unwrap() + 4;
        format!(
            "{}<c r=\"D3\" t=\"inlineStr\"><is><t>&h;</t></is></c>{}",
            &x[..c],
            &x[end..]
        )
    };
    let truncated = |x: String| x[..x.len() / 2].to_owned();
    for (what, edit) in [
        ("bomb", &bomb as &dyn Fn(String) -> String),
        ("truncated", &truncated),
    ] {
        let s = Study::simple(&[("S01", "5801", "KH", "")]);
        s.participant(&ParticipantSpec::new("5801", 1));
        let bytes = rewrite(&s.bytes(), "xl/worksheets/sheet1.xml", edit);
        std::fs::write(s.path(), &bytes).unwrap();
        let t = std::time::Instant::now();
        for args in [
            vec!["status", s.book.as_str()],
            vec!["sync", s.book.as_str()],
        ] {
            let run = s.w.run(args);
            run.expect_code(2);
            assert!(
                run.stderr().starts_with("error: cannot read workbook"),
                "{what}: {}",
                run.stderr()
            );
        }
        assert!(t.elapsed().as_secs() < 20, "{what}: too slow");
        assert_eq!(std::fs::read(s.path()).unwrap(), bytes, "{what}: untouched");
        assert!(!s.w.join("AnonDcm").exists(), "{what}: no work was done");
    }
}
