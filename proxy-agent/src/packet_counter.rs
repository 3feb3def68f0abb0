//! The TC ingress packet counter: attach it to an interface, read the sums of
//! its per-CPU counters. It observes traffic and never changes it.

use std::path::Path;

use aya::{
    Ebpf,
    maps::PerCpuArray,
    programs::{SchedClassifier, TcAttachType, TestRun, TestRunOptions},
};
use strait_proxy_maps::{PacketCount, names::PACKET_COUNTS, programs::COUNT_INGRESS};

use crate::object::{self, LoadError};

/// A loaded counter program with its map; dropping it detaches the program.
pub struct PacketCounter {
    ebpf: Ebpf,
}

impl PacketCounter {
    /// Loads and verifies the counter without attaching it anywhere.
    pub fn load() -> Result<Self, LoadError> {
        let mut ebpf = object::load()?;
        program_mut(&mut ebpf)?
            .load()
            .map_err(LoadError::program(COUNT_INGRESS))?;
        Ok(PacketCounter { ebpf })
    }

    /// Attaches to `interface`'s ingress (tcx on kernels >= 6.6). The name is
    /// resolved in the calling thread's network namespace.
    pub fn attach(&mut self, interface: &str) -> Result<(), LoadError> {
        program_mut(&mut self.ebpf)?
            .attach(interface, TcAttachType::Ingress)
            .map_err(LoadError::program(COUNT_INGRESS))?;
        Ok(())
    }

    /// Pins the counter map at `path` (in a bpffs) so other processes can read it.
    pub fn pin_counts(&mut self, path: &Path) -> Result<(), LoadError> {
        let map = self
            .ebpf
            .map_mut(PACKET_COUNTS)
            .ok_or(LoadError::MissingMap(PACKET_COUNTS))?;
        map.pin(path).map_err(|source| LoadError::Pin {
            name: PACKET_COUNTS,
            path: path.to_owned(),
            source,
        })
    }

    /// The counts summed over every CPU.
    pub fn read(&self) -> Result<PacketCount, LoadError> {
        let map = self
            .ebpf
            .map(PACKET_COUNTS)
            .ok_or(LoadError::MissingMap(PACKET_COUNTS))?;
        let counts =
            PerCpuArray::<_, PacketCount>::try_from(map).map_err(LoadError::map(PACKET_COUNTS))?;
        let per_cpu = counts.get(&0, 0).map_err(LoadError::map(PACKET_COUNTS))?;
        Ok(per_cpu
            .iter()
            .fold(PacketCount::default(), |sum, cpu| sum.merge(*cpu)))
    }

    /// Runs the program once on `frame` (an Ethernet frame) through
    /// BPF_PROG_TEST_RUN and returns its verdict.
    pub fn test_run(&self, frame: &[u8]) -> Result<i32, LoadError> {
        let program: &SchedClassifier = self
            .ebpf
            .program(COUNT_INGRESS)
            .ok_or(LoadError::MissingProgram(COUNT_INGRESS))?
            .try_into()
            .map_err(LoadError::program(COUNT_INGRESS))?;
        let result = program
            .test_run(TestRunOptions {
                data_in: Some(frame),
                ..TestRunOptions::default()
            })
            .map_err(LoadError::program(COUNT_INGRESS))?;
        // The kernel returns the program's i32 verdict in a u32 field.
        Ok(result.return_value as i32)
    }
}

fn program_mut(ebpf: &mut Ebpf) -> Result<&mut SchedClassifier, LoadError> {
    object::classifier_mut(ebpf, COUNT_INGRESS)
}
