//! coordination.k8s.io/v1 Lease and authorization.k8s.io/v1
//! SelfSubjectAccessReview: the small kinds clients use to coordinate and
//! to ask what they may do.

use k8s_pb::api::authorization::v1::{
    FieldSelectorAttributes, LabelSelectorAttributes, NonResourceAttributes, ResourceAttributes,
    SelfSubjectAccessReview, SelfSubjectAccessReviewSpec, SubjectAccessReviewStatus,
};
use k8s_pb::api::coordination::v1::{Lease, LeaseSpec};
use k8s_pb::apimachinery::pkg::apis::meta::v1::FieldSelectorRequirement;

use super::convert::{Conv, Obj, Object};
use super::meta::{label_selector_requirement, micro_time, object_meta};

pub(super) fn lease(mut m: Lease) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msg("spec", &mut m.spec, lease_spec)?
        .end(&m)
}

fn lease_spec(mut m: LeaseSpec) -> Conv<Object> {
    Obj::new()
        .opt("holderIdentity", &mut m.holder_identity)
        .opt("leaseDurationSeconds", &mut m.lease_duration_seconds)
        .msg("acquireTime", &mut m.acquire_time, micro_time)?
        .msg("renewTime", &mut m.renew_time, micro_time)?
        .opt("leaseTransitions", &mut m.lease_transitions)
        .opt("strategy", &mut m.strategy)
        .opt("preferredHolder", &mut m.preferred_holder)
        .end(&m)
}

pub(super) fn self_subject_access_review(mut m: SelfSubjectAccessReview) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msg("spec", &mut m.spec, review_spec)?
        .msg("status", &mut m.status, review_status)?
        .end(&m)
}

fn review_spec(mut m: SelfSubjectAccessReviewSpec) -> Conv<Object> {
    Obj::new()
        .msg(
            "resourceAttributes",
            &mut m.resource_attributes,
            resource_attributes,
        )?
        .msg(
            "nonResourceAttributes",
            &mut m.non_resource_attributes,
            non_resource_attributes,
        )?
        .end(&m)
}

fn resource_attributes(mut m: ResourceAttributes) -> Conv<Object> {
    Obj::new()
        .nz("namespace", &mut m.namespace)
        .nz("verb", &mut m.verb)
        .nz("group", &mut m.group)
        .nz("version", &mut m.version)
        .nz("resource", &mut m.resource)
        .nz("subresource", &mut m.subresource)
        .nz("name", &mut m.name)
        .msg("fieldSelector", &mut m.field_selector, field_selector)?
        .msg("labelSelector", &mut m.label_selector, label_selector)?
        .end(&m)
}

fn field_selector(mut m: FieldSelectorAttributes) -> Conv<Object> {
    Obj::new()
        .nz("rawSelector", &mut m.raw_selector)
        .msgs("requirements", &mut m.requirements, field_requirement)?
        .end(&m)
}

fn field_requirement(mut m: FieldSelectorRequirement) -> Conv<Object> {
    Obj::new()
        .opt("key", &mut m.key)
        .opt("operator", &mut m.operator)
        .list("values", &mut m.values)
        .end(&m)
}

fn label_selector(mut m: LabelSelectorAttributes) -> Conv<Object> {
    Obj::new()
        .nz("rawSelector", &mut m.raw_selector)
        .msgs(
            "requirements",
            &mut m.requirements,
            label_selector_requirement,
        )?
        .end(&m)
}

fn non_resource_attributes(mut m: NonResourceAttributes) -> Conv<Object> {
    Obj::new()
        .nz("path", &mut m.path)
        .nz("verb", &mut m.verb)
        .end(&m)
}

fn review_status(mut m: SubjectAccessReviewStatus) -> Conv<Object> {
    Obj::new()
        .opt("allowed", &mut m.allowed)
        .nz("denied", &mut m.denied)
        .nz("reason", &mut m.reason)
        .nz("evaluationError", &mut m.evaluation_error)
        .end(&m)
}
