//! The request side of server-side apply and managedFields, pure: the
//! applied configuration decoded from YAML or JSON and checked against the
//! URL, the field manager named (from `fieldManager`, else the User-Agent)
//! and checked, and [`ApplyError`]s as the Statuses kube-apiserver sends.
//!
//! The HTTP layer hands the request's parts in; nothing here reads a body,
//! a clock or the store.

use serde_json::Value;

use super::ApplyError;
use crate::{
    objects::meta,
    resources::ResourceInfo,
    status::ApiError,
    validation::{self, FieldCause, Path},
};

/// The longest field manager name kube-apiserver accepts
/// (`validation.FieldManagerMaxLength`).
pub const FIELD_MANAGER_MAX_LENGTH: usize = 128;

/// Which write's options carry the field manager, for the 422 it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// POST: `CreateOptions`.
    Create,
    /// PUT: `UpdateOptions`.
    Update,
    /// PATCH other than apply: `PatchOptions`.
    Patch,
    /// PATCH with `application/apply-patch+yaml`: `PatchOptions`, and the
    /// field manager is required.
    Apply,
}

impl Write {
    fn options_kind(self) -> &'static str {
        match self {
            Write::Create => "CreateOptions",
            Write::Update => "UpdateOptions",
            Write::Patch | Write::Apply => "PatchOptions",
        }
    }
}

/// The applied configuration in a PATCH body: JSON (what kubectl and
/// client libraries send) or YAML. 400 with kube-apiserver's prefix when it
/// is neither.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    serde_norway::from_slice::<Value>(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

/// The manager a write is recorded under: `fieldManager` when sent, else
/// the User-Agent up to its first `/` (printable characters, at most
/// [`FIELD_MANAGER_MAX_LENGTH`] bytes), as kube-apiserver's
/// `managerOrUserAgent`. A sent name that is too long or unprintable is a
/// 422 on the write's options; apply without one is too.
pub fn field_manager(
    sent: Option<&str>,
    user_agent: Option<&str>,
    write: Write,
) -> Result<String, ApiError> {
    let sent = sent.unwrap_or("");
    let path = Path::new("fieldManager");
    let mut causes = Vec::new();
    if sent.is_empty() && write == Write::Apply {
        causes.push(FieldCause::required(&path, "is required for apply patch"));
    }
    if sent.len() > FIELD_MANAGER_MAX_LENGTH {
        causes.push(FieldCause::too_long(&path, FIELD_MANAGER_MAX_LENGTH));
    }
    for (at, c) in sent.char_indices() {
        if !printable(c) {
            causes.push(FieldCause::invalid(
                &path,
                sent,
                &format!(
                    "invalid character U+{:04X} (at position {at})",
                    u32::from(c)
                ),
            ));
        }
    }
    if !causes.is_empty() {
        return Err(invalid_options(write, &causes));
    }
    if !sent.is_empty() {
        return Ok(sent.to_owned());
    }
    let prefix = user_agent.unwrap_or("").split('/').next().unwrap_or("");
    let mut manager = String::new();
    for c in prefix.chars().filter(|c| printable(*c)) {
        if manager.len() + c.len_utf8() > FIELD_MANAGER_MAX_LENGTH {
            break;
        }
        manager.push(c);
    }
    Ok(manager)
}

/// Go's `unicode.IsPrint`, near enough: no control or format characters,
/// and no space but U+0020.
fn printable(c: char) -> bool {
    !c.is_control() && (c == ' ' || !c.is_whitespace()) && !matches!(c, '\u{200b}'..='\u{200f}')
}

fn invalid_options(write: Write, causes: &[FieldCause]) -> ApiError {
    let status = validation::invalid_status("meta.k8s.io", write.options_kind(), "", causes);
    ApiError {
        code: 422,
        reason: "Invalid",
        message: status.message.clone().unwrap_or_default(),
        details: status.details.map(Box::new),
    }
}

/// Checks that the configuration's `apiVersion` and `kind` name the URL's
/// resource (400, with kube-apiserver's text for the version).
pub fn check_type(resource: &ResourceInfo, config: &Value) -> Result<(), ApiError> {
    let field = |name: &str| config.get(name).and_then(Value::as_str).unwrap_or("");
    let version = field("apiVersion");
    if version != resource.api_version {
        return Err(ApiError::bad_request(format!(
            "Incorrect version specified in apply patch. Specified patch version: {version}, expected: {}",
            resource.api_version
        )));
    }
    let kind = field("kind");
    if kind != resource.kind {
        return Err(ApiError::bad_request(format!(
            "the kind of the object ({kind}) does not match the expected kind ({})",
            resource.kind
        )));
    }
    Ok(())
}

/// Refuses a configuration with fields its kind does not have, as
/// kube-apiserver's typed conversion of the patch does whatever
/// `fieldValidation` says (`.dta: field not declared in schema`).
pub fn check_fields(resource: &ResourceInfo, config: &Value) -> Result<(), ApplyError> {
    let unknown = crate::fields::unknown_fields(resource.kind, config);
    if unknown.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = unknown
        .iter()
        .map(|f| format!(".{f}: field not declared in schema"))
        .collect();
    Err(ApplyError::InvalidConfig {
        path: String::new(),
        reason: lines.join("\n"),
    })
}

/// Checks the applied object's name and namespace against the URL, with
/// kube-apiserver's `checkName` texts (400).
pub fn check_name(object: &Value, name: &str, namespace: Option<&str>) -> Result<(), ApiError> {
    let object_name = meta::name(object).unwrap_or("");
    if object_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({object_name}) does not match the name on the URL ({name})"
        )));
    }
    if let (Some(url), Some(sent)) = (namespace, meta::namespace(object))
        && url != sent
    {
        return Err(ApiError::bad_request(format!(
            "the namespace of the object ({sent}) does not match the namespace on the URL ({url})"
        )));
    }
    Ok(())
}

/// The Status kube-apiserver answers an apply failure with: 409 with one
/// `FieldManagerConflict` cause per field, 400, or its unclassified 500s
/// naming the object (`default/web; apps/v1, Kind=Deployment`).
pub fn apply_error(
    error: &ApplyError,
    resource: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
) -> ApiError {
    let object = format!(
        "{}/{name}; {}/{}, Kind={}",
        namespace.unwrap_or(""),
        resource.group,
        resource.version,
        resource.kind
    );
    let message = match error {
        ApplyError::InvalidConfig { .. } => {
            format!("failed to create typed patch object ({object}): {error}")
        }
        ApplyError::InvalidObject { .. } => {
            format!("failed to create typed live object ({object}): {error}")
        }
        _ => error.to_string(),
    };
    let details = match error {
        ApplyError::Conflicts(_) => Some(Box::new(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::StatusDetails {
                causes: Some(
                    error
                        .causes()
                        .into_iter()
                        .map(
                            |c| k8s_openapi::apimachinery::pkg::apis::meta::v1::StatusCause {
                                field: Some(c.field),
                                message: Some(c.message),
                                reason: Some(c.reason.to_owned()),
                            },
                        )
                        .collect(),
                ),
                ..Default::default()
            },
        )),
        _ => None,
    };
    ApiError {
        code: error.code(),
        reason: error.reason(),
        message,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{apply::Operation, resources};
    use serde_json::json;

    fn deployments() -> &'static ResourceInfo {
        resources::find("apps", "v1", "deployments").expect("deployments")
    }

    #[test]
    fn decodes_json_and_yaml_and_refuses_neither() {
        let json_body = br#"{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"1"}}"#;
        let yaml_body = b"apiVersion: v1\nkind: ConfigMap\ndata:\n  a: \"1\"\n";
        let want = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}});
        assert_eq!(decode(json_body).expect("json"), want);
        assert_eq!(decode(yaml_body).expect("yaml"), want);
        assert_eq!(
            decode(b"spec: {replicas: 3, ports: [80, 443], on: true}").expect("flow yaml"),
            json!({"spec": {"replicas": 3, "ports": [80, 443], "on": true}})
        );
        for bad in [
            &b"a: [1, 2"[..],
            b"{a: 1",
            b"a: 'x",
            b"a: 1\n b: 2\n",
            b"a: 1\n---\nb: 2\n",
        ] {
            let err = decode(bad).expect_err("not YAML");
            assert_eq!(err.code, 400, "{}", String::from_utf8_lossy(bad));
            assert!(err.message.starts_with("error decoding YAML: "), "{err:?}");
        }
    }

    #[test]
    fn alias_bombs_are_refused_not_expanded() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = decode(doc.as_bytes()).expect_err("too many repetitions");
        assert_eq!(err.code, 400);
    }

    #[test]
    fn field_managers_come_from_the_parameter_or_the_user_agent() {
        let cases: &[(Option<&str>, Option<&str>, Write, &str)] = &[
            (
                Some("kubectl-client-side-apply"),
                Some("kubectl/v1.33.0 (linux/amd64) kubernetes/abc"),
                Write::Patch,
                "kubectl-client-side-apply",
            ),
            (
                None,
                Some("kubectl/v1.33.0 (linux/amd64) kubernetes/abc"),
                Write::Update,
                "kubectl",
            ),
            (Some(""), Some("kube-rs/1.0"), Write::Create, "kube-rs"),
            (None, None, Write::Create, ""),
            (None, Some("a\u{7}b/1"), Write::Create, "ab"),
            (Some("mgr"), None, Write::Apply, "mgr"),
        ];
        for (sent, agent, write, want) in cases {
            assert_eq!(
                field_manager(*sent, *agent, *write).as_deref(),
                Ok(*want),
                "{sent:?} {agent:?}"
            );
        }
        let long_agent = "x".repeat(200);
        assert_eq!(
            field_manager(None, Some(&long_agent), Write::Create).map(|m| m.len()),
            Ok(FIELD_MANAGER_MAX_LENGTH)
        );
    }

    #[test]
    fn bad_field_managers_are_invalid_options() {
        let err = field_manager(None, Some("kubectl/1.33"), Write::Apply).expect_err("required");
        assert_eq!((err.code, err.reason), (422, "Invalid"));
        assert_eq!(
            err.message,
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
        );
        let long = "m".repeat(129);
        let err = field_manager(Some(&long), None, Write::Create).expect_err("too long");
        assert_eq!(
            err.message,
            "CreateOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: may not be more than 128 bytes"
        );
        let err = field_manager(Some("a\tb"), None, Write::Update).expect_err("unprintable");
        assert_eq!(
            err.message,
            "UpdateOptions.meta.k8s.io \"\" is invalid: fieldManager: Invalid value: \"a\\tb\": invalid character U+0009 (at position 1)"
        );
        let causes = err.details.and_then(|d| d.causes).unwrap_or_default();
        assert_eq!(causes.len(), 1);
    }

    #[test]
    fn configurations_must_name_the_url_resource() {
        let ok = json!({"apiVersion": "apps/v1", "kind": "Deployment"});
        assert_eq!(check_type(deployments(), &ok), Ok(()));
        let cases = [
            (
                json!({"apiVersion": "apps/v1beta1", "kind": "Deployment"}),
                "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1",
            ),
            (
                json!({"kind": "Deployment"}),
                "Incorrect version specified in apply patch. Specified patch version: , expected: apps/v1",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet"}),
                "the kind of the object (ReplicaSet) does not match the expected kind (Deployment)",
            ),
            (
                json!({"apiVersion": "apps/v1"}),
                "the kind of the object () does not match the expected kind (Deployment)",
            ),
        ];
        for (config, want) in cases {
            let err = check_type(deployments(), &config).expect_err("mismatch");
            assert_eq!((err.code, err.message.as_str()), (400, want));
        }
    }

    #[test]
    fn unknown_fields_are_not_declared_in_the_schema() {
        let configmaps = resources::find("", "v1", "configmaps").expect("configmaps");
        let good = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}});
        assert_eq!(check_fields(configmaps, &good), Ok(()));
        let typo = json!({"apiVersion": "v1", "kind": "ConfigMap", "dta": {"a": "b"},
                          "metadata": {"name": "x", "lables": {}}});
        let err = check_fields(configmaps, &typo).expect_err("unknown fields");
        let api = apply_error(&err, configmaps, Some("default"), "x");
        assert_eq!(
            (api.code, api.message.as_str()),
            (
                500,
                "failed to create typed patch object (default/x; /v1, Kind=ConfigMap): \
                 .dta: field not declared in schema\n.metadata.lables: field not declared in schema"
            )
        );
    }

    #[test]
    fn names_must_match_the_url() {
        let object = json!({"metadata": {"name": "web", "namespace": "prod"}});
        assert_eq!(check_name(&object, "web", Some("prod")), Ok(()));
        assert_eq!(check_name(&object, "web", None), Ok(()));
        let cases = [
            (
                json!({"metadata": {"name": "api"}}),
                "the name of the object (api) does not match the name on the URL (web)",
            ),
            (
                json!({"metadata": {}}),
                "the name of the object () does not match the name on the URL (web)",
            ),
            (
                json!({"metadata": {"name": "web", "namespace": "dev"}}),
                "the namespace of the object (dev) does not match the namespace on the URL (prod)",
            ),
        ];
        for (object, want) in cases {
            let err = check_name(&object, "web", Some("prod")).expect_err("mismatch");
            assert_eq!((err.code, err.message.as_str()), (400, want));
        }
    }

    #[test]
    fn conflicts_become_409s_with_field_manager_causes() {
        let error = ApplyError::Conflicts(vec![super::super::Conflict {
            manager: "kubectl-client-side-apply".into(),
            operation: Operation::Update,
            api_version: "v1".into(),
            subresource: None,
            field: ".spec.replicas".into(),
        }]);
        let api = apply_error(&error, deployments(), Some("default"), "web");
        assert_eq!((api.code, api.reason), (409, "Conflict"));
        assert_eq!(
            api.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .spec.replicas"
        );
        let status = serde_json::to_value(api.to_status()).expect("serializes");
        assert_eq!(
            status["details"]["causes"],
            json!([{
                "reason": "FieldManagerConflict",
                "message": "conflict with \"kubectl-client-side-apply\" using v1",
                "field": ".spec.replicas",
            }])
        );
    }

    #[test]
    fn shape_errors_name_the_object_like_kube() {
        let error = ApplyError::InvalidConfig {
            path: ".spec.template.spec.containers".into(),
            reason: "duplicate entries for key [name=\"nginx\"]".into(),
        };
        let api = apply_error(&error, deployments(), Some("default"), "web");
        assert_eq!((api.code, api.reason), (500, ""));
        assert_eq!(
            api.message,
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): \
             .spec.template.spec.containers: duplicate entries for key [name=\"nginx\"]"
        );
        let services = resources::find("", "v1", "services").expect("services");
        let error = ApplyError::BadRequest("metadata.managedFields must be nil".into());
        let api = apply_error(&error, services, Some("default"), "web");
        assert_eq!(
            (api.code, api.reason, api.message.as_str()),
            (400, "BadRequest", "metadata.managedFields must be nil")
        );
    }
}
