//! Records as tables to hand on: one sheet per form version, headers in the interface's
//! language, choices as their labels, dates as dates. Fields marked `personal` (names, phone
//! numbers, addresses) are left out unless the person exporting chose to include them.
//!
//! [`csv`] writes one table (the sheets' columns merged by field id) as UTF-8 with a byte
//! order mark, so spreadsheet programs show Chinese correctly; [`xlsx`] (feature `xlsx`,
//! which only the app's export chunk and tests turn on) a workbook with a sheet per version.

use std::collections::BTreeMap;

use crate::form::{Field, FieldType, Form};
use crate::i18n::{L, Lang};
use crate::{FieldValue, Record, RecordError, RecordSummary};

/// What goes into the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub lang: Lang,
    /// Include fields marked `personal` (the person confirmed it, with a reason).
    pub personal: bool,
}

/// Why personal fields may be included: a code, kept in the audit trail. Codes, not words,
/// because an audit row can never be changed, and a typed reason could name a survivor.
pub const REASONS: [(&str, L); 4] = [
    ("court_or_procuratorate_request", L::new("法院或检察院依法调取", "Requested by a court or procuratorate")),
    ("referral", L::new("转介救助服务", "Referral to support services")),
    ("survivor_request", L::new("当事人本人申请", "The survivor's own request")),
    ("supervision", L::new("上级督查", "Supervision by a higher office")),
];

/// One cell's value, typed so a spreadsheet sorts and sums it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// `YYYY-MM-DD`.
    Date(String),
}

impl Cell {
    /// As text, for CSV.
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) | Cell::Date(t) => t.clone(),
            Cell::Number(n) => n.to_string(),
        }
    }
}

/// A column: the field id it shows (or a fixed column's own id) and its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub id: String,
    pub header: String,
}

/// The records of one form version.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    /// `intake v3`, as a sheet's name.
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

/// Builds the sheets record by record, so a caller can load one record at a time.
pub struct Exporter {
    options: Options,
    sheets: BTreeMap<(String, u32), Sheet>,
    /// The fields each sheet's columns show after the fixed ones.
    fields: BTreeMap<(String, u32), Vec<&'static Field>>,
}

const FIXED: [(&str, L); 6] = [
    ("_code", L::new("编号", "Code")),
    ("_kind", L::new("类别", "Kind")),
    ("_status", L::new("状态", "Status")),
    ("_stage", L::new("办理进度", "Case stage")),
    ("_created", L::new("登记日期", "Recorded on")),
    ("_updated", L::new("更新日期", "Updated on")),
];

impl Exporter {
    pub fn new(options: Options) -> Exporter {
        Exporter { options, sheets: BTreeMap::new(), fields: BTreeMap::new() }
    }

    /// Adds one record as a row of its form version's sheet.
    pub fn add(&mut self, record: &Record, summary: &RecordSummary) -> Result<(), RecordError> {
        let form = record.form()?;
        let key = (form.id.to_owned(), form.version);
        let lang = self.options.lang;
        let personal = self.options.personal;
        let fields = self.fields.entry(key.clone()).or_insert_with(|| exported_fields(form, personal));
        let sheet = self.sheets.entry(key).or_insert_with(|| Sheet {
            name: format!("{} v{}", form.id, form.version),
            columns: FIXED
                .iter()
                .map(|(id, l)| Column { id: (*id).into(), header: l.get(lang).into() })
                .chain(fields.iter().map(|f| Column { id: f.id.into(), header: f.label.get(lang).into() }))
                .collect(),
            rows: Vec::new(),
        });
        let stage = summary.case.as_ref().and_then(|c| {
            let wf = crate::case::workflow::find(&c.workflow)?;
            Some(wf.state(&c.state)?.label.get(lang).to_owned())
        });
        let status = match summary.status {
            crate::record::Status::Draft => L::new("草稿", "Draft"),
            crate::record::Status::Complete => L::new("已完成", "Complete"),
        };
        let mut row = vec![
            text(summary.title.clone()),
            text(form.kind_label.get(lang).to_owned()),
            Cell::Text(status.get(lang).into()),
            stage.map_or(Cell::Empty, Cell::Text),
            Cell::Date(cst_date(summary.created_at)),
            Cell::Date(cst_date(summary.updated_at)),
        ];
        row.extend(fields.iter().map(|f| record.get(f).map_or(Cell::Empty, |v| cell(f, &v, lang, personal))));
        sheet.rows.push(row);
        Ok(())
    }

    /// The sheets, by form id and version.
    pub fn sheets(self) -> Vec<Sheet> {
        self.sheets.into_values().collect()
    }
}

/// The fields a form version's sheet has: all but personal ones (unless included), in order.
fn exported_fields(form: &'static Form, personal: bool) -> Vec<&'static Field> {
    form.fields.iter().filter(|f| personal || !f.personal).collect()
}

fn text(s: String) -> Cell {
    if s.is_empty() { Cell::Empty } else { Cell::Text(s) }
}

fn cst_date(ms: i64) -> String {
    let (y, m, d) = crate::cst::date_of(ms);
    format!("{y:04}-{m:02}-{d:02}")
}

fn label(choices: &[crate::form::Choice], id: &str, lang: Lang) -> String {
    choices.iter().find(|c| c.id == id).map_or_else(|| id.to_owned(), |c| c.label.get(lang).to_owned())
}

/// A value as a cell. A repeat group is its items, one per line, sub-fields joined (personal
/// ones only if included); an attachment only that there is one (a file's name may name a
/// person), a signature only that it was signed.
fn cell(field: &Field, value: &FieldValue, lang: Lang, personal: bool) -> Cell {
    let yes_no = |b: bool| if b { L::new("是", "Yes") } else { L::new("否", "No") }.get(lang).to_owned();
    match (&field.ty, value) {
        (_, v) if v.is_empty() => Cell::Empty,
        (_, FieldValue::Int(n)) => Cell::Number(*n as f64),
        (_, FieldValue::Decimal(d)) => d.parse().map_or_else(|_| Cell::Text(d.clone()), Cell::Number),
        (_, FieldValue::Bool(b)) => Cell::Text(yes_no(*b)),
        (_, FieldValue::Date(d)) => Cell::Date(d.clone()),
        (_, FieldValue::DateTime(t)) => Cell::Text(t.replace('T', " ")),
        (FieldType::SelectOne(choices), FieldValue::Choice(id)) => Cell::Text(label(choices, id, lang)),
        (FieldType::SelectMany(choices), FieldValue::Choices(ids)) => {
            Cell::Text(ids.iter().map(|id| label(choices, id, lang)).collect::<Vec<_>>().join("、"))
        }
        (FieldType::Group(subs), FieldValue::Group(items)) => Cell::Text(
            items
                .iter()
                .map(|item| {
                    subs.iter()
                        .filter(|f| personal || !f.personal)
                        .filter_map(|f| item.values.get(f.id).map(|v| cell(f, v, lang, personal).text()))
                        .filter(|t| !t.is_empty())
                        .collect::<Vec<_>>()
                        .join("，")
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        (FieldType::Signature, _) => Cell::Text(L::new("已签名", "Signed").get(lang).into()),
        (_, FieldValue::Attachment(_)) => Cell::Text(L::new("已附文件", "File attached").get(lang).into()),
        (_, v) => text(v.as_str().map(str::to_owned).unwrap_or_else(|| v.input_text())),
    }
}

/// One CSV table of every sheet, UTF-8 with a byte order mark, CRLF line ends (RFC 4180).
/// Sheets of different versions share a column where they share a field id; the first
/// sheet's order comes first, columns only later sheets have after it.
pub fn csv(sheets: &[Sheet]) -> String {
    let mut columns: Vec<Column> = Vec::new();
    for sheet in sheets {
        for c in &sheet.columns {
            if !columns.iter().any(|k| k.id == c.id) {
                columns.push(c.clone());
            }
        }
    }
    let mut out = String::from("\u{feff}");
    let line = |out: &mut String, cells: Vec<String>| {
        out.push_str(&cells.iter().map(|c| quote(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    };
    line(&mut out, columns.iter().map(|c| c.header.clone()).collect());
    for sheet in sheets {
        let at: Vec<Option<usize>> = columns.iter().map(|c| sheet.columns.iter().position(|k| k.id == c.id)).collect();
        for row in &sheet.rows {
            line(&mut out, at.iter().map(|i| i.map(|i| csv_text(&row[i])).unwrap_or_default()).collect());
        }
    }
    out
}

/// A cell as CSV text. Text starting with =, +, -, @, a tab or a carriage return would be run
/// as a formula by a spreadsheet program: an apostrophe keeps it text. (A date is text a
/// device wrote, so it is treated the same.)
fn csv_text(c: &Cell) -> String {
    match c {
        Cell::Text(t) | Cell::Date(t) if t.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{t}"),
        other => other.text(),
    }
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

/// A workbook with a sheet per form version; dates are date cells, numbers numbers.
#[cfg(feature = "xlsx")]
pub fn xlsx(sheets: &[Sheet]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let wrap = Format::new().set_text_wrap();
    for sheet in sheets {
        let ws = book.add_worksheet();
        // Sheet names may not hold these, and are at most 31 characters.
        let name: String = sheet.name.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(31).collect();
        ws.set_name(name)?;
        for (col, c) in sheet.columns.iter().enumerate() {
            ws.write_string_with_format(0, col as u16, &c.header, &bold)?;
            ws.set_column_width(col as u16, 14)?;
        }
        for (r, row) in sheet.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (col, v) in row.iter().enumerate() {
                let col = col as u16;
                match v {
                    Cell::Empty => {}
                    Cell::Number(n) => {
                        ws.write_number(r, col, *n)?;
                    }
                    Cell::Date(d) => match ExcelDateTime::parse_from_str(d) {
                        Ok(dt) => {
                            ws.write_datetime_with_format(r, col, &dt, &date)?;
                        }
                        Err(_) => {
                            ws.write_string(r, col, d)?;
                        }
                    },
                    Cell::Text(t) if t.contains('\n') => {
                        ws.write_string_with_format(r, col, t, &wrap)?;
                    }
                    Cell::Text(t) => {
                        ws.write_string(r, col, t)?;
                    }
                }
            }
        }
        ws.set_freeze_panes(1, 0)?;
    }
    book.save_to_buffer()
}
