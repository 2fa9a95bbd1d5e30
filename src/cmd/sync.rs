//! `anontrack sync`.

use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::ui::Ui;

/// Arguments of `anontrack sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {}

/// Runs `anontrack sync`.
pub fn run(args: SyncArgs, ui: &Ui) -> Result<Outcome> {
    let SyncArgs {} = args;
    let _ = ui;
    Err(Error::Usage("`sync` is not implemented yet".into()))
}
