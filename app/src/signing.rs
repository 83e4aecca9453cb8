//! This device's Ed25519 signing key for the signed-in session: made on first use, kept in
//! IndexedDB (`storage::KEYS`), registered with the server, forgotten at sign-out.
//!
//! Where the browser has WebCrypto Ed25519 (Chromium 137 and later) the private key is a
//! non-extractable `CryptoKey`: the page can sign with it but no script can read it out.
//! Elsewhere `ed25519-dalek` signs in the wasm and the secret is kept only in this device's
//! IndexedDB. Either way only the public key leaves the device.

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use shared::agreement;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::api::{self, ApiError};
use crate::storage::{Store, StoreError};

#[derive(Debug, Clone, thiserror::Error)]
pub enum SignError {
    #[error("the device key could not be made: {0}")]
    Crypto(String),
    #[error(transparent)]
    Storage(#[from] StoreError),
    #[error("the device key could not be registered: {0}")]
    Register(#[from] ApiError),
}

/// A usable signing key.
pub struct DeviceSigner {
    pub key_id: String,
    secret: Secret,
}

enum Secret {
    /// The private `CryptoKey`.
    WebCrypto(JsValue),
    Dalek(Box<ed25519_dalek::SigningKey>),
}

impl DeviceSigner {
    /// Which implementation signs: `webcrypto` or `dalek` (shown to the person and to tests).
    pub fn kind(&self) -> &'static str {
        match self.secret {
            Secret::WebCrypto(_) => "webcrypto",
            Secret::Dalek(_) => "dalek",
        }
    }

    pub async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.secret {
            Secret::Dalek(key) => {
                use ed25519_dalek::Signer;
                Ok(key.sign(message).to_bytes().to_vec())
            }
            Secret::WebCrypto(private) => {
                let subtle = subtle()?;
                let data = Uint8Array::from(message);
                let promise = call(&subtle, "sign", &[algorithm().into(), private.clone(), data.into()])?;
                let buffer = JsFuture::from(promise).await.map_err(js_error)?;
                Ok(Uint8Array::new(&buffer).to_vec())
            }
        }
    }
}

/// The session's key: the stored one, or a new one made and registered now (which needs the
/// network once; signing after that works offline).
pub async fn device_signer(store: &Store, token: &str) -> Result<DeviceSigner, SignError> {
    let slot = shared::storage_key::chunk_hash(token.as_bytes());
    if let Some(stored) = store.signing_key(&slot).await?
        && let Some(signer) = from_stored(&stored)
    {
        return Ok(signer);
    }
    let (public, secret, value) = match webcrypto_key().await {
        Ok((public, private)) => {
            let value = Object::new();
            let _ = Reflect::set(&value, &"private".into(), &private);
            (public, Secret::WebCrypto(private), value)
        }
        Err(_) => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| SignError::Crypto(e.to_string()))?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let value = Object::new();
            let _ = Reflect::set(&value, &"secret".into(), &Uint8Array::from(&seed[..]));
            (key.verifying_key().to_bytes(), Secret::Dalek(Box::new(key)), value)
        }
    };
    let public_hex: String = public.iter().map(|b| format!("{b:02x}")).collect();
    let registered = api::register_key(token, &public_hex).await?;
    let _ = Reflect::set(&value, &"key_id".into(), &registered.key_id.clone().into());
    store.put_signing_key(&slot, value.into()).await?;
    Ok(DeviceSigner { key_id: registered.key_id, secret })
}

fn from_stored(value: &JsValue) -> Option<DeviceSigner> {
    let key_id = Reflect::get(value, &"key_id".into()).ok()?.as_string()?;
    if let Ok(private) = Reflect::get(value, &"private".into())
        && !private.is_undefined()
    {
        return Some(DeviceSigner { key_id, secret: Secret::WebCrypto(private) });
    }
    let seed: [u8; 32] = Reflect::get(value, &"secret".into()).ok()?.dyn_into::<Uint8Array>().ok()?.to_vec().try_into().ok()?;
    Some(DeviceSigner { key_id, secret: Secret::Dalek(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed))) })
}

/// A new non-extractable WebCrypto Ed25519 key pair: the raw public key and the private key.
/// Fails where the browser does not support Ed25519.
async fn webcrypto_key() -> Result<([u8; 32], JsValue), SignError> {
    let subtle = subtle()?;
    let usages = Array::of2(&"sign".into(), &"verify".into());
    let promise = call(&subtle, "generateKey", &[algorithm().into(), JsValue::FALSE, usages.into()])?;
    let pair = JsFuture::from(promise).await.map_err(js_error)?;
    let public = Reflect::get(&pair, &"publicKey".into()).map_err(js_error)?;
    let private = Reflect::get(&pair, &"privateKey".into()).map_err(js_error)?;
    let raw = JsFuture::from(call(&subtle, "exportKey", &["raw".into(), public])?).await.map_err(js_error)?;
    let public: [u8; 32] =
        Uint8Array::new(&raw).to_vec().try_into().map_err(|_| SignError::Crypto("a public key of the wrong size".into()))?;
    // A key that cannot be checked by the verifier the server and other devices use is no use.
    agreement::parse_public_key(&public.iter().map(|b| format!("{b:02x}")).collect::<String>())
        .ok_or_else(|| SignError::Crypto("the browser made an unusable key".into()))?;
    Ok((public, private))
}

fn algorithm() -> Object {
    let a = Object::new();
    let _ = Reflect::set(&a, &"name".into(), &"Ed25519".into());
    a
}

fn subtle() -> Result<JsValue, SignError> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).map_err(js_error)?;
    let subtle = Reflect::get(&crypto, &"subtle".into()).map_err(js_error)?;
    if subtle.is_undefined() {
        return Err(SignError::Crypto("no WebCrypto here".into()));
    }
    Ok(subtle)
}

/// `target.method(...args)`, which must return a promise.
fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<Promise, SignError> {
    let f: Function = Reflect::get(target, &method.into()).map_err(js_error)?.dyn_into().map_err(js_error)?;
    let args = args.iter().collect::<Array>();
    f.apply(target, &args).map_err(js_error)?.dyn_into::<Promise>().map_err(js_error)
}

fn js_error(e: JsValue) -> SignError {
    SignError::Crypto(e.as_string().or_else(|| Reflect::get(&e, &"message".into()).ok()?.as_string()).unwrap_or_else(|| format!("{e:?}")))
}
