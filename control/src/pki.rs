//! The cluster's certificate authority, the API server's serving
//! certificate, and bearer tokens: generated material, no file I/O
//! ([`crate::datadir`] persists it).

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate and its private key, PEM-encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertifiedKey {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#8).
    pub key_pem: String,
}

/// Why material could not be generated or read.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Certificate generation or parsing failed.
    #[error("certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The OS random source failed.
    #[error("random source: {0}")]
    Random(#[from] getrandom::Error),
}

/// Valid from yesterday (clock skew between hosts) for `years` years.
fn set_validity(params: &mut CertificateParams, years: i16) {
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .date();
    let from = today.yesterday().unwrap_or(today);
    let until = today
        .checked_add(jiff::Span::new().years(years))
        .unwrap_or(today);
    params.not_before = rcgen::date_time_ymd(
        i32::from(from.year()),
        from.month().unsigned_abs(),
        from.day().unsigned_abs(),
    );
    params.not_after = rcgen::date_time_ymd(
        i32::from(until.year()),
        until.month().unsigned_abs(),
        until.day().unsigned_abs(),
    );
}

/// A new self-signed CA, valid for ten years.
pub fn new_ca() -> Result<CertifiedKey, PkiError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "strait-ca");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, 10);
    let cert = params.self_signed(&key)?;
    Ok(CertifiedKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A serving certificate for `names` (DNS names and IP addresses), signed
/// by `ca`.
pub fn serving_cert(ca: &CertifiedKey, names: &[String]) -> Result<CertifiedKey, PkiError> {
    let ca_key = KeyPair::from_pem(&ca.key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    set_validity(&mut params, 1);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(CertifiedKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The names the API server answers to: localhost, its listen address,
/// the `kubernetes` Service's ClusterIP and in-cluster DNS names.
pub fn serving_names(listen: IpAddr, kubernetes_service_ip: IpAddr) -> Vec<String> {
    let mut names: Vec<String> = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "127.0.0.1",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for ip in [listen, kubernetes_service_ip] {
        let ip = ip.to_string();
        if !ip.starts_with("0.") && ip != "::" && !names.contains(&ip) {
            names.push(ip);
        }
    }
    names
}

/// A new bearer token: 32 random bytes, hex-encoded.
pub fn new_token() -> Result<String, PkiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serving_cert_is_signed_by_the_ca_and_names_the_server() {
        let ca = new_ca().expect("ca");
        let names = serving_names(
            "0.0.0.0".parse().expect("ip"),
            "10.96.0.1".parse().expect("ip"),
        );
        assert!(names.contains(&"10.96.0.1".to_owned()));
        assert!(
            !names.iter().any(|n| n.starts_with("0.")),
            "the wildcard address is no name"
        );
        let serving = serving_cert(&ca, &names).expect("serving cert");
        // Valid now: a default rcgen validity would have expired decades ago.
        let (_, parsed) =
            x509_parser::pem::parse_x509_pem(serving.cert_pem.as_bytes()).expect("pem");
        let cert = parsed.parse_x509().expect("x509");
        assert!(cert.validity().is_valid(), "{:?}", cert.validity());
        assert!(serving.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(serving.key_pem.contains("PRIVATE KEY"));
        assert_ne!(serving.cert_pem, ca.cert_pem);
        // A corrupt CA key is an error, not a panic.
        let broken = CertifiedKey {
            key_pem: "not a key".into(),
            ..ca
        };
        assert!(serving_cert(&broken, &names).is_err());
    }

    #[test]
    fn tokens_are_long_random_and_distinct() {
        let a = new_token().expect("token");
        let b = new_token().expect("token");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
