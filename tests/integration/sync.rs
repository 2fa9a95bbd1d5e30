//! Tests of `sync`.
