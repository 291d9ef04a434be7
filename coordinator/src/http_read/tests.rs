#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn the_chain_names_every_cause() {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);
    let error = Outer(std::io::Error::other("connection refused"));
    assert_eq!(error_chain(&error), "outer: connection refused");
}
