from django.db import connection
from django.http import JsonResponse
from django.urls import path


def small_json(request):
    return JsonResponse({"status": "ok", "id": "cpi_0123456789abcdef"})


def insert_row(request):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_bare_row (payload, created) VALUES (%s, now()) RETURNING id",
            [request.body.decode() or "{}"],
        )
        (row_id,) = cursor.fetchone()
    return JsonResponse({"id": row_id}, status=201)


urlpatterns = [path("json", small_json), path("insert", insert_row)]
