//! The pod machinery every workload kind embeds: `PodTemplateSpec`,
//! `PodSpec` with its containers, probes, security contexts, scheduling
//! constraints and the common volume sources, and the simple part of
//! `PodStatus`. Fields not converted here (ephemeral containers, in-tree
//! cloud volumes, container statuses, ...) are refused by `Obj::end`.

use k8s_pb::api::core::v1::{
    Affinity, AppArmorProfile, CSIVolumeSource, Capabilities, ClusterTrustBundleProjection,
    ConfigMapEnvSource, ConfigMapKeySelector, ConfigMapProjection, ConfigMapVolumeSource,
    Container, ContainerPort, ContainerResizePolicy, ContainerRestartRule,
    ContainerRestartRuleOnExitCodes, DownwardAPIProjection, DownwardAPIVolumeFile,
    DownwardAPIVolumeSource, EmptyDirVolumeSource, EnvFromSource, EnvVar, EnvVarSource, ExecAction,
    FileKeySelector, GrpcAction, HostAlias, HostIp, HostPathVolumeSource, HttpGetAction,
    HttpHeader, ImageVolumeSource, KeyToPath, Lifecycle, LifecycleHandler, NfsVolumeSource,
    NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectFieldSelector,
    PersistentVolumeClaimVolumeSource, PodAffinity, PodAffinityTerm, PodAntiAffinity, PodCondition,
    PodDnsConfig, PodDnsConfigOption, PodIp, PodOs, PodReadinessGate, PodResourceClaim,
    PodSchedulingGate, PodSecurityContext, PodSpec, PodStatus, PodTemplateSpec,
    PreferredSchedulingTerm, Probe, ProbeHandler, ProjectedVolumeSource, ResourceClaim,
    ResourceFieldSelector, ResourceRequirements, SeLinuxOptions, SeccompProfile, SecretEnvSource,
    SecretKeySelector, SecretProjection, SecretVolumeSource, SecurityContext,
    ServiceAccountTokenProjection, SleepAction, Sysctl, TcpSocketAction, Toleration,
    TopologySpreadConstraint, Volume, VolumeDevice, VolumeMount, VolumeProjection, VolumeSource,
    WeightedPodAffinityTerm, WindowsSecurityContextOptions,
};

use super::convert::{Conv, Obj, Object};
use super::core::local_object_reference;
use super::meta::{int_or_string, label_selector, object_meta, quantity, time};

/// A core/v1 `PodTemplateSpec`.
pub(super) fn pod_template_spec(mut m: PodTemplateSpec) -> Conv<Object> {
    Obj::new()
        .msg("metadata", &mut m.metadata, object_meta)?
        .msg("spec", &mut m.spec, pod_spec)?
        .end(&m)
}

/// A core/v1 `PodSpec`.
pub(super) fn pod_spec(mut m: PodSpec) -> Conv<Object> {
    Obj::new()
        .msgs("volumes", &mut m.volumes, volume)?
        .msgs("initContainers", &mut m.init_containers, container)?
        .msgs("containers", &mut m.containers, container)?
        .nz("restartPolicy", &mut m.restart_policy)
        .opt(
            "terminationGracePeriodSeconds",
            &mut m.termination_grace_period_seconds,
        )
        .opt("activeDeadlineSeconds", &mut m.active_deadline_seconds)
        .nz("dnsPolicy", &mut m.dns_policy)
        .map("nodeSelector", &mut m.node_selector)
        .nz("serviceAccountName", &mut m.service_account_name)
        .nz("serviceAccount", &mut m.service_account)
        .opt(
            "automountServiceAccountToken",
            &mut m.automount_service_account_token,
        )
        .nz("nodeName", &mut m.node_name)
        .nz("hostNetwork", &mut m.host_network)
        .nz("hostPID", &mut m.host_pid)
        .nz("hostIPC", &mut m.host_ipc)
        .opt("shareProcessNamespace", &mut m.share_process_namespace)
        .msg(
            "securityContext",
            &mut m.security_context,
            pod_security_context,
        )?
        .msgs(
            "imagePullSecrets",
            &mut m.image_pull_secrets,
            local_object_reference,
        )?
        .nz("hostname", &mut m.hostname)
        .nz("subdomain", &mut m.subdomain)
        .msg("affinity", &mut m.affinity, affinity)?
        .nz("schedulerName", &mut m.scheduler_name)
        .msgs("tolerations", &mut m.tolerations, toleration)?
        .msgs("hostAliases", &mut m.host_aliases, host_alias)?
        .nz("priorityClassName", &mut m.priority_class_name)
        .opt("priority", &mut m.priority)
        .msg("dnsConfig", &mut m.dns_config, pod_dns_config)?
        .msgs("readinessGates", &mut m.readiness_gates, readiness_gate)?
        .opt("runtimeClassName", &mut m.runtime_class_name)
        .opt("enableServiceLinks", &mut m.enable_service_links)
        .opt("preemptionPolicy", &mut m.preemption_policy)
        .msg_map("overhead", &mut m.overhead, quantity)?
        .msgs(
            "topologySpreadConstraints",
            &mut m.topology_spread_constraints,
            topology_spread_constraint,
        )?
        .opt("setHostnameAsFQDN", &mut m.set_hostname_as_fqdn)
        .msg("os", &mut m.os, pod_os)?
        .opt("hostUsers", &mut m.host_users)
        .msgs("schedulingGates", &mut m.scheduling_gates, scheduling_gate)?
        .msgs("resourceClaims", &mut m.resource_claims, pod_resource_claim)?
        .msg("resources", &mut m.resources, resource_requirements)?
        .opt("hostnameOverride", &mut m.hostname_override)
        .end(&m)
}

fn container(mut m: Container) -> Conv<Object> {
    Obj::new()
        .opt("name", &mut m.name)
        .nz("image", &mut m.image)
        .list("command", &mut m.command)
        .list("args", &mut m.args)
        .nz("workingDir", &mut m.working_dir)
        .msgs("ports", &mut m.ports, container_port)?
        .msgs("envFrom", &mut m.env_from, env_from_source)?
        .msgs("env", &mut m.env, env_var)?
        .msg("resources", &mut m.resources, resource_requirements)?
        .msgs("resizePolicy", &mut m.resize_policy, resize_policy)?
        .opt("restartPolicy", &mut m.restart_policy)
        .msgs(
            "restartPolicyRules",
            &mut m.restart_policy_rules,
            restart_rule,
        )?
        .msgs("volumeMounts", &mut m.volume_mounts, volume_mount)?
        .msgs("volumeDevices", &mut m.volume_devices, volume_device)?
        .msg("livenessProbe", &mut m.liveness_probe, probe)?
        .msg("readinessProbe", &mut m.readiness_probe, probe)?
        .msg("startupProbe", &mut m.startup_probe, probe)?
        .msg("lifecycle", &mut m.lifecycle, lifecycle)?
        .nz("terminationMessagePath", &mut m.termination_message_path)
        .nz(
            "terminationMessagePolicy",
            &mut m.termination_message_policy,
        )
        .nz("imagePullPolicy", &mut m.image_pull_policy)
        .msg("securityContext", &mut m.security_context, security_context)?
        .nz("stdin", &mut m.stdin)
        .nz("stdinOnce", &mut m.stdin_once)
        .nz("tty", &mut m.tty)
        .end(&m)
}

fn container_port(mut m: ContainerPort) -> Conv<Object> {
    Obj::new()
        .nz("name", &mut m.name)
        .nz("hostPort", &mut m.host_port)
        .opt("containerPort", &mut m.container_port)
        .nz("protocol", &mut m.protocol)
        .nz("hostIP", &mut m.host_ip)
        .end(&m)
}

fn env_var(mut m: EnvVar) -> Conv<Object> {
    Obj::new()
        .opt("name", &mut m.name)
        .nz("value", &mut m.value)
        .msg("valueFrom", &mut m.value_from, env_var_source)?
        .end(&m)
}

fn env_var_source(mut m: EnvVarSource) -> Conv<Object> {
    Obj::new()
        .msg("fieldRef", &mut m.field_ref, object_field_selector)?
        .msg(
            "resourceFieldRef",
            &mut m.resource_field_ref,
            resource_field_selector,
        )?
        .msg(
            "configMapKeyRef",
            &mut m.config_map_key_ref,
            config_map_key_selector,
        )?
        .msg("secretKeyRef", &mut m.secret_key_ref, secret_key_selector)?
        .msg("fileKeyRef", &mut m.file_key_ref, file_key_selector)?
        .end(&m)
}

fn object_field_selector(mut m: ObjectFieldSelector) -> Conv<Object> {
    Obj::new()
        .nz("apiVersion", &mut m.api_version)
        .opt("fieldPath", &mut m.field_path)
        .end(&m)
}

fn resource_field_selector(mut m: ResourceFieldSelector) -> Conv<Object> {
    Obj::new()
        .nz("containerName", &mut m.container_name)
        .opt("resource", &mut m.resource)
        .msg("divisor", &mut m.divisor, quantity)?
        .end(&m)
}

fn config_map_key_selector(mut m: ConfigMapKeySelector) -> Conv<Object> {
    Obj::new()
        .inline(&mut m.local_object_reference, local_object_reference)?
        .opt("key", &mut m.key)
        .opt("optional", &mut m.optional)
        .end(&m)
}

fn secret_key_selector(mut m: SecretKeySelector) -> Conv<Object> {
    Obj::new()
        .inline(&mut m.local_object_reference, local_object_reference)?
        .opt("key", &mut m.key)
        .opt("optional", &mut m.optional)
        .end(&m)
}

fn file_key_selector(mut m: FileKeySelector) -> Conv<Object> {
    Obj::new()
        .opt("volumeName", &mut m.volume_name)
        .opt("path", &mut m.path)
        .opt("key", &mut m.key)
        .opt("optional", &mut m.optional)
        .end(&m)
}

fn env_from_source(mut m: EnvFromSource) -> Conv<Object> {
    Obj::new()
        .nz("prefix", &mut m.prefix)
        .msg("configMapRef", &mut m.config_map_ref, config_map_env_source)?
        .msg("secretRef", &mut m.secret_ref, secret_env_source)?
        .end(&m)
}

fn config_map_env_source(mut m: ConfigMapEnvSource) -> Conv<Object> {
    Obj::new()
        .inline(&mut m.local_object_reference, local_object_reference)?
        .opt("optional", &mut m.optional)
        .end(&m)
}

fn secret_env_source(mut m: SecretEnvSource) -> Conv<Object> {
    Obj::new()
        .inline(&mut m.local_object_reference, local_object_reference)?
        .opt("optional", &mut m.optional)
        .end(&m)
}

fn resource_requirements(mut m: ResourceRequirements) -> Conv<Object> {
    Obj::new()
        .msg_map("limits", &mut m.limits, quantity)?
        .msg_map("requests", &mut m.requests, quantity)?
        .msgs("claims", &mut m.claims, resource_claim)?
        .end(&m)
}

fn resource_claim(mut m: ResourceClaim) -> Conv<Object> {
    Obj::new()
        .opt("name", &mut m.name)
        .nz("request", &mut m.request)
        .end(&m)
}

fn resize_policy(mut m: ContainerResizePolicy) -> Conv<Object> {
    Obj::new()
        .opt("resourceName", &mut m.resource_name)
        .opt("restartPolicy", &mut m.restart_policy)
        .end(&m)
}

fn restart_rule(mut m: ContainerRestartRule) -> Conv<Object> {
    Obj::new()
        .nz("action", &mut m.action)
        .msg("exitCodes", &mut m.exit_codes, restart_rule_exit_codes)?
        .end(&m)
}

fn restart_rule_exit_codes(mut m: ContainerRestartRuleOnExitCodes) -> Conv<Object> {
    Obj::new()
        .nz("operator", &mut m.operator)
        .list("values", &mut m.values)
        .end(&m)
}

fn volume_mount(mut m: VolumeMount) -> Conv<Object> {
    Obj::new()
        .opt("name", &mut m.name)
        .nz("readOnly", &mut m.read_only)
        .opt("recursiveReadOnly", &mut m.recursive_read_only)
        .opt("mountPath", &mut m.mount_path)
        .nz("subPath", &mut m.sub_path)
        .opt("mountPropagation", &mut m.mount_propagation)
        .nz("subPathExpr", &mut m.sub_path_expr)
        .end(&m)
}

fn volume_device(mut m: VolumeDevice) -> Conv<Object> {
    Obj::new()
        .opt("name", &mut m.name)
        .opt("devicePath", &mut m.device_path)
        .end(&m)
}

fn probe(mut m: Probe) -> Conv<Object> {
    Obj::new()
        .inline(&mut m.handler, probe_handler)?
        .nz("initialDelaySeconds", &mut m.initial_delay_seconds)
        .nz("timeoutSeconds", &mut m.timeout_seconds)
        .nz("periodSeconds", &mut m.period_seconds)
        .nz("successThreshold", &mut m.success_threshold)
        .nz("failureThreshold", &mut m.failure_threshold)
        .opt(
            "terminationGracePeriodSeconds",
            &mut m.termination_grace_period_seconds,
        )
        .end(&m)
}

fn probe_handler(mut m: ProbeHandler) -> Conv<Object> {
    Obj::new()
        .msg("exec", &mut m.exec, exec_action)?
        .msg("httpGet", &mut m.http_get, http_get_action)?
        .msg("tcpSocket", &mut m.tcp_socket, tcp_socket_action)?
        .msg("grpc", &mut m.grpc, grpc_action)?
        .end(&m)
}

fn exec_action(mut m: ExecAction) -> Conv<Object> {
    Obj::new().list("command", &mut m.command).end(&m)
}

fn http_get_action(mut m: HttpGetAction) -> Conv<Object> {
    Obj::new()
        .nz("path", &mut m.path)
        .msg("port", &mut m.port, int_or_string)?
        .nz("host", &mut m.host)
        .nz("scheme", &mut m.scheme)
        .msgs("httpHeaders", &mut m.http_headers, http_header)?
        .end(&m)
}

fn http_header(mut m: HttpHeader) -> Conv<Object> {
    Obj::new()
        .opt("name", &mut m.name)
        .opt("value", &mut m.value)
        .end(&m)
}

fn tcp_socket_action(mut m: TcpSocketAction) -> Conv<Object> {
    Obj::new()
        .msg("port", &mut m.port, int_or_string)?
        .nz("host", &mut m.host)
        .end(&m)
}

fn grpc_action(mut m: GrpcAction) -> Conv<Object> {
    Obj::new()
        .opt("port", &mut m.port)
        .opt("service", &mut m.service)
        .end(&m)
}

fn lifecycle(mut m: Lifecycle) -> Conv<Object> {
    Obj::new()
        .msg("postStart", &mut m.post_start, lifecycle_handler)?
        .msg("preStop", &mut m.pre_stop, lifecycle_handler)?
        .opt("stopSignal", &mut m.stop_signal)
        .end(&m)
}

fn lifecycle_handler(mut m: LifecycleHandler) -> Conv<Object> {
    Obj::new()
        .msg("exec", &mut m.exec, exec_action)?
        .msg("httpGet", &mut m.http_get, http_get_action)?
        .msg("tcpSocket", &mut m.tcp_socket, tcp_socket_action)?
        .msg("sleep", &mut m.sleep, sleep_action)?
        .end(&m)
}

fn sleep_action(mut m: SleepAction) -> Conv<Object> {
    Obj::new().opt("seconds", &mut m.seconds).end(&m)
}

fn security_context(mut m: SecurityContext) -> Conv<Object> {
    Obj::new()
        .msg("capabilities", &mut m.capabilities, capabilities)?
        .opt("privileged", &mut m.privileged)
        .msg("seLinuxOptions", &mut m.se_linux_options, se_linux_options)?
        .msg("windowsOptions", &mut m.windows_options, windows_options)?
        .opt("runAsUser", &mut m.run_as_user)
        .opt("runAsGroup", &mut m.run_as_group)
        .opt("runAsNonRoot", &mut m.run_as_non_root)
        .opt("readOnlyRootFilesystem", &mut m.read_only_root_filesystem)
        .opt(
            "allowPrivilegeEscalation",
            &mut m.allow_privilege_escalation,
        )
        .opt("procMount", &mut m.proc_mount)
        .msg("seccompProfile", &mut m.seccomp_profile, seccomp_profile)?
        .msg(
            "appArmorProfile",
            &mut m.app_armor_profile,
            app_armor_profile,
        )?
        .end(&m)
}

fn pod_security_context(mut m: PodSecurityContext) -> Conv<Object> {
    Obj::new()
        .msg("seLinuxOptions", &mut m.se_linux_options, se_linux_options)?
        .msg("windowsOptions", &mut m.windows_options, windows_options)?
        .opt("runAsUser", &mut m.run_as_user)
        .opt("runAsGroup", &mut m.run_as_group)
        .opt("runAsNonRoot", &mut m.run_as_non_root)
        .list("supplementalGroups", &mut m.supplemental_groups)
        .opt(
            "supplementalGroupsPolicy",
            &mut m.supplemental_groups_policy,
        )
        .opt("fsGroup", &mut m.fs_group)
        .msgs("sysctls", &mut m.sysctls, sysctl)?
        .opt("fsGroupChangePolicy", &mut m.fs_group_change_policy)
        .msg("seccompProfile", &mut m.seccomp_profile, seccomp_profile)?
        .msg(
            "appArmorProfile",
            &mut m.app_armor_profile,
            app_armor_profile,
        )?
        .opt("seLinuxChangePolicy", &mut m.se_linux_change_policy)
        .end(&m)
}

fn capabilities(mut m: Capabilities) -> Conv<Object> {
    Obj::new()
        .list("add", &mut m.add)
        .list("drop", &mut m.drop)
        .end(&m)
}

fn se_linux_options(mut m: SeLinuxOptions) -> Conv<Object> {
    Obj::new()
        .nz("user", &mut m.user)
        .nz("role", &mut m.role)
        .nz("type", &mut m.r#type)
        .nz("level", &mut m.level)
        .end(&m)
}

fn windows_options(mut m: WindowsSecurityContextOptions) -> Conv<Object> {
    Obj::new()
        .opt("gmsaCredentialSpecName", &mut m.gmsa_credential_spec_name)
        .opt("gmsaCredentialSpec", &mut m.gmsa_credential_spec)
        .opt("runAsUserName", &mut m.run_as_user_name)
        .opt("hostProcess", &mut m.host_process)
        .end(&m)
}

fn seccomp_profile(mut m: SeccompProfile) -> Conv<Object> {
    Obj::new()
        .opt("type", &mut m.r#type)
        .opt("localhostProfile", &mut m.localhost_profile)
        .end(&m)
}

fn app_armor_profile(mut m: AppArmorProfile) -> Conv<Object> {
    Obj::new()
        .opt("type", &mut m.r#type)
        .opt("localhostProfile", &mut m.localhost_profile)
        .end(&m)
}

fn sysctl(mut m: Sysctl) -> Conv<Object> {
    Obj::new()
        .opt("name", &mut m.name)
        .opt("value", &mut m.value)
        .end(&m)
}

fn toleration(mut m: Toleration) -> Conv<Object> {
    Obj::new()
        .nz("key", &mut m.key)
        .nz("operator", &mut m.operator)
        .nz("value", &mut m.value)
        .nz("effect", &mut m.effect)
        .opt("tolerationSeconds", &mut m.toleration_seconds)
        .end(&m)
}

fn host_alias(mut m: HostAlias) -> Conv<Object> {
    Obj::new()
        .opt("ip", &mut m.ip)
        .list("hostnames", &mut m.hostnames)
        .end(&m)
}

fn pod_dns_config(mut m: PodDnsConfig) -> Conv<Object> {
    Obj::new()
        .list("nameservers", &mut m.nameservers)
        .list("searches", &mut m.searches)
        .msgs("options", &mut m.options, pod_dns_config_option)?
        .end(&m)
}

fn pod_dns_config_option(mut m: PodDnsConfigOption) -> Conv<Object> {
    Obj::new()
        .nz("name", &mut m.name)
        .opt("value", &mut m.value)
        .end(&m)
}

fn readiness_gate(mut m: PodReadinessGate) -> Conv<Object> {
    Obj::new()
        .opt("conditionType", &mut m.condition_type)
        .end(&m)
}

fn topology_spread_constraint(mut m: TopologySpreadConstraint) -> Conv<Object> {
    Obj::new()
        .opt("maxSkew", &mut m.max_skew)
        .opt("topologyKey", &mut m.topology_key)
        .opt("whenUnsatisfiable", &mut m.when_unsatisfiable)
        .msg("labelSelector", &mut m.label_selector, label_selector)?
        .opt("minDomains", &mut m.min_domains)
        .opt("nodeAffinityPolicy", &mut m.node_affinity_policy)
        .opt("nodeTaintsPolicy", &mut m.node_taints_policy)
        .list("matchLabelKeys", &mut m.match_label_keys)
        .end(&m)
}

fn pod_os(mut m: PodOs) -> Conv<Object> {
    Obj::new().opt("name", &mut m.name).end(&m)
}

fn scheduling_gate(mut m: PodSchedulingGate) -> Conv<Object> {
    Obj::new().opt("name", &mut m.name).end(&m)
}

fn pod_resource_claim(mut m: PodResourceClaim) -> Conv<Object> {
    Obj::new()
        .opt("name", &mut m.name)
        .opt("resourceClaimName", &mut m.resource_claim_name)
        .opt(
            "resourceClaimTemplateName",
            &mut m.resource_claim_template_name,
        )
        .end(&m)
}

fn affinity(mut m: Affinity) -> Conv<Object> {
    Obj::new()
        .msg("nodeAffinity", &mut m.node_affinity, node_affinity)?
        .msg("podAffinity", &mut m.pod_affinity, pod_affinity)?
        .msg(
            "podAntiAffinity",
            &mut m.pod_anti_affinity,
            pod_anti_affinity,
        )?
        .end(&m)
}

fn node_affinity(mut m: NodeAffinity) -> Conv<Object> {
    Obj::new()
        .msg(
            "requiredDuringSchedulingIgnoredDuringExecution",
            &mut m.required_during_scheduling_ignored_during_execution,
            node_selector,
        )?
        .msgs(
            "preferredDuringSchedulingIgnoredDuringExecution",
            &mut m.preferred_during_scheduling_ignored_during_execution,
            preferred_scheduling_term,
        )?
        .end(&m)
}

fn node_selector(mut m: NodeSelector) -> Conv<Object> {
    Obj::new()
        .msgs(
            "nodeSelectorTerms",
            &mut m.node_selector_terms,
            node_selector_term,
        )?
        .end(&m)
}

fn node_selector_term(mut m: NodeSelectorTerm) -> Conv<Object> {
    Obj::new()
        .msgs(
            "matchExpressions",
            &mut m.match_expressions,
            node_selector_requirement,
        )?
        .msgs(
            "matchFields",
            &mut m.match_fields,
            node_selector_requirement,
        )?
        .end(&m)
}

fn node_selector_requirement(mut m: NodeSelectorRequirement) -> Conv<Object> {
    Obj::new()
        .opt("key", &mut m.key)
        .opt("operator", &mut m.operator)
        .list("values", &mut m.values)
        .end(&m)
}

fn preferred_scheduling_term(mut m: PreferredSchedulingTerm) -> Conv<Object> {
    Obj::new()
        .opt("weight", &mut m.weight)
        .msg("preference", &mut m.preference, node_selector_term)?
        .end(&m)
}

fn pod_affinity(mut m: PodAffinity) -> Conv<Object> {
    Obj::new()
        .msgs(
            "requiredDuringSchedulingIgnoredDuringExecution",
            &mut m.required_during_scheduling_ignored_during_execution,
            pod_affinity_term,
        )?
        .msgs(
            "preferredDuringSchedulingIgnoredDuringExecution",
            &mut m.preferred_during_scheduling_ignored_during_execution,
            weighted_pod_affinity_term,
        )?
        .end(&m)
}

fn pod_anti_affinity(mut m: PodAntiAffinity) -> Conv<Object> {
    Obj::new()
        .msgs(
            "requiredDuringSchedulingIgnoredDuringExecution",
            &mut m.required_during_scheduling_ignored_during_execution,
            pod_affinity_term,
        )?
        .msgs(
            "preferredDuringSchedulingIgnoredDuringExecution",
            &mut m.preferred_during_scheduling_ignored_during_execution,
            weighted_pod_affinity_term,
        )?
        .end(&m)
}

fn pod_affinity_term(mut m: PodAffinityTerm) -> Conv<Object> {
    Obj::new()
        .msg("labelSelector", &mut m.label_selector, label_selector)?
        .list("namespaces", &mut m.namespaces)
        .opt("topologyKey", &mut m.topology_key)
        .msg(
            "namespaceSelector",
            &mut m.namespace_selector,
            label_selector,
        )?
        .list("matchLabelKeys", &mut m.match_label_keys)
        .list("mismatchLabelKeys", &mut m.mismatch_label_keys)
        .end(&m)
}

fn weighted_pod_affinity_term(mut m: WeightedPodAffinityTerm) -> Conv<Object> {
    Obj::new()
        .opt("weight", &mut m.weight)
        .msg(
            "podAffinityTerm",
            &mut m.pod_affinity_term,
            pod_affinity_term,
        )?
        .end(&m)
}

fn volume(mut m: Volume) -> Conv<Object> {
    Obj::new()
        .opt("name", &mut m.name)
        .inline(&mut m.volume_source, volume_source)?
        .end(&m)
}

fn volume_source(mut m: VolumeSource) -> Conv<Object> {
    Obj::new()
        .msg("hostPath", &mut m.host_path, host_path)?
        .msg("emptyDir", &mut m.empty_dir, empty_dir)?
        .msg("secret", &mut m.secret, secret_volume)?
        .msg("nfs", &mut m.nfs, nfs)?
        .msg(
            "persistentVolumeClaim",
            &mut m.persistent_volume_claim,
            persistent_volume_claim,
        )?
        .msg("downwardAPI", &mut m.downward_api, downward_api_volume)?
        .msg("configMap", &mut m.config_map, config_map_volume)?
        .msg("projected", &mut m.projected, projected)?
        .msg("csi", &mut m.csi, csi)?
        .msg("image", &mut m.image, image_volume)?
        .end(&m)
}

fn host_path(mut m: HostPathVolumeSource) -> Conv<Object> {
    Obj::new()
        .opt("path", &mut m.path)
        .opt("type", &mut m.r#type)
        .end(&m)
}

fn empty_dir(mut m: EmptyDirVolumeSource) -> Conv<Object> {
    Obj::new()
        .nz("medium", &mut m.medium)
        .msg("sizeLimit", &mut m.size_limit, quantity)?
        .end(&m)
}

fn secret_volume(mut m: SecretVolumeSource) -> Conv<Object> {
    Obj::new()
        .nz("secretName", &mut m.secret_name)
        .msgs("items", &mut m.items, key_to_path)?
        .opt("defaultMode", &mut m.default_mode)
        .opt("optional", &mut m.optional)
        .end(&m)
}

fn config_map_volume(mut m: ConfigMapVolumeSource) -> Conv<Object> {
    Obj::new()
        .inline(&mut m.local_object_reference, local_object_reference)?
        .msgs("items", &mut m.items, key_to_path)?
        .opt("defaultMode", &mut m.default_mode)
        .opt("optional", &mut m.optional)
        .end(&m)
}

fn key_to_path(mut m: KeyToPath) -> Conv<Object> {
    Obj::new()
        .opt("key", &mut m.key)
        .opt("path", &mut m.path)
        .opt("mode", &mut m.mode)
        .end(&m)
}

fn nfs(mut m: NfsVolumeSource) -> Conv<Object> {
    Obj::new()
        .opt("server", &mut m.server)
        .opt("path", &mut m.path)
        .nz("readOnly", &mut m.read_only)
        .end(&m)
}

fn persistent_volume_claim(mut m: PersistentVolumeClaimVolumeSource) -> Conv<Object> {
    Obj::new()
        .opt("claimName", &mut m.claim_name)
        .nz("readOnly", &mut m.read_only)
        .end(&m)
}

fn downward_api_volume(mut m: DownwardAPIVolumeSource) -> Conv<Object> {
    Obj::new()
        .msgs("items", &mut m.items, downward_api_file)?
        .opt("defaultMode", &mut m.default_mode)
        .end(&m)
}

fn downward_api_file(mut m: DownwardAPIVolumeFile) -> Conv<Object> {
    Obj::new()
        .opt("path", &mut m.path)
        .msg("fieldRef", &mut m.field_ref, object_field_selector)?
        .msg(
            "resourceFieldRef",
            &mut m.resource_field_ref,
            resource_field_selector,
        )?
        .opt("mode", &mut m.mode)
        .end(&m)
}

fn projected(mut m: ProjectedVolumeSource) -> Conv<Object> {
    Obj::new()
        .msgs("sources", &mut m.sources, volume_projection)?
        .opt("defaultMode", &mut m.default_mode)
        .end(&m)
}

fn volume_projection(mut m: VolumeProjection) -> Conv<Object> {
    Obj::new()
        .msg("secret", &mut m.secret, secret_projection)?
        .msg("downwardAPI", &mut m.downward_api, downward_api_projection)?
        .msg("configMap", &mut m.config_map, config_map_projection)?
        .msg(
            "serviceAccountToken",
            &mut m.service_account_token,
            service_account_token_projection,
        )?
        .msg(
            "clusterTrustBundle",
            &mut m.cluster_trust_bundle,
            cluster_trust_bundle_projection,
        )?
        .end(&m)
}

fn secret_projection(mut m: SecretProjection) -> Conv<Object> {
    Obj::new()
        .inline(&mut m.local_object_reference, local_object_reference)?
        .msgs("items", &mut m.items, key_to_path)?
        .opt("optional", &mut m.optional)
        .end(&m)
}

fn config_map_projection(mut m: ConfigMapProjection) -> Conv<Object> {
    Obj::new()
        .inline(&mut m.local_object_reference, local_object_reference)?
        .msgs("items", &mut m.items, key_to_path)?
        .opt("optional", &mut m.optional)
        .end(&m)
}

fn downward_api_projection(mut m: DownwardAPIProjection) -> Conv<Object> {
    Obj::new()
        .msgs("items", &mut m.items, downward_api_file)?
        .end(&m)
}

fn service_account_token_projection(mut m: ServiceAccountTokenProjection) -> Conv<Object> {
    Obj::new()
        .nz("audience", &mut m.audience)
        .opt("expirationSeconds", &mut m.expiration_seconds)
        .opt("path", &mut m.path)
        .end(&m)
}

fn csi(mut m: CSIVolumeSource) -> Conv<Object> {
    Obj::new()
        .opt("driver", &mut m.driver)
        .opt("readOnly", &mut m.read_only)
        .opt("fsType", &mut m.fs_type)
        .map("volumeAttributes", &mut m.volume_attributes)
        .msg(
            "nodePublishSecretRef",
            &mut m.node_publish_secret_ref,
            local_object_reference,
        )?
        .end(&m)
}

fn cluster_trust_bundle_projection(mut m: ClusterTrustBundleProjection) -> Conv<Object> {
    Obj::new()
        .opt("name", &mut m.name)
        .opt("signerName", &mut m.signer_name)
        .msg("labelSelector", &mut m.label_selector, label_selector)?
        .opt("optional", &mut m.optional)
        .opt("path", &mut m.path)
        .end(&m)
}

fn image_volume(mut m: ImageVolumeSource) -> Conv<Object> {
    Obj::new()
        .nz("reference", &mut m.reference)
        .nz("pullPolicy", &mut m.pull_policy)
        .end(&m)
}

/// A core/v1 `PodStatus`, as far as a client creating or updating a pod
/// plausibly sends it; container statuses are refused.
pub(super) fn pod_status(mut m: PodStatus) -> Conv<Object> {
    Obj::new()
        .nz("observedGeneration", &mut m.observed_generation)
        .nz("phase", &mut m.phase)
        .msgs("conditions", &mut m.conditions, pod_condition)?
        .nz("message", &mut m.message)
        .nz("reason", &mut m.reason)
        .nz("nominatedNodeName", &mut m.nominated_node_name)
        .nz("hostIP", &mut m.host_ip)
        .msgs("hostIPs", &mut m.host_ips, host_ip)?
        .nz("podIP", &mut m.pod_ip)
        .msgs("podIPs", &mut m.pod_ips, pod_ip)?
        .msg("startTime", &mut m.start_time, time)?
        .nz("qosClass", &mut m.qos_class)
        .nz("resize", &mut m.resize)
        .end(&m)
}

fn pod_condition(mut m: PodCondition) -> Conv<Object> {
    Obj::new()
        .opt("type", &mut m.r#type)
        .nz("observedGeneration", &mut m.observed_generation)
        .opt("status", &mut m.status)
        .msg("lastProbeTime", &mut m.last_probe_time, time)?
        .msg("lastTransitionTime", &mut m.last_transition_time, time)?
        .nz("reason", &mut m.reason)
        .nz("message", &mut m.message)
        .end(&m)
}

fn host_ip(mut m: HostIp) -> Conv<Object> {
    Obj::new().opt("ip", &mut m.ip).end(&m)
}

fn pod_ip(mut m: PodIp) -> Conv<Object> {
    Obj::new().opt("ip", &mut m.ip).end(&m)
}
