//! One record, open for editing. Every edit is saved the moment it is made.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::form::Field;
use shared::{DocumentId, FieldValue};

use crate::components::field::FieldInput;
use crate::context::{Route, use_ctx};
use crate::storage::StoredRecord;
use crate::{platform, text};

/// The record being edited, shared by its field components.
#[derive(Clone, Copy)]
pub struct Editor {
    record: StoredValue<Option<Rc<RefCell<StoredRecord>>>, LocalStorage>,
    /// Writes handed to the store and not yet committed.
    pending: RwSignal<u32>,
    error: RwSignal<Option<String>>,
}

enum LoadState {
    Loading,
    Ready { form: &'static shared::form::Form, damaged: usize },
    Failed(String),
}

impl Editor {
    pub fn value(&self, field: &Field) -> Option<FieldValue> {
        self.record.with_value(|r| r.as_ref().and_then(|r| r.borrow().record.get(field)))
    }

    /// Applies an edit to the document and persists it. The write is taken synchronously so
    /// writes reach the store in the order the edits were made.
    pub fn set(&self, field: &'static Field, value: Option<FieldValue>) {
        let ctx = use_ctx();
        let Some(rec) = self.record.get_value() else { return };
        let write = {
            let mut stored = rec.borrow_mut();
            if let Err(e) = stored.record.set(field, value, platform::now_ms()) {
                self.error.set(Some(e.to_string()));
                return;
            }
            stored.take_write()
        };
        let write = match write {
            Ok(Some(w)) => w,
            Ok(None) => return,
            Err(e) => return self.error.set(Some(e.to_string())),
        };
        let Some(store) = ctx.store() else { return };
        let (pending, error) = (self.pending, self.error);
        pending.update(|n| *n += 1);
        spawn_local(async move {
            match store.apply(write).await {
                Ok(()) => error.set(None),
                Err(e) => {
                    rec.borrow_mut().mark_unsaved();
                    error.set(Some(e.to_string()));
                }
            }
            pending.update(|n| *n -= 1);
        });
    }
}

#[component]
pub fn RecordPage(id: DocumentId) -> impl IntoView {
    let ctx = use_ctx();
    let editor = Editor {
        record: StoredValue::new_local(None),
        pending: RwSignal::new(0),
        error: RwSignal::new(None),
    };
    let state = RwSignal::new_local(LoadState::Loading);

    if let Some(store) = ctx.store() {
        spawn_local(async move {
            let loaded = store.load(id).await.and_then(|stored| {
                let form = stored.record.form().map_err(|e| crate::storage::StoreError::Corrupt {
                    id: id.to_string(),
                    reason: e.to_string(),
                })?;
                Ok((stored, form))
            });
            match loaded {
                Ok((stored, form)) => {
                    let damaged = stored.damaged.len();
                    editor.record.set_value(Some(Rc::new(RefCell::new(stored))));
                    state.set(LoadState::Ready { form, damaged });
                }
                Err(e) => state.set(LoadState::Failed(e.to_string())),
            }
        });
    }

    let save_status = move || {
        if let Some(e) = editor.error.get() {
            view! { <span class="error" id="save-status" data-state="error">{ctx.t(text::SAVE_FAILED)}{e}</span> }.into_any()
        } else if editor.pending.get() > 0 {
            view! { <span class="muted" id="save-status" data-state="saving">{ctx.t(text::SAVING)}</span> }.into_any()
        } else {
            view! { <span class="ok" id="save-status" data-state="saved">{ctx.t(text::SAVED)}</span> }.into_any()
        }
    };

    view! {
        <section class="record-page">
            <a class="back" href=Route::List.href()>{move || ctx.t(text::BACK)}</a>
            {move || state.with(|s| match s {
                LoadState::Loading => view! { <p class="muted">{ctx.t(text::LOADING)}</p> }.into_any(),
                LoadState::Failed(e) => view! {
                    <p class="error" role="alert" id="record-error">{ctx.t(text::RECORD_FAILED)}{e.clone()}</p>
                }.into_any(),
                LoadState::Ready { form, damaged } => {
                    let form = *form;
                    let damaged = *damaged;
                    view! {
                        <h2>{move || ctx.t(form.title)}</h2>
                        <p class="record-id muted">{id.to_string()}</p>
                        {(damaged > 0).then(|| view! {
                            <p class="warn" role="alert" id="damaged-warning">{move || ctx.t(text::DAMAGED_CHUNKS)}</p>
                        })}
                        <p class="save-line" aria-live="polite">{save_status}" · "{move || ctx.t(text::AUTOSAVE_NOTE)}</p>
                        <form class="fields" on:submit=|ev| ev.prevent_default()>
                            {form.fields.iter().map(|field| view! { <FieldInput field=field editor=editor/> }).collect_view()}
                        </form>
                    }.into_any()
                }
            })}
        </section>
    }
}
