//! `anontrack work PLAN.json [--index N]`: work exactly one item of a plan (one participant) and
//! save its result for `sync --collect`. Run by a SLURM array task (the index is then
//! `$SLURM_ARRAY_TASK_ID`) or by a shell loop. Never writes the workbook.
//!
//! Besides its participant's files, a task may add a line to `.anontrack/notes-shown` (the
//! notes a person has already read, as `sync` keeps it): the VR note shows in the first task's
//! log of a study, then only with `-v`. Tasks running at once may each show it; the file is
//! replaced atomically, so at worst a note shows again.

use super::prose;
use crate::cluster::plan_file::PlanFile;
use crate::cluster::work;
use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::ui::Ui;
use std::path::PathBuf;

/// Arguments of `anontrack work`.
#[derive(Debug, clap::Args)]
pub struct WorkArgs {
    /// The plan written by `anontrack sync WORKBOOK --plan-out PLAN.json`.
    pub plan: PathBuf,

    /// The item to work, from 0 (default: `$SLURM_ARRAY_TASK_ID`, set by SLURM in an array task).
    #[arg(long, value_name = "N")]
    pub index: Option<usize>,

    /// Threads to use (default: every core this task may use).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
}

/// Runs `anontrack work`.
pub fn run(args: WorkArgs, ui: &Ui) -> Result<Outcome> {
    let WorkArgs { plan, index, jobs } = args;
    let index = match index {
        Some(i) => i,
        None => task_index()?,
    };
    if jobs > 0 {
        // The first call sets the global pool; in a one-item process there is no other.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build_global();
    }
    let plan_path = std::path::absolute(&plan).unwrap_or(plan);
    let plan = PlanFile::read(&plan_path)?;
    let item = plan.item(index)?;
    let workbook = work::plan_workbook(&plan, &plan_path);
    // Work from inside the study folder, with paths relative to it, as a `sync` run there does:
    // the reports then name folders the same way whichever node worked them.
    let folder = workbook.parent().unwrap_or(std::path::Path::new("."));
    std::env::set_current_dir(folder).map_err(|e| Error::read(folder, e))?;
    let study = work::open_study(&plan, PathBuf::from(&plan.workbook))?;
    let progress = ui.progress(0, &format!("item {index} ({})", item.id));
    let (result, saved) = work::work_item(&study, &plan, index, &progress)?;
    progress.finish_and_clear();
    // As in `sync`: once per study (the first task to have it says it), every time with `-v`.
    super::sync::vr_note_once(&study, ui, &result);
    prose::print_row(&result, ui);
    super::sync::print_id_check(&result, ui);
    ui.line(format!(
        "result saved to {}; the workbook is written by `anontrack sync {} --collect {}`",
        study.shown(&saved),
        plan.workbook,
        plan_path.display()
    ));
    Ok(Outcome::from_problems(usize::from(!result.passed)))
}

/// The array task's index from `$SLURM_ARRAY_TASK_ID`.
fn task_index() -> Result<usize> {
    match std::env::var("SLURM_ARRAY_TASK_ID") {
        Ok(v) => v.trim().parse().map_err(|_| {
            Error::Usage(format!(
                "`SLURM_ARRAY_TASK_ID` is `{v}`, not an item number (hint: give `--index N`)"
            ))
        }),
        Err(_) => Err(Error::Usage(
            "which item? give `--index N` (from 0), or run it as a SLURM array task, which sets `SLURM_ARRAY_TASK_ID`".into(),
        )),
    }
}
