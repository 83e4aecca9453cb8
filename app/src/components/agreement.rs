//! A work-mechanism agreement on the record page: its text (title, preamble, clauses, edited
//! with splices so parties drafting at once both keep their words), its parties, "propose
//! for signature", signing with this device's key, the status every device derives the same
//! way (`shared::agreement::status`), what changed since the last signed text, and the print
//! layout (第一条, 第二条 … and a signature block per party).
//!
//! The key directory and the server's accepted signatures are cached on the device, so the
//! status shows offline as of the last time they were fetched.

use crate::split::split_point;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::DocumentId;
use shared::agreement::{self, AgreementSignature, AgreementStatus, Content, KeyDirectory, Proposal, State, TextField};
use shared::api::{ActorBinding, DeviceKey, ReceivedSignature, SignatureRequest};
use shared::i18n::L;
use similar::{ChangeTag, TextDiff};
use wasm_split_helpers::SplitLoaderError;

use crate::components::editor::Editor;
use crate::context::use_ctx;
use crate::{api, platform, signing, text};

const KEYS_CACHE: &str = "liaison.keys";
/// How often this device says it has the agreement open, and how long what another said counts.
const PRESENCE_EVERY_MS: i64 = 3_000;
const PRESENCE_FRESH_MS: i64 = 10_000;

/// What a device says about itself while it has an agreement open (a claim, shown as such:
/// presence is a courtesy, never a record).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Presence {
    name: String,
    org: String,
    /// The clause being edited, if any.
    clause: Option<String>,
}
/// How often to ask the server about signatures it has not accepted yet.
const PENDING_POLL_S: u64 = 5;

/// One edit of the agreement's text, parties or clauses.
type Change = Box<dyn FnOnce(&mut automerge::AutoCommit) -> Result<(), agreement::AgreementError>>;

fn actors_cache(id: DocumentId) -> String {
    format!("liaison.actors.{id}")
}

/// Changes by one person less than this far apart make one version in the history.
const VERSION_GAP_MS: i64 = 5 * 60 * 1000;

fn signatures_cache(id: DocumentId) -> String {
    format!("liaison.signatures.{id}")
}

/// What the panel draws, derived from the document and the cached server state.
#[derive(Clone, PartialEq)]
struct View {
    content: Content,
    status: AgreementStatus,
    /// The content of the text last signed, when the signatures are outdated.
    signed_content: Option<Content>,
}

/// The panel, fetched the first time an agreement is opened: its signing, diff and Unicode
/// code (about 140 KB compressed) is not part of the record page other records need. The
/// service worker precaches the chunk, so it opens offline all the same.
#[component]
pub fn LazyAgreementPanel(editor: Editor) -> impl IntoView {
    let ctx = use_ctx();
    let attempt = RwSignal::new(0u32);
    view! {
        <Suspense fallback=move || view! { <p class="muted">{ctx.t(text::OPENING_PAGE)}</p> }>
            {move || {
                attempt.track();
                Suspend::new(async move {
                    match agreement_panel(editor).await {
                        Ok(panel) => panel,
                        Err(_) => view! {
                            <p class="error" role="alert" id="agreement-load-failed">
                                {ctx.t(text::PAGE_LOAD_FAILED)}" "
                                <button on:click=move |_| attempt.update(|n| *n += 1)>{ctx.t(text::RETRY)}</button>
                            </p>
                        }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

split_point!(
    agreement_panel,
    fn agreement_panel(editor: Editor) -> Result<AnyView, SplitLoaderError> {
        Ok(view! { <AgreementPanel editor=editor/> }.into_any())
    }
);

#[component]
fn AgreementPanel(editor: Editor) -> impl IntoView {
    let ctx = use_ctx();
    let id = editor.id;
    let keys =
        RwSignal::new(platform::cached(KEYS_CACHE).and_then(|s| serde_json::from_str::<Vec<DeviceKey>>(&s).ok()).unwrap_or_default());
    let received = RwSignal::new(
        platform::cached(&signatures_cache(id)).and_then(|s| serde_json::from_str::<Vec<ReceivedSignature>>(&s).ok()).unwrap_or_default(),
    );
    let actors = RwSignal::new(
        platform::cached(&actors_cache(id)).and_then(|s| serde_json::from_str::<Vec<ActorBinding>>(&s).ok()).unwrap_or_default(),
    );
    let show_history = RwSignal::new(false);
    let compare = RwSignal::new(None::<Vec<String>>);
    let message = RwSignal::new(None::<(bool, String)>);
    let busy = RwSignal::new(false);
    let party_choice = RwSignal::new(String::new());

    let fetch = move || {
        let Some(session) = ctx.engine().and_then(|e| e.session()) else { return };
        spawn_local(async move {
            if let Ok(list) = api::keys(&session.token).await {
                platform::cache(KEYS_CACHE, &serde_json::to_string(&list).unwrap_or_default());
                keys.set(list);
            }
            if let Ok(list) = api::actors(&session.token, id).await {
                platform::cache(&actors_cache(id), &serde_json::to_string(&list).unwrap_or_default());
                actors.set(list);
            }
            if let Ok(list) = api::signatures(&session.token, id).await {
                platform::cache(&signatures_cache(id), &serde_json::to_string(&list).unwrap_or_default());
                received.set(list);
            }
        });
    };
    fetch();
    // A new agreement has no party yet: the organisation that opens it first is one. (Done
    // here, not where the record is made, so the list page carries no Automerge code.)
    if let Some(org) = ctx.engine().and_then(|e| e.session()).map(|s| s.user.org_id) {
        let empty = editor.read(|r| agreement::content(r.doc()).is_ok_and(|c| c.parties.is_empty())).unwrap_or(false);
        if empty {
            let now = platform::now_ms();
            let _ = editor.update(move |r| {
                agreement::add_party(r.doc_mut(), &org).map_err(|e| e.to_string())?;
                r.commit_change(now, true).map_err(|e| e.to_string())
            });
        }
    }
    // Someone else's change arrived: their signature may have reached the server too.
    Effect::new(move |seen: Option<u64>| {
        let n = editor.epoch.get();
        if seen.is_some_and(|s| s != n) {
            fetch();
        }
        n
    });

    let view_state = Memo::new(move |_| {
        editor.tick.track();
        editor.epoch.track();
        let directory = keys.with(|k| KeyDirectory::from_device_keys(k));
        let accepted: Vec<(Proposal, AgreementSignature, i64)> =
            received.with(|r| r.iter().map(|s| (s.proposal.clone(), s.signature.clone(), s.received_at)).collect());
        editor
            .read(|r| {
                let doc = r.doc();
                let content = agreement::content(doc).ok()?;
                let status = agreement::status(doc, id, &directory, &accepted).ok()?;
                let signed_content = status.signed_before.as_ref().and_then(|p| agreement::content_at(doc, &p.heads).ok());
                Some(View { content, status, signed_content })
            })
            .flatten()
    });

    // A signature in the document that the server has not accepted yet may be accepted at any
    // moment without the document changing (its signer sends it again once online): while
    // there is one, ask the server every few seconds. This device's own, made offline or
    // whose sending failed, is sent again as it is until the server answers.
    let resending = RwSignal::new(false);
    let resend_mine = move || {
        let Some(session) = ctx.engine().and_then(|e| e.session()) else { return };
        if resending.get_untracked() || !platform::is_online() {
            return;
        }
        let Some(v) = view_state.get_untracked() else { return };
        let Some(proposal) = v.status.proposal else { return };
        let Some(signature) = v
            .status
            .pending
            .into_iter()
            .find(|s| s.proposal == proposal.id && s.org == session.user.org_id && s.user == session.user.username)
        else {
            return;
        };
        resending.set(true);
        spawn_local(async move {
            let req = SignatureRequest { proposal, signature };
            if api::send_signature(&session.token, id, &req).await.is_ok() {
                message.set(Some((true, ctx.t(text::AG_SIGNED).to_owned())));
                fetch();
            }
            resending.set(false);
        });
    };
    if let Ok(handle) = set_interval_with_handle(
        move || {
            if view_state.with_untracked(|v| v.as_ref().is_some_and(|v| !v.status.pending.is_empty())) {
                resend_mine();
                fetch();
            }
        },
        std::time::Duration::from_secs(PENDING_POLL_S),
    ) {
        on_cleanup(move || handle.clear());
    }

    // Presence: who else has it open, and which clause they are in. Said every few seconds
    // and on every move between clauses; shown while fresh. Ephemeral: nothing is stored.
    let focus = RwSignal::new(None::<String>);
    let clock = RwSignal::new(platform::now_ms());
    let announce = move || {
        let Some(engine) = ctx.engine() else { return };
        let Some(session) = engine.session() else { return };
        let said = Presence { name: session.user.display_name.clone(), org: session.user.org_id.clone(), clause: focus.get_untracked() };
        if let Ok(data) = serde_json::to_vec(&said) {
            engine.broadcast(id, data);
        }
    };
    announce();
    if let Ok(handle) = set_interval_with_handle(
        move || {
            clock.set(platform::now_ms());
            announce();
        },
        std::time::Duration::from_millis(PRESENCE_EVERY_MS as u64),
    ) {
        on_cleanup(move || handle.clear());
    }
    let on_focus = move |ev: leptos::ev::FocusEvent| {
        use wasm_bindgen::JsCast;
        let clause = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest("li.clause").ok().flatten())
            .and_then(|li| li.get_attribute("data-clause"));
        if clause != focus.get_untracked() {
            focus.set(clause);
            announce();
        }
    };
    let others = move || {
        let now = clock.get();
        let engine = ctx.engine()?;
        let mut seen: Vec<(String, Presence)> = engine.presence.with(|p| {
            p.iter()
                .filter(|((doc, _), (_, at))| *doc == id && now - at <= PRESENCE_FRESH_MS)
                .filter_map(|((_, peer), (data, _))| Some((peer.clone(), serde_json::from_slice::<Presence>(data).ok()?)))
                .collect()
        });
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        (!seen.is_empty()).then_some(seen)
    };

    let edit = move |change: Change| {
        let now = platform::now_ms();
        let done = editor.update(|r| {
            change(r.doc_mut()).map_err(|e| e.to_string())?;
            r.commit_change(now, true).map_err(|e| e.to_string())
        });
        if let Err(e) = done {
            message.set(Some((false, e)));
        }
    };

    let propose = move |_| {
        let Some(session) = ctx.engine().and_then(|e| e.session()) else {
            return message.set(Some((false, ctx.t(text::AG_SIGN_IN_FIRST).to_owned())));
        };
        let now = platform::now_ms();
        let user = session.user.clone();
        edit(Box::new(move |doc| agreement::propose(doc, id, &user.username, &user.org_id, now).map(|_| ())));
        message.set(Some((true, ctx.t(text::AG_PROPOSED).to_owned())));
    };

    let sign = move |_| {
        let Some(engine) = ctx.engine() else { return };
        let Some(session) = engine.session() else {
            return message.set(Some((false, ctx.t(text::AG_SIGN_IN_FIRST).to_owned())));
        };
        let Some(v) = view_state.get_untracked() else { return };
        let Some(proposal) = v.status.proposal else { return };
        // One made offline (or whose sending failed) is sent again as it is, not signed anew.
        let unsent = v
            .status
            .pending
            .into_iter()
            .find(|s| s.proposal == proposal.id && s.org == session.user.org_id && s.user == session.user.username);
        busy.set(true);
        message.set(None);
        spawn_local(async move {
            let result = async {
                if let Some(signature) = unsent {
                    let req = SignatureRequest { proposal, signature };
                    return Ok(("sent again", api::send_signature(&session.token, id, &req).await));
                }
                let signer = signing::device_signer(engine.store(), &session.token).await.map_err(|e| e.to_string())?;
                let at = platform::now_ms();
                let (user, org) = (session.user.username.clone(), session.user.org_id.clone());
                let bytes = agreement::statement(id, &proposal, &user, &org, &signer.key_id, at);
                let signature = signer.sign(&bytes).await.map_err(|e| e.to_string())?;
                let mut sig_id = [0u8; 8];
                getrandom::fill(&mut sig_id).map_err(|e| e.to_string())?;
                let signature = AgreementSignature {
                    id: sig_id.iter().map(|b| format!("{b:02x}")).collect(),
                    proposal: proposal.id.clone(),
                    user,
                    org,
                    key: signer.key_id.clone(),
                    at,
                    signature,
                };
                // Into the document first (stored on this device, synced with the text), then
                // to the server, which checks it against its own copy and keeps it.
                let written = signature.clone();
                editor.update(move |r| {
                    agreement::write_signature(r.doc_mut(), &written).map_err(|e| e.to_string())?;
                    r.commit_change(at, false).map_err(|e| e.to_string())
                })?;
                let req = SignatureRequest { proposal, signature };
                let accepted = api::send_signature(&session.token, id, &req).await;
                Ok::<_, String>((signer.kind(), accepted))
            }
            .await;
            busy.set(false);
            match result {
                Ok((kind, Ok(_))) => {
                    message.set(Some((true, format!("{} ({kind})", ctx.t(text::AG_SIGNED)))));
                    fetch();
                }
                // Offline, or the network failed: it goes by itself once the server is reachable.
                Ok((_, Err(e))) if !platform::is_online() || matches!(e, api::ApiError::Network) => {
                    message.set(Some((true, ctx.t(text::AG_SIGN_QUEUED).to_owned())))
                }
                Ok((_, Err(e))) => message.set(Some((false, format!("{}{e}", ctx.t(text::AG_SIGN_PENDING))))),
                Err(e) => message.set(Some((false, format!("{}{e}", ctx.t(text::AG_SIGN_FAILED))))),
            }
        });
    };

    let add_party = move |_| {
        let org = party_choice.get_untracked();
        if org.is_empty() {
            return;
        }
        party_choice.set(String::new());
        let o = org.clone();
        edit(Box::new(move |doc| agreement::add_party(doc, &o)));
        // A party can read and write the agreement: it is shared with it (needs the network).
        let Some(session) = ctx.engine().and_then(|e| e.session()) else { return };
        spawn_local(async move {
            match api::share(&session.token, id, &org).await {
                Ok(()) => ctx.access_changed.update(|n| *n += 1),
                Err(e) => message.set(Some((false, format!("{}{e}", ctx.t(text::SHARE_FAILED))))),
            }
        });
    };

    let add_clause = move |_| {
        let mut bytes = [0u8; 6];
        let _ = getrandom::fill(&mut bytes);
        let new_id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let last = view_state.get_untracked().and_then(|v| v.content.clauses.last().map(|c| c.id.clone()));
        edit(Box::new(move |doc| agreement::add_clause(doc, &new_id, last.as_deref(), "", "")));
        editor.redraw();
    };

    let org_name = move |org: &str| editor.org_name(org);
    let my_org = move || ctx.engine().and_then(|e| e.session()).map(|s| s.user.org_id);
    // A signatory by name (as the server knows the account that wrote into this record), the
    // username while that is not known.
    let person = move |username: &str| {
        actors
            .with(|a| a.iter().find(|b| b.username == username).map(|b| format!("{}（{username}）", b.display_name)))
            .unwrap_or_else(|| username.to_owned())
    };

    let state = move || view_state.get().map(|v| v.status.state);
    let status_line = move || {
        let v = view_state.get()?;
        let (code, label) = state_label(v.status.state);
        let waiting: Vec<String> = v.status.parties.iter().filter(|p| p.current.is_none()).map(|p| org_name(&p.org)).collect();
        // Outdated: either nobody proposed the new text yet (say what to do), or it is
        // proposed and waits for signatures.
        let proposed_now = v.status.proposal.is_some();
        let detail = match v.status.state {
            State::Outdated if !proposed_now => ctx.t(text::AG_PROPOSE_AGAIN).to_owned(),
            State::Outdated if !waiting.is_empty() => {
                format!("{}{}{}", ctx.t(text::AG_NEW_TEXT_PROPOSED), ctx.t(text::AG_WAITING_FOR), waiting.join("、"))
            }
            State::AwaitingSignatures if !waiting.is_empty() => format!("{}{}", ctx.t(text::AG_WAITING_FOR), waiting.join("、")),
            _ => String::new(),
        };
        Some((code, ctx.t(label).to_owned(), detail))
    };

    let field_input = move |field: TextField, value: String, input_id: &'static str, label: L, multiline: bool| {
        let on_input = move |ev: leptos::ev::Event| {
            let v = event_target_value(&ev);
            edit(Box::new(move |doc| agreement::set_text(doc, field, &v)));
        };
        let control = if multiline {
            view! { <textarea id=input_id rows="3" on:input=on_input prop:value=value></textarea> }.into_any()
        } else if field == TextField::EffectiveDate {
            view! { <input type="date" id=input_id on:input=on_input prop:value=value/> }.into_any()
        } else {
            view! { <input type="text" id=input_id on:input=on_input prop:value=value/> }.into_any()
        };
        view! {
            <div class="field">
                <label for=input_id>{move || ctx.t(label)}</label>
                {control}
            </div>
        }
    };

    view! {
        <section class="agreement" id="agreement">
            {move || status_line().map(|(code, label, detail)| view! {
                <p id="agreement-status" class=format!("agreement-status {code}") data-state=code role="status">
                    <strong>{label}</strong>" "<span class="muted">{detail}</span>
                </p>
            })}
            {move || others().map(|seen| {
                let clauses = view_state.get().map(|v| v.content.clauses).unwrap_or_default();
                view! {
                    <ul class="presence" id="ag-presence" aria-live="polite">
                        {seen.into_iter().map(|(peer, p)| {
                            let place = p.clause.as_ref().and_then(|c| clauses.iter().position(|x| &x.id == c));
                            let doing = match place {
                                Some(n) => format!("{}{}", ctx.t(text::AG_PRESENCE_EDITING), clause_number(n + 1, ctx.lang.get())),
                                None => ctx.t(text::AG_PRESENCE_VIEWING).to_owned(),
                            };
                            view! {
                                <li data-peer=peer data-clause=p.clause.clone().unwrap_or_default()>
                                    {format!("{}（{}）", p.name, org_name(&p.org))}" "{doing}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }
            })}
            {move || {
                // Drawn again from the document after someone else's change, never while typing.
                editor.epoch.track();
                let Some(v) = view_state.get_untracked() else {
                    return view! { <p class="error" role="alert">{ctx.t(text::AG_NOT_AN_AGREEMENT)}</p> }.into_any();
                };
                let c = v.content;
                let n = c.clauses.len();
                let clauses = c.clauses.iter().enumerate().map(|(i, clause)| {
                    let cid = clause.id.clone();
                    let (h_id, b_id, up_id, down_id, rm_id) = (cid.clone(), cid.clone(), cid.clone(), cid.clone(), cid.clone());
                    let prev = if i >= 2 { Some(c.clauses[i - 2].id.clone()) } else { None };
                    let next = c.clauses.get(i + 1).map(|c| c.id.clone());
                    let first = i == 0;
                    view! {
                        <li class="clause" data-clause=cid.clone()>
                            <span class="clause-number">{move || clause_number(i + 1, ctx.lang.get())}</span>
                            <input type="text" class="clause-heading" aria-label=move || ctx.t(text::AG_CLAUSE_HEADING) prop:value=clause.heading.clone()
                                on:input=move |ev| { let v = event_target_value(&ev); let id = h_id.clone(); edit(Box::new(move |doc| agreement::edit_clause(doc, &id, Some(&v), None))); }/>
                            <textarea class="clause-body" rows="3" aria-label=move || ctx.t(text::AG_CLAUSE_BODY) prop:value=clause.body.clone()
                                on:input=move |ev| { let v = event_target_value(&ev); let id = b_id.clone(); edit(Box::new(move |doc| agreement::edit_clause(doc, &id, None, Some(&v)))); }></textarea>
                            <div class="clause-actions">
                                <button type="button" class="clause-up" disabled=first on:click=move |_| {
                                    let (id, after) = (up_id.clone(), prev.clone());
                                    edit(Box::new(move |doc| agreement::move_clause(doc, &id, after.as_deref())));
                                    editor.redraw();
                                }>{move || ctx.t(text::AG_MOVE_UP)}</button>
                                <button type="button" class="clause-down" disabled=i + 1 == n on:click=move |_| {
                                    let (id, after) = (down_id.clone(), next.clone());
                                    edit(Box::new(move |doc| agreement::move_clause(doc, &id, after.as_deref())));
                                    editor.redraw();
                                }>{move || ctx.t(text::AG_MOVE_DOWN)}</button>
                                <button type="button" class="clause-remove" on:click=move |_| {
                                    let id = rm_id.clone();
                                    edit(Box::new(move |doc| agreement::remove_clause(doc, &id)));
                                    editor.redraw();
                                }>{move || ctx.t(text::AG_REMOVE_CLAUSE)}</button>
                            </div>
                        </li>
                    }
                }).collect_view();
                view! {
                    <div class="agreement-text">
                        {field_input(TextField::Title, c.title.clone(), "ag-title", text::AG_TITLE, false)}
                        {field_input(TextField::Preamble, c.preamble.clone(), "ag-preamble", text::AG_PREAMBLE, true)}
                        <div class="agreement-dates">
                            {field_input(TextField::EffectiveDate, c.effective_date.clone(), "ag-effective", text::AG_EFFECTIVE, false)}
                            {field_input(TextField::Term, c.term.clone(), "ag-term", text::AG_TERM, false)}
                        </div>
                        <h3>{move || ctx.t(text::AG_CLAUSES)}</h3>
                        {(n == 0).then(|| view! { <p class="muted" id="ag-no-clauses">{move || ctx.t(text::AG_NO_CLAUSES)}</p> })}
                        <ol class="clauses" id="ag-clauses" on:focusin=on_focus>{clauses}</ol>
                        <button type="button" id="ag-add-clause" on:click=add_clause>{move || ctx.t(text::AG_ADD_CLAUSE)}</button>
                    </div>
                }.into_any()
            }}
            <h3>{move || ctx.t(text::AG_PARTIES)}</h3>
            <ul class="parties" id="ag-parties">
                {move || view_state.get().map(|v| v.status.parties.iter().map(|p| {
                    let signed = if p.current.is_some() { "current" } else if p.earlier.is_some() { "earlier" } else { "none" };
                    let who = p.current.as_ref().or(p.earlier.as_ref()).map(|s| format!("{} · {}", person(&s.user), platform::format_cst(s.at, ctx.lang.get())));
                    let label = match signed {
                        "current" => text::AG_PARTY_SIGNED,
                        "earlier" => text::AG_PARTY_SIGNED_EARLIER,
                        _ => text::AG_PARTY_NOT_SIGNED,
                    };
                    view! {
                        <li data-org=p.org.clone() data-signed=signed>
                            <span class="party-name">{org_name(&p.org)}</span>" — "
                            <span class="party-state">{ctx.t(label)}</span>
                            {who.map(|w| view! { <span class="muted">" ("{w}")"</span> })}
                        </li>
                    }
                }).collect_view())}
            </ul>
            {move || view_state.get().filter(|v| !v.status.invalid.is_empty()).map(|v| view! {
                <div class="agreement-invalid" id="ag-invalid" role="alert">
                    <p><strong>{ctx.t(text::AG_INVALID)}</strong></p>
                    <ul>
                        {v.status.invalid.iter().map(|(s, why)| view! {
                            <li data-org=s.org.clone()>{format!("{} · {} · ", s.user, org_name(&s.org))}{ctx.t(invalid_reason(why))}</li>
                        }).collect_view()}
                    </ul>
                </div>
            })}
            <div class="share-row">
                <label for="ag-add-party">{move || ctx.t(text::AG_ADD_PARTY)}</label>
                <select id="ag-add-party" prop:value=move || party_choice.get() on:change=move |ev| party_choice.set(event_target_value(&ev))>
                    <option value="">{move || format!("— {} —", ctx.t(text::CHOOSE))}</option>
                    {move || {
                        let parties = view_state.get().map(|v| v.content.parties).unwrap_or_default();
                        editor.orgs.get().into_iter().filter(|o| !parties.contains(&o.id)).map(|o| view! { <option value=o.id>{o.name}</option> }).collect_view()
                    }}
                </select>
                <button type="button" id="ag-add-party-button" on:click=add_party>{move || ctx.t(text::AG_ADD)}</button>
            </div>
            {move || view_state.get().and_then(|v| Some((v.signed_content?, v.content))).map(|(before, now)| view! {
                <div class="agreement-diff" id="ag-diff">
                    <p><strong>{ctx.t(text::AG_CHANGED_SINCE_SIGNED)}</strong></p>
                    <pre class="diff">{
                        let (lang, name) = (ctx.lang.get(), |o: &str| org_name(o));
                        diff_view(&render_text(&before, lang, name), &render_text(&now, lang, name))
                    }</pre>
                </div>
            })}
            <HistoryView editor=editor actors=actors show=show_history compare=compare org_name=Callback::new(move |o: String| org_name(&o))/>
            <div class="agreement-actions">
                {move || {
                    let v = view_state.get()?;
                    let mine = my_org();
                    let is_party = mine.as_ref().is_some_and(|o| v.content.parties.contains(o));
                    let signed_now = v.status.parties.iter().any(|p| Some(&p.org) == mine.as_ref() && p.current.is_some());
                    let pending = v.status.pending.iter().any(|s| Some(&s.org) == mine.as_ref() && v.status.proposal.as_ref().is_some_and(|p| p.id == s.proposal));
                    Some(view! {
                        {(v.status.proposal.is_none()).then(|| view! {
                            <button type="button" class="primary" id="ag-propose" on:click=propose>{ctx.t(text::AG_PROPOSE)}</button>
                        })}
                        {(v.status.proposal.is_some() && is_party && !signed_now).then(|| view! {
                            <button type="button" class="primary" id="ag-sign" disabled=move || busy.get() on:click=sign>
                                {ctx.t(if pending { text::AG_SIGN_AGAIN } else { text::AG_SIGN })}
                            </button>
                        })}
                        {v.status.proposal.as_ref().map(|p| view! {
                            <p class="muted" id="ag-proposal">{ctx.t(text::AG_PROPOSAL)}" "<code>{p.content.short()}</code></p>
                        })}
                    })
                }}
                <button type="button" id="ag-print" on:click=move |_| crate::api::print_and_report(ctx.session(), 1)>{move || ctx.t(text::AG_PRINT)}</button>
            </div>
            {move || message.get().map(|(ok, m)| view! {
                <p id="ag-message" class=if ok { "ok" } else { "error" } role=if ok { "status" } else { "alert" }>{m}</p>
            })}
            {move || view_state.get().map(|v| view! { <PrintView view=v org_name=Callback::new(move |o: String| org_name(&o)) person=Callback::new(move |u: String| person(&u)) state=state/> })}
        </section>
    }
}

/// Who changed what, when: versions newest first, their authors as the server bound them,
/// and the text difference between any version and now.
#[component]
fn HistoryView(
    editor: Editor,
    actors: RwSignal<Vec<ActorBinding>>,
    show: RwSignal<bool>,
    compare: RwSignal<Option<Vec<String>>>,
    org_name: Callback<String, String>,
) -> impl IntoView {
    let ctx = use_ctx();
    // Read only while shown: it walks every change of the document.
    let versions = Memo::new(move |_| {
        if !show.get() {
            return Vec::new();
        }
        editor.tick.track();
        editor.epoch.track();
        editor.read(|r| agreement::history(r.doc_mut(), VERSION_GAP_MS)).unwrap_or_default()
    });
    let author = move |actor: &str| {
        actors.with(|a| a.iter().find(|b| b.actor == actor).map(|b| format!("{}（{}）", b.display_name, org_name.run(b.org_id.clone()))))
    };
    let diff = move || {
        let heads = compare.get()?;
        editor.tick.track();
        editor.epoch.track();
        let (then, now) =
            editor.read(|r| Some((agreement::content_at(r.doc(), &heads).ok()?, agreement::content(r.doc()).ok()?))).flatten()?;
        Some(view! {
            <div class="agreement-diff" id="ag-compare">
                <p><strong>{ctx.t(text::AG_CHANGED_SINCE_VERSION)}</strong></p>
                <pre class="diff">{
                    let (lang, name) = (ctx.lang.get(), |o: &str| org_name.run(o.to_owned()));
                    diff_view(&render_text(&then, lang, name), &render_text(&now, lang, name))
                }</pre>
            </div>
        })
    };
    view! {
        <div class="agreement-history">
            <button type="button" id="ag-history-toggle" aria-expanded=move || show.get().to_string() on:click=move |_| show.update(|s| *s = !*s)>
                {move || ctx.t(text::AG_HISTORY)}
            </button>
            {move || show.get().then(|| view! {
                <ol class="versions" id="ag-history" reversed>
                    {move || versions.get().into_iter().rev().take(30).map(|v| {
                        let heads = v.heads.clone();
                        let who = author(&v.actor);
                        let verified = who.is_some();
                        view! {
                            <li class="version" data-verified=verified.to_string()>
                                <span class="version-author">{who.unwrap_or_else(|| ctx.t(text::AG_UNVERIFIED_AUTHOR).to_owned())}</span>
                                " · "{platform::format_cst(v.to, ctx.lang.get())}
                                " · "{if v.changes == 1 { ctx.t(text::AG_CHANGE_ONE).to_owned() } else { ctx.t(text::AG_CHANGES).replace("{n}", &v.changes.to_string()) }}" "
                                <button type="button" class="link compare" on:click=move |_| compare.set(Some(heads.clone()))>{ctx.t(text::AG_COMPARE)}</button>
                            </li>
                        }
                    }).collect_view()}
                </ol>
                {diff}
            })}
        </div>
    }
}

/// The agreement as printed: A4, Chinese typography, a signature block per party.
#[component]
fn PrintView(
    view: View,
    org_name: Callback<String, String>,
    person: Callback<String, String>,
    state: impl Fn() -> Option<State> + Send + Sync + 'static,
) -> impl IntoView {
    let ctx = use_ctx();
    let lang = ctx.lang.get_untracked();
    let c = view.content;
    let parties = c
        .parties
        .iter()
        .map(|p| {
            let p = p.clone();
            view! { <p class="print-party">{move || org_name.run(p.clone())}</p> }
        })
        .collect_view();
    let colon = if lang == shared::i18n::Lang::Zh { "：" } else { ": " };
    let clauses = c
        .clauses
        .iter()
        .enumerate()
        .map(|(i, cl)| {
            view! {
                <p class="print-clause"><strong>{clause_number(i + 1, lang)}" "{cl.heading.clone()}</strong>" "{cl.body.clone()}</p>
            }
        })
        .collect_view();
    let short = view.status.proposal.as_ref().map(|p| p.content.short()).unwrap_or_default();
    let blocks = view
        .status
        .parties
        .iter()
        .map(|p| {
            let s = p.current.clone();
            let org = p.org.clone();
            view! {
                <div class="print-signature">
                    <p><strong>{move || org_name.run(org.clone())}</strong></p>
                    {match s {
                        Some(s) => view! {
                            <p>{ctx.t(text::AG_SIGNATORY)}{colon}{let u = s.user.clone(); move || person.run(u.clone())}</p>
                            <p>{ctx.t(text::AG_SIGNED_AT)}{colon}{platform::format_cst(s.at, lang)}</p>
                            <p>{ctx.t(text::AG_KEY)}{colon}<code>{s.key.clone()}</code></p>
                            <p>{ctx.t(text::AG_PROPOSAL)}{colon}<code>{short.clone()}</code></p>
                        }.into_any(),
                        None => view! { <p class="muted">{ctx.t(text::AG_PARTY_NOT_SIGNED)}</p> }.into_any(),
                    }}
                </div>
            }
        })
        .collect_view();
    let in_force = state() == Some(State::InForce);
    view! {
        <article class="print-only agreement-print" id="ag-print-view" data-in-force=in_force.to_string()>
            <h1 class="print-title">{c.title.clone()}</h1>
            <div class="print-parties">{parties}</div>
            <p class="print-preamble">{c.preamble.clone()}</p>
            {clauses}
            {(!c.effective_date.is_empty() || !c.term.is_empty()).then(|| view! {
                <p class="print-term">{ctx.t(text::AG_EFFECTIVE)}{colon}{c.effective_date.clone()}"　"{ctx.t(text::AG_TERM)}{colon}{c.term.clone()}</p>
            })}
            <div class="print-signatures">{blocks}</div>
            <p class="print-verify">{ctx.t(text::AG_VERIFY_NOTE)}</p>
        </article>
    }
}

fn invalid_reason(why: &agreement::Invalid) -> L {
    use agreement::{Invalid, SignatureFault};
    match why {
        Invalid::NoSuchProposal | Invalid::AlteredProposal => text::AG_INVALID_PROPOSAL,
        Invalid::UnknownVersion => text::AG_INVALID_UNKNOWN_VERSION,
        Invalid::NotAParty => text::AG_INVALID_NOT_A_PARTY,
        Invalid::Signature(SignatureFault::UnknownKey) => text::AG_INVALID_KEY,
        Invalid::Signature(SignatureFault::KeyNotValidThen) => text::AG_INVALID_KEY_TIME,
        Invalid::Signature(SignatureFault::BadSignature) => text::AG_INVALID_SIGNATURE,
    }
}

fn state_label(state: State) -> (&'static str, L) {
    match state {
        State::Drafting => ("drafting", text::AG_DRAFTING),
        State::AwaitingSignatures => ("awaiting", text::AG_AWAITING),
        State::InForce => ("in-force", text::AG_IN_FORCE),
        State::Outdated => ("outdated", text::AG_OUTDATED),
    }
}

/// "第三条" in Chinese, "Article 3" in English.
pub fn clause_number(n: usize, lang: shared::i18n::Lang) -> String {
    match lang {
        shared::i18n::Lang::Zh => format!("第{}条", shared::i18n::chinese_number(n)),
        shared::i18n::Lang::En => format!("Article {n}"),
    }
}

/// The agreement as plain text, one part per line, for showing what changed: parties by
/// name, clauses numbered as printed.
fn render_text(c: &Content, lang: shared::i18n::Lang, org_name: impl Fn(&str) -> String) -> String {
    let mut out = format!("{}\n{}\n{} {}\n", c.title, c.preamble, c.effective_date, c.term);
    out.push_str(&c.parties.iter().map(|p| org_name(p)).collect::<Vec<_>>().join("、"));
    out.push('\n');
    for (i, cl) in c.clauses.iter().enumerate() {
        out.push_str(&format!("{} {} {}\n", clause_number(i + 1, lang), cl.heading, cl.body));
    }
    out
}

/// Removed text struck through, added text marked, by character (Chinese has no spaces).
fn diff_view(before: &str, after: &str) -> impl IntoView + use<> {
    TextDiff::from_chars(before, after)
        .iter_all_changes()
        .fold(Vec::<(ChangeTag, String)>::new(), |mut runs, change| {
            match runs.last_mut() {
                Some((tag, s)) if *tag == change.tag() => s.push_str(change.value()),
                _ => runs.push((change.tag(), change.value().to_owned())),
            }
            runs
        })
        .into_iter()
        .map(|(tag, s)| match tag {
            ChangeTag::Equal => view! { <span>{s}</span> }.into_any(),
            ChangeTag::Delete => view! { <del>{s}</del> }.into_any(),
            ChangeTag::Insert => view! { <ins>{s}</ins> }.into_any(),
        })
        .collect_view()
}
