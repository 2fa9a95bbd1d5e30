//! `anontrack slurm-script PLAN.json`: print the bash script that submits a plan to SLURM (one
//! array task per work item, then the collect step). anontrack itself never runs `sbatch`.

use crate::cluster::plan_file::PlanFile;
use crate::cluster::slurm::{self, SubmitScript};
use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::ui::Ui;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `anontrack slurm-script`.
#[derive(Debug, clap::Args)]
pub struct SlurmScriptArgs {
    /// The plan written by `anontrack sync WORKBOOK --plan-out PLAN.json`.
    pub plan: PathBuf,

    /// The SLURM partition (queue) to submit to (default: the cluster's default partition).
    #[arg(long, value_parser = |s: &str| slurm::check_name("partition", s).map(|()| s.to_string()))]
    pub partition: Option<String>,

    /// The SLURM account to charge (default: your default account).
    #[arg(long, value_parser = |s: &str| slurm::check_name("account", s).map(|()| s.to_string()))]
    pub account: Option<String>,

    /// The time limit of each task (one participant), in SLURM's syntax.
    #[arg(long, default_value = "2:00:00", value_parser = |s: &str| slurm::check_time(s).map(|()| s.to_string()))]
    pub time: String,

    /// At most this many participants are worked at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallel: u32,

    /// CPU cores per participant: SLURM's `--cpus-per-task`, and the threads `work` uses.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: u32,

    /// Submit only these items (e.g. `2` or `0,3-5`): to re-run tasks that died, then collect.
    #[arg(long, value_name = "LIST")]
    pub only: Option<String>,

    /// The anontrack the cluster's nodes run (default: this one, by its absolute path); give it
    /// when the nodes see the program at another path.
    #[arg(long, value_name = "PATH")]
    pub bin: Option<PathBuf>,
}

/// Runs `anontrack slurm-script`.
pub fn run(args: SlurmScriptArgs, ui: &Ui) -> Result<Outcome> {
    let SlurmScriptArgs {
        plan: plan_path,
        partition,
        account,
        time,
        max_parallel,
        jobs,
        only,
        bin,
    } = args;
    let plan = PlanFile::read(&plan_path)?;
    if plan.items.is_empty() {
        return Err(Error::Usage(format!(
            "nothing to submit: `{}` has no work items (hint: run `anontrack sync` on the workbook instead{})",
            plan_path.display(),
            if plan.problems.is_empty() {
                ""
            } else {
                "; it will record the plan's problem rows"
            }
        )));
    }
    if let Some(list) = &only {
        slurm::check_only(list, plan.items.len()).map_err(Error::Usage)?;
    }
    let bin = match bin {
        Some(b) if b.is_absolute() => b,
        Some(b) => {
            return Err(Error::Usage(format!(
                "`--bin {}` is not an absolute path (hint: the tasks run in another folder, on another node; give the full path)",
                b.display()
            )));
        }
        None => std::env::current_exe().map_err(|e| Error::read("the running anontrack", e))?,
    };
    let plan_abs = absolute(&plan_path)?;
    let study = plan.resolve_study_dir(&plan_abs);
    let script = SubmitScript {
        bin,
        workbook: study.join(&plan.workbook),
        logs: crate::study::state_dir_of(&study.join(&plan.workbook))
            .join("results")
            .join(&plan.run_id)
            .join("logs"),
        plan: plan_abs,
        run_id: plan.run_id.clone(),
        items: plan.items.len(),
        only,
        max_parallel: max_parallel as usize,
        jobs: jobs as usize,
        time,
        partition,
        account,
    }
    .render();
    if ui.is_json() {
        ui.json(&serde_json::json!({ "script": script, "items": plan.items.len() }));
        return Ok(Outcome::Success);
    }
    // The script is this command's result: printed even with --quiet, so `> submit.sh` works.
    let mut out = std::io::stdout().lock();
    match out.write_all(script.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(Error::write("standard output", e)),
    }
    Ok(Outcome::Success)
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::read(p, e))
}
