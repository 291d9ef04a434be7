//! `acme-http-01` and `website-change`: a GET of a well-known URL, redirects
//! followed under the BR rules (see [`crate::redirect`]).

use url::Url;

use super::{
    BODY_EXCERPT_BYTES, DcvContext, DcvEvidence, DcvFailure, DcvObservation, HttpEvidence,
    UnusableChallenge, contains,
};
use crate::check::syntax::is_base64url;
use crate::check::{AcmeHttp01Parameters, MatchRegex, ValidationMethod, WebsiteChangeParameters};
use crate::name::Target;
use crate::network::{Network, RequestHeaders};
use crate::redirect::{HttpFetch, fetch};

/// RFC 8555 8.3: `http://<domain>/.well-known/acme-challenge/<token>`, port 80.
pub(super) async fn acme_http_01<N: Network>(
    network: &N,
    target: &Target,
    parameters: &AcmeHttp01Parameters,
    context: &DcvContext,
) -> DcvObservation {
    let method = ValidationMethod::AcmeHttp01;
    if let Err(unusable) = usable_key_authorization(parameters) {
        return DcvObservation::unusable(method, unusable);
    }
    let url = format!(
        "http://{}/.well-known/acme-challenge/{}",
        target.url_host(),
        parameters.token
    );
    let fetched = match get(network, &url, parameters.http_headers.as_ref(), context).await {
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

/// RFC 8555 8.1 and 8.3: a base64url token, and a key authorization that is
/// that token, `.`, and a base64url thumbprint. Anything else could pass only
/// a server that serves exactly the wrong value.
fn usable_key_authorization(parameters: &AcmeHttp01Parameters) -> Result<(), UnusableChallenge> {
    if !is_base64url(&parameters.token) {
        return Err(UnusableChallenge::TokenNotBase64Url);
    }
    let thumbprint = parameters
        .key_authorization
        .strip_prefix(parameters.token.as_str())
        .and_then(|rest| rest.strip_prefix('.'));
    if thumbprint.is_some_and(is_base64url) {
        Ok(())
    } else {
        Err(UnusableChallenge::KeyAuthorizationNotForToken)
    }
}

/// BR 3.2.2.4.18: `<scheme>://<domain>/.well-known/pki-validation/<path>`.
pub(super) async fn website_change<N: Network>(
    network: &N,
    target: &Target,
    parameters: &WebsiteChangeParameters,
    context: &DcvContext,
) -> DcvObservation {
    let method = ValidationMethod::WebsiteChange;
    // Before any I/O: a pattern that does not compile fails the check.
    let regex = match parameters
        .match_regex
        .as_ref()
        .map(MatchRegex::regex)
        .transpose()
    {
        Ok(regex) => regex,
        Err(detail) => {
            return DcvObservation::new(
                method,
                DcvEvidence::None,
                Some(DcvFailure::InvalidRegex {
                    detail: detail.to_owned(),
                }),
            );
        }
    };
    let url = format!(
        "{}://{}/.well-known/pki-validation/{}",
        parameters.url_scheme_or_default().as_str(),
        target.url_host(),
        parameters.http_token_path
    );
    let fetched = match get(network, &url, parameters.http_headers.as_ref(), context).await {
        Ok(fetched) => fetched,
        Err(failure) => return DcvObservation::new(method, DcvEvidence::None, Some(failure)),
    };
    let failure = if let Some(error) = &fetched.failure {
        Some(DcvFailure::Http {
            detail: error.clone(),
        })
    } else if !body_contains(
        &fetched.body,
        &parameters.challenge_value,
        parameters.exact_case(),
    ) {
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

/// Whether the body holds the challenge value, ignoring ASCII case when
/// `exact_case` is false.
fn body_contains(body: &[u8], challenge_value: &str, exact_case: bool) -> bool {
    if exact_case {
        contains(body, challenge_value.as_bytes())
    } else {
        contains(
            &body.to_ascii_lowercase(),
            challenge_value.to_ascii_lowercase().as_bytes(),
        )
    }
}

/// The GET of `url` and its redirects, each with the request's `headers`.
async fn get<N: Network>(
    network: &N,
    url: &str,
    headers: Option<&RequestHeaders>,
    context: &DcvContext,
) -> Result<HttpFetch, DcvFailure> {
    let url = Url::parse(url).map_err(|e| DcvFailure::BadUrl {
        detail: format!("{url}: {e}"),
    })?;
    let no_headers = RequestHeaders::new();
    Ok(fetch(
        network,
        &url,
        headers.unwrap_or(&no_headers),
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
        contacted: fetched.contacted,
        content_type: fetched.content_type,
        body_excerpt: String::from_utf8_lossy(excerpt).into_owned(),
        body_excerpt_base64: data_encoding::BASE64.encode(excerpt),
        body_length: fetched.body.len(),
        body_truncated: fetched.body_truncated,
    })
}
