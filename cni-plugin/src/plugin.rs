//! The CNI commands: environment and stdin in, stdout text or a CNI error
//! out. Orchestrates the typed parsers ([`crate::env`], [`crate::netconf`]),
//! the IPAM store ([`crate::ipam`]) and the wiring ([`crate::podnet`]).
//! Nothing here prints; `main` does.

use std::{
    collections::{BTreeSet, HashMap},
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
};

use ipnet::IpNet;
use rtnetlink::Handle;
use serde_json::Value;

use crate::{
    env::{AttachmentEnv, Command, Invocation},
    error::{CniError, PluginCode},
    ipam::{self, IpamStore, PodCidr},
    netconf::NetConf,
    netlink::{self, NetError},
    overlay::{DEFAULT_DEVICE, VXLAN_OVERHEAD},
    podnet::{self, HOST_VETH_PREFIX, PodWiring},
    result::{CniResult, Interface, IpConfig, Route, parse_prev_result},
    version::{CniVersion, version_output},
};

/// Plugin code: ADD for an attachment that is already wired.
const ATTACHMENT_EXISTS: u32 = 102;
/// Plugin code: CHECK found the wiring missing or wrong.
const CHECK_FAILED: u32 = 103;
/// Plugin code: the pod's network namespace could not be wired.
const WIRING_FAILED: u32 = 104;

fn plugin_error(code: u32, msg: impl Into<String>, details: impl Into<String>) -> CniError {
    match PluginCode::new(code) {
        Some(code) => CniError::plugin(code, msg, details),
        None => CniError::io(msg, details),
    }
}

/// The cniVersion errors are rendered in: the config's, if it can be read.
pub fn error_version(stdin: &[u8]) -> CniVersion {
    serde_json::from_slice::<Value>(stdin)
        .ok()
        .and_then(|v| v.get("cniVersion")?.as_str()?.parse().ok())
        .unwrap_or(CniVersion::LATEST)
}

/// Runs one invocation; `Ok` holds what goes to stdout (possibly nothing).
pub async fn run(vars: &HashMap<String, String>, stdin: &[u8]) -> Result<String, CniError> {
    match Invocation::from_env(vars)? {
        Invocation::Version => Ok(version_output(stdin)?.to_string()),
        Invocation::Add(env) => {
            let conf = NetConf::parse_for(Command::Add, stdin)?;
            add(&conf, &env).await
        }
        Invocation::Del(env) => {
            let conf = NetConf::parse_for(Command::Del, stdin)?;
            del(&conf, &env).await.map(|()| String::new())
        }
        Invocation::Check(env) => {
            let conf = NetConf::parse_for(Command::Check, stdin)?;
            check(&conf, &env).await.map(|()| String::new())
        }
        Invocation::Status { .. } => {
            let conf = NetConf::parse_for(Command::Status, stdin)?;
            status(&conf).await.map(|()| String::new())
        }
        Invocation::Gc { .. } => {
            let conf = NetConf::parse_for(Command::Gc, stdin)?;
            gc(&conf).await.map(|()| String::new())
        }
    }
}

fn data_dir(conf: &NetConf) -> PathBuf {
    conf.data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(ipam::DEFAULT_DATA_DIR))
}

/// Where the pod CIDR read from the API is remembered (it never changes
/// for the life of a Node), so only the first ADD on a node asks the API.
fn cidr_cache(conf: &NetConf) -> PathBuf {
    data_dir(conf).join(format!("{}.podcidr", conf.name))
}

/// The node's pod CIDR: from the config, else the cache, else the Node
/// object through the API.
async fn pod_cidr(conf: &NetConf) -> Result<PodCidr, CniError> {
    if let Some(cidr) = conf.pod_cidr {
        return Ok(cidr);
    }
    let cache = cidr_cache(conf);
    if let Ok(text) = std::fs::read_to_string(&cache)
        && let Ok(net) = text.trim().parse::<IpNet>()
        && let Ok(cidr) = PodCidr::new(net)
    {
        return Ok(cidr);
    }
    let Some(kubeconfig) = &conf.kubeconfig else {
        return Err(CniError::invalid_config(
            "no pod CIDR",
            "set \"podCIDR\", or \"kubeconfig\" (and \"nodeName\") to read it from the Node",
        ));
    };
    let node_name = match &conf.node_name {
        Some(name) => name.clone(),
        None => nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .ok_or_else(|| CniError::invalid_config("no node name", "set \"nodeName\""))?,
    };
    let net = crate::node_cidr::fetch(kubeconfig, &node_name).await?;
    let cidr = PodCidr::new(net)
        .map_err(|e| CniError::invalid_config("the Node's podCIDR is unusable", e.to_string()))?;
    let dir = data_dir(conf);
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        let tmp = dir.join(format!(".{}.podcidr.tmp", conf.name));
        std::fs::write(&tmp, net.to_string())?;
        std::fs::rename(&tmp, &cache)
    });
    if let Err(e) = written {
        // Only a cache: the next ADD asks the API again.
        eprintln!(
            "strait-cni: caching the pod CIDR in {}: {e}",
            cache.display()
        );
    }
    Ok(cidr)
}

fn store(conf: &NetConf, cidr: PodCidr) -> Result<IpamStore, CniError> {
    Ok(IpamStore::open(&data_dir(conf), &conf.name, cidr)?)
}

fn net_error(msg: &str, e: &NetError) -> CniError {
    plugin_error(WIRING_FAILED, msg, e.to_string())
}

/// Where the MTU worked out from the node's links is remembered for the
/// rest of this boot.
fn mtu_cache(conf: &NetConf) -> PathBuf {
    data_dir(conf).join(format!("{}.mtu", conf.name))
}

/// The pod MTU: the config's; else the overlay device's (`strait agent`
/// sized it as the underlay's less the VXLAN overhead); else the largest
/// MTU of the node's own links (not strait's devices) less that overhead.
/// The last lists every link, one per pod, so its answer is kept with the
/// boot ID in [`mtu_cache`] and reused until the node reboots.
async fn pod_mtu(conf: &NetConf, handle: &Handle) -> Result<u32, CniError> {
    if let Some(mtu) = conf.mtu {
        return Ok(mtu);
    }
    let overlay = netlink::link_by_name(handle, DEFAULT_DEVICE)
        .await
        .map_err(|e| net_error("looking for the overlay device", &e))?;
    if let Some(mtu) = overlay.as_ref().and_then(netlink::link_mtu) {
        return Ok(mtu);
    }
    let boot = std::fs::read_to_string(BOOT_ID).unwrap_or_default();
    let boot = boot.trim();
    let cache = mtu_cache(conf);
    if let Ok(text) = std::fs::read_to_string(&cache)
        && let Some((mtu, cached_boot)) = text.trim().split_once(' ')
        && !boot.is_empty()
        && cached_boot == boot
        && let Ok(mtu) = mtu.parse()
    {
        return Ok(mtu);
    }
    let mtu = mtu_from_links(handle).await?;
    let dir = data_dir(conf);
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        let tmp = dir.join(format!(".{}.mtu.tmp", conf.name));
        std::fs::write(&tmp, format!("{mtu} {boot}"))?;
        std::fs::rename(&tmp, &cache)
    });
    if let Err(e) = written {
        // Only a cache: the next ADD lists the links again.
        eprintln!("strait-cni: caching the MTU in {}: {e}", cache.display());
    }
    Ok(mtu)
}

/// Changes at every boot; ties cached facts about links to this boot.
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

async fn mtu_from_links(handle: &Handle) -> Result<u32, CniError> {
    let links = netlink::links(handle)
        .await
        .map_err(|e| net_error("listing links", &e))?;
    let underlay = links
        .iter()
        .filter(|l| {
            netlink::link_name(l).is_some_and(|n| {
                n != "lo" && !n.starts_with(HOST_VETH_PREFIX) && !n.starts_with("strait-")
            })
        })
        .filter_map(netlink::link_mtu)
        .max()
        .unwrap_or(1500);
    Ok(underlay.saturating_sub(VXLAN_OVERHEAD).max(1280))
}

fn ipv4(ip: IpAddr, what: &str) -> Result<Ipv4Addr, CniError> {
    match ip {
        IpAddr::V4(ip) => Ok(ip),
        IpAddr::V6(_) => Err(CniError::invalid_config(
            format!("{what} is IPv6"),
            "strait-cni wires IPv4 pods",
        )),
    }
}

async fn add(conf: &NetConf, env: &AttachmentEnv<PathBuf>) -> Result<String, CniError> {
    let cidr = pod_cidr(conf).await?;
    let gateway = ipv4(cidr.gateway(), "the pod CIDR")?;
    let store = store(conf, cidr)?;
    let host = netlink::own_handle().map_err(|e| net_error("opening netlink", &e))?;
    let host_ifname = podnet::host_veth_name(env.container_id.as_str(), env.ifname.as_str());
    let claim = store.claim(&env.container_id, &env.ifname)?;
    // An address without wiring is what an ADD that died half-way leaves:
    // it is reused, so the retry completes the attachment. With wiring, the
    // attachment exists.
    if claim.existed {
        let wired = podnet::host_end_exists(&host, &host_ifname)
            .await
            .map_err(|e| net_error("looking for the host interface", &e))?;
        if wired {
            return Err(plugin_error(
                ATTACHMENT_EXISTS,
                "the attachment exists already",
                format!(
                    "container {} interface {} is wired (host side {host_ifname}); DEL it first",
                    env.container_id, env.ifname
                ),
            ));
        }
    }
    let ip = claim.ip;
    let release = || {
        if !claim.existed {
            let _ = store.release(&env.container_id, &env.ifname);
        }
    };
    let address = match ipv4(ip, "the reserved address") {
        Ok(address) => address,
        Err(e) => {
            release();
            return Err(e);
        }
    };
    let mtu = match pod_mtu(conf, &host).await {
        Ok(mtu) => mtu,
        Err(e) => {
            release();
            return Err(e);
        }
    };
    let wiring = PodWiring {
        netns: &env.netns,
        ifname: env.ifname.as_str(),
        host_ifname: &host_ifname,
        address,
        gateway,
        mtu,
    };
    let attached = match podnet::attach(&host, &wiring).await {
        Ok(attached) => attached,
        Err(e) => {
            release();
            return Err(net_error(
                &format!("wiring {} in {}", env.ifname, env.netns.display()),
                &e,
            ));
        }
    };

    // Chained after another plugin: keep what it reported, add ours.
    let mut result = match &conf.prev_result {
        Some(prev) => parse_prev_result(prev, conf.cni_version)?,
        None => CniResult::default(),
    };
    let first = u32::try_from(result.interfaces.len()).unwrap_or(u32::MAX);
    result.interfaces.push(Interface {
        name: host_ifname.clone(),
        mac: Some(netlink::format_mac(attached.host_mac)),
        mtu: Some(mtu),
        ..Interface::default()
    });
    result.interfaces.push(Interface {
        name: env.ifname.as_str().to_owned(),
        mac: Some(netlink::format_mac(attached.pod_mac)),
        mtu: Some(mtu),
        sandbox: Some(env.netns.display().to_string()),
        ..Interface::default()
    });
    result.ips.push(IpConfig {
        address: IpNet::new(ip, 32).map_err(|e| CniError::io("address", e.to_string()))?,
        gateway: Some(gateway.into()),
        interface: Some(first + 1),
    });
    let default_route = IpNet::new(Ipv4Addr::UNSPECIFIED.into(), 0)
        .map_err(|e| CniError::io("route", e.to_string()))?;
    result.routes.push(Route {
        gw: Some(gateway.into()),
        ..Route::to(default_route)
    });
    if let Some(dns) = &conf.dns {
        result.dns = dns.clone();
    }
    Ok(result.render(conf.cni_version).to_string())
}

async fn del(conf: &NetConf, env: &AttachmentEnv<Option<PathBuf>>) -> Result<(), CniError> {
    let host_ifname = podnet::host_veth_name(env.container_id.as_str(), env.ifname.as_str());
    // Without the netns the pod end is gone with it; the host end may
    // linger only if the netns outlives its processes. Either way: gone.
    let host = netlink::own_handle().map_err(|e| net_error("opening netlink", &e))?;
    podnet::detach(&host, &host_ifname)
        .await
        .map_err(|e| net_error("removing the pod's veth", &e))?;
    // DEL must succeed even when the CIDR can no longer be learned (the
    // Node is gone): then there is no store to release from either.
    match pod_cidr(conf).await {
        Ok(cidr) => {
            store(conf, cidr)?.release(&env.container_id, &env.ifname)?;
            Ok(())
        }
        Err(e) if conf.pod_cidr.is_none() => {
            eprintln!("strait-cni: DEL without a pod CIDR, nothing to release: {e}");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

async fn check(conf: &NetConf, env: &AttachmentEnv<PathBuf>) -> Result<(), CniError> {
    let cidr = pod_cidr(conf).await?;
    let gateway = ipv4(cidr.gateway(), "the pod CIDR")?;
    let store = store(conf, cidr)?;
    let Some(ip) = store.lookup(&env.container_id, &env.ifname)? else {
        return Err(CniError::unknown_container(
            "no address is reserved for this attachment",
            format!("container {} interface {}", env.container_id, env.ifname),
        ));
    };
    if let Some(prev) = &conf.prev_result {
        let prev = parse_prev_result(prev, conf.cni_version)?;
        if !prev.ips.iter().any(|c| c.address.addr() == ip) {
            return Err(plugin_error(
                CHECK_FAILED,
                "prevResult does not hold the reserved address",
                format!("reserved {ip}"),
            ));
        }
    }
    let host_ifname = podnet::host_veth_name(env.container_id.as_str(), env.ifname.as_str());
    let wiring = PodWiring {
        netns: &env.netns,
        ifname: env.ifname.as_str(),
        host_ifname: &host_ifname,
        address: ipv4(ip, "the reserved address")?,
        gateway,
        mtu: 0,
    };
    podnet::check(&wiring)
        .await
        .map_err(|e| plugin_error(CHECK_FAILED, "CHECK failed", e.to_string()))
}

async fn status(conf: &NetConf) -> Result<(), CniError> {
    let cidr = pod_cidr(conf)
        .await
        .map_err(|e| CniError::unavailable("the pod CIDR is not known yet", e.msg().to_owned()))?;
    if store(conf, cidr)?.available()? == 0 {
        return Err(CniError::unavailable(
            "no pod addresses left",
            format!("{} is exhausted", cidr.network()),
        ));
    }
    Ok(())
}

async fn gc(conf: &NetConf) -> Result<(), CniError> {
    // Without a list the runtime said nothing about what is valid.
    let Some(valid) = &conf.valid_attachments else {
        return Ok(());
    };
    if let Ok(cidr) = pod_cidr(conf).await {
        let report = store(conf, cidr)?.gc(valid)?;
        for gone in &report.released {
            eprintln!("strait-cni: GC released {gone:?}");
        }
    }
    // Host-side veths of attachments not in the list go too.
    let keep: BTreeSet<String> = valid
        .iter()
        .map(|a| podnet::host_veth_name(&a.container_id, &a.ifname))
        .collect();
    let handle = netlink::own_handle().map_err(|e| net_error("opening netlink", &e))?;
    for link in netlink::links(&handle)
        .await
        .map_err(|e| net_error("listing links", &e))?
    {
        if let Some(name) = netlink::link_name(&link)
            && name.starts_with(HOST_VETH_PREFIX)
            && !keep.contains(name)
        {
            let name = name.to_owned();
            netlink::delete_link(&handle, &name)
                .await
                .map_err(|e| net_error("removing a leaked veth", &e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn version_and_config_errors_need_no_privileges() {
        let out = run(
            &vars(&[("CNI_COMMAND", "VERSION")]),
            br#"{"cniVersion":"0.4.0"}"#,
        )
        .await
        .expect("version");
        let v: Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["cniVersion"], "0.4.0");
        assert_eq!(v["supportedVersions"].as_array().map(Vec::len), Some(5));

        let add = vars(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "c1"),
            ("CNI_NETNS", "/proc/self/ns/net"),
            ("CNI_IFNAME", "eth0"),
        ]);
        let cases: [(&[u8], u32); 4] = [
            (b"{not json", CniError::DECODE),
            (
                br#"{"cniVersion":"1.1.0","name":"n","type":"strait-cni"}"#,
                CniError::INVALID_CONFIG,
            ),
            (
                br#"{"cniVersion":"9.9.9","name":"n","type":"strait-cni"}"#,
                CniError::INCOMPATIBLE_VERSION,
            ),
            (
                br#"{"cniVersion":"1.1.0","name":"n","type":"strait-cni","podCIDR":"10.0.0.0/33"}"#,
                CniError::DECODE,
            ),
        ];
        for (stdin, code) in cases {
            let err = run(&add, stdin).await.expect_err("refused");
            assert!(
                err.code() == code
                    || (code == CniError::DECODE && err.code() == CniError::INVALID_CONFIG),
                "{}: {err:?}",
                String::from_utf8_lossy(stdin)
            );
        }
        let err = run(&vars(&[("CNI_COMMAND", "ADD")]), b"{}")
            .await
            .expect_err("env");
        assert_eq!(err.code(), CniError::INVALID_ENV);
    }

    #[test]
    fn errors_render_in_the_configs_version() {
        assert_eq!(
            error_version(br#"{"cniVersion":"0.3.1"}"#),
            CniVersion::V0_3_1
        );
        assert_eq!(error_version(b"garbage"), CniVersion::LATEST);
    }
}
