//! OpenAPI documents for the served kinds, generated from k8s-openapi's `JsonSchema` impls:
//! the `/openapi/v3` index, one OpenAPI 3.0 document per group-version, and the Swagger 2.0
//! document (as JSON and as the protobuf that client-go actually reads).
//!
//! Pure: documents are computed once per process and handed out; nothing here does I/O, reads
//! a clock or knows about HTTP beyond content-type names. It must not hand-write schemas of
//! served types, and must not depend on the strategic-merge table at compile time (that comes
//! in through [`PatchExtensions`]).
//!
//! # What kubectl 1.27–1.33 fetches and needs (read from kubectl, cli-runtime and client-go)
//!
//! **Validation on `apply`/`create`/`replace`** (`--validate` defaults to `strict`;
//! `kubectl/pkg/cmd/util/factory_client_access.go` `Validator`, `kubectl/pkg/validation`,
//! `cli-runtime/pkg/resource/query_param_verifier_v3.go`, `fallback_query_param_verifier.go`):
//! 1. Per object, kubectl asks whether the server does field validation itself. Primary check
//!    (OpenAPI v3): `GET /openapi/v3` (the index), then the `serverRelativeURL` of
//!    `api/v1` or `apis/<group>/<version>` with `Accept: application/json`. It walks `paths`,
//!    takes the first `patch` operation whose `x-kubernetes-group-version-kind` (a single
//!    object `{group, kind, version}`) equals the object's GVK, and looks for a parameter
//!    **of that operation** (not the path item) named `fieldValidation` (1.33 also requires
//!    `in: query`). Found: supported. No such PATCH operation, or the GV missing from the
//!    index: "unsupported" (for a missing GV kubectl first lists CRDs through the dynamic
//!    client).
//! 2. Only if that check errs otherwise (index or document unreachable or unparsable) does
//!    kubectl fall back to the same check against `/openapi/v2` (1.27.0 fell back only on
//!    404; 1.27.16 on any error).
//! 3. Supported: no client-side validation; kubectl sends `fieldValidation=Strict` (the
//!    `--validate` value) as a query parameter on POST/PUT/PATCH and the server must reject
//!    unknown or duplicate fields. Unsupported with `strict`: client-side validation against
//!    the Swagger 2.0 models.
//! 4. `kind: List` files (`apiVersion: v1`) are always "unsupported", so they are always
//!    validated client-side against `/openapi/v2`, in every version 1.27–1.33.
//! 5. kubectl 1.27 and 1.28 fetch `/openapi/v2` eagerly when building the validator (and in
//!    `explain`), and fail the whole command if it cannot be read. 1.29+ fetch it lazily, only
//!    for client-side validation, `explain --output plaintext-openapiv2` and as a fallback.
//!
//! **`/openapi/v2` is protobuf only.** client-go's `DiscoveryClient.OpenAPISchema` sends
//! `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and decodes the body
//! with `proto.Unmarshal` into gnostic's `openapi_v2.Document`, whatever the response's
//! content type; a JSON body is a decode error. 1.27/1.28 retry `/swagger-2.0.0.pb-v1` after a
//! 403/404/406, 1.33 does not retry. So a JSON-only `/openapi/v2` breaks every `apply` on 1.27
//! and 1.28 and every `kind: List` apply on all versions: [`v2_protobuf`] provides the body
//! (serve it when the Accept header names [`V2_PROTOBUF_CONTENT_TYPE`], see
//! [`wants_v2_protobuf`], with `Content-Type: `[`V2_PROTOBUF_RESPONSE_CONTENT_TYPE`]: client-go
//! rejects a response whose content type is the `@` spelling it asked for; serve [`v2_json`]
//! otherwise). kubectl requests `/openapi/v3/...` group-version documents only with
//! `Accept: application/json`; the index request sets no Accept of its own (the REST client's
//! default) and is parsed as JSON.
//!
//! **Strategic merge patches in `apply`** (`kubectl/pkg/cmd/apply/patcher.go`): 1.29+ first
//! use OpenAPI v3: the GV document's PATCH operation for the GVK must list
//! `application/strategic-merge-patch+json` in `requestBody.content`; then the component schema
//! whose `x-kubernetes-group-version-kind` **array** contains the GVK is walked, reading
//! `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` from each property (before
//! resolving its `$ref`; a single-element `allOf` is also resolved). 1.27/1.28, and 1.29+ when
//! v3 fails, use the v2 models (PATCH `consumes` must list the strategic merge type), and
//! finally kubectl's compiled-in Go types. A schema without the patch extensions makes kubectl
//! treat every list as atomic (replace), so the lead must wire the real table.
//!
//! **`explain`** (`kubectl/pkg/explain/v2/templates/plaintext.tmpl`): 1.27+ render from the v3
//! GV document by default. The RESTMapper (discovery) turns the argument into a GVR; the
//! template looks up `paths` `<prefix>/<plural>`, `<prefix>/<plural>/{name}`,
//! `<prefix>/namespaces/{namespace}/<plural>` and `.../{name}` in that order and takes the
//! `x-kubernetes-group-version-kind` of the first get/post/put/patch/delete operation found, then
//! the component schema whose GVK array contains exactly that `{group, kind, version}` map.
//! If `/openapi/v3` is unreachable it renders from v2.
//!
//! **Caching**: the index's `serverRelativeURL`s carry `?hash=<content hash>`; kubectl's HTTP
//! cache (`~/.kube/cache/http`) and its in-memory OpenAPI cache key documents by that URL, so the
//! hash must change with the content (it does: it is computed from the document bytes; see
//! [`v3_group_version_hash`] for the headers kube-apiserver sends with it).
//!
//! **Verified end to end** against kubectl 1.27 to 1.33 (tests/tests/control_kubectl.rs runs
//! apply with the default validation through the real server):
//! kubectl 1.27.16, 1.28.15, 1.29.14, 1.30.13, 1.31.9, 1.32.5 and 1.33.1 apply manifests with
//! the default `--validate`, leave unknown fields to the server (POST with
//! `fieldValidation=Strict`), reject unknown fields client-side in `kind: List` files from the
//! protobuf v2 models, compute strategic merge patches with the table's merge keys, and
//! `explain` from both v3 and v2.

mod paths;
mod resources;
mod schemas;
mod v2_protobuf;

pub use resources::{ServedResource, Verb, served_resources};
pub use schemas::PatchExtensions;
pub use v2_protobuf::EncodeError;

use schemas::{Definitions, Dialect};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// The media type client-go asks `/openapi/v2` for (the body must be the protobuf).
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The `Content-Type` to answer protobuf with. client-go parses response content types with
/// Go's `mime.ParseMediaType`, which rejects the `@` of the requested name ("mime: unexpected
/// content after media subtype"), so kube-apiserver answers with this spelling.
pub const V2_PROTOBUF_RESPONSE_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// `info.version` of the documents: the Kubernetes API version the schemas come from.
const API_VERSION: &str = "v1.33.0";
const TITLE: &str = "Kubernetes";

/// One group-version's OpenAPI 3.0 document with its serialization and content hash.
#[derive(Debug)]
struct GroupVersionDocument {
    value: Value,
    json: String,
    hash: String,
}

/// Every generated document of one process, serialized once.
#[derive(Debug)]
pub struct Documents {
    v3_index: Value,
    v3_index_json: String,
    v3_group_versions: BTreeMap<String, GroupVersionDocument>,
    v2: Value,
    v2_json: String,
    v2_protobuf: OnceLock<Result<Vec<u8>, EncodeError>>,
}

impl Documents {
    /// Generates all documents for `resources`; `patch_extensions` supplies the strategic-merge
    /// metadata of each property.
    pub fn generate(resources: &[ServedResource], patch_extensions: PatchExtensions<'_>) -> Self {
        let definitions = Definitions::generate(resources, patch_extensions);

        let mut by_group_version: BTreeMap<String, Vec<&ServedResource>> = BTreeMap::new();
        for resource in resources {
            by_group_version
                .entry(resource.group_version_path())
                .or_default()
                .push(resource);
        }

        let mut v3_group_versions = BTreeMap::new();
        let mut index_paths = Map::new();
        for (path, members) in &by_group_version {
            let document = v3_document(&definitions, members);
            let json = document.to_string();
            let hash = content_hash(json.as_bytes());
            index_paths.insert(
                path.clone(),
                json!({ "serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}") }),
            );
            v3_group_versions.insert(
                path.clone(),
                GroupVersionDocument {
                    value: document,
                    json,
                    hash,
                },
            );
        }
        let v3_index = json!({ "paths": index_paths });
        let v2 = v2_document(&definitions, resources);
        Self {
            v3_index_json: v3_index.to_string(),
            v3_index,
            v3_group_versions,
            v2_json: v2.to_string(),
            v2,
            v2_protobuf: OnceLock::new(),
        }
    }

    /// The `/openapi/v3` index.
    pub fn v3_index(&self) -> &Value {
        &self.v3_index
    }

    /// The `/openapi/v3` index, serialized.
    pub fn v3_index_json(&self) -> &str {
        &self.v3_index_json
    }

    /// The OpenAPI 3.0 document of `path` (`api/v1`, `apis/apps/v1`), if served.
    pub fn v3_group_version(&self, path: &str) -> Option<&Value> {
        self.v3_group_versions.get(path).map(|doc| &doc.value)
    }

    /// The OpenAPI 3.0 document of `path`, serialized.
    pub fn v3_group_version_json(&self, path: &str) -> Option<&str> {
        self.v3_group_versions
            .get(path)
            .map(|doc| doc.json.as_str())
    }

    /// The `hash` the index advertises for `path`; kube-apiserver also sends it as the ETag,
    /// answers a request with a different `hash` by a 301 to the current URL, and marks a
    /// matching one `Cache-Control: public, immutable`.
    pub fn v3_group_version_hash(&self, path: &str) -> Option<&str> {
        self.v3_group_versions
            .get(path)
            .map(|doc| doc.hash.as_str())
    }

    /// The Swagger 2.0 document.
    pub fn v2(&self) -> &Value {
        &self.v2
    }

    /// The Swagger 2.0 document as JSON.
    pub fn v2_json(&self) -> &str {
        &self.v2_json
    }

    /// The Swagger 2.0 document as gnostic's `openapi.v2.Document` protobuf.
    pub fn v2_protobuf(&self) -> Result<&[u8], &EncodeError> {
        self.v2_protobuf
            .get_or_init(|| v2_protobuf::encode_document(&self.v2))
            .as_ref()
            .map(Vec::as_slice)
    }
}

/// Strategic-merge metadata source for the process-wide documents.
// The lead wires the table from `patch::strategy::list_strategies()` in here.
fn served_patch_extensions(schema: &str, field: &str) -> Option<(String, Option<String>)> {
    crate::patch::strategy::list_strategies()
        .find(|(type_name, name, _)| *type_name == schema && *name == field)
        .map(|(_, _, strategy)| {
            (
                strategy.tag().to_owned(),
                strategy.merge_key.map(str::to_owned),
            )
        })
}

fn documents() -> &'static Documents {
    static DOCUMENTS: OnceLock<Documents> = OnceLock::new();
    DOCUMENTS.get_or_init(|| Documents::generate(&served_resources(), &served_patch_extensions))
}

/// The `/openapi/v3` index: `{"paths": {"api/v1": {"serverRelativeURL": ...}, ...}}`.
pub fn v3_index() -> Value {
    documents().v3_index().clone()
}

/// The OpenAPI 3.0 document of a group-version path (`api/v1`, `apis/apps/v1`), if served.
pub fn v3_group_version(path: &str) -> Option<Value> {
    documents().v3_group_version(path).cloned()
}

/// The Swagger 2.0 document.
pub fn v2() -> Value {
    documents().v2().clone()
}

/// The `/openapi/v3` index, serialized once per process.
pub fn v3_index_json() -> &'static str {
    documents().v3_index_json()
}

/// A group-version's OpenAPI 3.0 document, serialized once per process.
pub fn v3_group_version_json(path: &str) -> Option<&'static str> {
    documents().v3_group_version_json(path)
}

/// The content hash of a group-version's document, as advertised in the index.
pub fn v3_group_version_hash(path: &str) -> Option<&'static str> {
    documents().v3_group_version_hash(path)
}

/// The Swagger 2.0 document as JSON, serialized once per process.
pub fn v2_json() -> &'static str {
    documents().v2_json()
}

/// The Swagger 2.0 document as protobuf, the body client-go can decode from `/openapi/v2`.
pub fn v2_protobuf() -> Result<&'static [u8], &'static EncodeError> {
    documents().v2_protobuf()
}

/// Whether an `Accept` header asks `/openapi/v2` for protobuf (client-go always does), in
/// either spelling kube-apiserver accepts.
pub fn wants_v2_protobuf(accept: &str) -> bool {
    accept.split(',').any(|range| {
        range.split(';').next().is_some_and(|media| {
            let media = media.trim();
            media.eq_ignore_ascii_case(V2_PROTOBUF_CONTENT_TYPE)
                || media.eq_ignore_ascii_case(V2_PROTOBUF_RESPONSE_CONTENT_TYPE)
        })
    })
}

fn v3_document(definitions: &Definitions, members: &[&ServedResource]) -> Value {
    let mut paths = Map::new();
    let mut roots = BTreeSet::new();
    for resource in members {
        paths.extend(paths::render(resource, Dialect::V3));
        roots.extend(paths::referenced_schemas(resource));
    }
    let names = definitions.closure(roots.iter().map(String::as_str));
    json!({
        "openapi": "3.0.0",
        "info": { "title": TITLE, "version": API_VERSION },
        "paths": paths,
        "components": { "schemas": definitions.render(&names, Dialect::V3) },
    })
}

fn v2_document(definitions: &Definitions, resources: &[ServedResource]) -> Value {
    let mut paths = Map::new();
    let mut roots = BTreeSet::new();
    for resource in resources {
        paths.extend(paths::render(resource, Dialect::V2));
        roots.extend(paths::referenced_schemas(resource));
    }
    let names = definitions.closure(roots.iter().map(String::as_str));
    json!({
        "swagger": "2.0",
        "info": { "title": TITLE, "version": API_VERSION },
        "paths": paths,
        "definitions": definitions.render(&names, Dialect::V2),
    })
}

/// FNV-1a over the document: an opaque cache key that changes with the content, as
/// kube-apiserver's (SHA-512) hash does.
fn content_hash(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016X}")
}

#[cfg(test)]
mod tests {
    use super::schemas::collect_refs;
    use super::v2_protobuf::tests::{bytes_of, decode};
    use super::*;

    /// The documents describe exactly what the server serves: this module's
    /// own table (which needs each kind's Rust type for its schema) must
    /// agree with the registry the request path uses.
    #[test]
    fn documents_cover_exactly_the_served_resources() {
        let mut documented: Vec<(&str, &str, &str, &str, bool)> = served_resources()
            .iter()
            .map(|r| (r.group, r.version, r.plural, r.kind, r.namespaced))
            .collect();
        let mut served: Vec<(&str, &str, &str, &str, bool)> = crate::resources::RESOURCES
            .iter()
            .filter(|r| r.stored)
            .map(|r| (r.group, r.version, r.plural, r.kind, r.namespaced))
            .collect();
        documented.sort_unstable();
        served.sort_unstable();
        assert_eq!(documented, served);
    }
    use proptest::prelude::*;

    fn group_version_of(resource: &ServedResource) -> String {
        resource.group_version_path()
    }

    #[test]
    fn index_lists_every_served_group_version() {
        let index = v3_index();
        let paths = index["paths"].as_object().expect("paths");
        let expected: BTreeSet<String> = served_resources().iter().map(group_version_of).collect();
        let listed: BTreeSet<String> = paths.keys().cloned().collect();
        assert_eq!(listed, expected);
        for (path, entry) in paths {
            let url = entry["serverRelativeURL"].as_str().expect("url");
            assert!(
                url.starts_with(&format!("/openapi/v3/{path}?hash=")),
                "{url}"
            );
            assert!(v3_group_version(path).is_some(), "{path}");
        }
        for expected in [
            "api/v1",
            "apis/apps/v1",
            "apis/discovery.k8s.io/v1",
            "apis/networking.k8s.io/v1",
            "apis/coordination.k8s.io/v1",
            "apis/rbac.authorization.k8s.io/v1",
        ] {
            assert!(paths.contains_key(expected), "{expected}");
        }
    }

    #[test]
    fn unknown_group_versions_have_no_document() {
        for path in [
            "",
            "api",
            "apis/apps",
            "apis/batch/v1",
            "/api/v1",
            "api/v1?hash=x",
        ] {
            assert!(v3_group_version(path).is_none(), "{path:?}");
            assert!(v3_group_version_json(path).is_none(), "{path:?}");
        }
    }

    fn gvk_list_contains(schema: &Value, group: &str, version: &str, kind: &str) -> bool {
        schema["x-kubernetes-group-version-kind"]
            .as_array()
            .is_some_and(|list| {
                list.contains(&json!({ "group": group, "kind": kind, "version": version }))
            })
    }

    #[test]
    fn every_served_kind_and_list_has_a_schema_with_its_gvk() {
        let v2 = v2();
        for resource in served_resources() {
            let document = v3_group_version(&resource.group_version_path()).expect("doc");
            let kind_name = (resource.schema_name)().into_owned();
            let list_name = resource.list_schema_name();
            for (name, kind) in [
                (&kind_name, resource.kind),
                (&list_name, resource.list_kind),
            ] {
                let v3_schema = &document["components"]["schemas"][name.as_str()];
                assert!(
                    gvk_list_contains(v3_schema, resource.group, resource.version, kind),
                    "v3 {name}"
                );
                let v2_schema = &v2["definitions"][name.as_str()];
                assert!(
                    gvk_list_contains(v2_schema, resource.group, resource.version, kind),
                    "v2 {name}"
                );
            }
        }
    }

    #[test]
    fn explain_finds_each_kind_the_way_kubectl_does() {
        for resource in served_resources() {
            let document = v3_group_version(&resource.group_version_path()).expect("doc");
            let prefix = resource.url_prefix();
            let candidates = [
                format!("{prefix}/{}", resource.plural),
                format!("{prefix}/{}/{{name}}", resource.plural),
                format!("{prefix}/namespaces/{{namespace}}/{}", resource.plural),
                format!(
                    "{prefix}/namespaces/{{namespace}}/{}/{{name}}",
                    resource.plural
                ),
            ];
            let gvk = candidates
                .iter()
                .filter_map(|url| document["paths"].get(url))
                .flat_map(|item| {
                    ["get", "post", "put", "patch", "delete"]
                        .into_iter()
                        .filter_map(|method| item.get(method))
                })
                .find_map(|op| op.get("x-kubernetes-group-version-kind"))
                .expect("an operation with a GVK");
            let expected = json!({
                "group": resource.group, "kind": resource.kind, "version": resource.version
            });
            assert_eq!(gvk, &expected, "{}", resource.kind);
            let schemas = document["components"]["schemas"]
                .as_object()
                .expect("schemas");
            let matching = schemas
                .values()
                .filter(|s| {
                    s["x-kubernetes-group-version-kind"]
                        .as_array()
                        .is_some_and(|l| l.contains(gvk))
                })
                .count();
            assert_eq!(matching, 1, "{}", resource.kind);
        }
    }

    #[test]
    fn field_validation_check_succeeds_for_every_kind() {
        for resource in served_resources() {
            let document = v3_group_version(&resource.group_version_path()).expect("doc");
            let gvk = json!({
                "group": resource.group, "kind": resource.kind, "version": resource.version
            });
            let patches: Vec<&Value> = document["paths"]
                .as_object()
                .expect("paths")
                .values()
                .filter_map(|item| item.get("patch"))
                .filter(|op| op["x-kubernetes-group-version-kind"] == gvk)
                .collect();
            assert!(!patches.is_empty(), "{}", resource.kind);
            for patch in patches {
                let has_param = patch["parameters"].as_array().is_some_and(|params| {
                    params
                        .iter()
                        .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
                });
                assert!(has_param, "{}", resource.kind);
                assert!(
                    patch
                        .pointer("/requestBody/content")
                        .and_then(|c| c.get(paths::STRATEGIC_MERGE_PATCH))
                        .is_some(),
                    "{}",
                    resource.kind
                );
            }
        }
    }

    fn assert_refs_resolve(document: &Value, prefix: &str, container: &str) {
        let pointer_root = container;
        for reference in collect_refs(document) {
            let name = reference
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{reference} lacks {prefix}"));
            let found = document
                .pointer(pointer_root)
                .and_then(|schemas| schemas.get(name));
            assert!(found.is_some(), "dangling {reference}");
        }
    }

    #[test]
    fn every_ref_resolves_inside_its_document() {
        for path in v3_index()["paths"].as_object().expect("paths").keys() {
            let document = v3_group_version(path).expect("doc");
            assert_refs_resolve(&document, "#/components/schemas/", "/components/schemas");
        }
        assert_refs_resolve(&v2(), "#/definitions/", "/definitions");
    }

    #[test]
    fn group_version_documents_hold_only_their_own_kinds() {
        let apps = v3_group_version("apis/apps/v1").expect("apps");
        let schemas = apps["components"]["schemas"].as_object().expect("schemas");
        assert!(schemas.contains_key("io.k8s.api.core.v1.PodSpec"));
        assert!(!schemas.contains_key("io.k8s.api.core.v1.Service"));
        assert!(!schemas.contains_key("io.k8s.api.rbac.v1.Role"));
        assert!(
            apps["paths"]
                .as_object()
                .expect("paths")
                .keys()
                .all(|url| url.starts_with("/apis/apps/v1/"))
        );
    }

    #[test]
    fn documents_serialize_and_round_trip() {
        let cases: Vec<(&str, &str, Value)> = vec![
            ("index", v3_index_json(), v3_index()),
            (
                "core",
                v3_group_version_json("api/v1").expect("core"),
                v3_group_version("api/v1").expect("core"),
            ),
            ("v2", v2_json(), v2()),
        ];
        for (label, text, value) in cases {
            let parsed: Value = serde_json::from_str(text).expect(label);
            assert_eq!(parsed, value, "{label}");
        }
        assert_eq!(v3_group_version("api/v1").expect("doc")["openapi"], "3.0.0");
        assert_eq!(v2()["swagger"], "2.0");
    }

    #[test]
    fn index_hash_tracks_document_content() {
        let index = v3_index();
        let url = index["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .expect("url");
        let body = v3_group_version_json("api/v1").expect("doc");
        assert_eq!(
            url,
            format!("/openapi/v3/api/v1?hash={}", content_hash(body.as_bytes()))
        );
        assert_eq!(
            v3_group_version_hash("api/v1"),
            Some(content_hash(body.as_bytes()).as_str())
        );
        // The served documents carry the patch table's merge keys; without
        // them the content, and so the hash, differs where tagged lists are.
        let without = Documents::generate(&served_resources(), &|_, _| None);
        assert_ne!(
            without.v3_index()["paths"]["api/v1"],
            index["paths"]["api/v1"]
        );
        assert_ne!(
            without.v3_index()["paths"]["apis/apps/v1"],
            index["paths"]["apis/apps/v1"]
        );
    }

    #[test]
    fn patch_extensions_reach_both_dialects() {
        let documents = Documents::generate(&served_resources(), &|schema, field| {
            (schema == "io.k8s.api.core.v1.Container" && field == "ports")
                .then(|| ("merge".to_owned(), Some("containerPort".to_owned())))
        });
        let v3_ports = documents
            .v3_group_version("apis/apps/v1")
            .and_then(|d| {
                d.pointer("/components/schemas/io.k8s.api.core.v1.Container/properties/ports")
            })
            .expect("ports");
        let v2_ports = documents
            .v2()
            .pointer("/definitions/io.k8s.api.core.v1.Container/properties/ports")
            .expect("ports");
        for ports in [v3_ports, v2_ports] {
            assert_eq!(ports["x-kubernetes-patch-strategy"], "merge");
            assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
        }
    }

    #[test]
    fn v2_protobuf_encodes_every_definition_and_path() {
        let bytes = v2_protobuf().expect("encodes");
        let document = decode(bytes);
        assert_eq!(bytes_of(&document, 1), [b"2.0".as_slice()]);
        let definitions = decode(bytes_of(&document, 9)[0]);
        let names: BTreeSet<String> = bytes_of(&definitions, 1)
            .into_iter()
            .map(|named| {
                let named = decode(named);
                String::from_utf8(bytes_of(&named, 1)[0].to_vec()).expect("utf8")
            })
            .collect();
        let expected: BTreeSet<String> = v2()["definitions"]
            .as_object()
            .expect("definitions")
            .keys()
            .cloned()
            .collect();
        assert_eq!(names, expected);
        let paths = decode(bytes_of(&document, 8)[0]);
        assert_eq!(
            bytes_of(&paths, 2).len(),
            v2()["paths"].as_object().expect("paths").len()
        );
    }

    #[test]
    fn accept_header_selects_protobuf() {
        let cases = [
            (V2_PROTOBUF_CONTENT_TYPE, true),
            (V2_PROTOBUF_RESPONSE_CONTENT_TYPE, true),
            (
                "application/json, application/com.github.proto-openapi.spec.v2@v1.0+protobuf;q=0.9",
                true,
            ),
            (
                "APPLICATION/COM.GITHUB.PROTO-OPENAPI.SPEC.V2@V1.0+PROTOBUF",
                true,
            ),
            ("application/json", false),
            ("*/*", false),
            ("", false),
            (
                "application/com.github.proto-openapi.spec.v3@v1.0+protobuf",
                false,
            ),
        ];
        for (accept, expected) in cases {
            assert_eq!(wants_v2_protobuf(accept), expected, "{accept}");
        }
    }

    #[test]
    fn content_hash_is_fnv1a() {
        assert_eq!(content_hash(b""), "CBF29CE484222325");
        assert_eq!(content_hash(b"a"), "AF63DC4C8601EC8C");
    }

    proptest! {
        // Each case generates every document, so keep the count modest.
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn lookups_of_arbitrary_paths_never_panic(path in ".{0,64}") {
            let served = v3_index()["paths"].get(&path).is_some();
            prop_assert_eq!(v3_group_version(&path).is_some(), served);
            let _ = wants_v2_protobuf(&path);
        }

        #[test]
        fn any_patch_table_keeps_refs_resolving(
            fields in proptest::collection::vec(("[a-zA-Z]{1,12}", proptest::option::of("[a-z]{1,8}")), 0..8)
        ) {
            let table: Vec<(String, Option<String>)> = fields;
            let documents = Documents::generate(&served_resources(), &|_, field| {
                table
                    .iter()
                    .find(|(name, _)| name == field)
                    .map(|(_, key)| ("merge".to_owned(), key.clone()))
            });
            prop_assert!(documents.v2_protobuf().is_ok());
            for reference in collect_refs(documents.v2()) {
                let name = reference.trim_start_matches("#/definitions/");
                prop_assert!(documents.v2()["definitions"].get(name).is_some());
            }
        }
    }
}
