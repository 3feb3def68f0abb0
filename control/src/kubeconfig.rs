//! Renders the kubeconfig that lets `kubectl` and kube clients reach the
//! API server. JSON is valid YAML, and kubectl reads it as such. Pure.

use base64::Engine as _;
use serde_json::json;

/// A kubeconfig for `user` holding bearer `token`, trusting `ca_pem`, with
/// one context named `strait` as the current one.
pub fn render(server: &str, ca_pem: &str, user: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "strait",
            "cluster": { "server": server, "certificate-authority-data": ca },
        }],
        "users": [{ "name": user, "user": { "token": token } }],
        "contexts": [{
            "name": "strait",
            "context": { "cluster": "strait", "user": user, "namespace": "default" },
        }],
        "current-context": "strait",
        "preferences": {},
    });
    // Serializing a json! value cannot fail; fall back to compact form anyway.
    serde_json::to_string_pretty(&config).unwrap_or_else(|_| config.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_points_at_the_server_with_the_token_and_ca() {
        let text = render("https://127.0.0.1:6443", "PEM", "strait-admin", "t0k");
        let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(parsed["current-context"], "strait");
        assert_eq!(
            parsed["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:6443"
        );
        assert_eq!(
            parsed["clusters"][0]["cluster"]["certificate-authority-data"],
            "UEVN"
        );
        assert_eq!(parsed["users"][0]["user"]["token"], "t0k");
        assert_eq!(parsed["contexts"][0]["context"]["user"], "strait-admin");
    }
}
