//! Criterion benchmarks of the synthetic study generator: encoding one benchmark-shaped file
//! in memory, and writing a small participant to disk (the cost `gen-study` pays per file).

use anontrack::synth::{self, ParticipantSpec};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// One 240x240 slice, about 120 KB: the shape `scripts/bench.sh` uses.
fn encode_one_file(c: &mut Criterion) {
    let spec = ParticipantSpec::new("70001", 1)
        .series(1, 400)
        .matrix(240, 240);
    let len = synth::file_bytes(&spec, 0, 200)
        .map(|b| b.len())
        .unwrap_or(0);
    let mut group = c.benchmark_group("synth");
    group.throughput(Throughput::Bytes(len as u64));
    group.bench_function("file_bytes 240x240", |b| {
        b.iter(|| synth::file_bytes(&spec, 0, 200))
    });
    group.finish();
}

/// A participant of 2 series x 16 slices written to a fresh temporary folder.
fn write_participant(c: &mut Criterion) {
    let spec = ParticipantSpec::new("70001", 1)
        .series(2, 16)
        .matrix(240, 240);
    let mut group = c.benchmark_group("synth");
    group.throughput(Throughput::Elements(spec.file_count() as u64));
    group.sample_size(20);
    group.bench_function("write_participant 32 files", |b| {
        b.iter_batched(
            || tempfile::tempdir().ok(),
            |dir| {
                if let Some(dir) = &dir {
                    let _ = synth::write_participant(&dir.path().join("p"), &spec);
                }
                dir
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, encode_one_file, write_participant);
criterion_main!(benches);
