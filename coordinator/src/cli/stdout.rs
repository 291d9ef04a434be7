//! Standard output for the commands. `println!` panics when the reader has
//! gone (`mpic keygen | head -1`); [`line()`] returns the error instead, and
//! `main` ends quietly on a closed pipe (exit 2, never success: a script must
//! not read "corroborated" into output it did not get).

use std::fmt::Display;
use std::io::{self, Write as _};

/// Writes `text` and a newline to standard output.
pub fn line(text: impl Display) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()
}

/// Whether `error` is standard output's reader having gone away.
pub fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests;
