//! The cluster mode against a real SLURM: `scripts/slurm-local.sh` starts a one-node cluster
//! (munged, slurmctld, slurmd) in a temporary folder, the script `slurm-script` prints is run
//! with bash (it calls the real `sbatch`), and the collect job's result is compared with a local
//! `sync` of a copy. One cancelled array task leaves its row untouched; re-submitting that index
//! and collecting again finishes it. The daemons are stopped by their pids at the end.
//!
//! Needs root and Debian's `slurm-wlm` and `munge` (CI installs them); skipped with a note
//! elsewhere, a failure under `ANONTRACK_REQUIRE_TOOLS=1`.

use crate::cluster::{DATE, assert_same_end, plan_out, run_id, six_participants};
use crate::harness::{require, tool_present};
use crate::sync::Study;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A running one-node cluster; stopped (by pid, through the script) when dropped.
struct LocalCluster {
    dir: tempfile::TempDir,
}

impl LocalCluster {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-local.sh")
    }

    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(Self::script())
            .arg("start")
            .arg(dir.path())
            // Not the default ports, so a cluster someone runs by hand is not disturbed.
            .env("SLURM_LOCAL_PORT", "6917")
            .output()
            .unwrap();
        let cluster = Self { dir };
        assert!(
            out.status.success(),
            "slurm-local.sh start failed:\n{}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            cluster.logs()
        );
        cluster
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }

    /// The daemons' logs, for a failure message.
    fn logs(&self) -> String {
        ["slurmctld.log", "slurmd.log", "munge/munged.log"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                format!(
                    "--- {f}\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Runs a SLURM client command against this cluster.
    fn client(&self, cmd: &str, args: &[&str]) -> String {
        let out = Command::new(cmd)
            .args(args)
            .env("SLURM_CONF", self.conf())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `bash script` in the study folder, as a user would submit it; returns its stdout.
    fn submit(&self, s: &Study, script: &str) -> String {
        let path = s.w.join("submit.sh");
        std::fs::write(&path, script).unwrap();
        let out = Command::new("bash")
            .arg(&path)
            .current_dir(s.w.path())
            .env("SLURM_CONF", self.conf())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "submit failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// The state of job `id` (`COMPLETED`, `PENDING`, ...).
    fn state(&self, id: &str) -> String {
        let line = self.client("scontrol", &["show", "job", "-o", id]);
        line.split_whitespace()
            .find_map(|w| w.strip_prefix("JobState="))
            .unwrap_or("UNKNOWN")
            .to_string()
    }

    /// Waits until job `id` has ended, for at most three minutes.
    fn wait(&self, id: &str) {
        let start = Instant::now();
        loop {
            let state = self.state(id);
            if matches!(
                state.as_str(),
                "COMPLETED" | "FAILED" | "CANCELLED" | "TIMEOUT" | "NODE_FAIL" | "OUT_OF_MEMORY"
            ) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "job {id} still {state} after 3 minutes\n{}\n{}",
                self.client("squeue", &[]),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(Self::script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// The job id printed after `label` by the submit script.
fn job_id(stdout: &str, label: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `{label}` in:\n{stdout}"))
        .to_string()
}

/// The collect job's output (its log under `.anontrack/results/<run>/logs/`).
fn collect_log(s: &Study, collect: &str) -> String {
    let path =
        s.w.join(".anontrack/results")
            .join(run_id(s))
            .join("logs")
            .join(format!("collect-{collect}.out"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| format!("{}: {e}", path.display()))
}

fn slurm_present() -> bool {
    let tools = ["sbatch", "scontrol", "slurmctld", "slurmd", "munged"]
        .iter()
        .all(|t| tool_present("sh", &["-c", &format!("command -v {t}")]));
    require("SLURM and munge (apt-get install slurm-wlm munge)", tools)
        && require(
            "root (slurmd runs jobs as their submitter)",
            tool_present("sh", &["-c", "test \"$(id -u)\" = 0"]),
        )
}

#[test]
fn a_study_worked_by_a_real_slurm_array_ends_as_a_local_sync() {
    if !slurm_present() {
        return;
    }
    let cluster = LocalCluster::start();

    let local = six_participants();
    local.sync(&["--date", DATE]).expect_code(1);

    // All six rows through the array (five tasks: one row is a problem found while planning).
    let s = six_participants();
    plan_out(&s).expect_code(0);
    let script = s.w.run([
        "slurm-script",
        "plan.json",
        "--max-parallel",
        "2",
        "--time",
        "10",
    ]);
    script.expect_code(0);
    let submitted = cluster.submit(&s, &script.stdout());
    let collect = job_id(&submitted, "collect job: ");
    cluster.wait(&collect);
    assert_eq!(
        cluster.state(&collect),
        // The collect exits 1: two rows have a problem, as with the local sync.
        "FAILED",
        "{}",
        collect_log(&s, &collect)
    );
    assert!(
        collect_log(&s, &collect).contains("6 row(s) worked, 4 passed, 2 with a problem"),
        "{}",
        collect_log(&s, &collect)
    );
    assert_same_end(&local, &s, false);

    // One task cancelled before it ran: its row stays as it was after the collect.
    let s = six_participants();
    plan_out(&s).expect_code(0);
    let script = s.w.run([
        "slurm-script",
        "plan.json",
        "--max-parallel",
        "1",
        "--time",
        "10",
    ]);
    let submitted = cluster.submit(&s, &script.stdout());
    let array = job_id(&submitted, "work array job: ");
    cluster.client("scancel", &[&format!("{array}_2")]);
    let collect = job_id(&submitted, "collect job: ");
    cluster.wait(&collect);
    let log = collect_log(&s, &collect);
    assert!(log.contains("no result for item 2 (S03)"), "{log}");
    assert_eq!(s.status()[2], "5 S03 5910003 pending(JD) not_started");
    assert!(s.anon_files("S03").is_empty());

    // Re-submitting that index, and collecting again, finishes it.
    let script =
        s.w.run(["slurm-script", "plan.json", "--only", "2", "--time", "10"]);
    script.expect_code(0);
    let submitted = cluster.submit(&s, &script.stdout());
    let collect = job_id(&submitted, "collect job: ");
    cluster.wait(&collect);
    assert_eq!(
        cluster.state(&collect),
        "COMPLETED",
        "{}",
        collect_log(&s, &collect)
    );
    assert_same_end(&local, &s, true);
}
