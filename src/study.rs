//! The study a command works on, resolved once: the workbook and its folder, the `.anontrack/`
//! layout beside it, `anontrack.toml`, the participant table, the profile, and the run's dates.
//!
//! Commands open a [`Study`] before any work starts; everything below them takes `&Study`
//! instead of recomputing `workbook.parent()`, re-reading the config or asking the clock. The
//! run's date is read from the clock once ([`Study::today`]), so a run that crosses midnight
//! still writes one AcquisitionDate. Relative profile paths resolve from the study folder.
//!
//! This module reads (the config, the workbook, a profile file) but never writes.

use crate::anonymize::Profile;
use crate::config::Config;
use crate::error::Result;
use crate::sheet::Table;
use crate::sheet::write::Fingerprint;
use chrono::NaiveDate;
use std::path::{Component, Path, PathBuf};

/// The name of the state folder beside the workbook.
pub const STATE_DIR: &str = ".anontrack";

/// What to open: the workbook and the choices a command line may make.
#[derive(Debug, Clone, Default)]
pub struct StudyOptions {
    /// The tracking workbook.
    pub workbook: PathBuf,
    /// A settings file instead of the `anontrack.toml` beside the workbook.
    pub config: Option<PathBuf>,
    /// A profile (built-in name or file) instead of the config's `profile`.
    pub profile: Option<String>,
    /// The AcquisitionDate to write instead of today.
    pub date: Option<NaiveDate>,
}

/// One study, resolved once per run.
#[derive(Debug, Clone)]
pub struct Study {
    workbook: PathBuf,
    folder: PathBuf,
    config: Config,
    config_file: Option<PathBuf>,
    table: Table,
    fingerprint: Fingerprint,
    profile: Profile,
    today: NaiveDate,
    date: NaiveDate,
    mapping_dir: Option<PathBuf>,
}

impl Study {
    /// Opens the study of `options.workbook`: loads the config, checks and fingerprints the
    /// workbook, reads its table, loads the profile and reads the clock (once).
    ///
    /// The fingerprint is taken before the table is read, so a save made in Excel while the
    /// run works is noticed by the write-back.
    ///
    /// # Errors
    /// A bad config, a workbook that is missing, of the wrong kind or without the lab's table,
    /// and a profile that cannot be loaded; each names its file.
    pub fn open(options: &StudyOptions) -> Result<Study> {
        let StudyOptions {
            workbook,
            config,
            profile,
            date,
        } = options;
        let (config, config_file) = Config::load(workbook, config.as_deref())?;
        crate::sheet::read::check_workbook_path(workbook)?;
        let fingerprint = Fingerprint::of(workbook)?;
        let table = crate::sheet::read::read_table(workbook, &config.columns)?;
        let folder = folder_of(workbook);
        let profile = Profile::load(profile.as_deref().unwrap_or(&config.profile), &folder)?
            .with_option_names(&config.options)?;
        let today = chrono::Local::now().date_naive();
        Ok(Study {
            workbook: workbook.clone(),
            folder,
            config,
            config_file,
            table,
            fingerprint,
            profile,
            today,
            date: date.unwrap_or(today),
            mapping_dir: None,
        })
    }

    /// The tracking workbook, as given.
    pub fn workbook(&self) -> &Path {
        &self.workbook
    }

    /// The workbook's file name (`STUDYNAME_dataprocessing.xlsx`).
    pub fn workbook_name(&self) -> String {
        self.workbook
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The study folder: the workbook's folder, as given (empty for a workbook named without
    /// a folder, so paths print as the user typed them, without `./`). Folder templates and
    /// profile paths resolve from here.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The settings file they came from (`None` for the defaults).
    pub fn config_file(&self) -> Option<&Path> {
        self.config_file.as_deref()
    }

    /// The participant table, as read when the study was opened.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The workbook's fingerprint, taken just before the table was read.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The anonymization profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Today, read once when the study was opened (the verifier's "not in the future").
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    /// The AcquisitionDate this run writes: `--date`, else [`today`](Self::today).
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// `.anontrack/` beside the workbook: everything anontrack keeps about the study.
    pub fn state_dir(&self) -> PathBuf {
        self.folder.join(STATE_DIR)
    }

    /// `.anontrack/reports/`: one JSON report per participant and stage.
    pub fn reports_dir(&self) -> PathBuf {
        self.state_dir().join("reports")
    }

    /// `.anontrack/audit.jsonl`: the append-only audit log, one line per row worked.
    pub fn audit_log(&self) -> PathBuf {
        self.state_dir().join("audit.jsonl")
    }

    /// `.anontrack/backups/`: copies of the workbook as it was before each save.
    pub fn backups_dir(&self) -> PathBuf {
        self.state_dir().join("backups")
    }

    /// `.anontrack/rejected/`: the output of rows that failed their check, kept out of AnonDcm.
    pub fn rejected_dir(&self) -> PathBuf {
        self.state_dir().join("rejected")
    }

    /// `.anontrack/results/`: row results saved to be applied to the workbook later (one
    /// folder per run, one `<ID>.json` per row).
    pub fn results_dir(&self) -> PathBuf {
        self.state_dir().join("results")
    }

    /// The study's secret key file: `.anontrack/study.key`, or `key_file` from anontrack.toml
    /// (relative to the study folder). Only its place is decided here; [`crate::deid::StudyKey`]
    /// makes and reads it.
    pub fn key_path(&self) -> PathBuf {
        crate::deid::keyed::key_path(&self.folder, self.config.key_file.as_deref())
    }

    /// Whether the profile needs the study key (a standard profile: keyed UIDs and dates).
    pub fn needs_key(&self) -> bool {
        self.profile.standard.is_some()
    }

    /// Gives the profile the study key, for the standard profiles' keyed UIDs and dates.
    pub fn with_key(mut self, key: crate::deid::StudyKey) -> Self {
        self.profile = self.profile.with_key(key);
        self
    }

    /// Asks each passed participant's mapping (`--write-mapping DIR`) to be merged into `dir`.
    pub fn with_mapping_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.mapping_dir = dir;
        self
    }

    /// Where the mapping files go, when asked for.
    pub fn mapping_dir(&self) -> Option<&Path> {
        self.mapping_dir.as_deref()
    }

    /// `path` as the sheet's user knows it: relative to the study folder, `/`-separated, no
    /// `./` (absolute when it lies outside the folder).
    pub fn shown(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.folder).unwrap_or(path);
        if rel.is_absolute() {
            return rel.display().to_string();
        }
        let parts: Vec<String> = rel
            .components()
            .filter(|c| *c != Component::CurDir)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        parts.join("/")
    }
}

/// The folder holding `workbook`, as given (empty for a bare file name).
pub fn folder_of(workbook: &Path) -> PathBuf {
    workbook.parent().unwrap_or(Path::new("")).to_path_buf()
}

/// `.anontrack/` beside `workbook`, for code that has a workbook path but no [`Study`] (the
/// low-level save of a workbook).
pub fn state_dir_of(workbook: &Path) -> PathBuf {
    folder_of(workbook).join(STATE_DIR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dir_is_beside_the_workbook() {
        assert_eq!(
            state_dir_of(Path::new("/s/study.xlsx")),
            Path::new("/s/.anontrack")
        );
        assert_eq!(
            state_dir_of(Path::new("study.xlsx")),
            Path::new(".anontrack")
        );
    }

    #[test]
    fn a_study_resolves_its_layout_once() {
        let dir = tempfile::tempdir().unwrap();
        let workbook = dir.path().join("S_dataprocessing.xlsx");
        crate::sheet::template::write_template(&workbook).unwrap();
        let date = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        let study = Study::open(&StudyOptions {
            workbook: workbook.clone(),
            date: Some(date),
            ..StudyOptions::default()
        })
        .unwrap();
        assert_eq!(study.folder(), dir.path());
        assert_eq!(study.workbook_name(), "S_dataprocessing.xlsx");
        assert_eq!(study.date(), date);
        assert_eq!(study.profile().name, "lab");
        assert!(study.config_file().is_none());
        let state = dir.path().join(".anontrack");
        assert_eq!(study.reports_dir(), state.join("reports"));
        assert_eq!(study.audit_log(), state.join("audit.jsonl"));
        assert_eq!(study.backups_dir(), state.join("backups"));
        assert_eq!(study.rejected_dir(), state.join("rejected"));
        assert_eq!(study.results_dir(), state.join("results"));
        assert_eq!(study.key_path(), state.join("study.key"));
        assert_eq!(
            study.shown(&dir.path().join("./AnonDcm/101")),
            "AnonDcm/101"
        );
        assert_eq!(study.shown(Path::new("/elsewhere/x")), "/elsewhere/x");
    }
}
