//! strait's service load-balancing programs, one object (`strait-lb`)
//! loaded by proxy-agent's `sock_lb`. A separate object from `strait-proxy`
//! because its maps are pinned by name in the node's bpffs directory (they
//! outlive the agent, so a restart keeps every translation working), while
//! the host-routing and counter maps live and die with their loader.
#![no_std]
#![no_main]

mod sock_lb;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// GPL-compatible, so the verifier lets the programs use GPL-only helpers.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
