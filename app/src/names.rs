//! The limits on what people type: usernames, passwords, room names and message text.
//!
//! Both the browser (to explain a problem before sending) and the server (which never trusts
//! the browser) check input with these functions.
//!
//! Names (usernames and room names) are stored in Unicode normal form NFKC, so that
//! "ａｌｉｃｅ" is "alice", and may hold no character that a reader cannot see or that turns
//! the text around ([`INVISIBLE`]). They are unique under [`name_key`], which also makes names
//! that only look alike ("name" with a Cyrillic "а") the same name.

//!
//! The Unicode tables (normalisation, general categories, confusables) are the server's: they
//! would add about 110 KB (gzipped) to the browser's bundle. The browser trims and checks the
//! usual invisible characters only, to explain a mistake early; the server's check is the rule.

#[cfg(feature = "ssr")]
use unicode_normalization::UnicodeNormalization;
#[cfg(feature = "ssr")]
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
#[cfg(feature = "ssr")]
use unicode_security::GeneralSecurityProfile;
#[cfg(feature = "ssr")]
use unicode_security::general_security_profile::IdentifierType;

/// Longest username, in characters.
pub const MAX_USERNAME: usize = 32;
/// Longest room name, in characters.
pub const MAX_ROOM_NAME: usize = 64;
/// Longest message, in characters.
pub const MAX_MESSAGE: usize = 4000;
/// Shortest password; long passphrases are welcome up to [`MAX_PASSWORD`].
pub const MIN_PASSWORD: usize = 8;
/// Bounds the argon2 work an anonymous request can cause.
pub const MAX_PASSWORD: usize = 256;

/// Why a name with an invisible or text-direction character is refused.
pub const INVISIBLE: &str = "Names cannot contain invisible or text-direction characters.";

/// A username: 1–32 characters once in NFKC, no spaces, no control, invisible or
/// text-direction characters. Returns the normalised, trimmed name.
pub fn parse_username(raw: &str) -> Result<String, String> {
    let name = normalise(raw);
    let len = name.chars().count();
    if len == 0 || len > MAX_USERNAME {
        return Err(format!("Usernames are 1 to {MAX_USERNAME} characters."));
    }
    if name.chars().any(char::is_whitespace) {
        return Err("Usernames cannot contain spaces.".into());
    }
    if name.chars().any(is_invisible) {
        return Err(INVISIBLE.into());
    }
    Ok(name)
}

pub fn check_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&len) {
        return Err(format!(
            "Passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters."
        ));
    }
    Ok(())
}

/// A room name: 1–64 characters once in NFKC and trimmed, no control, invisible or
/// text-direction characters. Returns the normalised, trimmed name.
pub fn parse_room_name(raw: &str) -> Result<String, String> {
    let name = normalise(raw);
    let len = name.chars().count();
    if len == 0 || len > MAX_ROOM_NAME {
        return Err(format!("Room names are 1 to {MAX_ROOM_NAME} characters."));
    }
    if name.chars().any(is_invisible) {
        return Err(INVISIBLE.into());
    }
    Ok(name)
}

/// `raw` in NFKC, trimmed. NFKC first: it turns the wide and other compatibility spaces into
/// plain ones, and can lengthen a name, so the limits apply to what is stored.
#[cfg(feature = "ssr")]
fn normalise(raw: &str) -> String {
    let name: String = raw.nfkc().collect();
    name.trim().to_owned()
}

/// In the browser: trimmed only (the server normalises).
#[cfg(not(feature = "ssr"))]
fn normalise(raw: &str) -> String {
    raw.trim().to_owned()
}

/// Whether `c` shows nothing or steers the text instead of being text: controls (Cc), format
/// characters (Cf: zero-width spaces and joiners, bidirectional embeddings, overrides, isolates
/// and marks, the soft hyphen, the byte-order mark, tags), line and paragraph separators,
/// private-use and unassigned code points, and every other Default_Ignorable_Code_Point
/// (variation selectors, the combining grapheme joiner, the Hangul fillers).
#[cfg(feature = "ssr")]
fn is_invisible(c: char) -> bool {
    use GeneralCategory::*;
    matches!(
        c.general_category(),
        Control | Format | LineSeparator | ParagraphSeparator | PrivateUse | Surrogate | Unassigned
    ) || c.identifier_type() == Some(IdentifierType::Default_Ignorable)
}

/// In the browser: controls and the common zero-width and direction characters (the server
/// refuses the rest too).
#[cfg(not(feature = "ssr"))]
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
        )
}

/// Longest feedback on a message, in characters.
pub const MAX_FEEDBACK: usize = 2000;
/// Longest grade ("A-", "8/10", "pass"), in characters.
pub const MAX_GRADE: usize = 32;
/// Longest comment on a grade, in characters.
pub const MAX_GRADE_COMMENT: usize = 1000;

/// Feedback: some text, at most [`MAX_FEEDBACK`] characters.
pub fn check_feedback(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("Write some feedback first.".into());
    }
    let len = text.chars().count();
    if len > MAX_FEEDBACK {
        return Err(format!(
            "Feedback is at most {MAX_FEEDBACK} characters; this has {len}."
        ));
    }
    Ok(())
}

/// A grade and its comment: the grade at most [`MAX_GRADE`] characters on one line, the
/// comment at most [`MAX_GRADE_COMMENT`]. An empty grade and comment clear the grade.
pub fn check_grade(grade: &str, comment: &str) -> Result<(), String> {
    if grade.chars().count() > MAX_GRADE {
        return Err(format!("A grade is at most {MAX_GRADE} characters."));
    }
    if grade.chars().any(char::is_control) {
        return Err("A grade is one line.".into());
    }
    if comment.chars().count() > MAX_GRADE_COMMENT {
        return Err(format!(
            "A comment is at most {MAX_GRADE_COMMENT} characters."
        ));
    }
    Ok(())
}

/// Message text: 1–4000 characters, not only whitespace. Kept exactly as typed.
pub fn check_message(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("Type a message first.".into());
    }
    let len = text.chars().count();
    if len > MAX_MESSAGE {
        return Err(format!(
            "Messages are at most {MAX_MESSAGE} characters; this one has {len}."
        ));
    }
    Ok(())
}

/// The key under which names are unique and looked up: two names have the same key when they
/// differ only in case, in compatibility forms (NFKC), in characters that show nothing, or in
/// letters that look alike (Unicode's confusable skeleton, UTS #39: Latin "a" and Cyrillic "а",
/// "0" and "O", "rn" and "m").
///
/// The name is lowercased before the skeleton so that "Ivan" and "ivan" stay one name, and the
/// skeleton lowercased after, since it maps some characters to capitals ("0" to "O"). The cost
/// of the order: a capital "I" passing for an "l" ("AIice" beside "Alice") is not caught.
///
/// Keys are for equality only: they do not sort like the names ("m" becomes "rn", digits become
/// letters). The stored keys follow this function's definition; the server recomputes them at
/// start when it changes (a new Unicode version in the crate's tables counts).
#[cfg(feature = "ssr")]
pub fn name_key(name: &str) -> String {
    let lower: String = name.nfkc().collect::<String>().to_lowercase();
    unicode_security::skeleton(&lower)
        .collect::<String>()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_bounded_and_trimmed() {
        assert_eq!(parse_username("  alice ").unwrap(), "alice");
        assert!(parse_username("").is_err());
        assert!(parse_username(&"a".repeat(33)).is_err());
        assert!(parse_username(&"é".repeat(32)).is_ok());
        assert!(parse_username("al ice").is_err());
    }

    #[test]
    fn messages_are_one_to_four_thousand_characters() {
        assert!(check_message("   ").is_err());
        assert!(check_message(&"x".repeat(4000)).is_ok());
        assert!(check_message(&"x".repeat(4001)).is_err());
    }

    #[test]
    fn room_names_are_bounded() {
        assert_eq!(parse_room_name(" rust ").unwrap(), "rust");
        assert!(parse_room_name(&"r".repeat(65)).is_err());
        assert!(parse_room_name("a\u{7}b").is_err());
    }

    #[test]
    fn name_keys_ignore_case() {
        assert_eq!(name_key("Alice"), name_key("aLICE"));
        assert_eq!(name_key("Alice"), name_key("alice"));
        assert_eq!(name_key("Ivan"), name_key("ivan"));
    }

    #[test]
    fn zero_width_characters_are_refused_in_names() {
        for invisible in [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{AD}',
        ] {
            let name = format!("na{invisible}me");
            assert_eq!(parse_username(&name), Err(INVISIBLE.into()), "{name:?}");
            assert_eq!(parse_room_name(&name), Err(INVISIBLE.into()), "{name:?}");
        }
        // At either end too, where trimming does not reach them.
        assert_eq!(parse_username("name\u{200B}"), Err(INVISIBLE.into()));
        assert_eq!(parse_username("\u{200B}"), Err(INVISIBLE.into()));
        assert_eq!(parse_room_name("\u{200B}room"), Err(INVISIBLE.into()));
    }

    #[test]
    fn text_direction_characters_are_refused_in_names() {
        let embeddings_and_overrides = ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}'];
        let isolates = ['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'];
        let marks = ['\u{200E}', '\u{200F}', '\u{61C}'];
        let controls = embeddings_and_overrides
            .into_iter()
            .chain(isolates)
            .chain(marks);
        for control in controls {
            let name = format!("{control}name");
            assert_eq!(parse_username(&name), Err(INVISIBLE.into()), "{name:?}");
            assert_eq!(parse_room_name(&name), Err(INVISIBLE.into()), "{name:?}");
        }
    }

    #[test]
    fn other_invisible_characters_are_refused_in_names() {
        let others = [
            "a\u{FE0F}",   // variation selector
            "a\u{E0100}",  // variation selector supplement
            "a\u{34F}b",   // combining grapheme joiner
            "a\u{E0041}",  // tag letter
            "\u{3164}",    // Hangul filler
            "a\u{115F}b",  // Hangul choseong filler
            "a\u{FFA0}b",  // halfwidth Hangul filler
            "a\u{2028}b",  // line separator
            "a\u{2029}b",  // paragraph separator
            "a\u{E000}b",  // private use
            "a\u{E0080}b", // unassigned (and ignorable)
            "a\u{FFF9}b",  // interlinear annotation
        ];
        for name in others {
            assert_eq!(parse_room_name(name), Err(INVISIBLE.into()), "{name:?}");
            // In a username, the separators are refused as spaces first.
            let why = if name.chars().any(char::is_whitespace) {
                "Usernames cannot contain spaces."
            } else {
                INVISIBLE
            };
            assert_eq!(parse_username(name), Err(why.into()), "{name:?}");
        }
        assert!(parse_room_name("a\tb").is_err());
        assert!(parse_room_name("a\nb").is_err());
    }

    #[test]
    fn names_are_normalised_to_nfkc() {
        assert_eq!(parse_username("ａｌｉｃｅ").unwrap(), "alice");
        assert_eq!(parse_room_name("Ｒｕｓｔ　ｃｌｕｂ").unwrap(), "Rust club");
        assert_eq!(parse_username("ﬁsh").unwrap(), "fish");
        // A composed and a decomposed é are one name.
        assert_eq!(parse_username("cafe\u{301}").unwrap(), "café");
        // A wide space in the middle is a space; at the ends it is trimmed.
        assert!(parse_username("al\u{3000}ice").is_err());
        assert_eq!(parse_username("\u{3000}alice\u{A0}").unwrap(), "alice");
    }

    #[test]
    fn the_length_limit_applies_to_the_normalised_name() {
        // U+FDFA is one character that NFKC spells out in eighteen.
        assert!(parse_username(&"\u{FDFA}".repeat(2)).is_err());
        assert!(
            parse_room_name(&"\u{FDFA}".repeat(3))
                .unwrap()
                .chars()
                .count()
                == 54
        );
        assert!(parse_room_name(&"\u{FDFA}".repeat(4)).is_err());
    }

    #[test]
    fn names_that_look_alike_have_one_key() {
        // Cyrillic а (U+0430) for Latin a.
        assert_eq!(name_key("name"), name_key("n\u{430}me"));
        assert_eq!(name_key("name"), name_key("NAME"));
        assert_eq!(name_key("alice"), name_key("ａｌｉｃｅ"));
        assert_eq!(name_key("alice"), name_key("a1ice"));
        assert_eq!(name_key("oscar"), name_key("0scar"));
        assert_eq!(name_key("paypal"), name_key("p\u{430}yp\u{430}l"));
        assert_eq!(name_key("name"), name_key("name\u{200B}"));
        assert_eq!(name_key("Rust club"), name_key("rust club"));
    }

    #[test]
    fn names_in_other_scripts_are_accepted_and_kept_apart() {
        assert_eq!(parse_username("小明").unwrap(), "小明");
        assert_eq!(parse_username("小红").unwrap(), "小红");
        assert_ne!(name_key("小明"), name_key("小红"));
        assert_eq!(parse_room_name("数学 课").unwrap(), "数学 课");
        assert_ne!(name_key("数学"), name_key("物理"));
        for name in [
            "Zoë",
            "José",
            "Ђорђе",
            "Ελένη",
            "محمد",
            "דוד",
            "さくら",
            "민준",
            "Nguyễn",
        ] {
            assert_eq!(parse_username(name).as_deref(), Ok(name), "{name}");
            assert_eq!(parse_room_name(name).as_deref(), Ok(name), "{name}");
        }
        assert_ne!(name_key("José"), name_key("Jose"));
        assert_ne!(name_key("alice"), name_key("alicia"));
    }

    #[test]
    fn room_names_that_look_alike_have_one_key() {
        let room = parse_room_name("Maths 101").unwrap();
        let lookalike = parse_room_name("M\u{430}ths 1O1").unwrap();
        assert_eq!(name_key(&room), name_key(&lookalike));
        assert_eq!(
            name_key(&room),
            name_key(&parse_room_name("ＭＡＴＨＳ　１０１").unwrap())
        );
        assert_ne!(name_key(&room), name_key("Maths 102"));
    }
}
