//! The one integration-test binary: it runs the real `anontrack` binary on fixtures built in code
//! (and on the real files in `../shared`, when present).
//!
//! Where new tests go: one module per subcommand under `tests/integration/`. Shared helpers:
//! `harness.rs` (temp work folders, running the binary, `../shared` and the lab's workbook,
//! external tools that skip with a note or fail under `ANONTRACK_REQUIRE_TOOLS=1`, listing and
//! copying trees); `xlsx_check.rs` (zip-entry and cell diffs of xlsx packages, openpyxl and
//! LibreOffice as independent readers); `status.rs` (small workbooks built in code, `status`
//! summaries); `sync.rs` (`Study`, a study folder for end-to-end runs).

mod harness;

mod anonymize;
mod cluster;
mod corpus;
mod demo;
mod examples;
mod first_hour;
mod folders;
mod gen_study;
mod hostile;
mod hostile_sheet;
mod init;
mod interrupt;
mod lock;
mod messages;
mod mutants;
mod notify;
mod profile;
mod profiles;
mod slurm;
mod status;
mod sync;
mod sync_crash;
mod sync_plan;
mod uid_names;
mod verify;
mod writeback;
mod xlsx_check;
