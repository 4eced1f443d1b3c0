"""Request parsers for the API."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, with a body nested past Python's recursion limit a 400.

    json.load raises RecursionError (not ValueError) for e.g. 100 000 open
    brackets: DRF lets it escape as a 500 with a traceback, which anyone could
    trigger without limit.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
