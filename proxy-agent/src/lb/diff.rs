//! The map writes that take the maps from one desired state to the next, in
//! an order that is safe while the programs keep reading.
//!
//! Holds the ordering rule; must not touch maps (the writer applies a
//! [`Plan`]) nor compute desired states.
//!
//! What holds after every single write, with `current` written and `next`
//! the goal (`next` must come from [`super::desired`] given
//! `current.ids`, so that a backend id or reverse-NAT index present in both
//! names the same thing):
//! - every service entry's reverse-NAT index is present and translates to
//!   that entry's own frontend;
//! - every slot `1..=count+terminating` of a service entry is present and
//!   names a present backend; with `MAGLEV` and `count > 0` the entry's
//!   table is present and names only present backends;
//! - an external entry with `TWO_SCOPES` has its internal entry;
//! - a slot `1..=count` or a Maglev entry names a backend that `current` or
//!   `next` lets that entry choose, never one only kept for draining;
//! - an entry with backends in both `current` and `next` never has none.
//!
//! How: new targets first (reverse NAT, backends, Maglev tables), then slots
//! that the old count does not expose or that the new count exposes, then
//! the service entries themselves (internal scope before external, so a
//! `TWO_SCOPES` flag never points at nothing), then the remaining slots,
//! then deletions in the reverse order of references.

use std::sync::Arc;

use strait_proxy_maps::lb::{
    BackendKey, BackendValue, MaglevKey, MaglevTable, RevNatKey, RevNatValue, SERVICE_SLOT,
    ServiceKey, ServiceValue, scope,
};

use super::desired::Desired;

/// One map write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Insert or replace a reverse-NAT entry.
    UpsertRevNat(RevNatKey, RevNatValue),
    /// Insert or replace a backend.
    UpsertBackend(BackendKey, BackendValue),
    /// Insert or replace a Maglev table (the inner map's single value).
    UpsertMaglev(MaglevKey, Arc<MaglevTable>),
    /// Insert or replace a service entry or slot.
    UpsertService(ServiceKey, ServiceValue),
    /// Delete a service entry or slot.
    DeleteService(ServiceKey),
    /// Delete a Maglev table.
    DeleteMaglev(MaglevKey),
    /// Delete a backend.
    DeleteBackend(BackendKey),
    /// Delete a reverse-NAT entry.
    DeleteRevNat(RevNatKey),
}

/// The phases of a plan, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// New or changed reverse-NAT entries.
    RevNatUpserts,
    /// New or changed backends.
    BackendUpserts,
    /// New or changed Maglev tables.
    MaglevUpserts,
    /// Slots beyond the old count, or within the new count.
    SlotsBeforeSwitch,
    /// Internal-scope service entries (slot 0).
    InternalEntries,
    /// External-scope service entries (slot 0): the switch to new counts.
    ExternalEntries,
    /// Slots within the old count that become draining slots.
    SlotsAfterSwitch,
    /// External-scope service entries that go away.
    ExternalEntryDeletes,
    /// Internal-scope service entries that go away.
    InternalEntryDeletes,
    /// Slots that go away.
    SlotDeletes,
    /// Maglev tables that go away.
    MaglevDeletes,
    /// Backends no longer referenced.
    BackendDeletes,
    /// Reverse-NAT entries no longer referenced.
    RevNatDeletes,
}

impl Phase {
    const ALL: [Phase; 13] = [
        Phase::RevNatUpserts,
        Phase::BackendUpserts,
        Phase::MaglevUpserts,
        Phase::SlotsBeforeSwitch,
        Phase::InternalEntries,
        Phase::ExternalEntries,
        Phase::SlotsAfterSwitch,
        Phase::ExternalEntryDeletes,
        Phase::InternalEntryDeletes,
        Phase::SlotDeletes,
        Phase::MaglevDeletes,
        Phase::BackendDeletes,
        Phase::RevNatDeletes,
    ];
}

/// The writes of one phase. They touch distinct keys of one map and depend
/// only on earlier steps, so they may run in any order or as one batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Which phase.
    pub phase: Phase,
    /// Its writes (never empty).
    pub ops: Vec<Op>,
}

/// Map writes in steps; each step must finish before the next begins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The non-empty steps, in order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Whether the maps already hold the goal.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Number of writes.
    pub fn len(&self) -> usize {
        self.steps.iter().map(|s| s.ops.len()).sum()
    }

    /// Every write, in an order that is safe one at a time.
    pub fn ops(&self) -> impl Iterator<Item = &Op> {
        self.steps.iter().flat_map(|s| s.ops.iter())
    }
}

/// The writes that turn `current` into `next`, ordered so that the
/// programs never see a broken state (see the module documentation).
pub fn plan(current: &Desired, next: &Desired) -> Plan {
    let mut phases: [Vec<Op>; Phase::ALL.len()] = Default::default();
    let mut push = |phase: Phase, op: Op| phases[phase as usize].push(op);

    for (key, value) in &next.rev_nat {
        if current.rev_nat.get(key) != Some(value) {
            push(Phase::RevNatUpserts, Op::UpsertRevNat(*key, *value));
        }
    }
    for (key, value) in &next.backends {
        if current.backends.get(key) != Some(value) {
            push(Phase::BackendUpserts, Op::UpsertBackend(*key, *value));
        }
    }
    for (key, table) in &next.maglev {
        let same = current
            .maglev
            .get(key)
            .is_some_and(|old| Arc::ptr_eq(old, table) || **old == **table);
        if !same {
            push(
                Phase::MaglevUpserts,
                Op::UpsertMaglev(*key, Arc::clone(table)),
            );
        }
    }

    let count = |desired: &Desired, key: &ServiceKey| {
        desired
            .services
            .get(&key.with_slot(SERVICE_SLOT))
            .map_or(0, |v| v.count)
    };
    for (key, value) in &next.services {
        if current.services.get(key) == Some(value) {
            continue;
        }
        let phase = if key.slot == SERVICE_SLOT {
            if key.scope == scope::INTERNAL {
                Phase::InternalEntries
            } else {
                Phase::ExternalEntries
            }
        } else if key.slot > count(current, key) || key.slot <= count(next, key) {
            Phase::SlotsBeforeSwitch
        } else {
            Phase::SlotsAfterSwitch
        };
        push(phase, Op::UpsertService(*key, *value));
    }
    for key in current.services.keys() {
        if next.services.contains_key(key) {
            continue;
        }
        let phase = if key.slot != SERVICE_SLOT {
            Phase::SlotDeletes
        } else if key.scope == scope::INTERNAL {
            Phase::InternalEntryDeletes
        } else {
            Phase::ExternalEntryDeletes
        };
        push(phase, Op::DeleteService(*key));
    }

    for key in current.maglev.keys() {
        if !next.maglev.contains_key(key) {
            push(Phase::MaglevDeletes, Op::DeleteMaglev(*key));
        }
    }
    for key in current.backends.keys() {
        if !next.backends.contains_key(key) {
            push(Phase::BackendDeletes, Op::DeleteBackend(*key));
        }
    }
    for key in current.rev_nat.keys() {
        if !next.rev_nat.contains_key(key) {
            push(Phase::RevNatDeletes, Op::DeleteRevNat(*key));
        }
    }

    let steps = Phase::ALL
        .into_iter()
        .zip(phases)
        .filter(|(_, ops)| !ops.is_empty())
        .map(|(phase, ops)| Step { phase, ops })
        .collect();
    Plan { steps }
}

#[cfg(test)]
mod tests;
