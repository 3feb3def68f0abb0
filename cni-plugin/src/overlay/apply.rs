//! The overlay's I/O: creating the VXLAN device idempotently, reading the
//! routes, neighbour and FDB entries it holds, and carrying out a
//! [`Plan`](super::Plan) through netlink.

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt as _;
use rtnetlink::{
    Handle, LinkVxlan,
    packet_route::{
        AddressFamily,
        link::{InfoData, InfoVxlan, LinkAttribute, LinkInfo, LinkMessage},
        neighbour::{
            NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
        },
    },
};

use super::{
    Current, Desired, Fdb, Neighbour, OverlayConfig, PeerRoute, Plan, VXLAN_OVERHEAD, plan,
};
use crate::netlink::{self, NetError, Route4};

/// A VXLAN device's VNI, UDP port and local address, as far as it has them.
pub fn vxlan_settings(link: &LinkMessage) -> (Option<u32>, Option<u16>, Option<Ipv4Addr>) {
    let mut out = (None, None, None);
    for attribute in &link.attributes {
        let LinkAttribute::LinkInfo(infos) = attribute else {
            continue;
        };
        for info in infos {
            if let LinkInfo::Data(InfoData::Vxlan(data)) = info {
                for item in data {
                    match item {
                        InfoVxlan::Id(id) => out.0 = Some(*id),
                        InfoVxlan::Port(port) => out.1 = Some(*port),
                        InfoVxlan::Local(ip) => out.2 = Some(*ip),
                        _ => {}
                    }
                }
            }
        }
    }
    out
}

/// Creates (or keeps) the VXLAN device for `config`, sourced from
/// `node_ip`, with the local VTEP's MAC and address, and returns its index.
/// A device of that name with other settings is replaced.
pub async fn ensure_device(
    handle: &Handle,
    config: &OverlayConfig,
    node_ip: Ipv4Addr,
    desired: &Desired,
) -> Result<u32, NetError> {
    let mtu = config.underlay_mtu.saturating_sub(VXLAN_OVERHEAD);
    let existing = netlink::link_by_name(handle, &config.device).await?;
    let keep = existing.as_ref().is_some_and(|link| {
        vxlan_settings(link) == (Some(config.vni), Some(config.port), Some(node_ip))
            && desired
                .local
                .is_none_or(|(_, mac)| netlink::link_mac(link) == Some(mac))
    });
    let link = match existing {
        Some(link) if keep => link,
        stale => {
            if stale.is_some() {
                netlink::delete_link(handle, &config.device).await?;
            }
            let mut builder = LinkVxlan::new(&config.device, config.vni)
                .port(config.port)
                .local(node_ip)
                .learning(false)
                .mtu(mtu)
                .up();
            if let Some((_, mac)) = desired.local {
                builder = builder.address(mac.to_vec());
            }
            match handle.link().add(builder.build()).execute().await {
                Ok(()) => {}
                Err(e) if netlink::errno(&e) == Some(libc::EEXIST) => {}
                Err(source) => {
                    return Err(NetError::Request {
                        what: format!("creating VXLAN device {}", config.device),
                        source,
                    });
                }
            }
            netlink::link_by_name(handle, &config.device)
                .await?
                .ok_or_else(|| NetError::Missing(format!("{} vanished", config.device)))?
        }
    };
    let index = link.header.index;
    if let Some((vtep, _)) = desired.local {
        netlink::ensure_address(handle, index, vtep.into(), 32).await?;
    }
    netlink::set_up(handle, index).await?;
    Ok(index)
}

fn neighbour_dst(message: &NeighbourMessage) -> Option<Ipv4Addr> {
    message.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => Some(*ip),
        // FDB entries (AF_BRIDGE) carry the remote as raw bytes.
        NeighbourAttribute::Destination(NeighbourAddress::Other(bytes)) => {
            <[u8; 4]>::try_from(bytes.as_slice())
                .ok()
                .map(Ipv4Addr::from)
        }
        _ => None,
    })
}

fn neighbour_mac(message: &NeighbourMessage) -> Option<[u8; 6]> {
    message.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::LinkLayerAddress(mac) => mac.as_slice().try_into().ok(),
        _ => None,
    })
}

async fn neighbours(
    handle: &Handle,
    family: AddressFamily,
    index: u32,
) -> Result<Vec<NeighbourMessage>, NetError> {
    let all: Vec<NeighbourMessage> = handle
        .neighbours()
        .get()
        .set_address_family(family)
        .execute()
        .try_collect()
        .await
        .map_err(|source| NetError::Request {
            what: "listing neighbours".into(),
            source,
        })?;
    Ok(all
        .into_iter()
        .filter(|m| m.header.ifindex == index && m.header.state == NeighbourState::Permanent)
        .collect())
}

/// What the device at `index` holds now.
pub async fn read(handle: &Handle, index: u32) -> Result<Current, NetError> {
    let routes = netlink::routes4(handle)
        .await?
        .into_iter()
        .filter(|r| r.oif == index)
        .filter_map(|r| {
            Some(PeerRoute {
                pod_cidr: ipnet::Ipv4Net::new(r.dst, r.prefix).ok()?,
                via: r.gateway?,
            })
        })
        .collect();
    let neighbour_entries = neighbours(handle, AddressFamily::Inet, index)
        .await?
        .iter()
        .filter_map(|m| {
            Some(Neighbour {
                ip: neighbour_dst(m)?,
                mac: neighbour_mac(m)?,
            })
        })
        .collect();
    let fdb = neighbours(handle, AddressFamily::Bridge, index)
        .await?
        .iter()
        .filter_map(|m| {
            Some(Fdb {
                mac: neighbour_mac(m).filter(|mac| *mac != [0; 6])?,
                dst: neighbour_dst(m)?,
            })
        })
        .collect();
    Ok(Current {
        routes,
        neighbours: neighbour_entries,
        fdb,
    })
}

fn route(r: &PeerRoute, index: u32) -> Route4 {
    Route4 {
        dst: r.pod_cidr.network(),
        prefix: r.pod_cidr.prefix_len(),
        gateway: Some(r.via),
        oif: index,
        onlink: true,
    }
}

fn fdb_message(f: &Fdb, index: u32) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.header.ifindex = index;
    message.header.state = NeighbourState::Permanent;
    message.header.flags = NeighbourFlags::Own;
    message
        .attributes
        .push(NeighbourAttribute::LinkLayerAddress(f.mac.to_vec()));
    message
        .attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(
            f.dst,
        )));
    message
}

fn neighbour_message(n: &Neighbour, index: u32) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Inet;
    message.header.ifindex = index;
    message.header.state = NeighbourState::Permanent;
    message
        .attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(
            n.ip,
        )));
    message
}

fn failed(what: String) -> impl FnOnce(rtnetlink::Error) -> NetError {
    move |source| NetError::Request { what, source }
}

/// Carries out `plan` on the device at `index`: additions first (FDB, then
/// neighbours, then routes, so a route never points at an unresolved hop),
/// then removals in the reverse order.
pub async fn execute(handle: &Handle, index: u32, plan: &Plan) -> Result<(), NetError> {
    for f in &plan.add_fdb {
        handle
            .neighbours()
            .add_bridge(index, &f.mac)
            .flags(NeighbourFlags::Own)
            .destination(IpAddr::V4(f.dst))
            .replace()
            .execute()
            .await
            .map_err(failed(format!("adding FDB entry {f:?}")))?;
    }
    for n in &plan.add_neighbours {
        handle
            .neighbours()
            .add(index, IpAddr::V4(n.ip))
            .link_layer_address(&n.mac)
            .state(NeighbourState::Permanent)
            .replace()
            .execute()
            .await
            .map_err(failed(format!("adding neighbour {n:?}")))?;
    }
    for r in &plan.add_routes {
        netlink::replace_route(handle, &route(r, index)).await?;
    }
    for r in &plan.remove_routes {
        netlink::delete_route(handle, &route(r, index)).await?;
    }
    for n in &plan.remove_neighbours {
        ignore_missing(
            handle
                .neighbours()
                .del(neighbour_message(n, index))
                .execute()
                .await,
        )
        .map_err(failed(format!("removing neighbour {n:?}")))?;
    }
    for f in &plan.remove_fdb {
        ignore_missing(
            handle
                .neighbours()
                .del(fdb_message(f, index))
                .execute()
                .await,
        )
        .map_err(failed(format!("removing FDB entry {f:?}")))?;
    }
    Ok(())
}

fn ignore_missing(result: Result<(), rtnetlink::Error>) -> Result<(), rtnetlink::Error> {
    match result {
        Err(e) if matches!(netlink::errno(&e), Some(libc::ENOENT | libc::ESRCH)) => Ok(()),
        other => other,
    }
}

/// Brings the node's overlay to `desired`: the device, then exactly the
/// desired entries. Returns what it changed.
pub async fn reconcile(
    handle: &Handle,
    config: &OverlayConfig,
    node_ip: Ipv4Addr,
    desired: &Desired,
) -> Result<Plan, NetError> {
    let index = ensure_device(handle, config, node_ip, desired).await?;
    let current = read(handle, index).await?;
    let plan = plan(desired, &current);
    if !plan.is_empty() {
        execute(handle, index, &plan).await?;
    }
    Ok(plan)
}
