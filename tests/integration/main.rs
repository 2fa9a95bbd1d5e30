//! The one integration-test binary: it runs the real `anontrack` binary on fixtures built in code
//! (and on the real files in `../shared`, when present).
//!
//! Where new tests go: one module per subcommand under `tests/integration/`; shared helpers
//! (temp study folders, running the binary, building workbooks and DICOM files) in `harness.rs`.

mod harness;

mod anonymize;
mod demo;
mod gen_study;
mod init;
mod status;
mod sync;
mod sync_crash;
mod sync_plan;
mod verify;
mod writeback;
mod xlsx_check;
