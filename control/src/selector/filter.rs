//! One object filter from a request's `labelSelector` and `fieldSelector`,
//! and how a watch event looks through it (an object that stops matching
//! is DELETED for that watcher; one that starts matching is ADDED).

use std::collections::BTreeMap;

use kube_core::{Selector, SelectorExt as _};
use serde_json::Value;

use super::{
    FieldSelector, SelectorError, check_supported, fields_of, parse_field_selector,
    parse_label_selector,
};

/// The selectors of one list or watch, for one kind.
#[derive(Clone, Debug)]
pub struct ObjectFilter {
    kind: &'static str,
    labels: Option<Selector>,
    fields: Option<FieldSelector>,
}

/// What a change is, as seen through a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// The object appears: created matching, or changed into the selection.
    Added,
    /// The object changed and matches before and after.
    Modified,
    /// The object disappears: deleted, or changed out of the selection.
    Deleted,
}

fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

impl ObjectFilter {
    /// Parses the selectors in apiserver's order: labels, fields, then
    /// whether the kind supports the field labels.
    pub fn new(
        kind: &'static str,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
    ) -> Result<ObjectFilter, SelectorError> {
        let labels = label_selector
            .map(parse_label_selector)
            .transpose()?
            .filter(|s| !s.selects_all());
        let fields = field_selector
            .map(parse_field_selector)
            .transpose()?
            .filter(|s| !s.selects_all());
        if let Some(fields) = &fields {
            check_supported(kind, fields)?;
        }
        Ok(ObjectFilter {
            kind,
            labels,
            fields,
        })
    }

    /// Whether the filter lets everything through.
    pub fn selects_all(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    /// Whether `object` passes.
    pub fn matches(&self, object: &Value) -> bool {
        self.labels
            .as_ref()
            .is_none_or(|s| s.matches(&labels_of(object)))
            && self
                .fields
                .as_ref()
                .is_none_or(|f| f.matches(&fields_of(self.kind, object)))
    }

    /// How an update from `before` to `after` looks to a watcher, if at all.
    pub fn update(&self, before: Option<&Value>, after: &Value) -> Option<Seen> {
        let was = before.is_some_and(|b| self.matches(b));
        match (was, self.matches(after)) {
            (true, true) => Some(Seen::Modified),
            (false, true) => Some(Seen::Added),
            (true, false) => Some(Seen::Deleted),
            (false, false) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(app: &str, node: &str) -> Value {
        json!({"metadata": {"name": "p", "namespace": "default", "labels": {"app": app}},
               "spec": {"nodeName": node}})
    }

    #[test]
    fn labels_and_fields_both_apply() {
        let filter =
            ObjectFilter::new("Pod", Some("app=web"), Some("spec.nodeName=n1")).expect("valid");
        assert!(filter.matches(&pod("web", "n1")));
        assert!(!filter.matches(&pod("web", "n2")));
        assert!(!filter.matches(&pod("db", "n1")));
        assert!(
            ObjectFilter::new("Pod", Some(""), Some(""))
                .expect("valid")
                .selects_all()
        );
    }

    #[test]
    fn bad_or_unsupported_selectors_are_errors() {
        assert!(ObjectFilter::new("Pod", Some("app in (a"), None).is_err());
        let err =
            ObjectFilter::new("Service", None, Some("spec.nodeName=n1")).expect_err("unsupported");
        assert!(err.to_string().contains("spec.nodeName"), "{err}");
    }

    #[test]
    fn watchers_see_objects_enter_and_leave_their_selection() {
        let filter = ObjectFilter::new("Pod", Some("app=web"), None).expect("valid");
        let (web, db) = (pod("web", ""), pod("db", ""));
        assert_eq!(filter.update(None, &web), Some(Seen::Added));
        assert_eq!(filter.update(Some(&web), &web), Some(Seen::Modified));
        assert_eq!(filter.update(Some(&db), &web), Some(Seen::Added));
        assert_eq!(filter.update(Some(&web), &db), Some(Seen::Deleted));
        assert_eq!(filter.update(Some(&db), &db), None);
    }
}
