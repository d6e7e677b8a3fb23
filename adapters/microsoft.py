"""What Dataverse and Business Central share: Microsoft's OData APIs behind an Entra token.

`MicrosoftAdapter` is the base of both adapters. It holds the Entra app token (cached per
tenant, client and resource in `adapters.entra.TOKENS`, renewed once when an API answers
401), sends OData JSON requests through the adapters' HTTP client (HTTPS to the type's
hosts only, timeouts, bounded retries on transient errors honouring Retry-After), follows
`@odata.nextLink` paging on the same host, and reads the OData error envelope
(`{"error": {"code", "message"}}`). A subclass gives its resource (token audience) and its
`classify(response, context)`, which turns an answer into the typed error of
ACCOUNTING_APIS §3.4 / §4.3; everything else about the API stays in its own module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests

from adapters.base import Adapter, AdapterSettings
from adapters.entra import TOKENS, EntraClient, TokenCache
from adapters.errors import AdapterError, TransientError
from adapters.http import Classifier, HttpClient, HttpOptions
from adapters.types import Text

# OData 4.0 request headers: Dataverse answers in the version asked for.
ODATA_HEADERS = {"OData-MaxVersion": "4.0", "OData-Version": "4.0"}


class MicrosoftAdapter(Adapter):
    """An adapter for a Microsoft API that takes an Entra app token (client credentials)."""

    # The credential field a wrong resource (token audience) is blamed on, if any.
    resource_field: str | None = None
    headers: Mapping[str, str] = {}

    def __init__(
        self,
        credentials: Mapping[str, str],
        settings: AdapterSettings,
        *,
        options: HttpOptions | None = None,
        tokens: TokenCache = TOKENS,
    ) -> None:
        super().__init__(credentials, settings)
        self._secret = self.credentials.get("client_secret", "")
        self.http = HttpClient(self.type, settings, secrets=[self._secret], options=options)
        self.entra = EntraClient(
            self.http,
            self.credentials,
            self.resource(),
            resource_field=self.resource_field,
            cache=tokens,
        )
        self.api = BearerApi(self.http, self.entra, self.headers)

    def resource(self) -> str:
        """The API's token audience, e.g. `https://org.crm4.dynamics.com`."""
        raise NotImplementedError

    def classify(self, response: requests.Response, context: str | None) -> AdapterError | None:
        """The typed error for an answer (None for success); `context` says what was asked."""
        raise NotImplementedError

    def _classifier(self, context: str | None = None) -> Classifier:
        def classify(response: requests.Response) -> AdapterError | None:
            return self.classify(response, context)

        return classify

    def _request(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        context: str | None = None,
        idempotent: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return self.api.request(
            method,
            url,
            classify=self._classifier(context),
            idempotent=idempotent,
            json=body,
            headers=headers,
        )

    def _get(self, url: str, context: str | None = None) -> dict[str, Any]:
        return json_object(self._request("GET", url, context=context))

    def _all(self, url: str, context: str | None = None) -> list[dict[str, Any]]:
        return list(self.api.pages(url, classify=self._classifier(context)))


def odata_url(base: str, path: str, query: Mapping[str, str] | None = None) -> str:
    """`base/path?query` with OData's `$`, quotes and parentheses left readable."""
    url = f"{base}/{path}"
    if query:
        url += "?" + urlencode(query, quote_via=quote, safe="$'(),")
    return url


def odata_error(response: requests.Response) -> tuple[str, str]:
    """(code, message) of the OData error envelope, without Business Central's trailing
    "CorrelationId: <guid>." (it means nothing to a coordinator); ("", "") if there is none."""
    error = json_object(response).get("error")
    if not isinstance(error, dict):
        return "", ""
    message = re.sub(
        r"\s+CorrelationId:\s+[0-9a-fA-F-]+\.?\s*$", "", str(error.get("message") or "")
    )
    return str(error.get("code") or ""), message


def json_object(response: requests.Response) -> dict[str, Any]:
    """The answer's JSON object, or {} when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class BearerApi:
    """Requests to one Microsoft API with an Entra token, and OData paging."""

    def __init__(
        self, http: HttpClient, entra: EntraClient, headers: Mapping[str, str] | None = None
    ) -> None:
        self.http = http
        self.entra = entra
        self.headers = {"Accept": "application/json", **(headers or {})}

    def __repr__(self) -> str:
        return f"<BearerApi {self.http.type.key}>"

    def request(
        self,
        method: str,
        url: str,
        *,
        classify: Classifier,
        idempotent: bool = True,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send with a bearer token; when the API answers 401, renew the token once.

        A cached token can be refused before its stated expiry (revoked, or the app's
        registration changed), and a fresh one is cheap to try; a second 401 is the answer.
        """
        for renewed in (False, True):
            token = self.entra.token()
            all_headers = {**self.headers, **(headers or {}), "Authorization": f"Bearer {token}"}
            statuses: list[int] = []

            def noting(
                response: requests.Response, statuses: list[int] = statuses
            ) -> AdapterError | None:
                statuses.append(response.status_code)
                return classify(response)

            try:
                return self.http.request(
                    method,
                    url,
                    classify=noting,
                    idempotent=idempotent,
                    json=json,
                    headers=all_headers,
                )
            except AdapterError:
                if renewed or not statuses or statuses[-1] != 401:
                    raise
                self.entra.invalidate()
        raise AssertionError("unreachable")

    def pages(self, url: str, *, classify: Classifier) -> Iterator[dict[str, Any]]:
        """Every item of an OData collection, following `@odata.nextLink` to the end."""
        host = urlsplit(url).hostname
        next_url: str | None = url
        while next_url:
            body = json_object(self.request("GET", next_url, classify=classify))
            yield from body.get("value") or []
            next_url = body.get("@odata.nextLink")
            if next_url and urlsplit(next_url).hostname != host:
                # The next page must come from the same host; http.py would refuse other
                # hosts anyway, but a same-type host switch is just as unexpected.
                raise TransientError(
                    Text(
                        "Svaret pekte videre til en annen adresse. Ledgerlink stoppet.",
                        "The answer pointed on to another address. Ledgerlink stopped.",
                    ),
                    provider_code="next_link",
                )


def odata_quote(value: str) -> str:
    """A string literal for `$filter`: single quotes doubled, as OData requires."""
    return "'" + value.replace("'", "''") + "'"
