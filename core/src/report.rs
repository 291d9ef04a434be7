//! Signed perspective reports: what one remote perspective observed for one
//! check attempt, signed with its Ed25519 key so the coordinator can count it.
//!
//! # What a report binds
//! The request (its digest, see [`request_digest`]), the coordinator's
//! [`Nonce`] for this attempt, who the perspective claims to be (id, [`Rir`],
//! location, resolvers), when it looked, what it saw (the [`Observation`],
//! opaque JSON produced by the check modules) and its own [`Verdict`].
//!
//! # Signed bytes, version 2
//! The signature (Ed25519, RFC 8032, verified with `verify_strict`) covers the
//! whole byte string below. Integers are big-endian; "len32" is a 4-byte length
//! followed by that many bytes; strings are UTF-8.
//!
//! | # | field | encoding |
//! |---|---|---|
//! | 1 | magic | the 11 ASCII bytes `MPIC-REPORT` |
//! | 2 | version | u8, `2` (`1`: the same without field 15) |
//! | 3 | request digest | 32 bytes |
//! | 4 | nonce | u8 length (16..=32), then the bytes |
//! | 5 | perspective id | len32 string |
//! | 6 | RIR | u8: 1 ARIN, 2 RIPE NCC, 3 APNIC, 4 LACNIC, 5 AFRINIC |
//! | 7 | region | len32 string |
//! | 8 | coordinates | u8 `0` (absent), or `1` then latitude and longitude as IEEE 754 binary64 bits (u64 each) |
//! | 9 | resolvers | u32 count, then each a len32 string |
//! | 10 | started at | u64, unix milliseconds |
//! | 11 | finished at | u64, unix milliseconds |
//! | 12 | verdict | u8: 1 pass, 2 fail, 3 error |
//! | 13 | reason | len32 string |
//! | 14 | observation | len32 JSON text, the exact bytes the perspective produced |
//! | 15 | data center | u8 `0` (not known), or `1` then the code as a len32 string and the country as a len32 string (empty: not known) |
//!
//! Nothing may follow the last field. A new layout gets a new version byte;
//! a verifier reads version 1 (reports signed before field 15 existed, as
//! kept in evidence records) and version 2, and refuses any other
//! ([`ReportError::UnsupportedVersion`]).
//!
//! # Transport
//! [`SignedReport`] travels as JSON: `{"signer": "ed25519:…", "report":
//! base64(signed bytes), "signature": base64(64 bytes)}`. The verifier checks
//! the signature over exactly the `report` bytes and then decodes the body from
//! those bytes, so no field outside the signature is ever believed; `signer` is
//! only compared with the key the coordinator already expects, to tell a
//! misconfigured key ([`ReportError::WrongKey`]) from a forged report.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::canonical_bytes::{DecodeError, Reader, TooLong, Writer};
use crate::keys;
use crate::location::Location;
use crate::nonce::Nonce;
use crate::rir::Rir;

/// First bytes of every signed report.
pub const REPORT_MAGIC: &[u8; 11] = b"MPIC-REPORT";
/// The layout this crate writes.
pub const REPORT_VERSION: u8 = 2;
/// The layout before [`ReportBody::data_center`]; still read.
pub const REPORT_VERSION_1: u8 = 1;
/// Prepended to the request bytes before hashing, so a request digest can
/// never equal the SHA-256 of some other protocol's message.
pub const REQUEST_DIGEST_DOMAIN: &[u8] = b"MPIC-REQUEST-DIGEST-v1\0";

/// SHA-256 over [`REQUEST_DIGEST_DOMAIN`] followed by the request's bytes.
///
/// The bytes are the check request exactly as the coordinator signed and sent
/// it (the body of a `request_auth` envelope), so both ends hash the same bytes
/// without agreeing on a canonical JSON.
pub fn request_digest(canonical_request_bytes: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(REQUEST_DIGEST_DOMAIN);
    hasher.update(canonical_request_bytes);
    hasher.finalize().into()
}

/// The perspective's own conclusion about its check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It saw what the check required.
    Pass,
    /// It looked and saw something else.
    Fail,
    /// It could not look (timeout, resolver failure, ...).
    Error,
}

impl Verdict {
    /// Its name as JSON and people read it: `pass`, `fail` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }

    fn code(self) -> u8 {
        match self {
            Verdict::Pass => 1,
            Verdict::Fail => 2,
            Verdict::Error => 3,
        }
    }

    fn from_code(code: u8) -> Option<Verdict> {
        [Verdict::Pass, Verdict::Fail, Verdict::Error]
            .into_iter()
            .find(|v| v.code() == code)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the perspective observed: JSON produced by the check modules, kept as
/// the exact text that was signed.
///
/// In JSON (logs, APIs) it appears as the embedded JSON value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation(String);

/// Observation text that is not JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("observation is not JSON: {0}")]
pub struct ObservationError(pub String);

impl Observation {
    /// Keeps `json` as it is, after checking that it is one JSON value.
    pub fn from_json(json: String) -> Result<Self, ObservationError> {
        serde_json::from_str::<serde::de::IgnoredAny>(&json)
            .map_err(|e| ObservationError(e.to_string()))?;
        Ok(Self(json))
    }

    /// As [`Observation::from_json`], from bytes that must be UTF-8.
    pub fn from_json_bytes(json: Vec<u8>) -> Result<Self, ObservationError> {
        let json = String::from_utf8(json).map_err(|e| ObservationError(e.to_string()))?;
        Self::from_json(json)
    }

    /// Serialises `value` to compact JSON.
    pub fn from_value<T: Serialize>(value: &T) -> Result<Self, ObservationError> {
        serde_json::to_string(value)
            .map(Self)
            .map_err(|e| ObservationError(e.to_string()))
    }

    /// Parses the observation as `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }

    /// The JSON text exactly as signed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JSON bytes exactly as signed.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl Serialize for Observation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Observation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        Ok(Self(String::from(Box::<str>::from(raw))))
    }
}

/// Everything a report states; what [`sign`] signs and [`verify`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportBody {
    /// [`request_digest`] of the request this report answers.
    #[serde(with = "crate::base64_text::array")]
    pub request_digest: [u8; 32],
    /// The coordinator's nonce for this attempt.
    pub nonce: Nonce,
    /// The perspective's configured id, e.g. `cf-fra`; must equal the id the
    /// coordinator asked.
    pub perspective_id: String,
    /// The RIR service region the perspective claims to be in.
    pub rir: Rir,
    /// Where the perspective claims to be (region, optional coordinates).
    pub location: Location,
    /// The resolver(s) the perspective asked (e.g. DoH URLs), in order of use.
    pub resolvers: Vec<String>,
    /// When the perspective started looking, Unix milliseconds (bounds the
    /// age of everything observed).
    pub started_at_ms: u64,
    /// When it finished looking, Unix milliseconds; never before
    /// `started_at_ms`.
    pub finished_at_ms: u64,
    /// The perspective's own conclusion: pass, fail or error.
    pub verdict: Verdict,
    /// Why the perspective reached its verdict, for people reading logs.
    pub reason: String,
    /// What it saw: the check module's JSON, exactly as signed.
    pub observation: Observation,
    /// Where the check ran, as the platform says (Cloudflare's
    /// `request.cf.colo`: the data center that received the call), so a CA
    /// can see whether a placement hint was honoured; `None` when the
    /// platform did not say (and in version-1 reports).
    pub data_center: Option<DataCenter>,
}

/// The data center that ran a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataCenter {
    /// The platform's code for it (Cloudflare: an IATA airport code, `FRA`).
    pub code: String,
    /// Its country (ISO 3166-1 alpha-2), if the platform says.
    pub country: Option<String>,
}

impl ReportBody {
    /// The version-2 signed bytes (layout in the module documentation).
    pub fn to_signed_bytes(&self) -> Result<Vec<u8>, SignError> {
        let mut w = Writer::new(REPORT_MAGIC, REPORT_VERSION);
        w.fixed(&self.request_digest);
        w.short_bytes("nonce", self.nonce.as_bytes())?;
        w.bytes("perspective_id", self.perspective_id.as_bytes())?;
        w.u8(self.rir.code());
        w.bytes("region", self.location.region.as_bytes())?;
        match self.location.coordinates {
            None => w.u8(0),
            Some(c) => {
                w.u8(1);
                w.f64(c.latitude());
                w.f64(c.longitude());
            }
        }
        w.count("resolvers", self.resolvers.len())?;
        for resolver in &self.resolvers {
            w.bytes("resolver", resolver.as_bytes())?;
        }
        w.u64(self.started_at_ms);
        w.u64(self.finished_at_ms);
        w.u8(self.verdict.code());
        w.bytes("reason", self.reason.as_bytes())?;
        w.bytes("observation", self.observation.as_bytes())?;
        match &self.data_center {
            None => w.u8(0),
            Some(data_center) => {
                w.u8(1);
                w.bytes("data_center", data_center.code.as_bytes())?;
                w.bytes(
                    "country",
                    data_center
                        .country
                        .as_deref()
                        .unwrap_or_default()
                        .as_bytes(),
                )?;
            }
        }
        Ok(w.finish())
    }

    /// Reads signed bytes. Only ever called on bytes whose signature checked.
    fn from_signed_bytes(bytes: &[u8]) -> Result<Self, ReportError> {
        let (mut r, version) = Reader::open(bytes, REPORT_MAGIC, "MPIC-REPORT")?;
        if version != REPORT_VERSION && version != REPORT_VERSION_1 {
            return Err(ReportError::UnsupportedVersion { version });
        }
        let invalid = |field: &'static str, reason: String| DecodeError::Invalid { field, reason };
        let request_digest = r.fixed::<32>("request_digest")?;
        let nonce = Nonce::new(r.short_bytes("nonce")?.to_vec())
            .map_err(|e| invalid("nonce", e.to_string()))?;
        let perspective_id = r.string("perspective_id")?.to_owned();
        let rir_code = r.u8("rir")?;
        let rir = Rir::from_code(rir_code)
            .ok_or_else(|| invalid("rir", format!("unknown code {rir_code}")))?;
        let region = r.string("region")?.to_owned();
        let coordinates = match r.u8("coordinates")? {
            0 => None,
            1 => {
                let latitude = r.f64("latitude")?;
                let longitude = r.f64("longitude")?;
                Some(
                    crate::location::Coordinates::new(latitude, longitude)
                        .map_err(|e| invalid("coordinates", e.to_string()))?,
                )
            }
            flag => return Err(invalid("coordinates", format!("presence flag {flag}")).into()),
        };
        let resolver_count = r.count("resolvers")?;
        let mut resolvers = Vec::new();
        for _ in 0..resolver_count {
            resolvers.push(r.string("resolver")?.to_owned());
        }
        let started_at_ms = r.u64("started_at_ms")?;
        let finished_at_ms = r.u64("finished_at_ms")?;
        let verdict_code = r.u8("verdict")?;
        let verdict = Verdict::from_code(verdict_code)
            .ok_or_else(|| invalid("verdict", format!("unknown code {verdict_code}")))?;
        let reason = r.string("reason")?.to_owned();
        let observation = Observation::from_json(r.string("observation")?.to_owned())
            .map_err(|e| invalid("observation", e.0))?;
        let data_center = if version == REPORT_VERSION_1 {
            None
        } else {
            match r.u8("data_center")? {
                0 => None,
                1 => {
                    let code = r.string("data_center")?.to_owned();
                    let country = r.string("country")?;
                    Some(DataCenter {
                        code,
                        country: (!country.is_empty()).then(|| country.to_owned()),
                    })
                }
                flag => return Err(invalid("data_center", format!("presence flag {flag}")).into()),
            }
        };
        r.finish()?;
        Ok(ReportBody {
            request_digest,
            nonce,
            perspective_id,
            rir,
            location: Location {
                region,
                coordinates,
            },
            resolvers,
            started_at_ms,
            finished_at_ms,
            verdict,
            reason,
            observation,
            data_center,
        })
    }
}

/// A report as it travels: the signed bytes, the signature, and the signer's
/// public key (informational; see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReport {
    /// `ed25519:<base64>` public key of the signer.
    pub signer: String,
    /// The signed bytes (base64 in JSON).
    #[serde(with = "crate::base64_text::bytes")]
    pub report: Vec<u8>,
    /// Ed25519 signature over `report` (base64 in JSON).
    #[serde(with = "crate::base64_text::bytes")]
    pub signature: Vec<u8>,
}

impl SignedReport {
    /// Reads the JSON transport form.
    pub fn from_json(json: &[u8]) -> Result<Self, ReportError> {
        serde_json::from_slice(json).map_err(|e| bad_encoding(e.to_string()))
    }
}

/// Why a report could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignError {
    /// `finished_at_ms` is earlier than `started_at_ms`.
    #[error("report finished ({finished_at_ms}) before it started ({started_at_ms})")]
    EndBeforeStart {
        /// The body's start, Unix milliseconds.
        started_at_ms: u64,
        /// The body's finish, Unix milliseconds.
        finished_at_ms: u64,
    },
    /// A field does not fit its length prefix (a string or list over
    /// `u32::MAX`, a nonce over 255 bytes).
    #[error("report field `{field}` is too long ({len} bytes)")]
    FieldTooLong {
        /// The field's name, e.g. `observation`.
        field: String,
        /// Its length in bytes (entries for a list).
        len: usize,
    },
}

impl From<TooLong> for SignError {
    fn from(e: TooLong) -> Self {
        SignError::FieldTooLong {
            field: e.field.to_owned(),
            len: e.len,
        }
    }
}

/// Signs `body` with the perspective's key.
///
/// Refuses a body that [`verify`] would refuse for its own shape, so a
/// perspective never sends a report that cannot count.
pub fn sign(key: &SigningKey, body: &ReportBody) -> Result<SignedReport, SignError> {
    if body.finished_at_ms < body.started_at_ms {
        return Err(SignError::EndBeforeStart {
            started_at_ms: body.started_at_ms,
            finished_at_ms: body.finished_at_ms,
        });
    }
    let report = body.to_signed_bytes()?;
    let signature = key.sign(&report).to_bytes().to_vec();
    Ok(SignedReport {
        signer: keys::format_verifying_key(&key.verifying_key()),
        report,
        signature,
    })
}

/// What the coordinator expects of one perspective's report for one attempt.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The perspective the coordinator asked.
    pub perspective_id: &'a str,
    /// That perspective's configured public key.
    pub key: &'a VerifyingKey,
    /// The nonce sent with this attempt's request.
    pub nonce: &'a Nonce,
    /// [`request_digest`] of the request sent.
    pub request_digest: &'a [u8; 32],
    /// The coordinator's clock.
    pub now_ms: u64,
    /// How long after the perspective *started* looking the report may still
    /// count: the start bounds the age of everything observed.
    pub max_age_ms: u64,
    /// How far in the future the report's timestamps may be (clock skew).
    pub max_future_skew_ms: u64,
}

/// Why a report does not count. Every refusal has its own reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReportError {
    /// The transport JSON, the signer key text, the signature's size or the
    /// signed bytes (magic, layout, field values, trailing bytes) are not as
    /// specified.
    #[error("report is malformed: {detail}")]
    BadEncoding {
        /// What is wrong, naming the field.
        detail: String,
    },
    /// The signed bytes carry a version byte other than [`REPORT_VERSION`]
    /// and [`REPORT_VERSION_1`].
    #[error("report version {version} is not supported (this verifier reads versions 1 and 2)")]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// `signer` names a key other than the perspective's configured one: a
    /// misconfigured key rather than a forged report.
    #[error("report is signed by {claimed}, not the perspective's key {expected}")]
    WrongKey {
        /// The configured key, `ed25519:<base64>`.
        expected: String,
        /// The key in `signer`, `ed25519:<base64>`.
        claimed: String,
    },
    /// The Ed25519 signature does not verify (strictly) over the signed bytes.
    #[error("report signature does not verify")]
    BadSignature,
    /// The signed body names another perspective than the one asked.
    #[error("report is from perspective `{claimed}`, expected `{expected}`")]
    WrongPerspective {
        /// The id the coordinator asked.
        expected: String,
        /// The id in the signed body.
        claimed: String,
    },
    /// The signed nonce is not this attempt's: a replay or a late answer.
    #[error("report answers another attempt (nonce differs)")]
    WrongNonce,
    /// The signed request digest is not the digest of the request sent.
    #[error("report answers another request (request digest differs)")]
    WrongRequest,
    /// The signed body finished before it started.
    #[error("report finished ({finished_at_ms}) before it started ({started_at_ms})")]
    EndBeforeStart {
        /// The body's start, Unix milliseconds.
        started_at_ms: u64,
        /// The body's finish, Unix milliseconds.
        finished_at_ms: u64,
    },
    /// The body finished later than now plus the allowed clock skew.
    #[error(
        "report finished at {finished_at_ms}, more than {max_future_skew_ms} ms after now ({now_ms})"
    )]
    FromTheFuture {
        /// The body's finish, Unix milliseconds.
        finished_at_ms: u64,
        /// The coordinator's clock, Unix milliseconds.
        now_ms: u64,
        /// The allowed skew, milliseconds.
        max_future_skew_ms: u64,
    },
    /// The body started longer ago than the allowed age: its observations
    /// are too old to count.
    #[error("report started at {started_at_ms}, more than {max_age_ms} ms before now ({now_ms})")]
    Stale {
        /// The body's start, Unix milliseconds.
        started_at_ms: u64,
        /// The coordinator's clock, Unix milliseconds.
        now_ms: u64,
        /// The allowed age, milliseconds.
        max_age_ms: u64,
    },
}

fn bad_encoding(detail: impl Into<String>) -> ReportError {
    ReportError::BadEncoding {
        detail: detail.into(),
    }
}

impl From<DecodeError> for ReportError {
    fn from(e: DecodeError) -> Self {
        bad_encoding(e.to_string())
    }
}

/// Checks that the signer is the expected key and the signature has its size.
fn signature_for(
    signed: &SignedReport,
    expected_key: &VerifyingKey,
) -> Result<Signature, ReportError> {
    let claimed = keys::parse_verifying_key(&signed.signer)
        .map_err(|e| bad_encoding(format!("signer: {e}")))?;
    if claimed != *expected_key {
        return Err(ReportError::WrongKey {
            expected: keys::format_verifying_key(expected_key),
            claimed: keys::format_verifying_key(&claimed),
        });
    }
    let bytes: &[u8; 64] = signed.signature.as_slice().try_into().map_err(|_| {
        bad_encoding(format!(
            "signature is {} bytes, not 64",
            signed.signature.len()
        ))
    })?;
    Ok(Signature::from_bytes(bytes))
}

/// Decodes bytes whose signature has been checked and holds them to `expect`.
fn accept(signed_bytes: &[u8], expect: &Expectations<'_>) -> Result<ReportBody, ReportError> {
    let body = ReportBody::from_signed_bytes(signed_bytes)?;
    if body.perspective_id != expect.perspective_id {
        return Err(ReportError::WrongPerspective {
            expected: expect.perspective_id.to_owned(),
            claimed: body.perspective_id,
        });
    }
    if body.nonce != *expect.nonce {
        return Err(ReportError::WrongNonce);
    }
    if body.request_digest != *expect.request_digest {
        return Err(ReportError::WrongRequest);
    }
    if body.finished_at_ms < body.started_at_ms {
        return Err(ReportError::EndBeforeStart {
            started_at_ms: body.started_at_ms,
            finished_at_ms: body.finished_at_ms,
        });
    }
    if body.finished_at_ms > expect.now_ms.saturating_add(expect.max_future_skew_ms) {
        return Err(ReportError::FromTheFuture {
            finished_at_ms: body.finished_at_ms,
            now_ms: expect.now_ms,
            max_future_skew_ms: expect.max_future_skew_ms,
        });
    }
    if expect.now_ms.saturating_sub(body.started_at_ms) > expect.max_age_ms {
        return Err(ReportError::Stale {
            started_at_ms: body.started_at_ms,
            now_ms: expect.now_ms,
            max_age_ms: expect.max_age_ms,
        });
    }
    Ok(body)
}

/// Verifies `signed` against what the coordinator expects and returns the body
/// decoded from the signed bytes.
///
/// Order: signer key, signature (`verify_strict`: no small-order keys or `R`,
/// canonical `S`), encoding and version, then the body's claims.
pub fn verify(signed: &SignedReport, expect: &Expectations<'_>) -> Result<ReportBody, ReportError> {
    let signature = signature_for(signed, expect.key)?;
    expect
        .key
        .verify_strict(&signed.report, &signature)
        .map_err(|_| ReportError::BadSignature)?;
    accept(&signed.report, expect)
}

/// Verifies many reports at once; the result for each is what [`verify`]
/// would return.
///
/// One Ed25519 batch equation checks all signatures that pass the same
/// preliminary checks as `verify_strict` (key and `R` not of small order); if
/// it fails, each is verified alone so one bad report cannot sink the others.
/// The batch equation may accept a signature with a mixed-order `R` that
/// `verify_strict` refuses; only the holder of the signing key can make one,
/// and that holder could sign any report anyway, so no forgery follows.
#[cfg(feature = "batch")]
pub fn verify_batch(
    items: &[(&SignedReport, &Expectations<'_>)],
) -> Vec<Result<ReportBody, ReportError>> {
    use curve25519_dalek::edwards::CompressedEdwardsY;

    let prepared: Vec<Result<Signature, ReportError>> = items
        .iter()
        .map(|(signed, expect)| signature_for(signed, expect.key))
        .collect();
    let batchable = |i: usize| -> bool {
        let (_, expect) = items[i];
        match &prepared[i] {
            Ok(signature) => {
                !expect.key.is_weak()
                    && CompressedEdwardsY(*signature.r_bytes())
                        .decompress()
                        .is_some_and(|r| !r.is_small_order())
            }
            Err(_) => false,
        }
    };
    let in_batch: Vec<usize> = (0..items.len()).filter(|&i| batchable(i)).collect();
    let messages: Vec<&[u8]> = in_batch
        .iter()
        .map(|&i| items[i].0.report.as_slice())
        .collect();
    let signatures: Vec<Signature> = in_batch
        .iter()
        .filter_map(|&i| prepared[i].as_ref().ok().copied())
        .collect();
    let verifying_keys: Vec<VerifyingKey> = in_batch.iter().map(|&i| *items[i].1.key).collect();
    let batch_ok = !in_batch.is_empty()
        && signatures.len() == in_batch.len()
        && ed25519_dalek::verify_batch(&messages, &signatures, &verifying_keys).is_ok();

    items
        .iter()
        .zip(prepared)
        .enumerate()
        .map(|(i, ((signed, expect), signature))| {
            let signature = signature?;
            let verified_in_batch = batch_ok && in_batch.binary_search(&i).is_ok();
            if !verified_in_batch {
                expect
                    .key
                    .verify_strict(&signed.report, &signature)
                    .map_err(|_| ReportError::BadSignature)?;
            }
            accept(&signed.report, expect)
        })
        .collect()
}

#[cfg(test)]
mod tests;
