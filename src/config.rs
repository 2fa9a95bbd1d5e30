//! `anontrack.toml`: where each participant's raw and anonymized folders are, which profile to
//! apply, and how the workbook's columns are named. Read from beside the workbook (or `--config`).

use serde::{Deserialize, Serialize};

/// The header texts the tool looks for (compared after trimming, collapsing spaces, ignoring case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnNames {
    pub anonymized: String,
    pub check: String,
    pub id: String,
    pub original_id: String,
    pub scan_date: String,
    pub study: String,
    pub scan_notes: String,
}

impl Default for ColumnNames {
    fn default() -> Self {
        Self {
            anonymized: "DICOMS Anonymized".into(),
            check: "DICOM anonymization check".into(),
            id: "ID".into(),
            original_id: "Original ID".into(),
            scan_date: "Scan Date".into(),
            study: "Study".into(),
            scan_notes: "Scan Notes".into(),
        }
    }
}

/// The whole `anontrack.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Raw folder template, relative to the workbook's folder.
    pub raw_dir: String,
    /// Anonymized folder template, relative to the workbook's folder.
    pub anon_dir: String,
    /// Profile name (`lab`) or path to a profile TOML.
    pub profile: String,
    pub columns: ColumnNames,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            raw_dir: "sourcedata/{original_id}".into(),
            anon_dir: "AnonDcm/{id}".into(),
            profile: "lab".into(),
            columns: ColumnNames::default(),
        }
    }
}
