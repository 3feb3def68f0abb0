//! Applies a [`Plan`] to the maps step by step, in its order.

use crate::lb::{Allocation, Desired, Plan};

use super::maps::{Contents, LbMaps, MapWriteError};

/// Applies every write of `plan` in order; stops at the first failure,
/// returning how many writes were applied before it.
pub fn write(plan: &Plan, maps: &mut dyn LbMaps) -> Result<usize, (usize, MapWriteError)> {
    let mut done = 0;
    for op in plan.ops() {
        maps.apply(op).map_err(|e| (done, e))?;
        done += 1;
    }
    Ok(done)
}

/// The state maps read back stand for, as a [`Desired`] to plan from: the
/// allocation they were written with ([`Allocation::recover`]) and no
/// Maglev tables (the writer does not write them).
pub fn as_desired(contents: Contents) -> Desired {
    let ids = Allocation::recover(&contents.services, &contents.backends);
    Desired {
        services: contents.services,
        backends: contents.backends,
        rev_nat: contents.rev_nat,
        maglev: Default::default(),
        ids,
        problems: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        lb::{NodeContext, desired, desired_from, fixtures, plan},
        service_lb::maps::Fake,
    };

    fn state(count: usize) -> Desired {
        let (services, slices) = fixtures::cluster_ip_services(count, 3);
        desired(
            &services,
            &slices,
            &NodeContext::default(),
            &Allocation::default(),
        )
    }

    fn contents(d: &Desired) -> Contents {
        Contents {
            services: d.services.clone(),
            backends: d.backends.clone(),
            rev_nat: d.rev_nat.clone(),
        }
    }

    #[test]
    fn a_plan_applied_leaves_the_desired_contents() {
        let next = state(20);
        let mut maps = Fake::default();
        let written = write(&plan(&Desired::default(), &next), &mut maps).expect("written");
        assert!(written > 0);
        assert_eq!(maps.contents, contents(&next));
    }

    #[test]
    fn a_failed_write_then_a_replan_from_the_maps_converges() {
        let next = state(10);
        let mut maps = Fake {
            fail_at: Some(7),
            ..Fake::default()
        };
        let (done, _) = write(&plan(&Desired::default(), &next), &mut maps).expect_err("injected");
        assert_eq!(done, 7);
        // The next attempt plans from what the maps really hold.
        let current = as_desired(maps.read().expect("read"));
        write(&plan(&current, &next), &mut maps).expect("second attempt");
        assert_eq!(maps.contents, contents(&next));
    }

    #[test]
    fn a_restart_reading_the_maps_renumbers_and_rewrites_nothing() {
        let (services, slices) = fixtures::cluster_ip_services(15, 2);
        let node = NodeContext::default();
        let first = desired(&services, &slices, &node, &Allocation::default());
        let mut maps = Fake::default();
        write(&plan(&Desired::default(), &first), &mut maps).expect("written");
        // A new agent: reads the maps back, recomputes, plans.
        let current = as_desired(maps.read().expect("read"));
        let again = desired(&services, &slices, &node, &current.ids);
        assert_eq!(again.ids, first.ids);
        assert!(plan(&current, &again).is_empty());
        // And an update from there is incremental.
        let later = desired_from(&services[1..], &slices, &node, &again);
        assert!(!plan(&again, &later).is_empty());
    }
}
