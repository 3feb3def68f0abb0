//! Authentication: bearer tokens to users. Anonymous requests are refused
//! (401) by the caller. Tokens are compared by their SHA-256 digest, so the
//! lookup's timing says nothing about a guessed token's prefix.

use std::collections::HashMap;

use crate::datadir::{ADMIN_USER, Tokens};

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user name (`strait-admin`, `system:node:node-1`).
    pub name: String,
    /// Its groups (`system:masters`, `system:nodes`, `system:authenticated`).
    pub groups: Vec<String>,
}

/// Maps bearer tokens to users.
#[derive(Clone, Debug, Default)]
pub struct Authenticator {
    users: HashMap<[u8; 32], User>,
}

fn digest(token: &str) -> [u8; 32] {
    let hash = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(hash.as_ref());
    out
}

impl Authenticator {
    /// The admin (in `system:masters`) and one user per node token.
    pub fn from_tokens(tokens: &Tokens) -> Authenticator {
        let mut users = HashMap::new();
        users.insert(
            digest(&tokens.admin),
            User {
                name: ADMIN_USER.into(),
                groups: vec!["system:masters".into(), "system:authenticated".into()],
            },
        );
        for (node, token) in &tokens.nodes {
            users.insert(
                digest(token),
                User {
                    name: format!("system:node:{node}"),
                    groups: vec!["system:nodes".into(), "system:authenticated".into()],
                },
            );
        }
        Authenticator { users }
    }

    /// The user of an `Authorization` header value, if it carries a known
    /// bearer token.
    pub fn authenticate(&self, authorization: Option<&str>) -> Option<&User> {
        let value = authorization?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = token.trim();
        if token.is_empty() {
            return None;
        }
        self.users.get(&digest(token))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn tokens_map_to_users_and_nothing_else_does() {
        let tokens = Tokens {
            admin: "admintoken".into(),
            nodes: BTreeMap::from([("node-1".into(), "nodetoken".into())]),
        };
        let authn = Authenticator::from_tokens(&tokens);
        let admin = authn
            .authenticate(Some("Bearer admintoken"))
            .expect("admin");
        assert_eq!(admin.name, "strait-admin");
        assert!(admin.groups.contains(&"system:masters".to_owned()));
        let node = authn.authenticate(Some("bearer nodetoken")).expect("node");
        assert_eq!(node.name, "system:node:node-1");
        for header in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Basic admintoken"),
            Some("Bearer admintoke"),
            Some("Bearer admintokenx"),
        ] {
            assert!(authn.authenticate(header).is_none(), "{header:?}");
        }
    }
}
