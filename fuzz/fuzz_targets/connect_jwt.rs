//! An `Authorization` header as a caller sends it: the `JWT` scheme, the unverified issuer and
//! algorithm, then HS256 Connect and OAuth-webhook verification against a fixed secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verdict_wire::connect_jwt::{self, Request};

const SECRET: &str = "fuzz-shared-secret-0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let token = match connect_jwt::token_from_header(Some(header)) {
        Ok(t) => t,
        Err(e) => {
            let _ = e.reason();
            header
        }
    };
    let _ = connect_jwt::header_alg(token);
    let _ = connect_jwt::unverified_issuer(token);
    let request = Request {
        method: "POST",
        path: "/webhooks/jira",
        query: "issueKey=SEC-1&lic=none",
    };
    for allow_context in [false, true] {
        if let Err(e) = connect_jwt::verify_hs256(token, SECRET, &request, allow_context) {
            let _ = (e.reason(), e.to_string());
        }
    }
    let _ = connect_jwt::verify_oauth_webhook(token, SECRET, "fuzz-client-id");
});
