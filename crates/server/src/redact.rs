//! Secrets out of logs: [`uri`] hides a URI's userinfo and the values of query parameters
//! that carry credentials; [`bearer`] hides a token.
//!
//! Every URI a customer gives (tap `uri`, `status_url`, document URLs) goes through [`uri`]
//! before it is logged or shown by the API. The result is for people, not for parsing.

/// What stands in for a hidden secret.
pub const HIDDEN: &str = "<redacted>";

/// Query parameter names (compared without case) whose values are hidden: anything that
/// names a token, key, secret, password, signature or authorization.
const SECRET_PARTS: [&str; 7] = [
    "token",
    "key",
    "secret",
    "pass",
    "sig",
    "auth",
    "credential",
];

/// `uri` with `user:password@` replaced and credential-like query values hidden:
/// `wss://bob:pw@h/x?token=abc&lang=en` → `wss://<redacted>@h/x?token=<redacted>&lang=en`.
pub fn uri(uri: &str) -> String {
    let (head, fragment) = match uri.split_once('#') {
        Some((h, f)) => (h, Some(f)),
        None => (uri, None),
    };
    let (base, query) = match head.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (head, None),
    };
    let mut out = String::with_capacity(uri.len());
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            out.push_str(scheme);
            out.push_str("://");
            match authority.rsplit_once('@') {
                Some((_, host)) => {
                    out.push_str(HIDDEN);
                    out.push('@');
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(base),
    }
    if let Some(query) = query {
        out.push('?');
        let parts: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_secret(name) => format!("{name}={HIDDEN}"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// `text` with every URI in it (`scheme://…` up to a space, quote, bracket or comma)
/// passed through [`uri`]: for error messages and bodies that quote URIs.
pub fn text(text: &str) -> String {
    let ends = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '(' | ')' | ',');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let end = rest[at..].find(ends).map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..start]);
        out.push_str(&uri(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A bearer token as logs show it: its length only.
pub fn bearer(token: &str) -> String {
    format!("{HIDDEN} ({} bytes)", token.len())
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARTS.iter().any(|part| name.contains(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_tokens_are_hidden() {
        assert_eq!(
            uri("wss://bob:pw@h.example:443/x?token=abc&lang=en#f"),
            "wss://<redacted>@h.example:443/x?token=<redacted>&lang=en#f"
        );
        assert_eq!(
            uri("https://h/cb?X-Api-Key=1&access_token=2&Signature=3&id=4"),
            "https://h/cb?X-Api-Key=<redacted>&access_token=<redacted>&Signature=<redacted>&id=4"
        );
        assert_eq!(uri("http://u@h/p"), "http://<redacted>@h/p");
        assert_eq!(uri("rtp://127.0.0.1:4000"), "rtp://127.0.0.1:4000");
        assert_eq!(uri("not a uri"), "not a uri");
        assert_eq!(bearer("abcdef"), "<redacted> (6 bytes)");
    }

    #[test]
    fn uris_inside_text_are_hidden() {
        assert_eq!(
            text(r#"not accepted in "ws://bob:pw@h/x?token=t&a=1": user info"#),
            r#"not accepted in "ws://<redacted>@h/x?token=<redacted>&a=1": user info"#
        );
        assert_eq!(
            text("error sending request for url (http://h/s?sig=abc) and https://u:p@k/"),
            "error sending request for url (http://h/s?sig=<redacted>) and https://<redacted>@k/"
        );
        assert_eq!(text("no uri here"), "no uri here");
        assert_eq!(text("://odd"), "://odd");
    }

    #[test]
    fn an_at_sign_in_the_path_is_not_userinfo() {
        assert_eq!(uri("https://h/a@b"), "https://h/a@b");
    }
}
