"""What a file is before anything is imported: its encoding, whether it is text at all, its delimiter
and whether its first row is a header. Every refusal is a `FileRejected` with a sentence a person can
act on ("This is an Excel workbook (.xlsx), not CSV: …").

Encoding detection is cheap on purpose: a byte-order mark decides UTF-8/UTF-16/UTF-32; otherwise
UTF-8 is tried (on the whole file, while it is transcoded) and Windows-1252 is the fallback, Latin-1
when the bytes are not valid Windows-1252. charset-normalizer would guess among dozens of code pages
and is slower than the whole import; real contact files are UTF-8 or Windows-1252.
"""

import codecs
import csv
import io
from dataclasses import dataclass

from contacts.csvsafe import restore_formula

HEAD_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SAMPLE_ROWS = 50

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32 BE"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8 (with BOM)"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 BE"),
)

_MAGIC = (
    (
        b"PK\x03\x04",
        "This is a ZIP or Excel workbook (.xlsx), not a CSV file: in Excel use "
        "File > Save As > CSV UTF-8, then upload the .csv file.",
    ),
    (
        b"\xd0\xcf\x11\xe0",
        "This is an old Excel workbook (.xls), not a CSV file: in Excel use "
        "File > Save As > CSV UTF-8, then upload the .csv file.",
    ),
    (b"%PDF", "This is a PDF document, not a CSV file."),
    (b"\x1f\x8b", "This is a gzip-compressed file: decompress it and upload the .csv file."),
    (b"\x89PNG", "This is a PNG image, not a CSV file."),
    (b"\xff\xd8\xff", "This is a JPEG image, not a CSV file."),
    (b"GIF8", "This is a GIF image, not a CSV file."),
    (b"{\\rtf", "This is a Rich Text (RTF) document, not a CSV file: save it as plain text CSV."),
)

# Control characters that never appear in a text CSV (tab, newline, carriage return, form feed do).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))


class FileRejected(Exception):
    """The file cannot be imported at all; `str(exc)` is the one-line reason for a person."""


@dataclass(frozen=True, slots=True)
class Encoding:
    codec: str
    """The Python codec that decodes the original bytes (BOM included)."""
    label: str
    """What a person reads on the preview page."""


UTF8 = Encoding("utf-8", "UTF-8")
CP1252 = Encoding("cp1252", "Windows-1252")
LATIN1 = Encoding("latin-1", "Latin-1 (ISO-8859-1)")


def sniff_encoding(head: bytes) -> Encoding:
    """The encoding of a file whose first bytes are `head`; FileRejected for empty or binary files."""
    if not head:
        raise FileRejected("The file is empty.")
    for bom, codec, label in _BOMS:
        if head.startswith(bom):
            return Encoding(codec, label)
    for magic, message in _MAGIC:
        if head.startswith(magic):
            raise FileRejected(message)
    if b"\x00" in head:
        utf16 = _utf16_without_bom(head)
        if utf16 is not None:
            return utf16
        raise FileRejected(
            f"This is not a text CSV file: it contains binary data (a NUL byte at byte {head.index(0) + 1})."
        )
    controls = sum(head.count(bytes([b])) for b in _CONTROL_BYTES)
    if controls > max(8, len(head) // 100):
        raise FileRejected("This is not a text CSV file: it is mostly binary data.")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return UTF8
    except UnicodeDecodeError:
        pass
    return CP1252 if _decodes(head, "cp1252") else LATIN1


def _utf16_without_bom(head: bytes) -> Encoding | None:
    sample = head[: len(head) - len(head) % 2]
    even_zeros = sample[0::2].count(0)
    odd_zeros = sample[1::2].count(0)
    half = len(sample) // 2 or 1
    if odd_zeros / half > 0.4 and even_zeros / half < 0.05:
        return Encoding("utf-16-le", "UTF-16 LE")
    if even_zeros / half > 0.4 and odd_zeros / half < 0.05:
        return Encoding("utf-16-be", "UTF-16 BE")
    return None


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def fallback_encoding(data: bytes) -> Encoding:
    """The single-byte encoding for a file that turned out not to be UTF-8 past its first bytes."""
    return CP1252 if _decodes(data, "cp1252") else LATIN1


# --- structure ------------------------------------------------------------------------------------


def head_rows(text: str, delimiter: str, limit: int = SAMPLE_ROWS) -> list[list[str]]:
    """The first `limit` non-blank rows of `text` (whole lines from the start of a file), with cells
    quoted against formulas read as the text they were (as `parse.read_chunk` reads them)."""
    rows = []
    reader = csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter)
    try:
        for row in reader:
            if is_blank(row):
                continue
            rows.append([restore_formula(cell) for cell in row])
            if len(rows) >= limit:
                break
    except csv.Error:
        pass
    return rows


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the sample into the most consistent number of columns (> 1).

    A single-column file (only phone numbers) has no delimiter to find; it reads as comma.
    """
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        if delimiter not in text:
            continue
        widths = [len(row) for row in head_rows(text, delimiter)]
        if not widths:
            continue
        width = max(set(widths), key=widths.count)
        if width < 2:
            continue
        score = (widths.count(width) / len(widths), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def is_blank(row: list[str]) -> bool:
    return not row or not "".join(row).strip()
