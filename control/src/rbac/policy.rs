//! The RBAC objects of a cluster, indexed for authorization: roles by name, bindings by
//! namespace and by subject, ClusterRoles with their aggregated rules.
//!
//! Holds kube's rule resolver (`pkg/registry/rbac/validation`): which bindings apply to a
//! user, which subject of a binding matched, and which rules a `roleRef` resolves to. It
//! must not decide whether a request is allowed; that is [`super::authorize`]'s job.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use super::aggregation::{AggregationError, aggregate_cluster_roles};
use super::{ResolveError, UserInfo};

const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// Roles, ClusterRoles and their bindings, indexed for [`super::authorize`].
///
/// Duplicate objects (same namespace and name) keep the first one given. Bindings are
/// consulted in the order given, ClusterRoleBindings before RoleBindings, as kube does;
/// this only affects which binding an `Allow` reason names.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// namespace -> name -> Role.
    roles: BTreeMap<String, BTreeMap<String, Role>>,
    /// name -> ClusterRole, with aggregated rules filled in.
    cluster_roles: BTreeMap<String, ClusterRole>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    cluster_subjects: SubjectIndex,
    role_bindings: Vec<RoleBinding>,
    /// namespace -> subjects of that namespace's RoleBindings.
    namespace_subjects: BTreeMap<String, SubjectIndex>,
    aggregation_errors: Vec<AggregationError>,
}

/// Binding positions by the user names and groups their subjects match.
#[derive(Clone, Debug, Default)]
struct SubjectIndex {
    /// `User` subjects, and `ServiceAccount` subjects as their user names.
    users: BTreeMap<String, Vec<usize>>,
    groups: BTreeMap<String, Vec<usize>>,
}

impl SubjectIndex {
    fn insert(&mut self, position: usize, subjects: &[Subject], binding_namespace: &str) {
        for subject in subjects {
            let (map, key) = match subject.kind.as_str() {
                "User" => (&mut self.users, subject.name.clone()),
                "Group" => (&mut self.groups, subject.name.clone()),
                "ServiceAccount" => match service_account_namespace(subject, binding_namespace) {
                    Some(ns) => (
                        &mut self.users,
                        format!("{SERVICE_ACCOUNT_PREFIX}{ns}:{}", subject.name),
                    ),
                    None => continue,
                },
                _ => continue,
            };
            let positions = map.entry(key).or_default();
            if positions.last() != Some(&position) {
                positions.push(position);
            }
        }
    }

    /// Positions of bindings that may apply to `user`, ascending and without repeats.
    fn candidates(&self, user: &UserInfo) -> Vec<usize> {
        let mut out: Vec<usize> = self.users.get(&user.name).cloned().unwrap_or_default();
        for group in &user.groups {
            out.extend(self.groups.get(group).into_iter().flatten());
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

impl Policy {
    /// Indexes the given objects, aggregating ClusterRoles first.
    pub fn new(
        roles: Vec<Role>,
        cluster_roles: Vec<ClusterRole>,
        role_bindings: Vec<RoleBinding>,
        cluster_role_bindings: Vec<ClusterRoleBinding>,
    ) -> Self {
        let mut role_index: BTreeMap<String, BTreeMap<String, Role>> = BTreeMap::new();
        for role in roles {
            // A Role outside any namespace cannot be referenced (kube's store has none).
            let (Some(ns), Some(name)) = (&role.metadata.namespace, &role.metadata.name) else {
                continue;
            };
            if ns.is_empty() {
                continue;
            }
            let (ns, name) = (ns.clone(), name.clone());
            role_index
                .entry(ns)
                .or_default()
                .entry(name)
                .or_insert(role);
        }

        let (cluster_roles, aggregation_errors) = aggregate_cluster_roles(cluster_roles);
        let mut cluster_role_index = BTreeMap::new();
        for role in cluster_roles {
            if let Some(name) = role.metadata.name.clone() {
                cluster_role_index.entry(name).or_insert(role);
            }
        }

        let mut cluster_subjects = SubjectIndex::default();
        for (position, binding) in cluster_role_bindings.iter().enumerate() {
            let subjects = binding.subjects.as_deref().unwrap_or_default();
            cluster_subjects.insert(position, subjects, "");
        }

        let mut namespace_subjects: BTreeMap<String, SubjectIndex> = BTreeMap::new();
        for (position, binding) in role_bindings.iter().enumerate() {
            let Some(ns) = binding
                .metadata
                .namespace
                .as_deref()
                .filter(|ns| !ns.is_empty())
            else {
                continue;
            };
            let subjects = binding.subjects.as_deref().unwrap_or_default();
            namespace_subjects
                .entry(ns.to_string())
                .or_default()
                .insert(position, subjects, ns);
        }

        Policy {
            roles: role_index,
            cluster_roles: cluster_role_index,
            cluster_role_bindings,
            cluster_subjects,
            role_bindings,
            namespace_subjects,
            aggregation_errors,
        }
    }

    /// The Role `name` in `namespace`.
    pub fn role(&self, namespace: &str, name: &str) -> Option<&Role> {
        self.roles.get(namespace).and_then(|roles| roles.get(name))
    }

    /// The ClusterRole `name`, with its aggregated rules if it aggregates.
    pub fn cluster_role(&self, name: &str) -> Option<&ClusterRole> {
        self.cluster_roles.get(name)
    }

    /// All ClusterRoles in name order, aggregated rules filled in.
    pub fn cluster_roles(&self) -> impl Iterator<Item = &ClusterRole> {
        self.cluster_roles.values()
    }

    /// Aggregated ClusterRoles whose selectors could not be evaluated.
    pub fn aggregation_errors(&self) -> &[AggregationError] {
        &self.aggregation_errors
    }

    /// Every rule granted to `user` in `namespace` (cluster-wide only when `None`), and the
    /// bindings that could not be resolved; kube's `RulesFor`, for SelfSubjectRulesReview.
    pub fn rules_for(
        &self,
        user: &UserInfo,
        namespace: Option<&str>,
    ) -> (Vec<PolicyRule>, Vec<ResolveError>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for grant in self.grants(user, namespace) {
            match grant.rules {
                Ok(r) => rules.extend_from_slice(r),
                Err(e) => errors.push(e),
            }
        }
        (rules, errors)
    }

    /// The bindings that apply to `user` for a request in `namespace`, in evaluation order:
    /// ClusterRoleBindings, then the namespace's RoleBindings.
    pub(super) fn grants<'a>(
        &'a self,
        user: &'a UserInfo,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = Grant<'a>> + 'a {
        let cluster = self
            .cluster_subjects
            .candidates(user)
            .into_iter()
            .filter_map(move |position| {
                let binding = self.cluster_role_bindings.get(position)?;
                let subjects = binding.subjects.as_deref().unwrap_or_default();
                let subject = first_applying(user, subjects, "")?;
                Some(Grant {
                    source: Source::ClusterRoleBinding { binding, subject },
                    rules: self.role_ref_rules(&binding.role_ref, ""),
                })
            });
        let namespace = namespace.filter(|ns| !ns.is_empty());
        let local = namespace
            .and_then(|ns| Some((ns, self.namespace_subjects.get(ns)?)))
            .map(|(ns, index)| (ns, index.candidates(user)))
            .into_iter()
            .flat_map(|(ns, positions)| positions.into_iter().map(move |p| (ns, p)))
            .filter_map(move |(ns, position)| {
                let binding = self.role_bindings.get(position)?;
                let subjects = binding.subjects.as_deref().unwrap_or_default();
                let subject = first_applying(user, subjects, ns)?;
                Some(Grant {
                    source: Source::RoleBinding { binding, subject },
                    rules: self.role_ref_rules(&binding.role_ref, ns),
                })
            });
        cluster.chain(local)
    }

    /// The rules a binding's `roleRef` grants; `namespace` is the binding's (empty for a
    /// ClusterRoleBinding, which therefore never finds a Role).
    fn role_ref_rules(
        &self,
        role_ref: &RoleRef,
        namespace: &str,
    ) -> Result<&[PolicyRule], ResolveError> {
        match role_ref.kind.as_str() {
            "Role" => self
                .role(namespace, &role_ref.name)
                .filter(|_| !namespace.is_empty())
                .map(|r| r.rules.as_deref().unwrap_or_default())
                .ok_or_else(|| ResolveError::RoleNotFound {
                    namespace: namespace.to_string(),
                    name: role_ref.name.clone(),
                }),
            "ClusterRole" => self
                .cluster_role(&role_ref.name)
                .map(|r| r.rules.as_deref().unwrap_or_default())
                .ok_or_else(|| ResolveError::ClusterRoleNotFound {
                    name: role_ref.name.clone(),
                }),
            other => Err(ResolveError::UnsupportedRoleRefKind {
                kind: other.to_string(),
            }),
        }
    }
}

/// One binding that applies to the user, and what its role resolved to.
pub(super) struct Grant<'a> {
    pub(super) source: Source<'a>,
    pub(super) rules: Result<&'a [PolicyRule], ResolveError>,
}

/// The binding and matched subject a grant comes from, for the `Allow` reason.
pub(super) enum Source<'a> {
    ClusterRoleBinding {
        binding: &'a ClusterRoleBinding,
        subject: &'a Subject,
    },
    RoleBinding {
        binding: &'a RoleBinding,
        subject: &'a Subject,
    },
}

/// The first subject in `subjects` that `user` is, as kube's `appliesTo`.
fn first_applying<'a>(
    user: &UserInfo,
    subjects: &'a [Subject],
    binding_namespace: &str,
) -> Option<&'a Subject> {
    subjects
        .iter()
        .find(|s| applies_to(user, s, binding_namespace))
}

fn applies_to(user: &UserInfo, subject: &Subject, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => service_account_namespace(subject, binding_namespace)
            .and_then(|ns| {
                user.name
                    .strip_prefix(SERVICE_ACCOUNT_PREFIX)?
                    .strip_prefix(ns)?
                    .strip_prefix(':')
            })
            .is_some_and(|name| name == subject.name),
        _ => false,
    }
}

/// A ServiceAccount subject's namespace, defaulting to the binding's; `None` when neither
/// is set (such a subject in a ClusterRoleBinding matches nobody).
fn service_account_namespace<'a>(
    subject: &'a Subject,
    binding_namespace: &'a str,
) -> Option<&'a str> {
    subject
        .namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
        .or(Some(binding_namespace))
        .filter(|ns| !ns.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(kind: &str, name: &str, namespace: Option<&str>) -> Subject {
        Subject {
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.map(Into::into),
            api_group: None,
        }
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn subject_matching() {
        let sa = "system:serviceaccount:ns1:robot";
        let cases: Vec<(&str, Subject, &str, UserInfo, bool)> = vec![
            (
                "user",
                subject("User", "alice", None),
                "",
                user("alice", &[]),
                true,
            ),
            (
                "other user",
                subject("User", "alice", None),
                "",
                user("bob", &[]),
                false,
            ),
            (
                "user is not group",
                subject("User", "ops", None),
                "",
                user("bob", &["ops"]),
                false,
            ),
            (
                "group",
                subject("Group", "ops", None),
                "",
                user("bob", &["x", "ops"]),
                true,
            ),
            (
                "group is not user",
                subject("Group", "bob", None),
                "",
                user("bob", &[]),
                false,
            ),
            (
                "sa explicit ns",
                subject("ServiceAccount", "robot", Some("ns1")),
                "",
                user(sa, &[]),
                true,
            ),
            (
                "sa wrong ns",
                subject("ServiceAccount", "robot", Some("ns2")),
                "",
                user(sa, &[]),
                false,
            ),
            (
                "sa defaults to binding ns",
                subject("ServiceAccount", "robot", None),
                "ns1",
                user(sa, &[]),
                true,
            ),
            (
                "sa default is binding ns only",
                subject("ServiceAccount", "robot", None),
                "ns2",
                user(sa, &[]),
                false,
            ),
            (
                "sa without any ns",
                subject("ServiceAccount", "robot", None),
                "",
                user(sa, &[]),
                false,
            ),
            (
                "sa empty ns defaults",
                subject("ServiceAccount", "robot", Some("")),
                "ns1",
                user(sa, &[]),
                true,
            ),
            (
                "sa name prefix",
                subject("ServiceAccount", "rob", Some("ns1")),
                "",
                user(sa, &[]),
                false,
            ),
            (
                "sa ns prefix",
                subject("ServiceAccount", "robot", Some("ns")),
                "",
                user(sa, &[]),
                false,
            ),
            (
                "sa vs plain user",
                subject("ServiceAccount", "robot", Some("ns1")),
                "",
                user("robot", &[]),
                false,
            ),
            (
                "user naming an sa",
                subject("User", sa, None),
                "",
                user(sa, &[]),
                true,
            ),
            (
                "unknown kind",
                subject("Robot", "alice", None),
                "",
                user("alice", &[]),
                false,
            ),
            (
                "kind is case-sensitive",
                subject("user", "alice", None),
                "",
                user("alice", &[]),
                false,
            ),
        ];
        for (what, s, ns, u, want) in cases {
            assert_eq!(applies_to(&u, &s, ns), want, "{what}");
            // The index must never hide a subject that applies.
            let mut index = SubjectIndex::default();
            index.insert(7, std::slice::from_ref(&s), ns);
            assert_eq!(index.candidates(&u).contains(&7), want, "index: {what}");
        }
    }

    #[test]
    fn candidates_are_sorted_and_unique() {
        let mut index = SubjectIndex::default();
        index.insert(
            3,
            &[subject("Group", "g", None), subject("User", "u", None)],
            "",
        );
        index.insert(1, &[subject("Group", "g", None)], "");
        index.insert(2, &[subject("User", "other", None)], "");
        assert_eq!(index.candidates(&user("u", &["g", "g"])), vec![1, 3]);
    }
}
