//! The work queue: from the workbook's rows and the config, which rows need what, and why the
//! others are skipped. A pure function: no I/O.

use serde::Serialize;
use std::path::PathBuf;

/// What anontrack will do for one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Anonymization is `pending`: ID check, anonymize raw -> anon, verify.
    Anonymize,
    /// The check is `pending` and anonymization is `done`: verify anon against raw.
    Verify,
}

/// One planned unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkItem {
    /// 1-based sheet row.
    pub row: u32,
    pub id: String,
    pub original_id: Option<String>,
    pub action: Action,
    /// Initials in the cell being worked on (kept when it turns green or gets a note).
    pub initials: Option<String>,
    pub raw_dir: PathBuf,
    pub anon_dir: PathBuf,
}

/// A row that needs nothing now, or that cannot be worked on, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    pub row: u32,
    pub id: String,
    pub reason: String,
    /// True when the reason is a problem to record in the sheet (e.g. an unsafe folder name),
    /// false when there is simply nothing to do.
    pub problem: bool,
}

/// The plan for one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub items: Vec<WorkItem>,
    pub skipped: Vec<Skip>,
}
