//! Two syncs at once on one workbook: one works, the other exits 2 naming the holder; no row is
//! worked twice and nothing is lost. `status` and `--dry-run` never take the lock.

use crate::harness::bin;
use crate::sync::Study;
use anontrack::synth::ParticipantSpec;
use std::process::{Command, Stdio};

#[test]
fn two_syncs_at_once_one_works_the_other_names_the_holder() {
    let ids = ["S01", "S02", "S03", "S04"];
    let rows: Vec<(String, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.to_string(), format!("59{i:02}")))
        .collect();
    let table: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|(id, orig)| (id.as_str(), orig.as_str(), "KH", ""))
        .collect();
    let s = Study::simple(&table);
    for (i, (_, orig)) in rows.iter().enumerate() {
        // Enough files that the first sync still holds the lock when the second gives up.
        s.participant(&ParticipantSpec::new(orig.clone(), i as u64).series(3, 150));
    }
    let spawn = || {
        Command::new(bin())
            .args(["sync", s.book.as_str()])
            .current_dir(s.w.path())
            .env("ANONTRACK_LOCK_WAIT_MS", "300")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // The second starts once the first holds the lock (on a loaded machine two processes
    // started together may otherwise run one after the other).
    let a = spawn();
    let lock = s.w.join(".anontrack/sync.lock");
    let since = std::time::Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains("pid=")) {
        assert!(
            since.elapsed().as_secs() < 30,
            "the first sync never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let b = spawn();
    let pids = [a.id(), b.id()];
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let codes: Vec<i32> = outs.iter().map(|o| o.status.code().unwrap()).collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [0, 2], "one works, one is refused: {codes:?}");
    let loser = codes.iter().position(|&c| c == 2).unwrap();
    let err = String::from_utf8_lossy(&outs[loser].stderr);
    assert!(
        err.contains(&format!(
            "another `anontrack sync` is working on this study (pid {} on host ",
            pids[1 - loser]
        )) && err.contains("since "),
        "{err}"
    );
    // Every row worked exactly once, and the workbook holds every result.
    let audit = s.audit();
    assert_eq!(audit.len(), ids.len(), "{audit:?}");
    let status = s.status();
    for (line, (id, orig)) in status.iter().zip(&rows) {
        assert!(
            line.contains(&format!("{id} {orig} done(KH)")),
            "{status:?}"
        );
    }
    // `status` and `--dry-run` do not wait for or take the lock.
    let _held = anontrack::lock::acquire_within(&s.path(), std::time::Duration::ZERO).unwrap();
    s.sync(&["--dry-run"]).expect_code(0);
    assert_eq!(s.status().len(), ids.len());
}
