"""The operators' groups: one per job, each with only the permissions that job needs.

Kept in step with this definition after every `migrate` (and every test
database flush), so a model or permission added later reaches the groups
without a hand-written data migration. Add a person to a group in the admin
(Authentication and Authorization → Users); a superuser needs none.

The definition is the truth: `migrate` gives each group exactly these
permissions again, so a permission added to one by hand does not last (give
it to the user, or to a group of another name, instead).
"""

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db import router
from django.db.models import Q

MOVE_STATUS = "move_invoice_status"
RESEND_CALLBACK = "resend_callback"
POLL_PROVIDER = "poll_provider"
ROTATE_MERCHANT_KEYS = "rotate_merchant_keys"
RECONCILE_STATEMENT = "reconcile_statement"


def _group_filters() -> dict[str, Q]:
    """Each group and its permissions: viewer sees everything and changes nothing, support
    also resends callbacks and polls providers, finance also moves statuses, admin has every
    permission of the app, merchants' keys included."""
    invoice_permission = Q(content_type__app_label="invoices")
    sees_everything = invoice_permission & Q(codename__startswith="view_")
    return {
        "viewer": sees_everything,
        "support": sees_everything
        | (invoice_permission & Q(codename__in=[RESEND_CALLBACK, POLL_PROVIDER])),
        "finance": sees_everything
        | (invoice_permission & Q(codename__in=[MOVE_STATUS, RECONCILE_STATEMENT])),
        "admin": invoice_permission,
    }


def operator_groups_sync(*, apps: Apps, using: str = "default") -> None:
    """Create the groups that are missing and give each exactly its job's permissions.

    `apps` is the app registry to read models from: the live one, or a
    migration's historical one.
    """
    try:
        group_model = apps.get_model("auth", "Group")
        permission_model = apps.get_model("auth", "Permission")
    except LookupError:
        return  # a partial migrate (`migrate contenttypes`) that has not reached auth yet
    if not router.allow_migrate_model(using, group_model):
        return
    for name, permissions in _group_filters().items():
        group, _ = group_model.objects.using(using).get_or_create(name=name)
        group.permissions.set(permission_model.objects.using(using).filter(permissions))


def sync_after_migrate(
    sender: AppConfig, *, using: str, apps: Apps = global_apps, **kwargs: object
) -> None:
    """post_migrate receiver: Django creates permissions there too, just before.

    `migrate` passes the registry as migrated; `flush` (between transactional
    tests) passes none, and the live one is the same then.
    """
    operator_groups_sync(apps=apps, using=using)
