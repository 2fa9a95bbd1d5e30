//! `anontrack profile`: print a built-in profile as a file a lab can copy and edit (`show`), and
//! validate a profile file before pointing anontrack.toml at it (`check`).
//!
//! Validation is [`Profile::load`], the same call `sync` and `anonymize` make, so a file that
//! passes `check` is one they accept.

use crate::anonymize::Profile;
use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::ui::Ui;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The built-in profiles' files as shipped (with their comments): (name, TOML text).
///
/// `show_matches_the_built_in_profiles` checks that each text loads as the built-in of that name.
const SHOWN: &[(&str, &str)] = &[
    ("lab", include_str!("../../templates/profiles/lab.toml")),
    ("basic", include_str!("../../templates/profiles/basic.toml")),
    ("neuro", include_str!("../../templates/profiles/neuro.toml")),
];

/// Arguments of `anontrack profile`.
#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    #[command(subcommand)]
    pub action: ProfileAction,
}

/// What to do with a profile.
#[derive(Debug, clap::Subcommand)]
pub enum ProfileAction {
    /// Print a built-in profile as a file to copy and edit:
    /// `anontrack profile show lab > my-profile.toml`.
    Show {
        /// The built-in profile's name (`lab`, `basic` or `neuro`).
        name: String,
    },
    /// Check that a profile file is valid, as `sync` will load it. Changes nothing.
    Check {
        /// The profile file (.toml).
        file: PathBuf,
    },
}

/// `profile check --json` output.
#[derive(Serialize)]
struct Checked<'a> {
    file: String,
    name: &'a str,
    rules: usize,
}

/// Runs `anontrack profile`.
pub fn run(args: ProfileArgs, ui: &Ui) -> Result<Outcome> {
    let ProfileArgs { action } = args;
    match action {
        ProfileAction::Show { name } => show(&name, ui),
        ProfileAction::Check { file } => check(&file, ui),
    }
}

fn show(name: &str, ui: &Ui) -> Result<Outcome> {
    let Some((_, text)) = SHOWN.iter().find(|(n, _)| *n == name) else {
        let known: Vec<&str> = SHOWN.iter().map(|(n, _)| *n).collect();
        return Err(Error::Profile {
            name: name.to_string(),
            reason: format!(
                "no built-in profile has this name (known: {}; hint: `anontrack profile check FILE` checks a file of your own)",
                known.join(", ")
            ),
        });
    };
    if ui.is_json() {
        ui.json(&serde_json::json!({ "name": name, "toml": text }));
    } else {
        ui.line(text.trim_end());
    }
    Ok(Outcome::Success)
}

fn check(file: &Path, ui: &Ui) -> Result<Outcome> {
    if !file.is_file() {
        return Err(Error::Usage(format!(
            "cannot find the profile file `{}` (hint: check the path; `anontrack profile show lab` prints the built-in profile)",
            file.display()
        )));
    }
    // A path, so that a file called `lab` is read, not the built-in of that name.
    let text = file.to_string_lossy();
    let bare = !text.contains(['/', '\\']) && !text.ends_with(".toml");
    let as_path = if bare {
        format!("./{text}")
    } else {
        text.into_owned()
    };
    let profile = Profile::load(&as_path, Path::new(""))?;
    let shown = file.display().to_string();
    ui.json(&Checked {
        file: shown.clone(),
        name: &profile.name,
        rules: profile.rules.len(),
    });
    ui.line(format!(
        "`{shown}` is a valid profile: `{}`, {} rules",
        profile.name,
        profile.rules.len()
    ));
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_matches_the_built_in_profiles() {
        for (name, text) in SHOWN {
            let built_in = Profile::load(name, Path::new("")).unwrap();
            assert_eq!(&Profile::from_toml(name, text).unwrap(), &built_in);
        }
    }
}
