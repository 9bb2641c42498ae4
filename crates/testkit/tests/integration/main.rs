//! Tests of the test kit's own building blocks that need the machine:
//! network namespaces as hosts (root-gated, see `testkit::root`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may panic

mod netns;
