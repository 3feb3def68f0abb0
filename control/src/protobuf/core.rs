//! core/v1 kinds other than the pod machinery (in `pod`): Namespace,
//! ConfigMap, Secret, ServiceAccount, Service, Endpoints, Event and the
//! Pod object itself, plus the object references the other groups share.

use k8s_pb::api::core::v1::{
    ClientIpConfig, ConfigMap, EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Event,
    EventSeries, EventSource, LoadBalancerIngress, LoadBalancerStatus, LocalObjectReference,
    Namespace, NamespaceCondition, NamespaceSpec, NamespaceStatus, ObjectReference, Pod,
    PortStatus, Secret, Service, ServiceAccount, ServicePort, ServiceSpec, ServiceStatus,
    SessionAffinityConfig,
};

use super::convert::{Conv, Obj, Object};
use super::meta::{condition, int_or_string, micro_time, object_meta, time};
use super::pod::{pod_spec, pod_status};

/// A core/v1 `ObjectReference`.
pub(super) fn object_reference(mut m: ObjectReference) -> Conv<Object> {
    Obj::new()
        .nz("kind", &mut m.kind)
        .nz("namespace", &mut m.namespace)
        .nz("name", &mut m.name)
        .nz("uid", &mut m.uid)
        .nz("apiVersion", &mut m.api_version)
        .nz("resourceVersion", &mut m.resource_version)
        .nz("fieldPath", &mut m.field_path)
        .end(&m)
}

/// A core/v1 `LocalObjectReference`.
pub(super) fn local_object_reference(mut m: LocalObjectReference) -> Conv<Object> {
    Obj::new().nz("name", &mut m.name).end(&m)
}

pub(super) fn namespace(mut m: Namespace) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msg("spec", &mut m.spec, namespace_spec)?
        .msg("status", &mut m.status, namespace_status)?
        .end(&m)
}

fn namespace_spec(mut m: NamespaceSpec) -> Conv<Object> {
    Obj::new().list("finalizers", &mut m.finalizers).end(&m)
}

fn namespace_status(mut m: NamespaceStatus) -> Conv<Object> {
    Obj::new()
        .nz("phase", &mut m.phase)
        .msgs("conditions", &mut m.conditions, namespace_condition)?
        .end(&m)
}

fn namespace_condition(mut m: NamespaceCondition) -> Conv<Object> {
    Obj::new()
        .opt("type", &mut m.r#type)
        .opt("status", &mut m.status)
        .msg("lastTransitionTime", &mut m.last_transition_time, time)?
        .nz("reason", &mut m.reason)
        .nz("message", &mut m.message)
        .end(&m)
}

pub(super) fn config_map(mut m: ConfigMap) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .opt("immutable", &mut m.immutable)
        .map("data", &mut m.data)
        .bytes_map("binaryData", &mut m.binary_data)
        .end(&m)
}

pub(super) fn secret(mut m: Secret) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .opt("immutable", &mut m.immutable)
        .bytes_map("data", &mut m.data)
        .map("stringData", &mut m.string_data)
        .nz("type", &mut m.r#type)
        .end(&m)
}

pub(super) fn service_account(mut m: ServiceAccount) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msgs("secrets", &mut m.secrets, object_reference)?
        .msgs(
            "imagePullSecrets",
            &mut m.image_pull_secrets,
            local_object_reference,
        )?
        .opt(
            "automountServiceAccountToken",
            &mut m.automount_service_account_token,
        )
        .end(&m)
}

pub(super) fn service(mut m: Service) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msg("spec", &mut m.spec, service_spec)?
        .msg("status", &mut m.status, service_status)?
        .end(&m)
}

fn service_spec(mut m: ServiceSpec) -> Conv<Object> {
    Obj::new()
        .msgs("ports", &mut m.ports, service_port)?
        .map("selector", &mut m.selector)
        .nz("clusterIP", &mut m.cluster_ip)
        .list("clusterIPs", &mut m.cluster_ips)
        .nz("type", &mut m.r#type)
        .list("externalIPs", &mut m.external_ips)
        .nz("sessionAffinity", &mut m.session_affinity)
        .nz("loadBalancerIP", &mut m.load_balancer_ip)
        .list(
            "loadBalancerSourceRanges",
            &mut m.load_balancer_source_ranges,
        )
        .nz("externalName", &mut m.external_name)
        .nz("externalTrafficPolicy", &mut m.external_traffic_policy)
        .nz("healthCheckNodePort", &mut m.health_check_node_port)
        .nz(
            "publishNotReadyAddresses",
            &mut m.publish_not_ready_addresses,
        )
        .msg(
            "sessionAffinityConfig",
            &mut m.session_affinity_config,
            session_affinity_config,
        )?
        .list("ipFamilies", &mut m.ip_families)
        .opt("ipFamilyPolicy", &mut m.ip_family_policy)
        .opt(
            "allocateLoadBalancerNodePorts",
            &mut m.allocate_load_balancer_node_ports,
        )
        .opt("loadBalancerClass", &mut m.load_balancer_class)
        .opt("internalTrafficPolicy", &mut m.internal_traffic_policy)
        .opt("trafficDistribution", &mut m.traffic_distribution)
        .end(&m)
}

fn service_port(mut m: ServicePort) -> Conv<Object> {
    Obj::new()
        .nz("name", &mut m.name)
        .nz("protocol", &mut m.protocol)
        .opt("appProtocol", &mut m.app_protocol)
        .opt("port", &mut m.port)
        .msg("targetPort", &mut m.target_port, int_or_string)?
        .nz("nodePort", &mut m.node_port)
        .end(&m)
}

fn session_affinity_config(mut m: SessionAffinityConfig) -> Conv<Object> {
    Obj::new()
        .msg("clientIP", &mut m.client_ip, client_ip_config)?
        .end(&m)
}

fn client_ip_config(mut m: ClientIpConfig) -> Conv<Object> {
    Obj::new()
        .opt("timeoutSeconds", &mut m.timeout_seconds)
        .end(&m)
}

fn service_status(mut m: ServiceStatus) -> Conv<Object> {
    Obj::new()
        .msg("loadBalancer", &mut m.load_balancer, load_balancer_status)?
        .msgs("conditions", &mut m.conditions, condition)?
        .end(&m)
}

fn load_balancer_status(mut m: LoadBalancerStatus) -> Conv<Object> {
    Obj::new()
        .msgs("ingress", &mut m.ingress, load_balancer_ingress)?
        .end(&m)
}

fn load_balancer_ingress(mut m: LoadBalancerIngress) -> Conv<Object> {
    Obj::new()
        .nz("ip", &mut m.ip)
        .nz("hostname", &mut m.hostname)
        .opt("ipMode", &mut m.ip_mode)
        .msgs("ports", &mut m.ports, port_status)?
        .end(&m)
}

/// A core/v1 `PortStatus`.
fn port_status(mut m: PortStatus) -> Conv<Object> {
    Obj::new()
        .opt("port", &mut m.port)
        .opt("protocol", &mut m.protocol)
        .opt("error", &mut m.error)
        .end(&m)
}

pub(super) fn endpoints(mut m: Endpoints) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msgs("subsets", &mut m.subsets, endpoint_subset)?
        .end(&m)
}

fn endpoint_subset(mut m: EndpointSubset) -> Conv<Object> {
    Obj::new()
        .msgs("addresses", &mut m.addresses, endpoint_address)?
        .msgs(
            "notReadyAddresses",
            &mut m.not_ready_addresses,
            endpoint_address,
        )?
        .msgs("ports", &mut m.ports, endpoint_port)?
        .end(&m)
}

fn endpoint_address(mut m: EndpointAddress) -> Conv<Object> {
    Obj::new()
        .opt("ip", &mut m.ip)
        .nz("hostname", &mut m.hostname)
        .opt("nodeName", &mut m.node_name)
        .msg("targetRef", &mut m.target_ref, object_reference)?
        .end(&m)
}

fn endpoint_port(mut m: EndpointPort) -> Conv<Object> {
    Obj::new()
        .nz("name", &mut m.name)
        .opt("port", &mut m.port)
        .nz("protocol", &mut m.protocol)
        .opt("appProtocol", &mut m.app_protocol)
        .end(&m)
}

pub(super) fn event(mut m: Event) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msg("involvedObject", &mut m.involved_object, object_reference)?
        .nz("reason", &mut m.reason)
        .nz("message", &mut m.message)
        .msg("source", &mut m.source, event_source)?
        .msg("firstTimestamp", &mut m.first_timestamp, time)?
        .msg("lastTimestamp", &mut m.last_timestamp, time)?
        .nz("count", &mut m.count)
        .nz("type", &mut m.r#type)
        .msg("eventTime", &mut m.event_time, micro_time)?
        .msg("series", &mut m.series, event_series)?
        .nz("action", &mut m.action)
        .msg("related", &mut m.related, object_reference)?
        .opt("reportingComponent", &mut m.reporting_component)
        .opt("reportingInstance", &mut m.reporting_instance)
        .end(&m)
}

fn event_source(mut m: EventSource) -> Conv<Object> {
    Obj::new()
        .nz("component", &mut m.component)
        .nz("host", &mut m.host)
        .end(&m)
}

fn event_series(mut m: EventSeries) -> Conv<Object> {
    Obj::new()
        .nz("count", &mut m.count)
        .msg("lastObservedTime", &mut m.last_observed_time, micro_time)?
        .end(&m)
}

pub(super) fn pod(mut m: Pod) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msg("spec", &mut m.spec, pod_spec)?
        .msg("status", &mut m.status, pod_status)?
        .end(&m)
}
