//! Leader election over a coordination.k8s.io/v1 Lease, the way
//! kube-controller-manager's leaderelection does it: whoever holds an
//! unexpired lease leads; a lease not renewed within its duration may be
//! taken; writes use optimistic concurrency, so two candidates never both
//! win. [`decide`] is the pure rule; [`hold`] is the loop around it.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{objects::Objects, resources, status::ApiError, store::Store};

/// Where the controllers' lease lives.
pub const LEASE_NAMESPACE: &str = "kube-system";
/// Its name.
pub const LEASE_NAME: &str = "strait-controller-manager";

/// Timing of the election.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// How long a lease is valid without renewal.
    pub lease: Duration,
    /// How often the holder renews and candidates retry.
    pub retry: Duration,
}

impl Default for Timing {
    /// kube-controller-manager's defaults are 15 s and 2 s.
    fn default() -> Self {
        Timing {
            lease: Duration::from_secs(15),
            retry: Duration::from_secs(2),
        }
    }
}

/// What a candidate should do with the lease it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// There is no lease: create one naming us.
    Create,
    /// We hold it: renew it.
    Renew,
    /// It expired under someone else: take it over.
    Take,
    /// Someone else holds a live lease.
    Follow,
}

fn renewed_at(lease: &Value) -> Option<Timestamp> {
    lease
        .pointer("/spec/renewTime")
        .and_then(Value::as_str)
        .and_then(|t| t.parse().ok())
}

/// The rule: what `me` should do at `now` given the stored `lease`.
pub fn decide(now: Timestamp, lease: Option<&Value>, me: &str) -> Decision {
    let Some(lease) = lease else {
        return Decision::Create;
    };
    let holder = lease
        .pointer("/spec/holderIdentity")
        .and_then(Value::as_str);
    if holder == Some(me) {
        return Decision::Renew;
    }
    let seconds = lease
        .pointer("/spec/leaseDurationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(15);
    let expired = match renewed_at(lease) {
        Some(renewed) => now.as_second() >= renewed.as_second() + seconds,
        None => true,
    };
    if holder.is_none_or(str::is_empty) || expired {
        Decision::Take
    } else {
        Decision::Follow
    }
}

/// RFC 3339 with microseconds, as `MicroTime` is written.
fn micro_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The lease after `decision` by `me` at `now`.
pub fn next_lease(
    decision: &Decision,
    lease: Option<&Value>,
    me: &str,
    now: Timestamp,
    timing: Timing,
) -> Value {
    let seconds = i64::try_from(timing.lease.as_secs()).unwrap_or(15);
    let mut next = lease.cloned().unwrap_or_else(|| {
        json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": LEASE_NAME, "namespace": LEASE_NAMESPACE},
            "spec": {"leaseTransitions": 0},
        })
    });
    let transitions = next
        .pointer("/spec/leaseTransitions")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let spec = &mut next["spec"];
    spec["holderIdentity"] = json!(me);
    spec["leaseDurationSeconds"] = json!(seconds);
    spec["renewTime"] = json!(micro_time(now));
    if matches!(decision, Decision::Create | Decision::Take) {
        spec["acquireTime"] = json!(micro_time(now));
    }
    if *decision == Decision::Take {
        spec["leaseTransitions"] = json!(transitions + 1);
    }
    next
}

/// Competes for the lease as `me` until `shutdown`, publishing on `leading`
/// whether this process leads. A failed renewal (conflict, store error)
/// gives up leadership at once rather than risk two leaders.
pub async fn hold<S: Store>(
    objects: Objects<S>,
    me: String,
    timing: Timing,
    leading: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    let Some(leases) = resources::find("coordination.k8s.io", "v1", "leases") else {
        tracing::error!("leases are not served; controllers will not run");
        return;
    };
    loop {
        let result = attempt(&objects, leases, &me, timing).await;
        let now_leading = match result {
            Ok(leads) => leads,
            Err(e) => {
                tracing::debug!(error = %e.message, "leader election round failed");
                false
            }
        };
        leading.send_if_modified(|was| {
            let changed = *was != now_leading;
            if changed {
                tracing::info!(identity = %me, leading = now_leading, "leadership changed");
            }
            *was = now_leading;
            changed
        });
        tokio::select! {
            () = tokio::time::sleep(timing.retry) => {}
            () = shutdown.cancelled() => {
                let _ = leading.send(false);
                return;
            }
        }
    }
}

/// One round: read, decide, write. Returns whether we lead afterwards.
async fn attempt<S: Store>(
    objects: &Objects<S>,
    leases: &'static resources::ResourceInfo,
    me: &str,
    timing: Timing,
) -> Result<bool, ApiError> {
    let current = match objects.get(leases, Some(LEASE_NAMESPACE), LEASE_NAME).await {
        Ok(lease) => Some(lease),
        Err(e) if e.code == 404 => None,
        Err(e) => return Err(e),
    };
    let now = Timestamp::now();
    let decision = decide(now, current.as_ref(), me);
    if decision == Decision::Follow {
        return Ok(false);
    }
    let next = next_lease(&decision, current.as_ref(), me, now, timing);
    match decision {
        Decision::Create => {
            objects
                .create(leases, Some(LEASE_NAMESPACE), next, |_| Ok(()))
                .await?;
        }
        // The resourceVersion we read guards the write: a rival's write in
        // between makes ours a conflict.
        _ => {
            objects
                .update(
                    leases,
                    Some(LEASE_NAMESPACE),
                    LEASE_NAME,
                    next,
                    false,
                    |_, _| Ok(()),
                )
                .await?;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn lease(holder: &str, renewed: &str) -> Value {
        json!({"spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": renewed}})
    }

    #[test]
    fn the_rule_follows_holder_and_expiry() {
        let now = at("2026-11-22T05:00:10Z");
        assert_eq!(decide(now, None, "a"), Decision::Create);
        assert_eq!(
            decide(now, Some(&lease("a", "2026-11-22T04:00:00Z")), "a"),
            Decision::Renew
        );
        assert_eq!(
            decide(now, Some(&lease("b", "2026-11-22T05:00:00Z")), "a"),
            Decision::Follow
        );
        assert_eq!(
            decide(now, Some(&lease("b", "2026-11-22T04:59:55Z")), "a"),
            Decision::Take
        );
        assert_eq!(
            decide(now, Some(&lease("", "2026-11-22T05:00:09Z")), "a"),
            Decision::Take
        );
        assert_eq!(
            decide(now, Some(&json!({"spec": {"holderIdentity": "b"}})), "a"),
            Decision::Take
        );
    }

    #[test]
    fn taking_over_counts_a_transition() {
        let now = at("2026-11-22T05:00:10Z");
        let old = json!({"metadata": {"name": LEASE_NAME, "resourceVersion": "7"},
                         "spec": {"holderIdentity": "b", "leaseTransitions": 2}});
        let next = next_lease(&Decision::Take, Some(&old), "a", now, Timing::default());
        assert_eq!(next["spec"]["holderIdentity"], "a");
        assert_eq!(next["spec"]["leaseTransitions"], 3);
        assert_eq!(next["spec"]["renewTime"], "2026-11-22T05:00:10.000000Z");
        assert_eq!(
            next["metadata"]["resourceVersion"], "7",
            "the write is conditional"
        );
        let renewed = next_lease(&Decision::Renew, Some(&next), "a", now, Timing::default());
        assert_eq!(renewed["spec"]["leaseTransitions"], 3);
    }

    #[tokio::test]
    async fn two_candidates_never_lead_at_once() {
        let dir = tempfile::TempDir::new().expect("tempdir");
        let objects =
            Objects::new(crate::store::SqliteStore::open(&dir.path().join("db")).expect("store"));
        let leases = resources::find("coordination.k8s.io", "v1", "leases").expect("leases");
        let timing = Timing::default();
        let (mut a_leads, mut b_leads) = (0, 0);
        for _ in 0..10 {
            let (a, b) = tokio::join!(
                attempt(&objects, leases, "a", timing),
                attempt(&objects, leases, "b", timing)
            );
            let (a, b) = (a.unwrap_or(false), b.unwrap_or(false));
            assert!(!(a && b), "both led in the same round");
            a_leads += usize::from(a);
            b_leads += usize::from(b);
        }
        assert_eq!(a_leads + b_leads, 10, "someone leads every round");
        assert!(
            a_leads == 0 || b_leads == 0,
            "the first leader keeps its live lease"
        );
    }
}
