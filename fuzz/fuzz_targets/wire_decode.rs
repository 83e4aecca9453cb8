//! Any bytes a peer sends: decoding never panics, and whatever decodes encodes to bytes that
//! decode to the same message (so what the server relays is what it read).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::sync::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Message::decode(data) {
        let again = Message::decode(&msg.encode()).expect("what we encode decodes");
        assert_eq!(again, msg, "a message survives encode and decode");
    }
});
