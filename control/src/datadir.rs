//! The control plane's data directory: the store, the PKI, the bearer
//! tokens and `admin.kubeconfig`. Created on the first start and reused on
//! every later one, so a restart keeps the cluster's identity.
//!
//! Every file is written atomically (temporary file, fsync, rename, fsync of
//! the directory); private keys and tokens are mode 0600. Nothing here
//! serves requests.

use std::{
    collections::BTreeMap,
    fs,
    io::Write as _,
    os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{
    kubeconfig,
    pki::{self, CertifiedKey, PkiError},
};

/// The user name of the admin credential (bound to `system:masters`).
pub const ADMIN_USER: &str = "strait-admin";

/// Bearer tokens, by who they authenticate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// The admin token in `admin.kubeconfig`.
    pub admin: String,
    /// Per-node tokens, by node name.
    #[serde(default)]
    pub nodes: BTreeMap<String, String>,
}

/// What a start needs from the data directory.
#[derive(Clone, Debug)]
pub struct Material {
    /// The cluster CA.
    pub ca: CertifiedKey,
    /// The API server's serving certificate.
    pub serving: CertifiedKey,
    /// The bearer tokens.
    pub tokens: Tokens,
}

/// Why the data directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS's reason.
        #[source]
        source: std::io::Error,
    },
    /// Generating or reading keys failed.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// A file exists but cannot be used; it is left as it is.
    #[error("{path}: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// A data directory at a path.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root` (nothing is read or created yet).
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// The store's database file.
    pub fn store_path(&self) -> PathBuf {
        self.root.join("store.db")
    }

    /// The admin kubeconfig.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.root.join("admin.kubeconfig")
    }

    fn pki(&self, file: &str) -> PathBuf {
        self.root.join("pki").join(file)
    }

    /// Loads the CA, serving certificate and tokens, creating what is
    /// missing, and (re)writes `admin.kubeconfig` for `server_url`. The
    /// serving certificate is reissued when `serving_names` change.
    pub fn init(
        &self,
        serving_names: &[String],
        server_url: &str,
    ) -> Result<Material, DataDirError> {
        create_private_dir(&self.root)?;
        create_private_dir(&self.root.join("pki"))?;

        let ca = match load_pair(&self.pki("ca.crt"), &self.pki("ca.key"))? {
            Some(ca) => ca,
            None => {
                let ca = pki::new_ca()?;
                store_pair(&self.pki("ca.crt"), &self.pki("ca.key"), &ca)?;
                ca
            }
        };

        let names_path = self.pki("apiserver.names");
        let names = serving_names.join("\n");
        let same_names = fs::read_to_string(&names_path).is_ok_and(|old| old == names);
        let serving = match load_pair(&self.pki("apiserver.crt"), &self.pki("apiserver.key"))? {
            Some(serving) if same_names => serving,
            _ => {
                let serving = pki::serving_cert(&ca, serving_names)?;
                store_pair(
                    &self.pki("apiserver.crt"),
                    &self.pki("apiserver.key"),
                    &serving,
                )?;
                write_atomic(&names_path, names.as_bytes(), 0o644)?;
                serving
            }
        };

        let tokens_path = self.root.join("tokens.json");
        let tokens = match read_optional(&tokens_path)? {
            Some(text) => serde_json::from_slice(&text).map_err(|e| DataDirError::Corrupt {
                path: tokens_path.clone(),
                detail: e.to_string(),
            })?,
            None => {
                let tokens = Tokens {
                    admin: pki::new_token()?,
                    nodes: BTreeMap::new(),
                };
                write_json(&tokens_path, &tokens)?;
                tokens
            }
        };

        let config = kubeconfig::render(server_url, &ca.cert_pem, ADMIN_USER, &tokens.admin);
        write_atomic(&self.kubeconfig_path(), config.as_bytes(), 0o600)?;
        Ok(Material {
            ca,
            serving,
            tokens,
        })
    }

    /// Writes `nodes/<node>.kubeconfig` (0600) for node `node` against
    /// `server_url`, creating its token if new; returns the path.
    pub fn write_node_kubeconfig(
        &self,
        node: &str,
        server_url: &str,
    ) -> Result<PathBuf, DataDirError> {
        let token = self.node_token(node)?;
        let ca_path = self.pki("ca.crt");
        let ca = fs::read_to_string(&ca_path).map_err(io("reading", &ca_path))?;
        let config = kubeconfig::render(server_url, &ca, &format!("system:node:{node}"), &token);
        let dir = self.root.join("nodes");
        create_private_dir(&dir)?;
        let path = dir.join(format!("{node}.kubeconfig"));
        write_atomic(&path, config.as_bytes(), 0o600)?;
        Ok(path)
    }

    /// Returns node `node`'s token, creating and persisting it if new.
    pub fn node_token(&self, node: &str) -> Result<String, DataDirError> {
        let path = self.root.join("tokens.json");
        let text = read_optional(&path)?.ok_or_else(|| DataDirError::Corrupt {
            path: path.clone(),
            detail: "missing: start `strait control` once to initialise the data dir".into(),
        })?;
        let mut tokens: Tokens =
            serde_json::from_slice(&text).map_err(|e| DataDirError::Corrupt {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        if let Some(token) = tokens.nodes.get(node) {
            return Ok(token.clone());
        }
        let token = pki::new_token()?;
        tokens.nodes.insert(node.to_owned(), token.clone());
        write_json(&path, &tokens)?;
        Ok(token)
    }
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> DataDirError + 'a {
    move |source| DataDirError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

fn create_private_dir(path: &Path) -> Result<(), DataDirError> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(io("creating", path)(e)),
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, DataDirError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("reading", path)(e)),
    }
}

/// Both files, neither, or an error: half a key pair is never papered over.
fn load_pair(cert: &Path, key: &Path) -> Result<Option<CertifiedKey>, DataDirError> {
    let text = |bytes: Vec<u8>, path: &Path| {
        String::from_utf8(bytes).map_err(|_| DataDirError::Corrupt {
            path: path.to_owned(),
            detail: "not PEM text".into(),
        })
    };
    match (read_optional(cert)?, read_optional(key)?) {
        (Some(c), Some(k)) => Ok(Some(CertifiedKey {
            cert_pem: text(c, cert)?,
            key_pem: text(k, key)?,
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(DataDirError::Corrupt {
            path: key.to_owned(),
            detail: format!("missing while {} exists", cert.display()),
        }),
        (None, Some(_)) => Err(DataDirError::Corrupt {
            path: cert.to_owned(),
            detail: format!("missing while {} exists", key.display()),
        }),
    }
}

fn store_pair(cert: &Path, key: &Path, pair: &CertifiedKey) -> Result<(), DataDirError> {
    write_atomic(key, pair.key_pem.as_bytes(), 0o600)?;
    write_atomic(cert, pair.cert_pem.as_bytes(), 0o644)
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), DataDirError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| DataDirError::Corrupt {
        path: path.to_owned(),
        detail: format!("serializing: {e}"),
    })?;
    write_atomic(path, &bytes, 0o600)
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new
/// content, never a mix.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), DataDirError> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io("creating", &tmp))?;
    file.write_all(bytes).map_err(io("writing", &tmp))?;
    file.sync_all().map_err(io("syncing", &tmp))?;
    fs::rename(&tmp, path).map_err(io("renaming into", path))?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing", dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn names() -> Vec<String> {
        vec!["localhost".into(), "127.0.0.1".into()]
    }

    #[test]
    fn the_first_start_creates_everything_and_later_starts_reuse_it() {
        let tmp = tempfile::TempDir::new().expect("tempdir");
        let dir = DataDir::new(tmp.path().join("data"));
        let first = dir.init(&names(), "https://127.0.0.1:6443").expect("init");
        let kubeconfig = fs::read_to_string(dir.kubeconfig_path()).expect("kubeconfig");
        assert!(kubeconfig.contains(&first.tokens.admin));
        let mode = |p: PathBuf| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(tmp.path().join("data/pki/ca.key")), 0o600);
        assert_eq!(mode(tmp.path().join("data/tokens.json")), 0o600);
        assert_eq!(mode(tmp.path().join("data")), 0o700);

        let second = dir
            .init(&names(), "https://127.0.0.1:7443")
            .expect("re-init");
        assert_eq!(second.ca, first.ca);
        assert_eq!(second.serving, first.serving);
        assert_eq!(second.tokens, first.tokens);
        let kubeconfig = fs::read_to_string(dir.kubeconfig_path()).expect("kubeconfig");
        assert!(
            kubeconfig.contains("7443"),
            "the kubeconfig follows the address"
        );

        let mut more = names();
        more.push("10.0.0.1".into());
        let third = dir.init(&more, "https://127.0.0.1:6443").expect("re-init");
        assert_eq!(third.ca, first.ca, "same CA");
        assert_ne!(third.serving, first.serving, "new names, new serving cert");
    }

    #[test]
    fn half_a_key_pair_or_bad_tokens_are_errors_left_untouched() {
        let tmp = tempfile::TempDir::new().expect("tempdir");
        let dir = DataDir::new(tmp.path());
        dir.init(&names(), "https://x").expect("init");
        fs::remove_file(tmp.path().join("pki/ca.key")).expect("rm");
        let err = dir.init(&names(), "https://x").expect_err("half a pair");
        assert!(err.to_string().contains("ca.key"), "{err}");
        assert!(
            tmp.path().join("pki/ca.crt").exists(),
            "nothing was overwritten"
        );

        let tmp = tempfile::TempDir::new().expect("tempdir");
        let dir = DataDir::new(tmp.path());
        dir.init(&names(), "https://x").expect("init");
        fs::write(tmp.path().join("tokens.json"), "{").expect("write");
        assert!(matches!(
            dir.init(&names(), "https://x"),
            Err(DataDirError::Corrupt { .. })
        ));
    }

    #[test]
    fn node_tokens_are_created_once() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::TempDir::new().expect("tempdir");
        let dir = DataDir::new(tmp.path());
        assert!(dir.node_token("node-1").is_err(), "before init");
        dir.init(&names(), "https://x").expect("init");
        let token = dir.node_token("node-1").expect("token");
        assert_eq!(dir.node_token("node-1").expect("token"), token);
        assert_ne!(dir.node_token("node-2").expect("token"), token);
        let material = dir.init(&names(), "https://x").expect("re-init");
        assert_eq!(material.tokens.nodes.get("node-1"), Some(&token));
        let path = dir
            .write_node_kubeconfig("node-1", "https://x")
            .expect("kubeconfig");
        let text = fs::read_to_string(&path).expect("read");
        assert!(text.contains(&token) && text.contains("system:node:node-1"));
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "it holds a credential");
    }
}
