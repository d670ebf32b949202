"""Operators' admin: merchants, services and invoices with their timelines.

One module per concern; importing them here registers their ModelAdmins when
Django's admin autodiscovery imports `invoices.admin`.
"""

from django.contrib import admin

from invoices.admin import callbacks, invoices, merchants, services, statements

__all__ = ["callbacks", "invoices", "merchants", "services", "statements"]

admin.site.site_header = "Invoice checkout — operators"
admin.site.site_title = "Invoice checkout"
