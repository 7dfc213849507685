//! Self-signed certificates for the simulator's HTTPS listeners, generated at start so no key
//! material ever sits in the repository.

use pulse_wire::fingerprint_of;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

/// A server identity: rustls config plus the SHA-256 fingerprint clients pin.
pub struct Identity {
    pub config: Arc<rustls::ServerConfig>,
    pub fingerprint: String,
}

/// A fresh self-signed certificate for `localhost` / `127.0.0.1`.
pub fn generate() -> Result<Identity, String> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
    let der: CertificateDer<'static> = certified.cert.der().clone();
    let fingerprint = fingerprint_of(der.as_ref());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(vec![der], key)
    .map_err(|e| e.to_string())?;
    Ok(Identity {
        config: Arc::new(config),
        fingerprint,
    })
}
