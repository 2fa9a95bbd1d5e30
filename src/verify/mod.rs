//! The second reviewer, automated: compares each anonymized file with its raw file at the value
//! level, independently of the writer, and sweeps for residual PHI.
//!
//! This module shares nothing with [`crate::anonymize`] but the profile (the list of what should
//! change), so a mistake in the writer cannot hide itself here. Each raw and anonymized file is
//! read once and parsed once by [`parse`], the verifier's own reader (values borrowed from the
//! file's bytes, pixel data compared as bytes, never decoded; allocations bounded by the bytes
//! present; nesting walked iteratively with a depth limit), and compared value by value, so
//! folders anonymized by hand in DicomBrowser or by other tools that re-encode are checked too.
//! It never writes: not to the raw tree, not to the anonymized one. Submodules: [`parse`]
//! (reading a file), [`tree`] (listing and pairing files), [`compare`] (the lab profile and
//! element-by-element checks), [`standard`] (the standard profiles, action by action),
//! [`keyed`] (the verifier's own keyed values), [`blob`] (retained private values recomputed
//! position by position), [`sweep`] (residual PHI), [`leftovers`] (what a profile leaves
//! behind), [`aggregate`] (ordering and merging the findings of many files).
//!
//! ```no_run
//! # use anontrack::{anonymize::Profile, verify::Verifier};
//! # fn main() -> anontrack::Result<()> {
//! let profile = Profile::lab();
//! let report = Verifier::new(&profile)
//!     .original_id("101")
//!     .study_id("sub-01")
//!     .verify_dir("raw/101".as_ref(), "AnonDcm/sub-01".as_ref(), &anontrack::progress::NoProgress)?;
//! assert!(report.passed);
//! # Ok(()) }
//! ```

pub mod aggregate;
pub mod blob;
pub mod compare;
pub mod keyed;
pub mod leftovers;
pub mod parse;
pub mod standard;
pub mod sweep;
pub mod tree;

use crate::anonymize::profile::{Action, Profile};
use crate::error::Result;
use crate::finding::{Finding, TagRef};
use crate::progress::Progress;
use chrono::NaiveDate;
use compare::DateRule;
use dicom_core::Tag;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_dictionary_std::StandardDataDictionary;
use rayon::prelude::*;
use serde::Serialize;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use sweep::Needles;

/// How serious a finding is; findings are listed most serious first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    /// The participant's name, ID or birth date left somewhere: a leak.
    Phi,
    /// A profile element without its target value, or added.
    Profile,
    /// A file missing, extra, truncated or unreadable.
    File,
    /// Any other element or the pixel data changed, missing or added.
    Changed,
}

/// A finding with its rank, before sorting and merging.
#[derive(Debug, Clone)]
pub struct Ranked {
    pub rank: Rank,
    pub finding: Finding,
}

/// What `verify_dir` found for one participant.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The profile checked against.
    pub profile: String,
    /// True when there are no findings.
    pub passed: bool,
    /// DICOM files compared with their anonymized copy.
    pub files_checked: usize,
    /// Raw DICOM files without an anonymized copy.
    pub files_missing: usize,
    /// Files in the anonymized folder without a raw DICOM original.
    pub files_extra: usize,
    /// Raw files that are not DICOM (notes, DICOMDIR): expected absent from the anonymized folder.
    pub files_not_dicom: usize,
    /// The AcquisitionDate required, when the run's date was given.
    pub run_date: Option<NaiveDate>,
    /// Most serious first, in a fixed order; repeats across files merged (see [`aggregate`]).
    pub findings: Vec<Finding>,
    /// What the profile leaves behind, when asked for (see [`Verifier::leftovers`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leftovers: Option<leftovers::Leftovers>,
}

/// The verifier, configured like dicom-object's `OpenFileOptions`.
#[derive(Debug, Clone)]
pub struct Verifier<'p> {
    profile: &'p Profile,
    original_id: Option<String>,
    study_id: Option<String>,
    dates: DateRule,
    /// The profile's replacement values, lowercase and each once: never PHI needles.
    exclude: Vec<String>,
    /// The study key, for recomputing keyed UIDs and the date offset (standard profiles).
    key: Option<keyed::Key>,
    /// The participant's date offset, from the key and the original ID when both are known.
    offset: Option<i64>,
    /// The Basic profile's rules, when leftovers are counted.
    basic: Option<crate::deid::Rules>,
    /// The lab-style profile's tags, sorted (checked by their rule, skipped elsewhere).
    rule_tags: Vec<Tag>,
    /// The lab-style profile's rules in tag order, for [`compare::check_profile`].
    rule_order: compare::RuleOrder,
    /// The lab-style profile's tags that get the run's date, sorted: the profile's own value,
    /// never a leftover.
    run_date_tags: Vec<Tag>,
    /// Names this verifier's rules in the per-thread cache of actions ([`standard::action`]).
    token: u64,
}

/// The running result of a participant's files, folded in one by one.
struct VerifyAcc {
    checked: usize,
    missing: usize,
    /// Indices (in the raw listing) of the files that are not DICOM.
    not_dicom: Vec<usize>,
    /// The union of every raw file's needles (a folder's files normally share them).
    needles: Needles,
    /// The shared needles last added: the same again adds nothing.
    last: Option<Arc<Needles>>,
    /// (index, fingerprint) of each compared file's needles, to sweep again with the union.
    swept: Vec<(usize, u64)>,
    tally: leftovers::Tally,
    /// (file index, tag, original, new) UID pairs, as hashes.
    uid_pairs: Vec<(usize, Tag, u64, u64)>,
    findings: Vec<Ranked>,
}

impl VerifyAcc {
    /// Empty, but with the needles every file has: the original ID.
    fn new(original_id: Option<&str>, exclude: &[String]) -> Self {
        Self {
            checked: 0,
            missing: 0,
            not_dicom: Vec::new(),
            needles: Needles::from_raw(&[], original_id, exclude, None),
            last: None,
            swept: Vec::new(),
            tally: leftovers::Tally::default(),
            uid_pairs: Vec::new(),
            findings: Vec::new(),
        }
    }

    fn add(&mut self, i: usize, r: Checked) {
        self.checked += usize::from(r.compared);
        self.missing += usize::from(r.missing);
        if r.not_dicom {
            self.not_dicom.push(i);
        }
        if let Some(n) = r.needles
            && !self.last.as_ref().is_some_and(|l| Arc::ptr_eq(l, &n))
        {
            self.needles.extend((*n).clone());
            self.last = Some(n);
        }
        if let Some(fp) = r.swept_with {
            self.swept.push((i, fp));
        }
        if let Some(t) = r.tally {
            self.tally.merge(t);
        }
        self.uid_pairs
            .extend(r.uid_pairs.into_iter().map(|(t, o, n)| (i, t, o, n)));
        self.findings.extend(r.findings);
    }

    fn merge(mut self, other: Self) -> Self {
        self.checked += other.checked;
        self.missing += other.missing;
        self.not_dicom.extend(other.not_dicom);
        self.needles.extend(other.needles);
        self.swept.extend(other.swept);
        self.tally.merge(other.tally);
        self.uid_pairs.extend(other.uid_pairs);
        self.findings.extend(other.findings);
        self
    }
}

/// The outcome for one raw file.
#[derive(Debug, Default)]
struct Checked {
    findings: Vec<Ranked>,
    needles: Option<Arc<Needles>>,
    /// The needles' fingerprint the anonymized file was swept with (compared files only).
    swept_with: Option<u64>,
    /// What the file leaves behind, when counted.
    tally: Option<leftovers::Tally>,
    /// The file's (tag, original, new) UID pairs, as hashes (standard profiles).
    uid_pairs: Vec<(Tag, u64, u64)>,
    compared: bool,
    missing: bool,
    not_dicom: bool,
}

impl<'p> Verifier<'p> {
    /// A verifier for `profile`, with today's local date and no run date.
    pub fn new(profile: &'p Profile) -> Self {
        let mut rule_tags: Vec<Tag> = profile
            .rules
            .iter()
            .map(|r| Tag(r.tag.0, r.tag.1))
            .collect();
        rule_tags.sort_unstable();
        let mut run_date_tags: Vec<Tag> = profile
            .rules
            .iter()
            .filter(|r| matches!(r.action, Action::RunDate))
            .map(|r| Tag(r.tag.0, r.tag.1))
            .collect();
        run_date_tags.sort_unstable();
        let mut exclude: Vec<String> = profile
            .rules
            .iter()
            .filter_map(|r| match &r.action {
                Action::Replace(v) => Some(v.to_lowercase()),
                _ => None,
            })
            .collect();
        if profile.standard.is_some() {
            // A file anonymized before holds such placeholders as its name, ID or station:
            // no one's identity (the lab profile's needles stay as they always were).
            exclude.extend(["anonymized".to_string(), "anonymous".to_string()]);
        }
        // Each value once: the lab profile replaces 18 elements with the same `Anonymous`, and
        // every candidate needle of every file is checked against each value.
        exclude.sort_unstable();
        exclude.dedup();
        Self {
            profile,
            original_id: None,
            study_id: None,
            dates: DateRule {
                run_date: None,
                today: chrono::Local::now().date_naive(),
            },
            exclude,
            key: None,
            offset: None,
            basic: None,
            rule_tags,
            rule_order: compare::RuleOrder::new(profile),
            run_date_tags,
            token: standard::rules_token(),
        }
    }

    /// Counts what the profile leaves behind (see [`leftovers`]) into the report.
    pub fn leftovers(mut self, yes: bool) -> Self {
        self.basic = yes.then(leftovers::basic);
        self
    }

    /// The study key (`.anontrack/study.key`): with it, a standard profile's UIDs and shifted
    /// dates must equal what the verifier recomputes from it; without it, UIDs need only be
    /// valid and new, and dates only moved.
    pub fn key(mut self, key: keyed::Key) -> Self {
        self.key = Some(key);
        self.with_offset()
    }

    /// [`Self::offset`] recomputed after the key or the original ID was set.
    fn with_offset(mut self) -> Self {
        self.offset = self
            .key
            .as_ref()
            .zip(self.original_id.as_deref())
            .map(|(k, id)| k.date_offset(id, keyed::OFFSET_DAYS));
        self
    }

    /// The participant's original ID (the sheet's): searched for everywhere, and replaced by the
    /// study ID in anonymized file and folder names.
    pub fn original_id(mut self, id: &str) -> Self {
        self.original_id = Some(id.trim().to_string()).filter(|s| !s.is_empty());
        self.with_offset()
    }

    /// The study ID that takes the original ID's place in anonymized file and folder names.
    pub fn study_id(mut self, id: &str) -> Self {
        self.study_id = Some(id.trim().to_string()).filter(|s| !s.is_empty());
        self
    }

    /// The date the anonymizing run used, if known: AcquisitionDate must then equal it.
    /// Without it (folders done by hand), any valid date that differs from the raw one and is
    /// not after [`today`](Self::today) passes.
    pub fn run_date(mut self, date: Option<NaiveDate>) -> Self {
        self.dates.run_date = date;
        self
    }

    /// The date no AcquisitionDate may be after (default: today, local time).
    pub fn today(mut self, date: NaiveDate) -> Self {
        self.dates.today = date;
        self
    }

    /// Verifies a participant's anonymized folder against its raw folder.
    ///
    /// Errors only when a folder is missing or cannot be listed; every problem in the files is a
    /// finding. `progress` advances once per raw file (pass [`NoProgress`](crate::progress::NoProgress) for none).
    pub fn verify_dir(
        &self,
        raw: &Path,
        anon: &Path,
        progress: &dyn Progress,
    ) -> Result<VerifyReport> {
        self.session(raw, anon)?.finish(progress)
    }

    /// A participant's check in two halves, for a caller that writes the anonymized folder
    /// itself (`sync`): [`Session::check_written`] checks one file as soon as its anonymized copy
    /// is in place, while both files are still in the processor's cache, and
    /// [`Session::finish`] checks every file not checked yet and then the folder as a whole.
    /// The verifier still reads both files from disk itself and names the anonymized file by
    /// its own rule; the writer only says which raw file it is done with. The report equals
    /// [`verify_dir`](Self::verify_dir)'s after the writer is done.
    ///
    /// Errors when the raw folder is missing or cannot be listed, or the folders overlap.
    pub fn session<'v>(&'v self, raw: &Path, anon: &Path) -> Result<Session<'v, 'p>> {
        let raw_list = tree::list(raw)?;
        // Like `anonymize`: the anonymized folder must not be, or lie inside, the raw one.
        crate::folder::check_apart(raw, anon)?;
        let done = raw_list
            .files
            .iter()
            .map(|_| AtomicBool::new(false))
            .collect();
        Ok(Session {
            verifier: self,
            raw: raw.to_path_buf(),
            anon: anon.to_path_buf(),
            raw_list,
            done,
            early: Mutex::new(Vec::new()),
        })
    }

    /// Where the anonymized copy of the raw file `raw_rel` should be, by the verifier's own
    /// naming rule ([`tree::map_rel`]). Under a standard profile, UIDs in names get their keyed
    /// UIDs (the lab profile renames only the ID); without the key the names cannot be mapped,
    /// so such files show as missing.
    fn anon_rel(&self, raw_rel: &str) -> String {
        let uids = self.profile.standard.as_ref().and(self.key.as_ref());
        tree::map_rel(
            raw_rel,
            self.original_id.as_deref(),
            self.study_id.as_deref(),
            uids,
        )
    }

    /// The outcome of the raw file `raw_rel` (index `i` in the raw listing), whose anonymized
    /// copy is `anon_rel`; `has_anon` says whether that copy is in the anonymized listing.
    fn check_listed(
        &self,
        raw: &Path,
        anon: &Path,
        raw_rel: &str,
        anon_rel: String,
        has_anon: bool,
    ) -> Checked {
        let raw_path = tree::join(raw, raw_rel);
        let not_dicom = || Checked {
            not_dicom: true,
            ..Checked::default()
        };
        if has_anon {
            let anon_path = tree::join(anon, &anon_rel);
            self.check_present(&raw_path, || parse::read_file(&anon_path), &anon_rel)
        } else if !tree::is_dicom(&raw_path) {
            not_dicom()
        } else {
            // Read anyway: its needles (a name only this file holds) are the participant's, to
            // be looked for in every other anonymized file.
            let bytes = std::fs::read(&raw_path).ok();
            let scratch = parse::Scratch::default();
            let parsed = bytes.as_deref().map(|b| parse::read(b, &scratch));
            match parsed {
                Some(Err(unfit)) if unfit != parse::Unfit::Broken => {
                    // No copy because the raw file itself is broken (the anonymizer refuses
                    // it): say that, rather than blame the anonymized folder.
                    Checked {
                        findings: vec![Ranked {
                            rank: Rank::File,
                            finding: Finding::new(format!(
                                "raw file {}, so it has no anonymized copy",
                                unfit.reason()
                            ))
                            .file(anon_rel),
                        }],
                        ..Checked::default()
                    }
                }
                _ => Checked {
                    findings: vec![Ranked {
                        rank: Rank::File,
                        finding: Finding::new("missing").file(anon_rel),
                    }],
                    needles: parsed
                        .and_then(Result::ok)
                        .map(|f| self.needles_of(&f.root).0),
                    missing: true,
                    ..Checked::default()
                },
            }
        }
    }

    /// The outcome of the raw file at `raw_path` whose anonymized copy `anon_rel` exists:
    /// `anon` reads that copy, only if the raw file is DICOM.
    fn check_present(
        &self,
        raw_path: &Path,
        anon: impl FnOnce() -> std::io::Result<parse::Bytes>,
        anon_rel: &str,
    ) -> Checked {
        // Read once: the signature is checked on the bytes that are parsed.
        let bytes = parse::read_file(raw_path).ok();
        let dicom = match &bytes {
            Some(b) => tree::is_signed(b),
            None => tree::is_dicom(raw_path),
        };
        if dicom {
            self.check_read(bytes, anon(), anon_rel)
        } else {
            Checked {
                not_dicom: true,
                ..Checked::default()
            }
        }
    }

    /// [`Session::finish`]: the files not checked yet, then the folder as a whole.
    fn finish_session(
        &self,
        session: Session<'_, '_>,
        progress: &dyn Progress,
    ) -> Result<VerifyReport> {
        let Session {
            raw,
            anon,
            raw_list,
            done,
            early,
            ..
        } = session;
        let (raw, anon) = (raw.as_path(), anon.as_path());
        let anon_list = tree::list(anon)?;
        // Sorted, so a binary search stands in for a set of the anonymized names.
        let has_anon = |rel: &str| {
            anon_list
                .files
                .binary_search_by(|f| f.as_str().cmp(rel))
                .is_ok()
        };
        let original = self.original_id.as_deref();
        let todo: Vec<usize> = (0..raw_list.files.len())
            .filter(|&i| !done[i].load(Ordering::Relaxed))
            .collect();
        // No pass at all when every file was checked as it was written.
        let passes = !todo.is_empty();
        if passes {
            progress.start(todo.len() as u64);
        }
        // Each file's outcome is folded in as it comes: counts, the union of the needles, and
        // the findings (none for a passing file); nothing else is kept per file.
        let acc = todo
            .par_iter()
            .inspect(|_| progress.file_done())
            .fold(
                || VerifyAcc::new(original, &self.exclude),
                |mut acc, &i| {
                    let raw_rel = &raw_list.files[i];
                    let anon_rel = self.anon_rel(raw_rel);
                    let present = has_anon(&anon_rel);
                    acc.add(i, self.check_listed(raw, anon, raw_rel, anon_rel, present));
                    acc
                },
            )
            .reduce(|| VerifyAcc::new(original, &self.exclude), VerifyAcc::merge);
        let early = early.into_inner().unwrap_or_else(|e| e.into_inner());
        let acc = early.into_iter().fold(acc, VerifyAcc::merge);
        if passes {
            progress.finish();
        }

        let mut report = VerifyReport {
            profile: self.profile.name.clone(),
            passed: false,
            files_checked: acc.checked,
            files_missing: acc.missing,
            files_extra: 0,
            files_not_dicom: acc.not_dicom.len(),
            run_date: self.dates.run_date,
            findings: Vec::new(),
            leftovers: None,
        };
        let tally = acc.tally;
        let mut findings = acc.findings;
        // Links the listing would not follow (the study's one rule, shared with the writer).
        for link in raw_list.refused.iter().chain(&anon_list.refused) {
            findings.push(Ranked {
                rank: Rank::File,
                finding: link.finding(),
            });
        }
        for (i, tag, msg) in standard::inconsistent(acc.uid_pairs) {
            findings.push(Ranked {
                rank: Rank::Profile,
                finding: Finding::new(format!("{} {msg}", keyword(tag)))
                    .tag(tag.0, tag.1)
                    .file(self.anon_rel(&raw_list.files[i])),
            });
        }
        report.leftovers = self.basic.as_ref().map(|_| tally.finish());
        let needles = acc.needles;
        // A name or ID one raw file holds (as PatientName, say) must be absent from every
        // anonymized file, also where that file's own raw copy holds it elsewhere (only as
        // OtherPatientNames, say). Files swept with fewer needles than the participant's union
        // are swept again with all of them; their first sweep's PHI findings give way.
        let union = needles.fingerprint();
        let again: Vec<usize> = acc
            .swept
            .iter()
            .filter(|(_, fp)| *fp != union)
            .map(|(i, _)| *i)
            .collect();
        let resweep: Vec<(String, Vec<Ranked>)> = again
            .par_iter()
            .map(|&i| {
                let rel = self.anon_rel(&raw_list.files[i]);
                let out = self.sweep_file(&tree::join(anon, &rel), &needles);
                (rel, out)
            })
            .collect();
        for (rel, out) in resweep {
            findings.retain(|f| !(f.rank == Rank::Phi && f.finding.file.as_deref() == Some(&rel)));
            findings.extend(out.into_iter().map(|mut r| {
                r.finding.file = Some(rel.clone());
                r
            }));
        }
        // Anonymized files no raw DICOM file maps to: one flag per anonymized file.
        let mut expected = vec![false; anon_list.files.len()];
        let mut not_dicom = acc.not_dicom;
        not_dicom.sort_unstable();
        for (i, raw_rel) in raw_list.files.iter().enumerate() {
            if not_dicom.binary_search(&i).is_ok() {
                continue;
            }
            let anon_rel = self.anon_rel(raw_rel);
            if let Ok(j) = anon_list
                .files
                .binary_search_by(|f| f.as_str().cmp(&anon_rel))
            {
                expected[j] = true;
            }
        }
        for (extra, _) in anon_list.files.iter().zip(&expected).filter(|(_, e)| !**e) {
            report.files_extra += 1;
            findings.push(Ranked {
                rank: Rank::File,
                finding: Finding::new("extra file").file(extra.clone()),
            });
        }
        // Names of the anonymized folder itself, its files and subfolders: no PHI allowed.
        let root_name = anon
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let names = std::iter::once(root_name.as_str())
            .chain(anon_list.dirs.iter().flat_map(|d| d.rsplit('/').next()))
            .chain(anon_list.files.iter().flat_map(|f| f.rsplit('/').next()));
        let mut leaks = std::collections::BTreeMap::new();
        for name in names {
            if let Some(kind) = needles.find(name) {
                *leaks.entry(kind).or_insert(0usize) += 1;
            }
        }
        for (kind, n) in leaks {
            let what = kind.what();
            let names = if n == 1 { "name holds" } else { "names hold" };
            findings.push(Ranked {
                rank: Rank::Phi,
                finding: Finding::new(format!("{n} file or folder {names} {what}")),
            });
        }
        // File paths go into findings: never with PHI in them.
        for f in &mut findings {
            if let Some(file) = &f.finding.file {
                f.finding.file = Some(needles.redact(file));
            }
        }
        report.findings = aggregate::finish(findings);
        report.passed = report.findings.is_empty();
        Ok(report)
    }

    /// Verifies one anonymized file against its raw file; findings name the anonymized file.
    pub fn verify_file(&self, raw: &Path, anon: &Path) -> Vec<Finding> {
        let name = anon
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let checked = self.check_pair(raw, anon, &name);
        let mut findings = checked.findings;
        if let Some(n) = &checked.needles {
            for f in &mut findings {
                if let Some(file) = &f.finding.file {
                    f.finding.file = Some(n.redact(file));
                }
            }
        }
        aggregate::sorted(findings)
    }

    /// Compares one pair of files; `rel` names the anonymized file in findings.
    fn check_pair(&self, raw: &Path, anon: &Path, rel: &str) -> Checked {
        self.check_read(parse::read_file(raw).ok(), parse::read_file(anon), rel)
    }

    /// [`check_pair`](Self::check_pair) with both files already read (raw `None`: the read
    /// failed). Each file is read once and parsed once by [`parse`], the verifier's own
    /// reader; nothing is decoded or copied.
    fn check_read(
        &self,
        raw_bytes: Option<parse::Bytes>,
        anon_bytes: std::io::Result<parse::Bytes>,
        rel: &str,
    ) -> Checked {
        let file_finding = |msg: &str| Ranked {
            rank: Rank::File,
            finding: Finding::new(msg).file(rel),
        };
        let Some(raw_bytes) = raw_bytes else {
            return Checked {
                findings: vec![file_finding("raw file cannot be read")],
                ..Checked::default()
            };
        };
        let raw_scratch = parse::Scratch::default();
        let raw_file = match parse::read(&raw_bytes, &raw_scratch) {
            Ok(f) => f,
            Err(why) => {
                return Checked {
                    findings: vec![file_finding(&format!("raw file {}", why.reason()))],
                    ..Checked::default()
                };
            }
        };
        let (needles, fingerprint) = self.needles_of(&raw_file.root);
        let anon_scratch = parse::Scratch::default();
        let anon_file = match &anon_bytes {
            Ok(b) => parse::read(b, &anon_scratch),
            Err(_) => Err(parse::Unfit::Broken),
        };
        let anon_file = match anon_file {
            Ok(f) => f,
            Err(why) => {
                let shorter = anon_bytes.as_ref().is_ok_and(|b| b.len() < raw_bytes.len());
                let msg = match why {
                    parse::Unfit::LengthBeyondEnd | parse::Unfit::Broken if shorter => "truncated",
                    other => other.reason(),
                };
                return Checked {
                    findings: vec![file_finding(msg)],
                    needles: Some(needles),
                    ..Checked::default()
                };
            }
        };
        warn_charset(&anon_file.root);
        let mut out = Vec::new();
        let mut uid_pairs = Vec::new();
        if let Some(rules) = &self.profile.standard {
            if raw_file.meta.sop_class != anon_file.meta.sop_class {
                out.push(Ranked {
                    rank: Rank::Changed,
                    finding: Finding::new("MediaStorageSOPClassUID changed").tag(0x0002, 0x0002),
                });
            }
            let offset = self.offset;
            let blob = offset
                .filter(|_| standard::Ctx::keeps_private(rules))
                .map(|days| {
                    blob::Ids::from_raw(&raw_file.root, self.original_id.as_deref(), rules, days)
                });
            let ctx = standard::Ctx {
                rules,
                token: self.token,
                key: self.key.as_ref(),
                offset,
                study_id: self.study_id.as_deref(),
                pairs: Default::default(),
                blob,
            };
            standard::check(&ctx, &raw_file, &anon_file, &mut out);
            uid_pairs = ctx.pairs.into_inner();
        } else {
            compare::compare_meta(&raw_file.meta, &anon_file.meta, &mut out);
            compare::check_profile(
                self.profile,
                &self.rule_order,
                self.dates,
                &raw_file,
                &anon_file,
                &mut out,
            );
            compare::compare_elements(&self.rule_order, &raw_file, &anon_file, &mut out);
        }
        needles.sweep(&anon_file.root, &self.sweep_skip(), &mut out);
        if self.profile.standard.is_some() {
            // The sweep and the blob check may both see a name left in a kept private value.
            out.sort_by(|a, b| {
                (a.rank, a.finding.tag, &a.finding.message).cmp(&(
                    b.rank,
                    b.finding.tag,
                    &b.finding.message,
                ))
            });
            out.dedup_by(|a, b| {
                a.rank == b.rank
                    && a.finding.tag == b.finding.tag
                    && a.finding.message == b.finding.message
            });
        }
        for r in &mut out {
            r.finding.file = Some(rel.to_string());
        }
        let tally = self.basic.as_ref().map(|basic| {
            let mut t = leftovers::Tally::default();
            t.add(
                basic,
                &self.exclude,
                &self.run_date_tags,
                &raw_file.root,
                &anon_file.root,
            );
            t
        });
        Checked {
            findings: out,
            uid_pairs,
            tally,
            swept_with: Some(fingerprint),
            needles: Some(needles),
            compared: true,
            ..Checked::default()
        }
    }
}

/// A participant's check begun before its anonymized files are all written (see
/// [`Verifier::session`]). Shared by the writer's threads: [`check_written`](Self::check_written)
/// takes `&self`.
pub struct Session<'v, 'p> {
    verifier: &'v Verifier<'p>,
    raw: PathBuf,
    anon: PathBuf,
    raw_list: tree::Listing,
    /// One flag per raw file: checked already.
    done: Vec<AtomicBool>,
    /// What the early checks found, folded per thread; a thread takes one out while it works.
    early: Mutex<Vec<VerifyAcc>>,
}

impl Session<'_, '_> {
    /// Checks the raw file `raw_rel` (relative to the raw folder, `/`-separated) against its
    /// anonymized copy, which the caller has just put in place. A file the raw listing does
    /// not hold, one checked already or one whose copy cannot be found is left to
    /// [`finish`](Self::finish), which then judges it as `verify` would.
    pub fn check_written(&self, raw_rel: &str) {
        let v = self.verifier;
        let files = &self.raw_list.files;
        let Ok(i) = files.binary_search_by(|f| f.as_str().cmp(raw_rel)) else {
            return;
        };
        if self.done[i].swap(true, Ordering::Relaxed) {
            return;
        }
        let anon_rel = v.anon_rel(raw_rel);
        let anon_bytes = parse::read_file(&tree::join(&self.anon, &anon_rel));
        if anon_bytes
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            // Not where the verifier looks for it: `finish` reports it from the listings.
            self.done[i].store(false, Ordering::Relaxed);
            return;
        }
        let raw_path = tree::join(&self.raw, raw_rel);
        let checked = v.check_present(&raw_path, || anon_bytes, &anon_rel);
        let lock = || self.early.lock().unwrap_or_else(|e| e.into_inner());
        let mut acc = lock()
            .pop()
            .unwrap_or_else(|| VerifyAcc::new(v.original_id.as_deref(), &v.exclude));
        acc.add(i, checked);
        lock().push(acc);
    }

    /// How many raw files are not checked yet: [`finish`](Self::finish) checks them (one
    /// pass of its progress).
    pub fn unchecked(&self) -> usize {
        self.done
            .iter()
            .filter(|d| !d.load(Ordering::Relaxed))
            .count()
    }

    /// Checks every raw file not checked yet (`progress` advances once per such file), then
    /// the folder as a whole: missing and extra files, file and folder names, every file again
    /// with the needles of all raw files. Errors when the anonymized folder cannot be listed.
    pub fn finish(self, progress: &dyn Progress) -> Result<VerifyReport> {
        self.verifier.finish_session(self, progress)
    }
}

impl Verifier<'_> {
    /// The needles of one raw file (see [`Needles::from_raw`]): under a standard profile also
    /// staff names, identity attributes, original UIDs and dates, except those whose original
    /// value the profile keeps.
    /// Returned shared, with their fingerprint; the lab profile's are built once per
    /// participant and thread ([`Needles::patient_shared`]).
    fn needles_of(&self, raw: &[parse::Elem<'_>]) -> (Arc<Needles>, u64) {
        if self.profile.name == "lab" {
            return Needles::patient_shared(raw, self.original_id.as_deref(), &self.exclude);
        }
        let kept = |tag: Tag, vr: &[u8]| {
            let Some(rules) = &self.profile.standard else {
                return false;
            };
            let t = crate::finding::TagRef(tag.0, tag.1);
            let act = match <[u8; 2]>::try_from(vr) {
                Ok(vr) => standard::action(rules, self.token, t, vr),
                Err(_) => rules.action(t, dicom_core::VR::UN),
            };
            matches!(act, crate::deid::Act::Keep | crate::deid::Act::Clean)
        };
        let needles =
            Needles::from_raw(raw, self.original_id.as_deref(), &self.exclude, Some(&kept));
        let fingerprint = needles.fingerprint();
        (Arc::new(needles), fingerprint)
    }

    /// Top-level elements the residual sweep leaves alone: the lab-style profile's own
    /// elements, and under a standard profile the de-identification block the writer adds (its
    /// fixed words, such as `Retain Patient Characteristics Option`, are nobody's).
    /// The sweep asks in ascending tag order, so the profile's tags are looked up by a cursor.
    fn sweep_skip(&self) -> impl Fn(Tag) -> bool + '_ {
        let rules = compare::TagSet::new(&self.rule_tags);
        let standard = self.profile.standard.is_some();
        move |t: Tag| rules.contains(t) || (standard && standard::may_be_added(t))
    }

    /// The residual sweep alone over one anonymized file, with `needles`.
    fn sweep_file(&self, anon: &Path, needles: &Needles) -> Vec<Ranked> {
        let mut out = Vec::new();
        let Ok(bytes) = parse::read_file(anon) else {
            return out;
        };
        let scratch = parse::Scratch::default();
        if let Ok(f) = parse::read(&bytes, &scratch) {
            needles.sweep(&f.root, &self.sweep_skip(), &mut out);
        }
        out
    }
}

/// Logs (with `-v`) a file whose SpecificCharacterSet the sweep does not decode: its text is
/// searched as UTF-8 or Latin-1, so a name written in another character set may be missed.
fn warn_charset(root: &[parse::Elem<'_>]) {
    let Some(cs) = sweep::element_text(root, Tag(0x0008, 0x0005)) else {
        return;
    };
    let known = [
        "",
        "ISO_IR 6",
        "ISO_IR 100",
        "ISO_IR 192",
        "ISO 2022 IR 6",
        "ISO 2022 IR 100",
    ];
    for term in cs.split('\\').map(str::trim) {
        if !known.contains(&term) {
            tracing::info!(
                "a file declares the character set `{term}`, which verify reads as UTF-8 or \
                 Latin-1: a name written in it may escape the sweep"
            );
        }
    }
}

/// A tag in the lab's notation, for messages: `(0008,1140)`.
pub(crate) fn tag_ref(tag: Tag) -> TagRef {
    TagRef(tag.0, tag.1)
}

/// The name of an element for messages: its dictionary keyword, or `private element`.
pub(crate) fn keyword(tag: Tag) -> Cow<'static, str> {
    if !tag.0.is_multiple_of(2) {
        return Cow::Borrowed("private element");
    }
    match StandardDataDictionary.by_tag(tag) {
        Some(e) => Cow::Owned(e.alias().to_string()),
        None => Cow::Borrowed("element"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report's file counts: checked, missing, extra, not DICOM.
    fn counts(r: &VerifyReport) -> (usize, usize, usize, usize) {
        (
            r.files_checked,
            r.files_missing,
            r.files_extra,
            r.files_not_dicom,
        )
    }

    /// The branches of the per-file fold: a non-DICOM file with a copy (not DICOM, and its copy
    /// extra), a signed file without a copy (missing), a signed unparsable one with a copy.
    #[test]
    fn files_are_classed_and_counted_as_they_are_folded() {
        let t = tempfile::tempdir().unwrap();
        let (raw, anon) = (t.path().join("raw"), t.path().join("anon"));
        std::fs::create_dir_all(raw.join("101")).unwrap();
        std::fs::create_dir_all(anon.join("sub")).unwrap();
        let mut signed = vec![0u8; 128];
        signed.extend_from_slice(b"DICM");
        std::fs::write(raw.join("notes.txt"), b"notes").unwrap();
        std::fs::write(anon.join("notes.txt"), b"notes").unwrap();
        std::fs::write(raw.join("101/a.dcm"), &signed).unwrap();
        std::fs::write(raw.join("101/b.dcm"), &signed).unwrap();
        // A raw file cut short: its meta element claims more bytes than the file has.
        let mut cut = signed.clone();
        cut.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I', 0xFF, 0x00, b'1']);
        std::fs::write(raw.join("101/c.dcm"), &cut).unwrap();
        std::fs::write(anon.join("sub/b.dcm"), &signed).unwrap();
        let profile = Profile::lab();
        let report = Verifier::new(&profile)
            .original_id("101")
            .study_id("sub")
            .verify_dir(&raw, &anon, &crate::progress::NoProgress)
            .unwrap();
        assert_eq!(counts(&report), (0, 1, 1, 1));
        let got: Vec<String> = report.findings.iter().map(|f| f.to_string()).collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(
            got.iter()
                .any(|f| f.starts_with("sub/c.dcm raw file unreadable")
                    && f.ends_with("so it has no anonymized copy")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|f| f.starts_with("sub/a.dcm") && f.contains("missing")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|f| f.starts_with("notes.txt") && f.contains("extra file")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|f| f.starts_with("sub/b.dcm") && f.contains("raw file")),
            "{got:?}"
        );
        assert!(!report.passed);
    }

    /// `sync`'s way: files checked one by one as they are written (in any order, some twice,
    /// one whose copy is missing, one the listing does not hold), the rest by `finish`. The
    /// report must be `verify_dir`'s, finding for finding.
    #[test]
    fn a_session_checked_file_by_file_reports_what_verify_dir_reports() {
        use crate::synth::{Faults, ParticipantSpec, write_participant};
        let t = tempfile::tempdir().unwrap();
        let (raw, anon) = (t.path().join("raw"), t.path().join("anon"));
        let faults = Faults {
            name_in_private: true,
            notes_file: true,
            ..Faults::default()
        };
        write_participant(&raw, &ParticipantSpec::new("5890001", 7).faults(faults)).unwrap();
        let listing = tree::list(&raw).unwrap();
        let dicom: Vec<&String> = listing
            .files
            .iter()
            .filter(|f| f.ends_with(".dcm"))
            .collect();
        assert_eq!(dicom.len(), 8);
        // Copies, unchanged: every profile element fails, the name is everywhere. One copy is
        // missing and one copy is altered; the anonymized folder has one file too many.
        for rel in &dicom[1..] {
            let to = tree::join(&anon, rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(tree::join(&raw, rel), &to).unwrap();
        }
        let altered = tree::join(&anon, dicom[3]);
        let mut bytes = std::fs::read(&altered).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xFF;
        std::fs::write(&altered, bytes).unwrap();
        std::fs::write(anon.join("extra.dcm"), b"not from the raw folder").unwrap();

        let profile = Profile::lab();
        let verifier = Verifier::new(&profile)
            .original_id("5890001")
            .study_id("S1");
        let whole = verifier
            .verify_dir(&raw, &anon, &crate::progress::NoProgress)
            .unwrap();
        let session = verifier.session(&raw, &anon).unwrap();
        assert_eq!(session.unchecked(), 9);
        for rel in dicom.iter().rev().chain(&dicom[2..4]) {
            session.check_written(rel);
        }
        session.check_written("no/such/file.dcm");
        // Left to `finish`: the notes and the file without a copy.
        assert_eq!(session.unchecked(), 2);
        let parts = session.finish(&crate::progress::NoProgress).unwrap();

        let json = |r: &VerifyReport| serde_json::to_string_pretty(r).unwrap();
        assert_eq!(json(&parts), json(&whole));
        assert_eq!(counts(&whole), (7, 1, 1, 1));
        let text: Vec<String> = whole.findings.iter().map(|f| f.to_string()).collect();
        assert!(
            text.iter().any(|f| f.contains("PixelData changed")),
            "{text:?}"
        );
        assert!(text.iter().any(|f| f.contains("missing")), "{text:?}");
    }
}
