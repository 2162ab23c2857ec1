//! Credentials: random secrets and tokens (stored only as SHA-256; webhook secrets are
//! compared in constant time, tokens are looked up by their hash), and the one place a
//! request's credentials become a [`Caller`], at the time of the server's clock.

use crate::rpc::ctx::{AuthKind, Caller};
use crate::rpc::{ApiError, Services};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `/rest/{user}/{secret}/…`.
    Webhook {
        /// The user segment as written.
        user: String,
        /// The secret segment.
        secret: String,
    },
    /// `auth=` / `access_token=` / `Authorization: Bearer` on the OAuth route.
    Token(String),
    /// Nothing.
    Missing,
}

const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `len` random characters from `[a-z0-9]` (≈5.2 bits each), from the OS RNG.
pub fn random_string(len: usize) -> anyhow::Result<String> {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut buf = [0u8; 64];
        getrandom::fill(&mut buf)
            .map_err(|e| anyhow::anyhow!("OS random generator failed: {e}"))?;
        // 252 = 7 * 36: rejecting larger bytes keeps every character equally likely.
        for b in buf.into_iter().filter(|b| *b < 252) {
            if out.len() == len {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(b % 36)]));
        }
    }
    Ok(out)
}

/// A new webhook secret: 32 characters (≈165 bits).
pub fn new_secret() -> anyhow::Result<String> {
    random_string(32)
}

/// Lower-case hex SHA-256 of a secret, as stored.
pub fn hash_secret(secret: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in Sha256::digest(secret.as_bytes()) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// Checks credentials against the store, at the time of the server's clock.
pub async fn authenticate(services: &Services, creds: &Credentials) -> Result<Caller, ApiError> {
    let store = services.store.as_ref();
    match creds {
        Credentials::Missing => Err(ApiError::NoAuthFound),
        Credentials::Token(token) => {
            let grant = store
                .access_token(hash_secret(token))
                .await?
                .ok_or(ApiError::InvalidToken)?;
            if grant.access_expires <= services.clock.now().timestamp() {
                return Err(ApiError::ExpiredToken);
            }
            let user = store
                .user(grant.user_id)
                .await?
                .filter(|u| u.active)
                .ok_or(ApiError::InvalidToken)?;
            Ok(Caller {
                user,
                scopes: grant.scopes,
                auth: AuthKind::OAuth {
                    app_id: grant.app_id,
                    expires: grant.access_expires,
                },
            })
        }
        Credentials::Webhook { user, secret } => {
            let user_id: i64 = user.parse().map_err(|_| ApiError::InvalidCredentials)?;
            let presented = hash_secret(secret);
            let (hooks, owner) = store.webhook_owner(user_id).await?;
            // Compare against every candidate so timing does not reveal which one matched.
            let mut found = None;
            for h in &hooks {
                if bool::from(h.secret_hash.as_bytes().ct_eq(presented.as_bytes())) {
                    found = Some(h);
                }
            }
            let hook = found.ok_or(ApiError::InvalidCredentials)?;
            let user = owner
                .filter(|u| u.active)
                .ok_or(ApiError::InvalidCredentials)?;
            Ok(Caller {
                user,
                scopes: hook.scopes.clone(),
                auth: AuthKind::Webhook(hook.id),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hashed() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
