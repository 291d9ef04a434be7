//! mpic-coordinator: the part a CA runs.
#![forbid(unsafe_code)]
