//! The plan file (`PLAN.json`): one sync's work, pinned, so that independent tasks (SLURM array
//! tasks, a shell loop) can each work one item and a single collect step can write the workbook.
//!
//! The plan holds what a task needs and nothing a task could get differently: the rows to work
//! with their folders (relative to the study folder), initials, sheet ID and Original ID (the
//! workbook beside it holds them already), the profile with its options, the pinned run date, and
//! where the study key is with its fingerprint (never the key). It does not run anything and does
//! not read the workbook: [`crate::cluster`]'s other modules do.

use crate::error::{Error, Result};
use crate::plan::{Plan, Skip, Stage, WorkItem};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The value of [`PlanFile::format`]: tells a plan from any other JSON file.
pub const FORMAT: &str = "anontrack-plan";

/// The plan format this build writes and reads. A change a reader of an older version would
/// misread raises it.
pub const VERSION: u32 = 1;

/// One sync's work, pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written.
    pub version: u32,
    /// Names this plan's results folder, `.anontrack/results/<run_id>/`.
    pub run_id: String,
    /// When the plan was written (RFC 3339, local time).
    pub created: String,
    /// The anontrack version that wrote it.
    pub tool_version: String,
    /// The study folder (the workbook's folder) as an absolute path when planned. A task finds
    /// it as the plan's own folder when the workbook sits beside the plan (so a cluster that
    /// mounts the study elsewhere still works), else here.
    pub study_dir: PathBuf,
    /// The workbook's file name inside the study folder.
    pub workbook: String,
    /// The settings file given with `--config` when planning (absolute); `None` for the
    /// `anontrack.toml` beside the workbook (or the defaults).
    pub config: Option<PathBuf>,
    /// The AcquisitionDate every task writes, `YYYYMMDD`: pinned once, so a run across midnight
    /// or across days of queueing writes one date.
    #[serde(with = "yyyymmdd")]
    pub run_date: NaiveDate,
    /// The planning day, for the verifier's "not in the future" rule.
    #[serde(with = "yyyymmdd")]
    pub today: NaiveDate,
    pub profile: ProfileRef,
    /// The study key, when the study has one; `None` when none exists yet.
    pub key: Option<KeyRef>,
    /// The work, one task per item; a task's index is its place here.
    pub items: Vec<PlanItem>,
    /// Rows the plan found a problem with (folders that cannot be resolved safely): no task works
    /// them; the collect step writes their notes, as a local sync would.
    pub problems: Vec<PlanProblem>,
    /// Where `--write-mapping DIR` asked the mapping files to go (absolute); absent when not
    /// asked. Each task writes its participant's part in the results folder
    /// ([`super::work::mapping_part_dir`]); the collect step merges the parts into DIR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping_dir: Option<PathBuf>,
}

/// The profile every task applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRef {
    /// As `profile` in anontrack.toml: a built-in name, or a path relative to the study folder.
    pub spec: String,
    /// The profile's own name (checked again by each task).
    pub name: String,
    /// The de-identification options in force, in their kebab-case names.
    pub options: Vec<String>,
}

/// Where the study key is, and how to tell it is the same key. Never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRef {
    /// Relative to the study folder when the key is inside it, else absolute.
    pub path: PathBuf,
    /// [`key_fingerprint`] of the key's bytes.
    pub fingerprint: String,
}

/// One row to work, with everything a task needs to work it alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanItem {
    /// 1-based sheet row when planned (the collect step matches by `id`, not by row).
    pub row: u32,
    pub id: String,
    pub original_id: Option<String>,
    pub action: Stage,
    pub initials: Option<String>,
    /// Relative to the study folder.
    pub raw_dir: PathBuf,
    /// Relative to the study folder.
    pub anon_dir: PathBuf,
}

/// A row the plan could not work on, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanProblem {
    pub row: u32,
    pub id: String,
    pub reason: String,
    pub action: Option<Stage>,
    pub initials: Option<String>,
}

/// What a plan is made from, besides the sync plan itself.
pub struct PlanSettings<'a> {
    pub study_dir: &'a Path,
    pub workbook: &'a Path,
    pub config: Option<PathBuf>,
    pub run_date: NaiveDate,
    pub today: NaiveDate,
    pub profile: ProfileRef,
    pub key: Option<KeyRef>,
}

impl PlanFile {
    /// Pins `plan` into a plan file: folders become relative to the study folder, and the
    /// problem rows the plan found are kept for the collect step.
    pub fn new(
        plan: &Plan,
        settings: PlanSettings<'_>,
        now: chrono::DateTime<chrono::Local>,
    ) -> Self {
        let PlanSettings {
            study_dir,
            workbook,
            config,
            run_date,
            today,
            profile,
            key,
        } = settings;
        let items = plan
            .items
            .iter()
            .map(|i| PlanItem::from_work_item(i, study_dir))
            .collect();
        let problems = plan
            .skipped
            .iter()
            .filter(|s| s.problem)
            .map(PlanProblem::from)
            .collect();
        Self {
            format: FORMAT.into(),
            version: VERSION,
            run_id: run_id(now),
            created: now.to_rfc3339(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            study_dir: study_dir.to_path_buf(),
            workbook: workbook
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            config,
            run_date,
            today,
            profile,
            key,
            items,
            problems,
            mapping_dir: None,
        }
    }

    /// Asks every task to write its participant's mapping part, and the collect step to merge
    /// the parts into `dir` (`sync --plan-out PLAN --write-mapping DIR`); `dir` should be
    /// absolute, as tasks may run elsewhere.
    pub fn with_mapping_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.mapping_dir = dir;
        self
    }

    /// Reads and checks a plan file: its format, its version, and that every folder stays inside
    /// the study folder and the run id is a plain name (a plan edited by hand must not send a task
    /// outside the study).
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
        let bad = |why: String| {
            Error::Usage(format!(
                "`{}` is not a plan anontrack can use: {why} (hint: write a new one with `anontrack sync WORKBOOK --plan-out PLAN.json`)",
                path.display()
            ))
        };
        // The format and version first, so a newer plan gets that message, not a field error.
        let head: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON ({e})")))?;
        if head.get("format").and_then(|v| v.as_str()) != Some(FORMAT) {
            return Err(bad(format!("no `\"format\": \"{FORMAT}\"` in it")));
        }
        match head.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(VERSION) => {}
            Some(v) => {
                return Err(bad(format!(
                    "it is plan format version {v}, and this anontrack reads version {VERSION}"
                )));
            }
            None => return Err(bad("it has no `version`".into())),
        }
        let plan: PlanFile = serde_json::from_value(head).map_err(|e| bad(format!("{e}")))?;
        if !is_plain_name(&plan.run_id) {
            return Err(bad(format!("run id `{}` is not a plain name", plan.run_id)));
        }
        for item in &plan.items {
            for dir in [&item.raw_dir, &item.anon_dir] {
                if !stays_inside(dir) {
                    return Err(bad(format!(
                        "the folder `{}` of `{}` is not inside the study folder",
                        dir.display(),
                        item.id
                    )));
                }
            }
        }
        Ok(plan)
    }

    /// Writes the plan as pretty JSON, atomically, readable by its owner only (mode 0600, like
    /// the study key): it holds every planned row's Original ID.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(self).map_err(|e| Error::Patch {
            path: path.to_path_buf(),
            reason: format!("cannot encode the plan: {e}"),
        })?;
        text.push(b'\n');
        // The temporary file is created 0600 (tempfile's default) and renamed into place; the
        // mode is set again so this does not rest on a library's default.
        crate::records::write_atomic(path, &text)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::write(path, e))?;
        }
        Ok(())
    }

    /// The study folder for a task reading the plan at `plan_path`: the plan's own folder when
    /// the workbook is there, else the folder recorded when planning.
    pub fn resolve_study_dir(&self, plan_path: &Path) -> PathBuf {
        let beside = plan_path.parent().unwrap_or(Path::new(""));
        let beside = if beside.as_os_str().is_empty() {
            Path::new(".")
        } else {
            beside
        };
        if !self.workbook.is_empty() && beside.join(&self.workbook).is_file() {
            return std::path::absolute(beside).unwrap_or_else(|_| beside.to_path_buf());
        }
        self.study_dir.clone()
    }

    /// Item `index`, or an error naming how many there are.
    pub fn item(&self, index: usize) -> Result<&PlanItem> {
        self.items.get(index).ok_or_else(|| {
            Error::Usage(match self.items.len() {
                0 => format!("item {index} is not in the plan: the plan has no work items"),
                n => format!(
                    "item {index} is not in the plan: it has {n} item(s), numbered 0 to {}",
                    n - 1
                ),
            })
        })
    }
}

impl PlanItem {
    fn from_work_item(item: &WorkItem, study_dir: &Path) -> Self {
        let rel = |p: &Path| p.strip_prefix(study_dir).unwrap_or(p).to_path_buf();
        Self {
            row: item.row,
            id: item.id.clone(),
            original_id: item.original_id.clone(),
            action: item.action,
            initials: item.initials.clone(),
            raw_dir: rel(&item.raw_dir),
            anon_dir: rel(&item.anon_dir),
        }
    }

    /// The work item a task runs, with folders under `study_dir`.
    pub fn to_work_item(&self, study_dir: &Path) -> WorkItem {
        WorkItem {
            row: self.row,
            id: self.id.clone(),
            original_id: self.original_id.clone(),
            action: self.action,
            initials: self.initials.clone(),
            raw_dir: study_dir.join(&self.raw_dir),
            anon_dir: study_dir.join(&self.anon_dir),
        }
    }
}

impl From<&Skip> for PlanProblem {
    fn from(s: &Skip) -> Self {
        Self {
            row: s.row,
            id: s.id.clone(),
            reason: s.reason.clone(),
            action: s.action,
            initials: s.initials.clone(),
        }
    }
}

impl PlanProblem {
    /// The skipped row as the plan saw it.
    pub fn to_skip(&self) -> Skip {
        Skip {
            row: self.row,
            id: self.id.clone(),
            reason: self.reason.clone(),
            problem: true,
            action: self.action,
            initials: self.initials.clone(),
        }
    }
}

/// The first 16 hex digits of SHA-256 over the key's bytes: enough to tell two keys apart,
/// nothing that helps to guess one. The same value as the profiles' `StudyKey::fingerprint`.
pub fn key_fingerprint(key: &[u8]) -> String {
    let digest = Sha256::digest(key);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The key at `path` (relative to `study_dir` unless absolute) as a [`KeyRef`], or `None` when
/// there is no key file.
pub fn key_ref(study_dir: &Path, path: &Path) -> Result<Option<KeyRef>> {
    let full = study_dir.join(path);
    match std::fs::read(&full) {
        Ok(bytes) => Ok(Some(KeyRef {
            path: path.to_path_buf(),
            fingerprint: key_fingerprint(&bytes),
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::read(full, e)),
    }
}

/// A run id: the planning time and four hex digits, e.g. `20261130-192501-3fa2`.
fn run_id(now: chrono::DateTime<chrono::Local>) -> String {
    let nanos = now.timestamp_subsec_nanos();
    let salt = (nanos ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("{}-{salt:04x}", now.format("%Y%m%d-%H%M%S"))
}

/// Letters, digits, `-`, `_` and `.` only, and not a dot name.
fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A relative path without `..`: it cannot leave the folder it is joined to.
fn stays_inside(p: &Path) -> bool {
    use std::path::Component;
    p.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// `YYYYMMDD` dates in the plan, as everywhere else in anontrack.
mod yyyymmdd {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.format("%Y%m%d").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let text = String::deserialize(d)?;
        crate::cmd::parse_date(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample(dir: &Path) -> PlanFile {
        let plan = Plan {
            items: vec![WorkItem {
                row: 5,
                id: "S01".into(),
                original_id: Some("X1".into()),
                action: Stage::Anonymize,
                initials: Some("KH".into()),
                raw_dir: dir.join("sourcedata/X1"),
                anon_dir: dir.join("AnonDcm/S01"),
            }],
            skipped: vec![
                Skip {
                    row: 6,
                    id: "S02".into(),
                    reason: "no Original ID".into(),
                    problem: true,
                    action: Some(Stage::Anonymize),
                    initials: Some("JD".into()),
                },
                Skip {
                    row: 7,
                    id: "S03".into(),
                    reason: "nothing to do".into(),
                    problem: false,
                    action: None,
                    initials: None,
                },
            ],
        };
        let date = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let now = chrono::Local
            .with_ymd_and_hms(2026, 11, 30, 19, 25, 1)
            .unwrap();
        PlanFile::new(
            &plan,
            PlanSettings {
                study_dir: dir,
                workbook: &dir.join("study.xlsx"),
                config: None,
                run_date: date,
                today: date,
                profile: ProfileRef {
                    spec: "lab".into(),
                    name: "lab".into(),
                    options: vec![],
                },
                key: None,
            },
            now,
        )
    }

    #[test]
    fn folders_are_relative_and_problems_kept() {
        let p = sample(Path::new("/s"));
        assert_eq!(p.items[0].raw_dir, Path::new("sourcedata/X1"));
        assert_eq!(p.items[0].anon_dir, Path::new("AnonDcm/S01"));
        assert_eq!(p.problems.len(), 1);
        assert_eq!(p.problems[0].id, "S02");
        assert_eq!(p.workbook, "study.xlsx");
        assert!(p.run_id.starts_with("20261130-192501-"), "{}", p.run_id);
        assert!(is_plain_name(&p.run_id));
        let back = p.items[0].to_work_item(Path::new("/t"));
        assert_eq!(back.raw_dir, Path::new("/t/sourcedata/X1"));
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = sample(dir.path());
        let path = dir.path().join("plan.json");
        p.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"run_date\": \"20261130\""), "{text}");
        assert!(text.contains("\"key\": null"), "{text}");
        assert_eq!(PlanFile::read(&path).unwrap(), p);
    }

    #[cfg(unix)]
    #[test]
    fn the_plan_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        // An older plan left readable by all is replaced by one that is not.
        std::fs::write(&path, b"{}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        sample(dir.path()).write(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    #[test]
    fn refuses_other_versions_formats_and_escaping_folders() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let mut v = serde_json::to_value(sample(dir.path())).unwrap();
        let cases = [
            ("/version", serde_json::json!(99), "version 99"),
            ("/format", "x".into(), "no `\"format\""),
            (
                "/items/0/anon_dir",
                "../elsewhere".into(),
                "not inside the study folder",
            ),
            (
                "/items/0/raw_dir",
                "/abs".into(),
                "not inside the study folder",
            ),
            ("/run_id", "../x".into(), "not a plain name"),
            ("/run_date", "2026-11-30".into(), "YYYYMMDD"),
        ];
        for (pointer, value, wanted) in cases {
            let mut bad = v.clone();
            *bad.pointer_mut(pointer).unwrap() = value;
            std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
            let err = PlanFile::read(&path).unwrap_err().to_string();
            assert!(err.contains(wanted), "{wanted}: {err}");
            assert!(err.contains("--plan-out"), "{err}");
        }
        v["items"] = serde_json::json!([]);
        std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        let empty = PlanFile::read(&path).unwrap();
        assert!(
            empty
                .item(0)
                .unwrap_err()
                .to_string()
                .contains("no work items")
        );
    }

    #[test]
    fn key_fingerprints_name_the_key_without_showing_it() {
        let key: Vec<u8> = (0u8..32).collect();
        let f = key_fingerprint(&key);
        assert_eq!(f, "630dcd2966c43366");
        assert_ne!(f, key_fingerprint(&[0u8; 32]));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(key_ref(dir.path(), Path::new("k")).unwrap(), None);
        std::fs::write(dir.path().join("k"), &key).unwrap();
        let r = key_ref(dir.path(), Path::new("k")).unwrap().unwrap();
        assert_eq!(r.fingerprint, f);
    }

    #[test]
    fn the_study_folder_is_the_plans_when_the_workbook_is_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = sample(Path::new("/nowhere/on/this/node"));
        let plan_path = dir.path().join("plan.json");
        assert_eq!(
            p.resolve_study_dir(&plan_path),
            Path::new("/nowhere/on/this/node")
        );
        std::fs::write(dir.path().join("study.xlsx"), b"x").unwrap();
        assert_eq!(p.resolve_study_dir(&plan_path), dir.path());
    }
}
