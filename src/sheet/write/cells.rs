//! The worksheet XML: locate the owned cells and splice in their new `<c>` elements.
//!
//! One quick-xml pass records where each edited cell, its row and the `<sheetData>` end are;
//! then each changed cell gets a replacement for exactly its own bytes (or an insertion at the
//! right place when the cell or row does not exist yet). All other bytes are copied verbatim.

use super::styles::Styles;
use super::xml::{
    Tokens, attr, decode_ooxml_escapes, escape_text, local, opening, parse_ref, prefix_of,
    remove_attr, set_attr, tag_name,
};
use super::{Fail, Wanted};
use crate::sheet::cell_ref;
use quick_xml::events::{BytesRef, Event};
use std::collections::HashMap;
use std::ops::Range;

/// What a cell holds now, as far as deciding "is the new text already there" needs.
#[derive(Debug, PartialEq)]
pub(super) enum Value {
    /// No value.
    Empty,
    /// A shared string, by index.
    Shared(usize),
    /// An inline string, decoded.
    Inline(String),
    /// A number, boolean, error, formula or anything else: never equal to new text.
    Other,
}

#[derive(Debug)]
struct FoundCell {
    span: Range<usize>,
    tag: Range<usize>,
    style: u32,
    value: Value,
}

#[derive(Debug)]
struct RowLoc {
    span: Range<usize>,
    tag: Range<usize>,
    /// Offset of `</row>`, or `None` for `<row .../>`.
    end_tag_at: Option<usize>,
    /// Every cell of the row: (0-based column, start offset).
    cells: Vec<(u32, usize)>,
    /// The row's own style, when `customFormat="1"` makes it apply to its empty cells.
    style: Option<u32>,
}

/// Where things are in one worksheet XML.
#[derive(Debug, Default)]
struct Scan {
    prefix: String,
    dimension: Option<Range<usize>>,
    /// `<col>` styles: (first, last) 1-based columns and the style.
    cols: Vec<(u32, u32, u32)>,
    sheet_data: Option<(Range<usize>, Option<usize>)>,
    /// Every row: (1-based row, start offset).
    rows: Vec<(u32, usize)>,
    edited_rows: HashMap<u32, RowLoc>,
    cells: HashMap<(u32, u32), FoundCell>,
}

/// The cell being read, when it is one of the edited ones.
struct Capture {
    key: (u32, u32),
    start: usize,
    tag: Range<usize>,
    style: u32,
    t: Option<String>,
    v: String,
    has_formula: bool,
    inline: String,
    in_v: bool,
    in_t: bool,
    /// Depth of `<rPh>` (phonetic runs, not part of the shown text).
    in_rph: u32,
}

fn scan(xml: &str, wanted: &Wanted) -> Result<Scan, Fail> {
    let mut s = Scan::default();
    let mut t = Tokens::new(xml);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut row: u32 = 0;
    let mut next_col: u32 = 0;
    let mut cap: Option<Capture> = None;
    while let Some(tok) = t.next_token().map_err(Fail::corrupt)? {
        let raw = &xml[tok.span.clone()];
        match &tok.event {
            Event::Start(e) | Event::Empty(e) => {
                let empty = matches!(tok.event, Event::Empty(_));
                let name = local(e.name().as_ref()).to_vec();
                let parent = stack.last().map(Vec::as_slice);
                if let Some(c) = cap.as_mut() {
                    match name.as_slice() {
                        b"rPh" => c.in_rph += u32::from(!empty),
                        b"v" if parent == Some(b"c") => c.in_v = !empty,
                        b"f" => c.has_formula = true,
                        b"t" if c.in_rph == 0 => c.in_t = !empty,
                        _ => {}
                    }
                } else {
                    match (name.as_slice(), parent) {
                        (b"worksheet", None) => s.prefix = prefix_of(tag_name(raw)).to_owned(),
                        (b"dimension", Some(b"worksheet")) => s.dimension = Some(tok.span.clone()),
                        (b"col", Some(b"cols")) => {
                            let num = |n| attr(raw, n).and_then(|v| v.trim().parse().ok());
                            if let (Some(min), Some(max)) = (num("min"), num("max")) {
                                s.cols.push((min, max, num("style").unwrap_or(0)));
                            }
                        }
                        (b"sheetData", Some(b"worksheet")) => {
                            s.sheet_data = Some((tok.span.clone(), None));
                        }
                        (b"row", Some(b"sheetData")) => {
                            row = attr(raw, "r")
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(row + 1);
                            next_col = 0;
                            s.rows.push((row, tok.span.start));
                            if wanted.contains_key(&row) {
                                let custom = attr(raw, "customFormat")
                                    .is_some_and(|v| v == "1" || v == "true");
                                let style = attr(raw, "s").and_then(|v| v.trim().parse().ok());
                                s.edited_rows.insert(
                                    row,
                                    RowLoc {
                                        span: tok.span.clone(),
                                        tag: tok.span.clone(),
                                        end_tag_at: None,
                                        cells: Vec::new(),
                                        style: style.filter(|_| custom),
                                    },
                                );
                            }
                        }
                        (b"c", Some(b"row")) => {
                            let col = attr(raw, "r")
                                .and_then(parse_ref)
                                .map_or(next_col, |(_, c)| c);
                            next_col = col + 1;
                            if let Some(r) = s.edited_rows.get_mut(&row) {
                                r.cells.push((col, tok.span.start));
                            }
                            if wanted.get(&row).is_some_and(|cols| cols.contains_key(&col)) {
                                let c = Capture {
                                    key: (row, col),
                                    start: tok.span.start,
                                    tag: tok.span.clone(),
                                    style: attr(raw, "s")
                                        .and_then(|v| v.trim().parse().ok())
                                        .unwrap_or(0),
                                    t: attr(raw, "t").map(str::to_owned),
                                    v: String::new(),
                                    has_formula: false,
                                    inline: String::new(),
                                    in_v: false,
                                    in_t: false,
                                    in_rph: 0,
                                };
                                if empty {
                                    finish_cell(&mut s, c, tok.span.end);
                                } else {
                                    cap = Some(c);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                if !empty {
                    stack.push(name);
                }
            }
            Event::End(e) => {
                let name = local(e.name().as_ref()).to_vec();
                stack.pop();
                let parent = stack.last().map(Vec::as_slice);
                if let Some(c) = cap.as_mut() {
                    match name.as_slice() {
                        b"c" if parent == Some(b"row") => {
                            if let Some(c) = cap.take() {
                                finish_cell(&mut s, c, tok.span.end);
                            }
                        }
                        b"rPh" => c.in_rph = c.in_rph.saturating_sub(1),
                        b"v" => c.in_v = false,
                        b"t" => c.in_t = false,
                        _ => {}
                    }
                } else {
                    match (name.as_slice(), parent) {
                        (b"row", Some(b"sheetData")) => {
                            if let Some(r) = s.edited_rows.get_mut(&row) {
                                r.end_tag_at = Some(tok.span.start);
                                r.span.end = tok.span.end;
                            }
                        }
                        (b"sheetData", Some(b"worksheet")) => {
                            if let Some(sd) = s.sheet_data.as_mut() {
                                sd.1 = Some(tok.span.start);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Event::Text(e) => {
                if let Some(c) = cap.as_mut() {
                    if c.in_v {
                        c.v.push_str(&e.xml10_content());
                    } else if c.in_t {
                        c.inline.push_str(&e.xml10_content());
                    }
                }
            }
            Event::CData(e) => {
                if let Some(c) = cap.as_mut().filter(|c| c.in_t || c.in_v) {
                    let target = if c.in_v { &mut c.v } else { &mut c.inline };
                    target.push_str(&e.xml10_content());
                }
            }
            Event::GeneralRef(e) => {
                if let Some(c) = cap.as_mut().filter(|c| c.in_t || c.in_v) {
                    let target = if c.in_v { &mut c.v } else { &mut c.inline };
                    push_ref(target, e).map_err(Fail::corrupt)?;
                }
            }
            _ => {}
        }
    }
    if s.sheet_data.is_none() {
        return Err(Fail::corrupt("the worksheet has no `sheetData`"));
    }
    Ok(s)
}

/// Appends the character an entity or character reference stands for.
pub(super) fn push_ref(out: &mut String, r: &BytesRef<'_>) -> Result<(), String> {
    match r.resolve_char_ref() {
        Ok(Some(c)) => out.push(c),
        Ok(None) => match quick_xml::escape::resolve_predefined_entity(r) {
            Some(s) => out.push_str(s),
            None => return Err(format!("unknown entity `&{};`", &**r)),
        },
        Err(e) => return Err(e.to_string()),
    }
    Ok(())
}

fn finish_cell(s: &mut Scan, c: Capture, end: usize) {
    let value = match c.t.as_deref() {
        Some("s") => c.v.trim().parse().map_or(Value::Other, Value::Shared),
        Some("inlineStr") if !c.has_formula => Value::Inline(decode_ooxml_escapes(&c.inline)),
        _ if c.v.is_empty() && !c.has_formula && c.inline.is_empty() => Value::Empty,
        _ => Value::Other,
    };
    s.cells.insert(
        c.key,
        FoundCell {
            span: c.start..end,
            tag: c.tag,
            style: c.style,
            value,
        },
    );
}

/// The result of patching one worksheet.
pub(super) struct SheetPatch {
    /// The new XML, or `None` when no cell changes.
    pub xml: Option<String>,
}

/// Applies `wanted` to worksheet `xml`. `styles` is consulted only for green edits;
/// `shared` resolves a shared-string index to its text (for "is the text already there").
pub(super) fn patch_sheet(
    xml: &str,
    wanted: &Wanted,
    styles: &mut Option<Styles<'_>>,
    shared: &mut dyn FnMut(usize) -> Result<Option<String>, Fail>,
) -> Result<SheetPatch, Fail> {
    let s = scan(xml, wanted)?;
    let p = s.prefix.as_str();
    let mut splices: Vec<(Range<usize>, String)> = Vec::new();
    // Bounding box of cells this patch creates, to widen `<dimension>`.
    let mut created: Option<(u32, u32, u32, u32)> = None;
    let mut note_created = |row: u32, col: u32| {
        created = Some(match created {
            None => (row, col, row, col),
            Some((r0, c0, r1, c1)) => (r0.min(row), c0.min(col), r1.max(row), c1.max(col)),
        });
    };
    let col_style = |col: u32| {
        s.cols
            .iter()
            .find(|&&(min, max, _)| (min..=max).contains(&(col + 1)))
            .map_or(0, |&(_, _, st)| st)
    };
    let mut new_rows: Vec<(usize, String)> = Vec::new();
    for (&row, cols) in wanted {
        let loc = s.edited_rows.get(&row);
        // New cells of this row, in column order, with where they go.
        let mut inserts: Vec<(usize, u32, String)> = Vec::new();
        for (&col, edit) in cols {
            if let Some(found) = s.cells.get(&(row, col)) {
                let style = new_style(styles, found.style, edit.green)?;
                let text_changes = match &edit.text {
                    None => false,
                    Some(t) => !same_text(&found.value, t, shared)?,
                };
                let tag = &xml[found.tag.clone()];
                if text_changes {
                    let text = edit.text.as_deref().unwrap_or_default();
                    splices.push((found.span.clone(), cell_xml(p, tag, style, text)));
                } else if style != found.style {
                    splices.push((found.tag.clone(), with_style(tag, style)));
                }
                continue;
            }
            let base = loc.and_then(|r| r.style).unwrap_or_else(|| col_style(col));
            let style = new_style(styles, base, edit.green)?;
            let text = edit.text.as_deref().filter(|t| !t.is_empty());
            if text.is_none() && style == base {
                continue;
            }
            let tag = format!("<{p}c r=\"{}\"/>", cell_ref(row, col));
            let xml_cell = match text {
                Some(t) => cell_xml(p, &tag, style, t),
                None => with_style(&tag, style),
            };
            note_created(row, col);
            let at = loc.map(|r| {
                r.cells
                    .iter()
                    .find(|&&(c, _)| c > col)
                    .map(|&(_, at)| at)
                    .or(r.end_tag_at)
                    .unwrap_or(r.span.start)
            });
            inserts.push((at.unwrap_or(0), col, xml_cell));
        }
        if inserts.is_empty() {
            continue;
        }
        let new_cols: Vec<u32> = inserts.iter().map(|&(_, c, _)| c).collect();
        match loc {
            Some(r) if r.end_tag_at.is_some() => {
                let tag = &xml[r.tag.clone()];
                if let Some(wider) = widened_spans(tag, &new_cols) {
                    splices.push((r.tag.clone(), wider));
                }
                splices.extend(inserts.into_iter().map(|(at, _, x)| (at..at, x)));
            }
            Some(r) => {
                // `<row r="9"/>`: open it up around the new cells.
                let raw = &xml[r.tag.clone()];
                let tag = widened_spans(raw, &new_cols).unwrap_or_else(|| raw.to_owned());
                let cells: String = inserts.into_iter().map(|(_, _, x)| x).collect();
                splices.push((
                    r.span.clone(),
                    format!("{}{cells}</{}>", opening(&tag), tag_name(&tag)),
                ));
            }
            None => {
                let at = s
                    .rows
                    .iter()
                    .find(|&&(r, _)| r > row)
                    .map(|&(_, at)| at)
                    .or_else(|| s.sheet_data.as_ref().and_then(|sd| sd.1));
                let cells: String = inserts.into_iter().map(|(_, _, x)| x).collect();
                let row_xml = format!("<{p}row r=\"{row}\">{cells}</{p}row>");
                match at {
                    Some(at) => splices.push((at..at, row_xml)),
                    None => new_rows.push((0, row_xml)),
                }
            }
        }
    }
    if !new_rows.is_empty() {
        // `<sheetData/>`: open it up around the new rows.
        if let Some((span, None)) = &s.sheet_data {
            let tag = &xml[span.clone()];
            let rows: String = new_rows.into_iter().map(|(_, x)| x).collect();
            splices.push((
                span.clone(),
                format!("{}{rows}</{}>", opening(tag), tag_name(tag)),
            ));
        }
    }
    if splices.is_empty() {
        return Ok(SheetPatch { xml: None });
    }
    if let (Some(dim), Some(bbox)) = (&s.dimension, created) {
        let tag = &xml[dim.clone()];
        if let Some(new) = widened_dimension(attr(tag, "ref").unwrap_or(""), bbox) {
            splices.push((dim.clone(), set_attr(tag, "ref", &new, None)));
        }
    }
    Ok(SheetPatch {
        xml: Some(super::splice(xml, splices)),
    })
}

fn new_style(styles: &mut Option<Styles<'_>>, style: u32, green: bool) -> Result<u32, Fail> {
    if !green {
        return Ok(style);
    }
    let Some(st) = styles.as_mut() else {
        return Err(Fail::corrupt("the workbook has no styles part"));
    };
    st.green_twin(style).map_err(Fail::corrupt)
}

fn same_text(
    value: &Value,
    text: &str,
    shared: &mut dyn FnMut(usize) -> Result<Option<String>, Fail>,
) -> Result<bool, Fail> {
    Ok(match value {
        Value::Empty => text.is_empty(),
        Value::Inline(s) => s == text,
        Value::Shared(i) => shared(*i)?.as_deref() == Some(text),
        Value::Other => false,
    })
}

/// The raw start tag `tag` with style `style` (`s` omitted when it is 0 and was absent).
fn with_style(tag: &str, style: u32) -> String {
    if style == 0 && attr(tag, "s").is_none() {
        return tag.to_owned();
    }
    set_attr(tag, "s", &style.to_string(), Some("r"))
}

/// A whole `<c>` element holding `text` as an inline string, keeping the other attributes of
/// `tag` (its original start tag) but dropping value metadata that no longer applies.
fn cell_xml(p: &str, tag: &str, style: u32, text: &str) -> String {
    let mut tag = remove_attr(&remove_attr(&with_style(tag, style), "vm"), "cm");
    if text.is_empty() {
        tag = remove_attr(&tag, "t");
        let open = opening(&tag);
        return format!("{}/>", &open[..open.len() - 1]);
    }
    tag = set_attr(&tag, "t", "inlineStr", Some("s"));
    format!(
        "{}<{p}is><{p}t xml:space=\"preserve\">{}</{p}t></{p}is></{}>",
        opening(&tag),
        escape_text(text),
        tag_name(&tag)
    )
}

/// The row start tag with its `spans="first:last"` hint grown to cover the new 0-based
/// columns, or `None` when it has none, already covers them, or is not a single range.
fn widened_spans(tag: &str, cols: &[u32]) -> Option<String> {
    let (a, b) = attr(tag, "spans")?.split_once(':')?;
    let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    let lo = cols.iter().map(|c| c + 1).min()?.min(a);
    let hi = cols.iter().map(|c| c + 1).max()?.max(b);
    ((lo, hi) != (a, b)).then(|| set_attr(tag, "spans", &format!("{lo}:{hi}"), None))
}

/// The `<dimension ref>` grown to cover `bbox` (rows, cols), or `None` if it already does.
fn widened_dimension(old: &str, (r0, c0, r1, c1): (u32, u32, u32, u32)) -> Option<String> {
    let (a, b) = old.split_once(':').unwrap_or((old, old));
    let ((ar, ac), (br, bc)) = (parse_ref(a)?, parse_ref(b)?);
    let (nr0, nc0, nr1, nc1) = (ar.min(r0), ac.min(c0), br.max(r1), bc.max(c1));
    if (nr0, nc0, nr1, nc1) == (ar, ac, br, bc) {
        return None;
    }
    Some(format!("{}:{}", cell_ref(nr0, nc0), cell_ref(nr1, nc1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::write::Edit;
    use std::collections::BTreeMap;

    const SHEET: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac" xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"><dimension ref="A1:F4"/><cols><col min="6" max="6" width="9" style="2" customWidth="1"/></cols><sheetData><row r="1" spans="1:6" x14ac:dyDescent="0.25"><c r="A1" s='1' t="s"><v>0</v></c><c r="F1" s="1" t="inlineStr"><is><t>KH &amp; co</t></is></c></row><row r="3"/><row r="4" s="3" customFormat="1"><c r="A4"><f>1+1</f><v>2</v></c></row></sheetData><mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells></worksheet>"#;

    fn wanted(edits: &[(u32, u32, Option<&str>)]) -> Wanted {
        let mut w: Wanted = BTreeMap::new();
        for &(r, c, t) in edits {
            w.entry(r).or_default().insert(
                c,
                Edit {
                    text: t.map(str::to_owned),
                    green: false,
                },
            );
        }
        w
    }

    fn patch(w: &Wanted) -> Option<String> {
        let mut shared = |i: usize| Ok((i == 0).then(|| "ID".to_owned()));
        patch_sheet(SHEET, w, &mut None, &mut shared).unwrap().xml
    }

    #[test]
    fn same_text_is_a_no_op() {
        assert_eq!(
            patch(&wanted(&[(1, 0, Some("ID")), (1, 5, Some("KH & co"))])),
            None
        );
        assert_eq!(patch(&wanted(&[(2, 3, None), (3, 1, Some(""))])), None);
    }

    #[test]
    fn replaces_only_the_cell() {
        let out = patch(&wanted(&[(1, 0, Some("JD <x>"))])).unwrap();
        let want = SHEET.replace(
            r#"<c r="A1" s='1' t="s"><v>0</v></c>"#,
            r#"<c r="A1" s='1' t="inlineStr"><is><t xml:space="preserve">JD &lt;x&gt;</t></is></c>"#,
        );
        assert_eq!(out, want);
    }

    #[test]
    fn inserts_cells_and_rows_in_order() {
        let out = patch(&wanted(&[
            (1, 2, Some("mid")),
            (2, 1, Some("new row")),
            (3, 4, Some("in empty row")),
            (4, 1, Some("styled")),
            (7, 0, Some("last")),
        ]))
        .unwrap();
        assert!(out.contains(r#"<c r="A1" s='1' t="s"><v>0</v></c><c r="C1" t="inlineStr"><is><t xml:space="preserve">mid</t></is></c><c r="F1""#), "{out}");
        assert!(
            out.contains(r#"</row><row r="2"><c r="B2" t="inlineStr">"#),
            "{out}"
        );
        assert!(out.contains(r#"<row r="3"><c r="E3" t="inlineStr"><is><t xml:space="preserve">in empty row</t></is></c></row>"#), "{out}");
        // Row 4's own style applies to its new cell (customFormat).
        assert!(
            out.contains(r#"<f>1+1</f><v>2</v></c><c r="B4" s="3" t="inlineStr">"#),
            "{out}"
        );
        assert!(out.contains(r#"<row r="7"><c r="A7" t="inlineStr"><is><t xml:space="preserve">last</t></is></c></row></sheetData>"#), "{out}");
        assert!(out.contains(r#"<dimension ref="A1:F7"/>"#), "{out}");
        // Applying the same edits again changes nothing.
        let mut shared = |i: usize| Ok((i == 0).then(|| "ID".to_owned()));
        let w = wanted(&[
            (1, 2, Some("mid")),
            (2, 1, Some("new row")),
            (7, 0, Some("last")),
        ]);
        assert!(
            patch_sheet(&out, &w, &mut None, &mut shared)
                .unwrap()
                .xml
                .is_none()
        );
    }

    #[test]
    fn new_cells_widen_the_row_spans() {
        let out = patch(&wanted(&[(1, 7, Some("H"))])).unwrap();
        assert!(
            out.contains(r#"<row r="1" spans="1:8" x14ac:dyDescent="0.25">"#),
            "{out}"
        );
        assert!(out.contains(r#"<dimension ref="A1:H4"/>"#), "{out}");
        assert_eq!(
            patch(&wanted(&[(1, 3, Some("D"))]))
                .unwrap()
                .matches("spans=\"1:6\"")
                .count(),
            1
        );
    }

    #[test]
    fn prefixed_namespaces_are_kept() {
        let xml = r#"<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData><x:row r="2"><x:c r="B2" t="s"><x:v>0</x:v></x:c></x:row></x:sheetData></x:worksheet>"#;
        let mut shared = |_| Ok(Some("old".to_owned()));
        let w = wanted(&[(2, 1, Some("new")), (2, 2, Some("C")), (3, 0, Some("A"))]);
        let out = patch_sheet(xml, &w, &mut None, &mut shared)
            .unwrap()
            .xml
            .unwrap();
        assert_eq!(
            out,
            r#"<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData><x:row r="2"><x:c r="B2" t="inlineStr"><x:is><x:t xml:space="preserve">new</x:t></x:is></x:c><x:c r="C2" t="inlineStr"><x:is><x:t xml:space="preserve">C</x:t></x:is></x:c></x:row><x:row r="3"><x:c r="A3" t="inlineStr"><x:is><x:t xml:space="preserve">A</x:t></x:is></x:c></x:row></x:sheetData></x:worksheet>"#
        );
    }

    #[test]
    fn empty_sheet_data_opens_up() {
        let xml = r#"<worksheet><sheetData/></worksheet>"#;
        let mut shared = |_| Ok(None);
        let out = patch_sheet(xml, &wanted(&[(1, 0, Some("a"))]), &mut None, &mut shared)
            .unwrap()
            .xml
            .unwrap();
        assert_eq!(
            out,
            r#"<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t xml:space="preserve">a</t></is></c></row></sheetData></worksheet>"#
        );
    }

    #[test]
    fn formula_cells_take_the_text() {
        let out = patch(&wanted(&[(4, 0, Some("x"))])).unwrap();
        assert!(
            out.contains(
                r#"<c r="A4" t="inlineStr"><is><t xml:space="preserve">x</t></is></c></row>"#
            ),
            "{out}"
        );
    }

    #[test]
    fn green_without_styles_is_an_error() {
        let mut w = wanted(&[(1, 0, None)]);
        w.get_mut(&1).unwrap().get_mut(&0).unwrap().green = true;
        let mut shared = |_| Ok(None);
        assert!(patch_sheet(SHEET, &w, &mut None, &mut shared).is_err());
    }

    #[test]
    fn malformed_sheet_is_an_error() {
        let mut shared = |_| Ok(None);
        let w = wanted(&[(1, 0, Some("x"))]);
        assert!(
            patch_sheet(
                "<worksheet><sheetData><row></sheetData>",
                &w,
                &mut None,
                &mut shared
            )
            .is_err()
        );
        assert!(patch_sheet("<worksheet/>", &w, &mut None, &mut shared).is_err());
    }
}
