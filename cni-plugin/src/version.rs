//! CNI specification versions: the ones strait speaks, which commands each
//! allows, and the `VERSION` command's answer.
//!
//! It must not know result or configuration shapes beyond the `cniVersion`
//! key: `result` and `netconf` ask it which version is in play.

use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};

use crate::env::Command;
use crate::error::CniError;

/// A CNI specification version strait supports, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CniVersion {
    /// 0.3.0: rich result type, plugin chaining.
    V0_3_0,
    /// 0.3.1: typo fixes only.
    V0_3_1,
    /// 0.4.0: CHECK, prevResult on DEL.
    V0_4_0,
    /// 1.0.0: no `version` in `ips`, configuration lists only.
    V1_0_0,
    /// 1.1.0: STATUS, GC, interface `mtu`/`socketPath`/`pciID`, route attributes.
    V1_1_0,
}

/// Every supported version, oldest first, as `VERSION` reports them.
pub const SUPPORTED: [CniVersion; 5] = [
    CniVersion::V0_3_0,
    CniVersion::V0_3_1,
    CniVersion::V0_4_0,
    CniVersion::V1_0_0,
    CniVersion::V1_1_0,
];

impl CniVersion {
    /// The newest version strait speaks, used when a request names none.
    pub const LATEST: Self = Self::V1_1_0;

    /// The version as the spec spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V0_3_0 => "0.3.0",
            Self::V0_3_1 => "0.3.1",
            Self::V0_4_0 => "0.4.0",
            Self::V1_0_0 => "1.0.0",
            Self::V1_1_0 => "1.1.0",
        }
    }

    /// Parses a `cniVersion` value: code 6 if it is not `MAJOR.MINOR.PATCH`
    /// (the spec's "failed to decode version info from string"), code 1 if it
    /// is a version strait does not support.
    pub fn parse(s: &str) -> Result<Self, CniError> {
        let triple = parse_triple(s).ok_or_else(|| {
            CniError::decode(
                "invalid cniVersion",
                format!("{s:?} is not a MAJOR.MINOR.PATCH version"),
            )
        })?;
        SUPPORTED
            .into_iter()
            .find(|v| parse_triple(v.as_str()) == Some(triple))
            .ok_or_else(|| {
                CniError::incompatible_version(
                    "incompatible CNI version",
                    format!(
                        "config version {s} is not supported; plugin supports {}",
                        supported_list()
                    ),
                )
            })
    }

    /// Whether a configuration of this version may carry `command`: CHECK
    /// exists from 0.4.0, STATUS and GC from 1.1.0.
    pub fn allows(self, command: Command) -> bool {
        self >= command.since()
    }

    /// Code 1 unless this version [`allows`](Self::allows) `command`.
    pub fn check_command(self, command: Command) -> Result<(), CniError> {
        if self.allows(command) {
            Ok(())
        } else {
            Err(CniError::incompatible_version(
                format!("config version does not allow {}", command.as_str()),
                format!(
                    "{} needs cniVersion {} or newer; config has {}",
                    command.as_str(),
                    command.since(),
                    self
                ),
            ))
        }
    }

    /// Whether results of this version carry `"version": "4"|"6"` in `ips`
    /// (0.3.x and 0.4.0; removed in 1.0.0).
    pub fn ips_have_version(self) -> bool {
        self < Self::V1_0_0
    }

    /// Whether results of this version carry 1.1.0's interface `mtu`,
    /// `socketPath`, `pciID` and route `mtu`, `advmss`, `priority`, `table`,
    /// `scope`.
    pub fn has_1_1_fields(self) -> bool {
        self >= Self::V1_1_0
    }
}

impl fmt::Display for CniVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CniVersion {
    type Err = CniError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// `MAJOR.MINOR.PATCH` with decimal components and nothing else; `None`
/// otherwise. Leading zeros are accepted, as `0` is itself a component.
fn parse_triple(s: &str) -> Option<(u64, u64, u64)> {
    let mut parts = s.split('.');
    let mut next = || -> Option<u64> {
        let part = parts.next()?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let triple = (next()?, next()?, next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(triple)
}

fn supported_list() -> String {
    SUPPORTED
        .iter()
        .map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The answer to `VERSION`, given the bytes the runtime sent on stdin.
///
/// `cniVersion` echoes the request's, as the spec says, even when strait does
/// not support it: `VERSION` is how a runtime finds out what a plugin speaks,
/// so it must not fail for an unknown version. Empty stdin (libcni's skel
/// ignores it) or a request without `cniVersion` is answered with 1.1.0.
/// Non-JSON input, a non-object, a non-string `cniVersion` or one that is not
/// `MAJOR.MINOR.PATCH` is code 6.
pub fn version_output(stdin: &[u8]) -> Result<Value, CniError> {
    let asked = requested_version(stdin)?;
    let echoed = asked.unwrap_or_else(|| CniVersion::LATEST.as_str().to_owned());
    Ok(json!({
        "cniVersion": echoed,
        "supportedVersions": SUPPORTED.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
    }))
}

fn requested_version(stdin: &[u8]) -> Result<Option<String>, CniError> {
    if stdin.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(stdin)
        .map_err(|e| CniError::decode("VERSION input is not JSON", e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(CniError::decode("VERSION input is not a JSON object", ""));
    };
    match obj.get("cniVersion") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => {
            if parse_triple(s).is_none() {
                return Err(CniError::decode(
                    "invalid cniVersion",
                    format!("{s:?} is not a MAJOR.MINOR.PATCH version"),
                ));
            }
            Ok(Some(s.clone()))
        }
        Some(_) => Err(CniError::decode("cniVersion must be a string", "")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_every_supported_version() {
        for v in SUPPORTED {
            assert_eq!(CniVersion::parse(v.as_str()), Ok(v));
            assert_eq!(v.to_string(), v.as_str());
        }
    }

    #[test]
    fn rejects_with_the_right_code() {
        let cases: &[(&str, u32)] = &[
            // Well-formed but not spoken: 1.
            ("0.1.0", 1),
            ("0.2.0", 1),
            ("0.4.1", 1),
            ("1.2.0", 1),
            ("2.0.0", 1),
            // Not a version at all: 6.
            ("", 6),
            ("1.0", 6),
            ("1", 6),
            ("1.0.0.0", 6),
            ("v1.0.0", 6),
            ("1.0.0-rc1", 6),
            ("1..0", 6),
            (" 1.0.0", 6),
            ("1.0.+0", 6),
            ("99999999999999999999.0.0", 6),
        ];
        for (s, code) in cases {
            let err = CniVersion::parse(s).unwrap_err();
            assert_eq!(err.code(), *code, "{s:?}: {err}");
        }
    }

    #[test]
    fn leading_zeros_denote_the_same_version() {
        assert_eq!(CniVersion::parse("01.00.000"), Ok(CniVersion::V1_0_0));
    }

    #[test]
    fn command_gates_follow_the_spec() {
        use CniVersion::*;
        use Command::*;
        // (version, command, allowed)
        let cases = [
            (V0_3_0, Add, true),
            (V0_3_0, Del, true),
            (V0_3_0, Version, true),
            (V0_3_0, Check, false),
            (V0_3_1, Check, false),
            (V0_4_0, Check, true),
            (V0_4_0, Gc, false),
            (V0_4_0, Status, false),
            (V1_0_0, Check, true),
            (V1_0_0, Gc, false),
            (V1_0_0, Status, false),
            (V1_1_0, Gc, true),
            (V1_1_0, Status, true),
            (V1_1_0, Check, true),
        ];
        for (v, cmd, allowed) in cases {
            assert_eq!(v.allows(cmd), allowed, "{v} {cmd:?}");
            match v.check_command(cmd) {
                Ok(()) => assert!(allowed),
                Err(e) => {
                    assert!(!allowed);
                    assert_eq!(e.code(), 1);
                    assert!(e.msg().contains(cmd.as_str()), "{e}");
                }
            }
        }
    }

    #[test]
    fn result_shape_flags() {
        assert!(CniVersion::V0_3_0.ips_have_version());
        assert!(CniVersion::V0_4_0.ips_have_version());
        assert!(!CniVersion::V1_0_0.ips_have_version());
        assert!(!CniVersion::V1_0_0.has_1_1_fields());
        assert!(CniVersion::V1_1_0.has_1_1_fields());
    }

    #[test]
    fn version_output_echoes_or_defaults() {
        let supported = json!(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
        let cases: &[(&[u8], &str)] = &[
            (b"", "1.1.0"),
            (b"  \n", "1.1.0"),
            (b"{}", "1.1.0"),
            (br#"{"cniVersion":""}"#, "1.1.0"),
            (br#"{"cniVersion":null}"#, "1.1.0"),
            (br#"{"cniVersion":"0.4.0"}"#, "0.4.0"),
            (br#"{"cniVersion":"1.0.0","name":"x"}"#, "1.0.0"),
            // A probe for a version strait does not speak still answers.
            (br#"{"cniVersion":"1.2.0"}"#, "1.2.0"),
        ];
        for (stdin, echoed) in cases {
            let out = version_output(stdin).unwrap();
            assert_eq!(
                out,
                json!({"cniVersion": echoed, "supportedVersions": supported}),
                "{}",
                String::from_utf8_lossy(stdin)
            );
        }
    }

    #[test]
    fn version_output_rejects_undecodable_input() {
        let cases: &[&[u8]] = &[
            b"not json",
            b"[]",
            b"\"1.0.0\"",
            br#"{"cniVersion": 1}"#,
            br#"{"cniVersion": "one"}"#,
        ];
        for stdin in cases {
            let err = version_output(stdin).unwrap_err();
            assert_eq!(err.code(), 6, "{}", String::from_utf8_lossy(stdin));
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepts_only_supported(s in ".{0,24}") {
            if let Ok(v) = CniVersion::parse(&s) {
                prop_assert!(SUPPORTED.contains(&v));
                prop_assert_eq!(parse_triple(&s), parse_triple(v.as_str()));
            }
        }

        #[test]
        fn well_formed_versions_are_never_decode_errors(a in 0u64..5, b in 0u64..5, c in 0u64..5) {
            let s = format!("{a}.{b}.{c}");
            match CniVersion::parse(&s) {
                Ok(v) => prop_assert_eq!(v.as_str(), s),
                Err(e) => prop_assert_eq!(e.code(), 1),
            }
        }
    }
}
