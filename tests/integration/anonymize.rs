//! Tests of `anonymize`.
