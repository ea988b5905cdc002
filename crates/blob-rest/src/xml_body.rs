//! Reading the XML bodies of successful responses (List Blobs, Get User Delegation Key):
//! bounded in size, and parsed with a small element-path walker over quick-xml events.

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::Error;

/// Reads a whole response body, failing once it passes `limit` bytes, so a wrong or hostile
/// answer cannot exhaust memory.
pub(crate) async fn read_capped(response: reqwest::Response, limit: usize) -> Result<Bytes, Error> {
    let mut body = BytesMut::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            let e = e.without_url();
            Error::transport(
                format!("the response body broke off: {}", crate::error::chain(&e)),
                Some(Box::new(e)),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(Error::unexpected(format!(
                "the response body is larger than the {limit} bytes this answer can have"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// What the walker reports, with the path of element names from the root.
pub(crate) enum Node<'a> {
    /// An element opened (its attributes are available).
    Open(&'a [String], &'a BytesStart<'a>),
    /// An element closed, with its text content (entities resolved, not trimmed).
    Close(&'a [String], &'a str),
}

/// Walks an XML document, calling `visit` for every element opened and closed. The text of
/// an element is the concatenation of its direct text, CDATA and character references.
pub(crate) fn walk(body: &[u8], mut visit: impl FnMut(Node<'_>)) -> Result<(), Error> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::unexpected("the response body is not UTF-8 text"))?;
    let mut reader = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut current = String::new();
    let bad_xml = |e: &dyn std::fmt::Display| {
        Error::unexpected(format!("the response body is not well-formed XML ({e})"))
    };
    loop {
        match reader.read_event().map_err(|e| bad_xml(&e))? {
            Event::Start(start) => {
                path.push(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
                current.clear();
                visit(Node::Open(&path, &start));
            }
            Event::Empty(start) => {
                path.push(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
                visit(Node::Open(&path, &start));
                visit(Node::Close(&path, ""));
                path.pop();
                current.clear();
            }
            Event::Text(t) => {
                current.push_str(&t.xml_content().map_err(|e| bad_xml(&e))?);
            }
            Event::CData(c) => {
                current.push_str(&c.decode().map_err(|e| bad_xml(&e))?);
            }
            Event::GeneralRef(r) => {
                if let Some(ch) = r.resolve_char_ref().map_err(|e| bad_xml(&e))? {
                    current.push(ch);
                } else {
                    let name = r.decode().map_err(|e| bad_xml(&e))?;
                    let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| bad_xml(&format!("unknown entity &{name};")))?;
                    current.push_str(resolved);
                }
            }
            Event::End(_) => {
                visit(Node::Close(&path, &current));
                path.pop();
                current.clear();
            }
            Event::Eof => {
                if !path.is_empty() {
                    return Err(bad_xml(&"the document ends inside an element"));
                }
                return Ok(());
            }
            _ => {}
        }
    }
}

/// Whether `path` is exactly these element names.
pub(crate) fn is_path(path: &[String], expected: &[&str]) -> bool {
    path.len() == expected.len() && path.iter().zip(expected).all(|(a, b)| a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_text_entities_and_empty_elements() {
        let body = "\u{feff}<?xml version=\"1.0\"?><A><B x=\"1\">a &amp; b&#233;<![CDATA[<c>]]></B><E/></A>";
        let mut seen = Vec::new();
        walk(body.as_bytes(), |node| match node {
            Node::Open(path, _) => seen.push(format!("open {}", path.join("/"))),
            Node::Close(path, text) => seen.push(format!("close {} {text:?}", path.join("/"))),
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                "open A",
                "open A/B",
                "close A/B \"a & bé<c>\"",
                "open A/E",
                "close A/E \"\"",
                "close A \"\""
            ]
        );
    }

    #[test]
    fn truncated_or_foreign_bodies_are_errors() {
        let err = walk(b"<A><B>text</B>", |_| {}).unwrap_err();
        assert!(err.to_string().contains("not well-formed"), "{err}");
        assert!(walk(b"<A>&bogus;</A>", |_| {}).is_err());
        assert!(walk(b"\xff\xfe<A/>", |_| {}).is_err());
    }
}
