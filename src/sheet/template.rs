//! The lab's tracking-workbook layout, written from scratch with rust_xlsxwriter (`anontrack init`).

use crate::error::{Error, Result};
use std::path::Path;

/// Writes a new, empty tracking workbook at `path`; refuses to overwrite.
pub fn write_template(path: &Path) -> Result<()> {
    Err(Error::Usage(format!(
        "writing `{}` is not implemented yet",
        path.display()
    )))
}
