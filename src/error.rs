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

    #[error(
        "cannot find `{path}` (hint: check the path; the workbook is usually `STUDYNAME_dataprocessing.xlsx`)"
    )]
    NotFound { path: PathBuf },

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

    #[error(
        "`{path}` is open in {app} (lock file `{lock}` is beside it) (hint: close the workbook in {app}, then run the command again; nothing was changed)"
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
    /// An I/O error while reading `path`.
    pub fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Self::NotFound { path }
        } else {
            Self::Read { path, source }
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
