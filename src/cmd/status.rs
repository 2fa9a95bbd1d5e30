//! `anontrack status`.

use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::ui::Ui;

/// Arguments of `anontrack status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {}

/// Runs `anontrack status`.
pub fn run(args: StatusArgs, ui: &Ui) -> Result<Outcome> {
    let StatusArgs {} = args;
    let _ = ui;
    Err(Error::Usage("`status` is not implemented yet".into()))
}
