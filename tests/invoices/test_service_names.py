"""A service's method names in the pages' other languages: only languages the pages speak,
never an empty name, wherever a service is checked (its model's validation, the services'
own check that the admin and the demo use)."""

import pytest
from django.core.exceptions import ValidationError

from invoices.models import Service
from invoices.services import service_problems
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

SERVICE = {
    "connector_name": "test",
    "connector_settings": {},
    "display_kind": "test",
    "currency": "UAH",
    "confirmation_schema": None,
}


def test_names_in_the_pages_languages_are_taken(settings):
    assert service_problems(**SERVICE, method_name_translations={"uk": "Тест", "en": "Test"}) == {}
    ServiceFactory.build(method_name_translations={"uk": "Тест"}).full_clean(exclude=["code"])
    settings.LANGUAGES = [("en", "English"), ("uk", "Українська"), ("pl", "Polski")]
    assert service_problems(**SERVICE, method_name_translations={"pl": "Test"}) == {}


@pytest.mark.parametrize(
    ("translations", "problem"),
    [
        ({"pl": "Test"}, "'pl' is not a language of the pages (one of: en, uk)."),
        ({"uk": ""}, "The name for 'uk' must be a non-empty string."),
        ({"uk": None}, "The name for 'uk' must be a non-empty string."),
        ({"uk": "Т" * 201}, "The name for 'uk' is longer than 200 characters."),
        (["Тест"], 'Must be a JSON object of language code to name, e.g. {"uk": "Назва"}.'),
    ],
)
def test_other_languages_and_empty_names_are_refused(translations, problem):
    assert service_problems(**SERVICE, method_name_translations=translations) == {
        "method_name_translations": [problem]
    }
    service = ServiceFactory.build(method_name_translations=translations)
    with pytest.raises(ValidationError) as refused:
        service.full_clean(exclude=["code"])
    assert refused.value.message_dict == {"method_name_translations": [problem]}
    assert not Service.objects.exists()
