//! `anontrack sync`: read the workbook, plan the work, run it row by row (anonymize and verify,
//! or verify alone), and write the owned cells back once at the end. `--dry-run` only shows the
//! plan.

use crate::anonymize::Profile;
use crate::config::Config;
use crate::error::Result;
use crate::exit::Outcome;
use crate::plan::{self, Action, Plan, Skip, WorkItem};
use crate::sheet;
use crate::sheet::write::{CellEdit, Fingerprint, SaveOutcome, check_not_locked, save_workbook};
use crate::ui::Ui;
use crate::workflow::{self, ItemOutcome, Settings};
use chrono::NaiveDate;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Arguments of `anontrack sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The study's tracking workbook (e.g. STUDYNAME_dataprocessing.xlsx).
    pub workbook: PathBuf,

    /// Settings file to use instead of the anontrack.toml beside the workbook.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Only show what would be done; change nothing (no folders, no workbook edits).
    #[arg(long)]
    pub dry_run: bool,

    /// The date written into AcquisitionDate, as YYYYMMDD (default: today).
    #[arg(long, value_name = "YYYYMMDD", value_parser = super::parse_date)]
    pub date: Option<NaiveDate>,

    /// Stop at the first row with a problem (the rows done so far are still written back).
    #[arg(long)]
    pub fail_fast: bool,
}

/// One line of `sync --dry-run --json`: a planned item or a skipped row.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum PlanLine<'a> {
    Work(&'a WorkItem),
    Skip {
        row: u32,
        id: &'a str,
        action: &'static str,
        reason: &'a str,
        problem: bool,
    },
}

impl<'a> From<&'a Skip> for PlanLine<'a> {
    fn from(s: &'a Skip) -> Self {
        PlanLine::Skip {
            row: s.row,
            id: &s.id,
            action: "skip",
            reason: &s.reason,
            problem: s.problem,
        }
    }
}

/// Runs `anontrack sync`.
pub fn run(args: SyncArgs, ui: &Ui) -> Result<Outcome> {
    let SyncArgs {
        workbook,
        config,
        dry_run,
        date,
        fail_fast,
    } = args;
    let (config, _) = Config::load(&workbook, config.as_deref())?;
    sheet::read::check_workbook_path(&workbook)?;
    // One sync per study at a time, held for the whole run and taken before the workbook is read,
    // so a sync that waited plans from the other's result. A dry run never takes it.
    let _study_lock = (!dry_run)
        .then(|| check_not_locked(&workbook).and_then(|()| crate::lock::acquire(&workbook)))
        .transpose()?;
    // Fingerprint before reading, so a save made in Excel during the run is noticed.
    let fingerprint = Fingerprint::of(&workbook)?;
    let table = sheet::read::read_table(&workbook, &config.columns)?;
    let base_dir = workbook.parent().unwrap_or_else(|| Path::new(""));
    let plan = plan::plan(&table, &config, base_dir);
    if dry_run {
        print_plan(&plan, ui);
        return Ok(Outcome::Success);
    }
    // Before any work: a workbook open in Excel could not take the result.
    check_not_locked(&workbook)?;
    let profile = Profile::load(&config.profile, base_dir)?;
    let today = chrono::Local::now().date_naive();
    let settings = Settings {
        profile: &profile,
        date: date.unwrap_or(today),
        today,
        workbook: &workbook,
        anonymized_col: table.columns.anonymized,
        check_col: table.columns.check,
    };

    // Sheet order, so `--fail-fast` stops where a person reading the sheet would expect.
    let mut steps: Vec<Step<'_>> = plan
        .items
        .iter()
        .map(Step::Work)
        .chain(plan.skipped.iter().filter(|s| s.problem).map(Step::Problem))
        .collect();
    steps.sort_by_key(Step::row);

    let mut edits: Vec<Planned> = Vec::new();
    let mut problems = 0;
    let mut worked = 0;
    let mut warned_vr = false;
    for (i, step) in steps.iter().enumerate() {
        if fail_fast && problems > 0 {
            ui.note(format!(
                "stopping after the first problem (--fail-fast); {} row(s) not started",
                steps.len() - i
            ));
            break;
        }
        worked += 1;
        match step {
            Step::Problem(skip) => {
                problems += 1;
                report_skip(skip, ui);
                if let Some(edit) = workflow::record_problem(skip, &settings)? {
                    edits.push(Planned {
                        id: skip.id.clone(),
                        initials: skip.initials.clone(),
                        edit,
                    });
                }
            }
            Step::Work(item) => {
                let progress = ui.progress(0, &format!("row {} ({})", item.row, item.id));
                let outcome = workflow::run_item(item, &settings, &progress)?;
                progress.finish_and_clear();
                if !warned_vr && let Some(text) = &outcome.vr_warning {
                    ui.note(format!("note: {text}"));
                    warned_vr = true;
                }
                if !outcome.passed {
                    problems += 1;
                }
                report_item(&outcome, ui);
                edits.push(Planned {
                    id: item.id.clone(),
                    initials: item.initials.clone(),
                    edit: outcome.edit.clone(),
                });
            }
        }
    }

    let saved = if edits.is_empty() {
        None
    } else {
        let result = remap_if_changed(&workbook, &config, &table, &fingerprint, edits, ui)
            .and_then(|remapped| {
                let mut saved =
                    save_workbook(&workbook, &remapped.sheet, &remapped.edits, &remapped.read)?;
                saved.changed_on_disk |= remapped.changed;
                Ok(saved)
            });
        match result {
            Ok(saved) => Some(saved),
            Err(e) => {
                // The work itself is on disk; only the record of it is missing.
                ui.note(
                    "note: the anonymized folders and reports are kept, but the workbook was not updated; \
                     fix the error below and run sync again to record the results",
                );
                return Err(e);
            }
        }
    };
    report_save(&workbook, saved.as_ref(), worked, problems, ui);
    Ok(Outcome::from_problems(problems))
}

/// One row to work on, in sheet order: a planned item, or a row the plan found a problem with.
enum Step<'a> {
    Work(&'a WorkItem),
    Problem(&'a Skip),
}

impl Step<'_> {
    fn row(&self) -> u32 {
        match self {
            Step::Work(i) => i.row,
            Step::Problem(s) => s.row,
        }
    }
}

/// An owned-cell change, with what identifies its row if the workbook moves under us.
struct Planned {
    id: String,
    initials: Option<String>,
    edit: CellEdit,
}

/// The edits to save, on which sheet, and against which version of the workbook.
struct Remapped {
    sheet: String,
    edits: Vec<CellEdit>,
    /// The version the edits were mapped onto.
    read: Fingerprint,
    /// It is not the version the run started from.
    changed: bool,
}

/// The edits to save, mapped onto the workbook as it is now.
///
/// When someone saved the workbook during the run, row numbers may have moved (rows inserted,
/// sorted): re-read it and put each result on the row holding the same ID, in the same owned
/// column; a result whose row is gone or whose cell someone changed meanwhile is not written
/// (it stays in the report and audit log) and the user is told.
fn remap_if_changed(
    workbook: &Path,
    config: &Config,
    table: &sheet::Table,
    read: &Fingerprint,
    planned: Vec<Planned>,
    ui: &Ui,
) -> Result<Remapped> {
    let now = Fingerprint::of(workbook)?;
    if now.same_content(read) {
        return Ok(Remapped {
            sheet: table.sheet.clone(),
            edits: planned.into_iter().map(|p| p.edit).collect(),
            read: now,
            changed: false,
        });
    }
    let fresh = sheet::read::read_table(workbook, &config.columns)?;
    let mut edits = Vec::new();
    for p in planned {
        let anonymization = p.edit.col == table.columns.anonymized;
        let Some(row) = fresh.rows.iter().find(|r| r.id == p.id) else {
            ui.note(format!(
                "note: row `{}` is no longer in the workbook saved meanwhile; its result is only in .anontrack/",
                p.id
            ));
            continue;
        };
        let (cell, col) = if anonymization {
            (&row.anonymization, fresh.columns.anonymized)
        } else {
            (&row.check, fresh.columns.check)
        };
        let unchanged = matches!(cell.state, sheet::State::Pending | sheet::State::NotStarted)
            && cell.initials == p.initials;
        if !unchanged {
            ui.note(format!(
                "note: someone changed the cell of `{}` meanwhile; it is left as they wrote it (the result is in .anontrack/)",
                p.id
            ));
            continue;
        }
        edits.push(CellEdit {
            row: row.row,
            col,
            ..p.edit
        });
    }
    Ok(Remapped {
        sheet: fresh.sheet,
        edits,
        read: now,
        changed: true,
    })
}

fn report_skip(skip: &Skip, ui: &Ui) {
    if ui.is_json() {
        ui.json(&PlanLine::from(skip));
    } else {
        ui.line(format!(
            "row {:<4} {:<10} problem written to the sheet: {}",
            skip.row, skip.id, skip.reason
        ));
    }
}

fn report_item(outcome: &ItemOutcome, ui: &Ui) {
    if ui.is_json() {
        ui.json(outcome);
        return;
    }
    let verb = match outcome.action {
        Action::Anonymize => "anonymized",
        Action::Verify => "verified",
    };
    let files = match outcome.action {
        Action::Anonymize => format!("{} files written", outcome.files_written),
        Action::Verify => format!("{} files checked", outcome.files_checked),
    };
    let skipped = skipped_files(&outcome.not_dicom);
    match &outcome.note {
        None => ui.line(format!(
            "row {:<4} {:<10} {verb}: passed ({files}{skipped}); cell turned green",
            outcome.row, outcome.id
        )),
        Some(note) => ui.line(format!(
            "row {:<4} {:<10} problem written to the sheet: {note} (details: {}{skipped})",
            outcome.row,
            outcome.id,
            outcome.report.as_deref().unwrap_or("-")
        )),
    }
    // The sheet holds the first finding only; show a few more here, so nobody has to open JSON.
    const SHOWN: usize = 5;
    for f in outcome.findings.iter().skip(1).take(SHOWN) {
        ui.line(format!("         also: {f}"));
    }
    if outcome.findings.len() > SHOWN + 1 {
        ui.line(format!(
            "         and {} more in the report",
            outcome.findings.len() - SHOWN - 1
        ));
    }
    if let Some(moved) = &outcome.quarantined {
        ui.line(format!(
            "         the files written for this row failed the check, so they were moved to {moved} (not anonymized data: keep them out of any sharing)"
        ));
    }
}

/// `; 2 files not DICOM, not copied: notes.txt, .DS_Store`, naming at most three.
fn skipped_files(names: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
    let more = match names.len().saturating_sub(3) {
        0 => String::new(),
        n => format!(" (+{n} more)"),
    };
    let noun = if names.len() == 1 { "file" } else { "files" };
    format!(
        "; {} {noun} not DICOM, not copied: {}{more}",
        names.len(),
        shown.join(", ")
    )
}

/// The closing lines: what was written where, and what to do next.
fn report_save(
    workbook: &Path,
    saved: Option<&SaveOutcome>,
    done: usize,
    problems: usize,
    ui: &Ui,
) {
    let summary = Summary {
        summary: true,
        rows_worked: done,
        problems,
        workbook_written: saved.is_some_and(|s| s.written),
        changed_on_disk: saved.is_some_and(|s| s.changed_on_disk),
        backup: saved
            .and_then(|s| s.backup.as_ref())
            .map(|p| p.display().to_string()),
    };
    if ui.is_json() {
        ui.json(&summary);
        return;
    }
    if done == 0 {
        ui.line("nothing to do: no row has initials waiting in `DICOMS Anonymized` or `DICOM anonymization check`");
        return;
    }
    if summary.changed_on_disk {
        ui.note(format!(
            "note: `{}` was saved by someone else during the run; anontrack applied its changes to that newer version",
            workbook.display()
        ));
    }
    if let Some(backup) = &summary.backup {
        ui.note(format!("backup of the previous workbook: `{backup}`"));
    }
    let next = if problems == 0 {
        String::new()
    } else {
        " (next: read the notes in the sheet, fix the cause, clear the note but keep the initials, and run sync again)".into()
    };
    ui.line(format!(
        "{} row(s) worked, {} passed, {problems} with a problem; workbook {}{next}",
        done,
        done - problems,
        if summary.workbook_written {
            "updated"
        } else {
            "unchanged"
        },
    ));
}

/// The last JSON line of `sync --json`.
#[derive(Debug, Serialize)]
struct Summary {
    summary: bool,
    rows_worked: usize,
    problems: usize,
    workbook_written: bool,
    changed_on_disk: bool,
    backup: Option<String>,
}

/// Prints the plan: JSON lines in row order, or a short human list and a summary.
pub fn print_plan(plan: &Plan, ui: &Ui) {
    if ui.is_json() {
        let mut lines: Vec<(u32, PlanLine<'_>)> = plan
            .items
            .iter()
            .map(|i| (i.row, PlanLine::Work(i)))
            .chain(plan.skipped.iter().map(|s| (s.row, PlanLine::from(s))))
            .collect();
        lines.sort_by_key(|(row, _)| *row);
        for (_, line) in lines {
            ui.json(&line);
        }
        return;
    }
    for item in &plan.items {
        let verb = match item.action {
            Action::Anonymize => "anonymize",
            Action::Verify => "verify",
        };
        let by = item
            .initials
            .as_deref()
            .map(|i| format!(" (claimed by {i})"))
            .unwrap_or_default();
        ui.line(format!(
            "row {:<4} {:<10} {verb:<9} {} -> {}{by}",
            item.row,
            sheet::display_safe(&item.id),
            item.raw_dir.display(),
            item.anon_dir.display()
        ));
    }
    for skip in &plan.skipped {
        let tag = if skip.problem { "problem" } else { "skip" };
        ui.line(format!(
            "row {:<4} {:<10} {tag:<9} {}",
            skip.row,
            sheet::display_safe(&skip.id),
            skip.reason
        ));
    }
    ui.line(format!(
        "plan: {} to anonymize, {} to verify, {} skipped ({} with a problem); dry run, nothing changed",
        plan.anonymize_count(),
        plan.verify_count(),
        plan.skipped.len(),
        plan.problem_count()
    ));
}
