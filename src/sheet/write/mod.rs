//! In-place write-back: patch the owned cells of an existing xlsx package, byte-surgically.
//!
//! The lab's workbook is their record, so a sync changes only what anontrack owns:
//! - every zip entry but the edited sheet's XML and `xl/styles.xml` is copied raw (the same
//!   compressed bytes, names, order and timestamps);
//! - inside the sheet XML only the owned cells' `<c>` elements change (their `s=`, `t=` and
//!   value); every other byte is copied verbatim, never re-serialised;
//! - `styles.xml` gains at most one green fill and one green twin per distinct cell format
//!   (spliced in before `</fills>` and `</cellXfs>`), so font, border, alignment and number
//!   format stay;
//! - text is written as an inline string (`t="inlineStr"`): it keeps the change inside the sheet
//!   XML, where adding to the shared-string table would also rewrite `sharedStrings.xml` (and
//!   leave stale counts behind). Excel turns it into a shared string on its next save.
//!
//! If nothing would change, the input bytes come back unchanged, so a no-op sync leaves the file
//! byte-identical. [`save`] adds the safety around replacing the file on disk (Excel's lock file,
//! backups, atomic rename, edits re-applied when the file changed since it was read).
//!
//! This module does not decide *what* to write (that is `plan` and `cmd::sync`) and does not
//! read the table (that is [`crate::sheet::read`]).

mod cells;
mod package;
pub mod save;
mod styles;
mod xml;

pub use save::{
    BACKUPS_KEPT, Fingerprint, Prepared, SaveOutcome, check_not_locked, save_with, save_workbook,
};

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

/// What to do to one owned cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellEdit {
    /// 1-based row.
    pub row: u32,
    /// 0-based column.
    pub col: u32,
    /// New text for the cell, or `None` to keep its value. `Some("")` empties the cell.
    pub text: Option<String>,
    /// Give the cell a solid green (FF00B050) fill, keeping its font, border, alignment and
    /// number format. `false` leaves the fill as it is (it never removes green).
    pub green: bool,
}

/// Applies `edits` to sheet `sheet` (its name as in `xl/workbook.xml`) of the xlsx package
/// `original` and returns the new package.
///
/// Cells that do not exist yet are inserted in order (rows too). Edits that change nothing (the
/// text is already there, the cell is already green) are skipped; when none changes anything
/// the result is byte-identical to `original`. Several edits of one cell merge (the last text
/// wins; green if any asks for it).
///
/// # Errors
/// [`Error::Workbook`] when the package or one of the parts it needs is damaged (not a zip,
/// malformed XML, missing styles), [`Error::SheetNotFound`] when there is no such sheet,
/// [`Error::Patch`] for an edit outside Excel's grid. Errors name the workbook `workbook.xlsx`;
/// [`save_workbook`] names the real path. Never panics on bad input.
pub fn patch_package(original: &[u8], sheet: &str, edits: &[CellEdit]) -> Result<Vec<u8>> {
    patch_at(Path::new("workbook.xlsx"), original, sheet, edits)
}

/// [`patch_package`] with errors naming `path`.
pub(crate) fn patch_at(
    path: &Path,
    original: &[u8],
    sheet: &str,
    edits: &[CellEdit],
) -> Result<Vec<u8>> {
    let wanted = merge_edits(edits).map_err(|reason| Error::Patch {
        path: path.to_path_buf(),
        reason,
    })?;
    if wanted.is_empty() {
        return Ok(original.to_vec());
    }
    package::patch(original, sheet, &wanted).map_err(|f| f.into_error(path))
}

/// The edit of one cell after merging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Edit {
    pub text: Option<String>,
    pub green: bool,
}

/// Edits by row, then column: the order cells appear in the sheet XML.
pub(crate) type Wanted = BTreeMap<u32, BTreeMap<u32, Edit>>;

/// Excel's grid: 1,048,576 rows by 16,384 columns.
const MAX_ROW: u32 = 1_048_576;
const MAX_COL: u32 = 16_383;

fn merge_edits(edits: &[CellEdit]) -> std::result::Result<Wanted, String> {
    let mut w = Wanted::new();
    for e in edits {
        if e.row == 0 || e.row > MAX_ROW || e.col > MAX_COL {
            return Err(format!(
                "cell (row {}, column {}) is outside the sheet",
                e.row, e.col
            ));
        }
        if e.text.is_none() && !e.green {
            continue;
        }
        let slot = w.entry(e.row).or_default().entry(e.col).or_default();
        if e.text.is_some() {
            slot.text.clone_from(&e.text);
        }
        slot.green |= e.green;
    }
    Ok(w)
}

/// Why a patch failed, before we know which file it was about.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The package or a part is damaged.
    Corrupt(String),
    /// No sheet by that name; the names there are.
    NoSheet { sheet: String, sheets: Vec<String> },
    /// Writing the new package failed (should not happen in memory).
    Internal(String),
}

impl Fail {
    pub(crate) fn corrupt(reason: impl Into<String>) -> Self {
        Self::Corrupt(reason.into())
    }

    pub(crate) fn into_error(self, path: &Path) -> Error {
        let path = path.to_path_buf();
        match self {
            Fail::Corrupt(reason) => Error::Workbook { path, reason },
            Fail::NoSheet { sheet, sheets } => Error::SheetNotFound {
                path,
                sheet,
                sheets: sheets
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            Fail::Internal(reason) => Error::Patch { path, reason },
        }
    }
}

/// `text` with each range replaced by its string. Ranges must not overlap; an empty range is an
/// insertion, placed before a replacement starting at the same offset.
pub(crate) fn splice(text: &str, mut splices: Vec<(Range<usize>, String)>) -> String {
    splices.sort_by_key(|(r, _)| (r.start, r.end));
    let added: usize = splices.iter().map(|(_, s)| s.len()).sum();
    let mut out = String::with_capacity(text.len() + added);
    let mut at = 0;
    for (r, s) in splices {
        out.push_str(&text[at..r.start]);
        out.push_str(&s);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_inserts_before_replacing() {
        let s = splice(
            "abcdef",
            vec![(2..4, "X".into()), (2..2, "i".into()), (6..6, "!".into())],
        );
        assert_eq!(s, "abiXef!");
    }

    #[test]
    fn edits_merge_and_are_checked() {
        let e = |row, col, text: Option<&str>, green| CellEdit {
            row,
            col,
            text: text.map(str::to_owned),
            green,
        };
        let w = merge_edits(&[
            e(3, 1, Some("a"), false),
            e(3, 1, None, true),
            e(4, 0, None, false),
        ])
        .unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[&3][&1],
            Edit {
                text: Some("a".into()),
                green: true
            }
        );
        assert!(merge_edits(&[e(0, 0, None, true)]).is_err());
        assert!(merge_edits(&[e(1, 16_384, None, true)]).is_err());
    }

    #[test]
    fn no_edits_return_the_input_even_if_it_is_not_a_workbook() {
        assert_eq!(patch_package(b"junk", "Sheet1", &[]).unwrap(), b"junk");
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let edit = CellEdit {
            row: 1,
            col: 0,
            text: Some("x".into()),
            green: false,
        };
        let err = patch_package(b"junk", "Sheet1", &[edit]).unwrap_err();
        assert!(matches!(err, Error::Workbook { .. }), "{err}");
    }
}
