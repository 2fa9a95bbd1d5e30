//! Criterion benchmarks of the workbook side of `sync`: read the table, plan, and write the
//! results back (issue 5: under 0.2 s for a 1,000-row workbook).
//!
//! Two workbooks: 1,000 rows built with the template (a quarter each: to anonymize, to verify,
//! done, not started), and the lab's real `STUDYNAME_dataprocessing.xlsx` from `../shared/sheet`
//! when present (878 styled rows, 7 of them participants: its cost is the styled sheet, not the
//! plan). Per workbook:
//! - `fs::copy`: copying the file, the floor for anything that reads and rewrites it;
//! - `read_table`, `plan`, `patch_package`: each step alone (patch in memory);
//! - `read+plan+patch`: the three in a row, as `sync` does them, with the edits it would make
//!   (green for each planned row, a problem note on every tenth);
//! - `read+plan+save`: the same ending in `save_workbook` (lock check, backup, temp file,
//!   fsync, rename), on a fresh copy of the workbook each time.

use anontrack::config::Config;
use anontrack::plan::{self, Plan, Stage};
use anontrack::sheet::Table;
use anontrack::sheet::read::read_table;
use anontrack::sheet::template::{self, TemplateCell, TemplateRow};
use anontrack::sheet::write::save::{Fingerprint, save_workbook};
use anontrack::sheet::write::{CellEdit, patch_package};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

const LAB_WORKBOOK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/sheet/STUDYNAME_dataprocessing.xlsx"
);

/// 1,000 participant rows in four kinds, so the plan has work of both sorts and skips.
fn synthetic_rows(n: usize) -> Vec<TemplateRow> {
    (0..n)
        .map(|i| {
            let (anonymized, check) = match i % 4 {
                0 => (TemplateCell::claimed("JD"), TemplateCell::empty()),
                1 => (TemplateCell::done("JD"), TemplateCell::claimed("MF")),
                2 => (TemplateCell::done("JD"), TemplateCell::done("MF")),
                _ => (TemplateCell::empty(), TemplateCell::empty()),
            };
            TemplateRow {
                scan_date: None,
                study: "BENCH".into(),
                notes: String::new(),
                id: format!("S{:04}", i + 1),
                original_id: format!("{}", 70001 + i),
                anonymized,
                check,
                excluded: false,
            }
        })
        .collect()
}

/// The edits `sync` would write for `plan`: green on the planned cell, every tenth a problem.
fn edits_for(table: &Table, plan: &Plan) -> Vec<CellEdit> {
    plan.items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let col = match item.action {
                Stage::Anonymize => table.columns.anonymized,
                Stage::Verify => table.columns.check,
            };
            let problem = i % 10 == 9;
            CellEdit {
                row: item.row,
                col,
                text: problem.then(|| {
                    format!(
                        "{} (0010,4000) PatientComments not anonymous",
                        item.initials.as_deref().unwrap_or("AT")
                    )
                }),
                green: !problem,
            }
        })
        .collect()
}

fn read_plan_edits(path: &Path, config: &Config) -> Option<(Table, Plan, Vec<CellEdit>)> {
    let table = read_table(path, &config.columns).ok()?;
    let base = path.parent().unwrap_or(Path::new("."));
    let plan = plan::plan(&table, config, base);
    let edits = edits_for(&table, &plan);
    Some((table, plan, edits))
}

fn bench_workbook(c: &mut Criterion, name: &str, pristine: &Path) {
    let config = Config::default();
    let Some((table, plan, edits)) = read_plan_edits(pristine, &config) else {
        eprintln!("sheet bench: cannot read `{name}`; skipped");
        return;
    };
    let Ok(bytes) = std::fs::read(pristine) else {
        return;
    };
    if patch_package(&bytes, &table.sheet, &edits).is_err() {
        eprintln!("sheet bench: cannot patch `{name}`; skipped");
        return;
    }
    eprintln!(
        "sheet bench `{name}`: {} KB, {} rows, {} planned, {} edits",
        bytes.len() / 1024,
        table.rows.len(),
        plan.items.len(),
        edits.len()
    );
    let Ok(dir) = tempfile::tempdir() else { return };
    let copy = dir.path().join("copy.xlsx");
    let work = dir.path().join("work.xlsx");
    let base = pristine.parent().unwrap_or(Path::new("."));

    let mut group = c.benchmark_group(format!("sheet {name}"));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("fs::copy", |b| {
        b.iter(|| black_box(std::fs::copy(pristine, &copy).ok()))
    });
    group.bench_function("read_table", |b| {
        b.iter(|| black_box(read_table(pristine, &config.columns).ok()))
    });
    group.bench_function("plan", |b| {
        b.iter(|| black_box(plan::plan(&table, &config, base)))
    });
    group.bench_function("patch_package", |b| {
        b.iter(|| black_box(patch_package(&bytes, &table.sheet, &edits).ok()))
    });
    group.bench_function("read+plan+patch", |b| {
        b.iter(|| {
            let (table, _, edits) = read_plan_edits(pristine, &config)?;
            let bytes = std::fs::read(pristine).ok()?;
            black_box(patch_package(&bytes, &table.sheet, &edits).ok())
        })
    });
    group.bench_function("read+plan+save", |b| {
        b.iter_batched(
            || std::fs::copy(pristine, &work).ok(),
            |_| {
                let (table, _, edits) = read_plan_edits(&work, &config)?;
                let print = Fingerprint::of(&work).ok()?;
                black_box(save_workbook(&work, &table.sheet, &edits, &print).ok())
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn synthetic_1000(c: &mut Criterion) {
    let Ok(bytes) = template::build_with_rows(&synthetic_rows(1000)) else {
        eprintln!("sheet bench: cannot build the 1,000-row workbook; skipped");
        return;
    };
    let Ok(dir) = tempfile::tempdir() else { return };
    let path: PathBuf = dir.path().join("BENCH_dataprocessing.xlsx");
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    bench_workbook(c, "1000 rows", &path);
}

fn lab_workbook(c: &mut Criterion) {
    let path = Path::new(LAB_WORKBOOK);
    if !path.exists() {
        eprintln!("sheet bench: {LAB_WORKBOOK} not found; the lab workbook is skipped");
        return;
    }
    bench_workbook(c, "lab workbook", path);
}

criterion_group!(benches, synthetic_1000, lab_workbook);
criterion_main!(benches);
