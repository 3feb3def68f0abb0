//! The JSON object builder every kind converter uses. A converter owns the
//! decoded k8s-pb message and *takes* each field it understands out of it
//! into an [`Obj`]; [`Obj::end`] then insists that what is left encodes to
//! nothing, so a field no converter handles is refused by name instead of
//! being dropped. Nothing here knows any particular kind.

use std::collections::BTreeMap;
use std::fmt::Debug;

use base64::Engine as _;
use prost::Message;
use serde_json::{Map, Value};

/// What a converter makes of one message.
pub(super) type Conv<T = Value> = Result<T, Fault>;

/// A JSON object, what most messages become.
pub(super) type Object = Map<String, Value>;

/// Why a message could not become JSON, with the JSON path of the culprit
/// relative to the message being converted.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Fault {
    /// A field no converter takes: it would be lost.
    Left { field: String },
    /// A value JSON cannot carry as kube-apiserver would write it.
    Invalid { field: String, reason: String },
}

impl Fault {
    /// The same fault seen from the parent that holds it under `key`.
    fn under(self, key: &str) -> Fault {
        let join = |field: String| match field.as_str() {
            "" => key.to_owned(),
            _ => format!("{key}.{field}"),
        };
        match self {
            Fault::Left { field } => Fault::Left { field: join(field) },
            Fault::Invalid { field, reason } => Fault::Invalid {
                field: join(field),
                reason,
            },
        }
    }

    /// A value at the current position that cannot be converted.
    pub(super) fn invalid(reason: impl Into<String>) -> Fault {
        Fault::Invalid {
            field: String::new(),
            reason: reason.into(),
        }
    }
}

/// A JSON object filled field by field from a message.
///
/// The presence rules follow Go's encoding/json over the Kubernetes Go types,
/// since Go clients fill every non-pointer field on the wire:
/// [`Obj::opt`] for pointer and required fields (present means emitted, even
/// when zero), [`Obj::nz`] for `omitempty` value fields (the zero value is
/// what Go sends for "unset"), and lists and maps are left out when empty.
#[derive(Debug, Default)]
pub(super) struct Obj(Object);

impl Obj {
    /// An empty object.
    pub(super) fn new() -> Self {
        Self::default()
    }

    fn put(mut self, key: &str, value: Value) -> Self {
        self.0.insert(key.to_owned(), value);
        self
    }

    /// A pointer or required field: emitted whenever present.
    pub(super) fn opt<T: Into<Value>>(self, key: &str, field: &mut Option<T>) -> Self {
        match field.take() {
            Some(value) => self.put(key, value.into()),
            None => self,
        }
    }

    /// An `omitempty` value field: emitted unless absent or zero.
    pub(super) fn nz<T>(self, key: &str, field: &mut Option<T>) -> Self
    where
        T: Into<Value> + Default + PartialEq,
    {
        match field.take() {
            Some(value) if value != T::default() => self.put(key, value.into()),
            _ => self,
        }
    }

    /// A list of scalars, left out when empty.
    pub(super) fn list<T: Into<Value>>(self, key: &str, field: &mut Vec<T>) -> Self {
        match std::mem::take(field) {
            values if values.is_empty() => self,
            values => self.put(
                key,
                Value::Array(values.into_iter().map(Into::into).collect()),
            ),
        }
    }

    /// A string map, left out when empty.
    pub(super) fn map(self, key: &str, field: &mut BTreeMap<String, String>) -> Self {
        match std::mem::take(field) {
            entries if entries.is_empty() => self,
            entries => self.put(
                key,
                Value::Object(entries.into_iter().map(|(k, v)| (k, v.into())).collect()),
            ),
        }
    }

    /// A bytes map, base64 like Go's `[]byte`, left out when empty.
    pub(super) fn bytes_map(self, key: &str, field: &mut BTreeMap<String, Vec<u8>>) -> Self {
        match std::mem::take(field) {
            entries if entries.is_empty() => self,
            entries => self.put(
                key,
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| {
                            (
                                k,
                                base64::engine::general_purpose::STANDARD.encode(v).into(),
                            )
                        })
                        .collect(),
                ),
            ),
        }
    }

    /// A message map (a `ResourceList`), left out when empty.
    pub(super) fn msg_map<M, T: Into<Value>>(
        self,
        key: &str,
        field: &mut BTreeMap<String, M>,
        convert: fn(M) -> Conv<T>,
    ) -> Conv<Self> {
        let entries = std::mem::take(field);
        if entries.is_empty() {
            return Ok(self);
        }
        let mut object = Map::new();
        for (name, value) in entries {
            let value = convert(value).map_err(|f| f.under(&format!("{key}[{name}]")))?;
            object.insert(name, value.into());
        }
        Ok(self.put(key, Value::Object(object)))
    }

    /// A nested message, emitted whenever present (`{}` when empty).
    pub(super) fn msg<M, T: Into<Value>>(
        self,
        key: &str,
        field: &mut Option<M>,
        convert: fn(M) -> Conv<T>,
    ) -> Conv<Self> {
        match field.take() {
            Some(message) => {
                let value = convert(message).map_err(|f| f.under(key))?;
                Ok(self.put(key, value.into()))
            }
            None => Ok(self),
        }
    }

    /// A list of messages, left out when empty.
    pub(super) fn msgs<M, T: Into<Value>>(
        self,
        key: &str,
        field: &mut Vec<M>,
        convert: fn(M) -> Conv<T>,
    ) -> Conv<Self> {
        let items = std::mem::take(field);
        if items.is_empty() {
            return Ok(self);
        }
        let values = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match convert(item) {
                Ok(value) => Ok(value.into()),
                Err(fault) => Err(fault.under(&format!("{key}[{i}]"))),
            })
            .collect::<Conv<Vec<_>>>()?;
        Ok(self.put(key, Value::Array(values)))
    }

    /// A message Go embeds inline (`json:",inline"`): its keys join this
    /// object's.
    pub(super) fn inline<M>(
        mut self,
        field: &mut Option<M>,
        convert: fn(M) -> Conv<Object>,
    ) -> Conv<Self> {
        if let Some(message) = field.take() {
            self.0.extend(convert(message)?);
        }
        Ok(self)
    }

    /// The finished object, provided nothing is left in `rest`.
    pub(super) fn end<M: Message + Debug>(self, rest: &M) -> Conv<Object> {
        if rest.encoded_len() == 0 {
            Ok(self.0)
        } else {
            Err(Fault::Left {
                field: first_set_field(&format!("{rest:?}")).unwrap_or_else(|| "(unnamed)".into()),
            })
        }
    }
}

/// The JSON-style name of the first field of a prost message's `Debug` text
/// that is still set (not `None`, `[]` or `{}`). prost messages have no field
/// reflection, and their derived `Debug` lists every field by its Rust name.
fn first_set_field(debug: &str) -> Option<String> {
    let (_, body) = debug.split_once(" { ")?;
    let body = body.strip_suffix(" }")?;
    top_level_fields(body)
        .into_iter()
        .filter_map(|field| field.split_once(": "))
        .find(|(_, value)| !matches!(*value, "None" | "[]" | "{}"))
        .map(|(name, _)| camel_case(name.trim_start_matches("r#")))
}

/// Splits `a: 1, b: Some(X { c: 2, d: "e, f" })` at its top-level commas.
fn top_level_fields(body: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0_usize, false, false, 0);
    for (i, c) in body.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                fields.push(body.get(start..i).unwrap_or_default().trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    fields.push(body.get(start..).unwrap_or_default().trim());
    fields
}

/// `termination_grace_period_seconds` → `terminationGracePeriodSeconds`.
fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        match (c, upper) {
            ('_', _) => upper = true,
            (c, true) => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_set_field_is_named_in_json_style() {
        let cases = [
            ("A { b: None, c_d: Some(1) }", Some("cD")),
            ("A { b: [], r#type: Some(\"x\") }", Some("type")),
            (
                "A { b: {}, c: Some(X { d: None, e: \"}, f: 1\" }), g: Some(2) }",
                Some("c"),
            ),
            ("A { b: Some(\"q\\\"x, y: 1\"), c: None }", Some("b")),
            ("A { b: None }", None),
            ("garbage", None),
        ];
        for (debug, want) in cases {
            assert_eq!(first_set_field(debug).as_deref(), want, "{debug}");
        }
    }

    #[test]
    fn faults_collect_their_path_from_the_inside_out() {
        let fault = Fault::Left {
            field: "affinity".into(),
        }
        .under("spec")
        .under("template")
        .under("spec");
        assert_eq!(
            fault,
            Fault::Left {
                field: "spec.template.spec.affinity".into()
            }
        );
        let fault = Fault::invalid("bad").under("containers[0]").under("spec");
        assert_eq!(
            fault,
            Fault::Invalid {
                field: "spec.containers[0]".into(),
                reason: "bad".into()
            }
        );
    }
}
