//! One participant's folder, in two passes: list the raw files ([`crate::folder::list`]), run the
//! ID check on all of them (pass 1), then write the anonymized tree in parallel, mirroring
//! relative paths under the anon folder (pass 2). The result types are in [`super::run`].
//!
//! The raw folder is only ever opened for reading. Per-file trouble (truncated, unreadable)
//! becomes a finding and the other files go on; only what stops the whole participant (a
//! missing raw folder, an anon folder that cannot be made, overlapping folders) is an error.

use super::file::{self, Probe, Scratch};
use super::idcheck::{self, IdCheck, IdMismatch};
use super::output::{absolute, remove_stale_temps};
use super::run::{ParticipantRun, PrivateCreator, VrWarning, WrittenFile};
use super::{AfterWrite, Anonymizer, FileError};
use crate::error::{Error, Result};
use crate::finding::{Finding, TagRef};
use crate::folder::{self, RefusedLink, renamed};
use crate::progress::Progress;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Pass 1's running result: counts, and per file only the exceptions.
#[derive(Default)]
struct ProbeAcc {
    /// DICOM files whose identity fields match the original ID.
    passing: usize,
    /// The ID checks of DICOM files that do not match, by index.
    failing: Vec<(usize, IdCheck)>,
    /// Files not written, by index: `None` not DICOM or a DICOMDIR, `Some` unreadable.
    skipped: Vec<(usize, Option<Finding>)>,
}

impl ProbeAcc {
    fn merge(mut self, other: Self) -> Self {
        self.passing += other.passing;
        self.failing.extend(other.failing);
        self.skipped.extend(other.skipped);
        self
    }
}

/// Pass 2's running result: the report's counts, and per file only the exceptions.
#[derive(Default)]
struct WriteAcc {
    creators: BTreeMap<(TagRef, String), usize>,
    warnings: BTreeMap<(TagRef, String), usize>,
    /// Indices of deflated files.
    reencoded: Vec<usize>,
    /// Original UIDs replaced (only when mapping was asked for).
    uids: BTreeSet<String>,
    /// Indices of files not written: `None` not DICOM after all, `Some` the problem.
    failed: Vec<(usize, Option<Finding>)>,
}

impl WriteAcc {
    fn merge(mut self, other: Self) -> Self {
        for (k, n) in other.creators {
            *self.creators.entry(k).or_default() += n;
        }
        for (k, n) in other.warnings {
            *self.warnings.entry(k).or_default() += n;
        }
        self.reencoded.extend(other.reencoded);
        self.uids.extend(other.uids);
        self.failed.extend(other.failed);
        self
    }
}

impl Anonymizer<'_> {
    /// Anonymizes the participant folder `raw` into `anon`: ID check first (a mismatch writes
    /// nothing), then every DICOM file patched in parallel, `progress` advanced per file.
    ///
    /// Re-running redoes the participant: outputs are replaced, stale temp files removed.
    pub fn anonymize_dir(
        &self,
        raw: &Path,
        anon: &Path,
        progress: &dyn Progress,
    ) -> Result<ParticipantRun> {
        let (original, study) = match (&self.original_id, &self.study_id) {
            (Some(o), Some(s)) if !o.is_empty() && !s.is_empty() => (o.as_str(), s.as_str()),
            _ => {
                return Err(Error::Usage(
                    "anonymizing a folder needs both the original ID and the study ID".into(),
                ));
            }
        };
        if study.contains(['/', '\\']) || study == "." || study == ".." {
            return Err(Error::Usage(format!(
                "study ID `{study}` cannot be used in file names (hint: no slashes)"
            )));
        }
        if !raw.is_dir() {
            return Err(Error::MissingFolder {
                path: raw.to_path_buf(),
                hint: " (hint: check the raw folder path and that the drive is connected)".into(),
            });
        }
        folder::check_apart(raw, anon)?;
        let (given_raw, given_anon) = (raw.to_path_buf(), anon.to_path_buf());
        // Absolute paths once, so per-file work does not ask for the current folder.
        let (raw, anon) = (&absolute(raw), &absolute(anon));
        let listing = folder::list(raw)?;
        let files = listing.files;
        let mut run = ParticipantRun {
            raw: given_raw,
            anon: given_anon,
            profile: self.profile.name.clone(),
            date: self.date.format("%Y%m%d").to_string(),
            ..ParticipantRun::default()
        };
        progress.start(files.len() as u64);
        self.in_pool(|| {
            // Step 5 first: nothing is written unless every DICOM file is this participant's.
            // Folded as the files are probed: per file only what is not the common case (a
            // failing ID check, a file that is not DICOM or unreadable) is kept.
            let probed = files
                .par_iter()
                .enumerate()
                .fold(
                    || (Scratch::default(), ProbeAcc::default()),
                    |(mut s, mut acc), (i, rel)| {
                        match file::probe(&raw.join(rel), original, &mut s) {
                            Probe::NotDicom | Probe::Dicomdir => acc.skipped.push((i, None)),
                            Probe::Unreadable(e) => {
                                acc.skipped.push((i, Some(file_finding(rel, &e))))
                            }
                            Probe::Dicom(c) if c.passes() => acc.passing += 1,
                            Probe::Dicom(c) => acc.failing.push((i, c)),
                        }
                        progress.file_done();
                        (s, acc)
                    },
                )
                .map(|(_, acc)| acc)
                .reduce(ProbeAcc::default, ProbeAcc::merge);
            let ProbeAcc {
                passing,
                mut failing,
                mut skipped,
            } = probed;
            skipped.sort_unstable_by_key(|(i, _)| *i);
            for (i, f) in &mut skipped {
                match f.take() {
                    None => run.not_dicom.push(files[*i].clone()),
                    Some(f) => run.findings.push(f),
                }
            }
            let dicom = passing + failing.len();
            run.dicom_files = dicom + run.findings.len();
            if !failing.is_empty() {
                // Nothing is written. The failing files in listing order, whatever order the
                // threads found them in: the report names the first few.
                failing.sort_unstable_by_key(|(i, _)| *i);
                // The first few are named (read again, to mask their own ID and name in their
                // paths); the rest are only counted.
                let shown: Vec<String> = failing
                    .iter()
                    .take(idcheck::FIRST_FAILING)
                    .map(|(i, _)| masked_name(raw, &files[*i], original))
                    .collect();
                let named: Vec<(&str, IdCheck)> = failing
                    .iter()
                    .enumerate()
                    .map(|(n, (_, c))| (shown.get(n).map_or("", String::as_str), *c))
                    .collect();
                if let Some(m) = IdMismatch::new(dicom, &named) {
                    run.findings.insert(0, m.finding());
                    run.id_check = Some(m);
                }
                progress.finish();
                return Ok(());
            }
            if run.dicom_files == 0 {
                run.findings
                    .push(Finding::new("no DICOM files in the raw folder"));
                progress.finish();
                return Ok(());
            }
            let skip: Vec<usize> = skipped.iter().map(|(i, _)| *i).collect();
            self.write_all(raw, anon, files, &skip, original, study, progress, &mut run)
        })?;
        // Links the listing would not follow: the files behind them were not anonymized.
        run.findings
            .extend(listing.refused.iter().map(RefusedLink::finding));
        progress.finish();
        Ok(run)
    }

    /// Pass 2: folders made, stale temp files removed, files written in parallel, each file's
    /// outcome folded into the participant's counts as it comes.
    ///
    /// `skip` holds the indices (sorted) of the files pass 1 found not DICOM or unreadable.
    #[allow(clippy::too_many_arguments)]
    fn write_all(
        &self,
        raw: &Path,
        anon: &Path,
        files: Vec<String>,
        skip: &[usize],
        original: &str,
        study: &str,
        progress: &dyn Progress,
        run: &mut ParticipantRun,
    ) -> Result<()> {
        std::fs::create_dir_all(anon).map_err(|e| Error::write(anon, e))?;
        remove_stale_temps(anon);
        let todo = |i: &usize| skip.binary_search(i).is_err();
        // One entry per folder, not per file.
        let mut dirs: BTreeSet<String> = BTreeSet::new();
        for (_, rel) in files.iter().enumerate().filter(|(i, _)| todo(i)) {
            if let Some((parent, _)) = rel.rsplit_once('/')
                && !dirs.contains(parent)
            {
                dirs.insert(parent.to_string());
            }
        }
        let rules = self.job()?;
        // The output name of a raw path: the original ID gives way to the study ID and, under a
        // standard profile, every UID in the name to its keyed UID (exporters put series and
        // instance UIDs, which carry the scan date and time, into names). The lab profile only
        // renames the ID.
        let name = |rel: &str| {
            let r = renamed(rel, original, study);
            match &rules {
                file::Job::Standard(ctx) => super::standard::renamed_uids(&r, &ctx.key),
                file::Job::Lab(_) => r,
            }
        };
        for d in &dirs {
            let d = anon.join(name(d));
            std::fs::create_dir_all(&d).map_err(|e| Error::write(&d, e))?;
        }
        drop(dirs);
        progress.start((files.len() - skip.len()) as u64);
        let acc = files
            .par_iter()
            .enumerate()
            .filter(|(i, _)| todo(i))
            .fold(
                || (Scratch::default(), WriteAcc::default()),
                |(mut s, mut acc), (i, rel)| {
                    // Ctrl-C: no new file is started; the caller discards this participant.
                    if crate::interrupt::requested() {
                        let f = Finding::new("not written: the run was interrupted").file(rel);
                        acc.failed.push((i, Some(f)));
                        return (s, acc);
                    }
                    let target = anon.join(name(rel));
                    match file::anonymize(&raw.join(rel), &target, &rules, &mut s) {
                        Ok(o) => {
                            for c in o.private_creators {
                                *acc.creators.entry(c).or_default() += 1;
                            }
                            for w in o.vr_warnings {
                                *acc.warnings.entry(w).or_default() += 1;
                            }
                            if o.reencoded {
                                acc.reencoded.push(i);
                            }
                            if self.map_uids {
                                acc.uids.extend(o.uids);
                            }
                            if let Some(AfterWrite(f)) = self.after_write {
                                f(rel, &target);
                            }
                        }
                        Err(FileError::NotDicom | FileError::Dicomdir) => {
                            acc.failed.push((i, None))
                        }
                        Err(e) => acc.failed.push((i, Some(file_finding(rel, &e)))),
                    }
                    progress.file_done();
                    (s, acc)
                },
            )
            .map(|(_, acc)| acc)
            .reduce(WriteAcc::default, WriteAcc::merge);
        let WriteAcc {
            creators,
            warnings,
            mut reencoded,
            mut failed,
            uids,
        } = acc;
        run.original_uids = uids.into_iter().collect();
        reencoded.sort_unstable();
        failed.sort_unstable_by_key(|(i, _)| *i);
        run.reencoded = reencoded.iter().map(|i| files[*i].clone()).collect();
        let failed_at = |i: &usize| failed.binary_search_by_key(i, |(j, _)| *j).is_ok();
        // Every written file's two paths are kept (the report's audit list): the raw one moved
        // from the listing, not copied.
        let mut files = files;
        run.written = Vec::with_capacity(files.len() - skip.len() - failed.len());
        for (i, rel) in files.iter_mut().enumerate() {
            if todo(&i) && !failed_at(&i) {
                let anon = name(rel);
                run.written.push(WrittenFile {
                    raw: std::mem::take(rel),
                    anon,
                });
            }
        }
        for (i, f) in failed {
            match f {
                None => run.not_dicom.push(files[i].clone()),
                Some(f) => run.findings.push(f),
            }
        }
        run.private_creators = creators
            .into_iter()
            .map(|((tag, creator), files)| PrivateCreator {
                tag: tag.to_string(),
                creator,
                files,
            })
            .collect();
        run.vr_warnings = warnings
            .into_iter()
            .map(|((tag, vr), files)| VrWarning {
                tag: tag.to_string(),
                keyword: self
                    .profile
                    .rule(tag)
                    .map(|r| r.keyword.clone())
                    .unwrap_or_default(),
                vr,
                value: match self.profile.rule(tag).map(|r| &r.action) {
                    Some(super::profile::Action::Replace(t)) => t.clone(),
                    _ => String::new(),
                },
                files,
            })
            .collect();
        run.findings.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(())
    }

    /// Runs `f` on a pool of `jobs` threads, or on rayon's global pool when `jobs` is 0.
    fn in_pool<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        if self.jobs == 0 {
            return f();
        }
        match rayon::ThreadPoolBuilder::new()
            .num_threads(self.jobs)
            .build()
        {
            Ok(pool) => pool.install(f),
            Err(_) => f(),
        }
    }
}

/// A per-file problem as a finding: `dwi/IM-0003.dcm truncated (...)`.
fn file_finding(rel: &str, e: &FileError) -> Finding {
    Finding::new(e.to_string()).file(rel)
}

/// A failing file's path relative to the raw folder, with its own PatientID and PatientName
/// masked ([`idcheck::redact`]); a file that can no longer be read is not named at all rather
/// than named unmasked.
fn masked_name(raw: &Path, rel: &str, original: &str) -> String {
    let mut masked = None;
    file::probe_with(
        &raw.join(rel),
        original,
        &mut Scratch::default(),
        &mut |id, name| masked = Some(idcheck::redact(rel, id, name)),
    );
    masked.unwrap_or_else(|| "(a file that can no longer be read)".into())
}
