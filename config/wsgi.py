import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django.setup(set_prefix=False)

from config.replay import ReplayingWSGIHandler  # noqa: E402

application = ReplayingWSGIHandler()
