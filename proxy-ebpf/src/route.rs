//! eBPF host routing: forwards pod traffic with a FIB lookup and a redirect
//! instead of a pass through the node's IP stack, and does the VXLAN
//! tunnelling itself.
//!
//! `route_ingress` sits at TC ingress of every pod's host-side veth and of
//! the VXLAN device. A packet whose route leads to a device in
//! `ROUTE_TARGETS` gets its TTL decremented and its Ethernet header
//! rewritten as the forwarding path would, and goes straight there: into a
//! local pod's netns (`bpf_redirect_peer`), or, towards another node, wrapped
//! in VXLAN here and sent out of the uplink (or handed to the VXLAN device
//! when the tunnel is not programmed).
//!
//! `uplink_ingress` sits at TC ingress of the node's uplink and unwraps this
//! node's VXLAN packets for local pods, delivering them into the pod.
//!
//! Everything else (other protocols, IP options, routes elsewhere, a
//! neighbour not yet resolved, TTL about to expire, headers outside the
//! linear data) is left to the stack, so the programs only ever make the
//! common case faster.
//!
//! Headers are read and written in place (direct packet access) after
//! bounds checks the verifier follows; only the length-changing step goes
//! through a helper (`bpf_skb_adjust_room`).

use core::mem;

use aya_ebpf::{
    bindings::{
        BPF_ADJ_ROOM_ENCAP_L2_SHIFT, BPF_F_ADJ_ROOM_ENCAP_L2_ETH, BPF_F_ADJ_ROOM_ENCAP_L3_IPV4,
        BPF_F_ADJ_ROOM_ENCAP_L4_UDP, BPF_F_ADJ_ROOM_FIXED_GSO, BPF_FIB_LKUP_RET_SUCCESS,
        TC_ACT_SHOT, TC_ACT_UNSPEC, bpf_adj_room_mode::BPF_ADJ_ROOM_MAC,
        bpf_fib_lookup as FibParams,
    },
    helpers::generated::{bpf_fib_lookup, bpf_get_hash_recalc, bpf_redirect, bpf_redirect_peer},
    macros::{classifier, map},
    maps::{Array, HashMap, PerCpuArray},
    programs::TcContext,
};
use strait_proxy_maps::route::{
    OVERLAY_PEERS_MAX_ENTRIES, OverlayTunnel, PeerKey, ROUTE_TARGETS_MAX_ENTRIES, event, target,
};

/// ifindex of a device host routing may deliver to, to its kind.
#[map(name = "ROUTE_TARGETS")]
static ROUTE_TARGETS: HashMap<u32, u32> = HashMap::with_max_entries(ROUTE_TARGETS_MAX_ENTRIES, 0);

/// The node's tunnel, for encapsulating and decapsulating here.
#[map(name = "OVERLAY")]
static OVERLAY: Array<OverlayTunnel> = Array::with_max_entries(1, 0);

/// Peer VTEP MAC to the peer's node IP (network byte order).
#[map(name = "OVERLAY_PEERS")]
static OVERLAY_PEERS: HashMap<PeerKey, [u8; 4]> =
    HashMap::with_max_entries(OVERLAY_PEERS_MAX_ENTRIES, 0);

/// Per-CPU counters of what the programs did, by `event::*` index.
#[map(name = "ROUTE_EVENTS")]
static ROUTE_EVENTS: PerCpuArray<u64> = PerCpuArray::with_max_entries(event::COUNT, 0);

#[inline(always)]
fn count(index: u32) {
    if let Some(slot) = ROUTE_EVENTS.get_ptr_mut(index) {
        // SAFETY: this CPU's slot; BPF programs run with preemption off.
        unsafe { *slot = (*slot).wrapping_add(1) };
    }
}

const ETH_HLEN: usize = 14;
const ETH_P_IP: u16 = 0x0800;
const AF_INET: u8 = 2;
const IPPROTO_UDP: u8 = 17;
/// Outer IPv4 + UDP + VXLAN + inner Ethernet: what encapsulation adds
/// after the (reused) outer Ethernet header.
const ENCAP_LEN: usize = 20 + 8 + 8 + ETH_HLEN;
/// The VXLAN header's "VNI valid" flag, in its first byte.
const VXLAN_FLAG_VNI: u8 = 0x08;
/// The kernel's default range for tunnel source ports (flow entropy).
const SOURCE_PORT_MIN: u32 = 32768;
const SOURCE_PORT_MAX: u32 = 61000;

/// An Ethernet header followed by an IPv4 header without options.
#[repr(C, packed)]
#[derive(Clone, Copy)]
struct EthIpv4 {
    eth_dst: [u8; 6],
    eth_src: [u8; 6],
    eth_type: u16,
    version_ihl: u8,
    tos: u8,
    tot_len: u16,
    id: u16,
    frag_off: u16,
    ttl: u8,
    protocol: u8,
    check: u16,
    saddr: [u8; 4],
    daddr: [u8; 4],
}

/// Everything in front of the inner IP header of a VXLAN packet.
#[repr(C, packed)]
#[derive(Clone, Copy)]
struct Encap {
    outer: EthIpv4,
    source: u16,
    dest: u16,
    udp_len: u16,
    udp_check: u16,
    vxlan_flags: [u8; 4],
    vxlan_vni: [u8; 4],
    inner_dst: [u8; 6],
    inner_src: [u8; 6],
    inner_type: u16,
}

const _: () = assert!(mem::size_of::<EthIpv4>() == ETH_HLEN + 20);
const _: () = assert!(mem::size_of::<Encap>() == ETH_HLEN + ENCAP_LEN);

/// A pointer to a `T` at `offset` of the packet's linear data, if it fits.
#[inline(always)]
fn at<T>(ctx: &TcContext, offset: usize) -> Option<*mut T> {
    let start = ctx.data() + offset;
    if start + mem::size_of::<T>() > ctx.data_end() {
        return None;
    }
    Some(start as *mut T)
}

/// A zeroed bpf_fib_lookup, written as eight word stores: `mem::zeroed`
/// (or any zeroing LLVM recognises) becomes a call to a byte-wise memset
/// subprogram in BPF, a measurable cost per packet.
#[inline(always)]
fn fib_params() -> FibParams {
    const WORDS: usize = mem::size_of::<FibParams>() / 8;
    const _: () = assert!(mem::size_of::<FibParams>().is_multiple_of(8));
    let mut fib = mem::MaybeUninit::<FibParams>::uninit();
    let words = fib.as_mut_ptr().cast::<u64>();
    let mut i = 0;
    while i < WORDS {
        // SAFETY: within the 64 bytes of `fib`; volatile so the stores are
        // not merged back into a memset.
        unsafe { words.add(i).write_volatile(0) };
        i += 1;
    }
    // SAFETY: every byte was written; bpf_fib_lookup is plain integers and
    // unions of them, for which all-zero is valid.
    unsafe { fib.assume_init() }
}

/// Looks `fib` up in the kernel's FIB; `true` on success.
#[inline(always)]
fn lookup(ctx: &TcContext, fib: &mut FibParams) -> bool {
    // SAFETY: `fib` is a valid, writable bpf_fib_lookup of the size passed.
    let rc = unsafe {
        bpf_fib_lookup(
            ctx.skb.skb.cast(),
            (fib as *mut FibParams).cast(),
            mem::size_of::<FibParams>() as i32,
            0,
        )
    };
    rc == i64::from(BPF_FIB_LKUP_RET_SUCCESS)
}

/// The FIB question for forwarding `ip`, arriving on `ifindex`.
#[inline(always)]
fn forward_params(ip: &EthIpv4, ifindex: u32) -> FibParams {
    let mut fib = fib_params();
    fib.family = AF_INET;
    fib.l4_protocol = ip.protocol;
    fib.__bindgen_anon_2.tos = ip.tos;
    // tot_len 0: the kernel checks the MTU against the skb itself, GSO-aware.
    fib.__bindgen_anon_3.ipv4_src = u32::from_ne_bytes(ip.saddr);
    fib.__bindgen_anon_4.ipv4_dst = u32::from_ne_bytes(ip.daddr);
    fib.ifindex = ifindex;
    fib
}

#[classifier]
pub fn route_ingress(ctx: TcContext) -> i32 {
    route(&ctx).unwrap_or(TC_ACT_UNSPEC)
}

/// `None` leaves the packet to the stack.
#[inline(always)]
fn route(ctx: &TcContext) -> Option<i32> {
    let head = at::<EthIpv4>(ctx, 0)?;
    // SAFETY: `head` is inside the packet (checked by `at`); packed, so
    // unaligned reads are fine.
    let ip = unsafe { head.read_unaligned() };
    // Not IPv4, options, or a TTL about to run out: the stack's business.
    if u16::from_be(ip.eth_type) != ETH_P_IP || ip.version_ihl != 0x45 || ip.ttl <= 1 {
        return None;
    }
    // SAFETY: reading a field of the context the kernel handed us.
    let arrival = unsafe { (*ctx.skb.skb).ingress_ifindex };
    let mut fib = forward_params(&ip, arrival);
    if !lookup(ctx, &mut fib) || fib.ifindex == arrival {
        return None;
    }
    // SAFETY: a read-only lookup in a map this program declares.
    let kind = *unsafe { ROUTE_TARGETS.get(fib.ifindex) }?;
    if kind == target::OVERLAY {
        // Encapsulate here when the peer and the way to it are known; the
        // VXLAN device does it otherwise (same wire format).
        if let Some(verdict) = encapsulate(ctx, &fib, arrival) {
            return Some(verdict);
        }
    } else if kind != target::POD {
        return None;
    }
    forward_rewrite(ctx, 0, &fib)?;
    // SAFETY: plain helper calls; the kernel validates the ifindex.
    let verdict = unsafe {
        if kind == target::POD {
            count(event::TO_POD);
            bpf_redirect_peer(fib.ifindex, 0)
        } else {
            count(event::TO_OVERLAY_DEVICE);
            bpf_redirect(fib.ifindex, 0)
        }
    };
    Some(verdict as i32)
}

/// What IP forwarding does to the Ethernet + IPv4 headers at `offset`: the
/// next hop's MAC addresses, TTL minus one with the checksum updated as
/// the kernel's `ip_decrease_ttl` does.
#[inline(always)]
fn forward_rewrite(ctx: &TcContext, offset: usize, fib: &FibParams) -> Option<()> {
    let head = at::<EthIpv4>(ctx, offset)?;
    // SAFETY: `head` is inside the packet; packed fields, unaligned access.
    unsafe {
        let mut ip = head.read_unaligned();
        ip.eth_dst = fib.dmac;
        ip.eth_src = fib.smac;
        ip.ttl -= 1;
        // The TTL is the high byte of its checksum word: one less there is
        // 0x0100 more in the (complemented) checksum.
        let check = u32::from(u16::from_be(ip.check)) + 0x0100;
        ip.check = ((check + (check >> 16)) as u16).to_be();
        head.write_unaligned(ip);
    }
    Some(())
}

/// Wraps the packet in VXLAN towards the peer behind `inner.dmac` and
/// transmits it on the uplink, as the kernel's device would (outer UDP
/// checksum zero, source port from the flow hash, DF set: the pod MTU
/// leaves room). `None`: not possible here (no tunnel settings, unknown
/// peer, underlay neighbour unresolved), nothing was changed.
#[inline(always)]
fn encapsulate(ctx: &TcContext, inner: &FibParams, arrival: u32) -> Option<i32> {
    let tunnel = *OVERLAY.get(0)?;
    if tunnel.ifindex == 0 || tunnel.uplink_ifindex == 0 {
        return None;
    }
    // SAFETY: a read-only lookup in a map this program declares.
    let peer = *unsafe { OVERLAY_PEERS.get(PeerKey::new(inner.dmac)) }?;
    // The underlay route and neighbour for the peer's node IP.
    let mut outer = fib_params();
    outer.family = AF_INET;
    outer.l4_protocol = IPPROTO_UDP;
    outer.__bindgen_anon_3.ipv4_src = u32::from_ne_bytes(tunnel.local_ip);
    outer.__bindgen_anon_4.ipv4_dst = u32::from_ne_bytes(peer);
    outer.ifindex = arrival;
    if !lookup(ctx, &mut outer) || outer.ifindex != tunnel.uplink_ifindex {
        return None;
    }
    // From here on a failure drops the packet: it is half rewritten.
    if forward_rewrite(ctx, 0, inner).is_none() {
        return Some(dropped());
    }
    // SAFETY: a helper on the context the kernel handed us.
    let hash = unsafe { bpf_get_hash_recalc(ctx.skb.skb) };
    // FIXED_GSO: the pod MTU already leaves room for the tunnel, so the
    // inner segment size stays as TCP chose it.
    let flags = u64::from(BPF_F_ADJ_ROOM_FIXED_GSO)
        | u64::from(BPF_F_ADJ_ROOM_ENCAP_L3_IPV4)
        | u64::from(BPF_F_ADJ_ROOM_ENCAP_L4_UDP)
        | u64::from(BPF_F_ADJ_ROOM_ENCAP_L2_ETH)
        | ((ETH_HLEN as u64) << BPF_ADJ_ROOM_ENCAP_L2_SHIFT);
    if ctx
        .adjust_room(ENCAP_LEN as i32, BPF_ADJ_ROOM_MAC, flags)
        .is_err()
    {
        return Some(dropped());
    }
    let Ok(tot_len) = u16::try_from((ctx.len() as usize).saturating_sub(ETH_HLEN)) else {
        return Some(dropped());
    };
    let span = SOURCE_PORT_MAX - SOURCE_PORT_MIN;
    let source_port = (((u64::from(hash) * u64::from(span)) >> 32) as u32 + SOURCE_PORT_MIN) as u16;
    let vni = tunnel.vni.to_be_bytes();
    let mut head = Encap {
        outer: EthIpv4 {
            eth_dst: outer.dmac,
            eth_src: outer.smac,
            eth_type: ETH_P_IP.to_be(),
            version_ihl: 0x45,
            tos: 0,
            tot_len: tot_len.to_be(),
            id: 0,
            frag_off: 0x4000u16.to_be(),
            ttl: 64,
            protocol: IPPROTO_UDP,
            check: 0,
            saddr: tunnel.local_ip,
            daddr: peer,
        },
        source: source_port.to_be(),
        dest: tunnel.port.to_be(),
        udp_len: tot_len.saturating_sub(20).to_be(),
        udp_check: 0,
        vxlan_flags: [VXLAN_FLAG_VNI, 0, 0, 0],
        vxlan_vni: [vni[1], vni[2], vni[3], 0],
        inner_dst: inner.dmac,
        inner_src: inner.smac,
        inner_type: ETH_P_IP.to_be(),
    };
    head.outer.check = ipv4_checksum(&head.outer);
    // The room moved the data: find the header again.
    let Some(slot) = at::<Encap>(ctx, 0) else {
        return Some(dropped());
    };
    // SAFETY: `slot` is inside the packet; packed, unaligned write.
    unsafe { slot.write_unaligned(head) };
    count(event::ENCAPSULATED);
    // SAFETY: a plain helper call; the kernel validates the ifindex.
    Some(unsafe { bpf_redirect(tunnel.uplink_ifindex, 0) } as i32)
}

#[inline(always)]
fn dropped() -> i32 {
    count(event::DROPPED);
    TC_ACT_SHOT
}

/// The IPv4 header checksum of `head` (its `check` field zero).
#[inline(always)]
fn ipv4_checksum(head: &EthIpv4) -> u16 {
    // SAFETY: EthIpv4 is 34 plain bytes.
    let bytes: [u8; mem::size_of::<EthIpv4>()] = unsafe { mem::transmute(*head) };
    let mut sum: u32 = 0;
    let mut i = ETH_HLEN;
    while i < ETH_HLEN + 20 {
        sum += u32::from(u16::from_ne_bytes([bytes[i], bytes[i + 1]]));
        i += 2;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

#[classifier]
pub fn uplink_ingress(ctx: TcContext) -> i32 {
    decapsulate(&ctx).unwrap_or(TC_ACT_UNSPEC)
}

/// A VXLAN packet of this node's tunnel carrying IPv4 for a local pod is
/// unwrapped and delivered into the pod; `None` leaves anything else to
/// the stack (and the kernel's VXLAN device), untouched.
#[inline(always)]
fn decapsulate(ctx: &TcContext) -> Option<i32> {
    let tunnel = *OVERLAY.get(0)?;
    if tunnel.ifindex == 0 {
        return None;
    }
    let encap = at::<Encap>(ctx, 0)?;
    // SAFETY: `encap` is inside the packet; packed, unaligned read.
    let head = unsafe { encap.read_unaligned() };
    let vni = u32::from_be_bytes([0, head.vxlan_vni[0], head.vxlan_vni[1], head.vxlan_vni[2]]);
    if u16::from_be(head.outer.eth_type) != ETH_P_IP
        || head.outer.version_ihl != 0x45
        || head.outer.protocol != IPPROTO_UDP
        || u16::from_be(head.outer.frag_off) & 0x3fff != 0
        || head.outer.daddr != tunnel.local_ip
        || u16::from_be(head.dest) != tunnel.port
        || head.vxlan_flags[0] & VXLAN_FLAG_VNI == 0
        || vni != tunnel.vni
        || u16::from_be(head.inner_type) != ETH_P_IP
    {
        return None;
    }
    let Some(inner) = at::<EthIpv4>(ctx, ENCAP_LEN) else {
        count(event::DECAP_UNPARSED);
        return None;
    };
    // SAFETY: inside the packet; packed, unaligned read.
    let ip = unsafe { inner.read_unaligned() };
    if ip.version_ihl != 0x45 || ip.ttl <= 1 {
        count(event::DECAP_UNPARSED);
        return None;
    }
    // Route the inner packet as if it had come out of the VXLAN device.
    let mut fib = forward_params(&ip, tunnel.ifindex);
    // The kernel checks the MTU against the skb's length unless given one,
    // and the skb still carries the 50 bytes of tunnel: give the inner
    // length. Not for GSO packets, whose IP length is meaningless and
    // which the skb check passes (they are segmented to size later).
    // SAFETY: reading a field of the context the kernel handed us.
    if unsafe { (*ctx.skb.skb).gso_size } == 0 {
        fib.__bindgen_anon_1.tot_len = u16::from_be(ip.tot_len);
    }
    // SAFETY: a read-only lookup in a map this program declares.
    if !lookup(ctx, &mut fib) || unsafe { ROUTE_TARGETS.get(fib.ifindex) } != Some(&target::POD) {
        count(event::DECAP_NOT_LOCAL);
        return None;
    }
    // Drop the outer IPv4, UDP, VXLAN and inner Ethernet headers, keeping
    // the segment size: it is the inner flow's already.
    if ctx
        .adjust_room(
            -(ENCAP_LEN as i32),
            BPF_ADJ_ROOM_MAC,
            u64::from(BPF_F_ADJ_ROOM_FIXED_GSO),
        )
        .is_err()
    {
        count(event::DECAP_REFUSED);
        return None;
    }
    if forward_rewrite(ctx, 0, &fib).is_none() {
        return Some(dropped());
    }
    count(event::DECAPSULATED);
    // SAFETY: a plain helper call; the kernel validates the ifindex.
    Some(unsafe { bpf_redirect_peer(fib.ifindex, 0) } as i32)
}
