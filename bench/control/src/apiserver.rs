//! The strait side of the API benchmark: a `strait control` child process
//! on a loopback port, and a small client for its HTTPS API (HTTP/1.1 over
//! rustls, one keep-alive connection each, with the CA and bearer token
//! taken from the admin kubeconfig the server writes). No measuring here.

use std::{
    fs::File,
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, client::conn::http1};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::{net::TcpStream, sync::mpsc};
use tokio_rustls::TlsConnector;

/// A running `strait control`. Dropping it (also while unwinding from a
/// panic) kills the process.
pub struct StraitControl {
    child: Option<Child>,
    addr: SocketAddr,
    data_dir: PathBuf,
    log: PathBuf,
}

impl StraitControl {
    /// Starts `binary control` with its data in `data_dir` (created by the
    /// server) on a free loopback port, logging next to `data_dir`.
    /// Returns once the process is started, not ready.
    pub fn start(binary: &Path, data_dir: &Path) -> Result<StraitControl> {
        // The port is free now; nothing else on this machine binds
        // ephemeral loopback ports for long, so it stays free for the child.
        let addr = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .context("finding a free port")?;
        let log = data_dir.with_extension("log");
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(binary)
            .arg("control")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", &addr.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone().context("cloning log handle")?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(StraitControl {
            child: Some(child),
            addr,
            data_dir: data_dir.to_owned(),
            log,
        })
    }

    /// The server's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir.join("admin.kubeconfig")
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Waits up to `limit` until the server answers `/readyz` with 200 to
    /// the admin credential; returns a way to open connections to it.
    pub async fn ready(&mut self, limit: Duration) -> Result<Api> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "strait control exited ({status}); see {}",
                    self.log.display()
                );
            }
            let attempt = async {
                let api = Api::from_kubeconfig(&self.kubeconfig(), self.addr)?;
                api.connect().await?.get("/readyz").await?;
                Ok::<_, anyhow::Error>(api)
            };
            match attempt.await {
                Ok(api) => return Ok(api),
                Err(e) if Instant::now() > deadline => {
                    return Err(e.context(format!(
                        "strait control not ready in {limit:?}; see {}",
                        self.log.display()
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

impl Drop for StraitControl {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What a connection to the API needs: where, whom to trust, who we are.
#[derive(Clone)]
pub struct Api {
    addr: SocketAddr,
    tls: TlsConnector,
    token: Arc<str>,
}

impl Api {
    /// Reads the CA and bearer token from `kubeconfig` (strait writes it
    /// as JSON, which is also YAML).
    fn from_kubeconfig(kubeconfig: &Path, addr: SocketAddr) -> Result<Api> {
        let text = std::fs::read(kubeconfig)
            .with_context(|| format!("reading {}", kubeconfig.display()))?;
        let config: serde_json::Value = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not JSON", kubeconfig.display()))?;
        let ca = config
            .pointer("/clusters/0/cluster/certificate-authority-data")
            .and_then(|v| v.as_str())
            .ok_or_else(|| anyhow!("{}: no certificate-authority-data", kubeconfig.display()))?;
        let token = config
            .pointer("/users/0/user/token")
            .and_then(|v| v.as_str())
            .ok_or_else(|| anyhow!("{}: no token", kubeconfig.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&B64.decode(ca)?) {
            roots.add(cert.context("the kubeconfig's CA")?)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Api {
            addr,
            tls: TlsConnector::from(Arc::new(tls)),
            token: token.into(),
        })
    }

    /// One keep-alive HTTPS connection.
    pub async fn connect(&self) -> Result<Conn> {
        let stream = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to strait control at {}", self.addr))?;
        stream.set_nodelay(true)?;
        let name = ServerName::from(self.addr.ip());
        let tls = self.tls.connect(name, stream).await.context("TLS")?;
        let (sender, conn) = http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        Ok(Conn {
            sender,
            authority: self.addr.to_string(),
            token: self.token.clone(),
        })
    }
}

/// One keep-alive HTTP/1.1 connection to the API server.
pub struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    authority: String,
    token: Arc<str>,
}

impl Conn {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<Response<Incoming>> {
        self.sender.ready().await?;
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::HOST, &self.authority)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.into_body().collect().await?.to_bytes();
            bail!(
                "{method} {path}: {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(response)
    }

    /// POSTs `object` to the collection at `path`; expects 201 Created.
    pub async fn create(&mut self, path: &str, object: Bytes) -> Result<()> {
        let response = self.send(Method::POST, path, object).await?;
        let status = response.status();
        response.into_body().collect().await?;
        if status != StatusCode::CREATED {
            bail!("POST {path}: {status}, not 201 Created");
        }
        Ok(())
    }

    /// GETs `path`; returns the body.
    pub async fn get(&mut self, path: &str) -> Result<Bytes> {
        let response = self.send(Method::GET, path, Bytes::new()).await?;
        Ok(response.into_body().collect().await?.to_bytes())
    }

    /// Lists the collection at `path` in pages of `page` (as client-go's
    /// reflectors do); returns every item and the bytes read.
    pub async fn list(
        &mut self,
        path: &str,
        page: usize,
    ) -> Result<(Vec<serde_json::Value>, usize)> {
        let (mut items, mut bytes) = (Vec::new(), 0);
        let mut next = String::new();
        loop {
            let token: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
            let body = self
                .get(&format!("{path}?limit={page}&continue={token}"))
                .await?;
            bytes += body.len();
            let mut list: serde_json::Value = serde_json::from_slice(&body)?;
            if let Some(page) = list["items"].as_array_mut() {
                items.append(page);
            }
            match list.pointer("/metadata/continue").and_then(|c| c.as_str()) {
                Some(token) if !token.is_empty() => next = token.to_owned(),
                _ => return Ok((items, bytes)),
            }
        }
    }

    /// Runs the watch at `path` (which must ask for `watch=1`), sending
    /// (object name, arrival time) to `seen` for every ADDED event.
    pub async fn watch(mut self, path: &str, seen: mpsc::Sender<(String, Instant)>) -> Result<()> {
        let mut stream = self
            .send(Method::GET, path, Bytes::new())
            .await?
            .into_body();
        let mut buf = Vec::new();
        while let Some(frame) = stream.frame().await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            while let Some(end) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=end).collect();
                let at = Instant::now();
                let event: serde_json::Value = serde_json::from_slice(&line)
                    .with_context(|| format!("watch line {}", String::from_utf8_lossy(&line)))?;
                match event["type"].as_str() {
                    Some("ADDED") => {
                        let name = event
                            .pointer("/object/metadata/name")
                            .and_then(|n| n.as_str())
                            .ok_or_else(|| anyhow!("event without a name: {event}"))?;
                        seen.send((name.to_owned(), at)).await?;
                    }
                    Some("ERROR") => bail!("watch error: {event}"),
                    _ => {}
                }
            }
        }
        bail!("strait control closed the watch stream")
    }
}
