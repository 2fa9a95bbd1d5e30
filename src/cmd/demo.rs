//! `anontrack demo`: make a demo study ([`crate::demo`]), run the real `sync` on it, show
//! `status`, and tell a lab user what just happened and where to look.
//!
//! `--json` is refused: the demo is a guided tour for people; scripts can run `sync --json` and
//! `status --json` on the demo's workbook.

use crate::cmd::status;
use crate::cmd::sync::{self, SyncArgs};
use crate::config::Config;
use crate::demo::{self, DemoStudy};
use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::sheet;
use crate::ui::Ui;
use std::path::{Path, PathBuf};

/// Arguments of `anontrack demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Folder to make the demo study in; it must be new or empty. Default: ./anontrack-demo
    /// (or anontrack-demo-2, -3, ... if that one is taken).
    pub dir: Option<PathBuf>,

    /// Refused (the demo is a tour for people); declared here only so that `demo --help` does not
    /// list the global `--json`.
    #[arg(long, hide = true)]
    pub json: bool,
}

/// Runs `anontrack demo`.
pub fn run(args: DemoArgs, ui: &Ui) -> Result<Outcome> {
    let DemoArgs { dir, json } = args;
    if json || ui.is_json() {
        return Err(Error::Usage(
            "`demo` has no JSON output (hint: run `anontrack demo`, then `anontrack status --json DIR/DEMO_dataprocessing.xlsx`)".into(),
        ));
    }
    let dir = demo::choose_dir(dir.as_deref(), Path::new(""))?;
    let today = chrono::Local::now().date_naive();
    let study = demo::write_study(&dir, today)?;
    print_intro(&study, ui);

    let workbook = study.workbook.clone();
    ui.line(format!("$ anontrack sync {}", workbook.display()));
    // The real sync, exactly as a user would run it; its problems are part of the design.
    sync::run(
        SyncArgs {
            workbook: workbook.clone(),
            config: None,
            dry_run: false,
            date: None,
            fail_fast: false,
            plan_out: None,
            collect: None,
            write_mapping: None,
        },
        ui,
    )?;

    let (config, _) = Config::load(&workbook, None)?;
    let table = sheet::read::read_table(&workbook, &config.columns)?;
    ui.line("");
    ui.line(format!("$ anontrack status {}", workbook.display()));
    for line in status::human_lines(&table) {
        ui.line(line);
    }
    let mismatches = demo::check(&table, &study.participants);
    if !mismatches.is_empty() {
        return Err(Error::Usage(format!(
            "the demo did not come out as designed: {} (hint: this is a bug in anontrack; please report it with the output above)",
            mismatches.join("; ")
        )));
    }
    print_outro(&study, ui);
    Ok(Outcome::Success)
}

/// What was made, one line per participant.
fn print_intro(study: &DemoStudy, ui: &Ui) {
    ui.line(format!(
        "made a demo study in {} ({} synthetic DICOM files, made-up names only):",
        study.dir.display(),
        study.files
    ));
    for p in &study.participants {
        ui.line(format!("  ID {:<4} {}", p.row.id, p.story));
    }
    ui.line("");
}

/// What just happened, where to look, what to try next.
fn print_outro(study: &DemoStudy, ui: &Ui) {
    let dir = study.dir.display();
    let workbook = study.workbook.display();
    let notes = study
        .participants
        .iter()
        .filter(|p| p.expect_note.is_some())
        .count();
    let text = format!(
        "
What just happened: `sync` read the workbook like a work queue. Where someone had written their
initials, it anonymized the raw DICOMs (sourcedata/) into AnonDcm/, checked the result like a
second reviewer, and turned the cell green. {notes} rows got a problem note after the initials
instead: that is the demo working as designed (they show what a failed check looks like).
Rows without initials, already green, or red were left alone.

Where to look:
  - {workbook}: open it in Excel; see the green cells and the {notes} notes
  - {dir}/.anontrack/reports/: one JSON report per row worked, with every finding
  - {dir}/.anontrack/audit.jsonl: one line per row acted on

Try next:
  - anontrack status {workbook}
  - run `anontrack sync {workbook}` again: nothing left to do, the workbook stays as it is
  - type your initials into an empty `DICOMS Anonymized` cell (ID 107), save, and sync again
  - for your own study: `anontrack init --study NAME DIR`"
    );
    for line in text.lines() {
        ui.line(line);
    }
}
