//! Search: how the words of a review's search become a query of the full-text index (migration
//! 0006, trigram) and LIKE patterns for words too short for it, with the other filters, as
//! SQL over `messages m` with bound values; and how words are counted.

/// Words in `text`: runs of letters and digits separated by anything else, where each
/// character of a script written without spaces (Han, kana, Hangul) is a word of its own.
pub fn count_words(text: &str) -> i64 {
    let mut words = 0;
    let mut in_word = false;
    for c in text.chars() {
        if is_cjk(c) {
            words += 1;
            in_word = false;
        } else if c.is_alphanumeric() || c == '\'' || c == '’' {
            if !in_word {
                words += 1;
                in_word = true;
            }
        } else {
            in_word = false;
        }
    }
    words
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF     // hiragana, katakana
        | 0x3400..=0x4DBF   // Han extension A
        | 0x4E00..=0x9FFF   // Han
        | 0xAC00..=0xD7AF   // Hangul syllables
        | 0xF900..=0xFAFF   // Han compatibility
        | 0x20000..=0x3134F // Han extensions B–G
    )
}

/// `word` as a LIKE pattern that finds it anywhere (`\` escapes LIKE's wildcards).
pub(crate) fn like_pattern(word: &str) -> String {
    let mut pattern = String::from("%");
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_counted_in_english_and_chinese() {
        assert_eq!(count_words("Hello, world! It's 8 o'clock."), 5);
        assert_eq!(count_words("我们明天考试"), 6);
        assert_eq!(count_words("homework 作业 due"), 4);
        assert_eq!(count_words("  "), 0);
    }

    #[test]
    fn like_patterns_escape_the_wildcards() {
        assert_eq!(like_pattern("5%_"), "%5\\%\\_%");
    }
}
