//! The seeder of `cargo xtask bench app`: puts N intake records, in the app's own layout, on a
//! running server as the demo federation user, and waits until the server has acknowledged
//! every one (its heads, which our server reports only once SQLite has them on disk).
//!
//! ```sh
//! cargo bench -p server --bench app -- seed --url http://127.0.0.1:PORT --count N
//! ```
//!
//! Each record is what the app makes with "new case clue" and a few fields filled in: made by
//! `Record::create` with the newest intake form, signed with the user like the app's edits,
//! and set through the form's fields: the title field (a code `HZ-2026-00042`, the N-th record
//! has number N), the category field (the choices in turn), the channel, whether a minor, the
//! incident date and a description of about 300 Chinese characters. The client is the benches'
//! light one (`common::client`): our `Node` as a client, no storage, at most `WINDOW` documents
//! unacknowledged. Run without `seed` (as `cargo bench` does) it prints how to use it and exits.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use automerge::{AutoCommit, ChangeHash};
use common::client::{CONN, Client, sorted};
use common::servers::{PASSWORD, USER};
use shared::api::Session;
use shared::form::{FieldType, Form, RecordKind};
use shared::record::Author;
use shared::sync::Event;
use shared::{DocumentId, FieldValue, Record, RecordMeta};

/// Documents kept unacknowledged at once (as in `benches/sync.rs`).
const WINDOW: usize = 256;

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; it means nothing here.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.first().map(String::as_str) != Some("seed") {
        eprintln!(
            "usage: cargo bench -p server --bench app -- seed --url http://127.0.0.1:PORT --count N [--timeout-s S] [--report seed.json]"
        );
        eprintln!("(run by `cargo xtask bench app`; without `seed` it does nothing)");
        return Ok(());
    }
    let mut url = None;
    let mut count = None;
    let mut timeout_s = 600u64;
    let mut report = None;
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = Some(value.trim_end_matches('/').to_owned()),
            "--count" => count = Some(value.parse::<usize>().context("--count")?),
            "--timeout-s" => timeout_s = value.parse().context("--timeout-s")?,
            "--report" => report = Some(std::path::PathBuf::from(value)),
            _ => bail!("unknown flag {flag}"),
        }
    }
    let url = url.context("--url is required")?;
    let count = count.context("--count is required")?;
    if !url.starts_with("http://127.0.0.1:") {
        bail!("--url must be http://127.0.0.1:PORT (the bench only talks to this machine)");
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (secs, rate) = rt.block_on(seed(&url, count, Duration::from_secs(timeout_s)))?;
    if let Some(path) = report {
        let json = serde_json::json!({ "count": count, "secs": secs, "rate": rate });
        std::fs::write(&path, json.to_string()).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Seeds and returns (seconds, records acknowledged per second).
async fn seed(url: &str, count: usize, limit: Duration) -> Result<(f64, f64)> {
    let session = login(url).await?;
    let form = shared::form::latest("intake").context("no intake form in this build")?;
    let t_make = Instant::now();
    let mut docs = Vec::with_capacity(count);
    let mut bytes = 0usize;
    for i in 0..count {
        let mut record = intake_record(form, &session, i, count)?;
        bytes += record.save().len();
        let heads = sorted(record.doc_mut().get_heads());
        docs.push((record.id(), heads, record.into_doc()));
    }
    let make_secs = t_make.elapsed().as_secs_f64();

    let ws = format!("{}/sync?token={}", url.replacen("http://", "ws://", 1), session.token);
    let mut client = Client::connect(&ws, &format!("bench-seed-{count}")).await?;
    let ids: Vec<DocumentId> = docs.iter().map(|d| d.0).collect();
    let heads: Vec<Vec<ChangeHash>> = docs.iter().map(|d| d.1.clone()).collect();
    let mut contents: Vec<Option<AutoCommit>> = docs.into_iter().map(|d| Some(d.2)).collect();
    let t0 = Instant::now();
    let left = client
        .drive(
            &ids,
            WINDOW,
            limit,
            |node, i| node.handle(0, Event::Create { doc: ids[i], content: contents[i].take().expect("created once") }),
            |node, i| sorted(node.acknowledged(CONN, ids[i])) == heads[i],
        )
        .await;
    let secs = t0.elapsed().as_secs_f64();
    client.close().await;
    match left.describe() {
        None => {
            let rate = count as f64 / secs;
            println!(
                "seeded {count} intake records as {USER} in {secs:.2} s: {:.0} records/s acknowledged \
                 ({:.1} KiB per record saved, made in {make_secs:.2} s)",
                rate,
                bytes as f64 / count.max(1) as f64 / 1024.0
            );
            Ok((secs, rate))
        }
        Some(why) => bail!("seeding {count} records did not finish: {why}"),
    }
}

/// Signs in as the demo federation user.
async fn login(url: &str) -> Result<Session> {
    let body = serde_json::json!({ "username": USER, "password": PASSWORD });
    let reply = reqwest::Client::new().post(format!("{url}/api/login")).json(&body).send().await?.error_for_status()?;
    reply.json().await.context("the login reply is not a session")
}

/// The i-th of `count` case clues, as the app would have made and filled it in.
fn intake_record(form: &'static Form, session: &Session, i: usize, count: usize) -> Result<Record> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    // Spread over the last 200 days, oldest first, so dates and the list's order look real.
    let day = 86_400_000i64;
    let created_at = now - 200 * day + (i as i64 * 200 * day) / count.max(1) as i64;
    let meta = RecordMeta {
        kind: RecordKind::new(form.kind),
        form_id: form.id.into(),
        form_version: form.version,
        created_by: USER.into(),
        created_at,
    };
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    let mut record = Record::create(DocumentId::from_random_bytes(b), &meta);
    record.set_author(Author { user: session.user.display_name.clone(), org: Some(session.user.org_id.clone()) });

    let field = |id: &str| form.field(id).with_context(|| format!("the intake form has no field {id}"));
    let choice = |id: &str, k: usize| -> Result<FieldValue> {
        let f = field(id)?;
        let FieldType::SelectOne(choices) = &f.ty else { bail!("{id} is not a choice") };
        Ok(FieldValue::Choice(choices[k % choices.len()].id.to_owned()))
    };
    // One edit a second after another, as someone filling in the form would.
    let mut t = created_at;
    let mut set = |id: &str, value: FieldValue| -> Result<()> {
        t += 1000;
        record.set(field(id)?, Some(value), t).with_context(|| format!("setting {id}"))
    };
    set(form.title_field, FieldValue::Text(code(i)))?;
    let category = form.category_field.context("the intake form has no category field")?;
    set(category, choice(category, i)?)?;
    set("channel", choice("channel", i / 3)?)?;
    set("minor", FieldValue::Bool(i.is_multiple_of(7)))?;
    let date = chrono_free_date(created_at - 3 * day);
    set("incident_date", FieldValue::Date(date))?;
    set("description", FieldValue::LongText(description(i)))?;
    Ok(record)
}

/// The code of the i-th record: `HZ-2026-00001` for the first.
fn code(i: usize) -> String {
    format!("HZ-2026-{:05}", i + 1)
}

/// About 300 characters of case description, different from one record to the next.
fn description(i: usize) -> String {
    const SENTENCES: [&str; 12] = [
        "当事人来电反映，其丈夫近三个月多次酒后对其实施殴打，并威胁如果报警就不让她见孩子。",
        "邻居称夜间经常听到争吵和哭喊声，曾两次看到当事人脸上有明显淤青，但当事人不愿多谈。",
        "村妇女主任上门走访时了解到，当事人长期被限制外出，手机也经常被对方没收。",
        "当事人表示目前暂住在娘家，担心对方找上门来，希望了解申请人身安全保护令的程序。",
        "据学校老师反映，孩子近期情绪低落，上课注意力不集中，身上有不明原因的伤痕。",
        "当事人已在镇卫生院就诊，医生记录了左臂和背部的软组织挫伤，病历复印件已留存。",
        "双方曾于去年在村调解委员会调解，对方当时写下保证书，但此后仍多次发生类似情况。",
        "当事人经济上依赖对方，没有独立收入，担心离开后无法负担孩子的生活和学习费用。",
        "工作人员向当事人说明了反家庭暴力法的相关规定，以及告诫书和保护令的区别。",
        "当事人同意由妇联协助联系派出所出具告诫书，并希望检察机关关注孩子的监护问题。",
        "目前当事人情绪基本稳定，已告知紧急情况下拨打一一零，并约定三天后再次回访。",
        "经初步核实，反映情况基本属实，建议移送相关部门依法处理，并持续跟进落实情况。",
    ];
    let mut text = String::new();
    let mut k = i;
    while text.chars().count() < 290 {
        text.push_str(SENTENCES[k % SENTENCES.len()]);
        k = k * 7 + 5;
    }
    text
}

/// `YYYY-MM-DD` (UTC) of a time in milliseconds, without a date library.
fn chrono_free_date(ms: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
