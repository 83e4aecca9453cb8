//! Concurrent values of one field: two people set it offline, both values survived the merge,
//! and a person picks one. "两个值：12（李，妇联）/ 13（王，检察院）", with a button per value.

use leptos::prelude::*;
use shared::i18n::Lang;
use shared::record::{Author, Conflict};

use crate::components::editor::{Editor, Slot};
use crate::components::field::display_value;
use crate::context::use_ctx;
use crate::{api, text};

#[component]
pub fn ConflictChooser(at: Slot, editor: Editor) -> impl IntoView {
    let slot = at;
    let ctx = use_ctx();
    let id = format!("c-{}", slot.key());
    let conflicts = {
        let slot = slot.clone();
        // Concurrent values appear only through a merge, which bumps `epoch`; an edit made
        // here can only settle them. So edits (`tick`) are watched only while there are some:
        // every keystroke in one field would otherwise re-read every field's values.
        Memo::new(move |prev: Option<&Vec<Conflict>>| {
            editor.epoch.track();
            if prev.is_none_or(|p| !p.is_empty()) {
                editor.tick.track();
            }
            editor.conflicts(&slot)
        })
    };
    // Who wrote each value is the server's binding of its actor when the server has one (a
    // device writes its own `meta.actors` entry and could claim to be anyone); the record's
    // claim only where the server has not been asked yet (offline).
    let bound = RwSignal::new(Vec::<api::ActorBinding>::new());
    let record = editor.id;
    Effect::new(move |_| {
        let unknown = conflicts.with(|list| list.iter().any(|c| !bound.with_untracked(|b| b.iter().any(|x| x.actor == c.actor))));
        if unknown && let Some(session) = ctx.engine().and_then(|e| e.session()) {
            leptos::task::spawn_local(async move {
                if let Ok(list) = api::actors(&session.token, record).await {
                    bound.set(list);
                }
            });
        }
    });
    move || {
        let list = conflicts.get();
        if list.is_empty() {
            return None;
        }
        let lang = ctx.lang.get();
        let field = slot.field;
        let list: Vec<Conflict> = bound.with(|b| {
            list.into_iter()
                .map(|mut c| {
                    if let Some(binding) = b.iter().find(|x| x.actor == c.actor) {
                        c.author = Some(Author { user: binding.display_name.clone(), org: Some(binding.org_id.clone()) });
                    }
                    c
                })
                .collect()
        });
        let described = describe(&list, lang, |c| display_value(field, c.value.as_ref(), lang), |org| editor.org_name(org));
        let buttons = list
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let slot = slot.clone();
                let shown = display_value(field, c.value.as_ref(), lang);
                let value = c.value;
                let choose = move |_| {
                    let _ = editor.resolve(&slot, value.clone());
                };
                view! {
                    <button type="button" class="use-value" data-index=i on:click=choose>
                        {format!("{} {shown}", ctx.t(text::USE_VALUE))}
                    </button>
                }
            })
            .collect_view();
        Some(view! {
            <div class="conflict" id=id.clone() role="alert">
                <p class="conflict-values">{described}</p>
                <p class="conflict-note">{ctx.t(text::CONFLICT_NOTE)}</p>
                <div class="conflict-choices">{buttons}</div>
            </div>
        })
    }
}

/// "两个值：12（李敏，县妇联）/ 13（王强，县检察院）" or "Two values were entered: 12 (Li Min,
/// County Women's Federation) and 13 (Wang Qiang, County People's Procuratorate)".
fn describe(list: &[Conflict], lang: Lang, value: impl Fn(&Conflict) -> String, org: impl Fn(&str) -> String) -> String {
    let who = |c: &Conflict| match &c.author {
        Some(a) => match (&a.org, lang) {
            (Some(o), Lang::Zh) => format!("{}，{}", a.user, org(o)),
            (Some(o), Lang::En) => format!("{}, {}", a.user, org(o)),
            (None, _) => a.user.clone(),
        },
        None => text::UNKNOWN_AUTHOR.get(lang).to_owned(),
    };
    let parts: Vec<String> = list
        .iter()
        .map(|c| match lang {
            Lang::Zh => format!("{}（{}）", value(c), who(c)),
            Lang::En => format!("{} ({})", value(c), who(c)),
        })
        .collect();
    let count = text::CONFLICT_COUNT.get(lang).replace("{n}", &count_word(list.len(), lang));
    match lang {
        Lang::Zh => format!("{count}{}", parts.join(" / ")),
        Lang::En => {
            let joined = match parts.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
                _ => parts.join(""),
            };
            format!("{count}{joined}")
        }
    }
}

fn count_word(n: usize, lang: Lang) -> String {
    const ZH: [&str; 10] = ["零", "一", "两", "三", "四", "五", "六", "七", "八", "九"];
    const EN: [&str; 10] = ["Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine"];
    match lang {
        Lang::Zh => ZH.get(n).map_or_else(|| n.to_string(), |w| (*w).to_owned()),
        Lang::En => EN.get(n).map_or_else(|| n.to_string(), |w| (*w).to_owned()),
    }
}
