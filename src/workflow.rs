//! The sync loop without the terminal: runs each planned work item (anonymize then verify, or
//! verify alone), records its report and audit line, and says which owned cell changes how.
//!
//! `cmd::sync` reads the workbook, builds the plan, calls [`run_item`] per row, prints, and writes
//! the workbook once at the end. Nothing here prints or writes the workbook.

use crate::anonymize::{Anonymizer, Profile};
use crate::error::Result;
use crate::finding::{Finding, sheet_note};
use crate::plan::{Action, Skip, WorkItem};
use crate::report::{self, AuditEntry, ParticipantReport};
use crate::sheet::write::CellEdit;
use crate::verify::Verifier;
use chrono::NaiveDate;
use serde::Serialize;
use std::path::Path;

/// What one work item came to.
#[derive(Debug, Clone, Serialize)]
pub struct ItemOutcome {
    pub row: u32,
    pub id: String,
    pub action: Action,
    pub passed: bool,
    /// The note written after the initials when it did not pass.
    pub note: Option<String>,
    pub findings: Vec<Finding>,
    pub files_written: usize,
    pub files_checked: usize,
    /// Files in the raw folder that are not DICOM (notes, DICOMDIR): not copied, listed.
    pub not_dicom: Vec<String>,
    /// Where the output of a failed anonymization was moved (relative to the workbook's folder).
    pub quarantined: Option<String>,
    /// A one-time warning from the anonymizer (values the VR does not allow), if any.
    pub vr_warning: Option<String>,
    /// Where the full report went, relative to the workbook's folder.
    pub report: Option<String>,
    /// The change to the owned cell.
    #[serde(skip)]
    pub edit: CellEdit,
}

/// Everything a work item needs besides the item itself.
pub struct Settings<'a> {
    pub profile: &'a Profile,
    /// The AcquisitionDate to write.
    pub date: NaiveDate,
    /// Today, for the verifier's "not in the future" rule.
    pub today: NaiveDate,
    /// The workbook (reports and the audit log go beside it).
    pub workbook: &'a Path,
    /// 0-based columns of the two workflow cells.
    pub anonymized_col: u32,
    pub check_col: u32,
}

/// Runs one work item to its end. Problems in the data become findings; only a failure to record
/// the report or audit line is an error.
pub fn run_item(
    item: &WorkItem,
    settings: &Settings<'_>,
    progress: &indicatif::ProgressBar,
) -> Result<ItemOutcome> {
    let original_id = item.original_id.as_deref().unwrap_or_default();
    let mut findings = Vec::new();
    let mut files_written = 0;
    let mut files_skipped = 0;
    let mut files_checked = 0;
    let mut not_dicom = Vec::new();
    let mut anonymize_run = None;
    let mut verify_report = None;
    let mut vr_warning = None;

    let folders_ok = match item.action {
        Action::Anonymize => require_dir(&item.raw_dir, "raw folder", settings, &mut findings),
        // The anonymized folder first: for a pending check, its absence is the news.
        Action::Verify => {
            require_dir(&item.anon_dir, "anonymized folder", settings, &mut findings)
                & require_dir(&item.raw_dir, "raw folder", settings, &mut findings)
        }
    };

    if folders_ok && item.action == Action::Anonymize {
        // An error here (a folder that cannot be read or written) is this row's problem: the
        // other rows still run and the workbook still records them.
        match Anonymizer::new(settings.profile)
            .date(settings.date)
            .original_id(original_id)
            .study_id(&item.id)
            .anonymize_dir(&item.raw_dir, &item.anon_dir, progress)
        {
            Ok(run) => {
                files_written = run.written.len();
                files_skipped = run.not_dicom.len();
                not_dicom.clone_from(&run.not_dicom);
                if run.dicom_files == 0 {
                    // Name the folder, so the person reading the sheet knows where to look.
                    findings.push(Finding::new(format!(
                        "no DICOM files found in {}",
                        shown(&item.raw_dir, settings)
                    )));
                } else {
                    findings.extend(run.findings.iter().cloned());
                }
                vr_warning = run.vr_warning_text();
                anonymize_run = Some(run);
            }
            Err(e) => findings.push(Finding::new(format!("could not anonymize: {e}"))),
        }
    }

    // The verifier runs after a clean anonymization, and alone for a pending check.
    if folders_ok && findings.is_empty() {
        let expected_date = (item.action == Action::Anonymize).then_some(settings.date);
        match Verifier::new(settings.profile)
            .original_id(original_id)
            .study_id(&item.id)
            .run_date(expected_date)
            .today(settings.today)
            .verify_dir(&item.raw_dir, &item.anon_dir, progress)
        {
            Ok(report) => {
                files_checked = report.files_checked;
                findings.extend(report.findings.iter().cloned());
                verify_report = Some(report);
            }
            Err(e) => findings.push(Finding::new(format!("could not verify: {e}"))),
        }
    }

    let passed = findings.is_empty();
    // AnonDcm only ever holds output that passed: what anontrack wrote for a row that then
    // failed (a name left in a private tag, an unreadable file) is moved out of the way, kept
    // for inspection beside the reports, so nobody takes it for anonymized data.
    let quarantined = (item.action == Action::Anonymize && !passed && files_written > 0)
        .then(|| quarantine(&item.anon_dir, settings, &item.id))
        .flatten();
    let note = sheet_note(&findings);
    let col = match item.action {
        Action::Anonymize => settings.anonymized_col,
        Action::Verify => settings.check_col,
    };
    let edit = CellEdit {
        row: item.row,
        col,
        text: note.as_ref().map(|n| match &item.initials {
            Some(i) => format!("{i} {n}"),
            None => n.clone(),
        }),
        green: passed,
    };

    let action = match item.action {
        Action::Anonymize => "anonymize",
        Action::Verify => "verify",
    };
    let outcome = if passed { "passed" } else { "problem" };
    let time = chrono::Local::now().to_rfc3339();
    let date =
        (item.action == Action::Anonymize).then(|| settings.date.format("%Y%m%d").to_string());
    let state = report::state_dir(settings.workbook);
    let report_path = report::write_report(
        &state,
        &ParticipantReport {
            tool_version: env!("CARGO_PKG_VERSION"),
            time: time.clone(),
            row: item.row,
            id: &item.id,
            action,
            profile: &settings.profile.name,
            date: date.clone(),
            outcome,
            findings: &findings,
            anonymize: anonymize_run.as_ref(),
            verify: verify_report.as_ref(),
        },
    )?;
    report::append_audit(
        &state,
        &AuditEntry {
            time,
            tool_version: env!("CARGO_PKG_VERSION"),
            workbook: file_name(settings.workbook),
            row: item.row,
            id: &item.id,
            initials: item.initials.as_deref(),
            action,
            profile: &settings.profile.name,
            date,
            files_written,
            files_skipped,
            outcome,
            note: note.as_deref(),
        },
    )?;
    let base = settings.workbook.parent().unwrap_or(Path::new(""));
    Ok(ItemOutcome {
        row: item.row,
        id: item.id.clone(),
        action: item.action.clone(),
        passed,
        note,
        findings,
        files_written,
        files_checked,
        not_dicom,
        vr_warning,
        quarantined,
        report: Some(
            report_path
                .strip_prefix(base)
                .ok()
                .map(|p| p.strip_prefix(".").unwrap_or(p))
                .unwrap_or(&report_path)
                .display()
                .to_string(),
        ),
        edit,
    })
}

/// Records a row the plan could not work on (its folders cannot be resolved safely): an audit
/// line, and the note for the cell it asked work of (initials kept), if it asked any.
pub fn record_problem(skip: &Skip, settings: &Settings<'_>) -> Result<Option<CellEdit>> {
    let Some(action) = &skip.action else {
        return Ok(None);
    };
    let (col, name) = match action {
        Action::Anonymize => (settings.anonymized_col, "anonymize"),
        Action::Verify => (settings.check_col, "verify"),
    };
    let text = match &skip.initials {
        Some(i) => format!("{i} {}", skip.reason),
        None => skip.reason.clone(),
    };
    report::append_audit(
        &report::state_dir(settings.workbook),
        &AuditEntry {
            time: chrono::Local::now().to_rfc3339(),
            tool_version: env!("CARGO_PKG_VERSION"),
            workbook: file_name(settings.workbook),
            row: skip.row,
            id: &skip.id,
            initials: skip.initials.as_deref(),
            action: name,
            profile: &settings.profile.name,
            date: None,
            files_written: 0,
            files_skipped: 0,
            outcome: "problem",
            note: Some(&skip.reason),
        },
    )?;
    Ok(Some(CellEdit {
        row: skip.row,
        col,
        text: Some(text),
        green: false,
    }))
}

/// Moves a failed row's anonymized folder to `.anontrack/rejected/<id>` (replacing an older one)
/// and returns where it went, relative to the workbook; `None` (with a warning) if it cannot.
fn quarantine(anon: &Path, settings: &Settings<'_>, id: &str) -> Option<String> {
    let rejected = report::state_dir(settings.workbook).join("rejected");
    let target = rejected.join(report::safe_file_name(id));
    let moved = (|| {
        if target.exists() {
            std::fs::remove_dir_all(&target)?;
        }
        std::fs::create_dir_all(&rejected)?;
        std::fs::rename(anon, &target)
    })();
    match moved {
        Ok(()) => Some(shown(&target, settings)),
        Err(e) => {
            tracing::warn!(
                "could not move the failed output of row `{id}` out of `{}`: {e}; do not use it",
                shown(anon, settings)
            );
            None
        }
    }
}

/// Records a finding when `dir` is not a folder; the message names it relative to the workbook
/// (the folder names come from the sheet, so they hold nothing the sheet does not).
fn require_dir(
    dir: &Path,
    what: &str,
    settings: &Settings<'_>,
    findings: &mut Vec<Finding>,
) -> bool {
    if dir.is_dir() {
        return true;
    }
    findings.push(Finding::new(format!(
        "no {what} found at {}",
        shown(dir, settings)
    )));
    false
}

/// A folder as the sheet's user knows it: relative to the workbook's folder, `/`-separated
/// (the folder names come from the sheet, so they hold nothing the sheet does not).
fn shown(dir: &Path, settings: &Settings<'_>) -> String {
    let base = settings.workbook.parent().unwrap_or(Path::new(""));
    let rel = dir.strip_prefix(base).unwrap_or(dir);
    if rel.is_absolute() {
        return rel.display().to_string();
    }
    let parts: Vec<String> = rel
        .components()
        .filter(|c| *c != std::path::Component::CurDir)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
