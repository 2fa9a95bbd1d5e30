//! Criterion benchmarks of the per-file engine: anonymizing one file and verifying one
//! raw/anonymized pair, each beside the floor it is measured against, in the same group.
//!
//! The file is one 240x240 synthetic Siemens-like slice (about 119 KB, the shape
//! `scripts/bench.sh` uses), written to a temporary folder, so the numbers include the file
//! system calls the real run makes (open, read, temp file, rename) against a warm page cache.
//! - `anonymize/file`: `Anonymizer::anonymize_file`; `anonymize/fs::copy` is the floor.
//! - `verify/file`: `Verifier::verify_file` on that pair; `verify/fs::copy` is the same floor,
//!   and `verify/read both` reads the two files whole, the least a verifier that looks at every
//!   byte must do.

use anontrack::anonymize::{Anonymizer, Profile};
use anontrack::synth::{self, ParticipantSpec};
use anontrack::verify::Verifier;
use chrono::NaiveDate;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The allocator the binary uses (`src/main.rs`), so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ORIGINAL_ID: &str = "70001";

/// A temporary folder holding one raw file, plus where outputs go.
struct Fixture {
    _dir: tempfile::TempDir,
    raw: PathBuf,
    anon: PathBuf,
    copy: PathBuf,
    len: u64,
    date: NaiveDate,
}

/// Writes one synthetic slice and its anonymized twin; `None` (and a note) if that fails.
fn fixture(profile: &Profile) -> Option<Fixture> {
    let spec = ParticipantSpec::new(ORIGINAL_ID, 1)
        .series(1, 1)
        .matrix(240, 240);
    let bytes = match synth::file_bytes(&spec, 0, 0) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("engine bench: cannot build the synthetic file: {e}");
            return None;
        }
    };
    let dir = tempfile::tempdir().ok()?;
    let raw = dir.path().join("raw").join("IM-0001.dcm");
    let anon = dir.path().join("anon").join("IM-0001.dcm");
    let copy = dir.path().join("copy").join("IM-0001.dcm");
    for p in [&raw, &anon, &copy] {
        std::fs::create_dir_all(p.parent()?).ok()?;
    }
    std::fs::write(&raw, &bytes).ok()?;
    let date = NaiveDate::from_ymd_opt(2024, 1, 1)?;
    if let Err(e) = Anonymizer::new(profile)
        .date(date)
        .anonymize_file(&raw, &anon)
    {
        eprintln!("engine bench: cannot anonymize the synthetic file: {e}");
        return None;
    }
    Some(Fixture {
        _dir: dir,
        raw,
        anon,
        copy,
        len: bytes.len() as u64,
        date,
    })
}

fn configure<'c>(c: &'c mut Criterion, name: &str, len: u64) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Bytes(len));
    group
}

/// `fs::copy` into a fresh file, as the anonymizer's rename leaves one: overwriting the same
/// inode in place measured 0.3-2.5 ms here, waiting on the writeback of its previous pages.
fn copy_floor(src: &Path, dst: &Path) {
    let _ = std::fs::remove_file(dst);
    let _ = black_box(std::fs::copy(src, dst));
}

fn anonymize_file(c: &mut Criterion) {
    let profile = Profile::lab();
    let Some(fx) = fixture(&profile) else { return };
    let anonymizer = Anonymizer::new(&profile)
        .date(fx.date)
        .original_id(ORIGINAL_ID)
        .study_id("S001");
    let out = fx.anon.with_file_name("IM-0002.dcm");
    let mut group = configure(c, "anonymize", fx.len);
    group.bench_function("fs::copy", |b| b.iter(|| copy_floor(&fx.raw, &fx.copy)));
    group.bench_function("file", |b| {
        b.iter(|| {
            // A fresh target, like a first run and like the floor: renaming over an existing
            // file makes ext4 (auto_da_alloc) start writing the new data back at once.
            let _ = std::fs::remove_file(&out);
            black_box(anonymizer.anonymize_file(&fx.raw, &out))
        })
    });
    group.finish();
}

fn verify_file(c: &mut Criterion) {
    let profile = Profile::lab();
    let Some(fx) = fixture(&profile) else { return };
    let verifier = Verifier::new(&profile)
        .original_id(ORIGINAL_ID)
        .run_date(Some(fx.date))
        .today(fx.date);
    // Measure the path a good file takes: a bench of a failing verify would time the wrong thing.
    let findings = verifier.verify_file(&fx.raw, &fx.anon);
    if !findings.is_empty() {
        eprintln!(
            "engine bench: verify found {} problem(s) in the synthetic pair; skipped",
            findings.len()
        );
        return;
    }
    let mut group = configure(c, "verify", fx.len);
    group.bench_function("fs::copy", |b| b.iter(|| copy_floor(&fx.raw, &fx.copy)));
    group.bench_function("read both", |b| {
        b.iter(|| {
            let raw = std::fs::read(&fx.raw).map(|v| v.len()).unwrap_or(0);
            let anon = std::fs::read(&fx.anon).map(|v| v.len()).unwrap_or(0);
            black_box(raw + anon)
        })
    });
    group.bench_function("file", |b| {
        b.iter(|| black_box(verifier.verify_file(&fx.raw, &fx.anon)))
    });
    group.finish();
}

criterion_group!(benches, anonymize_file, verify_file);
criterion_main!(benches);
