//! Checks on xlsx packages for the end-to-end tests: which zip entries changed (compressed and
//! uncompressed bytes), which cells changed inside the sheet XML, and the independent readers
//! (`../shared/tools/xlsx_diff.py` with openpyxl, LibreOffice headless). Without python3/openpyxl
//! or LibreOffice the independent checks skip with a note, unless `ANONTRACK_REQUIRE_TOOLS=1`.

#![allow(dead_code)]

use crate::harness::{require, shared_path, tool_present};
use std::collections::BTreeSet;
use std::io::{Cursor, Read};
use std::path::Path;
use std::process::Command;

pub const SHEET_XML: &str = "xl/worksheets/sheet1.xml";
pub const STYLES_XML: &str = "xl/styles.xml";

/// Each entry of an xlsx package: (name, raw compressed bytes, uncompressed bytes).
pub fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip package");
    (0..zip.len())
        .map(|i| {
            let mut raw = Vec::new();
            let mut f = zip.by_index_raw(i).unwrap();
            let name = f.name().unwrap().into_owned();
            f.read_to_end(&mut raw).unwrap();
            drop(f);
            // A part whose declared size is wrong (Excel opens those) compares by its raw bytes.
            let mut plain = Vec::new();
            if zip
                .by_index(i)
                .and_then(|mut f| Ok(f.read_to_end(&mut plain)?))
                .is_err()
            {
                plain = raw.clone();
            }
            (name, raw, plain)
        })
        .collect()
}

/// The text of one part of a package.
pub fn part(bytes: &[u8], name: &str) -> String {
    let e = entries(bytes);
    let (_, _, plain) = e.iter().find(|(n, _, _)| n == name).expect(name);
    String::from_utf8(plain.clone()).unwrap()
}

/// Asserts the same entry names in the same order, and every entry outside `may_change`
/// byte-identical, compressed and uncompressed. Returns the entries that did change.
#[track_caller]
pub fn assert_only_parts_changed(before: &[u8], after: &[u8], may_change: &[&str]) -> Vec<String> {
    let (a, b) = (entries(before), entries(after));
    let names =
        |v: &[(String, Vec<u8>, Vec<u8>)]| v.iter().map(|e| e.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "entry names or order changed");
    let mut changed = Vec::new();
    for ((name, raw_a, plain_a), (_, raw_b, plain_b)) in a.iter().zip(&b) {
        if may_change.contains(&name.as_str()) {
            if plain_a != plain_b {
                changed.push(name.clone());
            }
            continue;
        }
        assert!(raw_a == raw_b, "compressed bytes of `{name}` changed");
        assert!(plain_a == plain_b, "content of `{name}` changed");
    }
    changed
}

/// `xml` without the `<c>` elements of the given cells (self-closing or not).
pub fn strip_cells(xml: &str, refs: &[&str]) -> String {
    let mut out = xml.to_owned();
    for r in refs {
        let needle = format!("<c r=\"{r}\"");
        let Some(start) = out.find(&needle) else {
            continue;
        };
        let tag_end = start + out[start..].find('>').unwrap() + 1;
        let end = if out[..tag_end].ends_with("/>") {
            tag_end
        } else {
            tag_end + out[tag_end..].find("</c>").unwrap() + 4
        };
        out.replace_range(start..end, "");
    }
    out
}

/// The `<c>` element of cell `r` in `xml`.
pub fn cell_element<'a>(xml: &'a str, r: &str) -> &'a str {
    let start = xml.find(&format!("<c r=\"{r}\"")).expect(r);
    let tag_end = start + xml[start..].find('>').unwrap() + 1;
    if xml[..tag_end].ends_with("/>") {
        &xml[start..tag_end]
    } else {
        &xml[start..tag_end + xml[tag_end..].find("</c>").unwrap() + 4]
    }
}

fn have_openpyxl() -> bool {
    tool_present("python3", &["-c", "import openpyxl"])
}

/// The cells `xlsx_diff.py BEFORE AFTER` reports as changed (`Sheet!A1`), plus its `part ...`
/// lines, or `None` (after a note) without the tools.
pub fn xlsx_diff(before: &Path, after: &Path) -> Option<(BTreeSet<String>, Vec<String>)> {
    let script = shared_path("tools/xlsx_diff.py")?;
    if !require("python3 with openpyxl", have_openpyxl()) {
        return None;
    }
    let out = Command::new("python3")
        .arg(script)
        .args([before, after])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xlsx_diff failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let cells = lines
        .iter()
        .filter(|l| !l.starts_with("part"))
        .map(|l| l.split(':').next().unwrap().to_owned())
        .collect();
    Some((cells, lines))
}

/// Runs a python3 snippet with openpyxl on `files`; its stdout, or `None` without the tools.
pub fn openpyxl(script: &str, files: &[&Path]) -> Option<String> {
    if !require("python3 with openpyxl", have_openpyxl()) {
        return None;
    }
    let out = Command::new("python3")
        .args(["-c", script])
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openpyxl could not read the workbook: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// LibreOffice's CSV of the first sheet of `xlsx` (own throwaway profile), or `None` without it.
pub fn soffice_csv(xlsx: &Path) -> Option<String> {
    if !require(
        "LibreOffice (soffice)",
        tool_present("soffice", &["--version"]),
    ) {
        return None;
    }
    let outdir = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.path().display()
        ))
        .args(["--headless", "--convert-to", "csv", "--outdir"])
        .arg(outdir.path())
        .arg(xlsx)
        .output()
        .unwrap();
    let csv = outdir
        .path()
        .join(xlsx.file_stem().unwrap())
        .with_extension("csv");
    assert!(
        csv.exists(),
        "LibreOffice could not open `{}`: {}{}",
        xlsx.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(std::fs::read_to_string(csv).unwrap())
}

/// Features of every sheet as openpyxl sees them (validations with both formulas, conditional
/// formats, merges, panes, widths, autofilter, notes, defined names, values, fills, fonts,
/// borders, number formats), one line each, so two files can be compared line by line.
pub const FEATURES: &str = r#"
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
print("names", sorted((n, d.attr_text) for n, d in wb.defined_names.items()))
for ws in wb.worksheets:
    print(ws.title, "names", sorted((n, d.attr_text) for n, d in ws.defined_names.items()))
    print(ws.title, "dv", [(d.type, d.operator, d.formula1, d.formula2, str(d.sqref)) for d in ws.data_validations.dataValidation])
    print(ws.title, "cf", [(str(r.sqref), [(x.type, x.operator, x.formula) for x in r.rules]) for r in ws.conditional_formatting])
    print(ws.title, "merged", sorted(map(str, ws.merged_cells.ranges)))
    print(ws.title, "panes", ws.freeze_panes, "filter", ws.auto_filter.ref)
    print(ws.title, "widths", sorted((k, d.width) for k, d in ws.column_dimensions.items()))
    print(ws.title, "charts", len(ws._charts))
    for row in ws.iter_rows():
        for c in row:
            if c.value is not None or c.comment or c.fill.fill_type:
                print(ws.title, c.coordinate, repr(c.value), c.comment.text if c.comment else None,
                      c.fill.fill_type, c.fill.fgColor.rgb, c.font.b, c.font.sz, c.border.left.style, c.number_format)
"#;
