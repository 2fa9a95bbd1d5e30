//! Anonymizing one participant: the profile applied to each DICOM file, byte-surgically.
//!
//! The writer locates top-level elements with a hand-written header walker ([`locate`]),
//! replaces only the bytes of the elements the profile owns, value and length, plus the group
//! length of a changed group ([`patch`]); everything else is copied as it was. Deflated files are
//! inflated (bounded), patched the same way and compressed again ([`deflate`]), and reported.
//! [`dir`] walks a participant's raw folder, runs the ID check ([`idcheck`]) before writing
//! anything, then writes in parallel; [`run`] holds what that did, as data.
//! This module knows nothing of the workbook, the verifier or the terminal.
//!
//! ```no_run
//! # use anontrack::anonymize::{Anonymizer, Profile};
//! # fn main() -> anontrack::error::Result<()> {
//! let profile = Profile::lab();
//! let run = Anonymizer::new(&profile)
//!     .original_id("101")
//!     .study_id("sub-001")
//!     .anonymize_dir("raw/101".as_ref(), "anon/sub-001".as_ref(), &anontrack::progress::NoProgress)?;
//! assert!(run.is_done());
//! # Ok(()) }
//! ```

mod clean;
pub mod deflate;
pub mod dir;
pub mod file;
pub mod idcheck;
pub mod locate;
pub mod mapping;
mod output;
pub mod patch;
pub mod profile;
pub mod run;
pub mod staged;
pub mod standard;

pub use profile::Profile;
pub use run::{ParticipantRun, PrivateCreator, VrWarning, WrittenFile};

use crate::finding::TagRef;
use chrono::NaiveDate;
use serde::Serialize;
use std::path::Path;

/// Applies a profile to files and participant folders; configure with the setters, then call
/// [`anonymize_file`](Self::anonymize_file) or [`anonymize_dir`](Self::anonymize_dir).
#[derive(Debug, Clone)]
pub struct Anonymizer<'p> {
    profile: &'p Profile,
    date: NaiveDate,
    original_id: Option<String>,
    study_id: Option<String>,
    jobs: usize,
    key: Option<crate::deid::StudyKey>,
    date_offset: Option<i64>,
    map_uids: bool,
    after_write: Option<AfterWrite<'p>>,
}

/// What [`Anonymizer::after_write`] calls with each written file's raw relative path.
#[derive(Clone, Copy)]
struct AfterWrite<'p>(&'p (dyn Fn(&str, &Path) + Sync));

impl std::fmt::Debug for AfterWrite<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AfterWrite(..)")
    }
}

impl<'p> Anonymizer<'p> {
    /// An anonymizer for `profile`, dated today (local time), with one worker per core.
    pub fn new(profile: &'p Profile) -> Self {
        Self {
            profile,
            date: chrono::Local::now().date_naive(),
            original_id: None,
            study_id: None,
            jobs: 0,
            key: profile.key.clone(),
            date_offset: None,
            map_uids: false,
            after_write: None,
        }
    }

    /// The study key, for the standard profiles' keyed UIDs and date offset (required by them).
    pub fn key(mut self, key: crate::deid::StudyKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Days every date moves under `retain-long-modified-dates`; by default the participant's
    /// keyed offset (from the key and the original ID).
    pub fn date_offset(mut self, days: i64) -> Self {
        self.date_offset = Some(days);
        self
    }

    /// What each file of this run undergoes: the lab's rules, or a standard profile with this
    /// participant's context. Errors when a standard profile lacks its key.
    pub fn job(&self) -> crate::error::Result<file::Job> {
        let Some(rules) = &self.profile.standard else {
            return Ok(file::Job::Lab(patch::resolve(self.profile, self.date)));
        };
        let key = self
            .key
            .clone()
            .ok_or_else(|| crate::error::Error::Profile {
                name: self.profile.name.clone(),
                reason: "a standard profile needs the study key (hint: `--key-file`, or run from \
                     the workbook's folder so `.anontrack/study.key` is used)"
                    .into(),
            })?;
        let original_id = self.original_id.clone().unwrap_or_default();
        let offset_days = self
            .date_offset
            .unwrap_or_else(|| key.date_offset(&original_id));
        Ok(file::Job::Standard(Box::new(standard::Context {
            rules: rules.clone(),
            key,
            study_id: self.study_id.clone().unwrap_or_default(),
            original_id,
            offset_days,
        })))
    }

    /// The date `run_date` rules write (as `YYYYMMDD`); defaults to today.
    pub fn date(mut self, date: NaiveDate) -> Self {
        self.date = date;
        self
    }

    /// The participant's original ID: every DICOM file's PatientID or PatientName must match it
    /// (step 5), and file or folder names holding it get the study ID instead. Required by
    /// [`anonymize_dir`](Self::anonymize_dir); not used by `anonymize_file`.
    pub fn original_id(mut self, id: &str) -> Self {
        self.original_id = Some(id.trim().to_string());
        self
    }

    /// The participant's study ID, put in place of the original ID in output file and folder
    /// names. Required by [`anonymize_dir`](Self::anonymize_dir).
    pub fn study_id(mut self, id: &str) -> Self {
        self.study_id = Some(id.trim().to_string());
        self
    }

    /// Calls `f` with a file's path relative to the raw folder (`/`-separated) and the path of
    /// its anonymized copy once that copy is in place, on the thread that wrote it, during
    /// [`anonymize_dir`](Self::anonymize_dir) (`sync` checks each file then, while it is still
    /// in the processor's cache). Files not written are not passed.
    pub fn after_write(mut self, f: &'p (dyn Fn(&str, &Path) + Sync)) -> Self {
        self.after_write = Some(AfterWrite(f));
        self
    }

    /// Keeps the original UIDs the participant's files held (those a keyed UID replaced) in
    /// [`ParticipantRun::original_uids`], for a mapping file. Off by default: they re-identify.
    pub fn map_uids(mut self, on: bool) -> Self {
        self.map_uids = on;
        self
    }

    /// How many files to process at once; 0 (the default) means one per core.
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs;
        self
    }

    /// Merges `run`'s mapping into `uid_mapping.csv` and `patid_mapping.csv` in `dir` (see
    /// [`mapping`]): the original ID -> study ID, and under a standard profile each original
    /// UID in `run` (asked for with [`map_uids`](Self::map_uids)) -> its keyed UID.
    pub fn write_mapping(&self, run: &ParticipantRun, dir: &Path) -> std::io::Result<()> {
        let uids: Option<Vec<(String, String)>> = match (&self.profile.standard, &self.key) {
            (Some(_), Some(key)) => Some(
                run.original_uids
                    .iter()
                    .map(|u| (u.clone(), key.uid(u)))
                    .collect(),
            ),
            _ => None,
        };
        mapping::write(
            dir,
            (
                self.original_id.as_deref().unwrap_or_default(),
                self.study_id.as_deref().unwrap_or_default(),
            ),
            uids.as_deref(),
        )
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        self.profile
    }

    /// The date `run_date` rules write.
    pub fn run_date(&self) -> NaiveDate {
        self.date
    }

    /// Anonymizes one file into `dst` (its folder is created if missing), via a temp file and a
    /// rename. No ID check and no renaming here: that is [`anonymize_dir`](Self::anonymize_dir).
    ///
    /// Errors are about this file only (not DICOM, truncated, unreadable, cannot write).
    pub fn anonymize_file(&self, src: &Path, dst: &Path) -> Result<FileOutcome, FileError> {
        if same_file(src, dst) {
            return Err(FileError::Write(
                "the output would replace the input".into(),
            ));
        }
        if let Some(parent) = dst.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| FileError::Write(e.to_string()))?;
        }
        let job = self.job().map_err(|e| FileError::Write(e.to_string()))?;
        file::anonymize(src, dst, &job, &mut file::Scratch::default())
    }
}

/// True when both paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// What anonymizing one file did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileOutcome {
    /// The profile's tags found at the top level and changed (or removed), in file order.
    pub changed: Vec<TagRef>,
    /// The file was deflated: its data set was inflated, patched and compressed again.
    pub reencoded: bool,
    /// For each changed private tag, the creator of its block (empty if the file has none).
    pub private_creators: Vec<(TagRef, String)>,
    /// `(tag, VR)` of changed elements whose new text is not valid for their VR.
    pub vr_warnings: Vec<(TagRef, String)>,
    /// The original UIDs replaced by keyed ones: they re-identify, so never serialized.
    #[serde(skip)]
    pub uids: Vec<String>,
}

/// Why one file was not anonymized. Messages carry no values from the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("not DICOM (no `DICM` marker at byte 128)")]
    NotDicom,
    #[error("is a DICOMDIR (an index of the files, holding names): not copied")]
    Dicomdir,
    #[error("{0}")]
    Locate(locate::LocateError),
    #[error("{0}")]
    Patch(patch::PatchError),
    #[error("{0}")]
    Standard(standard::StandardError),
    #[error("unreadable deflated file: {0}")]
    Deflated(String),
    #[error("cannot read: {0}")]
    Read(String),
    #[error("cannot write: {0}")]
    Write(String),
}
