"""A customer whose DATEV is the emulator's identity provider, and the browser that consents."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import SecretStr

from ml_connector_sandbox.demo.setup import write_demo_config
from ml_connector_sandbox.emulators._server import ServerHandle, serve_in_thread
from ml_connector_sandbox.emulators.datev.app import create_app
from ml_connector_sandbox.emulators.datev.config import EmulatorConfig
from ml_connector_sandbox.emulators.datev.idp import (
    IdentityProvider,
    OAuthClientRegistration,
    create_idp_app,
)

sys.path.insert(0, str(Path(__file__).parents[1] / "datev_auth"))
from datev_auth_support import browse_to_callback

__all__ = ["CALLBACK", "CLIENT_ID", "CLIENT_SECRET", "browse_to_callback", "config", "idp_server"]

CALLBACK = "http://testserver/oauth/datev/callback"
CLIENT_ID = "mlc-web"
CLIENT_SECRET = "web-client-secret-for-tests"


@contextmanager
def idp_server(*, auto_consent: bool = True, apis: bool = False) -> Iterator[ServerHandle]:
    """The emulator's IdP with a confidential client registered for the app's callback;
    with ``apis``, the whole DATEV emulator (clients, documents, ...) behind it."""
    registration = OAuthClientRegistration(
        CLIENT_ID, SecretStr(CLIENT_SECRET), redirect_uris=(CALLBACK,), loopback_any_port=False
    )
    idp = IdentityProvider(oauth_clients=[registration], auto_consent=auto_consent)
    app = create_app(EmulatorConfig(), idp) if apis else create_idp_app(idp)
    with serve_in_thread(app) as handle:
        idp.set_issuer(f"{handle.url}/openid")
        yield handle


def config(directory: Path, idp_url: str, looker_url: str = "http://127.0.0.1:9") -> Path:
    """The demo configuration; customer meridian's DATEV is the emulator at ``idp_url``
    with the app registration above (secret from ``MLC_WEB_CLIENT_SECRET``)."""
    path = write_demo_config(directory, looker_url, credential="env:ML_CONNECTOR_LOOKER")
    text = path.read_text("utf-8").replace(
        'environment = "sandbox"\n',
        f'environment = "emulator"\napi_url = "{idp_url}"\n\n'
        f'[customers.meridian.datev.oauth]\nclient_id = "{CLIENT_ID}"\n'
        'client_secret = "env:MLC_WEB"\n',
        1,
    )
    path.write_text(text, "utf-8")
    return path
