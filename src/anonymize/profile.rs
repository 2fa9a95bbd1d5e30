//! Profiles as data: which tags change and how (`templates/profiles/*.toml`, embedded).

use serde::{Deserialize, Serialize};

/// A named set of rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
}
