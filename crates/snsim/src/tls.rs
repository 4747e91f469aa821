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
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// A CA (with its signing key) and a leaf chain `[leaf, ca]` with its private key.
struct Chain {
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn make_chain(ca_name: &str, extra_ip: IpAddr) -> std::io::Result<Chain> {
    let now = OffsetDateTime::now_utc();

    // --- CA ---
    let ca_key = KeyPair::generate().map_err(io_err)?;
    let mut ca_params = CertificateParams::default();
    let mut ca_dn = DistinguishedName::new();
    ca_dn.push(DnType::CommonName, ca_name);
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

    Ok(Chain {
        ca_pem: ca_cert.pem(),
        chain: vec![leaf_cert.der().clone(), ca_cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    })
}

/// Picks the trusted chain, or (switch `untrusted_certificate`) a chain from a second CA
/// that clients do not trust.
#[derive(Debug)]
struct SwitchableCert {
    trusted: Arc<CertifiedKey>,
    untrusted: Arc<CertifiedKey>,
    use_untrusted: Arc<AtomicBool>,
}

impl ResolvesServerCert for SwitchableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(if self.use_untrusted.load(Ordering::SeqCst) {
            self.untrusted.clone()
        } else {
            self.trusted.clone()
        })
    }
}

/// Generate a CA and a leaf for `127.0.0.1`, `::1`, `localhost` (plus `extra_ip` when it is
/// not one of those and not unspecified), a second untrusted chain, and build a rustls
/// server config (ring provider, ALPN `http/1.1`).
pub fn generate(extra_ip: IpAddr, use_untrusted: Arc<AtomicBool>) -> std::io::Result<TlsMaterial> {
    let trusted = make_chain("snsim throwaway CA (not a real instance)", extra_ip)?;
    let untrusted = make_chain("snsim UNTRUSTED CA (fault injection)", extra_ip)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certified = |c: Chain| -> std::io::Result<Arc<CertifiedKey>> {
        let key = provider
            .key_provider
            .load_private_key(c.key)
            .map_err(io_err)?;
        Ok(Arc::new(CertifiedKey::new(c.chain, key)))
    };
    let ca_pem = trusted.ca_pem.clone();
    let resolver = SwitchableCert {
        trusted: certified(trusted)?,
        untrusted: certified(untrusted)?,
        use_untrusted,
    };
    let mut server_config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(io_err)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];

    Ok(TlsMaterial {
        ca_pem,
        server_config: Arc::new(server_config),
    })
}
