//! strait's kernel-side programs, one object (`strait-proxy`) loaded by
//! proxy-agent.
//!
//! Programs here only read packets and the shared maps from
//! `strait-proxy-maps`; they hold no policy of their own. Userspace decides,
//! the kernel applies.
#![no_std]
#![no_main]

use aya_ebpf::{
    bindings::TC_ACT_UNSPEC,
    macros::{classifier, map},
    maps::PerCpuArray,
    programs::TcContext,
};
use strait_proxy_maps::PacketCount;

mod route;

/// One slot per CPU: the per-CPU array needs no atomics on the hot path.
#[map(name = "PACKET_COUNTS")]
static PACKET_COUNTS: PerCpuArray<PacketCount> = PerCpuArray::with_max_entries(1, 0);

/// Counts every packet and byte arriving on the interface, then hands the
/// packet on unchanged: `TC_ACT_UNSPEC` is tcx's "next program, else pass".
#[classifier]
pub fn count_ingress(ctx: TcContext) -> i32 {
    if let Some(slot) = PACKET_COUNTS.get_ptr_mut(0) {
        // SAFETY: `slot` points at this CPU's value of a per-CPU map. BPF
        // programs run with preemption disabled, so nothing else writes it
        // while this program runs.
        let count = unsafe { &mut *slot };
        count.packets = count.packets.wrapping_add(1);
        count.bytes = count.bytes.wrapping_add(u64::from(ctx.len()));
    }
    TC_ACT_UNSPEC
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// GPL-compatible, so the verifier lets later programs use GPL-only helpers.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
