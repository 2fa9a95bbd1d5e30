//! Tests of a sync split into `sync --plan-out`, `work` and `sync --collect`, run as a shell loop
//! (no scheduler): the same workbook cells, reports, audit lines and byte-identical outputs as a
//! local `sync` of a copy; a missing result leaves its row untouched (exit 1) until the item is
//! worked and collected again; a second collect changes nothing. Also `slurm-script` on a real
//! plan. The test against a real SLURM is in `slurm.rs`.
//!
//! Participants are synthetic (`anontrack::synth`, made-up names).

use crate::harness::{Run, tree_hash};
use crate::sync::Study;
use crate::xlsx_check::{SHEET_XML, part};
use anontrack::synth::{Faults, ParticipantSpec};
use serde_json::Value;

/// The pinned date both sides write.
pub const DATE: &str = "20261130";

/// Six rows: four clean participants, one whose files hold a name in a private element (a
/// problem found by working it), and one whose Original ID is unusable (a problem found while
/// planning, recorded by the collect step).
pub fn six_participants() -> Study {
    let s = Study::simple(&[
        ("S01", "5910001", "KH", ""),
        ("S02", "5910002", "KH", ""),
        ("S03", "5910003", "JD", ""),
        ("S04", "5910004", "JD", ""),
        ("S05", "5910005", "MF", ""),
        ("S06", "../x", "MF", ""),
    ]);
    for (i, id) in ["5910001", "5910002", "5910003", "5910004"]
        .iter()
        .enumerate()
    {
        s.participant(&ParticipantSpec::new(*id, 910 + i as u64));
    }
    s.participant(&ParticipantSpec::new("5910005", 915).faults(Faults {
        name_in_private: true,
        ..Faults::default()
    }));
    s
}

/// `anontrack sync BOOK --plan-out plan.json --date DATE`.
pub fn plan_out(s: &Study) -> Run {
    s.w.run(["sync", &s.book, "--date", DATE, "--plan-out", "plan.json"])
}

/// `anontrack work plan.json --index i`.
pub fn work(s: &Study, i: usize) -> Run {
    s.w.run(["work", "plan.json", "--index", &i.to_string()])
}

/// `anontrack sync BOOK --collect plan.json`.
pub fn collect(s: &Study) -> Run {
    s.w.run(["sync", &s.book, "--collect", "plan.json"])
}

/// The plan's run id.
pub fn run_id(s: &Study) -> String {
    let plan: Value =
        serde_json::from_slice(&std::fs::read(s.w.join("plan.json")).unwrap()).unwrap();
    plan["run_id"].as_str().unwrap().to_string()
}

/// A report or audit line without what depends on the clock.
fn timeless(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("time");
    }
    v
}

/// Asserts that `cluster` ended as `local` did: the owned cells (the sheet XML), every
/// anonymized and rejected file byte for byte, the reports and the audit lines (but for the
/// time; in the same order unless `any_order`, for a run whose rows were collected in turns).
#[track_caller]
pub fn assert_same_end(local: &Study, cluster: &Study, any_order: bool) {
    assert_eq!(local.status(), cluster.status());
    assert_eq!(
        part(&local.bytes(), SHEET_XML),
        part(&cluster.bytes(), SHEET_XML),
        "the sheet XML differs"
    );
    for dir in ["AnonDcm", ".anontrack/rejected"] {
        let (a, b) = (local.w.join(dir), cluster.w.join(dir));
        assert_eq!(a.exists(), b.exists(), "{dir}");
        if a.exists() {
            let (ha, hb) = (tree_hash(&a), tree_hash(&b));
            assert!(!ha.is_empty(), "{dir} is empty");
            assert_eq!(ha, hb, "{dir} differs");
        }
    }
    let reports = |s: &Study| -> Vec<(String, Value)> {
        let dir = s.w.join(".anontrack/reports");
        tree_hash(&dir)
            .into_iter()
            .map(|(rel, _)| {
                let v = serde_json::from_slice(&std::fs::read(dir.join(&rel)).unwrap()).unwrap();
                (rel, timeless(v))
            })
            .collect()
    };
    let (ra, rb) = (reports(local), reports(cluster));
    assert!(!ra.is_empty());
    assert_eq!(ra, rb, "the reports differ");
    let audit = |s: &Study| -> Vec<Value> {
        let mut lines: Vec<Value> = s.audit().into_iter().map(timeless).collect();
        if any_order {
            lines.sort_by_key(|l| l["row"].as_u64());
        }
        lines
    };
    assert_eq!(audit(local), audit(cluster), "the audit lines differ");
}

#[test]
fn a_shell_loop_ends_as_a_local_sync() {
    let local = six_participants();
    local.sync(&["--date", DATE]).expect_code(1);

    let s = six_participants();
    let before = s.bytes();
    let planned = plan_out(&s);
    planned.expect_code(0);
    assert!(
        planned.stdout().contains("5 work item(s)"),
        "{}",
        planned.stdout()
    );
    // Planning changes nothing but the plan file.
    assert_eq!(s.bytes(), before);
    assert!(!s.w.join(".anontrack").exists());
    assert!(!s.w.join("AnonDcm").exists());

    for i in 0..5 {
        // A task's exit code says how its row went: S05's name in a private element is a problem.
        work(&s, i).expect_code(if i == 4 { 1 } else { 0 });
        // No task touches the workbook or the audit log.
        assert_eq!(s.bytes(), before);
        assert!(!s.w.join(".anontrack/audit.jsonl").exists());
    }
    let run = run_id(&s);
    let results = s.w.join(".anontrack/results").join(&run);
    for id in ["S01", "S02", "S03", "S04", "S05"] {
        let r: Value =
            serde_json::from_slice(&std::fs::read(results.join(format!("{id}.json"))).unwrap())
                .unwrap();
        assert_eq!(r["id"], id);
        assert_eq!(r["audit"]["id"], id, "the result carries its audit line");
    }

    let collected = collect(&s);
    collected.expect_code(1);
    assert!(
        collected
            .stdout()
            .contains("6 row(s) worked, 4 passed, 2 with a problem"),
        "{}",
        collected.stdout()
    );
    assert_same_end(&local, &s, false);

    // A second collect is a no-op: same workbook bytes, no new audit line.
    let (book, audit) = (s.bytes(), s.audit().len());
    let again = collect(&s);
    again.expect_code(0);
    assert!(
        again.stdout().contains("nothing new to collect"),
        "{}",
        again.stdout()
    );
    assert_eq!(s.bytes(), book);
    assert_eq!(s.audit().len(), audit);
}

#[test]
fn a_missing_result_leaves_its_row_untouched_until_worked_and_collected() {
    let local = six_participants();
    local.sync(&["--date", DATE]).expect_code(1);

    let s = six_participants();
    plan_out(&s).expect_code(0);
    for i in [0, 1, 3, 4] {
        work(&s, i);
    }
    let partial =
        s.w.run(["--json", "sync", &s.book, "--collect", "plan.json"]);
    partial.expect_code(1);
    assert!(
        partial.stderr().contains("no result for item 2 (S03)"),
        "the missing item is named: {}",
        partial.stderr()
    );
    let lines = partial.json_lines();
    assert!(
        lines
            .iter()
            .any(|l| l["missing"] == true && l["id"] == "S03" && l["item"] == 2),
        "{lines:?}"
    );
    assert_eq!(lines.last().unwrap()["summary"], true, "{lines:?}");
    let status = s.status();
    assert_eq!(status[0], "3 S01 5910001 done(KH) not_started");
    assert_eq!(status[2], "5 S03 5910003 pending(JD) not_started");
    assert!(s.anon_files("S03").is_empty());

    // The missing item is worked again, and the next collect finishes it.
    work(&s, 2).expect_code(0);
    collect(&s).expect_code(0);
    assert_same_end(&local, &s, true);
}

#[test]
fn work_refuses_an_index_outside_the_plan_and_a_plan_that_is_not_one() {
    let s = six_participants();
    plan_out(&s).expect_code(0);
    let run = work(&s, 5);
    run.expect_code(2);
    assert!(
        run.stderr().contains("it has 5 item(s), numbered 0 to 4"),
        "{}",
        run.stderr()
    );
    // Without --index and outside SLURM there is no index.
    let run = s.w.run(["work", "plan.json"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("SLURM_ARRAY_TASK_ID"),
        "{}",
        run.stderr()
    );
    std::fs::write(s.w.join("other.json"), b"{\"x\": 1}").unwrap();
    let run = s.w.run(["work", "other.json", "--index", "0"]);
    run.expect_code(2);
    assert!(run.stderr().contains("is not a plan"), "{}", run.stderr());
    assert!(!s.w.join(".anontrack/results").exists());
}

#[test]
fn slurm_script_names_this_binary_the_plan_and_the_workbook() {
    let s = six_participants();
    plan_out(&s).expect_code(0);
    let run = s.w.run([
        "slurm-script",
        "plan.json",
        "--max-parallel",
        "3",
        "--jobs",
        "2",
        "--time",
        "30:00",
        "--partition",
        "debug",
    ]);
    run.expect_code(0);
    let text = run.stdout();
    assert!(text.contains("--array=0-4%3"), "{text}");
    assert!(text.contains("--cpus-per-task=2"), "{text}");
    assert!(text.contains("--time='30:00'"), "{text}");
    let bin = crate::harness::bin();
    assert!(
        text.contains(&format!("ANONTRACK='{}'", bin.display())),
        "{text}"
    );
    let plan = s.w.join("plan.json").canonicalize().unwrap();
    assert!(
        text.contains(&format!("PLAN='{}'", plan.display()))
            || text.contains(&format!("PLAN='{}'", s.w.join("plan.json").display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("/.anontrack/results/{}/logs", run_id(&s))),
        "{text}"
    );
    let bad = s.w.run(["slurm-script", "plan.json", "--bin", "anontrack"]);
    bad.expect_code(2);
    assert!(
        bad.stderr().contains("not an absolute path"),
        "{}",
        bad.stderr()
    );
}

#[test]
fn the_plan_names_the_key_by_fingerprint_and_work_refuses_another_key() {
    let s = six_participants();
    let key_path = s.w.join(".anontrack/study.key");
    std::fs::create_dir_all(key_path.parent().unwrap()).unwrap();
    let key: Vec<u8> = (0u8..32).collect();
    std::fs::write(&key_path, &key).unwrap();
    plan_out(&s).expect_code(0);
    let plan: Value =
        serde_json::from_slice(&std::fs::read(s.w.join("plan.json")).unwrap()).unwrap();
    assert_eq!(plan["key"]["path"], ".anontrack/study.key");
    assert_eq!(plan["key"]["fingerprint"], "630dcd2966c43366");
    let text = std::fs::read_to_string(s.w.join("plan.json")).unwrap();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!text.contains(&hex[..32]), "the key itself is in the plan");

    // Another key would give other UIDs and dates than the tasks already done: refused.
    std::fs::write(&key_path, [7u8; 32]).unwrap();
    let run = work(&s, 0);
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("is not the one the plan was made with"),
        "{}",
        run.stderr()
    );
    assert!(s.anon_files("S01").is_empty());
    // The same key again: the task runs.
    std::fs::write(&key_path, &key).unwrap();
    work(&s, 0).expect_code(0);
}

#[test]
fn write_mapping_in_a_cluster_run_merges_each_tasks_part_at_collect() {
    use std::os::unix::fs::PermissionsExt;
    let key = ".anontrack/study.key";
    let make = || {
        let s = Study::simple(&[("S01", "70001", "KH", ""), ("S02", "70002", "KH", "")]);
        s.participant(&ParticipantSpec::new("70001", 3));
        s.participant(&ParticipantSpec::new("70002", 4));
        std::fs::write(s.w.join("anontrack.toml"), "profile = \"neuro\"\n").unwrap();
        s
    };
    let local = make();
    anontrack::deid::StudyKey::load_or_create(&local.w.join(key)).unwrap();
    local
        .sync(&["--date", DATE, "--write-mapping", "audit/mapping"])
        .expect_code(0);

    // The same study and key, worked as a plan.
    let s = make();
    std::fs::create_dir_all(s.w.join(".anontrack")).unwrap();
    std::fs::copy(local.w.join(key), s.w.join(key)).unwrap();
    let planned = s.w.run([
        "sync",
        &s.book,
        "--date",
        DATE,
        "--plan-out",
        "plan.json",
        "--write-mapping",
        "audit/mapping",
    ]);
    planned.expect_code(0);
    let plan: Value =
        serde_json::from_slice(&std::fs::read(s.w.join("plan.json")).unwrap()).unwrap();
    let dir = std::path::PathBuf::from(plan["mapping_dir"].as_str().unwrap());
    assert!(
        dir.is_absolute() && dir.ends_with("audit/mapping"),
        "{dir:?}"
    );
    let parts =
        s.w.join(".anontrack/results")
            .join(run_id(&s))
            .join("mapping");
    for i in 0..2 {
        work(&s, i).expect_code(0);
        // A task writes its own part, never the shared files.
        assert!(
            !s.w.join("audit").exists(),
            "task {i} wrote the shared files"
        );
    }
    for id in ["S01", "S02"] {
        assert!(parts.join(id).join("patid_mapping.csv").is_file(), "{id}");
        assert!(parts.join(id).join("uid_mapping.csv").is_file(), "{id}");
    }
    collect(&s).expect_code(0);
    for f in ["uid_mapping.csv", "patid_mapping.csv"] {
        let (want, got) = (local.w.join("audit/mapping").join(f), dir.join(f));
        assert_eq!(
            std::fs::read_to_string(&got).unwrap(),
            std::fs::read_to_string(&want).unwrap(),
            "{f} differs from a local sync's"
        );
        let mode = std::fs::metadata(&got).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    // The parts re-identify too: gone once merged.
    assert!(!parts.join("S01").exists() && !parts.join("S02").exists());
    // Collecting again changes nothing.
    let before = std::fs::read(dir.join("uid_mapping.csv")).unwrap();
    collect(&s).expect_code(0);
    assert_eq!(std::fs::read(dir.join("uid_mapping.csv")).unwrap(), before);
}
