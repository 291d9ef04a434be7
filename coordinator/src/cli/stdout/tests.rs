use super::*;

#[test]
fn a_broken_pipe_is_recognised_through_context() {
    let closed =
        anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing the key");
    assert!(is_closed_pipe(&closed));
    let other = anyhow::Error::from(io::Error::from(io::ErrorKind::PermissionDenied));
    assert!(!is_closed_pipe(&other));
}
