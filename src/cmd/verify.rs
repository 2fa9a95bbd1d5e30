//! `anontrack verify`: the second reviewer's check of one participant's anonymized folder
//! against its raw folder. Prints the findings; changes nothing.
//!
//! Two forms: `verify RAW_DIR ANON_DIR --original-id ID` (one participant, outside any workbook)
//! and `verify SHEET [--id ID]` (rows whose anonymization is done; wired up with the sheet reader).
//! With `--leftovers`, a workbook's rows are summed into one study-wide summary that names the
//! rows.

use crate::anonymize::profile::Profile;
use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::finding::Finding;
use crate::sheet::{self, State};
use crate::study::{Study, StudyOptions};
use crate::ui::Ui;
use crate::verify::Verifier;
use crate::verify::leftovers::{Leftovers, StudyTally};
use chrono::NaiveDate;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Arguments of `anontrack verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The participant's raw DICOM folder (or the tracking workbook, .xlsx).
    #[arg(value_name = "RAW_DIR|SHEET")]
    pub source: PathBuf,

    /// The participant's anonymized folder (the AnonDcm copy of RAW_DIR).
    #[arg(value_name = "ANON_DIR")]
    pub anon: Option<PathBuf>,

    /// The participant's original ID (as in the raw files and folder names).
    #[arg(long, value_name = "ID")]
    pub original_id: Option<String>,

    /// The study ID that replaced the original ID in anonymized file and folder names.
    #[arg(long, value_name = "ID")]
    pub study_id: Option<String>,

    /// The anonymization profile: a built-in name (`lab`, the default) or a .toml file. With a
    /// workbook, the default is the `profile` of its anontrack.toml.
    #[arg(long, value_name = "NAME|PATH")]
    pub profile: Option<String>,

    /// An option of the standard's profile, added to `basic` or `neuro` (repeatable); give the
    /// same options as to `anonymize`.
    #[arg(long = "option", value_name = "NAME", value_parser = super::anonymize::parse_option)]
    pub options: Vec<crate::deid::DeidOption>,

    /// The study key `anonymize` used (default: `.anontrack/study.key` in the current folder).
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// With a workbook: the settings file to use instead of the anontrack.toml beside it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The AcquisitionDate the anonymization used (YYYYMMDD). Without it, any real date that
    /// differs from the raw one and is not in the future passes (folders done by hand).
    #[arg(long, value_name = "YYYYMMDD", value_parser = super::parse_date)]
    pub date: Option<NaiveDate>,

    /// With a workbook: check only this participant (study ID).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,

    /// Also list what the profile leaves behind: attributes the DICOM Basic profile would remove
    /// or replace that still hold a value, and files where the scan date or the scanner's serial
    /// number hides inside UIDs or the Siemens CSA header. With a workbook: summed over the
    /// rows checked, naming the rows.
    #[arg(long)]
    pub leftovers: bool,
}

/// Runs `anontrack verify`.
pub fn run(args: VerifyArgs, ui: &Ui) -> Result<Outcome> {
    let VerifyArgs {
        source,
        anon,
        original_id,
        study_id,
        profile,
        options,
        key_file,
        config,
        date,
        id,
        leftovers,
    } = args;
    let profile_override = profile;
    let is_sheet = source
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if is_sheet {
        if anon.is_some() || original_id.is_some() || study_id.is_some() {
            return Err(Error::Usage(
                "with a workbook, give only `--id` (the folders and IDs come from the sheet and anontrack.toml)".into(),
            ));
        }
        return verify_sheet(
            &source,
            config.as_deref(),
            id.as_deref(),
            date,
            profile_override.as_deref(),
            leftovers,
            ui,
        );
    }
    if id.is_some() || config.is_some() {
        return Err(Error::Usage(
            "`--id` and `--config` go with a workbook (hint: for folders use `anontrack verify RAW_DIR ANON_DIR --original-id ID`)".into(),
        ));
    }
    let Some(anon) = anon else {
        return Err(Error::Usage(
            "missing ANON_DIR (hint: `anontrack verify RAW_DIR ANON_DIR --original-id ID`)".into(),
        ));
    };
    let Some(original_id) = original_id else {
        return Err(Error::Usage(
            "missing `--original-id` (hint: the participant's ID in the raw files, as in the sheet's Original ID column)".into(),
        ));
    };
    let profile = Profile::load(profile_override.as_deref().unwrap_or("lab"), Path::new("."))?
        .with_options(&options)?;
    // The key the verifier recomputes keyed values with (the verifier's builder takes it).
    // The verifier reads the key's bytes itself, after the shared loader has vetted the file.
    let key = match (&profile.standard, key_file) {
        (Some(_), k) => {
            let path = k.unwrap_or_else(|| PathBuf::from(crate::deid::keyed::DEFAULT_KEY_FILE));
            crate::deid::StudyKey::load(&path).map_err(|e| Error::Usage(e.to_string()))?;
            crate::verify::keyed::Key::read(&path)
        }
        (None, _) => None,
    };

    let mut verifier = Verifier::new(&profile)
        .original_id(&original_id)
        .run_date(date)
        .leftovers(leftovers);
    if let Some(k) = key {
        verifier = verifier.key(k);
    }
    if let Some(s) = &study_id {
        verifier = verifier.study_id(s);
    }
    let progress = ui.progress(0, "verifying");
    let report = verifier.verify_dir(&source, &anon, &progress)?;

    if ui.is_json() {
        ui.json(&report);
    } else {
        for f in &report.findings {
            ui.line(f.detailed());
        }
        for line in report.leftovers.iter().flat_map(|l| l.lines()) {
            ui.line(line);
        }
        let n = report.files_checked;
        let files = format!("{n} file{}", if n == 1 { "" } else { "s" });
        ui.line(if report.passed {
            format!(
                "passed: {files} checked against profile `{}`",
                report.profile
            )
        } else {
            let k = report.findings.len();
            format!(
                "{k} finding{} in {files} checked against profile `{}`",
                if k == 1 { "" } else { "s" },
                report.profile
            )
        });
    }
    Ok(Outcome::from_problems(report.findings.len()))
}

/// One line of `verify SHEET --json`.
#[derive(Debug, Serialize)]
struct RowCheck<'a> {
    row: u32,
    id: &'a str,
    passed: bool,
    files_checked: usize,
    findings: Vec<Finding>,
    /// The row's own leftovers, with `--leftovers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    leftovers: Option<Leftovers>,
}

/// The last line of `verify SHEET --leftovers --json`: the leftovers of every row checked.
#[derive(Debug, Serialize)]
struct StudyLeftovers {
    rows_checked: usize,
    leftovers: Leftovers,
}

/// `verify SHEET [--id ID]`: every row whose anonymization is done (not excluded), or only `id`.
/// Reads the sheet and the folders; writes nothing, not even reports. With `leftovers`, what the
/// rows checked leave behind, merged across the study, after the rows.
fn verify_sheet(
    workbook: &Path,
    config: Option<&Path>,
    only: Option<&str>,
    date: Option<NaiveDate>,
    profile: Option<&str>,
    leftovers: bool,
    ui: &Ui,
) -> Result<Outcome> {
    let study = Study::open(&StudyOptions {
        workbook: workbook.to_path_buf(),
        config: config.map(Path::to_path_buf),
        profile: profile.map(str::to_owned),
        date: None,
    })?;
    let table = study.table();
    let rows: Vec<_> = table
        .rows
        .iter()
        .filter(|r| only.is_none_or(|id| r.id.eq_ignore_ascii_case(id)))
        .collect();
    if let Some(id) = only
        && rows.is_empty()
    {
        return Err(Error::Usage(format!(
            "no row with ID `{id}` in sheet `{}` of `{}`",
            table.sheet,
            workbook.display()
        )));
    }
    let mut problems = 0;
    let mut checked = 0;
    let mut study_left = StudyTally::default();
    for row in rows {
        if row.excluded || row.anonymization.state != State::Done {
            if only.is_some() {
                ui.line(format!(
                    "row {:<4} {:<10} not checked: its anonymization is not done (green) yet",
                    row.row, row.id
                ));
            }
            continue;
        }
        checked += 1;
        let (report_findings, files, row_left) = check_row(&study, row, date, leftovers, ui)?;
        if !report_findings.is_empty() {
            problems += 1;
        }
        if let Some(l) = &row_left {
            study_left.add(row.row, l);
        }
        if ui.is_json() {
            ui.json(&RowCheck {
                row: row.row,
                id: &row.id,
                passed: report_findings.is_empty(),
                files_checked: files,
                findings: report_findings,
                leftovers: row_left,
            });
        } else if report_findings.is_empty() {
            ui.line(format!(
                "row {:<4} {:<10} passed ({files} files checked)",
                row.row, row.id
            ));
        } else {
            ui.line(format!(
                "row {:<4} {:<10} {} finding(s):",
                row.row,
                row.id,
                report_findings.len()
            ));
            for f in &report_findings {
                ui.line(format!("    {}", f.detailed()));
            }
        }
    }
    if leftovers {
        let merged = study_left.finish();
        for line in merged.lines() {
            ui.line(line);
        }
        ui.json(&StudyLeftovers {
            rows_checked: checked,
            leftovers: merged,
        });
    }
    ui.line(format!(
        "{checked} participant(s) checked, {problems} with findings; nothing was changed"
    ));
    Ok(Outcome::from_problems(problems))
}

/// The findings of one row, the files checked, and the row's leftovers when counted.
type RowResult = (Vec<Finding>, usize, Option<Leftovers>);

/// Verifies one sheet row's folders; a folder that cannot be resolved or found is a finding.
fn check_row(
    study: &Study,
    row: &sheet::Row,
    date: Option<NaiveDate>,
    leftovers: bool,
    ui: &Ui,
) -> Result<RowResult> {
    let (raw, anon) = match study.config().folders_for(row, study.folder()) {
        Ok(folders) => folders,
        Err(reason) => return Ok((vec![Finding::new(reason)], 0, None)),
    };
    for (dir, what) in [(&anon, "anonymized folder"), (&raw, "raw folder")] {
        if !dir.is_dir() {
            let shown = study.shown(dir);
            let finding = Finding::new(format!("no {what} found at {shown}"));
            return Ok((vec![finding], 0, None));
        }
    }
    let mut verifier = Verifier::new(study.profile())
        .study_id(&row.id)
        .run_date(date)
        .today(study.today())
        .leftovers(leftovers);
    if let Some(original) = &row.original_id {
        verifier = verifier.original_id(original);
    }
    if study.needs_key()
        && let Some(key) = crate::verify::keyed::Key::read(&study.key_path())
    {
        verifier = verifier.key(key);
    }
    let progress = ui.progress(0, &format!("row {} ({})", row.row, row.id));
    let report = verifier.verify_dir(&raw, &anon, &progress)?;
    progress.finish_and_clear();
    Ok((report.findings, report.files_checked, report.leftovers))
}

#[cfg(test)]
mod tests {
    use super::super::parse_date;
    use chrono::NaiveDate;

    #[test]
    fn dates_parse_only_as_yyyymmdd() {
        assert_eq!(
            parse_date("20240131"),
            Ok(NaiveDate::from_ymd_opt(2024, 1, 31).unwrap())
        );
        assert!(parse_date("2024-01-31").is_err());
        assert!(parse_date("20240231").is_err());
    }
}
