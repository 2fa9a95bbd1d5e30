//! Reports on disk: the per-participant JSON report under `.anontrack/reports/` and the audit log
//! `.anontrack/audit.jsonl`. No PHI is ever written here.
