//! The etcd side: an `etcd` child process in a network namespace of our own,
//! and a small client for its v3 JSON gateway (grpc-gateway over HTTP/1.1),
//! run from a thread that has joined that namespace.

use std::{
    fs::File,
    future::Future,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, body::Incoming, client::conn::http1};
use hyper_util::rt::TokioIo;
use nix::sched::{CloneFlags, setns};
use tokio::{net::TcpStream, sync::mpsc};

/// Where etcd serves clients, inside the namespace only.
const CLIENT_ADDR: &str = "127.0.0.1:23790";
const PEER_URL: &str = "http://127.0.0.1:23800";

/// A running etcd in its own network namespace. Dropping it (also while
/// unwinding from a panic) kills etcd and deletes the namespace.
pub struct Etcd {
    netns: String,
    child: Option<Child>,
    dir: PathBuf,
    log: PathBuf,
}

impl Etcd {
    /// Creates the namespace `stbench-<pid>-<n>` (n counts the etcds this
    /// process started) and starts etcd in it with its data under `dir`.
    /// Returns once the process is started, not ready.
    pub fn start(dir: &Path) -> Result<Etcd> {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let netns = format!("stbench-{}-{n}", std::process::id());
        run(Command::new("ip").args(["netns", "add", &netns]))?;
        // From here on, Drop deletes the namespace whatever fails next.
        let mut etcd = Etcd {
            netns,
            child: None,
            dir: dir.to_owned(),
            log: dir.join("etcd.log"),
        };
        run(Command::new("ip").args(["-n", &etcd.netns, "link", "set", "lo", "up"]))?;
        let log = File::create(&etcd.log).context("creating etcd.log")?;
        let client_url = format!("http://{CLIENT_ADDR}");
        let data_dir = etcd.data_dir();
        let child = Command::new("ip")
            .args(["netns", "exec", &etcd.netns, "etcd", "--name", "stbench"])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", PEER_URL])
            .args(["--initial-advertise-peer-urls", PEER_URL])
            .args(["--initial-cluster", &format!("stbench={PEER_URL}")])
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("cloning log handle")?)
            .stderr(log)
            .spawn()
            .context("starting etcd (apt-get install etcd-server)")?;
        etcd.child = Some(child);
        Ok(etcd)
    }

    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// etcd's own pid (`ip netns exec` execs it).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Where etcd keeps its data (`member/snap`, `member/wal`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn log(&self) -> &Path {
        &self.log
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `ip netns exec` execs etcd, so this is etcd's own pid.
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Err(e) = run(Command::new("ip").args(["netns", "del", &self.netns])) {
            eprintln!("cleanup: {e:#}");
        }
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Runs `work` on a fresh thread that has joined network namespace `netns`,
/// on a runtime of its own (2 workers, spawned from that thread, so they
/// are in the namespace too), and waits for it.
pub fn in_netns<T, F, Fut>(netns: &str, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>>,
{
    let path = format!("/run/netns/{netns}");
    let thread = std::thread::spawn(move || -> Result<T> {
        let ns = File::open(&path).with_context(|| format!("opening {path}"))?;
        setns(&ns, CloneFlags::CLONE_NEWNET).context("setns")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("building the etcd client runtime")?;
        runtime.block_on(work())
    });
    thread
        .join()
        .map_err(|_| anyhow!("the etcd client thread panicked"))?
}

/// One keep-alive HTTP/1.1 connection to the gateway.
pub struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn connect() -> Result<Conn> {
        let stream = TcpStream::connect(CLIENT_ADDR)
            .await
            .with_context(|| format!("connecting to etcd at {CLIENT_ADDR}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Conn { sender })
    }

    async fn send(&mut self, path: &str, body: serde_json::Value) -> Result<Incoming> {
        self.sender.ready().await?;
        let request = Request::post(path)
            .header(http::header::HOST, CLIENT_ADDR)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.into_body().collect().await?.to_bytes();
            bail!("{path}: {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(response.into_body())
    }

    /// A put, acknowledged once etcd has committed (and fsynced) it.
    pub async fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        let body = serde_json::json!({ "key": B64.encode(key), "value": B64.encode(value) });
        self.send("/v3/kv/put", body).await?.collect().await?;
        Ok(())
    }

    /// Reads every key under `prefix` with its value, `page` keys a
    /// request (a client paging as kube-apiserver does); returns the keys
    /// read and the bytes of the gateway's answers.
    pub async fn range_prefix(&mut self, prefix: &str, page: usize) -> Result<(usize, usize)> {
        let end = B64.encode(prefix_end(prefix));
        let mut from = prefix.as_bytes().to_vec();
        let (mut keys, mut bytes) = (0, 0);
        loop {
            let body = serde_json::json!({
                "key": B64.encode(&from), "range_end": end, "limit": page,
            });
            let answer = self.send("/v3/kv/range", body).await?.collect().await?;
            let answer = answer.to_bytes();
            bytes += answer.len();
            let answer: serde_json::Value = serde_json::from_slice(&answer)?;
            let kvs = answer["kvs"].as_array().map_or(&[][..], Vec::as_slice);
            keys += kvs.len();
            let Some(last) = kvs.last().and_then(|kv| kv["key"].as_str()) else {
                return Ok((keys, bytes));
            };
            if answer["more"].as_bool() != Some(true) {
                return Ok((keys, bytes));
            }
            from = B64.decode(last)?;
            from.push(0);
        }
    }

    /// Streams every event under `prefix` to `seen` as (key, arrival time),
    /// after sending `()` on `ready` once etcd has created the watch.
    pub async fn watch(
        mut self,
        prefix: &str,
        ready: mpsc::Sender<()>,
        seen: mpsc::Sender<(String, Instant)>,
    ) -> Result<()> {
        let body = serde_json::json!({ "create_request": {
            "key": B64.encode(prefix),
            "range_end": B64.encode(prefix_end(prefix)),
        }});
        let mut stream = self.send("/v3/watch", body).await?;
        let mut buf = Vec::new();
        while let Some(frame) = stream.frame().await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            while let Some(end) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=end).collect();
                let at = Instant::now();
                let message: serde_json::Value = serde_json::from_slice(&line)
                    .with_context(|| format!("watch line {}", String::from_utf8_lossy(&line)))?;
                let result = message
                    .get("result")
                    .ok_or_else(|| anyhow!("watch error: {message}"))?;
                if result.get("created").and_then(|c| c.as_bool()) == Some(true) {
                    ready.send(()).await?;
                }
                let events = result.get("events").and_then(|e| e.as_array());
                for event in events.into_iter().flatten() {
                    let key = event["kv"]["key"]
                        .as_str()
                        .ok_or_else(|| anyhow!("event without a key: {event}"))?;
                    let key = String::from_utf8(B64.decode(key)?)?;
                    seen.send((key, at)).await?;
                }
            }
        }
        bail!("etcd closed the watch stream")
    }
}

/// Polls etcd until it answers a put, for up to `limit`.
pub async fn wait_ready(limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let attempt = async { Conn::connect().await?.put("/bench/ready", b"1").await };
        match attempt.await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e.context("etcd never got ready")),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The end of etcd's range for "every key starting with `prefix`".
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}
