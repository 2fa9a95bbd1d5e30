//! What anonymizing one participant did, as plain data: the report's raw material.

use crate::finding::Finding;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What anonymizing one participant did: the report's raw material.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ParticipantRun {
    pub raw: PathBuf,
    pub anon: PathBuf,
    /// The profile's name.
    pub profile: String,
    /// The date `run_date` rules wrote, `YYYYMMDD`.
    pub date: String,
    /// DICOM files found (written or not).
    pub dicom_files: usize,
    /// Files written, raw and anon relative paths (`/`-separated).
    pub written: Vec<WrittenFile>,
    /// Files not copied: no `DICM` marker (notes, `.DS_Store`), or a DICOMDIR.
    pub not_dicom: Vec<String>,
    /// Deflated files, written by decoding and re-encoding (raw relative paths).
    pub reencoded: Vec<String>,
    /// Creators of the private blocks holding the profile's private tags.
    pub private_creators: Vec<PrivateCreator>,
    /// Elements the profile gave text their VR does not allow (`Anonymous` in a DA).
    pub vr_warnings: Vec<VrWarning>,
    /// Problems: unreadable files, the ID check. Empty means the participant is done.
    pub findings: Vec<Finding>,
    /// The ID check's failure, when it failed: counts by field and the first failing files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_check: Option<super::idcheck::IdMismatch>,
    /// The original UIDs replaced by keyed ones, sorted, when asked for
    /// ([`super::Anonymizer::map_uids`]). They re-identify: never serialized.
    #[serde(skip)]
    pub original_uids: Vec<String>,
}

impl ParticipantRun {
    /// True when every DICOM file was written and nothing went wrong.
    pub fn is_done(&self) -> bool {
        self.findings.is_empty()
    }
}

/// A file written: where it came from and where it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenFile {
    pub raw: String,
    pub anon: String,
}

/// A private tag of the profile and the creator of the block it was found in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrivateCreator {
    /// `(0029,1009)`.
    pub tag: String,
    /// `SIEMENS CSA HEADER`; empty when the block has no creator element.
    pub creator: String,
    pub files: usize,
}

/// An element given a value its VR does not allow, counted over the participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrWarning {
    /// `(0008,0020)`.
    pub tag: String,
    pub keyword: String,
    pub vr: String,
    /// The text the profile wrote (`Anonymous`).
    pub value: String,
    pub files: usize,
}
