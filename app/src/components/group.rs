//! A repeat group (attendees, evidence): a list of item cards, each with the group's
//! sub-fields, and buttons to add and remove items. Items have random ids from `shared`, so
//! two people adding items offline both keep theirs, and editing one item never touches
//! another.

use std::sync::Arc;

use leptos::prelude::*;
use shared::FieldValue;
use shared::form::Field;
use shared::i18n::Lang;
use shared::record::GroupItem;

use crate::components::editor::{Editor, ItemSlot, Slot, focus_element, focus_within};
use crate::components::field::FieldInput;
use crate::context::use_ctx;
use crate::{platform, text};

#[component]
pub fn GroupInput(at: Slot, editor: Editor) -> impl IntoView {
    let slot = at;
    let ctx = use_ctx();
    let group = slot.field;
    let list_id = format!("{}-items", slot.input_id());
    let add_id = format!("add-{}", slot.key());
    // Only the item ids: typing into an item must not rebuild the list.
    let ids = Memo::new(move |_| {
        editor.values.with(|v| match v.get(group.id) {
            Some(FieldValue::Group(items)) => items.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
            _ => Vec::new(),
        })
    });

    let add = move |_| {
        let mut random = [0u8; 8];
        if getrandom::fill(&mut random).is_err() {
            return;
        }
        let item = GroupItem::new(random);
        let item_id = item.id.clone();
        let now = platform::now_ms();
        let added = editor.update(|r| {
            let mut items = match r.get(group) {
                Some(FieldValue::Group(items)) => items,
                _ => Vec::new(),
            };
            items.push(item);
            r.set(group, Some(FieldValue::Group(items)), now).map_err(|e| e.to_string())
        });
        if added.is_ok() {
            // Straight into the new item's first field, for keyboards and screen readers.
            let first = group
                .sub_fields()
                .first()
                .map(|sub| Slot { field: sub, item: Some(ItemSlot { group, id: item_id.as_str().into() }) }.key());
            if let Some(key) = first {
                request_animation_frame(move || focus_within(&format!("w-{key}")));
            }
        }
    };

    view! {
        <ol class="items" id=list_id>
            <For each=move || ids.get() key=|id| id.clone() let:item_id>
                <ItemCard group=group item_id=item_id editor=editor ids=ids/>
            </For>
        </ol>
        {move || ids.with(Vec::is_empty).then(|| view! { <p class="muted no-items">{ctx.t(text::NO_ITEMS)}</p> })}
        <button type="button" class="add-item" id=add_id on:click=add>
            {move || {
                let colon = if ctx.lang.get() == Lang::Zh { "：" } else { ": " };
                format!("＋ {}{colon}{}", ctx.t(text::ADD_ITEM), ctx.t(group.label))
            }}
        </button>
    }
}

#[component]
fn ItemCard(group: &'static Field, item_id: String, editor: Editor, ids: Memo<Vec<String>>) -> impl IntoView {
    let ctx = use_ctx();
    let id: Arc<str> = item_id.as_str().into();
    let confirming = RwSignal::new(false);
    let number = {
        let item_id = item_id.clone();
        move || ids.with(|ids| ids.iter().position(|i| *i == item_id).map_or(0, |p| p + 1))
    };
    let title = move || ctx.t(text::ITEM).replace("{n}", &number().to_string());
    let title2 = title.clone();
    let remove = {
        let item_id = item_id.clone();
        move |_| {
            let now = platform::now_ms();
            let removed = editor.update(|r| {
                let mut items = match r.get(group) {
                    Some(FieldValue::Group(items)) => items,
                    _ => Vec::new(),
                };
                items.retain(|i| i.id != item_id);
                r.set(group, Some(FieldValue::Group(items)), now).map_err(|e| e.to_string())
            });
            if removed.is_ok() {
                focus_element(&format!("add-{}", group.id));
            }
        }
    };
    let heading_id = format!("item-{}-{}", group.id, item_id);
    // Keyboard focus follows the two-step removal: to "confirm", and back on "cancel".
    let remove_id = format!("remove-{}-{}", group.id, item_id);
    let confirm_id = format!("confirm-{}-{}", group.id, item_id);
    let (remove_id2, confirm_id2) = (remove_id.clone(), confirm_id.clone());
    let ask = move |_| {
        confirming.set(true);
        let id = confirm_id2.clone();
        request_animation_frame(move || focus_element(&id));
    };
    let cancel = move |_| {
        confirming.set(false);
        let id = remove_id2.clone();
        request_animation_frame(move || focus_element(&id));
    };
    let labelled_by = heading_id.clone();
    let data_item = item_id.clone();
    let fields = group
        .sub_fields()
        .iter()
        .map(|sub| {
            let slot = Slot { field: sub, item: Some(ItemSlot { group, id: id.clone() }) };
            view! { <FieldInput at=slot editor=editor/> }
        })
        .collect_view();

    view! {
        <li class="item" data-item=data_item aria-labelledby=labelled_by>
            <div class="item-head">
                <h4 id=heading_id>{title}</h4>
                {move || if confirming.get() {
                    view! {
                        <span class="confirm">
                            <button type="button" class="danger confirm-remove" id=confirm_id.clone() on:click=remove.clone()>
                                {ctx.t(text::CONFIRM_REMOVE)}
                            </button>
                            <button type="button" class="cancel-remove" on:click=cancel.clone()>{ctx.t(text::CANCEL)}</button>
                        </span>
                    }.into_any()
                } else {
                    let title2 = title2.clone();
                    view! {
                        <button type="button" class="remove-item" id=remove_id.clone() on:click=ask.clone()
                            aria-label=move || format!("{}（{}）", ctx.t(text::REMOVE_ITEM), title2())>
                            {ctx.t(text::REMOVE_ITEM)}
                        </button>
                    }.into_any()
                }}
            </div>
            <div class="item-fields">{fields}</div>
        </li>
    }
}
