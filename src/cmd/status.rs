//! `anontrack status`: every participant's state, the profile that anonymized it (from the
//! audit log), and each stage's progress. Never writes.

use crate::config::Config;
use crate::error::Result;
use crate::exit::Outcome;
use crate::sheet::{self, Row, State, Table, WorkCell};
use crate::ui::Ui;
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `anontrack status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The study's tracking workbook (e.g. STUDYNAME_dataprocessing.xlsx). Only read, never changed.
    pub workbook: PathBuf,

    /// Settings file to use instead of the anontrack.toml beside the workbook.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// One participant, as `status --json` prints it (one object per line).
#[derive(Debug, Serialize)]
pub struct StatusLine<'a> {
    pub row: u32,
    pub id: &'a str,
    pub original_id: Option<&'a str>,
    pub excluded: bool,
    pub anonymization: &'a WorkCell,
    pub check: &'a WorkCell,
    /// The profile of the last anonymization that passed (`.anontrack/audit.jsonl`), if any.
    pub profile: Option<&'a str>,
}

impl<'a> StatusLine<'a> {
    /// A row's line; `profile` the profile that anonymized it, when the audit log says.
    pub fn new(row: &'a Row, profile: Option<&'a str>) -> Self {
        Self {
            row: row.row,
            id: &row.id,
            original_id: row.original_id.as_deref(),
            excluded: row.excluded,
            anonymization: &row.anonymization,
            check: &row.check,
            profile,
        }
    }
}

impl<'a> From<&'a Row> for StatusLine<'a> {
    fn from(row: &'a Row) -> Self {
        Self::new(row, None)
    }
}

/// The profile each participant was anonymized with, by study ID (see
/// [`crate::records::anonymized_profiles`]).
pub type Profiles = std::collections::HashMap<String, String>;

/// Runs `anontrack status`.
pub fn run(args: StatusArgs, ui: &Ui) -> Result<Outcome> {
    let StatusArgs { workbook, config } = args;
    let (config, _) = Config::load(&workbook, config.as_deref())?;
    let table = sheet::read::read_table(&workbook, &config.columns)?;
    let profiles = crate::records::anonymized_profiles(
        &crate::study::state_dir_of(&workbook).join("audit.jsonl"),
    );
    if ui.is_json() {
        for row in &table.rows {
            ui.json(&StatusLine::new(
                row,
                profiles.get(&row.id).map(String::as_str),
            ));
        }
    } else {
        for line in human_lines_with(&table, &profiles) {
            ui.line(line);
        }
    }
    Ok(Outcome::Success)
}

/// The table for humans, then one progress line per stage.
pub fn human_lines(table: &Table) -> Vec<String> {
    human_lines_with(table, &Profiles::new())
}

/// [`human_lines`] with a `profile` column when the audit log names any row's profile.
pub fn human_lines_with(table: &Table, profiles: &Profiles) -> Vec<String> {
    let mut out = Vec::new();
    if table.rows.is_empty() {
        out.push(format!(
            "no participants yet (headers found in row {} of sheet `{}`)",
            table.header_row, table.sheet
        ));
        return out;
    }
    let with_profile = table.rows.iter().any(|r| profiles.contains_key(&r.id));
    let cells: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|r| {
            let mut c = vec![
                r.row.to_string(),
                r.id.clone(),
                r.original_id.clone().unwrap_or_default(),
                if r.excluded {
                    "excluded".into()
                } else {
                    describe(&r.anonymization)
                },
                if r.excluded {
                    String::new()
                } else {
                    describe(&r.check)
                },
            ];
            if with_profile {
                c.push(profiles.get(&r.id).cloned().unwrap_or_default());
            }
            c
        })
        .collect();
    // Sheet values are anyone's text: escape what could repaint the terminal or forge a line.
    let cells: Vec<Vec<String>> = cells
        .into_iter()
        .map(|c| {
            c.into_iter()
                .map(|t| crate::sheet::display_safe(&t).into_owned())
                .collect()
        })
        .collect();
    let mut header: Vec<String> = ["row", "ID", "original", "anonymization", "check"]
        .map(String::from)
        .to_vec();
    if with_profile {
        header.push("profile".into());
    }
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for c in &cells {
        for (w, text) in widths.iter_mut().zip(c) {
            *w = (*w).max(text.chars().count());
        }
    }
    for c in std::iter::once(&header).chain(&cells) {
        let line = c
            .iter()
            .zip(&widths)
            .map(|(t, &w)| format!("{t:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        out.push(line.trim_end().to_string());
    }
    out.push(String::new());
    out.extend(progress_lines(table));
    out.into_iter()
        .map(|l| crate::sheet::display_safe(&l).into_owned())
        .collect()
}

/// `done (JD)`, `pending (KH)`, `problem (MF): (0010,4000) ...`, `not started`.
fn describe(cell: &WorkCell) -> String {
    let word = match cell.state {
        State::NotStarted => "not started",
        State::Pending => "pending",
        State::Done => "done",
        State::Problem => "problem",
    };
    let mut s = word.to_string();
    if let Some(i) = &cell.initials {
        s.push_str(&format!(" ({i})"));
    }
    if cell.state == State::Problem
        && let Some(n) = &cell.note
    {
        s.push_str(&format!(": {n}"));
    }
    s
}

/// One line per workflow column and stage: how many (non-excluded) participants have it done.
fn progress_lines(table: &Table) -> Vec<String> {
    let active: Vec<&Row> = table.rows.iter().filter(|r| !r.excluded).collect();
    let total = active.len();
    let excluded = table.rows.len() - total;
    let mut out = vec![format!(
        "progress over {total} participant{}{}:",
        if total == 1 { "" } else { "s" },
        if excluded > 0 {
            format!(" ({excluded} excluded not counted)")
        } else {
            String::new()
        }
    )];
    let done = |f: &dyn Fn(&Row) -> bool| active.iter().filter(|r| f(r)).count();
    let mut lines = vec![
        (
            "DICOMS Anonymized".to_string(),
            done(&|r| r.anonymization.state == State::Done),
        ),
        (
            "DICOM anonymization check".to_string(),
            done(&|r| r.check.state == State::Done),
        ),
    ];
    for (i, stage) in table.stages.iter().enumerate() {
        if !stage.notes {
            lines.push((
                stage.name.clone(),
                done(&|r| r.stages.get(i).copied().unwrap_or(false)),
            ));
        }
    }
    let width = lines
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0);
    for (name, n) in lines {
        let pct = (n * 100).checked_div(total).unwrap_or(0);
        out.push(format!("  {name:<width$}  {n:>3}/{total}  {pct:>3}%"));
    }
    out
}
