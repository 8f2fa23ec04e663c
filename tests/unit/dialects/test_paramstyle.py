"""activerel.dialects.paramstyle.qmark_to_format: raw SQL written with ``?``
placeholders, turned into the ``%s`` style of psycopg and mysqlclient.

Both drivers read every ``%`` of the query text as the start of a
placeholder (when parameters are passed), so a literal ``%`` must reach them
doubled, while the ``?`` of string literals, quoted identifiers and comments
are not placeholders."""
from __future__ import annotations


from activerel.dialects.paramstyle import qmark_to_format


def test_placeholders_become_format_style():
    assert qmark_to_format("SELECT ?") == "SELECT %s"
    assert qmark_to_format('SELECT "a" FROM "t" WHERE "b" = ? AND "c" IN (?,?)') == (
        'SELECT "a" FROM "t" WHERE "b" = %s AND "c" IN (%s,%s)')


def test_sql_without_placeholders_is_unchanged():
    sql = 'SELECT "a", \'b\' FROM "t" -- all of it'
    assert qmark_to_format(sql) == sql


def test_a_literal_percent_is_doubled():
    assert qmark_to_format("SELECT 7 % 3, ?") == "SELECT 7 %% 3, %s"
    assert qmark_to_format("SELECT %s") == "SELECT %%s"  # not a placeholder in qmark SQL


def test_question_mark_in_a_string_literal_is_kept():
    assert qmark_to_format("SELECT 'why?', ?") == "SELECT 'why?', %s"


def test_percent_in_a_string_literal_is_doubled():
    assert qmark_to_format("SELECT ? WHERE a LIKE 'x%'") == "SELECT %s WHERE a LIKE 'x%%'"
    assert qmark_to_format("SELECT '100%?'") == "SELECT '100%%?'"


def test_doubled_quotes_stay_inside_the_string():
    # 'it''s ?' is one literal: its ? is not a placeholder
    assert qmark_to_format("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"
    assert qmark_to_format("SELECT '''?''', ?") == "SELECT '''?''', %s"
    assert qmark_to_format("SELECT '', ?") == "SELECT '', %s"


def test_question_mark_in_a_double_quoted_identifier_is_kept():
    assert qmark_to_format('SELECT "odd?" FROM "t" WHERE x = ?') == (
        'SELECT "odd?" FROM "t" WHERE x = %s')
    assert qmark_to_format('SELECT "a""?b", ?') == 'SELECT "a""?b", %s'


def test_percent_in_a_quoted_identifier_is_doubled():
    assert qmark_to_format('SELECT "5%" FROM t') == 'SELECT "5%%" FROM t'
    assert qmark_to_format("SELECT `5%` FROM t") == "SELECT `5%%` FROM t"


def test_question_mark_in_a_backtick_identifier_is_kept():
    assert qmark_to_format("SELECT `odd?` FROM `t` WHERE x = ?") == (
        "SELECT `odd?` FROM `t` WHERE x = %s")


def test_question_mark_in_a_line_comment_is_kept():
    assert qmark_to_format("SELECT ? -- why?\n, ?") == "SELECT %s -- why?\n, %s"
    assert qmark_to_format("SELECT ? -- a 'quote?") == "SELECT %s -- a 'quote?"


def test_a_quote_in_a_comment_does_not_open_a_string():
    assert qmark_to_format("SELECT 1 -- it's\n, ?") == "SELECT 1 -- it's\n, %s"


def test_comment_marker_inside_a_string_is_text():
    assert qmark_to_format("SELECT '--', ?") == "SELECT '--', %s"


def test_percent_in_a_line_comment_is_doubled():
    assert qmark_to_format("SELECT ? -- 100%\n") == "SELECT %s -- 100%%\n"


def test_question_mark_in_a_block_comment_is_kept():
    assert qmark_to_format("SELECT /* ? */ ?") == "SELECT /* ? */ %s"
