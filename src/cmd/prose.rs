//! User prose shared by the subcommands: the sentences and table lines a lab user reads, built
//! from plain results ([`RowResult`], [`SyncReport`], the plan, the anonymizer's warnings).
//! Engines return data; only this module and the commands turn it into words.

use crate::anonymize::VrWarning;
use crate::anonymize::idcheck::IdMismatch;
use crate::plan::{Plan, Skip, Stage, WorkItem};
use crate::results::{RowResult, SyncReport};
use crate::sheet::writeback::Unapplied;
use crate::ui::Ui;
use serde::Serialize;

/// One short sentence about values the profile wrote that their VR does not allow, or `None`
/// if there were none. Names at most three fields; the full list stays in the JSON report.
pub fn vr_warning_text(profile: &str, warnings: &[VrWarning]) -> Option<String> {
    const SHOWN: usize = 3;
    let first = warnings.first()?;
    let n = warnings.len();
    let mut names: Vec<&str> = warnings
        .iter()
        .take(SHOWN)
        .map(|w| {
            if w.keyword.is_empty() {
                w.tag.as_str()
            } else {
                w.keyword.as_str()
            }
        })
        .collect();
    if n > SHOWN {
        names.push("...");
    }
    let value = if warnings.iter().all(|w| w.value == first.value) {
        format!("`{}`", first.value)
    } else {
        "text".to_string()
    };
    let kinds: Vec<&str> = ["date", "number", "other"]
        .into_iter()
        .filter(|k| warnings.iter().any(|w| vr_kind(&w.vr) == *k))
        .collect();
    let fields = if n == 1 { "field" } else { "fields" };
    Some(format!(
        "the {} profile writes {value} into {n} {} {fields} ({}), which is not valid DICOM; \
         validators flag it and dcm2niix ignores those fields; the images are not affected",
        if profile.is_empty() {
            String::from("chosen")
        } else {
            format!("`{profile}`")
        },
        kinds.join(" or "),
        names.join(", ")
    ))
}

/// How a VR reads to a lab user: `date` (DA, DT, TM), `number` (DS, IS, binary numbers), `other`.
fn vr_kind(vr: &str) -> &'static str {
    match vr {
        "DA" | "DT" | "TM" => "date",
        "DS" | "IS" | "US" | "SS" | "UL" | "SL" | "FL" | "FD" | "UV" | "SV" => "number",
        _ => "other",
    }
}

/// One line of `sync --dry-run --json` (and of `sync --json` for a refused row): a planned
/// item or a skipped row.
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
        let by = item
            .initials
            .as_deref()
            .map(|i| format!(" (claimed by {i})"))
            .unwrap_or_default();
        ui.line(format!(
            "row {:<4} {:<10} {:<9} {} -> {}{by}",
            item.row,
            crate::sheet::display_safe(&item.id),
            item.action.as_str(),
            item.raw_dir.display(),
            item.anon_dir.display()
        ));
    }
    for skip in &plan.skipped {
        let tag = if skip.problem { "problem" } else { "skip" };
        ui.line(format!(
            "row {:<4} {:<10} {tag:<9} {}",
            skip.row,
            crate::sheet::display_safe(&skip.id),
            crate::sheet::display_safe(&skip.reason)
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

/// After a sync with nothing to do: the rows whose note waits for a person (ID and row), so
/// nobody has to open the workbook to learn why nothing happened.
pub fn print_waiting(table: &crate::sheet::Table, ui: &Ui) {
    if ui.is_json() {
        return;
    }
    let waiting: Vec<String> = table
        .rows
        .iter()
        .filter(|r| {
            !r.excluded
                && (r.anonymization.state == crate::sheet::State::Problem
                    || r.check.state == crate::sheet::State::Problem)
        })
        .map(|r| format!("{} (row {})", crate::sheet::display_safe(&r.id), r.row))
        .collect();
    if waiting.is_empty() {
        return;
    }
    const SHOWN: usize = 10;
    let more = waiting.len().saturating_sub(SHOWN);
    let mut list = waiting[..waiting.len().min(SHOWN)].join(", ");
    if more > 0 {
        list.push_str(&format!(" and {more} more"));
    }
    ui.line(format!(
        "{} row(s) wait for a person (a note in the sheet): {list}; fix the cause, clear the note but keep the initials, and run sync again",
        waiting.len()
    ));
}

/// Prints one row's result as the run goes: a JSON line, or a table line and a few details.
pub fn print_row(r: &RowResult, ui: &Ui) {
    if r.refused {
        let reason = r.note.as_deref().unwrap_or_default();
        if ui.is_json() {
            ui.json(&PlanLine::Skip {
                row: r.row,
                id: &r.id,
                action: "skip",
                reason,
                problem: true,
            });
        } else {
            ui.line(format!(
                "row {:<4} {:<10} problem: {}",
                r.row,
                crate::sheet::display_safe(&r.id),
                crate::sheet::display_safe(reason)
            ));
        }
        return;
    }
    if ui.is_json() {
        ui.json(r);
        return;
    }
    let (verb, files) = match r.stage {
        Stage::Anonymize => ("anonymized", format!("{} files written", r.files_written)),
        Stage::Verify => ("verified", format!("{} files checked", r.files_checked)),
    };
    let skipped = skipped_files(&r.not_dicom);
    match &r.note {
        None => ui.line(format!(
            "row {:<4} {:<10} {verb}: passed ({files}{skipped})",
            r.row,
            crate::sheet::display_safe(&r.id)
        )),
        Some(note) => ui.line(format!(
            "row {:<4} {:<10} problem: {} (details: {}{skipped})",
            r.row,
            crate::sheet::display_safe(&r.id),
            crate::sheet::display_safe(note),
            r.report.as_deref().unwrap_or("-")
        )),
    }
    // The sheet's note is cut short (80 characters, no absolute paths): the whole finding here.
    if let (Some(note), Some(first)) = (&r.note, r.findings.first()) {
        let first = first.to_string();
        if !note.starts_with(&first) {
            ui.line(format!(
                "         finding: {}",
                crate::sheet::display_safe(&first)
            ));
        }
    }
    // The sheet holds the first finding only; show a few more here, so nobody has to open JSON.
    const SHOWN: usize = 5;
    for f in r.findings.iter().skip(1).take(SHOWN) {
        ui.line(format!("         also: {f}"));
    }
    if r.findings.len() > SHOWN + 1 {
        ui.line(format!(
            "         and {} more in the report",
            r.findings.len() - SHOWN - 1
        ));
    }
    if let Some(moved) = &r.quarantined {
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

/// The ID check's failure in a few lines, for `-v` and `anonymize`: the counts by field, then
/// the first failing files (relative to the raw folder) and why each fails. Never a value read
/// from a file.
pub fn id_check_lines(m: &IdMismatch) -> Vec<String> {
    let mut lines = vec![format!("ID check: {}", m.summary())];
    for f in &m.first_failing {
        lines.push(format!(
            "  {}: {}",
            crate::sheet::display_safe(&f.file),
            f.reason()
        ));
    }
    let more = m.failing.saturating_sub(m.first_failing.len());
    if more > 0 {
        lines.push(format!("  and {more} more failing file(s)"));
    }
    lines
}

/// The closing lines of `sync`: results the workbook did not take, what was written where,
/// and what to do next.
pub fn print_sync_end(report: &SyncReport, ui: &Ui) {
    if let Some(applied) = &report.applied {
        for n in &applied.not_applied {
            ui.note(match n.why {
                Unapplied::RowGone => format!(
                    "note: row `{}` is no longer in the workbook saved meanwhile; its result is only in .anontrack/",
                    n.id
                ),
                Unapplied::CellChanged => format!(
                    "note: someone changed the cell of `{}` meanwhile; it is left as they wrote it (the result is in .anontrack/)",
                    n.id
                ),
            });
        }
    }
    let summary = report.summary();
    if ui.is_json() {
        ui.json(&summary);
        return;
    }
    let done = summary.rows_worked;
    let problems = summary.problems;
    if done == 0 {
        ui.line("nothing to do: no row has initials waiting in `DICOMS Anonymized` or `DICOM anonymization check`");
        return;
    }
    if summary.changed_on_disk {
        ui.note(format!(
            "note: `{}` was saved by someone else during the run; anontrack applied its changes to that newer version",
            report.workbook.display()
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
        "{done} row(s) worked, {} passed, {problems} with a problem; workbook {}{next}",
        done - problems,
        if summary.workbook_written {
            "updated"
        } else {
            "unchanged"
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warning(tag: &str, keyword: &str, vr: &str) -> VrWarning {
        VrWarning {
            tag: tag.into(),
            keyword: keyword.into(),
            vr: vr.into(),
            value: "Anonymous".into(),
            files: 2,
        }
    }

    #[test]
    fn the_vr_warning_is_one_short_sentence() {
        assert_eq!(vr_warning_text("lab", &[]), None);
        let mut warnings = vec![
            warning("(0008,0020)", "StudyDate", "DA"),
            warning("(0008,0021)", "SeriesDate", "DA"),
            warning("(0010,0030)", "PatientBirthDate", "DA"),
            warning("(0010,1020)", "PatientSize", "DS"),
        ];
        assert_eq!(
            vr_warning_text("lab", &warnings).unwrap(),
            "the `lab` profile writes `Anonymous` into 4 date or number fields \
             (StudyDate, SeriesDate, PatientBirthDate, ...), which is not valid DICOM; \
             validators flag it and dcm2niix ignores those fields; the images are not affected"
        );
        warnings.truncate(1);
        assert!(
            vr_warning_text("lab", &warnings)
                .unwrap()
                .starts_with("the `lab` profile writes `Anonymous` into 1 date field (StudyDate),")
        );
    }
}
