//! `anontrack demo`.

use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::ui::Ui;

/// Arguments of `anontrack demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

/// Runs `anontrack demo`.
pub fn run(args: DemoArgs, ui: &Ui) -> Result<Outcome> {
    let DemoArgs {} = args;
    let _ = ui;
    Err(Error::Usage("`demo` is not implemented yet".into()))
}
