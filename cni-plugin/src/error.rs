//! The CNI error object: a numeric code, a short message and optional details,
//! rendered as the JSON the spec asks a failing plugin to print.
//!
//! Every other module maps its failures to a [`CniError`] here, once, at the
//! protocol edge. This module must not decide *which* code a situation deserves
//! beyond the constructors' names, and must not print or exit: the binary does.

use serde_json::{Map, Value};

use crate::version::CniVersion;

/// A plugin-specific error code, which the spec reserves at 100 and above.
///
/// The type exists so that a plugin code can never collide with a well-known
/// one: the only ways to get one are the constants below and [`PluginCode::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PluginCode(u32);

impl PluginCode {
    /// The pod CIDR has no free address left for a new attachment.
    pub const IPAM_EXHAUSTED: Self = Self(101);

    /// A plugin code, or `None` if `code` is below 100 (reserved by the spec).
    pub const fn new(code: u32) -> Option<Self> {
        if code >= 100 { Some(Self(code)) } else { None }
    }

    /// The numeric value.
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// A CNI error result: `{"cniVersion","code","msg","details"}` once rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CNI error {code}: {msg}{}", details_suffix(.details))]
pub struct CniError {
    code: u32,
    msg: String,
    details: String,
}

fn details_suffix(details: &str) -> String {
    if details.is_empty() {
        String::new()
    } else {
        format!(" ({details})")
    }
}

impl CniError {
    /// Code 1: incompatible CNI version.
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    /// Code 2: unsupported field in the network configuration.
    pub const UNSUPPORTED_FIELD: u32 = 2;
    /// Code 3: container unknown or does not exist.
    pub const UNKNOWN_CONTAINER: u32 = 3;
    /// Code 4: invalid necessary environment variables.
    pub const INVALID_ENV: u32 = 4;
    /// Code 5: I/O failure.
    pub const IO: u32 = 5;
    /// Code 6: failed to decode content.
    pub const DECODE: u32 = 6;
    /// Code 7: invalid network config.
    pub const INVALID_CONFIG: u32 = 7;
    /// Code 11: try again later.
    pub const TRY_AGAIN_LATER: u32 = 11;
    /// Code 50 (STATUS, spec 1.1): the plugin cannot service ADD requests.
    pub const UNAVAILABLE: u32 = 50;
    /// Code 51 (STATUS, spec 1.1): unavailable, and existing containers may
    /// have limited connectivity.
    pub const UNAVAILABLE_DEGRADED: u32 = 51;

    fn new(code: u32, msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            details: details.into(),
        }
    }

    /// Code 1: the configuration asks for a version or command this plugin
    /// does not support.
    pub fn incompatible_version(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(Self::INCOMPATIBLE_VERSION, msg, details)
    }

    /// Code 2: the spec requires the message to name the key and its value.
    pub fn unsupported_field(key: &str, value: &str) -> Self {
        Self::new(
            Self::UNSUPPORTED_FIELD,
            format!("unsupported field {key}={value}"),
            "",
        )
    }

    /// Code 3: the container is unknown; the runtime need not clean up.
    pub fn unknown_container(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(Self::UNKNOWN_CONTAINER, msg, details)
    }

    /// Code 4: the message must name the offending variables.
    pub fn invalid_env(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(Self::INVALID_ENV, msg, details)
    }

    /// Code 5: an I/O operation failed.
    pub fn io(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(Self::IO, msg, details)
    }

    /// Code 6: content could not be decoded (not JSON, wrong JSON types).
    pub fn decode(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(Self::DECODE, msg, details)
    }

    /// Code 7: the configuration decodes but is not valid.
    pub fn invalid_config(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(Self::INVALID_CONFIG, msg, details)
    }

    /// Code 11: a transient condition; the runtime should retry.
    pub fn try_again_later(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(Self::TRY_AGAIN_LATER, msg, details)
    }

    /// Code 50: STATUS answer when ADD cannot be serviced.
    pub fn unavailable(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(Self::UNAVAILABLE, msg, details)
    }

    /// Code 51: STATUS answer when ADD cannot be serviced and existing
    /// containers may have limited connectivity.
    pub fn unavailable_degraded(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(Self::UNAVAILABLE_DEGRADED, msg, details)
    }

    /// A plugin-specific error (code 100 or above).
    pub fn plugin(code: PluginCode, msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code.get(), msg, details)
    }

    /// The numeric code.
    pub fn code(&self) -> u32 {
        self.code
    }

    /// The short message.
    pub fn msg(&self) -> &str {
        &self.msg
    }

    /// The longer description; empty when there is none.
    pub fn details(&self) -> &str {
        &self.details
    }

    /// The spec's error object for `version`. `details` is omitted when empty,
    /// as 0.4.0 marks it optional and libcni omits it too.
    pub fn render(&self, version: CniVersion) -> Value {
        let mut obj = Map::new();
        obj.insert("cniVersion".into(), version.as_str().into());
        obj.insert("code".into(), self.code.into());
        obj.insert("msg".into(), self.msg.clone().into());
        if !self.details.is_empty() {
            obj.insert("details".into(), self.details.clone().into());
        }
        Value::Object(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn constructors_carry_the_spec_codes() {
        let cases: Vec<(CniError, u32)> = vec![
            (CniError::incompatible_version("m", ""), 1),
            (CniError::unsupported_field("k", "v"), 2),
            (CniError::unknown_container("m", ""), 3),
            (CniError::invalid_env("m", ""), 4),
            (CniError::io("m", ""), 5),
            (CniError::decode("m", ""), 6),
            (CniError::invalid_config("m", ""), 7),
            (CniError::try_again_later("m", ""), 11),
            (CniError::unavailable("m", ""), 50),
            (CniError::unavailable_degraded("m", ""), 51),
            (CniError::plugin(PluginCode::IPAM_EXHAUSTED, "m", ""), 101),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code, "{err}");
        }
    }

    #[test]
    fn plugin_codes_below_100_are_refused() {
        assert_eq!(PluginCode::new(0), None);
        assert_eq!(PluginCode::new(11), None);
        assert_eq!(PluginCode::new(99), None);
        assert_eq!(PluginCode::new(100).map(PluginCode::get), Some(100));
        assert_eq!(PluginCode::new(999).map(PluginCode::get), Some(999));
    }

    #[test]
    fn unsupported_field_names_key_and_value() {
        let err = CniError::unsupported_field("vxlan.port", "0");
        assert!(err.msg().contains("vxlan.port"));
        assert!(err.msg().contains('0'));
    }

    #[test]
    fn renders_the_spec_object() {
        let err = CniError::invalid_config(
            "Invalid Configuration",
            "Network 192.168.0.0/31 too small to allocate from.",
        );
        assert_eq!(
            err.render(CniVersion::V1_1_0),
            json!({
                "cniVersion": "1.1.0",
                "code": 7,
                "msg": "Invalid Configuration",
                "details": "Network 192.168.0.0/31 too small to allocate from."
            })
        );
    }

    #[test]
    fn render_omits_empty_details_and_uses_the_given_version() {
        let err = CniError::try_again_later("store busy", "");
        assert_eq!(
            err.render(CniVersion::V0_3_1),
            json!({"cniVersion": "0.3.1", "code": 11, "msg": "store busy"})
        );
    }

    #[test]
    fn display_includes_code_msg_and_details() {
        assert_eq!(
            CniError::decode("bad json", "line 1").to_string(),
            "CNI error 6: bad json (line 1)"
        );
        assert_eq!(
            CniError::decode("bad json", "").to_string(),
            "CNI error 6: bad json"
        );
    }
}
