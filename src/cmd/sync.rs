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

    let mut edits = Vec::new();
    let mut problems = 0;
    for skip in plan.skipped.iter().filter(|s| s.problem) {
        problems += 1;
        report_skip(skip, ui);
        if let Some(edit) = skip_edit(skip, &settings) {
            edits.push(edit);
        }
    }
    let mut warned_vr = false;
    for item in &plan.items {
        if fail_fast && problems > 0 {
            ui.note(format!(
                "stopping after the first problem (--fail-fast); {} row(s) not started",
                plan.items.len() - edits.len().min(plan.items.len())
            ));
            break;
        }
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
        edits.push(outcome.edit.clone());
    }

    let saved = if edits.is_empty() {
        None
    } else {
        Some(save_workbook(
            &workbook,
            &table.sheet,
            &edits,
            &fingerprint,
        )?)
    };
    report_save(&workbook, saved.as_ref(), &plan, problems, ui);
    Ok(Outcome::from_problems(problems))
}

/// The note for a row whose folders could not be resolved, in the cell it asked work of.
fn skip_edit(skip: &Skip, settings: &Settings<'_>) -> Option<CellEdit> {
    let col = match skip.action.as_ref()? {
        Action::Anonymize => settings.anonymized_col,
        Action::Verify => settings.check_col,
    };
    let text = match &skip.initials {
        Some(i) => format!("{i} {}", skip.reason),
        None => skip.reason.clone(),
    };
    Some(CellEdit {
        row: skip.row,
        col,
        text: Some(text),
        green: false,
    })
}

fn report_skip(skip: &Skip, ui: &Ui) {
    if ui.is_json() {
        ui.json(&PlanLine::from(skip));
    } else {
        ui.line(format!(
            "row {:<4} {:<10} problem: {}",
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
    match &outcome.note {
        None => ui.line(format!(
            "row {:<4} {:<10} {verb}: passed ({files}); cell turned green",
            outcome.row, outcome.id
        )),
        Some(note) => ui.line(format!(
            "row {:<4} {:<10} problem: {note} (details: {})",
            outcome.row,
            outcome.id,
            outcome.report.as_deref().unwrap_or("-")
        )),
    }
}

/// The closing lines: what was written where, and what to do next.
fn report_save(
    workbook: &Path,
    saved: Option<&SaveOutcome>,
    plan: &Plan,
    problems: usize,
    ui: &Ui,
) {
    let done = plan.items.len() + plan.problem_count();
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
            item.id,
            item.raw_dir.display(),
            item.anon_dir.display()
        ));
    }
    for skip in &plan.skipped {
        let tag = if skip.problem { "problem" } else { "skip" };
        ui.line(format!(
            "row {:<4} {:<10} {tag:<9} {}",
            skip.row, skip.id, skip.reason
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
