//! Reading the tracking workbook: header row, column map, participant rows and cell states.

use super::Table;
use crate::config::ColumnNames;
use crate::error::{Error, Result};
use std::path::Path;

/// Reads the participant table of the workbook at `path`.
pub fn read_table(path: &Path, names: &ColumnNames) -> Result<Table> {
    let _ = names;
    Err(Error::Usage(format!(
        "reading `{}` is not implemented yet",
        path.display()
    )))
}
