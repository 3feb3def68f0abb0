//! Field paths and field sets: which parts of an object a manager owns, the
//! `fieldsV1` wire form kube-apiserver stores in `metadata.managedFields`, and
//! the `.spec.containers[name="app"].image` form its messages print.
//!
//! This module knows nothing of schemas or objects and must not: it only
//! holds paths. Parsing the wire form is total: malformed input gives a
//! [`FieldsV1Error`], never a panic.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Number, Value};

/// One step of a path into an object.
#[derive(Clone, Debug)]
pub enum PathElement {
    /// A named field of an object (`f:<name>`).
    Field(String),
    /// An element of a list-map, by its key fields sorted by name (`k:{...}`).
    Key(Vec<(String, Value)>),
    /// An element of a set list, by its value (`v:<json>`).
    Value(Value),
    /// A list element by position (`i:<n>`): accepted when parsing, never produced.
    Index(u64),
}

impl PathElement {
    /// The `fieldsV1` key for this element (`f:name`, `k:{"port":80}`, ...).
    pub fn wire(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let body: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| {
                        format!("{}:{}", Value::String(name.clone()), canonical_json(value))
                    })
                    .collect();
                format!("k:{{{}}}", body.join(","))
            }
            PathElement::Value(value) => format!("v:{}", canonical_json(value)),
            PathElement::Index(index) => format!("i:{index}"),
        }
    }

    /// Parses a `fieldsV1` key; `"."` is not an element and is rejected.
    pub fn parse_wire(key: &str) -> Result<PathElement, String> {
        if let Some(name) = key.strip_prefix("f:") {
            return Ok(PathElement::Field(name.to_string()));
        }
        if let Some(json) = key.strip_prefix("k:") {
            let parsed: Value = serde_json::from_str(json)
                .map_err(|e| format!("key {json:?} is not valid JSON: {e}"))?;
            let Value::Object(map) = parsed else {
                return Err(format!("key {json:?} is not a JSON object"));
            };
            let mut fields: Vec<(String, Value)> = map.into_iter().collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            return Ok(PathElement::Key(fields));
        }
        if let Some(json) = key.strip_prefix("v:") {
            return serde_json::from_str(json)
                .map(PathElement::Value)
                .map_err(|e| format!("value {json:?} is not valid JSON: {e}"));
        }
        if let Some(index) = key.strip_prefix("i:") {
            return index
                .parse()
                .map(PathElement::Index)
                .map_err(|_| format!("index {index:?} is not a non-negative integer"));
        }
        Err(format!("unknown path element {key:?}"))
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }
}

/// The form kube-apiserver prints in conflicts and errors: `.name`,
/// `[name="app"]`, `[containerPort=80,protocol="TCP"]`, `[="value"]`, `[3]`.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}={}", display_value(value)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(value) => write!(f, "[={}]", display_value(value)),
            PathElement::Index(index) => write!(f, "[{index}]"),
        }
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Fields before keys before values before indices, as structured-merge-diff
/// orders them, so that conflicts and iteration come out in its order.
impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b.iter()) {
                    let ord = an.cmp(bn).then_with(|| cmp_json(av, bv));
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => cmp_json(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// Prints a whole path the way kube-apiserver does (`.spec.replicas`).
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of paths into an object, as a tree: `members` are the paths that
/// end at this level, `children` the subtrees that continue below it.
///
/// Invariant: no child set is empty, so equal sets compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

/// A `fieldsV1` document that is not a field set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct FieldsV1Error {
    /// Where in the document (`.spec.replicas` form), empty at the top.
    pub path: String,
    /// What is wrong there.
    pub reason: String,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// Whether the set holds no path.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds one path; the empty path (the object itself) is not recorded.
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether the set holds exactly this path.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// Whether the one-element path `element` is in the set.
    pub fn has_member(&self, element: &PathElement) -> bool {
        self.members.contains(element)
    }

    /// The paths below `element`, relative to it.
    pub fn child(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children.get(element)
    }

    /// Every path in the set, members of a level before the levels below it.
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for member in &self.members {
            let mut path = prefix.clone();
            path.push(member.clone());
            out.push(path);
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The number of paths in the set.
    pub fn len(&self) -> usize {
        self.members.len() + self.children.values().map(FieldSet::len).sum::<usize>()
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (element, child) in &other.children {
            let merged = match out.children.get(element) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(element.clone(), merged);
        }
        out
    }

    /// Paths in `self` but not in `other`; a path in `other` does not take
    /// the paths below it along.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (element, child) in &self.children {
            let rest = match other.children.get(element) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                children.insert(element.clone(), rest);
            }
        }
        FieldSet { members, children }
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (element, child) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    children.insert(element.clone(), both);
                }
            }
        }
        FieldSet { members, children }
    }

    /// The set without the top-level field `name` and everything below it.
    pub fn without_field(&self, name: &str) -> FieldSet {
        let element = PathElement::Field(name.to_string());
        let mut out = self.clone();
        out.members.remove(&element);
        out.children.remove(&element);
        out
    }

    /// Only the top-level field `name` and everything below it.
    pub fn only_field(&self, name: &str) -> FieldSet {
        let element = PathElement::Field(name.to_string());
        let mut out = FieldSet::new();
        if self.members.contains(&element) {
            out.members.insert(element.clone());
        }
        if let Some(child) = self.children.get(&element) {
            out.children.insert(element, child.clone());
        }
        out
    }

    /// The set plus every named field that has paths below it, so that an
    /// object field left empty counts as owned (structured-merge-diff's
    /// `EnsureNamedFieldsAreMembers`, with every object field taken as named).
    pub fn with_named_parents(&self) -> FieldSet {
        let mut out = FieldSet::new();
        out.members = self.members.clone();
        for (element, child) in &self.children {
            if matches!(element, PathElement::Field(_)) {
                out.members.insert(element.clone());
            }
            out.children
                .insert(element.clone(), child.with_named_parents());
        }
        out
    }

    /// The `fieldsV1` form: `{"f:spec":{"f:replicas":{}}}`, `"."` marking a
    /// path that is a member and also has paths below it.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.wire_map())
    }

    fn wire_map(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for member in &self.members {
            if self.children.get(member).is_none_or(FieldSet::is_empty) {
                out.insert(member.wire(), Value::Object(Map::new()));
            }
        }
        for (element, child) in &self.children {
            if child.is_empty() {
                continue;
            }
            let mut node = child.wire_map();
            if self.members.contains(element) {
                node.insert(".".to_string(), Value::Object(Map::new()));
            }
            out.insert(element.wire(), Value::Object(node));
        }
        out
    }

    /// Parses the `fieldsV1` form.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, FieldsV1Error> {
        let Value::Object(map) = value else {
            return Err(FieldsV1Error {
                path: String::new(),
                reason: format!("expected a JSON object, got {}", json_kind(value)),
            });
        };
        if map.contains_key(".") {
            return Err(FieldsV1Error {
                path: String::new(),
                reason: "\".\" is not allowed at the top level".to_string(),
            });
        }
        parse_level(map, &mut Vec::new())
    }
}

fn parse_level(
    map: &Map<String, Value>,
    path: &mut Vec<PathElement>,
) -> Result<FieldSet, FieldsV1Error> {
    let mut set = FieldSet::new();
    for (key, value) in map {
        if key == "." {
            continue;
        }
        let element = PathElement::parse_wire(key).map_err(|reason| FieldsV1Error {
            path: path_string(path),
            reason,
        })?;
        path.push(element.clone());
        let Value::Object(node) = value else {
            let err = FieldsV1Error {
                path: path_string(path),
                reason: format!("expected a JSON object, got {}", json_kind(value)),
            };
            return Err(err);
        };
        if node.is_empty() || node.contains_key(".") {
            set.members.insert(element.clone());
        }
        let child = parse_level(node, path)?;
        path.pop();
        if !child.is_empty() {
            set.children.insert(element, child);
        }
    }
    Ok(set)
}

/// A name for the JSON type of `value`, for messages.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

/// Compact JSON with object keys sorted, whatever the map's own order.
pub(crate) fn canonical_json(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let parts: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical_json(v)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        scalar => scalar.to_string(),
    }
}

/// A total order on JSON values: null < booleans < numbers < strings <
/// lists < maps, numbers by value, containers element by element.
pub(crate) fn cmp_json(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (xi, yi) in x.iter().zip(y.iter()) {
                let ord = cmp_json(xi, yi);
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<(&String, &Value)> = x.iter().collect();
            let mut ys: Vec<(&String, &Value)> = y.iter().collect();
            xs.sort_by(|p, q| p.0.cmp(q.0));
            ys.sort_by(|p, q| p.0.cmp(q.0));
            for ((xk, xv), (yk, yv)) in xs.iter().zip(ys.iter()) {
                let ord = xk.cmp(yk).then_with(|| cmp_json(xv, yv));
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

fn cmp_numbers(x: &Number, y: &Number) -> Ordering {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a.cmp(&b);
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a.cmp(&b);
    }
    let a = x.as_f64().unwrap_or(f64::NAN);
    let b = y.as_f64().unwrap_or(f64::NAN);
    a.total_cmp(&b)
}

/// A value the way structured-merge-diff prints it inside a path: strings
/// quoted as Go's `%q` does, everything else as JSON.
fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => go_quote(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(display_value).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(_) => canonical_json(value),
        scalar => scalar.to_string(),
    }
}

/// Go's `%q` for the strings that occur in practice: double quotes,
/// backslash escapes for quotes, backslashes and control characters.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn field(name: &str) -> PathElement {
        PathElement::Field(name.to_string())
    }

    fn key(fields: &[(&str, Value)]) -> PathElement {
        let mut fields: Vec<(String, Value)> = fields
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(fields)
    }

    #[test]
    fn parses_and_renders_the_kube_example() {
        let wire = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}},
            "f:finalizers": {"v:\"x\"": {}},
        });
        let set = FieldSet::from_fields_v1(&wire).expect("parses");
        let port = key(&[("port", json!(80)), ("protocol", json!("TCP"))]);
        let cases: Vec<(Vec<PathElement>, bool)> = vec![
            (vec![field("metadata")], false),
            (vec![field("metadata"), field("labels")], true),
            (vec![field("metadata"), field("labels"), field("app")], true),
            (vec![field("spec"), field("ports"), port.clone()], true),
            (
                vec![field("spec"), field("ports"), port.clone(), field("port")],
                true,
            ),
            (vec![field("spec"), field("ports")], false),
            (
                vec![field("finalizers"), PathElement::Value(json!("x"))],
                true,
            ),
            (
                vec![field("finalizers"), PathElement::Value(json!("y"))],
                false,
            ),
        ];
        for (path, want) in cases {
            assert_eq!(set.has(&path), want, "{}", path_string(&path));
        }
        assert_eq!(set.len(), 5);
        assert_eq!(set.to_fields_v1(), wire);
    }

    #[test]
    fn prints_paths_like_kube() {
        let cases = vec![
            (vec![field("spec"), field("replicas")], ".spec.replicas"),
            (
                vec![
                    field("spec"),
                    field("containers"),
                    key(&[("name", json!("app"))]),
                    field("image"),
                ],
                ".spec.containers[name=\"app\"].image",
            ),
            (
                vec![
                    field("ports"),
                    key(&[("protocol", json!("TCP")), ("containerPort", json!(80))]),
                ],
                ".ports[containerPort=80,protocol=\"TCP\"]",
            ),
            (
                vec![field("finalizers"), PathElement::Value(json!("a\"b"))],
                ".finalizers[=\"a\\\"b\"]",
            ),
            (vec![field("x"), PathElement::Index(3)], ".x[3]"),
        ];
        for (path, want) in cases {
            assert_eq!(path_string(&path), want);
        }
    }

    #[test]
    fn key_wire_form_sorts_fields() {
        let element = key(&[("protocol", json!("TCP")), ("containerPort", json!(80))]);
        assert_eq!(
            element.wire(),
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"
        );
        assert_eq!(PathElement::parse_wire(&element.wire()), Ok(element));
    }

    #[test]
    fn rejects_malformed_documents() {
        let cases = vec![
            (json!([]), "expected a JSON object, got list"),
            (json!({".": {}}), "\".\" is not allowed at the top level"),
            (json!({"x:foo": {}}), "unknown path element \"x:foo\""),
            (json!({"spec": {}}), "unknown path element \"spec\""),
            (
                json!({"f:spec": 1}),
                ".spec: expected a JSON object, got number",
            ),
            (
                json!({"f:spec": {"k:notjson": {}}}),
                ".spec: key \"notjson\" is not valid JSON",
            ),
            (
                json!({"f:spec": {"k:[1]": {}}}),
                ".spec: key \"[1]\" is not a JSON object",
            ),
            (
                json!({"f:spec": {"v:{": {}}}),
                ".spec: value \"{\" is not valid JSON",
            ),
            (
                json!({"f:a": {"i:-1": {}}}),
                ".a: index \"-1\" is not a non-negative integer",
            ),
            (
                json!({"f:a": {"f:b": {"f:c": null}}}),
                ".a.b.c: expected a JSON object, got null",
            ),
        ];
        for (doc, want) in cases {
            let err = FieldSet::from_fields_v1(&doc).expect_err("must fail");
            assert!(
                err.to_string().starts_with(want),
                "{doc}: got {err}, want {want}"
            );
        }
    }

    #[test]
    fn set_algebra() {
        let a = set_of(&[&["a", "b"], &["a", "c"], &["d"]]);
        let b = set_of(&[&["a", "c"], &["d"], &["e"]]);
        assert_eq!(
            a.union(&b),
            set_of(&[&["a", "b"], &["a", "c"], &["d"], &["e"]])
        );
        assert_eq!(a.intersection(&b), set_of(&[&["a", "c"], &["d"]]));
        assert_eq!(a.difference(&b), set_of(&[&["a", "b"]]));
        assert_eq!(b.difference(&a), set_of(&[&["e"]]));
        assert!(a.difference(&a).is_empty());
        // A member does not take the paths below it along in a difference.
        let parent = set_of(&[&["a"]]);
        assert_eq!(a.difference(&parent), a);
        assert_eq!(a.without_field("a"), set_of(&[&["d"]]));
        assert_eq!(a.only_field("a"), set_of(&[&["a", "b"], &["a", "c"]]));
        assert_eq!(
            set_of(&[&["a", "b", "c"]]).with_named_parents(),
            set_of(&[&["a"], &["a", "b"], &["a", "b", "c"]])
        );
    }

    fn set_of(paths: &[&[&str]]) -> FieldSet {
        let mut set = FieldSet::new();
        for path in paths {
            let path: Vec<PathElement> = path.iter().map(|n| field(n)).collect();
            set.insert(&path);
        }
        set
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z:.\"\\\\{} ]{0,6}".prop_map(Value::String),
        ]
    }

    fn element() -> impl Strategy<Value = PathElement> {
        prop_oneof![
            "[a-zA-Z.:\"{}/ -]{0,8}".prop_map(PathElement::Field),
            proptest::collection::btree_map("[a-z]{1,5}", scalar(), 1..3)
                .prop_map(|m| PathElement::Key(m.into_iter().collect())),
            scalar().prop_map(PathElement::Value),
            any::<u64>().prop_map(PathElement::Index),
        ]
    }

    fn field_set() -> impl Strategy<Value = FieldSet> {
        proptest::collection::vec(proptest::collection::vec(element(), 1..5), 0..12).prop_map(
            |paths| {
                let mut set = FieldSet::new();
                for path in paths {
                    set.insert(&path);
                }
                set
            },
        )
    }

    proptest! {
        #[test]
        fn fields_v1_round_trips(set in field_set()) {
            let wire = set.to_fields_v1();
            let text = serde_json::to_string(&wire).expect("serializes");
            let reparsed: Value = serde_json::from_str(&text).expect("reparses");
            prop_assert_eq!(FieldSet::from_fields_v1(&reparsed), Ok(set));
        }

        #[test]
        fn parsing_arbitrary_json_never_panics(doc in arbitrary_json()) {
            let _ = FieldSet::from_fields_v1(&doc);
        }

        #[test]
        fn difference_and_intersection_partition(a in field_set(), b in field_set()) {
            let inter = a.intersection(&b);
            let diff = a.difference(&b);
            prop_assert_eq!(inter.union(&diff), a.clone());
            prop_assert!(inter.intersection(&diff).is_empty());
            prop_assert_eq!(inter.len() + diff.len(), a.len());
        }
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let keys = prop_oneof![
            Just(".".to_string()),
            "f:[a-z]{0,3}",
            "k:[{}\"a-z:0-9]{0,8}",
            "v:[\"a-z0-9]{0,4}",
            "i:-?[0-9]{0,3}",
            "[a-z:]{0,4}",
        ];
        scalar().prop_recursive(4, 32, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map(keys.clone(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
