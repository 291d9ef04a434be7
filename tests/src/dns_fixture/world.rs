//! The closed world of zones every view starts from.

use std::collections::BTreeMap;

use hickory_proto::rr::{Name, Record, RecordType};

use super::zone_text::parse_records;
use super::{DnsFixtureError, parse_name};

/// Whether answers from a zone are DNSSEC-validated (AD=1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZoneSecurity {
    /// Answers carry AD=0, as from an unsigned zone or an insecure
    /// delegation.
    #[default]
    Insecure,
    /// Answers carry AD=1, as a validating resolver sets for a signed zone
    /// with a chain of trust.
    Signed,
}

/// Zones (apex and security) and their records. Cheap enough to clone for
/// each server; views overlay it without changing it.
#[derive(Debug, Clone, Default)]
pub struct DnsWorld {
    zones: BTreeMap<Name, ZoneSecurity>,
    records: RecordTable,
}

impl DnsWorld {
    /// An empty world: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    /// A world holding the zones of `text`; see [`DnsWorld::with_zone_text`].
    pub fn from_zone_text(text: &str) -> Result<Self, DnsFixtureError> {
        Self::new().with_zone_text(text)
    }

    /// Adds the zones of `text`, an RFC 1035 master file (`$ORIGIN`, `$TTL`,
    /// A, AAAA, TXT, CAA, CNAME, DNAME, PTR, NS, DS, SOA).
    ///
    /// Every owner of an SOA record is a zone apex; a text without an SOA
    /// holds one zone whose apex is its first `$ORIGIN`. Every record must
    /// lie in a zone of the world (this text's or one added before). Zones
    /// start [`ZoneSecurity::Insecure`]; see [`DnsWorld::signed`].
    ///
    /// Where zones nest, a record belongs to the deepest; a DS record is
    /// answered from the zone above its owner, as in the DNS (RFC 4035).
    pub fn with_zone_text(mut self, text: &str) -> Result<Self, DnsFixtureError> {
        let records = parse_records(text)?;
        let mut apexes: Vec<Name> = records
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .map(|r| r.name.to_lowercase())
            .collect();
        if apexes.is_empty() {
            apexes.push(first_origin(text)?.ok_or(DnsFixtureError::NoApex)?);
        }
        for apex in apexes {
            self.zones.entry(apex).or_default();
        }
        for record in &records {
            if !self.zones.keys().any(|apex| apex.zone_of(&record.name)) {
                return Err(DnsFixtureError::OutsideZones(record.name.to_ascii()));
            }
        }
        for record in records {
            self.records.insert(record);
        }
        Ok(self)
    }

    /// Marks the zone at `apex` as signed: its answers carry AD=1.
    pub fn signed(self, apex: &str) -> Result<Self, DnsFixtureError> {
        self.with_security(apex, ZoneSecurity::Signed)
    }

    /// Sets the security of the zone at `apex`.
    pub fn with_security(
        mut self,
        apex: &str,
        security: ZoneSecurity,
    ) -> Result<Self, DnsFixtureError> {
        let apex = parse_name(apex)?;
        match self.zones.get_mut(&apex) {
            Some(current) => *current = security,
            None => return Err(DnsFixtureError::NotAnApex(apex.to_ascii())),
        }
        Ok(self)
    }

    /// The zones: apex (fully qualified) and security.
    pub fn zones(&self) -> impl Iterator<Item = (String, ZoneSecurity)> + '_ {
        self.zones
            .iter()
            .map(|(apex, security)| (apex.to_ascii(), *security))
    }

    pub(crate) fn records(&self) -> &RecordTable {
        &self.records
    }

    /// The zone whose data answers `rtype` at `name`: the deepest one
    /// holding `name`, except that DS comes from the zone above a zone's
    /// apex (RFC 4035 section 2.4: DS lives on the parent side of the cut).
    pub(crate) fn zone_for(&self, name: &Name, rtype: RecordType) -> Option<ZoneSecurity> {
        self.zones
            .iter()
            .filter(|(apex, _)| apex.zone_of(name) && !(rtype == RecordType::DS && *apex == name))
            .max_by_key(|(apex, _)| apex.num_labels())
            .map(|(_, security)| *security)
    }
}

/// The name after the first `$ORIGIN` directive, if any.
fn first_origin(text: &str) -> Result<Option<Name>, DnsFixtureError> {
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words
            .next()
            .is_some_and(|word| word.eq_ignore_ascii_case("$ORIGIN"))
        {
            return words.next().map(parse_name).transpose();
        }
    }
    Ok(None)
}

/// Records by owner (fully qualified, lower case), then type. An empty
/// RRset is kept: in an overlay it hides the base RRset.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordTable(BTreeMap<Name, BTreeMap<RecordType, Vec<Record>>>);

impl RecordTable {
    /// Adds `record` to its RRset unless the RRset holds it already (a
    /// delegation's NS set often appears in both parent and child text).
    pub fn insert(&mut self, record: Record) {
        let rrset = self
            .0
            .entry(record.name.to_lowercase())
            .or_default()
            .entry(record.record_type())
            .or_default();
        if !rrset.contains(&record) {
            rrset.push(record);
        }
    }

    /// Replaces the RRset at `name` (fully qualified, lower case).
    pub fn replace(&mut self, name: Name, rtype: RecordType, records: Vec<Record>) {
        self.0.entry(name).or_default().insert(rtype, records);
    }

    pub fn get(&self, name: &Name, rtype: RecordType) -> Option<&[Record]> {
        self.0
            .get(name)
            .and_then(|types| types.get(&rtype))
            .map(Vec::as_slice)
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Owners and the types they have an entry for.
    pub fn owners(&self) -> impl Iterator<Item = (&Name, impl Iterator<Item = RecordType> + '_)> {
        self.0
            .iter()
            .map(|(name, types)| (name, types.keys().copied()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const ZONES: &str = "
$TTL 300
. SOA a. b. 1 1 1 1 1
com. DS 1 13 2 ab
com. SOA a. b. 1 1 1 1 1
example.com. SOA a. b. 1 1 1 1 1
www.example.com. A 127.0.0.1
";

    #[test]
    fn soa_owners_are_apexes() {
        let world = DnsWorld::from_zone_text(ZONES)
            .unwrap()
            .signed(".")
            .unwrap()
            .signed("COM")
            .unwrap();
        let zones: Vec<(String, ZoneSecurity)> = world.zones().collect();
        assert_eq!(
            zones,
            [
                (".".into(), ZoneSecurity::Signed),
                ("com.".into(), ZoneSecurity::Signed),
                ("example.com.".into(), ZoneSecurity::Insecure),
            ]
        );
        let n = |s: &str| Name::from_ascii(s).unwrap();
        let cases = [
            (
                "www.example.com.",
                RecordType::A,
                Some(ZoneSecurity::Insecure),
            ),
            ("example.com.", RecordType::NS, Some(ZoneSecurity::Insecure)),
            ("example.com.", RecordType::DS, Some(ZoneSecurity::Signed)),
            (
                "www.example.com.",
                RecordType::DS,
                Some(ZoneSecurity::Insecure),
            ),
            ("com.", RecordType::DS, Some(ZoneSecurity::Signed)),
            (".", RecordType::DS, None),
            ("example.net.", RecordType::A, Some(ZoneSecurity::Signed)),
        ];
        for (name, rtype, want) in cases {
            assert_eq!(world.zone_for(&n(name), rtype), want, "{name} {rtype}");
        }
    }

    #[test]
    fn zone_without_soa_starts_at_the_first_origin() {
        let world = DnsWorld::from_zone_text(
            "$ORIGIN Example.org.\n$TTL 60\n@ CAA 0 issue \"ca\"\n$ORIGIN sub.example.org.\nwww A 127.0.0.1",
        )
        .unwrap();
        let zones: Vec<String> = world.zones().map(|(apex, _)| apex).collect();
        assert_eq!(zones, ["example.org."]);
    }

    #[test]
    fn zone_errors() {
        let cases: Vec<(Result<DnsWorld, DnsFixtureError>, DnsFixtureError)> = vec![
            (
                DnsWorld::from_zone_text("$TTL 60\nwww.example.org. A 127.0.0.1"),
                DnsFixtureError::NoApex,
            ),
            (
                DnsWorld::from_zone_text(
                    "$TTL 60\nexample.org. SOA a. b. 1 1 1 1 1\nwww.example.net. A 127.0.0.1",
                ),
                DnsFixtureError::OutsideZones("www.example.net.".into()),
            ),
            (
                DnsWorld::from_zone_text("$ORIGIN example.org.\n$TTL 60\nwww A 127.0.0.1")
                    .and_then(|w| w.signed("www.example.org")),
                DnsFixtureError::NotAnApex("www.example.org.".into()),
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got.unwrap_err(), want);
        }
    }

    #[test]
    fn later_texts_may_add_records_to_earlier_zones() {
        let world = DnsWorld::from_zone_text("$ORIGIN example.org.\n$TTL 60\n@ A 127.0.0.1")
            .unwrap()
            .with_zone_text(
                "$TTL 60\nwww.example.org. A 127.0.0.2\nexample.net. SOA a. b. 1 1 1 1 1",
            )
            .unwrap();
        let www = Name::from_ascii("www.example.org.").unwrap();
        assert_eq!(world.records().get(&www, RecordType::A).unwrap().len(), 1);
        assert_eq!(world.zones().count(), 2);
    }
}
