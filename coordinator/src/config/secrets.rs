//! The coordinator's secrets (its signing key and cohort secret): read from
//! the file itself, a file beside it, or an environment variable, with a
//! warning when a secret file is readable by others.

use std::path::Path;

use ed25519_dalek::SigningKey;
use mpic_core::keys;
use zeroize::Zeroizing;

use super::file::CoordinatorSection;
use super::{Environment, MIN_COHORT_SECRET_BYTES, Problems};

impl CoordinatorSection {
    pub(super) fn signing_key(
        &self,
        env: &Environment<'_>,
        problems: &mut Problems,
    ) -> Option<SigningKey> {
        let c = self;
        let text = resolve_secret(
            "signing_key",
            c.signing_key.as_deref(),
            c.signing_key_file.as_deref(),
            c.signing_key_env.as_deref(),
            env,
            problems,
        )?;
        match keys::parse_signing_key(&text) {
            Ok(key) => Some(key),
            Err(e) => {
                problems.error(
                    "coordinator.signing_key",
                    format!(
                        "{e} (expected `ed25519-seed:<base64 of 32 bytes>`, see `mpic keygen`)"
                    ),
                );
                None
            }
        }
    }

    pub(super) fn cohort_secret(
        &self,
        env: &Environment<'_>,
        problems: &mut Problems,
    ) -> Option<Zeroizing<Vec<u8>>> {
        let c = self;
        let text = resolve_secret(
            "cohort_secret",
            c.cohort_secret.as_deref(),
            c.cohort_secret_file.as_deref(),
            c.cohort_secret_env.as_deref(),
            env,
            problems,
        )?;
        if text.len() < MIN_COHORT_SECRET_BYTES {
            problems.error(
                "coordinator.cohort_secret",
                format!(
                    "is {} bytes; at least {MIN_COHORT_SECRET_BYTES} are needed so that outsiders cannot \
                     predict which perspectives check a domain (see `mpic keygen --secret`)",
                    text.len()
                ),
            );
            return None;
        }
        Some(Zeroizing::new(text.as_bytes().to_vec()))
    }
}

/// Reads a secret from exactly one of its three sources.
fn resolve_secret(
    name: &str,
    inline: Option<&str>,
    file: Option<&Path>,
    var: Option<&str>,
    env: &Environment<'_>,
    problems: &mut Problems,
) -> Option<Zeroizing<String>> {
    let at = format!("coordinator.{name}");
    let given = [inline.is_some(), file.is_some(), var.is_some()]
        .iter()
        .filter(|&&b| b)
        .count();
    if given == 0 {
        problems.error(
            at,
            format!("is not set: set one of `{name}`, `{name}_file` or `{name}_env`"),
        );
        return None;
    }
    if given > 1 {
        problems.error(
            at,
            format!(
                "is set more than once: set only one of `{name}`, `{name}_file` or `{name}_env`"
            ),
        );
        return None;
    }
    let text = if let Some(text) = inline {
        Zeroizing::new(text.to_owned())
    } else if let Some(path) = file {
        let path = env.base_dir.join(path);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                warn_if_readable_by_others(&path, &format!("{at}_file"), problems);
                Zeroizing::new(text)
            }
            Err(e) => {
                problems.error(
                    format!("{at}_file"),
                    format!("cannot read {}: {e}", path.display()),
                );
                return None;
            }
        }
    } else if let Some(var) = var {
        match (env.var)(var) {
            Some(text) => Zeroizing::new(text),
            None => {
                problems.error(
                    format!("{at}_env"),
                    format!("environment variable `{var}` is not set"),
                );
                return None;
            }
        }
    } else {
        return None;
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        problems.error(at, "is empty");
        return None;
    }
    Some(Zeroizing::new(trimmed.to_owned()))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path, at: &str, problems: &mut Problems) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        problems.warning(
            at,
            format!(
                "{} is readable by group or others (mode {:o}); chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            ),
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path, _at: &str, _problems: &mut Problems) {}
