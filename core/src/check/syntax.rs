//! Grammar predicates: the shapes request values must have (token paths,
//! labels, CAA words, base64url) and the shapes of contacts.

use crate::name::DomainName;

pub(crate) fn is_base64url(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(crate) fn is_token_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        })
}

pub(crate) fn is_underscore_label(label: &str) -> bool {
    label.len() >= 2
        && label.len() <= 63
        && label.starts_with('_')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 8659 `parameter-tag` / RFC 8657 method-name shape.
pub(crate) fn is_caa_parameter_word(word: &str) -> bool {
    let bytes = word.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

pub(crate) fn is_email_address(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        && DomainName::parse(domain).is_ok()
}

pub(crate) fn is_global_phone_number(text: &str) -> bool {
    let number = text.split(';').next().unwrap_or_default();
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b"-.()".contains(&b))
        && text.bytes().all(|b| (0x21..=0x7e).contains(&b))
}
