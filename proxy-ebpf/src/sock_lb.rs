//! Socket-level service load balancing: cgroup `connect4`, `sendmsg4`,
//! `recvmsg4` and `getpeername4` hooks that translate a ClusterIP (or any
//! frontend in `LB4_SERVICES`) to a chosen backend before a packet exists.
//!
//! TCP and connected UDP are translated once, at `connect()`; unconnected
//! UDP per `sendmsg()`. The socket's cookie and backend are remembered in
//! `LB4_SOCK_REVNAT`, so `recvmsg()` (UDP replies) and `getpeername()`
//! report the frontend the application asked for. A frontend without a
//! ready backend is refused at once (the syscall fails with EPERM), never
//! silently black-holed. The map contents and their invariants are
//! `strait_proxy_maps::lb`'s; the agent writes them, these programs only
//! read (and keep the two LRU maps).

use aya_ebpf::{
    bindings::{BPF_F_NO_PREALLOC, bpf_sock_addr},
    helpers::generated::{
        bpf_get_netns_cookie, bpf_get_prandom_u32, bpf_get_socket_cookie, bpf_ktime_get_ns,
    },
    macros::{cgroup_sock_addr, map},
    maps::{HashMap, LruHashMap, PerCpuHashMap},
    programs::SockAddrContext,
};
use strait_proxy_maps::lb::{
    AFFINITY_MAX_ENTRIES, AffinityKey, AffinityValue, BACKENDS_MAX_ENTRIES, BackendKey,
    BackendValue, REV_NAT_MAX_ENTRIES, RevNatKey, RevNatValue, SERVICE_SLOT, SERVICES_MAX_ENTRIES,
    SOCK_REVNAT_MAX_ENTRIES, ServiceKey, ServiceValue, SockRevNatKey, SockRevNatValue,
    backend_state, proto, scope, service_flags,
};

#[map(name = "LB4_SERVICES")]
static LB4_SERVICES: HashMap<ServiceKey, ServiceValue> =
    HashMap::pinned(SERVICES_MAX_ENTRIES, BPF_F_NO_PREALLOC);

#[map(name = "LB4_BACKENDS")]
static LB4_BACKENDS: HashMap<BackendKey, BackendValue> =
    HashMap::pinned(BACKENDS_MAX_ENTRIES, BPF_F_NO_PREALLOC);

/// Declared here so the agent finds it in the object; the TC path reads it.
#[map(name = "LB4_REV_NAT")]
static LB4_REV_NAT: HashMap<RevNatKey, RevNatValue> =
    HashMap::pinned(REV_NAT_MAX_ENTRIES, BPF_F_NO_PREALLOC);

#[map(name = "LB4_SOCK_REVNAT")]
static LB4_SOCK_REVNAT: LruHashMap<SockRevNatKey, SockRevNatValue> =
    LruHashMap::pinned(SOCK_REVNAT_MAX_ENTRIES, 0);

/// Translations per frontend (reverse-NAT index), per CPU: no atomics.
#[map(name = "LB4_SOCK_COUNT")]
static LB4_SOCK_COUNT: PerCpuHashMap<u32, u64> =
    PerCpuHashMap::pinned(REV_NAT_MAX_ENTRIES, BPF_F_NO_PREALLOC);

#[map(name = "LB4_AFFINITY")]
static LB4_AFFINITY: LruHashMap<AffinityKey, AffinityValue> =
    LruHashMap::pinned(AFFINITY_MAX_ENTRIES, 0);

/// Verdicts of cgroup sock_addr programs.
const ALLOW: i32 = 1;
const REJECT: i32 = 0;

#[cgroup_sock_addr(connect4)]
pub fn sock_connect4(ctx: SockAddrContext) -> i32 {
    translate(&ctx)
}

#[cgroup_sock_addr(sendmsg4)]
pub fn sock_sendmsg4(ctx: SockAddrContext) -> i32 {
    translate(&ctx)
}

#[cgroup_sock_addr(recvmsg4)]
pub fn sock_recvmsg4(ctx: SockAddrContext) -> i32 {
    reverse(&ctx);
    ALLOW
}

#[cgroup_sock_addr(getpeername4)]
pub fn sock_getpeername4(ctx: SockAddrContext) -> i32 {
    reverse(&ctx);
    ALLOW
}

/// Seconds since boot, for affinity timeouts.
#[inline(always)]
fn now_seconds() -> u64 {
    // SAFETY: a helper without arguments.
    (unsafe { bpf_ktime_get_ns() }) / 1_000_000_000
}

/// The destination in `ctx`, if it is a frontend, rewritten to a backend.
#[inline(always)]
fn translate(ctx: &SockAddrContext) -> i32 {
    let sa = ctx.sock_addr;
    // SAFETY: the kernel hands a valid bpf_sock_addr for the program's run.
    let (addr, port, protocol) = unsafe { ((*sa).user_ip4, (*sa).user_port, (*sa).protocol) };
    let Ok(protocol) = u8::try_from(protocol) else {
        return ALLOW;
    };
    if protocol != proto::TCP && protocol != proto::UDP {
        return ALLOW;
    }
    // The port sits in the low 16 bits, in network byte order.
    let port = port as u16;
    let mut key = ServiceKey {
        addr,
        port,
        proto: protocol,
        scope: scope::EXTERNAL,
        slot: SERVICE_SLOT,
        pad: 0,
    };
    // SAFETY: read-only lookups in maps this program declares.
    let Some(mut service) = (unsafe { LB4_SERVICES.get(key) }).copied() else {
        return ALLOW;
    };
    if service.flags & service_flags::TWO_SCOPES != 0 {
        // Every socket-level client is inside the cluster.
        key.scope = scope::INTERNAL;
        // SAFETY: as above.
        match unsafe { LB4_SERVICES.get(key) } {
            Some(internal) => service = *internal,
            None => return REJECT,
        }
    }
    if service.count == 0 {
        return REJECT;
    }
    let Some((backend_id, backend)) = choose(ctx, &key, &service) else {
        // A slot without its backend breaks the writer's ordering; refusing
        // says so instead of sending the connection nowhere.
        return REJECT;
    };
    // SAFETY: the socket cookie helper takes the program's context.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.sock_addr.cast()) };
    let reverse_key = SockRevNatKey {
        cookie,
        addr: backend.addr,
        port: backend.port,
        pad: 0,
    };
    let reverse_value = SockRevNatValue {
        addr,
        port,
        pad: 0,
        rev_nat: service.rev_nat,
    };
    // A full LRU map evicts; failure only costs the reverse view.
    let _ = LB4_SOCK_REVNAT.insert(reverse_key, reverse_value, 0);
    if service.flags & service_flags::AFFINITY != 0 {
        remember_affinity(ctx, service.rev_nat, backend_id);
    }
    count_translation(service.rev_nat);
    // SAFETY: writing the fields these hooks may rewrite.
    unsafe {
        (*sa).user_ip4 = backend.addr;
        (*sa).user_port = u32::from(backend.port);
    }
    ALLOW
}

#[inline(always)]
fn count_translation(rev_nat: u32) {
    match LB4_SOCK_COUNT.get_ptr_mut(rev_nat) {
        // SAFETY: this CPU's value of a per-CPU map; BPF programs run with
        // preemption off, so nothing else writes it meanwhile.
        Some(count) => unsafe { *count = (*count).wrapping_add(1) },
        // The first on this frontend; a full map only costs the count.
        None => {
            let _ = LB4_SOCK_COUNT.insert(rev_nat, 1u64, 0);
        }
    }
}

/// The backend for a new connection: the affinity entry's while it is
/// fresh and its backend still takes connections, else a random slot of
/// `1..=count`.
#[inline(always)]
fn choose(
    ctx: &SockAddrContext,
    key: &ServiceKey,
    service: &ServiceValue,
) -> Option<(u32, BackendValue)> {
    if service.flags & service_flags::AFFINITY != 0
        && let Some(found) = affinity_backend(ctx, service)
    {
        return Some(found);
    }
    // SAFETY: a helper without arguments.
    let random = unsafe { bpf_get_prandom_u32() };
    let slot = (random % u32::from(service.count)) as u16 + 1;
    // SAFETY: read-only lookups in maps this program declares.
    let id = unsafe { LB4_SERVICES.get(key.with_slot(slot)) }?.backend_id;
    // SAFETY: as above.
    let backend = *unsafe { LB4_BACKENDS.get(BackendKey { id }) }?;
    Some((id, backend))
}

#[inline(always)]
fn affinity_key(ctx: &SockAddrContext, rev_nat: u32) -> AffinityKey {
    AffinityKey {
        // SAFETY: the netns cookie helper takes the program's context.
        client: unsafe { bpf_get_netns_cookie(ctx.sock_addr.cast()) },
        rev_nat,
        pad: 0,
    }
}

#[inline(always)]
fn affinity_backend(ctx: &SockAddrContext, service: &ServiceValue) -> Option<(u32, BackendValue)> {
    // SAFETY: read-only lookups in maps this program declares.
    let entry = *unsafe { LB4_AFFINITY.get(affinity_key(ctx, service.rev_nat)) }?;
    if now_seconds().saturating_sub(entry.last_used) > u64::from(service.affinity_timeout) {
        return None;
    }
    // SAFETY: as above.
    let backend = *unsafe {
        LB4_BACKENDS.get(BackendKey {
            id: entry.backend_id,
        })
    }?;
    let usable = backend.state == backend_state::ACTIVE
        || service.flags & service_flags::TERMINATING_FALLBACK != 0;
    usable.then_some((entry.backend_id, backend))
}

#[inline(always)]
fn remember_affinity(ctx: &SockAddrContext, rev_nat: u32, backend_id: u32) {
    let value = AffinityValue {
        backend_id,
        pad: 0,
        last_used: now_seconds(),
    };
    // A full LRU map evicts; failure only costs stickiness.
    let _ = LB4_AFFINITY.insert(affinity_key(ctx, rev_nat), value, 0);
}

/// A peer address that is a backend this socket was translated to is
/// reported as the frontend instead.
#[inline(always)]
fn reverse(ctx: &SockAddrContext) {
    let sa: *mut bpf_sock_addr = ctx.sock_addr;
    // SAFETY: the kernel hands a valid bpf_sock_addr for the program's run.
    let (addr, port) = unsafe { ((*sa).user_ip4, (*sa).user_port as u16) };
    let key = SockRevNatKey {
        // SAFETY: the socket cookie helper takes the program's context.
        cookie: unsafe { bpf_get_socket_cookie(ctx.sock_addr.cast()) },
        addr,
        port,
        pad: 0,
    };
    // SAFETY: a read-only lookup in a map this program declares.
    if let Some(frontend) = unsafe { LB4_SOCK_REVNAT.get(key) } {
        let (addr, port) = (frontend.addr, frontend.port);
        // SAFETY: writing the fields these hooks may rewrite.
        unsafe {
            (*sa).user_ip4 = addr;
            (*sa).user_port = u32::from(port);
        }
    }
}
