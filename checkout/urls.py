from django.urls import path

from checkout import images, views

urlpatterns = [
    path("", views.hosted_page, name="hpp"),
    path("<str:invoice_id>/confirm", views.confirm, name="hpp-confirm"),
    path("<str:invoice_id>/status", views.status, name="hpp-status"),
    path("<str:invoice_id>/simulate", views.simulate, name="hpp-simulate"),
    path("<str:invoice_id>/reissue", views.reissue, name="hpp-reissue"),
    path("<str:invoice_id>/remainder", views.remainder, name="hpp-remainder"),
    path("<str:invoice_id>/qr.svg", images.qr_image_svg, name="hpp-qr-svg"),
    path("<str:invoice_id>/qr.png", images.qr_image_png, name="hpp-qr-png"),
    path("<str:invoice_id>/barcode.svg", images.barcode_image_svg, name="hpp-barcode-svg"),
]
