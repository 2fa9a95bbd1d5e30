//! The demo study behind `anontrack demo`: a tracking workbook with one participant in each state
//! the lab knows, the synthetic raw scans the rows point at, and the anonymized folders that some
//! rows claim were made earlier (one correctly, one "by hand" with a tag forgotten).
//!
//! [`write_study`] lays it all out in a new or empty folder; [`check`] compares the workbook after
//! a `sync` with what the design says must come out, so the demo doubles as a self-test. Which
//! folder to use is [`choose_dir`]'s job. All scan data is synthetic ([`crate::synth`], made-up
//! names only). Nothing here prints or runs `sync`: `cmd::demo` does.

use crate::anonymize::{Anonymizer, Profile};
use crate::config;
use crate::error::{Error, Result};
use crate::finding::TagRef;
use crate::sheet::template::{self, TemplateCell, TemplateRow};
use crate::sheet::{State, Table};
use crate::synth::{self, Faults, ParticipantSpec};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

/// The demo workbook's file name.
pub const WORKBOOK: &str = "DEMO_dataprocessing.xlsx";
/// The folder `demo` uses when none is given (then `-2`, `-3`, ... if it is taken).
pub const DEFAULT_DIR: &str = "anontrack-demo";
/// How many `-N` variants of [`DEFAULT_DIR`] to try before giving up.
const MAX_DEFAULT_DIRS: u32 = 99;
/// The tag the "by hand" folder forgot, as in the lab's own example note.
pub const FORGOTTEN_TAG: TagRef = TagRef(0x0010, 0x4000);

/// What is in a participant's anonymized folder before `sync` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnonFolder {
    /// No anonymized folder.
    None,
    /// Anonymized with the lab's profile, as anontrack (or a careful person) would.
    Correct,
    /// Anonymized "by hand", forgetting [`FORGOTTEN_TAG`].
    ByHandMissingTag,
}

/// One demo participant: its workbook row, its data on disk, and what `sync` must make of it.
#[derive(Debug, Clone)]
pub struct Participant {
    /// What this row shows, in a few words for the lab user.
    pub story: &'static str,
    pub row: TemplateRow,
    /// The raw scans to write under `sourcedata/<original_id>/`, if any.
    pub raw: Option<ParticipantSpec>,
    pub anon: AnonFolder,
    /// The states after `sync`: (anonymization, check).
    pub expect: (State, State),
    /// Text the problem note must contain after `sync`, if a problem is expected.
    pub expect_note: Option<&'static str>,
}

/// The demo's participants, in sheet order (rows 3 onwards).
pub fn participants() -> Vec<Participant> {
    let date = |d| NaiveDate::from_ymd_opt(2024, 3, d);
    let row = |day, id: &str, original: &str, anonymized, check| TemplateRow {
        scan_date: date(day),
        study: "DEMO full study".into(),
        notes: String::new(),
        id: id.into(),
        original_id: original.into(),
        anonymized,
        check,
        excluded: false,
    };
    // Small scans keep the demo to a second or two: 2 series x 3 slices of 64x64.
    let scans = |original: &str, seed| ParticipantSpec::new(original, seed).series(2, 3);
    vec![
        Participant {
            story: "anonymized and checked earlier: nothing to do",
            row: TemplateRow {
                study: "DEMO pilot".into(),
                ..row(
                    4,
                    "101",
                    "58101",
                    TemplateCell::done("JD"),
                    TemplateCell::done("MF"),
                )
            },
            raw: Some(scans("58101", 101)),
            anon: AnonFolder::Correct,
            expect: (State::Done, State::Done),
            expect_note: None,
        },
        Participant {
            story: "KH claimed the anonymization: sync anonymizes, verifies, turns it green",
            row: row(
                5,
                "102",
                "58102",
                TemplateCell::claimed("KH"),
                TemplateCell::empty(),
            ),
            raw: Some(scans("58102", 102)),
            anon: AnonFolder::None,
            expect: (State::Done, State::NotStarted),
            expect_note: None,
        },
        Participant {
            story: "anonymized earlier, MF claimed the check: sync verifies it, turns it green",
            row: row(
                6,
                "103",
                "58103",
                TemplateCell::done("JD"),
                TemplateCell::claimed("MF"),
            ),
            raw: Some(scans("58103", 103)),
            anon: AnonFolder::Correct,
            expect: (State::Done, State::Done),
            expect_note: None,
        },
        Participant {
            story: "anonymized by hand but PatientComments forgotten: the check gets a note",
            row: row(
                7,
                "104",
                "58104",
                TemplateCell::done("JD"),
                TemplateCell::claimed("KH"),
            ),
            raw: Some(scans("58104", 104)),
            anon: AnonFolder::ByHandMissingTag,
            expect: (State::Done, State::Problem),
            expect_note: Some("(0010,4000)"),
        },
        Participant {
            story: "the scanner left the name in a private tag the lab's list misses: caught, noted",
            row: row(
                11,
                "105",
                "58105",
                TemplateCell::claimed("KH"),
                TemplateCell::empty(),
            ),
            raw: Some(scans("58105", 105).faults(Faults {
                name_in_private: true,
                ..Faults::default()
            })),
            anon: AnonFolder::None,
            expect: (State::Problem, State::NotStarted),
            expect_note: Some("(0033,1013)"),
        },
        Participant {
            story: "no scan data (red row): skipped",
            row: TemplateRow {
                notes: "No scan data - scan stopped early (made-up example)".into(),
                excluded: true,
                ..row(
                    12,
                    "106",
                    "58106",
                    TemplateCell::empty(),
                    TemplateCell::empty(),
                )
            },
            raw: None,
            anon: AnonFolder::None,
            expect: (State::NotStarted, State::NotStarted),
            expect_note: None,
        },
        Participant {
            story: "scanned, nobody claimed it yet: skipped until someone writes initials",
            row: row(
                14,
                "107",
                "58107",
                TemplateCell::empty(),
                TemplateCell::empty(),
            ),
            raw: Some(scans("58107", 107)),
            anon: AnonFolder::None,
            expect: (State::NotStarted, State::NotStarted),
            expect_note: None,
        },
    ]
}

/// The demo study as written.
#[derive(Debug, Clone)]
pub struct DemoStudy {
    pub dir: PathBuf,
    pub workbook: PathBuf,
    pub participants: Vec<Participant>,
    /// Synthetic DICOM files written (raw and prepared anonymized ones).
    pub files: usize,
}

/// The folder to make the demo in.
///
/// An explicit `dir` must be missing or empty, else an error (nothing is touched). Without one,
/// `base/anontrack-demo` is used, or the first of `-2`, `-3`, ... that is missing or empty.
pub fn choose_dir(explicit: Option<&Path>, base: &Path) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        if is_missing_or_empty(dir) {
            return Ok(dir.to_path_buf());
        }
        return Err(Error::Usage(format!(
            "`{}` exists and is not an empty folder (hint: the demo only writes into a new or empty folder; name another one, or leave it out to use `./{DEFAULT_DIR}`)",
            dir.display()
        )));
    }
    for n in 1..=MAX_DEFAULT_DIRS {
        let name = match n {
            1 => DEFAULT_DIR.to_string(),
            n => format!("{DEFAULT_DIR}-{n}"),
        };
        let dir = base.join(name);
        if is_missing_or_empty(&dir) {
            return Ok(dir);
        }
    }
    Err(Error::Usage(format!(
        "`{DEFAULT_DIR}` to `{DEFAULT_DIR}-{MAX_DEFAULT_DIRS}` are all taken (hint: remove old demo folders, or name a new folder: `anontrack demo DIR`)"
    )))
}

fn is_missing_or_empty(dir: &Path) -> bool {
    match std::fs::symlink_metadata(dir) {
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        Ok(m) if m.is_dir() => std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()),
        Ok(_) => false,
    }
}

/// Writes the demo study into `dir` (which must be missing or empty): the workbook, a commented
/// `anontrack.toml`, the raw scans, and the anonymized folders prepared "earlier" on `date`.
///
/// Everything is built in a hidden folder beside `dir` and renamed into place at the end, so a
/// failure leaves no half-made demo behind.
pub fn write_study(dir: &Path, date: NaiveDate) -> Result<DemoStudy> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::write(&parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".anontrack-demo-")
        .tempdir_in(&parent)
        .map_err(|e| Error::write(&parent, e))?;
    let participants = participants();
    let files = lay_out(staging.path(), &participants, date)?;
    // An empty folder the user named is replaced by the finished demo (rename cannot merge).
    if dir.is_dir() {
        std::fs::remove_dir(dir).map_err(|e| Error::write(dir, e))?;
    }
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, dir) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(Error::write(dir, e));
    }
    Ok(DemoStudy {
        dir: dir.to_path_buf(),
        workbook: dir.join(WORKBOOK),
        participants,
        files,
    })
}

/// Writes every file of the study under `root`; returns the number of DICOM files.
fn lay_out(root: &Path, participants: &[Participant], date: NaiveDate) -> Result<usize> {
    let rows: Vec<TemplateRow> = participants.iter().map(|p| p.row.clone()).collect();
    template::write_template_with_rows(&root.join(WORKBOOK), &rows)?;
    let toml = root.join(config::FILE_NAME);
    std::fs::write(&toml, config::TEMPLATE).map_err(|e| Error::write(&toml, e))?;

    let lab = Profile::lab();
    let mut by_hand = lab.clone();
    by_hand.rules.retain(|r| r.tag != FORGOTTEN_TAG);
    let mut files = 0;
    for p in participants {
        let Some(spec) = &p.raw else { continue };
        // The same layout as the defaults in anontrack.toml: sourcedata/{original_id}, AnonDcm/{id}.
        let raw = root.join("sourcedata").join(&spec.original_id);
        files += synth::write_participant(&raw, spec)?.files.len();
        let profile = match p.anon {
            AnonFolder::None => continue,
            AnonFolder::Correct => &lab,
            AnonFolder::ByHandMissingTag => &by_hand,
        };
        let run = Anonymizer::new(profile)
            .date(date)
            .original_id(&spec.original_id)
            .study_id(&p.row.id)
            .anonymize_dir(
                &raw,
                &root.join("AnonDcm").join(&p.row.id),
                &crate::progress::NoProgress,
            )?;
        if !run.is_done() {
            return Err(Error::Usage(format!(
                "cannot prepare the demo: anonymizing participant `{}` found {} problem(s) (hint: this is a bug in anontrack; please report it)",
                p.row.id,
                run.findings.len()
            )));
        }
        files += run.written.len();
    }
    Ok(files)
}

/// Compares the workbook after `sync` with the design; returns one line per difference (empty
/// when the demo came out as designed).
pub fn check(table: &Table, participants: &[Participant]) -> Vec<String> {
    let mut out = Vec::new();
    for p in participants {
        let Some(row) = table.rows.iter().find(|r| r.id == p.row.id) else {
            out.push(format!("row for ID `{}` is missing", p.row.id));
            continue;
        };
        let got = (row.anonymization.state, row.check.state);
        if got != p.expect || row.excluded != p.row.excluded {
            out.push(format!(
                "ID `{}`: expected {:?}/{:?}{}, found {:?}/{:?}{}",
                p.row.id,
                p.expect.0,
                p.expect.1,
                if p.row.excluded { " (excluded)" } else { "" },
                got.0,
                got.1,
                if row.excluded { " (excluded)" } else { "" },
            ));
        }
        if let Some(want) = p.expect_note {
            let notes = [&row.anonymization.note, &row.check.note];
            if !notes
                .iter()
                .any(|n| n.as_deref().is_some_and(|n| n.contains(want)))
            {
                out.push(format!(
                    "ID `{}`: expected a note mentioning `{want}`",
                    p.row.id
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_participant_per_state_with_unique_ids() {
        let ps = participants();
        let mut ids: Vec<&str> = ps.iter().map(|p| p.row.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ps.len());
        assert!(ps.iter().any(|p| p.row.excluded && p.raw.is_none()));
        assert!(ps.iter().any(|p| p.anon == AnonFolder::ByHandMissingTag));
        assert!(
            ps.iter()
                .any(|p| p.raw.as_ref().is_some_and(|s| s.faults.name_in_private))
        );
        // Only synth's made-up names.
        for spec in ps.iter().filter_map(|p| p.raw.as_ref()) {
            assert!(synth::FAKE_NAMES.contains(&spec.patient_name.as_str()));
        }
    }

    #[test]
    fn explicit_dir_must_be_missing_or_empty() {
        let base = tempfile::tempdir().unwrap();
        let missing = base.path().join("new");
        assert_eq!(choose_dir(Some(&missing), base.path()).unwrap(), missing);
        std::fs::create_dir(&missing).unwrap();
        assert_eq!(choose_dir(Some(&missing), base.path()).unwrap(), missing);
        std::fs::write(missing.join("x"), "x").unwrap();
        let err = choose_dir(Some(&missing), base.path()).unwrap_err();
        assert!(err.to_string().contains("not an empty folder"), "{err}");
        let file = base.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(choose_dir(Some(&file), base.path()).is_err());
    }

    #[test]
    fn default_dir_counts_up_past_taken_ones() {
        let base = tempfile::tempdir().unwrap();
        let first = choose_dir(None, base.path()).unwrap();
        assert_eq!(first, base.path().join(DEFAULT_DIR));
        std::fs::create_dir(&first).unwrap();
        // Empty: still usable.
        assert_eq!(choose_dir(None, base.path()).unwrap(), first);
        std::fs::write(first.join("x"), "x").unwrap();
        assert_eq!(
            choose_dir(None, base.path()).unwrap(),
            base.path().join(format!("{DEFAULT_DIR}-2"))
        );
    }

    #[test]
    fn write_study_lays_out_the_workbook_and_folders() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("d");
        let date = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
        let study = write_study(&dir, date).unwrap();
        assert!(study.workbook.is_file());
        assert!(dir.join(config::FILE_NAME).is_file());
        assert!(dir.join("sourcedata/58102").is_dir());
        assert!(!dir.join("sourcedata/58106").exists());
        assert!(dir.join("AnonDcm/103").is_dir());
        assert!(!dir.join("AnonDcm/102").exists());
        // Nothing left beside it but the demo folder.
        let names: Vec<_> = std::fs::read_dir(base.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["d"]);
        // Before sync, the workbook reads as designed-before-sync, not as the expected outcome.
        let table =
            crate::sheet::read::read_table(&study.workbook, &config::ColumnNames::default())
                .unwrap();
        assert_eq!(table.rows.len(), study.participants.len());
        assert!(!check(&table, &study.participants).is_empty());
        // A second write into the now non-empty folder is refused by the rename.
        assert!(write_study(&dir, date).is_err());
    }
}
