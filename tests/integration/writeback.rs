//! Tests of the in-place write-back (`anontrack::sheet::write`), called as a library: only the
//! owned cells may change, on the lab's real workbook and on a richer one built here; and the
//! safety around saving (Excel's lock file, backups, changed-on-disk, damaged input).
//!
//! Independent checks use python3 + openpyxl (`../shared/tools/xlsx_diff.py`) and LibreOffice
//! (`soffice --headless`); without them these parts skip with a note, unless
//! `ANONTRACK_REQUIRE_TOOLS=1`.

use crate::harness;
use crate::xlsx_check::{
    FEATURES, SHEET_XML, STYLES_XML, assert_only_parts_changed, cell_element, entries, openpyxl,
    part, soffice_csv, strip_cells, xlsx_diff,
};
use anontrack::Error;
use anontrack::sheet::write::{
    BACKUPS_KEPT, CellEdit, Fingerprint, check_not_locked, patch_package, save::backup_dir,
    save_workbook,
};
use rust_xlsxwriter::{
    Chart, ConditionalFormatCell, ConditionalFormatCellRule, DataValidation, DataValidationRule,
    Format, Formula, Note, Workbook,
};
use std::collections::BTreeSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};

const NOTE: &str = "KH no anonymized folder found";

fn edit(row: u32, col: u32, text: Option<&str>, green: bool) -> CellEdit {
    CellEdit {
        row,
        col,
        text: text.map(str::to_owned),
        green,
    }
}

/// The sync's edits on the lab's sheet: E9 green, a problem note in F4.
fn lab_edits() -> Vec<CellEdit> {
    vec![edit(9, 4, None, true), edit(4, 5, Some(NOTE), false)]
}

// ---------------------------------------------------------------- tools and fixtures

/// The lab's real workbook, or `None` (with a note) when ../shared is absent.
fn lab_workbook() -> Option<Vec<u8>> {
    let path = harness::shared_path("sheet/STUDYNAME_dataprocessing.xlsx")?;
    Some(std::fs::read(path).expect("read the lab's workbook"))
}

/// A workbook with most of what the lab could add to its sheet: several sheets, a validation
/// with two formulas, conditional formats, a chart, notes, defined names, an autofilter, merged
/// cells, frozen panes and column widths.
fn rich_workbook() -> Vec<u8> {
    let mut wb = Workbook::new();
    let bold = Format::new()
        .set_bold()
        .set_border(rust_xlsxwriter::FormatBorder::Thin);
    let red = Format::new().set_font_color("#9C0006");
    let date = Format::new().set_num_format("yyyy-mm-dd");
    {
        let ws = wb.add_worksheet();
        ws.set_name("Tracking").unwrap();
        ws.merge_range(0, 4, 0, 5, "DICOM", &bold).unwrap();
        for (c, h) in [
            "Scan Date",
            "Study",
            "Scan Notes",
            "ID",
            "DICOMS Anonymized",
            "DICOM anonymization check",
        ]
        .iter()
        .enumerate()
        {
            ws.write_with_format(1, c as u16, *h, &bold).unwrap();
        }
        for r in 2..8u32 {
            ws.write_number_with_format(r, 0, 45000.0 + f64::from(r), &date)
                .unwrap();
            ws.write(r, 1, "Pilot & <main>").unwrap();
            ws.write(r, 3, 100 + r).unwrap();
            ws.write_with_format(r, 4, "JD", &bold).unwrap();
        }
        ws.write(2, 5, "MF").unwrap();
        ws.write_formula(9, 3, Formula::new("=SUM(D3:D8)")).unwrap();
        ws.set_column_width(2, 40).unwrap();
        ws.set_column_width(4, 14.5).unwrap();
        ws.set_freeze_panes(2, 0).unwrap();
        ws.autofilter(1, 0, 7, 5).unwrap();
        let dv = DataValidation::new().allow_whole_number_formula(DataValidationRule::Between(
            Formula::new("=Limits!$A$1"),
            Formula::new("=Limits!$A$2"),
        ));
        ws.add_data_validation(2, 3, 7, 3, &dv).unwrap();
        let cf = ConditionalFormatCell::new()
            .set_rule(ConditionalFormatCellRule::GreaterThan(104))
            .set_format(&red);
        ws.add_conditional_format(2, 3, 7, 3, &cf).unwrap();
        ws.insert_note(
            2,
            2,
            &Note::new("made-up note for row 3").add_author_prefix(false),
        )
        .unwrap();
        let mut chart = Chart::new_column();
        chart.add_series().set_values("=Tracking!$D$3:$D$8");
        ws.insert_chart(12, 1, &chart).unwrap();
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("Limits").unwrap();
        ws.write(0, 0, 101).unwrap();
        ws.write(1, 0, 120).unwrap();
        ws.insert_note(0, 0, &Note::new("lower bound")).unwrap();
    }
    wb.define_name("LowID", "=Limits!$A$1").unwrap();
    wb.define_name("Tracking!Queue", "=Tracking!$E$3:$E$8")
        .unwrap();
    wb.save_to_buffer().unwrap()
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

// ---------------------------------------------------------------- the lab's workbook

#[test]
fn lab_workbook_changes_only_the_owned_cells() {
    let Some(before) = lab_workbook() else { return };
    let after = patch_package(&before, "Sheet1", &lab_edits()).unwrap();
    assert_ne!(after, before);

    let changed = assert_only_parts_changed(&before, &after, &[SHEET_XML, STYLES_XML]);
    assert!(changed.contains(&SHEET_XML.to_owned()), "{changed:?}");

    // Byte-level: the sheet XML outside E9 and F4 is untouched.
    let (xa, xb) = (part(&before, SHEET_XML), part(&after, SHEET_XML));
    assert_eq!(
        strip_cells(&xa, &["E9", "F4"]),
        strip_cells(&xb, &["E9", "F4"])
    );
    let f4 = cell_element(&xb, "F4");
    assert!(
        f4.contains(&format!(
            "t=\"inlineStr\"><is><t xml:space=\"preserve\">{NOTE}</t></is></c>"
        )),
        "{f4}"
    );
    // F4 keeps its style; E9 keeps its shared string (initials).
    let attr = |el: &str, a: &str| {
        let i = el.find(&format!(" {a}=\"")).unwrap() + a.len() + 3;
        el[i..i + el[i..].find('"').unwrap()].to_owned()
    };
    assert_eq!(attr(f4, "s"), attr(cell_element(&xa, "F4"), "s"));
    assert!(cell_element(&xb, "E9").ends_with("t=\"s\"><v>38</v></c>"));

    // Applying the same edits again is a no-op.
    assert!(patch_package(&after, "Sheet1", &lab_edits()).unwrap() == after);

    // Independent checks.
    let dir = tempfile::tempdir().unwrap();
    let a = write_temp(dir.path(), "before.xlsx", &before);
    let b = write_temp(dir.path(), "after.xlsx", &after);
    if let Some((cells, diff)) = xlsx_diff(&a, &b) {
        let parts: BTreeSet<_> = diff
            .iter()
            .filter(|l| l.starts_with("part"))
            .cloned()
            .collect();
        assert!(
            parts.contains("part changed: xl/worksheets/sheet1.xml"),
            "{diff:?}"
        );
        assert!(
            parts
                .iter()
                .all(|p| p.ends_with(SHEET_XML) || p.ends_with(STYLES_XML)),
            "{diff:?}"
        );
        assert_eq!(
            cells,
            BTreeSet::from(["Sheet1!E9".to_owned(), "Sheet1!F4".to_owned()]),
            "{diff:?}"
        );
        assert!(
            diff.contains(&format!("Sheet1!F4: 'KH' -> '{NOTE}'")),
            "{diff:?}"
        );
    }
    let script = r#"
import sys, openpyxl
a, b = (openpyxl.load_workbook(p)["Sheet1"] for p in sys.argv[1:3])
print(b["E9"].fill.fill_type, b["E9"].fill.fgColor.rgb, b["E9"].value)
f = lambda c: (c.font.name, c.font.sz, c.font.b, str(c.font.color.rgb if c.font.color else None),
               c.border.left.style, c.border.right.style, c.border.top.style, c.border.bottom.style,
               c.number_format, c.alignment.horizontal, c.fill.fill_type)
print(f(a["F4"]) == f(b["F4"]), f(a["E9"])[:-1] == f(b["E9"])[:-1])
"#;
    if let Some(out) = openpyxl(script, &[&a, &b]) {
        assert_eq!(out, "solid FF00B050 KH\nTrue True\n");
    }
    if let Some(csv) = soffice_csv(&b) {
        let row4 = csv.lines().nth(3).unwrap();
        assert!(row4.contains(NOTE), "{row4}");
        assert!(csv.lines().nth(8).unwrap().contains("KH"), "{csv}");
    }
}

#[test]
fn new_green_format_is_appended_when_none_matches() {
    let Some(before) = lab_workbook() else { return };
    // Row 10 holds only empty styled cells (style 2: no border, no fill); G3 has style 6.
    let edits = [
        edit(10, 4, None, true),
        edit(3, 6, Some("KH"), true),
        edit(6, 4, None, true),
        edit(6, 5, None, true),
        edit(1000, 2, Some("far below"), false),
    ];
    let after = patch_package(&before, "Sheet1", &edits).unwrap();
    let changed = assert_only_parts_changed(&before, &after, &[SHEET_XML, STYLES_XML]);
    assert_eq!(changed, [SHEET_XML, STYLES_XML]);
    let (sa, sb) = (part(&before, STYLES_XML), part(&after, STYLES_XML));
    // G3 (style 6) and E6/F6 (style 16) have green twins already (styles 7 and 15); only E10's
    // style 2 needs a new one, with the green fill whose bgColor is indexed 64 (fill 10). No new
    // fill: two greens exist.
    let want = sa.replace(r#"<cellXfs count="41">"#, r#"<cellXfs count="42">"#).replace(
        "</cellXfs>",
        r#"<xf numFmtId="0" fontId="1" fillId="10" borderId="0" xfId="0" applyFont="1" applyFill="1"/></cellXfs>"#,
    );
    assert_eq!(sb, want);
    let xb = part(&after, SHEET_XML);
    assert!(
        xb.contains(r#"<c r="E10" s="41"/>"#),
        "{}",
        cell_element(&xb, "E10")
    );
    assert!(
        cell_element(&xb, "G3").starts_with(r#"<c r="G3" s="7" t="inlineStr">"#),
        "{}",
        cell_element(&xb, "G3")
    );
    assert!(xb.contains(r#"<row r="1000"><c r="C1000" t="inlineStr"><is><t xml:space="preserve">far below</t></is></c></row></sheetData>"#));
    assert!(xb.contains(r#"<dimension ref="A1:AH1000"/>"#));
    assert!(patch_package(&after, "Sheet1", &edits).unwrap() == after);

    let dir = tempfile::tempdir().unwrap();
    let b = write_temp(dir.path(), "after.xlsx", &after);
    let script = r#"
import sys, openpyxl
ws = openpyxl.load_workbook(sys.argv[1])["Sheet1"]
for r in ["E10", "G3", "E6", "F6"]:
    c = ws[r]
    print(r, c.fill.fill_type, c.fill.fgColor.rgb, c.value, c.border.left.style, c.font.sz)
print(ws["C1000"].value)
"#;
    if let Some(out) = openpyxl(script, &[&b]) {
        assert_eq!(
            out,
            "E10 solid FF00B050 None None 12.0\nG3 solid FF00B050 KH thin 12.0\n\
             E6 solid FF00B050 None thin 12.0\nF6 solid FF00B050 None thin 12.0\nfar below\n"
        );
    }
}

// ---------------------------------------------------------------- a richer workbook

#[test]
fn rich_workbook_keeps_everything_else() {
    let before = rich_workbook();
    let edits = [
        edit(3, 4, None, true), // E3: bold + border, green
        edit(
            4,
            5,
            Some("MF (0010,4000) PatientComments not anonymous & <more>"),
            false,
        ), // F4 missing
        edit(3, 5, Some("MF"), true), // F3: same text, green
        edit(5, 4, Some("JD"), false), // E5: same text: no change
    ];
    let after = patch_package(&before, "Tracking", &edits).unwrap();
    let mut changed = assert_only_parts_changed(&before, &after, &[SHEET_XML, STYLES_XML]);
    changed.sort();
    assert_eq!(changed, [STYLES_XML, SHEET_XML]);
    let (xa, xb) = (part(&before, SHEET_XML), part(&after, SHEET_XML));
    assert_eq!(
        strip_cells(&xa, &["E3", "F3", "F4"]),
        strip_cells(&xb, &["E3", "F3", "F4"])
    );
    assert!(patch_package(&after, "Tracking", &edits).unwrap() == after);
    // The other sheet cannot be edited under a wrong name, and is never touched.
    let err = patch_package(&before, "Nope", &edits).unwrap_err();
    assert!(
        matches!(&err, Error::SheetNotFound { sheets, .. } if sheets == "`Tracking`, `Limits`"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let a = write_temp(dir.path(), "before.xlsx", &before);
    let b = write_temp(dir.path(), "after.xlsx", &after);
    if let (Some(fa), Some(fb)) = (openpyxl(FEATURES, &[&a]), openpyxl(FEATURES, &[&b])) {
        assert!(
            fa.contains("dv [('whole', None, 'Limits!$A$1', 'Limits!$A$2', 'D3:D8')]"),
            "{fa}"
        );
        assert!(
            fa.contains("Tracking C3 None made-up note for row 3"),
            "{fa}"
        );
        let edited = |l: &&str| {
            ["Tracking E3 ", "Tracking F3 ", "Tracking F4 "]
                .iter()
                .any(|p| l.starts_with(p))
        };
        let rest = |f: &str| {
            f.lines()
                .filter(|l| !edited(l))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(rest(&fa), rest(&fb));
        let line = |f: &str, p: &str| {
            f.lines()
                .find(|l| l.starts_with(p))
                .unwrap_or("")
                .to_owned()
        };
        let (e3a, e3b) = (line(&fa, "Tracking E3 "), line(&fb, "Tracking E3 "));
        assert_eq!(e3b, e3a.replace("None 00000000", "solid FF00B050"), "{e3a}");
        assert!(
            line(&fb, "Tracking F3 ").contains("'MF' None solid FF00B050"),
            "{fb}"
        );
        assert!(
            line(&fb, "Tracking F4 ").starts_with(
                "Tracking F4 'MF (0010,4000) PatientComments not anonymous & <more>' None None"
            ),
            "{fb}"
        );
    }
    if let Some((cells, diff)) = xlsx_diff(&a, &b) {
        assert_eq!(
            cells,
            BTreeSet::from(["Tracking!E3", "Tracking!F3", "Tracking!F4"].map(str::to_owned)),
            "{diff:?}"
        );
    }
    if let Some(csv) = soffice_csv(&b) {
        assert!(
            csv.lines()
                .nth(3)
                .unwrap()
                .contains("PatientComments not anonymous & <more>"),
            "{csv}"
        );
    }
}

// ---------------------------------------------------------------- saving safely

fn saved_copy(dir: &Path) -> PathBuf {
    write_temp(dir, "STUDY_dataprocessing.xlsx", &rich_workbook())
}

fn backups(path: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(backup_dir(path)) else {
        return Vec::new();
    };
    let mut v: Vec<_> = rd.map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn lock_file_refuses_and_changes_nothing() {
    for lock in ["~$STUDY_dataprocessing.xlsx", "~$UDY_dataprocessing.xlsx"] {
        let dir = tempfile::tempdir().unwrap();
        let path = saved_copy(dir.path());
        let fp = Fingerprint::of(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::fs::write(dir.path().join(lock), b"owner").unwrap();
        assert!(matches!(check_not_locked(&path), Err(Error::Locked { .. })));
        let err = save_workbook(&path, "Tracking", &[edit(3, 4, None, true)], &fp).unwrap_err();
        assert!(
            matches!(&err, Error::Locked { lock: l, .. } if l.ends_with(lock)),
            "{err}"
        );
        assert!(
            err.to_string().contains("close the workbook in Excel"),
            "{err}"
        );
        assert!(std::fs::read(&path).unwrap() == bytes);
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert!(backups(&path).is_empty());
        std::fs::remove_file(dir.path().join(lock)).unwrap();
        check_not_locked(&path).unwrap();
    }
}

#[test]
fn save_writes_backs_up_and_then_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved_copy(dir.path());
    let original = std::fs::read(&path).unwrap();
    let fp = Fingerprint::of(&path).unwrap();
    let edits = [edit(3, 4, None, true), edit(4, 5, Some(NOTE), false)];
    let out = save_workbook(&path, "Tracking", &edits, &fp).unwrap();
    assert!(out.written && !out.changed_on_disk);
    let saved = std::fs::read(&path).unwrap();
    assert!(saved == patch_package(&original, "Tracking", &edits).unwrap());
    let backup = out.backup.unwrap();
    assert!(std::fs::read(&backup).unwrap() == original);
    assert_eq!(backups(&path), [backup]);
    // No temp files are left beside the workbook.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // Second run: nothing to change, the file is not even rewritten.
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let fp2 = Fingerprint::of(&path).unwrap();
    let again = save_workbook(&path, "Tracking", &edits, &fp2).unwrap();
    assert_eq!(
        again,
        anontrack::sheet::write::SaveOutcome {
            written: false,
            changed_on_disk: false,
            backup: None
        }
    );
    assert!(std::fs::read(&path).unwrap() == saved);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
    assert_eq!(backups(&path).len(), 1);
}

#[test]
fn backups_rotate_to_the_last_twenty() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved_copy(dir.path());
    // Another workbook's backup in the same folder is not this one's to rotate.
    std::fs::create_dir_all(backup_dir(&path)).unwrap();
    let foreign = backup_dir(&path).join("OTHER.20000101T000000.000000Z.xlsx");
    std::fs::write(&foreign, b"x").unwrap();
    let mut versions = Vec::new();
    for i in 0..BACKUPS_KEPT + 5 {
        versions.push(std::fs::read(&path).unwrap());
        let fp = Fingerprint::of(&path).unwrap();
        let text = format!("note {i}");
        let out = save_workbook(&path, "Tracking", &[edit(4, 5, Some(&text), false)], &fp).unwrap();
        assert!(out.written);
    }
    let kept: Vec<_> = backups(&path)
        .into_iter()
        .filter(|p| *p != foreign)
        .collect();
    assert_eq!(kept.len(), BACKUPS_KEPT);
    assert!(foreign.exists());
    // The newest twenty versions, oldest first.
    for (b, v) in kept.iter().zip(&versions[5..]) {
        assert!(std::fs::read(b).unwrap() == *v, "{}", b.display());
    }
}

#[test]
fn edits_are_reapplied_onto_a_version_saved_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved_copy(dir.path());
    let fp = Fingerprint::of(&path).unwrap();
    // Someone saves the workbook in Excel meanwhile: a note in C5 and F3 filled in.
    let theirs = patch_package(
        &std::fs::read(&path).unwrap(),
        "Tracking",
        &[
            edit(5, 2, Some("rescan booked"), false),
            edit(3, 5, Some("MF"), true),
        ],
    )
    .unwrap();
    std::fs::write(&path, &theirs).unwrap();
    let ours = [edit(3, 4, None, true), edit(4, 5, Some(NOTE), false)];
    let out = save_workbook(&path, "Tracking", &ours, &fp).unwrap();
    assert!(out.written && out.changed_on_disk);
    assert!(std::fs::read(out.backup.unwrap()).unwrap() == theirs);
    let saved = std::fs::read(&path).unwrap();
    assert!(saved == patch_package(&theirs, "Tracking", &ours).unwrap());
    let xml = part(&saved, SHEET_XML);
    assert!(xml.contains("rescan booked") && xml.contains(NOTE));
}

#[test]
fn damaged_input_is_a_clear_error_and_the_file_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let good = rich_workbook();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated.xlsx", good[..good.len() / 2].to_vec()),
        ("empty.xlsx", Vec::new()),
        ("text.xlsx", b"Scan Date,Study\n".to_vec()),
        (
            "ole.xlsx",
            [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0].to_vec(),
        ),
    ];
    // A zip whose sheet XML is malformed.
    let mut broken = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, body) in entries(&good)
        .iter()
        .map(|(n, _, p)| (n.clone(), p.clone()))
    {
        broken
            .start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        let body = if name == SHEET_XML {
            b"<worksheet><sheetData><row r=\"1\"></sheetData>".to_vec()
        } else {
            body
        };
        std::io::Write::write_all(&mut broken, &body).unwrap();
    }
    cases.push(("badxml.xlsx", broken.finish().unwrap().into_inner()));
    for (name, bytes) in cases {
        let path = write_temp(dir.path(), name, &bytes);
        let fp = Fingerprint::of(&path).unwrap();
        let err =
            save_workbook(&path, "Tracking", &[edit(3, 4, Some("x"), true)], &fp).unwrap_err();
        assert!(matches!(err, Error::Workbook { .. }), "{name}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(name) && msg.contains("hint:"), "{msg}");
        assert!(std::fs::read(&path).unwrap() == bytes, "{name} changed");
        assert!(backups(&path).is_empty(), "{name}");
    }
    let path = write_temp(dir.path(), "good.xlsx", &good);
    let fp = Fingerprint::of(&path).unwrap();
    let err = save_workbook(&path, "Sheet1", &[edit(3, 4, None, true)], &fp).unwrap_err();
    assert!(matches!(err, Error::SheetNotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("cannot find sheet `Sheet1`"),
        "{err}"
    );
    assert!(std::fs::read(&path).unwrap() == good);
    let missing = dir.path().join("missing.xlsx");
    assert!(matches!(
        save_workbook(&missing, "Tracking", &[edit(3, 4, None, true)], &fp),
        Err(Error::NotFound { .. })
    ));
}

// ---------------------------------------------------------------- any edits, read back by calamine

mod property {
    use super::*;
    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::sync::OnceLock;

    fn rich() -> &'static [u8] {
        static RICH: OnceLock<Vec<u8>> = OnceLock::new();
        RICH.get_or_init(rich_workbook)
    }

    type Styles = calamine::StyleRange;

    fn read(bytes: &[u8]) -> (calamine::Range<Data>, Styles) {
        let mut x: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
        (
            x.worksheet_range("Tracking").unwrap(),
            x.worksheet_style("Tracking").unwrap(),
        )
    }

    fn green(s: Option<&calamine::Style>) -> bool {
        s.and_then(|s| s.fill.as_ref())
            .and_then(|f| f.get_color())
            .is_some_and(|c| c.to_argb() == 0xFF00_B050)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Whatever the edits, calamine reads exactly the edited texts and fills back, every
        /// other value and style is as before, and a second patch is a no-op.
        #[test]
        fn edits_read_back_exactly(
            raw in prop::collection::vec(
                (1u32..24, 0u32..9, proptest::option::of("[a-wA-W &<>_0-9é\t]{0,10}"), any::<bool>()),
                0..6,
            )
        ) {
            let edits: Vec<CellEdit> =
                raw.iter().map(|(r, c, t, g)| edit(*r, *c, t.as_deref(), *g)).collect();
            let before = rich();
            let after = patch_package(before, "Tracking", &edits).unwrap();
            prop_assert!(patch_package(&after, "Tracking", &edits).unwrap() == after);
            let mut want_text: BTreeMap<(u32, u32), String> = BTreeMap::new();
            let mut want_green: BTreeSet<(u32, u32)> = BTreeSet::new();
            for e in &edits {
                if let Some(t) = &e.text {
                    want_text.insert((e.row - 1, e.col), t.clone());
                }
                if e.green {
                    want_green.insert((e.row - 1, e.col));
                }
            }
            let ((va, sa), (vb, sb)) = (read(before), read(&after));
            for r in 0..26u32 {
                for c in 0..10u32 {
                    let old = va.get_value((r, c)).cloned().unwrap_or(Data::Empty);
                    let new = vb.get_value((r, c)).cloned().unwrap_or(Data::Empty);
                    let expected = match want_text.get(&(r, c)) {
                        Some(t) if t.is_empty() => Data::Empty,
                        Some(t) => Data::String(t.clone()),
                        None => old,
                    };
                    prop_assert_eq!(&new, &expected, "value at ({}, {})", r, c);
                    let (a, b) = (sa.get((r, c)), sb.get((r, c)));
                    if want_green.contains(&(r, c)) {
                        prop_assert!(green(b), "({}, {}) not green", r, c);
                    } else if a.is_some() {
                        prop_assert_eq!(a.and_then(|s| s.fill.clone()), b.and_then(|s| s.fill.clone()));
                    }
                    if let (Some(a), Some(b)) = (a, b) {
                        prop_assert_eq!(&a.font, &b.font);
                        prop_assert_eq!(&a.borders, &b.borders);
                        prop_assert_eq!(&a.number_format, &b.number_format);
                        prop_assert_eq!(&a.alignment, &b.alignment);
                    }
                }
            }
        }
    }
}
