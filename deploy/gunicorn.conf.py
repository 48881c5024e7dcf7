"""gunicorn configuration for minyi (docs/deployment.md).

    gunicorn -c deploy/gunicorn.conf.py config.wsgi:application

Every value can be overridden from the environment (GUNICORN_BIND, GUNICORN_WORKERS, GUNICORN_THREADS,
GUNICORN_TIMEOUT, FORWARDED_ALLOW_IPS) or on the command line.

The client address. minyi's rate limits and login lockout read REMOTE_ADDR. Behind nginx, REMOTE_ADDR
would be nginx's own address, and gunicorn does not take it from a header by itself. The `pre_request`
hook below sets it from the X-Real-IP header, but only when the connection comes from a trusted proxy
(`forwarded_allow_ips`: 127.0.0.1 and ::1 unless FORWARDED_ALLOW_IPS says otherwise) and the header holds
one valid IP address. nginx must overwrite the header on every request (`proxy_set_header X-Real-IP
$remote_addr;`, deploy/nginx/minyi.conf), so a client cannot choose its own address.
"""

from __future__ import annotations

import ipaddress
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Two or more processes; a process that dies is replaced, so one bad request never takes the site down.
workers = int(os.environ.get("GUNICORN_WORKERS", max(2, multiprocessing.cpu_count() * 2 + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle processes now and then: caps the cost of any slow leak.
max_requests = 2000
max_requests_jitter = 200
# Import the application once in the master, so workers fork with it loaded (faster, less memory).
preload_app = True
# Request size limits (nginx enforces the body size: client_max_body_size).
limit_request_line = 8190
limit_request_fields = 100

# Trusted proxies: those whose X-Forwarded-Proto and X-Real-IP headers are believed.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Logs go to stdout/stderr (journald under systemd). The access log leaves out the query string
# (%(U)s is the path only: tracking lookups carry the query code there) and the client address:
# personal data never goes into minyi's logs.
accesslog = "-"
errorlog = "-"
access_log_format = '%(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
proc_name = "minyi"
# No runtime control socket (gunicorn 25+): two instances on one host would fight over its default path.
control_socket_disable = True


def _trusted(req, allowed) -> bool:
    peer = getattr(req, "peer_addr", None)
    if not isinstance(peer, tuple):  # a unix socket: only local processes (nginx) can connect
        return True
    if "*" in allowed:
        return True
    try:
        address = ipaddress.ip_address(peer[0])
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net.strip(), strict=False) for net in allowed if net.strip())


def client_address(req, allowed) -> str | None:
    """The client IP that a trusted proxy put in X-Real-IP, or None to keep the peer address."""
    if getattr(req, "proxy_protocol_info", None) or not _trusted(req, allowed):
        return None
    values = [value for name, value in req.headers if name == "X-REAL-IP"]
    if len(values) != 1:  # absent, or ambiguous
        return None
    try:
        return str(ipaddress.ip_address(values[0].strip()))
    except ValueError:
        return None


def pre_request(worker, req):
    allowed = worker.cfg.forwarded_allow_ips
    if isinstance(allowed, str):
        allowed = allowed.split(",")
    address = client_address(req, allowed)
    if address is not None:
        # gunicorn copies proxy_protocol_info into the WSGI environ (REMOTE_ADDR) for this request only.
        req.proxy_protocol_info = {
            "proxy_protocol": "X-Real-IP",
            "client_addr": address,
            "client_port": 0,
            "proxy_addr": req.peer_addr[0] if isinstance(req.peer_addr, tuple) else "unix",
            "proxy_port": req.peer_addr[1] if isinstance(req.peer_addr, tuple) else 0,
        }
