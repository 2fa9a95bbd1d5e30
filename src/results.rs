//! Results as data: what working one row came to ([`RowResult`]), and what a whole sync came to
//! ([`SyncReport`]).
//!
//! A `RowResult` is keyed by the participant's study ID, not by a row number: it can be saved
//! (`.anontrack/results/<run>/<ID>.json`), sent, and applied to the workbook later by
//! [`crate::sheet::writeback`], which finds the row by ID in whatever version of the workbook is
//! on disk then. The terminal table, `--json` and notices are all printed from these values,
//! never from an engine's side effects. Nothing here prints or writes.

use crate::anonymize::VrWarning;
use crate::anonymize::idcheck::IdMismatch;
use crate::exit::Outcome;
use crate::finding::Finding;
use crate::plan::Stage;
use crate::records::AuditLine;
use crate::sheet::writeback::ApplyOutcome;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What working one row came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowResult {
    /// The row's study ID (column `ID`): the key the write-back finds the row by.
    pub id: String,
    /// The 1-based row the ID was on when the work was planned (for messages; the write-back
    /// never trusts it).
    pub row: u32,
    /// What was done. Named `action` in JSON, as in reports and the audit log.
    #[serde(rename = "action")]
    pub stage: Stage,
    /// The initials in the cell that asked for the work (kept when it turns green or gets a
    /// note; the write-back only writes when the cell still holds them).
    pub initials: Option<String>,
    pub passed: bool,
    /// The note written after the initials when it did not pass.
    pub note: Option<String>,
    /// Every finding, most serious first (the sheet gets the first, as `note`).
    pub findings: Vec<Finding>,
    pub files_written: usize,
    pub files_checked: usize,
    /// Files in the raw folder that are not DICOM (notes, DICOMDIR): not copied, listed.
    pub not_dicom: Vec<String>,
    /// Where the output of a failed anonymization was moved (relative to the study folder).
    pub quarantined: Option<String>,
    /// Elements the profile gave text their VR does not allow (the command layer words it).
    pub vr_warnings: Vec<VrWarning>,
    /// The ID check's failure, when it failed: counts by field and the first failing files
    /// (relative to the raw folder), for the report and `-v`; the note stays short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_check: Option<IdMismatch>,
    /// The participant's JSON report, relative to the study folder.
    pub report: Option<String>,
    /// The plan refused the row before any work (its folders cannot be resolved safely):
    /// `note` says why, and nothing was read or written for it.
    #[serde(default)]
    pub refused: bool,
    /// The line this result puts in `.anontrack/audit.jsonl`.
    pub audit: AuditLine,
}

impl RowResult {
    /// The text the owned cell gets: `None` to keep it (passed: only the fill turns green),
    /// else the initials and the note (`KH no DICOM files found in sourcedata/5`).
    pub fn cell_text(&self) -> Option<String> {
        let note = self.note.as_ref()?;
        Some(match &self.initials {
            Some(i) => format!("{i} {note}"),
            None => note.clone(),
        })
    }
}

/// What a whole `sync` came to: every row's result in the order worked, and what the
/// write-back did. One value feeds the terminal table, `--json` and notices.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// The workbook, as given.
    pub workbook: PathBuf,
    /// One result per row worked (refused rows included), in sheet order.
    pub results: Vec<RowResult>,
    /// Rows not started because `--fail-fast` stopped the run.
    pub not_started: usize,
    /// What applying the results to the workbook did (`None` when there was nothing to apply).
    pub applied: Option<ApplyOutcome>,
}

/// The closing line of `sync --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Always `true`: tells this line from the rows' lines.
    pub summary: bool,
    pub rows_worked: usize,
    pub problems: usize,
    pub workbook_written: bool,
    pub changed_on_disk: bool,
    /// The backup of the replaced workbook, as a path.
    pub backup: Option<String>,
}

impl SyncReport {
    /// The rows worked, refused ones included.
    pub fn rows_worked(&self) -> usize {
        self.results.len()
    }

    /// The rows that did not pass.
    pub fn problems(&self) -> usize {
        self.results.iter().filter(|r| !r.passed).count()
    }

    /// How the run ends: problems recorded or not.
    pub fn outcome(&self) -> Outcome {
        Outcome::from_problems(self.problems())
    }

    /// The counts and what happened to the workbook, in one line.
    pub fn summary(&self) -> Summary {
        let applied = self.applied.as_ref();
        Summary {
            summary: true,
            rows_worked: self.rows_worked(),
            problems: self.problems(),
            workbook_written: applied.is_some_and(|a| a.written),
            changed_on_disk: applied.is_some_and(|a| a.changed_on_disk),
            backup: applied
                .and_then(|a| a.backup.as_ref())
                .map(|p| p.display().to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, passed: bool) -> RowResult {
        let audit = AuditLine {
            time: "t".into(),
            tool_version: "0".into(),
            workbook: "w.xlsx".into(),
            row: 3,
            id: id.into(),
            initials: None,
            action: "verify".into(),
            profile: "lab".into(),
            date: None,
            files_written: 0,
            files_skipped: 0,
            outcome: "passed".into(),
            note: None,
        };
        RowResult {
            id: id.into(),
            row: 3,
            stage: Stage::Verify,
            initials: None,
            passed,
            note: (!passed).then(|| "missing: a.dcm".into()),
            findings: vec![],
            files_written: 0,
            files_checked: 2,
            not_dicom: vec![],
            quarantined: None,
            vr_warnings: vec![],
            id_check: None,
            report: None,
            refused: false,
            audit,
        }
    }

    #[test]
    fn the_summary_counts_rows_and_says_what_the_workbook_got() {
        let mut report = SyncReport {
            workbook: "w.xlsx".into(),
            results: vec![result("S1", true), result("S2", false)],
            not_started: 0,
            applied: None,
        };
        assert_eq!(report.outcome(), Outcome::Problems);
        let s = report.summary();
        assert_eq!(
            (s.rows_worked, s.problems, s.workbook_written),
            (2, 1, false)
        );
        report.applied = Some(ApplyOutcome {
            written: true,
            changed_on_disk: true,
            backup: Some("b.xlsx".into()),
            not_applied: vec![],
        });
        let s = report.summary();
        assert!(s.summary && s.workbook_written && s.changed_on_disk);
        assert_eq!(s.backup.as_deref(), Some("b.xlsx"));
        // No initials: the note alone; passed: the text is kept.
        assert_eq!(
            report.results[1].cell_text().as_deref(),
            Some("missing: a.dcm")
        );
        assert_eq!(report.results[0].cell_text(), None);
        let json = serde_json::to_value(&report.results[0]).unwrap();
        assert_eq!(json["action"], "verify");
        report.results.clear();
        assert_eq!(report.outcome(), Outcome::Success);
    }
}
