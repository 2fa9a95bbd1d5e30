//! `anontrack gen_study`.

use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::ui::Ui;

/// Arguments of `anontrack gen_study`.
#[derive(Debug, clap::Args)]
pub struct GenStudyArgs {}

/// Runs `anontrack gen_study`.
pub fn run(args: GenStudyArgs, ui: &Ui) -> Result<Outcome> {
    let GenStudyArgs {} = args;
    let _ = ui;
    Err(Error::Usage("`gen_study` is not implemented yet".into()))
}
