//! Kubernetes' protobuf request bodies (`application/vnd.kubernetes.protobuf`):
//! the `k8s\0` envelope around a `runtime.Unknown`, decoded with k8s-pb's
//! generated types, and converted to the JSON form the rest of the server
//! speaks. kubectl sends some typed requests only this way (`auth can-i`'s
//! SelfSubjectAccessReview); every kind not converted here is refused with
//! a clear error rather than misread. Pure.

use k8s_pb::{
    api::authorization::v1::SelfSubjectAccessReview, apimachinery::pkg::runtime::Unknown,
};
use prost::Message as _;
use serde_json::{Map, Value, json};

/// The protobuf media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8] = b"k8s\0";

/// Why a protobuf body could not be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// No `k8s\0` prefix.
    #[error("the protobuf body does not start with the Kubernetes envelope")]
    Envelope,
    /// The bytes do not decode.
    #[error("the protobuf body does not decode: {0}")]
    Decode(String),
    /// A kind this server only takes as JSON.
    #[error("protobuf bodies are not supported for {0}; send application/json")]
    Unsupported(String),
}

/// Whether `content_type` names the protobuf encoding.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type.starts_with(MEDIA_TYPE)
}

/// The JSON object a protobuf body holds.
pub fn decode(bytes: &[u8]) -> Result<Value, ProtobufError> {
    let body = bytes.strip_prefix(MAGIC).ok_or(ProtobufError::Envelope)?;
    let unknown = Unknown::decode(body).map_err(|e| ProtobufError::Decode(e.to_string()))?;
    let type_meta = unknown.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    match (api_version.as_str(), kind.as_str()) {
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            let review = SelfSubjectAccessReview::decode(raw.as_slice())
                .map_err(|e| ProtobufError::Decode(e.to_string()))?;
            Ok(self_subject_access_review(&review))
        }
        _ => Err(ProtobufError::Unsupported(format!("{api_version} {kind}"))),
    }
}

/// Inserts the set string fields as JSON strings.
fn strings(pairs: &[(&str, &Option<String>)]) -> Value {
    let mut map = Map::new();
    for (key, value) in pairs {
        if let Some(value) = value {
            map.insert((*key).to_owned(), Value::String(value.clone()));
        }
    }
    Value::Object(map)
}

fn self_subject_access_review(review: &SelfSubjectAccessReview) -> Value {
    let mut spec = Map::new();
    if let Some(spec_pb) = &review.spec {
        if let Some(r) = &spec_pb.resource_attributes {
            spec.insert(
                "resourceAttributes".into(),
                strings(&[
                    ("namespace", &r.namespace),
                    ("verb", &r.verb),
                    ("group", &r.group),
                    ("version", &r.version),
                    ("resource", &r.resource),
                    ("subresource", &r.subresource),
                    ("name", &r.name),
                ]),
            );
        }
        if let Some(n) = &spec_pb.non_resource_attributes {
            spec.insert(
                "nonResourceAttributes".into(),
                strings(&[("path", &n.path), ("verb", &n.verb)]),
            );
        }
    }
    json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": {},
        "spec": spec,
    })
}

#[cfg(test)]
mod tests {
    use k8s_pb::{
        api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReviewSpec},
        apimachinery::pkg::runtime::TypeMeta,
    };

    use super::*;

    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(TypeMeta {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut bytes = MAGIC.to_vec();
        bytes.extend(unknown.encode_to_vec());
        bytes
    }

    #[test]
    fn an_access_review_decodes_to_its_json_form() {
        let review = SelfSubjectAccessReview {
            spec: Some(SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some("default".into()),
                    verb: Some("list".into()),
                    resource: Some("pods".into()),
                    ..ResourceAttributes::default()
                }),
                non_resource_attributes: None,
            }),
            ..SelfSubjectAccessReview::default()
        };
        let bytes = envelope(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            review.encode_to_vec(),
        );
        let json = decode(&bytes).expect("decodes");
        assert_eq!(
            json["spec"]["resourceAttributes"],
            json!({"namespace": "default", "verb": "list", "resource": "pods"})
        );
        assert!(is_protobuf(
            "application/vnd.kubernetes.protobuf; charset=x"
        ));
    }

    #[test]
    fn other_kinds_and_garbage_are_refused_clearly() {
        assert_eq!(decode(b"{}"), Err(ProtobufError::Envelope));
        assert!(matches!(
            decode(b"k8s\0\xff\xff\xff"),
            Err(ProtobufError::Decode(_))
        ));
        let ns = envelope("v1", "Namespace", Vec::new());
        assert_eq!(
            decode(&ns),
            Err(ProtobufError::Unsupported("v1 Namespace".into()))
        );
    }
}
