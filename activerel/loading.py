"""Eager loading of relations: ``join_with`` and friends.

Strategy: one SELECT per joined relation, keyed by the keys of the parent
rows just loaded (``WHERE fk IN <keys>``), so a query with k joined paths
sends k + 1 SELECTs however many rows it returns. The key set travels as one
bound parameter where the dialect can unpack a list server-side (SQLite's
``json_each``), so even 100,000 parents stay under the parameter limit.
A ``limit`` inside a join is per parent (ROW_NUMBER() over the parent key);
an INNER join becomes an EXISTS condition on the parent query, so root
``limit``/``skip``/``count`` still count root rows. Loaded rows go through the
identity map: one row is one object across the whole result."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Optional, Sequence

from pypika import Order
from pypika import analytics as an
from pypika.terms import Criterion

from .compiled import compiled, flat_key
from .errors import QueryError
from .expressions import Compiler, Condition, relation_subquery
from .relations import RelationList

if TYPE_CHECKING:
    from .mapper import Mapper, Prop
    from .session import Session


@dataclass(frozen=True)
class Join:
    """How one relation is loaded: its filters, order, per-parent paging,
    selected fields and nested joins. Immutable, like the query holding it."""

    name: str
    inner: bool = False
    where: tuple[Condition, ...] = ()
    order: tuple[tuple[str, bool], ...] = ()
    limit: Optional[int] = None
    offset: Optional[int] = None
    fields: Optional[tuple[str, ...]] = None
    joins: tuple["Join", ...] = ()


def relation_prop(mapper: "Mapper", name: str, path: str) -> "Prop":
    prop = mapper.props.get(name)
    if prop is None or prop.kind == "scalar":
        relations = [p.name for p in mapper.props.values() if p.kind != "scalar"]
        what = "no relation" if prop is None else "a plain field, not a relation,"
        raise QueryError(
            f"join path {path!r}: {mapper.name} has {what} {name!r}; its relations are "
            f"{', '.join(relations) or 'none'}")
    return prop


def add_path(joins: tuple[Join, ...], mapper: "Mapper", path: str, inner: bool,
             full: Optional[str] = None) -> tuple[Join, ...]:
    """``joins`` with the dotted ``path`` present (reusing joins already there)."""
    head, _, rest = path.partition(".")
    full = full or path
    prop = relation_prop(mapper, head, full)
    out = list(joins)
    for i, j in enumerate(out):
        if j.name == head:
            break
    else:
        out.append(Join(head))
        i = len(out) - 1
    j = out[i]
    if inner and not j.inner:
        j = replace(j, inner=True)
    if rest:
        j = replace(j, joins=add_path(j.joins, prop.target_mapper, rest, inner, full))  # type: ignore[attr-defined]
    out[i] = j
    return tuple(out)


def merge_joins(base: tuple[Join, ...], extra: tuple[Join, ...]) -> tuple[Join, ...]:
    """``base`` with every join of ``extra`` added (recursively merged by name)."""
    out = list(base)
    for j in extra:
        for i, b in enumerate(out):
            if b.name == j.name:
                out[i] = replace(b, inner=b.inner or j.inner, joins=merge_joins(b.joins, j.joins))
                break
        else:
            out.append(j)
    return tuple(out)


def get_path(joins: tuple[Join, ...], path: Sequence[str]) -> Join:
    for j in joins:
        if j.name == path[0]:
            return j if len(path) == 1 else get_path(j.joins, path[1:])
    raise KeyError(path)


def set_path(joins: tuple[Join, ...], path: Sequence[str], join: Join) -> tuple[Join, ...]:
    out = []
    for j in joins:
        if j.name == path[0]:
            j = join if len(path) == 1 else replace(j, joins=set_path(j.joins, path[1:], join))
        out.append(j)
    return tuple(out)


class JoinExists(Condition):
    """An INNER join as a condition on the parent: a matching related row exists."""

    needs_alias = True

    def __init__(self, prop: "Prop", join: Join) -> None:
        self.prop = prop
        self.join = join

    def compile(self, comp: Compiler) -> Criterion:
        from pypika.terms import ExistsCriterion
        join = self.join
        target = self.prop.target_mapper  # type: ignore[attr-defined]

        def where(inner: Compiler) -> Optional[Criterion]:
            crits = [c.compile(inner) for c in join.where]
            crits += [c.compile(inner) for c in inner_conditions(target, join.joins)]
            return Criterion.all(crits) if crits else None

        return ExistsCriterion(relation_subquery(comp, self.prop, where))


def inner_conditions(mapper: "Mapper", joins: tuple[Join, ...]) -> list[Condition]:
    return [JoinExists(mapper.props[j.name], j) for j in joins if j.inner]


def needed_fields(mapper: "Mapper", fields: Optional[tuple[str, ...]],
                  joins: tuple[Join, ...]) -> Optional[tuple[str, ...]]:
    """A partial select must still load the foreign keys its reference joins use."""
    if fields is None:
        return None
    extra = [j.name for j in joins if mapper.props[j.name].kind == "reference" and j.name not in fields]
    return tuple(f for f in fields if mapper.props[f].kind != "backref") + tuple(extra)


# -- loading -----------------------------------------------------------------
def load(session: "Session", mapper: "Mapper", parents: list[Any], joins: tuple[Join, ...]) -> None:
    """Load every join of ``joins`` onto ``parents`` (and nested joins below)."""
    if not parents:
        return
    for join in joins:
        prop = mapper.props[join.name]
        if prop.kind == "reference":
            children = _load_reference(session, prop, join, parents)
        elif prop.via is not None:  # type: ignore[attr-defined]
            children = _load_via(session, prop, join, parents)
        else:
            children = _load_back(session, prop, join, parents)
        if join.joins and children:
            load(session, prop.target_mapper, children, join.joins)  # type: ignore[attr-defined]


def _distinct(objs: list[Any]) -> list[Any]:
    """``objs`` without repeats (by identity), in first-seen order."""
    return list({id(o): o for o in objs}.values())


def _child_rows(session: "Session", target: "Mapper", join: Join, keys: list[Any],
                select_extra: Any, build_from: Any) -> tuple[list[tuple], tuple[str, ...]]:
    """Run the SELECT of a relation: rows of ``target`` whose parent key
    terms match ``keys``, filtered, ordered and paged per parent as ``join``
    says. ``build_from(comp, alias)`` returns (query with FROM, key terms);
    ``select_extra(comp, alias)`` any extra columns. Returns the rows and the
    hydrated column names. One statement, unless the keys are composite and
    more than the parameter limit allows: then one per chunk of parents."""
    c = compiled(target, session.dialect)
    columns = c.select_columns(needed_fields(target, join.fields, join.joins))
    width = len(keys[0]) if keys and isinstance(keys[0], tuple) else 1
    step = len(keys) or 1
    if width > 1 and len(keys) * width > session.dialect.param_limit // 2:
        step = max(1, session.dialect.param_limit // (2 * width))
    rows: list[tuple] = []
    for i in range(0, len(keys) or 1, step):
        rows.extend(_child_rows_once(session, target, join, keys[i:i + step], columns,
                                     select_extra, build_from))
    return rows, columns


def _child_rows_once(session: "Session", target: "Mapper", join: Join, keys: list[Any],
                     columns: tuple[str, ...], select_extra: Any, build_from: Any) -> list[tuple]:
    dialect = session.dialect
    c = compiled(target, dialect)
    comp = Compiler(c)
    a = comp.alias(target)
    comp.scopes[0] = (target, a)
    q, part_terms = build_from(comp, a)
    select = [a.field(n) for n in columns] + list(select_extra(comp, a))
    order = []
    for name, desc in join.order:
        for col in target.props[name].columns:  # type: ignore[attr-defined]
            order.append((a.field(col.name), Order.desc if desc else Order.asc))
    if not any(name in [p.name for p in target.pk_props] for name, _ in join.order):
        order += [(a.field(n), Order.asc) for n in c.pk_names]
    q = q.where(key_set_criterion(comp, part_terms, keys))
    for cond in join.where:
        q = q.where(cond.compile(comp))
    for cond in inner_conditions(target, join.joins):
        q = q.where(cond.compile(comp))
    if join.limit is None and not join.offset:
        q = q.select(*select)
        for term, direction in order:
            q = q.orderby(term, order=direction)
        return session.fetch(q.get_sql(), comp.params)
    rn = an.RowNumber().over(*part_terms)
    for term, direction in order:
        rn = rn.orderby(term, order=direction)
    q = q.select(*select, rn.as_("_ar_rn"))
    sq = q.as_("_ar_sq")
    names = [s.alias or s.name for s in select]
    outer = dialect.query_class.from_(sq).select(*[sq.field(n) for n in names])
    low = join.offset or 0
    if low:
        outer = outer.where(sq.field("_ar_rn") > low)
    if join.limit is not None:
        outer = outer.where(sq.field("_ar_rn") <= low + join.limit)
    outer = outer.orderby(sq.field("_ar_rn"))
    return session.fetch(outer.get_sql(), comp.params)


def key_set_criterion(comp: Compiler, terms: Sequence[Any], keys: list[Any]) -> Criterion:
    """``terms IN keys`` with the keys as bound parameters: one parameter for
    the whole set where the dialect can unpack a list, else one per value."""
    dialect = comp.dialect
    if not keys:
        from .expressions import _FALSE
        return _FALSE
    if len(terms) == 1:
        bulk = dialect.key_set_criterion(terms[0], keys, comp)
        if bulk is not None:
            return bulk
        return terms[0].isin([comp.param(k) for k in keys])
    from pypika import Tuple
    return Tuple(*terms).isin([Tuple(*[comp.param(v) for v in k]) for k in keys])


def _key_values(mapper: "Mapper", dialect: Any, keys: list[Any]) -> list[Any]:
    kp = compiled(mapper, dialect).key_params
    if len(mapper.pk_columns) == 1:
        return [kp(k)[0] for k in keys]
    return [kp(k) for k in keys]


def _load_reference(session: "Session", prop: "Prop", join: Join, parents: list[Any]) -> list[Any]:
    target = prop.target_mapper  # type: ignore[attr-defined]
    name = prop.name
    wanted = _distinct([t for t in [p.__dict__.get(name) for p in parents] if t is not None])
    todo = [t for t in wanted if t._ar_state.key is not None]
    if todo:
        keys = [t._ar_state.key for t in todo]
        pk_cols = [c.name for c in target.pk_columns]

        def build(comp: Compiler, a: Any) -> tuple[Any, list[Any]]:
            return comp.dialect.query_class.from_(a), [a.field(n) for n in pk_cols]

        rows, columns = _child_rows(session, target, replace(join, limit=None, offset=None),
                                    _key_values(target, session.dialect, keys),
                                    lambda comp, a: (), build)
        compiled(target, session.dialect).hydrator(columns)(rows, session)
    return [t for t in wanted if t._ar_state.stub_of is None]


def _load_back(session: "Session", prop: "Prop", join: Join, parents: list[Any]) -> list[Any]:
    target = prop.target_mapper  # type: ignore[attr-defined]
    ref = prop.mapped_by  # type: ignore[attr-defined]
    owner = prop.owner
    parents = [p for p in _distinct(parents) if p._ar_state.key is not None]
    keys = [p._ar_state.key for p in parents]
    fk_cols = [c.name for c in ref.columns]
    if join.fields is not None and ref.name not in join.fields:
        join = replace(join, fields=join.fields + (ref.name,))

    def build(comp: Compiler, a: Any) -> tuple[Any, list[Any]]:
        return comp.dialect.query_class.from_(a), [a.field(n) for n in fk_cols]

    rows, columns = _child_rows(session, target, join, _key_values(owner, session.dialect, keys),
                                lambda comp, a: (), build)
    children = compiled(target, session.dialect).hydrator(columns)(rows, session)
    groups: dict[int, list[Any]] = {}
    name = ref.name
    for child in children:
        pid = id(child.__dict__.get(name))
        group = groups.get(pid)
        if group is None:
            groups[pid] = [child]
        else:
            group.append(child)
    _assign(prop, parents, groups, join)
    return children  # one row per child: already distinct


def _load_via(session: "Session", prop: "Prop", join: Join, parents: list[Any]) -> list[Any]:
    target = prop.target_mapper  # type: ignore[attr-defined]
    owner = prop.owner
    local, remote = prop.via_local, prop.via_remote  # type: ignore[attr-defined]
    pivot = prop.via.__ar_mapper__  # type: ignore[attr-defined]
    parents = [p for p in _distinct(parents) if p._ar_state.key is not None]
    keys = [p._ar_state.key for p in parents]
    box: dict[str, Any] = {}

    def build(comp: Compiler, a: Any) -> tuple[Any, list[Any]]:
        p = comp.alias(pivot)
        box["p"] = p
        on = Criterion.all([p.field(c.name) == a.field(c.target.name) for c in remote.columns])
        q = comp.dialect.query_class.from_(a).join(p).on(on)
        return q, [p.field(c.name) for c in local.columns]

    def extra(comp: Compiler, a: Any) -> list[Any]:
        p = box["p"]
        return [p.field(c.name).as_(f"_ar_k{i}") for i, c in enumerate(local.columns)]

    rows, columns = _child_rows(session, target, join, _key_values(owner, session.dialect, keys),
                                extra, build)
    children = compiled(target, session.dialect).hydrator(columns)(rows, session)
    width = len(local.columns)
    oc = compiled(owner, session.dialect)
    by_key = {p._ar_state.key: p for p in parents}
    groups: dict[int, list[Any]] = {}
    if width == 1 and oc.converters[oc.pk_names[0]] is None:
        keys_of_rows = [row[-1] for row in rows]  # the pivot's key of the parent, as stored
    else:
        keys_of_rows = [oc.row_key(row[len(row) - width:]) for row in rows]
    for key, child in zip(keys_of_rows, children):
        parent = by_key.get(key)
        if parent is not None:
            group = groups.get(id(parent))
            if group is None:
                groups[id(parent)] = [child]
            else:
                group.append(child)
    _assign(prop, parents, groups, join)
    return _distinct(children)


def _assign(prop: "Prop", parents: list[Any], groups: dict[int, list[Any]], join: Join) -> None:
    name = prop.name
    many = prop.many  # type: ignore[attr-defined]
    # a filtered or paged join loads part of the relation: the unit of work
    # must not take the list for all of it
    partial = bool(join.where or join.limit is not None or join.offset
                   or any(j.inner for j in join.joins))
    for parent in parents:
        items = groups.get(id(parent), [])
        d = parent.__dict__
        current = d.get(name)
        if isinstance(current, RelationList) and current.changed():
            continue  # unsaved changes to the collection win over the reload
        if many:
            d[name] = lst = RelationList(items)
            lst.baseline = tuple(items)
            lst.partial = partial
        else:
            one = items[0] if items else None
            d[name] = one
            st = parent._ar_state
            if st.baseline is None:
                st.baseline = {}
            st.baseline[name] = one


__all__ = ["Join", "add_path", "get_path", "set_path", "load", "inner_conditions",
           "needed_fields", "flat_key"]
