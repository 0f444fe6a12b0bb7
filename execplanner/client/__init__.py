"""A small client for an execplanner (or any IVOA ExecutionBroker) service, and the `execplanner ask` and
`execplanner sessions` commands built on it.

```python
from execplanner.client import BrokerClient

broker = BrokerClient("http://127.0.0.1:8080", token=None)
offerset = broker.ask(open("request.yaml", "rb").read(), "application/yaml")
if offerset.result == "YES":
    session = broker.accept(offerset.offers[0].uuid)
```
"""

from execplanner.client.broker import BrokerClient, Page
from execplanner.client.views import OfferSetView, SessionView

__all__ = ["BrokerClient", "OfferSetView", "Page", "SessionView"]
