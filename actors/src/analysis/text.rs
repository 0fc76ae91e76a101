//! Small text helpers shared by the rules.

/// Returns the 1-based line number of byte offset `at` in `text`.
pub(crate) fn line_at(text: &str, at: usize) -> u32 {
    text[..at.min(text.len())].matches('\n').count() as u32 + 1
}

/// Returns the 1-based line of the first line of `text` that contains `needle`.
pub(crate) fn find_line(text: &str, needle: &str) -> Option<u32> {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u32 + 1)
}

/// Returns whether a variable name looks like a secret: its last word is a secret's
/// (`JWT_SECRET`, `MAIL_PASSWORD`, `STRIPE_API_KEY`, `GITHUB_TOKEN`), so that
/// `ACCESS_TOKEN_MINUTES` or `PASSWORD_RESET_URL`, which configure secrets without being
/// one, are not taken for one.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let last = upper.rsplit('_').next().unwrap_or(&upper);
    matches!(
        last,
        "SECRET"
            | "KEY"
            | "TOKEN"
            | "PASSWORD"
            | "PASSWD"
            | "PASS"
            | "PWD"
            | "CREDENTIALS"
            | "SALT"
    ) || upper.contains("PRIVATE_KEY")
        || upper.contains("SECRET_KEY")
}

/// Normalises a Python package name as PEP 503 does: lowercase, runs of `-_.` become `-`.
pub(crate) fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !dash {
                out.push('-');
            }
            dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            dash = false;
        }
    }
    out
}
