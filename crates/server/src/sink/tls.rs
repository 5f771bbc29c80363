//! TLS for `wss://` taps and `https://` status URLs: rustls on the `ring` provider.
//!
//! A binary must hold exactly one rustls crypto provider: with two (`ring` and `aws-lc-rs`)
//! rustls cannot pick a process default and panics at run time. The dependency tree of this
//! crate holds only `ring` (checked by `cargo tree -i aws-lc-rs` finding nothing), every
//! [`rustls::ClientConfig`] made here names `ring` explicitly, and [`install_crypto_provider`]
//! installs it as the process default once at start-up for any code that asks for the default.
//!
//! Trust: the Mozilla roots of `webpki-roots`, plus the certificates of an optional PEM CA file
//! from the node's configuration. There is no way to turn verification off (`tap.md` §4).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Why the TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file could not be read or parsed.
    #[error("CA file {path}: {source}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// The PEM reader's error.
        source: rustls_pki_types::pem::Error,
    },
    /// The CA file holds no certificate.
    #[error("CA file {path} holds no certificate")]
    CaFileEmpty {
        /// The file.
        path: PathBuf,
    },
    /// A certificate of the CA file was rejected as a trust anchor.
    #[error("CA file {path}: {source}")]
    CaCertificate {
        /// The file.
        path: PathBuf,
        /// rustls's error.
        source: rustls::Error,
    },
    /// rustls refused the protocol versions of the provider.
    #[error("TLS configuration: {source}")]
    Config {
        /// rustls's error.
        #[from]
        source: rustls::Error,
    },
}

/// The `ring` provider.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs `ring` as the process-wide default provider. Idempotent: later calls (and a
/// default installed before) leave the installed one in place.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if rustls::crypto::ring::default_provider()
            .install_default()
            .is_err()
        {
            tracing::debug!("a rustls crypto provider was already installed");
        }
    });
}

/// The client configuration of sinks and status posts: webpki roots plus `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
            .map_err(|source| TlsError::CaFile {
                path: path.to_owned(),
                source,
            })?;
        if certs.is_empty() {
            return Err(TlsError::CaFileEmpty {
                path: path.to_owned(),
            });
        }
        for cert in certs {
            roots.add(cert).map_err(|source| TlsError::CaCertificate {
                path: path.to_owned(),
                source,
            })?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_builds_and_install_is_idempotent() {
        install_crypto_provider();
        install_crypto_provider();
        assert!(CryptoProvider::get_default().is_some());
        client_config(None).expect("webpki roots make a configuration");
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_an_error() {
        let missing = Path::new("/nonexistent/earshot-ca.pem");
        assert!(matches!(
            client_config(Some(missing)),
            Err(TlsError::CaFile { .. })
        ));
        let dir = std::env::temp_dir().join(format!("earshot-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").expect("write temp file");
        assert!(matches!(
            client_config(Some(&empty)),
            Err(TlsError::CaFileEmpty { .. })
        ));
    }
}
