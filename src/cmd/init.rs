//! `anontrack init`: a new, empty tracking workbook and a commented anontrack.toml.

use crate::config;
use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::sheet::template;
use crate::ui::Ui;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `anontrack init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The study's name: the workbook is called NAME_dataprocessing.xlsx.
    #[arg(long, value_name = "NAME", default_value = "STUDYNAME")]
    pub study: String,

    /// The study folder to write into (made if missing). Default: the current folder.
    #[arg(default_value = ".", hide_default_value = true)]
    pub dir: PathBuf,
}

/// Runs `anontrack init`.
pub fn run(args: InitArgs, ui: &Ui) -> Result<Outcome> {
    let InitArgs { study, dir } = args;
    let study = study.trim();
    if study.is_empty() || study.contains(['/', '\\', '\0']) || study.contains("..") {
        return Err(Error::Usage(format!(
            "invalid study name `{study}` (hint: use a plain name such as `MYSTUDY`, without `/`, `\\` or `..`)"
        )));
    }
    let workbook = dir.join(format!("{study}_dataprocessing.xlsx"));
    let toml = dir.join(config::FILE_NAME);
    // Refuse before writing anything, so a refusal changes nothing.
    for path in [&workbook, &toml] {
        if path.exists() {
            return Err(Error::AlreadyExists { path: path.clone() });
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::write(&dir, e))?;
    template::write_template(&workbook)?;
    if let Err(e) = write_new(&toml, config::TEMPLATE.as_bytes()) {
        // Keep init all-or-nothing: the workbook we just made goes again.
        let _ = std::fs::remove_file(&workbook);
        return Err(e);
    }
    ui.line(format!("created {}", workbook.display()));
    ui.line(format!("created {}", toml.display()));
    ui.line(format!(
        "next: add participants to the workbook, then run `anontrack status {}`",
        workbook.display()
    ));
    Ok(Outcome::Success)
}

/// Writes `bytes` to a file that must not exist yet.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::AlreadyExists {
                path: path.to_path_buf(),
            },
            _ => Error::write(path, e),
        })?;
    if let Err(e) = file.write_all(bytes) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(Error::write(path, e));
    }
    Ok(())
}
