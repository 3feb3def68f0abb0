//! The HTTPS adapter: TLS (rustls) and HTTP/1.1 + HTTP/2 (hyper) around the
//! pure request parsing and the object verbs. It authenticates, bounds
//! bodies, dispatches, and turns results into JSON or Table responses and
//! watch streams. No API semantics live here.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited, combinators::BoxBody};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto, graceful::GracefulShutdown},
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::{
    allocation::{Allocators, Claims, claims_of},
    apply::{
        self,
        config::{self as applied, Write},
        schema::KindSchema,
    },
    authn::{Authenticator, User},
    authz, claims, defaults, discovery, fields,
    objects::{self, Objects, meta},
    openapi,
    owners::Propagation,
    patch,
    pki::CertifiedKey,
    protobuf, rbac,
    request::{self, Endpoint, Query, Request, RequestError, ResourceRequest, Verb},
    resources::{self, ResourceInfo},
    selector::{ObjectFilter, Seen},
    status::{ApiError, MAX_BODY_BYTES},
    store::{Event, EventKind, Store, StoreError, WatchItem},
    table,
    validation::{self, ValidateError},
};

/// A response body: a whole buffer or a stream (watches).
pub type Body = BoxBody<Bytes, Infallible>;

/// How long a watch runs when the client does not say (kube-apiserver
/// picks 30-60 minutes; clients re-watch from their last resourceVersion).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The certificate or key could not be used.
    #[error("TLS setup: {0}")]
    Tls(String),
    /// The address could not be bound.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS's reason.
        #[source]
        source: std::io::Error,
    },
}

/// The TLS configuration for `serving`, offering h2 and HTTP/1.1.
pub fn tls_config(serving: &CertifiedKey) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let certs = CertificateDer::pem_slice_iter(serving.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServeError::Tls(format!("certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(serving.key_pem.as_bytes())
        .map_err(|e| ServeError::Tls(format!("private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The API: what every request is served from.
pub struct Api<S> {
    objects: Objects<S>,
    /// Held only for in-memory bookkeeping, never across an await; the
    /// store's claim keys ([`claims`]) are what rule between replicas.
    allocators: Arc<std::sync::Mutex<Allocators>>,
    authn: Authenticator,
    /// `host:port` clients reach the server at (for `/api`).
    server_address: String,
    /// Names of namespaces marked for deletion, for the namespace finalizer.
    terminating: tokio::sync::mpsc::UnboundedSender<String>,
    /// The RBAC policy in force.
    policy: Arc<authz::PolicyCache>,
    shutdown: CancellationToken,
}

impl<S: Store> Api<S> {
    /// An API over `objects`, authenticating with `authn`.
    pub fn new(
        objects: Objects<S>,
        allocators: Allocators,
        authn: Authenticator,
        server_address: String,
        terminating: tokio::sync::mpsc::UnboundedSender<String>,
        policy: Arc<authz::PolicyCache>,
        shutdown: CancellationToken,
    ) -> Api<S> {
        Api {
            objects,
            allocators: Arc::new(std::sync::Mutex::new(allocators)),
            authn,
            server_address,
            terminating,
            policy,
            shutdown,
        }
    }

    /// 403 unless RBAC allows `user` to do what `attributes` describe.
    fn authorize(&self, user: &User, attributes: &rbac::Attributes) -> Result<(), ApiError> {
        let decision = rbac::authorize(&self.policy.get(), &authz::user_info(user), attributes);
        if decision.is_allowed() {
            return Ok(());
        }
        let mut error = match attributes {
            rbac::Attributes::Resource {
                verb,
                api_group,
                resource,
                namespace,
                ..
            } => match resources::RESOURCES
                .iter()
                .find(|r| r.group == api_group && r.plural == resource)
            {
                Some(info) => ApiError::forbidden(&user.name, verb, info, namespace.as_deref()),
                None => ApiError::no_such_resource(),
            },
            rbac::Attributes::NonResource { verb, path } => ApiError {
                code: 403,
                reason: "Forbidden",
                message: format!(
                    "forbidden: User \"{}\" cannot {verb} path \"{path}\"",
                    user.name
                ),
                details: None,
            },
        };
        if !decision.reason().is_empty() {
            error.message = format!("{}: {}", error.message, decision.reason());
        }
        Err(error)
    }

    /// Answers a SelfSubjectAccessReview: may the caller do this?
    async fn review(
        &self,
        verb: Verb,
        resource: &ResourceInfo,
        http: http::Request<Incoming>,
        user: &User,
    ) -> Result<Response<Body>, ApiError> {
        if verb != Verb::Create || resource.kind != "SelfSubjectAccessReview" {
            return Err(ApiError::method_not_allowed());
        }
        let mut review = read_json(http).await?;
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        let attributes = if let Some(r) = review.pointer("/spec/resourceAttributes") {
            rbac::Attributes::Resource {
                verb: text(r, "verb").unwrap_or_default(),
                api_group: text(r, "group").unwrap_or_default(),
                resource: text(r, "resource").unwrap_or_default(),
                subresource: text(r, "subresource").filter(|s| !s.is_empty()),
                namespace: text(r, "namespace").filter(|s| !s.is_empty()),
                name: text(r, "name").filter(|s| !s.is_empty()),
            }
        } else if let Some(n) = review.pointer("/spec/nonResourceAttributes") {
            rbac::Attributes::NonResource {
                verb: text(n, "verb").unwrap_or_default(),
                path: text(n, "path").unwrap_or_default(),
            }
        } else {
            return Err(ApiError::bad_request(
                "spec: exactly one of resourceAttributes or nonResourceAttributes must be set",
            ));
        };
        let decision = rbac::authorize(&self.policy.get(), &authz::user_info(user), &attributes);
        review["status"] = json!({
            "allowed": decision.is_allowed(),
            "reason": decision.reason(),
        });
        Ok(json_response(StatusCode::CREATED, &review))
    }

    /// This API with writes turned into dry runs (`dryRun=All`): every
    /// check and allocation runs, nothing is stored, and allocated
    /// addresses are given back.
    fn dry_run_view(&self) -> Api<S> {
        Api {
            objects: self.objects.dry_run(),
            allocators: self.allocators.clone(),
            authn: self.authn.clone(),
            server_address: self.server_address.clone(),
            terminating: self.terminating.clone(),
            policy: self.policy.clone(),
            shutdown: self.shutdown.clone(),
        }
    }

    /// The object verbs.
    pub fn objects(&self) -> &Objects<S> {
        &self.objects
    }

    /// Deletes one object; once it is really gone (not held by finalizers)
    /// its addresses go back to the allocators, and a namespace marked for
    /// deletion is handed to the namespace finalizer.
    pub async fn delete_object(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        precondition: Option<i64>,
        propagation: Propagation,
    ) -> Result<Value, ApiError> {
        let deleted = self
            .objects
            .delete_with(resource, namespace, name, precondition, propagation)
            .await?;
        if self.objects.is_dry_run() {
            return Ok(deleted);
        }
        let marked = deleted
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null());
        if !marked {
            self.release_held(&claims_of(resource.kind, &deleted)).await;
        } else if is_core(resource, "Namespace") {
            // The receiver only goes away at shutdown; a restart resumes.
            let _ = self.terminating.send(name.to_owned());
        }
        Ok(deleted)
    }
}

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Serves `api` over TLS on `listener` until `api`'s shutdown token fires,
/// then stops accepting and waits (up to 10 s) for open connections.
pub async fn serve<S: Store>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    api: Arc<Api<S>>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    let shutdown = api.shutdown.clone();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let acceptor = acceptor.clone();
        let api = api.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let service = service_fn(move |req| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(api.handle(req).await) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("connections still open after 10 s; closing");
        }
    }
}

fn full(code: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = code;
    if let Ok(value) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

fn json_response(code: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => full(code, "application/json", bytes),
        Err(e) => error_response(&ApiError::internal(format!("encoding response: {e}"))),
    }
}

fn error_response(error: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut status = serde_json::to_value(error.to_status()).unwrap_or(Value::Null);
    if let Some(obj) = status.as_object_mut() {
        obj.insert("kind".into(), json!("Status"));
        obj.insert("apiVersion".into(), json!("v1"));
    }
    json_response(code, &status)
}

/// What representation the client asked for in `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Representation {
    Json,
    Table,
}

fn representation(headers: &HeaderMap) -> Representation {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // kubectl get lists the Table form first, with JSON as a fallback.
    let first = accept.split(',').next().unwrap_or("");
    if first.contains("as=Table") {
        Representation::Table
    } else {
        Representation::Json
    }
}

impl<S: Store> Api<S> {
    async fn handle(&self, req: http::Request<Incoming>) -> Response<Body> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let response = match self.route(req).await {
            Ok(response) => response,
            Err(error) => error_response(&error),
        };
        tracing::debug!(%method, %path, status = response.status().as_u16(), "request");
        response
    }

    async fn route(&self, req: http::Request<Incoming>) -> Result<Response<Body>, ApiError> {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let user = self
            .authn
            .authenticate(authorization)
            .cloned()
            .ok_or_else(ApiError::unauthorized)?;
        let parsed = request::parse(
            req.method().as_str(),
            req.uri().path(),
            req.uri().query().unwrap_or(""),
        )
        .map_err(|e| match e {
            RequestError::NotFound => ApiError::no_such_resource(),
            RequestError::MethodNotAllowed => ApiError::method_not_allowed(),
            RequestError::BadQuery(message) => ApiError::bad_request(message),
        })?;
        match &parsed {
            Request::Endpoint(_) => {
                self.authorize(&user, &authz::path_attributes(req.uri().path()))?
            }
            // Reviews answer questions about the caller: every authenticated
            // user may ask (system:basic-user), and the answer is the check.
            Request::Resource(r) if !r.resource.stored => {}
            Request::Resource(r) => self.authorize(&user, &authz::resource_attributes(r))?,
        }
        match parsed {
            Request::Endpoint(endpoint) => {
                let accept = req
                    .headers()
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                self.endpoint(endpoint, accept)
            }
            Request::Resource(resource) if resource.query.dry_run && resource.verb.writes() => {
                self.dry_run_view().resource(*resource, req, &user).await
            }
            Request::Resource(resource) => self.resource(*resource, req, &user).await,
        }
    }

    fn endpoint(&self, endpoint: Endpoint, accept: &str) -> Result<Response<Body>, ApiError> {
        match endpoint {
            Endpoint::Version => Ok(json_response(
                StatusCode::OK,
                &json!({
                    "major": "1",
                    "minor": "33",
                    "gitVersion": concat!("v1.33.0-strait.", env!("CARGO_PKG_VERSION")),
                    "gitCommit": "",
                    "gitTreeState": "clean",
                    "buildDate": "",
                    "goVersion": "",
                    "compiler": "rustc",
                    "platform": "linux/amd64",
                }),
            )),
            Endpoint::Health(_) => Ok(full(StatusCode::OK, "text/plain", "ok")),
            Endpoint::CoreVersions => Ok(json_response(
                StatusCode::OK,
                &with_type(
                    discovery::core_versions(&self.server_address),
                    "APIVersions",
                    "v1",
                ),
            )),
            Endpoint::Groups => Ok(json_response(
                StatusCode::OK,
                &with_type(discovery::groups(), "APIGroupList", "v1"),
            )),
            Endpoint::Group(name) => discovery::group(&name)
                .map(|g| json_response(StatusCode::OK, &with_type(g, "APIGroup", "v1")))
                .ok_or_else(ApiError::no_such_resource),
            Endpoint::Resources { group, version } => discovery::resource_list(&group, &version)
                .map(|l| json_response(StatusCode::OK, &with_type(l, "APIResourceList", "v1")))
                .ok_or_else(ApiError::no_such_resource),
            Endpoint::OpenApiV2 => {
                if openapi::wants_v2_protobuf(accept) {
                    let bytes = openapi::v2_protobuf()
                        .map_err(|e| ApiError::internal(format!("encoding OpenAPI v2: {e}")))?;
                    Ok(full(
                        StatusCode::OK,
                        openapi::V2_PROTOBUF_RESPONSE_CONTENT_TYPE,
                        bytes,
                    ))
                } else {
                    Ok(full(StatusCode::OK, "application/json", openapi::v2_json()))
                }
            }
            Endpoint::OpenApiV3(None) => Ok(full(
                StatusCode::OK,
                "application/json",
                openapi::v3_index_json(),
            )),
            Endpoint::OpenApiV3(Some(path)) => openapi::v3_group_version_json(&path)
                .map(|doc| full(StatusCode::OK, "application/json", doc))
                .ok_or_else(ApiError::no_such_resource),
        }
    }

    async fn resource(
        &self,
        request: ResourceRequest,
        http: http::Request<Incoming>,
        user: &User,
    ) -> Result<Response<Body>, ApiError> {
        let ResourceRequest {
            verb,
            resource,
            namespace,
            name,
            subresource,
            query,
        } = request;
        let ns = namespace.as_deref();
        let representation = representation(http.headers());
        let user_agent = http
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let manager = |write: Write| {
            applied::field_manager(query.field_manager.as_deref(), user_agent.as_deref(), write)
        };
        tracing::trace!(user = %user.name, verb = verb.as_str(), resource = resource.plural, "authorized");
        if !resource.stored {
            return self.review(verb, resource, http, user).await;
        }
        let name = name.as_deref().unwrap_or("");
        let status_only = subresource.is_some();
        let scope = if status_only {
            apply::Scope::Status
        } else {
            apply::Scope::Main
        };
        if subresource == Some(resources::Subresource::Scale) {
            let manager = match verb {
                Verb::Update => manager(Write::Update)?,
                _ => manager(Write::Patch)?,
            };
            return self.scale(verb, resource, ns, name, http, &manager).await;
        }
        match verb {
            Verb::Get => {
                let object = self.objects.get(resource, ns, name).await?;
                Ok(self.present(resource, representation, vec![object], None))
            }
            Verb::List => {
                let filter = object_filter(resource, &query)?;
                if representation == Representation::Json {
                    let bytes = self
                        .objects
                        .list_encoded(resource, ns, &query, |o| filter.matches(o))
                        .await?;
                    return Ok(full(StatusCode::OK, "application/json", bytes));
                }
                let list = self
                    .objects
                    .list(resource, ns, &query, |o| filter.matches(o))
                    .await?;
                match representation {
                    Representation::Json => Ok(json_response(StatusCode::OK, &list)),
                    Representation::Table => {
                        let items = list["items"].as_array().cloned().unwrap_or_default();
                        Ok(self.present(
                            resource,
                            representation,
                            items,
                            Some(list["metadata"].clone()),
                        ))
                    }
                }
            }
            Verb::Watch => self.watch(resource, ns, &query, representation).await,
            Verb::Create => {
                let manager = manager(Write::Create)?;
                let body = read_json(http).await?;
                strict_fields(resource, &query, &body)?;
                let fields = Fields::Record {
                    manager: &manager,
                    scope,
                };
                let created = self.create_object(resource, ns, name, body, fields).await?;
                Ok(json_response(StatusCode::CREATED, &created))
            }
            Verb::Update => {
                let manager = manager(Write::Update)?;
                let body = read_json(http).await?;
                strict_fields(resource, &query, &body)?;
                let fields = Fields::Record {
                    manager: &manager,
                    scope,
                };
                let updated = self
                    .update_object(resource, ns, name, body, status_only, fields)
                    .await?;
                Ok(json_response(StatusCode::OK, &updated))
            }
            Verb::Delete => {
                let options = delete_options(http, &query).await?;
                let (precondition, propagation) = (options.precondition, options.propagation);
                let deleted = if options.dry_run && !self.objects.is_dry_run() {
                    self.dry_run_view()
                        .delete_object(resource, ns, name, precondition, propagation)
                        .await?
                } else {
                    self.delete_object(resource, ns, name, precondition, propagation)
                        .await?
                };
                Ok(json_response(StatusCode::OK, &deleted))
            }
            Verb::DeleteCollection => {
                let filter = object_filter(resource, &query)?;
                let list = self
                    .objects
                    .list(resource, ns, &Query::default(), |o| filter.matches(o))
                    .await?;
                let mut deleted = Vec::new();
                for item in list["items"].as_array().into_iter().flatten() {
                    let (Some(name), item_ns) = (meta::name(item), meta::namespace(item)) else {
                        continue;
                    };
                    match self
                        .delete_object(resource, item_ns, name, None, Propagation::Background)
                        .await
                    {
                        Ok(object) => deleted.push(object),
                        Err(e) if e.code == 404 => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(json_response(
                    StatusCode::OK,
                    &json!({
                        "apiVersion": resource.api_version,
                        "kind": resource.list_kind,
                        "metadata": {},
                        "items": deleted,
                    }),
                ))
            }
            Verb::Patch => {
                let patch_type = patch_type(&http)?;
                if patch_type == patch::PatchType::Apply {
                    let manager = manager(Write::Apply)?;
                    let bytes = read_body(http).await?;
                    let target = Target { resource, ns, name };
                    let (code, applied) = self
                        .apply_object(&target, &bytes, status_only, &query, &manager)
                        .await?;
                    return Ok(json_response(code, &applied));
                }
                let manager = manager(Write::Patch)?;
                let bytes = read_body(http).await?;
                let fields = Fields::Record {
                    manager: &manager,
                    scope,
                };
                let patched = self
                    .patch_object(
                        resource,
                        ns,
                        name,
                        patch_type,
                        &bytes,
                        status_only,
                        &query,
                        fields,
                    )
                    .await?;
                Ok(json_response(StatusCode::OK, &patched))
            }
        }
    }

    /// Creates `body`: defaults, managedFields, allocation (claimed before
    /// the write and given back if it fails), validation, then the write.
    /// `name` is the URL's (empty for a POST to the collection).
    async fn create_object(
        &self,
        resource: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        mut body: Value,
        fields: Fields<'_>,
    ) -> Result<Value, ApiError> {
        if resource.namespaced
            && let Some(ns) = ns
        {
            self.require_namespace(ns).await?;
        }
        let prepare = |object: &mut Value| {
            defaults::apply_defaults(resource.kind, object);
            if is_core(resource, "Service") {
                defaults::prepare_service(object, None);
            }
        };
        prepare(&mut body);
        // What the client sent and defaulting filled in is the creator's;
        // the addresses allocated next are the server's.
        fields.record(resource, None, &mut body, &objects::now());
        let owner = claims::owner(resource.kind, ns, meta::name(&body).unwrap_or(name));
        let claims = self
            .allocate_held(resource, &Claims::default(), &mut body, name, &owner)
            .await?;
        let result = self
            .objects
            .create(resource, ns, body, |object| {
                prepare(object);
                if is_core(resource, "Namespace")
                    && let Some(obj) = object.as_object_mut()
                {
                    // As kube-apiserver's namespace strategy does on create.
                    let spec = obj.entry("spec").or_insert_with(|| json!({}));
                    spec["finalizers"] = json!(["kubernetes"]);
                }
                validate(resource, object, None)
            })
            .await;
        if result.is_err() || self.objects.is_dry_run() {
            self.release_held(&claims).await;
        }
        result
    }

    /// Replaces object `name` (or its status) with `body`: Service address
    /// bookkeeping, allocation, defaults, managedFields and validation,
    /// then the write.
    async fn update_object(
        &self,
        resource: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        mut body: Value,
        status_only: bool,
        fields: Fields<'_>,
    ) -> Result<Value, ApiError> {
        let now = objects::now();
        // A status write takes all metadata from the stored object, so an
        // apply's own result is put back.
        let applied_fields = match fields {
            Fields::Applied if status_only => body.pointer("/metadata/managedFields").cloned(),
            _ => None,
        };
        let admit = |old: &Value, new: &mut Value| {
            defaults::apply_defaults(resource.kind, new);
            fields.record(resource, Some(old), new, &now);
            if let Some(managed) = &applied_fields
                && let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut)
            {
                m.insert("managedFields".into(), managed.clone());
            }
            // Validation reads the version the update is based on.
            if meta::resource_version(new).ok().flatten().is_none()
                && let Some(rv) = old.pointer("/metadata/resourceVersion").cloned()
                && let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut)
            {
                m.insert("resourceVersion".into(), rv);
            }
            validate(resource, new, Some(old))
        };
        if status_only {
            return self
                .objects
                .update(resource, ns, name, body, true, admit)
                .await;
        }
        let stored = self.objects.get(resource, ns, name).await?;
        if is_core(resource, "Service") {
            // Keeps the addresses a client that omits them already holds.
            defaults::prepare_service(&mut body, Some(&stored));
        }
        let old = claims_of(resource.kind, &stored);
        let owner = claims::owner(resource.kind, ns, name);
        let new = self
            .allocate_held(resource, &old, &mut body, name, &owner)
            .await?;
        match self
            .objects
            .update(resource, ns, name, body, false, admit)
            .await
        {
            Ok(updated) if self.objects.is_dry_run() => {
                self.release_held(&difference(&new, &old)).await;
                Ok(updated)
            }
            Ok(updated) => {
                self.release_held(&difference(&old, &new)).await;
                Ok(updated)
            }
            Err(e) => {
                self.release_held(&difference(&new, &old)).await;
                Err(e)
            }
        }
    }

    /// Applies a patch to the stored object and writes the result on the
    /// condition that nothing changed in between, retrying when something
    /// did (unless the patch itself names a resourceVersion), as
    /// kube-apiserver's guaranteed update does.
    #[allow(clippy::too_many_arguments)]
    async fn patch_object(
        &self,
        resource: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        patch_type: patch::PatchType,
        bytes: &[u8],
        status_only: bool,
        query: &Query,
        fields: Fields<'_>,
    ) -> Result<Value, ApiError> {
        for _ in 0..PATCH_RETRIES {
            let current = self.objects.get(resource, ns, name).await?;
            let patched = patch::apply_patch(resource.kind, patch_type, &current, bytes)
                .map_err(patch_error)?;
            strict_fields(resource, query, &patched)?;
            let client_precondition =
                meta::resource_version(&patched)? != meta::resource_version(&current)?;
            match self
                .update_object(resource, ns, name, patched, status_only, fields)
                .await
            {
                Err(e) if e.reason == "Conflict" && !client_precondition => continue,
                result => return result,
            }
        }
        Err(ApiError::conflict(resource, name))
    }

    /// Server-side apply of the configuration in `body` by `manager`: merged
    /// into the stored object and written through the update path, or, when
    /// there is none, created through the create path (201). Like
    /// [`Api::patch_object`], it starts again when another write got in
    /// between, unless the configuration names a resourceVersion.
    async fn apply_object(
        &self,
        target: &Target<'_>,
        body: &[u8],
        status_only: bool,
        query: &Query,
        manager: &str,
    ) -> Result<(StatusCode, Value), ApiError> {
        let Target { resource, ns, name } = *target;
        let config = applied::decode(body)?;
        applied::check_type(resource, &config)?;
        applied::check_fields(resource, &config)
            .map_err(|e| applied::apply_error(&e, resource, ns, name))?;
        let schema = KindSchema::of(resource.kind);
        let scope = if status_only {
            apply::Scope::Status
        } else {
            apply::Scope::Main
        };
        let apply_to = |live: Option<&Value>| {
            let now = objects::now();
            let request = apply::Request {
                manager,
                api_version: resource.api_version,
                now: &now,
                scope,
            };
            let object = apply::apply_scoped(&request, live, &config, query.force, &schema)
                .map_err(|e| applied::apply_error(&e, resource, ns, name))?;
            applied::check_name(&object, name, ns)?;
            Ok::<_, ApiError>(object)
        };
        for _ in 0..PATCH_RETRIES {
            match self.objects.get(resource, ns, name).await {
                Ok(live) => {
                    let object = apply_to(Some(&live))?;
                    let client_precondition =
                        meta::resource_version(&object)? != meta::resource_version(&live)?;
                    match self
                        .update_object(resource, ns, name, object, status_only, Fields::Applied)
                        .await
                    {
                        Err(e) if e.reason == "Conflict" && !client_precondition => continue,
                        result => return result.map(|o| (StatusCode::OK, o)),
                    }
                }
                Err(e) if e.code == 404 && !status_only => {
                    let object = apply_to(None)?;
                    match self
                        .create_object(resource, ns, name, object, Fields::Applied)
                        .await
                    {
                        Err(e) if e.reason == "AlreadyExists" => continue,
                        result => return result.map(|o| (StatusCode::CREATED, o)),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(ApiError::conflict(resource, name))
    }

    /// The `/scale` subresource of Deployments and ReplicaSets: an
    /// autoscaling/v1 Scale view of `spec.replicas`.
    async fn scale(
        &self,
        verb: Verb,
        resource: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        http: http::Request<Incoming>,
        manager: &str,
    ) -> Result<Response<Body>, ApiError> {
        let object = self.objects.get(resource, ns, name).await?;
        let current = scale_of(&object);
        let wanted = match verb {
            Verb::Get => return Ok(json_response(StatusCode::OK, &current)),
            Verb::Update => read_json(http).await?,
            Verb::Patch => {
                let patch_type = patch_type(&http)?;
                let bytes = read_body(http).await?;
                // Scale has no strategic-merge metadata: apply as a merge patch.
                let patch_type = match patch_type {
                    patch::PatchType::Strategic => patch::PatchType::Merge,
                    other => other,
                };
                patch::apply_patch("Scale", patch_type, &current, &bytes).map_err(patch_error)?
            }
            _ => return Err(ApiError::method_not_allowed()),
        };
        let replicas = wanted
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .ok_or_else(|| ApiError::bad_request("Scale spec.replicas must be an integer"))?;
        let mut updated = object.clone();
        updated["spec"]["replicas"] = json!(replicas);
        if let Some(rv) = wanted.pointer("/metadata/resourceVersion").cloned()
            && let Some(m) = updated.get_mut("metadata").and_then(Value::as_object_mut)
        {
            m.insert("resourceVersion".into(), rv);
        }
        let fields = Fields::Record {
            manager,
            scope: apply::Scope::Scale,
        };
        let written = self
            .update_object(resource, ns, name, updated, false, fields)
            .await?;
        Ok(json_response(StatusCode::OK, &scale_of(&written)))
    }

    /// Assigns the addresses a Service or Node write asks for (422 when a
    /// requested one is taken or out of range).
    fn allocate(
        &self,
        resource: &ResourceInfo,
        old: &Claims,
        object: &mut Value,
        name: &str,
    ) -> Result<Claims, ApiError> {
        if !allocates(resource) {
            return Ok(Claims::default());
        }
        let mut allocators = self
            .allocators
            .lock()
            .map_err(|_| ApiError::internal("allocator state poisoned by an earlier panic"))?;
        allocators
            .reassign(resource.kind, old, object)
            .map_err(|causes| {
                let name = meta::name(object).unwrap_or(name).to_owned();
                ApiError::invalid(resource, &name, &causes)
            })
    }

    fn release(&self, claims: &Claims) {
        if let Ok(mut allocators) = self.allocators.lock() {
            allocators.release(claims);
        }
    }

    /// [`Api::allocate`], then claims the new values in the store (so no
    /// other replica can hold them), choosing again when another replica
    /// claimed one first. On error nothing new stays allocated or claimed.
    async fn allocate_held(
        &self,
        resource: &ResourceInfo,
        old: &Claims,
        object: &mut Value,
        name: &str,
        owner: &str,
    ) -> Result<Claims, ApiError> {
        const ATTEMPTS: usize = 8;
        if !allocates(resource) {
            return Ok(Claims::default());
        }
        for _ in 0..ATTEMPTS {
            let mut candidate = object.clone();
            let claims = self.allocate(resource, old, &mut candidate, name)?;
            let fresh = difference(&claims, old);
            match claims::hold(self.objects.store(), &fresh, owner).await {
                Ok(()) => {
                    *object = candidate;
                    return Ok(claims);
                }
                Err(claims::HoldError::Taken(item)) => {
                    // Held by another replica: it stays marked here, the
                    // rest goes back, and the next attempt chooses again
                    // (or refuses a value the client asked for).
                    self.release(&difference(&fresh, &item.as_claims()));
                }
                Err(claims::HoldError::Store(e)) => {
                    self.release(&fresh);
                    return Err(ApiError::internal(format!("claiming addresses: {e}")));
                }
            }
        }
        Err(ApiError::internal(
            "could not claim addresses: other replicas kept taking them",
        ))
    }

    /// Gives back `claims`: the store keys, then memory. A key that cannot
    /// be deleted now is left to the leader's claims repair.
    async fn release_held(&self, claims: &Claims) {
        if let Err(e) = claims::give_back(self.objects.store(), claims).await {
            tracing::warn!(error = %e, "giving back claims; the claims repair will");
        }
        self.release(claims);
    }

    /// The allocators, shared with the claims follower.
    pub fn allocators(&self) -> &Arc<std::sync::Mutex<Allocators>> {
        &self.allocators
    }

    /// Objects as JSON, or as a Table when the client asked for one.
    fn present(
        &self,
        resource: &ResourceInfo,
        representation: Representation,
        mut objects: Vec<Value>,
        list_metadata: Option<Value>,
    ) -> Response<Body> {
        match (representation, list_metadata) {
            (Representation::Json, None) if objects.len() == 1 => {
                json_response(StatusCode::OK, &objects.remove(0))
            }
            (_, metadata) => {
                let now = jiff::Timestamp::now().as_second();
                let metadata = metadata.unwrap_or_else(|| json!({}));
                json_response(
                    StatusCode::OK,
                    // Every column: kubectl hides priority > 0 unless -o wide.
                    &table::render(resource, &objects, metadata, now, true),
                )
            }
        }
    }

    async fn require_namespace(&self, namespace: &str) -> Result<(), ApiError> {
        let namespaces = resources::find("", "v1", "namespaces")
            .ok_or_else(|| ApiError::internal("namespaces are not served"))?;
        let ns = self.objects.get(namespaces, None, namespace).await?;
        if ns
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
        {
            return Err(ApiError {
                code: 403,
                reason: "Forbidden",
                message: format!(
                    "unable to create new content in namespace {namespace} because it is being terminated"
                ),
                details: None,
            });
        }
        Ok(())
    }

    /// A watch stream: synthetic ADDED events for the current state when the
    /// client gave no resourceVersion (or "0"), then every change after it.
    async fn watch(
        &self,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
        query: &Query,
        representation: Representation,
    ) -> Result<Response<Body>, ApiError> {
        let filter = object_filter(resource, query)?;
        let (initial, after) = match query.resource_version.as_deref() {
            None | Some("0") => {
                let list = self
                    .objects
                    .list(resource, namespace, &Query::default(), |o| {
                        filter.matches(o)
                    })
                    .await?;
                let revision = meta::parse_revision(
                    list["metadata"]["resourceVersion"].as_str().unwrap_or("0"),
                )?;
                (
                    list["items"].as_array().cloned().unwrap_or_default(),
                    revision,
                )
            }
            Some(rv) => (Vec::new(), meta::parse_revision(rv)?),
        };
        let prefix = resource.namespace_prefix(namespace);
        let mut watch = match self.objects.store().watch(&prefix, after).await {
            Ok(watch) => watch,
            // kube-apiserver answers a too-old resourceVersion with 200 and
            // one ERROR event, and clients (kube-runtime, client-go
            // reflectors) re-list only on that form.
            Err(e @ StoreError::Compacted { .. }) => {
                let status = error_status(&objects::store_error(e, resource, ""));
                let mut line = serde_json::to_vec(&json!({"type": "ERROR", "object": status}))
                    .unwrap_or_default();
                line.push(b'\n');
                return Ok(full(StatusCode::OK, "application/json", line));
            }
            Err(e) => return Err(objects::store_error(e, resource, "")),
        };
        let bookmarks = query.allow_watch_bookmarks;
        let timeout = query
            .timeout_seconds
            .map_or(DEFAULT_WATCH_TIMEOUT, Duration::from_secs);
        let shutdown = self.shutdown.clone();
        let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(64);
        tokio::spawn(async move {
            // kubectl get -w asks for every event's object as a one-row Table.
            let send = |mut event: Value| {
                if representation == Representation::Table
                    && matches!(
                        event["type"].as_str(),
                        Some("ADDED" | "MODIFIED" | "DELETED")
                    )
                {
                    let object = event["object"].take();
                    let rv = object.pointer("/metadata/resourceVersion").cloned();
                    let now = jiff::Timestamp::now().as_second();
                    event["object"] = table::render(
                        resource,
                        &[object],
                        json!({"resourceVersion": rv}),
                        now,
                        true,
                    );
                }
                let mut line = serde_json::to_vec(&event).unwrap_or_default();
                line.push(b'\n');
                Bytes::from(line)
            };
            for object in initial {
                if tx
                    .send_data(send(json!({"type": "ADDED", "object": object})))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            loop {
                let item = tokio::select! {
                    item = watch.next() => item,
                    () = &mut deadline => return,
                    () = shutdown.cancelled() => return,
                };
                let line = match item {
                    None => return,
                    Some(Ok(WatchItem::Event(event))) => match watch_event(&event, &filter) {
                        Some(line) => line,
                        None => continue,
                    },
                    Some(Ok(WatchItem::Progress(revision))) if bookmarks => json!({
                        "type": "BOOKMARK",
                        "object": {
                            "apiVersion": resource.api_version,
                            "kind": resource.kind,
                            "metadata": {"resourceVersion": revision.to_string()},
                        },
                    }),
                    Some(Ok(WatchItem::Progress(_))) => continue,
                    Some(Err(e)) => {
                        let status = error_status(&objects::store_error(e, resource, ""));
                        let _ = tx
                            .send_data(send(json!({"type": "ERROR", "object": status})))
                            .await;
                        return;
                    }
                };
                if tx.send_data(send(line)).await.is_err() {
                    return;
                }
            }
        });
        let mut response = Response::new(body.boxed());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        Ok(response)
    }
}

/// An autoscaling/v1 Scale for a Deployment or ReplicaSet.
fn scale_of(object: &Value) -> Value {
    let selector = object
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let meta = |field: &str| {
        object
            .pointer(&format!("/metadata/{field}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            "name": meta("name"),
            "namespace": meta("namespace"),
            "uid": meta("uid"),
            "resourceVersion": meta("resourceVersion"),
            "creationTimestamp": meta("creationTimestamp"),
        },
        "spec": {"replicas": object.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": object.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

/// How often a patch or an apply starts again after another write got in
/// between its read and its write.
const PATCH_RETRIES: usize = 16;

/// The object a request names.
#[derive(Clone, Copy)]
struct Target<'a> {
    resource: &'static ResourceInfo,
    ns: Option<&'a str>,
    name: &'a str,
}

/// How a write keeps `metadata.managedFields`.
#[derive(Clone, Copy)]
enum Fields<'a> {
    /// A create, update or patch by `manager` through `scope`: the fields
    /// it changed move to its Update entry.
    Record {
        manager: &'a str,
        scope: apply::Scope,
    },
    /// Server-side apply has worked them out already.
    Applied,
}

impl Fields<'_> {
    /// Brings `new`'s managedFields up to date after `old`. Stored entries
    /// that cannot be decoded are dropped rather than failing the write,
    /// as kube-apiserver's `UpdateNoErrors` does.
    fn record(self, resource: &ResourceInfo, old: Option<&Value>, new: &mut Value, now: &str) {
        let Fields::Record { manager, scope } = self else {
            return;
        };
        let request = apply::Request {
            manager,
            api_version: resource.api_version,
            now,
            scope,
        };
        match apply::record_update_scoped(&request, old, new, &KindSchema::of(resource.kind)) {
            Ok(recorded) => *new = recorded,
            Err(e) => {
                tracing::warn!(error = %e, kind = resource.kind, "dropping managedFields");
                if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove("managedFields");
                }
            }
        }
    }
}

/// The patch type of a PATCH request (415 for anything else).
fn patch_type(http: &http::Request<Incoming>) -> Result<patch::PatchType, ApiError> {
    let content_type = http
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    patch::PatchType::from_content_type(content_type).map_err(patch_error)
}

fn patch_error(e: patch::PatchError) -> ApiError {
    ApiError {
        code: e.code(),
        reason: e.reason(),
        message: e.message(),
        details: None,
    }
}

/// With `fieldValidation=Strict`, fields the kind does not have are a 400.
fn strict_fields(resource: &ResourceInfo, query: &Query, object: &Value) -> Result<(), ApiError> {
    if query.field_validation.as_deref() != Some("Strict") {
        return Ok(());
    }
    let unknown = fields::unknown_fields(resource.kind, object);
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request(fields::strict_error(&unknown)))
    }
}

fn is_core(resource: &ResourceInfo, kind: &str) -> bool {
    resource.group.is_empty() && resource.kind == kind
}

/// Validates `object` (against `old` on updates); 422 with the causes.
fn validate(resource: &ResourceInfo, object: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    match validation::validate(resource.kind, object, old) {
        Ok(causes) if causes.is_empty() => Ok(()),
        Ok(causes) => Err(ApiError::invalid(
            resource,
            meta::name(object).unwrap_or(""),
            &causes,
        )),
        Err(ValidateError::UnsupportedKind { .. }) => Ok(()),
        Err(e) => Err(ApiError::bad_request(e.to_string())),
    }
}

/// What `a` holds that `b` does not.
/// Whether writes of `resource` allocate addresses (core Services and Nodes).
fn allocates(resource: &ResourceInfo) -> bool {
    matches!(resource.kind, "Service" | "Node") && resource.group.is_empty()
}

fn difference(a: &Claims, b: &Claims) -> Claims {
    Claims {
        ips: a
            .ips
            .iter()
            .filter(|x| !b.ips.contains(x))
            .copied()
            .collect(),
        ports: a
            .ports
            .iter()
            .filter(|x| !b.ports.contains(x))
            .copied()
            .collect(),
        cidrs: a
            .cidrs
            .iter()
            .filter(|x| !b.cidrs.contains(x))
            .copied()
            .collect(),
    }
}

/// The request's selectors as a filter (400 when malformed or unsupported).
fn object_filter(resource: &ResourceInfo, query: &Query) -> Result<ObjectFilter, ApiError> {
    ObjectFilter::new(
        resource.kind,
        query.label_selector.as_deref(),
        query.field_selector.as_deref(),
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// A store event as this watcher sees it through `filter`, if at all.
fn watch_event(event: &Event, filter: &ObjectFilter) -> Option<Value> {
    let decode = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).ok();
    let mut object = decode(&event.record.value)?;
    meta::set_revision(&mut object, event.revision());
    let seen = match event.kind {
        EventKind::Created => filter.matches(&object).then_some(Seen::Added),
        EventKind::Deleted => filter.matches(&object).then_some(Seen::Deleted),
        EventKind::Updated => {
            let before = event.prev.as_ref().and_then(|p| decode(&p.value));
            filter.update(before.as_ref(), &object)
        }
    }?;
    let kind = match seen {
        Seen::Added => "ADDED",
        Seen::Modified => "MODIFIED",
        Seen::Deleted => "DELETED",
    };
    Some(json!({"type": kind, "object": object}))
}

fn error_status(error: &ApiError) -> Value {
    let mut status = serde_json::to_value(error.to_status()).unwrap_or(Value::Null);
    if let Some(obj) = status.as_object_mut() {
        obj.insert("kind".into(), json!("Status"));
        obj.insert("apiVersion".into(), json!("v1"));
    }
    status
}

fn with_type(value: impl serde::Serialize, kind: &str, api_version: &str) -> Value {
    let mut value = serde_json::to_value(value).unwrap_or(Value::Null);
    if let Some(obj) = value.as_object_mut() {
        obj.insert("kind".into(), json!(kind));
        obj.insert("apiVersion".into(), json!(api_version));
    }
    value
}

/// The body, bounded by [`MAX_BODY_BYTES`].
async fn read_body(http: http::Request<Incoming>) -> Result<Bytes, ApiError> {
    let collected = Limited::new(http.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ApiError::too_large()
            } else {
                ApiError::bad_request(format!("reading the request body: {e}"))
            }
        })?;
    Ok(collected.to_bytes())
}

/// A JSON object body (400 when it is not JSON, 415 for other media types).
/// The object in a request body: JSON, YAML, or a Kubernetes protobuf
/// envelope.
async fn read_json(http: http::Request<Incoming>) -> Result<Value, ApiError> {
    let content_type = http
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    if protobuf::is_protobuf(&content_type) {
        // kubectl's typed commands (create namespace, configmap, ...).
        let bytes = read_body(http).await?;
        return protobuf::decode(&bytes).map_err(|e| {
            if e.is_unsupported() {
                ApiError::unsupported_body(e.to_string())
            } else {
                ApiError::bad_request(e.to_string())
            }
        });
    }
    let value: Value = if content_type.starts_with("application/json") {
        let bytes = read_body(http).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!("the request body is not valid JSON: {e}"))
        })?
    } else if content_type.starts_with("application/yaml") {
        let bytes = read_body(http).await?;
        crate::apply::config::decode(&bytes)?
    } else {
        return Err(ApiError::unsupported_media_type(&content_type));
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    Ok(value)
}

/// What a delete asks for beyond the object's name.
struct DeleteOptions {
    precondition: Option<i64>,
    propagation: Propagation,
    dry_run: bool,
}

/// The options of a delete: an optional DeleteOptions body
/// (`preconditions.resourceVersion`, `propagationPolicy`,
/// `orphanDependents`, `dryRun`), else the query.
async fn delete_options(
    http: http::Request<Incoming>,
    query: &Query,
) -> Result<DeleteOptions, ApiError> {
    let bytes = if http.method() == Method::DELETE {
        read_body(http).await?
    } else {
        Default::default()
    };
    let options: Value = if bytes.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("DeleteOptions is not valid JSON: {e}")))?
    };
    let precondition = match options
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
    {
        Some(rv) => Some(meta::parse_revision(rv)?),
        None => None,
    };
    let policy = options
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .or(query.propagation_policy.as_deref());
    let orphan = options
        .get("orphanDependents")
        .and_then(Value::as_bool)
        .or(query.orphan_dependents);
    let propagation = Propagation::parse(policy, orphan).map_err(ApiError::bad_request)?;
    // kubectl sends dryRun in the body (`["All"]`), other clients in the query.
    let dry_run = query.dry_run
        || options
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        precondition,
        propagation,
        dry_run,
    })
}
