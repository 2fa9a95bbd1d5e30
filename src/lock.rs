//! The study lock: one `sync` at a time per study folder.
//!
//! Two syncs on one workbook (two assistants, a cron job and a person) would delete or list
//! each other's temporary files and both write the workbook. A sync therefore holds an
//! exclusive lock on `.anontrack/sync.lock` beside the workbook for its whole run. The lock is
//! an operating-system advisory lock on that file (`File::try_lock`): it is released when the
//! process ends, however it ends, so a lock is never stale. The file itself stays, holding the
//! last holder's pid, host and start time, which the refused run names.
//!
//! `status` and `sync --dry-run` never take it. This module does not know what a sync does.

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a second sync waits for the first before giving up (`ANONTRACK_LOCK_WAIT_MS`
/// overrides it, e.g. `0` for a script that would rather fail at once).
pub const WAIT: Duration = Duration::from_secs(5);

/// The lock file of the study whose workbook is at `workbook`.
pub fn lock_path(workbook: &Path) -> PathBuf {
    workbook
        .parent()
        .unwrap_or(Path::new(""))
        .join(".anontrack")
        .join("sync.lock")
}

/// A held study lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct StudyLock {
    file: File,
    path: PathBuf,
}

impl StudyLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StudyLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes it immediate.
        let _ = self.file.unlock();
    }
}

/// Takes the study lock of `workbook`, waiting up to [`WAIT`] for another sync to finish.
///
/// # Errors
/// [`Error::Usage`] (exit 2) naming the holder (pid, host, since when) when another sync still
/// holds it after the wait; an I/O error when `.anontrack/` cannot be created.
pub fn acquire(workbook: &Path) -> Result<StudyLock> {
    let wait = std::env::var("ANONTRACK_LOCK_WAIT_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(WAIT, Duration::from_millis);
    acquire_within(workbook, wait)
}

/// [`acquire`] with another wait.
pub fn acquire_within(workbook: &Path, wait: Duration) -> Result<StudyLock> {
    let path = lock_path(workbook);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::write(&path, e))?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Usage(format!(
                    "another `anontrack sync` is working on this study ({}; lock `{}`) (hint: wait for it to finish, then run sync again; nothing was changed)",
                    holder(&mut file),
                    path.display()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(Error::write(&path, e)),
        }
    }
    let me = format!(
        "pid={}\nhost={}\nsince={}\n",
        std::process::id(),
        host(),
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S %z")
    );
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(me.as_bytes()))
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::write(&path, e))?;
    Ok(StudyLock { file, path })
}

/// `pid 123 on host lab-pc, since 2026-05-01 14:03:22 +0200`, from the lock file's text.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.take(4096).read_to_string(&mut text));
    describe_holder(&text)
}

fn describe_holder(text: &str) -> String {
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| crate::sheet::display_safe(v.trim()).into_owned())
            .filter(|v| !v.is_empty())
    };
    match (field("pid"), field("host"), field("since")) {
        (Some(pid), host, since) => format!(
            "pid {pid} on host {}, since {}",
            host.as_deref().unwrap_or("unknown"),
            since.as_deref().unwrap_or("an unknown time")
        ),
        _ => "a process that is just starting".into(),
    }
}

/// This machine's name, for the lock file (best effort).
fn host() -> String {
    ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .or_else(|| fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_waits_then_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let workbook = dir.path().join("study.xlsx");
        let first = acquire_within(&workbook, Duration::ZERO).unwrap();
        let text = fs::read_to_string(first.path()).unwrap();
        assert!(
            text.starts_with(&format!("pid={}\n", std::process::id())),
            "{text}"
        );
        let t = Instant::now();
        let err = acquire_within(&workbook, Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        assert!(t.elapsed() >= Duration::from_millis(300));
        assert!(
            err.contains(&format!("pid {} on host ", std::process::id())),
            "{err}"
        );
        assert!(err.contains("since "), "{err}");
        drop(first);
        // Released: the next one gets it at once, and the file stays.
        let again = acquire_within(&workbook, Duration::ZERO).unwrap();
        assert_eq!(again.path(), lock_path(&workbook));
    }

    #[test]
    fn a_file_left_by_a_dead_sync_is_no_lock() {
        let dir = tempfile::tempdir().unwrap();
        let workbook = dir.path().join("study.xlsx");
        let path = lock_path(&workbook);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "pid=999999999\nhost=elsewhere\nsince=yesterday\n").unwrap();
        let lock = acquire_within(&workbook, Duration::ZERO).unwrap();
        let text = fs::read_to_string(lock.path()).unwrap();
        assert!(
            !text.contains("999999999") && !text.contains("elsewhere"),
            "{text}"
        );
    }

    #[test]
    fn holder_text_is_escaped_and_tolerant() {
        assert_eq!(
            describe_holder("pid=7\nhost=a\u{1b}[2J\nsince=today\n"),
            "pid 7 on host a\\u{1b}[2J, since today"
        );
        assert_eq!(describe_holder(""), "a process that is just starting");
    }
}
