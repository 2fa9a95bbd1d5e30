//! `anontrack sync`: open the study, plan the work, run it row by row (anonymize and verify, or
//! verify alone), apply the results to the workbook once at the end, and print what happened.
//! `--dry-run` only shows the plan.

use super::prose;
use crate::error::Result;
use crate::exit::Outcome;
use crate::interrupt;
use crate::plan;
use crate::results::SyncReport;
use crate::sheet::write::check_not_locked;
use crate::sheet::writeback;
use crate::study::{Study, StudyOptions};
use crate::ui::Ui;
use chrono::NaiveDate;
use std::path::PathBuf;

mod rows;

pub use super::prose::{PlanLine, print_plan};
use rows::Stop;
pub(crate) use rows::{print_id_check, vr_note_once};

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

    /// Also merge each anonymized participant into `uid_mapping.csv` (original UID -> new UID)
    /// and `patid_mapping.csv` (original ID -> study ID) in DIR. They re-identify the output:
    /// kept owner-only, never shared with the data. With `--plan-out`, the plan remembers DIR
    /// and `--collect` merges what the work items wrote.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["dry_run", "collect"])]
    pub write_mapping: Option<PathBuf>,
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
        write_mapping,
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
    })?
    .with_mapping_dir(write_mapping);
    let plan = plan::plan(study.table(), study.config(), study.folder());
    for w in plan::warnings(study.table()) {
        ui.note(format!(
            "warning: row {} (`{}`): {}",
            w.row,
            crate::sheet::display_safe(&w.id),
            crate::sheet::display_safe(&w.message)
        ));
    }
    if dry_run {
        print_plan(&plan, ui);
        if let Err(crate::error::Error::Locked { lock, app, .. }) =
            check_not_locked(study.workbook())
        {
            let name = lock.file_name().unwrap_or_default().to_string_lossy();
            ui.note(format!(
                "note: the workbook is open in {app} (lock file `{name}`): the real sync would refuse until it is closed"
            ));
        }
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

    let (mut report, stop) = rows::run_rows(&study, &plan, fail_fast, ui)?;
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
    if report.results.is_empty() && matches!(stop, Stop::Finished) {
        prose::print_waiting(study.table(), ui);
    }
    send_notice(&study, &report, ui);
    Ok(rows::finish(&report, stop, ui))
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
