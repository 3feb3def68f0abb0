//! Validation of coordination.k8s.io/v1 Leases (`pkg/apis/coordination/validation`).
//!
//! Only field syntax; who may hold or renew a lease is not decided here.

use k8s_openapi::api::coordination::v1::Lease;

use super::meta::{self, Scope};
use super::names;
use super::{FieldCause, Path};

/// Validates a Lease on create or update.
pub fn validate_lease(lease: &Lease, old: Option<&Lease>) -> Vec<FieldCause> {
    let mut errs = match old {
        None => meta::validate_meta(
            &lease.metadata,
            None,
            Scope::Namespaced,
            names::name_is_dns_subdomain,
        ),
        Some(o) => {
            meta::validate_object_meta_update(&lease.metadata, &o.metadata, &Path::new("metadata"))
        }
    };
    let p = Path::new("spec");
    if let Some(spec) = &lease.spec {
        if let Some(d) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
            errs.push(FieldCause::invalid(
                &p.child("leaseDurationSeconds"),
                d,
                "must be greater than 0",
            ));
        }
        if let Some(t) = spec.lease_transitions.filter(|t| *t < 0) {
            errs.push(FieldCause::invalid(
                &p.child("leaseTransitions"),
                t,
                "must be greater than or equal to 0",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::validation::CauseType::{self, *};
    use serde_json::{Value, json};

    fn run(new: Value, old: Option<Value>) -> Vec<(CauseType, String)> {
        let errs = crate::validation::validate("Lease", &new, old.as_ref()).expect("decodes");
        errs.iter().map(|e| (e.reason, e.field.clone())).collect()
    }

    #[test]
    fn lease_rules() {
        let lease = |spec: Value| json!({"metadata": {"name": "node-1", "namespace": "kube-node-lease", "resourceVersion": "1"}, "spec": spec});
        let cases: Vec<(Value, Vec<(CauseType, &str)>)> = vec![
            (
                lease(json!({"holderIdentity": "node-1", "leaseDurationSeconds": 40})),
                vec![],
            ),
            (
                lease(json!({"leaseDurationSeconds": 0})),
                vec![(Invalid, "spec.leaseDurationSeconds")],
            ),
            (
                lease(json!({"leaseTransitions": -1})),
                vec![(Invalid, "spec.leaseTransitions")],
            ),
        ];
        for (obj, w) in cases {
            let w: Vec<(CauseType, String)> =
                w.iter().map(|(c, f)| (*c, (*f).to_owned())).collect();
            assert_eq!(run(obj, None), w);
        }
        let old = lease(json!({}));
        let mut renamed = old.clone();
        renamed["metadata"]["name"] = json!("node-2");
        assert_eq!(
            run(renamed, Some(old)),
            vec![(Invalid, "metadata.name".to_owned())]
        );
    }
}
