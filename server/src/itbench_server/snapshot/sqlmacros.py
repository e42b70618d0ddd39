"""SQL macros that normalize the text forms of a snapshot inside DuckDB, at ingest speed.

Every value in the TSV files is the text of a ClickHouse value, printed by one of several
exporters. Parsing happens in SQL (vectorized, parallel) rather than row by row in Python:

* ``ts_parse``: ``2025-12-15 17:25:19.123456789``, the same with `` +0000 UTC``, RFC 3339, or
  epoch seconds / milliseconds / nanoseconds -> TIMESTAMP (microseconds, UTC).
* ``attrs_json``: a map column as JSON text, from JSON, a Python dict literal
  (``{'k': 'v'}``) or Go's ``map[k:v k2:v2]``. Text that fits none is kept as ``{"_raw": ...}``.
  Values from a dict literal or a Go map become JSON strings (``'n': 3`` -> ``"n": "3"``): the
  text forms do not keep types reliably, so queries compare attribute values as text.
* ``norm_severity``, ``norm_span_kind``, ``norm_status``: one spelling per enum.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MACROS"]

_Q: Final = "''"  # one single quote inside an SQL string literal

MACROS: Final[tuple[str, ...]] = (
    r"""
    CREATE OR REPLACE TEMP MACRO ts_parse(t) AS CASE
        WHEN substr(t, 5, 1) = '-' AND strpos(t, '+') = 0 AND NOT ends_with(t, 'Z') AND NOT ends_with(t, 'UTC')
             AND substr(t, -6, 1) <> '-' AND substr(t, -5, 1) <> '-'
            THEN TRY_CAST(trim(t) AS TIMESTAMP)
        WHEN substr(ltrim(t), 5, 1) = '-' THEN TRY_CAST(TRY_CAST(
            regexp_replace(regexp_replace(trim(t), '\s*([+-]\d{2}):?(\d{2})(\s+[A-Za-z]+)?$', '\1:\2'), 'Z$', '+00:00')
            AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)
        WHEN regexp_full_match(trim(t), '\d{16,}') THEN make_timestamp(CAST(CAST(trim(t) AS HUGEINT) // 1000 AS BIGINT))
        WHEN regexp_full_match(trim(t), '\d{13,15}') THEN make_timestamp(CAST(trim(t) AS BIGINT) * 1000)
        WHEN regexp_full_match(trim(t), '\d{9,12}(\.\d+)?') THEN to_timestamp(CAST(trim(t) AS DOUBLE))::TIMESTAMP
        ELSE TRY_CAST(trim(t) AS TIMESTAMP)
    END
    """,
    # A Python dict literal as JSON. String-to-string boundaries (': ', ', ') first, then the
    # quotes next to brackets and non-string values; double quotes inside values are escaped
    # only when there are any, and True/False/None are rewritten only when present.
    f"""
    CREATE OR REPLACE TEMP MACRO py_quotes_json(t) AS
      regexp_replace(regexp_replace(t,
        '{_Q}(\\s*[:,]\\s*){_Q}', '"\\1"', 'g'),
        '([{{\\[,:]\\s*){_Q}|{_Q}(\\s*[:,}}\\]])', '\\1"\\2', 'g')
    """,
    """
    CREATE OR REPLACE TEMP MACRO py_words_json(t) AS CASE
        WHEN strpos(t, 'True') > 0 OR strpos(t, 'False') > 0 OR strpos(t, 'None') > 0 THEN
            regexp_replace(regexp_replace(regexp_replace(t,
            '(:\\s*)True(\\s*[,}\\]])', '\\1true\\2', 'g'),
            '(:\\s*)False(\\s*[,}\\]])', '\\1false\\2', 'g'),
            '(:\\s*)None(\\s*[,}\\]])', '\\1null\\2', 'g')
        ELSE t
    END
    """,
    f"""
    CREATE OR REPLACE TEMP MACRO py_dict_json(t) AS py_words_json(CASE
        WHEN strpos(t, '"') = 0 THEN py_quotes_json(replace(t, '\\{_Q}', '{_Q}'))
        ELSE regexp_replace(regexp_replace(regexp_replace(
            py_quotes_json(replace(replace(t, '\\{_Q}', '{_Q}'), '"', chr(1))),
            '([{{\\[,:]\\s*)\\x01', '\\1"', 'g'),
            '\\x01(\\s*[:,}}\\]])', '"\\1', 'g'),
            '\\x01', '\\\\"', 'g')
    END)
    """,
    r"""
    CREATE OR REPLACE TEMP MACRO go_map_json(t) AS
        '{' || array_to_string(list_transform(
            list_filter(string_split(trim(t)[5:-2], ' '), lambda x: strpos(x, ':') > 1),
            lambda x: to_json(split_part(x, ':', 1))::VARCHAR || ':' || to_json(x[strpos(x, ':') + 1:])::VARCHAR
        ), ',') || '}'
    """,
    # DuckDB's own MAP text parser reads a dict literal once ': ' becomes '=' (it honours both
    # quote styles); Python's True/False/None become JSON's words first.
    r"""
    CREATE OR REPLACE TEMP MACRO py_dict_map(t) AS TRY_CAST(
        replace(replace(replace(replace(t, ''': True', '''=true'), ''': False', '''=false'),
                ''': None', '''=null'), ''': ', '''=')
        AS MAP(VARCHAR, VARCHAR))
    """,
    r"""
    CREATE OR REPLACE TEMP MACRO attrs_json(t) AS CASE
        WHEN t IS NULL OR trim(t) IN ('', '{}', 'map[]', 'None', 'null') THEN '{}'
        WHEN starts_with(ltrim(t), 'map[') THEN go_map_json(t)
        WHEN starts_with(ltrim(t), '{''') AND py_dict_map(t) IS NOT NULL THEN to_json(py_dict_map(t))::VARCHAR
        WHEN starts_with(ltrim(t), '{') AND json_valid(t) THEN t
        WHEN starts_with(ltrim(t), '{') AND json_valid(py_dict_json(t)) THEN py_dict_json(t)
        ELSE json_object('_raw', t)::VARCHAR
    END
    """,
    r"""
    CREATE OR REPLACE TEMP MACRO attr(j, key) AS json_extract_string(j, '$."' || key || '"')
    """,
    r"""
    CREATE OR REPLACE TEMP MACRO norm_severity(text, number) AS CASE
        WHEN upper(trim(COALESCE(text, ''))) IN ('WARN', 'WARNING') THEN 'WARN'
        WHEN upper(trim(COALESCE(text, ''))) IN ('ERROR', 'ERR') THEN 'ERROR'
        WHEN upper(trim(COALESCE(text, ''))) IN ('FATAL', 'CRITICAL', 'CRIT', 'PANIC', 'EMERGENCY', 'ALERT')
            THEN 'FATAL'
        WHEN upper(trim(COALESCE(text, ''))) IN ('INFO', 'INFORMATION', 'NOTICE') THEN 'INFO'
        WHEN upper(trim(COALESCE(text, ''))) IN ('DEBUG', 'TRACE') THEN upper(trim(text))
        WHEN number BETWEEN 1 AND 4 THEN 'TRACE'
        WHEN number BETWEEN 5 AND 8 THEN 'DEBUG'
        WHEN number BETWEEN 9 AND 12 THEN 'INFO'
        WHEN number BETWEEN 13 AND 16 THEN 'WARN'
        WHEN number BETWEEN 17 AND 20 THEN 'ERROR'
        WHEN number BETWEEN 21 AND 24 THEN 'FATAL'
        ELSE ''
    END
    """,
    r"""
    CREATE OR REPLACE TEMP MACRO title_enum(text, prefix) AS CASE
        WHEN text IS NULL OR trim(text) = '' THEN ''
        ELSE upper(regexp_replace(trim(text), '^' || prefix, '', 'i')[1])
             || lower(regexp_replace(trim(text), '^' || prefix, '', 'i')[2:])
    END
    """,
    r"""
    CREATE OR REPLACE TEMP MACRO norm_span_kind(text) AS CASE upper(replace(trim(COALESCE(text, '')), 'SPAN_KIND_', ''))
        WHEN 'SERVER' THEN 'Server' WHEN '2' THEN 'Server'
        WHEN 'CLIENT' THEN 'Client' WHEN '3' THEN 'Client'
        WHEN 'INTERNAL' THEN 'Internal' WHEN '1' THEN 'Internal'
        WHEN 'PRODUCER' THEN 'Producer' WHEN '4' THEN 'Producer'
        WHEN 'CONSUMER' THEN 'Consumer' WHEN '5' THEN 'Consumer'
        ELSE 'Unspecified'
    END
    """,
    r"""
    CREATE OR REPLACE TEMP MACRO norm_status(text) AS CASE upper(replace(trim(COALESCE(text, '')), 'STATUS_CODE_', ''))
        WHEN 'ERROR' THEN 'Error' WHEN '2' THEN 'Error'
        WHEN 'OK' THEN 'Ok' WHEN '1' THEN 'Ok'
        WHEN 'UNSET' THEN 'Unset' WHEN '0' THEN 'Unset' WHEN '' THEN 'Unset'
        ELSE title_enum(text, 'STATUS_CODE_')
    END
    """,
    # An object body may be JSON, or a JSON string holding JSON (encoded twice).
    r"""
    CREATE OR REPLACE TEMP MACRO unwrap_json(t) AS CASE
        WHEN starts_with(ltrim(t), '"') AND json_valid(t) THEN json_extract_string(t, '$')
        ELSE t
    END
    """,
)
