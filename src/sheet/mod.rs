//! The tracking workbook (`STUDYNAME_dataprocessing.xlsx`) as plain data.
//!
//! - [`read`]: open the workbook (with clear errors for the wrong kind of file) and read each
//!   participant row (calamine: values and resolved fill colours);
//! - [`layout`]: find the header row and map the columns by their normalised header text;
//! - [`state`]: the lab's conventions for one cell: initials and notes, green, red, yellow;
//! - [`template`]: write a new, empty workbook with the lab's layout (`anontrack init`);
//! - [`write`](mod@write): patch the owned cells of an existing workbook in place, byte-surgically, so that
//!   every other part, cell and style survives unchanged;
//! - [`writeback`]: apply row results to the freshest workbook by participant ID (the
//!   "saved meanwhile" reconciliation and the save retries).
//!
//! Nothing here prints or knows about clap.

pub mod layout;
pub mod read;
pub mod state;
pub mod template;
pub mod write;
pub mod writeback;

pub use state::{display_safe, is_done_word};

use chrono::NaiveDate;
use serde::Serialize;
use std::path::PathBuf;

/// The state of one workflow cell ("DICOMS Anonymized" or "DICOM anonymization check").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Empty.
    NotStarted,
    /// Initials only, not green: someone claimed it; work for anontrack.
    Pending,
    /// Green fill.
    Done,
    /// Initials followed by a note, not green.
    Problem,
}

/// One workflow cell: its state and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkCell {
    pub state: State,
    /// The leading initials (`JD`, `J.D.`), if any.
    pub initials: Option<String>,
    /// The text after the initials, trimmed, if any.
    pub note: Option<String>,
}

/// A column the tool knows, by its 0-based index in the sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Columns {
    pub id: u32,
    pub anonymized: u32,
    pub check: u32,
    pub original_id: Option<u32>,
    pub scan_date: Option<u32>,
    pub study: Option<u32>,
    pub scan_notes: Option<u32>,
}

/// Any other header in the header row: a processing stage (BIDS Conversion, Deface, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageColumn {
    /// 0-based column index.
    pub col: u32,
    /// The header text, trimmed.
    pub name: String,
    /// A free-text column (`... Notes`, `Next steps:`), not a step that gets done.
    pub notes: bool,
}

/// One participant row (any row below the header with a non-empty ID).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The 1-based row number, as Excel shows it.
    pub row: u32,
    /// The study ID (column "ID"); numbers print as `101`, not `101.0`.
    pub id: String,
    /// The original (scanner) ID, if the column exists and holds a value.
    pub original_id: Option<String>,
    pub study: Option<String>,
    pub scan_date: Option<NaiveDate>,
    /// The row is filled red: no scan data, skip it.
    pub excluded: bool,
    /// The row's ID cell is filled yellow: flagged, see Scan Notes. Only informative.
    pub flagged: bool,
    pub anonymization: WorkCell,
    pub check: WorkCell,
    /// For each stage column (same order as [`Table::stages`]): green or holding a value.
    pub stages: Vec<bool>,
}

/// The participant table of a tracking workbook.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// The workbook's path.
    pub path: PathBuf,
    /// The sheet holding the table.
    pub sheet: String,
    /// The 1-based row number of the header row.
    pub header_row: u32,
    pub columns: Columns,
    pub stages: Vec<StageColumn>,
    pub rows: Vec<Row>,
}

/// Converts a 0-based column index to its letters (`0` -> `A`, `33` -> `AH`).
pub fn column_letters(mut col: u32) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// An A1-style reference from a 1-based row and a 0-based column (`cell_ref(9, 4)` is `E9`).
pub fn cell_ref(row: u32, col: u32) -> String {
    format!("{}{row}", column_letters(col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_match_excel() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(33), "AH");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
        assert_eq!(cell_ref(9, 4), "E9");
    }
}
