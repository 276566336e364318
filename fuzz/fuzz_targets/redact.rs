//! Secret masking of any text before it is stored or sent to Jira: never panics, text with
//! nothing masked comes back unchanged, and masked text masks to itself (text is masked at
//! intake and again where it is used).
#![no_main]

use libfuzzer_sys::fuzz_target;
use verdict_wire::redact;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (masked, count) = redact::mask(&text);
    if count == 0 {
        assert_eq!(masked, text, "nothing masked, yet the text changed");
    }
    assert_eq!(redact::masked(&masked), masked, "masking twice masked more");
});
