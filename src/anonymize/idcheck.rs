//! Step 5 of the lab's procedure: is this the right person? Compares a file's PatientID and
//! PatientName with the participant's original ID, and turns a participant's mismatches into an
//! [`IdMismatch`]: one short finding for the sheet, the counts by field, and the first few
//! failing files by name (relative to the raw folder), never the values found (no PHI).

use crate::finding::Finding;
use serde::{Deserialize, Serialize};

/// How one field compares with the original ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Matches,
    Differs,
    Absent,
}

/// How one file's identity fields compare with the original ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdCheck {
    pub patient_id: Field,
    pub patient_name: Field,
}

impl IdCheck {
    /// Compares raw PatientID and PatientName values (either may be absent) with `original`.
    pub fn new(patient_id: Option<&[u8]>, patient_name: Option<&[u8]>, original: &str) -> Self {
        let original = original.trim();
        Self {
            patient_id: field(patient_id, |v| trim(v) == original.as_bytes()),
            patient_name: field(patient_name, |v| name_matches(v, original)),
        }
    }

    /// The file passes when either field matches.
    pub fn passes(&self) -> bool {
        self.patient_id == Field::Matches || self.patient_name == Field::Matches
    }
}

fn field(value: Option<&[u8]>, matches: impl Fn(&[u8]) -> bool) -> Field {
    match value {
        None => Field::Absent,
        Some(v) if trim(v).is_empty() => Field::Absent,
        Some(v) if matches(v) => Field::Matches,
        Some(_) => Field::Differs,
    }
}

/// Trims spaces and NUL padding (numbers are compared as text: `0101` is not `101`).
fn trim(v: &[u8]) -> &[u8] {
    let is_pad = |b: &u8| *b == b' ' || *b == 0;
    let start = v.iter().position(|b| !is_pad(b)).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !is_pad(b)).map_or(start, |i| i + 1);
    &v[start..end]
}

/// A PatientName matches when its alphabetic group, with each `^` component trimmed and empty
/// trailing components dropped, equals the ID (`101^`, ` 101 ^ ^` and `101` all match `101`).
fn name_matches(v: &[u8], original: &str) -> bool {
    let alphabetic = v.split(|b| *b == b'=').next().unwrap_or(v);
    let mut parts: Vec<&[u8]> = alphabetic.split(|b| *b == b'^').map(trim).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts.join(&b'^') == original.as_bytes()
}

/// How many failing files a mismatch names (the first ones in listing order).
pub const FIRST_FAILING: usize = 3;

/// A participant whose files do not all pass the ID check: how many fail and why, by field,
/// and the first few failing files by name. Never the values found (no PHI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMismatch {
    /// DICOM files checked.
    pub files: usize,
    /// Files where neither PatientID nor PatientName matches the original ID.
    pub failing: usize,
    /// Among the failing files, how PatientID compared.
    pub patient_id: FieldCounts,
    /// Among the failing files, how PatientName compared.
    pub patient_name: FieldCounts,
    /// The first failing files (at most [`FIRST_FAILING`], in listing order), relative to the
    /// participant's raw folder.
    pub first_failing: Vec<FailingFile>,
}

/// Among the failing files, in how many a field differed and in how many it was absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldCounts {
    pub differs: usize,
    pub absent: usize,
}

/// One failing file: its path relative to the raw folder and how each field compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingFile {
    pub file: String,
    #[serde(flatten)]
    pub check: IdCheck,
}

impl IdMismatch {
    /// The mismatch of a participant with `files` DICOM files, of which `failing` (relative path
    /// and check, in listing order) fail; `None` if none does.
    pub fn new(files: usize, failing: &[(&str, IdCheck)]) -> Option<Self> {
        if failing.is_empty() {
            return None;
        }
        let count = |field: fn(&IdCheck) -> Field| FieldCounts {
            differs: failing
                .iter()
                .filter(|(_, c)| field(c) == Field::Differs)
                .count(),
            absent: failing
                .iter()
                .filter(|(_, c)| field(c) == Field::Absent)
                .count(),
        };
        Some(Self {
            files,
            failing: failing.len(),
            patient_id: count(|c| c.patient_id),
            patient_name: count(|c| c.patient_name),
            first_failing: failing
                .iter()
                .take(FIRST_FAILING)
                .map(|(file, check)| FailingFile {
                    file: (*file).to_string(),
                    check: *check,
                })
                .collect(),
        })
    }

    /// The participant's one finding, short enough for the sheet's note and naming what to
    /// check: `ID check failed in 1 of 8 files: check the folder and Original ID`. No file
    /// names (they may hold more than a cell should); those are in [`Self::first_failing`].
    pub fn finding(&self) -> Finding {
        Finding::new(format!(
            "ID check failed in {} of {} files: check the folder and Original ID",
            self.failing, self.files
        ))
    }

    /// The counts by field, for the report's reader and `-v`: `neither PatientID nor
    /// PatientName matches the Original ID in 1 of 8 files (PatientID differs in 1, PatientName
    /// differs in 1); nothing was written`.
    pub fn summary(&self) -> String {
        let mut why = Vec::new();
        for (name, c) in [
            ("PatientID", self.patient_id),
            ("PatientName", self.patient_name),
        ] {
            if c.differs > 0 {
                why.push(format!("{name} differs in {}", c.differs));
            }
            if c.absent > 0 {
                why.push(format!("{name} is absent in {}", c.absent));
            }
        }
        format!(
            "neither PatientID nor PatientName matches the Original ID in {} of {} files ({}); nothing was written",
            self.failing,
            self.files,
            why.join(", ")
        )
    }
}

impl FailingFile {
    /// Why this file fails, by field: `PatientID does not match the Original ID, PatientName
    /// is absent`.
    pub fn reason(&self) -> String {
        let IdCheck {
            patient_id,
            patient_name,
        } = self.check;
        if patient_id == Field::Differs && patient_name == Field::Differs {
            return "PatientID and PatientName do not match the Original ID".into();
        }
        let says = |name: &str, f: Field| match f {
            Field::Differs => format!("{name} does not match the Original ID"),
            Field::Absent => format!("{name} is absent"),
            Field::Matches => format!("{name} matches"),
        };
        format!(
            "{}, {}",
            says("PatientID", patient_id),
            says("PatientName", patient_name)
        )
    }
}

/// `rel` (a failing file's path) with the file's own identity values masked: its PatientID
/// (2 characters or more) becomes `[PatientID]` and each PatientName component (3 or more)
/// `[PatientName]`, ignoring ASCII case. Exporters name files after the patient, and a file that
/// fails the check is someone else's: its name must not carry their ID into a report.
pub fn redact(rel: &str, patient_id: Option<&[u8]>, patient_name: Option<&[u8]>) -> String {
    let text = |v: &[u8]| String::from_utf8_lossy(trim(v)).into_owned();
    let mut words: Vec<(String, &str)> = Vec::new();
    if let Some(id) = patient_id.map(text).filter(|t| t.chars().count() >= 2) {
        words.push((id, "[PatientID]"));
    }
    if let Some(name) = patient_name {
        for part in name.split(|b| matches!(b, b'^' | b'=' | b' ')) {
            let part = text(part);
            if part.chars().count() >= 3 {
                words.push((part, "[PatientName]"));
            }
        }
    }
    // Longest first, so a name containing the ID is masked whole.
    words.sort_by_key(|(w, _)| std::cmp::Reverse(w.len()));
    let mut out = rel.to_string();
    for (word, mask) in words {
        out = replace_ignoring_case(&out, &word, mask);
    }
    out
}

/// `text` with every ASCII-case-insensitive occurrence of `word` replaced by `with`.
fn replace_ignoring_case(text: &str, word: &str, with: &str) -> String {
    let (lower, word) = (text.to_ascii_lowercase(), word.to_ascii_lowercase());
    if word.is_empty() || !lower.contains(&word) {
        return text.to_string();
    }
    // ASCII lowercasing keeps byte offsets, so positions in `lower` are positions in `text`.
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (i, _) in lower.match_indices(&word) {
        if i < at {
            continue;
        }
        out.push_str(&text[at..i]);
        out.push_str(with);
        at = i + word.len();
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(id: Option<&str>, name: Option<&str>) -> IdCheck {
        IdCheck::new(id.map(str::as_bytes), name.map(str::as_bytes), "101")
    }

    #[test]
    fn ids_match_as_trimmed_text() {
        assert!(check(Some("101 "), None).passes());
        assert!(check(Some("101\0"), None).passes());
        assert!(!check(Some("0101"), None).passes());
        assert!(!check(Some("101.0"), None).passes());
        assert!(check(Some("x"), Some(" 101 ^ ^")).passes());
        assert!(check(None, Some("101^")).passes());
        assert!(check(None, Some("101=")).passes());
        assert!(!check(None, Some("101^A")).passes());
        assert!(!check(None, None).passes());
        assert!(!check(Some("  "), Some("")).passes());
    }

    #[test]
    fn a_mismatch_counts_fields_and_names_the_first_files_without_values() {
        assert_eq!(IdMismatch::new(1, &[]), None);
        let failing = [
            ("a/1.dcm", check(Some("Smith"), Some("Smith^John"))),
            ("a/2.dcm", check(None, Some("Doe^Jane"))),
            ("b/3.dcm", check(Some("102"), None)),
            ("b/4.dcm", check(Some("103"), Some("x"))),
        ];
        let m = IdMismatch::new(9, &failing).unwrap();
        assert_eq!((m.files, m.failing), (9, 4));
        let files: Vec<&str> = m.first_failing.iter().map(|f| f.file.as_str()).collect();
        assert_eq!(files, ["a/1.dcm", "a/2.dcm", "b/3.dcm"]);
        assert_eq!(
            m.finding().to_string(),
            "ID check failed in 4 of 9 files: check the folder and Original ID"
        );
        let summary = m.summary();
        assert!(summary.contains("in 4 of 9 files"), "{summary}");
        assert!(summary.contains("PatientID differs in 3"), "{summary}");
        assert!(summary.contains("PatientID is absent in 1"), "{summary}");
        assert!(summary.contains("PatientName differs in 3"), "{summary}");
        assert!(summary.contains("PatientName is absent in 1"), "{summary}");
        let reasons: Vec<String> = m.first_failing.iter().map(FailingFile::reason).collect();
        assert_eq!(
            reasons,
            [
                "PatientID and PatientName do not match the Original ID",
                "PatientID is absent, PatientName does not match the Original ID",
                "PatientID does not match the Original ID, PatientName is absent",
            ]
        );
        let all = format!(
            "{summary} {reasons:?} {}",
            serde_json::to_string(&m).unwrap()
        );
        for value in ["Smith", "Doe", "102", "103"] {
            assert!(!all.contains(value), "{value}: {all}");
        }
        assert_eq!(
            redact(
                "SMITH_J/102/smith^john_102.dcm",
                Some(b"102 "),
                Some(b"Smith^John")
            ),
            "[PatientName]_J/[PatientID]/[PatientName]^[PatientName]_[PatientID].dcm"
        );
        assert_eq!(
            redact("a/IM-0001.dcm", Some(b"7"), Some(b"Li")),
            "a/IM-0001.dcm"
        );
        assert_eq!(redact("a/IM-0001.dcm", None, None), "a/IM-0001.dcm");
        // Saved and read back (a cluster task's result).
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<IdMismatch>(&json).unwrap(), m);
    }
}
