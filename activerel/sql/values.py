"""Values between Python and the database for one model on one dialect
instance: the column adapters and converters, each field's column values,
key parameters and identity keys read from rows, and the columns a SELECT
or an UPDATE names. Also the :class:`Binding` every per-dialect part of a
mapper hangs on, and :func:`binding` that finds it.

Called by the rest of :mod:`activerel.sql`, by loading and by the unit of
work. Imports :mod:`activerel.mapping` and :mod:`activerel.dialects`."""
from __future__ import annotations

from operator import itemgetter
from typing import Any, Callable, Optional, Sequence, cast

from ..dialects.base import Dialect
from ..mapping.mapper import Mapper
from ..mapping.properties import ColumnProp, Prop, ReferenceProp, ScalarProp
from ..mapping.registry import is_model_instance


class Binding:
    """What the layers above derive from one mapper for one dialect instance,
    made on first use and kept in ``dialect.bindings``: the value codec
    (this module), the rendered statements (:mod:`activerel.sql.statements`),
    the generated hydrators (:mod:`activerel.loading.hydrate`) and the
    generated INSERT row getters (:mod:`activerel.unitofwork.persistence`).
    Each layer fills its own slot."""

    __slots__ = ("mapper", "dialect", "values", "statements", "hydrators", "writers")

    def __init__(self, mapper: Mapper, dialect: Dialect) -> None:
        self.mapper = mapper
        self.dialect = dialect
        self.values = ValueCodec(mapper, dialect)
        self.statements: Any = None
        self.hydrators: Any = None
        self.writers: Any = None


def _one(value: Any) -> tuple[Any, ...]:
    return (value,)


def binding(mapper: Mapper, dialect: Dialect) -> Binding:
    """The binding of ``mapper`` to ``dialect`` (made on first use)."""
    b: Optional[Binding] = dialect.bindings.get(mapper)
    if b is None:
        if dialect.on_bind is not None:
            dialect.on_bind(mapper)  # may raise: then nothing is cached
        # setdefault: of two threads binding at once, both get the same one
        made: Binding = dialect.bindings.setdefault(mapper, Binding(mapper, dialect))
        return made
    return b


def codec(mapper: Mapper, dialect: Dialect) -> "ValueCodec":
    """The value codec of ``mapper`` on ``dialect``."""
    return binding(mapper, dialect).values


class ValueCodec:
    """Adapters, converters, keys and column lists of one model on one dialect."""

    def __init__(self, mapper: Mapper, dialect: Dialect) -> None:
        self.mapper = mapper
        self.dialect = dialect
        self.adapters = {c.name: dialect.adapter(c.ctype) for c in mapper.columns}
        self.converters = {c.name: dialect.converter(c.ctype) for c in mapper.columns}
        self.pk_names = [c.name for c in mapper.pk_columns]
        self._all_columns: Optional[tuple[str, ...]] = None
        self.prop_values = {p.name: self._make_prop_values(p)
                            for p in list(mapper.scalars) + list(mapper.references)}
        #: field -> its place in an UPDATE's SET list (scalars, then references)
        self.field_order = {name: i for i, name in enumerate(self.prop_values)}
        self.pk_fields = frozenset(p.name for p in mapper.pk_props)
        self._update_params: dict[tuple[str, ...], Callable[[Any], tuple[Any, ...]]] = {}
        self.key_params = self._make_key_params()
        self.row_key = self._make_row_key()
        self._field_converters: dict[str, Callable[[Any], tuple[Any, ...]]] = {}

    def field_converter(self, prop: Prop) -> Callable[[Any], tuple[Any, ...]]:
        """A value compared with field ``prop`` of this model (a reference
        takes an object or its key) -> the database values of its columns;
        made once per field, as every query with a condition on it walks it."""
        conv = self._field_converters.get(prop.name)
        if conv is None:
            conv = self._field_converters[prop.name] = self._make_field_converter(prop)
        return conv

    def _make_field_converter(self, prop: Prop) -> Callable[[Any], tuple[Any, ...]]:
        if isinstance(prop, ScalarProp):
            adapt = self.adapters[prop.column.name]
            if adapt is None:
                return _one
            return lambda value: (adapt(value),)
        if not isinstance(prop, ReferenceProp):
            raise TypeError(f"{prop.owner.name}.{prop.name} has no column to compare")
        target: Mapper = prop.target_mapper
        key_params = codec(target, self.dialect).key_params
        key_of = target.key_of

        def convert(value: Any) -> tuple[Any, ...]:
            return key_params(key_of(value) if is_model_instance(value) else value)
        return convert

    def _make_prop_values(self, prop: ColumnProp) -> Callable[[Any], tuple[Any, ...]]:
        """obj -> the database values of the prop's columns."""
        if isinstance(prop, ScalarProp):
            name, adapt = prop.name, self.adapters[prop.column.name]
            if adapt is None:
                return lambda obj: (obj.__dict__[name],)

            def scalar(obj: Any) -> tuple[Any, ...]:
                v = obj.__dict__[name]
                return (None if v is None else adapt(v),)
            return scalar
        width = len(prop.columns)
        adapters = [self.adapters[c.name] for c in prop.columns]
        name = prop.name

        def ref(obj: Any) -> tuple[Any, ...]:
            t = obj.__dict__.get(name)
            if t is None:
                return (None,) * width
            k = type(t).__ar_mapper__.key_of(t)
            parts = (k,) if width == 1 else k
            return tuple(v if a is None or v is None else a(v) for a, v in zip(adapters, parts))
        return ref

    def _make_key_params(self) -> Callable[[Any], tuple[Any, ...]]:
        """identity key -> database values of the primary-key columns."""
        adapters = [self.adapters[n] for n in self.pk_names]
        if len(adapters) == 1:
            a = adapters[0]
            if a is None:
                return lambda key: (key,)
            return lambda key: (a(key),)
        return lambda key: tuple(v if a is None else a(v) for a, v in zip(adapters, key))

    def row_keys(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """The identity keys of rows that start with the primary-key columns."""
        if len(self.pk_names) == 1 and self.converters[self.pk_names[0]] is None:
            return list(map(itemgetter(0), rows))
        return list(map(self.row_key, rows))

    def _make_row_key(self) -> Callable[[Sequence[Any]], Any]:
        """A row that starts with the primary-key columns -> identity key."""
        convs = [self.converters[n] for n in self.pk_names]
        if len(convs) == 1:
            c = convs[0]
            if c is None:
                return lambda row: row[0]
            return lambda row: c(row[0])
        n = len(convs)
        return lambda row: tuple(v if c is None else c(v) for c, v in zip(convs, row[:n]))


    def select_columns(self, fields: Optional[Sequence[str]] = None) -> tuple[str, ...]:
        """The column names a SELECT loads: the key first, then the fields'
        columns (every field when ``fields`` is None)."""
        mapper = self.mapper
        if fields is None and self._all_columns is not None:
            return self._all_columns
        cols = list(self.pk_names)
        if fields is None:
            props = list(mapper.scalars) + list(mapper.references)
        else:
            props = [cast(ColumnProp, mapper.props[f]) for f in fields]
        for p in props:
            for c in p.columns:
                if c.name not in cols:
                    cols.append(c.name)
        if fields is None:
            self._all_columns = tuple(cols)
        return tuple(cols)

    def changed_fields(self, changed: dict[str, Any]) -> tuple[str, ...]:
        """The fields an UPDATE writes for an object's recorded changes
        (``state.dirty``), in the mapping's order, so objects with the same
        changes share one statement."""
        order = self.field_order
        if len(changed) == 1:
            for name in changed:
                return (name,) if name in order else ()
        names = [n for n in changed if n in order]
        names.sort(key=order.__getitem__)
        return tuple(names)

    def update_columns(self, names: tuple[str, ...]) -> tuple[str, ...]:
        props = self.mapper.props
        return tuple(col.name for n in names for col in cast(ColumnProp, props[n]).columns)

    def update_params(self, names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
        """obj -> the parameters of ``update_sql(update_columns(names))``: the
        fields' column values, then the object's key as stored."""
        make = self._update_params.get(names)
        if make is None:
            getters = [self.prop_values[n] for n in names]
            key_params = self.key_params
            if len(getters) == 1:
                get = getters[0]

                def one(obj: Any) -> tuple[Any, ...]:
                    return get(obj) + key_params(obj._ar_state.key)
                make = one
            else:
                def several(obj: Any) -> tuple[Any, ...]:
                    row: tuple[Any, ...] = ()
                    for get in getters:
                        row += get(obj)
                    return row + key_params(obj._ar_state.key)
                make = several
            self._update_params[names] = make
        return make
