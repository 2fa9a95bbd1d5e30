//! Finding the participant table: which sheet and row hold the headers, and which column is which.
//!
//! Headers are compared after normalising (trim, collapse inner whitespace, ignore case), so
//! `maxFD: Resting ` and `dicoms  anonymized` match. The header row is the first row, among the
//! first [`HEADER_SEARCH_ROWS`] of each sheet in workbook order, holding the "DICOMS Anonymized"
//! header; a merged group-title row above it, other sheets before it and columns in any order
//! are all fine. Every other non-empty header is a stage column.

use super::{Columns, StageColumn};
use calamine::{Data, DataType, Range};
use serde::{Deserialize, Serialize};

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
pub fn text_at(range: &Range<Data>, row: u32, col: u32) -> String {
    range
        .get_value((row, col))
        .map(cell_text)
        .unwrap_or_default()
}

/// Finds the 0-based header row of `range`: the first of its first [`HEADER_SEARCH_ROWS`] rows
/// holding the "anonymized" header, preferring one that also holds the ID and check headers
/// (so a group title that repeats a header text is not mistaken for the header row).
pub fn find_header_row(range: &Range<Data>, names: &ColumnNames) -> Option<u32> {
    let (start, end) = (range.start()?, range.end()?);
    let want = [
        normalise(&names.anonymized),
        normalise(&names.id),
        normalise(&names.check),
    ];
    let last = end.0.min(HEADER_SEARCH_ROWS - 1);
    let mut first_partial = None;
    for row in start.0..=last {
        let found: Vec<bool> = want
            .iter()
            .map(|w| (start.1..=end.1).any(|c| normalise(&text_at(range, row, c)) == *w))
            .collect();
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
    range: &Range<Data>,
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
    let (Some(start), Some(end)) = (range.start(), range.end()) else {
        return Err(("id", names.id.clone()));
    };
    for col in start.1..=end.1 {
        let text = text_at(range, header_row, col);
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

    fn range(rows: &[&[&str]]) -> Range<Data> {
        let mut r = Range::new((0, 0), (rows.len() as u32 - 1, 5));
        for (i, row) in rows.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                r.set_value((i as u32, j as u32), Data::String(v.to_string()));
            }
        }
        r
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
}
