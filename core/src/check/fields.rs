//! A strict reader over one JSON object that remembers which keys it read.
//!
//! Requests are validated from a `serde_json::Value` rather than through
//! derived `Deserialize`: the DCV parameters are a union discriminated by
//! `validation_method`, and serde's `deny_unknown_fields` does not combine
//! with `flatten` or report more than the first problem. Reading by hand lets
//! every issue carry its full field path and all issues come back at once.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{RequestIssue, UnknownFields};

/// Longest string accepted in any request field, in octets.
///
/// Generous for every real value (TXT strings, key authorizations, URIs) and
/// small enough that a hostile request cannot make a perspective carry
/// megabytes through its checks and reports.
pub const MAX_TEXT_OCTETS: usize = 2048;
/// Most entries in a list or map field.
pub const MAX_ENTRIES: usize = 32;

/// The issues found so far, and the fields set aside as unknown.
#[derive(Debug)]
pub(super) struct Issues {
    pub(super) found: Vec<RequestIssue>,
    unknown: UnknownFields,
    /// Paths of the unknown fields skipped under [`UnknownFields::Ignore`].
    pub(super) ignored: Vec<String>,
}

impl Issues {
    pub(super) fn new(unknown: UnknownFields) -> Self {
        Self {
            found: Vec::new(),
            unknown,
            ignored: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.found.push(RequestIssue {
            field: field.into(),
            message: message.into(),
        });
    }

    pub(super) fn count(&self) -> usize {
        self.found.len()
    }

    /// A field the request format does not define (or does not define for
    /// this check type): an issue, or set aside and named, by the mode.
    pub(super) fn unknown(&mut self, field: String) {
        match self.unknown {
            UnknownFields::Refuse => self.add(field, "unknown field"),
            UnknownFields::Ignore => self.ignored.push(field),
        }
    }
}

/// One JSON object being read.
pub(super) struct Fields<'a> {
    map: &'a Map<String, Value>,
    /// Path of this object, with a trailing `.`, or empty at the root.
    prefix: String,
    read: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    /// The request body itself, which must be an object.
    pub(super) fn root(value: &'a Value, issues: &mut Issues) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self {
                map,
                prefix: String::new(),
                read: Vec::new(),
            }),
            _ => {
                issues.add("(body)", "must be a JSON object");
                None
            }
        }
    }

    /// The full path of `key` in this object.
    pub(super) fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Mark `key` as known and return its value; `null` reads as absent
    /// (the Open MPIC schema marks optional fields nullable).
    fn take(&mut self, key: &'static str) -> Option<&'a Value> {
        self.read.push(key);
        self.map.get(key).filter(|value| !value.is_null())
    }

    /// Whether `key` is present with a non-null value (does not mark it read).
    pub(super) fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|value| !value.is_null())
    }

    /// An optional nested object.
    pub(super) fn object(&mut self, key: &'static str, issues: &mut Issues) -> Option<Fields<'a>> {
        match self.take(key)? {
            Value::Object(map) => Some(Fields {
                map,
                prefix: format!("{}.", self.path(key)),
                read: Vec::new(),
            }),
            _ => {
                issues.add(self.path(key), "must be an object");
                None
            }
        }
    }

    /// A required nested object.
    pub(super) fn required_object(
        &mut self,
        key: &'static str,
        issues: &mut Issues,
    ) -> Option<Fields<'a>> {
        if !self.has(key) {
            self.read.push(key);
            issues.add(self.path(key), "missing");
            return None;
        }
        self.object(key, issues)
    }

    /// An optional string of at most [`MAX_TEXT_OCTETS`].
    pub(super) fn string(&mut self, key: &'static str, issues: &mut Issues) -> Option<&'a str> {
        match self.take(key)? {
            Value::String(text) if text.len() > MAX_TEXT_OCTETS => {
                issues.add(
                    self.path(key),
                    format!("longer than {MAX_TEXT_OCTETS} octets"),
                );
                None
            }
            Value::String(text) => Some(text),
            _ => {
                issues.add(self.path(key), "must be a string");
                None
            }
        }
    }

    /// A required, non-empty string.
    pub(super) fn required_string(
        &mut self,
        key: &'static str,
        issues: &mut Issues,
    ) -> Option<&'a str> {
        if !self.has(key) {
            self.read.push(key);
            issues.add(self.path(key), "missing");
            return None;
        }
        let text = self.string(key, issues)?;
        if text.is_empty() {
            issues.add(self.path(key), "must not be empty");
            return None;
        }
        Some(text)
    }

    /// An optional boolean.
    pub(super) fn boolean(&mut self, key: &'static str, issues: &mut Issues) -> Option<bool> {
        match self.take(key)? {
            Value::Bool(value) => Some(*value),
            _ => {
                issues.add(self.path(key), "must be true or false");
                None
            }
        }
    }

    /// An optional non-negative integer that fits in `u32`.
    pub(super) fn count(&mut self, key: &'static str, issues: &mut Issues) -> Option<u32> {
        let value = self.take(key)?;
        match value.as_u64().map(u32::try_from) {
            Some(Ok(count)) => Some(count),
            _ => {
                issues.add(self.path(key), "must be a non-negative integer");
                None
            }
        }
    }

    /// An optional list of strings, each with its own path (`key[i]`).
    pub(super) fn string_list(
        &mut self,
        key: &'static str,
        issues: &mut Issues,
    ) -> Option<Vec<(String, &'a str)>> {
        let path = self.path(key);
        let Value::Array(items) = self.take(key)? else {
            issues.add(path, "must be a list of strings");
            return None;
        };
        if items.len() > MAX_ENTRIES {
            issues.add(path, format!("has more than {MAX_ENTRIES} entries"));
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let before = issues.count();
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            match item {
                Value::String(text) if text.len() <= MAX_TEXT_OCTETS => {
                    out.push((item_path, text.as_str()))
                }
                Value::String(_) => {
                    issues.add(item_path, format!("longer than {MAX_TEXT_OCTETS} octets"))
                }
                _ => issues.add(item_path, "must be a string"),
            }
        }
        (issues.count() == before).then_some(out)
    }

    /// An optional object whose values are all strings.
    pub(super) fn string_map(
        &mut self,
        key: &'static str,
        issues: &mut Issues,
    ) -> Option<BTreeMap<String, String>> {
        let path = self.path(key);
        let Value::Object(map) = self.take(key)? else {
            issues.add(path, "must be an object of strings");
            return None;
        };
        if map.len() > MAX_ENTRIES {
            issues.add(path, format!("has more than {MAX_ENTRIES} entries"));
            return None;
        }
        let mut out = BTreeMap::new();
        let before = issues.count();
        for (name, value) in map {
            match value {
                Value::String(text) if text.len() <= MAX_TEXT_OCTETS => {
                    out.insert(name.clone(), text.clone());
                }
                _ => issues.add(format!("{path}.{name}"), "must be a string"),
            }
        }
        (issues.count() == before).then_some(out)
    }

    /// Mark `key` as known without reading it (already read elsewhere).
    pub(super) fn known(&mut self, key: &'static str) {
        self.read.push(key);
    }

    /// An optional field whose value Open MPIC fixes for this method
    /// (its models declare it as a literal): absent, `null` or exactly
    /// `expected`, which carries no choice; anything else is refused, as
    /// Open MPIC refuses it.
    pub(super) fn pinned(&mut self, key: &'static str, expected: Value, issues: &mut Issues) {
        if let Some(value) = self.take(key)
            && *value != expected
        {
            issues.add(
                self.path(key),
                format!("must be {expected} for this validation_method (Open MPIC fixes it)"),
            );
        }
    }

    /// An optional integer, any sign, that fits in `i64`.
    pub(super) fn integer(&mut self, key: &'static str, issues: &mut Issues) -> Option<i64> {
        let value = self.take(key)?;
        match value.as_i64() {
            Some(number) => Some(number),
            None => {
                issues.add(self.path(key), "must be an integer");
                None
            }
        }
    }

    /// Report every key that was never read (see [`Issues::unknown`]).
    pub(super) fn finish(self, issues: &mut Issues) {
        for key in self.map.keys() {
            if !self.read.contains(&key.as_str()) {
                issues.unknown(format!("{}{key}", self.prefix));
            }
        }
    }
}
