//! Completing a mention in the composer: typing `@` and the start of a name offers the room's
//! members whose names start so; choosing one writes `@name ` in its place.

/// The `@` and partial name that end at byte `caret` of `text`: where the `@` is and what
/// follows it. `None` unless the `@` starts a word (an email address is not a mention).
pub fn mention_at(text: &str, caret: usize) -> Option<(usize, &str)> {
    let before = text.get(..caret)?;
    let at = before.rfind('@')?;
    let typed = &before[at + 1..];
    let starts_word = before[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_alphanumeric());
    let name_so_far = typed
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    (starts_word && name_so_far).then_some((at, typed))
}

/// `text` with the mention being typed (from byte `at` to byte `caret`) replaced by `@name `,
/// and the byte the caret goes to.
pub fn complete(text: &str, at: usize, caret: usize, name: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len() + name.len() + 2);
    out.push_str(&text[..at]);
    out.push('@');
    out.push_str(name);
    out.push(' ');
    let caret_after = out.len();
    out.push_str(text[caret..].strip_prefix(' ').unwrap_or(&text[caret..]));
    (out, caret_after)
}

/// The byte of `text` at UTF-16 offset `units` (a textarea's selection is counted in UTF-16).
pub fn byte_at_utf16(text: &str, units: usize) -> usize {
    let mut seen = 0;
    for (at, c) in text.char_indices() {
        if seen >= units {
            return at;
        }
        seen += c.len_utf16();
    }
    text.len()
}

/// The UTF-16 offset of byte `byte` of `text`.
pub fn utf16_at_byte(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].encode_utf16().count()
}

/// The names among `names` that start with `typed` (ignoring case), at most `limit`.
pub fn candidates<'n>(
    names: impl Iterator<Item = &'n str>,
    typed: &str,
    limit: usize,
) -> Vec<String> {
    let typed = typed.to_lowercase();
    names
        .filter(|name| name.to_lowercase().starts_with(&typed))
        .take(limit)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mention_being_typed_is_found_at_the_caret() {
        assert_eq!(mention_at("hi @bo", 6), Some((3, "bo")));
        assert_eq!(mention_at("@", 1), Some((0, "")));
        assert_eq!(mention_at("mail@ex", 7), None, "an email address");
        assert_eq!(mention_at("hi @bob there", 13), None, "past the name");
        assert_eq!(mention_at("hi @bo", 3), None, "before the @");
    }

    #[test]
    fn choosing_a_name_writes_it_with_a_space_after() {
        assert_eq!(complete("hi @bo", 3, 6, "bob"), ("hi @bob ".into(), 8));
        assert_eq!(complete("@b look", 0, 2, "bob"), ("@bob look".into(), 5));
    }

    #[test]
    fn the_caret_is_counted_in_utf16() {
        let text = "我😀@b";
        assert_eq!(byte_at_utf16(text, 3), "我😀".len());
        assert_eq!(utf16_at_byte(text, "我😀@".len()), 4);
        assert_eq!(byte_at_utf16(text, 99), text.len());
    }

    #[test]
    fn candidates_start_with_what_was_typed() {
        let names = ["alice", "Bob", "bobby", "carol"];
        assert_eq!(candidates(names.into_iter(), "bo", 5), ["Bob", "bobby"]);
        assert_eq!(candidates(names.into_iter(), "", 2), ["alice", "Bob"]);
    }
}
