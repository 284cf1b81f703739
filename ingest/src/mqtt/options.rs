//! Connection options: URL, session, credentials and TLS (rustls with ring).

use std::sync::Arc;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};

use super::{MAX_MESSAGE_BYTES, MqttError, MqttSettings};

pub(crate) fn mqtt_options(s: &MqttSettings) -> Result<MqttOptions, MqttError> {
    let (tls, rest) = if let Some(rest) = s.url.strip_prefix("mqtts://") {
        (true, rest)
    } else if let Some(rest) = s.url.strip_prefix("mqtt://") {
        (false, rest)
    } else {
        return Err(MqttError::Url(s.url.clone()));
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| MqttError::Url(s.url.clone()))?),
        None => (rest, if tls { 8883 } else { 1883 }),
    };
    if host.is_empty() {
        return Err(MqttError::Url(s.url.clone()));
    }

    let mut o = MqttOptions::new(s.client_id.clone(), host, port);
    o.set_clean_session(false);
    o.set_manual_acks(true);
    o.set_keep_alive(s.keep_alive);
    // Health Auto Export sends whole days of minute data in one message. A message
    // larger than this would be refused and redelivered forever, so it is generous;
    // README tells households to cap it at the broker (`message_size_limit`).
    o.set_max_packet_size(MAX_MESSAGE_BYTES, 1 << 20);
    if let (Some(u), Some(p)) = (&s.username, &s.password) {
        o.set_credentials(u.clone(), p.clone());
    }
    if tls {
        let config = tls_config(s.ca_file.as_deref())?;
        o.set_transport(Transport::Tls(TlsConfiguration::Rustls(Arc::new(config))));
    }
    Ok(o)
}

fn tls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, MqttError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let pem =
            std::fs::read(path).map_err(|e| MqttError::Tls(format!("{}: {e}", path.display())))?;
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
            let cert: rustls::pki_types::CertificateDer<'static> =
                cert.map_err(|e| MqttError::Tls(format!("{}: {e}", path.display())))?;
            roots.add(cert).map_err(|e| MqttError::Tls(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| MqttError::Tls(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settings(url: &str) -> MqttSettings {
        MqttSettings {
            url: url.into(),
            client_id: "t".into(),
            username: None,
            password: None,
            ca_file: None,
            keep_alive: Duration::from_secs(30),
            batch_max: 100,
            linger: Duration::from_millis(10),
            routes: vec![],
        }
    }

    #[test]
    fn urls() {
        assert!(mqtt_options(&settings("mqtt://127.0.0.1:1883")).is_ok());
        assert!(mqtt_options(&settings("mqtt://localhost")).is_ok());
        assert!(mqtt_options(&settings("http://x")).is_err());
        assert!(mqtt_options(&settings("mqtt://:1883")).is_err());
        assert!(mqtt_options(&settings("mqtt://h:notaport")).is_err());
    }
}
