#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CAA, CNAME, NULL, PTR, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::fixture::{build_response, dname_record, response_message};
use super::*;
use crate::network::DnsError;

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn a(owner: &str, ip: [u8; 4]) -> Record {
    Record::from_rdata(n(owner), 300, RData::A(A(Ipv4Addr::from(ip))))
}

fn cname(owner: &str, target: &str) -> Record {
    Record::from_rdata(n(owner), 300, RData::CNAME(CNAME(n(target))))
}

fn dname(owner: &str, target: &str) -> Record {
    dname_record(n(owner), 300, &n(target)).unwrap()
}

fn caa(owner: &str, flags: u8, tag: &str, value: &[u8]) -> Record {
    let mut caa = CAA::new_issue(flags & 0x80 != 0, None, vec![]);
    caa.reserved_flags = flags & 0x7f;
    caa.tag = tag.into();
    caa.value = value.to_vec();
    Record::from_rdata(n(owner), 300, RData::CAA(caa))
}

fn respond(query: &DnsQuery, rcode: ResponseCode, answers: Vec<Record>) -> Vec<u8> {
    build_response(query.wire(), rcode, answers, false).unwrap()
}

fn forged(query: &DnsQuery, edit: impl FnOnce(&mut Message)) -> Vec<u8> {
    let mut message = response_message(query.wire(), ResponseCode::NoError, vec![], false).unwrap();
    edit(&mut message);
    message.to_vec().unwrap()
}

#[test]
fn query_has_rd_do_edns_and_question() {
    let query = DnsQuery::new("WWW.Example.COM.", RecordType::CAA).unwrap();
    let message = Message::from_vec(query.wire()).unwrap();
    assert_eq!(message.metadata.id, query.id());
    assert_eq!(message.metadata.message_type, MessageType::Query);
    assert!(message.metadata.recursion_desired);
    assert!(!message.metadata.checking_disabled);
    let edns = message.edns.as_ref().expect("EDNS OPT");
    assert!(edns.flags().dnssec_ok);
    assert_eq!(edns.max_payload(), EDNS_MAX_PAYLOAD);
    assert_eq!(message.queries.len(), 1);
    let question = &message.queries[0];
    assert!(question.name().eq_case(&n("www.example.com.")));
    assert_eq!(question.query_type(), RecordType::CAA);
    assert_eq!(question.query_class(), DNSClass::IN);
    assert_eq!(name_text(query.name()), "www.example.com");
}

#[test]
fn query_ids_are_chosen_or_random() {
    assert_eq!(
        DnsQuery::with_id("a.example", RecordType::A, 0)
            .unwrap()
            .id(),
        0
    );
    let ids: std::collections::HashSet<u16> = (0..16)
        .map(|_| DnsQuery::new("a.example", RecordType::A).unwrap().id())
        .collect();
    assert!(ids.len() > 1, "16 random ids were all equal");
}

#[test]
fn invalid_queries_are_refused() {
    let long_label = format!("{}.example", "a".repeat(64));
    let long_name = vec!["abcdefghi"; 30].join(".");
    let cases: &[(&str, RecordType)] = &[
        ("", RecordType::A),
        (".", RecordType::A),
        ("a..example", RecordType::A),
        ("exa mple.com", RecordType::A),
        ("bücher.example", RecordType::A),
        ("a\\.b.example", RecordType::A),
        ("*.example.com", RecordType::A),
        (&long_label, RecordType::A),
        (&long_name, RecordType::A),
        ("example.com", RecordType::ANY),
        ("example.com", RecordType::AXFR),
        ("example.com", RecordType::OPT),
    ];
    for (name, rtype) in cases {
        assert!(
            matches!(DnsQuery::new(name, *rtype), Err(DnsError::InvalidQuery(_))),
            "{name:?} {rtype} accepted"
        );
    }
    for name in [
        "_acme-challenge.example.com",
        "xn--bcher-kva.example.",
        "a-b.c",
    ] {
        assert!(
            DnsQuery::new(name, RecordType::TXT).is_ok(),
            "{name} refused"
        );
    }
}

#[test]
fn answers_with_aliases() {
    struct Case {
        what: &'static str,
        qname: &'static str,
        rtype: RecordType,
        answers: Vec<Record>,
        records: usize,
        chain: &'static [&'static str],
    }
    let cases = vec![
        Case {
            what: "direct",
            qname: "www.example.com",
            rtype: RecordType::A,
            answers: vec![
                a("www.example.com.", [192, 0, 2, 1]),
                a("www.example.com.", [192, 0, 2, 2]),
            ],
            records: 2,
            chain: &[],
        },
        Case {
            what: "case-insensitive owner",
            qname: "www.example.com",
            rtype: RecordType::A,
            answers: vec![a("WWW.EXAMPLE.com.", [192, 0, 2, 1])],
            records: 1,
            chain: &[],
        },
        Case {
            what: "records of other names and types are ignored",
            qname: "www.example.com",
            rtype: RecordType::A,
            answers: vec![
                a("other.example.com.", [192, 0, 2, 1]),
                caa("www.example.com.", 0, "issue", b"ca.example"),
            ],
            records: 0,
            chain: &[],
        },
        Case {
            what: "CNAME chain, out of order",
            qname: "www.example.com",
            rtype: RecordType::A,
            answers: vec![
                a("c.example.net.", [192, 0, 2, 9]),
                cname("b.example.org.", "C.example.net."),
                cname("www.example.com.", "b.example.org."),
                a("www.example.com.", [192, 0, 2, 1]),
            ],
            records: 1,
            chain: &["b.example.org", "c.example.net"],
        },
        Case {
            what: "CNAME to a name without records",
            qname: "www.example.com",
            rtype: RecordType::CAA,
            answers: vec![cname("www.example.com.", "cdn.example.net.")],
            records: 0,
            chain: &["cdn.example.net"],
        },
        Case {
            what: "asking for the CNAME itself does not follow it",
            qname: "www.example.com",
            rtype: RecordType::CNAME,
            answers: vec![
                cname("www.example.com.", "b.example.org."),
                cname("b.example.org.", "c.example.net."),
            ],
            records: 1,
            chain: &[],
        },
        Case {
            what: "DNAME with synthesized CNAME",
            qname: "www.example.com",
            rtype: RecordType::A,
            answers: vec![
                dname("example.com.", "example.net."),
                cname("www.example.com.", "www.example.net."),
                a("www.example.net.", [192, 0, 2, 7]),
            ],
            records: 1,
            chain: &["www.example.net"],
        },
        Case {
            what: "DNAME without synthesized CNAME",
            qname: "a.b.example.com",
            rtype: RecordType::A,
            answers: vec![
                dname("example.com.", "Example.NET."),
                a("a.b.example.net.", [192, 0, 2, 7]),
            ],
            records: 1,
            chain: &["a.b.example.net"],
        },
        Case {
            what: "DNAME does not apply to its owner",
            qname: "example.com",
            rtype: RecordType::A,
            answers: vec![
                dname("example.com.", "example.net."),
                a("example.com.", [192, 0, 2, 3]),
            ],
            records: 1,
            chain: &[],
        },
        Case {
            what: "DNAME at an unrelated name is ignored",
            qname: "www.example.com",
            rtype: RecordType::A,
            answers: vec![
                dname("example.org.", "example.net."),
                a("www.example.com.", [192, 0, 2, 3]),
            ],
            records: 1,
            chain: &[],
        },
    ];
    for case in cases {
        let query = DnsQuery::new(case.qname, case.rtype).unwrap();
        let wire = respond(&query, ResponseCode::NoError, case.answers);
        let answer = query
            .parse_response(&wire, "https://doh.example/dns-query")
            .unwrap_or_else(|e| panic!("{}: {e}", case.what));
        assert_eq!(answer.records.len(), case.records, "{}", case.what);
        assert!(
            answer.records.iter().all(|r| r.record_type() == case.rtype),
            "{}",
            case.what
        );
        assert_eq!(answer.cname_chain, case.chain, "{}", case.what);
        assert_eq!(answer.name, case.qname, "{}", case.what);
        assert_eq!(answer.rtype, case.rtype, "{}", case.what);
        assert_eq!(answer.rcode, ResponseCode::NoError, "{}", case.what);
        assert_eq!(answer.resolver, "https://doh.example/dns-query");
    }
}

#[test]
fn bad_alias_chains_are_errors() {
    let long_chain: Vec<Record> = (0..=MAX_CNAME_CHAIN)
        .map(|i| {
            let owner = if i == 0 {
                "www.example.com.".to_string()
            } else {
                format!("c{i}.example.net.")
            };
            cname(&owner, &format!("c{}.example.net.", i + 1))
        })
        .collect();
    let just_fits: Vec<Record> = long_chain[..MAX_CNAME_CHAIN].to_vec();
    let query = DnsQuery::new("www.example.com", RecordType::A).unwrap();
    let ok = query
        .parse_response(&respond(&query, ResponseCode::NoError, just_fits), "r")
        .unwrap();
    assert_eq!(ok.cname_chain.len(), MAX_CNAME_CHAIN);

    type Check = fn(&DnsError) -> bool;
    let limit: Check = |e| matches!(e, DnsError::LimitExceeded(_));
    let malformed: Check = |e| matches!(e, DnsError::Malformed(_));
    let cases: Vec<(&str, Vec<Record>, Check)> = vec![
        ("chain too long", long_chain, limit),
        (
            "self loop",
            vec![cname("www.example.com.", "WWW.example.com.")],
            limit,
        ),
        (
            "loop back to the query name",
            vec![
                cname("www.example.com.", "b.example.org."),
                cname("b.example.org.", "www.example.com."),
            ],
            limit,
        ),
        (
            "loop further on",
            vec![
                cname("www.example.com.", "b.example.org."),
                cname("b.example.org.", "c.example.org."),
                cname("c.example.org.", "b.example.org."),
            ],
            limit,
        ),
        (
            "DNAME loop grows until the limit",
            vec![dname("example.com.", "x.example.com.")],
            limit,
        ),
        (
            "two CNAMEs at one name",
            vec![
                cname("www.example.com.", "a.example.org."),
                cname("www.example.com.", "b.example.org."),
            ],
            malformed,
        ),
        (
            "CNAME disagrees with DNAME",
            vec![
                dname("example.com.", "example.net."),
                cname("www.example.com.", "www.evil.example."),
            ],
            malformed,
        ),
    ];
    for (what, answers, check) in cases {
        let wire = respond(&query, ResponseCode::NoError, answers);
        let err = query.parse_response(&wire, "r").expect_err(what);
        assert!(check(&err), "{what}: {err:?}");
    }
}

#[test]
fn compressed_dname_is_malformed() {
    let query = DnsQuery::new("www.example.com", RecordType::A).unwrap();
    let bad = |bytes: Vec<u8>| {
        Record::from_rdata(
            n("example.com."),
            300,
            RData::Unknown {
                code: RecordType::DNAME,
                rdata: NULL::with(bytes),
            },
        )
    };
    // "net" then a pointer to offset 0; "net." then a stray byte.
    for rdata in [
        vec![3, b'n', b'e', b't', 0xc0, 0x00],
        vec![3, b'n', b'e', b't', 0, 7],
    ] {
        let wire = respond(&query, ResponseCode::NoError, vec![bad(rdata.clone())]);
        let err = query.parse_response(&wire, "r").expect_err("accepted");
        assert!(matches!(err, DnsError::Malformed(_)), "{rdata:?}: {err:?}");
    }
}

#[test]
fn responses_that_do_not_answer_are_mismatches() {
    let query = DnsQuery::new("www.example.com", RecordType::CAA).unwrap();
    let other_id = query.id().wrapping_add(1);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("wrong id", forged(&query, |m| m.metadata.id = other_id)),
        (
            "not a response",
            forged(&query, |m| m.metadata.message_type = MessageType::Query),
        ),
        (
            "wrong opcode",
            forged(&query, |m| m.metadata.op_code = OpCode::Status),
        ),
        ("no question", forged(&query, |m| m.queries.clear())),
        (
            "wrong name",
            forged(&query, |m| {
                m.queries[0].set_name(n("www.example.org."));
            }),
        ),
        (
            "wrong type",
            forged(&query, |m| {
                m.queries[0].set_query_type(RecordType::A);
            }),
        ),
        (
            "wrong class",
            forged(&query, |m| {
                m.queries[0].set_query_class(DNSClass::CH);
            }),
        ),
        (
            "two questions",
            forged(&query, |m| {
                let q = m.queries[0].clone();
                m.add_query(q);
            }),
        ),
    ];
    for (what, wire) in cases {
        let err = query.parse_response(&wire, "r").expect_err(what);
        assert!(matches!(err, DnsError::Mismatch(_)), "{what}: {err:?}");
    }
    let nxdomain_without_question = forged(&query, |m| {
        m.metadata.response_code = ResponseCode::NXDomain;
        m.queries.clear();
    });
    assert!(matches!(
        query.parse_response(&nxdomain_without_question, "r"),
        Err(DnsError::Mismatch(_))
    ));
    let upper = forged(&query, |m| {
        m.queries[0].set_name(n("WWW.EXAMPLE.COM."));
    });
    assert!(
        query.parse_response(&upper, "r").is_ok(),
        "question case must not matter"
    );
}

#[test]
fn truncated_and_garbage_responses_are_malformed() {
    let query = DnsQuery::new("www.example.com", RecordType::A).unwrap();
    let truncated = forged(&query, |m| m.metadata.truncation = true);
    let mut cut = respond(
        &query,
        ResponseCode::NoError,
        vec![a("www.example.com.", [192, 0, 2, 1])],
    );
    cut.truncate(cut.len() - 3);
    for (what, wire) in [
        ("TC", truncated),
        ("cut short", cut),
        ("empty", vec![]),
        ("junk", vec![0xff; 7]),
    ] {
        let err = query.parse_response(&wire, "r").expect_err(what);
        assert!(matches!(err, DnsError::Malformed(_)), "{what}: {err:?}");
    }
}

#[test]
fn rcodes_are_reported() {
    let query = DnsQuery::new("www.example.com", RecordType::CAA).unwrap();
    for rcode in [
        ResponseCode::NoError,
        ResponseCode::NXDomain,
        ResponseCode::ServFail,
        ResponseCode::Refused,
        ResponseCode::FormErr,
        ResponseCode::YXDomain,
        ResponseCode::BADCOOKIE,
    ] {
        let answer = query
            .parse_response(&respond(&query, rcode, vec![]), "r")
            .unwrap();
        assert_eq!(answer.rcode, rcode);
        assert!(answer.records.is_empty());
    }
    // A failure may omit the question and its records are not trusted.
    let servfail = forged(&query, |m| {
        m.metadata.response_code = ResponseCode::ServFail;
        m.queries.clear();
        m.add_answer(caa("www.example.com.", 0, "issue", b"ca.example"));
    });
    let answer = query.parse_response(&servfail, "r").unwrap();
    assert_eq!(answer.rcode, ResponseCode::ServFail);
    assert!(answer.records.is_empty());
    // NXDOMAIN after an alias reports the chain.
    let wire = respond(
        &query,
        ResponseCode::NXDomain,
        vec![cname("www.example.com.", "gone.example.net.")],
    );
    let answer = query.parse_response(&wire, "r").unwrap();
    assert_eq!(answer.cname_chain, ["gone.example.net"]);
    // NXDOMAIN with the records asked for contradicts itself.
    let wire = respond(
        &query,
        ResponseCode::NXDomain,
        vec![caa("www.example.com.", 0, "issue", b"ca")],
    );
    assert!(matches!(
        query.parse_response(&wire, "r"),
        Err(DnsError::Malformed(_))
    ));
}

#[test]
fn ad_flag_is_reported() {
    let query = DnsQuery::new("example.com", RecordType::CAA).unwrap();
    for ad in [true, false] {
        let wire = build_response(query.wire(), ResponseCode::NoError, vec![], ad).unwrap();
        assert_eq!(query.parse_response(&wire, "r").unwrap().authentic_data, ad);
    }
}

#[test]
fn large_caa_rrset_fits_and_limits_hold() {
    let query = DnsQuery::new("example.com", RecordType::CAA).unwrap();
    let records: Vec<Record> = (0..1200)
        .map(|i| {
            caa(
                "example.com.",
                0,
                "issue",
                format!("ca{i}.example").as_bytes(),
            )
        })
        .collect();
    let wire = respond(&query, ResponseCode::NoError, records);
    assert!(wire.len() <= MAX_MESSAGE_BYTES);
    let answer = query.parse_response(&wire, "r").unwrap();
    assert_eq!(answer.records.len(), 1200);
    assert_eq!(caa_raw(&answer.records[1199]).unwrap().2, b"ca1199.example");

    let few = ResponseLimits {
        max_records: 1199,
        ..ResponseLimits::default()
    };
    assert!(matches!(
        query.parse_response_with_limits(&wire, "r", &few),
        Err(DnsError::LimitExceeded(_))
    ));
    let small = ResponseLimits {
        max_message_bytes: wire.len() - 1,
        ..ResponseLimits::default()
    };
    assert!(matches!(
        query.parse_response_with_limits(&wire, "r", &small),
        Err(DnsError::LimitExceeded(_))
    ));
    let short = ResponseLimits {
        max_chain: 0,
        ..ResponseLimits::default()
    };
    let aliased = respond(
        &query,
        ResponseCode::NoError,
        vec![cname("example.com.", "x.example.net.")],
    );
    assert!(matches!(
        query.parse_response_with_limits(&aliased, "r", &short),
        Err(DnsError::LimitExceeded(_))
    ));
}

#[test]
fn non_in_records_are_ignored() {
    let query = DnsQuery::new("example.com", RecordType::A).unwrap();
    let mut chaos = a("example.com.", [192, 0, 2, 1]);
    chaos.dns_class = DNSClass::CH;
    let wire = respond(&query, ResponseCode::NoError, vec![chaos]);
    assert!(query.parse_response(&wire, "r").unwrap().records.is_empty());
}

#[test]
fn caa_survives_raw() {
    let cases: &[(u8, &str, &[u8])] = &[
        (0, "issue", b"%%%"),
        (0, "issue", b""),
        (0, "issue", b"ca.example; accounturi=https://x/1"),
        (128, "tbs", b"anything"),
        (128, "UnKnOwN", b"\"quoted\" \\ \x00\xff"),
        (0, "ISSUEWILD", b";"),
        (0x81, "iodef", b"not a url"),
        (0, "abcdefghijklmno", b"fifteen-byte tag"),
    ];
    let query = DnsQuery::new("example.com", RecordType::CAA).unwrap();
    let records = cases
        .iter()
        .map(|(f, t, v)| caa("example.com.", *f, t, v))
        .collect();
    let wire = respond(&query, ResponseCode::NoError, records);
    let answer = query.parse_response(&wire, "r").unwrap();
    let got: Vec<(u8, String, Vec<u8>)> =
        answer.records.iter().map(|r| caa_raw(r).unwrap()).collect();
    let want: Vec<(u8, String, Vec<u8>)> = cases
        .iter()
        .map(|(f, t, v)| (*f, t.to_string(), v.to_vec()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(caa_raw(&a("x.", [1, 2, 3, 4])), None);
}

#[test]
fn caa_tags_hickory_rejects_make_the_response_malformed() {
    let query = DnsQuery::new("example.com", RecordType::CAA).unwrap();
    for tag in ["is-sue", "abcdefghijklmnop"] {
        let wire = respond(
            &query,
            ResponseCode::NoError,
            vec![caa("example.com.", 0, tag, b"ca")],
        );
        assert!(
            matches!(
                query.parse_response(&wire, "r"),
                Err(DnsError::Malformed(_))
            ),
            "tag {tag}"
        );
    }
}

#[test]
fn presentation_forms() {
    let txt = Record::from_rdata(
        n("_acme-challenge.Example.com."),
        60,
        RData::TXT(TXT::from_bytes(vec![b"v=spf1 \"x\"", b"\\\x07"])),
    );
    let unknown = Record::from_rdata(
        n("example.com."),
        5,
        RData::Unknown {
            code: RecordType::Unknown(65280),
            rdata: NULL::with(vec![0xde, 0xad]),
        },
    );
    let cases = [
        (
            caa("example.com.", 0, "issue", b"ca.example"),
            "example.com. 300 IN CAA 0 issue \"ca.example\"",
        ),
        (
            caa("example.com.", 128, "tbs", b"a\"b"),
            "example.com. 300 IN CAA 128 tbs \"a\\\"b\"",
        ),
        (
            txt,
            "_acme-challenge.Example.com. 60 IN TXT \"v=spf1 \\\"x\\\"\" \"\\\\\\007\"",
        ),
        (
            a("www.example.com.", [192, 0, 2, 1]),
            "www.example.com. 300 IN A 192.0.2.1",
        ),
        (
            cname("www.example.com.", "cdn.example.net."),
            "www.example.com. 300 IN CNAME cdn.example.net.",
        ),
        (
            dname("example.com.", "Example.NET."),
            "example.com. 300 IN DNAME Example.NET.",
        ),
        (unknown, "example.com. 5 IN TYPE65280 \\# 2 dead"),
    ];
    for (record, want) in cases {
        assert_eq!(presentation(&record), want);
    }
}

#[test]
fn accessors() {
    let txt = Record::from_rdata(
        n("x.example."),
        60,
        RData::TXT(TXT::from_bytes(vec![b"abc", b"def", b"\xff"])),
    );
    assert_eq!(txt_bytes(&txt).unwrap(), b"abcdef\xff");
    assert_eq!(txt_string(&txt).unwrap(), "abcdef\u{fffd}");
    assert_eq!(txt_string(&a("x.", [1, 2, 3, 4])), None);

    let v6 = Record::from_rdata(n("x."), 1, RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)));
    assert_eq!(ip_addr(&v6), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert_eq!(
        ip_addr(&a("x.", [192, 0, 2, 1])),
        Some(IpAddr::from([192, 0, 2, 1]))
    );
    assert_eq!(ip_addr(&txt), None);

    let ptr = Record::from_rdata(
        n("1.2.0.192.in-addr.arpa."),
        1,
        RData::PTR(PTR(n("Host.Example.com."))),
    );
    assert_eq!(target_name(&ptr).as_deref(), Some("host.example.com"));
    assert_eq!(
        target_name(&cname("a.", "B.example.")).as_deref(),
        Some("b.example")
    );
    assert_eq!(
        target_name(&dname("a.", "D.example.")).as_deref(),
        Some("d.example")
    );
    assert_eq!(target_name(&txt), None);
}

#[test]
fn build_response_refuses_non_queries() {
    let query = DnsQuery::new("example.com", RecordType::A).unwrap();
    let response = respond(&query, ResponseCode::NoError, vec![]);
    assert!(matches!(
        build_response(&response, ResponseCode::NoError, vec![], false),
        Err(DnsError::Malformed(_))
    ));
    assert!(matches!(
        build_response(b"\x00", ResponseCode::NoError, vec![], false),
        Err(DnsError::Malformed(_))
    ));
}
