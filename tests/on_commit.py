"""What a request left to run after its commit, as `django_capture_on_commit_callbacks` saw it."""


def queued_tasks(callbacks) -> list[str]:
    """The Celery tasks among the captured callbacks, by name, in order.

    `invoices.tasks.enqueue_after_commit` names each of its callbacks after the
    task; the others (a move's log line, its read models) queue nothing.
    """
    prefix = "enqueue "
    return [
        callback.__qualname__.removeprefix(prefix)
        for callback in callbacks
        if callback.__qualname__.startswith(prefix)
    ]
