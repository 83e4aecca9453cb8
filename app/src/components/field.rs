//! One form field, rendered from its schema: label bound to the input, hint, and the message
//! for input that cannot be stored, next to the field.

use leptos::prelude::*;
use shared::form::{Field, FieldType, InputError};
use shared::i18n::Lang;

use crate::context::use_ctx;
use crate::pages::record::Editor;
use crate::text;

#[component]
pub fn FieldInput(field: &'static Field, editor: Editor) -> impl IntoView {
    let ctx = use_ctx();
    let input_id = format!("f-{}", field.id);
    let message_id = format!("m-{}", field.id);
    let initial = editor.value(field).map(|v| v.input_text()).unwrap_or_default();
    let problem = RwSignal::new(None::<InputError>);

    let on_input = move |ev: leptos::ev::Event| {
        let raw = event_target_value(&ev);
        match field.parse_input(&raw) {
            Ok(value) => {
                problem.set(None);
                editor.set(field, value);
            }
            Err(e) => problem.set(Some(e)),
        }
    };

    let control = match &field.ty {
        FieldType::Text => view! {
            <input type="text" id=input_id.clone() name=field.id prop:value=initial on:input=on_input
                aria-describedby=message_id.clone()/>
        }.into_any(),
        FieldType::LongText => view! {
            <textarea id=input_id.clone() name=field.id rows="6" prop:value=initial on:input=on_input
                aria-describedby=message_id.clone()></textarea>
        }.into_any(),
        FieldType::Integer { .. } => view! {
            <input type="text" inputmode="numeric" id=input_id.clone() name=field.id prop:value=initial
                on:input=on_input aria-describedby=message_id.clone()/>
        }.into_any(),
        FieldType::Date => view! {
            <input type="date" id=input_id.clone() name=field.id prop:value=initial on:input=on_input
                aria-describedby=message_id.clone()/>
        }.into_any(),
        FieldType::DateTime => view! {
            <input type="datetime-local" id=input_id.clone() name=field.id prop:value=initial on:input=on_input
                aria-describedby=message_id.clone()/>
        }.into_any(),
        FieldType::Decimal { .. } => view! {
            <input type="text" inputmode="decimal" id=input_id.clone() name=field.id prop:value=initial
                on:input=on_input aria-describedby=message_id.clone()/>
        }.into_any(),
        FieldType::Phone => view! {
            <input type="tel" id=input_id.clone() name=field.id prop:value=initial on:input=on_input
                aria-describedby=message_id.clone()/>
        }.into_any(),
        FieldType::YesNo => {
            let options = [("yes", text::YES), ("no", text::NO)];
            select_view(&input_id, &message_id, field.id, initial, on_input, options.into_iter().collect())
        }
        FieldType::SelectOne(choices) => {
            let options = choices.iter().map(|c| (c.id, c.label)).collect();
            select_view(&input_id, &message_id, field.id, initial, on_input, options)
        }
        // Until these get their own controls: choice ids typed with commas, and groups,
        // files and signatures shown as text (typing into them says they are not typed).
        FieldType::SelectMany(_) | FieldType::Group(_) | FieldType::Attachment { .. } | FieldType::Signature => view! {
            <input type="text" id=input_id.clone() name=field.id prop:value=initial on:input=on_input
                aria-describedby=message_id.clone()/>
        }.into_any(),
    };

    view! {
        <div class="field" class:invalid=move || problem.get().is_some() data-field=field.id>
            <label for=input_id.clone()>{move || ctx.t(field.label)}</label>
            {field.hint.map(|hint| view! { <p class="hint">{move || ctx.t(hint)}</p> })}
            {control}
            <p class="message" id=message_id.clone() role="status">
                {move || problem.get().map(|e| {
                    let (zh, en) = e.message();
                    format!("{}{}", ctx.t(text::NOT_SAVED_FIELD), if ctx.lang.get() == Lang::Zh { zh } else { en })
                })}
            </p>
        </div>
    }
}

fn select_view(
    input_id: &str,
    message_id: &str,
    name: &'static str,
    initial: String,
    on_input: impl FnMut(leptos::ev::Event) + 'static,
    options: Vec<(&'static str, shared::i18n::L)>,
) -> AnyView {
    let ctx = use_ctx();
    view! {
        <select id=input_id.to_string() name=name on:change=on_input aria-describedby=message_id.to_string()>
            <option value="" selected=initial.is_empty()>{move || format!("— {} —", ctx.t(text::CHOOSE))}</option>
            {options.into_iter().map(|(id, label)| view! {
                <option value=id selected=initial == id>{move || ctx.t(label)}</option>
            }).collect_view()}
        </select>
    }.into_any()
}
