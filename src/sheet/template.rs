//! The lab's tracking-workbook layout, written from scratch with rust_xlsxwriter (`anontrack init`).
//!
//! It follows the lab's `STUDYNAME_dataprocessing.xlsx`: merged group titles in row 1, the same
//! header texts in row 2 (A-AH, Original ID last; the stray trailing spaces of the lab's file are
//! dropped), their fills, fonts, borders and widths, and rows 1-2 frozen. No participant rows.

use crate::error::{Error, Result};
use rust_xlsxwriter::{
    Color, Format, FormatAlign, FormatBorder, FormatUnderline, Workbook, Worksheet, XlsxError,
};
use std::io::Write;
use std::path::Path;

const ORANGE_TITLE: u32 = 0xF4B084;
const ORANGE: u32 = 0xF4B083;
const LIGHT_GREEN: u32 = 0xE2EFDA;
const LIGHT_BLUE: u32 = 0xBDD7EE;
const AMBER: u32 = 0xFFC000;

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
    let bytes = build().map_err(|e| Error::Write {
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
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Sheet1")?;
    write_layout(sheet)?;
    book.save_to_buffer()
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
}
