//! The work queue: from the workbook's rows and the config, which rows need what, and why the
//! others are skipped. A pure function: no I/O.
//!
//! The rules (issue 2): anonymize when anonymization is `pending` and the row is not excluded;
//! verify when the check is `pending` and anonymization is `done`. Everything else is skipped with
//! a reason; only reasons that must be written to the sheet (a folder that cannot be resolved
//! safely, such as a missing Original ID) have `problem: true`.

use crate::config::Config;
use crate::sheet::{Row, State, Table};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The stage of the lab's workflow a row is at: what anontrack will do for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Anonymization is `pending`: ID check, anonymize raw -> anon, verify.
    Anonymize,
    /// The check is `pending` and anonymization is `done`: verify anon against raw.
    Verify,
}

impl Stage {
    /// `anonymize` or `verify`, as reports, the audit log and `--json` name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Anonymize => "anonymize",
            Stage::Verify => "verify",
        }
    }
}

/// One planned unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkItem {
    /// 1-based sheet row.
    pub row: u32,
    pub id: String,
    pub original_id: Option<String>,
    pub action: Stage,
    /// Initials in the cell being worked on (kept when it turns green or gets a note).
    pub initials: Option<String>,
    pub raw_dir: PathBuf,
    pub anon_dir: PathBuf,
}

/// A row that needs nothing now, or that cannot be worked on, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    pub row: u32,
    pub id: String,
    pub reason: String,
    /// True when the reason is a problem to record in the sheet (e.g. an unsafe folder name),
    /// false when there is simply nothing to do.
    pub problem: bool,
    /// For a problem: the work the row asked for (its cell gets the note).
    pub action: Option<Stage>,
    /// For a problem: the initials in that cell (kept before the note).
    pub initials: Option<String>,
}

/// The plan for one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub items: Vec<WorkItem>,
    pub skipped: Vec<Skip>,
}

/// Plans one sync: which rows to anonymize, which to verify, and why the rest are skipped.
///
/// Pure: reads nothing from disk. Folders are resolved against `base_dir` (the workbook's
/// folder); a row whose folders cannot be resolved safely is skipped with `problem: true`.
pub fn plan(table: &Table, config: &Config, base_dir: &Path) -> Plan {
    let mut out = Plan::default();
    for row in &table.rows {
        match decide(row) {
            Decision::Skip(reason) => out.skipped.push(Skip {
                row: row.row,
                id: row.id.clone(),
                reason: reason.to_string(),
                problem: false,
                action: None,
                initials: None,
            }),
            Decision::Work(action) => {
                let initials = match action {
                    Stage::Anonymize => row.anonymization.initials.clone(),
                    Stage::Verify => row.check.initials.clone(),
                };
                match config.folders_for(row, base_dir) {
                    Ok((raw_dir, anon_dir)) => out.items.push(WorkItem {
                        row: row.row,
                        id: row.id.clone(),
                        original_id: row.original_id.clone(),
                        initials,
                        action,
                        raw_dir,
                        anon_dir,
                    }),
                    Err(reason) => out.skipped.push(Skip {
                        row: row.row,
                        id: row.id.clone(),
                        reason,
                        problem: true,
                        action: Some(action),
                        initials,
                    }),
                }
            }
        }
    }
    out
}

impl Plan {
    /// The number of rows to anonymize.
    pub fn anonymize_count(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.action == Stage::Anonymize)
            .count()
    }

    /// The number of rows to verify only.
    pub fn verify_count(&self) -> usize {
        self.items.len() - self.anonymize_count()
    }

    /// The number of skipped rows whose reason is a problem to record.
    pub fn problem_count(&self) -> usize {
        self.skipped.iter().filter(|s| s.problem).count()
    }
}

/// A row skipped for a reason its author may not have meant: worth a warning naming the row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub row: u32,
    pub id: String,
    /// What is odd and what to do, in the lab's words (no value from a DICOM file).
    pub message: String,
}

/// The rows whose workflow cells look like a mistake rather than a request or a note: initials
/// in the check cell while the anonymization cell is empty, and text that is neither initials
/// alone nor a problem note (`KH done`, `Kim Ho`: one word after the initials). Excluded rows
/// and green cells are left alone. Pure, like [`plan`].
pub fn warnings(table: &Table) -> Vec<Warning> {
    use crate::sheet::column_letters;
    let mut out = Vec::new();
    for row in table.rows.iter().filter(|r| !r.excluded) {
        let anon_cell = format!("{}{}", column_letters(table.columns.anonymized), row.row);
        let check_cell = format!("{}{}", column_letters(table.columns.check), row.row);
        let mut warn = |message: String| {
            out.push(Warning {
                row: row.row,
                id: row.id.clone(),
                message,
            })
        };
        if row.anonymization.state == State::NotStarted && row.check.state == State::Pending {
            warn(format!(
                "the check cell {check_cell} has initials but the anonymization cell {anon_cell} is empty, so there is nothing to check (hint: put the initials in {anon_cell} to anonymize first)"
            ));
        }
        // The cell's text is not repeated: a sheet cell may hold anything, even a name.
        for (cell, ref_) in [(&row.anonymization, &anon_cell), (&row.check, &check_cell)] {
            let word = cell
                .note
                .as_deref()
                .filter(|_| cell.state == State::Problem);
            if cell.initials.is_none() && word.is_some_and(crate::sheet::is_done_word) {
                warn(format!(
                    "{ref_} holds a word that marks a step done, not initials, so the row is skipped (hint: a finished step is filled green; initials alone ask for the work, with dots if they spell a word, like `O.K.`)"
                ));
            } else if cell.initials.is_some()
                && word.is_some_and(|n| n.chars().all(char::is_alphabetic))
            {
                warn(format!(
                    "{ref_} holds initials and one more word, neither initials alone nor a problem note, so the row is skipped (hint: write initials alone to ask for the work; a finished step is filled green)"
                ));
            }
        }
    }
    out
}

enum Decision {
    Work(Stage),
    Skip(&'static str),
}

/// What a row's two workflow cells ask for, by the lab's rules.
fn decide(row: &Row) -> Decision {
    use State::*;
    if row.excluded {
        return Decision::Skip("excluded (row filled red: no scan data)");
    }
    match (row.anonymization.state, row.check.state) {
        (Pending, _) => Decision::Work(Stage::Anonymize),
        (Done, Pending) => Decision::Work(Stage::Verify),
        (Done, Done) => Decision::Skip("nothing to do: anonymized and checked"),
        (Done, NotStarted) => {
            Decision::Skip("nothing to do: anonymized; waiting for a reviewer's initials")
        }
        (Done, Problem) => {
            Decision::Skip("the check found a problem: waiting for a person to fix it")
        }
        (Problem, _) => {
            Decision::Skip("anonymization has a problem note: waiting for a person to fix it")
        }
        (NotStarted, _) => {
            Decision::Skip("nothing to do: no initials in the anonymization cell yet")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::{Columns, WorkCell};

    fn cell(state: State, initials: Option<&str>) -> WorkCell {
        WorkCell {
            state,
            initials: initials.map(Into::into),
            note: None,
        }
    }

    fn row(n: u32, id: &str, original: Option<&str>, a: WorkCell, c: WorkCell) -> Row {
        Row {
            row: n,
            id: id.into(),
            original_id: original.map(Into::into),
            study: None,
            scan_date: None,
            excluded: false,
            flagged: false,
            anonymization: a,
            check: c,
            stages: vec![],
        }
    }

    fn table(rows: Vec<Row>) -> Table {
        Table {
            path: "s.xlsx".into(),
            sheet: "Sheet1".into(),
            header_row: 2,
            columns: Columns {
                id: 3,
                anonymized: 4,
                check: 5,
                original_id: Some(33),
                scan_date: None,
                study: None,
                scan_notes: None,
            },
            stages: vec![],
            rows,
        }
    }

    fn noted(text: &str) -> WorkCell {
        crate::sheet::state::work_cell(text, false)
    }

    #[test]
    fn odd_cells_are_warned_about_naming_the_row() {
        use State::*;
        let t = table(vec![
            row(
                3,
                "S1",
                None,
                cell(NotStarted, None),
                cell(Pending, Some("KH")),
            ),
            row(4, "S2", None, noted("KH done"), cell(NotStarted, None)),
            row(5, "S3", None, cell(Done, None), noted("Kim Ho")),
            // Not odd: a request, a real note, a check waiting for its anonymization's work.
            row(
                6,
                "S4",
                None,
                cell(Pending, Some("KH")),
                cell(Pending, Some("MF")),
            ),
            row(
                7,
                "S5",
                None,
                noted("KH no raw folder found"),
                cell(NotStarted, None),
            ),
            row(
                8,
                "S6",
                None,
                noted("KH (0010,4000) x"),
                cell(NotStarted, None),
            ),
        ]);
        let all = warnings(&t);
        let w: Vec<(u32, &str)> = all
            .iter()
            .map(|w| (w.row, &w.message[..w.message.find(',').unwrap()]))
            .collect();
        assert_eq!(
            w,
            [
                (
                    3,
                    "the check cell F3 has initials but the anonymization cell E3 is empty"
                ),
                (4, "E4 holds initials and one more word"),
                (5, "F5 holds initials and one more word"),
            ]
        );
    }

    #[test]
    fn the_lab_rules() {
        use State::*;
        let mut excluded = row(
            8,
            "113",
            Some("4"),
            cell(Pending, Some("KH")),
            cell(NotStarted, None),
        );
        excluded.excluded = true;
        let t = table(vec![
            row(
                3,
                "101",
                Some("1"),
                cell(Done, Some("JD")),
                cell(Done, Some("MF")),
            ),
            row(
                4,
                "110",
                Some("2"),
                cell(Done, Some("JD")),
                cell(Pending, Some("KH")),
            ),
            row(
                5,
                "111",
                Some("3"),
                cell(Done, Some("KH")),
                cell(Problem, Some("MF")),
            ),
            row(
                6,
                "112",
                Some("5"),
                cell(NotStarted, None),
                cell(NotStarted, None),
            ),
            excluded,
            row(
                9,
                "114",
                Some("6"),
                cell(Pending, Some("KH")),
                cell(NotStarted, None),
            ),
            row(
                10,
                "115",
                None,
                cell(Pending, Some("KH")),
                cell(NotStarted, None),
            ),
            row(
                11,
                "../x",
                Some("7"),
                cell(Pending, Some("KH")),
                cell(NotStarted, None),
            ),
        ]);
        let p = plan(&t, &Config::default(), Path::new("/s"));
        let items: Vec<_> = p
            .items
            .iter()
            .map(|i| (i.row, i.action, i.initials.as_deref()))
            .collect();
        assert_eq!(
            items,
            vec![
                (4, Stage::Verify, Some("KH")),
                (9, Stage::Anonymize, Some("KH"))
            ]
        );
        assert_eq!(p.items[1].raw_dir, PathBuf::from("/s/sourcedata/6"));
        assert_eq!(p.items[1].anon_dir, PathBuf::from("/s/AnonDcm/114"));
        let skipped: Vec<_> = p.skipped.iter().map(|s| (s.row, s.problem)).collect();
        assert_eq!(
            skipped,
            vec![
                (3, false),
                (5, false),
                (6, false),
                (8, false),
                (10, true),
                (11, true)
            ]
        );
        assert!(p.skipped[3].reason.contains("excluded"));
        assert!(
            p.skipped[4].reason.contains("`Original ID` is empty"),
            "{}",
            p.skipped[4].reason
        );
        assert!(p.skipped[5].reason.contains("`ID` holds a path separator"));
        assert_eq!(
            (p.anonymize_count(), p.verify_count(), p.problem_count()),
            (1, 1, 2)
        );
    }

    #[test]
    fn overlapping_folders_are_refused() {
        let config = Config {
            anon_dir: "sourcedata/{original_id}/anon".into(),
            ..Config::default()
        };
        let t = table(vec![row(
            3,
            "1",
            Some("9"),
            cell(State::Pending, Some("JD")),
            cell(State::NotStarted, None),
        )]);
        let p = plan(&t, &config, Path::new("/s"));
        assert!(p.items.is_empty());
        assert!(p.skipped[0].problem && p.skipped[0].reason.contains("overlap"));
    }
}
