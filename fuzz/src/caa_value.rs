//! CAA issuer values: `caa::value::parse_issuer_value` on arbitrary bytes.
//!
//! The oracle is an independent recogniser: RFC 8659 section 4.2's ABNF
//! written as one regular expression ([`reference_grammar`]). A value
//! outside the grammar must count as an empty issuer, so the parser may
//! neither accept more (a lenient parser could authorise where the holder
//! forbade) nor less.
//!
//! Invariants:
//! - accepted exactly when the reference grammar matches;
//! - an accepted value's issuer domain name and parameter tags are in the
//!   grammar, parameter values only use `%x21-3A / %x3C-7E`, and everything
//!   parsed appears in the input;
//! - re-serialising the parsed value in canonical form parses to the same
//!   value;
//! - a refusal's byte position lies within the input (and names the byte).

use std::sync::OnceLock;

use mpic_core::caa::value::{
    IssuerValue, ValueError, is_issuer_domain_name, is_label, parse_issuer_value,
};
use regex_lite::Regex;

/// RFC 8659 section 4.2, transcribed:
///
/// ```text
/// issuer-critical-value = *WSP [issuer-domain-name *WSP]
///                         [";" *WSP [parameters *WSP]]
/// issuer-domain-name    = label *("." label)
/// label                 = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))
/// parameters            = (parameter *WSP ";" *WSP parameters) / parameter
/// parameter             = tag *WSP "=" *WSP value
/// tag                   = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))
/// value                 = *(%x21-3A / %x3C-7E)
/// ```
pub fn reference_grammar() -> &'static Regex {
    static GRAMMAR: OnceLock<Regex> = OnceLock::new();
    GRAMMAR.get_or_init(|| {
        let label = "[A-Za-z0-9](?:-*[A-Za-z0-9])*";
        let wsp = "[ \\t]*";
        let value = "[\\x21-\\x3A\\x3C-\\x7E]*";
        let parameter = format!("{label}{wsp}={wsp}{value}");
        let pattern = format!(
            "^{wsp}(?:{label}(?:\\.{label})*{wsp})?(?:;{wsp}(?:{parameter}(?:{wsp};{wsp}{parameter})*{wsp})?)?$"
        );
        match Regex::new(&pattern) {
            Ok(regex) => regex,
            Err(e) => panic!("reference grammar does not compile: {e}"),
        }
    })
}

/// Whether the reference grammar accepts `bytes`.
pub fn reference_accepts(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| reference_grammar().is_match(text))
}

/// The canonical text of a parsed value: `name; tag=value; tag=value`.
pub fn canonical(value: &IssuerValue) -> String {
    let mut text = value.issuer_domain_name.clone().unwrap_or_default();
    if !value.parameters.is_empty() {
        text.push(';');
        let parameters: Vec<String> = value
            .parameters
            .iter()
            .map(|p| format!(" {}={}", p.tag, p.value))
            .collect();
        text.push_str(&parameters.join(";"));
    }
    text
}

pub fn run(data: &[u8]) {
    let parsed = parse_issuer_value(data);
    let reference = reference_accepts(data);
    assert_eq!(
        parsed.is_ok(),
        reference,
        "parser and RFC 8659 grammar disagree on {:?}: {parsed:?}",
        String::from_utf8_lossy(data)
    );
    match parsed {
        Ok(value) => check_accepted(data, &value),
        Err(error) => check_refusal(data, &error),
    }
}

fn check_accepted(data: &[u8], value: &IssuerValue) {
    // Everything accepted is ASCII, so the input is text.
    let text = match std::str::from_utf8(data) {
        Ok(text) => text,
        Err(e) => panic!("accepted a value that is not UTF-8: {e}"),
    };
    if let Some(name) = &value.issuer_domain_name {
        assert!(
            is_issuer_domain_name(name),
            "{name:?} is not in the grammar"
        );
        assert!(text.contains(name.as_str()));
    }
    for parameter in &value.parameters {
        assert!(is_label(&parameter.tag), "tag {:?}", parameter.tag);
        assert!(
            parameter
                .value
                .bytes()
                .all(|b| matches!(b, 0x21..=0x3A | 0x3C..=0x7E)),
            "value {:?}",
            parameter.value
        );
        assert!(text.contains(parameter.tag.as_str()));
        assert!(text.contains(parameter.value.as_str()));
    }
    let canonical = canonical(value);
    assert_eq!(
        parse_issuer_value(canonical.as_bytes()).as_ref(),
        Ok(value),
        "canonical form {canonical:?} parses differently"
    );
}

fn check_refusal(data: &[u8], error: &ValueError) {
    match *error {
        ValueError::UnexpectedByte { position, byte } => {
            assert_eq!(data.get(position), Some(&byte), "{error}");
        }
        ValueError::LabelEndsWithHyphen { position } => {
            assert_eq!(data.get(position), Some(&b'-'), "{error}");
        }
        ValueError::EmptyLabel { position }
        | ValueError::ParameterExpected { position }
        | ValueError::EqualsExpected { position } => {
            assert!(position <= data.len(), "{error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference grammar itself, on cases read off the ABNF by hand, so
    /// a mistake in the regular expression cannot hide a parser bug.
    #[test]
    fn reference_grammar_matches_the_abnf() {
        let accepted: &[&str] = &[
            "",
            " \t",
            ";",
            "ca.example",
            " ca.example ; a = b ",
            "a--b.c",
            "ca.example; a=b=c",
            "ca.example; a=",
            "; a=b ;c=d",
            "ca.example; accounturi=https://ca.example/acct/1; validationmethods=dns-01",
        ];
        let refused: &[&str] = &[
            "ca.example.",
            "-ca.example",
            "ca-.example",
            "ca..example",
            "ca.example; a=b;",
            "ca.example; a=b;;c=d",
            "ca.example; a",
            "ca.example; =b",
            "ca.example a=b",
            "ca.example; a=b c",
            "ca_example",
            "ca.exämple",
            "ca.example\n",
        ];
        for text in accepted {
            assert!(reference_accepts(text.as_bytes()), "{text:?}");
        }
        for text in refused {
            assert!(!reference_accepts(text.as_bytes()), "{text:?}");
        }
    }
}
