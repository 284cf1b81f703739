//! HTTPS for the portal, terminated by this process with rustls (ring).
//!
//! The certificate and key are read once at start, so a bad file stops the start
//! with a message naming it rather than failing every handshake later. Handshakes
//! run in their own tasks off the accept loop, so a slow or silent client cannot
//! hold up everyone else; finished connections are handed to `axum::serve`
//! through [`TlsListener`], which keeps graceful shutdown and the peer address
//! (`ConnectInfo<SocketAddr>`) exactly as on plain HTTP. A browser that comes
//! with plain HTTP gets a short answer telling it to use https://.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::debug;

/// Longest a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most handshakes in progress at once; further connections wait in the kernel's
/// accept queue.
const HANDSHAKES_AT_ONCE: usize = 256;

/// A loaded certificate chain and key, ready to serve.
#[derive(Debug)]
pub struct TlsMaterial {
    /// The rustls configuration (HTTP/1.1 over ALPN).
    pub config: Arc<ServerConfig>,
    /// The leaf certificate names itself as its issuer.
    pub self_signed: bool,
}

/// Reads `cert` (PEM chain, leaf first) and `key` (PEM: PKCS#8, RSA or SEC1),
/// checks that they belong together, and builds the server configuration.
/// Every error names the file at fault.
pub fn load(cert: &Path, key: &Path) -> anyhow::Result<TlsMaterial> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = read_chain(cert)?;
    let self_signed = is_self_signed(&chain[0])
        .with_context(|| format!("portal.tls_cert {}: the certificate", cert.display()))?;
    let key_der = read_key(key)?;
    let certified = certified_key(chain, key_der, &provider).with_context(|| {
        format!(
            "portal.tls_key {} does not fit portal.tls_cert {}",
            key.display(),
            cert.display()
        )
    })?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        config: Arc::new(config),
        self_signed,
    })
}

fn read_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading portal.tls_cert {}", path.display()))?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("portal.tls_cert {} is not valid PEM", path.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "portal.tls_cert {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        path.display()
    );
    Ok(chain)
}

fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading portal.tls_key {}", path.display()))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "portal.tls_key {} holds no usable private key (PEM: PKCS#8, RSA or SEC1): {e}",
            path.display()
        )
    })
}

/// The chain with its key, refused when the key cannot sign or is another
/// certificate's.
fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    provider: &CryptoProvider,
) -> anyhow::Result<CertifiedKey> {
    let signing = provider
        .key_provider
        .load_private_key(key)
        .context("the key is of a kind rustls cannot sign with")?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .context("the key is not the certificate's")?;
    Ok(certified)
}

/// Whether a certificate is its own issuer (issuer name equals subject name), the
/// mark of a self-signed certificate no browser trusts out of the box.
pub fn is_self_signed(leaf: &CertificateDer<'_>) -> anyhow::Result<bool> {
    let parsed = webpki::EndEntityCert::try_from(leaf)
        .map_err(|e| anyhow::anyhow!("cannot be parsed as X.509: {e}"))?;
    Ok(parsed.issuer() == parsed.subject())
}

/// A listener for `axum::serve` that yields connections whose TLS handshake has
/// finished. Dropping it (when the server stops) ends the accept task and frees
/// the port.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp` and handshaking with `config`.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx));
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept task ends only when this listener is gone; until then
            // there is nothing to hand out, so wait like an idle socket would.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// What a plain-HTTP request to the HTTPS port gets: a short page saying so,
/// rather than the browser's "connection reset".
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\
    X-Content-Type-Options: nosniff\r\n\
    Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n\
    Cache-Control: no-store\r\n\
    Connection: close\r\n\
    Content-Length: 56\r\n\r\n\
    This address speaks HTTPS: put https:// in front of it.\n";

/// Whether the client's first byte opens a TLS handshake record (0x16); false
/// for anything else, a closed connection included.
async fn starts_with_tls(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first).await, Ok(1) if first[0] == 0x16)
}

/// Reads what the client sent (so closing does not reset the connection before
/// the answer arrives), answers [`PLAIN_HTTP_ANSWER`] and closes.
async fn refuse_plain_http(mut stream: TcpStream) {
    let mut request = [0u8; 4096];
    if matches!(stream.read(&mut request).await, Ok(0) | Err(_)) {
        return;
    }
    let _ = stream.write_all(PLAIN_HTTP_ANSWER).await;
    let _ = stream.shutdown().await;
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(HANDSHAKES_AT_ONCE));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = tokio::select! {
            _ = ready.closed() => return,
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly,
                    // as axum does for plain TCP.
                    debug!(error = %e, "accepting a portal connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _ = stream.set_nodelay(true);
            let handshake = async {
                if starts_with_tls(&stream).await {
                    Some(acceptor.accept(stream).await)
                } else {
                    refuse_plain_http(stream).await;
                    None
                }
            };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                Ok(Some(Ok(tls))) => {
                    let _ = ready.send((tls, peer)).await;
                }
                // Scanners, browsers rejecting a self-signed certificate: routine
                // on a LAN, so debug only.
                Ok(Some(Err(e))) => debug!(peer = %peer, error = %e, "TLS handshake failed"),
                Ok(None) => debug!(peer = %peer, "plain HTTP on the HTTPS port"),
                Err(_) => debug!(peer = %peer, "TLS handshake timed out"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    #[test]
    fn rsa_pkcs1_and_ec_sec1_keys_load() {
        for (cert, key) in [("rsa.pem", "rsa-pkcs1.key"), ("ec.pem", "ec-sec1.key")] {
            let loaded = load(&fixture(cert), &fixture(key)).unwrap();
            assert!(loaded.self_signed, "{cert}");
            assert_eq!(loaded.config.alpn_protocols, [b"http/1.1".to_vec()]);
        }
    }

    #[test]
    fn a_key_of_another_certificate_is_named() {
        let err = load(&fixture("rsa.pem"), &fixture("ec-sec1.key")).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("ec-sec1.key") && text.contains("does not fit"),
            "{text}"
        );
        let err = load(&fixture("ec-sec1.key"), &fixture("ec-sec1.key")).unwrap_err();
        assert!(err.to_string().contains("portal.tls_cert"), "{err}");
    }
}
