//! eBPF host routing: keeps the `route_ingress` program attached to every
//! pod's host-side veth and to the VXLAN device, and its `ROUTE_TARGETS`
//! map listing exactly those devices.
//!
//! The program forwards pod traffic by a FIB lookup and a redirect instead
//! of a pass through the node's IP stack (see `proxy-ebpf/src/route.rs`).
//! It is an accelerator only: a device it is not attached to, or a moment
//! without the agent (the links die with the process, nothing is pinned),
//! leaves traffic on the ordinary routed path, which carries the same
//! packets to the same places.
//!
//! With the VXLAN device's settings and its FDB (kept by the overlay loop)
//! the programs also do the tunnelling themselves: `route_ingress`
//! encapsulates pod traffic for other nodes and transmits it on the uplink,
//! and `uplink_ingress`, on the uplink, decapsulates packets for local pods.
//! The wire format is the device's; either end may be the kernel's.
//!
//! The pure part ([`target_kind`], [`plan`], [`tunnel_plan`]) decides from
//! lists of links and FDB entries; [`HostRouting`] applies that to the
//! kernel; [`run`] follows link and neighbour events.

use std::{collections::BTreeMap, time::Duration};

use aya::{
    Ebpf,
    maps::HashMap as BpfHashMap,
    programs::{SchedClassifier, TcAttachType, TestRun, TestRunOptions, tc::SchedClassifierLinkId},
};
use futures::StreamExt as _;
use rtnetlink::{
    MulticastGroup,
    packet_core::NetlinkPayload,
    packet_route::{RouteNetlinkMessage, link::LinkMessage},
};
use strait_cni::{netlink, overlay::apply as overlay_apply, podnet::HOST_VETH_PREFIX};
use strait_proxy_maps::{
    names::{OVERLAY, OVERLAY_PEERS, ROUTE_EVENTS, ROUTE_TARGETS},
    programs::{ROUTE_INGRESS, UPLINK_INGRESS},
    route::{OverlayTunnel, PeerKey, event, target},
};
use tokio_util::sync::CancellationToken;

use crate::object::{self, LoadError};

/// One network device as the planner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Its ifindex.
    pub index: u32,
    /// Its name.
    pub name: String,
}

/// What host routing does with a device named `name`: a
/// [`target`] kind, or `None` to leave it alone.
pub fn target_kind(name: &str, overlay_device: &str) -> Option<u32> {
    if name == overlay_device {
        Some(target::OVERLAY)
    } else if name.starts_with(HOST_VETH_PREFIX) {
        Some(target::POD)
    } else {
        None
    }
}

/// A device the program is attached to, as far as the plan is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attached {
    /// The device's name when it was attached.
    pub name: String,
    /// Its [`target`] kind.
    pub kind: u32,
}

/// The difference between what is attached and what should be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Devices to attach to: (ifindex, name, kind).
    pub attach: Vec<(u32, String, u32)>,
    /// ifindexes to forget (the device is gone, renamed or no longer ours).
    pub detach: Vec<u32>,
}

impl Plan {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.attach.is_empty() && self.detach.is_empty()
    }
}

/// Compares the attached set with the node's links. A device that kept its
/// index but changed name or kind is detached and attached again.
pub fn plan(attached: &BTreeMap<u32, Attached>, links: &[Link], overlay_device: &str) -> Plan {
    let wanted: BTreeMap<u32, Attached> = links
        .iter()
        .filter_map(|link| {
            let kind = target_kind(&link.name, overlay_device)?;
            Some((
                link.index,
                Attached {
                    name: link.name.clone(),
                    kind,
                },
            ))
        })
        .collect();
    let mut out = Plan::default();
    for (index, have) in attached {
        if wanted.get(index) != Some(have) {
            out.detach.push(*index);
        }
    }
    for (index, want) in wanted {
        if attached.get(&index) != Some(&want) {
            out.attach.push((index, want.name, want.kind));
        }
    }
    out
}

/// The tunnel as the programs should do it: the `OVERLAY` value, the
/// uplink to attach `uplink_ingress` to, and the `OVERLAY_PEERS` entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tunnel {
    /// The `OVERLAY` value.
    pub settings: OverlayTunnel,
    /// The uplink's name.
    pub uplink: String,
    /// Peer VTEP MAC to node IP (network byte order).
    pub peers: BTreeMap<PeerKey, [u8; 4]>,
}

/// The tunnel for a VXLAN device at `index` with `vni`, `port` and local
/// address `local`, sending through the uplink `(index, name)`, with FDB
/// entries `(peer MAC, peer node IP)`. All-zero MACs (flooding entries)
/// are skipped.
pub fn tunnel(
    index: u32,
    (vni, port, local): (u32, u16, std::net::Ipv4Addr),
    (uplink_index, uplink): (u32, &str),
    fdb: impl IntoIterator<Item = ([u8; 6], std::net::Ipv4Addr)>,
) -> Tunnel {
    Tunnel {
        settings: OverlayTunnel {
            ifindex: index,
            uplink_ifindex: uplink_index,
            local_ip: local.octets(),
            vni,
            port,
            pad: 0,
        },
        uplink: uplink.to_owned(),
        peers: fdb
            .into_iter()
            .filter(|(mac, _)| *mac != [0; 6])
            .map(|(mac, ip)| (PeerKey::new(mac), ip.octets()))
            .collect(),
    }
}

/// Changes to the `OVERLAY_PEERS` map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerPlan {
    /// Entries to write (new or changed).
    pub put: Vec<(PeerKey, [u8; 4])>,
    /// Keys to remove.
    pub remove: Vec<PeerKey>,
}

/// The difference between the peers in the map and the wanted ones.
pub fn peer_plan(have: &BTreeMap<PeerKey, [u8; 4]>, want: &BTreeMap<PeerKey, [u8; 4]>) -> PeerPlan {
    PeerPlan {
        put: want
            .iter()
            .filter(|(key, ip)| have.get(key) != Some(ip))
            .map(|(key, ip)| (*key, *ip))
            .collect(),
        remove: have
            .keys()
            .filter(|key| !want.contains_key(key))
            .copied()
            .collect(),
    }
}

/// Why host routing could not be set up or kept.
#[derive(Debug, thiserror::Error)]
pub enum HostRoutingError {
    /// The program or its map could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Netlink failed.
    #[error(transparent)]
    Net(#[from] netlink::NetError),
    /// The link-event subscription could not be opened.
    #[error("subscribing to link events: {0}")]
    Subscribe(std::io::Error),
}

struct Attachment {
    state: Attached,
    link: SchedClassifierLinkId,
}

/// The loaded program, its map, and the devices it is attached to. Dropping
/// it detaches everything.
pub struct HostRouting {
    ebpf: Ebpf,
    attached: BTreeMap<u32, Attachment>,
    /// The tunnel in the maps, and the uplink attachment (ifindex, link).
    tunnel: Option<(Tunnel, Option<(u32, SchedClassifierLinkId)>)>,
}

impl HostRouting {
    /// Loads and verifies the program without attaching it.
    pub fn load() -> Result<Self, LoadError> {
        let mut ebpf = object::load()?;
        object::classifier_mut(&mut ebpf, ROUTE_INGRESS)?
            .load()
            .map_err(LoadError::program(ROUTE_INGRESS))?;
        object::classifier_mut(&mut ebpf, UPLINK_INGRESS)?
            .load()
            .map_err(LoadError::program(UPLINK_INGRESS))?;
        Ok(HostRouting {
            ebpf,
            attached: BTreeMap::new(),
            tunnel: None,
        })
    }

    /// The attached devices, by ifindex.
    pub fn attached(&self) -> BTreeMap<u32, Attached> {
        self.attached
            .iter()
            .map(|(index, a)| (*index, a.state.clone()))
            .collect()
    }

    /// Makes the kernel match `links` (the node's devices, listed in the
    /// calling thread's network namespace). Returns what was done; a device
    /// that fails is logged and retried on the next call.
    pub fn apply(&mut self, links: &[Link], overlay_device: &str) -> Plan {
        let plan = plan(&self.attached(), links, overlay_device);
        let mut done = Plan::default();
        for index in &plan.detach {
            self.detach(*index);
            done.detach.push(*index);
        }
        for (index, name, kind) in plan.attach {
            match self.attach(index, &name, kind) {
                Ok(()) => done.attach.push((index, name, kind)),
                // The device went away between the listing and now: its
                // deletion event follows.
                Err(e) => tracing::debug!(device = %name, error = %e, "attaching host routing"),
            }
        }
        done
    }

    /// Makes the programs tunnel as `want` says, or leave tunnelling to the
    /// VXLAN device (`None`). The uplink program is attached on the first
    /// call that names an uplink and moved when the uplink changes.
    pub fn set_tunnel(&mut self, want: Option<Tunnel>) -> Result<(), LoadError> {
        let Some(want) = want else {
            // Stop tunnelling first, then forget peers and the uplink.
            self.overlay_mut()?
                .set(0, OverlayTunnel::default(), 0)
                .map_err(LoadError::map(OVERLAY))?;
            if let Some((have, uplink)) = self.tunnel.take() {
                if let Ok(mut peers) = self.peers_mut() {
                    for key in have.peers.keys() {
                        let _ = peers.remove(key);
                    }
                }
                if let Some((_, link)) = uplink {
                    self.release_uplink(link);
                }
            }
            return Ok(());
        };
        // Peers before settings, so the programs never see a tunnel
        // without the peers it should reach. A peer written here and not
        // recorded (an error below) is rewritten or removed by the next
        // call, which diffs against the recorded state.
        let empty = BTreeMap::new();
        let have_peers = self.tunnel.as_ref().map_or(&empty, |(t, _)| &t.peers);
        let plan = peer_plan(have_peers, &want.peers);
        {
            let mut peers = self.peers_mut()?;
            for (key, ip) in &plan.put {
                peers
                    .insert(*key, *ip, 0)
                    .map_err(LoadError::map(OVERLAY_PEERS))?;
            }
        }
        let uplink = self.tunnel.as_mut().and_then(|(_, uplink)| uplink.take());
        let uplink = match uplink {
            Some((index, link)) if index == want.settings.uplink_ifindex => (index, link),
            stale => {
                if let Some((_, link)) = stale {
                    self.release_uplink(link);
                }
                let link = object::classifier_mut(&mut self.ebpf, UPLINK_INGRESS)?
                    .attach(&want.uplink, TcAttachType::Ingress)
                    .map_err(LoadError::program(UPLINK_INGRESS))?;
                (want.settings.uplink_ifindex, link)
            }
        };
        // Recorded before the settings are written; should that fail, the
        // record says "no settings", which differs from any wanted tunnel,
        // so the next call tries again.
        let settings = want.settings;
        let mut record = want;
        record.settings = OverlayTunnel::default();
        self.tunnel = Some((record, Some(uplink)));
        self.overlay_mut()?
            .set(0, settings, 0)
            .map_err(LoadError::map(OVERLAY))?;
        if let Ok(mut peers) = self.peers_mut() {
            for key in &plan.remove {
                let _ = peers.remove(key);
            }
        }
        if let Some((record, _)) = self.tunnel.as_mut() {
            record.settings = settings;
        }
        Ok(())
    }

    /// The tunnel the programs use now, if any.
    pub fn tunnel(&self) -> Option<&Tunnel> {
        self.tunnel.as_ref().map(|(tunnel, _)| tunnel)
    }

    fn release_uplink(&mut self, link: SchedClassifierLinkId) {
        if let Ok(program) = object::classifier_mut(&mut self.ebpf, UPLINK_INGRESS) {
            let _ = program.detach(link);
        }
    }

    fn overlay_mut(
        &mut self,
    ) -> Result<aya::maps::Array<&mut aya::maps::MapData, OverlayTunnel>, LoadError> {
        let map = self
            .ebpf
            .map_mut(OVERLAY)
            .ok_or(LoadError::MissingMap(OVERLAY))?;
        aya::maps::Array::try_from(map).map_err(LoadError::map(OVERLAY))
    }

    fn peers_mut(
        &mut self,
    ) -> Result<BpfHashMap<&mut aya::maps::MapData, PeerKey, [u8; 4]>, LoadError> {
        let map = self
            .ebpf
            .map_mut(OVERLAY_PEERS)
            .ok_or(LoadError::MissingMap(OVERLAY_PEERS))?;
        BpfHashMap::try_from(map).map_err(LoadError::map(OVERLAY_PEERS))
    }

    /// The `ROUTE_EVENTS` counters summed over every CPU, by
    /// [`strait_proxy_maps::route::event`] index.
    pub fn events(&self) -> Result<[u64; event::COUNT as usize], LoadError> {
        let map = self
            .ebpf
            .map(ROUTE_EVENTS)
            .ok_or(LoadError::MissingMap(ROUTE_EVENTS))?;
        let events_error = LoadError::map(ROUTE_EVENTS);
        let counters = aya::maps::PerCpuArray::<_, u64>::try_from(map).map_err(events_error)?;
        let mut sums = [0u64; event::COUNT as usize];
        for (index, sum) in (0u32..).zip(sums.iter_mut()) {
            let per_cpu = counters.get(&index, 0).map_err(events_error)?;
            *sum = per_cpu.iter().fold(0u64, |a, b| a.saturating_add(*b));
        }
        Ok(sums)
    }

    /// Lists the devices the program may deliver to, by its map.
    pub fn targets(&self) -> Result<BTreeMap<u32, u32>, LoadError> {
        let map = self
            .ebpf
            .map(ROUTE_TARGETS)
            .ok_or(LoadError::MissingMap(ROUTE_TARGETS))?;
        let map =
            BpfHashMap::<_, u32, u32>::try_from(map).map_err(LoadError::map(ROUTE_TARGETS))?;
        map.iter()
            .map(|entry| entry.map_err(LoadError::map(ROUTE_TARGETS)))
            .collect::<Result<_, _>>()
    }

    fn attach(&mut self, index: u32, name: &str, kind: u32) -> Result<(), LoadError> {
        let link = object::classifier_mut(&mut self.ebpf, ROUTE_INGRESS)?
            .attach(name, TcAttachType::Ingress)
            .map_err(LoadError::program(ROUTE_INGRESS))?;
        let inserted = self.targets_mut().and_then(|mut map| {
            map.insert(index, kind, 0)
                .map_err(LoadError::map(ROUTE_TARGETS))?;
            Ok(())
        });
        if let Err(e) = inserted {
            self.release(link);
            return Err(e);
        }
        self.attached.insert(
            index,
            Attachment {
                state: Attached {
                    name: name.to_owned(),
                    kind,
                },
                link,
            },
        );
        Ok(())
    }

    fn detach(&mut self, index: u32) {
        if let Ok(mut map) = self.targets_mut() {
            // Absent already is fine: the goal is its absence.
            let _ = map.remove(&index);
        }
        if let Some(attachment) = self.attached.remove(&index) {
            self.release(attachment.link);
        }
    }

    /// Detaches a link; a device already deleted took its attachment along.
    fn release(&mut self, link: SchedClassifierLinkId) {
        if let Ok(program) = object::classifier_mut(&mut self.ebpf, ROUTE_INGRESS) {
            let _ = program.detach(link);
        }
    }

    fn targets_mut(&mut self) -> Result<BpfHashMap<&mut aya::maps::MapData, u32, u32>, LoadError> {
        let map = self
            .ebpf
            .map_mut(ROUTE_TARGETS)
            .ok_or(LoadError::MissingMap(ROUTE_TARGETS))?;
        BpfHashMap::try_from(map).map_err(LoadError::map(ROUTE_TARGETS))
    }

    /// Sets the map directly: for BPF_PROG_TEST_RUN tests, which route by
    /// the kernel's FIB of the calling netns and need targets without
    /// attaching anything.
    pub fn set_target(&mut self, index: u32, kind: u32) -> Result<(), LoadError> {
        self.targets_mut()?
            .insert(index, kind, 0)
            .map_err(LoadError::map(ROUTE_TARGETS))
    }

    /// Runs the program once on `frame` (an Ethernet frame) through
    /// BPF_PROG_TEST_RUN as if it arrived on `ifindex`; returns the verdict
    /// and the frame as the program left it.
    pub fn test_run(&self, frame: &[u8], ifindex: u32) -> Result<(i32, Vec<u8>), LoadError> {
        self.test_run_program(ROUTE_INGRESS, frame, ifindex)
    }

    /// [`HostRouting::test_run`] for the uplink program.
    pub fn test_run_uplink(&self, frame: &[u8], ifindex: u32) -> Result<(i32, Vec<u8>), LoadError> {
        self.test_run_program(UPLINK_INGRESS, frame, ifindex)
    }

    fn test_run_program(
        &self,
        name: &'static str,
        frame: &[u8],
        ifindex: u32,
    ) -> Result<(i32, Vec<u8>), LoadError> {
        let program_error = LoadError::program(name);
        let program: &SchedClassifier = self
            .ebpf
            .program(name)
            .ok_or(LoadError::MissingProgram(name))?
            .try_into()
            .map_err(program_error)?;
        let mut out = vec![0u8; frame.len() + 256];
        let ctx = test_context(ifindex);
        let result = program
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                ctx_in: Some(ctx.as_slice()),
                ..TestRunOptions::default()
            })
            .map_err(program_error)?;
        out.truncate(result.data_size_out as usize);
        // The kernel returns the program's i32 verdict in a u32 field.
        Ok((result.return_value as i32, out))
    }
}

/// A `__sk_buff` context for BPF_PROG_TEST_RUN with `ingress_ifindex` set
/// (the kernel also makes the skb's device that ifindex). Only the fields
/// up to `ifindex` are given; the kernel zero-fills the rest.
fn test_context(ifindex: u32) -> Vec<u8> {
    // __sk_buff: len, pkt_type, mark, queue_mapping, protocol, vlan_present,
    // vlan_tci, vlan_proto, priority, ingress_ifindex, ifindex (u32 each).
    let mut fields = [0u32; 11];
    fields[9] = ifindex;
    fields[10] = ifindex;
    fields.iter().flat_map(|f| f.to_ne_bytes()).collect()
}

fn to_link(message: &LinkMessage) -> Option<Link> {
    Some(Link {
        index: message.header.index,
        name: netlink::link_name(message)?.to_owned(),
    })
}

/// The tunnel the overlay device describes now: `None` while there is no
/// device, or it lacks settings or an uplink holding its local address.
async fn current_tunnel(
    handle: &rtnetlink::Handle,
    overlay_device: &str,
) -> Result<Option<Tunnel>, netlink::NetError> {
    let Some(device) = netlink::link_by_name(handle, overlay_device).await? else {
        return Ok(None);
    };
    let (Some(vni), Some(port), Some(local)) = overlay_apply::vxlan_settings(&device) else {
        return Ok(None);
    };
    let Some(uplink) = netlink::link_of_address(handle, local.into()).await? else {
        return Ok(None);
    };
    let Some(uplink_name) = netlink::link_name(&uplink) else {
        return Ok(None);
    };
    let current = overlay_apply::read(handle, device.header.index).await?;
    Ok(Some(tunnel(
        device.header.index,
        (vni, port, local),
        (uplink.header.index, uplink_name),
        current.fdb.iter().map(|f| (f.mac, f.dst)),
    )))
}

/// Keeps host routing attached to the node's pod veths and `overlay_device`
/// until `shutdown`: on every link event, and every `resync` to repair
/// anything missed. Everything is detached when it returns.
pub async fn run(
    overlay_device: String,
    resync: Duration,
    shutdown: CancellationToken,
) -> Result<(), HostRoutingError> {
    let mut routing = HostRouting::load()?;
    // Subscribe before the first listing so no device slips between them.
    let (connection, _events_handle, mut events) =
        rtnetlink::new_multicast_connection(&[MulticastGroup::Link, MulticastGroup::Neigh])
            .map_err(HostRoutingError::Subscribe)?;
    let events_task = tokio::spawn(connection);
    let handle = netlink::own_handle()?;
    let mut tick = tokio::time::interval(resync);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            event = events.next() => match event {
                Some((message, _)) => {
                    if !matches!(
                        message.payload,
                        NetlinkPayload::InnerMessage(
                            RouteNetlinkMessage::NewLink(_)
                                | RouteNetlinkMessage::DelLink(_)
                                | RouteNetlinkMessage::NewNeighbour(_)
                                | RouteNetlinkMessage::DelNeighbour(_)
                        )
                    ) {
                        continue;
                    }
                    // Coalesce a burst (a pod start is several events).
                    while let Ok(Some(_)) =
                        tokio::time::timeout(Duration::from_millis(1), events.next()).await
                    {}
                }
                None => break Err(HostRoutingError::Subscribe(std::io::Error::other(
                    "the link-event socket closed",
                ))),
            },
            _ = tick.tick() => {}
        }
        let links = match netlink::links(&handle).await {
            Ok(links) => links.iter().filter_map(to_link).collect::<Vec<_>>(),
            Err(e) => {
                tracing::warn!(error = %e, "listing links for host routing");
                continue;
            }
        };
        let done = routing.apply(&links, &overlay_device);
        match current_tunnel(&handle, &overlay_device).await {
            Ok(want) if want.as_ref() != routing.tunnel() => {
                if let Err(e) = routing.set_tunnel(want) {
                    tracing::warn!(error = %e, "programming the tunnel");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reading the overlay for host routing"),
        }
        if !done.is_empty() {
            tracing::debug!(
                attached = done.attach.len(),
                detached = done.detach.len(),
                "host routing converged"
            );
        }
    };
    events_task.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, name: &str) -> Link {
        Link {
            index,
            name: name.to_owned(),
        }
    }

    fn attached(name: &str, kind: u32) -> Attached {
        Attached {
            name: name.to_owned(),
            kind,
        }
    }

    #[test]
    fn only_pod_veths_and_the_overlay_device_are_targets() {
        assert_eq!(
            target_kind("strait-vxlan", "strait-vxlan"),
            Some(target::OVERLAY)
        );
        assert_eq!(
            target_kind("strv0123456789a", "strait-vxlan"),
            Some(target::POD)
        );
        assert_eq!(target_kind("eth0", "strait-vxlan"), None);
        assert_eq!(target_kind("lo", "strait-vxlan"), None);
        // Another overlay name leaves the default one alone.
        assert_eq!(target_kind("strait-vxlan", "vx9"), None);
    }

    #[test]
    fn plan_attaches_new_devices_and_detaches_gone_ones() {
        let mut have = BTreeMap::new();
        have.insert(5, attached("strv00000000005", target::POD));
        have.insert(6, attached("strv00000000006", target::POD));
        let links = [
            link(1, "lo"),
            link(2, "eth0"),
            link(3, "strait-vxlan"),
            link(5, "strv00000000005"),
            link(7, "strv00000000007"),
        ];
        let plan = plan(&have, &links, "strait-vxlan");
        assert_eq!(plan.detach, vec![6]);
        assert_eq!(
            plan.attach,
            vec![
                (3, "strait-vxlan".to_owned(), target::OVERLAY),
                (7, "strv00000000007".to_owned(), target::POD),
            ]
        );
    }

    #[test]
    fn a_reused_index_is_detached_and_attached_again() {
        let mut have = BTreeMap::new();
        have.insert(5, attached("strv00000000005", target::POD));
        // Index 5 now belongs to another pod's veth.
        let plan1 = plan(&have, &[link(5, "strv0000000000b")], "strait-vxlan");
        assert_eq!(plan1.detach, vec![5]);
        assert_eq!(
            plan1.attach,
            vec![(5, "strv0000000000b".to_owned(), target::POD)]
        );
        // And to something that is not ours at all.
        let plan2 = plan(&have, &[link(5, "eth1")], "strait-vxlan");
        assert_eq!(plan2.detach, vec![5]);
        assert!(plan2.attach.is_empty());
    }

    #[test]
    fn a_converged_node_plans_nothing() {
        let mut have = BTreeMap::new();
        have.insert(3, attached("strait-vxlan", target::OVERLAY));
        have.insert(5, attached("strv00000000005", target::POD));
        let links = [
            link(3, "strait-vxlan"),
            link(5, "strv00000000005"),
            link(2, "eth0"),
        ];
        assert!(plan(&have, &links, "strait-vxlan").is_empty());
    }

    #[test]
    fn the_tunnel_maps_fdb_entries_and_skips_flooding_ones() {
        let peer = std::net::Ipv4Addr::new(172, 30, 0, 12);
        let t = tunnel(
            4,
            (1, 8472, std::net::Ipv4Addr::new(172, 30, 0, 11)),
            (2, "eth0"),
            [([0x0a, 0x58, 0xac, 0x1e, 0, 0x0c], peer), ([0; 6], peer)],
        );
        assert_eq!(t.settings.ifindex, 4);
        assert_eq!(t.settings.uplink_ifindex, 2);
        assert_eq!(t.settings.local_ip, [172, 30, 0, 11]);
        assert_eq!((t.settings.vni, t.settings.port), (1, 8472));
        assert_eq!(t.uplink, "eth0");
        assert_eq!(
            t.peers.into_iter().collect::<Vec<_>>(),
            vec![(
                PeerKey::new([0x0a, 0x58, 0xac, 0x1e, 0, 0x0c]),
                [172, 30, 0, 12]
            )]
        );
    }

    #[test]
    fn peer_plan_writes_new_and_changed_and_removes_gone() {
        let key = |last| PeerKey::new([2, 0, 0, 0, 0, last]);
        let have: BTreeMap<_, _> = [(key(1), [10, 0, 0, 1]), (key(2), [10, 0, 0, 2])].into();
        let want: BTreeMap<_, _> = [(key(2), [10, 0, 0, 9]), (key(3), [10, 0, 0, 3])].into();
        let plan = peer_plan(&have, &want);
        assert_eq!(
            plan.put,
            vec![(key(2), [10, 0, 0, 9]), (key(3), [10, 0, 0, 3])]
        );
        assert_eq!(plan.remove, vec![key(1)]);
        assert_eq!(peer_plan(&want, &want), PeerPlan::default());
    }
}
