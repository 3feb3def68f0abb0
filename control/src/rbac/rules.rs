//! Matching one `PolicyRule` against request attributes, as kube's `RuleAllows` and the
//! `pkg/apis/rbac/v1` evaluation helpers do.
//!
//! Holds only the per-rule predicate; it must not know about bindings, subjects or roles.
//! Wildcards are exactly kube's: `*` verbs, groups, resources and URLs; `*/sub` for a
//! subresource of any resource; a URL ending in `*` as a prefix. Notably `pods/*` is *not* a
//! wildcard in kube (it only matches the literal subresource `*`), and neither is it here.

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::Attributes;

const ALL: &str = "*";

/// Whether `rule` allows the request described by `attrs`.
pub fn rule_allows(attrs: &Attributes, rule: &PolicyRule) -> bool {
    match attrs {
        Attributes::Resource {
            verb,
            api_group,
            resource,
            subresource,
            name,
            ..
        } => {
            let subresource = subresource.as_deref().unwrap_or_default();
            verb_matches(rule, verb)
                && api_group_matches(rule, api_group)
                && resource_matches(rule, resource, subresource)
                && resource_name_matches(rule, name.as_deref().unwrap_or_default())
        }
        Attributes::NonResource { verb, path } => {
            verb_matches(rule, verb) && non_resource_url_matches(rule, path)
        }
    }
}

fn list(field: &Option<Vec<String>>) -> &[String] {
    field.as_deref().unwrap_or_default()
}

fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == ALL || v == verb)
}

fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    list(&rule.api_groups)
        .iter()
        .any(|g| g == ALL || g == group)
}

fn resource_matches(rule: &PolicyRule, resource: &str, subresource: &str) -> bool {
    list(&rule.resources).iter().any(|r| {
        if r == ALL {
            return true;
        }
        if subresource.is_empty() {
            return r == resource;
        }
        // kube compares against `resource/subresource`; strip instead of allocating it.
        let exact = r
            .strip_prefix(resource)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|sub| sub == subresource);
        exact || r.strip_prefix("*/").is_some_and(|sub| sub == subresource)
    })
}

fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    let names = list(&rule.resource_names);
    // A rule without names covers every object; with names it needs the request to name one
    // of them, so it never covers `list`, `watch`, `create` or `deletecollection` (no name).
    names.is_empty() || names.iter().any(|n| n == name)
}

fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    list(&rule.non_resource_urls).iter().any(|u| {
        if u == ALL || u == path {
            return true;
        }
        u.ends_with('*') && path.starts_with(u.trim_end_matches('*'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: strings(groups),
            resources: strings(resources),
            resource_names: if names.is_empty() {
                None
            } else {
                strings(names)
            },
            non_resource_urls: None,
        }
    }

    fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            non_resource_urls: strings(urls),
            ..Default::default()
        }
    }

    fn res(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Attributes::Resource {
            verb: verb.into(),
            api_group: group.into(),
            resource: resource.into(),
            subresource: opt(sub),
            namespace: Some("default".into()),
            name: opt(name),
        }
    }

    fn url(verb: &str, path: &str) -> Attributes {
        Attributes::NonResource {
            verb: verb.into(),
            path: path.into(),
        }
    }

    #[test]
    fn resource_rules() {
        let pods_get = rule(&["get"], &[""], &["pods"], &[]);
        let any_verb = rule(&["*"], &[""], &["pods"], &[]);
        let any_group = rule(&["get"], &["*"], &["pods"], &[]);
        let any_resource = rule(&["get"], &[""], &["*"], &[]);
        let pods_log = rule(&["get"], &[""], &["pods/log"], &[]);
        let any_scale = rule(&["get", "update"], &["apps"], &["*/scale"], &[]);
        let pods_star = rule(&["get"], &[""], &["pods/*"], &[]);
        let named = rule(
            &["get", "list", "create", "update"],
            &[""],
            &["configmaps"],
            &["cm1"],
        );
        let empty_name = rule(&["list"], &[""], &["configmaps"], &[""]);
        let deploy_scale = rule(&["patch"], &["apps"], &["deployments/scale"], &[]);
        let urls_only = url_rule(&["*"], &["*"]);
        let cases: Vec<(&str, &PolicyRule, Attributes, bool)> = vec![
            ("exact", &pods_get, res("get", "", "pods", "", "p"), true),
            (
                "wrong verb",
                &pods_get,
                res("list", "", "pods", "", ""),
                false,
            ),
            (
                "wrong group",
                &pods_get,
                res("get", "apps", "pods", "", "p"),
                false,
            ),
            (
                "wrong resource",
                &pods_get,
                res("get", "", "services", "", ""),
                false,
            ),
            (
                "no subresource grant",
                &pods_get,
                res("get", "", "pods", "log", "p"),
                false,
            ),
            (
                "verb *",
                &any_verb,
                res("deletecollection", "", "pods", "", ""),
                true,
            ),
            (
                "group *",
                &any_group,
                res("get", "example.com", "pods", "", ""),
                true,
            ),
            (
                "resource *",
                &any_resource,
                res("get", "", "secrets", "", "s"),
                true,
            ),
            (
                "resource * covers subresources",
                &any_resource,
                res("get", "", "pods", "log", "p"),
                true,
            ),
            (
                "resource * keeps group",
                &any_resource,
                res("get", "apps", "deployments", "", ""),
                false,
            ),
            (
                "pods/log",
                &pods_log,
                res("get", "", "pods", "log", "p"),
                true,
            ),
            (
                "pods/log not pods",
                &pods_log,
                res("get", "", "pods", "", "p"),
                false,
            ),
            (
                "pods/log not pods/exec",
                &pods_log,
                res("get", "", "pods", "exec", "p"),
                false,
            ),
            (
                "*/scale deployments",
                &any_scale,
                res("update", "apps", "deployments", "scale", "d"),
                true,
            ),
            (
                "*/scale replicasets",
                &any_scale,
                res("get", "apps", "replicasets", "scale", "r"),
                true,
            ),
            (
                "*/scale not status",
                &any_scale,
                res("get", "apps", "deployments", "status", "d"),
                false,
            ),
            (
                "*/scale not main resource",
                &any_scale,
                res("get", "apps", "deployments", "", "d"),
                false,
            ),
            (
                "deployments/scale",
                &deploy_scale,
                res("patch", "apps", "deployments", "scale", "d"),
                true,
            ),
            (
                "deployments/scale not statefulsets",
                &deploy_scale,
                res("patch", "apps", "statefulsets", "scale", "d"),
                false,
            ),
            (
                "pods/* is literal in kube",
                &pods_star,
                res("get", "", "pods", "log", "p"),
                false,
            ),
            (
                "pods/* literal subresource *",
                &pods_star,
                res("get", "", "pods", "*", "p"),
                true,
            ),
            (
                "resourceNames get named",
                &named,
                res("get", "", "configmaps", "", "cm1"),
                true,
            ),
            (
                "resourceNames get other",
                &named,
                res("get", "", "configmaps", "", "cm2"),
                false,
            ),
            (
                "resourceNames list",
                &named,
                res("list", "", "configmaps", "", ""),
                false,
            ),
            (
                "resourceNames create",
                &named,
                res("create", "", "configmaps", "", ""),
                false,
            ),
            (
                "resourceNames list by field selector",
                &named,
                res("list", "", "configmaps", "", "cm1"),
                true,
            ),
            (
                "resourceNames [\"\"] as kube",
                &empty_name,
                res("list", "", "configmaps", "", ""),
                true,
            ),
            (
                "url rule never grants resources",
                &urls_only,
                res("get", "", "pods", "", ""),
                false,
            ),
            (
                "resource rule never grants urls",
                &any_resource,
                url("get", "/api"),
                false,
            ),
        ];
        for (what, rule, attrs, want) in cases {
            assert_eq!(rule_allows(&attrs, rule), want, "{what}");
        }
    }

    #[test]
    fn non_resource_rules() {
        let discovery = url_rule(
            &["get"],
            &["/api", "/api/*", "/healthz", "/openapi/*", "/version/"],
        );
        let everything = url_rule(&["*"], &["*"]);
        let double_star = url_rule(&["get"], &["/logs**"]);
        let cases: Vec<(&str, &PolicyRule, Attributes, bool)> = vec![
            ("exact", &discovery, url("get", "/healthz"), true),
            (
                "exact needs verb",
                &discovery,
                url("post", "/healthz"),
                false,
            ),
            (
                "no implicit prefix",
                &discovery,
                url("get", "/healthz/etcd"),
                false,
            ),
            ("star prefix", &discovery, url("get", "/api/v1"), true),
            (
                "star prefix deep",
                &discovery,
                url("get", "/openapi/v3/apis/apps/v1"),
                true,
            ),
            (
                "star needs the slash",
                &discovery,
                url("get", "/openapi"),
                false,
            ),
            (
                "trailing slash is distinct",
                &discovery,
                url("get", "/version"),
                false,
            ),
            (
                "trailing slash exact",
                &discovery,
                url("get", "/version/"),
                true,
            ),
            ("other path", &discovery, url("get", "/metrics"), false),
            ("all", &everything, url("delete", "/anything/at/all"), true),
            (
                "all stars trimmed",
                &double_star,
                url("get", "/logsfoo"),
                true,
            ),
        ];
        for (what, rule, attrs, want) in cases {
            assert_eq!(rule_allows(&attrs, rule), want, "{what}");
        }
    }
}
