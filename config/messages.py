"""Django's message middleware, building a request's message storage only when it is used.

Building it (a cookie storage and a session storage, each reading its
source) was 6% of every hosted page, which never shows messages: only the
admin does. The storage is made on first use, and a response whose request
never used it has nothing to store, so it is left as it is.
"""

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.utils.functional import SimpleLazyObject, empty


class MessagesOnFirstUseMiddleware(MessageMiddleware):
    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
