//! One module per subcommand: each holds its clap `Args` struct and one `run(args, ui)`.

pub mod anonymize;
pub mod demo;
pub mod gen_study;
pub mod init;
pub mod prose;
pub mod status;
pub mod sync;
pub mod verify;

/// Parses a `--date` value written YYYYMMDD (exactly eight digits, a real date).
pub(crate) fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    let ok = s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| chrono::NaiveDate::parse_from_str(s, "%Y%m%d").ok())
        .flatten()
        .ok_or_else(|| format!("`{s}` is not a date written YYYYMMDD, like 20240131"))
}
