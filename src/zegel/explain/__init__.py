"""Plain-language explanations (English and Dutch) of authentication results, DMARC failure
causes, and look-alike sender domains."""

from zegel.explain.headers import NotAMessage
from zegel.explain.lookalike import Lookalike, LookalikeDetector
from zegel.explain.report import explain_json, explain_message, not_message_line
from zegel.explain.texts import LANGUAGES, Lang, text

__all__ = ["LANGUAGES", "Lang", "Lookalike", "LookalikeDetector", "NotAMessage", "explain_json",
           "explain_message", "not_message_line", "text"]
