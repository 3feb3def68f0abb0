//! What an HTTP request asks of the API: the target (discovery, a resource
//! collection, an object, a subresource), the verb, and the typed query
//! options, parsed from method, path and query string the way
//! kube-apiserver's request-info resolver reads them.
//!
//! Pure: no I/O, no authorization, no object bodies.

use crate::resources::{self, ResourceInfo, Subresource};

/// The non-resource endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/version`.
    Version,
    /// `/healthz`, `/livez`, `/readyz` (with or without a check suffix).
    Health(Health),
    /// `/api`: the core group's versions.
    CoreVersions,
    /// `/apis`: every group.
    Groups,
    /// `/apis/<group>`.
    Group(String),
    /// `/api/v1`, `/apis/<group>/<version>`: the resources of a version.
    Resources {
        /// The group (empty for core).
        group: String,
        /// The version.
        version: String,
    },
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3` (the index) or `/openapi/v3/<path>` (one group-version).
    OpenApiV3(Option<String>),
}

/// Which health endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// `/healthz`.
    Healthz,
    /// `/livez`.
    Livez,
    /// `/readyz`.
    Readyz,
}

/// What is done to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET of a collection with `watch=true`.
    Watch,
    /// POST to a collection.
    Create,
    /// PUT of an object.
    Update,
    /// PATCH of an object.
    Patch,
    /// DELETE of an object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
}

impl Verb {
    /// Whether the verb writes (and so honours `dryRun`).
    pub fn writes(self) -> bool {
        !matches!(self, Verb::Get | Verb::List | Verb::Watch)
    }

    /// The RBAC verb name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// A request for a resource: a collection, an object or a subresource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRequest {
    /// The verb.
    pub verb: Verb,
    /// The resource.
    pub resource: &'static ResourceInfo,
    /// The namespace in the path (`None`: cluster-scoped, or all namespaces).
    pub namespace: Option<String>,
    /// The object's name, for object requests.
    pub name: Option<String>,
    /// The subresource, if any.
    pub subresource: Option<Subresource>,
    /// The query options.
    pub query: Query,
}

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// A non-resource endpoint (GET only).
    Endpoint(Endpoint),
    /// A resource request (boxed: it is much larger than an endpoint).
    Resource(Box<ResourceRequest>),
}

/// The query options kube-apiserver reads (ListOptions, GetOptions,
/// CreateOptions, PatchOptions, DeleteOptions as query parameters).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `limit` (0 means none).
    pub limit: Option<u64>,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub resource_version_match: Option<String>,
    /// `watch`.
    pub watch: bool,
    /// `allowWatchBookmarks`.
    pub allow_watch_bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<bool>,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `fieldValidation` (Ignore, Warn, Strict).
    pub field_validation: Option<String>,
    /// `force` (server-side apply conflicts).
    pub force: bool,
    /// `propagationPolicy`.
    pub propagation_policy: Option<String>,
    /// `orphanDependents` (deprecated form of propagationPolicy=Orphan).
    pub orphan_dependents: Option<bool>,
    /// `gracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
}

/// Why a request could not be understood; each maps to one HTTP status.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No such endpoint or resource (404).
    #[error("the server could not find the requested resource")]
    NotFound,
    /// The endpoint exists but not for this method (405).
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    /// A query parameter is malformed (400).
    #[error("{0}")]
    BadQuery(String),
}

/// Parses a request from its method, path (without query) and raw query.
pub fn parse(method: &str, path: &str, query: &str) -> Result<Request, RequestError> {
    let segments: Vec<&str> = path
        .trim_end_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segments.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => {
            resource_request(method, "", "v1", rest, query)
        }
        ["apis", group, version, rest @ ..] if !rest.is_empty() => {
            resource_request(method, group, version, rest, query)
        }
        _ => {
            if method != "GET" {
                return Err(match endpoint(&segments) {
                    Some(_) => RequestError::MethodNotAllowed,
                    None => RequestError::NotFound,
                });
            }
            endpoint(&segments)
                .map(Request::Endpoint)
                .ok_or(RequestError::NotFound)
        }
    }
}

fn endpoint(segments: &[&str]) -> Option<Endpoint> {
    let health = |kind| Some(Endpoint::Health(kind));
    match segments {
        ["version"] => Some(Endpoint::Version),
        ["healthz", ..] => health(Health::Healthz),
        ["livez", ..] => health(Health::Livez),
        ["readyz", ..] => health(Health::Readyz),
        ["api"] => Some(Endpoint::CoreVersions),
        ["api", "v1"] => Some(Endpoint::Resources {
            group: String::new(),
            version: "v1".into(),
        }),
        ["apis"] => Some(Endpoint::Groups),
        ["apis", group] => Some(Endpoint::Group((*group).to_owned())),
        ["apis", group, version] => Some(Endpoint::Resources {
            group: (*group).to_owned(),
            version: (*version).to_owned(),
        }),
        ["openapi", "v2"] => Some(Endpoint::OpenApiV2),
        ["openapi", "v3"] => Some(Endpoint::OpenApiV3(None)),
        ["openapi", "v3", rest @ ..] => Some(Endpoint::OpenApiV3(Some(rest.join("/")))),
        _ => None,
    }
}

/// `rest` is the path after the group-version.
fn resource_request(
    method: &str,
    group: &str,
    version: &str,
    rest: &[&str],
    query: &str,
) -> Result<Request, RequestError> {
    let lookup =
        |plural: &str| resources::find(group, version, plural).ok_or(RequestError::NotFound);
    // Resolve namespace, resource, name and subresource from the path shape.
    let (namespace, resource, name, sub) = match rest {
        // The namespace object itself: /namespaces/<name>[/status|/finalize].
        ["namespaces", name] => (None, lookup("namespaces")?, Some(*name), None),
        ["namespaces", name, "status"] => {
            (None, lookup("namespaces")?, Some(*name), Some("status"))
        }
        ["namespaces", ns, plural, tail @ ..] => {
            let resource = lookup(plural)?;
            if !resource.namespaced {
                return Err(RequestError::NotFound);
            }
            match tail {
                [] => (Some(*ns), resource, None, None),
                [name] => (Some(*ns), resource, Some(*name), None),
                [name, sub] => (Some(*ns), resource, Some(*name), Some(*sub)),
                _ => return Err(RequestError::NotFound),
            }
        }
        [plural, tail @ ..] => {
            let resource = lookup(plural)?;
            match tail {
                [] => (None, resource, None, None),
                // A namespaced object needs its namespace in the path.
                [_, ..] if resource.namespaced => return Err(RequestError::NotFound),
                [name] => (None, resource, Some(*name), None),
                [name, sub] => (None, resource, Some(*name), Some(*sub)),
                _ => return Err(RequestError::NotFound),
            }
        }
        [] => return Err(RequestError::NotFound),
    };
    let subresource = match sub {
        None => None,
        Some(s) => Some(
            resource
                .subresources
                .iter()
                .copied()
                .find(|r| r.name() == s)
                .ok_or(RequestError::NotFound)?,
        ),
    };
    let query = parse_query(query)?;
    let verb = match (method, name.is_some(), subresource.is_some()) {
        ("GET", false, false) if query.watch => Verb::Watch,
        ("GET", false, false) => Verb::List,
        ("POST", false, false) if namespace.is_some() || !resource.namespaced => Verb::Create,
        ("DELETE", false, false) => Verb::DeleteCollection,
        ("GET", true, _) => Verb::Get,
        ("PUT", true, _) => Verb::Update,
        ("PATCH", true, _) => Verb::Patch,
        ("DELETE", true, false) => Verb::Delete,
        _ => return Err(RequestError::MethodNotAllowed),
    };
    Ok(Request::Resource(Box::new(ResourceRequest {
        verb,
        resource,
        namespace: namespace.map(str::to_owned),
        name: name.map(str::to_owned),
        subresource,
        query,
    })))
}

/// Parses the query string; unknown parameters are ignored, as
/// kube-apiserver ignores them.
pub fn parse_query(raw: &str) -> Result<Query, RequestError> {
    let mut query = Query::default();
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        let value = value.into_owned();
        match key.as_ref() {
            "labelSelector" => query.label_selector = Some(value),
            "fieldSelector" => query.field_selector = Some(value),
            "limit" => query.limit = Some(number(&key, &value)?),
            "continue" => query.continue_token = Some(value).filter(|v| !v.is_empty()),
            "resourceVersion" => query.resource_version = Some(value).filter(|v| !v.is_empty()),
            "resourceVersionMatch" => query.resource_version_match = Some(value),
            "watch" => query.watch = boolean(&value),
            "allowWatchBookmarks" => query.allow_watch_bookmarks = boolean(&value),
            "sendInitialEvents" => query.send_initial_events = Some(boolean(&value)),
            "timeoutSeconds" => query.timeout_seconds = Some(number(&key, &value)?),
            "dryRun" => query.dry_run = value == "All",
            "fieldManager" => query.field_manager = Some(value),
            "fieldValidation" => query.field_validation = Some(value),
            "force" => query.force = boolean(&value),
            "propagationPolicy" => query.propagation_policy = Some(value),
            "orphanDependents" => query.orphan_dependents = Some(boolean(&value)),
            "gracePeriodSeconds" => {
                query.grace_period_seconds = Some(value.parse().map_err(|_| bad(&key, &value))?)
            }
            _ => {}
        }
    }
    Ok(query)
}

fn bad(key: &str, value: &str) -> RequestError {
    RequestError::BadQuery(format!("invalid value {value:?} for query parameter {key}"))
}

fn number(key: &str, value: &str) -> Result<u64, RequestError> {
    value.parse().map_err(|_| bad(key, value))
}

/// Booleans as apimachinery's query conversion reads them: "", "0" and
/// "false" (any case) are false, anything else is true; never an error.
fn boolean(value: &str) -> bool {
    !(value.is_empty() || value == "0" || value.eq_ignore_ascii_case("false"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(method: &str, path: &str, query: &str) -> ResourceRequest {
        match parse(method, path, query) {
            Ok(Request::Resource(r)) => *r,
            other => panic!("{method} {path}: expected a resource request, got {other:?}"),
        }
    }

    #[test]
    fn endpoints_parse() {
        let cases = [
            ("/version", Endpoint::Version),
            ("/healthz", Endpoint::Health(Health::Healthz)),
            ("/readyz/ping", Endpoint::Health(Health::Readyz)),
            ("/api", Endpoint::CoreVersions),
            ("/api/", Endpoint::CoreVersions),
            ("/apis", Endpoint::Groups),
            ("/apis/apps", Endpoint::Group("apps".into())),
            (
                "/api/v1",
                Endpoint::Resources {
                    group: String::new(),
                    version: "v1".into(),
                },
            ),
            (
                "/apis/networking.k8s.io/v1",
                Endpoint::Resources {
                    group: "networking.k8s.io".into(),
                    version: "v1".into(),
                },
            ),
            ("/openapi/v2", Endpoint::OpenApiV2),
            ("/openapi/v3", Endpoint::OpenApiV3(None)),
            (
                "/openapi/v3/apis/apps/v1",
                Endpoint::OpenApiV3(Some("apis/apps/v1".into())),
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(
                parse("GET", path, ""),
                Ok(Request::Endpoint(expected)),
                "{path}"
            );
        }
        assert_eq!(
            parse("POST", "/version", ""),
            Err(RequestError::MethodNotAllowed)
        );
        assert_eq!(parse("GET", "/nope", ""), Err(RequestError::NotFound));
    }

    #[test]
    fn verbs_follow_method_and_shape() {
        let cases = [
            ("GET", "/api/v1/namespaces/default/services", "", Verb::List),
            (
                "GET",
                "/api/v1/namespaces/default/services",
                "watch=1",
                Verb::Watch,
            ),
            ("GET", "/api/v1/services", "watch=true", Verb::Watch),
            (
                "POST",
                "/api/v1/namespaces/default/services",
                "",
                Verb::Create,
            ),
            (
                "DELETE",
                "/api/v1/namespaces/default/services",
                "",
                Verb::DeleteCollection,
            ),
            (
                "GET",
                "/api/v1/namespaces/default/services/web",
                "",
                Verb::Get,
            ),
            (
                "PUT",
                "/api/v1/namespaces/default/services/web",
                "",
                Verb::Update,
            ),
            (
                "PATCH",
                "/api/v1/namespaces/default/services/web",
                "",
                Verb::Patch,
            ),
            (
                "DELETE",
                "/api/v1/namespaces/default/services/web",
                "",
                Verb::Delete,
            ),
            (
                "PUT",
                "/api/v1/namespaces/default/services/web/status",
                "",
                Verb::Update,
            ),
            ("POST", "/api/v1/nodes", "", Verb::Create),
            ("GET", "/api/v1/nodes/n1", "", Verb::Get),
        ];
        for (method, path, query, verb) in cases {
            assert_eq!(
                resource(method, path, query).verb,
                verb,
                "{method} {path}?{query}"
            );
        }
        for (method, path) in [
            ("POST", "/api/v1/services"),
            ("POST", "/api/v1/namespaces/default/services/web"),
            ("DELETE", "/api/v1/namespaces/default/services/web/status"),
        ] {
            assert_eq!(
                parse(method, path, ""),
                Err(RequestError::MethodNotAllowed),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn paths_resolve_namespace_name_and_subresource() {
        let r = resource(
            "GET",
            "/apis/apps/v1/namespaces/prod/deployments/web/scale",
            "",
        );
        assert_eq!(r.resource.kind, "Deployment");
        assert_eq!(r.namespace.as_deref(), Some("prod"));
        assert_eq!(r.name.as_deref(), Some("web"));
        assert_eq!(r.subresource, Some(Subresource::Scale));

        let ns = resource("GET", "/api/v1/namespaces/prod", "");
        assert_eq!(
            (ns.resource.kind, ns.namespace, ns.name.as_deref()),
            ("Namespace", None, Some("prod"))
        );
        let ns_status = resource("PUT", "/api/v1/namespaces/prod/status", "");
        assert_eq!(ns_status.subresource, Some(Subresource::Status));

        let all = resource("GET", "/api/v1/pods", "");
        assert_eq!((all.namespace, all.name), (None, None));
    }

    #[test]
    fn unknown_and_misplaced_resources_are_not_found() {
        for path in [
            "/api/v1/widgets",
            "/apis/apps/v1/namespaces/default/services",
            "/api/v1/namespaces/default/nodes",
            "/api/v1/pods/web",
            "/api/v1/namespaces/default/services/web/scale",
            "/api/v1/namespaces/default/services/web/status/extra",
            "/apis/apps/v2/deployments",
        ] {
            assert_eq!(
                parse("GET", path, ""),
                Err(RequestError::NotFound),
                "{path}"
            );
        }
    }

    #[test]
    fn query_options_parse_and_bad_values_are_rejected() {
        let q = parse_query(
            "labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29&fieldSelector=spec.nodeName%3Dn1\
             &limit=500&continue=abc&resourceVersion=42&allowWatchBookmarks=true\
             &timeoutSeconds=30&dryRun=All&fieldManager=kubectl&force=false&gracePeriodSeconds=-1&x=y",
        )
        .expect("parses");
        assert_eq!(q.label_selector.as_deref(), Some("app=web,tier in (a,b)"));
        assert_eq!(q.field_selector.as_deref(), Some("spec.nodeName=n1"));
        assert_eq!((q.limit, q.timeout_seconds), (Some(500), Some(30)));
        assert_eq!(q.continue_token.as_deref(), Some("abc"));
        assert_eq!(q.resource_version.as_deref(), Some("42"));
        assert!(q.allow_watch_bookmarks && q.dry_run && !q.force && !q.watch);
        assert_eq!(q.grace_period_seconds, Some(-1));
        assert_eq!(
            parse_query("resourceVersion=&continue=").expect("parses"),
            Query::default()
        );

        let loose = parse_query("watch=yes&allowWatchBookmarks=FALSE&force=0").expect("parses");
        assert!(loose.watch && !loose.allow_watch_bookmarks && !loose.force);
        for raw in ["limit=ten", "timeoutSeconds=-1", "gracePeriodSeconds=x"] {
            assert!(
                matches!(parse_query(raw), Err(RequestError::BadQuery(_))),
                "{raw}"
            );
        }
    }
}
