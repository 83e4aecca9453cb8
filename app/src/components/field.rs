//! One form field, rendered from its schema: the label bound to the control, the hint, the
//! message for input that cannot be stored, concurrent values to choose from, and what
//! "mark complete" found wrong, all next to the field. Skip logic hides the field (its value
//! is kept) and shows it again as other values change.

use std::collections::BTreeSet;

use leptos::prelude::*;
use shared::FieldValue;
use shared::form::{Choice, Field, FieldType};
use shared::i18n::{L, Lang};

use crate::components::attachment::AttachmentInput;
use crate::components::conflict::ConflictChooser;
use crate::components::editor::{Editor, Slot};
use crate::components::group::GroupInput;
use crate::components::signature::SignatureInput;
use crate::context::use_ctx;
use crate::text;

/// A message in both languages, shown in the interface language.
pub type Message = (String, String);

pub fn pick(lang: Lang, (zh, en): &Message) -> String {
    if lang == Lang::Zh { zh.clone() } else { en.clone() }
}

#[component]
pub fn FieldInput(at: Slot, editor: Editor) -> AnyView {
    let slot = at;
    let ctx = use_ctx();
    let field = slot.field;
    let key = slot.key();
    let input_id = slot.input_id();
    let (hint_id, message_id, problems_id) = (format!("h-{key}"), format!("m-{key}"), format!("p-{key}"));
    let described = format!("{hint_id} {message_id} {problems_id}");
    let message = RwSignal::new(None::<Message>);

    let control = match &field.ty {
        FieldType::Group(_) => view! { <GroupInput at=slot.clone() editor=editor/> }.into_any(),
        FieldType::SelectMany(choices) => checkboxes(&slot, editor, choices, &described),
        FieldType::Attachment { accept } => view! {
            <AttachmentInput at=slot.clone() editor=editor message=message accept=*accept described=described.clone()/>
        }
        .into_any(),
        FieldType::Signature => view! { <SignatureInput at=slot.clone() editor=editor message=message/> }.into_any(),
        _ => typed(&slot, editor, message, &described),
    };
    // Checkboxes, item lists and signature pads are groups of controls: a fieldset and its
    // legend name them. Everything else is one control named by its label.
    let grouped = matches!(field.ty, FieldType::SelectMany(_) | FieldType::Group(_) | FieldType::Signature);

    let label = move || ctx.t(field.label);
    let required = field.required.then(|| view! { <span class="req" aria-hidden="true">" *"</span> });
    let hint = field.hint.map(|hint| view! { <p class="hint" id=hint_id.clone()>{move || ctx.t(hint)}</p> });
    let below = {
        let slot = slot.clone();
        let slot2 = slot.clone();
        view! {
            <p class="message" id=message_id role="status">
                {move || message.get().map(|m| pick(ctx.lang.get(), &m))}
            </p>
            <ConflictChooser at=slot editor=editor/>
            <ul class="check-problems" id=problems_id>
                {move || editor.problems_for(&slot2).into_iter().map(|p| {
                    let m = p.message();
                    view! { <li>{move || pick(ctx.lang.get(), &m)}</li> }
                }).collect_view()}
            </ul>
        }
    };
    // Memos: skip logic re-runs on every change of any value, and the DOM is touched only
    // when the answer changes.
    let shown = {
        let slot = slot.clone();
        Memo::new(move |_| editor.shown(&slot))
    };
    let failing = {
        let slot = slot.clone();
        Memo::new(move |_| message.get().is_some() || !editor.problems_for(&slot).is_empty())
    };
    let wrap_id = format!("w-{key}");
    let kind = field.ty.kind().as_str();
    // Fixed by the case (sent on with a step, or the other side's to write): a disabled
    // fieldset disables every control in it, items' and the conflict chooser's too, and says
    // why once, at the top-level field.
    let fixed_reason = {
        let slot = slot.clone();
        Memo::new(move |_| editor.fixed_reason(&slot))
    };
    let fixed = Memo::new(move |_| fixed_reason.get().is_some());
    let fixed_note =
        slot.item.is_none().then_some(move || fixed_reason.get().map(|why| view! { <p class="hint fixed-note">{ctx.t(why)}</p> }));

    if grouped {
        view! {
            <fieldset class="field" class:invalid=failing id=wrap_id data-field=field.id data-type=kind hidden=move || !shown.get()
                aria-describedby=described prop:disabled=move || fixed.get() data-fixed=move || fixed.get().then_some("true")>
                <legend>{label}{required}</legend>
                {hint}
                {fixed_note}
                {control}
                {below}
            </fieldset>
        }
        .into_any()
    } else {
        view! {
            <div class="field" class:invalid=failing id=wrap_id data-field=field.id data-type=kind hidden=move || !shown.get()
                data-fixed=move || fixed.get().then_some("true")>
                <label for=input_id>{label}{required}</label>
                {hint}
                {fixed_note}
                <fieldset class="lock" prop:disabled=move || fixed.get()>
                    {control}
                    {below}
                </fieldset>
            </div>
        }
        .into_any()
    }
}

/// Inputs and selects whose text `Field::parse_input` turns into a value.
fn typed(slot: &Slot, editor: Editor, message: RwSignal<Option<Message>>, described: &str) -> AnyView {
    let field = slot.field;
    let id = slot.input_id();
    let initial = editor.value(slot).map(|v| v.input_text()).unwrap_or_default();
    let required = field.required.then_some("true");
    let on_input = {
        let slot = slot.clone();
        move |ev: leptos::ev::Event| match field.parse_input(&event_target_value(&ev)) {
            Ok(value) => {
                message.set(None);
                let _ = editor.set(&slot, value);
            }
            Err(e) => {
                let (zh, en) = e.message();
                message.set(Some((format!("{}{zh}", text::NOT_SAVED_FIELD.zh), format!("{}{en}", text::NOT_SAVED_FIELD.en))));
            }
        }
    };
    let described = described.to_owned();
    // (type, inputmode, autocomplete)
    let input = |ty: &'static str, mode: Option<&'static str>| {
        view! {
            <input type=ty inputmode=mode id=id.clone() name=id.clone() prop:value=initial.clone() on:input=on_input.clone()
                autocomplete="off" aria-required=required aria-describedby=described.clone()/>
        }
        .into_any()
    };
    match &field.ty {
        FieldType::Text => input("text", None),
        FieldType::Integer { min, .. } => input("text", Some(if min.is_some_and(|m| m < 0) { "text" } else { "numeric" })),
        FieldType::Decimal { .. } => input("text", Some("decimal")),
        FieldType::Date => input("date", None),
        FieldType::DateTime => input("datetime-local", None),
        FieldType::Phone => input("tel", Some("tel")),
        FieldType::LongText => view! {
            <textarea id=id.clone() name=id rows="5" prop:value=initial on:input=on_input aria-required=required
                aria-describedby=described></textarea>
        }
        .into_any(),
        FieldType::YesNo => {
            let options = vec![("yes", text::YES), ("no", text::NO)];
            select(&id, initial, on_input, options, required, &described)
        }
        FieldType::SelectOne(choices) => {
            let options = choices.iter().map(|c| (c.id, c.label)).collect();
            select(&id, initial, on_input, options, required, &described)
        }
        // Handled by their own components.
        FieldType::SelectMany(_) | FieldType::Group(_) | FieldType::Attachment { .. } | FieldType::Signature => ().into_any(),
    }
}

fn select(
    id: &str,
    initial: String,
    on_change: impl FnMut(leptos::ev::Event) + Clone + 'static,
    options: Vec<(&'static str, L)>,
    required: Option<&'static str>,
    described: &str,
) -> AnyView {
    let ctx = use_ctx();
    view! {
        <select id=id.to_owned() name=id.to_owned() on:change=on_change aria-required=required aria-describedby=described.to_owned()>
            <option value="" selected=initial.is_empty()>{move || format!("— {} —", ctx.t(text::CHOOSE))}</option>
            {options.into_iter().map(|(value, label)| view! {
                <option value=value selected=initial == value>{move || ctx.t(label)}</option>
            }).collect_view()}
        </select>
    }
    .into_any()
}

/// Select many: one checkbox per choice. Ticking adds that one choice and unticking removes
/// it, so two people who each add a choice offline both keep theirs.
fn checkboxes(slot: &Slot, editor: Editor, choices: &'static [Choice], described: &str) -> AnyView {
    let ctx = use_ctx();
    let chosen: BTreeSet<String> = match editor.value(slot) {
        Some(FieldValue::Choices(set)) => set,
        _ => BTreeSet::new(),
    };
    let boxes = choices
        .iter()
        .map(|choice| {
            let id = format!("{}-{}", slot.input_id(), choice.id);
            let slot = slot.clone();
            let on_change = move |ev: leptos::ev::Event| {
                let on = event_target_checked(&ev);
                let mut set = match editor.value(&slot) {
                    Some(FieldValue::Choices(set)) => set,
                    _ => BTreeSet::new(),
                };
                if on {
                    set.insert(choice.id.to_owned());
                } else {
                    set.remove(choice.id);
                }
                let _ = editor.set(&slot, Some(FieldValue::Choices(set)));
            };
            view! {
                <label class="choice" for=id.clone()>
                    <input type="checkbox" id=id.clone() value=choice.id checked=chosen.contains(choice.id) on:change=on_change/>
                    <span>{move || ctx.t(choice.label)}</span>
                </label>
            }
        })
        .collect_view();
    view! { <div class="choices" id=slot.input_id() role="group" aria-describedby=described.to_owned()>{boxes}</div> }.into_any()
}

/// A value as a person reads it: choice labels, yes/no, a file's name.
pub fn display_value(field: &Field, value: Option<&FieldValue>, lang: Lang) -> String {
    let label =
        |id: &str| field.choices().iter().find(|c| c.id == id).map(|c| c.label.get(lang).to_owned()).unwrap_or_else(|| id.to_owned());
    match value {
        None => text::EMPTY_VALUE.get(lang).to_owned(),
        Some(FieldValue::Choice(id)) => label(id),
        Some(FieldValue::Choices(set)) => {
            set.iter().map(|id| label(id)).collect::<Vec<_>>().join(if lang == Lang::Zh { "、" } else { ", " })
        }
        Some(FieldValue::Bool(b)) => if *b { text::YES } else { text::NO }.get(lang).to_owned(),
        Some(FieldValue::DateTime(s)) => s.replacen('T', " ", 1),
        Some(v) => v.input_text(),
    }
}
