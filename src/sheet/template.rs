//! The lab's tracking-workbook layout, written from scratch with rust_xlsxwriter (`anontrack init`).
//!
//! It follows the lab's `STUDYNAME_dataprocessing.xlsx`: merged group titles in row 1, the same
//! header texts in row 2 (A-AH, Original ID last; the stray trailing spaces of the lab's file are
//! dropped), their fills, fonts, borders and widths, and rows 1-2 frozen. `init` writes it with no
//! participant rows; `demo` adds example rows ([`TemplateRow`]) in the lab's conventions: green
//! FF00B050 for a done workflow cell, A-AF filled red FFFF0000 for an excluded row.

use crate::error::{Error, Result};
use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{
    Color, ExcelDateTime, Format, FormatAlign, FormatBorder, FormatUnderline, Workbook, Worksheet,
    XlsxError,
};
use std::io::Write;
use std::path::Path;

const ORANGE_TITLE: u32 = 0xF4B084;
const ORANGE: u32 = 0xF4B083;
const LIGHT_GREEN: u32 = 0xE2EFDA;
const LIGHT_BLUE: u32 = 0xBDD7EE;
const AMBER: u32 = 0xFFC000;
/// The lab's "done" green.
const GREEN: u32 = 0x00B050;
/// The lab's "no scan data" red.
const RED: u32 = 0xFF0000;

/// One workflow cell of an example row: its text (initials, maybe a note) and whether it is green.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateCell {
    pub text: String,
    pub green: bool,
}

impl TemplateCell {
    /// An empty cell (not started).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Initials alone, no fill: someone claimed the work (pending).
    pub fn claimed(initials: &str) -> Self {
        Self {
            text: initials.to_string(),
            green: false,
        }
    }

    /// Initials on green: done.
    pub fn done(initials: &str) -> Self {
        Self {
            text: initials.to_string(),
            green: true,
        }
    }
}

/// One participant row written below the headers (for `demo` and tests).
///
/// IDs made only of digits (no leading zero) are written as numbers, as Excel stores the lab's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateRow {
    pub scan_date: Option<NaiveDate>,
    pub study: String,
    pub notes: String,
    pub id: String,
    pub original_id: String,
    /// "DICOMS Anonymized".
    pub anonymized: TemplateCell,
    /// "DICOM anonymization check".
    pub check: TemplateCell,
    /// Filled red from A to AF: no scan data, skip the row.
    pub excluded: bool,
}

/// Column indices (0-based) of the cells a [`TemplateRow`] fills.
const COL_SCAN_DATE: u16 = 0;
const COL_STUDY: u16 = 1;
const COL_NOTES: u16 = 2;
const COL_ID: u16 = 3;
const COL_ANONYMIZED: u16 = 4;
const COL_CHECK: u16 = 5;
/// The last column of the lab's coloured block (AF); AG is the spacer.
const COL_LAST_BLOCK: u16 = 31;
const COL_ORIGINAL_ID: u16 = 33;

/// Row-2 headers, column A onwards: text and fill. Column AG is an empty spacer.
const HEADERS: [(&str, Option<u32>); 34] = [
    ("Scan Date", Some(AMBER)),
    ("Study", Some(AMBER)),
    ("Scan Notes", Some(AMBER)),
    ("ID", Some(AMBER)),
    ("DICOMS Anonymized", Some(ORANGE)),
    ("DICOM anonymization check", Some(ORANGE)),
    ("BIDS Conversion", Some(ORANGE)),
    ("Deface", Some(ORANGE)),
    ("BIDS ConversionNotes", Some(ORANGE)),
    ("Preprocessed", Some(LIGHT_GREEN)),
    ("Preprocessing Notes", Some(LIGHT_GREEN)),
    ("Segmentation of T1w", Some(LIGHT_BLUE)),
    ("Normalization (ANAT > MNI)", Some(LIGHT_BLUE)),
    ("Registration (FUNC > ANAT): SET", Some(LIGHT_BLUE)),
    ("maxDVARS: SET", Some(LIGHT_BLUE)),
    ("meanDVARS: SET", Some(LIGHT_BLUE)),
    ("maxFD: SET", Some(LIGHT_BLUE)),
    ("meanFD: SET", Some(LIGHT_BLUE)),
    ("Registration (FUNC > ANAT): EGNG", Some(LIGHT_BLUE)),
    ("maxDVARS: EGNG", Some(LIGHT_BLUE)),
    ("meanDVARS: EGNG", Some(LIGHT_BLUE)),
    ("maxFD: EGNG", Some(LIGHT_BLUE)),
    ("meanFD: EGNG", Some(LIGHT_BLUE)),
    ("Registration (FUNC > ANAT): Resting", Some(LIGHT_BLUE)),
    ("maxDVARS: Resting", Some(LIGHT_BLUE)),
    ("meanDVARS: Resting", Some(LIGHT_BLUE)),
    ("maxFD: Resting", Some(LIGHT_BLUE)),
    ("meanFD: Resting", Some(LIGHT_BLUE)),
    (
        "sFC + Activation Motion Threshold: mFD: .5",
        Some(LIGHT_BLUE),
    ),
    ("Strict Motion Threshold: mFD: .25", Some(LIGHT_BLUE)),
    ("Quality Check Notes", Some(LIGHT_BLUE)),
    ("Next steps:", Some(LIGHT_BLUE)),
    ("", None),
    ("Original ID", Some(AMBER)),
];

/// Column widths, A onwards, as stored in the lab's file (`<col width>`).
const WIDTHS: [f64; 34] = [
    10.45, 20.09, 49.36, 9.0, 12.0, 12.91, 11.09, 16.0, 15.82, 13.36, 16.82, // A-K
    11.0, 11.0, 11.0, 11.0, 11.0, 11.0, 11.0, 11.0, 11.0, 11.0, 11.0, 11.0, // L-W
    12.73, 11.0, 11.0, 11.0, 11.0, 15.09, // X-AC
    11.0, 11.0, 11.0, 11.0, 11.54, // AD-AH
];

/// Merged group titles in row 1: first and last column (0-based), text, fill.
const GROUPS: [(u16, u16, &str, u32); 3] = [
    (4, 8, "BIDS Conversion", ORANGE_TITLE),
    (9, 10, "Preprocessing", LIGHT_GREEN),
    (11, 30, "Quality Checks", LIGHT_BLUE),
];

/// Writes a new, empty tracking workbook at `path`; refuses to overwrite.
///
/// The file is created with `create_new`, so an existing file is never touched, even one that
/// appears between a check and the write.
pub fn write_template(path: &Path) -> Result<()> {
    write_template_with_rows(path, &[])
}

/// Writes a new tracking workbook holding `rows` below the headers at `path`; refuses to
/// overwrite, like [`write_template`].
pub fn write_template_with_rows(path: &Path, rows: &[TemplateRow]) -> Result<()> {
    let bytes = build_with_rows(rows).map_err(|e| Error::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::AlreadyExists {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(Error::write(path, e)),
    };
    if let Err(e) = file.write_all(&bytes).and_then(|()| file.sync_all()) {
        drop(file);
        // We created it, so removing our half-written file loses nothing.
        let _ = std::fs::remove_file(path);
        return Err(Error::write(path, e));
    }
    Ok(())
}

/// The template as xlsx bytes.
pub fn build() -> Result<Vec<u8>, XlsxError> {
    build_with_rows(&[])
}

/// The template with `rows` in rows 3 onwards, as xlsx bytes.
pub fn build_with_rows(rows: &[TemplateRow]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Sheet1")?;
    write_layout(sheet)?;
    for (i, row) in rows.iter().enumerate() {
        write_row(sheet, 2 + i as u32, row)?;
    }
    book.save_to_buffer()
}

/// Writes one participant row (0-based sheet row `r`) in the lab's body style: Calibri 12,
/// thin black borders on A-AF and AH.
fn write_row(sheet: &mut Worksheet, r: u32, row: &TemplateRow) -> Result<(), XlsxError> {
    let plain = Format::new()
        .set_font_name("Calibri")
        .set_font_size(12)
        .set_border(FormatBorder::Thin)
        .set_border_color(Color::Black);
    // A red row is red up to AF, as in the lab's file; its font is plain black.
    let body = if row.excluded {
        plain
            .clone()
            .set_background_color(Color::RGB(RED))
            .set_font_color(Color::Black)
    } else {
        plain.clone()
    };
    for col in 0..=COL_LAST_BLOCK {
        sheet.write_blank(r, col, &body)?;
    }
    if let Some(date) = row.scan_date {
        let serial =
            ExcelDateTime::from_ymd(date.year() as u16, date.month() as u8, date.day() as u8)?;
        sheet.write_datetime_with_format(
            r,
            COL_SCAN_DATE,
            &serial,
            &body.clone().set_num_format("yyyy-mm-dd"),
        )?;
    }
    write_text(sheet, r, COL_STUDY, &row.study, &body)?;
    write_text(sheet, r, COL_NOTES, &row.notes, &body)?;
    write_id(sheet, r, COL_ID, &row.id, &body)?;
    for (col, cell) in [(COL_ANONYMIZED, &row.anonymized), (COL_CHECK, &row.check)] {
        let format = if cell.green && !row.excluded {
            plain.clone().set_background_color(Color::RGB(GREEN))
        } else {
            body.clone()
        };
        if cell.green && !row.excluded {
            // Keep the fill even for an empty green cell.
            sheet.write_blank(r, col, &format)?;
        }
        write_text(sheet, r, col, &cell.text, &format)?;
    }
    // AH sits outside the coloured block: never red.
    write_id(sheet, r, COL_ORIGINAL_ID, &row.original_id, &plain)?;
    Ok(())
}

/// Writes `text` unless it is empty (the cell keeps its blank, formatted state).
fn write_text(
    sheet: &mut Worksheet,
    r: u32,
    col: u16,
    text: &str,
    format: &Format,
) -> Result<(), XlsxError> {
    if !text.is_empty() {
        sheet.write_string_with_format(r, col, text, format)?;
    }
    Ok(())
}

/// Writes an ID as a number when it is plain digits (as Excel stores the lab's), else as text.
fn write_id(
    sheet: &mut Worksheet,
    r: u32,
    col: u16,
    id: &str,
    format: &Format,
) -> Result<(), XlsxError> {
    let numeric = !id.is_empty()
        && id.len() <= 15
        && id.bytes().all(|b| b.is_ascii_digit())
        && (id == "0" || !id.starts_with('0'));
    match id.parse::<u64>() {
        Ok(n) if numeric => {
            sheet.write_number_with_format(r, col, n as f64, format)?;
            Ok(())
        }
        _ => write_text(sheet, r, col, id, format),
    }
}

fn write_layout(sheet: &mut Worksheet) -> Result<(), XlsxError> {
    let bordered = Format::new()
        .set_border(FormatBorder::Thin)
        .set_border_color(Color::Black);
    let title = bordered
        .clone()
        .set_bold()
        .set_font_name("Calibri")
        .set_font_size(14)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    for (first, last, text, fill) in GROUPS {
        let format = title.clone().set_background_color(Color::RGB(fill));
        sheet.merge_range(0, first, 0, last, text, &format)?;
    }
    sheet.write_blank(
        0,
        31,
        &title.clone().set_background_color(Color::RGB(LIGHT_BLUE)),
    )?;

    let header = bordered
        .set_bold()
        .set_font_name("Calibri")
        .set_text_wrap()
        .set_align(FormatAlign::VerticalCenter);
    for (col, ((text, fill), width)) in HEADERS.iter().zip(WIDTHS).enumerate() {
        let col = col as u16;
        // The lab's widths are the stored `<col width>` values; rust_xlsxwriter adds Excel's
        // 5-pixel padding to character widths, so give pixels to store the same value.
        sheet.set_column_width_pixels(col, (width * 7.0).round() as u32)?;
        let Some(fill) = fill else { continue };
        // The lab's identity columns (amber) are underlined 12pt; the work columns are centred.
        let format = match (*fill, col) {
            (AMBER, _) => header
                .clone()
                .set_font_size(12)
                .set_underline(FormatUnderline::Single),
            (_, 0..=10) => header
                .clone()
                .set_font_size(12)
                .set_align(FormatAlign::Center),
            (_, 28..) => header
                .clone()
                .set_font_size(11)
                .set_align(FormatAlign::Center),
            _ => header.clone().set_font_size(11),
        };
        sheet.write_string_with_format(
            1,
            col,
            *text,
            &format.set_background_color(Color::RGB(*fill)),
        )?;
    }
    // Scan dates typed into column A display as dates.
    sheet.set_column_format(0, &Format::new().set_num_format("yyyy-mm-dd"))?;
    sheet.set_row_height(0, 15.75)?;
    sheet.set_row_height(1, 47.4)?;
    sheet.set_freeze_panes(2, 0)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_widths_cover_a_to_ah() {
        assert_eq!(HEADERS.len(), 34);
        assert_eq!(crate::sheet::column_letters(33), "AH");
        assert_eq!(HEADERS[33].0, "Original ID");
        assert_eq!(HEADERS[4].0, "DICOMS Anonymized");
        assert!(HEADERS.iter().all(|(t, _)| t.trim() == *t));
    }

    fn example_rows() -> Vec<TemplateRow> {
        let row = |id: &str, anonymized: TemplateCell, check: TemplateCell| TemplateRow {
            scan_date: NaiveDate::from_ymd_opt(2024, 3, 5),
            study: "DEMO full study".into(),
            notes: String::new(),
            id: id.into(),
            original_id: format!("8{id}"),
            anonymized,
            check,
            excluded: false,
        };
        vec![
            row("201", TemplateCell::done("JD"), TemplateCell::done("MF")),
            row("202", TemplateCell::claimed("KH"), TemplateCell::empty()),
            row(
                "sub-03",
                TemplateCell::done("J.D."),
                TemplateCell {
                    text: "MF (0010,4000) PatientComments not anonymous".into(),
                    green: false,
                },
            ),
            TemplateRow {
                notes: "No scan data - made-up reason".into(),
                excluded: true,
                ..row("204", TemplateCell::empty(), TemplateCell::empty())
            },
            row("205", TemplateCell::empty(), TemplateCell::empty()),
        ]
    }

    fn write_example() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("T_dataprocessing.xlsx");
        write_template_with_rows(&path, &example_rows()).unwrap();
        (dir, path)
    }

    #[test]
    fn rows_read_back_with_their_states() {
        use crate::sheet::State::*;
        let (_dir, path) = write_example();
        let table =
            crate::sheet::read::read_table(&path, &crate::sheet::layout::ColumnNames::default())
                .unwrap();
        assert_eq!(table.header_row, 2);
        let got: Vec<_> = table
            .rows
            .iter()
            .map(|r| {
                (
                    r.row,
                    r.id.as_str(),
                    r.original_id.as_deref(),
                    r.excluded,
                    r.anonymization.state,
                    r.check.state,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (3, "201", Some("8201"), false, Done, Done),
                (4, "202", Some("8202"), false, Pending, NotStarted),
                (5, "sub-03", Some("8sub-03"), false, Done, Problem),
                (6, "204", Some("8204"), true, NotStarted, NotStarted),
                (7, "205", Some("8205"), false, NotStarted, NotStarted),
            ]
        );
        let r5 = &table.rows[2];
        assert_eq!(r5.check.initials.as_deref(), Some("MF"));
        assert_eq!(
            r5.check.note.as_deref(),
            Some("(0010,4000) PatientComments not anonymous")
        );
        assert_eq!(r5.anonymization.initials.as_deref(), Some("J.D."));
        assert_eq!(table.rows[1].anonymization.initials.as_deref(), Some("KH"));
        assert_eq!(table.rows[0].scan_date, NaiveDate::from_ymd_opt(2024, 3, 5));
        assert_eq!(table.rows[0].study.as_deref(), Some("DEMO full study"));
    }

    #[test]
    fn values_and_fills_as_calamine_sees_them() {
        use calamine::{Data, Reader, Xlsx};
        let (_dir, path) = write_example();
        let mut book: Xlsx<_> = calamine::open_workbook(&path).unwrap();
        let range = book.worksheet_range("Sheet1").unwrap();
        let styles = book.worksheet_style("Sheet1").unwrap();
        let fill = |r: u32, c: u32| crate::sheet::state::solid_fill(styles.get((r, c)));
        // Numeric IDs are numbers, like the lab's; other IDs are text.
        assert_eq!(range.get_value((2, 3)), Some(&Data::Float(201.0)));
        assert_eq!(range.get_value((2, 33)), Some(&Data::Float(8201.0)));
        assert_eq!(
            range.get_value((4, 3)),
            Some(&Data::String("sub-03".into()))
        );
        assert_eq!(range.get_value((3, 4)), Some(&Data::String("KH".into())));
        // Green FF00B050 on done cells only.
        assert_eq!(fill(2, 4).map(|c| c & 0xFFFFFF), Some(0x00B050));
        assert_eq!(fill(2, 5).map(|c| c & 0xFFFFFF), Some(0x00B050));
        assert_eq!(fill(3, 4), None);
        assert_eq!(fill(4, 5), None);
        // The excluded row is red from A to AF, not in AH.
        for c in [0, 3, 4, 5, 31] {
            assert_eq!(fill(5, c).map(|c| c & 0xFFFFFF), Some(0xFF0000), "col {c}");
        }
        assert_eq!(fill(5, 33), None);
        assert_eq!(fill(6, 0), None);
    }

    #[test]
    fn empty_template_still_has_no_rows_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("E_dataprocessing.xlsx");
        write_template(&path).unwrap();
        let table =
            crate::sheet::read::read_table(&path, &crate::sheet::layout::ColumnNames::default())
                .unwrap();
        assert!(table.rows.is_empty());
        // Refuses to overwrite, with rows or without.
        assert!(matches!(
            write_template_with_rows(&path, &example_rows()),
            Err(Error::AlreadyExists { .. })
        ));
    }
}
