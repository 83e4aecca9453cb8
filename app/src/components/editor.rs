//! The record being edited, shared by every field component. Reads and writes go through the
//! engine (which stores each change before anything else happens to it); `values` mirrors the
//! record so skip logic and the completeness check re-run as values change.

use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;
use shared::case::Party;
use shared::form::{Field, Form, Problem};
use shared::record::{Conflict, Values};
use shared::{DocumentId, FieldValue, Record};
use wasm_bindgen::JsCast;

use crate::context::Ctx;
use crate::engine::Engine;
use crate::platform;

/// A record open for editing with one form (the newest version of its form). `Copy`, so
/// every component and handler takes it freely.
#[derive(Clone, Copy)]
pub struct Editor {
    pub id: DocumentId,
    pub form: &'static Form,
    ctx: Ctx,
    /// The record's values under `form`, refreshed after every change.
    pub values: RwSignal<Values>,
    /// Bumps after every change made on this page (an edit, an item added, …).
    pub tick: RwSignal<u64>,
    /// Bumps when the fields must be drawn again from the record: someone else's change was
    /// stored here, or a conflict was resolved. Inputs read their value only when drawn, so
    /// typing is never overwritten by a re-read of what was just stored.
    pub epoch: RwSignal<u64>,
    /// The last change that could not be stored.
    pub error: RwSignal<Option<String>>,
    /// Set once "mark complete" has been tried: from then on the problems are shown as they
    /// stand, disappearing one by one as they are fixed.
    pub checked: RwSignal<bool>,
    pub problems: Memo<Vec<Problem>>,
    /// Organisation id → name, to say who wrote a value.
    pub orgs: RwSignal<Vec<crate::api::Org>>,
    /// Whether the server gave the list since this page opened.
    orgs_fetched: StoredValue<bool>,
    /// What the record's case says about writing its fields here, now: shown read-only, and
    /// not written from this page.
    fixed: Memo<Fixed>,
}

/// What the record's case fixes for this organisation, where it stands now.
#[derive(Clone, Copy, Default, PartialEq)]
struct Fixed {
    /// Fields the present state fixed for both sides (`StateDef::fixed`).
    by_state: &'static [&'static str],
    /// Our side of the case, once it has one; each writes only its own fields.
    side: Option<Party>,
    workflow: Option<&'static shared::case::Workflow>,
}

/// Where a value lives: a field of the record, or a field of one item of a repeat group.
/// Components take it as the prop `at`: Leptos' `view!` reserves the attribute `slot`.
#[derive(Clone, Debug)]
pub struct Slot {
    pub field: &'static Field,
    pub item: Option<ItemSlot>,
}

#[derive(Clone, Debug)]
pub struct ItemSlot {
    pub group: &'static Field,
    pub id: Arc<str>,
}

impl Slot {
    pub fn top(field: &'static Field) -> Slot {
        Slot { field, item: None }
    }

    /// Unique on the page: `survivor_age`, or `evidence-<item id>-file` inside a group.
    pub fn key(&self) -> String {
        match &self.item {
            None => self.field.id.to_owned(),
            Some(i) => format!("{}-{}-{}", i.group.id, i.id, self.field.id),
        }
    }

    /// The control's id (what the label's `for` names).
    pub fn input_id(&self) -> String {
        format!("f-{}", self.key())
    }

    /// Whether a completeness problem is about this slot.
    pub fn is_about(&self, p: &Problem) -> bool {
        match (&self.item, &p.item) {
            (None, None) => p.field == self.field.id,
            (Some(i), Some(at)) => p.field == i.group.id && at.id == *i.id && at.field == self.field.id,
            _ => false,
        }
    }
}

impl Editor {
    pub fn new(ctx: Ctx, id: DocumentId, form: &'static Form) -> Editor {
        let values = RwSignal::new(Values::new());
        let checked = RwSignal::new(false);
        let problems = Memo::new(move |_| if checked.get() { values.with(|v| form.check(v)) } else { Vec::new() });
        let (tick, epoch) = (RwSignal::new(0), RwSignal::new(0));
        let fixed = Memo::new(move |_| {
            if shared::case::workflow::for_kind(form.kind).is_none() {
                return Fixed::default();
            }
            tick.track();
            epoch.track();
            let engine = ctx.engine();
            let org = engine.as_ref().and_then(|e| e.session()).map(|s| s.user.org_id);
            let Some(state) = engine.and_then(|e| e.with_record(id, |r| shared::case::state(r.doc(), form.kind)).ok().flatten()) else {
                return Fixed::default();
            };
            let side = match org {
                Some(o) if state.receiver.as_deref() == Some(o.as_str()) => Some(Party::Receiver),
                Some(o) if state.sender.as_deref() == Some(o.as_str()) => Some(Party::Sender),
                // Never sent: only its owner reads a record of a kind with a workflow (no share
                // by hand), so we are the sender-to-be, and the receiver's fields wait for one.
                Some(_) if state.sender.is_none() => Some(Party::Sender),
                _ => None,
            };
            Fixed { by_state: state.state.fixed, side, workflow: Some(state.workflow) }
        });
        let editor = Editor {
            id,
            form,
            ctx,
            values,
            tick,
            epoch,
            error: RwSignal::new(None),
            checked,
            problems,
            orgs: RwSignal::new(Vec::new()),
            orgs_fetched: StoredValue::new(false),
            fixed,
        };
        editor.refresh();
        editor.watch_remote();
        editor.load_orgs();
        // Opened offline with no list cached: asked again once the server answers.
        let fetched = editor.orgs_fetched;
        Effect::new(move |_| {
            let up = editor.engine().is_some_and(|e| matches!(e.status.get(), crate::engine::SyncStatus::UpToDate { .. }));
            if up && !fetched.get_value() {
                editor.load_orgs();
            }
        });
        editor
    }

    pub fn engine(&self) -> Option<Rc<Engine>> {
        self.ctx.engine()
    }

    /// Runs `f` on the record (untracked).
    pub fn read<T>(&self, f: impl FnOnce(&mut Record) -> T) -> Option<T> {
        self.engine()?.with_record(self.id, f).ok()
    }

    /// The stored value of a slot, read now (not tracked).
    pub fn value(&self, slot: &Slot) -> Option<FieldValue> {
        match &slot.item {
            None => self.read(|r| r.get(slot.field)).flatten(),
            Some(i) => self
                .read(|r| match r.get(i.group) {
                    Some(FieldValue::Group(items)) => {
                        items.into_iter().find(|it| *it.id == *i.id).and_then(|mut it| it.values.remove(slot.field.id))
                    }
                    _ => None,
                })
                .flatten(),
        }
    }

    /// Whether skip logic shows this slot, re-evaluated whenever a value changes.
    pub fn shown(&self, slot: &Slot) -> bool {
        let form = self.form;
        self.values.with(|values| match &slot.item {
            None => form.is_shown(slot.field, values),
            Some(i) => {
                let empty = Values::new();
                let item = match values.get(i.group.id) {
                    Some(FieldValue::Group(items)) => items.iter().find(|it| *it.id == *i.id).map(|it| &it.values),
                    _ => None,
                };
                form.is_shown_in_item(i.group, slot.field, item.unwrap_or(&empty), values)
            }
        })
    }

    /// Why this slot's field (or its group) may not be written here now, if it may not: the
    /// case sent it on with a step, or it is the other side's to write.
    pub fn fixed_reason(&self, slot: &Slot) -> Option<shared::i18n::L> {
        let top = slot.item.as_ref().map_or(slot.field.id, |i| i.group.id);
        self.fixed.with(|f| {
            if f.by_state.contains(&top) {
                return Some(crate::text::FIELD_FIXED);
            }
            let (wf, side) = (f.workflow?, f.side?);
            (!wf.writes(side, top)).then_some(crate::text::FIELD_THEIRS)
        })
    }

    /// Stores one value (or clears it with `None`).
    pub fn set(&self, slot: &Slot, value: Option<FieldValue>) -> Result<(), String> {
        if let Some(why) = self.fixed_reason(slot) {
            let e = self.ctx.t(why).to_owned();
            self.error.set(Some(e.clone()));
            return Err(e);
        }
        let now = platform::now_ms();
        let result = match &slot.item {
            // A field of the record changes only that field: it alone is read back (a keystroke
            // must not re-read every value).
            None => self.apply(|r| r.set(slot.field, value, now).map_err(|e| e.to_string()), Some(slot.field)),
            Some(i) => self.update(|r| r.set_item(i.group, &i.id, slot.field, value, now).map_err(|e| e.to_string())),
        };
        if let Err(e) = &result {
            self.error.set(Some(e.clone()));
        }
        result
    }

    /// Any change to the record, stored like an edit.
    pub fn update(&self, change: impl FnOnce(&mut Record) -> Result<(), String>) -> Result<(), String> {
        self.apply(change, None)
    }

    /// Stores a change, then reads back `changed` (the one field it touched) or, if `None`,
    /// every value.
    fn apply(&self, change: impl FnOnce(&mut Record) -> Result<(), String>, changed: Option<&'static Field>) -> Result<(), String> {
        let engine = self.engine().ok_or_else(|| "not ready".to_owned())?;
        engine.update(self.id, change)?;
        self.error.set(None);
        match changed {
            Some(field) => self.refresh_field(field),
            None => self.refresh(),
        }
        self.tick.update(|t| *t += 1);
        Ok(())
    }

    /// The concurrent values of a slot (empty when there is one value).
    pub fn conflicts(&self, slot: &Slot) -> Vec<Conflict> {
        match &slot.item {
            None => self.read(|r| r.conflicts(slot.field)),
            Some(i) => self.read(|r| r.item_conflicts(i.group, &i.id, slot.field)),
        }
        .unwrap_or_default()
    }

    /// Writes the value a person chose among concurrent ones; it wins everywhere once synced.
    pub fn resolve(&self, slot: &Slot, value: Option<FieldValue>) -> Result<(), String> {
        let now = platform::now_ms();
        let result = match &slot.item {
            None => self.update(|r| r.resolve(slot.field, value, now).map_err(|e| e.to_string())),
            Some(i) => self.update(|r| r.resolve_item(i.group, &i.id, slot.field, value, now).map_err(|e| e.to_string())),
        };
        match &result {
            Ok(()) => self.redraw(),
            Err(e) => self.error.set(Some(e.clone())),
        }
        result
    }

    /// Completeness problems about this slot (after "mark complete" was tried).
    pub fn problems_for(&self, slot: &Slot) -> Vec<Problem> {
        self.problems.with(|ps| ps.iter().filter(|p| slot.is_about(p)).cloned().collect())
    }

    /// An organisation's name, or its id while the names are not known.
    pub fn org_name(&self, id: &str) -> String {
        self.orgs.with(|orgs| orgs.iter().find(|o| o.id == id).map(|o| o.name.clone())).unwrap_or_else(|| id.to_owned())
    }

    /// Re-reads the values from the record.
    pub fn refresh(&self) {
        let form = self.form;
        if let Some(values) = self.read(|r| r.values(form))
            && self.values.with_untracked(|v| *v != values)
        {
            self.values.set(values);
        }
    }

    /// Re-reads one field of the record into `values`.
    fn refresh_field(&self, field: &'static Field) {
        let Some(value) = self.read(|r| r.get(field)) else { return };
        if self.values.with_untracked(|v| v.get(field.id) != value.as_ref()) {
            self.values.update(|v| match value {
                Some(value) => {
                    v.insert(field.id.to_owned(), value);
                }
                None => {
                    v.remove(field.id);
                }
            });
        }
    }

    /// Draws the fields again from the record, keeping the focused control focused.
    pub fn redraw(&self) {
        let active = web_sys::window().and_then(|w| w.document()).and_then(|d| d.active_element()).filter(|e| e.id().starts_with("f-"));
        self.epoch.update(|e| *e += 1);
        let Some(active) = active else { return };
        let id = active.id();
        // Where the cursor was, for text inputs (other inputs have no selection).
        let at = |key: &str| js_sys::Reflect::get(&active, &key.into()).ok().and_then(|v| v.as_f64());
        let selection = at("selectionStart").zip(at("selectionEnd"));
        request_animation_frame(move || {
            focus_element(&id);
            let Some((start, end)) = selection else { return };
            let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(&id)) else { return };
            if let Ok(select) = js_sys::Reflect::get(&el, &"setSelectionRange".into())
                && let Some(f) = select.dyn_ref::<js_sys::Function>()
            {
                let _ = f.call2(&el, &start.into(), &end.into());
            }
        });
    }

    /// Someone else's change to this record was stored here: read it and draw it.
    fn watch_remote(&self) {
        let editor = *self;
        let id = self.id;
        Effect::new(move |seen: Option<u64>| {
            let Some(engine) = editor.engine() else { return seen.unwrap_or(0) };
            let (doc, n) = engine.remote_update.get();
            if seen.is_some_and(|s| s != n) && doc == Some(id) {
                editor.refresh();
                editor.redraw();
            }
            n
        });
    }

    fn load_orgs(&self) {
        let Some(session) = self.engine().and_then(|e| e.session()) else { return };
        let (orgs, fetched) = (self.orgs, self.orgs_fetched);
        // The last list the server gave, so names show offline (print, diff, parties) too.
        // Until the server answers (or with nothing cached), the own name stands in.
        let cached = crate::api::orgs_cached();
        let own = || vec![crate::api::Org { id: session.user.org_id.clone(), name: session.user.org_name.clone(), kind: String::new() }];
        orgs.set(cached.unwrap_or_else(own));
        leptos::task::spawn_local(async move {
            if let Ok(list) = crate::api::orgs(&session.token).await {
                fetched.set_value(true);
                orgs.set(list);
            }
        });
    }
}

/// Focuses an element by id (and brings it into view), if it is on the page.
pub fn focus_element(id: &str) {
    let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(id)) else { return };
    if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
        let _ = el.focus();
    }
}

/// Focuses the first control inside the element `id` and scrolls it into view.
pub fn focus_within(id: &str) {
    let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(id)) else { return };
    el.scroll_into_view();
    let target = el.query_selector("input, select, textarea, button").ok().flatten();
    if let Some(t) = target.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = t.focus();
    }
}
