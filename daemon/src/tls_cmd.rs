//! `cohealth tls self-signed`: a certificate and key for HTTPS on the LAN, for
//! households without a domain or an ACME client.
//!
//! The certificate names every way the hub is likely to be reached (the given
//! hosts, this machine's name, `localhost`, the loopback addresses), is valid
//! for a year, and is its own issuer, so the portal never sends HSTS with it
//! (`portal.hsts = "auto"`). Browsers warn until it is trusted on each device;
//! the fingerprint printed here is what to compare when they ask.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use sha2::{Digest, Sha256};

/// How long a made certificate is valid.
const VALID_DAYS: i64 = 365;

/// What `self_signed` wrote.
#[derive(Debug)]
pub struct Written {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// The private key (PEM, PKCS#8, mode 0600).
    pub key: PathBuf,
    /// The names and addresses the certificate is valid for.
    pub names: Vec<String>,
    /// The last day of validity.
    pub not_after: time::OffsetDateTime,
    /// SHA-256 of the certificate, colon-separated hex.
    pub fingerprint: String,
}

/// Writes `cert.pem` and `key.pem` into `out` (created if missing). Existing
/// files are kept, and nothing is written, unless `force`.
pub fn self_signed(out: &Path, hosts: &[String], force: bool) -> anyhow::Result<Written> {
    let names = names(hosts, hostname().as_deref());
    let mut params = CertificateParams::new(names.clone())
        .context("the host names must be DNS names or IP addresses")?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::OrganizationName, "CoHealth");
    subject.push(DnType::CommonName, names[0].as_str());
    params.distinguished_name = subject;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = time::OffsetDateTime::now_utc();
    // A little slack for devices whose clocks run behind.
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(VALID_DAYS);
    let not_after = params.not_after;

    let key = KeyPair::generate().context("generating a key")?;
    let cert = params
        .self_signed(&key)
        .context("signing the certificate")?;
    let fingerprint = Sha256::digest(cert.der())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");

    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let cert_path = out.join("cert.pem");
    let key_path = out.join("key.pem");
    if !force {
        for path in [&cert_path, &key_path] {
            anyhow::ensure!(
                !path.exists(),
                "{} already exists; pass --force to replace it",
                path.display()
            );
        }
    }
    write_new(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok(Written {
        cert: cert_path,
        key: key_path,
        names,
        not_after,
        fingerprint,
    })
}

/// Prints what was made and the settings that use it.
pub fn report(written: &Written) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let quoted = |p: &Path| toml::Value::String(absolute(p).display().to_string()).to_string();
    let until = written.not_after.date();
    format!(
        "wrote {cert} (certificate) and {key} (private key, mode 0600)\n\
         valid for: {names}\n\
         valid until {until} (one year); make a new pair before then\n\
         SHA-256 fingerprint: {fp}\n\
         \n\
         Add to cohealth.toml:\n\
         [portal]\n\
         tls_cert = {cert_q}\n\
         tls_key = {key_q}\n",
        cert = written.cert.display(),
        key = written.key.display(),
        names = written.names.join(", "),
        fp = written.fingerprint,
        cert_q = quoted(&written.cert),
        key_q = quoted(&written.key),
    )
}

/// The given hosts, then this machine's name (and its mDNS `.local` form), then
/// the loopback names; each once, in that order.
fn names(hosts: &[String], hostname: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    };
    hosts.iter().for_each(|h| add(h));
    if let Some(host) = hostname {
        add(host);
        if !host.contains('.') && !host.eq_ignore_ascii_case("localhost") {
            add(&format!("{host}.local"));
        }
    }
    for name in ["localhost", "127.0.0.1", "::1"] {
        add(name);
    }
    names
}

/// This machine's name, as the kernel knows it.
fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
}

/// Creates (or replaces) `path` with `mode` from the first byte on, so a key is
/// never readable by others, even briefly.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("replacing {}", path.display())),
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_hosts_then_this_machine_then_loopback_each_once() {
        let given = ["Hub.Home.Arpa".to_owned(), "192.168.1.5".to_owned()];
        assert_eq!(
            names(&given, Some("hub")),
            [
                "hub.home.arpa",
                "192.168.1.5",
                "hub",
                "hub.local",
                "localhost",
                "127.0.0.1",
                "::1"
            ]
        );
        assert_eq!(
            names(&["localhost".to_owned()], None),
            ["localhost", "127.0.0.1", "::1"]
        );
    }

    #[test]
    fn a_made_pair_loads_is_self_signed_and_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("tls");
        let made = self_signed(&out, &["hub.example".to_owned()], false).unwrap();
        assert!(made.names.contains(&"hub.example".to_owned()));
        let material = crate::tls::load(&made.cert, &made.key).unwrap();
        assert!(material.self_signed);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&made.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let before = std::fs::read(&made.key).unwrap();
        let err = self_signed(&out, &[], false).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(std::fs::read(&made.key).unwrap(), before);
        self_signed(&out, &[], true).unwrap();
        assert_ne!(std::fs::read(&made.key).unwrap(), before);
        let text = report(&made);
        assert!(text.contains("[portal]\ntls_cert = \""), "{text}");
        assert!(text.contains("valid until"), "{text}");
    }
}
