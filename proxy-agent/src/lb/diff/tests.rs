//! The plan replayed write by write over a model of the maps, checking after
//! every write what the programs rely on.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use strait_proxy_maps::lb::{MaglevKey, MaglevTable, service_flags};

use super::*;
use crate::lb::{
    desired::{desired, desired_from},
    fixtures::{Cond, NODE, node, slice, svc, world},
    ids::Allocation,
};

/// What the maps hold at some moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Maps {
    services: BTreeMap<ServiceKey, ServiceValue>,
    backends: BTreeMap<BackendKey, BackendValue>,
    rev_nat: BTreeMap<RevNatKey, RevNatValue>,
    maglev: BTreeMap<MaglevKey, Arc<MaglevTable>>,
}

impl Maps {
    fn of(d: &Desired) -> Maps {
        Maps {
            services: d.services.clone(),
            backends: d.backends.clone(),
            rev_nat: d.rev_nat.clone(),
            maglev: d.maglev.clone(),
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::UpsertRevNat(k, v) => {
                self.rev_nat.insert(*k, *v);
            }
            Op::UpsertBackend(k, v) => {
                self.backends.insert(*k, *v);
            }
            Op::UpsertMaglev(k, v) => {
                self.maglev.insert(*k, Arc::clone(v));
            }
            Op::UpsertService(k, v) => {
                self.services.insert(*k, *v);
            }
            Op::DeleteService(k) => {
                self.services.remove(k);
            }
            Op::DeleteMaglev(k) => {
                self.maglev.remove(k);
            }
            Op::DeleteBackend(k) => {
                self.backends.remove(k);
            }
            Op::DeleteRevNat(k) => {
                self.rev_nat.remove(k);
            }
        }
    }
}

/// Backend ids a state lets a service entry choose for new connections.
fn selectable(d: &Desired, key: &ServiceKey) -> BTreeSet<u32> {
    let Some(head) = d.services.get(key) else {
        return BTreeSet::new();
    };
    (1..=head.count)
        .filter_map(|slot| d.services.get(&key.with_slot(slot)))
        .map(|v| v.backend_id)
        .collect()
}

fn identity(v: &BackendValue) -> (u32, u16, u8) {
    (v.addr, v.port, v.proto)
}

/// Distinct ids in a table, computed once per table.
struct TableIds(HashMap<*const MaglevTable, BTreeSet<u32>>);

impl TableIds {
    fn of(&mut self, table: &Arc<MaglevTable>) -> &BTreeSet<u32> {
        self.0
            .entry(Arc::as_ptr(table))
            .or_insert_with(|| table.backend_ids.iter().copied().collect())
    }
}

/// Everything the programs rely on, or the first thing that is broken.
fn check(m: &Maps, current: &Desired, next: &Desired, tables: &mut TableIds) -> Result<(), String> {
    for (key, head) in m.services.iter().filter(|(k, _)| k.slot == SERVICE_SLOT) {
        let rev = m.rev_nat.get(&RevNatKey {
            index: head.rev_nat,
        });
        let own = RevNatValue {
            addr: key.addr,
            port: key.port,
            pad: 0,
        };
        if rev != Some(&own) {
            return Err(format!("{key:?}: reverse NAT {} is {rev:?}", head.rev_nat));
        }
        let allowed: BTreeSet<u32> = selectable(current, key)
            .union(&selectable(next, key))
            .copied()
            .collect();
        for slot in 1..=head.count + head.terminating {
            let Some(value) = m.services.get(&key.with_slot(slot)) else {
                return Err(format!("{key:?}: slot {slot} missing"));
            };
            if !m.backends.contains_key(&BackendKey {
                id: value.backend_id,
            }) {
                return Err(format!(
                    "{key:?}: slot {slot} names missing backend {}",
                    value.backend_id
                ));
            }
            if slot <= head.count && !allowed.contains(&value.backend_id) {
                return Err(format!(
                    "{key:?}: slot {slot} offers backend {} that neither state lets it choose",
                    value.backend_id
                ));
            }
        }
        if key.scope == scope::EXTERNAL
            && head.flags & service_flags::TWO_SCOPES != 0
            && !m.services.contains_key(&key.with_scope(scope::INTERNAL))
        {
            return Err(format!("{key:?}: TWO_SCOPES without an internal entry"));
        }
        if head.flags & service_flags::MAGLEV != 0 && head.count > 0 {
            let Some(table) = m.maglev.get(&MaglevKey::new(head.rev_nat, key.scope)) else {
                return Err(format!("{key:?}: Maglev table missing"));
            };
            for id in tables.of(table) {
                if !m.backends.contains_key(&BackendKey { id: *id }) || !allowed.contains(id) {
                    return Err(format!("{key:?}: Maglev table offers backend {id}"));
                }
            }
        }
    }
    for (key, old) in current
        .services
        .iter()
        .filter(|(k, _)| k.slot == SERVICE_SLOT)
    {
        let kept = next.services.get(key).is_some_and(|new| new.count > 0);
        if old.count > 0 && kept && m.services.get(key).is_none_or(|now| now.count == 0) {
            return Err(format!("{key:?}: no backends for a moment"));
        }
    }
    for (key, value) in &m.backends {
        for state in [current, next] {
            if state
                .backends
                .get(key)
                .is_some_and(|other| identity(other) != identity(value))
            {
                return Err(format!("backend {} changed identity", key.id));
            }
        }
    }
    Ok(())
}

/// A permutation of `0..n` from a seed (xorshift; tests only).
fn permutation(n: usize, mut seed: u64) -> Vec<usize> {
    let mut out: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = usize::try_from(seed % (i as u64 + 1)).unwrap();
        out.swap(i, j);
    }
    out
}

/// Applies the plan from `current` to `next` one write at a time, each
/// step's writes in a seed-chosen order, checking after every write.
fn replay(current: &Desired, next: &Desired, seed: u64) -> Result<usize, String> {
    // The precondition: shared numbers name the same things.
    for (key, value) in &current.backends {
        if next
            .backends
            .get(key)
            .is_some_and(|other| identity(other) != identity(value))
        {
            return Err(format!("precondition: backend id {} reused", key.id));
        }
    }
    for (key, value) in &current.rev_nat {
        if next.rev_nat.get(key).is_some_and(|v| v != value) {
            return Err(format!("precondition: rev_nat {} reused", key.index));
        }
    }
    let plan = plan(current, next);
    let mut tables = TableIds(HashMap::new());
    let mut maps = Maps::of(current);
    check(&maps, current, current, &mut tables).map_err(|e| format!("current itself: {e}"))?;
    check(&Maps::of(next), next, next, &mut tables).map_err(|e| format!("next itself: {e}"))?;
    let mut last_phase = None;
    for step in &plan.steps {
        if step.ops.is_empty() || last_phase >= Some(step.phase) {
            return Err(format!("step {:?} empty or out of order", step.phase));
        }
        last_phase = Some(step.phase);
        for i in permutation(step.ops.len(), seed) {
            let op = &step.ops[i];
            maps.apply(op);
            check(&maps, current, next, &mut tables)
                .map_err(|e| format!("after {op:?} in {:?}: {e}", step.phase))?;
        }
    }
    if maps != Maps::of(next) {
        return Err("the plan does not reach next".into());
    }
    if !super::plan(next, next).is_empty() {
        return Err("a plan from a state to itself is not empty".into());
    }
    Ok(plan.len())
}

#[test]
fn phases_run_in_declaration_order() {
    for (i, phase) in Phase::ALL.iter().enumerate() {
        assert_eq!(*phase as usize, i);
    }
    assert!(Phase::ALL.windows(2).all(|w| w[0] < w[1]));
}

fn web(endpoints: &[(&str, Cond)], maglev: bool) -> Desired {
    web_from(endpoints, maglev, &Allocation::default())
}

fn web_from(endpoints: &[(&str, Cond)], maglev: bool, previous: &Allocation) -> Desired {
    let s = svc("default/web", "10.96.0.10")
        .type_("NodePort")
        .port("http", 80, "TCP")
        .node_port(30080)
        .external_local()
        .build();
    let mut sl = slice("default/web-a", "web").port("http", 8080, "TCP");
    for (addr, cond) in endpoints {
        sl = sl.ep(addr, NODE, *cond);
    }
    let mut ctx = node();
    ctx.options.maglev = maglev;
    desired(&[s], &[sl.build()], &ctx, previous)
}

#[test]
fn replacing_a_backend_adds_before_it_removes() {
    let before = web(
        &[("10.244.0.1", Cond::Ready), ("10.244.0.2", Cond::Ready)],
        false,
    );
    let after = web_from(
        &[("10.244.0.2", Cond::Ready), ("10.244.0.3", Cond::Ready)],
        false,
        &before.ids,
    );
    let p = plan(&before, &after);
    let phases: Vec<Phase> = p.steps.iter().map(|s| s.phase).collect();
    assert_eq!(
        phases,
        [
            Phase::BackendUpserts,
            Phase::SlotsBeforeSwitch,
            Phase::BackendDeletes
        ]
    );
    assert_eq!(
        p.steps[0].ops,
        [Op::UpsertBackend(
            after.backends.keys().copied().max().unwrap(),
            *after.backends.values().last().unwrap()
        )]
    );
    assert_eq!(p.steps[2].ops, [Op::DeleteBackend(BackendKey { id: 1 })]);
    replay(&before, &after, 1).unwrap();
}

#[test]
fn plans_from_and_to_nothing_and_through_draining() {
    let empty = Desired::default();
    let ready = web(
        &[("10.244.0.1", Cond::Ready), ("10.244.0.2", Cond::Ready)],
        true,
    );
    let draining = web_from(
        &[
            ("10.244.0.1", Cond::ServingTerminating),
            ("10.244.0.2", Cond::Ready),
        ],
        true,
        &ready.ids,
    );
    let fallback = web_from(
        &[
            ("10.244.0.1", Cond::ServingTerminating),
            ("10.244.0.3", Cond::ServingTerminating),
        ],
        true,
        &draining.ids,
    );
    let gone = web_from(&[], true, &fallback.ids);
    let create = plan(&empty, &ready);
    assert_eq!(
        create.ops().count(),
        ready.services.len() + ready.backends.len() + ready.rev_nat.len() + ready.maglev.len()
    );
    assert!(
        create
            .ops()
            .all(|op| !matches!(op, Op::DeleteService(_) | Op::DeleteBackend(_)))
    );
    for (a, b) in [
        (&empty, &ready),
        (&ready, &draining),
        (&draining, &fallback),
        (&fallback, &gone),
        (&gone, &empty),
        (&ready, &empty),
    ] {
        for seed in [1, 2, 3] {
            replay(a, b, seed).unwrap();
        }
    }
    // Draining moves .1 behind the count: its slot is rewritten only after
    // the service entry stops offering it.
    let p = plan(&ready, &draining);
    assert!(p.steps.iter().any(|s| s.phase == Phase::SlotsAfterSwitch));
    let destroy = plan(&ready, &empty);
    assert!(
        destroy
            .ops()
            .all(|op| !matches!(op, Op::UpsertService(..) | Op::UpsertBackend(..)))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any sequence of cluster states: every write of every plan keeps the
    /// maps consistent, and the plans reach their goals.
    #[test]
    fn every_write_keeps_the_maps_consistent(
        worlds in prop::collection::vec(world(), 2..5),
        seed in 1u64..,
    ) {
        let mut current = Desired::default();
        for (i, w) in worlds.iter().enumerate() {
            let (services, slices) = w.objects();
            let next = desired_from(&services, &slices, &w.node(), &current);
            // Reusing tables never changes the result.
            prop_assert_eq!(&next, &desired(&services, &slices, &w.node(), &current.ids));
            let result = replay(&current, &next, seed.rotate_left(u32::try_from(i).unwrap_or(0)) | 1);
            prop_assert!(result.is_ok(), "transition {}: {}", i, result.unwrap_err());
            current = next;
        }
        let result = replay(&current, &Desired::default(), seed);
        prop_assert!(result.is_ok(), "teardown: {}", result.unwrap_err());
    }
}
