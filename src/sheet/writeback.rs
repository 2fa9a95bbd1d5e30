//! Applying row results to the workbook: each [`RowResult`] finds its row by participant ID in
//! the freshest version of the workbook on disk, and its owned cell gets the result.
//!
//! The rules, in one place:
//! - a result goes to the row holding its ID *now*: rows inserted, deleted or sorted while the
//!   work ran (someone saved the workbook meanwhile) do not misplace it;
//! - it is written only while its cell still asks for it: not green, no note, and the same
//!   initials as when the work was planned. A row that is gone, or a cell someone changed,
//!   keeps what the person wrote; the result stays in `.anontrack/` and [`ApplyOutcome`]
//!   lists it as not applied;
//! - the save is the safe one of [`crate::sheet::write::save`] (lock file, backup, temp file and
//!   rename), and when the file changes again between reading and renaming, every result is
//!   re-matched by ID on the newer version before the next attempt.
//!
//! [`apply`] is callable on its own: `sync` uses it at the end of a run, and results saved
//! earlier (e.g. from a cluster) can be applied the same way.

use crate::error::{Error, Result};
use crate::plan::Stage;
use crate::results::RowResult;
use crate::sheet::write::{CellEdit, Fingerprint, Prepared, save_with};
use crate::sheet::{State, Table};
use crate::study::Study;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What applying results to the workbook did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyOutcome {
    /// The workbook was replaced (`false`: no cell needed a change, the file is untouched).
    pub written: bool,
    /// The workbook had been saved by someone else since the study was opened; the results
    /// went onto that newer version.
    pub changed_on_disk: bool,
    /// The copy of the replaced version in `.anontrack/backups/`.
    pub backup: Option<PathBuf>,
    /// Results that were not written, and why.
    pub not_applied: Vec<NotApplied>,
}

/// A result the workbook did not take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotApplied {
    /// The participant's study ID.
    pub id: String,
    pub why: Unapplied,
}

/// Why a result was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unapplied {
    /// No row holds the ID any more.
    RowGone,
    /// Someone changed the cell meanwhile (turned it green, wrote a note, other initials).
    CellChanged,
}

/// Applies `results` to the study's workbook, each on the row holding its ID now, and saves it.
///
/// With no results, nothing is read or written. See the module documentation for the rules.
///
/// # Errors
/// The workbook is locked by Excel, cannot be read back (it no longer has the lab's table), or
/// cannot be patched or written; the file is then as it was.
pub fn apply(study: &Study, results: &[RowResult]) -> Result<ApplyOutcome> {
    apply_with(study, results, &mut |_| {})
}

/// [`apply`], calling `before_save(attempt)` after each attempt has matched the results and
/// before it renames (a test stands in there for someone saving the workbook).
fn apply_with(
    study: &Study,
    results: &[RowResult],
    before_save: &mut dyn FnMut(usize),
) -> Result<ApplyOutcome> {
    if results.is_empty() {
        return Ok(ApplyOutcome::default());
    }
    let path = study.workbook();
    let mut not_applied = Vec::new();
    let mut attempt = 0;
    let saved = save_with(path, study.fingerprint(), |bytes, changed| {
        let fresh;
        let table = if changed {
            fresh = crate::sheet::read::read_table(path, &study.config().columns)?;
            // The table must come from the very bytes being patched: if the file moved
            // between the two reads, try again.
            let again = std::fs::read(path).map_err(|e| Error::read(path, e))?;
            if Fingerprint::of_bytes(&again, None).sha256
                != Fingerprint::of_bytes(bytes, None).sha256
            {
                return Ok(None);
            }
            &fresh
        } else {
            study.table()
        };
        let (edits, refused) = match_results(table, results);
        not_applied = refused;
        before_save(attempt);
        attempt += 1;
        Ok(Some(Prepared {
            sheet: table.sheet.clone(),
            edits,
        }))
    })?;
    Ok(ApplyOutcome {
        written: saved.written,
        changed_on_disk: saved.changed_on_disk,
        backup: saved.backup,
        not_applied,
    })
}

/// The cell edits for `results` on `table`, by ID, and the results it cannot take.
pub fn match_results(table: &Table, results: &[RowResult]) -> (Vec<CellEdit>, Vec<NotApplied>) {
    let mut edits = Vec::new();
    let mut refused = Vec::new();
    for r in results {
        let Some(row) = table.rows.iter().find(|row| row.id == r.id) else {
            refused.push(NotApplied {
                id: r.id.clone(),
                why: Unapplied::RowGone,
            });
            continue;
        };
        let (cell, col) = match r.stage {
            Stage::Anonymize => (&row.anonymization, table.columns.anonymized),
            Stage::Verify => (&row.check, table.columns.check),
        };
        let still_asked =
            matches!(cell.state, State::Pending | State::NotStarted) && cell.initials == r.initials;
        if !still_asked {
            refused.push(NotApplied {
                id: r.id.clone(),
                why: Unapplied::CellChanged,
            });
            continue;
        }
        edits.push(CellEdit {
            row: row.row,
            col,
            text: r.cell_text(),
            green: r.passed,
        });
    }
    (edits, refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::AuditLine;
    use crate::sheet::template::{
        TemplateCell, TemplateRow, build_with_rows, write_template_with_rows,
    };
    use crate::study::StudyOptions;
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    fn row(id: &str, anonymized: TemplateCell, check: TemplateCell) -> TemplateRow {
        TemplateRow {
            id: id.into(),
            original_id: format!("9{id}"),
            anonymized,
            check,
            ..TemplateRow::default()
        }
    }

    /// A workbook with three rows claimed for anonymization (S1, S2 by KH; S3 by JD).
    fn rows() -> Vec<TemplateRow> {
        vec![
            row("S1", TemplateCell::claimed("KH"), TemplateCell::empty()),
            row("S2", TemplateCell::claimed("KH"), TemplateCell::empty()),
            row("S3", TemplateCell::done("JD"), TemplateCell::claimed("MF")),
        ]
    }

    fn result(id: &str, stage: Stage, initials: &str, note: Option<&str>) -> RowResult {
        RowResult {
            id: id.into(),
            row: 0,
            stage,
            initials: Some(initials.into()),
            passed: note.is_none(),
            note: note.map(Into::into),
            findings: vec![],
            files_written: 1,
            files_checked: 1,
            not_dicom: vec![],
            quarantined: None,
            vr_warnings: vec![],
            id_check: None,
            report: None,
            refused: false,
            audit: AuditLine {
                time: "t".into(),
                tool_version: "0".into(),
                workbook: "w.xlsx".into(),
                row: 0,
                id: id.into(),
                initials: Some(initials.into()),
                action: stage.as_str().into(),
                profile: "lab".into(),
                date: None,
                files_written: 1,
                files_skipped: 0,
                outcome: "passed".into(),
                note: None,
            },
        }
    }

    /// Opens a study on a new workbook holding `rows`.
    fn study(dir: &Path, rows: &[TemplateRow]) -> Study {
        let workbook = dir.join("W_dataprocessing.xlsx");
        write_template_with_rows(&workbook, rows).unwrap();
        Study::open(&StudyOptions {
            workbook,
            ..StudyOptions::default()
        })
        .unwrap()
    }

    /// Someone saves `rows` over the workbook, with a modification time of its own (so the
    /// save notices even within one clock tick).
    fn saved_meanwhile(study: &Study, rows: &[TemplateRow], age: u64) {
        let path = study.workbook();
        std::fs::write(path, build_with_rows(rows).unwrap()).unwrap();
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(age))
            .unwrap();
    }

    /// `(id, anonymization cell text, green, check cell text, green)` per row, read back.
    fn cells(study: &Study) -> Vec<(String, String, bool, String, bool)> {
        let t = crate::sheet::read::read_table(study.workbook(), &Default::default()).unwrap();
        let text = |c: &crate::sheet::WorkCell| {
            [c.initials.clone(), c.note.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        };
        let green = |c: &crate::sheet::WorkCell| c.state == State::Done;
        t.rows
            .iter()
            .map(|r| {
                (
                    r.id.clone(),
                    text(&r.anonymization),
                    green(&r.anonymization),
                    text(&r.check),
                    green(&r.check),
                )
            })
            .collect()
    }

    fn cell(
        id: &str,
        a: &str,
        ag: bool,
        c: &str,
        cg: bool,
    ) -> (String, String, bool, String, bool) {
        (id.into(), a.into(), ag, c.into(), cg)
    }

    #[test]
    fn results_go_to_their_cells_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let s = study(dir.path(), &rows());
        let out = apply(
            &s,
            &[
                result("S3", Stage::Verify, "MF", None),
                result("S1", Stage::Anonymize, "KH", Some("no DICOM files found")),
            ],
        )
        .unwrap();
        assert!(out.written && !out.changed_on_disk && out.backup.is_some());
        assert!(out.not_applied.is_empty(), "{:?}", out.not_applied);
        assert_eq!(
            cells(&s),
            [
                cell("S1", "KH no DICOM files found", false, "", false),
                cell("S2", "KH", false, "", false),
                cell("S3", "JD", true, "MF", true),
            ]
        );
    }

    #[test]
    fn no_results_touch_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = study(dir.path(), &rows());
        let before = std::fs::read(s.workbook()).unwrap();
        assert_eq!(apply(&s, &[]).unwrap(), ApplyOutcome::default());
        assert_eq!(std::fs::read(s.workbook()).unwrap(), before);
        assert!(!s.backups_dir().exists());
    }

    #[test]
    fn a_workbook_saved_meanwhile_gets_results_on_the_rows_holding_their_ids() {
        let dir = tempfile::tempdir().unwrap();
        let s = study(dir.path(), &rows());
        // Meanwhile: a row inserted on top, S1 moved below S2 (sorted), a note typed into S2's
        // cell, and S3's check claimed by someone else.
        let mut moved = rows();
        moved.swap(0, 1);
        moved.insert(
            0,
            row("S0", TemplateCell::claimed("AB"), TemplateCell::empty()),
        );
        moved[1].anonymized = TemplateCell::claimed("KH wrong folder, ask AB");
        moved[3].check = TemplateCell::claimed("ZZ");
        saved_meanwhile(&s, &moved, 5);
        let out = apply(
            &s,
            &[
                result("S1", Stage::Anonymize, "KH", None),
                result("S2", Stage::Anonymize, "KH", None),
                result("S3", Stage::Verify, "MF", None),
            ],
        )
        .unwrap();
        assert!(out.written && out.changed_on_disk);
        let why: Vec<_> = out
            .not_applied
            .iter()
            .map(|n| (n.id.as_str(), n.why))
            .collect();
        assert_eq!(
            why,
            [
                ("S2", Unapplied::CellChanged),
                ("S3", Unapplied::CellChanged)
            ]
        );
        assert_eq!(
            cells(&s),
            [
                cell("S0", "AB", false, "", false),
                cell("S2", "KH wrong folder, ask AB", false, "", false),
                cell("S1", "KH", true, "", false),
                cell("S3", "JD", true, "ZZ", false),
            ]
        );
    }

    #[test]
    fn a_deleted_row_keeps_its_result_out_of_the_workbook() {
        let dir = tempfile::tempdir().unwrap();
        let s = study(dir.path(), &rows());
        let mut fewer = rows();
        fewer.remove(0);
        saved_meanwhile(&s, &fewer, 5);
        let out = apply(
            &s,
            &[
                result("S1", Stage::Anonymize, "KH", None),
                result("S2", Stage::Anonymize, "KH", Some("raw folder missing")),
            ],
        )
        .unwrap();
        assert_eq!(
            out.not_applied,
            [NotApplied {
                id: "S1".into(),
                why: Unapplied::RowGone
            }]
        );
        assert_eq!(
            cells(&s),
            [
                cell("S2", "KH raw folder missing", false, "", false),
                cell("S3", "JD", true, "MF", false),
            ]
        );
    }

    #[test]
    fn a_save_during_the_write_back_is_rematched_by_id_on_the_retry() {
        let dir = tempfile::tempdir().unwrap();
        let s = study(dir.path(), &rows());
        let mut sorted = rows();
        sorted.reverse();
        let mut attempts = Vec::new();
        let out = apply_with(
            &s,
            &[
                result("S1", Stage::Anonymize, "KH", None),
                result("S3", Stage::Verify, "MF", Some("missing: a.dcm")),
            ],
            &mut |attempt| {
                attempts.push(attempt);
                // Someone sorts the rows while the first attempt is between reading and
                // renaming: its row numbers are stale, the retry must find the IDs again.
                if attempt == 0 {
                    saved_meanwhile(&s, &sorted, 30);
                }
            },
        )
        .unwrap();
        assert_eq!(attempts, [0, 1]);
        assert!(out.written && out.changed_on_disk);
        assert_eq!(
            cells(&s),
            [
                cell("S3", "JD", true, "MF missing: a.dcm", false),
                cell("S2", "KH", false, "", false),
                cell("S1", "KH", true, "", false),
            ]
        );
    }

    #[test]
    fn a_workbook_that_keeps_changing_is_an_error_and_stays_as_saved() {
        let dir = tempfile::tempdir().unwrap();
        let s = study(dir.path(), &rows());
        let err = apply_with(
            &s,
            &[result("S1", Stage::Anonymize, "KH", None)],
            &mut |n| saved_meanwhile(&s, &rows(), 100 + n as u64),
        )
        .unwrap_err();
        assert!(err.to_string().contains("kept changing"), "{err}");
        assert_eq!(cells(&s)[0], cell("S1", "KH", false, "", false));
    }
}
