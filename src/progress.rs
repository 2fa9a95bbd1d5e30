//! How engines report progress without knowing about terminals.
//!
//! [`anonymize_dir`](crate::anonymize::Anonymizer::anonymize_dir),
//! [`verify_dir`](crate::verify::Verifier::verify_dir) and the row runner take a
//! `&dyn Progress`; the command layer hands them a progress bar (see [`crate::ui`]), tests and
//! library users hand them [`NoProgress`] or a closure wrapped in [`OnFile`]. Calls come from
//! many worker threads at once, so implementations must be `Sync`.
//!
//! A row goes through [`Phase`]s (checking IDs, writing, verifying; in `sync` each file is
//! verified as it is written); the row runner announces
//! them ([`Passes`] names the anonymizer's two passes), so a bar can say what it counts.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What an engine is doing with a participant's files, for a progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The anonymizer's first pass: every file's ID checked before anything is written.
    CheckingIds,
    /// The anonymizer's second pass: the files written.
    Writing,
    /// The verifier's pass: each output compared with its raw file.
    Verifying,
    /// `sync`'s second pass: each file written, then compared with its raw file at once.
    WritingVerifying,
}

impl Phase {
    /// The phase in a few words, as a progress line shows it (at most [`Phase::WIDTH`] wide).
    pub fn label(self) -> &'static str {
        match self {
            Phase::CheckingIds => "checking IDs",
            Phase::Writing => "writing",
            Phase::Verifying => "verifying",
            Phase::WritingVerifying => "write+verify",
        }
    }

    /// The widest label, so progress lines can keep their columns.
    pub const WIDTH: usize = 12;
}

/// Receives progress from an engine working through a list of files.
pub trait Progress: Sync {
    /// The next pass is `phase` (called before its [`start`](Progress::start)).
    fn phase(&self, phase: Phase) {
        let _ = phase;
    }

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

/// Names an engine's passes: the `n`th [`start`](Progress::start) announces `phases[n]` to the
/// progress it wraps, then passes everything on. The anonymizer makes two passes (the ID
/// check, the writing) without knowing how they are shown.
pub struct Passes<'a> {
    inner: &'a dyn Progress,
    phases: &'a [Phase],
    next: AtomicUsize,
}

impl<'a> Passes<'a> {
    /// Wraps `inner`; passes beyond `phases` are not named.
    pub fn new(inner: &'a dyn Progress, phases: &'a [Phase]) -> Self {
        Self {
            inner,
            phases,
            next: AtomicUsize::new(0),
        }
    }
}

impl Progress for Passes<'_> {
    fn phase(&self, phase: Phase) {
        self.inner.phase(phase);
    }

    fn start(&self, total: u64) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some(phase) = self.phases.get(n) {
            self.inner.phase(*phase);
        }
        self.inner.start(total);
    }

    fn file_done(&self) {
        self.inner.file_done();
    }

    fn finish(&self) {
        self.inner.finish();
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

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Progress for Recorder {
        fn phase(&self, phase: Phase) {
            self.0.lock().unwrap().push(phase.label().into());
        }
        fn start(&self, total: u64) {
            self.0.lock().unwrap().push(format!("start {total}"));
        }
        fn finish(&self) {
            self.0.lock().unwrap().push("finish".into());
        }
    }

    #[test]
    fn passes_name_each_start_in_order() {
        let r = Recorder::default();
        let p = Passes::new(&r, &[Phase::CheckingIds, Phase::Writing]);
        p.start(3);
        p.start(2);
        p.start(1);
        p.finish();
        assert_eq!(
            *r.0.lock().unwrap(),
            [
                "checking IDs",
                "start 3",
                "writing",
                "start 2",
                "start 1",
                "finish"
            ]
        );
    }

    #[test]
    fn labels_fit_their_column() {
        for p in [
            Phase::CheckingIds,
            Phase::Writing,
            Phase::Verifying,
            Phase::WritingVerifying,
        ] {
            assert!(p.label().len() <= Phase::WIDTH, "{p:?}");
        }
        assert_eq!(Phase::CheckingIds.label().len(), Phase::WIDTH);
    }
}
