//! Small wrappers over browser APIs that the rest of the app uses: time, randomness, the
//! device id, saved preferences, storage persistence and the service worker.

use shared::DocumentId;
use shared::i18n::Lang;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

const LANG_KEY: &str = "liaison.lang";
const DEVICE_KEY: &str = "liaison.device";

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// A new document id from the browser's cryptographic random source.
pub fn new_document_id() -> DocumentId {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the browser's crypto.getRandomValues is available");
    DocumentId::from_random_bytes(bytes)
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The language chosen before, else the browser's, else Chinese.
pub fn saved_lang() -> Lang {
    if let Some(code) = local_storage().and_then(|s| s.get_item(LANG_KEY).ok()?) {
        return Lang::from_tag(&code);
    }
    web_sys::window().and_then(|w| w.navigator().language()).map(|t| Lang::from_tag(&t)).unwrap_or_default()
}

pub fn save_lang(lang: Lang) {
    if let Some(s) = local_storage() {
        let _ = s.set_item(LANG_KEY, lang.code());
    }
    if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = root.set_attribute("lang", if lang == Lang::Zh { "zh-CN" } else { "en" });
    }
}

/// A random id for this browser profile, recorded as the author of records made here until
/// accounts exist.
pub fn device_id() -> String {
    let storage = local_storage();
    if let Some(id) = storage.as_ref().and_then(|s| s.get_item(DEVICE_KEY).ok()?) {
        return id;
    }
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("the browser's crypto.getRandomValues is available");
    let id = format!("device-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
    if let Some(s) = storage {
        let _ = s.set_item(DEVICE_KEY, &id);
    }
    id
}

pub fn is_online() -> bool {
    web_sys::window().map(|w| w.navigator().on_line()).unwrap_or(true)
}

/// Asks the browser to keep this site's data even when space runs low. Returns whether it
/// agreed; `None` where the browser has no such API.
pub async fn request_persistence() -> Option<bool> {
    let storage = web_sys::window()?.navigator().storage();
    if let Ok(p) = storage.persisted()
        && JsFuture::from(p).await.ok()?.as_bool() == Some(true)
    {
        return Some(true);
    }
    JsFuture::from(storage.persist().ok()?).await.ok()?.as_bool()
}

/// Bytes used and the quota, as the browser estimates them.
pub async fn storage_estimate() -> Option<(f64, f64)> {
    let storage = web_sys::window()?.navigator().storage();
    let estimate: web_sys::StorageEstimate = JsFuture::from(storage.estimate().ok()?).await.ok()?.unchecked_into();
    Some((estimate.get_usage()?, estimate.get_quota()?))
}

/// Registers the service worker that lets the app start offline, and resolves once one is
/// active. `false` where the browser has none (or the page is not served over http(s)).
pub async fn register_service_worker() -> bool {
    let Some(window) = web_sys::window() else { return false };
    let container = window.navigator().service_worker();
    if container.is_undefined() {
        return false;
    }
    if JsFuture::from(container.register("/sw.js")).await.is_err() {
        return false;
    }
    match container.ready() {
        Ok(ready) => JsFuture::from(ready).await.is_ok(),
        Err(_) => false,
    }
}

/// A time as short as it can be said, in China Standard Time: the clock time for today,
/// else date and time.
pub fn format_time_short(ms: i64, lang: Lang) -> String {
    let today = format_cst_date(ms, lang) == format_cst_date(now_ms(), lang);
    if today { cst(ms, lang, &[("timeStyle", "short")]) } else { format_cst(ms, lang) }
}

/// Formats a byte count as KB/MB/GB.
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{value:.0} {}", UNITS[0]) } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// A count with thousands separators ("10,000"), as both languages write it.
pub fn format_count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A value cached on this device (`localStorage`), such as the key directory, so what was
/// fetched once can be shown and checked offline. Holds nothing identifying a survivor.
pub fn cached(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok()?
}

pub fn cache(key: &str, value: &str) {
    if let Some(s) = local_storage() {
        let _ = s.set_item(key, value);
    }
}

/// A time for people, in China Standard Time whatever the device's zone: the mechanism's
/// calendar, which deadlines, case steps, signatures and list dates are all read against.
pub fn format_cst(ms: i64, lang: Lang) -> String {
    cst(ms, lang, &[("dateStyle", "medium"), ("timeStyle", "short")])
}

/// A date in China Standard Time.
pub fn format_cst_date(ms: i64, lang: Lang) -> String {
    cst(ms, lang, &[("dateStyle", "medium")])
}

/// Now in China, for a downloaded file's name: `2026-12-04-0930`, so two exports of one
/// day do not share a name.
pub fn file_stamp() -> String {
    let ms = now_ms();
    let (y, m, d) = shared::cst::date_of(ms);
    let minutes = (ms + 8 * 3_600_000).rem_euclid(86_400_000) / 60_000;
    format!("{y}-{m:02}-{d:02}-{:02}{:02}", minutes / 60, minutes % 60)
}

/// Today's date in China Standard Time, `YYYY-MM-DD`.
pub fn today_cst() -> String {
    // Swedish formats dates as ISO.
    let date = js_sys::Date::new(&(now_ms() as f64).into());
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"timeZone".into(), &"Asia/Shanghai".into());
    date.to_locale_date_string("sv-SE", &options).into()
}

fn cst(ms: i64, lang: Lang, style: &[(&str, &str)]) -> String {
    let date = js_sys::Date::new(&(ms as f64).into());
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"timeZone".into(), &"Asia/Shanghai".into());
    for (k, v) in style {
        let _ = js_sys::Reflect::set(&options, &(*k).into(), &(*v).into());
    }
    let tag = if lang == Lang::Zh { "zh-CN" } else { "en-GB" };
    date.to_locale_string(tag, &options).into()
}

/// Hands `bytes` to the browser as a download named `name`.
pub fn download(bytes: &[u8], mime: &str, name: &str) -> Result<(), String> {
    let fail = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes).into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(fail)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(fail)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlElement = wasm_bindgen::JsCast::unchecked_into(document.create_element("a").map_err(fail)?);
    a.set_attribute("href", &url).map_err(fail)?;
    a.set_attribute("download", name).map_err(fail)?;
    a.click();
    // The click has started the download; the URL is freed once the browser has read it.
    let _ = leptos::prelude::set_timeout_with_handle(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        std::time::Duration::from_secs(60),
    );
    Ok(())
}
