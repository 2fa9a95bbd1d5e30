//! `anontrack.toml`: where each participant's raw and anonymized folders are, which profile to
//! apply, and how the workbook's columns are named (the names themselves,
//! [`ColumnNames`], belong to the sheet layout and are re-exported here). Read from beside the workbook (or `--config`).
//!
//! This module also owns the folder templates (`sourcedata/{original_id}`): turning one sheet row
//! into two folders, and refusing sheet values that would steer a read or write outside the
//! study (a `/`, a `\`, `..`, or an empty value where one is needed). Such a refusal is a
//! [`FolderProblem`] for that row, never an error for the whole run.

use crate::error::{Error, Result};
use crate::sheet::Row;
pub use crate::sheet::layout::ColumnNames;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// The file name looked for beside the workbook.
pub const FILE_NAME: &str = "anontrack.toml";

/// The commented `anontrack.toml` that `anontrack init` writes (all keys at their defaults).
pub const TEMPLATE: &str = include_str!("../templates/anontrack.toml");

/// The placeholders a folder template may use.
pub const PLACEHOLDERS: [&str; 4] = ["id", "original_id", "study", "scan_date"];

/// The whole `anontrack.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Raw folder template, relative to the workbook's folder.
    pub raw_dir: String,
    /// Anonymized folder template, relative to the workbook's folder.
    pub anon_dir: String,
    /// Profile name (`lab`, `basic`, `neuro`) or path to a profile TOML.
    pub profile: String,
    /// Options of the standard profiles (`retain-uids`, ...), added to `basic` or `neuro`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// The study key for `basic` and `neuro`, relative to the workbook's folder
    /// (default `.anontrack/study.key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    pub columns: ColumnNames,
    /// `[notify]`: a Slack/Mattermost notice after a sync (off when absent).
    pub notify: Option<crate::notify::NotifyConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            raw_dir: "sourcedata/{original_id}".into(),
            anon_dir: "AnonDcm/{id}".into(),
            profile: "lab".into(),
            options: Vec::new(),
            key_file: None,
            columns: ColumnNames::default(),
            notify: None,
        }
    }
}

impl Config {
    /// Loads the config for `workbook`: `explicit` if given (it must exist), else
    /// `anontrack.toml` beside the workbook, else the defaults.
    ///
    /// Returns the config and the file it came from (`None` for the defaults). Unknown keys,
    /// unknown placeholders and empty templates are errors naming the file.
    pub fn load(workbook: &Path, explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>)> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let beside = crate::study::folder_of(workbook).join(FILE_NAME);
                if !beside.is_file() {
                    return Ok((Config::default(), None));
                }
                beside
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Config {
            path: path.clone(),
            reason: format!("cannot read it: {e}"),
        })?;
        let config = Config::parse(&text).map_err(|reason| Error::Config {
            path: path.clone(),
            reason,
        })?;
        Ok((config, Some(path)))
    }

    /// Parses and checks the text of an `anontrack.toml`; the error is a one-line reason.
    pub fn parse(text: &str) -> std::result::Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let msg = e.message().trim().to_string();
            match e.span() {
                Some(span) => format!("line {}: {msg}", line_of(text, span.start)),
                None => msg,
            }
        })?;
        for (key, template) in [("raw_dir", &config.raw_dir), ("anon_dir", &config.anon_dir)] {
            check_template(template).map_err(|why| format!("`{key}`: {why}"))?;
        }
        Ok(config)
    }

    /// The raw folder of `row`, resolved against `base_dir` (the workbook's folder).
    pub fn raw_dir_for(&self, row: &Row, base_dir: &Path) -> Result<PathBuf, FolderProblem> {
        resolve_template(&self.raw_dir, row, base_dir)
    }

    /// The anonymized folder of `row`, resolved against `base_dir` (the workbook's folder).
    pub fn anon_dir_for(&self, row: &Row, base_dir: &Path) -> Result<PathBuf, FolderProblem> {
        resolve_template(&self.anon_dir, row, base_dir)
    }

    /// The raw and anonymized folders of `row`, or why they cannot be used (the message for
    /// the row's note): a value that cannot be resolved safely, or folders that overlap.
    ///
    /// The one place a row's folders are resolved: `sync`'s plan and `verify SHEET` both ask
    /// here. The overlap check is by name (nothing need exist yet); the engines check again on
    /// disk.
    pub fn folders_for(&self, row: &Row, base_dir: &Path) -> Result<(PathBuf, PathBuf), String> {
        let raw = self
            .raw_dir_for(row, base_dir)
            .map_err(|p| format!("raw folder: {p}"))?;
        let anon = self
            .anon_dir_for(row, base_dir)
            .map_err(|p| format!("anonymized folder: {p}"))?;
        // Raw folders are read-only: the anonymized folder must never be or lie inside one.
        if anon.starts_with(&raw) || raw.starts_with(&anon) {
            return Err("the raw and anonymized folders overlap (hint: check `raw_dir` and `anon_dir` in anontrack.toml)".into());
        }
        Ok((raw, anon))
    }
}

/// The 1-based line of byte `offset` in `text`: one more than the line breaks before it (an
/// offset at the start of a line is on that line, not the one before).
fn line_of(text: &str, offset: usize) -> usize {
    let before = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
    before.iter().filter(|b| **b == b'\n').count() + 1
}

/// Checks that a folder template is not empty, has balanced braces and only known placeholders.
fn check_template(template: &str) -> std::result::Result<(), String> {
    if template.trim().is_empty() {
        return Err("the folder template is empty".into());
    }
    for piece in split_template(template)? {
        if let Piece::Placeholder(name) = piece
            && !PLACEHOLDERS.contains(&name)
        {
            return Err(format!(
                "unknown placeholder `{{{name}}}` (hint: use {})",
                PLACEHOLDERS.map(|p| format!("`{{{p}}}`")).join(", ")
            ));
        }
    }
    Ok(())
}

/// A piece of a folder template.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Literal(&'a str),
    Placeholder(&'a str),
}

/// Splits `a/{id}/b` into literals and placeholders.
fn split_template(template: &str) -> std::result::Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("a `}` without its `{`".into());
        }
        if open > 0 {
            pieces.push(Piece::Literal(&rest[..open]));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "a `{` without its `}`".to_string())?;
        pieces.push(Piece::Placeholder(after[..close].trim()));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest));
    }
    Ok(pieces)
}

/// Why a row's folder could not be resolved; recorded as a problem for that row.
///
/// The message names the column, never the value (sheet values can be scanner IDs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderProblem {
    /// The template needs a value that the row does not have.
    Missing { placeholder: String },
    /// The value holds a path separator or `..` (or is `.`), so it could leave the study folder.
    Unsafe { placeholder: String },
    /// The value holds a control character or is too long for a file name.
    Unusable {
        placeholder: String,
        why: &'static str,
    },
    /// The template itself is malformed (only reachable with a config that skipped `parse`).
    Template { reason: String },
}

impl fmt::Display for FolderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { placeholder } => write!(
                f,
                "{} is empty but the folder template needs `{{{placeholder}}}`",
                column_label(placeholder)
            ),
            Self::Unsafe { placeholder } => write!(
                f,
                "{} holds a path separator or `..`; refused as a folder name",
                column_label(placeholder)
            ),
            Self::Unusable { placeholder, why } => write!(
                f,
                "{} holds {why}; refused as a folder name",
                column_label(placeholder)
            ),
            Self::Template { reason } => write!(f, "bad folder template: {reason}"),
        }
    }
}

/// The lab's column name for a placeholder, for messages.
fn column_label(placeholder: &str) -> &'static str {
    match placeholder {
        "id" => "`ID`",
        "original_id" => "`Original ID`",
        "study" => "`Study`",
        "scan_date" => "`Scan Date`",
        _ => "a placeholder value",
    }
}

/// Resolves a folder template for one row, relative to `base_dir` (absolute templates stay so).
///
/// `{scan_date}` becomes `YYYYMMDD`. A value that is empty when needed, or that holds `/`, `\`,
/// `..`, or is `.`, is refused: sheet values must never steer reads or writes outside the study.
pub fn resolve_template(
    template: &str,
    row: &Row,
    base_dir: &Path,
) -> Result<PathBuf, FolderProblem> {
    let pieces = split_template(template).map_err(|reason| FolderProblem::Template { reason })?;
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Literal(s) => out.push_str(s),
            Piece::Placeholder(name) => {
                let value = match name {
                    "id" => Some(row.id.clone()),
                    "original_id" => row.original_id.clone(),
                    "study" => row.study.clone(),
                    "scan_date" => row.scan_date.map(|d| d.format("%Y%m%d").to_string()),
                    other => {
                        return Err(FolderProblem::Template {
                            reason: format!("unknown placeholder `{{{other}}}`"),
                        });
                    }
                };
                let value = value.map(|v| v.trim().to_string()).unwrap_or_default();
                if value.is_empty() {
                    return Err(FolderProblem::Missing {
                        placeholder: name.to_string(),
                    });
                }
                if !is_safe_component(&value) {
                    return Err(FolderProblem::Unsafe {
                        placeholder: name.to_string(),
                    });
                }
                // Terminal escapes and names the file system cannot hold: this row's
                // problem, not the run's.
                if let Some(why) = unusable(&value) {
                    return Err(FolderProblem::Unusable {
                        placeholder: name.to_string(),
                        why,
                    });
                }
                out.push_str(&value);
            }
        }
    }
    Ok(base_dir.join(out))
}

/// True when `value` can only ever name one folder inside its parent.
fn is_safe_component(value: &str) -> bool {
    !(value.contains(['/', '\\', '\0']) || value.contains("..") || value == ".")
}

/// What makes a sheet value unusable in a folder name even when it is one component.
fn unusable(value: &str) -> Option<&'static str> {
    if value.chars().any(crate::sheet::state::is_unsafe_char) {
        Some("a control character or direction mark")
    } else if value.len() > MAX_NAME_BYTES {
        Some("more than 255 bytes")
    } else {
        None
    }
}

/// The longest file name most file systems take (ext4, APFS, NTFS: 255).
const MAX_NAME_BYTES: usize = 255;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::{State, WorkCell};

    fn row(id: &str, original: Option<&str>) -> Row {
        let empty = WorkCell {
            state: State::NotStarted,
            initials: None,
            note: None,
        };
        Row {
            row: 3,
            id: id.into(),
            original_id: original.map(Into::into),
            study: Some("STUDYNAME pilot".into()),
            scan_date: chrono::NaiveDate::from_ymd_opt(2021, 11, 1),
            excluded: false,
            flagged: false,
            anonymization: empty.clone(),
            check: empty,
            stages: vec![],
        }
    }

    fn resolve(t: &str, r: &Row) -> Result<PathBuf, FolderProblem> {
        resolve_template(t, r, Path::new("/study"))
    }

    #[test]
    fn defaults_resolve_under_the_workbook_folder() {
        let c = Config::default();
        let r = row("101", Some("60784"));
        let base = Path::new("/study");
        assert_eq!(
            c.raw_dir_for(&r, base),
            Ok(PathBuf::from("/study/sourcedata/60784"))
        );
        assert_eq!(
            c.anon_dir_for(&r, base),
            Ok(PathBuf::from("/study/AnonDcm/101"))
        );
    }

    #[test]
    fn every_placeholder_resolves() {
        let r = row("101", Some("60784"));
        let p = resolve("{study}/{scan_date}_{original_id}/{ id }", &r).unwrap();
        assert_eq!(
            p,
            PathBuf::from("/study/STUDYNAME pilot/20211101_60784/101")
        );
    }

    #[test]
    fn unsafe_and_missing_values_are_refused() {
        let unsafe_ = |p: &str| {
            Err(FolderProblem::Unsafe {
                placeholder: p.into(),
            })
        };
        assert_eq!(resolve("AnonDcm/{id}", &row("../etc", None)), unsafe_("id"));
        assert_eq!(resolve("AnonDcm/{id}", &row("a/b", None)), unsafe_("id"));
        assert_eq!(resolve("AnonDcm/{id}", &row("a\\b", None)), unsafe_("id"));
        assert_eq!(resolve("AnonDcm/{id}", &row(".", None)), unsafe_("id"));
        assert_eq!(
            resolve("raw/{original_id}", &row("1", Some(".."))),
            unsafe_("original_id")
        );
        assert_eq!(
            resolve("raw/{original_id}", &row("1", None)),
            Err(FolderProblem::Missing {
                placeholder: "original_id".into()
            })
        );
        assert!(
            resolve("raw/{original_id}", &row("1", None))
                .unwrap_err()
                .to_string()
                .contains("`Original ID` is empty")
        );
    }

    #[test]
    fn the_shipped_template_parses_to_the_defaults() {
        assert_eq!(Config::parse(TEMPLATE), Ok(Config::default()));
    }

    #[test]
    fn config_errors_are_clear() {
        let e = Config::parse("raw_dirs = \"x\"\n").unwrap_err();
        assert!(e.contains("unknown field `raw_dirs`"), "{e}");
        assert!(e.starts_with("line 1:"), "{e}");
        let e = Config::parse("[columns]\nidd = \"x\"\n").unwrap_err();
        assert!(e.contains("unknown field `idd`"), "{e}");
        let e = Config::parse("anon_dir = \"AnonDcm/{subject}\"\n").unwrap_err();
        assert!(e.contains("unknown placeholder `{subject}`"), "{e}");
        let e = Config::parse("anon_dir = \"AnonDcm/{id\"\n").unwrap_err();
        assert!(e.contains("without its `}`"), "{e}");
        let e = Config::parse("anon_dir = \"\"\n").unwrap_err();
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn a_config_error_names_its_own_line() {
        // Comments and blank lines before; the bad key starts its line (line 7), then a bad
        // value in the middle of a line (line 3 of a second text), then CRLF line ends.
        let text = "# settings\n\n# folders\nraw_dir = \"sourcedata/{original_id}\"\n\n[columns]\nidd = \"x\"\n";
        let e = Config::parse(text).unwrap_err();
        assert!(e.starts_with("line 7: unknown field `idd`"), "{e}");
        let e = Config::parse("# a\n\nprofile = 5\n").unwrap_err();
        assert!(e.starts_with("line 3: "), "{e}");
        let e = Config::parse("# a\r\n\r\n[columns]\r\nidd = \"x\"\r\n").unwrap_err();
        assert!(e.starts_with("line 4: "), "{e}");
        assert_eq!(
            (line_of("a\nb", 2), line_of("a\nb", 1), line_of("", 9)),
            (2, 1, 1)
        );
    }

    #[test]
    fn partial_config_keeps_other_defaults() {
        let c = Config::parse("[columns]\nid = \"Subject\"\n").unwrap();
        assert_eq!(c.columns.id, "Subject");
        assert_eq!(c.columns.anonymized, "DICOMS Anonymized");
        assert_eq!(c.raw_dir, "sourcedata/{original_id}");
    }
}
