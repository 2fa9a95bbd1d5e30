//! Tests of `writeback`.
