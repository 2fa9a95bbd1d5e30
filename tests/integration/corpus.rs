//! The write-back against real workbooks no one here wrote (`../shared/xlsx-corpus`, 143
//! packages from Excel 2007-2016, Mac Excel, Excel Online, LibreOffice, ONLYOFFICE and others).
//!
//! Each package gets a tracking sheet wired in by editing the package itself (zip and XML, no
//! spreadsheet library): a new worksheet part after the others, with the lab's header row and
//! three claimed rows. Then, through the library, the table is read, one cell is turned green
//! and one gets a note, and the result is checked: every other zip entry byte-identical, the
//! sheet XML unchanged outside the two cells, `styles.xml` only appended to, and the re-read
//! table showing the green cell done and the note a problem. A few go through the real binary.

use crate::harness::{Workdir, shared_path};
use crate::sync::Study;
use crate::xlsx_check::{assert_only_parts_changed, entries, strip_cells};
use anontrack::config::ColumnNames;
use anontrack::sheet::State;
use anontrack::sheet::read::read_table;
use anontrack::sheet::write::{CellEdit, patch_package};
use anontrack::synth::ParticipantSpec;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

/// Packages the write-back must refuse, with a word of their reason in the refusal. Every
/// other package must come out exact.
const REFUSED: &[(&str, &str)] = &[
    ("tests_pass_protected.xlsx", "password-protected"),
    // A part longer than the zip says it is: the zip reader will not inflate it.
    (
        "tests_issue252.xlsx",
        "larger than its declared uncompressed size",
    ),
    // A part that is not UTF-8 (a LibreOffice bug report's sample).
    ("tests_test_files_tdf76115.xlsx", "UTF-8"),
];

const SHEET_NAME: &str = "AnonTrack";
const REL_WORKSHEET: &str =
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet";
const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

fn corpus() -> Option<Vec<PathBuf>> {
    let dir = shared_path("xlsx-corpus")?;
    let mut files: Vec<PathBuf> = ["calamine", "umya-spreadsheet"]
        .iter()
        .flat_map(|d| std::fs::read_dir(dir.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xlsx" || e == "xlsm"))
        .collect();
    files.sort();
    Some(files)
}

/// The text of a zip entry, any case, with a UTF-8 BOM kept (it is part of the bytes).
fn entry_text(pkg: &[(String, Vec<u8>, Vec<u8>)], name: &str) -> Option<(usize, String)> {
    pkg.iter()
        .position(|(n, _, _)| n.replace('\\', "/").eq_ignore_ascii_case(name))
        .map(|i| (i, String::from_utf8_lossy(&pkg[i].2).into_owned()))
}

/// The value of attribute `name` in the first tag of `xml` matching `tag_pred`.
fn attr_of(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[at..].find('"')?;
    Some(tag[at..at + end].to_owned())
}

/// The relationship targets of a rels part: (type, target).
fn rels_of(xml: &str) -> Vec<(String, String)> {
    xml.split("<Relationship ")
        .skip(1)
        .map(|r| {
            let tag = format!(" {}", &r[..r.find('>').unwrap_or(r.len())]);
            (
                attr_of(&tag, "Type").unwrap_or_default(),
                attr_of(&tag, "Target").unwrap_or_default(),
            )
        })
        .collect()
}

/// Inserts `what` just before the last occurrence of `</local>` (any prefix).
fn insert_before_close(xml: &str, local: &str, what: &str) -> Option<String> {
    let at = xml
        .rfind(&format!("{local}>"))
        .and_then(|i| xml[..i].rfind("</"))?;
    Some(format!("{}{what}{}", &xml[..at], &xml[at..]))
}

/// The package `pkg` with a tracking sheet added after its other sheets, and the style index
/// given to the claimed cells (an existing cell format, to check it is copied, not replaced).
fn wire(bytes: &[u8]) -> Result<(Vec<u8>, String), String> {
    zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("not a zip: {e}"))?;
    let pkg = entries(bytes);
    let (_, root) = entry_text(&pkg, "_rels/.rels").ok_or("no _rels/.rels")?;
    let wb_target = rels_of(&root)
        .into_iter()
        .find(|(t, _)| t.ends_with("/officeDocument"))
        .map(|(_, t)| t.trim_start_matches('/').to_owned())
        .ok_or("no officeDocument relationship")?;
    let (dir, file) = wb_target.rsplit_once('/').unwrap_or(("", &wb_target));
    let wb_rels_name = if dir.is_empty() {
        format!("_rels/{file}.rels")
    } else {
        format!("{dir}/_rels/{file}.rels")
    };
    let (wb_i, wb) = entry_text(&pkg, &wb_target).ok_or("no workbook part")?;
    let (rels_i, wb_rels) = entry_text(&pkg, &wb_rels_name).ok_or("no workbook rels")?;
    let (ct_i, ct) = entry_text(&pkg, "[Content_Types].xml").ok_or("no content types")?;

    // The main namespace (transitional or strict) and the element prefix of the workbook part.
    let sheets_at = wb.find("sheets>").ok_or("no <sheets>")?;
    let open = wb[..sheets_at].rfind('<').unwrap();
    let prefix = &wb[open + 1..sheets_at];
    let ns_attr = if prefix.is_empty() {
        "xmlns=\"".to_owned()
    } else {
        format!("xmlns:{}=\"", prefix.trim_end_matches(':'))
    };
    let ns_at = wb.find(&ns_attr).ok_or("no main namespace")? + ns_attr.len();
    let ns = &wb[ns_at..ns_at + wb[ns_at..].find('"').unwrap()];
    let rel_ns = if ns.contains("purl.oclc.org") {
        "http://purl.oclc.org/ooxml/officeDocument/relationships"
    } else {
        REL_NS
    };
    let rel_type = if ns.contains("purl.oclc.org") {
        "http://purl.oclc.org/ooxml/officeDocument/relationships/worksheet"
    } else {
        REL_WORKSHEET
    };

    let part = if dir.is_empty() {
        "worksheets/anontrack.xml".to_owned()
    } else {
        format!("{dir}/worksheets/anontrack.xml")
    };
    let sheet = format!(
        "<{prefix}sheet xmlns:r=\"{rel_ns}\" name=\"{SHEET_NAME}\" sheetId=\"4242\" r:id=\"rIdAnonTrack\"/>"
    );
    let new_wb = insert_before_close(&wb, "sheets", &sheet).ok_or("no </sheets>")?;
    let rel = format!(
        "<Relationship Id=\"rIdAnonTrack\" Type=\"{rel_type}\" Target=\"worksheets/anontrack.xml\"/>"
    );
    let new_rels =
        insert_before_close(&wb_rels, "Relationships", &rel).ok_or("no </Relationships>")?;
    let ov = format!(
        "<Override PartName=\"/{part}\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
    );
    let new_ct = insert_before_close(&ct, "Types", &ov).ok_or("no </Types>")?;

    let c = |r: &str, s: &str, text: &str| {
        format!("<c r=\"{r}\"{s} t=\"inlineStr\"><is><t>{text}</t></is></c>")
    };
    let style = " s=\"0\"";
    let row = |n: u32, cells: &[(&str, &str)]| {
        let cells: String = cells
            .iter()
            .enumerate()
            .map(|(i, (t, s))| c(&format!("{}{n}", (b'A' + i as u8) as char), s, t))
            .collect();
        format!("<row r=\"{n}\">{cells}</row>")
    };
    let sheet_xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet xmlns=\"{ns}\"><dimension ref=\"A1:D4\"/><sheetData>{}{}{}{}</sheetData></worksheet>",
        row(
            1,
            &[
                ("ID", ""),
                ("Original ID", ""),
                ("DICOMS Anonymized", ""),
                ("DICOM anonymization check", "")
            ]
        ),
        row(2, &[("P01", ""), ("X1", ""), ("KH", style)]),
        row(3, &[("P02", ""), ("X2", ""), ("KH", "")]),
        row(4, &[("P03", ""), ("X3", "")]),
    );

    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut raw = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let opts = zip::write::SimpleFileOptions::default();
    for (i, (entry_name, _, _)) in pkg.iter().enumerate() {
        let replaced = [(wb_i, &new_wb), (rels_i, &new_rels), (ct_i, &new_ct)]
            .into_iter()
            .find(|(j, _)| *j == i);
        match replaced {
            None => {
                let e = raw.by_index_raw(i).map_err(|e| e.to_string())?;
                out.raw_copy_file(e).map_err(|e| e.to_string())?;
            }
            Some((_, text)) => {
                // The text still starts with the byte-order mark the part had, if any.
                out.start_file(entry_name.as_str(), opts)
                    .map_err(|e| e.to_string())?;
                out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
            }
        }
    }
    out.start_file(part.clone(), opts)
        .map_err(|e| e.to_string())?;
    out.write_all(sheet_xml.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok((out.finish().unwrap().into_inner(), part))
}

/// Whether `after` is `before` with text inserted in at most two places (ignoring `count`).
fn only_appended(before: &str, after: &str) -> bool {
    let strip = |s: &str| {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find(" count=\"") {
            out.push_str(&rest[..i]);
            let tail = &rest[i + 8..];
            rest = &tail[tail.find('"').map_or(tail.len(), |j| j + 1)..];
        }
        out.push_str(rest);
        out
    };
    let (a, b) = (strip(before), strip(after));
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[pre..], &b[pre..]);
    let suf = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[..a.len() - suf], &b[..b.len() - suf]);
    a.is_empty() || b.windows(a.len()).any(|w| w == a)
}

/// What happened to one corpus file.
enum Outcome {
    Exact,
    Refused(String),
    Wrong(String),
}

fn styles_part(pkg: &[(String, Vec<u8>, Vec<u8>)]) -> Option<String> {
    pkg.iter()
        .map(|(n, _, _)| n)
        .find(|n| {
            let n = n.to_ascii_lowercase();
            n.ends_with("styles.xml") && !n.contains("chart")
        })
        .cloned()
}

fn check_one(path: &Path, work: &Path) -> Outcome {
    let original = std::fs::read(path).unwrap();
    let (wired, part) = match wire(&original) {
        Ok(w) => w,
        // Not a package at all: what does anontrack say about it?
        Err(e) => {
            return match read_table(path, &ColumnNames::default()) {
                Err(refusal) => Outcome::Refused(refusal.to_string()),
                Ok(_) => Outcome::Wrong(format!("cannot wire a sheet in ({e}), but it reads")),
            };
        }
    };
    let file = work.join(path.file_name().unwrap());
    std::fs::write(&file, &wired).unwrap();
    let names = ColumnNames::default();
    let table = match read_table(&file, &names) {
        Ok(t) => t,
        Err(e) => return Outcome::Refused(format!("read: {e}")),
    };
    if table.sheet != SHEET_NAME || table.rows.len() != 3 {
        return Outcome::Wrong(format!(
            "read sheet `{}` with {} rows",
            table.sheet,
            table.rows.len()
        ));
    }
    if let Err(e) = anontrack::sheet::write::preflight(&wired, SHEET_NAME) {
        return Outcome::Refused(format!("preflight: {e}"));
    }
    let (anon, _) = (table.columns.anonymized, table.columns.check);
    let edits = [
        CellEdit {
            row: 2,
            col: anon,
            text: None,
            green: true,
        },
        CellEdit {
            row: 3,
            col: anon,
            text: Some("KH raw folder not found".into()),
            green: false,
        },
    ];
    let out = match patch_package(&wired, &table.sheet, &edits) {
        Ok(o) => o,
        Err(e) => return Outcome::Refused(format!("write: {e}")),
    };
    let before = entries(&wired);
    let styles = styles_part(&before);
    let mut may: Vec<&str> = vec![part.as_str()];
    if let Some(s) = &styles {
        may.push(s);
    }
    let after = entries(&out);
    if styles.is_none() {
        // A package without styles gets one, with its relationship and content type.
        let added: Vec<&String> = after[before.len().min(after.len())..]
            .iter()
            .map(|e| &e.0)
            .collect();
        if added.len() != 1 || !added[0].ends_with("styles.xml") {
            return Outcome::Wrong(format!("added parts {added:?}"));
        }
        for (a, b) in before.iter().zip(&after) {
            if a.0 != b.0 {
                return Outcome::Wrong("entry names or order changed".into());
            }
            let ab = (String::from_utf8_lossy(&a.2), String::from_utf8_lossy(&b.2));
            if a.1 != b.1 && a.0 != part && !only_appended(&ab.0, &ab.1) {
                return Outcome::Wrong(format!("`{}` changed beyond an insertion", a.0));
            }
            let owned = a.0 == part || a.0.ends_with(".rels") || a.0.ends_with("Types].xml");
            if a.1 != b.1 && !owned {
                return Outcome::Wrong(format!("`{}` changed", a.0));
            }
        }
    } else if let Err(e) =
        std::panic::catch_unwind(|| assert_only_parts_changed(&wired, &out, &may))
    {
        let why = e.downcast_ref::<String>().cloned().unwrap_or_default();
        return Outcome::Wrong(format!("a part it does not own changed: {why}"));
    }
    let text = |pkg: &[(String, Vec<u8>, Vec<u8>)], n: &str| {
        String::from_utf8_lossy(pkg.iter().find(|e| e.0 == n).map_or(&[][..], |e| &e.2))
            .into_owned()
    };
    let (sa, sb) = (text(&before, &part), text(&after, &part));
    if strip_cells(&sa, &["C2", "C3"]) != strip_cells(&sb, &["C2", "C3"]) {
        return Outcome::Wrong("the sheet changed outside the owned cells".into());
    }
    if let Some(s) = &styles {
        let (a, b) = (text(&before, s), text(&after, s));
        if !only_appended(&a, &b) {
            return Outcome::Wrong("styles were not only appended to".into());
        }
    }
    std::fs::write(&file, &out).unwrap();
    let again = match read_table(&file, &names) {
        Ok(t) => t,
        Err(e) => return Outcome::Wrong(format!("re-read: {e}")),
    };
    let states: Vec<State> = again.rows.iter().map(|r| r.anonymization.state).collect();
    if states != [State::Done, State::Problem, State::NotStarted] {
        return Outcome::Wrong(format!("re-read states {states:?}"));
    }
    if again.rows[1].anonymization.note.as_deref() != Some("raw folder not found") {
        return Outcome::Wrong("the note did not read back".into());
    }
    Outcome::Exact
}

#[test]
fn every_corpus_workbook_is_written_back_exactly() {
    let Some(files) = corpus() else { return };
    assert_eq!(files.len(), 143, "the corpus has 143 workbooks");
    let w = Workdir::new();
    let mut wrong = Vec::new();
    let mut refused = Vec::new();
    let mut exact = 0;
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let outcome = std::panic::catch_unwind(|| check_one(f, w.path()))
            .unwrap_or_else(|_| Outcome::Wrong("panicked".into()));
        let expected = REFUSED.iter().find(|(n, _)| *n == name);
        match (outcome, expected) {
            (Outcome::Exact, None) => exact += 1,
            (Outcome::Exact, Some(_)) => {
                wrong.push(format!("{name}: listed as refused, but works"))
            }
            (Outcome::Refused(why), Some((_, word))) if why.contains(word) => {
                refused.push(name);
            }
            (Outcome::Refused(why), _) => wrong.push(format!("{name}: refused: {why}")),
            (Outcome::Wrong(why), _) => wrong.push(format!("{name}: {why}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} exact, {} refused as expected; wrong:\n{}",
        exact,
        files.len(),
        refused.len(),
        wrong.join("\n")
    );
}

/// A few through the real binary: a byte-order-mark package, one without styles, one without
/// `cellXfs` (prefixed namespaces), and a plain Excel one. Row P01 has its DICOM and turns
/// green; P02's raw folder is missing and gets a note; nothing else in the package changes.
#[test]
fn sync_through_the_binary_on_odd_corpus_workbooks() {
    let Some(dir) = shared_path("xlsx-corpus") else {
        return;
    };
    for name in [
        "calamine/tests_issue_261.xlsx",
        "umya-spreadsheet/tests_test_files_59021.xlsx",
        "calamine/tests_nonstandard-xml-ns-prefix.xlsx",
        "calamine/tests_temperature.xlsx",
    ] {
        let (wired, part) = wire(&std::fs::read(dir.join(name)).unwrap()).unwrap();
        let s = Study::simple(&[]);
        std::fs::write(s.path(), &wired).unwrap();
        s.participant(&ParticipantSpec::new("X1", 7));
        let run = s.sync(&[]);
        run.expect_code(1);
        let out = std::fs::read(s.path()).unwrap();
        let before = entries(&wired);
        let after = entries(&out);
        for (a, b) in before.iter().zip(&after) {
            let owned = a.0 == part
                || a.0.ends_with("styles.xml")
                || (styles_part(&before).is_none()
                    && (a.0.ends_with(".rels") || a.0.ends_with("Types].xml")));
            assert!(owned || a.1 == b.1, "{name}: `{}` changed", a.0);
        }
        let status = s.status();
        assert!(status[0].contains("P01 X1 done(KH)"), "{name}: {status:?}");
        assert!(
            status[1].contains("P02 X2 problem(KH"),
            "{name}: {status:?}"
        );
        assert!(
            status[2].contains("P03 X3 not_started"),
            "{name}: {status:?}"
        );
    }
}
