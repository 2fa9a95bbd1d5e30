//! `anontrack anonymize`: one participant's folder, outside any workbook.

use crate::anonymize::staged::Staged;
use crate::anonymize::{Anonymizer, ParticipantRun, Profile};
use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::ui::Ui;
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

/// Arguments of `anontrack anonymize`.
#[derive(Debug, clap::Args)]
pub struct AnonymizeArgs {
    /// The participant's raw DICOM folder (only read, never changed).
    pub raw_dir: PathBuf,

    /// Where the anonymized copy goes (made if missing; files from an earlier run are replaced).
    /// It changes only when the run completes: until then the output is written into a hidden
    /// staging folder beside it, removed if the run is interrupted.
    pub anon_dir: PathBuf,

    /// The participant's original ID: every DICOM file's PatientID or PatientName must match it,
    /// or nothing is written.
    #[arg(long, value_name = "ID")]
    pub original_id: String,

    /// The participant's study ID: replaces the original ID in file and folder names.
    #[arg(long, value_name = "ID")]
    pub study_id: String,

    /// The date written into AcquisitionDate, as YYYYMMDD (default: today).
    #[arg(long, value_name = "YYYYMMDD", value_parser = super::parse_date)]
    pub date: Option<NaiveDate>,

    /// The anonymization profile: `lab` (the lab's procedure), `basic` (the DICOM standard's
    /// Basic Profile), `neuro` (basic keeping what MRI conversion needs), or a profile .toml file.
    #[arg(long, value_name = "NAME|PATH", default_value = "lab")]
    pub profile: String,

    /// An option of the standard's profile, added to `basic` or `neuro` (repeatable), e.g.
    /// `--option retain-uids`. See docs/profiles.md for the list.
    #[arg(long = "option", value_name = "NAME", value_parser = parse_option)]
    pub options: Vec<crate::deid::DeidOption>,

    /// The study key for `basic` and `neuro` (keyed UIDs and dates); created if missing.
    /// Default: `.anontrack/study.key` in the current folder. Keep it: another key gives other
    /// UIDs and dates.
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// Also merge this participant into `uid_mapping.csv` (original UID -> new UID) and
    /// `patid_mapping.csv` (original ID -> study ID) in DIR. They re-identify the output: kept
    /// owner-only, never shared with the data.
    #[arg(long, value_name = "DIR")]
    pub write_mapping: Option<PathBuf>,

    /// How many files to process at once (default: one per core).
    #[arg(
        long,
        short,
        value_name = "N",
        default_value_t = 0,
        hide_default_value = true
    )]
    pub jobs: usize,
}

/// Runs `anontrack anonymize`.
pub fn run(args: AnonymizeArgs, ui: &Ui) -> Result<Outcome> {
    let AnonymizeArgs {
        raw_dir,
        anon_dir,
        original_id,
        study_id,
        date,
        profile,
        options,
        key_file,
        write_mapping,
        jobs,
    } = args;
    if original_id.trim().is_empty() || study_id.trim().is_empty() {
        return Err(Error::Usage(
            "`--original-id` and `--study-id` cannot be empty (hint: give the IDs from the tracking workbook)".into(),
        ));
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let profile = Profile::load(&profile, &cwd)?.with_options(&options)?;
    // Each file's write to disk begins once it is written: the flush before publishing then
    // has little left to wait for.
    let writeback = crate::staging::Writeback::for_folder(&anon_dir);
    let writeback = |_: &str, written: &Path| writeback.start(written);
    let mut anonymizer = Anonymizer::new(&profile)
        .original_id(&original_id)
        .study_id(&study_id)
        .map_uids(write_mapping.is_some())
        .jobs(jobs)
        .after_write(&writeback);
    if profile.standard.is_some() {
        let path = key_file.unwrap_or_else(|| cwd.join(crate::deid::keyed::DEFAULT_KEY_FILE));
        anonymizer = anonymizer.key(load_key(&path, ui)?);
    }
    if let Some(d) = date {
        anonymizer = anonymizer.date(d);
    }
    // Checked here too: the staging folder sits beside the output, and an output holding the
    // raw folder must never be swapped out.
    if raw_dir.is_dir() {
        crate::folder::check_apart(&raw_dir, &anon_dir)?;
    }
    if let Err(e) = crate::interrupt::install() {
        tracing::warn!("Ctrl-C will stop the run at once, without cleaning up: {e}");
    }
    let staged = Staged::prepare(&anon_dir).map_err(|e| Error::write(&anon_dir, e))?;
    let progress = ui.progress(0, "anonymizing");
    let result = anonymizer.anonymize_dir(&raw_dir, &staged.dir, &progress);
    progress.finish_and_clear();
    let mut run = match result {
        Ok(run) => run,
        Err(e) => {
            discard(staged, ui);
            return Err(e);
        }
    };
    run.anon = anon_dir.clone();
    if crate::interrupt::requested() {
        let existed = staged.existed;
        discard(staged, ui);
        ui.note(format!(
            "interrupted: {} of {} DICOM files had been written, into a staging folder that was \
             removed; `{}` {} (hint: run the same command again to anonymize this participant)",
            run.written.len(),
            run.dicom_files,
            anon_dir.display(),
            if existed {
                "is as it was before this run"
            } else {
                "was not created"
            }
        ));
        return Ok(Outcome::Interrupted);
    }
    if run.written.is_empty() {
        // Nothing written (the ID check failed, or no file could be): the output stays as it was.
        discard(staged, ui);
    } else {
        // The mapping first: when it cannot be written, nothing is published.
        if let Some(dir) = &write_mapping
            && let Err(e) = anonymizer.write_mapping(&run, dir)
        {
            discard(staged, ui);
            return Err(Error::write(dir, e));
        }
        staged.publish().map_err(|e| Error::write(&anon_dir, e))?;
    }
    if ui.is_json() {
        ui.json(&run);
    } else {
        print_summary(&run, ui);
    }
    Ok(Outcome::from_problems(run.findings.len()))
}

/// Removes the staging folder; a failure to do so is said, not fatal (the output is untouched).
fn discard(staged: Staged, ui: &Ui) {
    let dir = staged.dir.clone();
    if let Err(e) = staged.discard() {
        ui.note(format!(
            "warning: cannot remove the staging folder `{}`: {e}",
            dir.display()
        ));
    }
}

/// Parses an `--option` name (the standard's option names, kebab case).
pub fn parse_option(s: &str) -> std::result::Result<crate::deid::DeidOption, String> {
    crate::deid::DeidOption::parse(s)
}

/// Loads the study key, creating it (and saying where, once) if missing. Never prints the key.
pub fn load_key(path: &std::path::Path, ui: &Ui) -> Result<crate::deid::StudyKey> {
    let (key, created) =
        crate::deid::StudyKey::load_or_create(path).map_err(|e| Error::Usage(e.to_string()))?;
    if created {
        ui.note(format!(
            "note: created the study key `{}` (fingerprint {}); keep it and back it up: without it a \
             re-run gives other UIDs and dates",
            path.display(),
            key.fingerprint()
        ));
    }
    Ok(key)
}

/// The human summary: counts, then notes, then problems (no values from the files).
fn print_summary(run: &ParticipantRun, ui: &Ui) {
    ui.line(format!(
        "{} {} of {} DICOM files into `{}` (profile `{}`, date {})",
        if run.is_done() { "anonymized" } else { "wrote" },
        run.written.len(),
        run.dicom_files,
        run.anon.display(),
        run.profile,
        run.date
    ));
    if !run.not_dicom.is_empty() {
        ui.line(format!(
            "not copied ({} not DICOM): {}",
            run.not_dicom.len(),
            run.not_dicom.join(", ")
        ));
    }
    if !run.reencoded.is_empty() {
        ui.line(format!(
            "re-encoded ({} deflated: patched after inflating, then compressed again): {}",
            run.reencoded.len(),
            run.reencoded.join(", ")
        ));
    }
    for c in &run.private_creators {
        let creator = if c.creator.is_empty() {
            "(no private creator)"
        } else {
            &c.creator
        };
        ui.line(format!(
            "private {} in block `{}` ({} files)",
            c.tag, creator, c.files
        ));
    }
    if let Some(w) = super::prose::vr_warning_text(&run.profile, &run.vr_warnings) {
        ui.note(format!("note: {w}"));
    }
    if !run.findings.is_empty() {
        ui.line(format!("{} problem(s):", run.findings.len()));
        for f in &run.findings {
            ui.line(format!("  {f}"));
        }
    }
    // The files the ID check failed on, relative to the raw folder (never the values found).
    if let Some(m) = &run.id_check {
        for line in super::prose::id_check_lines(m) {
            ui.line(line);
        }
    }
}
