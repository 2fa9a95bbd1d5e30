//! The row runner: one planned row worked to its end (anonymize then verify, or verify alone),
//! its report written, and its result returned as a [`RowResult`].
//!
//! `cmd::sync` opens the [`Study`], plans, calls [`run_row`] per row (or [`refused_row`] for a
//! row the plan could not resolve), appends each result's audit line with [`record`], and hands
//! the results to [`crate::sheet::writeback`]. Nothing here prints or touches the workbook.

use crate::anonymize::Anonymizer;
use crate::error::{Error, Result};
use crate::finding::{Finding, sheet_note, short_note};
use crate::interrupt;
use crate::near::edit_distance;
use crate::plan::{Skip, Stage, WorkItem};
use crate::progress::{Passes, Phase, Progress};
use crate::records::{self, AuditLine, ParticipantReport};
use crate::results::RowResult;
use crate::staging;
use crate::study::Study;
use crate::verify::Verifier;
use std::path::{Path, PathBuf};

/// The anonymizer's passes, as a row's progress names them: each written file is verified at
/// once (the verifier's pass then holds only the files the writer did not write, if any).
const ANONYMIZER_PASSES: &[Phase] = &[Phase::CheckingIds, Phase::WritingVerifying];

/// Works one planned row to its end and writes its JSON report. Problems in the data become
/// findings; only a failure to write the report is an error, and [`Error::Interrupted`] when a
/// stop was asked for while the row's files were written (its staged output is then removed).
///
/// The audit line is in the result ([`RowResult::audit`]); append it with [`record`].
pub fn run_row(study: &Study, item: &WorkItem, progress: &dyn Progress) -> Result<RowResult> {
    let original_id = item.original_id.as_deref().unwrap_or_default();
    let mut findings = Vec::new();
    let mut files_written = 0;
    let mut files_skipped = 0;
    let mut files_checked = 0;
    let mut not_dicom = Vec::new();
    let mut anonymize_run = None;
    let mut verify_report = None;
    let mut vr_warnings = Vec::new();

    let folders_ok = match item.action {
        Stage::Anonymize => require_dir(&item.raw_dir, "raw folder", study, &mut findings),
        // The anonymized folder first: for a pending check, its absence is the news.
        Stage::Verify => {
            require_dir(&item.anon_dir, "anonymized folder", study, &mut findings)
                & require_dir(&item.raw_dir, "raw folder", study, &mut findings)
        }
    };

    // The writer works in a staging folder under `.anontrack/`: AnonDcm only ever receives a
    // whole participant that passed its check (see `staging`).
    let staged = (item.action == Stage::Anonymize).then(|| {
        staging::staging_for(
            &study.state_dir(),
            &item.anon_dir,
            &records::safe_file_name(&item.id),
        )
    });
    let checked_dir = staged.as_deref().unwrap_or(&item.anon_dir);
    let mut disk_full = false;
    let expected_date = (item.action == Stage::Anonymize).then_some(study.date());
    let mut verifier = Verifier::new(study.profile())
        .original_id(original_id)
        .study_id(&item.id)
        .run_date(expected_date)
        .today(study.today())
        .leftovers(true); // the report's leftovers line
    // The verifier reads the key's bytes itself and recomputes every keyed value.
    if study.needs_key()
        && let Some(key) = crate::verify::keyed::Key::read(&study.key_path())
    {
        verifier = verifier.key(key);
    }
    let mut session = None;

    if folders_ok && let Some(staged) = &staged {
        // What an interrupted or crashed run left here is incomplete by definition.
        if let Err(e) = staging::clear(staged) {
            findings.push(Finding::new(format!(
                "could not clear the staging folder {}: {e}",
                study.shown(staging::staging_root(staged))
            )));
        }
    }
    if folders_ok
        && findings.is_empty()
        && let Some(staged) = &staged
    {
        // Each file is checked as soon as it is written, while it is still in the processor's
        // cache; the folder as a whole after the last one (below). Without a session (a raw
        // folder that cannot be listed) the check runs afterwards and reports why.
        session = verifier.session(&item.raw_dir, staged).ok();
        let writeback = staging::Writeback::for_folder(staged);
        let check = |rel: &str, written: &Path| {
            if let Some(s) = &session {
                s.check_written(rel);
            }
            // Checked: its write to disk can begin now, while the next files are worked on.
            writeback.start(written);
        };
        // An error here (a folder that cannot be read or written) is this row's problem: the
        // other rows still run and the workbook still records them.
        let anonymizer = Anonymizer::new(study.profile())
            .date(study.date())
            .original_id(original_id)
            .study_id(&item.id)
            .map_uids(study.mapping_dir().is_some())
            .after_write(&check);
        match anonymizer.anonymize_dir(
            &item.raw_dir,
            staged,
            &Passes::new(progress, ANONYMIZER_PASSES),
        ) {
            Ok(run) => {
                files_written = run.written.len();
                files_skipped = run.not_dicom.len();
                not_dicom.clone_from(&run.not_dicom);
                if run.dicom_files == 0 {
                    // A link not followed explains an empty listing best: those come first.
                    findings.extend(run.findings.iter().filter(|f| f.file.is_some()).cloned());
                    // Name the folder, so the person reading the sheet knows where to look.
                    findings.push(Finding::new(format!(
                        "no DICOM files found in {}",
                        study.shown(&item.raw_dir)
                    )));
                } else {
                    findings.extend(run.findings.iter().cloned());
                }
                vr_warnings.clone_from(&run.vr_warnings);
                anonymize_run = Some(run);
            }
            Err(e) => findings.push(Finding::new(format!("could not anonymize: {e}"))),
        }
        if interrupt::requested() {
            // Files were skipped: nothing of this row is kept, its cell stays as it was.
            staging::clear(staged).ok();
            return Err(Error::Interrupted);
        }
        if findings.iter().any(|f| staging::is_disk_full(&f.message)) {
            // Output that failed for want of space is removed, not kept: keeping it would keep
            // the disk full and every re-run would fail the same way.
            disk_full = true;
            staging::clear(staged).ok();
            let needed = staging::bytes_under(&item.raw_dir);
            let free = staging::free_bytes(staged)
                .map(|f| format!(", {} free", staging::human(f)))
                .unwrap_or_default();
            findings = vec![Finding::new(format!(
                "disk full: about {} needed{free} (the partial output was removed)",
                staging::human(needed),
            ))];
            files_written = 0;
        }
    }

    // The verifier's check is done after a clean anonymization, and alone for a pending check.
    if folders_ok && findings.is_empty() {
        let report = match session.take() {
            Some(session) => {
                if session.unchecked() > 0 {
                    progress.phase(Phase::Verifying);
                }
                session.finish(progress)
            }
            None => {
                progress.phase(Phase::Verifying);
                verifier.verify_dir(&item.raw_dir, checked_dir, progress)
            }
        };
        match report {
            Ok(report) => {
                files_checked = report.files_checked;
                findings.extend(report.findings.iter().cloned());
                verify_report = Some(report);
            }
            Err(e) => findings.push(Finding::new(format!("could not verify: {e}"))),
        }
    }

    // Passed: flushed to disk and moved into AnonDcm in one rename, before the workbook is
    // saved (green means durable).
    if findings.is_empty()
        && let (Some(dir), Some(run)) = (study.mapping_dir(), &anonymize_run)
        && let Err(e) = mapping_of(study, original_id, &item.id).write_mapping(run, dir)
    {
        // Asked for and not written: the row is not published without it.
        findings.push(Finding::new(e.to_string()));
    }
    if findings.is_empty()
        && let Some(staged) = &staged
    {
        match staging::publish(staged, &item.anon_dir) {
            Ok(()) => {
                if let Some(run) = &mut anonymize_run {
                    run.anon.clone_from(&item.anon_dir);
                }
            }
            Err(e) => {
                if staging::is_disk_full(&e.to_string()) {
                    disk_full = true;
                }
                findings.push(Finding::new(format!(
                    "could not move the checked output into {}: {e}",
                    study.shown(&item.anon_dir)
                )));
            }
        }
    }
    let passed = findings.is_empty();
    // AnonDcm only ever holds output that passed: what anontrack wrote for a row that then
    // failed (a name left in a private tag, an unreadable file) is moved out of the way, kept
    // for inspection beside the reports, so nobody takes it for anonymized data.
    let quarantined = match &staged {
        Some(staged) if !passed && files_written > 0 && !disk_full && staged.exists() => {
            quarantine(staged, study, &item.id)
        }
        _ => None,
    };
    if let Some(staged) = &staged
        && !passed
    {
        staging::clear(staged).ok();
    }
    let note = sheet_note(&findings);
    let outcome = if passed { "passed" } else { "problem" };
    let time = chrono::Local::now().to_rfc3339();
    let date = (item.action == Stage::Anonymize).then(|| study.date().format("%Y%m%d").to_string());
    let report_path = records::write_report(
        &study.reports_dir(),
        &ParticipantReport {
            tool_version: env!("CARGO_PKG_VERSION"),
            time: time.clone(),
            row: item.row,
            id: &item.id,
            action: item.action.as_str(),
            profile: &study.profile().name,
            date: date.clone(),
            outcome,
            findings: &findings,
            anonymize: anonymize_run.as_ref(),
            verify: verify_report.as_ref(),
        },
    )?;
    let audit = AuditLine {
        time,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        workbook: study.workbook_name(),
        row: item.row,
        id: item.id.clone(),
        initials: item.initials.clone(),
        action: item.action.as_str().into(),
        profile: study.profile().name.clone(),
        date,
        files_written,
        files_skipped,
        outcome: outcome.into(),
        note: note.clone(),
    };
    Ok(RowResult {
        id: item.id.clone(),
        row: item.row,
        stage: item.action,
        initials: item.initials.clone(),
        passed,
        note,
        findings,
        files_written,
        files_checked,
        not_dicom,
        quarantined,
        vr_warnings,
        id_check: anonymize_run.as_ref().and_then(|r| r.id_check.clone()),
        report: Some(study.shown(&report_path)),
        refused: false,
        audit,
    })
}

/// The anonymizer whose mapping a row's run is written with (`--write-mapping`).
fn mapping_of<'s>(study: &'s Study, original_id: &str, id: &str) -> Anonymizer<'s> {
    Anonymizer::new(study.profile())
        .original_id(original_id)
        .study_id(id)
}

/// The result of a row the plan could not work on (its folders cannot be resolved safely):
/// the reason becomes the note of the cell it asked work of (initials kept). `None` when the
/// row asked for no work.
pub fn refused_row(study: &Study, skip: &Skip) -> Option<RowResult> {
    let stage = skip.action?;
    let note = short_note(&skip.reason, "");
    let audit = AuditLine {
        time: chrono::Local::now().to_rfc3339(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        workbook: study.workbook_name(),
        row: skip.row,
        id: skip.id.clone(),
        initials: skip.initials.clone(),
        action: stage.as_str().into(),
        profile: study.profile().name.clone(),
        date: None,
        files_written: 0,
        files_skipped: 0,
        outcome: "problem".into(),
        note: Some(note.clone()),
    };
    Some(RowResult {
        id: skip.id.clone(),
        row: skip.row,
        stage,
        initials: skip.initials.clone(),
        passed: false,
        note: Some(note),
        findings: vec![Finding::new(skip.reason.clone())],
        files_written: 0,
        files_checked: 0,
        not_dicom: Vec::new(),
        quarantined: None,
        vr_warnings: Vec::new(),
        id_check: None,
        report: None,
        refused: true,
        audit,
    })
}

/// Appends `result`'s line to the study's audit log.
pub fn record(study: &Study, result: &RowResult) -> Result<()> {
    records::append_audit(&study.audit_log(), &result.audit)
}

/// Moves a failed row's staged output to `.anontrack/rejected/<id>` (replacing an older one)
/// and returns where it went, relative to the study folder; `None` (with a warning) if it cannot.
fn quarantine(anon: &Path, study: &Study, id: &str) -> Option<String> {
    let rejected = study.rejected_dir();
    let target = rejected.join(records::safe_file_name(id));
    let moved = (|| {
        if target.exists() {
            std::fs::remove_dir_all(&target)?;
        }
        std::fs::create_dir_all(&rejected)?;
        std::fs::rename(anon, &target)
    })();
    match moved {
        Ok(()) => Some(study.shown(&target)),
        Err(e) => {
            tracing::warn!(
                "could not move the failed output of row `{id}` out of `{}`: {e}; do not use it",
                study.shown(anon)
            );
            None
        }
    }
}

/// Records a finding when `dir` is not a folder; the message names it relative to the study
/// folder (the folder names come from the sheet, so they hold nothing the sheet does not).
fn require_dir(dir: &Path, what: &str, study: &Study, findings: &mut Vec<Finding>) -> bool {
    if dir.is_dir() {
        return true;
    }
    let missing = format!("no {what} found at {}", study.shown(dir));
    match near_match(dir, study) {
        Some(near) => {
            let hinted = format!("{missing} (did you mean {}?)", study.shown(&near));
            // The hint goes in the note only when it fits a cell whole; else the report has it.
            if hinted.chars().count() <= crate::finding::NOTE_MAX {
                findings.push(Finding::new(hinted));
            } else {
                findings.push(Finding::new(missing));
                findings.push(Finding::new(format!(
                    "a folder with a similar name exists: {}",
                    study.shown(&near)
                )));
            }
        }
        None => findings.push(Finding::new(missing)),
    }
    false
}

/// The one sibling folder of a missing `dir` whose name is within 2 edits of its name (a typo,
/// `58253` for `58235`), unless another row of the sheet uses that name as its Original ID or
/// ID: pointing a person at another participant's data would be worse than no hint.
fn near_match(dir: &Path, study: &Study) -> Option<PathBuf> {
    let name = dir.file_name()?.to_str()?;
    let taken: std::collections::HashSet<&str> = study
        .table()
        .rows
        .iter()
        .flat_map(|r| [Some(r.id.as_str()), r.original_id.as_deref()])
        .flatten()
        .collect();
    let mut near: Vec<PathBuf> = std::fs::read_dir(dir.parent()?)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let other = e.file_name().to_str()?.to_string();
            (!taken.contains(other.as_str()) && edit_distance(name, &other) <= 2).then(|| e.path())
        })
        .collect();
    // Two candidates: no guess.
    (near.len() == 1).then(|| near.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::{NoProgress, OnFile};
    use crate::sheet::template::{TemplateCell, TemplateRow, write_template_with_rows};
    use crate::study::StudyOptions;
    use crate::synth::{ParticipantSpec, write_participant};
    use chrono::NaiveDate;
    use std::sync::Mutex;

    const DATE: &str = "20240131";

    /// A study with one row (`S1`, original ID `5890001`) claimed by KH, dated [`DATE`].
    fn study(dir: &Path) -> Study {
        let workbook = dir.join("W_dataprocessing.xlsx");
        let row = TemplateRow {
            id: "S1".into(),
            original_id: "5890001".into(),
            anonymized: TemplateCell::claimed("KH"),
            ..TemplateRow::default()
        };
        write_template_with_rows(&workbook, &[row]).unwrap();
        Study::open(&StudyOptions {
            workbook,
            date: NaiveDate::parse_from_str(DATE, "%Y%m%d").ok(),
            ..StudyOptions::default()
        })
        .unwrap()
    }

    fn item(study: &Study, stage: Stage) -> WorkItem {
        WorkItem {
            row: 3,
            id: "S1".into(),
            original_id: Some("5890001".into()),
            action: stage,
            initials: Some("KH".into()),
            raw_dir: study.folder().join("sourcedata/5890001"),
            anon_dir: study.folder().join("AnonDcm/S1"),
        }
    }

    #[test]
    fn a_clean_participant_passes_with_its_report_and_audit_line() {
        let dir = tempfile::tempdir().unwrap();
        let s = study(dir.path());
        let item = item(&s, Stage::Anonymize);
        write_participant(&item.raw_dir, &ParticipantSpec::new("5890001", 3)).unwrap();
        let seen = Mutex::new(Vec::new());
        let progress = OnFile::new(|done, total| seen.lock().unwrap().push((done, total)));
        let r = run_row(&s, &item, &progress).unwrap();
        assert!(r.passed, "{:?}", r.findings);
        assert_eq!((r.id.as_str(), r.stage, r.row), ("S1", Stage::Anonymize, 3));
        assert_eq!((r.files_written, r.files_checked), (8, 8));
        assert_eq!((r.note.as_deref(), r.cell_text()), (None, None));
        assert_eq!(
            r.report.as_deref(),
            Some(".anontrack/reports/S1-anonymize.json")
        );
        assert!(dir.path().join(r.report.as_deref().unwrap()).is_file());
        assert_eq!(r.audit.date.as_deref(), Some(DATE));
        assert_eq!(
            (r.audit.outcome.as_str(), r.audit.initials.as_deref()),
            ("passed", Some("KH"))
        );
        // Two passes over the eight files: the ID check, then the writing with each file
        // verified as it is written (no verifier's pass of its own: nothing was left for it).
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), 16);
        assert!(
            seen.iter()
                .all(|&(done, total)| total == 8 && (1..=8).contains(&done))
        );
        // The audit line is appended only when asked.
        assert!(!s.audit_log().exists());
        record(&s, &r).unwrap();
        let log = std::fs::read_to_string(s.audit_log()).unwrap();
        let line: AuditLine = serde_json::from_str(log.trim()).unwrap();
        assert_eq!(line, r.audit);
        // A result survives being saved and read back (the cluster's round trip).
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<RowResult>(&json).unwrap(), r);
    }

    #[test]
    fn a_missing_folder_is_the_rows_note_relative_to_the_study() {
        let dir = tempfile::tempdir().unwrap();
        let s = study(dir.path());
        let r = run_row(&s, &item(&s, Stage::Anonymize), &NoProgress).unwrap();
        assert!(!r.passed);
        assert_eq!(
            r.cell_text().as_deref(),
            Some("KH no raw folder found at sourcedata/5890001")
        );
        assert_eq!(r.audit.note, r.note);
        let r = run_row(&s, &item(&s, Stage::Verify), &NoProgress).unwrap();
        assert_eq!(
            r.note.as_deref(),
            Some("no anonymized folder found at AnonDcm/S1 (+1 more)")
        );
        assert_eq!(r.audit.date, None);
        assert_eq!(
            r.report.as_deref(),
            Some(".anontrack/reports/S1-verify.json")
        );
    }

    #[test]
    fn a_failed_anonymization_is_moved_out_of_anondcm() {
        let dir = tempfile::tempdir().unwrap();
        let s = study(dir.path());
        let item = item(&s, Stage::Anonymize);
        let mut spec = ParticipantSpec::new("5890001", 4);
        spec.faults.name_in_private = true;
        write_participant(&item.raw_dir, &spec).unwrap();
        let r = run_row(&s, &item, &NoProgress).unwrap();
        assert!(!r.passed);
        assert_eq!(r.quarantined.as_deref(), Some(".anontrack/rejected/S1"));
        assert!(!item.anon_dir.exists());
        assert!(s.rejected_dir().join("S1").is_dir());
    }

    #[test]
    fn a_refused_row_becomes_a_result_without_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let s = study(dir.path());
        let mut skip = Skip {
            row: 4,
            id: "S2".into(),
            reason: "raw folder: `Original ID` is empty".into(),
            problem: true,
            action: Some(Stage::Anonymize),
            initials: Some("JD".into()),
        };
        let r = refused_row(&s, &skip).unwrap();
        assert!(r.refused && !r.passed && r.report.is_none());
        assert_eq!(
            r.cell_text().as_deref(),
            Some("JD raw folder: `Original ID` is empty")
        );
        assert_eq!(r.audit.outcome, "problem");
        assert!(!s.state_dir().exists(), "a refused row writes nothing");
        skip.action = None;
        assert!(refused_row(&s, &skip).is_none());
    }
}
