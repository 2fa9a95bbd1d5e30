//! The writer's side of the filesystem: absolute paths for the parallel passes, and the tidying
//! of its own temp files that a crashed run left in the output tree. The rules shared with the
//! verifier (listing, renaming, overlap) are in [`crate::folder`].

use super::file::TMP_PREFIX;
use std::path::{Path, PathBuf};

/// `p` made absolute against the current folder (no symlinks resolved, nothing need exist).
pub(super) fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Removes temp files a crashed earlier run left in the anon tree (only ours, by prefix).
pub(super) fn remove_stale_temps(anon: &Path) {
    let mut stack = vec![anon.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(entry.path());
            } else if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}
