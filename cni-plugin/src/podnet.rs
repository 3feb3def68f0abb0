//! Wiring one pod into the node's routed network: a veth pair whose pod end
//! is born inside the pod's namespace with its final name, the pod address
//! as a /32 with a link route to the node-side gateway and a default route
//! through it, and a /32 route to the pod on the host end.
//!
//! Routed, not bridged (the Calico/Cilium scheme): the gateway address (the
//! podCIDR's first host) is a /32 on the node's loopback device (kernels
//! without the dummy driver are common in VMs); the kernel answers ARP for
//! a local address on any interface, so every host-side veth answers for
//! it and pods need no bridge. Each pod keeps its own host-side veth for
//! eBPF programs to attach to.
//!
//! Removing a veth makes the kernel wait for an RCU barrier, 15-20 ms here,
//! longer than the rest of a DEL together. So [`detach`] cuts the pod off
//! synchronously (the host end goes down, which drops the node's route to
//! the pod) and leaves the deletion to a forked child ([`crate::reaper`]),
//! which deletes that very link by its index and exits. Until it has, an
//! ADD of the same attachment finds the old host end and replaces it; GC
//! removes it like any unlisted host end; and when the runtime deletes
//! the pod's netns, the pair goes with it.

use std::{net::Ipv4Addr, path::Path};

use rtnetlink::{
    Handle, LinkMessageBuilder, LinkUnspec, LinkVeth,
    packet_route::link::{InfoData, InfoKind, InfoVeth},
};

use crate::netlink::{self, NetError, Netns, Route4};

/// The node-side device holding the podCIDR gateway address.
pub const GATEWAY_DEVICE: &str = "lo";

/// The loopback device's index, the same in every network namespace.
const LOOPBACK_INDEX: u32 = 1;

/// Prefix of host-side veth names (`strv` + 11 hex digits, 15 bytes).
pub const HOST_VETH_PREFIX: &str = "strv";

/// The host-side veth name for a container's interface: stable across
/// plugin versions, so DEL finds what ADD made. FNV-1a, not a keyed hash,
/// because the name must never change between releases.
pub fn host_veth_name(container_id: &str, ifname: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in container_id
        .bytes()
        .chain(std::iter::once(b'/'))
        .chain(ifname.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{HOST_VETH_PREFIX}{:011x}", hash >> 20)
}

/// What one pod's wiring consists of.
#[derive(Clone, Debug)]
pub struct PodWiring<'a> {
    /// The pod's network namespace.
    pub netns: &'a Path,
    /// The interface name inside the pod (`CNI_IFNAME`).
    pub ifname: &'a str,
    /// The host-side veth name ([`host_veth_name`]).
    pub host_ifname: &'a str,
    /// The pod's address.
    pub address: Ipv4Addr,
    /// The gateway (the podCIDR's first host).
    pub gateway: Ipv4Addr,
    /// MTU of both veth ends.
    pub mtu: u32,
}

/// The hardware addresses of a wired pod.
#[derive(Clone, Copy, Debug)]
pub struct Wired {
    /// The host-side veth's MAC.
    pub host_mac: [u8; 6],
    /// The pod interface's MAC.
    pub pod_mac: [u8; 6],
}

/// Makes sure `gateway` is a local address of the node (on `lo`) and
/// that the node forwards. After the first pod only the address request
/// (answered "exists") and a read of `ip_forward` remain.
async fn ensure_gateway(host: &Handle, gateway: Ipv4Addr) -> Result<(), NetError> {
    if netlink::ensure_address(host, LOOPBACK_INDEX, gateway.into(), 32).await? {
        netlink::set_up(host, LOOPBACK_INDEX).await?;
    }
    netlink::sysctl("net/ipv4/ip_forward", "1")
}

/// Creates the pod's wiring; `host` is a handle in the node's namespace.
/// On failure nothing of it is left behind.
pub async fn attach(host: &Handle, wiring: &PodWiring<'_>) -> Result<Wired, NetError> {
    ensure_gateway(host, wiring.gateway).await?;
    let netns = Netns::open(wiring.netns)?;
    let pod = netns.handle()?;
    if let Err(e) = create_pair(host, &netns, wiring).await {
        // A host end of this name belongs to an earlier attachment of the
        // same container and interface: its DEL's deferred removal has not
        // run yet, or an ADD died after making it. Replace it, once. The
        // DEL's child may delete it first, between the failed create and
        // this delete: either way the name is free for the retry.
        if e.errno() != Some(libc::EEXIST) {
            return Err(e);
        }
        netlink::delete_link(host, wiring.host_ifname).await?;
        create_pair(host, &netns, wiring).await?;
    }
    match configure(host, &pod, wiring).await {
        Ok(wired) => Ok(wired),
        Err(e) => {
            // Deleting one end deletes both, and the routes through them.
            let _ = netlink::delete_link(host, wiring.host_ifname).await;
            Err(e)
        }
    }
}

/// One request makes both ends; the pod end never exists in the node's
/// namespace, so its name cannot collide there.
async fn create_pair(host: &Handle, netns: &Netns, wiring: &PodWiring<'_>) -> Result<(), NetError> {
    let peer = LinkMessageBuilder::<LinkUnspec>::new()
        .name(wiring.ifname.to_owned())
        .mtu(wiring.mtu)
        .setns_by_fd(netns.raw_fd())
        .build();
    let pair = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(wiring.host_ifname.to_owned())
        .mtu(wiring.mtu)
        .up()
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .build();
    host.link()
        .add(pair)
        .execute()
        .await
        .map_err(|source| NetError::Request {
            what: format!(
                "creating veth {} <-> {} in {}",
                wiring.host_ifname,
                wiring.ifname,
                wiring.netns.display()
            ),
            source,
        })
}

async fn configure(host: &Handle, pod: &Handle, wiring: &PodWiring<'_>) -> Result<Wired, NetError> {
    let missing = |what: &str| NetError::Missing(format!("{what} vanished while wiring"));
    // The two namespaces' requests do not depend on each other: they go
    // out together, and so do the pod's four, which the kernel handles in
    // the order sent (the link up before routes through it, the link route
    // to the gateway before the default route via it). The pod end cannot
    // be created up: its peer is not attached yet when its flags apply.
    let pod_side = async {
        let pod_link = netlink::link_by_name(pod, wiring.ifname)
            .await?
            .ok_or_else(|| missing(wiring.ifname))?;
        let index = pod_link.header.index;
        let to_gateway = Route4 {
            dst: wiring.gateway,
            prefix: 32,
            gateway: None,
            oif: index,
            onlink: false,
        };
        let default = Route4 {
            dst: Ipv4Addr::UNSPECIFIED,
            prefix: 0,
            gateway: Some(wiring.gateway),
            oif: index,
            onlink: false,
        };
        futures::try_join!(
            netlink::set_up(pod, index),
            netlink::ensure_address(pod, index, wiring.address.into(), 32),
            netlink::replace_route(pod, &to_gateway),
            netlink::replace_route(pod, &default),
        )?;
        Ok::<_, NetError>(pod_link)
    };
    let host_side = async {
        let host_link = netlink::link_by_name(host, wiring.host_ifname)
            .await?
            .ok_or_else(|| missing(wiring.host_ifname))?;
        let to_pod = Route4 {
            dst: wiring.address,
            prefix: 32,
            gateway: None,
            oif: host_link.header.index,
            onlink: false,
        };
        netlink::replace_route(host, &to_pod).await?;
        Ok(host_link)
    };
    let (pod_link, host_link) = futures::try_join!(pod_side, host_side)?;
    Ok(Wired {
        host_mac: netlink::link_mac(&host_link).ok_or_else(|| missing("host MAC"))?,
        pod_mac: netlink::link_mac(&pod_link).ok_or_else(|| missing("pod MAC"))?,
    })
}

/// Removes the pod's wiring: the host end goes down now, which drops the
/// node's route to the pod, and a forked child deletes it, taking the pod
/// end with it (see the module doc); where no child can be forked, it is
/// deleted here. Call with no file lock held: the child inherits every
/// descriptor. Nothing there is fine: returns false.
pub async fn detach(host: &Handle, host_ifname: &str) -> Result<bool, NetError> {
    let Some(link) = netlink::link_by_name(host, host_ifname).await? else {
        return Ok(false);
    };
    let index = link.header.index;
    if !netlink::set_down(host, index).await? {
        return Ok(false);
    }
    if let Err(e) = crate::reaper::delete_detached(index) {
        eprintln!("strait-cni: deleting {host_ifname} in place: {e}");
        netlink::delete_link_index(host, index).await?;
    }
    Ok(true)
}

/// Whether the host-side veth exists.
pub async fn host_end_exists(host: &Handle, host_ifname: &str) -> Result<bool, NetError> {
    Ok(netlink::link_by_name(host, host_ifname).await?.is_some())
}

/// Reports the first part of the wiring that is missing or wrong.
pub async fn check(wiring: &PodWiring<'_>) -> Result<(), NetError> {
    let host = netlink::own_handle()?;
    let pod = Netns::open(wiring.netns)?.handle()?;
    let missing = NetError::Missing;
    let pod_link = netlink::link_by_name(&pod, wiring.ifname)
        .await?
        .ok_or_else(|| missing(format!("interface {} is missing in the pod", wiring.ifname)))?;
    let index = pod_link.header.index;
    let has_address = netlink::addresses(&pod, index)
        .await?
        .contains(&(wiring.address.into(), 32));
    if !has_address {
        return Err(missing(format!(
            "address {}/32 is missing on {}",
            wiring.address, wiring.ifname
        )));
    }
    let routes = netlink::routes4(&pod).await?;
    let default = routes
        .iter()
        .any(|r| r.prefix == 0 && r.gateway == Some(wiring.gateway) && r.oif == index);
    if !default {
        return Err(missing(format!(
            "the default route via {} is missing in the pod",
            wiring.gateway
        )));
    }
    let host_link = netlink::link_by_name(&host, wiring.host_ifname)
        .await?
        .ok_or_else(|| missing(format!("host interface {} is missing", wiring.host_ifname)))?;
    let routes = netlink::routes4(&host).await?;
    let to_pod = routes
        .iter()
        .any(|r| r.dst == wiring.address && r.prefix == 32 && r.oif == host_link.header.index);
    if !to_pod {
        return Err(missing(format!(
            "the node's route to {} via {} is missing",
            wiring.address, wiring.host_ifname
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_veth_names_are_stable_short_and_distinct() {
        let a = host_veth_name("abc123", "eth0");
        assert_eq!(a, host_veth_name("abc123", "eth0"));
        assert_eq!(a.len(), 15, "{a}");
        assert!(a.starts_with(HOST_VETH_PREFIX));
        assert_ne!(a, host_veth_name("abc123", "eth1"));
        assert_ne!(a, host_veth_name("abc124", "eth0"));
        // The separator keeps ("ab", "c") apart from ("a", "bc").
        assert_ne!(host_veth_name("ab", "c"), host_veth_name("a", "bc"));
        // Pinned: DEL in a newer release must find what ADD made.
        assert_eq!(host_veth_name("abc123", "eth0"), "strv2b5118d26ad");
    }
}
