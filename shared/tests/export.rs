//! Exports of case clues of two form versions, read back: CSV through a small RFC 4180
//! reader, XLSX through calamine. Headers in the chosen language, choices as labels, dates as
//! dates, a sheet per version; personal fields absent by default and present only when
//! included.

use calamine::{Data, Reader, Xlsx};
use shared::export::{self, Exporter, Options};
use shared::i18n::Lang;
use shared::{DocumentId, Record, RecordMeta};

const NAME: &str = "王某某";
const PHONE: &str = "13800000000";

fn record(n: u8, version: u32, values: &[(&str, &str)]) -> Record {
    let meta = RecordMeta {
        kind: shared::form::RecordKind::new("intake"),
        form_id: "intake".into(),
        form_version: version,
        created_by: "fed-li".into(),
        // 1 December 2026, 00:30 in China (30 November in UTC).
        created_at: shared::cst::day_start("2026-12-01").unwrap() + 1_800_000,
    };
    let mut r = Record::create(DocumentId::from_random_bytes([n; 16]), &meta);
    let form = r.form().unwrap();
    for (id, input) in values {
        let field = form.field(id).unwrap_or_else(|| panic!("intake v{version} has {id}"));
        let value = field.parse_input(input).unwrap();
        r.set(field, value, meta.created_at).unwrap();
    }
    r
}

fn sheets(personal: bool, lang: Lang) -> Vec<export::Sheet> {
    let mut ex = Exporter::new(Options { lang, personal });
    let values = [
        ("survivor_code", "ZX-1"),
        ("survivor_name", NAME),
        ("reporter_phone", PHONE),
        ("survivor_age", "14"),
        ("incident_type", "domestic_violence"),
        ("incident_date", "2026-11-20"),
    ];
    for mut r in [record(1, 2, &values), record(2, 3, &[("survivor_code", "ZX-2"), ("incident_type", "sexual_assault"), ("minor", "yes")])]
    {
        let summary = r.summary().unwrap();
        ex.add(&r, &summary).unwrap();
    }
    ex.sheets()
}

/// Rows of RFC 4180 CSV text.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell, mut quoted) = (vec![], vec![], String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => cell.push(c),
        }
    }
    rows
}

#[test]
fn csv_has_a_bom_headers_in_the_language_labels_and_no_names_by_default() {
    let text = export::csv(&sheets(false, Lang::Zh));
    assert!(text.starts_with('\u{feff}'), "a byte order mark for spreadsheet programs");
    assert!(!text.contains(NAME) && !text.contains(PHONE), "personal fields are left out");
    let rows = read_csv(text.trim_start_matches('\u{feff}'));
    let header = &rows[0];
    let col = |h: &str| header.iter().position(|x| x == h).unwrap_or_else(|| panic!("no column {h}: {header:?}"));
    assert_eq!(rows.len(), 3, "a header and two records of two versions in one table");
    assert_eq!(rows[1][col("编号")], "ZX-1");
    assert_eq!(rows[2][col("编号")], "ZX-2");
    assert_eq!(rows[1][col("登记日期")], "2026-12-01", "the date in China");
    let incident = header.iter().position(|h| h.contains("类型")).unwrap();
    assert_eq!(rows[1][incident], "家庭暴力", "a choice as its label");
    assert_eq!(rows[2][incident], "性侵害");
    assert!(!header.iter().any(|h| h.contains("姓名")), "{header:?}");

    let with = export::csv(&sheets(true, Lang::En));
    assert!(with.contains(NAME) && with.contains(PHONE), "included when chosen");
    assert!(read_csv(with.trim_start_matches('\u{feff}'))[0].iter().any(|h| h == "Code"), "headers in English");
}

#[test]
fn a_formula_in_a_text_is_kept_as_text() {
    let mut ex = Exporter::new(Options { lang: Lang::En, personal: false });
    let mut r = record(3, 3, &[("survivor_code", "=HYPERLINK(\"http://x\")")]);
    let summary = r.summary().unwrap();
    ex.add(&r, &summary).unwrap();
    let rows = read_csv(export::csv(&ex.sheets()).trim_start_matches('\u{feff}'));
    assert_eq!(rows[1][0], "'=HYPERLINK(\"http://x\")");
}

#[test]
fn xlsx_has_a_sheet_per_version_with_dates_numbers_and_labels() {
    let bytes = export::xlsx(&sheets(false, Lang::Zh)).unwrap();
    let mut book = Xlsx::new(std::io::Cursor::new(bytes.clone())).unwrap();
    assert_eq!(book.sheet_names(), ["intake v2", "intake v3"]);
    let v2 = book.worksheet_range("intake v2").unwrap();
    let header: Vec<String> = v2.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
    let col = |h: &str| header.iter().position(|x| x.contains(h)).unwrap_or_else(|| panic!("no {h}: {header:?}"));
    let row: Vec<&Data> = v2.rows().nth(1).unwrap().iter().collect();
    assert_eq!(row[col("编号")].to_string(), "ZX-1");
    assert!(matches!(row[col("年龄")], Data::Float(n) if *n == 14.0), "a number: {:?}", row[col("年龄")]);
    match row[col("登记日期")] {
        // Excel counts days from 1899-12-30.
        Data::DateTime(d) => assert_eq!(d.as_f64(), 46357.0, "2026-12-01"),
        other => panic!("a date cell: {other:?}"),
    }
    assert_eq!(row[col("类型")].to_string(), "家庭暴力");
    let all: String = v2.rows().flatten().map(|c| c.to_string()).collect();
    assert!(!all.contains(NAME) && !all.contains(PHONE));
    let v3 = book.worksheet_range("intake v3").unwrap();
    assert_eq!(v3.rows().count(), 2);

    let with = export::xlsx(&sheets(true, Lang::Zh)).unwrap();
    let mut book = Xlsx::new(std::io::Cursor::new(with)).unwrap();
    let all: String = book.worksheet_range("intake v2").unwrap().rows().flatten().map(|c| c.to_string()).collect();
    assert!(all.contains(NAME) && all.contains(PHONE), "included when chosen");
}
