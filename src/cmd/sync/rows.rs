//! The row loop of `anontrack sync`: every planned row in sheet order, printing each result as
//! it comes, and how the loop ended (all done, `--fail-fast`, Ctrl-C, a full disk).

use super::prose;
use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::interrupt;
use crate::plan::{Plan, Skip, Stage, WorkItem};
use crate::results::SyncReport;
use crate::runner;
use crate::staging;
use crate::study::Study;
use crate::ui::Ui;

/// Why the row loop ended.
pub(super) enum Stop {
    /// Every row was worked (or `--fail-fast` stopped it, which the report says).
    Finished,
    /// Ctrl-C or SIGTERM; the row being written when it came, if any.
    Interrupted { undone: Option<(u32, String)> },
    /// A row failed for want of space and not enough is free for the next one.
    DiskFull { message: String },
}

/// Says how an ended run stopped and gives its outcome.
pub(super) fn finish(report: &SyncReport, stop: Stop, ui: &Ui) -> Outcome {
    match stop {
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
pub(super) fn run_rows(
    study: &Study,
    plan: &Plan,
    fail_fast: bool,
    ui: &Ui,
) -> Result<(SyncReport, Stop)> {
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
