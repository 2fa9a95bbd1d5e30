//! `anontrack verify`: the second reviewer's check of one participant's anonymized folder
//! against its raw folder. Prints the findings; changes nothing.
//!
//! Two forms: `verify RAW_DIR ANON_DIR --original-id ID` (one participant, outside any workbook)
//! and `verify SHEET [--id ID]` (rows whose anonymization is done; wired up with the sheet reader).

use crate::anonymize::profile::Profile;
use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::ui::Ui;
use crate::verify::Verifier;
use chrono::NaiveDate;
use std::path::PathBuf;

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

    /// The anonymization profile: a built-in name (`lab`) or a .toml file.
    #[arg(long, value_name = "NAME|PATH", default_value = "lab")]
    pub profile: String,

    /// The AcquisitionDate the anonymization used (YYYYMMDD). Without it, any real date that
    /// differs from the raw one and is not in the future passes (folders done by hand).
    #[arg(long, value_name = "YYYYMMDD", value_parser = parse_date)]
    pub date: Option<NaiveDate>,

    /// With a workbook: check only this participant (study ID).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
}

/// Parses `YYYYMMDD`.
pub fn parse_date(s: &str) -> std::result::Result<NaiveDate, String> {
    let ok = s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| NaiveDate::parse_from_str(s, "%Y%m%d").ok())
        .flatten()
        .ok_or_else(|| format!("`{s}` is not a date written YYYYMMDD, like 20240131"))
}

/// Runs `anontrack verify`.
pub fn run(args: VerifyArgs, ui: &Ui) -> Result<Outcome> {
    let VerifyArgs {
        source,
        anon,
        original_id,
        study_id,
        profile,
        date,
        id,
    } = args;
    let is_sheet = source
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if is_sheet {
        return Err(Error::Usage(format!(
            "verifying from a workbook (`anontrack verify {}`) is not implemented yet (hint: give the folders: `anontrack verify RAW_DIR ANON_DIR --original-id ID`)",
            source.display()
        )));
    }
    if id.is_some() {
        return Err(Error::Usage(
            "`--id` goes with a workbook (hint: for folders use `anontrack verify RAW_DIR ANON_DIR --original-id ID`)".into(),
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
    let profile = Profile::load(&profile, std::path::Path::new("."))?;

    let mut verifier = Verifier::new(&profile)
        .original_id(&original_id)
        .run_date(date);
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

#[cfg(test)]
mod tests {
    use super::*;

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
