//! Removing what a photo says about where and when it was taken.
//!
//! Phones write the place (GPS), the time and the device into every photo. Attached to a case
//! clue and synced to another organisation, that could tell where a survivor is staying. The
//! app re-draws every JPEG on a canvas (which keeps the pixels, turned upright, and nothing
//! else); PNG and WebP files small enough to keep as they are pass through [`strip`], which
//! drops their metadata chunks and keeps every pixel byte as it was.

use std::borrow::Cow;

/// `bytes` without EXIF, XMP or text metadata, for PNG and WebP; anything else, and any file
/// this cannot read, comes back unchanged (the canvas path covers the other image types).
pub fn strip<'a>(mime: &str, bytes: &'a [u8]) -> Cow<'a, [u8]> {
    let stripped = match mime {
        "image/png" => strip_png(bytes),
        "image/webp" => strip_webp(bytes),
        _ => None,
    };
    stripped.map_or(Cow::Borrowed(bytes), Cow::Owned)
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// Chunks that carry words or places rather than pixels: EXIF, text (XMP lives in `iTXt`),
/// and the modification time.
const PNG_METADATA: [&[u8; 4]; 5] = [b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"];

/// `None` when there is nothing to remove or the file is not a well-formed PNG.
fn strip_png(bytes: &[u8]) -> Option<Vec<u8>> {
    let body = bytes.strip_prefix(PNG_SIGNATURE)?;
    let mut kept = PNG_SIGNATURE.to_vec();
    let mut removed = false;
    let mut rest = body;
    while !rest.is_empty() {
        // length (4), type (4), data, CRC (4)
        let length = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let chunk = rest.get(..12usize.checked_add(length)?)?;
        if PNG_METADATA.iter().any(|t| &chunk[4..8] == *t) {
            removed = true;
        } else {
            kept.extend_from_slice(chunk);
        }
        rest = &rest[chunk.len()..];
    }
    removed.then_some(kept)
}

/// `None` when there is nothing to remove or the file is not a well-formed WebP.
fn strip_webp(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.get(..4)? != b"RIFF" || bytes.get(8..12)? != b"WEBP" {
        return None;
    }
    let mut kept = bytes[..12].to_vec();
    let mut removed = false;
    let mut rest = &bytes[12..];
    while !rest.is_empty() {
        // FourCC (4), size (4, little-endian), data, padded to an even length.
        let size = u32::from_le_bytes(rest.get(4..8)?.try_into().ok()?) as usize;
        let padded = size.checked_add(size & 1)?.checked_add(8)?;
        let chunk = rest.get(..padded).or_else(|| rest.get(..8 + size))?;
        match &chunk[..4] {
            b"EXIF" | b"XMP " => removed = true,
            b"VP8X" if chunk.len() > 8 => {
                let mut header = chunk.to_vec();
                // The extended header says which metadata follows: EXIF (bit 3) and XMP (bit 2).
                header[8] &= !(0x08 | 0x04);
                kept.extend_from_slice(&header);
            }
            _ => kept.extend_from_slice(chunk),
        }
        rest = &rest[chunk.len()..];
    }
    if !removed {
        return None;
    }
    let riff_size = u32::try_from(kept.len() - 8).ok()?;
    kept[4..8].copy_from_slice(&riff_size.to_le_bytes());
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&[0, 0, 0, 0]); // CRC: not checked here
        c
    }

    fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = kind.to_vec();
        c.extend_from_slice(&(data.len() as u32).to_le_bytes());
        c.extend_from_slice(data);
        if data.len() % 2 == 1 {
            c.push(0);
        }
        c
    }

    fn webp(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut w = b"RIFF".to_vec();
        w.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes());
        w.extend_from_slice(b"WEBP");
        w.extend_from_slice(&body);
        w
    }

    #[test]
    fn png_loses_exif_and_text_and_keeps_every_pixel_chunk() {
        let ihdr = png_chunk(b"IHDR", &[0; 13]);
        let idat = png_chunk(b"IDAT", b"pixels");
        let iend = png_chunk(b"IEND", &[]);
        let tagged = [
            PNG_SIGNATURE.to_vec(),
            ihdr.clone(),
            png_chunk(b"eXIf", b"GPS 31.2N 121.5E"),
            png_chunk(b"tEXt", b"Author\0li"),
            idat.clone(),
            png_chunk(b"iTXt", b"XML:com.adobe.xmp\0..."),
            iend.clone(),
        ]
        .concat();
        let clean = [PNG_SIGNATURE.to_vec(), ihdr, idat, iend].concat();
        assert_eq!(strip("image/png", &tagged).as_ref(), clean.as_slice());
        assert!(matches!(strip("image/png", &clean), Cow::Borrowed(_)), "nothing to remove: the same bytes");
    }

    #[test]
    fn webp_loses_exif_and_xmp_and_its_header_says_so() {
        let vp8x = riff_chunk(b"VP8X", &[0x08 | 0x04 | 0x10, 0, 0, 0, 1, 0, 0, 1, 0, 0]);
        let image = riff_chunk(b"VP8 ", b"frame");
        let tagged = webp(&[vp8x, image.clone(), riff_chunk(b"EXIF", b"GPS 31.2N"), riff_chunk(b"XMP ", b"<x/>")]);
        let clean = strip("image/webp", &tagged);
        let expected = webp(&[riff_chunk(b"VP8X", &[0x10, 0, 0, 0, 1, 0, 0, 1, 0, 0]), image]);
        assert_eq!(clean.as_ref(), expected.as_slice(), "alpha bit kept, metadata bits cleared, RIFF size fixed");
    }

    #[test]
    fn anything_unreadable_or_other_passes_unchanged() {
        for (mime, bytes) in [
            ("image/png", &b"\x89PNG\r\n\x1a\n\0\0\0\xffIDAT"[..]),
            ("image/png", b"not a png"),
            ("image/webp", b"RIFF\0\0\0\0WEBPVP8 \xff\xff\xff\xff"),
            ("application/pdf", b"%PDF-1.7 /Author (li)"),
        ] {
            assert!(matches!(strip(mime, bytes), Cow::Borrowed(_)), "{mime}: {bytes:?}");
        }
    }
}
