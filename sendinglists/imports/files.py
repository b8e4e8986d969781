"""Bring an upload into the one shape the pipeline reads: a UTF-8 file without BOM whose lines end at
`\\n`. Transcoding streams in blocks (memory stays flat), and it is where a file that only looked
like UTF-8 in its first bytes falls back to Windows-1252, and where binary data past the first
block is caught.
"""

import codecs
import os
import tempfile
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File

from sendinglists.imports.detect import UTF8, Encoding, FileRejected, fallback_encoding

BLOCK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Transcoded:
    path: str
    encoding: Encoding
    """The original file's encoding (the stored copy is always UTF-8)."""


class TemporaryFile(File):
    """A file on disk that storage may move instead of copying (see FileSystemStorage._save)."""

    def __init__(self, path: str, name: str):
        super().__init__(open(path, "rb"), name=name)  # noqa: SIM115 - closed by the caller
        self._path = path

    def temporary_file_path(self) -> str:
        return self._path


def transcode_to_utf8(source, encoding: Encoding, *, line_ends_cr_only: bool) -> Transcoded:
    """Stream `source` (binary, seekable) into a temporary UTF-8 file; the caller deletes `path`.

    A UTF-8 guess that fails past the sample restarts as Windows-1252 (or Latin-1). A NUL character
    anywhere means the file is not text and is refused with its position.
    """
    handle, path = tempfile.mkstemp(suffix=".csv", dir=settings.FILE_UPLOAD_TEMP_DIR)
    os.close(handle)
    try:
        try:
            _transcode(source, path, encoding, line_ends_cr_only)
        except UnicodeDecodeError as exc:
            if encoding != UTF8:
                raise FileRejected(
                    f"The file starts as {encoding.label} text but is not valid {encoding.label} "
                    f"further on ({exc.reason})."
                ) from None
            encoding = fallback_encoding(exc.object)
            _transcode(source, path, encoding, line_ends_cr_only)
    except BaseException:
        os.unlink(path)
        raise
    return Transcoded(path=path, encoding=encoding)


def _transcode(source, path: str, encoding: Encoding, line_ends_cr_only: bool) -> None:
    source.seek(0)
    decoder = codecs.getincrementaldecoder(encoding.codec)(errors="strict")
    read_bytes = 0
    with open(path, "wb") as out:
        while True:
            block = source.read(BLOCK_BYTES)
            text = decoder.decode(block, final=not block)
            if "\x00" in text:
                raise FileRejected(
                    "This is not a text CSV file: it contains binary data "
                    f"(a NUL character near byte {read_bytes + text.index(chr(0)) + 1:,})."
                )
            if line_ends_cr_only:
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            out.write(text.encode("utf-8"))
            if not block:
                break
            read_bytes += len(block)
