"""SQL rendering: the value codec of each model per dialect, cached
statement shapes, query SELECTs, condition expressions and DDL. The only
package that renders DML; DDL details and catalog queries stay in the
dialects.

Imports :mod:`activerel.mapping`, :mod:`activerel.dialects` and
:mod:`activerel._util`."""
