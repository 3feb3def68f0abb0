//! Kubernetes' protobuf request bodies (`application/vnd.kubernetes.protobuf`):
//! the `k8s\0` envelope around a `runtime.Unknown`, decoded with k8s-pb's
//! generated types and converted to the JSON kube-apiserver would write for
//! the same object, which the rest of the server speaks. kubectl sends its
//! typed requests (`create namespace|configmap|secret|deployment|service|
//! serviceaccount|role|...`, `auth can-i`) only this way.
//!
//! Nothing is dropped on the way: a field prost does not know (`wire`) or a
//! field no converter takes (`convert::Obj::end`) refuses the body with an
//! error naming it, and every kind not listed in [`converter`] is refused
//! whole. Pure: bytes in, JSON or an error out.

mod access;
mod apps;
mod convert;
mod core;
mod meta;
mod networking;
mod pod;
mod rbac;
mod wire;

use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Map, Value};

use convert::{Conv, Fault, Object};

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
    /// A field of a supported kind that this server does not convert.
    #[error("protobuf field {field} is not supported for {kind}; send application/json")]
    UnsupportedField {
        /// `apps/v1 Deployment`.
        kind: String,
        /// The JSON path, `spec.template.spec.ephemeralContainers`.
        field: String,
    },
    /// Fields the protobuf schema compiled into this server does not have.
    #[error(
        "the protobuf body for {0} has fields this server does not know; send application/json"
    )]
    UnknownFields(String),
    /// A value with no JSON form kube-apiserver would write.
    #[error("protobuf field {field} of {kind} is invalid: {reason}")]
    Invalid {
        /// `v1 Namespace`.
        kind: String,
        /// The JSON path, `metadata.creationTimestamp`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ProtobufError {
    /// Whether the client should resend the body as JSON (HTTP 415) rather
    /// than fix it (HTTP 400).
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            ProtobufError::Unsupported(_)
                | ProtobufError::UnsupportedField { .. }
                | ProtobufError::UnknownFields(_)
        )
    }
}

/// Whether `content_type` names the protobuf encoding.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type.starts_with(MEDIA_TYPE)
}

/// The JSON object a protobuf body holds, with `apiVersion` and `kind`.
pub fn decode(bytes: &[u8]) -> Result<Value, ProtobufError> {
    let body = bytes.strip_prefix(MAGIC).ok_or(ProtobufError::Envelope)?;
    let unknown = Unknown::decode(body).map_err(|e| ProtobufError::Decode(e.to_string()))?;
    // Like Go, the envelope's contentType and contentEncoding are not read:
    // the raw bytes are the object's protobuf encoding.
    let type_meta = unknown.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    let label = format!("{api_version} {kind}");
    let convert =
        converter(&api_version, &kind).ok_or(ProtobufError::Unsupported(label.clone()))?;
    let fields = match convert(unknown.raw.as_deref().unwrap_or_default()) {
        Ok(fields) => fields,
        Err(Refusal::Decode(reason)) => return Err(ProtobufError::Decode(reason)),
        Err(Refusal::UnknownFields) => return Err(ProtobufError::UnknownFields(label)),
        Err(Refusal::Fault(Fault::Left { field })) => {
            return Err(ProtobufError::UnsupportedField { kind: label, field });
        }
        Err(Refusal::Fault(Fault::Invalid { field, reason })) => {
            return Err(ProtobufError::Invalid {
                kind: label,
                field,
                reason,
            });
        }
    };
    let mut object = Map::new();
    object.insert("apiVersion".into(), api_version.into());
    object.insert("kind".into(), kind.into());
    object.extend(fields);
    Ok(Value::Object(object))
}

/// Why one kind's raw bytes were refused.
enum Refusal {
    Decode(String),
    UnknownFields,
    Fault(Fault),
}

/// Converts one kind's raw bytes.
type Converter = fn(&[u8]) -> Result<Object, Refusal>;

/// The converter for each kind taken as protobuf.
fn converter(api_version: &str, kind: &str) -> Option<Converter> {
    let convert: Converter = match (api_version, kind) {
        ("v1", "Namespace") => |raw| message(raw, core::namespace),
        ("v1", "ConfigMap") => |raw| message(raw, core::config_map),
        ("v1", "Secret") => |raw| message(raw, core::secret),
        ("v1", "Service") => |raw| message(raw, core::service),
        ("v1", "ServiceAccount") => |raw| message(raw, core::service_account),
        ("v1", "Pod") => |raw| message(raw, core::pod),
        ("v1", "Endpoints") => |raw| message(raw, core::endpoints),
        ("v1", "Event") => |raw| message(raw, core::event),
        ("apps/v1", "Deployment") => |raw| message(raw, apps::deployment),
        ("apps/v1", "ReplicaSet") => |raw| message(raw, apps::replica_set),
        ("networking.k8s.io/v1", "Ingress") => |raw| message(raw, networking::ingress),
        ("networking.k8s.io/v1", "IngressClass") => |raw| message(raw, networking::ingress_class),
        ("networking.k8s.io/v1", "NetworkPolicy") => |raw| message(raw, networking::network_policy),
        ("discovery.k8s.io/v1", "EndpointSlice") => |raw| message(raw, networking::endpoint_slice),
        ("rbac.authorization.k8s.io/v1", "Role") => |raw| message(raw, rbac::role),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => |raw| message(raw, rbac::cluster_role),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => |raw| message(raw, rbac::role_binding),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            |raw| message(raw, rbac::cluster_role_binding)
        }
        ("coordination.k8s.io/v1", "Lease") => |raw| message(raw, access::lease),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            |raw| message(raw, access::self_subject_access_review)
        }
        _ => return None,
    };
    Some(convert)
}

/// Decodes `raw` as `M`, checks prost kept every field, and converts it.
fn message<M: Message + Default>(
    raw: &[u8],
    convert: fn(M) -> Conv<Object>,
) -> Result<Object, Refusal> {
    let message = M::decode(raw).map_err(|e| Refusal::Decode(e.to_string()))?;
    if !wire::keeps_every_field(raw, &message.encode_to_vec()) {
        return Err(Refusal::UnknownFields);
    }
    convert(message).map_err(Refusal::Fault)
}

#[cfg(test)]
mod tests;
