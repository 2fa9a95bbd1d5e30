//! A fixed-budget mutation test over the real files in `../shared/dicom` (issue 11): thousands of
//! corrupted copies (bit flips, absurd lengths, wrong VRs, stray items, cuts, splices; deflated
//! files mutated inside their inflated data set too) go through the writer and the verifier
//! in-process. Each must return without a panic, the process's peak memory must stay under
//! 200 MB, and every file the writer accepts must equal its input outside the edited elements.
//!
//! The work runs in a child process (this test binary, re-run on `mutant_worker`), so an abort
//! (a stack overflow) is reported with the input that caused it instead of killing the test
//! run, and the peak memory measured is the mutants' alone. `ANONTRACK_MUTANTS=N` changes the
//! budget (default 20,000); `ANONTRACK_MUTANTS_SEED=S` the random seed. A failing mutant is
//! saved under `target/mutants/` to be kept as a regression input.

use crate::harness;
use anontrack::anonymize::locate::{self, Element, Encoding};
use anontrack::anonymize::patch::padded;
use anontrack::anonymize::profile::Action;
use anontrack::anonymize::{Anonymizer, FileOutcome, Profile, deflate};
use anontrack::verify::Verifier;
use chrono::NaiveDate;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const DEFAULT_BUDGET: usize = 20_000;
const MAX_RSS_KB: u64 = 200 * 1024;
/// Seeds larger than this are left out (their pixel data only slows the run down).
const MAX_SEED_BYTES: u64 = 256 * 1024;
/// Set in the worker's environment: the folder it works and reports in.
const WORK_ENV: &str = "ANONTRACK_MUTANTS_DIR";
/// Set in the worker's environment: `writer` or `verifier`.
const STAGE_ENV: &str = "ANONTRACK_MUTANTS_STAGE";

fn budget() -> usize {
    std::env::var("ANONTRACK_MUTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_BUDGET)
}

fn seed() -> u64 {
    std::env::var("ANONTRACK_MUTANTS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(11)
}

#[test]
fn mutants_of_the_real_files_through_the_writer_stay_within_bounds() {
    run_worker("writer");
}

#[test]
fn mutants_of_the_real_files_through_the_verifier_stay_within_bounds() {
    run_worker("verifier");
}

/// Runs [`mutant_worker`] in a child process on `stage` (`writer`: anonymize and compare;
/// `verifier`: anonymize, then verify the pair) and reports what it found.
fn run_worker(stage: &str) {
    let Some(_) = harness::shared_path("dicom") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "mutants::mutant_worker",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env(WORK_ENV, work.path())
        .env(STAGE_ENV, stage)
        .output()
        .expect("start the mutant worker");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // Keep whatever each thread was working on when the process died.
        let keep = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/mutants");
        std::fs::create_dir_all(&keep).unwrap();
        let mut kept = Vec::new();
        for entry in std::fs::read_dir(work.path()).unwrap().flatten() {
            let p = entry.path().join("raw.dcm");
            if p.is_file() {
                let dst = keep.join(format!(
                    "crash-{}-{}.dcm",
                    seed(),
                    entry.file_name().to_string_lossy()
                ));
                std::fs::copy(&p, &dst).unwrap();
                kept.push(dst);
            }
        }
        panic!(
            "the mutant worker failed ({}): inputs in flight kept as {kept:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            out.status
        );
    }
    let line = stdout
        .lines()
        .find_map(|l| l.find("mutants: ").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("no summary from the worker\n{stdout}\n{stderr}"));
    eprintln!("{line} in {:.1} s", elapsed.as_secs_f64());
}

/// The worker: runs only when started by the test above.
#[test]
#[ignore = "the worker process of the `mutants_of_the_real_files_*` tests"]
fn mutant_worker() {
    let Some(work) = std::env::var_os(WORK_ENV).map(PathBuf::from) else {
        return;
    };
    let Some(shared) = harness::shared_path("dicom") else {
        return;
    };
    let seeds = seeds(&shared);
    assert!(seeds.len() > 100, "only {} seed files", seeds.len());
    let profile = Profile::lab();
    let date = NaiveDate::from_ymd_opt(2024, 1, 31).unwrap();
    let expect = expectations(&profile, date);
    let verify = std::env::var(STAGE_ENV).as_deref() == Ok("verifier");
    let budget = budget();
    let next = AtomicUsize::new(0);
    let stats: Vec<Stats> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let dir = work.join(format!("t{t}"));
                std::fs::create_dir_all(&dir).unwrap();
                let (seeds, profile, expect, next) = (&seeds, &profile, &expect, &next);
                scope.spawn(move || {
                    let anonymizer = Anonymizer::new(profile).date(date);
                    let verifier = Verifier::new(profile).run_date(Some(date));
                    let mut stats = Stats::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= budget {
                            break;
                        }
                        let mut rng = Rng(seed() ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                        let (name, input) = &seeds[rng.below(seeds.len())];
                        let mutant = mutate(input, &mut rng);
                        let verifier = verify.then_some(&verifier);
                        if let Err(why) =
                            check_one(&anonymizer, verifier, expect, &dir, &mutant, &mut stats)
                        {
                            let keep = Path::new(env!("CARGO_MANIFEST_DIR"))
                                .join(format!("target/mutants/mutant-{}-{i}.dcm", seed()));
                            std::fs::create_dir_all(keep.parent().unwrap()).unwrap();
                            std::fs::write(&keep, &mutant).unwrap();
                            panic!("mutant {i} of {name}: {why} (kept as {})", keep.display());
                        }
                    }
                    stats
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total = stats.into_iter().fold(Stats::default(), Stats::merge);
    let peak = peak_kb();
    println!(
        "mutants: {budget} from {} files ({} written, {} re-encoded, {} refused; verifier: {} compared), peak {} MB",
        seeds.len(),
        total.written,
        total.reencoded,
        total.refused,
        total.verified,
        peak / 1024
    );
    std::io::stdout().flush().unwrap();
    assert!(
        total.written > budget / 10,
        "too few mutants written: {total:?}"
    );
    assert!(
        peak < MAX_RSS_KB,
        "peak memory {} MB over {} MB",
        peak / 1024,
        MAX_RSS_KB / 1024
    );
}

#[derive(Debug, Default)]
struct Stats {
    written: usize,
    reencoded: usize,
    refused: usize,
    verified: usize,
}

impl Stats {
    fn merge(self, o: Self) -> Self {
        Self {
            written: self.written + o.written,
            reencoded: self.reencoded + o.reencoded,
            refused: self.refused + o.refused,
            verified: self.verified + o.verified,
        }
    }
}

/// Every DICOM-signed file of the shared folder up to [`MAX_SEED_BYTES`], by relative path.
/// `hostile/` is left out: those files have their own tests (`hostile.rs`).
fn seeds(shared: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for p in harness::files_under(shared) {
        let rel = p
            .strip_prefix(shared)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.starts_with("hostile/") {
            continue;
        }
        if std::fs::metadata(&p).is_ok_and(|m| m.len() <= MAX_SEED_BYTES) {
            let bytes = std::fs::read(&p).unwrap();
            if bytes.get(128..132) == Some(b"DICM".as_slice()) {
                out.push((rel, bytes));
            }
        }
    }
    out.sort();
    out
}

/// One mutant through the writer (output checked against input), then the verifier if given.
fn check_one(
    anonymizer: &Anonymizer<'_>,
    verifier: Option<&Verifier<'_>>,
    expect: &Expect,
    dir: &Path,
    mutant: &[u8],
    stats: &mut Stats,
) -> Result<(), String> {
    let (raw, anon) = (dir.join("raw.dcm"), dir.join("anon.dcm"));
    std::fs::write(&raw, mutant).unwrap();
    std::fs::remove_file(&anon).ok();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        anonymizer.anonymize_file(&raw, &anon)
    }))
    .map_err(|_| "the writer panicked".to_string())?;
    over_memory("the writer")?;
    match outcome {
        Ok(o) => {
            stats.written += 1;
            stats.reencoded += usize::from(o.reencoded);
            let output = std::fs::read(&anon).unwrap();
            same_outside_edits(mutant, &output, &o, expect)?;
            let Some(verifier) = verifier else {
                return Ok(());
            };
            let findings = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                verifier.verify_file(&raw, &anon)
            }))
            .map_err(|_| "the verifier panicked".to_string())?;
            over_memory("the verifier")?;
            stats.verified += 1;
            drop(findings);
        }
        Err(_) => {
            stats.refused += 1;
            if anon.exists() {
                return Err("a refused file left output behind".into());
            }
        }
    }
    Ok(())
}

/// The process's peak memory so far, in kB.
fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(crate::hostile::vm_hwm_kb)
        .unwrap_or(0)
}

/// An error naming `stage` once the process's peak memory passes the limit (with two threads
/// the other one may be the culprit: both inputs in flight are kept).
fn over_memory(stage: &str) -> Result<(), String> {
    let peak = peak_kb();
    if peak < MAX_RSS_KB {
        return Ok(());
    }
    Err(format!("peak memory {} MB after {stage}", peak / 1024))
}

/// What a rule leaves in the output: `Some(value bytes)`, or `None` for removed.
type Expect = HashMap<u32, Option<Vec<u8>>>;

fn expectations(profile: &Profile, date: NaiveDate) -> Expect {
    profile
        .rules
        .iter()
        .map(|r| {
            let tag = (u32::from(r.tag.0) << 16) | u32::from(r.tag.1);
            let v = match &r.action {
                Action::Replace(v) => Some(padded(v)),
                Action::RunDate => Some(padded(&date.format("%Y%m%d").to_string())),
                Action::Empty => Some(Vec::new()),
                Action::Remove => None,
            };
            (tag, v)
        })
        .collect()
}

/// The output equals the input outside the elements the writer said it changed: the preamble
/// and file meta, and every other top-level element byte for byte, in order (group lengths may
/// differ by the size change); changed elements hold the profile's value or are gone.
fn same_outside_edits(
    input: &[u8],
    output: &[u8],
    o: &FileOutcome,
    expect: &Expect,
) -> Result<(), String> {
    let m_in = locate::meta(input).map_err(|e| format!("input meta: {e}"))?;
    let m_out = locate::meta(output).map_err(|e| format!("output meta: {e}"))?;
    if input[..m_in.dataset_start] != output[..m_out.dataset_start] {
        return Err("preamble or file meta changed".into());
    }
    let (a, b, enc);
    let (ia, ib): (Vec<u8>, Vec<u8>);
    if o.reencoded {
        ia = deflate::inflate(&input[m_in.dataset_start..]).map_err(|e| e.to_string())?;
        ib = deflate::inflate(&output[m_out.dataset_start..])
            .map_err(|e| format!("output does not inflate: {e}"))?;
        enc = Encoding::ExplicitLe;
        a = walk(&ia, 0, enc).map_err(|e| format!("input walk: {e}"))?;
        b = walk(&ib, 0, enc).map_err(|e| format!("output walk: {e}"))?;
    } else {
        (ia, ib) = (input.to_vec(), output.to_vec());
        enc = Encoding::of(m_in.transfer_syntax);
        a = walk(&ia, m_in.dataset_start, enc).map_err(|e| format!("input walk: {e}"))?;
        b = walk(&ib, m_out.dataset_start, enc).map_err(|e| format!("output walk: {e}"))?;
    }
    let changed: Vec<u32> = o
        .changed
        .iter()
        .map(|t| (u32::from(t.0) << 16) | u32::from(t.1))
        .collect();
    let mut bi = b.iter();
    for x in &a {
        let tag = format!("({:04X},{:04X})", x.tag >> 16, x.tag & 0xFFFF);
        let rule = expect.get(&x.tag);
        if changed.contains(&x.tag) {
            match rule {
                None => return Err(format!("{tag} reported changed but not in the profile")),
                Some(None) => continue,
                Some(Some(v)) => {
                    let y = bi.next().ok_or(format!("{tag} missing"))?;
                    if y.tag != x.tag || y.value(&ib) != v.as_slice() {
                        return Err(format!("{tag} not set as the profile says"));
                    }
                }
            }
            continue;
        }
        let y = bi.next().ok_or(format!("{tag} missing in the output"))?;
        if y.tag != x.tag {
            return Err(format!("{tag} out of place in the output"));
        }
        if x.bytes(&ia) != y.bytes(&ib) && !(x.tag & 0xFFFF == 0 && x.end - x.value_start == 4) {
            return Err(format!("{tag} changed but not reported"));
        }
        if rule.is_some() && x.tag >> 16 != 0xFFFE {
            return Err(format!("{tag} is in the profile but was left unchanged"));
        }
    }
    if bi.next().is_some() {
        return Err("elements added".into());
    }
    Ok(())
}

fn walk(buf: &[u8], start: usize, enc: Encoding) -> Result<Vec<Element>, locate::LocateError> {
    let mut out = Vec::new();
    locate::top_level(buf, start, enc, None, &mut out)?;
    Ok(out)
}

/// splitmix64: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A mutant of `input`: one to three mutations, mostly in the first 4 kB (where the headers
/// are). A deflated file is mutated inside its inflated data set half the time.
fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    if rng.below(2) == 0
        && let Ok(m) = locate::meta(input)
        && m.transfer_syntax == locate::TS_DEFLATED
        && let Ok(mut data) = deflate::inflate(&input[m.dataset_start..])
    {
        for _ in 0..1 + rng.below(3) {
            mutate_once(&mut data, 0, rng);
        }
        let mut out = input[..m.dataset_start].to_vec();
        let mut z = flate2::write::DeflateEncoder::new(out, flate2::Compression::fast());
        z.write_all(&data).unwrap();
        out = z.finish().unwrap();
        return out;
    }
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(3) {
        mutate_once(&mut v, 132, rng);
    }
    v
}

/// Values that break length arithmetic.
const LENGTHS: [u32; 8] = [
    0xFFFF_FFFF,
    0xFFFF_FFFE,
    0xDDDD_DDDC,
    0x7FFF_FFFF,
    0x8000_0000,
    0x0001_0000,
    0,
    1,
];
const VRS: [&[u8; 2]; 10] = [
    b"SQ", b"UN", b"OB", b"FD", b"SL", b"UL", b"UT", b"AT", b"\0\0", b"zz",
];
const DELIMS: [[u8; 8]; 4] = [
    [0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF],
    [0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0],
    [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0],
    [0xFE, 0xFF, 0x00, 0xE0, 0x10, 0, 0, 0],
];

fn mutate_once(v: &mut Vec<u8>, floor: usize, rng: &mut Rng) {
    if v.len() <= floor + 8 {
        v.extend_from_slice(&DELIMS[rng.below(DELIMS.len())]);
        return;
    }
    let hot = (v.len() - floor).min(4096);
    // An offset in `floor..len`, usually in the first 4 kB.
    let at = |rng: &mut Rng, len: usize| {
        let span = len.saturating_sub(floor).max(1);
        if rng.below(8) == 0 {
            floor + rng.below(span)
        } else {
            floor + rng.below(hot.min(span))
        }
    };
    match rng.below(9) {
        0 => {
            let i = at(rng, v.len());
            v[i] ^= 1 << rng.below(8);
        }
        1 => {
            let i = at(rng, v.len() - 4);
            let n = LENGTHS[rng.below(LENGTHS.len())];
            v[i..i + 4].copy_from_slice(&n.to_le_bytes());
        }
        2 => {
            let i = at(rng, v.len() - 2);
            let n = LENGTHS[rng.below(LENGTHS.len())] as u16;
            v[i..i + 2].copy_from_slice(&n.to_le_bytes());
        }
        3 => {
            let i = at(rng, v.len() - 2);
            v[i..i + 2].copy_from_slice(VRS[rng.below(VRS.len())]);
        }
        4 => {
            let i = at(rng, v.len());
            let d = DELIMS[rng.below(DELIMS.len())];
            v.splice(i..i, d);
        }
        5 => {
            let i = at(rng, v.len());
            v.truncate(i.max(floor));
        }
        6 => {
            let i = at(rng, v.len());
            let n = 1 + rng.below(64).min(v.len() - i);
            v.drain(i..(i + n).min(v.len()));
        }
        7 => {
            // Copy a chunk (often a whole element or item) to another place.
            let from = at(rng, v.len());
            let n = (1 + rng.below(256)).min(v.len() - from);
            let chunk = v[from..from + n].to_vec();
            let to = at(rng, v.len());
            v.splice(to..to, chunk);
        }
        _ => {
            let i = at(rng, v.len());
            v[i] = rng.next() as u8;
        }
    }
}
