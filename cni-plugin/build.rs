//! Links `strait-cni` as a position-dependent executable.
//!
//! The plugin lives for a few milliseconds per pod, and as a PIE about
//! 0.3 ms of each exec went to applying 23,000 relative relocations at
//! start, which also copies every page of `.data.rel.ro` it touches
//! (`perf stat` of VERSION: 1.50 ms elapsed as PIE, 1.12 ms without). A
//! position-dependent binary has those resolved at link time and its
//! read-only data shared from the page cache. The reference plugins it is
//! measured against are position-dependent Go binaries too; the price is
//! that the executable's own image is not address-randomised. Only this
//! binary is affected: the library and `strait` keep the defaults.

fn main() {
    println!("cargo:rustc-link-arg-bin=strait-cni=-no-pie");
}
