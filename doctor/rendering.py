"""A serializer's output, rendered fast from its own field declarations.

DRF's generic loop (get_attribute, to_representation, a nested serializer per
row) cost 20-40 us a slot, about half of the whole available list's time (see
docs/performance.md). A Shape reads a serializer's declared fields once and
then renders the same dict from model instances or from .values() rows, with
each nested object's dict built once per list. The serializer's declarations
stay the one description of the JSON: a field declared there is rendered here
too, and tests/test_serializer_output.py compares this path with DRF's own
rendering of the same declarations, byte for byte.
"""

from functools import cache

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db.models.manager import BaseManager
from rest_framework import fields, relations, serializers
from rest_framework.settings import ISO_8601, api_settings

# Values the model's column types already give in DRF's output type, so that
# DRF's int()/str()/bool() would change nothing.
_AS_IS = (fields.IntegerField, fields.BooleanField, fields.CharField, fields.ReadOnlyField)


def _iso(value):
    """As DRF's DateField/TimeField with the ISO 8601 output: a str stays as it is."""
    return value if value is None or isinstance(value, str) else value.isoformat()


def _iso_output(field):
    """A DateField or TimeField whose output DRF writes with isoformat()."""
    if isinstance(field, fields.DateField):
        default = api_settings.DATE_FORMAT
    elif isinstance(field, fields.TimeField):
        default = api_settings.TIME_FORMAT
    else:
        return False
    return str(getattr(field, "format", default)).lower() == ISO_8601


_ISO_METHOD = object()  # _iso, for a column that is never null


def _nullable(model, attr):
    try:
        return model._meta.get_field(attr).null
    except FieldDoesNotExist:
        return True


def _not_none(convert):
    return lambda value: None if value is None else convert(value)


def _computed(field):
    """DRF's own path for a field with no column (a SerializerMethodField, say)."""

    def render(obj):
        value = field.get_attribute(obj)
        return None if value is None else field.to_representation(value)

    return render


def _column(model, attr, prefix, pk_column):
    """The .values() column of `attr` (None: no column); a nested object's own pk
    is the parent's foreign key ("doctor_id"), which needs no join."""
    if attr is None:
        return None
    return pk_column if pk_column and attr == model._meta.pk.attname else prefix + attr


class Shape:
    """What `serializer.data` gives, for instances (`instance`) or rows (`row`).

    Each is a function generated once per serializer class and written as the
    dict literal a person would write, {"id": src["id"], "date": iso(src["date"]),
    ...}: as fast as the hand-built dicts it replaced, yet derived from the
    declarations (the generated source is in `self.source`, to read).
    """

    def __init__(self, serializer, prefix="", pk_column=None):
        model = serializer.Meta.model
        self.name = type(serializer).__name__
        self.fields = []  # (key, attr, column, convert, compute, nested shape)
        for field in serializer._readable_fields:
            attr, convert, compute, nested = _plan(model, field)
            column = _column(model, attr, prefix, pk_column)
            if convert is _iso and not _nullable(model, attr):
                convert = _ISO_METHOD  # rows hold dates and times, never None or str
            self.fields.append((field.field_name, attr, column, convert, compute, nested))
        self.source = {}
        self.instance = self._compile("instance")
        self.row = self._compile("row")

    def new_cache(self):
        """One dict per nested field: its objects' dicts by key, for one list."""
        return [{} for *_, nested in self.fields if nested is not None]

    def all_columns(self):
        """Every .values() column this shape reads, nested ones included, once each."""
        columns = []
        for _, _, column, _, _, nested in self.fields:
            columns += [column] if nested is None else [column, *nested.all_columns()]
        return list(dict.fromkeys(columns))

    def _compile(self, mode):
        env = {"ImproperlyConfigured": ImproperlyConfigured, "iso": _iso}
        missing = [f[0] for f in self.fields if f[2] is None]
        if mode == "row" and missing:
            message = f"{self.name}.{missing[0]} has no column: render instances instead"
            lines, items = [f"    raise ImproperlyConfigured({message!r})"], []
        else:
            lines, items = [], []
            nested_fields = 0
            for n, field in enumerate(self.fields):
                value, setup = _expression(mode, n, field, env, nested_fields)
                nested_fields += bool(setup)
                lines += setup
                items.append(f"{field[0]!r}: {value}")
        body = "\n".join([*lines, f"    return {{{', '.join(items)}}}"])
        self.source[mode] = f"def render(src, cache):\n{body}\n"
        exec(self.source[mode], env)  # noqa: S102 -- our own code, from field declarations
        return env["render"]


def _expression(mode, n, field, env, nested_fields):
    """The Python expression of field `n`'s value, and any lines it needs first."""
    key, attr, column, convert, compute, nested = field
    value = f"src.{attr}" if mode == "instance" else f"src[{column!r}]"
    if compute is not None:
        env[f"compute{n}"] = compute
        return f"compute{n}(src)", []
    if convert is _ISO_METHOD:
        return (f"{value}.isoformat()" if mode == "row" else f"iso({value})"), []
    if convert is not None:
        env[f"convert{n}"] = convert
        return f"convert{n}({value})", []
    if nested is None:
        return value, []
    env[f"build{n}"] = _builder(mode, nested)
    cached = f"cache[{nested_fields}]"
    setup = [
        f"    key{n} = {value}",
        f"    nested{n} = {cached}.get(key{n})",
        f"    if nested{n} is None:",
        f"        nested{n} = {cached}[key{n}] = build{n}(src)",
    ]
    return f"dict(nested{n})", setup  # a copy: rows never share one mutable dict


def _builder(mode, shape):
    """Builds a nested object's dict the first time a list meets its key."""
    if mode == "row":
        return lambda row: shape.row(row, shape.new_cache())
    return lambda obj: shape.instance(getattr(obj, shape.relation), shape.new_cache())


def _plan(model, field):
    """(attribute, converter, computer, nested shape) for one declared field."""
    source = ".".join(field.source_attrs)
    if isinstance(field, serializers.BaseSerializer):
        # A nested object (the doctor of a slot): keyed by its foreign key, built
        # once per list, read from "<fk>__<column>" in rows.
        fk = model._meta.get_field(source).attname
        nested = Shape(field, f"{source}__", pk_column=fk)
        nested.relation = source
        return fk, None, None, nested
    if isinstance(field, relations.PrimaryKeyRelatedField) and field.pk_field is None:
        return model._meta.get_field(source).attname, None, None, None
    if _iso_output(field):
        return source, _iso, None, None
    if isinstance(field, fields.DecimalField):
        return source, _not_none(field.to_representation), None, None
    if isinstance(field, _AS_IS) and source.isidentifier():
        return source, None, None, None
    return None, None, _computed(field), None


@cache
def shape_of(serializer_class):
    return Shape(serializer_class())


class ShapeListSerializer(serializers.ListSerializer):
    """A list shares one nested cache: each doctor's dict is built once per list.

    Takes model instances, or the dicts of .values(*shape.all_columns()).
    """

    def to_representation(self, data):
        rows = data.all() if isinstance(data, BaseManager) else data
        shape = shape_of(type(self.child))
        nested_cache = shape.new_cache()
        return [
            shape.row(row, nested_cache)
            if isinstance(row, dict)
            else shape.instance(row, nested_cache)
            for row in rows
        ]


# A mixin for a serializer: its output through its Shape (see the module doc).
# A comment, not a docstring: the OpenAPI schema would show a docstring as the
# description of every serializer that mixes this in.
class ShapedOutput:
    def to_representation(self, instance):
        shape = shape_of(type(self))
        return shape.instance(instance, shape.new_cache())
