//! `xl/styles.xml`: find or append the green fill and the green twin of a cell format (`xf`).
//!
//! The part is never re-serialised: new `<fill>` and `<xf>` elements are spliced in before the
//! closing tags of `<fills>` and `<cellXfs>`, and only those two `count` attributes change.

use super::xml::{Tokens, attr, local, opening, prefix_of, raw_attrs, set_attr, tag_name};
use quick_xml::events::Event;
use std::collections::HashMap;
use std::ops::Range;

/// The green of the lab's sheet (Excel's standard "Green").
pub(super) const GREEN: &str = "FF00B050";

/// One `<fill>`.
#[derive(Debug)]
struct Fill {
    solid: bool,
    fg_rgb: Option<String>,
    bg_indexed_64: bool,
}

impl Fill {
    fn is_green(&self) -> bool {
        self.solid
            && self
                .fg_rgb
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(GREEN))
    }
}

/// One `<xf>` of `<cellXfs>`: its raw start tag and the raw XML between its tags.
#[derive(Debug, Clone)]
struct Xf {
    tag: String,
    inner: String,
    /// Its position among all `xf` elements inside `cellXfs`, every `mc:AlternateContent`
    /// branch counted (how calamine numbers its style palette).
    raw: usize,
}

impl Xf {
    fn fill_id(&self) -> usize {
        attr(&self.tag, "fillId")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The attributes as a sorted list of (name, value), for order-insensitive comparison.
    fn key(&self) -> (Vec<(&str, &str)>, &str) {
        let mut a: Vec<_> = raw_attrs(&self.tag)
            .into_iter()
            .map(|a| (&self.tag[a.name], self.tag[a.value].trim()))
            .collect();
        a.sort_unstable();
        (a, self.inner.as_str())
    }

    fn to_xml(&self) -> String {
        if self.inner.is_empty() && self.tag.ends_with("/>") {
            return self.tag.clone();
        }
        let name = tag_name(&self.tag);
        format!("{}{}</{name}>", opening(&self.tag), self.inner)
    }
}

/// A container (`<fills>` or `<cellXfs>`): where its start tag is and where new children go.
#[derive(Debug, Default, Clone)]
struct Container {
    start_tag: Range<usize>,
    /// Byte offset of its closing tag, or `None` when it is self-closing.
    end_tag_at: Option<usize>,
}

/// The children of `<styleSheet>` in the order the schema requires them.
const SECTIONS: [&str; 11] = [
    "numFmts",
    "fonts",
    "fills",
    "borders",
    "cellStyleXfs",
    "cellXfs",
    "cellStyles",
    "dxfs",
    "tableStyles",
    "colors",
    "extLst",
];

/// What a section created from nothing holds before anything is appended.
const DEFAULT_FILLS: [&str; 2] = ["none", "gray125"];

/// The parsed cell-format tables of a styles part, plus what this patch appends.
///
/// A part without `fills` or `cellXfs` (Excel opens it, taking the defaults) gets the missing
/// sections created, minimally, when a cell turns green. Cell formats inside
/// `mc:AlternateContent` count once, as Excel counts them: those of its first `mc:Choice`.
#[derive(Debug)]
pub(super) struct Styles<'a> {
    xml: &'a str,
    prefix: String,
    /// The `<styleSheet>` start tag, and where its closing tag is (`None`: self-closing).
    root: Option<Container>,
    /// The sections present: (index in [`SECTIONS`], start offset).
    sections: Vec<(usize, usize)>,
    fills: Vec<Fill>,
    fills_at: Option<Container>,
    xfs: Vec<Xf>,
    xfs_at: Option<Container>,
    new_fills: Vec<String>,
    new_xfs: Vec<Xf>,
    /// Source xf -> its green twin, for formats already resolved in this patch.
    memo: HashMap<u32, u32>,
}

impl<'a> Styles<'a> {
    /// A styles part with no sections, for a package that has none (strict or transitional).
    pub fn blank(strict: bool) -> String {
        let ns = if strict {
            "http://purl.oclc.org/ooxml/spreadsheetml/main"
        } else {
            "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
        };
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<styleSheet xmlns=\"{ns}\"></styleSheet>"
        )
    }

    /// Parses the fills and cell formats of `xml` (a styles part).
    pub fn parse(xml: &'a str) -> Result<Self, String> {
        let mut s = Styles {
            xml,
            prefix: String::new(),
            root: None,
            sections: Vec::new(),
            fills: Vec::new(),
            fills_at: None,
            xfs: Vec::new(),
            xfs_at: None,
            new_fills: Vec::new(),
            new_xfs: Vec::new(),
            memo: HashMap::new(),
        };
        let mut t = Tokens::new(xml);
        let mut stack: Vec<Vec<u8>> = Vec::new();
        // The xf being read: its start tag and where its content starts.
        let mut open_xf: Option<(String, usize, usize)> = None;
        // Inside `cellXfs/mc:AlternateContent`: whether a `mc:Choice` was seen, and whether the
        // one being read is the first (whose formats count).
        let (mut choice_seen, mut in_first_choice) = (false, false);
        let mut raw_xfs = 0;
        while let Some(tok) = t.next_token()? {
            let raw = &xml[tok.span.clone()];
            match &tok.event {
                Event::Start(e) | Event::Empty(e) => {
                    let empty = matches!(tok.event, Event::Empty(_));
                    let name = local(e.name().as_ref()).to_vec();
                    let parent = stack.last().map(Vec::as_slice);
                    let grand = stack.len().checked_sub(2).map(|i| stack[i].as_slice());
                    if parent == Some(b"styleSheet")
                        && let Some(i) = SECTIONS.iter().position(|n| n.as_bytes() == name)
                    {
                        s.sections.push((i, tok.span.start));
                    }
                    let counted_xf = parent == Some(b"cellXfs")
                        || (parent == Some(b"Choice") && in_first_choice);
                    let raw_xf = raw_xfs;
                    if name == b"xf" && stack.iter().any(|n| n == b"cellXfs") {
                        raw_xfs += 1;
                    }
                    match (name.as_slice(), parent) {
                        (b"styleSheet", None) => {
                            s.prefix = prefix_of(tag_name(raw)).to_owned();
                            s.root = Some(Container {
                                start_tag: tok.span.clone(),
                                end_tag_at: None,
                            });
                        }
                        (b"AlternateContent", Some(b"cellXfs")) => choice_seen = false,
                        (b"Choice", Some(b"AlternateContent"))
                            if grand == Some(b"cellXfs") && !choice_seen =>
                        {
                            choice_seen = true;
                            in_first_choice = !empty;
                        }
                        (b"fills", Some(b"styleSheet")) => {
                            s.fills_at = Some(Container {
                                start_tag: tok.span.clone(),
                                end_tag_at: None,
                            })
                        }
                        (b"cellXfs", Some(b"styleSheet")) => {
                            s.xfs_at = Some(Container {
                                start_tag: tok.span.clone(),
                                end_tag_at: None,
                            })
                        }
                        (b"fill", Some(b"fills")) => s.fills.push(Fill {
                            solid: false,
                            fg_rgb: None,
                            bg_indexed_64: false,
                        }),
                        (b"patternFill", Some(b"fill")) => {
                            if let Some(f) = s.fills.last_mut() {
                                f.solid = attr(raw, "patternType") == Some("solid");
                            }
                        }
                        (b"fgColor", Some(b"patternFill")) if grand == Some(b"fill") => {
                            if let Some(f) = s.fills.last_mut() {
                                f.fg_rgb = attr(raw, "rgb").map(str::to_owned);
                            }
                        }
                        (b"bgColor", Some(b"patternFill")) if grand == Some(b"fill") => {
                            if let Some(f) = s.fills.last_mut() {
                                f.bg_indexed_64 = attr(raw, "indexed") == Some("64");
                            }
                        }
                        (b"xf", _) if counted_xf => {
                            if empty {
                                s.xfs.push(Xf {
                                    tag: raw.to_owned(),
                                    inner: String::new(),
                                    raw: raw_xf,
                                });
                            } else {
                                open_xf = Some((raw.to_owned(), tok.span.end, raw_xf));
                            }
                        }
                        _ => {}
                    }
                    if !empty {
                        stack.push(name);
                    }
                }
                Event::End(e) => {
                    let name = local(e.name().as_ref()).to_vec();
                    stack.pop();
                    let parent = stack.last().map(Vec::as_slice);
                    let counted_xf = parent == Some(b"cellXfs")
                        || (parent == Some(b"Choice") && in_first_choice);
                    match (name.as_slice(), parent) {
                        (b"styleSheet", None) => {
                            if let Some(c) = s.root.as_mut() {
                                c.end_tag_at = Some(tok.span.start);
                            }
                        }
                        (b"Choice", Some(b"AlternateContent")) => in_first_choice = false,
                        (b"xf", _) if counted_xf => {
                            if let Some((tag, from, raw)) = open_xf.take() {
                                s.xfs.push(Xf {
                                    tag,
                                    inner: xml[from..tok.span.start].to_owned(),
                                    raw,
                                });
                            }
                        }
                        (b"fills", Some(b"styleSheet")) => {
                            if let Some(c) = s.fills_at.as_mut() {
                                c.end_tag_at = Some(tok.span.start);
                            }
                        }
                        (b"cellXfs", Some(b"styleSheet")) => {
                            if let Some(c) = s.xfs_at.as_mut() {
                                c.end_tag_at = Some(tok.span.start);
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        if s.root.is_none() {
            return Err("the styles part has no `styleSheet`".into());
        }
        // Excel's defaults where a section is missing: the two fills every workbook has, and
        // one plain cell format.
        if s.fills_at.is_none() {
            s.fills = DEFAULT_FILLS
                .iter()
                .map(|_| Fill {
                    solid: false,
                    fg_rgb: None,
                    bg_indexed_64: false,
                })
                .collect();
        }
        if s.xfs_at.is_none() {
            s.xfs = vec![Xf {
                tag: format!(
                    "<{}xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>",
                    s.prefix
                ),
                inner: String::new(),
                raw: 0,
            }];
        }
        Ok(s)
    }

    /// For each cell format as Excel numbers them, its position in calamine's style palette
    /// (which counts every branch of an `mc:AlternateContent`).
    pub fn raw_positions(&self) -> Vec<usize> {
        self.xfs.iter().map(|x| x.raw).collect()
    }

    /// Whether cell format `xf` fills the cell green (solid FF00B050; bgColor is ignored).
    pub fn is_green(&self, xf: u32) -> bool {
        self.xf(xf)
            .and_then(|x| self.fill(x.fill_id()))
            .is_some_and(Fill::is_green)
    }

    fn xf(&self, i: u32) -> Option<&Xf> {
        let i = i as usize;
        self.xfs
            .get(i)
            .or_else(|| self.new_xfs.get(i.checked_sub(self.xfs.len())?))
    }

    fn fill(&self, i: usize) -> Option<&Fill> {
        self.fills.get(i)
    }

    /// The index of a cell format like `xf` but filled green: `xf` itself when it already is,
    /// an identical existing format when there is one, otherwise a new one appended.
    pub fn green_twin(&mut self, xf: u32) -> Result<u32, String> {
        if self.is_green(xf) {
            return Ok(xf);
        }
        if let Some(&twin) = self.memo.get(&xf) {
            return Ok(twin);
        }
        let Some(source) = self.xf(xf).cloned() else {
            return Err(format!(
                "a cell uses format {xf}, but the styles part has only {}",
                self.xfs.len()
            ));
        };
        let greens: Vec<usize> = (0..self.fills.len())
            .filter(|&i| self.fills[i].is_green())
            .collect();
        let with_fill = |fill: usize| Xf {
            tag: set_attr(
                &set_attr(&source.tag, "fillId", &fill.to_string(), Some("fontId")),
                "applyFill",
                "1",
                None,
            ),
            inner: source.inner.clone(),
            raw: usize::MAX,
        };
        // Reuse an identical format with any of the existing green fills.
        for &g in &greens {
            let candidate = with_fill(g);
            let key = candidate.key();
            if let Some(i) = self
                .xfs
                .iter()
                .chain(&self.new_xfs)
                .position(|x| x.key() == key)
            {
                let i = i as u32;
                self.memo.insert(xf, i);
                return Ok(i);
            }
        }
        let fill = match greens
            .iter()
            .find(|&&g| self.fills[g].bg_indexed_64)
            .or(greens.first())
        {
            Some(&g) => g,
            None => self.append_green_fill(),
        };
        let twin = (self.xfs.len() + self.new_xfs.len()) as u32;
        self.new_xfs.push(with_fill(fill));
        self.memo.insert(xf, twin);
        Ok(twin)
    }

    fn append_green_fill(&mut self) -> usize {
        let p = &self.prefix;
        self.new_fills.push(format!(
            "<{p}fill><{p}patternFill patternType=\"solid\"><{p}fgColor rgb=\"{GREEN}\"/>\
             <{p}bgColor indexed=\"64\"/></{p}patternFill></{p}fill>"
        ));
        self.fills.push(Fill {
            solid: true,
            fg_rgb: Some(GREEN.into()),
            bg_indexed_64: true,
        });
        self.fills.len() - 1
    }

    /// The new styles part, or `None` when nothing was appended.
    pub fn finish(self) -> Option<String> {
        if self.new_fills.is_empty() && self.new_xfs.is_empty() {
            return None;
        }
        let p = &self.prefix;
        let mut splices: Vec<(Range<usize>, String)> = Vec::new();
        // Sections created from nothing: (index in SECTIONS, whole element).
        let mut created: Vec<(usize, String)> = Vec::new();
        let has = |name: &str| {
            let i = SECTIONS.iter().position(|n| *n == name).unwrap_or(0);
            self.sections.iter().any(|&(j, _)| j == i)
        };
        let section = |name: &str, count: usize, body: String| {
            let i = SECTIONS.iter().position(|n| *n == name).unwrap_or(0);
            (
                i,
                format!("<{p}{name} count=\"{count}\">{body}</{p}{name}>"),
            )
        };
        let new_xfs: String = self.new_xfs.iter().map(Xf::to_xml).collect();
        if self.xfs_at.is_none() {
            // The formats point at font 0, border 0 and cell style 0: make sure they exist.
            if !has("fonts") {
                created.push(section("fonts", 1, format!("<{p}font/>")));
            }
            if !has("borders") {
                created.push(section("borders", 1, format!("<{p}border/>")));
            }
            if !has("cellStyleXfs") {
                created.push(section(
                    "cellStyleXfs",
                    1,
                    format!("<{p}xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/>"),
                ));
            }
            let all: String = self.xfs.iter().map(Xf::to_xml).collect::<String>() + &new_xfs;
            created.push(section("cellXfs", self.xfs.len() + self.new_xfs.len(), all));
        }
        if self.fills_at.is_none() {
            let defaults: String = DEFAULT_FILLS
                .iter()
                .map(|k| format!("<{p}fill><{p}patternFill patternType=\"{k}\"/></{p}fill>"))
                .collect();
            created.push(section(
                "fills",
                self.fills.len(),
                defaults + &self.new_fills.concat(),
            ));
        }
        let parts = [
            (
                self.fills_at.clone(),
                self.new_fills.concat(),
                self.fills.len(),
            ),
            (
                self.xfs_at.clone(),
                new_xfs,
                self.xfs.len() + self.new_xfs.len(),
            ),
        ];
        for (at, added, count) in parts {
            let (Some(at), false) = (at, added.is_empty()) else {
                continue;
            };
            let tag = &self.xml[at.start_tag.clone()];
            let counted = if attr(tag, "count").is_some() {
                set_attr(tag, "count", &count.to_string(), None)
            } else {
                tag.to_owned()
            };
            match at.end_tag_at {
                Some(end) => {
                    splices.push((at.start_tag.clone(), counted));
                    splices.push((end..end, added));
                }
                None => {
                    let name = tag_name(tag).to_owned();
                    splices.push((
                        at.start_tag.clone(),
                        format!("{}{added}</{name}>", opening(&counted)),
                    ));
                }
            }
        }
        if !created.is_empty() {
            let root = self.root.clone()?;
            created.sort_by_key(|(i, _)| *i);
            let mut at_end = String::new();
            for (i, xml) in created {
                // Before the first section that must come after it, else before `</styleSheet>`.
                match self
                    .sections
                    .iter()
                    .filter(|&&(j, _)| j > i)
                    .map(|&(_, at)| at)
                    .min()
                {
                    Some(at) => splices.push((at..at, xml)),
                    None => at_end.push_str(&xml),
                }
            }
            if !at_end.is_empty() {
                match root.end_tag_at {
                    Some(end) => splices.push((end..end, at_end)),
                    None => {
                        let tag = &self.xml[root.start_tag.clone()];
                        splices.push((
                            root.start_tag.clone(),
                            format!("{}{at_end}</{}>", opening(tag), tag_name(tag)),
                        ));
                    }
                }
            }
        }
        Some(super::splice(self.xml, splices))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0"?><styleSheet xmlns="m"><fonts count="1"><font/></fonts><fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor rgb="FFFF0000"/><bgColor indexed="64"/></patternFill></fill></fills><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="2" borderId="1" xfId="0" applyFill="1"><alignment wrapText="1"/></xf></cellXfs></styleSheet>"#;

    #[test]
    fn appends_one_fill_and_one_twin_per_format() {
        let mut s = Styles::parse(XML).unwrap();
        assert!(!s.is_green(0));
        assert_eq!(s.green_twin(0).unwrap(), 2);
        assert_eq!(s.green_twin(1).unwrap(), 3);
        assert_eq!(s.green_twin(0).unwrap(), 2);
        assert!(s.is_green(2) && s.is_green(3));
        let out = s.finish().unwrap();
        assert!(out.contains(r#"<fills count="4">"#), "{out}");
        assert!(out.contains(r#"<cellXfs count="4">"#), "{out}");
        assert_eq!(out.matches(GREEN).count(), 1, "{out}");
        assert!(out.contains(
            r#"<xf numFmtId="0" fontId="0" fillId="3" borderId="0" xfId="0" applyFill="1"/>"#
        ));
        assert!(out.contains(r#"<xf numFmtId="14" fontId="0" fillId="3" borderId="1" xfId="0" applyFill="1"><alignment wrapText="1"/></xf></cellXfs>"#), "{out}");
        // The reparsed part agrees and needs nothing more.
        let mut again = Styles::parse(&out).unwrap();
        assert_eq!(again.green_twin(0).unwrap(), 2);
        assert!(again.finish().is_none());
    }

    #[test]
    fn reuses_an_identical_green_format() {
        // A green fill (index 3, lower-case rgb, no bgColor) and a green twin of format 0 whose
        // attributes come in another order.
        let xml = XML
            .replace(r#"<fills count="3">"#, r#"<fills count="4">"#)
            .replace(r#"<cellXfs count="2">"#, r#"<cellXfs count="3">"#)
            .replace(
                r#"</fill></fills>"#,
                r#"</fill><fill><patternFill patternType="solid"><fgColor rgb="ff00b050"/></patternFill></fill></fills>"#,
            )
            .replace(
                r#"</cellXfs>"#,
                r#"<xf applyFill="1" numFmtId="0" fillId="3" fontId="0" borderId="0" xfId="0"/></cellXfs>"#,
            );
        let mut s = Styles::parse(&xml).unwrap();
        assert!(s.is_green(2));
        assert_eq!(s.green_twin(0).unwrap(), 2);
        assert_eq!(s.green_twin(2).unwrap(), 2);
        // Format 1 has no twin yet: one new xf, and the existing green fill is reused.
        assert_eq!(s.green_twin(1).unwrap(), 3);
        let out = s.finish().unwrap();
        assert!(out.contains(r#"<fills count="4">"#), "{out}");
        assert!(out.contains(r#"<cellXfs count="4">"#), "{out}");
    }

    #[test]
    fn alternate_content_formats_count_once() {
        let xml = XML.replace(
            r#"</cellXfs>"#,
            r#"<mc:AlternateContent xmlns:mc="mc"><mc:Choice Requires="x14"><xf numFmtId="0" fontId="0" fillId="0" borderId="2" xfId="0"/></mc:Choice><mc:Fallback><xf numFmtId="0" fontId="0" fillId="0" borderId="2" xfId="0"/></mc:Fallback></mc:AlternateContent></cellXfs>"#,
        );
        let mut s = Styles::parse(&xml).unwrap();
        // Formats 0, 1 and the one in the first choice: the twin of 2 is 3, not 2 or 4.
        assert_eq!(s.green_twin(2).unwrap(), 3);
        let out = s.finish().unwrap();
        assert!(out.contains(r#"<cellXfs count="4">"#), "{out}");
        assert!(
            out.contains(
                r#"</mc:AlternateContent><xf numFmtId="0" fontId="0" fillId="3" borderId="2""#
            ),
            "{out}"
        );
    }

    #[test]
    fn missing_sections_are_created_in_schema_order() {
        let xml = r#"<styleSheet xmlns="m"><fonts count="1"><font/></fonts><dxfs count="0"/></styleSheet>"#;
        let mut s = Styles::parse(xml).unwrap();
        assert_eq!(s.green_twin(0).unwrap(), 1);
        let out = s.finish().unwrap();
        assert_eq!(
            out,
            r#"<styleSheet xmlns="m"><fonts count="1"><font/></fonts><fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor rgb="FF00B050"/><bgColor indexed="64"/></patternFill></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="0" fillId="2" borderId="0" xfId="0" applyFill="1"/></cellXfs><dxfs count="0"/></styleSheet>"#
        );
        let again = Styles::parse(&out).unwrap();
        assert!(again.is_green(1) && !again.is_green(0));
        // A package with no styles part at all starts from a blank one.
        let blank = Styles::blank(false);
        let mut s = Styles::parse(&blank).unwrap();
        assert_eq!(s.green_twin(0).unwrap(), 1);
        assert!(Styles::parse(&s.finish().unwrap()).unwrap().is_green(1));
    }

    #[test]
    fn malformed_styles_are_an_error() {
        assert!(Styles::parse("<styleSheet><cellXfs></fills></styleSheet>").is_err());
        assert!(Styles::parse("<other/>").is_err());
    }
}
