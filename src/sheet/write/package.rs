//! The xlsx package (a zip): find the parts a patch needs through the relationships, read them,
//! and write the new package with every other entry copied raw.

use super::cells::{patch_sheet, push_ref};
use super::styles::Styles;
use super::xml::{Tokens, attr, local, prefixed_attr};
use super::{Fail, Wanted};
use quick_xml::events::Event;
use std::collections::HashMap;
use std::io::{Cursor, Read, Write};
use zip::{ZipArchive, ZipWriter};

const REL_OFFICE_DOCUMENT: &str = "/officeDocument";
const REL_STYLES: &str = "/styles";
const REL_SHARED_STRINGS: &str = "/sharedStrings";

/// Parts larger than this are refused rather than inflated (a zip bomb, not a workbook).
pub(crate) const MAX_PART: u64 = 256 * 1024 * 1024;

pub(crate) type Archive<'a> = ZipArchive<Cursor<&'a [u8]>>;

/// The main namespace of strict OOXML (ISO 29500 strict), as Excel writes it on request.
const STRICT_MAIN_NS: &str = "http://purl.oclc.org/ooxml/spreadsheetml/main";

/// The parts of a package a patch of one sheet needs, found through the relationships.
struct Located {
    names: PartNames,
    /// The workbook part's folder (`xl`), against which its relationship targets resolve.
    dir: String,
    workbook_rels: String,
    sheet_part: String,
    styles_part: Option<String>,
    sst_part: Option<String>,
    /// The workbook uses the strict OOXML namespaces.
    strict: bool,
}

fn open(original: &[u8]) -> Result<Archive<'_>, Fail> {
    ZipArchive::new(Cursor::new(original)).map_err(|e| {
        Fail::corrupt(if original.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            "it is an old-style .xls or a password-protected file, not an xlsx package".to_owned()
        } else {
            format!("it is not a valid xlsx (zip) package: {e}")
        })
    })
}

/// Finds sheet `sheet` (its name as in the workbook part) and the styles and shared-string
/// parts. Only the parts on that path are read: an odd part elsewhere does not matter.
fn locate(zip: &mut Archive<'_>, sheet: &str) -> Result<Located, Fail> {
    let names = PartNames::of(zip)?;
    let root_rels = read_part(zip, &names, "_rels/.rels")?
        .ok_or_else(|| Fail::corrupt("the package has no `_rels/.rels`"))?;
    let workbook = rels(&root_rels.text)?
        .into_iter()
        .find(|r| r.kind.ends_with(REL_OFFICE_DOCUMENT))
        .map_or_else(|| "xl/workbook.xml".to_owned(), |r| resolve("", &r.target));
    let workbook_xml = read_part(zip, &names, &workbook)?
        .ok_or_else(|| Fail::corrupt(format!("the package has no `{workbook}`")))?;
    let (dir, file) = workbook.rsplit_once('/').unwrap_or(("", workbook.as_str()));
    let rels_name = if dir.is_empty() {
        format!("_rels/{file}.rels")
    } else {
        format!("{dir}/_rels/{file}.rels")
    };
    let workbook_rels = rels(
        &read_part(zip, &names, &rels_name)?
            .ok_or_else(|| Fail::corrupt(format!("the package has no `{rels_name}`")))?
            .text,
    )?;

    let sheets = sheets(&workbook_xml.text)?;
    let rid = sheets
        .iter()
        .find(|(n, _)| n == sheet)
        .or_else(|| sheets.iter().find(|(n, _)| n.eq_ignore_ascii_case(sheet)))
        .map(|(_, rid)| rid.clone())
        .ok_or_else(|| Fail::NoSheet {
            sheet: sheet.to_owned(),
            sheets: sheets.iter().map(|(n, _)| n.clone()).collect(),
        })?;
    let sheet_part = workbook_rels
        .iter()
        .find(|r| r.id == rid)
        .map(|r| resolve(dir, &r.target))
        .ok_or_else(|| {
            Fail::corrupt(format!(
                "sheet `{sheet}` has no part (relationship `{rid}`)"
            ))
        })?;
    let part_of = |kind: &str| {
        workbook_rels
            .iter()
            .find(|r| r.kind.ends_with(kind))
            .map(|r| resolve(dir, &r.target))
            .filter(|p| names.index(p).is_some())
    };
    let styles_part = part_of(REL_STYLES);
    let sst_part = part_of(REL_SHARED_STRINGS);
    Ok(Located {
        strict: workbook_xml.text.contains(STRICT_MAIN_NS),
        dir: dir.to_owned(),
        workbook_rels: rels_name,
        sheet_part,
        styles_part,
        sst_part,
        names,
    })
}

/// The palette positions of the package's cell formats ([`Styles::raw_positions`]), or `None`
/// when there is no readable styles part.
pub(super) fn style_positions(original: &[u8]) -> Option<Vec<usize>> {
    let mut zip = open(original).ok()?;
    let names = PartNames::of(&mut zip).ok()?;
    let root = read_part(&mut zip, &names, "_rels/.rels").ok()??;
    let workbook = rels(&root.text)
        .ok()?
        .into_iter()
        .find(|r| r.kind.ends_with(REL_OFFICE_DOCUMENT))
        .map_or_else(|| "xl/workbook.xml".to_owned(), |r| resolve("", &r.target));
    let (dir, file) = workbook.rsplit_once('/').unwrap_or(("", workbook.as_str()));
    let rels_name = if dir.is_empty() {
        format!("_rels/{file}.rels")
    } else {
        format!("{dir}/_rels/{file}.rels")
    };
    let wb_rels = read_part(&mut zip, &names, &rels_name).ok()??;
    let styles = rels(&wb_rels.text)
        .ok()?
        .into_iter()
        .find(|r| r.kind.ends_with(REL_STYLES))
        .map(|r| resolve(dir, &r.target))?;
    let xml = read_part(&mut zip, &names, &styles).ok()??;
    Styles::parse(&xml.text).ok().map(|s| s.raw_positions())
}

/// A copy of the package for the reader (calamine), without the `<sheet>` entries it would
/// refuse the whole workbook over: a sheet whose relationship is missing or of a kind it does
/// not know (an XLM macro sheet). `None` when there is none such. The workbook on disk is never
/// changed: the write-back reads the original and touches only the table's sheet.
pub(super) fn readable_copy(original: &[u8]) -> Option<Vec<u8>> {
    let mut zip = open(original).ok()?;
    let names = PartNames::of(&mut zip).ok()?;
    let root = read_part(&mut zip, &names, "_rels/.rels").ok()??;
    let workbook = rels(&root.text)
        .ok()?
        .into_iter()
        .find(|r| r.kind.ends_with(REL_OFFICE_DOCUMENT))
        .map_or_else(|| "xl/workbook.xml".to_owned(), |r| resolve("", &r.target));
    let (dir, file) = workbook.rsplit_once('/').unwrap_or(("", workbook.as_str()));
    let rels_name = if dir.is_empty() {
        format!("_rels/{file}.rels")
    } else {
        format!("{dir}/_rels/{file}.rels")
    };
    let wb_rels = rels(&read_part(&mut zip, &names, &rels_name).ok()??.text).ok()?;
    let wb = read_part(&mut zip, &names, &workbook).ok()??;
    let known = ["/worksheet", "/chartsheet", "/dialogsheet"];
    let mut drop_spans = Vec::new();
    let mut t = Tokens::new(&wb.text);
    while let Some(tok) = t.next_token().ok()? {
        if let Event::Start(e) | Event::Empty(e) = &tok.event
            && local(e.name().as_ref()) == b"sheet"
        {
            let raw = &wb.text[tok.span.clone()];
            let rid = prefixed_attr(raw, "id").map(unescape).unwrap_or_default();
            let readable = wb_rels
                .iter()
                .find(|r| r.id == rid)
                .is_some_and(|r| known.iter().any(|k| r.kind.ends_with(k)));
            if !readable && matches!(tok.event, Event::Empty(_)) {
                drop_spans.push((tok.span.clone(), String::new()));
            }
        }
    }
    if drop_spans.is_empty() {
        return None;
    }
    let text = super::splice(&wb.text, drop_spans);
    let mut replace = HashMap::new();
    replace.insert(names.index(&workbook)?, wb.with_bom(text));
    rebuild(&mut zip, original.len(), &replace, &[]).ok()
}

/// Refuses a package with an XML part that inflates past [`MAX_PART`] (a zip bomb), before
/// anything reads it: every `.xml` and `.rels` entry is inflated into nothing, counting.
pub(super) fn check_sizes(original: &[u8]) -> Result<(), Fail> {
    let mut zip = open(original)?;
    for i in 0..zip.len() {
        let mut f = zip
            .by_index(i)
            .map_err(|e| Fail::corrupt(format!("entry {i} is damaged: {e}")))?;
        let name = f.name().unwrap_or_default().to_ascii_lowercase();
        if !(name.ends_with(".xml") || name.ends_with(".rels")) {
            continue;
        }
        let too_large = || {
            Fail::corrupt(format!(
                "part `{name}` is too large (over {} MiB inflated)",
                MAX_PART >> 20
            ))
        };
        if f.size() > MAX_PART {
            return Err(too_large());
        }
        // A read error here (a damaged entry) is left for the reader to name.
        if let Ok(n) = std::io::copy(&mut f.by_ref().take(MAX_PART + 1), &mut std::io::sink())
            && n > MAX_PART
        {
            return Err(too_large());
        }
    }
    Ok(())
}

/// Checks that sheet `sheet` of package `original` can take a write-back (its part, and the
/// styles part when `green`), without changing anything.
pub(super) fn preflight(original: &[u8], sheet: &str, green: bool) -> Result<(), Fail> {
    let mut zip = open(original)?;
    let at = locate(&mut zip, sheet)?;
    let sheet_xml = read_part(&mut zip, &at.names, &at.sheet_part)?
        .ok_or_else(|| Fail::corrupt(format!("the package has no `{}`", at.sheet_part)))?;
    patch_sheet(&sheet_xml.text, &Wanted::new(), &mut None, &mut |_| {
        Ok(None)
    })?;
    if green && let Some(p) = &at.styles_part {
        let xml = read_part(&mut zip, &at.names, p)?
            .ok_or_else(|| Fail::corrupt(format!("the package has no `{p}`")))?;
        Styles::parse(&xml.text).map_err(Fail::corrupt)?;
    }
    Ok(())
}

/// Applies `wanted` to sheet `sheet` of package `original`.
pub(super) fn patch(original: &[u8], sheet: &str, wanted: &Wanted) -> Result<Vec<u8>, Fail> {
    let mut zip = open(original)?;
    let at = locate(&mut zip, sheet)?;
    let names = &at.names;
    let sheet_xml = read_part(&mut zip, names, &at.sheet_part)?
        .ok_or_else(|| Fail::corrupt(format!("the package has no `{}`", at.sheet_part)))?;
    let any_green = wanted.values().flat_map(|c| c.values()).any(|e| e.green);
    let styles_xml = match (&at.styles_part, any_green) {
        (Some(p), true) => read_part(&mut zip, names, p)?,
        _ => None,
    };
    // A package without a styles part gets a minimal one, only when a cell is to turn green.
    let blank = Styles::blank(at.strict);
    let mut styles = match (&styles_xml, any_green) {
        (Some(x), _) => Some(Styles::parse(&x.text).map_err(Fail::corrupt)?),
        (None, true) => Some(Styles::parse(&blank).map_err(Fail::corrupt)?),
        (None, false) => None,
    };

    // Shared strings are read only if an edited cell holds one and its text is to be compared.
    let mut sst: Option<Vec<String>> = None;
    let sst_part = at.sst_part.clone();
    let mut shared = |i: usize| -> Result<Option<String>, Fail> {
        if sst.is_none() {
            let xml = match &sst_part {
                Some(p) => read_part(&mut zip, names, p)?,
                None => None,
            };
            // A shared-string table this sheet cannot use does not stop the write-back: an
            // unreadable one only means "the text differs", and the cell is rewritten.
            sst = Some(match xml {
                Some(x) => shared_strings(&x.text).unwrap_or_default(),
                None => Vec::new(),
            });
        }
        Ok(sst.as_ref().and_then(|s| s.get(i).cloned()))
    };
    let new_sheet = patch_sheet(&sheet_xml.text, wanted, &mut styles, &mut shared)?.xml;
    let new_styles = styles.and_then(Styles::finish);
    if new_sheet.is_none() && new_styles.is_none() {
        return Ok(original.to_vec());
    }

    let mut replace: HashMap<usize, Vec<u8>> = HashMap::new();
    let mut added: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(x) = new_sheet {
        replace.insert(
            names.index(&at.sheet_part).unwrap_or(usize::MAX),
            sheet_xml.with_bom(x),
        );
    }
    match (new_styles, &at.styles_part, &styles_xml) {
        (Some(x), Some(p), Some(old)) => {
            replace.insert(names.index(p).unwrap_or(usize::MAX), old.with_bom(x));
        }
        (Some(x), _, _) => {
            // A new styles part: add it, with its relationship and content type.
            let part = if at.dir.is_empty() {
                "styles.xml".to_owned()
            } else {
                format!("{}/styles.xml", at.dir)
            };
            if names.index(&part).is_some() {
                return Err(Fail::corrupt(format!(
                    "`{part}` exists but the workbook does not name it as its styles"
                )));
            }
            let rels_i = names.index(&at.workbook_rels).unwrap_or(usize::MAX);
            let rels_xml = read_part(&mut zip, names, &at.workbook_rels)?
                .ok_or_else(|| Fail::corrupt("the workbook relationships vanished"))?;
            let rel_type = if at.strict {
                "http://purl.oclc.org/ooxml/officeDocument/relationships/styles"
            } else {
                "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"
            };
            let rel = format!(
                "<Relationship Id=\"rIdAnontrackStyles\" Type=\"{rel_type}\" Target=\"styles.xml\"/>"
            );
            let new_rels = insert_before_last_close(&rels_xml.text, "Relationships", &rel)
                .ok_or_else(|| Fail::corrupt("the workbook relationships are damaged"))?;
            replace.insert(rels_i, rels_xml.with_bom(new_rels));
            let ct_i = names
                .index("[Content_Types].xml")
                .ok_or_else(|| Fail::corrupt("the package has no `[Content_Types].xml`"))?;
            let ct = read_part(&mut zip, names, "[Content_Types].xml")?
                .ok_or_else(|| Fail::corrupt("the package has no `[Content_Types].xml`"))?;
            let ov = format!(
                "<Override PartName=\"/{part}\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>"
            );
            let new_ct = insert_before_last_close(&ct.text, "Types", &ov)
                .ok_or_else(|| Fail::corrupt("`[Content_Types].xml` is damaged"))?;
            replace.insert(ct_i, ct.with_bom(new_ct));
            added.push((part, x.into_bytes()));
        }
        (None, _, _) => {}
    }
    rebuild(&mut zip, original.len(), &replace, &added)
}

/// `xml` with `what` inserted before its last closing tag of element `local` (any prefix).
fn insert_before_last_close(xml: &str, local: &str, what: &str) -> Option<String> {
    let end = xml.rfind(&format!("{local}>"))?;
    let at = xml[..end].rfind("</")?;
    let between = &xml[at + 2..end];
    if !(between.is_empty() || between.ends_with(':')) {
        return None;
    }
    Some(format!("{}{what}{}", &xml[..at], &xml[at..]))
}

/// Writes a new package: entries in `replace` get the new bytes (same name, compression method,
/// timestamp and attributes); every other entry is copied raw.
fn rebuild(
    zip: &mut Archive<'_>,
    size_hint: usize,
    replace: &HashMap<usize, Vec<u8>>,
    added: &[(String, Vec<u8>)],
) -> Result<Vec<u8>, Fail> {
    let internal = |e: zip::result::ZipError| Fail::Internal(format!("writing the package: {e}"));
    let mut out = ZipWriter::new(Cursor::new(Vec::with_capacity(size_hint + 4096)));
    if !zip.comment().is_empty() {
        out.set_raw_comment(zip.comment().into())
            .map_err(internal)?;
    }
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|e| Fail::corrupt(format!("entry {i} is damaged: {e}")))?;
        match replace.get(&i) {
            None => out.raw_copy_file(entry).map_err(internal)?,
            Some(bytes) => {
                let name = entry
                    .name()
                    .map_err(|e| Fail::corrupt(e.to_string()))?
                    .into_owned();
                let options = entry.options();
                drop(entry);
                out.start_file(name, options).map_err(internal)?;
                out.write_all(bytes)
                    .map_err(|e| Fail::Internal(format!("writing the package: {e}")))?;
            }
        }
    }
    for (name, bytes) in added {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        out.start_file(name.as_str(), options).map_err(internal)?;
        out.write_all(bytes)
            .map_err(|e| Fail::Internal(format!("writing the package: {e}")))?;
    }
    let cursor = out.finish().map_err(internal)?;
    Ok(cursor.into_inner())
}

/// Entry names, to find parts case-insensitively as OPC part names are.
pub(crate) struct PartNames(HashMap<String, usize>);

impl PartNames {
    pub(crate) fn of(zip: &mut Archive<'_>) -> Result<Self, Fail> {
        let mut map = HashMap::new();
        for i in 0..zip.len() {
            let e = zip
                .by_index_raw(i)
                .map_err(|e| Fail::corrupt(format!("entry {i} is damaged: {e}")))?;
            if let Ok(n) = e.name() {
                map.entry(part_key(&n)).or_insert(i);
            }
        }
        Ok(Self(map))
    }

    pub(crate) fn index(&self, name: &str) -> Option<usize> {
        self.0.get(&part_key(name)).copied()
    }
}

/// The key a part is found by: OPC part names ignore case, and some writers store `xl\\x.xml`
/// with backslashes (Excel and calamine read those too).
fn part_key(name: &str) -> String {
    name.trim_start_matches('/')
        .replace('\\', "/")
        .to_ascii_lowercase()
}

/// The text of one part, without the UTF-8 byte-order mark it may begin with.
pub(crate) struct PartText {
    pub text: String,
    pub bom: bool,
}

impl PartText {
    /// New text for this part, with the byte-order mark it had.
    fn with_bom(&self, text: String) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() + 3);
        if self.bom {
            out.extend_from_slice(BOM.as_bytes());
        }
        out.extend_from_slice(text.as_bytes());
        out
    }
}

const BOM: &str = "\u{FEFF}";

/// The text of part `name`, or `None` if the package has no such part. Reader and writer both
/// read parts through this: one size limit, one rule for a byte-order mark.
pub(crate) fn read_part(
    zip: &mut Archive<'_>,
    names: &PartNames,
    name: &str,
) -> Result<Option<PartText>, Fail> {
    let Some(i) = names.index(name) else {
        return Ok(None);
    };
    let damaged =
        |e: &dyn std::fmt::Display| Fail::corrupt(format!("part `{name}` is damaged: {e}"));
    let mut f = zip.by_index(i).map_err(|e| damaged(&e))?;
    let too_large = || {
        Fail::corrupt(format!(
            "part `{name}` is too large (over {} MiB inflated)",
            MAX_PART >> 20
        ))
    };
    if f.size() > MAX_PART {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(f.size() as usize);
    // The declared size may lie (a zip bomb): stop one byte past the limit.
    f.by_ref()
        .take(MAX_PART + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| damaged(&e))?;
    if bytes.len() as u64 > MAX_PART {
        return Err(too_large());
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| Fail::corrupt(format!("part `{name}` is not UTF-8 XML")))?;
    Ok(Some(match text.strip_prefix(BOM) {
        Some(rest) => PartText {
            text: rest.to_owned(),
            bom: true,
        },
        None => PartText { text, bom: false },
    }))
}

/// One relationship.
struct Rel {
    id: String,
    kind: String,
    target: String,
}

fn rels(xml: &str) -> Result<Vec<Rel>, Fail> {
    let mut out = Vec::new();
    let mut t = Tokens::new(xml);
    while let Some(tok) = t.next_token().map_err(Fail::corrupt)? {
        if let Event::Start(e) | Event::Empty(e) = &tok.event
            && local(e.name().as_ref()) == b"Relationship"
        {
            let raw = &xml[tok.span.clone()];
            if attr(raw, "TargetMode") == Some("External") {
                continue;
            }
            let get = |n| attr(raw, n).map(unescape).unwrap_or_default();
            out.push(Rel {
                id: get("Id"),
                kind: get("Type"),
                target: get("Target"),
            });
        }
    }
    Ok(out)
}

/// The sheets of a workbook part: (name, relationship id), in tab order.
fn sheets(xml: &str) -> Result<Vec<(String, String)>, Fail> {
    let mut out = Vec::new();
    let mut t = Tokens::new(xml);
    while let Some(tok) = t.next_token().map_err(Fail::corrupt)? {
        if let Event::Start(e) | Event::Empty(e) = &tok.event
            && local(e.name().as_ref()) == b"sheet"
        {
            let raw = &xml[tok.span.clone()];
            if let (Some(name), Some(rid)) = (attr(raw, "name"), prefixed_attr(raw, "id")) {
                out.push((unescape(name), unescape(rid)));
            }
        }
    }
    Ok(out)
}

/// The shown text of every `<si>` of a shared-string table (phonetic runs left out).
fn shared_strings(xml: &str) -> Result<Vec<String>, Fail> {
    let mut out = Vec::new();
    let mut t = Tokens::new(xml);
    let (mut in_t, mut in_rph) = (false, 0u32);
    while let Some(tok) = t.next_token().map_err(Fail::corrupt)? {
        match &tok.event {
            Event::Start(e) => match local(e.name().as_ref()) {
                b"si" => out.push(String::new()),
                b"rPh" => in_rph += 1,
                b"t" => in_t = in_rph == 0,
                _ => {}
            },
            Event::Empty(e) if local(e.name().as_ref()) == b"si" => out.push(String::new()),
            Event::End(e) => match local(e.name().as_ref()) {
                b"rPh" => in_rph = in_rph.saturating_sub(1),
                b"t" => in_t = false,
                _ => {}
            },
            Event::Text(e) if in_t => {
                if let Some(s) = out.last_mut() {
                    s.push_str(&e.xml10_content());
                }
            }
            Event::CData(e) if in_t => {
                if let Some(s) = out.last_mut() {
                    s.push_str(&e.xml10_content());
                }
            }
            Event::GeneralRef(r) if in_t => {
                if let Some(s) = out.last_mut() {
                    push_ref(s, r).map_err(Fail::corrupt)?;
                }
            }
            _ => {}
        }
    }
    Ok(out
        .into_iter()
        .map(|s| super::xml::decode_ooxml_escapes(&s))
        .collect())
}

fn unescape(raw: &str) -> String {
    quick_xml::escape::unescape(raw).map_or_else(|_| raw.to_owned(), |c| c.into_owned())
}

/// A relationship target resolved against the source part's folder, as a zip entry name.
fn resolve(base_dir: &str, target: &str) -> String {
    let joined = match target.strip_prefix('/') {
        Some(abs) => abs.to_owned(),
        None if base_dir.is_empty() => target.to_owned(),
        None => format!("{base_dir}/{target}"),
    };
    let mut parts: Vec<&str> = Vec::new();
    for seg in joined.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-sheet package; `bom` puts a byte-order mark before every part, `\\` names.
    fn package(bom: bool, backslash: bool, styles: bool) -> Vec<u8> {
        let b = if bom { BOM } else { "" };
        let mut parts = vec![
            ("[Content_Types].xml", r#"<Types xmlns="t"><Default Extension="xml" ContentType="application/xml"/></Types>"#.to_owned()),
            ("_rels/.rels", r#"<Relationships xmlns="r"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_owned()),
            ("xl/workbook.xml", r#"<workbook xmlns:r="r"><sheets><sheet name="Tracking" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_owned()),
            ("xl/worksheets/sheet1.xml", r#"<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>ID</t></is></c></row></sheetData></worksheet>"#.to_owned()),
        ];
        let mut rels = r#"<Relationships xmlns="r"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>"#.to_owned();
        if styles {
            rels.push_str(r#"<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>"#);
            parts.push(("xl/styles.xml", r#"<styleSheet><fills count="0"/><cellXfs count="1"><xf fillId="0"/></cellXfs></styleSheet>"#.to_owned()));
        }
        rels.push_str("</Relationships>");
        parts.push(("xl/_rels/workbook.xml.rels", rels));
        let mut out = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, text) in parts {
            let name = if backslash {
                name.replace('/', "\\")
            } else {
                name.to_owned()
            };
            out.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            out.write_all(format!("{b}{text}").as_bytes()).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    fn green_a1() -> Wanted {
        let mut w = Wanted::new();
        w.entry(1).or_default().insert(
            0,
            super::super::Edit {
                text: None,
                green: true,
            },
        );
        w
    }

    fn text_of(pkg: &[u8], name: &str) -> String {
        let mut zip = ZipArchive::new(Cursor::new(pkg)).unwrap();
        let mut s = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn byte_order_marks_and_backslash_names_are_read_and_kept() {
        for (bom, backslash) in [(true, false), (false, true), (true, true)] {
            let pkg = package(bom, backslash, true);
            preflight(&pkg, "Tracking", true).unwrap();
            let out = patch(&pkg, "Tracking", &green_a1()).unwrap();
            let sep = if backslash { "\\" } else { "/" };
            let sheet = text_of(&out, &format!("xl{sep}worksheets{sep}sheet1.xml"));
            assert_eq!(sheet.starts_with(BOM), bom, "{sheet}");
            assert!(sheet.contains(r#"<c r="A1" s="1""#), "{sheet}");
            let styles = text_of(&out, &format!("xl{sep}styles.xml"));
            assert_eq!(styles.starts_with(BOM), bom);
        }
    }

    #[test]
    fn a_package_without_styles_gets_a_minimal_styles_part() {
        let pkg = package(false, false, false);
        preflight(&pkg, "Tracking", true).unwrap();
        let out = patch(&pkg, "Tracking", &green_a1()).unwrap();
        let styles = text_of(&out, "xl/styles.xml");
        assert!(Styles::parse(&styles).unwrap().is_green(1), "{styles}");
        assert!(text_of(&out, "xl/_rels/workbook.xml.rels").contains(r#"Target="styles.xml""#));
        assert!(text_of(&out, "[Content_Types].xml").contains(r#"PartName="/xl/styles.xml""#));
        assert!(text_of(&out, "xl/worksheets/sheet1.xml").contains(r#"<c r="A1" s="1""#));
    }

    #[test]
    fn preflight_names_a_missing_sheet() {
        let pkg = package(true, false, true);
        assert!(matches!(
            preflight(&pkg, "Other", true),
            Err(Fail::NoSheet { sheets, .. }) if sheets == ["Tracking"]
        ));
    }

    #[test]
    fn targets_resolve_like_opc() {
        assert_eq!(
            resolve("xl", "worksheets/sheet1.xml"),
            "xl/worksheets/sheet1.xml"
        );
        assert_eq!(resolve("xl", "/xl/styles.xml"), "xl/styles.xml");
        assert_eq!(resolve("xl/a", "../styles.xml"), "xl/styles.xml");
        assert_eq!(resolve("", "xl/workbook.xml"), "xl/workbook.xml");
    }

    #[test]
    fn shared_strings_skip_phonetics_and_join_runs() {
        let xml = r#"<sst><si><t>ID</t></si><si><r><t>M</t></r><r><t xml:space="preserve">F &amp; </t></r><rPh><t>x</t></rPh></si><si/></sst>"#;
        assert_eq!(shared_strings(xml).unwrap(), ["ID", "MF & ", ""]);
    }

    #[test]
    fn sheet_names_are_unescaped() {
        let xml = r#"<workbook xmlns:r="r"><sheets><sheet name="A &amp; B" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
        assert_eq!(
            sheets(xml).unwrap(),
            [("A & B".to_owned(), "rId1".to_owned())]
        );
    }
}
