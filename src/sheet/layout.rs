//! Finding the participant table: which sheet and row hold the headers, and which column is which.
//!
//! Headers are compared after normalising (trim, collapse inner whitespace, ignore case), so
//! `maxFD: Resting ` and `dicoms  anonymized` match. The header row is the first row, among the
//! first [`HEADER_SEARCH_ROWS`] of each sheet in workbook order, holding the "DICOMS Anonymized"
//! header; a merged group-title row above it, other sheets before it and columns in any order
//! are all fine. Every other non-empty header is a stage column.

use super::{Columns, StageColumn};
use calamine::{Data, DataType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The header texts the tool looks for (compared after trimming, collapsing spaces, ignoring case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnNames {
    pub anonymized: String,
    pub check: String,
    pub id: String,
    pub original_id: String,
    pub scan_date: String,
    pub study: String,
    pub scan_notes: String,
}

impl Default for ColumnNames {
    fn default() -> Self {
        Self {
            anonymized: "DICOMS Anonymized".into(),
            check: "DICOM anonymization check".into(),
            id: "ID".into(),
            original_id: "Original ID".into(),
            scan_date: "Scan Date".into(),
            study: "Study".into(),
            scan_notes: "Scan Notes".into(),
        }
    }
}

/// The cells of one sheet that hold a value, by (0-based row, 0-based column).
///
/// Sparse on purpose: a sheet with one value in XFD1048576 costs one entry, not a dense range
/// of 17 billion cells. Memory follows the cells present, never the sheet's extent.
#[derive(Debug, Default, Clone)]
pub struct Grid {
    cells: BTreeMap<(u32, u32), Data>,
}

impl Grid {
    /// Sets the value at (row, column); an empty value is not stored.
    pub fn set(&mut self, pos: (u32, u32), value: Data) {
        if value != Data::Empty {
            self.cells.insert(pos, value);
        }
    }

    /// The value at (row, column), if the cell holds one.
    pub fn get(&self, pos: (u32, u32)) -> Option<&Data> {
        self.cells.get(&pos)
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The rows holding a value, in order, from `first` on.
    pub fn rows_from(&self, first: u32) -> impl Iterator<Item = u32> + '_ {
        let mut last = None;
        self.cells
            .range((first, 0)..)
            .map(|(&(r, _), _)| r)
            .filter(move |&r| {
                let new = last != Some(r);
                last = Some(r);
                new
            })
    }

    /// The cells of row `row` holding a value, in column order.
    pub fn row(&self, row: u32) -> impl Iterator<Item = (u32, &Data)> + '_ {
        self.cells
            .range((row, 0)..=(row, u32::MAX))
            .map(|(&(_, c), v)| (c, v))
    }
}

/// How many rows of each sheet are searched for the header row.
pub const HEADER_SEARCH_ROWS: u32 = 30;

/// Normalises a header for comparison: trimmed, inner whitespace collapsed, lowercase.
pub fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The text of a cell as the lab reads it: trimmed strings, whole numbers without `.0`
/// (Excel stores the ID 101 as the number 101.0), dates as `YYYY-MM-DD`, errors as nothing.
pub fn cell_text(value: &Data) -> String {
    match value {
        Data::String(s) => s.trim().to_string(),
        Data::Float(f) => float_text(*f),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(_) | Data::DateTimeIso(_) => match value.as_date() {
            Some(d) => d.format("%Y-%m-%d").to_string(),
            None => value.as_string().unwrap_or_default(),
        },
        Data::DurationIso(s) => s.clone(),
        Data::Error(_) | Data::Empty => String::new(),
    }
}

fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

/// The text of the cell at an absolute (0-based row, 0-based column) position.
pub fn text_at(grid: &Grid, row: u32, col: u32) -> String {
    grid.get((row, col)).map(cell_text).unwrap_or_default()
}

/// Finds the 0-based header row of `range`: the first of its first [`HEADER_SEARCH_ROWS`] rows
/// holding the "anonymized" header, preferring one that also holds the ID and check headers
/// (so a group title that repeats a header text is not mistaken for the header row).
pub fn find_header_row(grid: &Grid, names: &ColumnNames) -> Option<u32> {
    let want = [
        normalise(&names.anonymized),
        normalise(&names.id),
        normalise(&names.check),
    ];
    let mut first_partial = None;
    for row in grid.rows_from(0).take_while(|&r| r < HEADER_SEARCH_ROWS) {
        let texts: Vec<String> = grid
            .row(row)
            .map(|(_, v)| normalise(&cell_text(v)))
            .collect();
        let found: Vec<bool> = want.iter().map(|w| texts.contains(w)).collect();
        if found.iter().all(|f| *f) {
            return Some(row);
        }
        if found[0] && first_partial.is_none() {
            first_partial = Some(row);
        }
    }
    first_partial
}

/// The header row's columns: the known ones (first match, left to right) and the stages.
///
/// Returns the key (`id`, `check`) and header text of a required column that is missing.
pub fn map_columns(
    grid: &Grid,
    header_row: u32,
    names: &ColumnNames,
) -> Result<(Columns, Vec<StageColumn>), (&'static str, String)> {
    let mut known: [(&'static str, &str, Option<u32>); 7] = [
        ("id", &names.id, None),
        ("anonymized", &names.anonymized, None),
        ("check", &names.check, None),
        ("original_id", &names.original_id, None),
        ("scan_date", &names.scan_date, None),
        ("study", &names.study, None),
        ("scan_notes", &names.scan_notes, None),
    ];
    let wanted: Vec<String> = known.iter().map(|(_, n, _)| normalise(n)).collect();
    let mut stages = Vec::new();
    for (col, value) in grid.row(header_row) {
        let text = cell_text(value);
        let norm = normalise(&text);
        if norm.is_empty() {
            continue;
        }
        match wanted.iter().position(|w| *w == norm) {
            Some(i) => {
                if known[i].2.is_none() {
                    known[i].2 = Some(col);
                }
            }
            None => stages.push(StageColumn {
                col,
                notes: norm.contains("note") || norm.starts_with("next step"),
                name: text,
            }),
        }
    }
    let required = |i: usize| known[i].2.ok_or((known[i].0, known[i].1.to_string()));
    let columns = Columns {
        id: required(0)?,
        anonymized: required(1)?,
        check: required(2)?,
        original_id: known[3].2,
        scan_date: known[4].2,
        study: known[5].2,
        scan_notes: known[6].2,
    };
    Ok((columns, stages))
}

/// The one cell of `rows` whose text is a typo or two from the header `wanted` (after
/// normalising), as the sheet writes it: the "did you mean ...?" of a missing header.
///
/// Short names allow fewer edits (one under 8 characters, none under 4: any two letters are two
/// edits from `ID`), so a hint names a header, not some other cell; `min_len` can ask for more.
pub fn near_header(
    grid: &Grid,
    rows: impl IntoIterator<Item = u32>,
    wanted: &str,
    min_len: usize,
) -> Option<String> {
    let wanted = normalise(wanted);
    let len = wanted.chars().count();
    if len < min_len {
        return None;
    }
    let max = (len / 4).min(2);
    // Normalised text -> the text as written (the first cell with it).
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    for row in rows {
        for (_, value) in grid.row(row) {
            let text = cell_text(value);
            let norm = normalise(&text);
            if !norm.is_empty() {
                texts.entry(norm).or_insert(text);
            }
        }
    }
    let near = crate::near::unique_near(&wanted, texts.keys().map(String::as_str), max)?;
    texts.get(near).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_headers() {
        assert_eq!(normalise("  DICOMS   Anonymized "), "dicoms anonymized");
        assert_eq!(normalise("maxFD: Resting "), "maxfd: resting");
        assert_eq!(normalise("Original\nID"), "original id");
        assert_eq!(normalise("Original\u{a0}ID"), "original id");
    }

    #[test]
    fn cell_texts() {
        assert_eq!(cell_text(&Data::Float(101.0)), "101");
        assert_eq!(cell_text(&Data::Float(60784.0)), "60784");
        assert_eq!(cell_text(&Data::Float(1.5)), "1.5");
        assert_eq!(cell_text(&Data::Int(7)), "7");
        assert_eq!(cell_text(&Data::String(" S01 ".into())), "S01");
        assert_eq!(cell_text(&Data::Empty), "");
    }

    fn range(rows: &[&[&str]]) -> Grid {
        let mut r = Grid::default();
        for (i, row) in rows.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                r.set((i as u32, j as u32), Data::String(v.to_string()));
            }
        }
        r
    }

    #[test]
    fn a_far_cell_costs_one_entry() {
        let mut g = range(&[&["ID"]]);
        g.set((1_048_575, 16_383), Data::String("x".into()));
        assert_eq!(g.rows_from(0).collect::<Vec<_>>(), [0, 1_048_575]);
        assert_eq!(find_header_row(&g, &ColumnNames::default()), None);
    }

    #[test]
    fn header_row_prefers_the_full_row() {
        let r = range(&[
            &["", "DICOMS Anonymized", ""],
            &[
                "id",
                "dicoms anonymized ",
                "DICOM Anonymization  Check",
                "Deface",
                "Next steps:",
            ],
        ]);
        let names = ColumnNames::default();
        assert_eq!(find_header_row(&r, &names), Some(1));
        let (cols, stages) = map_columns(&r, 1, &names).unwrap();
        assert_eq!((cols.id, cols.anonymized, cols.check), (0, 1, 2));
        assert_eq!(cols.original_id, None);
        assert_eq!(stages.len(), 2);
        assert!(!stages[0].notes && stages[1].notes);
    }

    #[test]
    fn missing_required_column_is_named() {
        let r = range(&[&["DICOMS Anonymized", "DICOM anonymization check"]]);
        let err = map_columns(&r, 0, &ColumnNames::default()).unwrap_err();
        assert_eq!(err, ("id", "ID".to_string()));
    }

    #[test]
    fn a_near_header_is_named_as_written() {
        let g = range(&[
            &["Study title"],
            &["ID", "DICOMS  Anonymised", "Dicom anonymization chek", "KH"],
        ]);
        assert_eq!(
            near_header(&g, [1], "DICOMS Anonymized", 0).as_deref(),
            Some("DICOMS  Anonymised")
        );
        assert_eq!(
            near_header(&g, 0..2, "DICOM anonymization check", 0).as_deref(),
            Some("Dicom anonymization chek")
        );
        // Too short to guess (any two letters are near `ID`), or shorter than asked.
        assert_eq!(near_header(&g, [1], "IE", 0), None);
        assert_eq!(near_header(&g, [1], "DICOMS Anonymized", 20), None);
        assert_eq!(near_header(&g, [0], "DICOMS Anonymized", 0), None);
    }
}
