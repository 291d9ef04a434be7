//! API keys: `Authorization: Bearer <key>` or `x-api-key: <key>`, checked
//! against the SHA-256 of each configured client's key.
//!
//! Only hashes are held, so neither the configuration nor a memory dump
//! reveals a key. The presented key's hash is compared with every client's
//! hash in constant time, so response timing says nothing about how close a
//! guess was or which client it resembled.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sha2::{Digest as _, Sha256};
use subtle::{Choice, ConstantTimeEq as _};

use crate::ca_identity::CaIdentities;
use crate::config::ApiClient;

/// The `x-api-key` header (Open MPIC deployments behind API gateways use it).
pub const API_KEY_HEADER: &str = "x-api-key";

/// The configured client a request authenticated as (for logs; never the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientName(pub String);

/// The CA identities of the client a request authenticated as, for the
/// handler ([`crate::ca_identity`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentities(pub CaIdentities);

/// The configured clients, by key hash.
#[derive(Debug, Clone)]
pub struct ApiKeys {
    clients: Vec<ApiClient>,
}

impl ApiKeys {
    pub fn new(clients: &[ApiClient]) -> Self {
        Self {
            clients: clients.to_vec(),
        }
    }

    /// The client whose key `headers` carry, if any. A request may carry a
    /// key in both headers; either one matching is enough.
    pub fn authenticate(&self, headers: &HeaderMap) -> Option<&ApiClient> {
        presented_keys(headers)
            .into_iter()
            .find_map(|key| self.client_for(key))
    }

    fn client_for(&self, key: &[u8]) -> Option<&ApiClient> {
        let hash: [u8; 32] = Sha256::digest(key).into();
        let mut found: Option<&ApiClient> = None;
        // Every hash is compared, matching or not.
        for client in &self.clients {
            let matches: Choice = hash.ct_eq(&client.key_sha256);
            if bool::from(matches) {
                found = Some(client);
            }
        }
        found
    }
}

/// The non-empty keys in `Authorization: Bearer …` and `x-api-key`.
fn presented_keys(headers: &HeaderMap) -> Vec<&[u8]> {
    let mut keys = Vec::with_capacity(2);
    for value in headers.get_all(AUTHORIZATION) {
        if let Some(token) = bearer_token(value.as_bytes()) {
            keys.push(token);
        }
    }
    for value in headers.get_all(API_KEY_HEADER) {
        let key = value.as_bytes().trim_ascii();
        if !key.is_empty() {
            keys.push(key);
        }
    }
    keys
}

/// The token of `Bearer <token>` (scheme case-insensitive, RFC 6750).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || rest.first() != Some(&b' ') {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests;
