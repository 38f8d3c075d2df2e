//! Searching messages, the parts both sides share: what a query's words are (the server looks
//! them up, the browser highlights them) and where they occur in a text.
//!
//! A query is words separated by spaces; a message is found when its current text holds every
//! word, anywhere and ignoring case. Chinese needs no spaces: "明天考试" is found inside
//! "我们明天考试吗".

/// Longest query, in characters.
pub const MAX_QUERY: usize = 200;
/// Most words in a query.
pub const MAX_QUERY_WORDS: usize = 8;

/// The words of `query`, each once (ignoring case), in the order typed; why not, if there is
/// nothing to look for or too much.
pub fn query_words(query: &str) -> Result<Vec<String>, String> {
    if query.chars().count() > MAX_QUERY {
        return Err(format!("Searches are at most {MAX_QUERY} characters."));
    }
    let mut words: Vec<String> = Vec::new();
    for word in query.split_whitespace() {
        let folded = word.to_lowercase();
        if !words.iter().any(|w| w.to_lowercase() == folded) {
            words.push(word.to_owned());
        }
    }
    if words.is_empty() {
        return Err("Type a word to search for.".into());
    }
    if words.len() > MAX_QUERY_WORDS {
        return Err(format!("Search for at most {MAX_QUERY_WORDS} words."));
    }
    Ok(words)
}

/// `text` cut into runs, each marked whether it is one of `words` (ignoring case): the
/// browser shows the marked ones highlighted. Overlapping and adjacent matches make one run.
pub fn highlight<'t>(text: &'t str, words: &[String]) -> Vec<(bool, &'t str)> {
    // Byte ranges of the text covered by some word.
    let mut covered: Vec<(usize, usize)> = Vec::new();
    for (start, _) in text.char_indices() {
        let longest = words
            .iter()
            .filter_map(|word| match_len(&text[start..], word))
            .max();
        if let Some(len) = longest {
            let end = start + len;
            match covered.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => covered.push((start, end)),
            }
        }
    }
    let mut runs = Vec::new();
    let mut at = 0;
    for (start, end) in covered {
        if start > at {
            runs.push((false, &text[at..start]));
        }
        runs.push((true, &text[start..end]));
        at = end;
    }
    if at < text.len() {
        runs.push((false, &text[at..]));
    }
    runs
}

/// How many bytes of `text`'s start spell `word`, ignoring case; `None` if it does not start
/// with it.
fn match_len(text: &str, word: &str) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    let mut chars = text.char_indices();
    for w in word.chars() {
        let (_, c) = chars.next()?;
        if c != w && !c.to_lowercase().eq(w.to_lowercase()) {
            return None;
        }
    }
    Some(chars.next().map_or(text.len(), |(at, _)| at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(query: &str) -> Vec<String> {
        query_words(query).unwrap()
    }

    #[test]
    fn a_query_is_its_words_each_once() {
        assert_eq!(words("  essay  Essay due "), ["essay", "due"]);
        assert_eq!(words("明天考试"), ["明天考试"]);
        assert!(query_words("   ").is_err());
        let many: Vec<String> = (0..=MAX_QUERY_WORDS).map(|n| format!("w{n}")).collect();
        assert!(query_words(&many.join(" ")).is_err());
        assert!(query_words(&"x".repeat(MAX_QUERY + 1)).is_err());
    }

    #[test]
    fn matches_are_marked_ignoring_case() {
        assert_eq!(
            highlight("The Essay is due", &words("essay DUE")),
            [
                (false, "The "),
                (true, "Essay"),
                (false, " is "),
                (true, "due")
            ]
        );
    }

    #[test]
    fn chinese_is_found_inside_a_sentence() {
        assert_eq!(
            highlight("我们明天考试吗", &words("明天考试")),
            [(false, "我们"), (true, "明天考试"), (false, "吗")]
        );
    }

    #[test]
    fn overlapping_matches_make_one_run() {
        assert_eq!(
            highlight("banana", &words("ana nan")),
            [(false, "b"), (true, "anana")]
        );
        assert_eq!(highlight("no match", &words("zzz")), [(false, "no match")]);
    }

    #[test]
    fn markup_in_a_text_stays_text() {
        // Highlighting only cuts the text; nothing in it is read as markup.
        let text = "<b>bold</b>";
        assert_eq!(
            highlight(text, &words("bold")),
            [(false, "<b>"), (true, "bold"), (false, "</b>")]
        );
    }
}
