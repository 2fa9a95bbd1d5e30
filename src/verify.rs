//! The second reviewer, automated: compares each anonymized file with its raw file at the value
//! level, independently of the writer, and sweeps for residual PHI.
