//! A throwaway CA and a leaf certificate for loopback, generated at start with rcgen.
//!
//! Crypto provider rule: the workspace's reqwest 0.12 uses rustls with *ring*; this module
//! builds its `ServerConfig` with an explicit ring provider and never touches the
//! process-default provider (and never enables aws-lc-rs).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use time::{Duration, OffsetDateTime};

/// The generated material.
pub struct TlsMaterial {
    /// PEM of the CA certificate (what clients trust).
    pub ca_pem: String,
    pub server_config: Arc<ServerConfig>,
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Generate a CA and a leaf for `127.0.0.1`, `::1`, `localhost` (plus `extra_ip` when it is
/// not one of those and not unspecified), and build a rustls server config (ring provider,
/// ALPN `http/1.1`).
pub fn generate(extra_ip: IpAddr) -> std::io::Result<TlsMaterial> {
    let now = OffsetDateTime::now_utc();

    // --- CA ---
    let ca_key = KeyPair::generate().map_err(io_err)?;
    let mut ca_params = CertificateParams::default();
    let mut ca_dn = DistinguishedName::new();
    ca_dn.push(
        DnType::CommonName,
        "snsim throwaway CA (not a real instance)",
    );
    ca_dn.push(DnType::OrganizationName, "snsim");
    ca_params.distinguished_name = ca_dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = now - Duration::days(1);
    ca_params.not_after = now + Duration::days(30);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(io_err)?;
    let issuer = Issuer::new(ca_params, ca_key);

    // --- leaf ---
    let leaf_key = KeyPair::generate().map_err(io_err)?;
    let mut leaf_params = CertificateParams::default();
    let mut leaf_dn = DistinguishedName::new();
    leaf_dn.push(DnType::CommonName, "localhost");
    leaf_params.distinguished_name = leaf_dn;
    let mut ips = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if !extra_ip.is_unspecified() && !ips.contains(&extra_ip) {
        ips.push(extra_ip);
    }
    let mut sans = vec![SanType::DnsName(
        "localhost".to_string().try_into().map_err(io_err)?,
    )];
    sans.extend(ips.into_iter().map(SanType::IpAddress));
    leaf_params.subject_alt_names = sans;
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.not_before = now - Duration::days(1);
    leaf_params.not_after = now + Duration::days(30);
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(io_err)?;

    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io_err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(io_err)?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];

    Ok(TlsMaterial {
        ca_pem: ca_cert.pem(),
        server_config: Arc::new(server_config),
    })
}
