//! HTTPS for the mock: a self-signed certificate for `localhost` and `127.0.0.1`, generated at
//! start (rcgen), served by rustls with ALPN `h2` and `http/1.1`.

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// The TLS side of a started server: the acceptor and the certificate clients must trust.
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    /// The self-signed certificate, PEM (it is its own trust anchor).
    pub(crate) cert_pem: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

fn io_err(what: &str, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("contree-mock TLS setup: {what}: {e}"))
}

/// Generates a fresh key and certificate and builds the rustls server config.
pub(crate) fn generate() -> std::io::Result<Tls> {
    let key = rcgen::KeyPair::generate().map_err(|e| io_err("generating a key", e))?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .map_err(|e| io_err("certificate parameters", e))?;
    params.is_ca = rcgen::IsCa::NoCa;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "contree-mock");
    let cert = params
        .self_signed(&key)
        .map_err(|e| io_err("signing the certificate", e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io_err("protocol versions", e))?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .map_err(|e| io_err("installing the certificate", e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        cert_pem: cert.pem(),
    })
}
