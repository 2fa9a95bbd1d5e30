//! Crash safety of `sync`: a child `anontrack sync` killed with SIGKILL at many points of its
//! run leaves the raw tree byte-identical, the workbook either the old or the new version (and
//! readable), no half-written DICOM file under a final name, and the next sync finishes the job.

use crate::harness::{Workdir, bin, tree_hash};
use crate::sync::Study;
use anontrack::synth::ParticipantSpec;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The prefix of anontrack's temp files (anonymized files, reports, the saved workbook).
const TMP_PREFIX: &str = ".anontrack-";

/// Runs `anontrack sync` in `w` as a child and kills it with SIGKILL after `delay` (if still
/// running). Returns whether it was killed before it finished.
fn sync_killed_after(w: &Workdir, book: &str, delay: Duration) -> bool {
    let mut child = Command::new(bin())
        .args(["--quiet", "sync", book])
        .current_dir(w.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn anontrack");
    let start = Instant::now();
    while start.elapsed() < delay {
        if child.try_wait().expect("wait").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2).min(delay));
    }
    // `Child::kill` is SIGKILL on Unix: no destructor, no cleanup runs.
    let _ = child.kill();
    child.wait().expect("wait");
    true
}

/// Every DICOM file under `dir` with a final name opens completely (dicom-object reads it to
/// the end, pixel data included). Returns how many there are.
fn assert_complete_dicom_files(dir: &Path) -> usize {
    if !dir.exists() {
        return 0;
    }
    let mut n = 0;
    for (rel, _) in tree_hash(dir) {
        let name = rel.rsplit('/').next().unwrap();
        if name.starts_with(TMP_PREFIX) {
            continue;
        }
        let obj = dicom_object::open_file(dir.join(&rel))
            .unwrap_or_else(|e| panic!("`{rel}` under a final name does not parse: {e}"));
        assert!(
            obj.element(dicom_core::Tag(0x7FE0, 0x0010)).is_ok(),
            "`{rel}` has no pixel data"
        );
        n += 1;
    }
    n
}

/// A small deterministic generator for the kill delays (no dependency, reproducible runs).
struct Lcg(u64);

impl Lcg {
    fn next_unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn sync_killed_at_random_points_loses_nothing_and_the_next_sync_finishes() {
    // About 1 s of work in a debug build: 3 series x 80 slices of 192x192 (9 MB).
    let spec = ParticipantSpec::new("58253", 2024)
        .series(3, 80)
        .matrix(192, 192);
    let Some(s) = Study::lab() else { return };
    s.participant(&spec);
    let raw_before = tree_hash(&s.raw());
    let old = s.bytes();

    // A reference run in a second study folder: how long a sync takes and what it writes.
    let Some(reference) = Study::lab() else {
        return;
    };
    reference.participant(&spec);
    let t = Instant::now();
    reference.sync(&["--quiet"]).expect_code(1);
    let full = t.elapsed();
    let new = reference.bytes();
    assert!(new != old);

    let runs = 30;
    let mut rng = Lcg(0x5eed);
    let mut killed = 0;
    for i in 0..runs {
        // Spread over the whole run, plus jitter; a few past its end (the run completes).
        let frac = (i as f64 + rng.next_unit()) / runs as f64 * 1.1;
        let delay = full.mul_f64(frac);
        if sync_killed_after(&s.w, &s.book, delay) {
            killed += 1;
        }
        assert_eq!(
            tree_hash(&s.raw()),
            raw_before,
            "run {i}: the raw tree changed"
        );
        let now = s.bytes();
        assert!(
            now == old || now == new,
            "run {i} (killed after {delay:?}): the workbook is neither the old nor the new version"
        );
        s.w.run(["status", &s.book]).expect_code(0);
        assert_complete_dicom_files(&s.w.join("AnonDcm"));
        let audit = std::fs::read_to_string(s.w.join(".anontrack/audit.jsonl")).unwrap_or_default();
        for line in audit.lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("run {i}: a broken audit line: {e}"));
        }
        // Put the work back in the queue, so the next kill lands in a run that has work to do
        // (over whatever the killed runs left in AnonDcm).
        if now == new {
            std::fs::write(s.path(), &old).unwrap();
        }
    }
    eprintln!("sync took {full:?}; {killed} of {runs} runs killed");
    assert!(
        killed >= runs / 2,
        "only {killed} of {runs} runs were killed"
    );

    // A normal sync finishes the job.
    let run = s.sync(&[]);
    run.expect_code(1);
    assert!(
        s.bytes() == new,
        "the final workbook differs from the reference run's"
    );
    assert_eq!(s.status()[6], "9 114 58253 done(KH) not_started");
    assert_eq!(
        assert_complete_dicom_files(&s.w.join("AnonDcm/114")),
        spec.file_count()
    );
    let leftovers: Vec<_> = tree_hash(&s.w.join("AnonDcm"))
        .into_iter()
        .filter(|(p, _)| p.contains(TMP_PREFIX))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    s.w.run([
        "verify",
        "sourcedata/58253",
        "AnonDcm/114",
        "--original-id",
        "58253",
    ])
    .expect_code(0);
    assert_eq!(tree_hash(&s.raw()), raw_before);
}

#[test]
fn results_follow_their_ids_onto_a_workbook_saved_during_the_run() {
    use crate::status::simple_book;
    let s = Study::simple(&[("S01", "5910001", "KH", ""), ("S02", "5910002", "JD", "")]);
    s.participant(
        &ParticipantSpec::new("5910001", 101)
            .series(3, 80)
            .matrix(192, 192),
    );
    let mut child = Command::new(bin())
        .args(["sync", &s.book])
        .current_dir(s.w.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn anontrack");
    // Once S01's output appears (in its staging folder: AnonDcm only gets it after the check),
    // someone saves the workbook in Excel: a row inserted above, and S02's cell changed by hand.
    let start = Instant::now();
    while !s.w.join(".anontrack/staging/S01/S01").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "sync never started writing"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "sync finished before the workbook could be changed (make the participant bigger)"
    );
    let mut theirs = simple_book(&[
        ("S00", "5910000", "", ""),
        ("S01", "5910001", "KH", ""),
        ("S02", "5910002", "JD checked by hand", ""),
    ]);
    theirs.save(s.path()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("saved by someone else during the run"),
        "{stderr}"
    );
    assert!(
        stderr.contains("someone changed the cell of `S02`"),
        "{stderr}"
    );
    assert_eq!(
        s.status(),
        [
            "3 S00 5910000 not_started not_started",
            "4 S01 5910001 done(KH) not_started",
            "5 S02 5910002 problem(JD: checked by hand) not_started",
        ]
    );
}
