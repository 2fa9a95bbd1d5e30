//! Replacing the workbook on disk safely: Excel's lock file, backups, an atomic rename, and
//! re-applying the edits when someone saved the workbook while anontrack was working.

use super::{CellEdit, patch_at};
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How many times a save reads, patches and tries to rename before giving up on a workbook
/// that keeps changing.
pub const ATTEMPTS: usize = 3;

/// How many backups of each workbook `.anontrack/backups/` keeps.
pub const BACKUPS_KEPT: usize = 20;

/// A workbook's state at one moment: size, modification time and SHA-256 of its bytes.
///
/// Take it when the workbook is read ([`Fingerprint::of`]) and hand it to [`save_workbook`],
/// which tells from it whether the file changed in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub size: u64,
    pub modified: Option<SystemTime>,
    pub sha256: [u8; 32],
}

impl Fingerprint {
    /// The fingerprint of the file at `path` (reads it once).
    pub fn of(path: &Path) -> Result<Self> {
        let bytes = fs::read(path).map_err(|e| Error::read(path, e))?;
        let modified = fs::metadata(path).ok().and_then(|m| m.modified().ok());
        Ok(Self::of_bytes(&bytes, modified))
    }

    /// The fingerprint of `bytes` read from a file last modified at `modified`.
    pub fn of_bytes(bytes: &[u8], modified: Option<SystemTime>) -> Self {
        Self {
            size: bytes.len() as u64,
            modified,
            sha256: Sha256::digest(bytes).into(),
        }
    }

    /// Whether both describe the same content (size and hash; a mere touch does not count).
    pub fn same_content(&self, other: &Fingerprint) -> bool {
        self.size == other.size && self.sha256 == other.sha256
    }
}

/// What [`save_workbook`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveOutcome {
    /// The workbook was replaced. `false` when no edit changed anything: the file is untouched
    /// (byte-identical, same modification time) and no backup was made.
    pub written: bool,
    /// The workbook's content changed on disk since it was read (someone saved it meanwhile):
    /// the edits were applied to that newer version, so the caller should say so.
    pub changed_on_disk: bool,
    /// The copy of the replaced version in `.anontrack/backups/`, when one was made.
    pub backup: Option<PathBuf>,
}

/// The lock files Excel may leave beside `path` while the workbook is open: `~$` + the file
/// name, and `~$` + the name without its first two characters (what Excel writes for long
/// names).
pub fn lock_files(path: &Path) -> Vec<PathBuf> {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let dir = parent(path);
    let mut out = vec![dir.join(format!("~${name}"))];
    if name.chars().count() > 2 {
        let short: String = name.chars().skip(2).collect();
        out.push(dir.join(format!("~${short}")));
    }
    out
}

/// Refuses with [`Error::Locked`] when Excel's lock file is beside the workbook.
///
/// `sync` calls this before doing any work; [`save_workbook`] calls it again before writing.
pub fn check_not_locked(path: &Path) -> Result<()> {
    match lock_files(path)
        .into_iter()
        .find(|l| fs::symlink_metadata(l).is_ok())
    {
        Some(lock) => Err(Error::Locked {
            path: path.to_path_buf(),
            lock,
        }),
        None => Ok(()),
    }
}

/// The folder holding the backups of the workbook at `path`: `.anontrack/backups` beside it
/// (relative as given, without a leading `./`, so messages show it as the user would type it).
pub fn backup_dir(path: &Path) -> PathBuf {
    crate::study::state_dir_of(path).join("backups")
}

/// The prefix of the temp file a save writes beside the workbook before renaming it.
pub const SAVE_TMP_PREFIX: &str = ".anontrack-save-";

/// The prefix of the temp file a backup is written to before its rename.
const BACKUP_TMP_PREFIX: &str = ".anontrack-backup-";

/// How old a leftover temp file must be before a save removes it: a save writes and renames
/// its temp file within seconds, so an older one is from a run that was killed.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Removes our own temp files that a killed run left in `dir` (`prefix*.tmp`, older than
/// [`STALE_AFTER`]). Best effort: a file that cannot be removed is left for the next run.
fn remove_stale_temps(dir: &Path, prefix: &str, suffix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(prefix) && name.ends_with(suffix)) {
            continue;
        }
        let stale = entry
            .metadata()
            .ok()
            .filter(fs::Metadata::is_file)
            .and_then(|m| m.modified().ok())
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Applies `edits` to sheet `sheet` of the workbook at `path` and replaces the file, safely.
///
/// In order: refuse if Excel holds the workbook ([`Error::Locked`]); read the current bytes
/// and patch them (when they differ from `read_fingerprint`, the edits go onto this newer
/// version and [`SaveOutcome::changed_on_disk`] says so); if nothing changes, stop there and
/// leave the file untouched; copy the current version to `.anontrack/backups/` (keeping the
/// last [`BACKUPS_KEPT`]); write a temp file in the same folder, fsync it, and rename it over
/// the workbook (then fsync the folder). A crash at any point leaves either the old or the
/// new workbook, never a half-written one. If the file changes again between reading and the
/// rename, the whole step is retried on the newest version.
///
/// # Errors
/// [`Error::Locked`], the errors of [`super::patch_package`] (the file is not touched), and
/// I/O errors naming the file that could not be read or written.
pub fn save_workbook(
    path: &Path,
    sheet: &str,
    edits: &[CellEdit],
    read_fingerprint: &Fingerprint,
) -> Result<SaveOutcome> {
    save_with(path, read_fingerprint, |_, _| {
        Ok(Some(Prepared {
            sheet: sheet.to_string(),
            edits: edits.to_vec(),
        }))
    })
}

/// The edits for one version of the workbook, as [`save_with`]'s caller works them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The sheet the edits are for, by its name in `xl/workbook.xml`.
    pub sheet: String,
    pub edits: Vec<CellEdit>,
}

/// [`save_workbook`] with the edits worked out anew for every version of the file it tries.
///
/// Each attempt reads the workbook and calls `prepare(bytes, changed_on_disk)` for the edits
/// that fit exactly those bytes (`changed_on_disk`: they differ from `read_fingerprint`);
/// `Ok(None)` from `prepare` means "the file moved while I looked, try again". If the file
/// changes again before the rename, the next attempt reads and prepares again, so edits keyed
/// by something stabler than a row number (a participant ID) are re-matched every time.
pub fn save_with(
    path: &Path,
    read_fingerprint: &Fingerprint,
    mut prepare: impl FnMut(&[u8], bool) -> Result<Option<Prepared>>,
) -> Result<SaveOutcome> {
    check_not_locked(path)?;
    let dir = parent(path);
    // A sync killed during an earlier save may have left its temp file (and a backup's) behind.
    remove_stale_temps(&dir, SAVE_TMP_PREFIX, ".tmp");
    remove_stale_temps(&backup_dir(path), BACKUP_TMP_PREFIX, "");
    for _attempt in 0..ATTEMPTS {
        let before = fs::metadata(path).map_err(|e| Error::read(path, e))?;
        let bytes = fs::read(path).map_err(|e| Error::read(path, e))?;
        let now = Fingerprint::of_bytes(&bytes, before.modified().ok());
        let changed_on_disk = !now.same_content(read_fingerprint);
        let Some(Prepared { sheet, edits }) = prepare(&bytes, changed_on_disk)? else {
            continue;
        };
        let new = patch_at(path, &bytes, &sheet, &edits)?;
        if new == bytes {
            return Ok(SaveOutcome {
                written: false,
                changed_on_disk,
                backup: None,
            });
        }
        let backup = back_up(path, &bytes)?;

        let mut tmp = tempfile::Builder::new()
            .prefix(SAVE_TMP_PREFIX)
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| Error::write(&dir, e))?;
        let tmp_path = tmp.path().to_path_buf();
        tmp.write_all(&new)
            .and_then(|()| tmp.as_file().set_permissions(before.permissions()))
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| Error::write(&tmp_path, e))?;

        // Someone may have opened or saved the workbook while we patched it.
        check_not_locked(path)?;
        let after = fs::metadata(path).map_err(|e| Error::read(path, e))?;
        if after.len() != before.len() || after.modified().ok() != before.modified().ok() {
            continue;
        }
        tmp.persist(path).map_err(|e| Error::write(path, e.error))?;
        sync_dir(&dir);
        return Ok(SaveOutcome {
            written: true,
            changed_on_disk,
            backup: Some(backup),
        });
    }
    Err(Error::Patch {
        path: path.to_path_buf(),
        reason: "it kept changing on disk while anontrack tried to save it".into(),
    })
}

/// Copies `bytes` (the version about to be replaced) into the backup folder and drops the
/// oldest backups beyond [`BACKUPS_KEPT`]. Returns the backup's path.
fn back_up(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let dir = backup_dir(path);
    fs::create_dir_all(&dir).map_err(|e| Error::write(&dir, e))?;
    let (stem, ext) = stem_ext(path);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ").to_string();
    let mut target = dir.join(format!("{stem}.{stamp}{ext}"));
    let mut n = 1;
    while target.exists() {
        target = dir.join(format!("{stem}.{stamp}-{n}{ext}"));
        n += 1;
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(BACKUP_TMP_PREFIX)
        .tempfile_in(&dir)
        .map_err(|e| Error::write(&dir, e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::write(&target, e))?;
    tmp.persist_noclobber(&target)
        .map_err(|e| Error::write(&target, e.error))?;
    rotate(&dir, &stem, &ext).map_err(|e| Error::write(&dir, e))?;
    Ok(target)
}

/// Deletes the oldest backups of one workbook beyond [`BACKUPS_KEPT`]. Backup names sort in
/// time order (UTC timestamps), and only names of exactly this shape are touched.
fn rotate(dir: &Path, stem: &str, ext: &str) -> std::io::Result<()> {
    let mut backups: Vec<(String, PathBuf)> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let middle = name
                .strip_prefix(stem)?
                .strip_prefix('.')?
                .strip_suffix(ext)?;
            is_stamp(middle).then(|| (name, e.path()))
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(BACKUPS_KEPT);
    for (_, p) in backups.into_iter().take(excess) {
        fs::remove_file(p)?;
    }
    Ok(())
}

/// `20240501T140322.123456Z`, optionally followed by `-N`.
fn is_stamp(s: &str) -> bool {
    let (stamp, n) = s.split_once('-').unwrap_or((s, "1"));
    let b = stamp.as_bytes();
    b.len() == 23
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'.'
        && b[16..22].iter().all(u8::is_ascii_digit)
        && b[22] == b'Z'
        && !n.is_empty()
        && n.bytes().all(|c| c.is_ascii_digit())
}

/// The file name without its extension, and the extension with its dot (`""` if none).
fn stem_ext(path: &Path) -> (String, String) {
    let stem = path
        .file_stem()
        .map_or_else(|| "workbook".into(), |s| s.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(String::new, |e| format!(".{}", e.to_string_lossy()));
    (stem, ext)
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Makes the rename durable. Best effort: some file systems cannot sync a directory.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_files_cover_excels_short_form() {
        let l = lock_files(Path::new("/x/STUDYNAME_dataprocessing.xlsx"));
        assert_eq!(
            l,
            [
                PathBuf::from("/x/~$STUDYNAME_dataprocessing.xlsx"),
                PathBuf::from("/x/~$UDYNAME_dataprocessing.xlsx")
            ]
        );
        assert_eq!(
            lock_files(Path::new("a.xlsx"))[0],
            PathBuf::from("./~$a.xlsx")
        );
    }

    #[test]
    fn stamps_are_recognised_exactly() {
        assert!(is_stamp("20240501T140322.123456Z"));
        assert!(is_stamp("20240501T140322.123456Z-2"));
        assert!(!is_stamp("v2.20240501T140322.123456Z"));
        assert!(!is_stamp("20240501T140322.123456Z-"));
        assert!(!is_stamp("20240501T140322Z"));
    }

    #[test]
    fn fingerprints_compare_content() {
        let a = Fingerprint::of_bytes(b"abc", None);
        let b = Fingerprint::of_bytes(b"abc", Some(SystemTime::now()));
        assert!(a.same_content(&b));
        assert!(!a.same_content(&Fingerprint::of_bytes(b"abd", None)));
    }
}
