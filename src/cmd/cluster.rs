//! The cluster modes of `anontrack sync`: `--plan-out` (write the plan, change nothing else) and
//! `--collect` (apply the saved results of a plan's items to the workbook). The logic is in
//! [`crate::cluster`]; this module prints.

use super::prose;
use crate::cluster::collect;
use crate::cluster::plan_file::{PlanFile, PlanSettings, ProfileRef, key_ref};
use crate::cluster::work;
use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::plan::Plan;
use crate::results::SyncReport;
use crate::sheet::write::check_not_locked;
use crate::sheet::writeback;
use crate::study::Study;
use crate::ui::Ui;
use std::path::{Path, PathBuf};

/// `sync --plan-out FILE`: writes the plan and prints the number of work items.
pub fn plan_out(
    study: &Study,
    plan: &Plan,
    config: Option<&Path>,
    out: &Path,
    ui: &Ui,
) -> Result<Outcome> {
    let folder = absolute(study.folder())?;
    let key_path = study
        .key_path()
        .strip_prefix(study.folder())
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| study.key_path());
    let file = PlanFile::new(
        plan,
        PlanSettings {
            study_dir: &folder,
            workbook: study.workbook(),
            config: config.map(absolute).transpose()?,
            run_date: study.date(),
            today: study.today(),
            profile: ProfileRef {
                spec: study.config().profile.clone(),
                name: study.profile().name.clone(),
                options: crate::cluster::work::profile_options(study),
            },
            key: key_ref(&folder, &key_path)?,
        },
        chrono::Local::now(),
    )
    .with_mapping_dir(study.mapping_dir().map(absolute).transpose()?);
    // Folders come from the plan with the study folder as given; pin them relative to it.
    let file = PlanFile {
        items: file
            .items
            .into_iter()
            .map(|mut i| {
                i.raw_dir = relative(&i.raw_dir, study.folder());
                i.anon_dir = relative(&i.anon_dir, study.folder());
                i
            })
            .collect(),
        ..file
    };
    file.write(out)?;
    let n = file.items.len();
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "plan": out.display().to_string(),
            "run_id": file.run_id,
            "items": n,
            "problems": file.problems.len(),
        }));
        return Ok(Outcome::Success);
    }
    ui.line(format!(
        "{n} work item(s) in `{}` ({} to anonymize, {} to verify; {} problem row(s) to record at collect); nothing else changed",
        out.display(),
        plan.anonymize_count(),
        plan.verify_count(),
        file.problems.len()
    ));
    if n > 0 {
        ui.line(format!(
            "next: `anontrack slurm-script {0} > submit.sh && bash submit.sh`, or `anontrack work {0} --index I` for I from 0 to {1}, then `anontrack sync {2} --collect {0}`",
            out.display(),
            n - 1,
            study.workbook().display()
        ));
    }
    Ok(Outcome::Success)
}

/// `sync WORKBOOK --collect PLAN`: applies the plan's new results to the workbook by ID.
pub fn collect(workbook: PathBuf, plan_path: &Path, ui: &Ui) -> Result<Outcome> {
    let plan = PlanFile::read(plan_path)?;
    let name = workbook
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name != plan.workbook {
        return Err(Error::Usage(format!(
            "`{}` was planned for `{}`, not `{}` (hint: collect into the workbook the plan was made from)",
            plan_path.display(),
            plan.workbook,
            workbook.display()
        )));
    }
    let study = work::open_study(&plan, workbook)?;
    check_not_locked(study.workbook())?;
    let gathered = collect::gather(&study, &plan)?;
    let waiting = gathered.missing.len() + gathered.unreadable.len();
    let mut report = SyncReport {
        workbook: study.workbook().to_path_buf(),
        results: Vec::new(),
        not_started: 0,
        applied: None,
    };
    if !gathered.new.is_empty() {
        match writeback::apply(&study, &gathered.new) {
            Ok(applied) => report.applied = Some(applied),
            Err(e) => {
                ui.note("note: the results are kept in .anontrack/results/; fix the error below and collect again");
                return Err(e);
            }
        }
        collect::record(&study, &plan, &gathered)?;
        for r in &gathered.new {
            prose::print_row(r, ui);
        }
    }
    for (index, id) in &gathered.missing {
        ui.json(&serde_json::json!({ "item": index, "id": id, "missing": true }));
        ui.note(format!(
            "no result for item {index} ({id}): its row is left as it was (hint: work it again with `anontrack work {} --index {index}`, then collect again)",
            plan_path.display()
        ));
    }
    for (index, id, why) in &gathered.unreadable {
        ui.json(&serde_json::json!({ "item": index, "id": id, "missing": true, "why": why }));
        ui.note(format!(
            "the result of item {index} ({id}) cannot be used: {why}; its row is left as it was (hint: work it again with `anontrack work {} --index {index}`)",
            plan_path.display()
        ));
    }
    if gathered.new.is_empty() {
        let text = format!(
            "nothing new to collect: {} result(s) collected before, {waiting} still missing; workbook unchanged",
            gathered.already
        );
        if ui.is_json() {
            ui.json(&serde_json::json!({
                "summary": true,
                "rows_worked": 0,
                "collected_before": gathered.already,
                "missing": waiting,
                "workbook_written": false,
            }));
        } else {
            ui.line(text);
        }
        return Ok(Outcome::from_problems(waiting));
    }
    report.results = gathered.new;
    prose::print_sync_end(&report, ui);
    super::sync::send_notice(&study, &report, ui);
    if waiting > 0 {
        ui.line(format!(
            "{waiting} item(s) without a usable result; their rows are left as they were"
        ));
        return Ok(Outcome::Problems);
    }
    Ok(report.outcome())
}

fn absolute(p: &Path) -> Result<PathBuf> {
    let p = if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    };
    std::path::absolute(p).map_err(|e| Error::read(p, e))
}

fn relative(p: &Path, folder: &Path) -> PathBuf {
    p.strip_prefix(folder).unwrap_or(p).to_path_buf()
}
