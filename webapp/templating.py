"""Page templates without the indentation: whitespace in an HTML template's own text that
spans lines becomes one line break when the template is compiled (nothing at render time).

Browsers collapse such whitespace anyway (the templates put none inside <pre> or
<textarea>; what a <pre> shows comes from an expression, which is left alone), so the page
reads the same and weighs a good deal less. Plain-text templates (mail) keep theirs.
"""

from __future__ import annotations

import re

from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

_SPANNING = re.compile(r"[ \t\r\f\v]*\n\s*")


class CollapseWhitespace(Extension):
    def filter_stream(self, stream: TokenStream):
        html = (stream.name or "").endswith(".html")
        for token in stream:
            if html and token.type == "data":
                token = Token(token.lineno, "data", _SPANNING.sub("\n", token.value))
            yield token
