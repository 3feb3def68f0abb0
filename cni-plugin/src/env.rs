//! The CNI execution parameters: `CNI_*` environment variables turned into a
//! typed [`Invocation`] whose shape says which variables the command has.
//!
//! Pure: it takes a map the binary built from the process environment and
//! must not read the environment, the filesystem or the network namespace
//! itself. Every failure is code 4 and names the variables at fault.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;

use crate::error::CniError;
use crate::version::CniVersion;

/// Longest interface name Linux accepts (`IFNAMSIZ` minus the NUL).
pub const MAX_IFNAME_LEN: usize = 15;

/// A `CNI_COMMAND` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Add the container to the network.
    Add,
    /// Remove the container from the network.
    Del,
    /// Check the container's networking is as expected (spec 0.4.0+).
    Check,
    /// Report the supported spec versions.
    Version,
    /// Report whether the plugin can service ADD (spec 1.1.0+).
    Status,
    /// Release resources of attachments not in a given list (spec 1.1.0+).
    Gc,
}

impl Command {
    /// Parses a `CNI_COMMAND` value (upper case, as the spec spells it).
    pub fn parse(s: &str) -> Result<Self, CniError> {
        Ok(match s {
            "ADD" => Self::Add,
            "DEL" => Self::Del,
            "CHECK" => Self::Check,
            "VERSION" => Self::Version,
            "STATUS" => Self::Status,
            "GC" => Self::Gc,
            other => {
                return Err(CniError::invalid_env(
                    format!("unknown CNI_COMMAND: {other}"),
                    "CNI_COMMAND must be one of ADD, DEL, CHECK, VERSION, STATUS, GC",
                ));
            }
        })
    }

    /// The command as the spec spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Add => "ADD",
            Self::Del => "DEL",
            Self::Check => "CHECK",
            Self::Version => "VERSION",
            Self::Status => "STATUS",
            Self::Gc => "GC",
        }
    }

    /// The first spec version that defines this command.
    pub const fn since(self) -> CniVersion {
        match self {
            Self::Add | Self::Del | Self::Version => CniVersion::V0_3_0,
            Self::Check => CniVersion::V0_4_0,
            Self::Status | Self::Gc => CniVersion::V1_1_0,
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a container ID or interface name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The value is empty.
    #[error("is empty")]
    Empty,
    /// The value is longer than allowed.
    #[error("is {len} bytes long; at most {max} allowed")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value is `.` or `..`.
    #[error("must not be . or ..")]
    Dot,
    /// The value contains a character outside the allowed set.
    #[error("contains {0:?}, which is not allowed")]
    BadChar(char),
    /// The first character is not alphanumeric.
    #[error("must start with an ASCII letter or digit, not {0:?}")]
    BadStart(char),
}

/// A `CNI_CONTAINERID`: non-empty, starts with an ASCII alphanumeric, then
/// ASCII alphanumerics, `_`, `.` or `-` (spec section 2).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerId(String);

impl ContainerId {
    /// Validates `s` as a container ID.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        validate_cni_name(s)?;
        Ok(Self(s.to_owned()))
    }

    /// The ID.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The rule the spec gives for container IDs and network names.
pub(crate) fn validate_cni_name(s: &str) -> Result<(), NameError> {
    let mut chars = s.chars();
    let first = chars.next().ok_or(NameError::Empty)?;
    if !first.is_ascii_alphanumeric() {
        return Err(NameError::BadStart(first));
    }
    match chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        Some(c) => Err(NameError::BadChar(c)),
        None => Ok(()),
    }
}

/// A `CNI_IFNAME`: what the Linux kernel accepts as an interface name
/// (`dev_valid_name`): 1 to 15 bytes, not `.` or `..`, no `/`, `:` or
/// whitespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfName(String);

impl IfName {
    /// Validates `s` as an interface name.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.len() > MAX_IFNAME_LEN {
            return Err(NameError::TooLong {
                len: s.len(),
                max: MAX_IFNAME_LEN,
            });
        }
        if s == "." || s == ".." {
            return Err(NameError::Dot);
        }
        if let Some(c) = s
            .chars()
            .find(|&c| c == '/' || c == ':' || c.is_whitespace() || c == '\0')
        {
            return Err(NameError::BadChar(c));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `CNI_ARGS`: `KEY=VALUE` pairs separated by `;`.
///
/// A pair without `=` or with an empty key is refused; a value may itself
/// contain `=`. Empty segments (`A=1;;B=2`, a trailing `;`) are skipped. A
/// repeated key keeps its last value, as libcni's parser does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniArgs(BTreeMap<String, String>);

impl CniArgs {
    /// Parses a `CNI_ARGS` value; code 4 naming `CNI_ARGS` on a bad pair.
    pub fn parse(s: &str) -> Result<Self, CniError> {
        let mut map = BTreeMap::new();
        for pair in s.split(';').filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(CniError::invalid_env(
                    "invalid CNI_ARGS",
                    format!("pair {pair:?} has no '='"),
                ));
            };
            if key.is_empty() {
                return Err(CniError::invalid_env(
                    "invalid CNI_ARGS",
                    format!("pair {pair:?} has an empty key"),
                ));
            }
            map.insert(key.to_owned(), value.to_owned());
        }
        Ok(Self(map))
    }

    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// All pairs, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether no pair was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The parameters of an attachment-specific command (ADD, DEL, CHECK).
///
/// `N` is the type of the network namespace reference: a path for ADD and
/// CHECK, where the spec requires `CNI_NETNS`; `Option<PathBuf>` for DEL,
/// where it is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentEnv<N> {
    /// `CNI_CONTAINERID`.
    pub container_id: ContainerId,
    /// `CNI_NETNS`.
    pub netns: N,
    /// `CNI_IFNAME`.
    pub ifname: IfName,
    /// `CNI_ARGS`, empty when unset.
    pub args: CniArgs,
    /// `CNI_PATH` split on `:`, empty entries dropped; empty when unset.
    pub path: Vec<PathBuf>,
}

/// One plugin execution, typed by command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// `ADD`: container ID, netns, ifname required.
    Add(AttachmentEnv<PathBuf>),
    /// `DEL`: container ID and ifname required, netns optional.
    Del(AttachmentEnv<Option<PathBuf>>),
    /// `CHECK`: container ID, netns, ifname required.
    Check(AttachmentEnv<PathBuf>),
    /// `VERSION`: nothing but the command.
    Version,
    /// `STATUS`: `CNI_PATH` optional.
    Status {
        /// `CNI_PATH` split on `:`; empty when unset.
        path: Vec<PathBuf>,
    },
    /// `GC`: `CNI_PATH` required.
    Gc {
        /// `CNI_PATH` split on `:`.
        path: Vec<PathBuf>,
    },
}

/// Environment variable names.
const COMMAND: &str = "CNI_COMMAND";
const CONTAINERID: &str = "CNI_CONTAINERID";
const NETNS: &str = "CNI_NETNS";
const IFNAME: &str = "CNI_IFNAME";
const ARGS: &str = "CNI_ARGS";
const PATH: &str = "CNI_PATH";

impl Invocation {
    /// Builds the invocation from environment variables. An empty value
    /// counts as unset, as in libcni.
    ///
    /// Required per the spec: ADD and CHECK need `CNI_CONTAINERID`,
    /// `CNI_NETNS`, `CNI_IFNAME`; DEL needs `CNI_CONTAINERID`, `CNI_IFNAME`;
    /// GC needs `CNI_PATH`; VERSION and STATUS need only the command. All
    /// missing variables are named in one error. Code 4 throughout.
    pub fn from_env(vars: &HashMap<String, String>) -> Result<Self, CniError> {
        let get = |name: &str| vars.get(name).map(String::as_str).filter(|v| !v.is_empty());

        let Some(command) = get(COMMAND) else {
            return Err(missing(&[COMMAND]));
        };
        let command = Command::parse(command)?;

        let required: &[&str] = match command {
            Command::Add | Command::Check => &[CONTAINERID, NETNS, IFNAME],
            Command::Del => &[CONTAINERID, IFNAME],
            Command::Gc => &[PATH],
            Command::Version | Command::Status => &[],
        };
        let absent: Vec<&str> = required
            .iter()
            .copied()
            .filter(|name| get(name).is_none())
            .collect();
        if !absent.is_empty() {
            return Err(missing(&absent));
        }

        let path = get(PATH).map(split_path).unwrap_or_default();
        let attachment = || -> Result<AttachmentEnv<Option<PathBuf>>, CniError> {
            let container_id = ContainerId::parse(get(CONTAINERID).unwrap_or_default())
                .map_err(|e| invalid(CONTAINERID, &e))?;
            let ifname =
                IfName::parse(get(IFNAME).unwrap_or_default()).map_err(|e| invalid(IFNAME, &e))?;
            let args = get(ARGS)
                .map(CniArgs::parse)
                .transpose()?
                .unwrap_or_default();
            Ok(AttachmentEnv {
                container_id,
                netns: get(NETNS).map(PathBuf::from),
                ifname,
                args,
                path: path.clone(),
            })
        };
        // ADD and CHECK have CNI_NETNS: the required check above saw it.
        let with_netns = |a: AttachmentEnv<Option<PathBuf>>| AttachmentEnv {
            container_id: a.container_id,
            netns: a.netns.unwrap_or_default(),
            ifname: a.ifname,
            args: a.args,
            path: a.path,
        };

        Ok(match command {
            Command::Add => Self::Add(with_netns(attachment()?)),
            Command::Check => Self::Check(with_netns(attachment()?)),
            Command::Del => Self::Del(attachment()?),
            Command::Version => Self::Version,
            Command::Status => Self::Status { path },
            Command::Gc => Self::Gc { path },
        })
    }

    /// The command this invocation carries.
    pub fn command(&self) -> Command {
        match self {
            Self::Add(_) => Command::Add,
            Self::Del(_) => Command::Del,
            Self::Check(_) => Command::Check,
            Self::Version => Command::Version,
            Self::Status { .. } => Command::Status,
            Self::Gc { .. } => Command::Gc,
        }
    }
}

fn split_path(s: &str) -> Vec<PathBuf> {
    s.split(':')
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect()
}

fn missing(names: &[&str]) -> CniError {
    CniError::invalid_env(
        format!("required env variables [{}] missing", names.join(",")),
        "",
    )
}

fn invalid(name: &str, err: &NameError) -> CniError {
    CniError::invalid_env(format!("invalid {name}"), format!("{name} {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const FULL: &[(&str, &str)] = &[
        ("CNI_CONTAINERID", "abc123"),
        ("CNI_NETNS", "/run/netns/blue"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0"),
        ("CNI_PATH", "/opt/cni/bin::/usr/libexec/cni"),
    ];

    fn with_command(cmd: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut v = vars(extra);
        v.insert("CNI_COMMAND".into(), cmd.into());
        v
    }

    #[test]
    fn add_with_everything() {
        let inv = Invocation::from_env(&with_command("ADD", FULL)).unwrap();
        let Invocation::Add(a) = inv else {
            panic!("not ADD: {inv:?}")
        };
        assert_eq!(a.container_id.as_str(), "abc123");
        assert_eq!(a.netns, PathBuf::from("/run/netns/blue"));
        assert_eq!(a.ifname.as_str(), "eth0");
        assert_eq!(a.args.get("K8S_POD_NAME"), Some("web-0"));
        assert_eq!(a.args.get("K8S_POD_NAMESPACE"), Some("default"));
        assert_eq!(
            a.path,
            vec![
                PathBuf::from("/opt/cni/bin"),
                PathBuf::from("/usr/libexec/cni")
            ]
        );
    }

    #[test]
    fn each_command_gets_its_variant() {
        let cases = [
            ("ADD", Command::Add),
            ("DEL", Command::Del),
            ("CHECK", Command::Check),
            ("VERSION", Command::Version),
            ("STATUS", Command::Status),
            ("GC", Command::Gc),
        ];
        for (s, cmd) in cases {
            let inv = Invocation::from_env(&with_command(s, FULL)).unwrap();
            assert_eq!(inv.command(), cmd);
            assert_eq!(cmd.as_str(), s);
            assert_eq!(Command::parse(s), Ok(cmd));
        }
    }

    #[test]
    fn del_without_netns_is_fine() {
        let env = with_command("DEL", &[("CNI_CONTAINERID", "abc"), ("CNI_IFNAME", "eth0")]);
        let Invocation::Del(d) = Invocation::from_env(&env).unwrap() else {
            panic!("not DEL")
        };
        assert_eq!(d.netns, None);
        assert!(d.args.is_empty());
        assert!(d.path.is_empty());

        let env = with_command("DEL", FULL);
        let Invocation::Del(d) = Invocation::from_env(&env).unwrap() else {
            panic!("not DEL")
        };
        assert_eq!(d.netns, Some(PathBuf::from("/run/netns/blue")));
    }

    /// (command, env, names the error must mention)
    type MissingCase = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
    );

    #[test]
    fn missing_variables_are_named_together() {
        let cases: &[MissingCase] = &[
            ("ADD", &[], &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"]),
            (
                "CHECK",
                &[("CNI_IFNAME", "eth0")],
                &["CNI_CONTAINERID", "CNI_NETNS"],
            ),
            (
                "DEL",
                &[("CNI_NETNS", "/x")],
                &["CNI_CONTAINERID", "CNI_IFNAME"],
            ),
            ("GC", &[], &["CNI_PATH"]),
            // Empty counts as unset.
            ("GC", &[("CNI_PATH", "")], &["CNI_PATH"]),
            (
                "ADD",
                &[
                    ("CNI_CONTAINERID", ""),
                    ("CNI_NETNS", "/x"),
                    ("CNI_IFNAME", "eth0"),
                ],
                &["CNI_CONTAINERID"],
            ),
        ];
        for (cmd, env, names) in cases {
            let err = Invocation::from_env(&with_command(cmd, env)).unwrap_err();
            assert_eq!(err.code(), 4, "{cmd}: {err}");
            for name in *names {
                assert!(err.msg().contains(name), "{cmd}: {err} lacks {name}");
            }
        }
    }

    #[test]
    fn version_and_status_need_nothing_else() {
        assert_eq!(
            Invocation::from_env(&with_command("VERSION", &[])).unwrap(),
            Invocation::Version
        );
        assert_eq!(
            Invocation::from_env(&with_command("STATUS", &[])).unwrap(),
            Invocation::Status { path: vec![] }
        );
    }

    #[test]
    fn missing_or_unknown_command_is_code_4() {
        for env in [vars(&[]), vars(&[("CNI_COMMAND", "")])] {
            let err = Invocation::from_env(&env).unwrap_err();
            assert_eq!(err.code(), 4);
            assert!(err.msg().contains("CNI_COMMAND"), "{err}");
        }
        for cmd in ["add", "DELETE", "Check", "FOO", " ADD"] {
            let err = Invocation::from_env(&with_command(cmd, FULL)).unwrap_err();
            assert_eq!(err.code(), 4, "{cmd}");
            assert!(err.msg().contains("CNI_COMMAND"), "{err}");
        }
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let cases: &[(&str, &str, &str)] = &[
            ("CNI_CONTAINERID", "-abc", "CNI_CONTAINERID"),
            ("CNI_CONTAINERID", "ab/c", "CNI_CONTAINERID"),
            ("CNI_IFNAME", "eth0:1", "CNI_IFNAME"),
            ("CNI_IFNAME", "a-very-long-name", "CNI_IFNAME"),
            ("CNI_ARGS", "FOO", "CNI_ARGS"),
            ("CNI_ARGS", "=1", "CNI_ARGS"),
        ];
        for (name, value, expect) in cases {
            let mut env = with_command("ADD", FULL);
            env.insert((*name).to_owned(), (*value).to_owned());
            let err = Invocation::from_env(&env).unwrap_err();
            assert_eq!(err.code(), 4, "{name}={value}");
            assert!(err.msg().contains(expect), "{err}");
        }
    }

    #[test]
    fn container_id_rule() {
        let ok = [
            "a",
            "A",
            "0",
            "abc-DEF_1.2",
            "0123456789abcdef",
            "a..",
            "a-",
        ];
        for s in ok {
            assert!(ContainerId::parse(s).is_ok(), "{s:?}");
        }
        let bad: &[(&str, NameError)] = &[
            ("", NameError::Empty),
            ("-a", NameError::BadStart('-')),
            ("_a", NameError::BadStart('_')),
            (".a", NameError::BadStart('.')),
            ("é", NameError::BadStart('é')),
            ("a b", NameError::BadChar(' ')),
            ("a/b", NameError::BadChar('/')),
            ("a:b", NameError::BadChar(':')),
            ("a\nb", NameError::BadChar('\n')),
            ("aé", NameError::BadChar('é')),
        ];
        for (s, want) in bad {
            assert_eq!(ContainerId::parse(s).unwrap_err(), *want, "{s:?}");
        }
    }

    #[test]
    fn ifname_rule() {
        let ok = [
            "eth0",
            "e",
            "net1.100",
            "a-b_c@d",
            "123456789012345",
            "-x",
            "é",
        ];
        for s in ok {
            assert!(IfName::parse(s).is_ok(), "{s:?}");
        }
        let bad: &[(&str, NameError)] = &[
            ("", NameError::Empty),
            ("1234567890123456", NameError::TooLong { len: 16, max: 15 }),
            // 8 two-byte characters: 16 bytes, though 8 chars.
            ("éééééééé", NameError::TooLong { len: 16, max: 15 }),
            (".", NameError::Dot),
            ("..", NameError::Dot),
            ("a/b", NameError::BadChar('/')),
            ("a:b", NameError::BadChar(':')),
            ("a b", NameError::BadChar(' ')),
            ("a\tb", NameError::BadChar('\t')),
            ("a\u{a0}b", NameError::BadChar('\u{a0}')),
        ];
        for (s, want) in bad {
            assert_eq!(IfName::parse(s).unwrap_err(), *want, "{s:?}");
        }
    }

    #[test]
    fn cni_args_parsing() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("", &[]),
            ("A=1", &[("A", "1")]),
            ("A=1;B=2", &[("A", "1"), ("B", "2")]),
            ("A=1;;B=2;", &[("A", "1"), ("B", "2")]),
            ("A=;B=x=y", &[("A", ""), ("B", "x=y")]),
            ("A=1;A=2", &[("A", "2")]),
            (
                "IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-5d78c9869d-abcde;K8S_POD_INFRA_CONTAINER_ID=0a1b;K8S_POD_UID=3f6c-11",
                &[
                    ("IgnoreUnknown", "1"),
                    ("K8S_POD_INFRA_CONTAINER_ID", "0a1b"),
                    ("K8S_POD_NAME", "coredns-5d78c9869d-abcde"),
                    ("K8S_POD_NAMESPACE", "kube-system"),
                    ("K8S_POD_UID", "3f6c-11"),
                ],
            ),
        ];
        for (s, want) in cases {
            let args = CniArgs::parse(s).unwrap();
            let got: Vec<(&str, &str)> = args.iter().collect();
            assert_eq!(&got, want, "{s:?}");
        }
        for bad in ["A", "A=1;B", "=1", "A=1;=2"] {
            assert_eq!(CniArgs::parse(bad).unwrap_err().code(), 4, "{bad:?}");
        }
    }

    /// The spec's interface-name rule, written independently of the code.
    fn ifname_model(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 15
            && s != "."
            && s != ".."
            && !s
                .chars()
                .any(|c| c == '/' || c == ':' || c.is_whitespace() || c == '\0')
    }

    proptest! {
        #[test]
        fn ifname_matches_model(s in "[a-z0-9./: \t\u{e9}-]{0,18}") {
            prop_assert_eq!(IfName::parse(&s).is_ok(), ifname_model(&s));
        }

        #[test]
        fn cni_args_round_trip(pairs in proptest::collection::btree_map("[A-Za-z0-9_]{1,8}", "[A-Za-z0-9_.=-]{0,8}", 0..6)) {
            let joined = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";");
            let args = CniArgs::parse(&joined).unwrap();
            let got: BTreeMap<String, String> = args.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            prop_assert_eq!(got, pairs);
        }

        #[test]
        fn from_env_never_panics(
            cmd in prop::sample::select(vec!["ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC", "X", ""]),
            id in ".{0,6}", netns in ".{0,4}", ifname in ".{0,17}", args in ".{0,8}", path in ".{0,8}",
        ) {
            let env = vars(&[("CNI_COMMAND", cmd), ("CNI_CONTAINERID", &id), ("CNI_NETNS", &netns),
                ("CNI_IFNAME", &ifname), ("CNI_ARGS", &args), ("CNI_PATH", &path)]);
            if let Err(e) = Invocation::from_env(&env) {
                prop_assert_eq!(e.code(), 4);
            }
        }
    }
}
