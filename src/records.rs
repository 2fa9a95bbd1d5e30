//! Records on disk, beside the workbook under `.anontrack/` (see [`crate::study::Study`] for the
//! layout): one JSON report per participant and stage (`reports/<id>-<action>.json`, the full
//! list of findings) and the append-only audit log (`audit.jsonl`, one line per row acted on).
//! Neither ever holds PHI: findings carry tags, file names and reasons, never header values; IDs
//! are the sheet's own study IDs. Also the one atomic file write everything else uses.

use crate::error::{Error, Result};
use crate::finding::Finding;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The full account of one row's work, written as pretty JSON.
#[derive(Debug, Serialize)]
pub struct ParticipantReport<'a> {
    pub tool_version: &'a str,
    pub time: String,
    pub row: u32,
    pub id: &'a str,
    /// `anonymize` or `verify`.
    pub action: &'a str,
    pub profile: &'a str,
    /// The AcquisitionDate written (anonymize) or expected (verify), `YYYYMMDD`.
    pub date: Option<String>,
    /// `passed` or `problem`.
    pub outcome: &'a str,
    pub findings: &'a [Finding],
    /// The anonymizer's account (files written, skipped, private creators), when it ran.
    pub anonymize: Option<&'a crate::anonymize::ParticipantRun>,
    /// The verifier's account, when it ran.
    pub verify: Option<&'a crate::verify::VerifyReport>,
}

/// Writes `report` to `<dir>/<id>-<action>.json` (atomically; `dir` is
/// [`Study::reports_dir`](crate::study::Study::reports_dir)) and returns its path.
pub fn write_report(dir: &Path, report: &ParticipantReport<'_>) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    let name = format!("{}-{}.json", safe_file_name(report.id), report.action);
    let path = dir.join(name);
    // The leftovers in one line beside the findings (the full count is in `verify`).
    #[derive(Serialize)]
    struct WithLeftovers<'r, 'a> {
        #[serde(flatten)]
        report: &'r ParticipantReport<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        leftovers: Option<String>,
    }
    let full = WithLeftovers {
        report,
        leftovers: report
            .verify
            .and_then(|v| v.leftovers.as_ref())
            .map(crate::verify::leftovers::Leftovers::line),
    };
    // Streamed into the temp file: a 20,000-file participant's report is never held as text.
    write_atomic_with(&path, |w| {
        serde_json::to_writer_pretty(&mut *w, &full).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })?;
    Ok(path)
}

/// One line of `.anontrack/audit.jsonl`: what was done to one row, when, by which version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLine {
    /// When the row's work ended (local time, RFC 3339).
    pub time: String,
    pub tool_version: String,
    /// The workbook's file name.
    pub workbook: String,
    pub row: u32,
    pub id: String,
    pub initials: Option<String>,
    /// `anonymize` or `verify`.
    pub action: String,
    pub profile: String,
    /// The AcquisitionDate written, `YYYYMMDD` (anonymize only).
    pub date: Option<String>,
    pub files_written: usize,
    pub files_skipped: usize,
    /// `passed` or `problem`.
    pub outcome: String,
    pub note: Option<String>,
}

/// Appends one line to the audit log at `path`
/// ([`Study::audit_log`](crate::study::Study::audit_log)), making its folder if needed.
pub fn append_audit(path: &Path, entry: &AuditLine) -> Result<()> {
    if let Some(state) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(state).map_err(|e| Error::write(state, e))?;
    }
    let path = path.to_path_buf();
    let mut line = serde_json::to_vec(entry).map_err(|e| Error::Patch {
        path: path.clone(),
        reason: format!("cannot encode audit entry: {e}"),
    })?;
    line.push(b'\n');
    // One write of a whole line in append mode, so concurrent or interrupted runs never
    // interleave half lines.
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::write(&path, e))?;
    f.write_all(&line).map_err(|e| Error::write(&path, e))
}

/// The profile that last anonymized each participant, by study ID, from the audit log at
/// `path`: the latest `anonymize` line that passed (what `AnonDcm` holds now). Lines that are not
/// about a row (notices) are skipped; a missing or unreadable log gives an empty map.
pub fn anonymized_profiles(path: &Path) -> std::collections::HashMap<String, String> {
    use std::io::BufRead;
    let mut out = std::collections::HashMap::new();
    let Ok(f) = std::fs::File::open(path) else {
        return out;
    };
    for line in std::io::BufReader::new(f).lines() {
        let Ok(line) = line else { break };
        if let Ok(a) = serde_json::from_str::<AuditLine>(&line)
            && a.action == "anonymize"
            && a.outcome == "passed"
        {
            out.insert(a.id, a.profile);
        }
    }
    out
}

/// Appends any serializable record as one line of `.anontrack/audit.jsonl` (used for lines that
/// are not about one row, such as a notice sent after a sync).
pub fn append_audit_line(state: &Path, entry: &impl Serialize) -> Result<()> {
    std::fs::create_dir_all(state).map_err(|e| Error::write(state, e))?;
    let path = state.join("audit.jsonl");
    let mut line = serde_json::to_vec(entry).map_err(|e| Error::Patch {
        path: path.clone(),
        reason: format!("cannot encode audit entry: {e}"),
    })?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::write(&path, e))?;
    f.write_all(&line).map_err(|e| Error::write(&path, e))
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a crash
/// never leaves a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Like [`write_atomic`], with the content produced by `fill` into a buffered writer.
fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".anontrack-tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::write(dir, e))?;
    let mut w = std::io::BufWriter::new(tmp.as_file());
    fill(&mut w)
        .and_then(|()| w.flush())
        .map_err(|e| Error::write(path, e))?;
    drop(w);
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::write(path, e))?;
    tmp.persist(path).map_err(|e| Error::write(path, e.error))?;
    Ok(())
}

/// A sheet ID made safe as a file name (anything but letters, digits, `-` and `_` becomes `_`).
pub(crate) fn safe_file_name(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "_".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_safe_file_names() {
        assert_eq!(safe_file_name("101"), "101");
        assert_eq!(safe_file_name("../x y"), "___x_y");
        assert_eq!(safe_file_name(""), "_");
    }

    #[test]
    fn reports_and_audit_lines_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let findings = [Finding::new("PatientComments not anonymous").tag(0x10, 0x4000)];
        let report = ParticipantReport {
            tool_version: "0",
            time: "t".into(),
            row: 9,
            id: "114",
            action: "anonymize",
            profile: "lab",
            date: Some("20261124".into()),
            outcome: "problem",
            findings: &findings,
            anonymize: None,
            verify: None,
        };
        let path = write_report(&dir.path().join("reports"), &report).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["findings"][0]["tag"], "(0010,4000)");
        assert!(path.ends_with("reports/114-anonymize.json"));
        for _ in 0..2 {
            let entry = AuditLine {
                time: "t".into(),
                tool_version: "0".into(),
                workbook: "w.xlsx".into(),
                row: 9,
                id: "114".into(),
                initials: Some("KH".into()),
                action: "anonymize".into(),
                profile: "lab".into(),
                date: None,
                files_written: 3,
                files_skipped: 1,
                outcome: "passed".into(),
                note: None,
            };
            append_audit(&dir.path().join("audit.jsonl"), &entry).unwrap();
        }
        let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
        assert_eq!(log.lines().count(), 2);
        let profiles = anonymized_profiles(&dir.path().join("audit.jsonl"));
        assert_eq!(profiles.get("114").map(String::as_str), Some("lab"));
        assert!(anonymized_profiles(&dir.path().join("none.jsonl")).is_empty());
    }
}
