//! The Open MPIC 3.9 OpenAPI document (`coordinator/openapi/open-mpic-3.9.yaml`,
//! MIT, rebuilt from the 3.5 spec and the reference models), as JSON Schema
//! validators for `POST /mpic` requests and responses.
//!
//! OpenAPI 3.0 schemas are JSON Schema with three differences that matter
//! here, translated before the document is compiled (draft 2020-12):
//! - `nullable: true` becomes `null` added to `type` (or to `enum`), or an
//!   `anyOf` with `{"type": "null"}` where there is no `type`;
//! - `discriminator` with a `mapping` becomes one `if`/`then` per mapped
//!   value, so that a body is checked against exactly the schema its
//!   discriminator names (and an unmapped value fails);
//! - `#/components/schemas/X` references become `#/$defs/X`.
//!
//! Only the API tests use this (feature `openapi-schema`): every response
//! they produce is checked, so any drift from the published shape fails.

use jsonschema::Validator;
use serde_json::{Map, Value, json};

/// The document, as checked in.
pub const OPENAPI_YAML: &str = include_str!("../../openapi/open-mpic-3.9.yaml");

const COMPONENTS_PREFIX: &str = "#/components/schemas/";
const DEFS_PREFIX: &str = "#/$defs/";

/// Why the document could not be made into validators.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("the OpenAPI document is not YAML: {0}")]
    Yaml(String),
    #[error("the OpenAPI document has no {0}")]
    Missing(&'static str),
    #[error("the translated schema does not compile: {0}")]
    Compile(String),
}

/// Validators for the bodies of `POST /mpic`.
pub struct OpenMpicSchema {
    request: Validator,
    valid_response: Validator,
    /// The two branches of `valid_response`, for errors that name the
    /// field rather than "not valid under any of the oneOf schemas".
    caa_response: Validator,
    dcv_response: Validator,
    error_response: Validator,
}

impl OpenMpicSchema {
    /// Compiles the checked-in document.
    pub fn load() -> Result<Self, SchemaError> {
        let document: Value =
            serde_saphyr::from_str(OPENAPI_YAML).map_err(|e| SchemaError::Yaml(e.to_string()))?;
        let defs = document
            .pointer("/components/schemas")
            .ok_or(SchemaError::Missing("components.schemas"))?;
        let operation = document
            .pointer("/paths/~1mpic/post")
            .ok_or(SchemaError::Missing("POST /mpic"))?;
        let body_schema = |pointer: &str, what: &'static str| {
            operation
                .pointer(pointer)
                .ok_or(SchemaError::Missing(what))
                .and_then(|schema| compile(schema, defs))
        };
        Ok(Self {
            request: body_schema(
                "/requestBody/content/application~1json/schema",
                "request body schema",
            )?,
            valid_response: body_schema(
                "/responses/200/content/application~1json/schema",
                "200 response schema",
            )?,
            error_response: body_schema(
                "/responses/400/content/application~1json/schema",
                "400 response schema",
            )?,
            caa_response: compile(&json!({"$ref": "#/components/schemas/CAAResponse"}), defs)?,
            dcv_response: compile(&json!({"$ref": "#/components/schemas/DCVResponse"}), defs)?,
        })
    }

    /// Every way `body` departs from the request schema (empty: none).
    pub fn request_errors(&self, body: &Value) -> Vec<String> {
        errors(&self.request, body)
    }

    /// Every way a `/mpic` response body of `status` departs from its
    /// schema (empty: none). Statuses the document does not describe have
    /// no schema and no errors.
    pub fn response_errors(&self, status: u16, body: &Value) -> Vec<String> {
        match (status, body.get("check_type").and_then(Value::as_str)) {
            (200, Some("caa")) => errors(&self.caa_response, body),
            (200, Some("dcv")) => errors(&self.dcv_response, body),
            (200, _) => errors(&self.valid_response, body),
            (400, _) => errors(&self.error_response, body),
            _ => Vec::new(),
        }
    }
}

/// Longest error text kept: the validator's messages quote the instance.
const MAX_ERROR_CHARS: usize = 400;

fn errors(validator: &Validator, body: &Value) -> Vec<String> {
    validator
        .iter_errors(body)
        .map(|e| {
            let text: String = e.to_string().chars().take(MAX_ERROR_CHARS).collect();
            format!("at `{}`: {text}", e.instance_path())
        })
        .collect()
}

fn compile(schema: &Value, defs: &Value) -> Result<Validator, SchemaError> {
    let mut root = match translate(schema) {
        Value::Object(map) => map,
        other => {
            let mut map = Map::new();
            map.insert("allOf".into(), json!([other]));
            map
        }
    };
    root.insert("$defs".into(), translate(defs));
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    jsonschema::draft202012::new(&Value::Object(root))
        .map_err(|e| SchemaError::Compile(e.to_string()))
}

/// One OpenAPI 3.0 schema (or a map of them) as JSON Schema 2020-12.
fn translate(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => translate_object(map),
        Value::Array(items) => Value::Array(items.iter().map(translate).collect()),
        other => other.clone(),
    }
}

fn translate_object(map: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            // Annotations and OpenAPI-only keywords.
            "nullable" | "discriminator" | "example" | "xml" | "externalDocs" => {}
            "$ref" => {
                let reference = value.as_str().unwrap_or_default();
                let reference = reference.strip_prefix(COMPONENTS_PREFIX).map_or_else(
                    || reference.to_owned(),
                    |name| format!("{DEFS_PREFIX}{name}"),
                );
                out.insert(key.clone(), Value::String(reference));
            }
            // Data, not schemas.
            "enum" | "default" | "const" | "required" => {
                out.insert(key.clone(), value.clone());
            }
            _ => {
                out.insert(key.clone(), translate(value));
            }
        }
    }
    if let Some(mapping) = map.get("discriminator").and_then(discriminator_rules) {
        out.remove("oneOf");
        out.insert("allOf".into(), mapping);
    }
    if map.get("nullable") == Some(&Value::Bool(true)) {
        return nullable(out);
    }
    Value::Object(out)
}

/// `{"propertyName": p, "mapping": {value: ref}}` as the JSON Schema rules:
/// `p` is required and one of the mapped values, and each value selects its
/// schema.
fn discriminator_rules(discriminator: &Value) -> Option<Value> {
    let property = discriminator.get("propertyName")?.as_str()?;
    let mapping = discriminator.get("mapping")?.as_object()?;
    let names: Vec<&String> = mapping.keys().collect();
    let mut rules = vec![json!({
        "required": [property],
        "properties": {property: {"enum": names}},
    })];
    for (name, reference) in mapping {
        rules.push(json!({
            "if": {"properties": {property: {"const": name}}},
            "then": translate(&json!({"$ref": reference})),
        }));
    }
    Some(Value::Array(rules))
}

/// `schema`, also accepting `null`.
fn nullable(mut schema: Map<String, Value>) -> Value {
    if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut)
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    match schema.get_mut("type") {
        Some(Value::String(name)) => {
            let name = std::mem::take(name);
            schema.insert("type".into(), json!([name, "null"]));
            Value::Object(schema)
        }
        _ => json!({"anyOf": [Value::Object(schema), {"type": "null"}]}),
    }
}

#[cfg(test)]
mod tests;
