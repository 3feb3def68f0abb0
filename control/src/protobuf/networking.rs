//! networking.k8s.io/v1 Ingress, IngressClass and NetworkPolicy, and
//! discovery.k8s.io/v1 EndpointSlice.

use k8s_pb::api::core::v1::TypedLocalObjectReference;
use k8s_pb::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointHints, EndpointPort, EndpointSlice, ForNode, ForZone,
};
use k8s_pb::api::networking::v1::{
    HttpIngressPath, HttpIngressRuleValue, Ingress, IngressBackend, IngressClass,
    IngressClassParametersReference, IngressClassSpec, IngressLoadBalancerIngress,
    IngressLoadBalancerStatus, IngressPortStatus, IngressRule, IngressRuleValue,
    IngressServiceBackend, IngressSpec, IngressStatus, IngressTls, IpBlock, NetworkPolicy,
    NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec, ServiceBackendPort,
};

use super::convert::{Conv, Obj, Object};
use super::core::object_reference;
use super::meta::{int_or_string, label_selector, object_meta};

pub(super) fn ingress(mut m: Ingress) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msg("spec", &mut m.spec, ingress_spec)?
        .msg("status", &mut m.status, ingress_status)?
        .end(&m)
}

fn ingress_spec(mut m: IngressSpec) -> Conv<Object> {
    Obj::new()
        .opt("ingressClassName", &mut m.ingress_class_name)
        .msg("defaultBackend", &mut m.default_backend, ingress_backend)?
        .msgs("tls", &mut m.tls, ingress_tls)?
        .msgs("rules", &mut m.rules, ingress_rule)?
        .end(&m)
}

fn ingress_backend(mut m: IngressBackend) -> Conv<Object> {
    Obj::new()
        .msg("service", &mut m.service, ingress_service_backend)?
        .msg("resource", &mut m.resource, typed_local_object_reference)?
        .end(&m)
}

fn ingress_service_backend(mut m: IngressServiceBackend) -> Conv<Object> {
    Obj::new()
        .opt("name", &mut m.name)
        .msg("port", &mut m.port, service_backend_port)?
        .end(&m)
}

fn service_backend_port(mut m: ServiceBackendPort) -> Conv<Object> {
    Obj::new()
        .nz("name", &mut m.name)
        .nz("number", &mut m.number)
        .end(&m)
}

fn typed_local_object_reference(mut m: TypedLocalObjectReference) -> Conv<Object> {
    Obj::new()
        .opt("apiGroup", &mut m.api_group)
        .opt("kind", &mut m.kind)
        .opt("name", &mut m.name)
        .end(&m)
}

fn ingress_tls(mut m: IngressTls) -> Conv<Object> {
    Obj::new()
        .list("hosts", &mut m.hosts)
        .nz("secretName", &mut m.secret_name)
        .end(&m)
}

fn ingress_rule(mut m: IngressRule) -> Conv<Object> {
    Obj::new()
        .nz("host", &mut m.host)
        .inline(&mut m.ingress_rule_value, ingress_rule_value)?
        .end(&m)
}

fn ingress_rule_value(mut m: IngressRuleValue) -> Conv<Object> {
    Obj::new()
        .msg("http", &mut m.http, http_ingress_rule_value)?
        .end(&m)
}

fn http_ingress_rule_value(mut m: HttpIngressRuleValue) -> Conv<Object> {
    Obj::new()
        .msgs("paths", &mut m.paths, http_ingress_path)?
        .end(&m)
}

fn http_ingress_path(mut m: HttpIngressPath) -> Conv<Object> {
    Obj::new()
        .nz("path", &mut m.path)
        .opt("pathType", &mut m.path_type)
        .msg("backend", &mut m.backend, ingress_backend)?
        .end(&m)
}

fn ingress_status(mut m: IngressStatus) -> Conv<Object> {
    Obj::new()
        .msg(
            "loadBalancer",
            &mut m.load_balancer,
            ingress_load_balancer_status,
        )?
        .end(&m)
}

fn ingress_load_balancer_status(mut m: IngressLoadBalancerStatus) -> Conv<Object> {
    Obj::new()
        .msgs("ingress", &mut m.ingress, ingress_load_balancer_ingress)?
        .end(&m)
}

fn ingress_load_balancer_ingress(mut m: IngressLoadBalancerIngress) -> Conv<Object> {
    Obj::new()
        .nz("ip", &mut m.ip)
        .nz("hostname", &mut m.hostname)
        .msgs("ports", &mut m.ports, ingress_port_status)?
        .end(&m)
}

fn ingress_port_status(mut m: IngressPortStatus) -> Conv<Object> {
    Obj::new()
        .opt("port", &mut m.port)
        .opt("protocol", &mut m.protocol)
        .opt("error", &mut m.error)
        .end(&m)
}

pub(super) fn ingress_class(mut m: IngressClass) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msg("spec", &mut m.spec, ingress_class_spec)?
        .end(&m)
}

fn ingress_class_spec(mut m: IngressClassSpec) -> Conv<Object> {
    Obj::new()
        .nz("controller", &mut m.controller)
        .msg("parameters", &mut m.parameters, ingress_class_parameters)?
        .end(&m)
}

fn ingress_class_parameters(mut m: IngressClassParametersReference) -> Conv<Object> {
    Obj::new()
        .opt("apiGroup", &mut m.a_pi_group)
        .opt("kind", &mut m.kind)
        .opt("name", &mut m.name)
        .opt("scope", &mut m.scope)
        .opt("namespace", &mut m.namespace)
        .end(&m)
}

pub(super) fn network_policy(mut m: NetworkPolicy) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msg("spec", &mut m.spec, network_policy_spec)?
        .end(&m)
}

fn network_policy_spec(mut m: NetworkPolicySpec) -> Conv<Object> {
    Obj::new()
        .msg("podSelector", &mut m.pod_selector, label_selector)?
        .msgs("ingress", &mut m.ingress, network_policy_ingress_rule)?
        .msgs("egress", &mut m.egress, network_policy_egress_rule)?
        .list("policyTypes", &mut m.policy_types)
        .end(&m)
}

fn network_policy_ingress_rule(mut m: NetworkPolicyIngressRule) -> Conv<Object> {
    Obj::new()
        .msgs("ports", &mut m.ports, network_policy_port)?
        .msgs("from", &mut m.from, network_policy_peer)?
        .end(&m)
}

fn network_policy_egress_rule(mut m: NetworkPolicyEgressRule) -> Conv<Object> {
    Obj::new()
        .msgs("ports", &mut m.ports, network_policy_port)?
        .msgs("to", &mut m.to, network_policy_peer)?
        .end(&m)
}

fn network_policy_port(mut m: NetworkPolicyPort) -> Conv<Object> {
    Obj::new()
        .opt("protocol", &mut m.protocol)
        .msg("port", &mut m.port, int_or_string)?
        .opt("endPort", &mut m.end_port)
        .end(&m)
}

fn network_policy_peer(mut m: NetworkPolicyPeer) -> Conv<Object> {
    Obj::new()
        .msg("podSelector", &mut m.pod_selector, label_selector)?
        .msg(
            "namespaceSelector",
            &mut m.namespace_selector,
            label_selector,
        )?
        .msg("ipBlock", &mut m.ip_block, ip_block)?
        .end(&m)
}

fn ip_block(mut m: IpBlock) -> Conv<Object> {
    Obj::new()
        .opt("cidr", &mut m.cidr)
        .list("except", &mut m.except)
        .end(&m)
}

pub(super) fn endpoint_slice(mut m: EndpointSlice) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .opt("addressType", &mut m.address_type)
        .msgs("endpoints", &mut m.endpoints, endpoint)?
        .msgs("ports", &mut m.ports, endpoint_port)?
        .end(&m)
}

fn endpoint(mut m: Endpoint) -> Conv<Object> {
    Obj::new()
        .list("addresses", &mut m.addresses)
        .msg("conditions", &mut m.conditions, endpoint_conditions)?
        .opt("hostname", &mut m.hostname)
        .msg("targetRef", &mut m.target_ref, object_reference)?
        .map("deprecatedTopology", &mut m.deprecated_topology)
        .opt("nodeName", &mut m.node_name)
        .opt("zone", &mut m.zone)
        .msg("hints", &mut m.hints, endpoint_hints)?
        .end(&m)
}

fn endpoint_conditions(mut m: EndpointConditions) -> Conv<Object> {
    Obj::new()
        .opt("ready", &mut m.ready)
        .opt("serving", &mut m.serving)
        .opt("terminating", &mut m.terminating)
        .end(&m)
}

fn endpoint_hints(mut m: EndpointHints) -> Conv<Object> {
    Obj::new()
        .msgs("forZones", &mut m.for_zones, for_zone)?
        .msgs("forNodes", &mut m.for_nodes, for_node)?
        .end(&m)
}

fn for_zone(mut m: ForZone) -> Conv<Object> {
    Obj::new().opt("name", &mut m.name).end(&m)
}

fn for_node(mut m: ForNode) -> Conv<Object> {
    Obj::new().opt("name", &mut m.name).end(&m)
}

fn endpoint_port(mut m: EndpointPort) -> Conv<Object> {
    Obj::new()
        .opt("name", &mut m.name)
        .opt("protocol", &mut m.protocol)
        .opt("port", &mut m.port)
        .opt("appProtocol", &mut m.app_protocol)
        .end(&m)
}
