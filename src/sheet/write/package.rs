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
const MAX_PART: u64 = 512 * 1024 * 1024;

type Archive<'a> = ZipArchive<Cursor<&'a [u8]>>;

/// Applies `wanted` to sheet `sheet` of package `original`.
pub(super) fn patch(original: &[u8], sheet: &str, wanted: &Wanted) -> Result<Vec<u8>, Fail> {
    let mut zip = ZipArchive::new(Cursor::new(original)).map_err(|e| {
        Fail::corrupt(if original.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            "it is an old-style .xls or a password-protected file, not an xlsx package".to_owned()
        } else {
            format!("it is not a valid xlsx (zip) package: {e}")
        })
    })?;
    let names = PartNames::of(&mut zip)?;

    let root_rels = read_part(&mut zip, &names, "_rels/.rels")?
        .ok_or_else(|| Fail::corrupt("the package has no `_rels/.rels`"))?;
    let workbook = rels(&root_rels)?
        .into_iter()
        .find(|r| r.kind.ends_with(REL_OFFICE_DOCUMENT))
        .map_or_else(|| "xl/workbook.xml".to_owned(), |r| resolve("", &r.target));
    let workbook_xml = read_part(&mut zip, &names, &workbook)?
        .ok_or_else(|| Fail::corrupt(format!("the package has no `{workbook}`")))?;
    let (dir, file) = workbook.rsplit_once('/').unwrap_or(("", workbook.as_str()));
    let rels_name = if dir.is_empty() {
        format!("_rels/{file}.rels")
    } else {
        format!("{dir}/_rels/{file}.rels")
    };
    let workbook_rels = rels(
        &read_part(&mut zip, &names, &rels_name)?
            .ok_or_else(|| Fail::corrupt(format!("the package has no `{rels_name}`")))?,
    )?;

    let sheets = sheets(&workbook_xml)?;
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
    };
    let styles_part = part_of(REL_STYLES);
    let sst_part = part_of(REL_SHARED_STRINGS);

    let sheet_xml = read_part(&mut zip, &names, &sheet_part)?
        .ok_or_else(|| Fail::corrupt(format!("the package has no `{sheet_part}`")))?;
    let any_green = wanted.values().flat_map(|c| c.values()).any(|e| e.green);
    let styles_xml = match (&styles_part, any_green) {
        (Some(p), true) => read_part(&mut zip, &names, p)?,
        _ => None,
    };
    let mut styles = styles_xml
        .as_deref()
        .map(Styles::parse)
        .transpose()
        .map_err(Fail::corrupt)?;

    // Shared strings are read only if an edited cell holds one and its text is to be compared.
    let mut sst: Option<Vec<String>> = None;
    let mut shared = |i: usize| -> Result<Option<String>, Fail> {
        if sst.is_none() {
            let xml = match &sst_part {
                Some(p) => read_part(&mut zip, &names, p)?,
                None => None,
            };
            sst = Some(match xml {
                Some(x) => shared_strings(&x)?,
                None => Vec::new(),
            });
        }
        Ok(sst.as_ref().and_then(|s| s.get(i).cloned()))
    };
    let new_sheet = patch_sheet(&sheet_xml, wanted, &mut styles, &mut shared)?.xml;
    let new_styles = styles.and_then(Styles::finish);
    if new_sheet.is_none() && new_styles.is_none() {
        return Ok(original.to_vec());
    }

    let mut replace: HashMap<usize, Vec<u8>> = HashMap::new();
    if let Some(x) = new_sheet {
        replace.insert(
            names.index(&sheet_part).unwrap_or(usize::MAX),
            x.into_bytes(),
        );
    }
    if let (Some(x), Some(p)) = (new_styles, &styles_part) {
        replace.insert(names.index(p).unwrap_or(usize::MAX), x.into_bytes());
    }
    rebuild(&mut zip, original.len(), &replace)
}

/// Writes a new package: entries in `replace` get the new bytes (same name, compression method,
/// timestamp and attributes); every other entry is copied raw.
fn rebuild(
    zip: &mut Archive<'_>,
    size_hint: usize,
    replace: &HashMap<usize, Vec<u8>>,
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
    let cursor = out.finish().map_err(internal)?;
    Ok(cursor.into_inner())
}

/// Entry names, to find parts case-insensitively as OPC part names are.
struct PartNames(HashMap<String, usize>);

impl PartNames {
    fn of(zip: &mut Archive<'_>) -> Result<Self, Fail> {
        let mut map = HashMap::new();
        for i in 0..zip.len() {
            let e = zip
                .by_index_raw(i)
                .map_err(|e| Fail::corrupt(format!("entry {i} is damaged: {e}")))?;
            if let Ok(n) = e.name() {
                map.entry(n.to_ascii_lowercase()).or_insert(i);
            }
        }
        Ok(Self(map))
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.0.get(&name.to_ascii_lowercase()).copied()
    }
}

/// The text of part `name`, or `None` if the package has no such part.
fn read_part(zip: &mut Archive<'_>, names: &PartNames, name: &str) -> Result<Option<String>, Fail> {
    let Some(i) = names.index(name) else {
        return Ok(None);
    };
    let damaged =
        |e: &dyn std::fmt::Display| Fail::corrupt(format!("part `{name}` is damaged: {e}"));
    let mut f = zip.by_index(i).map_err(|e| damaged(&e))?;
    if f.size() > MAX_PART {
        return Err(Fail::corrupt(format!("part `{name}` is too large")));
    }
    let mut bytes = Vec::with_capacity(f.size() as usize);
    f.by_ref()
        .take(MAX_PART)
        .read_to_end(&mut bytes)
        .map_err(|e| damaged(&e))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| Fail::corrupt(format!("part `{name}` is not UTF-8 XML")))
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
