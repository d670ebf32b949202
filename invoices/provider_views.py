"""Where providers push notifications: /providers/<connector>/notify."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from invoices import services


@csrf_exempt  # signed by the provider instead; there is no browser session here
@require_POST
def provider_notify(request: HttpRequest, connector: str) -> JsonResponse:
    """Verify, keep and acknowledge at once; the invoice is updated by a worker."""
    try:
        created = services.provider_notification_receive(connector_name=connector, request=request)
    except services.NotificationRefused as refused:
        return JsonResponse({"error": str(refused)}, status=401)
    return JsonResponse({"status": "accepted" if created else "duplicate"})
