//! The `paths` of the documents: each served resource's collection and item endpoints with their
//! verbs and query parameters, in kube-apiserver's shape.
//!
//! kubectl reads three things from here: the `x-kubernetes-group-version-kind` of each operation
//! (explain finds a resource's kind this way), whether the PATCH operation of a kind lists the
//! `fieldValidation` query parameter (server-side field validation), and the PATCH content types
//! (strategic merge patch support). This module must not describe schemas themselves.

use super::resources::{ServedResource, Verb};
use super::schemas::{DELETE_OPTIONS, Dialect, PATCH, STATUS};
use serde_json::{Map, Value, json};

/// Content type of a strategic merge patch; kubectl builds one only if the PATCH operation
/// accepts it.
pub const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";
const PATCH_CONTENT_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    STRATEGIC_MERGE_PATCH,
];
const JSON: &str = "application/json";
const JSON_WATCH: &str = "application/json;stream=watch";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Location {
    Path,
    Query,
}

#[derive(Clone, Copy)]
enum ParamType {
    String,
    Integer,
    Boolean,
}

impl ParamType {
    fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
        }
    }
}

#[derive(Clone, Copy)]
struct Param {
    name: &'static str,
    location: Location,
    ty: ParamType,
    description: &'static str,
}

const fn query(name: &'static str, ty: ParamType, description: &'static str) -> Param {
    Param {
        name,
        location: Location::Query,
        ty,
        description,
    }
}

const PRETTY: Param = query(
    "pretty",
    ParamType::String,
    "If 'true', then the output is pretty printed.",
);
const DRY_RUN: Param = query(
    "dryRun",
    ParamType::String,
    "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
);
const FIELD_MANAGER: Param = query(
    "fieldManager",
    ParamType::String,
    "fieldManager is a name associated with the actor or entity that is making these changes.",
);
/// Its presence on PATCH is what tells kubectl that the server validates fields itself.
const FIELD_VALIDATION: Param = query(
    "fieldValidation",
    ParamType::String,
    "fieldValidation determines how the server should respond to unknown/duplicate fields in the object in the request. Valid values are: - Ignore: ignores unknown/duplicate fields. - Warn: responds with a warning for each unknown/duplicate field, but successfully serves the request. - Strict: fails the request on unknown/duplicate fields.",
);
const FORCE: Param = query(
    "force",
    ParamType::Boolean,
    "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
);
const LABEL_SELECTOR: Param = query(
    "labelSelector",
    ParamType::String,
    "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
);
const FIELD_SELECTOR: Param = query(
    "fieldSelector",
    ParamType::String,
    "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
);
const WATCH: Param = query(
    "watch",
    ParamType::Boolean,
    "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
);
const ALLOW_WATCH_BOOKMARKS: Param = query(
    "allowWatchBookmarks",
    ParamType::Boolean,
    "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers may ignore this flag.",
);
const RESOURCE_VERSION: Param = query(
    "resourceVersion",
    ParamType::String,
    "resourceVersion sets a constraint on what resource versions a request may be served from.",
);
const RESOURCE_VERSION_MATCH: Param = query(
    "resourceVersionMatch",
    ParamType::String,
    "resourceVersionMatch determines how resourceVersion is applied to list calls.",
);
const SEND_INITIAL_EVENTS: Param = query(
    "sendInitialEvents",
    ParamType::Boolean,
    "`sendInitialEvents=true` may be set together with `watch=true`; the watch stream then begins with synthetic events for every existing object.",
);
const TIMEOUT_SECONDS: Param = query(
    "timeoutSeconds",
    ParamType::Integer,
    "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
);
const LIMIT: Param = query(
    "limit",
    ParamType::Integer,
    "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata.",
);
const CONTINUE: Param = query(
    "continue",
    ParamType::String,
    "The continue option should be set when retrieving more results from the server, with the value of the `continue` field of the previous list.",
);
const GRACE_PERIOD_SECONDS: Param = query(
    "gracePeriodSeconds",
    ParamType::Integer,
    "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately.",
);
const IGNORE_STORE_READ_ERROR: Param = query(
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    ParamType::Boolean,
    "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error.",
);
const ORPHAN_DEPENDENTS: Param = query(
    "orphanDependents",
    ParamType::Boolean,
    "Deprecated: please use the PropagationPolicy. Should the dependent objects be orphaned.",
);
const PROPAGATION_POLICY: Param = query(
    "propagationPolicy",
    ParamType::String,
    "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background' and 'Foreground'.",
);

const LIST_PARAMS: &[Param] = &[
    ALLOW_WATCH_BOOKMARKS,
    CONTINUE,
    FIELD_SELECTOR,
    LABEL_SELECTOR,
    LIMIT,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
    WATCH,
];
const WRITE_PARAMS: &[Param] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
const PATCH_PARAMS: &[Param] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE];
const DELETE_PARAMS: &[Param] = &[
    DRY_RUN,
    GRACE_PERIOD_SECONDS,
    IGNORE_STORE_READ_ERROR,
    ORPHAN_DEPENDENTS,
    PROPAGATION_POLICY,
];
const DELETE_COLLECTION_PARAMS: &[Param] = &[
    CONTINUE,
    DRY_RUN,
    FIELD_SELECTOR,
    GRACE_PERIOD_SECONDS,
    IGNORE_STORE_READ_ERROR,
    LABEL_SELECTOR,
    LIMIT,
    ORPHAN_DEPENDENTS,
    PROPAGATION_POLICY,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
];

/// What an operation takes in its body.
enum Body {
    Object(String),
    Patch,
    DeleteOptions,
}

struct Operation {
    method: &'static str,
    action: &'static str,
    operation_id: String,
    description: String,
    params: &'static [Param],
    body: Option<Body>,
    /// `(status code, description)` answered with `response_schema`.
    codes: &'static [(&'static str, &'static str)],
    response_schema: String,
    watchable: bool,
}

/// kube-apiserver's operation-id infix: `CoreV1`, `AppsV1`, `RbacAuthorizationV1`.
fn operation_infix(group: &str, version: &str) -> String {
    let group_part: String = if group.is_empty() {
        "Core".to_owned()
    } else {
        group
            .trim_end_matches(".k8s.io")
            .split('.')
            .map(capitalize)
            .collect()
    };
    format!("{group_part}{}", capitalize(version))
}

/// kube-apiserver's tag: `core_v1`, `apps_v1`, `rbacAuthorization_v1`.
fn tag(group: &str, version: &str) -> String {
    if group.is_empty() {
        return format!("core_{version}");
    }
    let mut parts = group.trim_end_matches(".k8s.io").split('.');
    let first = parts.next().unwrap_or_default().to_owned();
    let rest: String = parts.map(capitalize).collect();
    format!("{first}{rest}_{version}")
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

const OK: &[(&str, &str)] = &[("200", "OK")];
const OK_CREATED: &[(&str, &str)] = &[("200", "OK"), ("201", "Created")];
const OK_CREATED_ACCEPTED: &[(&str, &str)] =
    &[("200", "OK"), ("201", "Created"), ("202", "Accepted")];
const OK_ACCEPTED: &[(&str, &str)] = &[("200", "OK"), ("202", "Accepted")];

/// One URL with its path-level parameters and operations.
struct PathItem {
    url: String,
    params: Vec<Param>,
    operations: Vec<Operation>,
}

fn path_items(resource: &ServedResource) -> Vec<PathItem> {
    let infix = operation_infix(resource.group, resource.version);
    let scope = if resource.namespaced {
        "Namespaced"
    } else {
        ""
    };
    let kind = resource.kind;
    let kind_schema = (resource.schema_name)().into_owned();
    let list_schema = resource.list_schema_name();
    let prefix = resource.url_prefix();
    let namespace_segment = if resource.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let collection_url = format!("{prefix}{namespace_segment}/{}", resource.plural);
    let scope_params: Vec<Param> = if resource.namespaced {
        vec![Param {
            name: "namespace",
            location: Location::Path,
            ty: ParamType::String,
            description: "object name and auth scope, such as for teams and projects",
        }]
    } else {
        Vec::new()
    };

    let mut collection = Vec::new();
    let mut item = Vec::new();
    for verb in resource.verbs {
        let (target, operation) = match verb {
            Verb::List => (
                &mut collection,
                Operation {
                    method: "get",
                    action: "list",
                    operation_id: format!("list{infix}{scope}{kind}"),
                    description: format!("list or watch objects of kind {kind}"),
                    params: LIST_PARAMS,
                    body: None,
                    codes: OK,
                    response_schema: list_schema.clone(),
                    watchable: true,
                },
            ),
            Verb::Create => (
                &mut collection,
                Operation {
                    method: "post",
                    action: "post",
                    operation_id: format!("create{infix}{scope}{kind}"),
                    description: format!("create a {kind}"),
                    params: WRITE_PARAMS,
                    body: Some(Body::Object(kind_schema.clone())),
                    codes: OK_CREATED_ACCEPTED,
                    response_schema: kind_schema.clone(),
                    watchable: false,
                },
            ),
            Verb::DeleteCollection => (
                &mut collection,
                Operation {
                    method: "delete",
                    action: "deletecollection",
                    operation_id: format!("delete{infix}Collection{scope}{kind}"),
                    description: format!("delete collection of {kind}"),
                    params: DELETE_COLLECTION_PARAMS,
                    body: Some(Body::DeleteOptions),
                    codes: OK,
                    response_schema: STATUS.to_owned(),
                    watchable: false,
                },
            ),
            Verb::Get => (
                &mut item,
                Operation {
                    method: "get",
                    action: "get",
                    operation_id: format!("read{infix}{scope}{kind}"),
                    description: format!("read the specified {kind}"),
                    params: &[],
                    body: None,
                    codes: OK,
                    response_schema: kind_schema.clone(),
                    watchable: false,
                },
            ),
            Verb::Update => (
                &mut item,
                Operation {
                    method: "put",
                    action: "put",
                    operation_id: format!("replace{infix}{scope}{kind}"),
                    description: format!("replace the specified {kind}"),
                    params: WRITE_PARAMS,
                    body: Some(Body::Object(kind_schema.clone())),
                    codes: OK_CREATED,
                    response_schema: kind_schema.clone(),
                    watchable: false,
                },
            ),
            Verb::Patch => (
                &mut item,
                Operation {
                    method: "patch",
                    action: "patch",
                    operation_id: format!("patch{infix}{scope}{kind}"),
                    description: format!("partially update the specified {kind}"),
                    params: PATCH_PARAMS,
                    body: Some(Body::Patch),
                    codes: OK_CREATED,
                    response_schema: kind_schema.clone(),
                    watchable: false,
                },
            ),
            Verb::Delete => (
                &mut item,
                Operation {
                    method: "delete",
                    action: "delete",
                    operation_id: format!("delete{infix}{scope}{kind}"),
                    description: format!("delete a {kind}"),
                    params: DELETE_PARAMS,
                    body: Some(Body::DeleteOptions),
                    codes: OK_ACCEPTED,
                    response_schema: STATUS.to_owned(),
                    watchable: false,
                },
            ),
        };
        target.push(operation);
    }

    let mut items = Vec::new();
    if !collection.is_empty() {
        let mut params = scope_params.clone();
        params.push(PRETTY);
        items.push(PathItem {
            url: collection_url.clone(),
            params,
            operations: collection,
        });
    }
    if !item.is_empty() {
        let mut params = vec![Param {
            name: "name",
            location: Location::Path,
            ty: ParamType::String,
            description: "name of the resource",
        }];
        params.extend(scope_params);
        params.push(PRETTY);
        items.push(PathItem {
            url: format!("{collection_url}/{{name}}"),
            params,
            operations: item,
        });
    }
    // kubectl explain looks for `<prefix>/<plural>` first; for namespaced kinds that is the
    // list across all namespaces.
    if resource.namespaced && resource.serves(Verb::List) {
        items.push(PathItem {
            url: format!("{prefix}/{}", resource.plural),
            params: vec![PRETTY],
            operations: vec![Operation {
                method: "get",
                action: "list",
                operation_id: format!("list{infix}{kind}ForAllNamespaces"),
                description: format!("list or watch objects of kind {kind}"),
                params: LIST_PARAMS,
                body: None,
                codes: OK,
                response_schema: list_schema,
                watchable: true,
            }],
        });
    }
    items
}

fn render_param(param: &Param, dialect: Dialect) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), json!(param.name));
    let location = match param.location {
        Location::Path => "path",
        Location::Query => "query",
    };
    object.insert("in".into(), json!(location));
    object.insert("description".into(), json!(param.description));
    if param.location == Location::Path {
        object.insert("required".into(), json!(true));
    }
    let ty = json!({ "type": param.ty.name(), "uniqueItems": true });
    match dialect {
        Dialect::V2 => {
            object.insert("type".into(), json!(param.ty.name()));
            object.insert("uniqueItems".into(), json!(true));
        }
        Dialect::V3 => {
            object.insert("schema".into(), ty);
        }
    }
    Value::Object(object)
}

fn body_schema(body: &Body) -> &str {
    match body {
        Body::Object(name) => name,
        Body::Patch => PATCH,
        Body::DeleteOptions => DELETE_OPTIONS,
    }
}

fn body_content_types(body: &Body) -> &'static [&'static str] {
    match body {
        Body::Patch => PATCH_CONTENT_TYPES,
        Body::Object(_) | Body::DeleteOptions => &[JSON],
    }
}

fn render_operation(resource: &ServedResource, op: &Operation, dialect: Dialect) -> Value {
    let produces: &[&str] = if op.watchable {
        &[JSON, JSON_WATCH]
    } else {
        &[JSON]
    };
    let mut object = Map::new();
    object.insert("description".into(), json!(op.description));
    object.insert("operationId".into(), json!(op.operation_id));
    object.insert(
        "tags".into(),
        json!([tag(resource.group, resource.version)]),
    );
    let mut params: Vec<Value> = op.params.iter().map(|p| render_param(p, dialect)).collect();
    let mut responses = Map::new();
    for (code, description) in op.codes {
        let response = match dialect {
            Dialect::V2 => json!({
                "description": description,
                "schema": dialect.reference(&op.response_schema),
            }),
            Dialect::V3 => {
                let content: Map<String, Value> = produces
                    .iter()
                    .map(|ty| {
                        (
                            (*ty).to_owned(),
                            json!({ "schema": dialect.reference(&op.response_schema) }),
                        )
                    })
                    .collect();
                json!({ "description": description, "content": content })
            }
        };
        responses.insert((*code).to_owned(), response);
    }
    responses.insert("401".into(), json!({ "description": "Unauthorized" }));
    match dialect {
        Dialect::V2 => {
            object.insert("schemes".into(), json!(["https"]));
            object.insert("produces".into(), json!(produces));
            let consumes: &[&str] = match &op.body {
                Some(body) => body_content_types(body),
                None => &["*/*"],
            };
            object.insert("consumes".into(), json!(consumes));
            if let Some(body) = &op.body {
                params.push(json!({
                    "name": "body",
                    "in": "body",
                    "required": !matches!(body, Body::DeleteOptions),
                    "schema": dialect.reference(body_schema(body)),
                }));
            }
        }
        Dialect::V3 => {
            if let Some(body) = &op.body {
                let content: Map<String, Value> = body_content_types(body)
                    .iter()
                    .map(|ty| {
                        (
                            (*ty).to_owned(),
                            json!({ "schema": dialect.reference(body_schema(body)) }),
                        )
                    })
                    .collect();
                let mut request_body = Map::new();
                request_body.insert("content".into(), Value::Object(content));
                if !matches!(body, Body::DeleteOptions) {
                    request_body.insert("required".into(), json!(true));
                }
                object.insert("requestBody".into(), Value::Object(request_body));
            }
        }
    }
    if !params.is_empty() {
        object.insert("parameters".into(), Value::Array(params));
    }
    object.insert("responses".into(), Value::Object(responses));
    object.insert("x-kubernetes-action".into(), json!(op.action));
    object.insert(
        "x-kubernetes-group-version-kind".into(),
        json!({ "group": resource.group, "kind": resource.kind, "version": resource.version }),
    );
    Value::Object(object)
}

/// The `paths` entries of `resource` in `dialect`, keyed by URL template.
pub fn render(resource: &ServedResource, dialect: Dialect) -> Map<String, Value> {
    path_items(resource)
        .into_iter()
        .map(|item| {
            let mut object = Map::new();
            for op in &item.operations {
                object.insert(op.method.into(), render_operation(resource, op, dialect));
            }
            let params: Vec<Value> = item
                .params
                .iter()
                .map(|p| render_param(p, dialect))
                .collect();
            object.insert("parameters".into(), Value::Array(params));
            (item.url, Value::Object(object))
        })
        .collect()
}

/// Schema names the paths of `resource` refer to, besides the kind's own closure.
pub fn referenced_schemas(resource: &ServedResource) -> Vec<String> {
    vec![
        (resource.schema_name)().into_owned(),
        resource.list_schema_name(),
        STATUS.to_owned(),
        DELETE_OPTIONS.to_owned(),
        PATCH.to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::resources::served_resources;
    use super::*;

    fn resource(kind: &str) -> ServedResource {
        served_resources()
            .into_iter()
            .find(|r| r.kind == kind)
            .expect("served")
    }

    #[test]
    fn operation_ids_and_tags_follow_kube_apiserver() {
        let cases = [
            ("", "v1", "CoreV1", "core_v1"),
            ("apps", "v1", "AppsV1", "apps_v1"),
            ("discovery.k8s.io", "v1", "DiscoveryV1", "discovery_v1"),
            (
                "rbac.authorization.k8s.io",
                "v1",
                "RbacAuthorizationV1",
                "rbacAuthorization_v1",
            ),
        ];
        for (group, version, infix, expected_tag) in cases {
            assert_eq!(operation_infix(group, version), infix);
            assert_eq!(tag(group, version), expected_tag);
        }
    }

    #[test]
    fn namespaced_resource_urls() {
        let paths = render(&resource("Deployment"), Dialect::V3);
        let urls: Vec<&str> = paths.keys().map(String::as_str).collect();
        assert_eq!(
            urls,
            [
                "/apis/apps/v1/deployments",
                "/apis/apps/v1/namespaces/{namespace}/deployments",
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            ]
        );
        let item = &paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
        for method in ["get", "put", "patch", "delete"] {
            assert!(item.get(method).is_some(), "{method}");
        }
        assert_eq!(
            item.pointer("/patch/operationId"),
            Some(&json!("patchAppsV1NamespacedDeployment"))
        );
    }

    #[test]
    fn cluster_resource_urls() {
        let paths = render(&resource("Namespace"), Dialect::V2);
        let urls: Vec<&str> = paths.keys().map(String::as_str).collect();
        assert_eq!(urls, ["/api/v1/namespaces", "/api/v1/namespaces/{name}"]);
        assert!(paths["/api/v1/namespaces"].get("delete").is_none());
        assert_eq!(
            paths["/api/v1/namespaces/{name}"].pointer("/get/operationId"),
            Some(&json!("readCoreV1Namespace"))
        );
    }

    #[test]
    fn patch_operations_offer_field_validation_and_strategic_merge() {
        for dialect in [Dialect::V2, Dialect::V3] {
            let paths = render(&resource("Pod"), dialect);
            let patch = paths["/api/v1/namespaces/{namespace}/pods/{name}"]
                .get("patch")
                .expect("patch");
            let names: Vec<&str> = patch["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert!(names.contains(&"fieldValidation"), "{dialect:?}");
            assert_eq!(
                patch["x-kubernetes-group-version-kind"],
                json!({ "group": "", "kind": "Pod", "version": "v1" })
            );
            let offers_smp = match dialect {
                Dialect::V2 => patch["consumes"]
                    .as_array()
                    .expect("consumes")
                    .contains(&json!(STRATEGIC_MERGE_PATCH)),
                Dialect::V3 => patch
                    .pointer("/requestBody/content")
                    .and_then(|c| c.get(STRATEGIC_MERGE_PATCH))
                    .is_some(),
            };
            assert!(offers_smp, "{dialect:?}");
        }
    }

    #[test]
    fn v2_bodies_are_body_parameters_and_v3_bodies_request_bodies() {
        let v2 = render(&resource("ConfigMap"), Dialect::V2);
        let create = &v2["/api/v1/namespaces/{namespace}/configmaps"]["post"];
        let body = create["parameters"]
            .as_array()
            .expect("params")
            .iter()
            .find(|p| p["in"] == "body")
            .expect("body param");
        assert_eq!(
            body["schema"]["$ref"],
            json!("#/definitions/io.k8s.api.core.v1.ConfigMap")
        );
        assert!(create.get("requestBody").is_none());
        let v3 = render(&resource("ConfigMap"), Dialect::V3);
        let create = &v3["/api/v1/namespaces/{namespace}/configmaps"]["post"];
        assert_eq!(
            create.pointer("/requestBody/content/application~1json/schema/$ref"),
            Some(&json!("#/components/schemas/io.k8s.api.core.v1.ConfigMap"))
        );
    }

    #[test]
    fn path_parameters_are_required_and_typed_per_dialect() {
        let v2 = render_param(
            &Param {
                name: "name",
                location: Location::Path,
                ty: ParamType::String,
                description: "d",
            },
            Dialect::V2,
        );
        assert_eq!(v2["required"], json!(true));
        assert_eq!(v2["type"], json!("string"));
        let v3 = render_param(&LIMIT, Dialect::V3);
        assert_eq!(v3["schema"]["type"], json!("integer"));
        assert!(v3.get("required").is_none());
        assert!(v3.get("type").is_none());
    }
}
