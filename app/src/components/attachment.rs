//! Attachments: a file input, photos made smaller and stripped of their metadata (GPS) on a canvas before they are stored, and
//! the stored file shown with its name, size, a thumbnail for images and whether the server
//! has it yet. The bytes go to IndexedDB (and later to the server) through the engine; the
//! record holds only an `AttachmentRef`.

// The server's limit, checked here too: a cadre hears it when choosing the file, not days
// later when it fails to upload.
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::FieldValue;
use shared::api::MAX_ATTACHMENT_BYTES;
use shared::record::AttachmentRef;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::attachments::AttachmentError;
use crate::components::editor::{Editor, Slot};
use crate::components::field::Message;
use crate::context::use_ctx;
use crate::storage::StoredBlob;
use crate::{platform, text};

/// The setting for photos: the longest side a photo is stored with, in pixels. Larger ones
/// are scaled down and stored as JPEG at [`PHOTO_JPEG_QUALITY`]: a phone's 12-megapixel
/// photo becomes a few hundred KB, which uploads on a weak signal and still shows an
/// injury or a document clearly.
pub const PHOTO_MAX_SIDE: u32 = 1600;
/// JPEG quality (0–1) for scaled-down photos.
pub const PHOTO_JPEG_QUALITY: f64 = 0.85;

/// Image types the browser can decode and a canvas can re-encode. GIFs (animation) and SVG
/// (not pixels) are stored as they are.
const SCALABLE: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/bmp"];

#[component]
pub fn AttachmentInput(
    at: Slot,
    editor: Editor,
    message: RwSignal<Option<Message>>,
    accept: &'static [&'static str],
    described: String,
) -> impl IntoView {
    let slot = at;
    let ctx = use_ctx();
    let current = RwSignal::new(as_ref(editor.value(&slot)));
    let busy = RwSignal::new(false);
    let shrunk = RwSignal::new(false);
    let input_id = slot.input_id();

    let on_change = {
        let slot = slot.clone();
        move |ev: leptos::ev::Event| {
            let input: web_sys::HtmlInputElement = event_target(&ev);
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            // Choosing the same file again (after removing it) must fire `change` again.
            input.set_value("");
            busy.set(true);
            message.set(None);
            let slot = slot.clone();
            spawn_local(async move {
                let result = store_file(editor, &slot, &file, accept).await;
                busy.set(false);
                match result {
                    Ok((reference, was_shrunk)) => {
                        shrunk.set(was_shrunk);
                        current.set(Some(reference));
                    }
                    Err(m) => message.set(Some(m)),
                }
            });
        }
    };
    let remove = {
        let slot = slot.clone();
        move |_| {
            if editor.set(&slot, None).is_ok() {
                current.set(None);
                shrunk.set(false);
            }
        }
    };

    view! {
        <FileView editor=editor current=current/>
        {move || shrunk.get().then(|| view! { <p class="muted shrunk">{ctx.t(text::PHOTO_SHRUNK)}</p> })}
        <div class="file-row">
            // The browser's own file button speaks the browser's language; this one speaks the
            // app's. The input stays focusable (keyboard) and is what the field's label names.
            <input type="file" class="file-input" id=input_id.clone() accept=accept.join(",") on:change=on_change
                prop:disabled=move || busy.get() aria-describedby=described/>
            <label class="file-button" for=input_id aria-hidden="true">
                {move || ctx.t(if current.with(Option::is_some) { text::REPLACE_FILE } else { text::CHOOSE_FILE })}
            </label>
            {move || current.with(Option::is_some).then(|| view! {
                <button type="button" class="remove-file" on:click=remove.clone()>{ctx.t(text::REMOVE_FILE)}</button>
            })}
        </div>
        {move || busy.get().then(|| view! { <p class="muted busy" role="status">{ctx.t(text::PROCESSING)}</p> })}
    }
}

/// A stored attachment or signature: thumbnail (images) or a link to open it, name, size,
/// and whether the server has it.
#[component]
pub fn FileView(editor: Editor, current: RwSignal<Option<AttachmentRef>>) -> impl IntoView {
    let ctx = use_ctx();
    // An object URL for the bytes on this device (fetched from the server if need be).
    let url = RwSignal::new(None::<String>);
    let fetch_error = RwSignal::new(None::<AttachmentError>);
    let pending = RwSignal::new(None::<bool>);
    let doc = editor.id;

    Effect::new(move |_| {
        let Some(a) = current.get() else {
            replace_url(url, None);
            return;
        };
        let Some(engine) = ctx.engine() else { return };
        fetch_error.set(None);
        spawn_local(async move {
            let result = engine.attachment(doc, &a.sha256, &a.name, &a.mime).await;
            // Another file may have been chosen meanwhile.
            if current.with_untracked(|c| c.as_ref().map(|c| &c.sha256) != Some(&a.sha256)) {
                return;
            }
            match result {
                Ok(blob) => replace_url(url, object_url(&blob.bytes, &blob.mime)),
                Err(e) => {
                    replace_url(url, None);
                    fetch_error.set(Some(e));
                }
            }
        });
    });
    // Whether it waits for upload: re-read as the upload queue moves.
    Effect::new(move |_| {
        let Some(a) = current.get() else { return };
        let Some(engine) = ctx.engine() else { return };
        // Every upload run sets `left` as it starts and as each file is done.
        engine.uploader.left.track();
        spawn_local(async move {
            let queued = engine.store().pending_uploads().await.unwrap_or_default();
            pending.set(Some(queued.iter().any(|(d, h, _)| *d == doc && *h == a.sha256)));
        });
    });
    on_cleanup(move || {
        if let Some(Some(u)) = url.try_get_untracked() {
            let _ = web_sys::Url::revoke_object_url(&u);
        }
    });

    move || {
        let a = current.get()?;
        let is_image = a.mime.starts_with("image/");
        let name = a.name.clone();
        let state = move || match (fetch_error.get(), pending.get()) {
            (Some(AttachmentError::Missing), _) => ("missing", ctx.t(text::FILE_MISSING).to_owned()),
            (Some(e), _) => ("error", format!("{}{e}", ctx.t(text::FILE_UNREACHABLE))),
            (None, Some(true)) => {
                let signed_in = ctx.engine().is_some_and(|e| e.user.get().is_some());
                let error = ctx.engine().and_then(|e| e.uploader.error.get());
                match (signed_in, error) {
                    (false, _) => ("local", ctx.t(text::UPLOAD_LOCAL_ONLY).to_owned()),
                    (true, Some(e)) => ("upload-error", format!("{} · {}{e}", ctx.t(text::UPLOAD_WAITING), ctx.t(text::UPLOAD_ERROR))),
                    (true, None) => ("waiting", ctx.t(text::UPLOAD_WAITING).to_owned()),
                }
            }
            (None, Some(false)) => ("on-server", ctx.t(text::UPLOAD_DONE).to_owned()),
            (None, None) => ("unknown", String::new()),
        };
        let state2 = state;
        Some(view! {
            <div class="file-view" data-sha256=a.sha256.clone()>
                {move || url.get().map(|u| if is_image {
                    // Tapping the picture opens it full size (or saves it where the browser
                    // cannot show it).
                    let href = u.clone();
                    view! {
                        <a class="open-image" href=href target="_blank" rel="noopener" download=name.clone()>
                            <img class="thumb" src=u alt=name.clone()/>
                        </a>
                    }.into_any()
                } else {
                    view! { <a class="open-file" href=u target="_blank" rel="noopener" download=name.clone()>{ctx.t(text::OPEN_FILE)}</a> }.into_any()
                })}
                <div class="file-meta">
                    <span class="file-name">{a.name.clone()}</span>
                    <span class="file-size muted">{platform::format_bytes(a.size as f64)}</span>
                    <span class="upload-state" data-upload=move || state().0>{move || state2().1}</span>
                </div>
            </div>
        })
    }
}

/// The current value as an attachment reference.
pub fn as_ref(value: Option<FieldValue>) -> Option<AttachmentRef> {
    match value {
        Some(FieldValue::Attachment(a)) => Some(a),
        _ => None,
    }
}

/// Stores a chosen file: checks its type against the field, scales a large photo down,
/// checks the size against the server's limit, keeps the bytes on this device and puts the
/// reference into the record. Returns the reference and whether the photo was scaled.
async fn store_file(editor: Editor, slot: &Slot, file: &web_sys::File, accept: &[&str]) -> Result<(AttachmentRef, bool), Message> {
    let mut mime = file.type_();
    if mime.is_empty() {
        mime = "application/octet-stream".into();
    }
    if !accept.is_empty() && !accept.iter().any(|p| mime_matches(p, &mime)) {
        return Err((
            format!("{}{}", text::FILE_NOT_ACCEPTED.zh, accepted_names(accept, shared::i18n::Lang::Zh)),
            format!("{}{}", text::FILE_NOT_ACCEPTED.en, accepted_names(accept, shared::i18n::Lang::En)),
        ));
    }
    let mut name = file.name();
    let mut shrunk = false;
    // Every JPEG is drawn again (photos carry GPS in their EXIF); other images only when
    // they are too large, and their metadata is cut out below.
    let drawn = if SCALABLE.contains(&mime.as_str()) { redraw_photo(file, mime == "image/jpeg").await } else { None };
    let bytes = match drawn {
        Some((bytes, scaled)) => {
            shrunk = scaled;
            mime = "image/jpeg".into();
            name = jpeg_name(&name);
            bytes
        }
        // Not read at all when it is plainly too large.
        None if file.size() as u64 > MAX_ATTACHMENT_BYTES => return Err(too_large(file.size() as u64)),
        None => read_blob(file).await.map_err(|e| {
            let e = js_error(&e);
            (format!("{}{e}", text::FILE_READ_FAILED.zh), format!("{}{e}", text::FILE_READ_FAILED.en))
        })?,
    };
    let bytes = shared::image_meta::strip(&mime, &bytes).into_owned();
    let size = bytes.len() as u64;
    if size > MAX_ATTACHMENT_BYTES {
        return Err(too_large(size));
    }
    if name.trim().is_empty() {
        name = "file".into();
    }
    let engine = editor.engine().ok_or_else(|| ("…".to_owned(), "…".to_owned()))?;
    let blob = StoredBlob { name: name.clone(), mime: mime.clone(), bytes };
    let sha256 = engine
        .add_attachment(editor.id, &blob)
        .await
        .map_err(|e| (format!("{}{e}", text::FILE_SAVE_FAILED.zh), format!("{}{e}", text::FILE_SAVE_FAILED.en)))?;
    let reference = AttachmentRef { sha256, name, mime, size };
    let value = FieldValue::Attachment(reference.clone());
    slot.field.check_value(&value).map_err(|e| e.message())?;
    editor.set(slot, Some(value)).map_err(|e| (format!("{}{e}", text::SAVE_FAILED.zh), format!("{}{e}", text::SAVE_FAILED.en)))?;
    Ok((reference, shrunk))
}

fn too_large(size: u64) -> Message {
    let fill = |l: &str| {
        l.replace("{max}", &platform::format_bytes(MAX_ATTACHMENT_BYTES as f64)).replace("{size}", &platform::format_bytes(size as f64))
    };
    (fill(text::FILE_TOO_LARGE.zh), fill(text::FILE_TOO_LARGE.en))
}

/// `image/*` matches `image/png`; anything else must match exactly (ignoring case), as
/// `shared` checks it.
fn mime_matches(pattern: &str, mime: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(major) => mime.split('/').next().is_some_and(|m| m.eq_ignore_ascii_case(major)),
        None => pattern.eq_ignore_ascii_case(mime),
    }
}

/// What a field accepts, in words people use.
fn accepted_names(accept: &[&str], lang: shared::i18n::Lang) -> String {
    let zh = lang == shared::i18n::Lang::Zh;
    let mut names: Vec<String> = Vec::new();
    for p in accept {
        let name = match *p {
            "image/*" => if zh { "图片" } else { "images" }.to_owned(),
            "application/pdf" => "PDF".to_owned(),
            "application/msword" | "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
                if zh { "Word 文档" } else { "Word documents" }.to_owned()
            }
            other => other.to_owned(),
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.join(if zh { "、" } else { ", " })
}

fn jpeg_name(name: &str) -> String {
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    format!("{stem}.jpg")
}

/// Replaces the object URL in `slot`, revoking the old one so its bytes can be freed.
fn replace_url(slot: RwSignal<Option<String>>, next: Option<String>) {
    if let Some(old) = slot.get_untracked() {
        let _ = web_sys::Url::revoke_object_url(&old);
    }
    slot.set(next);
}

pub fn object_url(bytes: &[u8], mime: &str) -> Option<String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes).into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(inert_type(mime));
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

pub async fn read_blob(blob: &web_sys::Blob) -> Result<Vec<u8>, JsValue> {
    let buffer = JsFuture::from(blob.array_buffer()).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

pub fn js_error(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| e.as_string()).unwrap_or_else(|| format!("{e:?}"))
}

/// The canvas's pixels encoded as `mime` (`quality` for JPEG).
pub async fn canvas_bytes(canvas: &web_sys::HtmlCanvasElement, mime: &str, quality: Option<f64>) -> Result<Vec<u8>, JsValue> {
    let mut failed = None;
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let done = Closure::once_into_js(move |blob: JsValue| {
            let _ = if blob.is_null() {
                reject.call1(&JsValue::NULL, &"the image could not be encoded".into())
            } else {
                resolve.call1(&JsValue::NULL, &blob)
            };
        });
        let quality = quality.map_or(JsValue::UNDEFINED, JsValue::from);
        if let Err(e) = canvas.to_blob_with_type_and_encoder_options(done.unchecked_ref(), mime, &quality) {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let blob: web_sys::Blob = JsFuture::from(promise).await?.dyn_into()?;
    read_blob(&blob).await
}

/// A photo larger than [`PHOTO_MAX_SIDE`], redrawn at that size as JPEG; `None` when it is
/// small enough already or cannot be decoded (then it is stored as it is).
/// The image drawn on a canvas and encoded as JPEG: scaled to [`PHOTO_MAX_SIDE`] when larger
/// (and then `true`), or at its own size when `always` (a JPEG: the canvas keeps the pixels,
/// turned as the EXIF orientation says, and none of the metadata). `None`: keep the file.
async fn redraw_photo(file: &web_sys::File, always: bool) -> Option<(Vec<u8>, bool)> {
    let url = web_sys::Url::create_object_url_with_blob(file).ok()?;
    let result = async {
        let img = web_sys::HtmlImageElement::new().ok()?;
        img.set_src(&url);
        JsFuture::from(img.decode()).await.ok()?;
        let (w, h) = (img.natural_width(), img.natural_height());
        let longest = w.max(h);
        let scaled = longest > PHOTO_MAX_SIDE;
        if (!scaled && !always) || w == 0 || h == 0 {
            return None;
        }
        let scale = if scaled { f64::from(PHOTO_MAX_SIDE) / f64::from(longest) } else { 1.0 };
        let (nw, nh) = ((f64::from(w) * scale).round().max(1.0), (f64::from(h) * scale).round().max(1.0));
        let document = web_sys::window()?.document()?;
        let canvas: web_sys::HtmlCanvasElement = document.create_element("canvas").ok()?.dyn_into().ok()?;
        canvas.set_width(nw as u32);
        canvas.set_height(nh as u32);
        let g: web_sys::CanvasRenderingContext2d = canvas.get_context("2d").ok()??.dyn_into().ok()?;
        // JPEG has no transparency: white, as on paper, rather than black.
        g.set_fill_style_str("#fff");
        g.fill_rect(0.0, 0.0, nw, nh);
        g.draw_image_with_html_image_element_and_dw_and_dh(&img, 0.0, 0.0, nw, nh).ok()?;
        canvas_bytes(&canvas, "image/jpeg", Some(PHOTO_JPEG_QUALITY)).await.ok().map(|bytes| (bytes, scaled))
    }
    .await;
    let _ = web_sys::Url::revoke_object_url(&url);
    result
}

/// The type an attachment's object URL may carry. The record's `mime` comes from whoever
/// attached the file, possibly another organisation; a blob URL opens in the app's own origin,
/// so HTML or SVG there could run script with access to every record on the device. Only
/// types a browser shows without running anything keep theirs; the rest download as bytes.
fn inert_type(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" => "image/jpeg",
        "image/png" => "image/png",
        "image/gif" => "image/gif",
        "image/webp" => "image/webp",
        "application/pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn only_types_that_run_nothing_keep_theirs() {
        for mime in ["image/jpeg", "image/png", "application/pdf"] {
            assert_eq!(super::inert_type(mime), mime);
        }
        for mime in ["text/html", "image/svg+xml", "application/xhtml+xml", "text/javascript", "", "IMAGE/PNG"] {
            assert_eq!(super::inert_type(mime), "application/octet-stream", "{mime}");
        }
    }
}
