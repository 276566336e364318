//! Logging from a rule. In wasm it goes to the host (which keeps the first 1 KiB per
//! evaluation); natively it is collected per thread so tests can look at it.

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

pub fn log(level: Level, message: &str) {
    #[cfg(all(feature = "guest", target_arch = "wasm32"))]
    crate::guest::log(level, message);
    #[cfg(not(all(feature = "guest", target_arch = "wasm32")))]
    NATIVE.with(|l| l.borrow_mut().push((level, message.to_owned())));
}

pub fn debug(message: &str) {
    log(Level::Debug, message);
}
pub fn info(message: &str) {
    log(Level::Info, message);
}
pub fn warn(message: &str) {
    log(Level::Warn, message);
}
pub fn error(message: &str) {
    log(Level::Error, message);
}

#[cfg(not(all(feature = "guest", target_arch = "wasm32")))]
thread_local! {
    static NATIVE: std::cell::RefCell<Vec<(Level, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Takes what this thread logged natively so far (empty in wasm, where the host has it).
pub fn take() -> Vec<(Level, String)> {
    #[cfg(not(all(feature = "guest", target_arch = "wasm32")))]
    return NATIVE.with(|l| std::mem::take(&mut *l.borrow_mut()));
    #[cfg(all(feature = "guest", target_arch = "wasm32"))]
    Vec::new()
}
