//! What is wrong with a configuration: each problem with where it is, how
//! bad it is, and why it matters.

use std::fmt;
use std::path::PathBuf;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Severity {
    /// The coordinator can run, but the operator should look.
    Warning,
    /// The coordinator refuses to run with this configuration.
    Error,
}

/// One thing wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Whether it stops the coordinator from running.
    pub severity: Severity,
    /// Where: a key path such as `perspective[2] (cf-ams).url`.
    pub at: String,
    /// What is wrong and why it matters.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{severity}: {}: {}", self.at, self.message)
    }
}

/// Every problem found, errors and warnings, in the order found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// Whether any problem stops the coordinator from running.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|p| p.severity == Severity::Error)
    }

    /// The problems that stop the coordinator from running, in order.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().filter(|p| p.severity == Severity::Error)
    }

    pub(super) fn error(&mut self, at: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            severity: Severity::Error,
            at: at.into(),
            message: message.into(),
        });
    }

    pub(super) fn warning(&mut self, at: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            severity: Severity::Warning,
            at: at.into(),
            message: message.into(),
        });
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// The file is not valid TOML (unknown keys and wrong values are
    /// [`ConfigError::Invalid`] instead).
    #[error("{path} is not valid TOML: {detail}")]
    Syntax {
        /// The configuration file.
        path: PathBuf,
        /// The TOML parser's message, with the line.
        detail: String,
    },
    /// The file parses but fails validation: at least one problem is an
    /// error.
    #[error("{path} has {} problem(s):\n{problems}", problems.0.len())]
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// Every problem found, warnings included.
        problems: Problems,
    },
}

/// Why configuration text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// Not valid TOML; the TOML parser's message.
    #[error("not valid TOML: {0}")]
    Syntax(String),
    /// Parses but fails validation; every problem found, warnings included.
    #[error("{0}")]
    Invalid(Problems),
}
