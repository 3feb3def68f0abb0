//! The shell around the load balancer's pure core (`crate::lb`): the map
//! writer ([`maps`], [`writer`]) and the loop that watches Services,
//! EndpointSlices and this Node and keeps the maps at the desired state
//! ([`run`]).

pub mod maps;
pub mod metrics;
pub mod run;
pub mod writer;

pub use maps::{Contents, LbMaps, MapWriteError};
pub use run::{ServiceLbError, ServiceLbSettings, run};
pub use writer::write;
