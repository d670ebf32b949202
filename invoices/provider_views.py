"""Where providers push notifications: /providers/<connector>/<service code>/notify.

The older /providers/<connector>/notify stays for orders that were sent it: it is
verified with the connector's process-wide settings (PROVIDER_HTTP_*).
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from invoices import services


@csrf_exempt  # signed by the provider instead; there is no browser session here
@require_POST
def provider_notify(
    request: HttpRequest, connector: str, service_code: str | None = None
) -> JsonResponse:
    """Verify, keep and acknowledge at once; the invoice is updated by a worker."""
    try:
        created = services.provider_notification_receive(
            connector_name=connector, service_code=service_code, request=request
        )
    except services.NotificationEndpointUnknown as unknown:
        return JsonResponse({"error": str(unknown)}, status=404)
    except services.NotificationRefused as refused:
        return JsonResponse({"error": str(refused)}, status=401)
    return JsonResponse({"status": "accepted" if created else "duplicate"})
