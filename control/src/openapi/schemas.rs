//! Component schemas generated from k8s-openapi's `JsonSchema` impls, named and shaped the way
//! kube-apiserver names and shapes them.
//!
//! The canonical form keeps `#/definitions/<name>` references (Swagger 2.0); [`render`] turns a
//! set of them into either dialect. This module knows nothing about paths or the index, and must
//! not hand-write any schema of a served type: every property comes from the types.

use super::resources::ServedResource;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, ListMeta, Patch, Status};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Looks up strategic-merge metadata for a property: `(schema name, field)` to
/// `(x-kubernetes-patch-strategy, x-kubernetes-patch-merge-key)`.
pub type PatchExtensions<'a> = &'a dyn Fn(&str, &str) -> Option<(String, Option<String>)>;

/// Reference prefix in Swagger 2.0 documents.
pub const V2_REF_PREFIX: &str = "#/definitions/";
/// Reference prefix in OpenAPI 3.0 documents.
pub const V3_REF_PREFIX: &str = "#/components/schemas/";

/// Schema name of `metav1.Status`.
pub const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
/// Schema name of `metav1.DeleteOptions`.
pub const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
/// Schema name of `metav1.Patch`, the body of every PATCH operation.
pub const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

const GVK_EXTENSION: &str = "x-kubernetes-group-version-kind";
const PATCH_STRATEGY_EXTENSION: &str = "x-kubernetes-patch-strategy";
const PATCH_MERGE_KEY_EXTENSION: &str = "x-kubernetes-patch-merge-key";
/// k8s-openapi marks IntOrString and Quantity the CRD way; kube-apiserver's built-in documents
/// describe them by type and format instead.
const INT_OR_STRING_EXTENSION: &str = "x-kubernetes-int-or-string";

/// Which OpenAPI dialect a document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Swagger 2.0, served at `/openapi/v2`.
    V2,
    /// OpenAPI 3.0, served per group-version under `/openapi/v3`.
    V3,
}

impl Dialect {
    /// The `$ref` prefix of this dialect.
    pub fn ref_prefix(self) -> &'static str {
        match self {
            Dialect::V2 => V2_REF_PREFIX,
            Dialect::V3 => V3_REF_PREFIX,
        }
    }

    /// A `{"$ref": ...}` object pointing at a named schema.
    pub fn reference(self, name: &str) -> Value {
        json!({ "$ref": format!("{}{name}", self.ref_prefix()) })
    }
}

/// All schemas of the served kinds and what they reference, keyed by kube-apiserver's names,
/// with `#/definitions/` references.
#[derive(Debug, Clone, PartialEq)]
pub struct Definitions {
    schemas: BTreeMap<String, Value>,
}

impl Definitions {
    /// Generates the schemas of `resources` (and their lists) plus the meta/v1 schemas that
    /// the paths refer to.
    pub fn generate(resources: &[ServedResource], patch_extensions: PatchExtensions<'_>) -> Self {
        // Draft 2020-12 settings apply no transforms, so `$ref` siblings such as a field's
        // description stay where kube-apiserver has them.
        let settings = SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/definitions".into();
            s.meta_schema = None;
        });
        let mut generator = settings.into_generator();
        for resource in resources {
            (resource.subschema)(&mut generator);
        }
        generator.subschema_for::<Status>();
        generator.subschema_for::<DeleteOptions>();
        generator.subschema_for::<Patch>();
        generator.subschema_for::<ListMeta>();

        let mut schemas: BTreeMap<String, Value> =
            generator.take_definitions(false).into_iter().collect();
        for schema in schemas.values_mut() {
            rewrite_refs(schema, &|reference| {
                reference
                    .strip_prefix(V2_REF_PREFIX)
                    .map(|name| format!("{V2_REF_PREFIX}{}", decode_pointer_token(name)))
            });
        }

        for resource in resources {
            let kind_name = (resource.schema_name)().into_owned();
            let list = list_schema(resource, &kind_name, schemas.get(&kind_name));
            schemas.insert(resource.list_schema_name(), list);
        }

        for (name, gvks) in group_version_kinds(resources) {
            if let Some(Value::Object(schema)) = schemas.get_mut(&name) {
                schema.insert(GVK_EXTENSION.to_owned(), Value::Array(gvks));
            }
        }

        for (name, schema) in &mut schemas {
            add_patch_extensions(name, schema, patch_extensions);
        }
        Self { schemas }
    }

    /// `roots` and every schema reachable from them through `$ref`s.
    pub fn closure<'a>(&self, roots: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut pending: Vec<String> = roots.into_iter().map(str::to_owned).collect();
        while let Some(name) = pending.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(schema) = self.schemas.get(&name) {
                for reference in collect_refs(schema) {
                    if let Some(target) = reference.strip_prefix(V2_REF_PREFIX)
                        && !seen.contains(target)
                    {
                        pending.push(target.to_owned());
                    }
                }
            }
        }
        seen
    }

    /// The named schemas in `dialect`, ready to be `definitions` or `components.schemas`.
    pub fn render(&self, names: &BTreeSet<String>, dialect: Dialect) -> Map<String, Value> {
        names
            .iter()
            .filter_map(|name| {
                let mut schema = self.schemas.get(name)?.clone();
                reshape_scalar_wrapper(name, &mut schema, dialect);
                if dialect == Dialect::V3 {
                    rewrite_refs(&mut schema, &|reference| {
                        reference
                            .strip_prefix(V2_REF_PREFIX)
                            .map(|rest| format!("{V3_REF_PREFIX}{rest}"))
                    });
                }
                Some((name.clone(), schema))
            })
            .collect()
    }
}

#[cfg(test)]
impl Definitions {
    /// The canonical (Swagger 2.0 referenced) schema of a name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.schemas.get(name)
    }

    /// Every schema name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.schemas.keys().map(String::as_str)
    }
}

/// Undoes the JSON-pointer escaping schemars applies to definition names.
fn decode_pointer_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Replaces each `$ref` string for which `map` returns a new value.
fn rewrite_refs(value: &mut Value, map: &dyn Fn(&str) -> Option<String>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                if key == "$ref" {
                    if let Some(new) = child.as_str().and_then(map) {
                        *child = Value::String(new);
                    }
                } else {
                    rewrite_refs(child, map);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite_refs(item, map)),
        _ => {}
    }
}

/// Every `$ref` string inside `value`.
pub fn collect_refs(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![value];
    while let Some(current) = pending.pop() {
        match current {
            Value::Object(object) => {
                for (key, child) in object {
                    match (key.as_str(), child) {
                        ("$ref", Value::String(reference)) => found.push(reference.clone()),
                        _ => pending.push(child),
                    }
                }
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    found
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

/// The `x-kubernetes-group-version-kind` values per schema name. DeleteOptions is registered in
/// every served group-version, as in kube-apiserver.
fn group_version_kinds(resources: &[ServedResource]) -> BTreeMap<String, Vec<Value>> {
    let mut result: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for resource in resources {
        result
            .entry((resource.schema_name)().into_owned())
            .or_default()
            .push(gvk(resource.group, resource.version, resource.kind));
        result
            .entry(resource.list_schema_name())
            .or_default()
            .push(gvk(resource.group, resource.version, resource.list_kind));
    }
    result.insert(STATUS.to_owned(), vec![gvk("", "v1", "Status")]);
    let mut group_versions: BTreeSet<(&str, &str)> = resources
        .iter()
        .map(|resource| (resource.group, resource.version))
        .collect();
    group_versions.insert(("", "v1"));
    result.insert(
        DELETE_OPTIONS.to_owned(),
        group_versions
            .into_iter()
            .map(|(group, version)| gvk(group, version, "DeleteOptions"))
            .collect(),
    );
    result
}

/// k8s-openapi has no schema for `List<T>`, so the list kind is assembled from the item's schema
/// and ListMeta, in the shape kube-apiserver gives every `<Kind>List`.
fn list_schema(resource: &ServedResource, kind_name: &str, kind_schema: Option<&Value>) -> Value {
    let inherited = |field: &str| {
        kind_schema
            .and_then(|schema| schema.pointer(&format!("/properties/{field}")))
            .cloned()
            .unwrap_or_else(|| json!({ "type": "string" }))
    };
    json!({
        "description": format!("{} is a list of {} objects.", resource.list_kind, resource.kind),
        "type": "object",
        "properties": {
            "apiVersion": inherited("apiVersion"),
            "items": {
                "description": format!("Items is the list of {} objects.", resource.kind),
                "type": "array",
                "items": { "$ref": format!("{V2_REF_PREFIX}{kind_name}") },
            },
            "kind": inherited("kind"),
            "metadata": {
                "$ref": format!("{V2_REF_PREFIX}{LIST_META}"),
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
            },
        },
        "required": ["items"],
    })
}

fn add_patch_extensions(name: &str, schema: &mut Value, patch_extensions: PatchExtensions<'_>) {
    let Some(Value::Object(properties)) = schema.get_mut("properties") else {
        return;
    };
    for (field, property) in properties.iter_mut() {
        let (Some((strategy, merge_key)), Value::Object(property)) =
            (patch_extensions(name, field), property)
        else {
            continue;
        };
        if let Some(key) = merge_key {
            property.insert(PATCH_MERGE_KEY_EXTENSION.to_owned(), Value::String(key));
        }
        property.insert(PATCH_STRATEGY_EXTENSION.to_owned(), Value::String(strategy));
    }
}

/// IntOrString and Quantity are strings on the wire that also accept numbers; kube-apiserver
/// says so with a format in Swagger 2.0 (which has no `oneOf`) and with `oneOf` in OpenAPI 3.0.
fn reshape_scalar_wrapper(name: &str, schema: &mut Value, dialect: Dialect) {
    let Value::Object(object) = schema else {
        return;
    };
    if name != INT_OR_STRING && name != QUANTITY {
        return;
    }
    object.remove(INT_OR_STRING_EXTENSION);
    match (name == INT_OR_STRING, dialect) {
        (true, Dialect::V2) => {
            object.insert("type".into(), json!("string"));
            object.insert("format".into(), json!("int-or-string"));
        }
        (true, Dialect::V3) => {
            object.insert("format".into(), json!("int-or-string"));
            object.insert(
                "oneOf".into(),
                json!([{ "type": "integer" }, { "type": "string" }]),
            );
        }
        (false, Dialect::V2) => {
            object.insert("type".into(), json!("string"));
        }
        (false, Dialect::V3) => {
            object.insert(
                "oneOf".into(),
                json!([{ "type": "string" }, { "type": "number" }]),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::resources::served_resources;
    use super::*;

    fn no_patch_extensions(_: &str, _: &str) -> Option<(String, Option<String>)> {
        None
    }

    fn definitions() -> Definitions {
        Definitions::generate(&served_resources(), &no_patch_extensions)
    }

    #[test]
    fn names_are_kube_apiserver_names() {
        let defs = definitions();
        for name in defs.names() {
            assert!(name.starts_with("io.k8s."), "{name}");
        }
        for expected in [
            "io.k8s.api.core.v1.PodSpec",
            "io.k8s.api.core.v1.PodList",
            "io.k8s.api.apps.v1.DeploymentSpec",
            "io.k8s.api.discovery.v1.EndpointSlice",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
            STATUS,
            DELETE_OPTIONS,
            PATCH,
            LIST_META,
        ] {
            assert!(defs.get(expected).is_some(), "{expected} missing");
        }
    }

    #[test]
    fn every_reference_uses_the_definitions_prefix_and_resolves() {
        let defs = definitions();
        for name in defs.names() {
            for reference in collect_refs(defs.get(name).expect("listed")) {
                let target = reference
                    .strip_prefix(V2_REF_PREFIX)
                    .unwrap_or_else(|| panic!("{name}: foreign ref {reference}"));
                assert!(defs.get(target).is_some(), "{name}: dangling {reference}");
            }
        }
    }

    #[test]
    fn lists_reference_their_items() {
        let defs = definitions();
        let list = defs.get("io.k8s.api.apps.v1.DeploymentList").expect("list");
        assert_eq!(
            list.pointer("/properties/items/items/$ref"),
            Some(&json!("#/definitions/io.k8s.api.apps.v1.Deployment"))
        );
        assert_eq!(
            list.pointer("/x-kubernetes-group-version-kind/0/kind"),
            Some(&json!("DeploymentList"))
        );
        assert_eq!(
            list.pointer("/properties/kind/type"),
            Some(&json!("string"))
        );
    }

    #[test]
    fn delete_options_is_registered_in_every_group_version() {
        let defs = definitions();
        let gvks = defs
            .get(DELETE_OPTIONS)
            .and_then(|d| d.get(GVK_EXTENSION))
            .and_then(Value::as_array)
            .expect("gvk list");
        for (group, version) in [
            ("", "v1"),
            ("apps", "v1"),
            ("rbac.authorization.k8s.io", "v1"),
        ] {
            assert!(
                gvks.contains(&gvk(group, version, "DeleteOptions")),
                "{group}"
            );
        }
    }

    #[test]
    fn patch_extensions_land_on_the_named_property_only() {
        let stub = |schema: &str, field: &str| match (schema, field) {
            ("io.k8s.api.core.v1.PodSpec", "containers") => {
                Some(("merge".to_owned(), Some("name".to_owned())))
            }
            ("io.k8s.api.apps.v1.DeploymentSpec", "strategy") => {
                Some(("retainKeys".to_owned(), None))
            }
            _ => None,
        };
        let defs = Definitions::generate(&served_resources(), &stub);
        let containers = defs
            .get("io.k8s.api.core.v1.PodSpec")
            .and_then(|s| s.pointer("/properties/containers"))
            .expect("containers");
        assert_eq!(containers[PATCH_STRATEGY_EXTENSION], json!("merge"));
        assert_eq!(containers[PATCH_MERGE_KEY_EXTENSION], json!("name"));
        let strategy = defs
            .get("io.k8s.api.apps.v1.DeploymentSpec")
            .and_then(|s| s.pointer("/properties/strategy"))
            .expect("strategy");
        assert_eq!(strategy[PATCH_STRATEGY_EXTENSION], json!("retainKeys"));
        assert!(strategy.get(PATCH_MERGE_KEY_EXTENSION).is_none());
        let volumes = defs
            .get("io.k8s.api.core.v1.PodSpec")
            .and_then(|s| s.pointer("/properties/volumes"))
            .expect("volumes");
        assert!(volumes.get(PATCH_STRATEGY_EXTENSION).is_none());
    }

    #[test]
    fn scalar_wrappers_take_each_dialects_shape() {
        let defs = definitions();
        let names: BTreeSet<String> = [INT_OR_STRING, QUANTITY].map(str::to_owned).into();
        let v2 = defs.render(&names, Dialect::V2);
        let v3 = defs.render(&names, Dialect::V3);
        let cases = [
            (
                &v2[INT_OR_STRING],
                Some("string"),
                Some("int-or-string"),
                false,
            ),
            (&v3[INT_OR_STRING], None, Some("int-or-string"), true),
            (&v2[QUANTITY], Some("string"), None, false),
            (&v3[QUANTITY], None, None, true),
        ];
        for (schema, ty, format, one_of) in cases {
            assert_eq!(schema.get("type").and_then(Value::as_str), ty, "{schema}");
            assert_eq!(
                schema.get("format").and_then(Value::as_str),
                format,
                "{schema}"
            );
            assert_eq!(schema.get("oneOf").is_some(), one_of, "{schema}");
            assert!(schema.get(INT_OR_STRING_EXTENSION).is_none());
            assert!(schema.get("description").is_some());
        }
    }

    #[test]
    fn v3_rendering_moves_references_to_components() {
        let defs = definitions();
        let names: BTreeSet<String> = ["io.k8s.api.core.v1.Pod".to_owned()].into();
        let v3 = defs.render(&names, Dialect::V3);
        assert_eq!(
            v3["io.k8s.api.core.v1.Pod"].pointer("/properties/spec/$ref"),
            Some(&json!("#/components/schemas/io.k8s.api.core.v1.PodSpec"))
        );
    }

    #[test]
    fn closure_follows_references_transitively() {
        let defs = definitions();
        let reached = defs.closure(["io.k8s.api.apps.v1.Deployment"]);
        for name in [
            "io.k8s.api.apps.v1.DeploymentSpec",
            "io.k8s.api.core.v1.PodSpec",
            "io.k8s.api.core.v1.Container",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
        ] {
            assert!(reached.contains(name), "{name}");
        }
        assert!(!reached.contains("io.k8s.api.core.v1.ServiceSpec"));
    }

    #[test]
    fn pointer_tokens_decode() {
        assert_eq!(decode_pointer_token("a~1b~0c"), "a/b~c");
    }
}
