//! Ctrl-C and termination signals (SIGINT, SIGTERM, SIGHUP): the first one asks the run to stop
//! starting new work; a second one ends the process at once (exit 130).
//!
//! [`install`] is called once by the commands that write (`sync`); the writer's file loop and
//! the sync loop ask [`requested`] before starting a file or a row. Finishing what was started,
//! removing unpublished output and saving the rows already done is the callers' job. Nothing
//! here prints.

use std::sync::atomic::{AtomicBool, Ordering};

/// The exit code of an interrupted run (128 + SIGINT, as shells report it).
pub const EXIT_CODE: u8 = 130;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler. A second call (or a handler set elsewhere) is an error, returned as text
/// for a warning: the run still works, only without a clean stop.
pub fn install() -> Result<(), String> {
    ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            // Second signal: the person means it. Nothing unpublished is where people look.
            std::process::exit(i32::from(EXIT_CODE));
        }
    })
    .map_err(|e| e.to_string())
}

/// True once a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Asks for a stop as a signal would (tests, and callers that stop for their own reasons).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}
