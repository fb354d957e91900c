"""SQL structure with sqlglot: a model's Jinja SQL with placeholder relations, ``select *`` scopes,
semantic normalisation and column lineage. Pure: nothing here renders Jinja or runs SQL."""

from freshlens.sql.lineage import ColumnChange, ColumnsRead, column_change, columns_read
from freshlens.sql.placeholders import PlainSql, dialect_for, placeholder, plain_sql
from freshlens.sql.structure import (
    SqlStructure,
    StarReport,
    StarUse,
    analyse,
    code_key,
    relation_stars,
    semantic_key,
    star_report,
    star_uses,
)

__all__ = [
    "ColumnChange",
    "ColumnsRead",
    "PlainSql",
    "SqlStructure",
    "StarReport",
    "StarUse",
    "analyse",
    "code_key",
    "column_change",
    "columns_read",
    "dialect_for",
    "placeholder",
    "plain_sql",
    "relation_stars",
    "semantic_key",
    "star_report",
    "star_uses",
]
