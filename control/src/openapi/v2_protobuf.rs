//! Encodes the generated Swagger 2.0 document as the protobuf message `openapi.v2.Document` of
//! gnostic's `OpenAPIv2.proto`, which is the only form in which client-go reads `/openapi/v2`.
//!
//! It covers exactly the JSON shapes the generator produces and reports anything else as an
//! error instead of dropping it; it must not be fed documents from elsewhere. Vendor extensions,
//! defaults and enum values become `Any { yaml }` holding their JSON text, which is valid YAML
//! and what client-go unmarshals them from.

use serde_json::{Map, Value};
use thiserror::Error;

/// A construct of the Swagger 2.0 document that has no encoding here.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// A key that the message at `path` does not have.
    #[error("{path}: no protobuf field for key {key:?}")]
    UnknownKey {
        /// JSON-pointer-like location of the object.
        path: String,
        /// The offending key.
        key: String,
    },
    /// A value of the wrong JSON type.
    #[error("{path}: expected {expected}")]
    WrongType {
        /// Location of the value.
        path: String,
        /// What was expected there.
        expected: &'static str,
    },
}

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LENGTH_DELIMITED: u32 = 2;

/// Appends protobuf fields to a byte buffer.
#[derive(Default)]
struct Message {
    bytes: Vec<u8>,
}

impl Message {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            // Truncation to the low seven bits is the varint encoding itself.
            self.bytes.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }

    fn key(&mut self, field: u32, wire_type: u32) {
        self.varint(u64::from(field << 3 | wire_type));
    }

    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, LENGTH_DELIMITED);
        self.varint(bytes.len() as u64);
        self.bytes.extend_from_slice(bytes);
    }

    fn string(&mut self, field: u32, value: &str) {
        self.bytes(field, value.as_bytes());
    }

    fn message(&mut self, field: u32, message: Message) {
        self.bytes(field, &message.bytes);
    }

    fn bool(&mut self, field: u32, value: bool) {
        self.key(field, VARINT);
        self.varint(u64::from(value));
    }

    fn int64(&mut self, field: u32, value: i64) {
        self.key(field, VARINT);
        // Two's complement reinterpretation is how protobuf encodes negative int64.
        self.varint(value as u64);
    }

    fn double(&mut self, field: u32, value: f64) {
        self.key(field, FIXED64);
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }
}

fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, EncodeError> {
    value.as_object().ok_or_else(|| EncodeError::WrongType {
        path: path.to_owned(),
        expected: "object",
    })
}

fn as_str<'a>(value: &'a Value, path: &str) -> Result<&'a str, EncodeError> {
    value.as_str().ok_or_else(|| EncodeError::WrongType {
        path: path.to_owned(),
        expected: "string",
    })
}

fn as_bool(value: &Value, path: &str) -> Result<bool, EncodeError> {
    value.as_bool().ok_or_else(|| EncodeError::WrongType {
        path: path.to_owned(),
        expected: "boolean",
    })
}

fn as_i64(value: &Value, path: &str) -> Result<i64, EncodeError> {
    value.as_i64().ok_or_else(|| EncodeError::WrongType {
        path: path.to_owned(),
        expected: "integer",
    })
}

fn as_f64(value: &Value, path: &str) -> Result<f64, EncodeError> {
    value.as_f64().ok_or_else(|| EncodeError::WrongType {
        path: path.to_owned(),
        expected: "number",
    })
}

fn as_array<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>, EncodeError> {
    value.as_array().ok_or_else(|| EncodeError::WrongType {
        path: path.to_owned(),
        expected: "array",
    })
}

fn unknown(path: &str, key: &str) -> EncodeError {
    EncodeError::UnknownKey {
        path: path.to_owned(),
        key: key.to_owned(),
    }
}

fn strings(
    message: &mut Message,
    field: u32,
    value: &Value,
    path: &str,
) -> Result<(), EncodeError> {
    for item in as_array(value, path)? {
        message.string(field, as_str(item, path)?);
    }
    Ok(())
}

/// `Any { yaml = 2 }`.
fn any(value: &Value) -> Message {
    let mut message = Message::default();
    message.string(2, &value.to_string());
    message
}

/// `NamedAny { name = 1; value = 2 }`, the encoding of a vendor extension.
fn vendor_extension(message: &mut Message, field: u32, name: &str, value: &Value) {
    let mut named = Message::default();
    named.string(1, name);
    named.message(2, any(value));
    message.message(field, named);
}

/// Encodes `document` (a Swagger 2.0 document from this module's generator).
pub fn encode_document(document: &Value) -> Result<Vec<u8>, EncodeError> {
    let path = "";
    let mut message = Message::default();
    for (key, value) in as_object(document, path)? {
        let here = format!("{path}/{key}");
        match key.as_str() {
            "swagger" => message.string(1, as_str(value, &here)?),
            "info" => message.message(2, info(value, &here)?),
            "paths" => message.message(8, paths(value, &here)?),
            "definitions" => {
                let mut definitions = Message::default();
                for (name, schema_value) in as_object(value, &here)? {
                    named_schema(&mut definitions, 1, name, schema_value, &here)?;
                }
                message.message(9, definitions);
            }
            extension if extension.starts_with("x-") => {
                vendor_extension(&mut message, 16, extension, value)
            }
            other => return Err(unknown(path, other)),
        }
    }
    Ok(message.bytes)
}

fn info(value: &Value, path: &str) -> Result<Message, EncodeError> {
    let mut message = Message::default();
    for (key, value) in as_object(value, path)? {
        let here = format!("{path}/{key}");
        match key.as_str() {
            "title" => message.string(1, as_str(value, &here)?),
            "version" => message.string(2, as_str(value, &here)?),
            "description" => message.string(3, as_str(value, &here)?),
            extension if extension.starts_with("x-") => {
                vendor_extension(&mut message, 7, extension, value)
            }
            other => return Err(unknown(path, other)),
        }
    }
    Ok(message)
}

fn paths(value: &Value, path: &str) -> Result<Message, EncodeError> {
    let mut message = Message::default();
    for (url, item) in as_object(value, path)? {
        let here = format!("{path}/{url}");
        let mut named = Message::default();
        named.string(1, url);
        named.message(2, path_item(item, &here)?);
        message.message(2, named);
    }
    Ok(message)
}

fn path_item(value: &Value, path: &str) -> Result<Message, EncodeError> {
    let mut message = Message::default();
    for (key, value) in as_object(value, path)? {
        let here = format!("{path}/{key}");
        let field = match key.as_str() {
            "get" => 2,
            "put" => 3,
            "post" => 4,
            "delete" => 5,
            "options" => 6,
            "head" => 7,
            "patch" => 8,
            "parameters" => {
                for parameter in as_array(value, &here)? {
                    message.message(9, parameters_item(parameter, &here)?);
                }
                continue;
            }
            extension if extension.starts_with("x-") => {
                vendor_extension(&mut message, 10, extension, value);
                continue;
            }
            other => return Err(unknown(path, other)),
        };
        message.message(field, operation(value, &here)?);
    }
    Ok(message)
}

fn operation(value: &Value, path: &str) -> Result<Message, EncodeError> {
    let mut message = Message::default();
    for (key, value) in as_object(value, path)? {
        let here = format!("{path}/{key}");
        match key.as_str() {
            "tags" => strings(&mut message, 1, value, &here)?,
            "summary" => message.string(2, as_str(value, &here)?),
            "description" => message.string(3, as_str(value, &here)?),
            "operationId" => message.string(5, as_str(value, &here)?),
            "produces" => strings(&mut message, 6, value, &here)?,
            "consumes" => strings(&mut message, 7, value, &here)?,
            "parameters" => {
                for parameter in as_array(value, &here)? {
                    message.message(8, parameters_item(parameter, &here)?);
                }
            }
            "responses" => message.message(9, responses(value, &here)?),
            "schemes" => strings(&mut message, 10, value, &here)?,
            "deprecated" => message.bool(11, as_bool(value, &here)?),
            extension if extension.starts_with("x-") => {
                vendor_extension(&mut message, 13, extension, value)
            }
            other => return Err(unknown(path, other)),
        }
    }
    Ok(message)
}

/// `ParametersItem { Parameter parameter = 1 }` wrapping a body or non-body parameter.
fn parameters_item(value: &Value, path: &str) -> Result<Message, EncodeError> {
    let object = as_object(value, path)?;
    let location = object
        .get("in")
        .map(|v| as_str(v, path))
        .transpose()?
        .unwrap_or_default();
    let mut parameter = Message::default();
    if location == "body" {
        parameter.message(1, body_parameter(object, path)?);
    } else {
        // NonBodyParameter: header = 1, formData = 2, query = 3, path = 4; the sub-schemas
        // number their fields differently.
        let (oneof_field, sub) = match location {
            "query" => (3, non_body_parameter(object, path, &QUERY_FIELDS)?),
            "path" => (4, non_body_parameter(object, path, &PATH_FIELDS)?),
            "header" => (1, non_body_parameter(object, path, &PATH_FIELDS)?),
            _ => {
                return Err(EncodeError::WrongType {
                    path: format!("{path}/in"),
                    expected: "body, query, path or header",
                });
            }
        };
        let mut non_body = Message::default();
        non_body.message(oneof_field, sub);
        parameter.message(2, non_body);
    }
    let mut item = Message::default();
    item.message(1, parameter);
    Ok(item)
}

fn body_parameter(object: &Map<String, Value>, path: &str) -> Result<Message, EncodeError> {
    let mut message = Message::default();
    for (key, value) in object {
        let here = format!("{path}/{key}");
        match key.as_str() {
            "description" => message.string(1, as_str(value, &here)?),
            "name" => message.string(2, as_str(value, &here)?),
            "in" => message.string(3, as_str(value, &here)?),
            "required" => message.bool(4, as_bool(value, &here)?),
            "schema" => message.message(5, schema(value, &here)?),
            extension if extension.starts_with("x-") => {
                vendor_extension(&mut message, 6, extension, value)
            }
            other => return Err(unknown(path, other)),
        }
    }
    Ok(message)
}

/// Field numbers of a non-body parameter sub-schema.
struct NonBodyFields {
    required: u32,
    location: u32,
    description: u32,
    name: u32,
    ty: u32,
    format: u32,
    unique_items: u32,
    vendor_extension: u32,
}

const QUERY_FIELDS: NonBodyFields = NonBodyFields {
    required: 1,
    location: 2,
    description: 3,
    name: 4,
    ty: 6,
    format: 7,
    unique_items: 20,
    vendor_extension: 23,
};

/// Path and header parameter sub-schemas share their numbering.
const PATH_FIELDS: NonBodyFields = NonBodyFields {
    required: 1,
    location: 2,
    description: 3,
    name: 4,
    ty: 5,
    format: 6,
    unique_items: 19,
    vendor_extension: 22,
};

fn non_body_parameter(
    object: &Map<String, Value>,
    path: &str,
    fields: &NonBodyFields,
) -> Result<Message, EncodeError> {
    let mut message = Message::default();
    for (key, value) in object {
        let here = format!("{path}/{key}");
        match key.as_str() {
            "required" => message.bool(fields.required, as_bool(value, &here)?),
            "in" => message.string(fields.location, as_str(value, &here)?),
            "description" => message.string(fields.description, as_str(value, &here)?),
            "name" => message.string(fields.name, as_str(value, &here)?),
            "type" => message.string(fields.ty, as_str(value, &here)?),
            "format" => message.string(fields.format, as_str(value, &here)?),
            "uniqueItems" => message.bool(fields.unique_items, as_bool(value, &here)?),
            extension if extension.starts_with("x-") => {
                vendor_extension(&mut message, fields.vendor_extension, extension, value)
            }
            other => return Err(unknown(path, other)),
        }
    }
    Ok(message)
}

fn responses(value: &Value, path: &str) -> Result<Message, EncodeError> {
    let mut message = Message::default();
    for (code, response_value) in as_object(value, path)? {
        let here = format!("{path}/{code}");
        if code.starts_with("x-") {
            vendor_extension(&mut message, 2, code, response_value);
            continue;
        }
        let mut response = Message::default();
        for (key, value) in as_object(response_value, &here)? {
            let inner = format!("{here}/{key}");
            match key.as_str() {
                "description" => response.string(1, as_str(value, &inner)?),
                "schema" => {
                    let mut schema_item = Message::default();
                    schema_item.message(1, schema(value, &inner)?);
                    response.message(2, schema_item);
                }
                extension if extension.starts_with("x-") => {
                    vendor_extension(&mut response, 5, extension, value)
                }
                other => return Err(unknown(&here, other)),
            }
        }
        // ResponseValue { Response response = 1 } inside NamedResponseValue { name, value }.
        let mut response_value_message = Message::default();
        response_value_message.message(1, response);
        let mut named = Message::default();
        named.string(1, code);
        named.message(2, response_value_message);
        message.message(1, named);
    }
    Ok(message)
}

/// `NamedSchema { name = 1; value = 2 }`.
fn named_schema(
    message: &mut Message,
    field: u32,
    name: &str,
    value: &Value,
    path: &str,
) -> Result<(), EncodeError> {
    let mut named = Message::default();
    named.string(1, name);
    named.message(2, schema(value, &format!("{path}/{name}"))?);
    message.message(field, named);
    Ok(())
}

fn schema(value: &Value, path: &str) -> Result<Message, EncodeError> {
    let mut message = Message::default();
    for (key, value) in as_object(value, path)? {
        let here = format!("{path}/{key}");
        match key.as_str() {
            "$ref" => message.string(1, as_str(value, &here)?),
            "format" => message.string(2, as_str(value, &here)?),
            "title" => message.string(3, as_str(value, &here)?),
            "description" => message.string(4, as_str(value, &here)?),
            "default" => message.message(5, any(value)),
            "multipleOf" => message.double(6, as_f64(value, &here)?),
            "maximum" => message.double(7, as_f64(value, &here)?),
            "exclusiveMaximum" => message.bool(8, as_bool(value, &here)?),
            "minimum" => message.double(9, as_f64(value, &here)?),
            "exclusiveMinimum" => message.bool(10, as_bool(value, &here)?),
            "maxLength" => message.int64(11, as_i64(value, &here)?),
            "minLength" => message.int64(12, as_i64(value, &here)?),
            "pattern" => message.string(13, as_str(value, &here)?),
            "maxItems" => message.int64(14, as_i64(value, &here)?),
            "minItems" => message.int64(15, as_i64(value, &here)?),
            "uniqueItems" => message.bool(16, as_bool(value, &here)?),
            "maxProperties" => message.int64(17, as_i64(value, &here)?),
            "minProperties" => message.int64(18, as_i64(value, &here)?),
            "required" => strings(&mut message, 19, value, &here)?,
            "enum" => {
                for item in as_array(value, &here)? {
                    message.message(20, any(item));
                }
            }
            "additionalProperties" => {
                let mut item = Message::default();
                match value {
                    Value::Bool(allowed) => item.bool(2, *allowed),
                    other => item.message(1, schema(other, &here)?),
                }
                message.message(21, item);
            }
            "type" => {
                let mut type_item = Message::default();
                match value {
                    Value::String(single) => type_item.string(1, single),
                    other => strings(&mut type_item, 1, other, &here)?,
                }
                message.message(22, type_item);
            }
            "items" => {
                let mut items = Message::default();
                match value {
                    Value::Array(many) => {
                        for item in many {
                            items.message(1, schema(item, &here)?);
                        }
                    }
                    single => items.message(1, schema(single, &here)?),
                }
                message.message(23, items);
            }
            "allOf" => {
                for item in as_array(value, &here)? {
                    message.message(24, schema(item, &here)?);
                }
            }
            "properties" => {
                // Written even when empty: client-go tells an object with no properties from
                // a map by whether this message is present.
                let mut properties = Message::default();
                for (name, property) in as_object(value, &here)? {
                    named_schema(&mut properties, 1, name, property, &here)?;
                }
                message.message(25, properties);
            }
            "discriminator" => message.string(26, as_str(value, &here)?),
            "readOnly" => message.bool(27, as_bool(value, &here)?),
            "example" => message.message(30, any(value)),
            extension if extension.starts_with("x-") => {
                vendor_extension(&mut message, 31, extension, value)
            }
            other => return Err(unknown(path, other)),
        }
    }
    Ok(message)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A decoded protobuf field: number and raw payload.
    #[derive(Debug, PartialEq)]
    pub(crate) enum Field {
        Varint(u32, u64),
        Fixed64(u32, u64),
        Bytes(u32, Vec<u8>),
    }

    /// Minimal wire-format reader used to check what the encoder wrote.
    pub(crate) fn decode(mut bytes: &[u8]) -> Vec<Field> {
        fn varint(bytes: &mut &[u8]) -> u64 {
            let mut value = 0u64;
            let mut shift = 0;
            loop {
                let (first, rest) = bytes.split_first().expect("truncated varint");
                *bytes = rest;
                value |= u64::from(first & 0x7f) << shift;
                if first & 0x80 == 0 {
                    return value;
                }
                shift += 7;
            }
        }
        let mut fields = Vec::new();
        while !bytes.is_empty() {
            let key = varint(&mut bytes);
            let field = u32::try_from(key >> 3).expect("field number");
            match key & 7 {
                0 => fields.push(Field::Varint(field, varint(&mut bytes))),
                1 => {
                    let (head, rest) = bytes.split_at(8);
                    bytes = rest;
                    let raw: [u8; 8] = head.try_into().expect("8 bytes");
                    fields.push(Field::Fixed64(field, u64::from_le_bytes(raw)));
                }
                2 => {
                    let len = usize::try_from(varint(&mut bytes)).expect("length");
                    let (head, rest) = bytes.split_at(len);
                    bytes = rest;
                    fields.push(Field::Bytes(field, head.to_vec()));
                }
                other => panic!("unexpected wire type {other}"),
            }
        }
        fields
    }

    pub(crate) fn bytes_of(fields: &[Field], number: u32) -> Vec<&[u8]> {
        fields
            .iter()
            .filter_map(|f| match f {
                Field::Bytes(n, b) if *n == number => Some(b.as_slice()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn varints_match_the_wire_format() {
        let cases: &[(u64, &[u8])] = &[
            (0, &[0]),
            (1, &[1]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for (value, expected) in cases {
            let mut message = Message::default();
            message.varint(*value);
            assert_eq!(message.bytes, *expected, "{value}");
        }
    }

    #[test]
    fn schema_fields_get_gnostic_numbers() {
        let encoded = schema(
            &json!({
                "$ref": "#/definitions/x",
                "description": "d",
                "type": "object",
                "required": ["a"],
                "properties": {},
                "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}],
            }),
            "",
        )
        .expect("encodes");
        let fields = decode(&encoded.bytes);
        assert_eq!(bytes_of(&fields, 1), [b"#/definitions/x".as_slice()]);
        assert_eq!(bytes_of(&fields, 4), [b"d".as_slice()]);
        assert_eq!(bytes_of(&fields, 19), [b"a".as_slice()]);
        // TypeItem { value = 1 }.
        assert_eq!(
            decode(bytes_of(&fields, 22)[0]),
            [Field::Bytes(1, b"object".to_vec())]
        );
        // Empty Properties is still present.
        assert_eq!(bytes_of(&fields, 25), [b"".as_slice()]);
        // NamedAny { name, Any { yaml } }.
        let extension = decode(bytes_of(&fields, 31)[0]);
        assert_eq!(
            bytes_of(&extension, 1),
            [b"x-kubernetes-group-version-kind".as_slice()]
        );
        let yaml = decode(bytes_of(&extension, 2)[0]);
        assert_eq!(
            bytes_of(&yaml, 2),
            [br#"[{"group":"","kind":"Pod","version":"v1"}]"#.as_slice()]
        );
    }

    #[test]
    fn parameters_pick_their_oneof_branch() {
        let cases = [
            (
                json!({"name": "limit", "in": "query", "type": "integer"}),
                2,
                Some(3),
            ),
            (
                json!({"name": "name", "in": "path", "required": true, "type": "string"}),
                2,
                Some(4),
            ),
            (
                json!({"name": "body", "in": "body", "schema": {"type": "object"}}),
                1,
                None,
            ),
        ];
        for (parameter, parameter_branch, non_body_branch) in cases {
            let item = parameters_item(&parameter, "").expect("encodes");
            let outer = decode(&item.bytes);
            let parameter_message = decode(bytes_of(&outer, 1)[0]);
            let inner = bytes_of(&parameter_message, parameter_branch);
            assert_eq!(inner.len(), 1, "{parameter}");
            if let Some(branch) = non_body_branch {
                assert_eq!(bytes_of(&decode(inner[0]), branch).len(), 1, "{parameter}");
            }
        }
    }

    #[test]
    fn unknown_keys_are_errors_not_silence() {
        let cases = [
            (json!({"oneOf": []}), "oneOf"),
            (json!({"properties": {"a": {"nullable": true}}}), "nullable"),
        ];
        for (value, key) in cases {
            match schema(&value, "") {
                Err(EncodeError::UnknownKey { key: found, .. }) => assert_eq!(found, key),
                other => panic!(
                    "expected UnknownKey for {key}, got {:?}",
                    other.map(|m| m.bytes)
                ),
            }
        }
        assert!(matches!(
            parameters_item(&json!({"in": "cookie"}), ""),
            Err(EncodeError::WrongType { .. })
        ));
    }

    #[test]
    fn numbers_use_their_wire_types() {
        let encoded = schema(&json!({"minimum": 1.5, "maxLength": -1}), "").expect("encodes");
        let fields = decode(&encoded.bytes);
        assert!(fields.contains(&Field::Fixed64(9, 1.5f64.to_bits())));
        assert!(fields.contains(&Field::Varint(11, u64::MAX)));
    }
}
