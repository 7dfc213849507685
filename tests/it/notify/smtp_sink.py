"""A real SMTP server for the notification tests (aiosmtpd): plain, STARTTLS or implicit TLS
(`--implicit`, SMTPS), optional AUTH,
optionally refusing every message. Prints `PORT <n>` once listening, then one JSON line per
message received: {"from", "to", "data", "tls", "user"}."""
import argparse, json, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

p = argparse.ArgumentParser()
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--auth")
p.add_argument("--refuse", action="store_true")
p.add_argument("--implicit", action="store_true")
a = p.parse_args()


def user_of(session):
    data = getattr(session, "auth_data", None)
    if isinstance(data, LoginPassword):
        return data.login.decode()
    return None


class Handler:
    async def handle_DATA(self, server, session, envelope):
        if a.refuse:
            return "554 5.7.1 refused by test server"
        print(json.dumps({
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "data": envelope.content.decode("utf8", "replace"),
            # STARTTLS sets session.ssl; implicit TLS only shows on the transport.
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "user": user_of(session),
        }), flush=True)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    user, pw = a.auth.split(":", 1)
    if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == pw:
        return AuthResult(success=True, auth_data=auth_data)
    return AuthResult(success=False, handled=False)


kw = {}
if a.cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
    if a.implicit:
        kw["ssl_context"] = ctx
    else:
        kw["tls_context"] = ctx
        kw["require_starttls"] = True
if a.auth:
    kw["authenticator"] = authenticator
    # aiosmtpd only knows of STARTTLS here; with implicit TLS every byte is encrypted anyway.
    kw["auth_require_tls"] = bool(a.cert) and not a.implicit
    kw["auth_required"] = True
# aiosmtpd's Controller cannot bind port 0 (it connects to its own port to check it started):
# take a free port from the kernel first.
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
c = Controller(Handler(), hostname="127.0.0.1", port=port, **kw)
c.start()
print("PORT %d" % port, flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    c.stop()
