//! JSON read with every object key at most once.
//!
//! RFC 8259 section 4 only says names SHOULD be unique, and parsers disagree
//! on a repeated one: serde_json keeps the last, others the first or refuse.
//! A CA pipeline that reads `{"domain_or_ip_target": "a.example",
//! "domain_or_ip_target": "b.example"}` as `a.example` while we check
//! `b.example` would issue for a name nobody corroborated, so a repeated key
//! at any depth refuses the whole body, naming the key's path.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Where the first repeated key was found, for the caller to report: serde's
/// error type carries only text.
#[derive(Debug, Default)]
pub(crate) struct FirstDuplicate(RefCell<Option<String>>);

impl FirstDuplicate {
    pub(crate) fn path(self) -> Option<String> {
        self.0.into_inner()
    }
}

/// Reads one JSON value at `path` (dotted, as request issues name fields),
/// refusing repeated keys.
pub(crate) struct UniqueKeys<'a> {
    path: String,
    found: &'a FirstDuplicate,
}

impl<'a> UniqueKeys<'a> {
    /// The whole body.
    pub(crate) fn root(found: &'a FirstDuplicate) -> Self {
        Self {
            path: String::new(),
            found,
        }
    }

    fn child(&self, segment: &str) -> Self {
        let path = if self.path.is_empty() {
            segment.to_owned()
        } else {
            format!("{}.{segment}", self.path)
        };
        Self {
            path,
            found: self.found,
        }
    }

    fn element(&self, index: usize) -> Self {
        Self {
            path: format!("{}[{index}]", self.path),
            found: self.found,
        }
    }
}

impl<'de> DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        Number::from_f64(value)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(self.element(items.len()))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let child = self.child(&key);
            if object.contains_key(&key) {
                let message = format!("duplicate key `{}`", child.path);
                *self.found.0.borrow_mut() = Some(child.path);
                return Err(de::Error::custom(message));
            }
            let value = map.next_value_seed(child)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests;
