//! Profiles as data: which tags change and how (`templates/profiles/*.toml`, embedded).
//!
//! A profile is a list of rules, each naming a top-level tag, its keyword (for messages) and an
//! action. The lab's procedure is the built-in profile `lab`; `profile = "path/to/x.toml"` in
//! anontrack.toml loads another. Loading validates everything up front: a bad profile is an error
//! before any file is touched.

use crate::deid::{Act, Base, DeidOption, Rules};
use crate::error::{Error, Result};
use crate::finding::TagRef;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The built-in profiles, embedded in the binary: (name, TOML text).
const BUILT_IN: &[(&str, &str)] = &[("lab", include_str!("../../templates/profiles/lab.toml"))];

/// What a rule does to an element the file has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", content = "value", rename_all = "snake_case")]
pub enum Action {
    /// Set the value to this text (the lab uses `Anonymous`).
    Replace(String),
    /// Set the value to the run's date, `YYYYMMDD`.
    RunDate,
    /// Keep the element with an empty value.
    Empty,
    /// Remove the element.
    Remove,
}

/// One rule of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub tag: TagRef,
    /// The keyword used in messages (`PatientComments`).
    pub keyword: String,
    pub action: Action,
}

/// A named set of rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// In file order; at most one rule per tag. Empty for a standard profile.
    pub rules: Vec<Rule>,
    /// For `basic`, `neuro` and profile files with `base = ...`: the standard's rules, applied
    /// at every depth instead of `rules`.
    #[serde(skip)]
    pub standard: Option<Rules>,
    /// The study key a standard profile uses (see [`Profile::with_key`]); never serialized.
    #[serde(skip)]
    pub key: Option<crate::deid::StudyKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
    /// `basic` or `neuro`: a standard profile this one builds on.
    base: Option<String>,
    #[serde(default)]
    options: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    tag: String,
    keyword: String,
    action: String,
    value: Option<String>,
}

impl Profile {
    /// The lab's procedure: 18 tags set to `Anonymous`, AcquisitionDate set to the run's date.
    pub fn lab() -> Self {
        Self::from_toml("lab", BUILT_IN[0].1).expect("the built-in lab profile is valid")
    }

    /// A standard profile (`basic`, `neuro`): PS3.15 Table E.1-1 at every depth.
    pub fn standard(base: Base) -> Self {
        Self {
            name: base.name().to_string(),
            description: match base {
                Base::Basic => "PS3.15 Basic Application Level Confidentiality Profile".into(),
                Base::Neuro => "basic + retain-safe-private, retain-long-modified-dates, \
                                retain-patient-characteristics, retain-device-identity, \
                                clean-descriptors"
                    .into(),
            },
            rules: Vec::new(),
            standard: Some(Rules::resolve(base, &[])),
            key: None,
        }
    }

    /// Gives a standard profile its study key, so every run with this profile (`sync` included)
    /// uses it without an `Anonymizer::key` call.
    pub fn with_key(mut self, key: crate::deid::StudyKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Adds the options named in `anontrack.toml` (`options = [...]`), refusing unknown ones.
    pub fn with_option_names(self, names: &[String]) -> Result<Self> {
        let name = self.name.clone();
        let options = names
            .iter()
            .map(|o| DeidOption::parse(o))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|reason| Error::Profile { name, reason })?;
        self.with_options(&options)
    }

    /// Adds options (`--option`, `options = [...]`) to a standard profile; the lab profile
    /// takes none.
    pub fn with_options(mut self, options: &[DeidOption]) -> Result<Self> {
        if options.is_empty() {
            return Ok(self);
        }
        let Some(rules) = &self.standard else {
            return Err(Error::Profile {
                name: self.name.clone(),
                reason: "options apply to the standard profiles only (hint: `--profile basic` \
                         or `--profile neuro`)"
                    .into(),
            });
        };
        let mut all = rules.options();
        all.extend_from_slice(options);
        crate::deid::check_options(&all).map_err(|reason| Error::Profile {
            name: self.name.clone(),
            reason,
        })?;
        let mut new = Rules::resolve(rules.base(), &all).named(rules.name());
        for (t, a) in rules.overrides() {
            new = new.with_override(*t, *a);
        }
        self.standard = Some(new);
        Ok(self)
    }

    /// Loads a built-in profile by name, or a profile file by path (relative to `base`).
    pub fn load(name_or_path: &str, base: &Path) -> Result<Self> {
        if let Some(b) = Base::parse(name_or_path) {
            return Ok(Self::standard(b));
        }
        if let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::from_toml(name, text);
        }
        let path = base.join(name_or_path);
        if !name_or_path.ends_with(".toml") && !path.exists() {
            let known: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            return Err(Error::Profile {
                name: name_or_path.to_string(),
                reason: format!(
                    "no built-in profile has this name (known: {}, basic, neuro) and no such file exists",
                    known.join(", ")
                ),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
        Self::from_toml(&path.display().to_string(), &text)
    }

    /// Parses and validates a profile's TOML text; `origin` names it in errors.
    pub fn from_toml(origin: &str, text: &str) -> Result<Self> {
        let bad = |reason: String| Error::Profile {
            name: origin.to_string(),
            reason,
        };
        let raw: RawProfile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if let Some(b) = &raw.base {
            return Self::standard_from_raw(
                raw.name.clone(),
                raw.description.clone(),
                b,
                &raw,
                bad,
            );
        }
        if !raw.options.is_empty() {
            return Err(bad(
                "`options` need `base = \"basic\"` or `base = \"neuro\"`".into(),
            ));
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(raw.rules.len());
        for r in raw.rules {
            let tag = parse_tag(&r.tag).ok_or_else(|| {
                bad(format!(
                    "rule `{}` has tag `{}`; write it as `0010,0010`",
                    r.keyword, r.tag
                ))
            })?;
            if tag.0 == 0x0002 || tag.0 == 0x7FE0 || tag.1 == 0x0000 {
                return Err(bad(format!(
                    "rule `{}` targets {tag}, which a profile may not change (file meta, pixel data or group length)",
                    r.keyword
                )));
            }
            if rules.iter().any(|x| x.tag == tag) {
                return Err(bad(format!("tag {tag} has two rules")));
            }
            let action = match (r.action.as_str(), r.value) {
                ("replace", Some(v)) => Action::Replace(v),
                ("replace", None) => {
                    return Err(bad(format!("rule {tag} `replace` needs a `value`")));
                }
                ("run_date", None) => Action::RunDate,
                ("empty", None) => Action::Empty,
                ("remove", None) => Action::Remove,
                (a @ ("run_date" | "empty" | "remove"), Some(_)) => {
                    return Err(bad(format!("rule {tag} `{a}` takes no `value`")));
                }
                (other, _) => {
                    return Err(bad(format!(
                        "rule {tag} has action `{other}`; use replace, run_date, empty or remove"
                    )));
                }
            };
            rules.push(Rule {
                tag,
                keyword: r.keyword,
                action,
            });
        }
        if rules.is_empty() {
            return Err(bad("it has no rules".into()));
        }
        Ok(Self {
            name: raw.name,
            description: raw.description,
            rules,
            standard: None,
            key: None,
        })
    }

    /// A profile file built on a standard profile: its options, then its rules as overrides.
    fn standard_from_raw(
        name: String,
        description: String,
        base: &str,
        raw: &RawProfile,
        bad: impl Fn(String) -> Error,
    ) -> Result<Self> {
        let b = Base::parse(base)
            .ok_or_else(|| bad(format!("`base = \"{base}\"`: use `basic` or `neuro`")))?;
        let options = raw
            .options
            .iter()
            .map(|o| DeidOption::parse(o))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(&bad)?;
        let mut all = b.options().to_vec();
        all.extend_from_slice(&options);
        crate::deid::check_options(&all).map_err(&bad)?;
        let mut rules = Rules::resolve(b, &options).named(&name);
        for r in &raw.rules {
            let tag = parse_tag(&r.tag).ok_or_else(|| {
                bad(format!(
                    "rule `{}` has tag `{}`; write it as `0010,0010`",
                    r.keyword, r.tag
                ))
            })?;
            if tag.0 == 0x0002 || tag.0 == 0x7FE0 || tag.1 == 0x0000 {
                return Err(bad(format!(
                    "rule `{}` targets {tag}, which a profile may not change (file meta, pixel data or group length)",
                    r.keyword
                )));
            }
            if r.value.is_some() {
                return Err(bad(format!(
                    "rule {tag}: a profile built on `{base}` takes actions without `value`"
                )));
            }
            let act = match r.action.as_str() {
                "keep" => Act::Keep,
                "remove" => Act::Remove,
                "empty" => Act::Empty,
                "dummy" => Act::Dummy,
                "clean" => Act::Clean,
                "replace_uid" => Act::ReplaceUid,
                "shift_date" => Act::ShiftDate,
                other => {
                    return Err(bad(format!(
                        "rule {tag} has action `{other}`; use keep, remove, empty, dummy, clean, \
                         replace_uid or shift_date"
                    )));
                }
            };
            rules = rules.with_override(tag, act);
        }
        Ok(Self {
            name,
            description,
            rules: Vec::new(),
            standard: Some(rules),
            key: None,
        })
    }

    /// The rule for `tag`, if any.
    pub fn rule(&self, tag: TagRef) -> Option<&Rule> {
        self.rules.iter().find(|r| r.tag == tag)
    }
}

/// Parses `0010,0010`, `(0010,0010)`, `0010 0010` or `00100010`.
pub fn parse_tag(s: &str) -> Option<TagRef> {
    let hex: String = s
        .chars()
        .filter(|c| !matches!(c, '(' | ')' | ',' | ' '))
        .collect();
    if hex.len() != 8 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let g = u16::from_str_radix(&hex[..4], 16).ok()?;
    let e = u16::from_str_radix(&hex[4..], 16).ok()?;
    Some(TagRef(g, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_profile_has_the_labs_19_rules() {
        let p = Profile::lab();
        assert_eq!(p.rules.len(), 19);
        let anonymous = p
            .rules
            .iter()
            .filter(|r| r.action == Action::Replace("Anonymous".into()))
            .count();
        assert_eq!(anonymous, 18);
        assert_eq!(
            p.rule(TagRef(0x0008, 0x0022)).unwrap().action,
            Action::RunDate
        );
        assert_eq!(
            p.rule(TagRef(0x0010, 0x4000)).unwrap().keyword,
            "PatientComments"
        );
    }

    #[test]
    fn tags_parse_in_the_usual_spellings() {
        assert_eq!(parse_tag("0010,0010"), Some(TagRef(0x10, 0x10)));
        assert_eq!(parse_tag("(0029,1109)"), Some(TagRef(0x29, 0x1109)));
        assert_eq!(parse_tag("00104000"), Some(TagRef(0x10, 0x4000)));
        assert_eq!(parse_tag("008,1050"), None);
        assert_eq!(parse_tag("zzzz,0010"), None);
    }

    #[test]
    fn bad_profiles_are_refused_with_a_reason() {
        let e = Profile::from_toml(
            "x",
            "name='x'\n[[rule]]\ntag='7FE0,0010'\nkeyword='PixelData'\naction='empty'\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("may not change"), "{e}");
        let e = Profile::from_toml(
            "x",
            "name='x'\n[[rule]]\ntag='0010,0010'\nkeyword='PatientName'\naction='replace'\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("needs a `value`"), "{e}");
        let e = Profile::from_toml("x", "name='x'\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no rules"), "{e}");
        let e = Profile::load("nonesuch", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("known: lab"), "{e}");
    }

    #[test]
    fn standard_profiles_and_files_built_on_them() {
        let p = Profile::load("neuro", Path::new(".")).unwrap();
        assert!(
            p.standard
                .as_ref()
                .unwrap()
                .has(DeidOption::RetainSafePrivate)
        );
        let p = Profile::from_toml(
            "x",
            "name='share'\nbase='basic'\noptions=['retain-uids']\n[[rule]]\ntag='0008,1030'\nkeyword='StudyDescription'\naction='keep'\n",
        )
        .unwrap();
        let r = p.standard.unwrap();
        assert!(r.has(DeidOption::RetainUids));
        assert_eq!(r.name(), "share");
        assert_eq!(
            r.action(TagRef(0x0008, 0x1030), dicom_core::VR::LO),
            Act::Keep
        );
        let e = Profile::lab()
            .with_options(&[DeidOption::RetainUids])
            .unwrap_err()
            .to_string();
        assert!(e.contains("standard profiles only"), "{e}");
        let e = Profile::standard(Base::Neuro)
            .with_options(&[DeidOption::RetainLongFullDates])
            .unwrap_err()
            .to_string();
        assert!(e.contains("exclude"), "{e}");
        let e = Profile::from_toml(
            "x",
            "name='x'\nbase='basic'\noptions=['clean-pixel-data']\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("pixel"), "{e}");
    }
}
