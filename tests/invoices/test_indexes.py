"""Every index of ours earns its keep: none merely repeats the leading columns of another.

Each index is written on every insert (an invoice and its event on each
creation, an event and a callback on each move); one that only repeats the
first columns of another index answers no equality or range query the other
cannot, and LIKE is never asked of an id.
"""

import pytest
from django.apps import apps
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

INDEXES = """
SELECT index.indrelid::regclass::text, index.indexrelid::regclass::text,
       index.indisunique, index.indpred IS NOT NULL,
       EXISTS (SELECT FROM unnest(index.indclass) AS class(oid)
               JOIN pg_opclass AS opclass ON opclass.oid = class.oid
               WHERE opclass.opcname LIKE '%%pattern_ops'),
       array(SELECT attribute.attname
             FROM unnest(index.indkey) WITH ORDINALITY AS key(number, position)
             JOIN pg_attribute AS attribute
               ON attribute.attrelid = index.indrelid AND attribute.attnum = key.number
             ORDER BY key.position)
FROM pg_index AS index
WHERE index.indrelid::regclass::text = ANY(%s)
"""


def test_no_index_repeats_the_leading_columns_of_another():
    tables = [model._meta.db_table for model in apps.get_app_config("invoices").get_models()]
    with connection.cursor() as cursor:
        cursor.execute(INDEXES, [tables])
        indexes = cursor.fetchall()
    redundant = [
        (name, columns, wider)
        for table, name, unique, partial, for_like, columns in indexes
        # A unique index is a constraint, a partial one covers fewer rows than the other.
        if not unique and not partial
        for other_table, wider, other_unique, other_partial, _, other_columns in indexes
        if other_table == table
        and wider != name
        and not other_partial
        and other_columns[: len(columns)] == columns
        # Django's LIKE twin of a unique text column (a key, a code) serves prefix searches.
        and not (for_like and other_unique and other_columns == columns)
    ]
    assert redundant == []


def test_no_like_index_on_the_tables_every_creation_and_move_writes():
    # Ids are looked up exactly; a prefix index there would only cost each write.
    written_always = ["invoices_invoice", "invoices_invoiceevent", "invoices_callbackdelivery"]
    with connection.cursor() as cursor:
        cursor.execute(INDEXES, [written_always])
        indexes = cursor.fetchall()
    assert [name for _, name, _, _, for_like, _ in indexes if for_like] == []
