"""moto's server for the gatekeeper's tests and demo.

    python moto_server.py PORT

Differences from plain `moto_server`:
- TCP_NODELAY on accepted sockets (werkzeug writes headers and body in two sends; with Nagle on, a
  kept-alive client's delayed ACK stalls every response ~40 ms, which no AWS endpoint does);
- DynamoDB writes hold one lock, so that a conditional write is atomic as it is in AWS (moto's
  threaded server otherwise lets two parallel writers both pass the same condition), and so does the
  read of the old item that UpdateItem returns with ReturnValues=ALL_OLD;
- the server exits when its standard input closes, so that it never outlives the test process or
  demo that started it.
"""

import os
import socket
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server import werkzeug_app
from moto.server import main

_setup = werkzeug_app.MotoRequestHandler.setup


def _setup_nodelay(self):
    _setup(self)
    try:
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


_WRITE_LOCK = threading.RLock()


def _atomic(method):
    def locked(*args, **kwargs):
        with _WRITE_LOCK:
            return method(*args, **kwargs)

    return locked


# The backend's writes and the handlers around them: moto's UpdateItem handler reads the item for
# ReturnValues=ALL_OLD before it calls the backend, so two parallel updates could both see the old item.
for _cls in (DynamoDBBackend, DynamoHandler):
    for _name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        setattr(_cls, _name, _atomic(getattr(_cls, _name)))


def _exit_with_parent():
    try:
        sys.stdin.read()
    finally:
        os._exit(0)


werkzeug_app.MotoRequestHandler.setup = _setup_nodelay
threading.Thread(target=_exit_with_parent, daemon=True).start()
main(["-H", "127.0.0.1", "-p", sys.argv[1]])
