//! eBPF host routing (`route_ingress`): the program's decisions under
//! BPF_PROG_TEST_RUN against a real FIB in a test netns, and the agent's
//! attachment keeping up with pod veths and the overlay device.

use strait_proxy_agent::host_routing::{HostRouting, Link, tunnel};
use strait_proxy_maps::route::{event, target};
use strait_tests::{Netns, leaks, names::Prefix, privileged};

/// Verdicts as the kernel reports them.
const TC_ACT_UNSPEC: i32 = -1;
const TC_ACT_REDIRECT: i32 = 7;

/// The node side of a test netns: `uplink` (not a target) towards 192.0.2.0/24
/// and a pod veth `strv...` with a /32 route to 10.244.1.5, both with a
/// permanent neighbour so the FIB lookup resolves MAC addresses.
struct Fib {
    netns: Netns,
    pod_veth: Link,
    uplink: Link,
}

const POD_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x05];
const POD_VETH_NAME: &str = "strv0000000test";

fn fib(prefix: &Prefix) -> Fib {
    let netns = Netns::create(&prefix.name("fib")).expect("netns");
    let ip = |args: &[&str]| {
        netns
            .ip(args)
            .unwrap_or_else(|e| panic!("ip {args:?}: {e}"));
    };
    ip(&[
        "link",
        "add",
        POD_VETH_NAME,
        "type",
        "veth",
        "peer",
        "name",
        "pod",
    ]);
    ip(&[
        "link", "add", "uplink", "type", "veth", "peer", "name", "far",
    ]);
    for dev in [POD_VETH_NAME, "pod", "uplink", "far"] {
        ip(&["link", "set", dev, "up"]);
    }
    ip(&["addr", "add", "192.0.2.1/24", "dev", "uplink"]);
    ip(&["link", "set", POD_VETH_NAME, "mtu", "1450"]);
    ip(&["route", "add", "10.244.1.5/32", "dev", POD_VETH_NAME]);
    ip(&[
        "neigh",
        "add",
        "10.244.1.5",
        "lladdr",
        "02:00:00:00:00:05",
        "dev",
        POD_VETH_NAME,
        "nud",
        "permanent",
    ]);
    ip(&[
        "neigh",
        "add",
        "192.0.2.9",
        "lladdr",
        "02:00:00:00:00:09",
        "dev",
        "uplink",
        "nud",
        "permanent",
    ]);
    netns
        .sysctl("net/ipv4/ip_forward", "1")
        .expect("forwarding on in the test netns");
    let index = |name: &str| -> u32 {
        // `ip -o link show dev X`: "12: X@peer: <...>".
        let out = netns
            .ip(&["-o", "link", "show", "dev", name])
            .expect("ifindex");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split(':')
            .next()
            .unwrap_or("")
            .trim()
            .parse()
            .expect("ifindex number")
    };
    let pod_veth = Link {
        index: index(POD_VETH_NAME),
        name: POD_VETH_NAME.to_owned(),
    };
    let uplink = Link {
        index: index("uplink"),
        name: "uplink".to_owned(),
    };
    Fib {
        netns,
        pod_veth,
        uplink,
    }
}

/// The devices of a test netns, by role.
#[derive(Clone)]
struct Links {
    pod_veth: Link,
    uplink: Link,
    /// The stand-in VXLAN device, when the netns was built with a tunnel.
    vx: Option<Link>,
}

/// Runs `body` inside a fresh test netns (see [`fib`], plus [`tunnel_fib`]
/// when `tunnel`), then checks that nothing leaked. Skipped unprivileged.
fn in_test_netns(test: &str, tunnel: bool, body: impl FnOnce(Links) + Send) {
    if !privileged(test) {
        return;
    }
    let prefix = Prefix::unique();
    {
        let (fib, vx) = if tunnel {
            let t = tunnel_fib(&prefix);
            (t.fib, Some(t.vx))
        } else {
            (fib(&prefix), None)
        };
        let links = Links {
            pod_veth: fib.pod_veth.clone(),
            uplink: fib.uplink.clone(),
            vx,
        };
        fib.netns
            .run(move || body(links))
            .expect("ran in the test netns");
    }
    assert_eq!(leaks::of(&prefix), vec![]);
}

/// Ethernet + IPv4 (TTL `ttl`, header checksum set) + UDP, src -> dst.
fn frame(src: [u8; 4], dst: [u8; 4], ttl: u8) -> Vec<u8> {
    let mut f = vec![
        0x0a, 0, 0, 0, 0, 0x01, 0x0a, 0, 0, 0, 0, 0x02, 0x08, 0x00, // Ethernet, IPv4
        0x45, 0, 0, 32, 0, 0, 0x40, 0, ttl, 17, 0, 0, // IPv4 header, UDP
    ];
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 12, 0, 0]);
    f.extend_from_slice(b"ping");
    let sum = ipv4_checksum(&f[14..34]);
    f[24..26].copy_from_slice(&sum.to_be_bytes());
    f
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn route_ingress_redirects_only_resolved_routes_to_targets() {
    in_test_netns(
        "route_ingress_redirects_only_resolved_routes_to_targets",
        false,
        |links| {
            let Links {
                pod_veth, uplink, ..
            } = links;
            let mut routing = HostRouting::load().expect("program loads and verifies");
            routing
                .set_target(pod_veth.index, target::POD)
                .expect("target set");

            // From the uplink to a pod with a resolved neighbour: redirected
            // into the pod, TTL one less, checksum still valid, MACs of the
            // next hop.
            let (verdict, out) = routing
                .test_run(&frame([192, 0, 2, 9], [10, 244, 1, 5], 64), uplink.index)
                .expect("test run");
            assert_eq!(verdict, TC_ACT_REDIRECT);
            assert_eq!(out[22], 63, "TTL decremented");
            assert_eq!(ipv4_checksum(&out[14..34]), 0, "header checksum valid");
            assert_eq!(out[0..6], POD_MAC, "destination MAC is the pod's");
            assert_ne!(out[6..12], [0x0a, 0, 0, 0, 0, 0x02], "source MAC rewritten");

            // TTL 1 would expire here: the stack answers with ICMP.
            let f = frame([192, 0, 2, 9], [10, 244, 1, 5], 1);
            let (verdict, out) = routing.test_run(&f, uplink.index).expect("test run");
            assert_eq!((verdict, out), (TC_ACT_UNSPEC, f));

            // To the uplink (not a target: masquerade and firewall apply).
            let f = frame([10, 244, 1, 5], [192, 0, 2, 9], 64);
            let (verdict, out) = routing.test_run(&f, pod_veth.index).expect("test run");
            assert_eq!((verdict, out), (TC_ACT_UNSPEC, f));

            // No route at all.
            let f = frame([192, 0, 2, 9], [198, 51, 100, 1], 64);
            let (verdict, _) = routing.test_run(&f, uplink.index).expect("test run");
            assert_eq!(verdict, TC_ACT_UNSPEC);

            // Not IPv4 (ARP), and IPv4 with options: untouched.
            let mut arp = frame([192, 0, 2, 9], [10, 244, 1, 5], 64);
            arp[12..14].copy_from_slice(&[0x08, 0x06]);
            let (verdict, _) = routing.test_run(&arp, uplink.index).expect("test run");
            assert_eq!(verdict, TC_ACT_UNSPEC);
            let mut options = frame([192, 0, 2, 9], [10, 244, 1, 5], 64);
            options[14] = 0x46;
            let (verdict, _) = routing.test_run(&options, uplink.index).expect("test run");
            assert_eq!(verdict, TC_ACT_UNSPEC);

            // Without the map entry the same packet goes to the stack.
            let mut unlisted = HostRouting::load().expect("program loads");
            unlisted
                .set_target(uplink.index, target::POD)
                .expect("target set");
            let f = frame([192, 0, 2, 9], [10, 244, 1, 5], 64);
            let (verdict, _) = unlisted.test_run(&f, uplink.index).expect("test run");
            assert_eq!(verdict, TC_ACT_UNSPEC);
        },
    );
}

#[test]
fn apply_attaches_to_pod_veths_and_the_overlay_device_only() {
    in_test_netns(
        "apply_attaches_to_pod_veths_and_the_overlay_device_only",
        false,
        |links| {
            let Links {
                pod_veth, uplink, ..
            } = links;
            let mut routing = HostRouting::load().expect("program loads");
            let links = [pod_veth.clone(), uplink.clone()];
            let done = routing.apply(&links, "strait-vxlan");
            assert_eq!(
                done.attach,
                vec![(pod_veth.index, pod_veth.name.clone(), target::POD)]
            );
            assert_eq!(
                routing.targets().expect("map readable"),
                [(pod_veth.index, target::POD)].into_iter().collect()
            );
            // Converged: nothing more to do.
            assert!(routing.apply(&links, "strait-vxlan").is_empty());
            // The veth is gone: detached and out of the map.
            let done = routing.apply(std::slice::from_ref(&uplink), "strait-vxlan");
            assert_eq!(done.detach, vec![pod_veth.index]);
            assert!(routing.targets().expect("map readable").is_empty());
        },
    );
}

/// A test netns for the tunnel: `uplink` holds this node's address
/// 192.0.2.11 towards a peer node 192.0.2.12 (permanent neighbour), a
/// veth `vx` stands in for the VXLAN device with the flannel-style route
/// to the peer's pod CIDR, and a pod veth leads to pod 10.244.1.5.
struct TunnelFib {
    fib: Fib,
    vx: Link,
}

const PEER_VTEP_MAC: [u8; 6] = [0x0a, 0x58, 0xac, 0x1e, 0, 0x0c];
const PEER_NODE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x12];

fn tunnel_fib(prefix: &Prefix) -> TunnelFib {
    let fib = fib(prefix);
    let netns = &fib.netns;
    let ip = |args: &[&str]| {
        netns
            .ip(args)
            .unwrap_or_else(|e| panic!("ip {args:?}: {e}"));
    };
    ip(&["addr", "add", "192.0.2.11/24", "dev", "uplink"]);
    ip(&[
        "neigh",
        "add",
        "192.0.2.12",
        "lladdr",
        "02:00:00:00:00:12",
        "dev",
        "uplink",
        "nud",
        "permanent",
    ]);
    // No dummy driver here: a veth stands in for the VXLAN device.
    ip(&[
        "link", "add", "vx", "type", "veth", "peer", "name", "vxpeer",
    ]);
    ip(&["link", "set", "vx", "up"]);
    ip(&["link", "set", "vxpeer", "up"]);
    ip(&[
        "route",
        "add",
        "10.244.2.0/24",
        "via",
        "10.244.2.0",
        "dev",
        "vx",
        "onlink",
    ]);
    ip(&[
        "neigh",
        "add",
        "10.244.2.0",
        "lladdr",
        "0a:58:ac:1e:00:0c",
        "dev",
        "vx",
        "nud",
        "permanent",
    ]);
    let out = netns.ip(&["-o", "link", "show", "dev", "vx"]).expect("vx");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let index = text
        .split(':')
        .next()
        .unwrap_or("")
        .trim()
        .parse()
        .expect("ifindex number");
    TunnelFib {
        fib,
        vx: Link {
            index,
            name: "vx".to_owned(),
        },
    }
}

#[test]
fn route_ingress_encapsulates_and_uplink_ingress_decapsulates() {
    in_test_netns(
        "route_ingress_encapsulates_and_uplink_ingress_decapsulates",
        true,
        |links| {
            let Links {
                pod_veth,
                uplink,
                vx,
            } = links;
            let vx = vx.expect("tunnel netns");
            let mut routing = HostRouting::load().expect("programs load and verify");
            routing
                .set_target(vx.index, target::OVERLAY)
                .expect("target");
            routing
                .set_target(pod_veth.index, target::POD)
                .expect("target");
            let peer_node = std::net::Ipv4Addr::new(192, 0, 2, 12);
            let sent = frame([10, 244, 1, 5], [10, 244, 2, 7], 64);

            // Without tunnel settings the overlay device gets the packet.
            let (verdict, out) = routing.test_run(&sent, pod_veth.index).expect("test run");
            assert_eq!(verdict, TC_ACT_REDIRECT);
            assert_eq!(out.len(), sent.len(), "not encapsulated without settings");

            routing
                .set_tunnel(Some(tunnel(
                    vx.index,
                    (7, 8472, std::net::Ipv4Addr::new(192, 0, 2, 11)),
                    (uplink.index, "uplink"),
                    [(PEER_VTEP_MAC, peer_node), ([0; 6], peer_node)],
                )))
                .expect("tunnel programmed, uplink program attached");
            let (verdict, wire) = routing.test_run(&sent, pod_veth.index).expect("test run");
            assert_eq!(verdict, TC_ACT_REDIRECT);
            assert_eq!(wire.len(), sent.len() + 50, "VXLAN adds 50 bytes");
            // Outer Ethernet: to the peer node's MAC, IPv4.
            assert_eq!(wire[0..6], PEER_NODE_MAC);
            assert_eq!(wire[12..14], [0x08, 0x00]);
            // Outer IPv4: 192.0.2.11 -> 192.0.2.12, UDP, DF, TTL 64,
            // length and checksum right.
            let outer = &wire[14..34];
            assert_eq!(outer[0], 0x45);
            assert_eq!(
                u16::from_be_bytes([outer[2], outer[3]]) as usize,
                wire.len() - 14
            );
            assert_eq!(outer[6] & 0x40, 0x40, "DF");
            assert_eq!((outer[8], outer[9]), (64, 17));
            assert_eq!(outer[12..16], [192, 0, 2, 11]);
            assert_eq!(outer[16..20], [192, 0, 2, 12]);
            assert_eq!(ipv4_checksum(outer), 0, "outer checksum valid");
            // UDP to 8472 from the ephemeral range, checksum 0; VXLAN
            // with the I flag and VNI 7.
            let udp = &wire[34..42];
            let source = u16::from_be_bytes([udp[0], udp[1]]);
            assert!((32768..61000).contains(&source), "source port {source}");
            assert_eq!(u16::from_be_bytes([udp[2], udp[3]]), 8472);
            assert_eq!(
                u16::from_be_bytes([udp[4], udp[5]]) as usize,
                wire.len() - 34
            );
            assert_eq!(udp[6..8], [0, 0]);
            assert_eq!(wire[42..50], [0x08, 0, 0, 0, 0, 0, 7, 0]);
            // Inner Ethernet to the peer's VTEP, inner IPv4 forwarded.
            assert_eq!(wire[50..56], PEER_VTEP_MAC);
            assert_eq!(wire[62..64], [0x08, 0x00]);
            let inner = &wire[64..84];
            assert_eq!(inner[8], 63, "inner TTL decremented once");
            assert_eq!(ipv4_checksum(inner), 0, "inner checksum valid");
            assert_eq!(wire[84..], sent[34..], "payload untouched");

            // An unknown peer VTEP: left to the VXLAN device.
            routing
                .set_tunnel(Some(tunnel(
                    vx.index,
                    (7, 8472, std::net::Ipv4Addr::new(192, 0, 2, 11)),
                    (uplink.index, "uplink"),
                    [],
                )))
                .expect("peers removed");
            let (verdict, out) = routing.test_run(&sent, pod_veth.index).expect("test run");
            assert_eq!((verdict, out.len()), (TC_ACT_REDIRECT, sent.len()));

            // The receiving side: a node whose address is the outer
            // destination unwraps a packet for its pod 10.244.1.5.
            routing
                .set_tunnel(Some(tunnel(
                    vx.index,
                    (7, 8472, peer_node),
                    (uplink.index, "uplink"),
                    [],
                )))
                .expect("tunnel reprogrammed");
            let mut arriving = wire.clone();
            // Inner destination: the local pod (fix the inner checksum).
            arriving[64 + 16..64 + 20].copy_from_slice(&[10, 244, 1, 5]);
            arriving[64 + 12..64 + 16].copy_from_slice(&[10, 244, 2, 7]);
            arriving[64 + 10..64 + 12].copy_from_slice(&[0, 0]);
            let sum = ipv4_checksum(&arriving[64..84]);
            arriving[64 + 10..64 + 12].copy_from_slice(&sum.to_be_bytes());
            let (verdict, delivered) = routing
                .test_run_uplink(&arriving, uplink.index)
                .expect("test run");
            assert_eq!(verdict, TC_ACT_REDIRECT);
            assert_eq!(delivered.len(), sent.len(), "50 bytes of tunnel removed");
            assert_eq!(delivered[0..6], POD_MAC, "to the pod's MAC");
            assert_eq!(delivered[12..14], [0x08, 0x00]);
            assert_eq!(delivered[14 + 8], 62, "TTL decremented again");
            assert_eq!(ipv4_checksum(&delivered[14..34]), 0);
            assert_eq!(delivered[34..], sent[34..]);

            // A full-size packet that is not GSO: the tunnel's 50 bytes
            // do not count against the pod veth's MTU (1450 here).
            let mut big = frame([10, 244, 2, 7], [10, 244, 1, 5], 64);
            big.resize(14 + 1450, 0x5a);
            big[16..18].copy_from_slice(&1450u16.to_be_bytes());
            big[24..26].copy_from_slice(&[0, 0]);
            let sum = ipv4_checksum(&big[14..34]);
            big[24..26].copy_from_slice(&sum.to_be_bytes());
            let mut big_wire = arriving[..64].to_vec();
            big_wire.extend_from_slice(&big[14..]);
            let outer_len = (big_wire.len() - 14) as u16;
            big_wire[16..18].copy_from_slice(&outer_len.to_be_bytes());
            let (verdict, delivered) = routing
                .test_run_uplink(&big_wire, uplink.index)
                .expect("test run");
            assert_eq!(
                verdict, TC_ACT_REDIRECT,
                "a 1450-byte inner packet fits the pod"
            );
            assert_eq!(delivered.len(), 14 + 1450);
            // One byte more does not: left to the stack, which answers
            // with ICMP "fragmentation needed".
            let mut too_big = big_wire.clone();
            too_big.push(0);
            too_big[16..18].copy_from_slice(&(outer_len + 1).to_be_bytes());
            too_big[64 + 2..64 + 4].copy_from_slice(&1451u16.to_be_bytes());
            let (verdict, _) = routing
                .test_run_uplink(&too_big, uplink.index)
                .expect("test run");
            assert_eq!(verdict, TC_ACT_UNSPEC);
            assert!(routing.events().expect("counters")[event::DECAPSULATED as usize] >= 2);

            // Not ours: another VNI, another port, another destination,
            // or a plain packet: all untouched.
            let mut other_vni = arriving.clone();
            other_vni[48] = 8;
            let mut other_port = arriving.clone();
            other_port[36..38].copy_from_slice(&4789u16.to_be_bytes());
            let plain = frame([192, 0, 2, 9], [192, 0, 2, 12], 64);
            for (what, f) in [("vni", other_vni), ("port", other_port), ("plain", plain)] {
                let (verdict, out) = routing.test_run_uplink(&f, uplink.index).expect("test run");
                assert_eq!((verdict, &out), (TC_ACT_UNSPEC, &f), "{what}");
            }
            // Back to the kernel's VXLAN device: nothing is unwrapped.
            routing.set_tunnel(None).expect("tunnel off");
            let (verdict, out) = routing
                .test_run_uplink(&arriving, uplink.index)
                .expect("test run");
            assert_eq!((verdict, out), (TC_ACT_UNSPEC, arriving));
        },
    );
}
