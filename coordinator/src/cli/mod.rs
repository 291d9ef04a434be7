//! The `mpic check` and `mpic perspectives` commands (the binary's own
//! modules; the work is done by the library).

pub mod check;
pub mod perspectives;
pub mod request;
pub mod stdout;
pub mod table;

/// Exit code for a check that was not corroborated.
pub const EXIT_NOT_CORROBORATED: u8 = 1;
/// Exit code for usage, configuration and internal errors.
pub const EXIT_ERROR: u8 = 2;
