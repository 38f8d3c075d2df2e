//! The limits on what people type: usernames, passwords, room names and message text.
//!
//! Both the browser (to explain a problem before sending) and the server (which never trusts
//! the browser) check input with these functions.

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

/// A username: 1–32 characters, no spaces or control characters. Returns the trimmed name.
pub fn parse_username(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let len = name.chars().count();
    if len == 0 || len > MAX_USERNAME {
        return Err(format!("Usernames are 1 to {MAX_USERNAME} characters."));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("Usernames cannot contain spaces.".into());
    }
    Ok(name.to_owned())
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

/// A room name: 1–64 characters after trimming, no control characters.
pub fn parse_room_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let len = name.chars().count();
    if len == 0 || len > MAX_ROOM_NAME {
        return Err(format!("Room names are 1 to {MAX_ROOM_NAME} characters."));
    }
    if name.chars().any(char::is_control) {
        return Err("Room names cannot contain control characters.".into());
    }
    Ok(name.to_owned())
}

/// Message text: 1–4000 characters, not only whitespace. Kept exactly as typed.
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

/// The case-insensitive key under which names are unique.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
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
    }
}
