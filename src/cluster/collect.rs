//! The collect step: the results the plan's tasks saved, gathered in plan order, applied to the
//! workbook once by participant ID (through [`crate::sheet::writeback`]), their audit lines
//! appended, and what was collected remembered, so that collecting again only takes what is new.
//!
//! What was collected is kept in `.anontrack/results/<run>/collected.json`: for each row, the
//! SHA-256 of the result file applied. A result that is unchanged since is skipped; a missing one
//! is listed and its row left untouched, so working that item again and collecting again finishes
//! it. When the plan asks for mapping files (`--write-mapping DIR` when planning), each newly
//! collected participant's part is merged into DIR and removed. Nothing here prints.

use super::plan_file::PlanFile;
use super::work::{mapping_part_dir, result_path, results_dir};
use crate::error::{Error, Result};
use crate::records;
use crate::results::RowResult;
use crate::runner;
use crate::study::Study;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The results ready to apply, and what is not.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Results not collected before, in sheet order (the plan's rows), the plan's problem rows
    /// among them.
    pub new: Vec<RowResult>,
    /// Items without a result file: (index, ID).
    pub missing: Vec<(usize, String)>,
    /// Items whose result file cannot be used: (index, ID, why). Their rows stay untouched.
    pub unreadable: Vec<(usize, String, String)>,
    /// Results collected before and unchanged since.
    pub already: usize,
    ledger: Ledger,
    /// The ledger entries to add once `new` is applied, by result.
    pending: Vec<(String, String)>,
}

/// `collected.json`: what each row's applied result was.
type Ledger = BTreeMap<String, String>;

fn ledger_path(study: &Study, plan: &PlanFile) -> PathBuf {
    results_dir(study, plan).join("collected.json")
}

/// Reads the results of `plan`'s items and the plan's problem rows, leaving out what was
/// collected before.
pub fn gather(study: &Study, plan: &PlanFile) -> Result<Gathered> {
    let path = ledger_path(study, plan);
    let ledger: Ledger = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Error::Usage(format!(
                "cannot read `{}`: {e} (hint: delete it to collect every result again; rows already written keep their cells)",
                path.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ledger::new(),
        Err(e) => return Err(Error::read(&path, e)),
    };
    let mut g = Gathered {
        ledger,
        ..Gathered::default()
    };
    let mut new: Vec<(u32, RowResult)> = Vec::new();
    for (index, item) in plan.items.iter().enumerate() {
        let path = result_path(study, plan, &item.id);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                g.missing.push((index, item.id.clone()));
                continue;
            }
            Err(e) => return Err(Error::read(&path, e)),
        };
        let hash = sha256_hex(&bytes);
        let key = format!("item:{}", item.id);
        if g.ledger.get(&key) == Some(&hash) {
            g.already += 1;
            continue;
        }
        let result: RowResult = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                g.unreadable
                    .push((index, item.id.clone(), format!("not a result ({e})")));
                continue;
            }
        };
        if result.id != item.id || result.stage != item.action {
            g.unreadable.push((
                index,
                item.id.clone(),
                "it is the result of another row or stage".into(),
            ));
            continue;
        }
        g.pending.push((key, hash));
        new.push((item.row, result));
    }
    for problem in &plan.problems {
        let key = format!("problem:{}", problem.id);
        if g.ledger.contains_key(&key) {
            g.already += 1;
            continue;
        }
        if let Some(result) = runner::refused_row(study, &problem.to_skip()) {
            g.pending.push((key, "refused".into()));
            new.push((problem.row, result));
        }
    }
    // Sheet order, as a local sync works and records rows.
    new.sort_by_key(|(row, _)| *row);
    g.new = new.into_iter().map(|(_, r)| r).collect();
    Ok(g)
}

/// After `g.new` was applied to the workbook: merges their mapping parts into the plan's
/// mapping folder (when it asks for one; first, so a failed merge is retried by the next
/// collect without doubling audit lines), appends their audit lines in plan order and
/// remembers them as collected.
pub fn record(study: &Study, plan: &PlanFile, g: &Gathered) -> Result<()> {
    if let Some(dir) = &plan.mapping_dir {
        for result in &g.new {
            let part = mapping_part_dir(study, plan, &result.id);
            if !part.is_dir() {
                continue; // a row that did not pass, or was verified only
            }
            crate::anonymize::mapping::merge_part(&part, dir).map_err(|e| Error::write(dir, e))?;
            // The part re-identifies like the merged file: not left behind once merged.
            std::fs::remove_dir_all(&part).map_err(|e| Error::write(&part, e))?;
        }
    }
    for result in &g.new {
        runner::record(study, result)?;
    }
    let mut ledger = g.ledger.clone();
    ledger.extend(g.pending.iter().cloned());
    let path = ledger_path(study, plan);
    let dir = results_dir(study, plan);
    std::fs::create_dir_all(&dir).map_err(|e| Error::write(&dir, e))?;
    let mut bytes = serde_json::to_vec_pretty(&ledger).map_err(|e| Error::Patch {
        path: path.clone(),
        reason: format!("cannot encode the collect record: {e}"),
    })?;
    bytes.push(b'\n');
    records::write_atomic(&path, &bytes)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
