//! IP address and CIDR checks as kube-apiserver v1.33 applies them to legacy fields.
//!
//! Parsing follows `k8s.io/utils/net.ParseIPSloppy`/`ParseCIDRSloppy`: IPv4
//! octets may carry leading zeros, and an IPv4-mapped IPv6 address counts as
//! IPv4 (as Go's `net.IP` does). The strict-validation feature gate is off in
//! v1.33, so no canonical-form errors are reported. Pure parsing only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{FieldCause, Path};

/// Message for a value that is not an IP address.
pub const INVALID_IP: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
/// Message for a value that is not a CIDR.
pub const INVALID_CIDR: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

fn parse_ipv4_sloppy(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let trimmed = part.trim_start_matches('0');
        let value: u32 = if trimmed.is_empty() {
            0
        } else if trimmed.len() > 3 {
            return None;
        } else {
            trimmed.parse().ok()?
        };
        *octet = u8::try_from(value).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// Folds an IPv4-mapped IPv6 address to IPv4, as Go's `net.IP.To4` does.
fn fold(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Parses like `netutils.ParseIPSloppy`; IPv4-mapped IPv6 comes back as IPv4.
pub fn parse_ip_sloppy(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        s.parse::<Ipv6Addr>().ok().map(|v6| fold(IpAddr::V6(v6)))
    } else {
        parse_ipv4_sloppy(s).map(IpAddr::V4)
    }
}

/// Parses like `netutils.ParseCIDRSloppy`, returning the address and prefix length.
pub fn parse_cidr_sloppy(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = s.split_once('/')?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u32 = len.trim_start_matches('0').parse().unwrap_or(0);
    let ip = if addr.contains(':') {
        // A mapped address keeps its IPv6 prefix length, so do not fold here.
        IpAddr::V6(addr.parse::<Ipv6Addr>().ok()?)
    } else {
        IpAddr::V4(parse_ipv4_sloppy(addr)?)
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len.len() > 3 || bits > max {
        return None;
    }
    let bits = u8::try_from(bits).ok()?;
    Some((ip, bits))
}

/// The network a CIDR denotes, as (masked address, prefix length).
pub fn cidr_network(ip: IpAddr, bits: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// `IsValidIPForLegacyField` with strict validation off.
pub fn validate_ip(path: &Path, value: &str) -> Vec<FieldCause> {
    if parse_ip_sloppy(value).is_some() {
        Vec::new()
    } else {
        vec![FieldCause::invalid(path, value, INVALID_IP)]
    }
}

/// `IsValidCIDRForLegacyField` with strict validation off.
pub fn validate_cidr(path: &Path, value: &str) -> Vec<FieldCause> {
    if parse_cidr_sloppy(value).is_some() {
        Vec::new()
    } else {
        vec![FieldCause::invalid(path, value, INVALID_CIDR)]
    }
}

/// `ValidateEndpointIP`/`ValidateNonSpecialIP`: rejects addresses that make no
/// sense as a destination (unspecified, loopback, link-local).
pub fn validate_non_special_ip(path: &Path, value: &str) -> Vec<FieldCause> {
    let Some(ip) = parse_ip_sloppy(value) else {
        return vec![FieldCause::invalid(
            path,
            value,
            "must be a valid IP address",
        )];
    };
    let mut errs = Vec::new();
    let (unspecified, loopback, link_local, link_local_multicast) = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            (
                v4.is_unspecified(),
                v4.is_loopback(),
                o[0] == 169 && o[1] == 254,
                o[0] == 224 && o[1] == 0 && o[2] == 0,
            )
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            (
                v6.is_unspecified(),
                v6.is_loopback(),
                s[0] & 0xffc0 == 0xfe80,
                s[0] & 0xff0f == 0xff02,
            )
        }
    };
    if unspecified {
        errs.push(FieldCause::invalid(
            path,
            value,
            &format!("may not be unspecified ({value})"),
        ));
    }
    if loopback {
        errs.push(FieldCause::invalid(
            path,
            value,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    if link_local {
        errs.push(FieldCause::invalid(
            path,
            value,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if link_local_multicast {
        errs.push(FieldCause::invalid(
            path,
            value,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errs
}

/// Whether `values` hold at most one address of each family and at least one of each
/// when there are two (netutils `IsDualStackIPStrings`); `None` if any fails to parse.
pub fn is_dual_stack_ips(values: &[String]) -> Option<bool> {
    let mut v4 = false;
    let mut v6 = false;
    for v in values {
        match parse_ip_sloppy(v)? {
            IpAddr::V4(_) => v4 = true,
            IpAddr::V6(_) => v6 = true,
        }
    }
    Some(v4 && v6)
}

/// Like [`is_dual_stack_ips`] for CIDRs.
pub fn is_dual_stack_cidrs(values: &[String]) -> Option<bool> {
    let mut v4 = false;
    let mut v6 = false;
    for v in values {
        match parse_cidr_sloppy(v)?.0 {
            IpAddr::V4(_) => v4 = true,
            IpAddr::V6(_) => v6 = true,
        }
    }
    Some(v4 && v6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sloppy_ip_parsing() {
        for (input, ok) in [
            ("10.0.0.1", true),
            ("010.000.0.1", true),
            ("256.0.0.1", false),
            ("1.2.3", false),
            ("1.2.3.4.5", false),
            ("::1", true),
            ("2001:db8::ffff", true),
            ("::ffff:1.2.3.4", true),
            ("fe80::1%eth0", false),
            ("", false),
            ("None", false),
        ] {
            assert_eq!(parse_ip_sloppy(input).is_some(), ok, "{input}");
        }
        assert!(parse_ip_sloppy("::ffff:1.2.3.4").is_some_and(|ip| ip.is_ipv4()));
    }

    #[test]
    fn sloppy_cidr_parsing() {
        for (input, ok) in [
            ("10.0.0.0/24", true),
            ("10.0.0.1/24", true),
            ("10.0.0.0/33", false),
            ("10.0.0.0", false),
            ("fd00::/64", true),
            ("fd00::/129", false),
            ("10.0.0.0/", false),
        ] {
            assert_eq!(parse_cidr_sloppy(input).is_some(), ok, "{input}");
        }
    }

    #[test]
    fn special_ips_are_rejected() {
        let p = Path::new("ip");
        assert!(validate_non_special_ip(&p, "10.1.2.3").is_empty());
        for (ip, msg) in [
            (
                "0.0.0.0",
                "Invalid value: \"0.0.0.0\": may not be unspecified (0.0.0.0)",
            ),
            (
                "127.0.0.1",
                "Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
            ),
            (
                "169.254.1.1",
                "Invalid value: \"169.254.1.1\": may not be in the link-local range (169.254.0.0/16, fe80::/10)",
            ),
            (
                "fe80::1",
                "Invalid value: \"fe80::1\": may not be in the link-local range (169.254.0.0/16, fe80::/10)",
            ),
            (
                "224.0.0.5",
                "Invalid value: \"224.0.0.5\": may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
            ),
        ] {
            let errs = validate_non_special_ip(&p, ip);
            assert_eq!(errs.len(), 1, "{ip}");
            assert_eq!(errs[0].message, msg);
        }
    }

    #[test]
    fn dual_stack_detection() {
        let v = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(is_dual_stack_ips(&v(&["10.0.0.1", "fd00::1"])), Some(true));
        assert_eq!(
            is_dual_stack_ips(&v(&["10.0.0.1", "10.0.0.2"])),
            Some(false)
        );
        assert_eq!(is_dual_stack_ips(&v(&["x"])), None);
        assert_eq!(
            is_dual_stack_cidrs(&v(&["10.0.0.0/24", "fd00::/64"])),
            Some(true)
        );
        assert_eq!(
            cidr_network("10.1.2.3".parse().expect("ip"), 16),
            "10.1.0.0".parse::<IpAddr>().expect("ip")
        );
    }
}
