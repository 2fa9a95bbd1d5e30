//! The SLURM submit script, as text: one array job whose task `i` runs `anontrack work PLAN` on
//! item `i`, then the collect step as a job that waits for the whole array
//! (`--dependency=afterany`). Pure text generation: nothing here runs `sbatch` or talks to SLURM.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Everything the submit script says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitScript {
    /// The anontrack binary the tasks run (absolute, as the nodes see it).
    pub bin: PathBuf,
    /// The plan file (absolute).
    pub plan: PathBuf,
    /// The workbook the collect step writes (absolute).
    pub workbook: PathBuf,
    /// Where SLURM writes the tasks' output (absolute; the script makes it).
    pub logs: PathBuf,
    /// The plan's run id, for job names and comments.
    pub run_id: String,
    /// The number of work items in the plan; at least 1.
    pub items: usize,
    /// Only these array indexes (SLURM's list syntax, `2` or `0,3-5`), to re-run tasks that
    /// died; `None` for all items.
    pub only: Option<String>,
    /// At most this many tasks run at once (`%M`).
    pub max_parallel: usize,
    /// Threads per task: `--cpus-per-task` and `anontrack work --jobs`.
    pub jobs: usize,
    /// The per-task time limit, in SLURM's syntax (`2:00:00`, `1-00:00:00`, `90`).
    pub time: String,
    pub partition: Option<String>,
    pub account: Option<String>,
}

/// The collect job's time limit: it reads small JSON files and saves one workbook.
const COLLECT_TIME: &str = "0:30:00";

impl SubmitScript {
    /// The bash script: run with `bash`, it submits the array job and the collect job and prints
    /// both job IDs.
    pub fn render(&self) -> String {
        let Self {
            bin,
            plan,
            workbook,
            logs,
            run_id,
            items,
            only,
            max_parallel,
            jobs,
            time,
            partition,
            account,
        } = self;
        let array = match only {
            Some(list) => list.clone(),
            None => format!("0-{}", items.saturating_sub(1)),
        };
        let mut common = String::new();
        if let Some(p) = partition {
            let _ = write!(common, " \\\n  --partition={}", quote(p));
        }
        if let Some(a) = account {
            let _ = write!(common, " \\\n  --account={}", quote(a));
        }
        let mut s = String::new();
        let _ = writeln!(s, "#!/usr/bin/env bash");
        let _ = writeln!(
            s,
            "# Submits anontrack run {run_id} to SLURM: work items {array} of {items} as one array job, then the"
        );
        let _ = writeln!(
            s,
            "# collect step, which writes the workbook once every task has ended (done, failed or cancelled)."
        );
        let _ = writeln!(
            s,
            "# Written by `anontrack slurm-script` {}; run it with: bash THIS_FILE",
            env!("CARGO_PKG_VERSION")
        );
        let _ = writeln!(
            s,
            "# A task that died leaves its row untouched: re-submit it with `anontrack slurm-script PLAN"
        );
        let _ = writeln!(
            s,
            "# --only <index>` (or run `anontrack work PLAN --index <index>`), then collect again."
        );
        let _ = writeln!(s, "set -euo pipefail");
        let _ = writeln!(s);
        let _ = writeln!(s, "ANONTRACK={}", quote_path(bin));
        let _ = writeln!(s, "PLAN={}", quote_path(plan));
        let _ = writeln!(s, "WORKBOOK={}", quote_path(workbook));
        let _ = writeln!(s, "LOGS={}", quote_path(logs));
        let _ = writeln!(s);
        let _ = writeln!(s, "mkdir -p \"$LOGS\"");
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "# One task per work item; task i works item i ($SLURM_ARRAY_TASK_ID)."
        );
        let _ = writeln!(
            s,
            "array_job=$(sbatch --parsable \\\n  --job-name={} \\\n  --array={array}%{max_parallel} \\\n  --time={} \\\n  --cpus-per-task={jobs}{common} \\\n  --output=\"$LOGS/work-%A_%a.out\" <<EOF\n#!/bin/bash\nexec $(printf '%q ' \"$ANONTRACK\" work \"$PLAN\")--jobs {jobs}\nEOF\n)",
            quote(&format!("anontrack-work-{run_id}")),
            quote(time),
        );
        let _ = writeln!(
            s,
            "array_job=${{array_job%%;*}}  # --parsable may add \";cluster\""
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "# The collect step: one job, after every task has ended, whatever its outcome."
        );
        let _ = writeln!(
            s,
            "collect_job=$(sbatch --parsable \\\n  --job-name={} \\\n  --dependency=afterany:\"$array_job\" \\\n  --time={COLLECT_TIME} \\\n  --cpus-per-task=1{common} \\\n  --output=\"$LOGS/collect-%j.out\" <<EOF\n#!/bin/bash\nexec $(printf '%q ' \"$ANONTRACK\" sync \"$WORKBOOK\" --collect \"$PLAN\")\nEOF\n)",
            quote(&format!("anontrack-collect-{run_id}")),
        );
        let _ = writeln!(s, "collect_job=${{collect_job%%;*}}");
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "echo \"work array job: $array_job (items {array}, at most {max_parallel} at once)\""
        );
        let _ = writeln!(
            s,
            "echo \"collect job: $collect_job (starts when every task has ended)\""
        );
        let _ = writeln!(s, "echo \"logs: $LOGS\"");
        s
    }
}

/// A path as a single-quoted shell word.
fn quote_path(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

/// `s` as one single-quoted shell word (`'` becomes `'\''`).
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Checks a SLURM time limit: minutes, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM` or `D-HH:MM:SS`.
pub fn check_time(t: &str) -> Result<(), String> {
    let (days, rest) = match t.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, t),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let digits = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    let ok = days.is_none_or(digits)
        && parts.iter().all(|p| digits(p))
        && match days {
            Some(_) => parts.len() <= 3,
            None => parts.len() <= 3,
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{t}` is not a SLURM time limit (use minutes, HH:MM:SS or D-HH:MM:SS, like 2:00:00)"
        ))
    }
}

/// Checks an index list for `--only` against the plan's `items`: numbers and ranges
/// (`2`, `0,3-5`), each below `items`.
pub fn check_only(list: &str, items: usize) -> Result<(), String> {
    let bad = || {
        format!(
            "`{list}` is not a list of item numbers from 0 to {} (like `2` or `0,3-5`)",
            items.saturating_sub(1)
        )
    };
    for part in list.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: usize = a.parse().map_err(|_| bad())?;
        let b: usize = b.parse().map_err(|_| bad())?;
        if a > b || b >= items {
            return Err(bad());
        }
    }
    Ok(())
}

/// Checks a partition or account name: letters, digits, `_`, `-`, `.` and `,` (a list).
pub fn check_name(what: &str, s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ','));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a SLURM {what} name (letters, digits, `_`, `-`, `.`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SubmitScript {
        SubmitScript {
            bin: "/opt/anontrack/bin/anontrack".into(),
            plan: "/data/study one/plan.json".into(),
            workbook: "/data/study one/S_dataprocessing.xlsx".into(),
            logs: "/data/study one/.anontrack/results/r1/logs".into(),
            run_id: "r1".into(),
            items: 6,
            only: None,
            max_parallel: 4,
            jobs: 2,
            time: "2:00:00".into(),
            partition: Some("short".into()),
            account: None,
        }
    }

    #[test]
    fn the_array_covers_every_item_with_its_limits() {
        let text = sample().render();
        assert!(text.starts_with("#!/usr/bin/env bash\n"), "{text}");
        assert!(text.contains("--array=0-5%4"), "{text}");
        assert!(text.contains("--time='2:00:00'"), "{text}");
        assert!(text.contains("--cpus-per-task=2"), "{text}");
        assert!(text.contains("--partition='short'"), "{text}");
        assert!(!text.contains("--account"), "{text}");
        assert!(text.contains("work \"$PLAN\")--jobs 2\nEOF\n"), "{text}");
        assert!(
            text.contains("--dependency=afterany:\"$array_job\""),
            "{text}"
        );
        assert!(
            text.contains("sync \"$WORKBOOK\" --collect \"$PLAN\")\nEOF\n"),
            "{text}"
        );
        assert!(
            text.contains("ANONTRACK='/opt/anontrack/bin/anontrack'"),
            "{text}"
        );
        assert!(text.contains("PLAN='/data/study one/plan.json'"), "{text}");
        assert!(text.contains("echo \"work array job: $array_job"), "{text}");
        assert!(text.contains("echo \"collect job: $collect_job"), "{text}");
        // The collect job is submitted after the array job, so it can name it.
        assert!(text.find("--array").unwrap() < text.find("--dependency").unwrap());
        let one = SubmitScript {
            items: 1,
            max_parallel: 1,
            account: Some("lab-a".into()),
            ..sample()
        };
        let text = one.render();
        assert!(text.contains("--array=0-0%1"), "{text}");
        assert_eq!(text.matches("--account='lab-a'").count(), 2, "{text}");
        let again = SubmitScript {
            only: Some("2,4".into()),
            ..sample()
        };
        assert!(again.render().contains("--array=2,4%4"));
    }

    #[test]
    fn quotes_survive_awkward_paths() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        let text = SubmitScript {
            plan: "/data/it's here/plan.json".into(),
            ..sample()
        }
        .render();
        assert!(
            text.contains("PLAN='/data/it'\\''s here/plan.json'"),
            "{text}"
        );
    }

    #[test]
    fn the_script_is_valid_bash() {
        let text = SubmitScript {
            plan: "/data/it's $HOME `x`/plan.json".into(),
            ..sample()
        }
        .render();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("submit.sh");
        std::fs::write(&path, &text).unwrap();
        let out = std::process::Command::new("bash")
            .arg("-n")
            .arg(&path)
            .output()
            .expect("run bash -n");
        assert!(
            out.status.success(),
            "{}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn the_script_submits_what_it_says_with_a_fake_sbatch() {
        // A stand-in `sbatch` records its arguments and prints job ids, so the script's own shell
        // logic (quoting, the dependency on the array's id) runs for real.
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let log = dir.path().join("calls");
        let fake = format!(
            "#!/usr/bin/env bash\nn=$(( $(cat '{0}.n' 2>/dev/null || echo 41) + 1 ))\necho $n > '{0}.n'\nprintf '%s\\n' \"$@\" >> '{0}'\ncat >> '{0}'\necho ---- >> '{0}'\necho \"$n;cluster\"\n",
            log.display()
        );
        std::fs::write(bin.join("sbatch"), fake).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("sbatch"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let script = SubmitScript {
            logs: dir.path().join("logs dir"),
            plan: dir.path().join("it's plan.json"),
            ..sample()
        }
        .render();
        let path = dir.path().join("submit.sh");
        std::fs::write(&path, &script).unwrap();
        let path_env = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = std::process::Command::new("bash")
            .arg(&path)
            .env("PATH", path_env)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("work array job: 42 (items 0-5, at most 4"),
            "{stdout}"
        );
        assert!(stdout.contains("collect job: 43"), "{stdout}");
        assert!(dir.path().join("logs dir").is_dir());
        let calls = std::fs::read_to_string(&log).unwrap();
        assert!(calls.contains("--dependency=afterany:42\n"), "{calls}");
        assert!(calls.contains("--array=0-5%4\n"), "{calls}");
        let plan = dir.path().join("it's plan.json");
        let quoted = |p: &Path| p.to_string_lossy().replace(' ', "\\ ").replace('\'', "\\'");
        assert!(
            calls.contains(&format!(
                "#!/bin/bash\nexec /opt/anontrack/bin/anontrack work {} --jobs 2\n",
                quoted(&plan)
            )),
            "{calls}"
        );
        assert!(
            calls.contains(&format!(
                "exec /opt/anontrack/bin/anontrack sync /data/study\\ one/S_dataprocessing.xlsx --collect {} \n",
                quoted(&plan)
            )),
            "{calls}"
        );
    }

    #[test]
    fn time_limits_and_names_are_checked() {
        for ok in ["90", "2:00:00", "30:00", "1-00", "1-12:00", "2-00:00:00"] {
            assert!(check_time(ok).is_ok(), "{ok}");
        }
        for bad in ["", "2h", "1:2:3:4", "1;rm", "-1", "1-"] {
            assert!(check_time(bad).is_err(), "{bad}");
        }
        assert!(check_only("2", 6).is_ok() && check_only("0,3-5", 6).is_ok());
        for bad in ["6", "3-2", "a", "1,", "-1", "0-9"] {
            assert!(check_only(bad, 6).is_err(), "{bad}");
        }
        assert!(check_name("partition", "gpu_short").is_ok());
        assert!(check_name("partition", "a b").is_err());
        assert!(check_name("account", "x'y").is_err());
    }
}
