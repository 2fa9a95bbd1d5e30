//! How engines report progress without knowing about terminals.
//!
//! [`anonymize_dir`](crate::anonymize::Anonymizer::anonymize_dir),
//! [`verify_dir`](crate::verify::Verifier::verify_dir) and the row runner take a
//! `&dyn Progress`; the command layer hands them a progress bar (see [`crate::ui`]), tests and
//! library users hand them [`NoProgress`] or a closure wrapped in [`OnFile`]. Calls come from
//! many worker threads at once, so implementations must be `Sync`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Receives progress from an engine working through a list of files.
pub trait Progress: Sync {
    /// A pass over `total` files begins (an engine may make more than one pass: the
    /// anonymizer checks every file's ID, then writes).
    fn start(&self, total: u64) {
        let _ = total;
    }

    /// One more file of the current pass is done.
    fn file_done(&self) {}

    /// The engine is finished with this participant.
    fn finish(&self) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Progress as a callback `on_file(done, total)`, called after each file of each pass.
pub struct OnFile<F: Fn(u64, u64) + Sync> {
    on_file: F,
    done: AtomicU64,
    total: AtomicU64,
}

impl<F: Fn(u64, u64) + Sync> OnFile<F> {
    /// Wraps `on_file`, which gets the files done so far in this pass and the pass's total.
    pub fn new(on_file: F) -> Self {
        Self {
            on_file,
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }
}

impl<F: Fn(u64, u64) + Sync> Progress for OnFile<F> {
    fn start(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }

    fn file_done(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        (self.on_file)(done, self.total.load(Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn on_file_counts_each_pass_from_zero() {
        let seen = Mutex::new(Vec::new());
        let p = OnFile::new(|done, total| seen.lock().unwrap().push((done, total)));
        p.start(2);
        p.file_done();
        p.file_done();
        p.start(1);
        p.file_done();
        p.finish();
        assert_eq!(*seen.lock().unwrap(), [(1, 2), (2, 2), (1, 1)]);
    }
}
