//! Allocations held in the store, so replicas sharing one store never hand
//! out the same ClusterIP, NodePort or pod CIDR.
//!
//! Each replica allocates from its in-memory [`Allocators`] (fast, and the
//! source of "provided IP is already allocated" answers), then claims what
//! it chose by creating one store key per value. Creating a key is atomic
//! across processes, so the key, not memory, decides: a value another
//! replica claimed first is marked taken here and the allocation retried.
//! A follower mirrors every replica's claims and releases into memory, and
//! the leader removes claims no stored object holds (what a crash between
//! claiming and writing the object leaves behind).
//!
//! This module is the I/O adapter around the pure [`crate::allocation`];
//! it decides nothing about which value to choose.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use ipnet::IpNet;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::{
    allocation::{Allocators, Claims, claims_of},
    objects::Objects,
    request::Query,
    resources,
    store::{EventKind, Store, StoreError, WatchItem},
};

/// Where claim keys live in the store.
pub const PREFIX: &str = "/strait/claims/";

/// One allocated value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Item {
    /// A Service ClusterIP.
    ClusterIp(IpAddr),
    /// A Service NodePort.
    NodePort(u16),
    /// A Node's pod CIDR.
    PodCidr(IpNet),
}

impl Item {
    /// The store key claiming this value.
    pub fn key(&self) -> String {
        match self {
            Item::ClusterIp(ip) => format!("{PREFIX}clusterips/{ip}"),
            Item::NodePort(port) => format!("{PREFIX}nodeports/{port}"),
            // `/` would split the key; CIDRs never contain `_`.
            Item::PodCidr(cidr) => {
                format!("{PREFIX}podcidrs/{}", cidr.to_string().replace('/', "_"))
            }
        }
    }

    /// The value a claim key names (`None` for a key this module did not write).
    pub fn from_key(key: &str) -> Option<Item> {
        let rest = key.strip_prefix(PREFIX)?;
        let (kind, value) = rest.split_once('/')?;
        match kind {
            "clusterips" => value.parse().ok().map(Item::ClusterIp),
            "nodeports" => value.parse().ok().map(Item::NodePort),
            "podcidrs" => value.replace('_', "/").parse().ok().map(Item::PodCidr),
            _ => None,
        }
    }

    /// The claims holding just this value.
    pub fn as_claims(&self) -> Claims {
        let mut claims = Claims::default();
        match self {
            Item::ClusterIp(ip) => claims.ips.push(*ip),
            Item::NodePort(port) => claims.ports.push(*port),
            Item::PodCidr(cidr) => claims.cidrs.push(*cidr),
        }
        claims
    }
}

/// Every value in `claims`, one item each.
pub fn items(claims: &Claims) -> Vec<Item> {
    let ips = claims.ips.iter().copied().map(Item::ClusterIp);
    let ports = claims.ports.iter().copied().map(Item::NodePort);
    let cidrs = claims.cidrs.iter().copied().map(Item::PodCidr);
    ips.chain(ports).chain(cidrs).collect()
}

/// Why [`hold`] did not claim everything.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// Another holder (another replica) claimed this value first.
    #[error("{0:?} is already claimed")]
    Taken(Item),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Claims every value in `claims` for `owner`, all or nothing: on failure
/// the keys this call created are deleted again. A key that already names
/// `owner` (left by an earlier attempt of the same write) counts as held.
pub async fn hold<S: Store>(store: &S, claims: &Claims, owner: &str) -> Result<(), HoldError> {
    let mut created = Vec::new();
    for item in items(claims) {
        let key = item.key();
        let result = match store.create(&key, owner.as_bytes().to_vec()).await {
            Ok(_) => {
                created.push(key);
                Ok(())
            }
            Err(StoreError::AlreadyExists { .. }) => match store.get(&key).await {
                Ok(Some(record)) if record.value == owner.as_bytes() => Ok(()),
                Ok(_) => Err(HoldError::Taken(item)),
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        };
        if let Err(e) = result {
            for key in created {
                let _ = give_back_key(store, &key).await;
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Deletes the claim keys of `claims` (absent keys are fine).
pub async fn give_back<S: Store>(store: &S, claims: &Claims) -> Result<(), StoreError> {
    for item in items(claims) {
        give_back_key(store, &item.key()).await?;
    }
    Ok(())
}

async fn give_back_key<S: Store>(store: &S, key: &str) -> Result<(), StoreError> {
    match store.delete(key, None).await {
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The owner string stored in a claim key: `Kind/namespace/name`.
pub fn owner(kind: &str, namespace: Option<&str>, name: &str) -> String {
    format!("{kind}/{}/{name}", namespace.unwrap_or(""))
}

/// What every stored Service and Node holds, by value, with its owner.
async fn held_by_objects<S: Store>(
    objects: &Objects<S>,
) -> Result<BTreeMap<Item, String>, crate::status::ApiError> {
    let mut held = BTreeMap::new();
    for plural in ["services", "nodes"] {
        let Some(resource) = resources::find("", "v1", plural) else {
            continue;
        };
        let list = objects
            .list(resource, None, &Query::default(), |_| true)
            .await?;
        for object in list["items"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let namespace = object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str);
            let name = object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            for item in items(&claims_of(resource.kind, object)) {
                held.insert(item, owner(resource.kind, namespace, name));
            }
        }
    }
    Ok(held)
}

/// At startup: writes the claim keys of stored objects that lack them (a
/// data dir from before claims existed) and marks every claimed value
/// taken in `allocators`, including values another replica is just
/// writing.
pub async fn restore<S: Store>(
    objects: &Objects<S>,
    allocators: &Mutex<Allocators>,
) -> Result<(), crate::status::ApiError> {
    let store = objects.store();
    for (item, owner) in held_by_objects(objects).await? {
        match store.create(&item.key(), owner.into_bytes()).await {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(crate::status::ApiError::internal(e.to_string())),
        }
    }
    let page = store
        .list(PREFIX, Default::default())
        .await
        .map_err(|e| crate::status::ApiError::internal(e.to_string()))?;
    if let Ok(mut allocators) = allocators.lock() {
        for record in &page.records {
            if let Some(item) = Item::from_key(&record.key) {
                // Already marked (restored from its object) is the usual case.
                let _ = allocators.restore_claims(&item.as_claims());
            }
        }
    }
    Ok(())
}

/// Mirrors claims made and given back (by any replica) into `allocators`
/// until `shutdown`. Memory may briefly lag the keys; [`hold`] is what
/// prevents double allocation, so a lag costs at most a retry.
pub async fn follow<S: Store>(
    store: S,
    allocators: Arc<Mutex<Allocators>>,
    shutdown: CancellationToken,
) {
    loop {
        let from = match store.revision().await {
            Ok(revision) => revision,
            Err(e) => {
                tracing::warn!(error = %e, "claims: reading the revision");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut watch = match store.watch(PREFIX, from).await {
            Ok(watch) => watch,
            Err(e) => {
                tracing::warn!(error = %e, "claims: watching");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            let item = tokio::select! {
                item = watch.next() => item,
                () = shutdown.cancelled() => return,
            };
            let event = match item {
                Some(Ok(WatchItem::Event(event))) => event,
                Some(Ok(WatchItem::Progress(_))) => continue,
                // Compacted or ended: start again from now.
                Some(Err(_)) | None => break,
            };
            let Some(item) = Item::from_key(&event.record.key) else {
                continue;
            };
            if let Ok(mut allocators) = allocators.lock() {
                match event.kind {
                    EventKind::Created => {
                        let _ = allocators.restore_claims(&item.as_claims());
                    }
                    EventKind::Deleted => allocators.release(&item.as_claims()),
                    EventKind::Updated => {}
                }
            }
        }
    }
}

/// Leader-only: every `every`, deletes claims that no stored object held at
/// this sweep or the previous one (a claim younger than a sweep may belong to
/// a write still in flight), and claims what objects hold without a key.
pub async fn repair<S: Store>(objects: Objects<S>, every: Duration, shutdown: CancellationToken) {
    let mut suspects: BTreeSet<(String, i64)> = BTreeSet::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let store = objects.store();
        let (page, held) = match (
            store.list(PREFIX, Default::default()).await,
            held_by_objects(&objects).await,
        ) {
            (Ok(page), Ok(held)) => (page, held),
            (Err(e), _) => {
                tracing::warn!(error = %e, "claims repair: listing claims");
                continue;
            }
            (_, Err(e)) => {
                tracing::warn!(error = %e.message, "claims repair: listing objects");
                continue;
            }
        };
        let claimed: BTreeSet<Item> = page
            .records
            .iter()
            .filter_map(|r| Item::from_key(&r.key))
            .collect();
        for (item, owner) in &held {
            if !claimed.contains(item) {
                match store.create(&item.key(), owner.clone().into_bytes()).await {
                    Ok(_) => {
                        tracing::info!(claim = %item.key(), %owner, "claimed what an object held without a key")
                    }
                    Err(e) => tracing::debug!(claim = %item.key(), error = %e, "claims repair"),
                }
            }
        }
        let mut next = BTreeSet::new();
        for record in page.records {
            let Some(item) = Item::from_key(&record.key) else {
                continue;
            };
            if held.contains_key(&item) {
                continue;
            }
            let id = (record.key.clone(), record.mod_revision);
            if suspects.contains(&id) {
                match store.delete(&record.key, Some(record.mod_revision)).await {
                    Ok(_) => {
                        tracing::info!(claim = %record.key, "released a claim no object holds")
                    }
                    Err(e) => tracing::debug!(claim = %record.key, error = %e, "claims repair"),
                }
            } else {
                next.insert(id);
            }
        }
        suspects = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for item in [
            Item::ClusterIp("10.96.0.10".parse().expect("ip")),
            Item::ClusterIp("fd00::a".parse().expect("ip")),
            Item::NodePort(30080),
            Item::PodCidr("10.244.3.0/24".parse().expect("cidr")),
        ] {
            assert_eq!(Item::from_key(&item.key()), Some(item.clone()), "{item:?}");
        }
        assert_eq!(Item::from_key("/strait/claims/other/1"), None);
        assert_eq!(Item::from_key("/strait/claims/nodeports/x"), None);
        assert_eq!(Item::from_key("/registry/x"), None);
    }
}
