//! The one error type of anontrack: every way a command can fail to proceed (exit 2).
//!
//! Problems found *in the data* (a tag left unanonymized, an ID mismatch for one row) are not
//! errors: they are [`crate::finding::Finding`]s, recorded and reported while the run goes on.
//! Messages follow one voice: lowercase, names in backticks, the cause, then a hint where we can
//! guess the fix. They never contain values read from DICOM headers (no PHI).

use std::path::PathBuf;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that stops a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot write `{path}`: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot find `{path}` (hint: check the path{usual})", usual = usual_name(.path))]
    NotFound { path: PathBuf },

    /// A file that does not exist beside one whose name is a typo away (see [`Error::read`]).
    #[error("cannot find `{path}` (hint: did you mean `{near}`?)")]
    NotFoundNear { path: PathBuf, near: PathBuf },

    #[error(
        "`{path}` is a {kind} file, not an Excel workbook (hint: open it in Excel or LibreOffice and save it as .xlsx)"
    )]
    NotXlsx { path: PathBuf, kind: String },

    #[error(
        "`{path}` is password-protected (hint: remove the password in Excel: File > Info > Protect Workbook, then save)"
    )]
    Encrypted { path: PathBuf },

    #[error(
        "cannot read workbook `{path}`: {reason} (hint: open it in Excel to check it is not damaged, then save it again as .xlsx)"
    )]
    Workbook { path: PathBuf, reason: String },

    #[error(
        "cannot find the header row in `{path}`: no cell equal to `{wanted}` in the first {rows} rows of {sheets} (hint: header matching ignores case and spaces; set `columns.anonymized` in anontrack.toml if your column is named differently)"
    )]
    HeaderNotFound {
        path: PathBuf,
        wanted: String,
        rows: u32,
        sheets: String,
    },

    /// [`Error::HeaderNotFound`] when one cell of the searched rows is a typo away from the
    /// header (`DICOMS Anonymised`).
    #[error(
        "cannot find the header row in `{path}`: no cell equal to `{wanted}` (hint: did you mean `{near}` in sheet `{sheet}`? rename that cell to `{wanted}`, or set `columns.anonymized` in anontrack.toml to its text)"
    )]
    HeaderNotFoundNear {
        path: PathBuf,
        wanted: String,
        near: String,
        sheet: String,
    },

    #[error(
        "cannot find column `{wanted}` in row {row} of sheet `{sheet}` in `{path}` (hint: header matching ignores case and spaces; set `columns.{key}` in anontrack.toml)"
    )]
    ColumnNotFound {
        path: PathBuf,
        sheet: String,
        row: u32,
        wanted: String,
        key: String,
    },

    /// [`Error::ColumnNotFound`] when one header of the row is a typo away from the name.
    #[error(
        "cannot find column `{wanted}` in row {row} of sheet `{sheet}` in `{path}` (hint: did you mean `{near}`? rename that header to `{wanted}`, or set `columns.{key}` in anontrack.toml to its text)"
    )]
    ColumnNotFoundNear {
        path: PathBuf,
        sheet: String,
        row: u32,
        wanted: String,
        key: &'static str,
        near: String,
    },

    #[error(
        "ID `{id}` appears twice in sheet `{sheet}` of `{path}`, in rows {first} and {second} (hint: each participant needs one row; fix one of the IDs)"
    )]
    DuplicateId {
        path: PathBuf,
        sheet: String,
        id: String,
        first: u32,
        second: u32,
    },

    #[error(
        "`{path}` has no sheets with data (hint: run `anontrack init` to make a new tracking workbook)"
    )]
    EmptyWorkbook { path: PathBuf },

    #[error("invalid config `{path}`: {reason}")]
    Config { path: PathBuf, reason: String },

    #[error("invalid profile `{name}`: {reason}")]
    Profile { name: String, reason: String },

    /// The lock file is named alone: it sits beside the workbook (a path would read
    /// `./~$NAME` for a workbook in the current folder).
    #[error(
        "`{path}` is open in {app} (lock file `{lock_name}` is beside it) (hint: close the workbook in {app}, then run the command again; nothing was changed)",
        lock_name = file_name(.lock)
    )]
    Locked {
        path: PathBuf,
        lock: PathBuf,
        app: &'static str,
    },

    #[error(
        "`{path}` already exists (hint: anontrack never overwrites it; choose another folder or study name)"
    )]
    AlreadyExists { path: PathBuf },

    #[error("cannot find folder `{path}`{hint}")]
    MissingFolder { path: PathBuf, hint: String },

    #[error(
        "cannot update `{path}`: {reason} (hint: the workbook was not changed; please report this with a copy of the file)"
    )]
    Patch { path: PathBuf, reason: String },

    #[error("{0}")]
    Usage(String),

    #[error(
        "cannot find sheet `{sheet}` in `{path}` (sheets: {sheets}) (hint: the sheet may have been renamed since the workbook was read; run the command again)"
    )]
    SheetNotFound {
        path: PathBuf,
        sheet: String,
        sheets: String,
    },

    /// Ctrl-C or a termination signal stopped the work (see `interrupt`).
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// An I/O error while reading `path`; for a missing file, [`Error::not_found`].
    pub fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Self::not_found(path)
        } else {
            Self::Read { path, source }
        }
    }

    /// `path` does not exist: [`Error::NotFound`], or [`Error::NotFoundNear`] when a file a
    /// typo away sits beside it (`STUDY_dataprocesing.xlsx` for `STUDY_dataprocessing.xlsx`).
    pub fn not_found(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        match near_file(&path) {
            Some(near) => Self::NotFoundNear { path, near },
            None => Self::NotFound { path },
        }
    }

    /// An I/O error while writing `path`.
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Write {
            path: path.into(),
            source,
        }
    }
}

/// For a missing workbook, what its name usually is (`; the workbook is usually ...`);
/// nothing for other files (a profile, a plan).
fn usual_name(path: &std::path::Path) -> &'static str {
    let workbook = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx") || e.eq_ignore_ascii_case("xlsm"));
    if workbook {
        "; the workbook is usually `STUDYNAME_dataprocessing.xlsx`"
    } else {
        ""
    }
}

/// The last part of `path`, as text.
fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// Files a person names by hand (a workbook, settings, a profile, a plan) get a near-match
/// hint; no other kind does, so the names beside a DICOM file never reach a message.
const HINTED: &[&str] = &["xlsx", "xlsm", "toml", "json"];

/// The one file beside a missing `path` with its extension whose name is within two edits of
/// its name (lock files and hidden files aside), as `path` with that name.
fn near_file(path: &std::path::Path) -> Option<PathBuf> {
    let ext = path.extension()?.to_str()?.to_lowercase();
    if !HINTED.contains(&ext.as_str()) {
        return None;
    }
    let name = path.file_name()?.to_str()?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let siblings: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .take(10_000)
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            !n.starts_with('.')
                && !n.starts_with("~$")
                && n.rsplit_once('.')
                    .is_some_and(|(_, e)| e.eq_ignore_ascii_case(&ext))
        })
        .collect();
    let near = crate::near::unique_near(name, siblings.iter().map(String::as_str), 2)?;
    Some(path.with_file_name(near))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_file_is_named_beside_the_workbook() {
        let e = Error::Locked {
            path: "STUDY.xlsx".into(),
            lock: std::path::Path::new(".").join("~$STUDY.xlsx"),
            app: "Excel",
        };
        assert!(
            e.to_string().starts_with(
                "`STUDY.xlsx` is open in Excel (lock file `~$STUDY.xlsx` is beside it)"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_missing_file_names_its_near_sibling() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "STUDY_dataprocessing.xlsx",
            "~$STUDY_dataprocessin.xlsx",
            "lab.toml",
        ] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("lab2.toml")).unwrap();
        let e = Error::not_found(dir.path().join("STUDY_dataprocesing.xlsx"));
        assert!(
            matches!(&e, Error::NotFoundNear { near, .. } if near == &dir.path().join("STUDY_dataprocessing.xlsx")),
            "{e}"
        );
        let near = dir.path().join("STUDY_dataprocessing.xlsx");
        assert!(
            e.to_string()
                .ends_with(&format!("(hint: did you mean `{}`?)", near.display())),
            "{e}"
        );
        let e = Error::not_found(dir.path().join("lab_.toml"));
        assert!(matches!(&e, Error::NotFoundNear { .. }), "{e}");
        // Another extension, no sibling near enough, or a kind of file never hinted: no hint.
        for missing in ["STUDY_dataprocesing.csv", "other.xlsx", "lab.dcm", "lab"] {
            let e = Error::not_found(dir.path().join(missing));
            assert!(matches!(e, Error::NotFound { .. }), "{missing}: {e}");
        }
        // Only a workbook gets the usual workbook name as its hint.
        let e = Error::not_found("other.xlsx").to_string();
        assert!(
            e.ends_with(
                "(hint: check the path; the workbook is usually `STUDYNAME_dataprocessing.xlsx`)"
            ),
            "{e}"
        );
        let e = Error::not_found("lab_profle.toml").to_string();
        assert_eq!(e, "cannot find `lab_profle.toml` (hint: check the path)");
    }
}
