//! Step 5 of the lab's procedure: is this the right person? Compares a file's PatientID and
//! PatientName with the participant's original ID, and turns a participant's mismatches into one
//! finding that counts files and names fields, never the values found (no PHI).

use crate::finding::Finding;
use serde::Serialize;

/// How one field compares with the original ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Matches,
    Differs,
    Absent,
}

/// How one file's identity fields compare with the original ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// The one finding for a participant whose files don't all match, or `None` if they all do.
///
/// Counts the failing files and says which field differed or was absent: no values.
pub fn mismatch_finding(checks: &[IdCheck]) -> Option<Finding> {
    let failing: Vec<&IdCheck> = checks.iter().filter(|c| !c.passes()).collect();
    if failing.is_empty() {
        return None;
    }
    let count = |f: &dyn Fn(&IdCheck) -> bool| failing.iter().filter(|c| f(c)).count();
    let mut why = Vec::new();
    for (name, field) in [
        (
            "PatientID",
            (|c: &IdCheck| c.patient_id) as fn(&IdCheck) -> Field,
        ),
        ("PatientName", |c: &IdCheck| c.patient_name),
    ] {
        let differs = count(&|c| field(c) == Field::Differs);
        let absent = count(&|c| field(c) == Field::Absent);
        if differs > 0 {
            why.push(format!("{name} differs in {differs}"));
        }
        if absent > 0 {
            why.push(format!("{name} is absent in {absent}"));
        }
    }
    Some(
        Finding::new(format!(
            "ID check failed in {} of {} files: check the folder and Original ID (neither PatientID nor PatientName matches: {}); nothing was written",
            failing.len(),
            checks.len(),
            why.join(", ")
        ))
        .tag(0x0010, 0x0020),
    )
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
    fn mismatch_finding_counts_fields_without_values() {
        assert_eq!(mismatch_finding(&[check(Some("101"), None)]), None);
        let f = mismatch_finding(&[
            check(Some("101"), None),
            check(Some("Smith"), Some("Smith^John")),
            check(None, Some("Doe^Jane")),
        ])
        .unwrap()
        .to_string();
        assert!(f.contains("2 of 3"), "{f}");
        assert!(f.contains("PatientID differs in 1"), "{f}");
        assert!(f.contains("PatientID is absent in 1"), "{f}");
        assert!(f.contains("PatientName differs in 2"), "{f}");
        assert!(!f.contains("Smith") && !f.contains("Doe"), "{f}");
    }
}
