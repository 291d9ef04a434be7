#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn nullable_and_discriminator_are_translated() {
    assert_eq!(
        translate(&json!({"type": "string", "nullable": true, "enum": ["a"]})),
        json!({"type": ["string", "null"], "enum": ["a", null]})
    );
    assert_eq!(
        translate(&json!({"allOf": [{"$ref": "#/components/schemas/X"}], "nullable": true})),
        json!({"anyOf": [{"allOf": [{"$ref": "#/$defs/X"}]}, {"type": "null"}]})
    );
    let translated = translate(&json!({
        "oneOf": [{"$ref": "#/components/schemas/A"}],
        "discriminator": {"propertyName": "kind", "mapping": {"a": "#/components/schemas/A"}},
    }));
    assert_eq!(
        translated,
        json!({"allOf": [
            {"required": ["kind"], "properties": {"kind": {"enum": ["a"]}}},
            {"if": {"properties": {"kind": {"const": "a"}}}, "then": {"$ref": "#/$defs/A"}},
        ]})
    );
}

#[test]
fn the_document_compiles_and_tells_shapes_apart() {
    let schema = OpenMpicSchema::load().unwrap();
    let request = json!({"check_type": "dcv", "domain_or_ip_target": "example.com",
        "dcv_check_parameters": {"validation_method": "acme-dns-01",
            "key_authorization_hash": "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo"}});
    assert_eq!(schema.request_errors(&request), Vec::<String>::new());
    let mut wrong = request.clone();
    wrong["dcv_check_parameters"]["validation_method"] = json!("acme-http-01");
    assert!(!schema.request_errors(&wrong).is_empty());
    let flat = json!({"check_type": "caa", "domain_or_ip_target": "example.com",
        "is_valid": true, "mpic_completed": true, "request_orchestration_parameters": null,
        "actual_orchestration_parameters": {"perspective_count": 2, "quorum_count": 1, "attempt_count": 1},
        "caa_check_parameters": null,
        "perspectives": [{"perspective_code": "a", "check_passed": true, "check_completed": true,
            "timestamp_ns": 1, "check_type": "caa", "errors": null,
            "details": {"caa_record_present": false, "found_at": null, "records_seen": null}}]});
    assert!(
        !schema.response_errors(200, &flat).is_empty(),
        "the flat per-perspective form is not the schema's"
    );
    let mut nested = flat.clone();
    let item = nested["perspectives"][0].as_object_mut().unwrap();
    let code = item.remove("perspective_code").unwrap();
    let check_response = Value::Object(std::mem::take(item));
    nested["perspectives"][0] = json!({"perspective_code": code, "check_response": check_response});
    assert_eq!(schema.response_errors(200, &nested), Vec::<String>::new());
}
