//! `acme-http-01` and `website-change`: a GET of a well-known URL, redirects
//! followed under the BR rules (see [`crate::redirect`]).

use url::Url;

use super::{
    BODY_EXCERPT_BYTES, DcvContext, DcvEvidence, DcvFailure, DcvObservation, HttpEvidence, contains,
};
use crate::check::{
    AcmeHttp01Parameters, ValidationMethod, WebsiteChangeParameters, compile_match_regex,
};
use crate::name::Target;
use crate::network::Network;
use crate::redirect::{HttpFetch, fetch};

/// RFC 8555 8.3: `http://<domain>/.well-known/acme-challenge/<token>`, port 80.
pub(super) async fn acme_http_01<N: Network>(
    network: &N,
    target: &Target,
    parameters: &AcmeHttp01Parameters,
    context: &DcvContext,
) -> DcvObservation {
    let method = ValidationMethod::AcmeHttp01;
    let url = format!(
        "http://{}/.well-known/acme-challenge/{}",
        target.url_host(),
        parameters.token
    );
    let fetched = match get(network, &url, context).await {
        Ok(fetched) => fetched,
        Err(failure) => return DcvObservation::new(method, DcvEvidence::None, Some(failure)),
    };
    let failure = match &fetched.failure {
        Some(error) => Some(DcvFailure::Http {
            detail: error.clone(),
        }),
        None if fetched.body.trim_ascii_end() == parameters.key_authorization.as_bytes() => None,
        None => Some(DcvFailure::BodyMismatch {
            body_truncated: fetched.body_truncated,
        }),
    };
    DcvObservation::new(method, evidence(fetched), failure)
}

/// BR 3.2.2.4.18: `<scheme>://<domain>/.well-known/pki-validation/<path>`.
pub(super) async fn website_change<N: Network>(
    network: &N,
    target: &Target,
    parameters: &WebsiteChangeParameters,
    context: &DcvContext,
) -> DcvObservation {
    let method = ValidationMethod::WebsiteChange;
    // Compile before any I/O: a pattern that does not compile fails the check.
    let regex = match parameters
        .match_regex
        .as_deref()
        .map(compile_match_regex)
        .transpose()
    {
        Ok(regex) => regex,
        Err(detail) => {
            return DcvObservation::new(
                method,
                DcvEvidence::None,
                Some(DcvFailure::InvalidRegex { detail }),
            );
        }
    };
    let url = format!(
        "{}://{}/.well-known/pki-validation/{}",
        parameters.url_scheme_or_default().as_str(),
        target.url_host(),
        parameters.http_token_path
    );
    let fetched = match get(network, &url, context).await {
        Ok(fetched) => fetched,
        Err(failure) => return DcvObservation::new(method, DcvEvidence::None, Some(failure)),
    };
    let failure = if let Some(error) = &fetched.failure {
        Some(DcvFailure::Http {
            detail: error.clone(),
        })
    } else if !contains(&fetched.body, parameters.challenge_value.as_bytes()) {
        Some(DcvFailure::ChallengeValueNotInBody {
            body_truncated: fetched.body_truncated,
        })
    } else if regex.is_some_and(|regex| !regex.is_match(&String::from_utf8_lossy(&fetched.body))) {
        Some(DcvFailure::RegexNotMatched)
    } else {
        None
    };
    DcvObservation::new(method, evidence(fetched), failure)
}

async fn get<N: Network>(
    network: &N,
    url: &str,
    context: &DcvContext,
) -> Result<HttpFetch, DcvFailure> {
    let url = Url::parse(url).map_err(|e| DcvFailure::BadUrl {
        detail: format!("{url}: {e}"),
    })?;
    Ok(fetch(
        network,
        &url,
        &context.redirect_policy,
        &context.http_limits,
    )
    .await)
}

fn evidence(fetched: HttpFetch) -> DcvEvidence {
    let excerpt = &fetched.body[..fetched.body.len().min(BODY_EXCERPT_BYTES)];
    DcvEvidence::Http(HttpEvidence {
        url: fetched.url,
        history: fetched.history,
        final_url: fetched.final_url,
        final_status: fetched.final_status,
        content_type: fetched.content_type,
        body_excerpt: String::from_utf8_lossy(excerpt).into_owned(),
        body_length: fetched.body.len(),
        body_truncated: fetched.body_truncated,
    })
}
