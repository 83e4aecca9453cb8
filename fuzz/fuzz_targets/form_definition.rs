//! Any text as a form definition file: it is read or refused with an error, never a panic.
//! Seeded with the real definitions (see `cargo xtask fuzz`), so mutations stay close to JSON
//! that parses and reach the checks behind the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::form::Form;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Form::from_json("fuzz.v1.json", text);
    }
});
