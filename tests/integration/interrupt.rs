//! Ctrl-C and a full disk during `sync` (issue 11): the real binary interrupted with SIGINT at
//! seeded random moments of a 4,000-file participant, and run on a small tmpfs.
//!
//! Interrupted: exit 130, a line saying what was left undone, `AnonDcm` never holding a partial
//! participant (each participant folder is absent or byte-identical to an uninterrupted run's),
//! no staging left behind, and the rerun converging to the uninterrupted result. Full disk:
//! the failed output removed, the note says "disk full", the run goes on only when the next row
//! fits, else exit 2 naming how much is needed; the rows done before are saved.

use crate::harness::{Workdir, bin, tree_hash};
use crate::sync::Study;
use anontrack::synth::ParticipantSpec;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DATE: &str = "20240131";

/// A study whose row S01 is a 4,000-file participant (4 series x 1,000 slices of 16x16) and
/// row S02 a small one.
fn study() -> Study {
    let s = Study::simple(&[("S01", "70001", "KH", ""), ("S02", "70002", "KH", "")]);
    s.w.run([
        "gen-study",
        ".",
        "--participants",
        "1",
        "--series",
        "4",
        "--slices",
        "1000",
        "--matrix",
        "16",
    ])
    .expect_code(0);
    s.participant(&ParticipantSpec::new("70002", 5));
    s
}

/// `sync --date DATE` as a child, sent SIGINT after `delay`; returns its exit code (`None`:
/// ended by a signal) and its stdout and stderr.
fn sync_interrupted_after(s: &Study, delay: Duration) -> (Option<i32>, String) {
    let out = s.w.join("sync-out.txt");
    let child = Command::new(bin())
        .args(["sync", "--date", DATE, &s.book])
        .current_dir(s.w.path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(s.w.join("sync-err.txt")).unwrap())
        .spawn()
        .expect("spawn anontrack");
    let mut child = child;
    let start = Instant::now();
    while start.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if child.try_wait().unwrap().is_none() {
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill -INT");
    }
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(&out).unwrap()
        + &std::fs::read_to_string(s.w.join("sync-err.txt")).unwrap();
    std::fs::remove_file(out).ok();
    std::fs::remove_file(s.w.join("sync-err.txt")).ok();
    (status.code(), text)
}

/// splitmix64, for the seeded moments.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn sync_interrupted_at_random_moments_never_leaves_a_partial_participant() {
    // The uninterrupted result, for comparison.
    let reference = study();
    let started = Instant::now();
    reference.sync(&["--date", DATE]).expect_code(0);
    let full = started.elapsed();
    let want: Vec<_> = ["S01", "S02"]
        .iter()
        .map(|id| tree_hash(&reference.w.join("AnonDcm").join(id)))
        .collect();
    assert_eq!(want[0].len(), 4000);
    let want_status = reference.status();

    let s = study();
    let queued = s.bytes();
    let seed = 11u64;
    let (mut interrupted, mut finished) = (0, 0);
    for i in 0..4u64 {
        // Spread over the whole run: early (writing S01), late (checking it, or S02).
        let frac = (i as f64 + (mix(seed + i) % 1000) as f64 / 1000.0) / 5.0;
        let delay = full.mul_f64(frac.max(0.05));
        let (code, text) = sync_interrupted_after(&s, delay);
        eprintln!("run {i}: SIGINT after {delay:?} of {full:?}: exit {code:?}");
        match code {
            Some(130) => {
                interrupted += 1;
                assert!(text.contains("interrupted:"), "run {i}:\n{text}");
                assert!(text.contains("not started"), "run {i}:\n{text}");
            }
            Some(0) => finished += 1,
            other => panic!("run {i}: exit {other:?}\n{text}"),
        }
        for (id, want) in ["S01", "S02"].iter().zip(&want) {
            let dir = s.w.join("AnonDcm").join(id);
            if dir.exists() {
                assert!(
                    &tree_hash(&dir) == want,
                    "run {i}: AnonDcm/{id} differs from the uninterrupted run's"
                );
            }
        }
        let staged = s.w.join(".anontrack/staging");
        let left = if staged.exists() {
            tree_hash(&staged)
        } else {
            Vec::new()
        };
        assert!(
            left.is_empty(),
            "run {i}: staging left: {} files",
            left.len()
        );
        // Put all the work back in the queue, so the next interruption lands in work (over
        // whatever AnonDcm holds now: a rerun replaces a published participant whole).
        std::fs::write(s.path(), &queued).unwrap();
    }
    assert!(
        interrupted >= 3,
        "only {interrupted} runs interrupted ({finished} finished)"
    );

    // The rerun converges to the uninterrupted result.
    s.sync(&["--date", DATE]).expect_code(0);
    for (id, want) in ["S01", "S02"].iter().zip(&want) {
        assert!(
            &tree_hash(&s.w.join("AnonDcm").join(id)) == want,
            "AnonDcm/{id} differs after the rerun"
        );
    }
    assert_eq!(s.status(), want_status);
}

/// A tmpfs mounted at `dir` (unmounted on drop), or `None` with a note when this machine does
/// not allow mounting (not root, no CAP_SYS_ADMIN).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("note: skipping a full-disk test: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Self(dir.to_path_buf()))
    }

    /// Resizes it to `bytes` (rounded up to a page).
    fn resize(&self, bytes: u64) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={bytes}"), "tmpfs"])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount the tmpfs");
    }

    fn used(&self) -> u64 {
        let total = |p: &Path| anontrack::staging::bytes_under(p);
        total(&self.0)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A study on a tmpfs sized so that S01 and S03 fit after the raw files and S02 does not.
/// S03 is as big as S02 when `big_s03`.
fn full_disk_study(outer: &Workdir, big_s03: bool) -> Option<(Study, Tmpfs)> {
    let disk = Tmpfs::mount(&outer.join("disk"))?;
    let w = Workdir {
        dir: tempfile::tempdir_in(&disk.0).unwrap(),
    };
    let name = "STUDY_dataprocessing.xlsx";
    crate::status::save(
        &w,
        name,
        crate::status::simple_book(&[
            ("S01", "71001", "KH", ""),
            ("S02", "71002", "KH", ""),
            ("S03", "71003", "KH", ""),
        ]),
    );
    let s = Study {
        w,
        book: name.into(),
    };
    let small = |id: &str, seed| ParticipantSpec::new(id, seed).series(2, 4);
    let big = |id: &str, seed| ParticipantSpec::new(id, seed).series(2, 100);
    let a = s.participant(&small("71001", 1));
    let b = s.participant(&big("71002", 2));
    let c = s.participant(&if big_s03 {
        big("71003", 3)
    } else {
        small("71003", 3)
    });
    let (a, b, c) = (
        anontrack::staging::bytes_under(&a),
        anontrack::staging::bytes_under(&b),
        anontrack::staging::bytes_under(&c),
    );
    // Room for S01, the small S03, and the reports, backups and audit log; not for S02.
    let room = a + a + 512 * 1024;
    assert!(b > 2 * room, "S02 ({b} bytes) must not fit in {room}");
    let _ = c;
    disk.resize(disk.used() + room);
    Some((s, disk))
}

#[test]
fn a_full_disk_removes_the_failed_output_and_goes_on_when_the_next_row_fits() {
    let outer = Workdir::new();
    let Some((s, _disk)) = full_disk_study(&outer, false) else {
        return;
    };
    let run = s.sync(&["--date", DATE]);
    run.expect_code(1);
    let status = s.status();
    assert_eq!(status[0], "3 S01 71001 done(KH) not_started", "{status:?}");
    assert!(
        status[1].starts_with("4 S02 71002 problem(KH: disk full: about "),
        "{status:?}"
    );
    assert_eq!(status[2], "5 S03 71003 done(KH) not_started", "{status:?}");
    // The failed output is removed, not kept: neither in AnonDcm nor in rejected/ or staging.
    assert!(!s.w.join("AnonDcm/S02").exists());
    assert!(!s.w.join(".anontrack/rejected/S02").exists());
    let staged = s.w.join(".anontrack/staging");
    assert!(!staged.exists() || tree_hash(&staged).is_empty());
    assert_eq!(s.anon_files("S01").len(), 8);
    assert_eq!(s.anon_files("S03").len(), 8);
}

#[test]
fn a_full_disk_stops_with_exit_2_when_the_next_row_cannot_fit() {
    let outer = Workdir::new();
    let Some((s, _disk)) = full_disk_study(&outer, true) else {
        return;
    };
    let run = s.sync(&["--date", DATE]);
    run.expect_code(2);
    let text = run.stdout() + &run.stderr();
    assert!(text.contains("is full:"), "{text}");
    assert!(text.contains("row 5 (S03) needs about"), "{text}");
    assert!(text.contains("free at least"), "{text}");
    // The rows done before were saved; S03 was not started.
    let status = s.status();
    assert_eq!(status[0], "3 S01 71001 done(KH) not_started", "{status:?}");
    assert!(status[1].contains("disk full"), "{status:?}");
    assert_eq!(
        status[2], "5 S03 71003 pending(KH) not_started",
        "{status:?}"
    );
    assert!(!s.w.join("AnonDcm/S02").exists());
    assert!(!s.w.join("AnonDcm/S03").exists());
}

/// `anontrack anonymize RAW OUT` as a child in `w`, sent SIGINT after `delay`; returns its exit
/// code (`None`: ended by a signal) and its stdout and stderr.
fn anonymize_interrupted_after(w: &Workdir, out: &str, delay: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(bin())
        .args(["anonymize", "sourcedata/70001", out])
        .args([
            "--original-id",
            "70001",
            "--study-id",
            "S01",
            "--date",
            DATE,
        ])
        .current_dir(w.path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn anontrack");
    let start = Instant::now();
    while start.elapsed() < delay && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(5));
    }
    if child.try_wait().unwrap().is_none() {
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill -INT");
    }
    let o = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.code(), text)
}

/// Names in `w`'s folder that are neither the raw data nor a published output: staging left.
fn leftovers(w: &Workdir) -> Vec<String> {
    std::fs::read_dir(w.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".anontrack-partial"))
        .collect()
}

#[test]
fn anonymize_interrupted_leaves_the_output_folder_absent_or_as_it_was() {
    let w = Workdir::new();
    w.run([
        "gen-study",
        ".",
        "--participants",
        "1",
        "--series",
        "4",
        "--slices",
        "400",
        "--matrix",
        "16",
    ])
    .expect_code(0);
    // The uninterrupted result, and how long it takes.
    let started = Instant::now();
    w.run([
        "anonymize",
        "sourcedata/70001",
        "ref",
        "--original-id",
        "70001",
        "--study-id",
        "S01",
        "--date",
        DATE,
    ])
    .expect_code(0);
    let full = started.elapsed();
    let want = tree_hash(&w.join("ref"));
    assert_eq!(want.len(), 1600);
    assert!(leftovers(&w).is_empty(), "staging left by a complete run");

    // An existing output with a file of the user's own: it stays as it was when interrupted.
    crate::harness::copy_tree(&w.join("ref"), &w.join("old"));
    std::fs::write(w.join("old/notes.txt"), b"mine").unwrap();
    let before_old = tree_hash(&w.join("old"));

    let mut interrupted = 0;
    for i in 0..4u64 {
        let frac = 0.15 + 0.6 * ((mix(7 + i) % 1000) as f64 / 1000.0);
        let delay = full.mul_f64(frac);
        for out in ["new", "old"] {
            let (code, text) = anonymize_interrupted_after(&w, out, delay);
            eprintln!("{out} {i}: SIGINT after {delay:?} of {full:?}: exit {code:?}");
            match code {
                Some(130) => {
                    interrupted += 1;
                    assert!(text.contains("interrupted:"), "{out} {i}:\n{text}");
                    assert!(text.contains("staging folder that was removed"), "{text}");
                    if out == "new" {
                        assert!(!w.join("new").exists(), "{out} {i}: partial output left");
                        assert!(text.contains("was not created"), "{text}");
                    } else {
                        assert!(
                            tree_hash(&w.join("old")) == before_old,
                            "old output changed"
                        );
                        assert!(text.contains("as it was before"), "{text}");
                    }
                }
                Some(0) => {
                    // Finished before the signal: complete, like the reference.
                    let mut got = tree_hash(&w.join(out));
                    got.retain(|(p, _)| p != "notes.txt");
                    assert!(got == want, "{out} {i}: complete output differs");
                    if out == "new" {
                        std::fs::remove_dir_all(w.join("new")).unwrap();
                    }
                }
                other => panic!("{out} {i}: exit {other:?}\n{text}"),
            }
            assert!(leftovers(&w).is_empty(), "{out} {i}: staging left");
        }
    }
    assert!(interrupted >= 4, "only {interrupted} of 8 runs interrupted");

    // The rerun over the old output completes it; the user's own file stays.
    w.run([
        "anonymize",
        "sourcedata/70001",
        "old",
        "--original-id",
        "70001",
        "--study-id",
        "S01",
        "--date",
        DATE,
    ])
    .expect_code(0);
    let mut got = tree_hash(&w.join("old"));
    assert!(got.iter().any(|(p, _)| p == "notes.txt"));
    got.retain(|(p, _)| p != "notes.txt");
    assert!(got == want, "the rerun differs from the uninterrupted run");
}
