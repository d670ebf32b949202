"""The merchant API (contract section 1), on django-ninja.

`main` holds the NinjaAPI and its error handlers, `auth` the merchant key
authentication, `parser` the reading of JSON bodies, `payment_invoices`,
`follow` and `statements` one router per resource, `schemas` the documents
and `errors` the JSON:API error documents. Nothing is imported here, so the
error middleware can be loaded without the routers.
"""
