//! CPU time of `Verifier::verify_file` against reading both files, for a shared machine.
//!
//! Criterion's wall times (`benches/engine.rs`) move with the load other processes put on the
//! machine. This bench alternates blocks of the two operations on one synthetic 240x240 pair
//! (as `engine` uses) and sums the thread's own CPU time (user + system, from
//! `/proc/thread-self/stat`) for each, so the ratio holds while other work runs. Linux only;
//! elsewhere it says so and does nothing. `cargo bench --bench verify_cpu`, about 10 s.

use anontrack::anonymize::{Anonymizer, Profile};
use anontrack::synth::{self, ParticipantSpec};
use anontrack::verify::Verifier;
use chrono::NaiveDate;
use std::hint::black_box;

/// The allocator the binary uses (`src/main.rs`), so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ORIGINAL_ID: &str = "70001";
const BLOCKS: usize = 12;
/// Pairs per block; `VERIFY_CPU_PER_BLOCK` sets another (e.g. a few hundred under callgrind).
const PER_BLOCK: usize = 5000;

/// The calling thread's CPU time so far, in clock ticks (utime + stime).
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn main() {
    if cpu_ticks().is_none() {
        eprintln!("verify_cpu: needs /proc/thread-self/stat (Linux); skipped");
        return;
    }
    let profile = Profile::lab();
    let spec = ParticipantSpec::new(ORIGINAL_ID, 1)
        .series(1, 1)
        .matrix(240, 240);
    let bytes = synth::file_bytes(&spec, 0, 0).expect("synthetic file");
    let dir = tempfile::tempdir().expect("temp dir");
    let raw = dir.path().join("raw.dcm");
    let anon = dir.path().join("anon.dcm");
    std::fs::write(&raw, &bytes).expect("write raw");
    let date = NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
    Anonymizer::new(&profile)
        .date(date)
        .anonymize_file(&raw, &anon)
        .expect("anonymize");
    let verifier = Verifier::new(&profile)
        .original_id(ORIGINAL_ID)
        .run_date(Some(date))
        .today(date);
    let findings = verifier.verify_file(&raw, &anon);
    assert!(
        findings.is_empty(),
        "the synthetic pair must pass: {findings:?}"
    );
    let per_block = std::env::var("VERIFY_CPU_PER_BLOCK")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(PER_BLOCK);
    let (mut read_ticks, mut verify_ticks) = (0u64, 0u64);
    for _ in 0..BLOCKS {
        let t0 = cpu_ticks().unwrap_or(0);
        for _ in 0..per_block {
            let r = std::fs::read(&raw).map(|v| v.len()).unwrap_or(0);
            let a = std::fs::read(&anon).map(|v| v.len()).unwrap_or(0);
            black_box(r + a);
        }
        let t1 = cpu_ticks().unwrap_or(0);
        for _ in 0..per_block {
            black_box(verifier.verify_file(&raw, &anon));
        }
        let t2 = cpu_ticks().unwrap_or(0);
        read_ticks += t1 - t0;
        verify_ticks += t2 - t1;
    }
    let n = (BLOCKS * per_block) as f64;
    // Clock ticks are 1/100 s on Linux (USER_HZ).
    let us = |ticks: u64| ticks as f64 * 10_000.0 / n;
    println!(
        "verify_cpu: read both {:.1} us, verify_file {:.1} us CPU per pair ({} pairs each): {:.2}x",
        us(read_ticks),
        us(verify_ticks),
        BLOCKS * per_block,
        verify_ticks as f64 / read_ticks.max(1) as f64
    );
}
