//! Reading the tracking workbook: open it (refusing the wrong kinds of file with a clear
//! message), find the table ([`super::layout`]), then read each participant row and the state of
//! its two workflow cells ([`super::state`]).
//!
//! The file is read once, into memory, and never opened for writing: `status` leaves it
//! byte-identical and creates no lock file. Its XML parts are size-checked before anything
//! parses them, and each sheet is streamed into a sparse [`Grid`], so a hostile extent (one
//! value in XFD1048576) costs one cell.

use super::layout::{self, ColumnNames, Grid, HEADER_SEARCH_ROWS};
use super::state;
use super::write;
use super::{Columns, Row, StageColumn, Table};
use crate::error::{Error, Result};
use calamine::{Data, DataRef, DataType, Reader, Xlsx, XlsxError};
use chrono::NaiveDate;
use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::path::Path;

/// The first bytes of an OLE compound file: a legacy .xls, or an encrypted (password) xlsx.
const OLE_MAGIC: [u8; 4] = [0xD0, 0xCF, 0x11, 0xE0];
/// The first bytes of a zip archive, which every xlsx is.
const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";

/// Reads the participant table of the workbook at `path`.
///
/// Errors (exit 2) for a missing file, the wrong kind of file (.xls, .csv, .ods, ...), a
/// password-protected or damaged workbook, a part inflating past the size limit, no header
/// row, a missing required column, two rows with the same ID, or a table sheet the write-back
/// could not update (checked now, before any work, not after it).
///
/// Sheets are streamed cell by cell: memory follows the cells present, not the sheet's extent.
/// A sheet that cannot be read (an XLM macro sheet, a damaged part the table does not use) is
/// passed over; its error is reported only if no sheet holds the table.
pub fn read_table(path: &Path, names: &ColumnNames) -> Result<Table> {
    let bytes = read_workbook_bytes(path)?;
    write::check_sizes(path, &bytes)?;
    let readable = write::readable_copy(&bytes);
    let for_reader = readable.as_deref().unwrap_or(&bytes);
    let mut book: Xlsx<_> =
        Xlsx::new(Cursor::new(for_reader)).map_err(|e| workbook_error(path, e))?;
    let positions = write::style_positions(&bytes);

    let sheet_names = book.sheet_names();
    let mut any_data = false;
    let mut first_error = None;
    let mut found = None;
    // The first sheet's near match for the missing header, for the error's hint.
    let mut near = None;
    for name in &sheet_names {
        let sheet = match read_sheet(&mut book, name, positions.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        if sheet.values.is_empty() {
            continue;
        }
        any_data = true;
        if let Some(row) = layout::find_header_row(&sheet.values, names) {
            found = Some((name.clone(), sheet, row));
            break;
        }
        if near.is_none() {
            // Only a long name is hinted: these rows may hold data, not just headers.
            let rows = sheet
                .values
                .rows_from(0)
                .take_while(|&r| r < HEADER_SEARCH_ROWS);
            near = layout::near_header(&sheet.values, rows, &names.anonymized, 8)
                .map(|text| (name.clone(), text));
        }
    }
    let Some((sheet_name, sheet, header)) = found else {
        if let Some(e) = first_error {
            return Err(workbook_error(path, e));
        }
        if !any_data {
            return Err(Error::EmptyWorkbook {
                path: path.to_path_buf(),
            });
        }
        if let Some((sheet, text)) = near {
            return Err(Error::HeaderNotFoundNear {
                path: path.to_path_buf(),
                wanted: names.anonymized.clone(),
                near: super::display_safe(&text).into_owned(),
                sheet: super::display_safe(&sheet).into_owned(),
            });
        }
        return Err(Error::HeaderNotFound {
            path: path.to_path_buf(),
            wanted: names.anonymized.clone(),
            rows: HEADER_SEARCH_ROWS,
            sheets: describe_sheets(&sheet_names),
        });
    };

    let (columns, stages) =
        layout::map_columns(&sheet.values, header, names).map_err(|(key, wanted)| {
            match layout::near_header(&sheet.values, [header], &wanted, 0) {
                Some(near) => Error::ColumnNotFoundNear {
                    path: path.to_path_buf(),
                    sheet: sheet_name.clone(),
                    row: header + 1,
                    wanted,
                    key,
                    near: super::display_safe(&near).into_owned(),
                },
                None => Error::ColumnNotFound {
                    path: path.to_path_buf(),
                    sheet: sheet_name.clone(),
                    row: header + 1,
                    wanted,
                    key: key.to_string(),
                },
            }
        })?;
    // The write-back parses the package its own way: make sure it finds this sheet now.
    write::preflight(&bytes, &sheet_name).map_err(|e| match e {
        Error::Workbook { reason, .. } => Error::Workbook {
            path: path.to_path_buf(),
            reason,
        },
        Error::SheetNotFound { sheet, sheets, .. } => Error::SheetNotFound {
            path: path.to_path_buf(),
            sheet,
            sheets,
        },
        other => other,
    })?;

    let rows = read_rows(&sheet, header, &columns, &stages);
    check_unique_ids(path, &sheet_name, &rows)?;
    Ok(Table {
        path: path.to_path_buf(),
        sheet: sheet_name,
        header_row: header + 1,
        columns,
        stages,
        rows,
    })
}

/// One sheet as read: the values present, the solid fill of each styled cell, and the cells
/// holding a formula whose value was never saved.
struct Sheet {
    values: Grid,
    fills: HashMap<(u32, u32), u32>,
    unsaved_formulas: HashSet<(u32, u32)>,
}

/// Streams sheet `name`: values, then fills resolved through the style palette (`positions`
/// maps Excel's format numbers to calamine's palette, see [`write::style_positions`]).
fn read_sheet(
    book: &mut Xlsx<Cursor<&[u8]>>,
    name: &str,
    positions: Option<&[usize]>,
) -> Result<Sheet, XlsxError> {
    let mut values = Grid::default();
    let mut styled: Vec<((u32, u32), usize)> = Vec::new();
    let mut reader = book.worksheet_cells_reader(name)?;
    while let Some((cell, style)) = reader.next_cell_with_style_id()? {
        let pos = cell.get_position();
        if style != 0 {
            styled.push((pos, style));
        }
        values.set(pos, Data::from(cell.get_value().clone()));
    }
    let palette = reader.styles();
    let fills = styled
        .into_iter()
        .filter_map(|(pos, id)| {
            let at = positions.map_or(Some(id), |p| p.get(id).copied())?;
            state::solid_fill(palette.get(at)).map(|argb| (pos, argb))
        })
        .collect();
    drop(reader);
    // A second pass for formulas: a cell whose formula has no saved value reads as empty.
    let mut unsaved_formulas = HashSet::new();
    let mut reader = book.worksheet_cells_reader(name)?;
    while let Some(cell) = reader.next_cell_with_formula()? {
        if cell.formula.is_some() && matches!(cell.value, DataRef::Empty) {
            unsaved_formulas.insert(cell.pos);
        }
    }
    Ok(Sheet {
        values,
        fills,
        unsaved_formulas,
    })
}

/// Reads every participant row below the header; rows with an empty ID are skipped, not taken
/// as the end of the table (the lab's template has hundreds of styled empty rows; labs leave gaps).
fn read_rows(sheet: &Sheet, header: u32, columns: &Columns, stages: &[StageColumn]) -> Vec<Row> {
    let range = &sheet.values;
    let fill = |r: u32, c: u32| sheet.fills.get(&(r, c)).copied();
    let green = |r: u32, c: u32| fill(r, c).is_some_and(state::is_green);
    let red = |r: u32, c: u32| fill(r, c).is_some_and(state::is_red);
    let optional = |r: u32, c: Option<u32>| {
        c.map(|c| layout::text_at(range, r, c))
            .filter(|t| !t.is_empty())
    };

    let mut rows = Vec::new();
    for r in range.rows_from(header + 1).collect::<Vec<_>>() {
        let id = layout::text_at(range, r, columns.id);
        if id.is_empty() {
            continue;
        }
        let anonymization = state::work_cell(
            &layout::text_at(range, r, columns.anonymized),
            green(r, columns.anonymized),
        );
        let check = state::work_cell(
            &layout::text_at(range, r, columns.check),
            green(r, columns.check),
        );
        // The lab paints the whole row red; accept a red ID cell, or both workflow cells red.
        let excluded = red(r, columns.id) || (red(r, columns.anonymized) && red(r, columns.check));
        rows.push(Row {
            row: r + 1,
            id,
            original_id: optional(r, columns.original_id),
            study: optional(r, columns.study),
            scan_date: columns
                .scan_date
                .and_then(|c| range.get((r, c)))
                .and_then(scan_date),
            excluded,
            flagged: fill(r, columns.id).is_some_and(state::is_yellow),
            anonymization,
            check,
            stages: stages
                .iter()
                .map(|s| green(r, s.col) || !layout::text_at(range, r, s.col).is_empty())
                .collect(),
        });
    }
    // An ID given as a formula whose value was never saved (the file was written by a program
    // that does not calculate) reads as empty: say so per row rather than drop it silently.
    let mut unsaved: Vec<u32> = sheet
        .unsaved_formulas
        .iter()
        .filter(|&&(r, c)| r > header && (c == columns.id || Some(c) == columns.original_id))
        .map(|&(r, _)| r + 1)
        .collect();
    unsaved.sort_unstable();
    unsaved.dedup();
    for row in unsaved {
        tracing::warn!(
            "row {row}: its ID or Original ID is a formula with no saved value, so the row is skipped (hint: open the workbook in Excel and save it, so the value is stored)"
        );
    }
    rows
}

/// A scan date from a date cell, an ISO or `YYYYMMDD` text, or a bare Excel date serial.
fn scan_date(value: &Data) -> Option<NaiveDate> {
    match value {
        Data::DateTime(_) | Data::DateTimeIso(_) => value.as_date(),
        Data::String(s) => {
            let s = s.trim();
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"))
                .ok()
        }
        Data::Float(_) | Data::Int(_) => {
            let n = value.as_f64()?;
            if (19_000_101.0..=29_991_231.0).contains(&n) {
                NaiveDate::parse_from_str(&format!("{n:.0}"), "%Y%m%d").ok()
            } else if (1.0..=2_958_465.0).contains(&n) {
                // Excel's day 0 is 1899-12-30 (counting its fictitious 1900-02-29).
                NaiveDate::from_ymd_opt(1899, 12, 30)?
                    .checked_add_days(chrono::Days::new(n.trunc() as u64))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Two rows with the same ID (ignoring case) would share one anonymized folder: refuse.
fn check_unique_ids(path: &Path, sheet: &str, rows: &[Row]) -> Result<()> {
    let mut seen: HashMap<String, u32> = HashMap::with_capacity(rows.len());
    for row in rows {
        if let Some(first) = seen.insert(row.id.to_lowercase(), row.row) {
            return Err(Error::DuplicateId {
                path: path.to_path_buf(),
                sheet: sheet.to_string(),
                id: row.id.clone(),
                first,
                second: row.row,
            });
        }
    }
    Ok(())
}

/// Refuses, with a message for the user, a workbook path that cannot be a workbook: missing,
/// a folder, or another file type (by extension). Reads nothing.
pub fn check_workbook_path(path: &Path) -> Result<()> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let kind = match ext.as_str() {
        "xls" => Some("legacy Excel 97-2003 (.xls)"),
        "csv" | "tsv" | "txt" => Some("text (.csv)"),
        "ods" => Some("OpenDocument (.ods)"),
        "xlsb" => Some("binary Excel (.xlsb)"),
        "numbers" => Some("Apple Numbers"),
        _ => None,
    };
    if !path.exists() {
        return Err(Error::not_found(path));
    }
    if let Some(kind) = kind {
        return Err(not_xlsx(path, kind));
    }
    if path.is_dir() {
        return Err(Error::Usage(format!(
            "`{}` is a folder, not a workbook (hint: give the .xlsx file inside it, e.g. `{}`)",
            path.display(),
            path.join("STUDYNAME_dataprocessing.xlsx").display()
        )));
    }
    Ok(())
}

/// Reads the whole file, refusing what is not an xlsx before calamine sees it.
fn read_workbook_bytes(path: &Path) -> Result<Vec<u8>> {
    check_workbook_path(path)?;
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    if bytes.starts_with(&OLE_MAGIC) {
        // An encrypted xlsx is an OLE compound file holding an `EncryptedPackage` stream
        // (its directory entry names are UTF-16LE); any other OLE file is a legacy .xls.
        let marker: Vec<u8> = "EncryptedPackage"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        if bytes.windows(marker.len()).any(|w| w == marker) {
            return Err(Error::Encrypted {
                path: path.to_path_buf(),
            });
        }
        return Err(not_xlsx(path, "legacy Excel 97-2003 (.xls)"));
    }
    if !bytes.starts_with(&ZIP_MAGIC) {
        return Err(Error::Workbook {
            path: path.to_path_buf(),
            reason: if bytes.is_empty() {
                "the file is empty".into()
            } else {
                "it is not an xlsx package (not a zip archive)".into()
            },
        });
    }
    Ok(bytes)
}

fn not_xlsx(path: &Path, kind: &str) -> Error {
    Error::NotXlsx {
        path: path.to_path_buf(),
        kind: kind.to_string(),
    }
}

/// Maps calamine's error to ours, keeping its reason.
fn workbook_error(path: &Path, e: XlsxError) -> Error {
    match e {
        XlsxError::Password => Error::Encrypted {
            path: path.to_path_buf(),
        },
        XlsxError::Zip(z) => Error::Workbook {
            path: path.to_path_buf(),
            reason: format!("the zip package is damaged ({z})"),
        },
        other => Error::Workbook {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    }
}

/// `sheet `Sheet1`` or `sheets `A`, `B``, for the header-not-found message.
fn describe_sheets(names: &[String]) -> String {
    let list = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() == 1 {
        format!("sheet {list}")
    } else {
        format!("sheets {list}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_dates() {
        let d = NaiveDate::from_ymd_opt(2021, 11, 1);
        assert_eq!(scan_date(&Data::Float(44501.0)), d);
        assert_eq!(scan_date(&Data::Float(20211101.0)), d);
        assert_eq!(scan_date(&Data::String("2021-11-01".into())), d);
        assert_eq!(scan_date(&Data::String("20211101".into())), d);
        assert_eq!(scan_date(&Data::String("soon".into())), None);
        assert_eq!(scan_date(&Data::Empty), None);
    }

    #[test]
    fn sheet_lists() {
        assert_eq!(describe_sheets(&["Sheet1".into()]), "sheet `Sheet1`");
        assert_eq!(
            describe_sheets(&["A".into(), "B".into()]),
            "sheets `A`, `B`"
        );
    }
}
