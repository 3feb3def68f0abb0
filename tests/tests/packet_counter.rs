//! The eBPF toolchain end to end: the counter program built by aya-build from
//! proxy-ebpf loads, attaches through tcx to a veth inside a test netns, sees
//! real traffic, pins its map in the node's bpffs, and runs under
//! BPF_PROG_TEST_RUN.

use std::path::Path;

use strait_proxy_agent::PacketCounter;
use strait_proxy_maps::PacketCount;
use strait_tests::{Cluster, ClusterSpec, leaks, privileged};

/// The `TC_ACT_UNSPEC` verdict (tcx: next program, else pass) as the kernel
/// reports it.
const TC_ACT_UNSPEC: i32 = -1;

#[test]
fn counter_attached_to_a_node_veth_counts_real_traffic() {
    if !privileged("counter_attached_to_a_node_veth_counts_real_traffic") {
        return;
    }
    let cluster = Cluster::start(ClusterSpec::new(1)).expect("cluster starts");
    let prefix = cluster.prefix().clone();
    let node = cluster.node(1).expect("node");
    let external = cluster.external().expect("external client");

    // Attach inside the node's netns: "eth0" is resolved there, not on the host.
    let mut counter = node
        .netns()
        .run(|| {
            let mut counter = PacketCounter::load()?;
            counter.attach("eth0")?;
            Ok::<_, strait_proxy_agent::LoadError>(counter)
        })
        .expect("entered the node netns")
        .expect("counter loads and attaches");
    let pin = node.bpffs().join("packet_counts");
    counter
        .pin_counts(&pin)
        .expect("map pinned in the node's bpffs");
    assert!(pin.exists());

    // Quiet the link so only the pings below cross it: no IPv6 neighbour
    // discovery or MLD from either end, and ARP resolved beforehand.
    for netns in [node.netns(), external.netns()] {
        netns
            .sysctl("net/ipv6/conf/all/disable_ipv6", "1")
            .expect("IPv6 off in the test netns");
    }
    external.netns().ping(node.ip()).expect("external -> node");

    // The host's own interfaces saw nothing of this: the program is on the
    // node's eth0 only. Drive a known number of large packets at it. A few
    // small packets may cross the link too (an ARP refresh, IPv6 multicast
    // reports a fresh interface had already scheduled before IPv6 went
    // off), so the check is: at least every echo request, and whatever
    // else came along is a handful of small frames.
    let before = counter.read().expect("counter readable");
    const PINGS: u64 = 20;
    // 1000 bytes of data: 14 Ethernet + 20 IP + 8 ICMP + 1000 = 1042.
    const FRAME: u64 = 1042;
    external
        .exec(&[
            "ping",
            "-n",
            "-q",
            "-c",
            &PINGS.to_string(),
            "-s",
            "1000",
            "-i",
            "0.01",
            "-W",
            "2",
            &node.ip().to_string(),
        ])
        .expect("pings pass through the attached program");
    let after = counter.read().expect("counter readable");

    let seen = PacketCount {
        packets: after.packets - before.packets,
        bytes: after.bytes - before.bytes,
    };
    let extra_packets = seen.packets.saturating_sub(PINGS);
    let extra_bytes = seen.bytes.saturating_sub(PINGS * FRAME);
    assert!(
        seen.packets >= PINGS && seen.bytes >= PINGS * FRAME,
        "expected at least {PINGS} frames of {FRAME} bytes, counted {seen:?}"
    );
    assert!(
        extra_packets <= 8 && extra_bytes <= extra_packets * 200,
        "more than the pings and a few small frames: {seen:?}"
    );

    // Traffic the node sends is not ingress: its own pings out don't count,
    // while the echo replies coming back do.
    let before = counter.read().expect("counter readable");
    node.netns().ping(external.ip()).expect("node -> external");
    let after = counter.read().expect("counter readable");
    assert!(
        (1..=3).contains(&(after.packets - before.packets)),
        "{before:?} {after:?}"
    );

    drop(counter);
    drop(cluster);
    assert!(!Path::new(&pin).exists(), "the pin went with the node");
    assert_eq!(leaks::of(&prefix), vec![]);
}

#[test]
fn counter_runs_under_bpf_prog_test_run() {
    if !privileged("counter_runs_under_bpf_prog_test_run") {
        return;
    }
    let counter = PacketCounter::load().expect("counter loads");
    // A minimal Ethernet + IPv4 + UDP frame, 14 + 20 + 8 + 4 bytes.
    let mut frame = vec![
        0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00, // Ethernet, IPv4
        0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 17, 0, 0, // IPv4 header, UDP
        10, 0, 0, 1, 10, 0, 0, 2, // src, dst
        0x30, 0x39, 0x00, 0x35, 0, 12, 0, 0, // UDP 12345 -> 53
    ];
    frame.extend_from_slice(b"ping");

    for _ in 0..3 {
        let verdict = counter.test_run(&frame).expect("BPF_PROG_TEST_RUN");
        assert_eq!(
            verdict, TC_ACT_UNSPEC,
            "the counter never decides a packet's fate"
        );
    }
    assert_eq!(
        counter.read().expect("counter readable"),
        PacketCount {
            packets: 3,
            bytes: 3 * frame.len() as u64
        }
    );
}
