//! apps/v1 Deployment and ReplicaSet.

use k8s_pb::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, DeploymentStrategy,
    ReplicaSet, ReplicaSetCondition, ReplicaSetSpec, ReplicaSetStatus, RollingUpdateDeployment,
};

use super::convert::{Conv, Obj, Object};
use super::meta::{int_or_string, label_selector, object_meta, time};
use super::pod::pod_template_spec;

pub(super) fn deployment(mut m: Deployment) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msg("spec", &mut m.spec, deployment_spec)?
        .msg("status", &mut m.status, deployment_status)?
        .end(&m)
}

fn deployment_spec(mut m: DeploymentSpec) -> Conv<Object> {
    Obj::new()
        .opt("replicas", &mut m.replicas)
        .msg("selector", &mut m.selector, label_selector)?
        .msg("template", &mut m.template, pod_template_spec)?
        .msg("strategy", &mut m.strategy, deployment_strategy)?
        .nz("minReadySeconds", &mut m.min_ready_seconds)
        .opt("revisionHistoryLimit", &mut m.revision_history_limit)
        .nz("paused", &mut m.paused)
        .opt("progressDeadlineSeconds", &mut m.progress_deadline_seconds)
        .end(&m)
}

fn deployment_strategy(mut m: DeploymentStrategy) -> Conv<Object> {
    Obj::new()
        .nz("type", &mut m.r#type)
        .msg("rollingUpdate", &mut m.rolling_update, rolling_update)?
        .end(&m)
}

fn rolling_update(mut m: RollingUpdateDeployment) -> Conv<Object> {
    Obj::new()
        .msg("maxUnavailable", &mut m.max_unavailable, int_or_string)?
        .msg("maxSurge", &mut m.max_surge, int_or_string)?
        .end(&m)
}

fn deployment_status(mut m: DeploymentStatus) -> Conv<Object> {
    Obj::new()
        .nz("observedGeneration", &mut m.observed_generation)
        .nz("replicas", &mut m.replicas)
        .nz("updatedReplicas", &mut m.updated_replicas)
        .nz("readyReplicas", &mut m.ready_replicas)
        .nz("availableReplicas", &mut m.available_replicas)
        .nz("unavailableReplicas", &mut m.unavailable_replicas)
        .opt("terminatingReplicas", &mut m.terminating_replicas)
        .msgs("conditions", &mut m.conditions, deployment_condition)?
        .opt("collisionCount", &mut m.collision_count)
        .end(&m)
}

fn deployment_condition(mut m: DeploymentCondition) -> Conv<Object> {
    Obj::new()
        .opt("type", &mut m.r#type)
        .opt("status", &mut m.status)
        .msg("lastUpdateTime", &mut m.last_update_time, time)?
        .msg("lastTransitionTime", &mut m.last_transition_time, time)?
        .nz("reason", &mut m.reason)
        .nz("message", &mut m.message)
        .end(&m)
}

pub(super) fn replica_set(mut m: ReplicaSet) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msg("spec", &mut m.spec, replica_set_spec)?
        .msg("status", &mut m.status, replica_set_status)?
        .end(&m)
}

fn replica_set_spec(mut m: ReplicaSetSpec) -> Conv<Object> {
    Obj::new()
        .opt("replicas", &mut m.replicas)
        .nz("minReadySeconds", &mut m.min_ready_seconds)
        .msg("selector", &mut m.selector, label_selector)?
        .msg("template", &mut m.template, pod_template_spec)?
        .end(&m)
}

fn replica_set_status(mut m: ReplicaSetStatus) -> Conv<Object> {
    Obj::new()
        .opt("replicas", &mut m.replicas)
        .nz("fullyLabeledReplicas", &mut m.fully_labeled_replicas)
        .nz("readyReplicas", &mut m.ready_replicas)
        .nz("availableReplicas", &mut m.available_replicas)
        .opt("terminatingReplicas", &mut m.terminating_replicas)
        .nz("observedGeneration", &mut m.observed_generation)
        .msgs("conditions", &mut m.conditions, replica_set_condition)?
        .end(&m)
}

fn replica_set_condition(mut m: ReplicaSetCondition) -> Conv<Object> {
    Obj::new()
        .opt("type", &mut m.r#type)
        .opt("status", &mut m.status)
        .msg("lastTransitionTime", &mut m.last_transition_time, time)?
        .nz("reason", &mut m.reason)
        .nz("message", &mut m.message)
        .end(&m)
}
