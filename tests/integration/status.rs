//! Tests of `anontrack status`.

use crate::harness::Workdir;

#[test]
fn help_lists_the_subcommands() {
    let run = Workdir::new().run(["--help"]);
    run.expect_code(0);
    for sub in ["sync", "status", "init", "anonymize", "verify", "demo"] {
        assert!(run.stdout().contains(sub), "help lacks `{sub}`");
    }
}

#[test]
fn missing_workbook_is_a_clear_error() {
    let run = Workdir::new().run(["status", "nope.xlsx"]);
    run.expect_code(2);
}
