//! `anontrack sync`: read the workbook, plan the work, and (with `--dry-run`) show the plan.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::plan::{self, Action, Plan, Skip, WorkItem};
use crate::sheet;
use crate::ui::Ui;
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
    } = args;
    let (config, _) = Config::load(&workbook, config.as_deref())?;
    let table = sheet::read::read_table(&workbook, &config.columns)?;
    let base_dir = workbook.parent().unwrap_or_else(|| Path::new(""));
    let plan = plan::plan(&table, &config, base_dir);
    if !dry_run {
        return Err(Error::Usage(
            "`sync` without `--dry-run` is not implemented yet (hint: run `anontrack sync --dry-run` to see the plan)".into(),
        ));
    }
    print_plan(&plan, ui);
    Ok(Outcome::Success)
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
