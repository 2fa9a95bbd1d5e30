//! `anontrack init`.

use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::ui::Ui;

/// Arguments of `anontrack init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {}

/// Runs `anontrack init`.
pub fn run(args: InitArgs, ui: &Ui) -> Result<Outcome> {
    let InitArgs {} = args;
    let _ = ui;
    Err(Error::Usage("`init` is not implemented yet".into()))
}
