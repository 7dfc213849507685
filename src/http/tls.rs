//! HTTPS: the socket both `http/conn.rs` and `ws/client.rs` read and write (`Sock`: plain TCP or
//! a rustls server connection over it), and loading the certificate (`TLS_CERT_FILE`,
//! `TLS_KEY_FILE`) with start-up errors that name the variable.
//!
//! Nothing here blocks: the handshake advances inside `read`/`write` as readiness arrives, so
//! a handshake that never completes is just a connection whose head never came (closed after
//! the head timeout like any other). Encrypted bytes rustls could not hand to the kernel yet
//! stay in rustls; `flush` reports `WouldBlock` until they are gone, and the connection and the
//! WebSocket client treat that as "still writing".

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConnection;
use std::io::{self, Read, Write};
use std::sync::Arc;

/// Plaintext accepted into rustls ahead of the kernel: beyond this, `write` says `WouldBlock`.
const TLS_OUT_CAP: usize = 64 * 1024;

/// The short answer for plain HTTP arriving on the TLS port (never a hang, never a handshake
/// error the browser shows as "connection reset").
const PLAIN_ON_TLS: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 58\r\nConnection: close\r\n\r\nThis port speaks HTTPS: use https:// instead of http://.\r\n";

pub enum Sock {
    Plain(TcpStream),
    Tls(Box<TlsSock>),
}

pub struct TlsSock {
    tcp: TcpStream,
    tls: ServerConnection,
    /// Nothing has been read yet (the first byte tells TLS from plain HTTP).
    fresh: bool,
}

impl Sock {
    pub fn new(tcp: TcpStream, tls: Option<&Arc<rustls::ServerConfig>>) -> io::Result<Sock> {
        Ok(match tls {
            None => Sock::Plain(tcp),
            Some(cfg) => Sock::Tls(Box::new(TlsSock {
                tcp,
                tls: ServerConnection::new(cfg.clone()).map_err(io::Error::other)?,
                fresh: true,
            })),
        })
    }

    pub fn tcp(&self) -> &TcpStream {
        match self {
            Sock::Plain(t) => t,
            Sock::Tls(s) => &s.tcp,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Sock::Tls(_))
    }

    pub fn shutdown_write(&mut self) {
        if let Sock::Tls(s) = self {
            s.tls.send_close_notify();
            let _ = s.push_records();
        }
        let _ = self.tcp().shutdown(std::net::Shutdown::Write);
    }
}

impl TlsSock {
    /// Hands encrypted records to the kernel. Ok(true): nothing left in rustls.
    fn push_records(&mut self) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Plain HTTP on the TLS port: a TLS record starts with 0x16 (handshake); a method starts
    /// with an ASCII capital letter.
    fn refuse_plain_http(&mut self) -> io::Result<()> {
        if !self.fresh {
            return Ok(());
        }
        let mut b = [0u8; 1];
        match self.tcp.peek(&mut b) {
            Ok(1) if b[0].is_ascii_uppercase() => {
                self.fresh = false;
                let _ = self.tcp.write(PLAIN_ON_TLS);
                let _ = self.tcp.shutdown(std::net::Shutdown::Write);
                Err(io::Error::new(io::ErrorKind::InvalidData, "plain HTTP"))
            }
            Ok(1) => {
                self.fresh = false;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let s = match self {
            Sock::Plain(t) => return t.read(buf),
            Sock::Tls(s) => s,
        };
        loop {
            match s.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed without close_notify: treated as a plain EOF.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            s.refuse_plain_http()?;
            match s.tls.read_tls(&mut s.tcp) {
                Ok(0) => return Ok(0),
                Ok(_) => {
                    let processed = s.tls.process_new_packets();
                    // Handshake answers and alerts go out even when processing failed.
                    let _ = s.push_records();
                    processed.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    s.push_records()?;
                    return Err(e);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let s = match self {
            Sock::Plain(t) => return t.write(buf),
            Sock::Tls(s) => s,
        };
        s.push_records()?;
        // Before the handshake completes rustls buffers plaintext itself (sent once it is
        // done); either way the amount ahead of the kernel is bounded.
        if s.tls.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = s.tls.writer().write(&buf[..buf.len().min(TLS_OUT_CAP)])?;
        s.push_records()?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let s = match self {
            Sock::Plain(t) => return t.write_vectored(bufs),
            Sock::Tls(s) => s,
        };
        s.push_records()?;
        if s.tls.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        // rustls puts the slices into the same record(s); the cap bounds what is ahead of
        // the kernel as in `write`.
        let mut room = TLS_OUT_CAP;
        let mut capped: Vec<io::IoSlice<'_>> = Vec::with_capacity(bufs.len());
        for b in bufs.iter().filter(|b| !b.is_empty()) {
            if room == 0 {
                break;
            }
            let n = b.len().min(room);
            room -= n;
            capped.push(io::IoSlice::new(&b[..n]));
        }
        if capped.is_empty() {
            return Ok(0);
        }
        let n = s.tls.writer().write_vectored(&capped)?;
        s.push_records()?;
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sock::Plain(_) => Ok(()),
            Sock::Tls(s) => {
                if s.push_records()? {
                    Ok(())
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                }
            }
        }
    }
}

impl Source for Sock {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Sock::Plain(s) => s.register(r, t, i),
            Sock::Tls(s) => s.tcp.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Sock::Plain(s) => s.reregister(r, t, i),
            Sock::Tls(s) => s.tcp.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Sock::Plain(s) => s.deregister(r),
            Sock::Tls(s) => s.tcp.deregister(r),
        }
    }
}

/// The environment's HTTPS settings (`HTTPS_ENABLED`, `TLS_CERT_FILE`, `TLS_KEY_FILE`).
/// Ok(None): HTTPS off. Err: a start-up error naming the variable.
pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<TlsFiles>, String> {
    let on = get("HTTPS_ENABLED")
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    if !on {
        return Ok(None);
    }
    let need = |k: &str| match get(k).filter(|v| !v.trim().is_empty()) {
        Some(v) => Ok(std::path::PathBuf::from(v.trim())),
        None => Err(format!("HTTPS_ENABLED is on but {k} is not set")),
    };
    Ok(Some(TlsFiles {
        cert: need("TLS_CERT_FILE")?,
        key: need("TLS_KEY_FILE")?,
    }))
}

#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// A certificate this close to its notAfter is warned about (log and diagnostics).
pub const EXPIRY_WARNING_SECS: i64 = 14 * 86_400;

/// The warning, when `not_after` is within [`EXPIRY_WARNING_SECS`] of `now_unix`.
pub fn expiry_warning(not_after: i64, now_unix: i64) -> Option<String> {
    (not_after - now_unix < EXPIRY_WARNING_SECS).then(|| {
        format!(
            "TLS certificate (TLS_CERT_FILE) expires {} ({} days left): replace it; Pulse reloads it without a restart",
            crate::util::time::format_rfc3339(not_after, 0),
            (not_after - now_unix).max(0) / 86_400
        )
    })
}

pub fn warn_if_expiring(not_after: i64, now_unix: i64) {
    if let Some(w) = expiry_warning(not_after, now_unix) {
        crate::log_warn!("TLS certificate expires soon", detail = w);
    }
}

/// Reads and checks the certificate chain and key: every failure names its variable.
/// Returns the rustls configuration and the leaf's notAfter (Unix seconds).
pub fn load(files: &TlsFiles, now_unix: i64) -> Result<(Arc<rustls::ServerConfig>, i64), String> {
    let cert_pem = std::fs::read(&files.cert)
        .map_err(|e| format!("TLS_CERT_FILE {}: cannot read: {e}", files.cert.display()))?;
    let key_pem = std::fs::read(&files.key)
        .map_err(|e| format!("TLS_KEY_FILE {}: cannot read: {e}", files.key.display()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            format!(
                "TLS_CERT_FILE {}: not a PEM certificate: {e}",
                files.cert.display()
            )
        })?;
    if chain.is_empty() {
        return Err(format!(
            "TLS_CERT_FILE {}: no PEM certificate in the file",
            files.cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "TLS_KEY_FILE {}: no PKCS#8, RSA or EC private key: {e}",
            files.key.display()
        )
    })?;
    let not_after = crate::http::tls_cert::not_after(&chain[0]).ok_or_else(|| {
        format!(
            "TLS_CERT_FILE {}: certificate cannot be parsed",
            files.cert.display()
        )
    })?;
    if not_after < now_unix {
        return Err(format!(
            "TLS_CERT_FILE {}: certificate expired ({})",
            files.cert.display(),
            crate::util::time::format_rfc3339(not_after, 0)
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            format!(
                "TLS_KEY_FILE {} does not match TLS_CERT_FILE {}: {e}",
                files.key.display(),
                files.cert.display()
            )
        })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Resumption: rustls' in-memory session cache is on by default; tickets too.
    if let Ok(t) = rustls::crypto::ring::Ticketer::new() {
        cfg.ticketer = t;
    }
    Ok((Arc::new(cfg), not_after))
}

impl crate::http::conn::HalfClose for mio::net::TcpStream {
    fn shutdown_write(&mut self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

impl crate::http::conn::HalfClose for Sock {
    fn shutdown_write(&mut self) {
        Sock::shutdown_write(self);
    }
    fn is_tls(&self) -> bool {
        Sock::is_tls(self)
    }
}
