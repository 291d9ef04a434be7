//! One view: what one perspective's resolver sees. Overrides set by a test
//! at run time, and a count of the questions asked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, Record, RecordType};

use super::resolution::{Resolution, ViewOfWorld};
use super::world::{DnsWorld, RecordTable};
use super::zone_text::parse_records;
use super::{DnsFixtureError, parse_name};

/// How a view misbehaves for a name, instead of answering honestly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This rcode with no records (SERVFAIL, REFUSED, NXDOMAIN, ...), AD=0.
    /// Also fails questions whose alias chain reaches the name.
    Rcode(ResponseCode),
    /// The honest answer, after this delay (at most
    /// [`super::MAX_DELAY`]).
    Delay(Duration),
    /// No answer: the request is held until the client gives up, the server
    /// stops, or [`super::MAX_DELAY`] passes (then HTTP 504).
    Timeout,
    /// The honest answer with the TC bit set.
    Truncated,
    /// HTTP 200 with the DNS media type and bytes that are not a DNS
    /// message.
    Malformed,
    /// This HTTP status with an empty body.
    HttpStatus(u16),
    /// The honest answer with another message ID: a well-formed answer to
    /// another request.
    WrongId,
    /// The honest answer to the same question about this other name (same
    /// message ID, same type): a well-formed answer to another request.
    OtherQuestion(Name),
    /// The honest answer, its body sent one byte per interval (the whole
    /// exchange is cut off at [`super::MAX_DELAY`]).
    Drip(Duration),
    /// HTTP 200 with the DNS media type and the honest answer padded to
    /// [`super::OVERSIZED_BYTES`], more than any DNS message can be.
    Oversized,
    /// This rcode with an RFC 8914 extended error of this info code, as a
    /// resolver says whose failure it is. Also fails alias chains.
    ExtendedError { rcode: ResponseCode, info_code: u16 },
    /// The name's data fails DNSSEC validation: a validating view answers
    /// SERVFAIL with extended error 6 (DNSSEC Bogus), also to questions
    /// whose chain reaches it; with the CD bit, or in a view that does not
    /// validate, the data comes back (AD=0).
    Bogus,
}

impl Fault {
    /// Faults that decide the DNS answer (rather than how it travels).
    fn rcode(&self, validated: bool) -> Option<ResponseCode> {
        match self {
            Fault::Rcode(rcode) | Fault::ExtendedError { rcode, .. } => Some(*rcode),
            Fault::Bogus if validated => Some(ResponseCode::ServFail),
            _ => None,
        }
    }

    /// The extended error a failing answer carries.
    fn extended_error(&self, validated: bool) -> Option<u16> {
        match self {
            Fault::ExtendedError { info_code, .. } => Some(*info_code),
            Fault::Bogus if validated => Some(BOGUS_INFO_CODE),
            _ => None,
        }
    }
}

/// RFC 8914 "DNSSEC Bogus".
const BOGUS_INFO_CODE: u16 = 6;

/// The answer to the DNSSEC self-test's probe names
/// ([`super::dnssec_test_names`]) and to names in bogus zones.
const PROBE_ADDRESS: &str = "192.0.2.53";

/// A view's state, shared by its handles and the server.
#[derive(Debug, Default)]
pub(crate) struct ViewState {
    overlay: RecordTable,
    /// By name, then type (`None`: every type).
    faults: BTreeMap<(Name, Option<RecordType>), Fault>,
    authentic_data: BTreeMap<Name, bool>,
    /// The view's resolver does not validate DNSSEC: bogus data comes back.
    /// It still passes on the AD bit as its upstream set it, as a forwarder
    /// does, so AD alone cannot tell it from a validator.
    not_validating: bool,
    /// By name (lower case, no trailing dot) and type.
    counts: BTreeMap<(String, RecordType), usize>,
}

/// A handle on one view of a [`super::DohServer`]. Clones share the view.
///
/// Names may be given with or without the trailing dot, in any case.
#[derive(Debug, Clone)]
pub struct ViewHandle {
    name: String,
    state: Arc<Mutex<ViewState>>,
}

impl ViewHandle {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            state: Arc::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, ViewState> {
        // A test that panicked while holding the lock left consistent data:
        // every update is a single map operation.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The view's name, as in its URL.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Replaces the RRset `rtype` at `name` in this view (poisoning it).
    /// Empty `records` hide the RRset: NODATA, or NXDOMAIN if nothing else
    /// is at or below the name.
    pub fn override_answer(
        &self,
        name: &str,
        rtype: RecordType,
        records: Vec<Record>,
    ) -> Result<(), DnsFixtureError> {
        let name = parse_name(name)?;
        self.state().overlay.replace(name, rtype, records);
        Ok(())
    }

    /// Replaces, in this view, every RRset that `text` (master-file text,
    /// absolute owner names unless it sets `$ORIGIN`; TTL required) has
    /// records for, e.g. `"victim.example. 60 IN A 127.0.0.2"`.
    pub fn override_text(&self, text: &str) -> Result<(), DnsFixtureError> {
        let mut rrsets: BTreeMap<(Name, RecordType), Vec<Record>> = BTreeMap::new();
        for record in parse_records(text)? {
            rrsets
                .entry((record.name.to_lowercase(), record.record_type()))
                .or_default()
                .push(record);
        }
        let mut state = self.state();
        for ((name, rtype), records) in rrsets {
            state.overlay.replace(name, rtype, records);
        }
        Ok(())
    }

    /// Hides the RRset `rtype` at `name` in this view.
    pub fn remove_rrset(&self, name: &str, rtype: RecordType) -> Result<(), DnsFixtureError> {
        self.override_answer(name, rtype, Vec::new())
    }

    /// Makes questions about `name` (of `rtype`, or of every type for
    /// `None`) fail with `fault`. A type-specific fault wins.
    pub fn set_fault(
        &self,
        name: &str,
        rtype: Option<RecordType>,
        fault: Fault,
    ) -> Result<(), DnsFixtureError> {
        if let Fault::HttpStatus(code) = fault
            && axum::http::StatusCode::from_u16(code).is_err()
        {
            return Err(DnsFixtureError::InvalidStatus(code));
        }
        let name = parse_name(name)?;
        self.state().faults.insert((name, rtype), fault);
        Ok(())
    }

    /// Removes a fault set by [`ViewHandle::set_fault`].
    pub fn clear_fault(
        &self,
        name: &str,
        rtype: Option<RecordType>,
    ) -> Result<(), DnsFixtureError> {
        let name = parse_name(name)?;
        self.state().faults.remove(&(name, rtype));
        Ok(())
    }

    /// SERVFAIL for every question about `name`.
    pub fn servfail(&self, name: &str) -> Result<(), DnsFixtureError> {
        self.set_fault(name, None, Fault::Rcode(ResponseCode::ServFail))
    }

    /// REFUSED for every question about `name`.
    pub fn refused(&self, name: &str) -> Result<(), DnsFixtureError> {
        self.set_fault(name, None, Fault::Rcode(ResponseCode::Refused))
    }

    /// NXDOMAIN for every question about `name`.
    pub fn nxdomain(&self, name: &str) -> Result<(), DnsFixtureError> {
        self.set_fault(name, None, Fault::Rcode(ResponseCode::NXDomain))
    }

    /// Never answer questions about `name` (see [`Fault::Timeout`]).
    pub fn timeout(&self, name: &str) -> Result<(), DnsFixtureError> {
        self.set_fault(name, None, Fault::Timeout)
    }

    /// Answer questions about `name` after `delay`.
    pub fn delay(&self, name: &str, delay: Duration) -> Result<(), DnsFixtureError> {
        self.set_fault(name, None, Fault::Delay(delay))
    }

    /// Set TC on answers about `name`.
    pub fn truncated(&self, name: &str) -> Result<(), DnsFixtureError> {
        self.set_fault(name, None, Fault::Truncated)
    }

    /// Answer questions about `name` with garbage.
    pub fn malformed(&self, name: &str) -> Result<(), DnsFixtureError> {
        self.set_fault(name, None, Fault::Malformed)
    }

    /// Answer questions about `name` with another message ID.
    pub fn wrong_id(&self, name: &str) -> Result<(), DnsFixtureError> {
        self.set_fault(name, None, Fault::WrongId)
    }

    /// Answer questions about `name` as if they were about `other`.
    pub fn other_question(&self, name: &str, other: &str) -> Result<(), DnsFixtureError> {
        let other = parse_name(other)?;
        self.set_fault(name, None, Fault::OtherQuestion(other))
    }

    /// Send answers about `name` one byte per `interval`.
    pub fn drip(&self, name: &str, interval: Duration) -> Result<(), DnsFixtureError> {
        self.set_fault(name, None, Fault::Drip(interval))
    }

    /// Answer questions about `name` with a body longer than a DNS message.
    pub fn oversized(&self, name: &str) -> Result<(), DnsFixtureError> {
        self.set_fault(name, None, Fault::Oversized)
    }

    /// Answer questions about `name` with HTTP `status`.
    pub fn http_status(&self, name: &str, status: u16) -> Result<(), DnsFixtureError> {
        self.set_fault(name, None, Fault::HttpStatus(status))
    }

    /// Forces the AD flag of answers to questions about `name` (`None`:
    /// as the zones say), as a lying or broken resolver would.
    pub fn force_authentic_data(
        &self,
        name: &str,
        authentic_data: Option<bool>,
    ) -> Result<(), DnsFixtureError> {
        let name = parse_name(name)?;
        let mut state = self.state();
        match authentic_data {
            Some(ad) => state.authentic_data.insert(name, ad),
            None => state.authentic_data.remove(&name),
        };
        Ok(())
    }

    /// Makes this view's resolver one that does not validate DNSSEC (or one
    /// that does again): bogus data, the self-test's bogus probe included,
    /// is answered instead of refused, while AD is passed on as the zones
    /// say (a forwarder copying its upstream's bit).
    pub fn set_validating(&self, validating: bool) {
        self.state().not_validating = !validating;
    }

    /// Makes `name`'s data fail DNSSEC validation (see [`Fault::Bogus`]).
    pub fn bogus(&self, name: &str) -> Result<(), DnsFixtureError> {
        self.set_fault(name, None, Fault::Bogus)
    }

    /// Removes every override and fault; counts stay.
    pub fn clear_overrides(&self) {
        let mut state = self.state();
        state.overlay.clear();
        state.faults.clear();
        state.authentic_data.clear();
        state.not_validating = false;
    }

    /// How many questions for `rtype` at `name` this view received.
    pub fn query_count(&self, name: &str, rtype: RecordType) -> usize {
        self.state()
            .counts
            .get(&(count_key(name), rtype))
            .copied()
            .unwrap_or(0)
    }

    /// How many questions about `name`, of any type, this view received.
    pub fn name_query_count(&self, name: &str) -> usize {
        let key = count_key(name);
        self.state()
            .counts
            .iter()
            .filter(|((owner, _), _)| *owner == key)
            .map(|(_, count)| count)
            .sum()
    }

    /// How many questions this view received.
    pub fn total_queries(&self) -> usize {
        self.state().counts.values().sum()
    }

    /// Every (name, type) asked with its count; names lower case without
    /// the trailing dot.
    pub fn query_counts(&self) -> BTreeMap<(String, RecordType), usize> {
        self.state().counts.clone()
    }

    /// Forgets the counts.
    pub fn reset_counts(&self) {
        self.state().counts.clear();
    }

    /// Counts a question and returns the fault for it, if any.
    pub(crate) fn record_question(&self, name: &Name, rtype: RecordType) -> Option<Fault> {
        let mut state = self.state();
        *state
            .counts
            .entry((mpic_core::dns::name_text(name), rtype))
            .or_default() += 1;
        fault_for(&state, name, rtype).cloned()
    }

    /// The answer this view gives, and the extended error it carries.
    /// `checking_disabled` is the query's CD bit: the resolver then does not
    /// validate.
    pub(crate) fn resolve(
        &self,
        world: &DnsWorld,
        name: &Name,
        rtype: RecordType,
        checking_disabled: bool,
    ) -> (Resolution, Option<u16>) {
        let state = self.state();
        let validated = !state.not_validating && !checking_disabled;
        if let Some(probe) = probe_answer(name, rtype, validated, checking_disabled) {
            return probe;
        }
        let view = ViewOfWorld {
            world,
            overlay: &state.overlay,
        };
        let mut resolution = view.resolve(name, rtype, |at| {
            fault_for(&state, at, rtype).and_then(|f| f.rcode(validated))
        });
        if let Some(ad) = state.authentic_data.get(&name.to_lowercase()) {
            resolution.authentic_data = *ad;
        }
        if checking_disabled {
            resolution.authentic_data = false;
        }
        let extended_error = match resolution.rcode {
            ResponseCode::NoError | ResponseCode::NXDomain => None,
            _ => fault_for(&state, name, rtype).and_then(|f| f.extended_error(validated)),
        };
        (resolution, extended_error)
    }
}

/// The self-test's probes: the signed name is NOERROR with AD=1 (AD=0 with
/// CD); the bogus name is SERVFAIL (DNSSEC Bogus) when validated, its data
/// otherwise.
fn probe_answer(
    name: &Name,
    rtype: RecordType,
    validated: bool,
    checking_disabled: bool,
) -> Option<(Resolution, Option<u16>)> {
    let names = super::dnssec_test_names();
    let text = mpic_core::dns::name_text(name);
    let is_bogus = text == names.bogus;
    if !is_bogus && text != names.signed {
        return None;
    }
    let records = match (rtype, PROBE_ADDRESS.parse::<std::net::Ipv4Addr>()) {
        (RecordType::A, Ok(ip)) => vec![Record::from_rdata(
            name.clone(),
            60,
            hickory_proto::rr::RData::A(hickory_proto::rr::rdata::A(ip)),
        )],
        _ => Vec::new(),
    };
    Some(if is_bogus && validated {
        (
            Resolution {
                rcode: ResponseCode::ServFail,
                answers: Vec::new(),
                authentic_data: false,
            },
            Some(BOGUS_INFO_CODE),
        )
    } else {
        (
            Resolution {
                rcode: ResponseCode::NoError,
                answers: records,
                authentic_data: !checking_disabled && !is_bogus,
            },
            None,
        )
    })
}

fn fault_for<'a>(state: &'a ViewState, name: &Name, rtype: RecordType) -> Option<&'a Fault> {
    let name = name.to_lowercase();
    state
        .faults
        .get(&(name.clone(), Some(rtype)))
        .or_else(|| state.faults.get(&(name, None)))
}

fn count_key(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}
