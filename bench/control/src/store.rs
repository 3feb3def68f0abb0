//! The store benchmark: strait's embedded store called in-process against
//! etcd through its gateway. Durable sequential writes, concurrent writers
//! and watch fan-out.

use std::{
    future::Future,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use strait_control::store::{SqliteStore, Store, WatchItem};
use tokio::sync::mpsc;

use crate::{Stats, etcd, fan_out, first_line, on_etcd, stats};

/// strait's control-plane store vs etcd: durable writes and watch delivery.
#[derive(clap::Args, Clone)]
pub struct Args {
    /// Sequential writes to time (also the total for the concurrent run).
    #[arg(long, default_value_t = 2000)]
    writes: usize,
    /// Writers in the concurrent run.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Watchers on the watched prefix.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Writes timed through the watchers.
    #[arg(long, default_value_t = 200)]
    watch_writes: usize,
    /// Bytes in each value.
    #[arg(long, default_value_t = 256)]
    value_size: usize,
    /// Where the temporary data directories go (same filesystem for both).
    #[arg(long, default_value_os_t = std::env::temp_dir())]
    dir: PathBuf,
}

const WATCH_PREFIX: &str = "/bench/watch/";

/// Runs the store benchmark and prints its report.
pub async fn main(args: Args) -> Result<()> {
    if args.writers == 0 || args.writes < args.writers || args.watchers == 0 {
        bail!("need writes >= writers >= 1 and watchers >= 1");
    }
    let dir = tempfile::Builder::new()
        .prefix("stbench-")
        .tempdir_in(&args.dir)
        .with_context(|| format!("creating a temp dir in {}", args.dir.display()))?;
    let result = async {
        std::fs::create_dir(dir.path().join("etcd"))?;
        // Dropped (etcd killed) when this block ends, on every exit path
        // including a panic, before the directory is kept or removed.
        let etcd = etcd::Etcd::start(&dir.path().join("etcd"))?;
        let store = SqliteStore::open(&dir.path().join("strait.db"))?;
        run(&args, &store, etcd.netns())
            .await
            .with_context(|| format!("etcd log: {}", etcd.log().display()))
    }
    .await;
    let report = result.map(|r| r.markdown(&args, &dir.path().to_string_lossy()));
    println!("{}", crate::keep_on_error(dir, report)?);
    Ok(())
}

/// Each phase runs strait then etcd, back to back, so both see similar noise.
async fn run(args: &Args, store: &SqliteStore, netns: &str) -> Result<Report> {
    on_etcd(netns, || etcd::wait_ready(Duration::from_secs(30))).await?;
    let value = vec![b'x'; args.value_size];
    let mut report = Report::default();

    eprintln!("sequential writes: {}", args.writes);
    report.seq.0 = stats(strait_writes(store, "/bench/seq/", args.writes, &value).await?);
    let (n, v) = (args.writes, value.clone());
    report.seq.1 = stats(on_etcd(netns, move || etcd_writes("/bench/seq/".into(), n, v)).await?);

    eprintln!("concurrent writes: {} writers", args.writers);
    let per = args.writes / args.writers;
    report.conc.0 = concurrent(args.writers, |w| {
        let (store, value) = (store.clone(), value.clone());
        async move { strait_writes(&store, &format!("/bench/conc/{w}/"), per, &value).await }
    })
    .await?;
    let (writers, v) = (args.writers, value.clone());
    report.conc.1 = on_etcd(netns, move || {
        concurrent(writers, move |w| {
            etcd_writes(format!("/bench/conc/{w}/"), per, v.clone())
        })
    })
    .await?;

    eprintln!("watch delivery: {} watchers", args.watchers);
    report.watch.0 = stats(strait_fan_out(store, args, &value).await?);
    let (a, v) = (args.clone(), value.clone());
    report.watch.1 = stats(on_etcd(netns, move || etcd_fan_out(a, v)).await?);
    Ok(report)
}

async fn strait_writes(
    store: &SqliteStore,
    prefix: &str,
    n: usize,
    value: &[u8],
) -> Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        store
            .create(&format!("{prefix}{i:06}"), value.to_vec())
            .await?;
        samples.push(start.elapsed());
    }
    Ok(samples)
}

async fn etcd_writes(prefix: String, n: usize, value: Vec<u8>) -> Result<Vec<Duration>> {
    let mut conn = etcd::Conn::connect().await?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        conn.put(&format!("{prefix}{i:06}"), &value).await?;
        samples.push(start.elapsed());
    }
    Ok(samples)
}

/// Runs `writers` copies of `write` at once; throughput over the whole run
/// and latency over all their writes.
async fn concurrent<F, Fut>(writers: usize, write: F) -> Result<Concurrent>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<Vec<Duration>>> + Send + 'static,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers).map(|w| tokio::spawn(write(w))).collect();
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await??);
    }
    let elapsed = start.elapsed();
    Ok(Concurrent {
        per_sec: samples.len() as f64 / elapsed.as_secs_f64(),
        latency: stats(samples),
    })
}

async fn strait_fan_out(store: &SqliteStore, args: &Args, value: &[u8]) -> Result<Vec<Duration>> {
    let (seen_tx, mut seen) = mpsc::channel(args.watchers * 2);
    let after = store.revision().await?;
    let mut tasks = Vec::new();
    for _ in 0..args.watchers {
        let mut watch = store.watch(WATCH_PREFIX, after).await?;
        let seen_tx = seen_tx.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(item) = watch.next().await {
                if let Ok(WatchItem::Event(event)) = item
                    && seen_tx
                        .send((event.record.key, Instant::now()))
                        .await
                        .is_err()
                {
                    break;
                }
            }
        }));
    }
    let result = fan_out(watch_keys(args), args.watchers, &mut seen, |key| {
        let (store, value) = (store.clone(), value.to_vec());
        async move { Ok(store.create(&key, value).await.map(drop)?) }
    })
    .await;
    tasks.iter().for_each(|t| t.abort());
    result
}

async fn etcd_fan_out(args: Args, value: Vec<u8>) -> Result<Vec<Duration>> {
    let (seen_tx, mut seen) = mpsc::channel(args.watchers * 2);
    let (ready_tx, mut ready) = mpsc::channel(args.watchers);
    let mut tasks = Vec::new();
    for _ in 0..args.watchers {
        let conn = etcd::Conn::connect().await?;
        let (ready_tx, seen_tx) = (ready_tx.clone(), seen_tx.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = conn.watch(WATCH_PREFIX, ready_tx, seen_tx).await {
                eprintln!("etcd watcher: {e:#}");
            }
        }));
    }
    for _ in 0..args.watchers {
        tokio::time::timeout(Duration::from_secs(30), ready.recv())
            .await
            .context("etcd watches not created in 30s")?
            .context("etcd watchers ended")?;
    }
    let conn = tokio::sync::Mutex::new(etcd::Conn::connect().await?);
    let result = fan_out(watch_keys(&args), args.watchers, &mut seen, |key| {
        let (conn, value) = (&conn, &value);
        async move { conn.lock().await.put(&key, value).await }
    })
    .await;
    // Wait for the watchers to stop before the runtime drops their
    // connections, so that teardown is not reported as a watch failure.
    for task in tasks {
        task.abort();
        let _ = task.await;
    }
    result
}

/// The keys the watch phase writes, one at a time, under [`WATCH_PREFIX`].
fn watch_keys(args: &Args) -> impl Iterator<Item = String> + use<> {
    (0..args.watch_writes).map(|i| format!("{WATCH_PREFIX}{i:06}"))
}

#[derive(Default)]
struct Concurrent {
    per_sec: f64,
    latency: Stats,
}

/// (strait, etcd) for each measure.
#[derive(Default)]
struct Report {
    seq: (Stats, Stats),
    conc: (Concurrent, Concurrent),
    watch: (Stats, Stats),
}

impl Report {
    fn markdown(&self, args: &Args, dir: &str) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut rows = Vec::new();
        let mut latency = |what: &str, s: Stats, e: Stats| {
            for (name, a, b) in [("p50", s.p50, e.p50), ("p99", s.p99, e.p99)] {
                rows.push((format!("{what} {name} (ms)"), ms(a), ms(b), "lower"));
            }
            rows.push((format!("{what} mean (ms)"), ms(s.mean), ms(e.mean), "lower"));
        };
        latency("sequential write", self.seq.0, self.seq.1);
        latency(
            &format!("{} writers, write", args.writers),
            self.conc.0.latency,
            self.conc.1.latency,
        );
        latency(
            &format!("watch, write to {} watchers,", args.watchers),
            self.watch.0,
            self.watch.1,
        );
        rows.push((
            format!("{} writers, throughput (writes/s)", args.writers),
            self.conc.0.per_sec,
            self.conc.1.per_sec,
            "higher",
        ));

        let mut out = format!(
            "### Control-plane store: strait vs etcd, {date}\n\n\
             ```\n{cmd}\n```\n\n\
             {etcd}; data in `{dir}` ({fs}); {cpus} CPUs, shared and noisy, so read the ratios. \
             {writes} writes of {size}-byte values per run. strait: `SqliteStore` in-process \
             (WAL, `synchronous=FULL`). etcd: one member, default fsync settings, puts and \
             watches through its v3 JSON gateway over loopback HTTP/1.1 inside a netns. Watch \
             latency runs from just before the write is sent to each of {watchers} watchers \
             receiving it ({samples} samples).\n\n\
             | measure | strait | etcd | strait/etcd | better |\n|---|---|---|---|---|\n",
            date = jiff::Zoned::now().strftime("%Y-%m-%d %H:%M %Z"),
            cmd = std::env::args().collect::<Vec<_>>().join(" "),
            etcd = first_line("etcd", &["--version"]),
            fs = first_line("findmnt", &["-n", "-o", "FSTYPE", "-T", dir]),
            cpus = std::thread::available_parallelism().map_or(0, |n| n.get()),
            writes = args.writes,
            size = args.value_size,
            watchers = args.watchers,
            samples = args.watchers * args.watch_writes,
        );
        for (name, s, e, better) in rows {
            out += &format!("| {name} | {s:.2} | {e:.2} | {:.2} | {better} |\n", s / e);
        }
        out
    }
}
