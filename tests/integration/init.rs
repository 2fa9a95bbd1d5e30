//! Tests of `init`.
