//! A quiet panic hook.
//!
//! ractor turns a panic in a handler into a supervision event, so a panic is an ordinary
//! failure here, not the end of the process. The default hook prints a backtrace for each,
//! and with `RUST_BACKTRACE=1` the first one costs about 150 ms of symbolisation. This hook
//! logs one line through tracing instead.

use std::sync::Once;

static INSTALL: Once = Once::new();

/// Installs the quiet hook, once per process. Later calls do nothing.
pub fn install_quiet_hook() {
    INSTALL.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_string());
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            if tracing::dispatcher::has_been_set() {
                tracing::warn!(%location, %message, "panic caught");
            } else {
                // Nobody collects logs (a test, an embedder without a subscriber): one line
                // on stderr, so a failing assertion still says why.
                eprintln!("panic at {location}: {message}");
            }
        }));
    });
}
