//! ClusterRole aggregation: the rules kube's clusterrole-aggregation controller would write
//! into every ClusterRole that has an `aggregationRule`.
//!
//! Holds the pure fixpoint computation over a set of ClusterRoles. It must not write
//! anything back; a caller that wants `kubectl get clusterrole view -o yaml` to show the
//! aggregated rules stores the returned roles itself.

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};

use std::collections::BTreeMap;

use kube_core::{Selector, SelectorExt as _};

use crate::selector::{SelectorError, from_label_selector};

/// A ClusterRole whose aggregation rule cannot be evaluated; its rules are left as stored,
/// as the controller leaves them while it retries.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("clusterrole {cluster_role:?}: clusterRoleSelectors[{index}]: {source}")]
pub struct AggregationError {
    /// Name of the aggregated ClusterRole.
    pub cluster_role: String,
    /// Index of the offending selector.
    pub index: usize,
    /// What is wrong with it.
    #[source]
    pub source: SelectorError,
}

/// Returns `cluster_roles` with the rules of every aggregated ClusterRole replaced by the
/// union of the rules of the ClusterRoles its selectors match, as the controller converges.
///
/// Per role, matched roles are taken per selector in name order, skipping the role itself,
/// and a rule is added once (`nil` and empty lists compare equal, as kube's semantic
/// equality does). Aggregated roles feeding other aggregated roles (`view` into `edit` into
/// `admin`) are handled by re-running in name order until nothing changes.
pub fn aggregate_cluster_roles(
    mut cluster_roles: Vec<ClusterRole>,
) -> (Vec<ClusterRole>, Vec<AggregationError>) {
    let mut errors = Vec::new();
    // (index into cluster_roles, parsed selectors), in name order.
    let mut aggregated: Vec<(usize, Vec<Selector>)> = Vec::new();
    for (i, role) in cluster_roles.iter().enumerate() {
        let Some(rule) = &role.aggregation_rule else {
            continue;
        };
        let parsed: Result<Vec<Selector>, AggregationError> = rule
            .cluster_role_selectors
            .iter()
            .flatten()
            .enumerate()
            .map(|(index, s)| {
                from_label_selector(s).map_err(|source| AggregationError {
                    cluster_role: name(role).to_string(),
                    index,
                    source,
                })
            })
            .collect();
        match parsed {
            Ok(selectors) => aggregated.push((i, selectors)),
            Err(e) => errors.push(e),
        }
    }
    aggregated
        .sort_by(|(a, _), (b, _)| name_at(&cluster_roles, *a).cmp(name_at(&cluster_roles, *b)));

    // Indices of all roles in name order, as the controller's sorted lister output.
    let mut by_name: Vec<usize> = (0..cluster_roles.len()).collect();
    by_name.sort_by(|a, b| name_at(&cluster_roles, *a).cmp(name_at(&cluster_roles, *b)));

    // Each pass settles at least one more level of nesting; a chain is at most as long as
    // there are roles, and the bound keeps a (pathological) selector cycle finite.
    for _ in 0..=cluster_roles.len() {
        let mut changed = false;
        for (target, selectors) in &aggregated {
            let rules = collect_rules(&cluster_roles, &by_name, *target, selectors);
            if let Some(role) = cluster_roles.get_mut(*target)
                && !same_rules(role.rules.as_deref().unwrap_or_default(), &rules)
            {
                role.rules = Some(rules);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    (cluster_roles, errors)
}

fn collect_rules(
    roles: &[ClusterRole],
    by_name: &[usize],
    target: usize,
    selectors: &[Selector],
) -> Vec<PolicyRule> {
    let target_name = name_at(roles, target);
    let mut rules: Vec<PolicyRule> = Vec::new();
    for selector in selectors {
        for role in by_name.iter().filter_map(|i| roles.get(*i)) {
            if name(role) == target_name
                || !selector.matches(role.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()))
            {
                continue;
            }
            for rule in role.rules.iter().flatten() {
                if !rules.iter().any(|r| same_rule(r, rule)) {
                    rules.push(rule.clone());
                }
            }
        }
    }
    rules
}

fn name(role: &ClusterRole) -> &str {
    role.metadata.name.as_deref().unwrap_or_default()
}

fn name_at(roles: &[ClusterRole], i: usize) -> &str {
    roles.get(i).map(name).unwrap_or_default()
}

fn same_rules(a: &[PolicyRule], b: &[PolicyRule]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_rule(x, y))
}

fn same_rule(a: &PolicyRule, b: &PolicyRule) -> bool {
    let l = |v: &Option<Vec<String>>| -> Vec<String> { v.clone().unwrap_or_default() };
    a.verbs == b.verbs
        && l(&a.api_groups) == l(&b.api_groups)
        && l(&a.resources) == l(&b.resources)
        && l(&a.resource_names) == l(&b.resource_names)
        && l(&a.non_resource_urls) == l(&b.non_resource_urls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::AggregationRule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        LabelSelector, LabelSelectorRequirement, ObjectMeta,
    };

    fn rule(verb: &str, resource: &str) -> PolicyRule {
        PolicyRule {
            verbs: vec![verb.into()],
            api_groups: Some(vec![String::new()]),
            resources: Some(vec![resource.into()]),
            ..Default::default()
        }
    }

    fn role(name: &str, labels: &[(&str, &str)], rules: Vec<PolicyRule>) -> ClusterRole {
        ClusterRole {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: (!labels.is_empty()).then(|| {
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                }),
                ..Default::default()
            },
            rules: (!rules.is_empty()).then_some(rules),
            aggregation_rule: None,
        }
    }

    fn aggregating(mut r: ClusterRole, selectors: Vec<LabelSelector>) -> ClusterRole {
        r.aggregation_rule = Some(AggregationRule {
            cluster_role_selectors: Some(selectors),
        });
        r
    }

    fn match_label(k: &str) -> LabelSelector {
        LabelSelector {
            match_labels: Some([(k.to_string(), "true".to_string())].into()),
            match_expressions: None,
        }
    }

    fn rules_of<'a>(roles: &'a [ClusterRole], n: &str) -> &'a [PolicyRule] {
        roles
            .iter()
            .find(|r| name(r) == n)
            .and_then(|r| r.rules.as_deref())
            .unwrap_or_default()
    }

    #[test]
    fn nested_aggregation_converges_in_any_input_order() {
        let input = vec![
            aggregating(role("admin", &[], vec![]), vec![match_label("to-admin")]),
            aggregating(
                role("edit", &[("to-admin", "true")], vec![]),
                vec![match_label("to-edit")],
            ),
            aggregating(
                role("view", &[("to-edit", "true")], vec![rule("stale", "x")]),
                vec![match_label("to-view")],
            ),
            role("z-view", &[("to-view", "true")], vec![rule("get", "pods")]),
            role(
                "a-view",
                &[("to-view", "true")],
                vec![rule("get", "services"), rule("get", "pods")],
            ),
            role(
                "edit-extra",
                &[("to-edit", "true")],
                vec![rule("create", "pods")],
            ),
            role(
                "unrelated",
                &[("to-view", "false")],
                vec![rule("delete", "nodes")],
            ),
        ];
        for reversed in [false, true] {
            let mut input = input.clone();
            if reversed {
                input.reverse();
            }
            let (out, errors) = aggregate_cluster_roles(input);
            assert!(errors.is_empty());
            // Name order (a-view before z-view), deduplicated, stored rules replaced.
            let view = vec![rule("get", "services"), rule("get", "pods")];
            assert_eq!(
                rules_of(&out, "view"),
                view.as_slice(),
                "reversed={reversed}"
            );
            let mut edit = vec![rule("create", "pods")];
            edit.extend(view.clone());
            assert_eq!(
                rules_of(&out, "edit"),
                edit.as_slice(),
                "reversed={reversed}"
            );
            assert_eq!(
                rules_of(&out, "admin"),
                edit.as_slice(),
                "reversed={reversed}"
            );
            assert_eq!(rules_of(&out, "unrelated"), &[rule("delete", "nodes")]);
        }
    }

    #[test]
    fn selectors_union_and_self_is_skipped() {
        let input = vec![
            aggregating(
                role("agg", &[("a", "true")], vec![rule("stale", "x")]),
                vec![match_label("a"), match_label("b"), match_label("a")],
            ),
            role("ra", &[("a", "true")], vec![rule("get", "pods")]),
            role(
                "rb",
                &[("b", "true")],
                vec![rule("get", "pods"), rule("list", "pods")],
            ),
        ];
        let (out, errors) = aggregate_cluster_roles(input);
        assert!(errors.is_empty());
        assert_eq!(
            rules_of(&out, "agg"),
            &[rule("get", "pods"), rule("list", "pods")]
        );
    }

    #[test]
    fn empty_selector_matches_every_other_role() {
        let input = vec![
            aggregating(role("all", &[], vec![]), vec![LabelSelector::default()]),
            role("x", &[], vec![rule("get", "pods")]),
        ];
        let (out, _) = aggregate_cluster_roles(input);
        assert_eq!(rules_of(&out, "all"), &[rule("get", "pods")]);
    }

    #[test]
    fn no_match_clears_rules_and_nil_equals_empty() {
        let mut empty_lists = rule("get", "pods");
        empty_lists.resource_names = Some(vec![]);
        let input = vec![
            aggregating(
                role("agg", &[], vec![rule("get", "secrets")]),
                vec![match_label("none")],
            ),
            aggregating(role("agg2", &[], vec![]), vec![match_label("p")]),
            role("p1", &[("p", "true")], vec![rule("get", "pods")]),
            role("p2", &[("p", "true")], vec![empty_lists]),
        ];
        let (out, _) = aggregate_cluster_roles(input);
        assert_eq!(rules_of(&out, "agg"), &[] as &[PolicyRule]);
        assert_eq!(rules_of(&out, "agg2"), &[rule("get", "pods")]);
    }

    #[test]
    fn invalid_selector_keeps_stored_rules() {
        let bad = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Bogus".into(),
                values: None,
            }]),
        };
        let input = vec![
            aggregating(
                role("agg", &[], vec![rule("get", "secrets")]),
                vec![match_label("a"), bad],
            ),
            role("ra", &[("a", "true")], vec![rule("get", "pods")]),
        ];
        let (out, errors) = aggregate_cluster_roles(input);
        assert_eq!(rules_of(&out, "agg"), &[rule("get", "secrets")]);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors.first().map(ToString::to_string).as_deref(),
            Some(
                "clusterrole \"agg\": clusterRoleSelectors[1]: \"Bogus\" is not a valid label selector operator"
            )
        );
    }

    #[test]
    fn mutual_aggregation_terminates() {
        let input = vec![
            aggregating(role("a", &[("x", "true")], vec![]), vec![match_label("y")]),
            aggregating(role("b", &[("y", "true")], vec![]), vec![match_label("x")]),
            role("c", &[("x", "true")], vec![rule("get", "pods")]),
        ];
        let (out, _) = aggregate_cluster_roles(input);
        // a sees b (empty on the first pass), b sees a and c; the second pass settles a.
        assert_eq!(rules_of(&out, "a"), &[rule("get", "pods")]);
        assert_eq!(rules_of(&out, "b"), &[rule("get", "pods")]);
    }
}
