//! The lab's conventions for one cell: who claimed it (initials), what went wrong (the note after
//! the initials), and what its fill colour means (green = done, red = excluded, yellow = flag).
//!
//! Colours are judged by hue, not by exact ARGB value: the lab uses FF00B050, but people also pick
//! light green FF92D050, the "Good" style FFC6EFCE or a tinted theme accent, and calamine hands us
//! all of them resolved to ARGB. Only solid fills count, and only their foreground colour (the
//! colour Excel paints; bgColor of a solid fill is ignored by Excel too).

use super::{State, WorkCell};
use calamine::{FillPattern, Style};
use std::borrow::Cow;

/// Whether `c` must not reach a terminal or a file name raw: control characters (C0, DEL, C1:
/// ESC sequences, NUL, newlines) and the invisible direction marks and overrides that make text
/// display in another order than it is (RLO, LRM, isolates, ...).
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
                | '\u{2028}' | '\u{2029}'
        )
}

/// `text` safe to print: every [`is_unsafe_char`] written as `\u{1b}`-style escape (a
/// backslash is doubled only when something was escaped, so plain text prints unchanged).
///
/// Sheet values are anyone's text: printed raw, an ESC sequence repaints the terminal and a
/// newline forges an output line. Every printer of a sheet value goes through this.
pub fn display_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if is_unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The state of a workflow cell holding `text`, green or not.
///
/// Green means done whatever the text says. Otherwise: empty is not started, initials alone are
/// pending (someone claimed it), and anything more is a problem note. A word that marks a step
/// done ([`is_done_word`]: `done`, `ok`, `x`) is not initials: it is a note (no claim), which
/// `sync` warns about.
pub fn work_cell(text: &str, green: bool) -> WorkCell {
    let (initials, note) = if is_done_word(text) {
        (None, non_empty(text.trim()))
    } else {
        split_initials(text)
    };
    let state = if green {
        State::Done
    } else if text.trim().is_empty() {
        State::NotStarted
    } else if initials.is_some() && note.is_none() {
        State::Pending
    } else {
        State::Problem
    };
    WorkCell {
        state,
        initials,
        note,
    }
}

/// True when `text` is a word people write to mark a step done (`done`, `ok`, `yes`, `x`, a
/// tick), any case, a final `.` or `!` aside: short enough to pass for initials, but not a
/// person's. Initials that spell one are written with dots (`O.K.`).
pub fn is_done_word(text: &str) -> bool {
    let word = text.trim().trim_end_matches(['.', '!']).to_lowercase();
    matches!(
        word.as_str(),
        "done"
            | "ok"
            | "okay"
            | "yes"
            | "y"
            | "x"
            | "✓"
            | "✔"
            | "checked"
            | "finished"
            | "complete"
            | "completed"
    )
}

/// Splits `MF (0010,4000) Patient Comments not anonymous` into `MF` and the note.
///
/// Initials are the leading token of 1-4 letters, dots allowed (`JD`, `J.D.`, `mf`), ended by
/// the end of the text, a space or `:`/`,`/`;`/`-`. Text without such a token is all note.
pub fn split_initials(text: &str) -> (Option<String>, Option<String>) {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_alphabetic() || c == '.'))
        .unwrap_or(text.len());
    let token = &text[..end];
    let rest = &text[end..];
    let letters = token.chars().filter(|c| c.is_alphabetic()).count();
    let ends_well =
        rest.is_empty() || rest.starts_with(|c: char| c.is_whitespace() || ":,;-–".contains(c));
    if (1..=4).contains(&letters) && !token.starts_with('.') && ends_well {
        let note = rest
            .trim_start_matches(|c: char| c.is_whitespace() || ":,;-–".contains(c))
            .trim();
        (Some(token.to_string()), non_empty(note))
    } else {
        (None, non_empty(text))
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The ARGB colour a cell is visibly filled with: a solid fill's foreground colour.
pub fn solid_fill(style: Option<&Style>) -> Option<u32> {
    let fill = style?.fill.as_ref()?;
    if fill.pattern != FillPattern::Solid {
        return None;
    }
    fill.foreground_color.map(|c| c.to_argb())
}

/// Hue in degrees (0-360), saturation and value (0-1) of an ARGB colour; alpha is ignored
/// (Excel writes FF or 00 there and paints both alike).
fn hsv(argb: u32) -> (f32, f32, f32) {
    let [_, r, g, b] = argb.to_be_bytes().map(|c| f32::from(c) / 255.0);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let delta = max - min;
    let hue = if delta == 0.0 {
        0.0
    } else if max == r {
        60.0 * ((g - b) / delta).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / delta + 2.0)
    } else {
        60.0 * ((r - g) / delta + 4.0)
    };
    let sat = if max == 0.0 { 0.0 } else { delta / max };
    (hue, sat, max)
}

/// Green: a yellow-green to blue-green hue, visibly tinted (the pale "Good" C6EFCE and a theme
/// accent lightened 80% still count; white, greys and near-black don't).
pub fn is_green(argb: u32) -> bool {
    let (h, s, v) = hsv(argb);
    (70.0..=170.0).contains(&h) && s >= 0.06 && v >= 0.25
}

/// Red: a strong red (the lab's FFFF0000 row). Pale pinks such as the "Bad" style are not red
/// enough to exclude a participant.
pub fn is_red(argb: u32) -> bool {
    let (h, s, v) = hsv(argb);
    !(15.0..=345.0).contains(&h) && s >= 0.5 && v >= 0.4
}

/// Yellow: the lab's flag colour (FFFFFF00) and its lighter shades; amber FFC000 is not.
pub fn is_yellow(argb: u32) -> bool {
    let (h, s, v) = hsv(argb);
    (50.0..=70.0).contains(&h) && s >= 0.2 && v >= 0.6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_safe_escapes_what_could_repaint_or_forge() {
        assert!(matches!(display_safe("S01 KH é"), Cow::Borrowed(_)));
        assert_eq!(display_safe("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(display_safe("x\nrow 9 ok"), "x\\u{a}row 9 ok");
        assert_eq!(display_safe("\0\u{202e}gpj.exe"), "\\u{0}\\u{202e}gpj.exe");
        assert_eq!(display_safe("a\\b\t"), "a\\\\b\\u{9}");
    }

    #[track_caller]
    fn split(text: &str, initials: Option<&str>, note: Option<&str>) {
        let (i, n) = split_initials(text);
        assert_eq!((i.as_deref(), n.as_deref()), (initials, note), "{text:?}");
    }

    #[test]
    fn initials_and_notes() {
        split("JD", Some("JD"), None);
        split(" KH ", Some("KH"), None);
        split("J.D.", Some("J.D."), None);
        split("mf", Some("mf"), None);
        split("ABCD", Some("ABCD"), None);
        split(
            "MF (0010,4000) Patient Comments not anonymous ",
            Some("MF"),
            Some("(0010,4000) Patient Comments not anonymous"),
        );
        split("MF: wrong PatientID", Some("MF"), Some("wrong PatientID"));
        split("MF - wrong PatientID", Some("MF"), Some("wrong PatientID"));
        split("ABCDE", None, Some("ABCDE"));
        split(
            "(0010,4000) not anonymous",
            None,
            Some("(0010,4000) not anonymous"),
        );
        split("JD2", None, Some("JD2"));
        split(".JD", None, Some(".JD"));
        split("", None, None);
        split("   ", None, None);
    }

    #[test]
    fn states_follow_the_lab_rules() {
        assert_eq!(work_cell("", false).state, State::NotStarted);
        assert_eq!(work_cell("KH", false).state, State::Pending);
        assert_eq!(work_cell("MF (0010,4000) x", false).state, State::Problem);
        assert_eq!(work_cell("no initials here", false).state, State::Problem);
        assert_eq!(work_cell("JD", true).state, State::Done);
        assert_eq!(work_cell("", true).state, State::Done);
        assert_eq!(work_cell("MF note", true).note.as_deref(), Some("note"));
    }

    #[test]
    fn a_word_for_done_is_not_a_claim() {
        for word in [
            "done", "Done", "OK", "ok.", "yes", "x", "X", "✓", "Checked!",
        ] {
            assert!(is_done_word(word), "{word}");
            let cell = work_cell(word, false);
            assert_eq!(cell.state, State::Problem, "{word}");
            assert_eq!(
                (cell.initials, cell.note.as_deref()),
                (None, Some(word.trim())),
                "{word}"
            );
        }
        for initials in ["O.K.", "KH", "JD", "Y.X.", "xy"] {
            assert!(!is_done_word(initials), "{initials}");
            assert_eq!(
                work_cell(initials, false).state,
                State::Pending,
                "{initials}"
            );
        }
        assert_eq!(work_cell("done", true).state, State::Done);
    }

    #[test]
    fn greens() {
        assert!(is_green(0xFF00B050), "the lab's green");
        assert!(is_green(0xFF92D050), "light green");
        assert!(is_green(0xFFC6EFCE), "Good style");
        assert!(is_green(0xFFE2EFDA), "accent 6 lighter 80%");
        assert!(is_green(0xFF70AD47), "accent 6");
        assert!(is_green(0xFFEBF1DE), "Excel 2007 accent 3 lighter 80%");
        assert!(is_green(0xFF00FF00), "pure green");
        assert!(is_green(0xFF548235), "accent 6 darker 25%");
        assert!(is_green(0x0000B050), "zero alpha");
    }

    #[test]
    fn not_greens() {
        assert!(!is_green(0xFFFFFF00), "yellow");
        assert!(!is_green(0xFFFFC000), "amber header");
        assert!(!is_green(0xFFFF0000), "red");
        assert!(!is_green(0xFFBDD7EE), "light blue header");
        assert!(!is_green(0xFFF4B084), "orange title");
        assert!(!is_green(0xFFFFFFFF), "white");
        assert!(!is_green(0xFFD9D9D9), "grey");
        assert!(!is_green(0xFF000000), "black");
        assert!(!is_green(0xFF00B0F0), "cyan-blue");
        assert!(!is_green(0xFF0A140C), "near black");
    }

    #[test]
    fn reds_and_yellows() {
        assert!(is_red(0xFFFF0000));
        assert!(is_red(0xFFC00000), "dark red");
        assert!(!is_red(0xFFFFC7CE), "Bad style is not an exclusion");
        assert!(!is_red(0xFFF4B084), "orange");
        assert!(!is_red(0xFFFFFF00));
        assert!(is_yellow(0xFFFFFF00));
        assert!(is_yellow(0xFFFFFF99), "light yellow");
        assert!(!is_yellow(0xFFFFC000), "amber");
        assert!(!is_yellow(0xFF00B050));
    }
}
