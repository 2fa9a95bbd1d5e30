//! `anontrack verify`.

use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::ui::Ui;

/// Arguments of `anontrack verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {}

/// Runs `anontrack verify`.
pub fn run(args: VerifyArgs, ui: &Ui) -> Result<Outcome> {
    let VerifyArgs {} = args;
    let _ = ui;
    Err(Error::Usage("`verify` is not implemented yet".into()))
}
