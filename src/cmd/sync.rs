//! `anontrack sync`: open the study, plan the work, run it row by row (anonymize and verify, or
//! verify alone), apply the results to the workbook once at the end, and print what happened.
//! `--dry-run` only shows the plan.

use super::prose;
use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::interrupt;
use crate::plan::{self, Plan, Skip, Stage, WorkItem};
use crate::results::SyncReport;
use crate::runner;
use crate::sheet::write::check_not_locked;
use crate::sheet::writeback;
use crate::staging;
use crate::study::{Study, StudyOptions};
use crate::ui::Ui;
use chrono::NaiveDate;
use std::path::PathBuf;

pub use super::prose::{PlanLine, print_plan};

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

    /// Write the work as a plan for a cluster or a shell loop (see `anontrack work`) to this
    /// file, and change nothing else.
    #[arg(long, value_name = "PLAN.json", conflicts_with_all = ["dry_run", "fail_fast", "collect"])]
    pub plan_out: Option<PathBuf>,

    /// Write the results of a plan's work items into the workbook (after `anontrack work`).
    #[arg(long, value_name = "PLAN.json", conflicts_with_all = ["dry_run", "fail_fast", "date", "config"])]
    pub collect: Option<PathBuf>,
}

/// Runs `anontrack sync`: plan -> run -> apply -> print.
pub fn run(args: SyncArgs, ui: &Ui) -> Result<Outcome> {
    let SyncArgs {
        workbook,
        config,
        dry_run,
        date,
        fail_fast,
        plan_out,
        collect,
    } = args;
    // One sync per study at a time, held for the whole run and taken before the workbook is read,
    // so a sync that waited plans from the other's result. A dry run never takes it.
    let _study_lock = if dry_run || plan_out.is_some() {
        None
    } else {
        crate::sheet::read::check_workbook_path(&workbook)?;
        check_not_locked(&workbook)?;
        Some(crate::lock::acquire(&workbook)?)
    };
    if let Some(plan) = collect {
        return super::cluster::collect(workbook, &plan, ui);
    }
    let config_given = config.clone();
    let study = Study::open(&StudyOptions {
        workbook,
        config,
        profile: None,
        date,
    })?;
    let plan = plan::plan(study.table(), study.config(), study.folder());
    if dry_run {
        print_plan(&plan, ui);
        return Ok(Outcome::Success);
    }
    let study = if study.needs_key() {
        let key = super::anonymize::load_key(&study.key_path(), ui)?;
        study.with_key(key)
    } else {
        study
    };
    if let Some(out) = plan_out {
        return super::cluster::plan_out(&study, &plan, config_given.as_deref(), &out, ui);
    }
    // Before any work: a workbook open in Excel could not take the result.
    check_not_locked(study.workbook())?;
    if let Err(e) = interrupt::install() {
        tracing::warn!("Ctrl-C will stop the run abruptly: {e}");
    }

    let (mut report, stop) = run_rows(&study, &plan, fail_fast, ui)?;
    if !report.results.is_empty() {
        match writeback::apply(&study, &report.results) {
            Ok(applied) => report.applied = Some(applied),
            Err(e) => {
                // The work itself is on disk; only the record of it is missing.
                ui.note(
                    "note: the anonymized folders and reports are kept, but the workbook was not updated; \
                     fix the error below and run sync again to record the results",
                );
                return Err(e);
            }
        }
    }
    // An interrupted run with nothing finished has no summary to give ("nothing to do" would
    // be wrong); the stop line below says what happened.
    if !report.results.is_empty() || matches!(stop, Stop::Finished) {
        prose::print_sync_end(&report, ui);
    }
    send_notice(&study, &report, ui);
    Ok(match stop {
        Stop::Finished => report.outcome(),
        Stop::Interrupted { undone } => {
            let saved = if report.results.is_empty() {
                "nothing was finished to save".to_string()
            } else {
                format!("the {} row(s) finished were saved", report.results.len())
            };
            let undone = match undone {
                Some((row, id)) => format!(
                    "row {row} ({id}) was left undone (its partial output removed; it runs again next time), "
                ),
                None => String::new(),
            };
            ui.note(format!(
                "interrupted: {undone}{} row(s) not started; {saved}",
                report.not_started
            ));
            Outcome::Interrupted
        }
        Stop::DiskFull { message } => {
            ui.note(format!("error: {message}"));
            Outcome::Error
        }
    })
}

/// Why the row loop ended.
enum Stop {
    /// Every row was worked (or `--fail-fast` stopped it, which the report says).
    Finished,
    /// Ctrl-C or SIGTERM; the row being written when it came, if any.
    Interrupted { undone: Option<(u32, String)> },
    /// A row failed for want of space and not enough is free for the next one.
    DiskFull { message: String },
}

/// Sends the `[notify]` notice for a sync that worked rows; a failure is a warning, never a
/// change of outcome.
pub(crate) fn send_notice(study: &Study, report: &SyncReport, ui: &Ui) {
    if report.results.is_empty() {
        return;
    }
    let notice = crate::notify::Notice::of_sync(study, report);
    let config = study.config().notify.as_ref();
    if let Some(warning) =
        crate::notify::after_sync(config, &notice, study.folder(), &study.state_dir())
    {
        ui.note(format!("warning: {warning}"));
    }
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

/// Works every planned row (and records every refused one) in sheet order, printing each
/// result as it comes; `--fail-fast` stops after the first problem, Ctrl-C before the next row
/// (or file), a full disk when the next row cannot fit.
fn run_rows(study: &Study, plan: &Plan, fail_fast: bool, ui: &Ui) -> Result<(SyncReport, Stop)> {
    // Sheet order, so `--fail-fast` stops where a person reading the sheet would expect.
    let mut steps: Vec<Step<'_>> = plan
        .items
        .iter()
        .map(Step::Work)
        .chain(plan.skipped.iter().filter(|s| s.problem).map(Step::Problem))
        .collect();
    steps.sort_by_key(Step::row);

    let mut report = SyncReport {
        workbook: study.workbook().to_path_buf(),
        results: Vec::new(),
        not_started: 0,
        applied: None,
    };
    let mut warned_vr = false;
    let mut stop = Stop::Finished;
    for (i, step) in steps.iter().enumerate() {
        if interrupt::requested() {
            report.not_started = steps.len() - i;
            stop = Stop::Interrupted { undone: None };
            break;
        }
        if fail_fast && report.problems() > 0 {
            report.not_started = steps.len() - i;
            ui.note(format!(
                "stopping after the first problem (--fail-fast); {} row(s) not started",
                report.not_started
            ));
            break;
        }
        let result = match step {
            Step::Problem(skip) => match runner::refused_row(study, skip) {
                Some(result) => result,
                None => continue,
            },
            Step::Work(item) => {
                let progress = ui.progress(0, &format!("row {} ({})", item.row, item.id));
                let result = match runner::run_row(study, item, &progress) {
                    Err(Error::Interrupted) => {
                        progress.finish_and_clear();
                        report.not_started = steps.len() - i - 1;
                        stop = Stop::Interrupted {
                            undone: Some((item.row, item.id.clone())),
                        };
                        break;
                    }
                    r => r?,
                };
                progress.finish_and_clear();
                result
            }
        };
        runner::record(study, &result)?;
        if !warned_vr
            && let Some(text) = prose::vr_warning_text(&study.profile().name, &result.vr_warnings)
        {
            ui.note(format!("note: {text}"));
            warned_vr = true;
        }
        prose::print_row(&result, ui);
        let disk_full = result
            .note
            .as_deref()
            .is_some_and(|n| n.starts_with("disk full"));
        report.results.push(result);
        if disk_full && let Some(message) = no_room_for_next(study, &steps[i + 1..]) {
            report.not_started = steps.len() - i - 1;
            stop = Stop::DiskFull { message };
            break;
        }
    }
    if matches!(stop, Stop::Finished) && interrupt::requested() {
        // The signal came while the last row was being checked: all done, still a stop.
        stop = Stop::Interrupted { undone: None };
    }
    Ok((report, stop))
}

/// After a row failed for want of space (its output removed): `None` when the next row to
/// anonymize fits in what is free now, else what to tell the person.
fn no_room_for_next(study: &Study, rest: &[Step<'_>]) -> Option<String> {
    let next = rest.iter().find_map(|s| match s {
        Step::Work(item) if item.action == Stage::Anonymize => Some(*item),
        _ => None,
    })?;
    let needed = staging::bytes_under(&next.raw_dir);
    let free = staging::free_bytes(&next.anon_dir).unwrap_or(0);
    (free < needed).then(|| {
        format!(
            "the disk holding {} is full: {} free, row {} ({}) needs about {}; free at least {} and run sync again (the rows done so far were saved)",
            study.shown(next.anon_dir.parent().unwrap_or(&next.anon_dir)),
            staging::human(free),
            next.row,
            next.id,
            staging::human(needed),
            staging::human(needed - free)
        )
    })
}
