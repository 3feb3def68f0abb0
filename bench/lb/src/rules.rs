//! The peers' rule sets, generated in the shapes kube-proxy writes, for N
//! Services of one endpoint each with the benchmark's target Service last.
//! Pure text generation, no I/O.
//!
//! iptables mode (kube-proxy `proxier.go`): `KUBE-SERVICES` holds one rule
//! per Service port matching ClusterIP, protocol and port and jumping to a
//! per-Service `KUBE-SVC-*` chain; that chain picks an endpoint with
//! `statistic --mode random` rules jumping to per-endpoint `KUBE-SEP-*`
//! chains, which mark hairpin traffic for masquerade and DNAT. A packet to
//! the last Service walks every `KUBE-SERVICES` rule before it: that linear
//! walk is what the comparison exposes.
//!
//! nftables mode (kube-proxy's `nftables` proxier): one verdict map keyed by
//! ClusterIP . protocol . port jumping to a per-Service chain, which picks an
//! endpoint with `numgen random mod N vmap`; lookup cost does not grow with
//! the number of Services.

use std::{fmt::Write as _, net::Ipv4Addr};

/// One Service of the generated set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// Its ClusterIP.
    pub ip: Ipv4Addr,
    /// Its port (TCP).
    pub port: u16,
    /// Its endpoints (address, port).
    pub endpoints: Vec<(Ipv4Addr, u16)>,
}

/// `count` Services on ClusterIPs from 10.96.0.0/12 (skipping `.0`), each
/// with one endpoint in 10.250.0.0/16 that nothing answers on, except the
/// last: `target` on `target_ip`, whose endpoints are `target_endpoints`.
pub fn services(
    count: u32,
    target_ip: Ipv4Addr,
    port: u16,
    target_endpoints: &[(Ipv4Addr, u16)],
) -> Vec<Service> {
    let base = u32::from(Ipv4Addr::new(10, 96, 16, 0));
    let mut out: Vec<Service> = (0..count.saturating_sub(1))
        .map(|i| {
            let ip = Ipv4Addr::from(base + 1 + i);
            let filler = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 250, 0, 1)) + (i % 65_000));
            Service {
                ip,
                port,
                endpoints: vec![(filler, 8080)],
            }
        })
        .collect();
    out.push(Service {
        ip: target_ip,
        port,
        endpoints: target_endpoints.to_vec(),
    });
    out
}

/// kube-proxy's chain-name hash stand-in: 16 base32 characters of an
/// FNV-1a hash of `kind` and `index` (kube-proxy hashes the service port
/// name; only the length and uniqueness matter here).
fn chain_suffix(kind: &str, index: usize) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in kind.bytes().chain((index as u64).to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    (0..16)
        .map(|i| char::from(alphabet[((hash >> (i * 4)) & 31) as usize]))
        .collect()
}

/// An `iptables-restore` input in kube-proxy's iptables-mode shape.
pub fn iptables(services: &[Service]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "*nat");
    for chain in ["KUBE-SERVICES", "KUBE-MARK-MASQ", "KUBE-POSTROUTING"] {
        let _ = writeln!(out, ":{chain} - [0:0]");
    }
    let mut chains = String::new();
    let mut rules = String::new();
    for (index, service) in services.iter().enumerate() {
        let svc = format!("KUBE-SVC-{}", chain_suffix("svc", index));
        let _ = writeln!(chains, ":{svc} - [0:0]");
        let _ = writeln!(
            rules,
            "-A KUBE-SERVICES -d {}/32 -p tcp -m comment --comment \"default/svc-{index}:p cluster IP\" -m tcp --dport {} -j {svc}",
            service.ip, service.port
        );
        let n = service.endpoints.len();
        for (e, (ip, port)) in service.endpoints.iter().enumerate() {
            let sep = format!("KUBE-SEP-{}", chain_suffix(&format!("sep{e}"), index));
            let _ = writeln!(chains, ":{sep} - [0:0]");
            let remaining = n - e;
            if remaining > 1 {
                let _ = writeln!(
                    rules,
                    "-A {svc} -m comment --comment \"default/svc-{index}:p -> {ip}:{port}\" -m statistic --mode random --probability {:.10} -j {sep}",
                    1.0 / remaining as f64
                );
            } else {
                let _ = writeln!(
                    rules,
                    "-A {svc} -m comment --comment \"default/svc-{index}:p -> {ip}:{port}\" -j {sep}"
                );
            }
            let _ = writeln!(rules, "-A {sep} -s {ip}/32 -j KUBE-MARK-MASQ");
            let _ = writeln!(
                rules,
                "-A {sep} -p tcp -m comment --comment \"default/svc-{index}:p\" -m tcp -j DNAT --to-destination {ip}:{port}"
            );
        }
    }
    out.push_str(&chains);
    let _ = writeln!(
        out,
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
    );
    let _ = writeln!(
        out,
        "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
    );
    let _ = writeln!(out, "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000");
    let _ = writeln!(
        out,
        "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"
    );
    let _ = writeln!(
        out,
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
    );
    let _ = writeln!(out, "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0");
    let _ = writeln!(
        out,
        "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE"
    );
    out.push_str(&rules);
    let _ = writeln!(out, "COMMIT");
    out
}

/// An `nft -f` input in kube-proxy's nftables-mode shape (table
/// `ip kube-proxy`, replaced atomically).
pub fn nftables(services: &[Service]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "table ip kube-proxy {{}}\ndelete table ip kube-proxy\ntable ip kube-proxy {{"
    );
    let _ = writeln!(
        out,
        "\tmap service-ips {{\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict"
    );
    if !services.is_empty() {
        let _ = writeln!(out, "\t\telements = {{");
        for (index, service) in services.iter().enumerate() {
            let _ = writeln!(
                out,
                "\t\t\t{} . tcp . {} : goto service-{index},",
                service.ip, service.port
            );
        }
        let _ = writeln!(out, "\t\t}}");
    }
    let _ = writeln!(out, "\t}}");
    for (index, service) in services.iter().enumerate() {
        let n = service.endpoints.len();
        let _ = write!(
            out,
            "\tchain service-{index} {{\n\t\tnumgen random mod {n} vmap {{ "
        );
        let picks: Vec<String> = (0..n)
            .map(|e| format!("{e} : goto endpoint-{index}-{e}"))
            .collect();
        let _ = writeln!(out, "{} }}\n\t}}", picks.join(", "));
        for (e, (ip, port)) in service.endpoints.iter().enumerate() {
            let _ = writeln!(
                out,
                "\tchain endpoint-{index}-{e} {{\n\t\tip saddr {ip} jump mark-for-masquerade\n\t\tmeta l4proto tcp dnat to {ip}:{port}\n\t}}"
            );
        }
    }
    let _ = writeln!(
        out,
        "\tchain mark-for-masquerade {{\n\t\tmeta mark set meta mark | 0x4000\n\t}}\n\
         \tchain services {{\n\t\tip daddr . meta l4proto . th dport vmap @service-ips\n\t}}\n\
         \tchain nat-prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tjump services\n\t}}\n\
         \tchain nat-output {{\n\t\ttype nat hook output priority -100; policy accept;\n\t\tjump services\n\t}}\n\
         \tchain nat-postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tmeta mark & 0x4000 == 0x4000 masquerade\n\t}}\n}}"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Vec<Service> {
        services(
            3,
            Ipv4Addr::new(10, 96, 0, 10),
            80,
            &[
                (Ipv4Addr::new(10, 244, 1, 5), 8080),
                (Ipv4Addr::new(10, 244, 1, 6), 8080),
            ],
        )
    }

    #[test]
    fn the_target_comes_last_and_fillers_are_distinct() {
        let s = target();
        assert_eq!(s.len(), 3);
        assert_eq!(s[2].ip, Ipv4Addr::new(10, 96, 0, 10));
        assert_eq!(s[2].endpoints.len(), 2);
        assert_ne!(s[0].ip, s[1].ip);
        assert!(s.iter().take(2).all(|x| x.endpoints.len() == 1));
        // 100,000 Services stay inside 10.96.0.0/12 and never hit the target.
        let big = services(100_000, Ipv4Addr::new(10, 96, 0, 10), 80, &[]);
        let last_filler = big[big.len() - 2].ip;
        assert!(u32::from(last_filler) < u32::from(Ipv4Addr::new(10, 112, 0, 0)));
        assert!(
            big.iter()
                .filter(|x| x.ip == Ipv4Addr::new(10, 96, 0, 10))
                .count()
                == 1
        );
    }

    #[test]
    fn iptables_has_kube_proxys_chain_shape() {
        let text = iptables(&target());
        assert!(text.starts_with("*nat\n:KUBE-SERVICES - [0:0]\n"));
        assert!(text.trim_end().ends_with("COMMIT"));
        assert_eq!(text.matches("-A KUBE-SERVICES -d").count(), 3);
        // The target's rule is the last KUBE-SERVICES rule.
        let last = text
            .lines()
            .rfind(|l| l.starts_with("-A KUBE-SERVICES -d"))
            .unwrap_or_default();
        assert!(last.contains("-d 10.96.0.10/32"), "{last}");
        // Two endpoints: a 1/2 random pick, then the fall-through.
        assert!(text.contains("--probability 0.5000000000"));
        assert_eq!(text.matches("-j DNAT --to-destination").count(), 4);
        assert!(text.contains("--to-destination 10.244.1.6:8080"));
        // Every chain is declared once.
        let chains: Vec<&str> = text.lines().filter(|l| l.starts_with(':')).collect();
        let unique: std::collections::BTreeSet<&str> = chains.iter().copied().collect();
        assert_eq!(chains.len(), unique.len());
    }

    #[test]
    fn chain_names_stay_distinct_at_scale() {
        let mut seen = std::collections::BTreeSet::new();
        for index in 0..20_000 {
            for kind in ["svc", "sep0", "sep1", "sep2"] {
                assert!(seen.insert(chain_suffix(kind, index)), "{kind} {index}");
            }
        }
    }

    #[test]
    fn nftables_uses_one_verdict_map() {
        let text = nftables(&target());
        assert!(text.starts_with("table ip kube-proxy {}\ndelete table ip kube-proxy\n"));
        assert!(text.contains("10.96.0.10 . tcp . 80 : goto service-2,"));
        assert!(
            text.contains(
                "numgen random mod 2 vmap { 0 : goto endpoint-2-0, 1 : goto endpoint-2-1 }"
            )
        );
        assert!(text.contains("dnat to 10.244.1.6:8080"));
        assert_eq!(text.matches("type nat hook").count(), 3);
    }
}
