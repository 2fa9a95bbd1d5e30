//! `anontrack anonymize`.

use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::ui::Ui;

/// Arguments of `anontrack anonymize`.
#[derive(Debug, clap::Args)]
pub struct AnonymizeArgs {}

/// Runs `anontrack anonymize`.
pub fn run(args: AnonymizeArgs, ui: &Ui) -> Result<Outcome> {
    let AnonymizeArgs {} = args;
    let _ = ui;
    Err(Error::Usage("`anonymize` is not implemented yet".into()))
}
