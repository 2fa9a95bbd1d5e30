//! One work item of a plan, worked alone (a SLURM array task, or one turn of a shell loop): the
//! row runner on exactly that item, its report, and its result saved as
//! `.anontrack/results/<run>/<ID>.json` for the collect step.
//!
//! A task writes only paths that belong to its participant (its report, its anonymized or
//! rejected folder, its result file, and its part of the mapping files when the plan asks for
//! them); it never writes the workbook, the audit log or the shared mapping files (the audit
//! line travels inside the result, the mapping part is merged at collect). Working an item
//! again replaces its result.

use super::plan_file::{PlanFile, key_fingerprint};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::records;
use crate::results::RowResult;
use crate::runner;
use crate::study::{Study, StudyOptions};
use std::path::{Path, PathBuf};

/// The workbook a plan was made for, as a task finds it: in the plan's own folder when it is
/// there, else in the study folder recorded in the plan.
pub fn plan_workbook(plan: &PlanFile, plan_path: &Path) -> PathBuf {
    plan.resolve_study_dir(plan_path).join(&plan.workbook)
}

/// Opens the study at `workbook` as `plan` pins it: its settings file, profile and run date.
pub fn open_study(plan: &PlanFile, workbook: PathBuf) -> Result<Study> {
    let study = Study::open(&StudyOptions {
        workbook,
        config: plan.config.clone(),
        profile: Some(plan.profile.spec.clone()),
        date: Some(plan.run_date),
    })?;
    if study.profile().name != plan.profile.name {
        return Err(Error::Usage(format!(
            "the profile `{}` is now `{}`, not `{}` as when the plan was made (hint: make a new plan with `anontrack sync WORKBOOK --plan-out PLAN.json`)",
            plan.profile.spec,
            study.profile().name,
            plan.profile.name
        )));
    }
    let options = profile_options(&study);
    if options != plan.profile.options {
        return Err(Error::Usage(format!(
            "the profile's options are now [{}], not [{}] as when the plan was made (hint: make a new plan with `anontrack sync WORKBOOK --plan-out PLAN.json`)",
            options.join(", "),
            plan.profile.options.join(", ")
        )));
    }
    if !study.needs_key() {
        return Ok(study);
    }
    // A task only ever reads the key: one it made itself would differ from everyone else's.
    let key =
        crate::deid::StudyKey::load(&study.key_path()).map_err(|e| Error::Usage(e.to_string()))?;
    Ok(study.with_key(key))
}

/// The de-identification options of the study's profile, by their names (none for `lab`).
pub fn profile_options(study: &Study) -> Vec<String> {
    study
        .profile()
        .standard
        .as_ref()
        .map(|rules| {
            rules
                .options()
                .iter()
                .map(|o| o.name().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Checks that the study key is the one the plan was made with: another key would give other
/// UIDs and dates than the participants already worked.
pub fn check_key(plan: &PlanFile, study: &Study) -> Result<()> {
    let Some(key) = &plan.key else {
        return Ok(());
    };
    let path = study.folder().join(&key.path);
    let bytes = std::fs::read(&path).map_err(|e| Error::read(&path, e))?;
    if key_fingerprint(&bytes) != key.fingerprint {
        return Err(Error::Usage(format!(
            "the study key `{}` is not the one the plan was made with (fingerprint {} instead of {}) (hint: restore the study's key, or make a new plan)",
            study.shown(&path),
            key_fingerprint(&bytes),
            key.fingerprint
        )));
    }
    Ok(())
}

/// The folder of a run's results, `.anontrack/results/<run>/`.
pub fn results_dir(study: &Study, plan: &PlanFile) -> PathBuf {
    study.results_dir().join(&plan.run_id)
}

/// Where the result of participant `id` goes.
pub fn result_path(study: &Study, plan: &PlanFile, id: &str) -> PathBuf {
    results_dir(study, plan).join(format!("{}.json", records::safe_file_name(id)))
}

/// Where participant `id`'s part of the mapping files goes when the plan asks for them
/// (`.anontrack/results/<run>/mapping/<ID>/`): a folder of its own, so that tasks running at
/// once never write the same file; the collect step merges the parts into the plan's
/// `mapping_dir` and removes them.
pub fn mapping_part_dir(study: &Study, plan: &PlanFile, id: &str) -> PathBuf {
    results_dir(study, plan)
        .join("mapping")
        .join(records::safe_file_name(id))
}

/// Works item `index` of `plan` and saves its result; returns the result and where it went.
/// When the plan asks for mapping files, a row that passes leaves its part in
/// [`mapping_part_dir`] (a part left by an earlier working of the item is removed first).
pub fn work_item(
    study: &Study,
    plan: &PlanFile,
    index: usize,
    progress: &dyn Progress,
) -> Result<(RowResult, PathBuf)> {
    let item = plan.item(index)?.to_work_item(study.folder());
    check_key(plan, study)?;
    let with_part;
    let study = if plan.mapping_dir.is_some() {
        let part = mapping_part_dir(study, plan, &item.id);
        match std::fs::remove_dir_all(&part) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::write(&part, e)),
        }
        with_part = study.clone().with_mapping_dir(Some(part));
        &with_part
    } else {
        study
    };
    let result = runner::run_row(study, &item, progress)?;
    let path = result_path(study, plan, &item.id);
    let dir = results_dir(study, plan);
    std::fs::create_dir_all(&dir).map_err(|e| Error::write(&dir, e))?;
    let mut bytes = serde_json::to_vec_pretty(&result).map_err(|e| Error::Patch {
        path: path.clone(),
        reason: format!("cannot encode the result: {e}"),
    })?;
    bytes.push(b'\n');
    records::write_atomic(&path, &bytes)?;
    Ok((result, path))
}
