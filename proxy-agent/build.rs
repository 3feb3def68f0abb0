//! Compiles the kernel programs in `proxy-ebpf` for the BPF target with
//! aya-build (nightly, `-Z build-std=core`, bpf-linker) and leaves the object
//! in OUT_DIR, where `src/object.rs` embeds it.

use anyhow::Context as _;
use aya_build::{Package, Toolchain};

fn main() -> anyhow::Result<()> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR unset")?;
    let ebpf_dir = std::path::Path::new(&manifest_dir).join("../proxy-ebpf");
    let ebpf_dir = ebpf_dir
        .to_str()
        .context("the proxy-ebpf path is not UTF-8")?;
    // The shared map types are compiled into the object too.
    println!("cargo:rerun-if-changed={manifest_dir}/../proxy-maps");
    aya_build::build_ebpf(
        [Package {
            name: "strait-proxy-ebpf",
            root_dir: ebpf_dir,
            ..Default::default()
        }],
        Toolchain::Nightly,
    )
}
