//! A signature: drawn with a finger, pen or mouse on a canvas (pointer events), saved as a PNG
//! attachment like any other file, and shown as an image afterwards.

use leptos::html::Canvas;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::FieldValue;
use shared::record::AttachmentRef;
use wasm_bindgen::JsCast;

use crate::components::attachment::{FileView, as_ref, canvas_bytes, js_error};
use crate::components::editor::{Editor, Slot};
use crate::components::field::Message;
use crate::context::use_ctx;
use crate::storage::StoredBlob;
use crate::text;

/// The pad's drawing size in canvas pixels; CSS scales it to the width of the screen, keeping
/// this shape.
const PAD_WIDTH: u32 = 800;
const PAD_HEIGHT: u32 = 260;
const STROKE: f64 = 4.0;

#[component]
pub fn SignatureInput(at: Slot, editor: Editor, message: RwSignal<Option<Message>>) -> impl IntoView {
    let slot = at;
    let ctx = use_ctx();
    let current = RwSignal::new(as_ref(editor.value(&slot)));
    // The pad is open when there is no signature yet, or to sign again.
    let open = RwSignal::new(current.with_untracked(Option::is_none));
    let drawn = RwSignal::new(false);
    let saving = RwSignal::new(false);
    let canvas = NodeRef::<Canvas>::new();
    let last = StoredValue::new(None::<(f64, f64)>);
    let pad_id = slot.input_id();

    let context = move || -> Option<web_sys::CanvasRenderingContext2d> {
        let c = canvas.get_untracked()?;
        let g: web_sys::CanvasRenderingContext2d = c.get_context("2d").ok()??.dyn_into().ok()?;
        g.set_line_width(STROKE);
        g.set_line_cap("round");
        g.set_line_join("round");
        g.set_stroke_style_str("#1d2329");
        g.set_fill_style_str("#1d2329");
        Some(g)
    };
    // Pointer position in canvas pixels (the canvas is drawn scaled by CSS).
    let position = move |e: &web_sys::PointerEvent| -> Option<(f64, f64)> {
        let c = canvas.get_untracked()?;
        let rect = c.get_bounding_client_rect();
        if rect.width() == 0.0 || rect.height() == 0.0 {
            return None;
        }
        let x = (f64::from(e.client_x()) - rect.left()) * f64::from(PAD_WIDTH) / rect.width();
        let y = (f64::from(e.client_y()) - rect.top()) * f64::from(PAD_HEIGHT) / rect.height();
        Some((x, y))
    };
    let down = move |e: web_sys::PointerEvent| {
        e.prevent_default();
        if let Some(c) = canvas.get_untracked() {
            let _ = c.set_pointer_capture(e.pointer_id());
        }
        let (Some(g), Some((x, y))) = (context(), position(&e)) else { return };
        // A tap is a dot.
        g.begin_path();
        let _ = g.arc(x, y, STROKE / 2.0, 0.0, std::f64::consts::TAU);
        g.fill();
        last.set_value(Some((x, y)));
        drawn.set(true);
    };
    let motion = move |e: web_sys::PointerEvent| {
        let Some((x0, y0)) = last.get_value() else { return };
        e.prevent_default();
        let (Some(g), Some((x, y))) = (context(), position(&e)) else { return };
        g.begin_path();
        g.move_to(x0, y0);
        g.line_to(x, y);
        g.stroke();
        last.set_value(Some((x, y)));
    };
    let up = move |_: web_sys::PointerEvent| last.set_value(None);
    let clear = move |_| {
        if let Some(g) = context() {
            g.clear_rect(0.0, 0.0, f64::from(PAD_WIDTH), f64::from(PAD_HEIGHT));
        }
        drawn.set(false);
    };
    let save = {
        let slot = slot.clone();
        move |_| {
            let Some(c) = canvas.get_untracked() else { return };
            let Some(engine) = editor.engine() else { return };
            saving.set(true);
            message.set(None);
            let slot = slot.clone();
            spawn_local(async move {
                let result = async {
                    let bytes = canvas_bytes(&c, "image/png", None).await.map_err(|e| js_error(&e))?;
                    let blob = StoredBlob { name: "signature.png".into(), mime: "image/png".into(), bytes };
                    let size = blob.bytes.len() as u64;
                    let sha256 = engine.add_attachment(editor.id, &blob).await.map_err(|e| e.to_string())?;
                    let reference = AttachmentRef { sha256, name: blob.name, mime: blob.mime, size };
                    editor.set(&slot, Some(FieldValue::Attachment(reference.clone())))?;
                    Ok::<_, String>(reference)
                }
                .await;
                saving.set(false);
                match result {
                    Ok(reference) => {
                        current.set(Some(reference));
                        drawn.set(false);
                        open.set(false);
                    }
                    Err(e) => message.set(Some((format!("{}{e}", text::SAVE_FAILED.zh), format!("{}{e}", text::SAVE_FAILED.en)))),
                }
            });
        }
    };

    view! {
        <FileView editor=editor current=current/>
        {move || if open.get() {
            view! {
                <div class="pad">
                    <p class="muted pad-note">{ctx.t(text::SIGN_HERE)}</p>
                    <canvas node_ref=canvas id=pad_id.clone() class="pad-canvas" width=PAD_WIDTH height=PAD_HEIGHT
                        role="img" aria-label=move || ctx.t(text::SIGNATURE_PAD)
                        on:pointerdown=down on:pointermove=motion on:pointerup=up on:pointercancel=up></canvas>
                    <div class="pad-buttons">
                        <button type="button" class="pad-clear" on:click=clear>{move || ctx.t(text::CLEAR)}</button>
                        <button type="button" class="primary pad-save" on:click=save.clone()
                            prop:disabled=move || !drawn.get() || saving.get()>{move || ctx.t(text::SAVE_SIGNATURE)}</button>
                        {move || current.with(Option::is_some).then(|| view! {
                            <button type="button" class="pad-cancel" on:click=move |_| { drawn.set(false); open.set(false); }>
                                {move || ctx.t(text::CANCEL)}
                            </button>
                        })}
                    </div>
                </div>
            }.into_any()
        } else {
            view! {
                <button type="button" class="sign-again" on:click=move |_| open.set(true)>{move || ctx.t(text::SIGN_AGAIN)}</button>
            }.into_any()
        }}
    }
}
