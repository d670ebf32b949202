"""The languages of the hosted pages, which a merchant may also ask for (`locale`): one list,
read by the settings, the API's schema, the invoice checks and the pages."""

from typing import Literal, get_args

Locale = Literal["en", "uk"]
LOCALES: tuple[Locale, ...] = get_args(Locale)
DEFAULT_LOCALE: Locale = "en"
# Each language by its own name, as a language menu shows it.
LANGUAGE_NAMES: dict[Locale, str] = {"en": "English", "uk": "Українська"}
