# SPDX-License-Identifier: MIT
"""A loopback /ingest endpoint that applies Grafana Pyroscope's documented ingest rules.

Written from Pyroscope's ingest handler, label set parser, validation and limits (read,
not copied): what a real server would file, and what it would refuse, for a request of
`ember agent --push`. Rules, each with the answer Pyroscope gives:

- name: everything before '{' (trimmed) is the service name, of [A-Za-z0-9_./-] (else 400);
  inside, key=value pairs split at ',' up to '}', keys (trimmed) of [A-Za-z0-9_.] (else
  400), except __name__, which replaces the service name. Labels named __* are dropped.
- series: __name__=process_cpu, __delta__, service_name, pyroscope_spy, the labels of the
  name, and per group of samples the string sample labels not set already (numeric
  labels are not series labels). Each series: at most max_label_names (30) names, legacy
  Prometheus names ([a-zA-Z_][a-zA-Z0-9_]*), UTF-8 values of at most 2048 bytes, no
  duplicate names (else 400).
- tenant: with multi_tenant, a request without X-Scope-OrgID is answered 401.
- limits: uncompressed body over max_bytes (4 MiB) or over max_samples (16,000) samples:
  400; over the ingestion burst (2 MiB): 429, however often it is sent again; a profile
  that starts more than reject_older_than (1 h) ago: 400.
- plan(receiver, request): a test's hook answering a status of its choosing (422, 429,
  401...) before the rules run; None lets the rules decide.

Accepted requests are in .filed (tenant, service name, series, the decoded profile), in
the order they came; refused ones in .refused with the status and the reason.
"""
import gzip
import http.server
import re
import threading
import time
import urllib.parse

SERVICE_RUNES = re.compile(r"^[A-Za-z0-9_./-]+$")
LABELSET_NAME_RUNES = re.compile(r"^[A-Za-z0-9_.]+$")
PROM_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class Refused(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status, self.reason = status, reason


def parse_name(name):
    """Pyroscope's label set parser: {label: value} with the service name as __name__."""
    labels, state, key, value = {}, "name", "", ""
    for r in name + "{":
        if state == "name":
            if r == "{":
                state = "key"
                svc = value.strip()
                if not svc or not SERVICE_RUNES.match(svc):
                    raise Refused(400, "invalid service name %r" % svc)
                labels["__name__"] = svc
            else:
                value += r
        elif state == "key":
            if r == "}":
                state = "done"
            elif r == "=":
                state, value = "value", ""
            else:
                key += r
        elif state == "value":
            if r in ",}":
                state = "key"
                k = key.strip()
                if k != "__name__" and (not k or not LABELSET_NAME_RUNES.match(k)):
                    raise Refused(400, "invalid label name %r" % k)
                labels[k] = value.strip()
                key = ""
            else:
                value += r
    return labels


def series_base(labels, spy):
    """The series labels Pyroscope builds from the name (a list: duplicates are kept)."""
    out = [("__name__", "process_cpu"), ("__delta__", "false"),
           ("service_name", labels.get("__name__", "")), ("pyroscope_spy", spy)]
    out += [(k, v) for k, v in labels.items() if not k.startswith("__")]
    return out


def validate_series(ls, max_label_names):
    if len(ls) > max_label_names:
        raise Refused(400, "series has %d label names; limit %d" % (len(ls), max_label_names))
    names = [k for k, _ in ls]
    if len(set(names)) != len(names):
        raise Refused(400, "duplicate label names %r" % sorted(names))
    if not dict(ls).get("service_name"):
        raise Refused(400, "service name is not provided")
    for k, v in ls:
        if k.startswith("__"):
            continue
        if len(k) > 1024 or not PROM_LABEL_NAME.match(k):
            raise Refused(400, "invalid label name %r" % k)
        if len(v.encode()) > 2048:
            raise Refused(400, "label value too long: %r" % v[:40])


class PyroscopeReceiver:
    def __init__(self, profile_class, port=0, multi_tenant=False, max_bytes=4 << 20,
                 max_samples=16000, burst_bytes=2 << 20, reject_older_than=3600,
                 max_label_names=30, plan=None, requests=None):
        self.Profile = profile_class
        self.multi_tenant, self.max_bytes, self.max_samples = multi_tenant, max_bytes, max_samples
        self.burst_bytes, self.reject_older_than = burst_bytes, reject_older_than
        self.max_label_names, self.plan = max_label_names, plan
        self.requests = [] if requests is None else requests  # every request, in order
        self.filed, self.refused = [], []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                url = urllib.parse.urlparse(self.path)
                req = {"path": url.path, "query": dict(urllib.parse.parse_qsl(url.query)),
                       "tenant": self.headers.get("X-Scope-OrgID"),
                       "auth": self.headers.get("Authorization"), "body": body,
                       "at": time.time()}
                with outer.lock:
                    req["index"] = len(outer.requests)
                    outer.requests.append(req)
                    try:
                        status = outer.plan(outer, req) if outer.plan else None
                        if status is not None:
                            raise Refused(status, "planned answer")
                        outer._apply_rules(req)
                        status, text = 200, ""
                    except Refused as e:
                        status, text = e.status, e.reason
                        req["status"] = status
                        outer.refused.append(dict(req, reason=text))
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        class Server(http.server.HTTPServer):
            allow_reuse_port = True

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _apply_rules(self, req):
        q = req["query"]
        if req["path"] != "/ingest":
            raise Refused(404, "no such path")
        if self.multi_tenant and not req["tenant"]:
            raise Refused(401, "no org id")
        labels = parse_name(q.get("name", ""))
        raw = req["body"]
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        if self.max_bytes and len(data) > self.max_bytes:
            raise Refused(400, "profile size %d over %d" % (len(data), self.max_bytes))
        prof = self.Profile(data)
        if self.max_samples and len(prof.samples) > self.max_samples:
            raise Refused(400, "%d samples over %d" % (len(prof.samples), self.max_samples))
        if self.burst_bytes and len(data) > self.burst_bytes:
            raise Refused(429, "ingestion rate limit: %d bytes over the burst" % len(data))
        start_s = prof.time_ns / 1e9 if prof.time_ns else float(q.get("from", 0))
        if self.reject_older_than and start_s < time.time() - self.reject_older_than:
            raise Refused(400, "profile from %.0f is older than %d s" %
                          (start_s, self.reject_older_than))
        base = series_base(labels, q.get("spyName", "unknown"))
        series = set()
        for s in prof.samples:
            ls = list(base)
            have = set(k for k, _ in ls)
            for k, v in s["labels"].items():
                if isinstance(v, str) and v and k not in have:
                    ls.append((k, v))
            validate_series(ls, self.max_label_names)
            series.add(tuple(sorted(ls)))
        req.update(status=200, service_name=dict(base)["service_name"], profile=prof,
                   name_labels=dict((k, v) for k, v in labels.items() if k != "__name__"),
                   series=series)
        self.filed.append(req)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
