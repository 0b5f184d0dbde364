"""moto's server for the gatekeeper's tests and demo.

    python moto_server.py PORT

Differences from plain `moto_server`:
- TCP_NODELAY on accepted sockets (werkzeug writes headers and body in two sends; with Nagle on, a
  kept-alive client's delayed ACK stalls every response ~40 ms, which no AWS endpoint does);
- DynamoDB writes hold one lock, so that a conditional write is atomic as it is in AWS (moto's
  threaded server otherwise lets two parallel writers both pass the same condition), and so does the
  read of the old item that UpdateItem returns with ReturnValues=ALL_OLD;
- SQS message calls hold another lock, so that each is atomic as it is in AWS (moto's DeleteMessage
  rebuilds the queue's message list unlocked: two pollers deleting at once could bring a deleted
  message back, hidden for its visibility timeout, and a send landing meanwhile could be dropped;
  two parallel receives could hand out one message twice). A long-polling receive would hold the
  lock while it waits: the tests and demo receive with WaitTimeSeconds 0;
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
from moto.sqs.models import SQSBackend

_setup = werkzeug_app.MotoRequestHandler.setup


def _setup_nodelay(self):
    _setup(self)
    try:
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


_WRITE_LOCK = threading.RLock()
_SQS_LOCK = threading.RLock()


def _atomic(method, lock=_WRITE_LOCK):
    def locked(*args, **kwargs):
        with lock:
            return method(*args, **kwargs)

    return locked


# The backend's writes and the handlers around them: moto's UpdateItem handler reads the item for
# ReturnValues=ALL_OLD before it calls the backend, so two parallel updates could both see the old item.
for _cls in (DynamoDBBackend, DynamoHandler):
    for _name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        setattr(_cls, _name, _atomic(getattr(_cls, _name)))

# Every call that reads and rewrites a queue's messages (EventBridge and SNS deliver through
# send_message too).
for _name in (
    "send_message",
    "send_message_batch",
    "receive_message",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
):
    setattr(SQSBackend, _name, _atomic(getattr(SQSBackend, _name), _SQS_LOCK))


def _exit_with_parent():
    try:
        sys.stdin.read()
    finally:
        os._exit(0)


werkzeug_app.MotoRequestHandler.setup = _setup_nodelay
threading.Thread(target=_exit_with_parent, daemon=True).start()
main(["-H", "127.0.0.1", "-p", sys.argv[1]])
