//! `anontrack init`: a new, empty tracking workbook and a commented anontrack.toml, or (with
//! `--config-only`) the anontrack.toml alone, for a folder that already has its workbook.

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

    /// Write only anontrack.toml, for a folder that already has its tracking workbook.
    #[arg(long, conflicts_with = "study")]
    pub config_only: bool,
}

/// Runs `anontrack init`.
pub fn run(args: InitArgs, ui: &Ui) -> Result<Outcome> {
    let InitArgs {
        study,
        dir,
        config_only,
    } = args;
    if config_only {
        return config_only_run(&dir, ui);
    }
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

/// `init --config-only`: the commented anontrack.toml alone, beside an existing workbook.
fn config_only_run(dir: &Path, ui: &Ui) -> Result<Outcome> {
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "`{}` is not a folder (hint: `--config-only` writes anontrack.toml beside an existing workbook; give its folder)",
            dir.display()
        )));
    }
    let toml = dir.join(config::FILE_NAME);
    write_new(&toml, config::TEMPLATE.as_bytes())?;
    ui.line(format!("created {}", toml.display()));
    let workbooks = workbooks_in(dir);
    match workbooks.as_slice() {
        [one] => ui.line(format!(
            "next: check the column names in it match your workbook, then run `anontrack status {}`",
            dir.join(one).display()
        )),
        _ => ui.line(
            "next: check the column names in it match your workbook, then run `anontrack status WORKBOOK.xlsx`",
        ),
    }
    Ok(Outcome::Success)
}

/// The `.xlsx` files in `dir`, without Excel's and LibreOffice's lock files, sorted.
fn workbooks_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.to_ascii_lowercase().ends_with(".xlsx"))
        .filter(|n| !n.starts_with("~$") && !n.starts_with(".~lock."))
        .collect();
    names.sort();
    names
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
