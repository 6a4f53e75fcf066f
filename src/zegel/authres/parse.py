"""Parse Authentication-Results header fields (RFC 8601 section 2.2), leniently.

Other servers' headers are often not to the grammar: results on their own unindented lines,
comments holding ';', a space after ``=``, web-mangled values (``smtp.mailfrom= [email protected]``).
The parser follows the grammar where it can and otherwise skips the offending word or result,
noting it in ``warnings``. It never raises, and its work and output are bounded for any input.
"""

from __future__ import annotations

from zegel.authres.model import AuthProperty, AuthResults, ResInfo

MAX_RESULTS = 256
MAX_WARNINGS = 50
MAX_COMMENTS = 16
MAX_PROPERTIES = 64
# RFC 2045 tspecials plus space and controls end a token (RFC 8601 2.2 uses MIME "value").
_TSPECIALS = frozenset('()<>@,;:\\"/[]?=')
_WORD_END = frozenset(" \t\r\n;()")
_NAME_END = _TSPECIALS | {"."}  # ptype and property names stop at the '.' between them


class _Cursor:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.warnings: list[str] = []
        self.comments: list[str] = []

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)

    @property
    def done(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_cfws(self) -> None:
        """Skip folding white space and comments, keeping the comments (RFC 5322 3.2.2)."""
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in " \t\r\n":
                self.pos += 1
            elif ch == "(":
                comment = self._comment()
                if len(self.comments) < MAX_COMMENTS:
                    self.comments.append(comment)
            else:
                break

    def take_comments(self) -> list[str]:
        taken, self.comments = self.comments, []
        return taken

    def _comment(self) -> str:
        # Nested comments with quoted-pairs; an unclosed comment runs to the end.
        text = self.text
        depth = 0
        out: list[str] = []
        while self.pos < len(text):
            ch = text[self.pos]
            self.pos += 1
            if ch == "\\" and self.pos < len(text):
                out.append(text[self.pos])
                self.pos += 1
                continue
            if ch == "(":
                depth += 1
                if depth > 1:
                    out.append(ch)
                continue
            if ch == ")":
                depth -= 1
                if depth == 0:
                    return " ".join("".join(out).split())
                out.append(ch)
                continue
            out.append(ch)
        self.warn("unclosed comment")
        return " ".join("".join(out).split())

    def quoted(self) -> str:
        """A quoted-string starting at '"' (the quotes removed, quoted-pairs resolved)."""
        text = self.text
        self.pos += 1
        out: list[str] = []
        while self.pos < len(text):
            ch = text[self.pos]
            self.pos += 1
            if ch == "\\" and self.pos < len(text):
                out.append(text[self.pos])
                self.pos += 1
            elif ch == '"':
                return "".join(out)
            else:
                out.append(ch)
        self.warn("unclosed quoted string")
        return "".join(out)

    def token(self, stop: frozenset[str] = _TSPECIALS) -> str:
        """A run of characters up to white space, a control character or one in ``stop``."""
        text = self.text
        start = self.pos
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in stop or ch <= " " or ch == "\x7f":
                break
            self.pos += 1
        return text[start:self.pos]

    def word(self) -> str:
        """A loose value: a quoted-string, or anything up to white space, ';' or a comment.

        RFC 8601 2.2 pvalue is ``[[local-part] "@"] domain-name`` and RFC 5322 3.4.1 lets the
        local-part be a quoted-string: ``"a b"@example.com`` keeps its quotes and its domain.
        """
        if self.peek() != '"':
            return self.token(_WORD_END)
        inner = self.quoted()
        if self.peek() != "@":
            return inner
        domain = self.token(_WORD_END)
        escaped = inner.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"{domain}'

    def skip_to_semicolon(self) -> str:
        start = self.pos
        text = self.text
        while self.pos < len(text) and text[self.pos] != ";":
            if text[self.pos] == "(":
                self._comment()
            elif text[self.pos] == '"':
                self.quoted()
            else:
                self.pos += 1
        return text[start:self.pos].strip()


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def parse(value: str | bytes) -> AuthResults:
    """Parse the value of one Authentication-Results header field (without the field name; a
    leading ``Authentication-Results:`` is tolerated)."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    stripped = text.lstrip()
    head, colon, rest = stripped.partition(":")
    if colon and head.strip().lower() == "authentication-results":
        text = rest
    cur = _Cursor(text)
    cur.skip_cfws()
    id_start = cur.pos
    authserv_id = cur.quoted() if cur.peek() == '"' else cur.token(frozenset(";()"))
    results: list[ResInfo] = []
    if "=" in authserv_id and cur.text[id_start] != '"':
        # No authserv-id at all ("Authentication-Results: spf=pass ..."): keep the result.
        cur.warn("no authserv-id")
        authserv_id = ""
        cur.pos = id_start
        first = _resinfo(cur)
        if first is not None:
            results.append(first)
    id_comments = cur.take_comments()
    cur.skip_cfws()
    id_comments += cur.take_comments()
    if not authserv_id and not results:
        cur.warn("no authserv-id")
    version: int | None = None
    # authres-version = 1*DIGIT [CFWS], before the first ';' (RFC 8601 2.2)
    save = cur.pos
    digits = cur.token(frozenset(";()"))
    if digits.isascii() and digits.isdigit() and len(digits) <= 9:  # 1*DIGIT: ASCII only (RFC 5234)
        version = int(digits)
        cur.skip_cfws()
        id_comments += cur.take_comments()
    elif digits:
        cur.pos = save
        junk = cur.skip_to_semicolon()
        cur.warn(f"unexpected text after authserv-id: {_short(junk)!r}")
    while not cur.done:
        if cur.peek() != ";":
            junk = cur.skip_to_semicolon()
            if junk:
                cur.warn(f"skipped {_short(junk)!r}")
            continue
        cur.pos += 1  # ';'
        cur.skip_cfws()
        cur.take_comments()
        if cur.done:
            break  # trailing ';' (common, tolerated)
        if cur.peek() == ";":
            continue
        resinfo = _resinfo(cur)
        if resinfo is None:
            continue
        if resinfo.method == "none" and not results:
            continue  # "; none": no-result (RFC 8601 2.2)
        if len(results) >= MAX_RESULTS:
            cur.warn(f"more than {MAX_RESULTS} results; the rest ignored")
            break
        results.append(resinfo)
    return AuthResults(
        authserv_id=authserv_id,
        results=tuple(results),
        version=version,
        authserv_comments=tuple(id_comments),
        warnings=tuple(cur.warnings),
    )


def _resinfo(cur: _Cursor) -> ResInfo | None:
    """methodspec [CFWS reasonspec] [CFWS 1*propspec], positioned after '; ' ."""
    method = cur.token().lower()
    if not method:
        junk = cur.skip_to_semicolon()
        cur.warn(f"skipped {_short(junk)!r}: no method")
        return None
    cur.skip_cfws()
    comments = cur.take_comments()
    method_version: str | None = None
    if cur.peek() == "/":
        cur.pos += 1
        cur.skip_cfws()
        method_version = cur.token() or None
        cur.skip_cfws()
        comments += cur.take_comments()
    if cur.peek() != "=":
        if method == "none":
            cur.skip_to_semicolon()
            return ResInfo("none", "none")
        junk = cur.skip_to_semicolon()
        cur.warn(f"skipped result {method!r}: no '=' ({_short(junk)!r})")
        return None
    cur.pos += 1
    cur.skip_cfws()
    comments += cur.take_comments()
    result = cur.token().lower()
    if not result:
        junk = cur.skip_to_semicolon()
        cur.warn(f"skipped result {method!r}: no result value ({_short(junk)!r})")
        return None
    reason: str | None = None
    properties: list[AuthProperty] = []
    while True:
        cur.skip_cfws()
        comments += cur.take_comments()
        if cur.done or cur.peek() == ";":
            break
        start = cur.pos
        name = cur.token(_NAME_END)
        if not name:
            # a stray special character: skip one word
            cur.pos = start + 1 if cur.pos == start else cur.pos
            cur.warn(f"{method}: skipped stray {cur.text[start:cur.pos]!r}")
            continue
        cur.skip_cfws()
        comments += cur.take_comments()
        lowered = name.lower()
        if lowered == "reason" and cur.peek() == "=":
            cur.pos += 1
            cur.skip_cfws()
            comments += cur.take_comments()
            reason = cur.word()
            continue
        if cur.peek() == ".":
            cur.pos += 1
            cur.skip_cfws()
            prop = cur.token(_NAME_END).lower()
            cur.skip_cfws()
            if prop and cur.peek() == "=":
                cur.pos += 1
                cur.skip_cfws()
                comments += cur.take_comments()
                pvalue = cur.word()
                if not pvalue:
                    cur.warn(f"{method}: {lowered}.{prop} has no value")
                if len(properties) < MAX_PROPERTIES:
                    properties.append(AuthProperty(lowered, prop, pvalue))
                elif len(properties) == MAX_PROPERTIES:
                    cur.warn(f"{method}: more than {MAX_PROPERTIES} properties; the rest ignored")
                    properties.append(AuthProperty(lowered, prop, pvalue))
                continue
            cur.warn(f"{method}: skipped malformed property {_short(cur.text[start:cur.pos])!r}")
            continue
        if cur.peek() == "=":
            # ptype=value without a property (e.g. "header=x"): keep the value, flag it.
            cur.pos += 1
            cur.skip_cfws()
            cur.word()
        cur.warn(f"{method}: skipped {_short(cur.text[start:cur.pos].strip())!r} (not ptype.property=value)")
    return ResInfo(method=method, result=result, properties=tuple(properties[:MAX_PROPERTIES]), reason=reason,
                   comments=tuple(comments[:MAX_COMMENTS]), version=method_version)
