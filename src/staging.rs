//! Publishing a participant's output: written into a staging folder under `.anontrack/`,
//! checked there, flushed to disk, and only then moved into `AnonDcm/` in one rename. So
//! `AnonDcm` never holds a partial or unverified participant, whatever stops the run (Ctrl-C, a
//! full disk, a crash, a power cut after the workbook turned green).
//!
//! Durability: on Linux one `syncfs` of the filesystem holding the output flushes every file and
//! folder entry the writer made (cheaper than an `fsync` per file from the worker threads, see
//! docs/hardening.md); macOS and Windows have no `syncfs`, so there each file and folder is
//! flushed in turn. Then the rename, then an `fsync` of the folders whose entries changed.
//! [`Writeback`] lets the disk begin on each file as soon as it is written and checked (Linux),
//! so that flush mostly finds the work done. The workbook is saved after that, by the caller. This module also answers how much space a
//! folder's files need and how much its filesystem has left (for a full disk).

use std::io;
use std::path::{Path, PathBuf};

/// The staging folder for `anon` (the participant's `AnonDcm/<id>`) under `state_dir`:
/// `.anontrack/staging/<key>/<name of anon>`, so the verifier sees the same folder name. When
/// `.anontrack` is on another filesystem than `anon`'s parent (a rename could not move it), the
/// staging folder goes beside `anon` instead, as `.anontrack-staging-<key>/<name>`.
pub fn staging_for(state_dir: &Path, anon: &Path, key: &str) -> PathBuf {
    let name = anon.file_name().unwrap_or_default();
    let parent = anon.parent().unwrap_or(Path::new("."));
    let state = state_dir.join("staging");
    if same_filesystem(&state, parent) {
        state.join(key).join(name)
    } else {
        parent.join(format!(".anontrack-staging-{key}")).join(name)
    }
}

/// The folder [`staging_for`] made for one participant (the parent of the staged output).
pub fn staging_root(staged: &Path) -> &Path {
    staged.parent().unwrap_or(staged)
}

/// True when `a` and `b` (or their nearest existing ancestors) are on one filesystem (on
/// Windows: on one drive or share).
fn same_filesystem(a: &Path, b: &Path) -> bool {
    volume(a) == volume(b)
}

/// What tells filesystems apart: the device of `p`'s nearest existing ancestor.
#[cfg(unix)]
fn volume(p: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    // Absolute first: a relative path's last ancestor is the empty path, which has none.
    let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    p.ancestors()
        .find_map(|q| std::fs::metadata(q).ok())
        .map(|m| m.dev())
}

/// What tells filesystems apart: the drive or share `p` is on.
#[cfg(not(unix))]
fn volume(p: &Path) -> Option<std::ffi::OsString> {
    let p = std::path::absolute(p).ok()?;
    match p.components().next()? {
        std::path::Component::Prefix(prefix) => Some(prefix.as_os_str().to_ascii_lowercase()),
        _ => None,
    }
}

/// Removes a staging folder left by an earlier run (or by this one's failure); absent is fine.
pub fn clear(staged: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(staging_root(staged)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Flushes the staged output to disk (one `syncfs`), moves it to `anon` (an older `anon` is
/// moved away first and removed after), and flushes the changed folder entries.
pub fn publish(staged: &Path, anon: &Path) -> io::Result<()> {
    let started = std::time::Instant::now();
    flush_filesystem(staged)?;
    tracing::debug!(
        "flushed the staged output to disk in {:?}",
        started.elapsed()
    );
    let parent = anon.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let old = staging_root(staged).join(".replaced");
    let had_old = anon.exists();
    if had_old {
        std::fs::rename(anon, &old)?;
    }
    std::fs::rename(staged, anon)?;
    fsync_dir(parent)?;
    fsync_dir(staging_root(staged))?;
    if had_old {
        std::fs::remove_dir_all(&old)?;
    }
    std::fs::remove_dir(staging_root(staged)).or_else(ignore_not_found)?;
    Ok(())
}

/// `syncfs` on the filesystem holding `path`: every dirty file and folder entry on it reaches
/// the disk. Where there is no `syncfs` (macOS, Windows), every file and folder under `path` is
/// flushed one by one instead (slower, as durable).
pub fn flush_filesystem(path: &Path) -> io::Result<()> {
    if no_sync() {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        let dir = std::fs::File::open(path)?;
        rustix::fs::syncfs(&dir).map_err(io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        flush_each(path)
    }
}

/// Flushes every file under `dir` (in parallel), then every folder, deepest first.
#[cfg(not(target_os = "linux"))]
fn flush_each(dir: &Path) -> io::Result<()> {
    use rayon::prelude::*;
    let (mut files, mut dirs) = (Vec::new(), vec![dir.to_path_buf()]);
    let mut i = 0;
    while let Some(d) = dirs.get(i).cloned() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let t = entry.file_type()?;
            if t.is_dir() {
                dirs.push(entry.path());
            } else if t.is_file() {
                files.push(entry.path());
            }
        }
        i += 1;
    }
    files.par_iter().try_for_each(|f| {
        // Windows flushes only a handle opened for writing.
        std::fs::OpenOptions::new().write(true).open(f)?.sync_all()
    })?;
    dirs.iter().rev().try_for_each(|d| fsync_dir(d))
}

/// Starts writing each just-written file to disk without waiting (`posix_fadvise` with
/// `DONTNEED`: the kernel begins the write-back of its dirty pages and keeps them until it is
/// done), so the flush in [`publish`] finds little left and the disk works while the processor
/// does. Made once per output folder: on a filesystem without write-back (tmpfs, ramfs: the pages
/// are the data) it does nothing, not even open the file.
#[derive(Debug, Clone, Copy)]
pub struct Writeback {
    on: bool,
}

impl Writeback {
    /// For files written under `dir` (or, while it does not exist yet, under its nearest
    /// existing ancestor, which is on the same filesystem for a staging folder).
    pub fn for_folder(dir: &Path) -> Self {
        // Absolute first: a relative path's last ancestor is the empty path, which has none.
        #[cfg(target_os = "linux")]
        let on = !no_sync()
            && std::path::absolute(dir)
                .unwrap_or_else(|_| dir.to_path_buf())
                .ancestors()
                .find_map(|d| rustix::fs::statfs(d).ok())
                .is_none_or(|s| !in_memory(fs_type(&s)));
        // Elsewhere there is no `posix_fadvise` to start it with.
        #[cfg(not(target_os = "linux"))]
        let on = {
            let _ = dir;
            false
        };
        Self { on }
    }

    /// Starts the write-back of `path`. Call it once nothing will read the file soon: pages
    /// already on disk may leave the cache. Best effort: an error changes nothing.
    pub fn start(&self, path: &Path) {
        if !self.on {
            return;
        }
        #[cfg(target_os = "linux")]
        if let Ok(f) = std::fs::File::open(path) {
            let _ = rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = path;
    }
}

/// The filesystem type of a `statfs` result, as `i64` (its integer type differs by platform).
#[cfg(target_os = "linux")]
#[allow(clippy::useless_conversion)]
fn fs_type(s: &rustix::fs::StatFs) -> i64 {
    i64::from(s.f_type)
}

/// Whether a `statfs` filesystem type is one whose files live only in memory.
#[cfg(target_os = "linux")]
fn in_memory(f_type: i64) -> bool {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    matches!(f_type, TMPFS_MAGIC | RAMFS_MAGIC)
}

/// `fsync` of a folder: its entries (a rename into it) reach the disk. Best effort on macOS,
/// where not every filesystem takes a full sync of a folder, and a no-op on Windows, which cannot
/// open a folder as a file (NTFS journals its folder entries itself).
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    if no_sync() {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        if let Ok(f) = std::fs::File::open(dir) {
            let _ = f.sync_all();
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// For benchmarks only (`scripts/bench.sh` measures the cost of durability with it):
/// `ANONTRACK_NO_SYNC=1` skips the flushes above, so a green cell no longer means the output
/// is on disk. Never set it for real work.
fn no_sync() -> bool {
    std::env::var_os("ANONTRACK_NO_SYNC").is_some_and(|v| v == "1")
}

fn ignore_not_found(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

/// Bytes free for an unprivileged writer on the filesystem holding `path` (or its nearest
/// existing ancestor).
pub fn free_bytes(path: &Path) -> Option<u64> {
    let path = std::path::absolute(path).ok()?;
    let p = path.ancestors().find(|p| p.exists())?;
    #[cfg(unix)]
    {
        let s = rustix::fs::statvfs(p).ok()?;
        Some(s.f_bavail.saturating_mul(s.f_frsize))
    }
    // Not known here on Windows: callers then say nothing about free space.
    #[cfg(not(unix))]
    {
        let _ = p;
        None
    }
}

/// The total size of the files under `dir` (what anonymizing it needs, about).
pub fn bytes_under(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(t) if t.is_file() => total += entry.metadata().map_or(0, |m| m.len()),
                _ => {}
            }
        }
    }
    total
}

/// True when an error message is the operating system's "no space left on device" (ENOSPC) or
/// "disk quota exceeded" (EDQUOT): the writer's errors reach the runner as text.
pub fn is_disk_full(message: &str) -> bool {
    message.contains("os error 28")
        || message.contains("os error 122")
        || message.contains("No space left on device")
}

/// A size for people: `1.2 GB`, `340 MB`, `12 kB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size {
            let v = bytes as f64 / size as f64;
            return if v < 10.0 {
                format!("{v:.1} {unit}")
            } else {
                format!("{v:.0} {unit}")
            };
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishing_replaces_an_older_output_in_one_step() {
        let t = tempfile::tempdir().unwrap();
        let anon = t.path().join("AnonDcm/S1");
        std::fs::create_dir_all(&anon).unwrap();
        std::fs::write(anon.join("old.dcm"), b"old").unwrap();
        let staged = staging_for(&t.path().join(".anontrack"), &anon, "S1");
        assert!(staged.starts_with(t.path().join(".anontrack/staging")));
        assert!(staged.ends_with("S1"));
        std::fs::create_dir_all(staged.join("series")).unwrap();
        std::fs::write(staged.join("series/new.dcm"), b"new").unwrap();
        publish(&staged, &anon).unwrap();
        assert!(anon.join("series/new.dcm").is_file());
        assert!(!anon.join("old.dcm").exists());
        assert!(!staging_root(&staged).exists());
    }

    /// The early write-back is advice: the file reads back whole at once (dirty pages are not
    /// dropped), published as usual; a path that is gone is no error.
    #[test]
    fn starting_the_write_back_early_keeps_the_file_whole() {
        let t = tempfile::tempdir().unwrap();
        let anon = t.path().join("AnonDcm/S1");
        let staged = staging_for(&t.path().join(".anontrack"), &anon, "S1");
        std::fs::create_dir_all(&staged).unwrap();
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let file = staged.join("a.dcm");
        std::fs::write(&file, &bytes).unwrap();
        let writeback = Writeback::for_folder(&staged);
        writeback.start(&file);
        assert_eq!(std::fs::read(&file).unwrap(), bytes);
        writeback.start(&staged.join("gone.dcm"));
        publish(&staged, &anon).unwrap();
        assert_eq!(std::fs::read(anon.join("a.dcm")).unwrap(), bytes);
    }

    /// Nothing to start where the files live in memory; a folder not made yet is judged by the
    /// nearest one that exists.
    #[cfg(target_os = "linux")]
    #[test]
    fn write_back_is_off_in_memory_and_on_elsewhere() {
        assert!(in_memory(0x0102_1994) && in_memory(0x8584_58f6));
        assert!(!in_memory(0xEF53)); // ext4
        if Path::new("/dev/shm").is_dir() && !no_sync() {
            assert!(!Writeback::for_folder(Path::new("/dev/shm/no/such/folder")).on);
        }
    }

    #[test]
    fn relative_paths_stage_under_the_state_folder() {
        // Neither exists; both are relative to the current folder, so on one filesystem.
        let staged = staging_for(
            Path::new("no-such-study/.anontrack"),
            Path::new("no-such-study/AnonDcm/S1"),
            "S1",
        );
        assert_eq!(staged, Path::new("no-such-study/.anontrack/staging/S1/S1"));
    }

    #[test]
    fn clearing_a_missing_staging_folder_is_fine() {
        let t = tempfile::tempdir().unwrap();
        clear(&t.path().join("none/S1")).unwrap();
    }

    #[test]
    fn disk_full_messages_and_sizes() {
        assert!(is_disk_full(
            "cannot write: No space left on device (os error 28)"
        ));
        assert!(!is_disk_full(
            "cannot write: Permission denied (os error 13)"
        ));
        assert_eq!(human(512), "512 bytes");
        assert_eq!(human(3 << 20), "3.0 MB");
        assert_eq!(human(1536 << 20), "1.5 GB");
        #[cfg(unix)]
        assert!(free_bytes(Path::new("/")).is_some());
    }
}
