//! What a validating recursive resolver that knows every zone of the world
//! would answer, as one view sees the world.
//!
//! - Exact match: the RRset.
//! - Aliases are chased within the world and the chain goes in the answer
//!   section: a DNAME at a proper ancestor first (it occludes everything
//!   below it; the highest one wins, RFC 6672 section 2.3) with the CNAME
//!   it synthesises, then a CNAME at the name (unless CNAME was asked).
//!   A chain that comes back to a name already in it stops there, leaving
//!   the loop in the answer for the client to refuse; so does a chain
//!   longer than [`MAX_CHASE`].
//! - No records: NXDOMAIN if the name owns nothing and has nothing below it,
//!   otherwise NODATA (NOERROR, empty), as for an empty non-terminal.
//! - AD=1 only if every zone the answer came from is signed; names outside
//!   every zone are NXDOMAIN with AD=0.
//! - A view may fail a name with an rcode; that also fails a chain reaching
//!   it, as a resolver that cannot resolve the target fails the question.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::world::{DnsWorld, RecordTable, ZoneSecurity};

/// Most alias steps chased; beyond what a client follows
/// ([`mpic_core::dns::MAX_CNAME_CHAIN`]), so the client sees its own limit.
pub const MAX_CHASE: usize = 2 * mpic_core::dns::MAX_CNAME_CHAIN;

/// The DNS part of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub authentic_data: bool,
}

impl Resolution {
    fn failure(rcode: ResponseCode) -> Self {
        Self {
            rcode,
            answers: Vec::new(),
            authentic_data: false,
        }
    }
}

/// The world as one view sees it: the base records with the view's
/// overrides on top.
pub struct ViewOfWorld<'a> {
    pub world: &'a DnsWorld,
    pub overlay: &'a RecordTable,
}

impl ViewOfWorld<'_> {
    /// The RRset at `name`: the overlay's if it has one (even empty).
    fn rrset(&self, name: &Name, rtype: RecordType) -> &[Record] {
        self.overlay
            .get(name, rtype)
            .or_else(|| self.world.records().get(name, rtype))
            .unwrap_or_default()
    }

    /// Whether `name` owns a record or has one below it.
    fn exists(&self, name: &Name) -> bool {
        let tables = [self.world.records(), self.overlay];
        tables.iter().any(|table| {
            table.owners().any(|(owner, mut types)| {
                name.zone_of(owner) && types.any(|rtype| !self.rrset(owner, rtype).is_empty())
            })
        })
    }

    /// The DNAME at the highest proper ancestor of `name`, if any.
    fn dname_above(&self, name: &Name) -> Option<&Record> {
        (0..usize::from(name.num_labels()))
            .map(|labels| name.trim_to(labels))
            .find_map(|ancestor| self.rrset(&ancestor, RecordType::DNAME).first())
    }

    /// Answers `qtype` at `qname`. `failure` says whether the view fails a
    /// name with an rcode.
    pub fn resolve(
        &self,
        qname: &Name,
        qtype: RecordType,
        failure: impl Fn(&Name) -> Option<ResponseCode>,
    ) -> Resolution {
        let mut answers = Vec::new();
        let mut secure = true;
        let mut current = qname.to_lowercase();
        // Keys are fully qualified; a Name's order depends on the flag.
        current.set_fqdn(true);
        let mut seen = vec![current.clone()];
        for _ in 0..=MAX_CHASE {
            if let Some(rcode) = failure(&current) {
                return Resolution::failure(rcode);
            }
            let Some(security) = self.world.zone_for(&current, qtype) else {
                return Resolution {
                    rcode: ResponseCode::NXDomain,
                    answers,
                    authentic_data: false,
                };
            };
            secure &= security == ZoneSecurity::Signed;
            let done = |rcode, answers| Resolution {
                rcode,
                answers,
                authentic_data: secure,
            };

            let next = if let Some(dname) = self.dname_above(&current) {
                let Some(target) = substitute(&current, dname) else {
                    // RFC 6672 section 2.2: the result would be too long.
                    answers.push(dname.clone());
                    return done(ResponseCode::YXDomain, answers);
                };
                answers.push(dname.clone());
                answers.push(Record::from_rdata(
                    current.clone(),
                    dname.ttl,
                    RData::CNAME(CNAME(target.clone())),
                ));
                target
            } else {
                let rrset = self.rrset(&current, qtype);
                if !rrset.is_empty() {
                    answers.extend_from_slice(rrset);
                    return done(ResponseCode::NoError, answers);
                }
                let cname = match qtype {
                    RecordType::CNAME => None,
                    _ => self.rrset(&current, RecordType::CNAME).first(),
                };
                let Some(cname) = cname else {
                    let rcode = if self.exists(&current) {
                        ResponseCode::NoError
                    } else {
                        ResponseCode::NXDomain
                    };
                    return done(rcode, answers);
                };
                answers.push(cname.clone());
                match &cname.data {
                    RData::CNAME(target) => target.0.to_lowercase(),
                    _ => return done(ResponseCode::ServFail, Vec::new()),
                }
            };
            if seen.contains(&next) {
                return done(ResponseCode::NoError, answers);
            }
            seen.push(next.clone());
            current = next;
        }
        Resolution {
            rcode: ResponseCode::NoError,
            answers,
            authentic_data: secure,
        }
    }
}

/// `name` rewritten by a DNAME at one of its ancestors (RFC 6672 section
/// 2.2); `None` if the result is not a valid name.
fn substitute(name: &Name, dname: &Record) -> Option<Name> {
    let target = Name::from_ascii(mpic_core::dns::target_name(dname)?)
        .ok()?
        .append_domain(&Name::root())
        .ok()?;
    let kept = usize::from(name.num_labels()) - usize::from(dname.name.num_labels());
    Name::from_labels(name.iter().take(kept))
        .ok()?
        .append_name(&target)
        .ok()
        .map(|n| n.to_lowercase())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const ZONES: &str = r#"
$TTL 300
$ORIGIN com.
@ SOA a. b. 1 1 1 1 1
example DS 1 13 2 ab
$ORIGIN example.com.
@ SOA a. b. 1 1 1 1 1
@ NS ns1
@ CAA 0 issue "ca.example"
www A 127.0.0.1
alias CNAME www
chain1 CNAME chain2
chain2 CNAME alias
dangling CNAME nowhere
out CNAME www.example.net.
loop1 CNAME loop2
loop2 CNAME loop1
self CNAME self
a.b.c TXT "deep"
old DNAME new.example.net.
$ORIGIN example.net.
@ SOA a. b. 1 1 1 1 1
www.new A 127.0.0.9
www A 127.0.0.3
"#;

    fn world() -> DnsWorld {
        DnsWorld::from_zone_text(ZONES)
            .unwrap()
            .signed("com")
            .unwrap()
            .signed("example.net")
            .unwrap()
    }

    fn n(name: &str) -> Name {
        Name::from_ascii(name).unwrap()
    }

    /// (rcode, answers as "owner type target-or-address", AD)
    fn ask(world: &DnsWorld, overlay: &RecordTable, name: &str, rtype: RecordType) -> Resolution {
        ViewOfWorld { world, overlay }.resolve(&n(name), rtype, |_| None)
    }

    fn summary(resolution: &Resolution) -> Vec<String> {
        resolution
            .answers
            .iter()
            .map(|r| {
                let data = mpic_core::dns::target_name(r)
                    .or_else(|| mpic_core::dns::ip_addr(r).map(|ip| ip.to_string()))
                    .or_else(|| mpic_core::dns::txt_string(r))
                    .unwrap_or_else(|| "?".into());
                format!(
                    "{} {} {data}",
                    mpic_core::dns::name_text(&r.name),
                    r.record_type()
                )
            })
            .collect()
    }

    #[test]
    fn answers() {
        use RecordType::*;
        use ResponseCode::*;
        let world = world();
        let overlay = RecordTable::default();
        let cases: &[(&str, RecordType, ResponseCode, &[&str], bool)] = &[
            (
                "www.example.com",
                A,
                NoError,
                &["www.example.com A 127.0.0.1"],
                false,
            ),
            (
                "WWW.Example.COM",
                A,
                NoError,
                &["www.example.com A 127.0.0.1"],
                false,
            ),
            ("www.example.com", AAAA, NoError, &[], false),
            ("nope.example.com", A, NXDomain, &[], false),
            // Empty non-terminals exist.
            ("b.c.example.com", TXT, NoError, &[], false),
            ("c.example.com", A, NoError, &[], false),
            ("x.a.b.c.example.com", A, NXDomain, &[], false),
            (
                "chain1.example.com",
                A,
                NoError,
                &[
                    "chain1.example.com CNAME chain2.example.com",
                    "chain2.example.com CNAME alias.example.com",
                    "alias.example.com CNAME www.example.com",
                    "www.example.com A 127.0.0.1",
                ],
                false,
            ),
            (
                "alias.example.com",
                CNAME,
                NoError,
                &["alias.example.com CNAME www.example.com"],
                false,
            ),
            (
                "dangling.example.com",
                A,
                NXDomain,
                &["dangling.example.com CNAME nowhere.example.com"],
                false,
            ),
            // Insecure example.com, then signed example.net: AD=0.
            (
                "out.example.com",
                A,
                NoError,
                &[
                    "out.example.com CNAME www.example.net",
                    "www.example.net A 127.0.0.3",
                ],
                false,
            ),
            (
                "www.example.net",
                A,
                NoError,
                &["www.example.net A 127.0.0.3"],
                true,
            ),
            ("nope.example.net", A, NXDomain, &[], true),
            (
                "loop1.example.com",
                A,
                NoError,
                &[
                    "loop1.example.com CNAME loop2.example.com",
                    "loop2.example.com CNAME loop1.example.com",
                ],
                false,
            ),
            (
                "self.example.com",
                A,
                NoError,
                &["self.example.com CNAME self.example.com"],
                false,
            ),
            (
                "www.old.example.com",
                A,
                NoError,
                &[
                    "old.example.com DNAME new.example.net",
                    "www.old.example.com CNAME www.new.example.net",
                    "www.new.example.net A 127.0.0.9",
                ],
                false,
            ),
            // A DNAME does not rewrite its owner.
            (
                "old.example.com",
                DNAME,
                NoError,
                &["old.example.com DNAME new.example.net"],
                false,
            ),
            ("old.example.com", A, NoError, &[], false),
            // DS from the parent (signed com); NS from the child.
            ("example.com", DS, NoError, &["example.com DS ?"], true),
            (
                "example.com",
                NS,
                NoError,
                &["example.com NS ns1.example.com"],
                false,
            ),
            ("www.example.com", DS, NoError, &[], false),
            ("example.org", A, NXDomain, &[], false),
        ];
        for (name, rtype, rcode, want, ad) in cases {
            let got = ask(&world, &overlay, name, *rtype);
            assert_eq!(got.rcode, *rcode, "{name} {rtype}");
            assert_eq!(summary(&got), *want, "{name} {rtype}");
            assert_eq!(got.authentic_data, *ad, "{name} {rtype} AD");
        }
    }

    #[test]
    fn long_chains_stop_at_the_bound() {
        let mut text = String::from("$ORIGIN example.com.\n$TTL 60\n");
        for i in 0..100 {
            text.push_str(&format!("c{i} CNAME c{}\n", i + 1));
        }
        let world = DnsWorld::from_zone_text(&text).unwrap();
        let got = ask(
            &world,
            &RecordTable::default(),
            "c0.example.com",
            RecordType::A,
        );
        assert_eq!(got.rcode, ResponseCode::NoError);
        assert_eq!(got.answers.len(), MAX_CHASE + 1);
    }

    #[test]
    fn overlay_replaces_and_hides() {
        let world = world();
        let mut overlay = RecordTable::default();
        let poisoned = Record::from_rdata(
            n("www.example.com."),
            60,
            RData::A(hickory_proto::rr::rdata::A::new(127, 0, 0, 2)),
        );
        overlay.replace(n("www.example.com."), RecordType::A, vec![poisoned]);
        overlay.replace(n("a.b.c.example.com."), RecordType::TXT, vec![]);
        let got = ask(&world, &overlay, "alias.example.com", RecordType::A);
        assert_eq!(
            summary(&got),
            [
                "alias.example.com CNAME www.example.com",
                "www.example.com A 127.0.0.2"
            ]
        );
        // With its only RRset hidden, the name and its ancestors vanish.
        let gone = ask(&world, &overlay, "a.b.c.example.com", RecordType::TXT);
        assert_eq!(gone.rcode, ResponseCode::NXDomain);
        let gone = ask(&world, &overlay, "c.example.com", RecordType::TXT);
        assert_eq!(gone.rcode, ResponseCode::NXDomain);
        // The base world is unchanged.
        let honest = ask(
            &world,
            &RecordTable::default(),
            "www.example.com",
            RecordType::A,
        );
        assert_eq!(summary(&honest), ["www.example.com A 127.0.0.1"]);
    }

    #[test]
    fn failures_apply_along_the_chain() {
        let world = world();
        let overlay = RecordTable::default();
        let view = ViewOfWorld {
            world: &world,
            overlay: &overlay,
        };
        let www = n("www.example.com.");
        let fail = |name: &Name| (*name == www).then_some(ResponseCode::ServFail);
        for name in ["www.example.com.", "chain1.example.com."] {
            let got = view.resolve(&n(name), RecordType::A, fail);
            assert_eq!(got, Resolution::failure(ResponseCode::ServFail), "{name}");
        }
        let got = view.resolve(&n("www.example.net."), RecordType::A, fail);
        assert_eq!(got.rcode, ResponseCode::NoError);
    }

    #[test]
    fn dname_substitution_overflow_is_yxdomain() {
        let long = "a".repeat(63);
        let text =
            format!("$ORIGIN example.com.\n$TTL 60\nd DNAME {long}.{long}.{long}.example.net.\n");
        let world = DnsWorld::from_zone_text(&text).unwrap();
        let name = format!("{long}.{long}.d.example.com");
        let got = ask(&world, &RecordTable::default(), &name, RecordType::A);
        assert_eq!(got.rcode, ResponseCode::YXDomain);
    }
}
