//! Formatting in messages, the small set people type in every chat: `inline code`, fenced
//! code blocks, **bold**, _italic_, line breaks, http(s) links found in the text, and
//! @mentions of people.
//!
//! A text is parsed into [`Block`]s and [`Inline`]s, which the browser draws as elements
//! (`chat::rich`), never as an HTML string: whatever a message holds, it can only ever become
//! text, those few elements, and links whose address starts with `http://` or `https://`.

/// A part of a message: running text, or a fenced code block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    Text(Vec<Inline>),
    /// The lines between a line starting with ```` ``` ```` and one that is ```` ``` ```` (or
    /// the end of the text); a word after the opening fence (a language) is dropped.
    Code(String),
}

/// A run of text with its formatting. Line breaks stay in [`Inline::Text`] (the message shows
/// them as typed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inline {
    Text(String),
    Code(String),
    Bold(Vec<Inline>),
    Italic(Vec<Inline>),
    /// An address starting with `http://` or `https://`, shown as itself.
    Link(String),
    /// `@name`: the name, without the `@`.
    Mention(String),
}

/// `text` as blocks.
pub fn parse(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut prose: Vec<&str> = Vec::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("```") {
            let mut code: Vec<&str> = Vec::new();
            for inner in lines.by_ref() {
                if inner.trim() == "```" {
                    break;
                }
                code.push(inner);
            }
            flush(&mut prose, &mut blocks);
            blocks.push(Block::Code(code.join("\n")));
        } else {
            prose.push(line);
        }
    }
    flush(&mut prose, &mut blocks);
    blocks
}

/// The lines of text gathered since the last block, as a block.
fn flush(prose: &mut Vec<&str>, blocks: &mut Vec<Block>) {
    let text = prose.join("\n");
    if !text.trim().is_empty() {
        blocks.push(Block::Text(inlines(&text)));
    }
    prose.clear();
}

/// Whether `text` mentions the person named `name` (`@name`, ignoring case), outside code: what
/// counts a message apart in the sidebar and may notify them.
pub fn mentions(text: &str, name: &str) -> bool {
    fn any(inlines: &[Inline], name: &str) -> bool {
        inlines.iter().any(|inline| match inline {
            Inline::Mention(named) => named.to_lowercase() == name,
            Inline::Bold(inner) | Inline::Italic(inner) => any(inner, name),
            _ => false,
        })
    }
    // Cheap first: most messages hold no '@' at all.
    if !text.contains('@') {
        return false;
    }
    let name = name.to_lowercase();
    parse(text).iter().any(|block| match block {
        Block::Text(inlines) => any(inlines, &name),
        Block::Code(_) => false,
    })
}

/// The formatting of one run of text.
pub fn inlines(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let before = text[..at].chars().next_back();
        if let Some((inline, used)) = code_span(rest)
            .or_else(|| link(rest, before))
            .or_else(|| mention(rest, before))
            .or_else(|| bold(rest))
            .or_else(|| italic(rest, before))
        {
            if !plain.is_empty() {
                out.push(Inline::Text(std::mem::take(&mut plain)));
            }
            out.push(inline);
            at += used;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            plain.push(c);
            at += c.len_utf8().max(1);
        }
    }
    if !plain.is_empty() {
        out.push(Inline::Text(plain));
    }
    out
}

/// `` `code` `` at the start of `rest`: the span and the bytes it takes.
fn code_span(rest: &str) -> Option<(Inline, usize)> {
    let inner = rest.strip_prefix('`')?;
    let end = inner.find('`')?;
    (end > 0).then(|| (Inline::Code(inner[..end].to_owned()), end + 2))
}

/// `**bold**` at the start of `rest` (not starting or ending with a space).
fn bold(rest: &str) -> Option<(Inline, usize)> {
    let inner = rest.strip_prefix("**")?;
    let end = inner.find("**")?;
    let content = &inner[..end];
    let tight =
        !content.starts_with(char::is_whitespace) && !content.ends_with(char::is_whitespace);
    (end > 0 && tight).then(|| (Inline::Bold(inlines(content)), end + 4))
}

/// `_italic_` at the start of `rest`, after something that ends a word (so that snake_case
/// stays as typed), closed by an `_` that ends one.
fn italic(rest: &str, before: Option<char>) -> Option<(Inline, usize)> {
    if before.is_some_and(char::is_alphanumeric) {
        return None;
    }
    let inner = rest.strip_prefix('_')?;
    if inner.starts_with(char::is_whitespace) {
        return None;
    }
    let mut search = 0;
    while let Some(found) = inner[search..].find('_') {
        let end = search + found;
        let after = inner[end + 1..].chars().next();
        let content = &inner[..end];
        if end > 0
            && !content.ends_with(char::is_whitespace)
            && !after.is_some_and(char::is_alphanumeric)
        {
            return Some((Inline::Italic(inlines(content)), end + 2));
        }
        search = end + 1;
    }
    None
}

/// An http(s) address at the start of `rest`, where a word begins: up to a space, a quote or
/// an angle bracket, without the punctuation that ends a sentence (or a closing bracket it
/// does not open).
fn link(rest: &str, before: Option<char>) -> Option<(Inline, usize)> {
    if before.is_some_and(|c| c.is_alphanumeric() || c == '/') {
        return None;
    }
    let scheme = web_scheme(rest)?;
    let mut end = rest
        .char_indices()
        .find(|&(_, c)| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '`'))
        .map_or(rest.len(), |(at, _)| at);
    while let Some(last) = rest[..end].chars().next_back() {
        let unopened = match last {
            ')' => rest[..end].matches('(').count() < rest[..end].matches(')').count(),
            ']' => rest[..end].matches('[').count() < rest[..end].matches(']').count(),
            _ => false,
        };
        if matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*' | '_') || unopened {
            end -= last.len_utf8();
        } else {
            break;
        }
    }
    // Something after the scheme: a host.
    (end > scheme).then(|| (Inline::Link(rest[..end].to_owned()), end))
}

/// `@name` at the start of `rest`, where a word begins (so that an email address is not one):
/// letters, digits, `_`, `-` and `.`, without a `.` that ends a sentence.
fn mention(rest: &str, before: Option<char>) -> Option<(Inline, usize)> {
    if before.is_some_and(|c| c.is_alphanumeric() || c == '@') {
        return None;
    }
    let name = rest.strip_prefix('@')?;
    let end = name
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .map_or(name.len(), |(at, _)| at);
    let name = name[..end].trim_end_matches('.');
    (!name.is_empty()).then(|| (Inline::Mention(name.to_owned()), name.len() + 1))
}

/// The length of `text`'s `https://` or `http://` (in any case), if it starts with one.
fn web_scheme(text: &str) -> Option<usize> {
    ["https://", "http://"].into_iter().find_map(|scheme| {
        text.get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
            .then_some(scheme.len())
    })
}

/// Whether `href` may be a link's address: `http://` or `https://` and a host, nothing that
/// can run code or leave the web. The one check between a message and an `href`.
pub fn is_web_address(href: &str) -> bool {
    let Some(scheme) = web_scheme(href) else {
        return false;
    };
    let rest = &href[scheme..];
    !rest.is_empty()
        && !href
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Inline {
        Inline::Text(s.into())
    }

    #[test]
    fn plain_text_is_one_run_with_its_line_breaks() {
        assert_eq!(
            parse("hello\nworld"),
            [Block::Text(vec![text("hello\nworld")])]
        );
    }

    #[test]
    fn code_bold_and_italic() {
        assert_eq!(
            inlines("run `cargo **test**` **now** or _later_"),
            [
                text("run "),
                Inline::Code("cargo **test**".into()),
                text(" "),
                Inline::Bold(vec![text("now")]),
                text(" or "),
                Inline::Italic(vec![text("later")]),
            ]
        );
        assert_eq!(
            inlines("**_both_**"),
            [Inline::Bold(vec![Inline::Italic(vec![text("both")])])]
        );
    }

    #[test]
    fn lone_or_loose_marks_stay_as_typed() {
        for typed in [
            "snake_case_name",
            "2 ** 3",
            "a `",
            "** x**",
            "_ x_",
            "__",
            "``",
        ] {
            assert_eq!(inlines(typed), [text(typed)], "{typed}");
        }
    }

    #[test]
    fn fenced_code_blocks_keep_their_lines() {
        assert_eq!(
            parse("look:\n```rust\nfn main() {\n    **x**\n}\n```\nnice"),
            [
                Block::Text(vec![text("look:")]),
                Block::Code("fn main() {\n    **x**\n}".into()),
                Block::Text(vec![text("nice")]),
            ]
        );
        // An unclosed fence runs to the end.
        assert_eq!(parse("```\nfoo"), [Block::Code("foo".into())]);
    }

    #[test]
    fn links_are_found_without_the_punctuation_around_them() {
        assert_eq!(
            inlines("see https://example.com/a_b?x=1. (http://w.org/wiki/Rust_(lang)) ok"),
            [
                text("see "),
                Inline::Link("https://example.com/a_b?x=1".into()),
                text(". ("),
                Inline::Link("http://w.org/wiki/Rust_(lang)".into()),
                text(") ok"),
            ]
        );
        assert_eq!(
            inlines("HTTPS://X.ORG"),
            [Inline::Link("HTTPS://X.ORG".into())]
        );
        // No host, another scheme, or inside a word: text.
        for typed in [
            "https://",
            "javascript:alert(1)",
            "xhttp://a.b",
            "ftp://a.b",
        ] {
            assert_eq!(inlines(typed), [text(typed)], "{typed}");
        }
    }

    #[test]
    fn a_message_mentions_a_person_by_name_ignoring_case_but_not_in_code_or_an_email() {
        assert!(mentions("@Bob, look", "bob"));
        assert!(mentions("**ask @zoë.li.**", "Zoë.Li"));
        assert!(mentions("明天 @小明 考试", "小明"));
        assert!(!mentions("@bobby look", "bob"));
        assert!(!mentions("bob@example.com", "bob"));
        assert!(!mentions("`@bob` is how", "bob"));
        assert!(!mentions("```\n@bob\n```", "bob"));
        assert!(!mentions("no one", "bob"));
    }

    #[test]
    fn mentions_are_names_after_an_at_sign_but_not_email_addresses() {
        assert_eq!(
            inlines("@bob and @Zoë.Li. see mail@example.com"),
            [
                Inline::Mention("bob".into()),
                text(" and "),
                Inline::Mention("Zoë.Li".into()),
                text(". see mail@example.com"),
            ]
        );
        assert_eq!(inlines("@ alone"), [text("@ alone")]);
    }

    #[test]
    fn only_web_addresses_may_be_links() {
        assert!(is_web_address("https://example.com/x?y=1"));
        assert!(is_web_address("HTTP://a"));
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,x",
            "https://",
            "//evil.example",
            "https://a\"onmouseover=\"x",
            "https://a b",
            " https://a",
        ] {
            assert!(!is_web_address(bad), "{bad}");
        }
    }
}
