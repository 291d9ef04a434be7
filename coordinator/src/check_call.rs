//! What the coordinator asks a perspective to do: per perspective, the body
//! of the signed request (mpic-core's [`CheckCall`], the same type the
//! worker parses), made from the validated Open MPIC request.

use mpic_core::check::{CheckParameters, CheckRequest};
use mpic_core::name::DomainName;

pub use mpic_core::check::CheckType;
pub use mpic_core::perspective::CheckCall;

/// The request as sent to perspectives: a CAA check without `caa_domains`
/// gets the CA's configured issuer domain names, so every perspective (and
/// the primary) evaluates against the same, explicit identities.
pub fn for_perspectives(request: &CheckRequest, caa_issuer_domains: &[DomainName]) -> CheckRequest {
    let mut request = request.clone();
    if let CheckParameters::Caa(params) = &mut request.parameters
        && params.caa_domains.as_ref().is_none_or(Vec::is_empty)
    {
        params.caa_domains = Some(caa_issuer_domains.to_vec());
    }
    request
}

#[cfg(test)]
mod tests;
