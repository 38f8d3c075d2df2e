"""Peer server for the Hearth benchmark (bench/): the classic Flask-SocketIO
chat room, as the tutorials build it. No auth, no persistence, one process.

Protocol (Socket.IO v4 over Engine.IO v4, path /socket.io/, namespace "/"):
  join  <room>          -> the socket joins the room, ack true
  leave <room>          -> the socket leaves the room, ack true
  send  {room, text}    -> emit "message" {room, text} to everyone in the room,
                           the sender included

Usage: python app.py [--port N]   (default 5000, always binds 127.0.0.1)

Each connected client holds two file descriptors in this process
(simple-websocket dups the socket): raise `ulimit -n` above 2 x clients.

Why gevent: Flask-SocketIO's documentation lists threading, gevent and
eventlet, and says eventlet "is not actively maintained anymore, so gevent
should be preferred"; its deployment section names the gevent server that
socketio.run() starts as production-ready (the threading mode would run on
the Werkzeug development server, which it says is not for production).
WebSocket under gevent: python-engineio uses gevent-websocket if installed and
otherwise falls back to simple-websocket, its own dependency; gevent-websocket
has had no release since 2017, so only simple-websocket is installed.
"""

import argparse

import gevent
from flask import Flask
from flask_socketio import SocketIO, emit, join_room, leave_room

HOST = "127.0.0.1"

app = Flask(__name__)
# async_mode is explicit so that a missing gevent fails loudly instead of
# silently falling back to threading. logger/engineio_logger stay off (the
# defaults): no per-event or per-connection logging.
socketio = SocketIO(app, async_mode="gevent", cors_allowed_origins="*",
                    logger=False, engineio_logger=False)


@socketio.on("join")
def on_join(room):
    join_room(room)
    return True  # the handler's return value is the ack


@socketio.on("leave")
def on_leave(room):
    leave_room(room)
    return True


@socketio.on("send")
def on_send(data):
    # to=room includes the sender (include_self defaults to True).
    room = data["room"]
    emit("message", {"room": room, "text": data["text"]}, to=room)


def announce(port):
    # socketio.run() creates socketio.wsgi_server and binds inside
    # serve_forever(); print the ready line only once it is really listening
    # (gevent sets .started right after bind + listen).
    while True:
        server = getattr(socketio, "wsgi_server", None)
        if server is not None and server.started:
            break
        gevent.sleep(0.01)
    mode = socketio.server.eio.async_mode  # what the server really runs on
    print(f"listening on {HOST}:{port} (async_mode={mode})", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    gevent.spawn(announce, args.port)
    # log_output=False: gevent's WSGI server writes no access-log line per
    # request (it already defaults to app.debug, which is False; said here
    # for clarity).
    socketio.run(app, host=HOST, port=args.port, log_output=False)
