"""Connectors by name: the `connector` of a service picks one of these."""

from connectors.base import Connector
from connectors.http import HttpProviderConnector
from connectors.sandbox import SandboxConnector
from connectors.static import StaticConnector

_CONNECTORS: dict[str, Connector] = {
    connector.name: connector
    for connector in (SandboxConnector(), StaticConnector(), HttpProviderConnector())
}


class UnknownConnector(LookupError):
    pass


def connector_names() -> list[str]:
    return sorted(_CONNECTORS)


def secret_setting_labels() -> dict[str, str]:
    """Every connector's secret settings, name: label."""
    return {
        name: label
        for connector in _CONNECTORS.values()
        for name, label in connector.secret_settings.items()
    }


def get_connector(name: str) -> Connector:
    try:
        return _CONNECTORS[name]
    except KeyError:
        raise UnknownConnector(f"No connector named {name!r}.") from None
