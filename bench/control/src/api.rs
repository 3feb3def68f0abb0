//! The API benchmark: `strait control` as a client sees it (HTTPS, bearer
//! token, JSON) against etcd's v3 gateway holding the same JSON. Four
//! phases, each on a fresh server (and a fresh etcd where it has a peer):
//! `kubectl apply` of a file of Services, create latency, watch fan-out,
//! and memory and disk with Services and EndpointSlices loaded.

use std::{
    future::Future,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

use crate::{
    Stats,
    apiserver::{Api, StraitControl},
    etcd::{self, Etcd},
    fan_out, first_line, on_etcd, stats, usage,
};

/// `strait control` over its HTTPS API vs etcd through its gateway.
#[derive(clap::Args, Clone)]
pub struct Args {
    /// The `strait` binary, run as `strait control`.
    #[arg(long, default_value = "target/release/strait")]
    strait: PathBuf,
    /// The kubectl that applies the Services file.
    #[arg(long, default_value = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33")]
    kubectl: PathBuf,
    /// Services in the file `kubectl apply -f` is timed on.
    #[arg(long, default_value_t = 1000)]
    apply_services: usize,
    /// ConfigMaps created one at a time for the create latency.
    #[arg(long, default_value_t = 10_000)]
    creates: usize,
    /// Bytes of data in each ConfigMap.
    #[arg(long, default_value_t = 256)]
    value_size: usize,
    /// Watchers of the ConfigMaps.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Writes timed through the watchers.
    #[arg(long, default_value_t = 200)]
    watch_writes: usize,
    /// Services (without selectors) held for the memory figures.
    #[arg(long, default_value_t = 10_000)]
    services: usize,
    /// EndpointSlices held for the memory figures, one per Service from
    /// the first on.
    #[arg(long, default_value_t = 1000)]
    slices: usize,
    /// Endpoints in each EndpointSlice (at most 1000, the API's limit).
    #[arg(long, default_value_t = 100)]
    endpoints_per_slice: usize,
    /// Where the temporary data directories go (same filesystem for both).
    #[arg(long, default_value_os_t = std::env::temp_dir())]
    dir: PathBuf,
}

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";
const SERVICES: &str = "/api/v1/namespaces/default/services";
const SLICES: &str = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";
/// The keys etcd gets: strait's own store keys for the same objects.
const ETCD_CONFIGMAPS: &str = "/registry/core/configmaps/default/";
const ETCD_SERVICES: &str = "/registry/core/services/default/";
const ETCD_SLICES: &str = "/registry/discovery.k8s.io/endpointslices/default/";
/// Page size of full reads, as client-go's reflectors use.
const PAGE: usize = 500;
const READY: Duration = Duration::from_secs(30);
/// How long a server may stay busy after a load before it is measured anyway.
const SETTLE: Duration = Duration::from_secs(300);

/// Runs the API benchmark and prints its report.
pub async fn main(args: Args) -> Result<()> {
    ensure!(
        args.watchers > 0 && args.creates > 0 && args.apply_services > 0 && args.services > 0,
        "need at least one watcher, create, applied Service and held Service"
    );
    ensure!(
        args.slices <= args.services && (1..=1000).contains(&args.endpoints_per_slice),
        "need slices <= services and 1 <= endpoints-per-slice <= 1000"
    );
    let mut args = args;
    args.strait = std::fs::canonicalize(&args.strait).with_context(|| {
        format!(
            "{} (build it: cargo build --release)",
            args.strait.display()
        )
    })?;
    let dir = tempfile::Builder::new()
        .prefix("stbench-api-")
        .tempdir_in(&args.dir)
        .with_context(|| format!("creating a temp dir in {}", args.dir.display()))?;
    let report = run(&args, dir.path())
        .await
        .map(|r| r.markdown(&args, dir.path()));
    println!("{}", crate::keep_on_error(dir, report)?);
    Ok(())
}

async fn run(args: &Args, dir: &Path) -> Result<Report> {
    let mut report = Report::default();
    eprintln!("kubectl apply: {} Services", args.apply_services);
    apply(args, &dir.join("apply"), &mut report)
        .await
        .context("kubectl apply phase")?;
    eprintln!(
        "create latency: {} ConfigMaps; watch fan-out: {} watchers",
        args.creates, args.watchers
    );
    create_and_watch(args, &dir.join("create"), &mut report)
        .await
        .context("create and watch phase")?;
    eprintln!(
        "memory: {} Services, {} EndpointSlices x {} endpoints",
        args.services, args.slices, args.endpoints_per_slice
    );
    memory(args, &dir.join("memory"), &mut report)
        .await
        .context("memory phase")?;
    Ok(report)
}

/// A fresh `strait control` and a fresh etcd, both ready.
async fn start_both(args: &Args, dir: &Path) -> Result<(StraitControl, Api, Etcd)> {
    std::fs::create_dir_all(dir.join("etcd"))?;
    let mut strait = StraitControl::start(&args.strait, &dir.join("strait"))?;
    let etcd = Etcd::start(&dir.join("etcd"))?;
    let api = strait.ready(READY).await?;
    on_etcd(etcd.netns(), || etcd::wait_ready(READY))
        .await
        .with_context(|| format!("etcd log: {}", etcd.log().display()))?;
    Ok((strait, api, etcd))
}

fn pid(pid: Option<u32>, what: &str) -> Result<u32> {
    pid.with_context(|| format!("{what} is not running"))
}

// --- kubectl apply -------------------------------------------------------

async fn apply(args: &Args, dir: &Path, report: &mut Report) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut strait = StraitControl::start(&args.strait, &dir.join("strait"))?;
    let api = strait.ready(READY).await?;
    let file = dir.join("services.yaml");
    std::fs::write(&file, services_yaml(args.apply_services))?;
    let n = args.apply_services;

    let first = kubectl_apply(args, &strait, &file).await?;
    ensure!(
        first.created == n,
        "kubectl apply created {} of {n} Services: {}",
        first.created,
        first.summary()
    );
    let again = kubectl_apply(args, &strait, &file).await?;
    ensure!(
        again.unchanged == n,
        "re-applying the same file left {} of {n} Services unchanged: {}",
        again.unchanged,
        again.summary()
    );
    let (items, _) = api.connect().await?.list(SERVICES, PAGE).await?;
    let held = items
        .iter()
        .filter(|o| name_of(o).starts_with("apply-"))
        .count();
    ensure!(
        held == n,
        "the API lists {held} of the {n} applied Services"
    );

    for (what, run) in [("create", &first), ("re-apply, unchanged", &again)] {
        let wall = run.wall.as_secs_f64();
        report.row(
            format!("kubectl apply {n} Services, {what}: wall (s)"),
            wall,
            None,
        );
        let per = wall * 1000.0 / n as f64;
        report.row(format!("kubectl apply, {what}: per object (ms)"), per, None);
        report.row(
            format!("kubectl apply, {what}: strait CPU (s)"),
            run.server_cpu,
            None,
        );
        report.row(
            format!("kubectl apply, {what}: kubectl CPU (s)"),
            run.client_cpu,
            None,
        );
    }
    report.note(format!(
        "kubectl apply: {n} Services with selectors (the EndpointSlice controller makes a \
         slice for each while kubectl runs) in one multi-document file, client-side apply, \
         a fresh discovery cache for the first run, reused by the second; no etcd peer. \
         kubectl 1.33 decodes the OpenAPI v3 document of the object's group-version for \
         every object (kubernetes/kubernetes#127095; cached after 1.33 by #132003), so its own \
         CPU, not the server's, sets the wall time: compare the two CPU rows"
    ));
    Ok(())
}

struct Applied {
    wall: Duration,
    /// CPU seconds `strait control` used meanwhile.
    server_cpu: f64,
    /// CPU seconds kubectl used.
    client_cpu: f64,
    created: usize,
    unchanged: usize,
    configured: usize,
    stderr: String,
}

impl Applied {
    fn summary(&self) -> String {
        format!(
            "{} created, {} unchanged, {} configured; stderr: {}",
            self.created,
            self.unchanged,
            self.configured,
            self.stderr.lines().take(5).collect::<Vec<_>>().join(" | ")
        )
    }
}

/// Runs `kubectl apply -f file` against `strait` and times it.
async fn kubectl_apply(args: &Args, strait: &StraitControl, file: &Path) -> Result<Applied> {
    let server = pid(strait.pid(), "strait")?;
    let mut cmd = Command::new(&args.kubectl);
    cmd.env("KUBECONFIG", strait.kubeconfig())
        .arg("--cache-dir")
        .arg(strait.data_dir().with_extension("kubectl-cache"))
        .arg("apply")
        .arg("-f")
        .arg(file);
    let server_cpu = usage::cpu_seconds(server)?;
    let (wall, client_cpu, output) = tokio::task::spawn_blocking(move || {
        // Children's usage counts those waited for; kubectl is the only
        // child this process waits for while it runs.
        let before = usage::children_cpu_seconds();
        let start = Instant::now();
        let output = cmd.output();
        let wall = start.elapsed();
        (wall, usage::children_cpu_seconds() - before, output)
    })
    .await?;
    let server_cpu = usage::cpu_seconds(server)? - server_cpu;
    let output = output.with_context(|| format!("running {}", args.kubectl.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let count = |what: &str| stdout.lines().filter(|l| l.ends_with(what)).count();
    let applied = Applied {
        wall,
        server_cpu,
        client_cpu,
        created: count(" created"),
        unchanged: count(" unchanged"),
        configured: count(" configured"),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    if !output.status.success() {
        bail!(
            "kubectl apply failed ({}): {}",
            output.status,
            applied.summary()
        );
    }
    if !applied.stderr.is_empty() {
        eprintln!("kubectl apply stderr: {}", applied.stderr.trim());
    }
    Ok(applied)
}

fn services_yaml(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: apply-{i:04}\n  labels:\n    \
                 app.kubernetes.io/part-of: strait-bench\nspec:\n  selector:\n    app: apply-{i:04}\n  \
                 ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n    protocol: TCP\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

// --- create latency and watch fan-out ------------------------------------

async fn create_and_watch(args: &Args, dir: &Path, report: &mut Report) -> Result<()> {
    let (strait, api, etcd) = start_both(args, dir).await?;
    let (strait_pid, etcd_pid) = (pid(strait.pid(), "strait")?, pid(etcd.pid(), "etcd")?);
    let names: Vec<String> = (0..args.creates).map(|i| format!("cm-{i:06}")).collect();

    let cpu = usage::cpu_seconds(strait_pid)?;
    let mut conn = api.connect().await?;
    let mut samples = Vec::with_capacity(names.len());
    for name in &names {
        let body = configmap(name, args.value_size);
        let start = Instant::now();
        conn.create(CONFIGMAPS, body)
            .await
            .with_context(|| format!("strait log: {}", strait.log().display()))?;
        samples.push(start.elapsed());
    }
    let strait_cpu = usage::cpu_seconds(strait_pid)? - cpu;
    let strait_create = stats(samples);

    let cpu = usage::cpu_seconds(etcd_pid)?;
    let size = args.value_size;
    let etcd_create = stats(
        on_etcd(etcd.netns(), move || async move {
            let mut conn = etcd::Conn::connect().await?;
            let mut samples = Vec::with_capacity(names.len());
            for name in &names {
                let body = configmap(name, size);
                let start = Instant::now();
                conn.put(&format!("{ETCD_CONFIGMAPS}{name}"), &body).await?;
                samples.push(start.elapsed());
            }
            Ok(samples)
        })
        .await?,
    );
    let etcd_cpu = usage::cpu_seconds(etcd_pid)? - cpu;
    report.latency(
        &format!(
            "create ConfigMap (HTTPS POST) vs etcd put, {}",
            args.creates
        ),
        strait_create,
        etcd_create,
    );
    report.row(
        format!("server CPU for {} creates (s)", args.creates),
        strait_cpu,
        Some(etcd_cpu),
    );

    let strait_watch = stats(
        strait_fan_out(args, &api)
            .await
            .with_context(|| format!("strait log: {}", strait.log().display()))?,
    );
    let a = args.clone();
    let etcd_watch = stats(on_etcd(etcd.netns(), move || etcd_fan_out(a)).await?);
    report.latency(
        &format!("watch, create to {} watchers,", args.watchers),
        strait_watch,
        etcd_watch,
    );
    report.note(format!(
        "create: {} ConfigMaps with {}-byte data, one at a time over one keep-alive \
         connection (strait: HTTPS POST, 201 with the stored object; etcd: a gateway put \
         of the same JSON bytes under strait's key); watch: {} watchers, one connection \
         each (strait: `?watch=1&resourceVersion=`; etcd: gateway watch on the prefix), \
         {} timed creates after one untimed warm-up, on top of those {} objects",
        args.creates, args.value_size, args.watchers, args.watch_writes, args.creates
    ));
    Ok(())
}

fn configmap(name: &str, size: usize) -> Bytes {
    let object = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"value": "x".repeat(size)},
    });
    Bytes::from(object.to_string())
}

fn watch_names(args: &Args) -> impl Iterator<Item = String> + use<> {
    (0..args.watch_writes).map(|i| format!("watch-{i:06}"))
}

const WARM_UP: &str = "watch-warm-up";

async fn strait_fan_out(args: &Args, api: &Api) -> Result<Vec<Duration>> {
    let mut conn = api.connect().await?;
    let list: Value = serde_json::from_slice(&conn.get(&format!("{CONFIGMAPS}?limit=1")).await?)?;
    let revision = list
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .context("a list without a resourceVersion")?
        .to_owned();
    let (seen_tx, mut seen) = mpsc::channel(args.watchers * 2);
    let mut tasks = Vec::new();
    for _ in 0..args.watchers {
        let watcher = api.connect().await?;
        let path = format!("{CONFIGMAPS}?watch=1&resourceVersion={revision}");
        let seen_tx = seen_tx.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = watcher.watch(&path, seen_tx).await {
                eprintln!("strait watcher: {e:#}");
            }
        }));
    }
    let conn = Mutex::new(conn);
    let size = args.value_size;
    let write = |name: String| {
        let conn = &conn;
        async move {
            conn.lock()
                .await
                .create(CONFIGMAPS, configmap(&name, size))
                .await
        }
    };
    // A watch is established once it has delivered something.
    let result = match fan_out([WARM_UP.to_owned()], args.watchers, &mut seen, &write).await {
        Ok(_) => fan_out(watch_names(args), args.watchers, &mut seen, &write).await,
        Err(e) => Err(e.context("warm-up")),
    };
    for task in tasks {
        task.abort();
        let _ = task.await;
    }
    result
}

async fn etcd_fan_out(args: Args) -> Result<Vec<Duration>> {
    let (seen_tx, mut seen) = mpsc::channel(args.watchers * 2);
    let (ready_tx, mut ready) = mpsc::channel(args.watchers);
    let mut tasks = Vec::new();
    for _ in 0..args.watchers {
        let conn = etcd::Conn::connect().await?;
        let (ready_tx, seen_tx) = (ready_tx.clone(), seen_tx.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = conn.watch(ETCD_CONFIGMAPS, ready_tx, seen_tx).await {
                eprintln!("etcd watcher: {e:#}");
            }
        }));
    }
    for _ in 0..args.watchers {
        tokio::time::timeout(READY, ready.recv())
            .await
            .context("etcd watches not created in 30s")?
            .context("etcd watchers ended")?;
    }
    let conn = Mutex::new(etcd::Conn::connect().await?);
    let size = args.value_size;
    let write = |key: String| {
        let conn = &conn;
        async move {
            let name = key.strip_prefix(ETCD_CONFIGMAPS).unwrap_or(&key);
            conn.lock().await.put(&key, &configmap(name, size)).await
        }
    };
    let key = |name: String| format!("{ETCD_CONFIGMAPS}{name}");
    // The same warm-up as strait's, though etcd says when a watch is made.
    let result = match fan_out([key(WARM_UP.to_owned())], args.watchers, &mut seen, &write).await {
        Ok(_) => {
            fan_out(
                watch_names(&args).map(key),
                args.watchers,
                &mut seen,
                &write,
            )
            .await
        }
        Err(e) => Err(e.context("warm-up")),
    };
    // Wait for the watchers to stop before the runtime drops their
    // connections, so that teardown is not reported as a watch failure.
    for task in tasks {
        task.abort();
        let _ = task.await;
    }
    result
}

// --- memory and disk -----------------------------------------------------

/// One stage of a load: how long the writes took, and the server's CPU
/// from the first write until it had gone quiet, and how long after the
/// last write that was.
struct Stage {
    wall: Duration,
    cpu: f64,
    settle: Duration,
}

async fn stage(pid: u32, load: impl Future<Output = Result<()>>) -> Result<Stage> {
    let cpu = usage::cpu_seconds(pid)?;
    let start = Instant::now();
    load.await?;
    let wall = start.elapsed();
    let settle = usage::settle(pid, SETTLE).await?;
    Ok(Stage {
        wall,
        cpu: usage::cpu_seconds(pid)? - cpu,
        settle,
    })
}

async fn memory(args: &Args, dir: &Path, report: &mut Report) -> Result<()> {
    let (strait, api, etcd) = start_both(args, dir).await?;
    let (strait_pid, etcd_pid) = (pid(strait.pid(), "strait")?, pid(etcd.pid(), "etcd")?);
    usage::settle(strait_pid, SETTLE).await?;
    usage::settle(etcd_pid, SETTLE).await?;
    let idle = (usage::memory(strait_pid)?, usage::memory(etcd_pid)?);
    let context = || format!("strait log: {}", strait.log().display());

    // strait: everything through the API, one object at a time.
    let mut conn = api.connect().await?;
    let strait_services = stage(strait_pid, async {
        for i in 0..args.services {
            let service = Bytes::from(service(i).to_string());
            conn.create(SERVICES, service).await.with_context(context)?;
        }
        Ok(())
    })
    .await?;
    let strait_services_only = usage::memory(strait_pid)?;
    let strait_slices = stage(strait_pid, async {
        for i in 0..args.slices {
            let slice = Bytes::from(endpoint_slice(i, args.endpoints_per_slice).to_string());
            conn.create(SLICES, slice).await.with_context(context)?;
        }
        Ok(())
    })
    .await?;
    let strait_loaded = usage::memory(strait_pid)?;
    let strait_disk = disk(strait.data_dir(), &["store.db", "store.db-wal"])?;

    // The same objects' JSON, as strait holds them, read back in pages.
    let (services, service_bytes) = conn.list(SERVICES, PAGE).await?;
    let (slices, slice_bytes) = conn.list(SLICES, PAGE).await?;
    let strait_listed = usage::memory(strait_pid)?;
    let ours = |items: &[Value], prefix: &str| {
        items
            .iter()
            .filter(|o| name_of(o).starts_with(prefix))
            .count()
    };
    ensure!(
        ours(&services, "svc-") == args.services && ours(&slices, "svc-") == args.slices,
        "strait lists {} of {} Services and {} of {} EndpointSlices",
        ours(&services, "svc-"),
        args.services,
        ours(&slices, "svc-"),
        args.slices
    );
    let keyed = |items: Vec<Value>, prefix: &str| -> Result<Vec<(String, Vec<u8>)>> {
        items
            .into_iter()
            .map(|o| Ok((format!("{prefix}{}", name_of(&o)), serde_json::to_vec(&o)?)))
            .collect()
    };
    let (service_kvs, slice_kvs) = (keyed(services, ETCD_SERVICES)?, keyed(slices, ETCD_SLICES)?);
    let keys = service_kvs.len() + slice_kvs.len();
    let json_bytes: usize = service_kvs
        .iter()
        .chain(&slice_kvs)
        .map(|(_, v)| v.len())
        .sum();

    let put_all = |kvs: Vec<(String, Vec<u8>)>| {
        on_etcd(etcd.netns(), move || async move {
            let mut conn = etcd::Conn::connect().await?;
            for (key, value) in &kvs {
                conn.put(key, value).await?;
            }
            Ok(())
        })
    };
    let etcd_services = stage(etcd_pid, put_all(service_kvs)).await?;
    let etcd_services_only = usage::memory(etcd_pid)?;
    let etcd_slices = stage(etcd_pid, put_all(slice_kvs)).await?;
    let etcd_loaded = usage::memory(etcd_pid)?;
    let etcd_disk = disk(&etcd.data_dir(), &["member/snap/db"])?;
    let (etcd_keys, etcd_bytes) = on_etcd(etcd.netns(), || async {
        let mut conn = etcd::Conn::connect().await?;
        let (a, x) = conn.range_prefix(ETCD_SERVICES, PAGE).await?;
        let (b, y) = conn.range_prefix(ETCD_SLICES, PAGE).await?;
        Ok((a + b, x + y))
    })
    .await?;
    ensure!(etcd_keys == keys, "etcd holds {etcd_keys} keys, not {keys}");
    let etcd_listed = usage::memory(etcd_pid)?;

    // One more Service into the loaded namespace, after everything else.
    let one_more = Bytes::from(service_named("one-more").to_string());
    let strait_one = stage(strait_pid, async {
        conn.create(SERVICES, one_more.clone())
            .await
            .with_context(context)
    })
    .await?;
    let strait_after_one = usage::memory(strait_pid)?;
    let etcd_one = stage(
        etcd_pid,
        on_etcd(etcd.netns(), move || async move {
            let key = format!("{ETCD_SERVICES}one-more");
            etcd::Conn::connect().await?.put(&key, &one_more).await
        }),
    )
    .await?;
    let etcd_after_one = usage::memory(etcd_pid)?;

    for (what, n, s, e) in [
        ("Services", args.services, &strait_services, &etcd_services),
        ("EndpointSlices", args.slices, &strait_slices, &etcd_slices),
    ] {
        let per_ms = |stage: &Stage| stage.wall.as_secs_f64() * 1000.0 / n.max(1) as f64;
        report.row(
            format!("load {n} {what}: per object (ms)"),
            per_ms(s),
            Some(per_ms(e)),
        );
        report.row(
            format!("load {n} {what}: server CPU to quiet (s)"),
            s.cpu,
            Some(e.cpu),
        );
        report.row(
            format!("load {n} {what}: busy after the last write (s)"),
            s.settle.as_secs_f64(),
            Some(e.settle.as_secs_f64()),
        );
    }
    report.row(
        "one more Service, namespace loaded: server CPU to quiet (s)".into(),
        strait_one.cpu,
        Some(etcd_one.cpu),
    );
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let mut mib_row = |what: &str, s: u64, e: u64| report.row(what.into(), mib(s), Some(mib(e)));
    mib_row("RSS idle, empty (MiB)", idle.0.rss, idle.1.rss);
    mib_row(
        "RSS with the Services only (MiB)",
        strait_services_only.rss,
        etcd_services_only.rss,
    );
    mib_row("RSS loaded (MiB)", strait_loaded.rss, etcd_loaded.rss);
    mib_row(
        "peak RSS while loading (MiB)",
        strait_loaded.peak,
        etcd_loaded.peak,
    );
    mib_row(
        &format!("RSS after a full paged read, {PAGE} a page (MiB)"),
        strait_listed.rss,
        etcd_listed.rss,
    );
    mib_row(
        "peak RSS after the read (MiB)",
        strait_listed.peak,
        etcd_listed.peak,
    );
    mib_row(
        "RSS after one more Service (MiB)",
        strait_after_one.rss,
        etcd_after_one.rss,
    );
    mib_row(
        "peak RSS after one more Service (MiB)",
        strait_after_one.peak,
        etcd_after_one.peak,
    );
    mib_row("data dir on disk (MiB)", strait_disk.0, etcd_disk.0);
    mib_row("store file(s) on disk (MiB)", strait_disk.1, etcd_disk.1);
    report.note(format!(
        "memory: {services} Services without selectors, then {slices} EndpointSlices of \
         {per} IPv4 endpoints (addresses, conditions, nodeName, targetRef), labelled with \
         their Service's name but managed by someone else, so the controller leaves them \
         alone; created one at a time over one connection. strait then lists them in pages \
         ({service_bytes} + {slice_bytes} bytes of list JSON) and etcd gets each listed \
         object's JSON, {json_bytes} bytes under {keys} keys (the `kubernetes` Service \
         included); etcd's full read is a paged prefix range through the gateway \
         ({etcd_bytes} bytes). RSS is VmRSS and peak VmHWM from /proc/<pid>/status, read \
         once the server had gone quiet after each stage (under 5% of a CPU for a second). \
         Disk is allocated blocks (du); store files: strait `store.db` + `store.db-wal`, \
         etcd `member/snap/db` (etcd's data dir also holds its preallocated 64 MB WAL \
         segments)",
        services = args.services,
        slices = args.slices,
        per = args.endpoints_per_slice,
    ));
    Ok(())
}

/// The allocated bytes under `dir`, and of `files` in it.
fn disk(dir: &Path, files: &[&str]) -> Result<(u64, u64)> {
    let mut store = 0;
    for file in files {
        let path = dir.join(file);
        if path.exists() {
            store += usage::disk_usage(&path)?;
        }
    }
    Ok((usage::disk_usage(dir)?, store))
}

fn service(i: usize) -> Value {
    service_named(&format!("svc-{i:05}"))
}

/// A ClusterIP Service without a selector (no controller manages its
/// endpoints).
fn service_named(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]},
    })
}

/// Slice `i`, for Service `i`, with `endpoints` endpoints of distinct IPs.
fn endpoint_slice(i: usize, endpoints: usize) -> Value {
    let endpoints: Vec<Value> = (0..endpoints)
        .map(|j| {
            let n = i * endpoints + j;
            let ip = format!(
                "10.{}.{}.{}",
                1 + (n >> 16) % 250,
                (n >> 8) & 0xff,
                n & 0xff
            );
            json!({
                "addresses": [ip],
                "conditions": {"ready": true, "serving": true, "terminating": false},
                "nodeName": format!("node-{}", n % 50),
                "targetRef": {"kind": "Pod", "namespace": "default", "name": format!("pod-{n:06}")},
            })
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": format!("svc-{i:05}-bench"),
            "namespace": "default",
            "labels": {
                "kubernetes.io/service-name": format!("svc-{i:05}"),
                "endpointslice.kubernetes.io/managed-by": "bench.strait.invalid",
            },
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": endpoints,
    })
}

fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

// --- the report ----------------------------------------------------------

struct Row {
    measure: String,
    strait: f64,
    /// `None` where etcd has no counterpart.
    etcd: Option<f64>,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, measure: String, strait: f64, etcd: Option<f64>) {
        self.rows.push(Row {
            measure,
            strait,
            etcd,
        });
    }

    fn latency(&mut self, what: &str, strait: Stats, etcd: Stats) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        for (name, s, e) in [
            ("p50", strait.p50, etcd.p50),
            ("p99", strait.p99, etcd.p99),
            ("mean", strait.mean, etcd.mean),
        ] {
            self.row(format!("{what} {name} (ms)"), ms(s), Some(ms(e)));
        }
    }

    fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    fn markdown(&self, args: &Args, dir: &Path) -> String {
        let dir = dir.to_string_lossy();
        let mut out = format!(
            "### Control-plane API: strait control vs etcd, {date}\n\n\
             ```\n{cmd}\n```\n\n\
             {strait}; {etcd}; {kubectl}; data in `{dir}` ({fs}); {cpus} CPUs, shared and \
             noisy, so read the ratios. strait: `strait control` (release build, default \
             flags, its EndpointSlice controller running) on 127.0.0.1 over HTTPS, HTTP/1.1 \
             with a bearer token; etcd: one member, default settings, in its own netns, \
             through its v3 JSON gateway over loopback HTTP/1.1 (no TLS, no auth). Lower is \
             better everywhere.\n\n",
            date = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M %Z"),
            cmd = std::env::args().collect::<Vec<_>>().join(" "),
            strait = first_line(&args.strait.to_string_lossy(), &["--version"]),
            etcd = first_line("etcd", &["--version"]),
            kubectl = first_line(&args.kubectl.to_string_lossy(), &["version", "--client"]),
            fs = first_line("findmnt", &["-n", "-o", "FSTYPE", "-T", &dir]),
            cpus = std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        for note in &self.notes {
            out += &format!("- {note}.\n");
        }
        out += "\n| measure | strait | etcd | strait/etcd |\n|---|---|---|---|\n";
        for row in &self.rows {
            let (etcd, ratio) = match row.etcd {
                Some(e) if e > 0.0 => (format!("{e:.2}"), format!("{:.2}", row.strait / e)),
                Some(e) => (format!("{e:.2}"), "—".into()),
                None => ("—".into(), "—".into()),
            };
            out += &format!(
                "| {} | {:.2} | {etcd} | {ratio} |\n",
                row.measure, row.strait
            );
        }
        out
    }
}
