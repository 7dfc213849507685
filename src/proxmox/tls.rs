//! TLS policy for Proxmox connections: CA verification, "accept any" for self-signed
//! homelabs, or a pinned SHA-256 leaf fingerprint.
//!
//! Both non-CA modes still check the handshake signatures against the presented certificate,
//! so a man in the middle cannot replay the server's public certificate without its key.

use super::error::ProxmoxError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;

/// How the server certificate is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsPolicy {
    /// Chain must verify against the Mozilla roots (webpki-roots) and match the host name.
    Verify,
    /// Any certificate is accepted (Proxmox's default self-signed certs).
    AcceptAny,
    /// Only a leaf whose SHA-256 digest equals this one is accepted.
    Pinned([u8; 32]),
}

impl TlsPolicy {
    /// Pulse's precedence: a fingerprint wins over `verify_ssl`.
    pub fn from_settings(
        verify_ssl: bool,
        fingerprint: Option<&str>,
    ) -> Result<Self, ProxmoxError> {
        match fingerprint.map(str::trim).filter(|f| !f.is_empty()) {
            Some(fp) => Ok(TlsPolicy::Pinned(parse_fingerprint(fp)?)),
            None if verify_ssl => Ok(TlsPolicy::Verify),
            None => Ok(TlsPolicy::AcceptAny),
        }
    }
}

/// Parses `AA:BB:...` or plain hex (any case) into 32 bytes.
pub fn parse_fingerprint(fp: &str) -> Result<[u8; 32], ProxmoxError> {
    let hex: String = fp
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let bytes = data_encoding::HEXLOWER
        .decode(hex.as_bytes())
        .map_err(|_| ProxmoxError::Config("fingerprint is not hex".into()))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| ProxmoxError::Config("fingerprint must be a SHA-256 (32 bytes)".into()))
}

pub use pulse_wire::fingerprint_of;

/// The ring provider, always explicit (never rustls's process default).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client configuration implementing `policy`.
pub fn client_config(policy: &TlsPolicy) -> Result<Arc<rustls::ClientConfig>, ProxmoxError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProxmoxError::Tls(e.to_string()))?;
    let config = match policy {
        TlsPolicy::Verify => {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        TlsPolicy::AcceptAny => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(LeafVerifier {
                pin: None,
                provider,
            }))
            .with_no_client_auth(),
        TlsPolicy::Pinned(pin) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(LeafVerifier {
                pin: Some(*pin),
                provider,
            }))
            .with_no_client_auth(),
    };
    let mut config = config;
    // One configuration per upstream address: a handful of sessions to resume is all it can
    // use. rustls' default cache (256 sessions) costs ~0.7 MB per configuration up front.
    config.resumption = rustls::client::Resumption::in_memory_sessions(SESSION_CACHE);
    Ok(Arc::new(config))
}

/// TLS sessions each client configuration keeps for resumption.
const SESSION_CACHE: usize = 8;

/// Accepts the leaf if it matches `pin` (or any leaf without a pin), and verifies handshake
/// signatures with the provider's algorithms.
#[derive(Debug)]
struct LeafVerifier {
    pin: Option<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for LeafVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(pin) = self.pin else {
            return Ok(ServerCertVerified::assertion());
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
        // Constant-time comparison: the pin is not secret, but there is no reason to leak it.
        let diff = digest
            .as_ref()
            .iter()
            .zip(pin.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 && digest.as_ref().len() == pin.len() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_parsing_ignores_colons_and_case() {
        let a = parse_fingerprint(&"AB:".repeat(32)[..95]).ok();
        let b = parse_fingerprint(&"ab".repeat(32)).ok();
        assert!(a.is_some());
        assert_eq!(a, b);
        assert!(parse_fingerprint("abcd").is_err());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn fingerprint_formatting_round_trips() {
        let fp = fingerprint_of(b"certificate bytes");
        assert_eq!(fp.len(), 95);
        assert!(parse_fingerprint(&fp).is_ok());
    }

    #[test]
    fn fingerprint_takes_precedence_over_verify_ssl() {
        let fp = "ab".repeat(32);
        assert!(matches!(
            TlsPolicy::from_settings(true, Some(&fp)),
            Ok(TlsPolicy::Pinned(_))
        ));
        assert_eq!(
            TlsPolicy::from_settings(true, Some("  ")).ok(),
            Some(TlsPolicy::Verify)
        );
        assert_eq!(
            TlsPolicy::from_settings(false, None).ok(),
            Some(TlsPolicy::AcceptAny)
        );
    }

    #[test]
    fn configs_build_for_every_policy() {
        for p in [
            TlsPolicy::Verify,
            TlsPolicy::AcceptAny,
            TlsPolicy::Pinned([0; 32]),
        ] {
            assert!(client_config(&p).is_ok());
        }
    }
}
