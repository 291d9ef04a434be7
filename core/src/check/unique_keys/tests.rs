#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn read(json: &str) -> (Result<Value, serde_json::Error>, Option<String>) {
    let found = FirstDuplicate::default();
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value = UniqueKeys::root(&found).deserialize(&mut deserializer);
    (value, found.path())
}

#[test]
fn a_repeated_key_at_any_depth_is_named_by_its_path() {
    let cases = [
        (r#"{"a":1,"a":2}"#, "a"),
        (r#"{"a":{"b":1,"c":2,"b":3}}"#, "a.b"),
        (r#"{"a":[{"x":1},{"y":1,"y":2}]}"#, "a[1].y"),
        (r#"{"a":[[{"k":1,"k":1}]]}"#, "a[0][0].k"),
    ];
    for (json, path) in cases {
        let (value, found) = read(json);
        assert!(value.is_err(), "{json}");
        assert_eq!(found.as_deref(), Some(path), "{json}");
    }
}

#[test]
fn values_without_repeats_read_as_serde_json_reads_them() {
    let json = r#"{"a":[1,-2,3.5,"x",true,null,{"b":{}}],"c":{"a":1},"d":18446744073709551615}"#;
    let (value, found) = read(json);
    assert_eq!(value.unwrap(), serde_json::from_str::<Value>(json).unwrap());
    assert_eq!(found, None);
}

#[test]
fn the_same_key_in_sibling_objects_is_not_a_repeat() {
    let (value, found) = read(r#"{"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":2}]}"#);
    assert!(value.is_ok());
    assert_eq!(found, None);
}
