//! The `mpic check`, `mpic evidence` and `mpic perspectives` commands (the binary's own
//! modules; the work is done by the library).

pub mod check;
pub mod evidence;
pub mod perspectives;
pub mod request;
pub mod stdout;
pub mod table;

/// Exit code for a check that was not corroborated.
pub const EXIT_NOT_CORROBORATED: u8 = 1;
/// Exit code for usage, configuration and internal errors.
pub const EXIT_ERROR: u8 = 2;
/// Exit code for a check that in-process perspectives found valid: never 0,
/// because one host's view is not BR 3.2.2.9 corroboration, and a script
/// that keys on the exit code must not issue on it.
pub const EXIT_VALID_NOT_BR_COMPLIANT: u8 = 3;
