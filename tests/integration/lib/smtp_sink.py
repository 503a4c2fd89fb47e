# smtp_sink.py — a real SMTP server (aiosmtpd) on 127.0.0.1 for the email channel's tests:
# STARTTLS required with the given certificate, AUTH LOGIN/PLAIN with one user. Prints
# "PORT n" when ready, then one JSON line per message received: {from, to, data}.
#   python3 smtp_sink.py CERT KEY USER PASSWORD
import asyncio
import json
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cert, key, user, password = sys.argv[1:5]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        print(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                          "data": envelope.content.decode("utf-8", "replace")}), flush=True)
        return "250 OK queued"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
        and auth_data.password.decode() == password
    return AuthResult(success=ok)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
sock.close()
controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context,
                        require_starttls=True, authenticator=authenticator, auth_required=True,
                        server_hostname="localhost")
controller.start()
print(f"PORT {port}", flush=True)
try:
    asyncio.get_event_loop().run_until_complete(asyncio.Event().wait())
except KeyboardInterrupt:
    pass
finally:
    controller.stop()
