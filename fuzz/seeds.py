"""Seeds each fuzz target's corpus from real traffic: the project's own fixtures, the Jira
Cloud exchanges and webhooks in ../shared/fixtures when that folder is present, and a few
hand-written inputs (tokens, templates, texts with secrets) generated here.

    python3 fuzz/seeds.py OUT_DIR      writes OUT_DIR/<target>/seed-NNNN
"""

import base64
import glob
import hashlib
import hmac
import json
import os
import sys
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "fixtures")
SECRET = b"fuzz-shared-secret-0123456789abcdef"  # the connect_jwt target's secret


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def adf_values(value, out):
    """Every ADF document (a `{"type": "doc", ...}` object) inside a JSON value."""
    if isinstance(value, dict):
        if value.get("type") == "doc":
            out.append(value)
        for v in value.values():
            adf_values(v, out)
    elif isinstance(value, list):
        for v in value:
            adf_values(v, out)
    return out


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(header, claims, secret=SECRET):
    signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    sig = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64(sig)


def qsh(method, path, query):
    pairs = sorted(
        (urllib.parse.quote(urllib.parse.unquote(k), safe="-._~"), urllib.parse.quote(urllib.parse.unquote(v), safe="-._~"))
        for k, _, v in (p.partition("=") for p in query.split("&") if p)
        if k != "jwt"
    )
    q = "&".join(f"{k}={v}" for k, v in pairs)
    return hashlib.sha256(f"{method.upper()}&{path}&{q}".encode()).hexdigest()


def seeds():
    s = {t: [] for t in ("jira_webhook", "forge_event", "connect_jwt", "qsh", "adf", "template", "redact", "findings_batch")}

    hooks = sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/jira-webhooks/*.json")))
    hooks += sorted(glob.glob(os.path.join(SHARED, "jira-webhooks/**/*.json"), recursive=True))
    for path in hooks:
        doc = load(path)
        if isinstance(doc, dict) and isinstance(doc.get("events"), dict):
            payloads = []
            for v in doc["events"].values():
                payloads += v if isinstance(v, list) else [v]
        else:
            payloads = [doc]
        for p in payloads:
            s["jira_webhook"].append(json.dumps(p))
            s["adf"] += [json.dumps(d) for d in adf_values(p, [])]
            comment = p.get("comment") if isinstance(p, dict) else None
            body = comment.get("body") if isinstance(comment, dict) else None
            if isinstance(body, str):
                s["redact"].append(body)

    # Forge Remote bodies in Atlassian's documented shapes, and each webhook payload's issue and
    # comment carried the Forge way.
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/forge-events/*.json"))):
        s["forge_event"].append(json.dumps(load(path)))
    for raw in s["jira_webhook"][:40]:
        p = json.loads(raw)
        if not isinstance(p, dict) or not isinstance(p.get("issue"), dict):
            continue
        kind = "avi:jira:commented:issue" if "comment" in p else "avi:jira:updated:issue"
        forge = {"eventType": kind, "atlassianId": (p.get("user") or {}).get("accountId"), "issue": p["issue"]}
        for k in ("comment", "changelog"):
            if k in p:
                forge[k] = p[k]
        s["forge_event"].append(json.dumps({"payload": forge}))

    for path in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/findings/*.json"))):
        doc = load(path)
        if "cases" in doc:
            s["findings_batch"] += [c["raw"] for c in doc["cases"] if isinstance(c.get("raw"), str)]
        else:
            s["findings_batch"].append(json.dumps(doc))

    rest = os.path.join(SHARED, "jira-rest/jira-cloud-rest-exchanges.json")
    if os.path.exists(rest):
        for ex in load(rest):
            s["qsh"].append(f"{ex['method']}\n{ex['path']}\n{ex.get('query') or ''}")
            s["adf"] += [json.dumps(d) for d in adf_values(ex.get("response_body"), [])]
            s["adf"] += [json.dumps(d) for d in adf_values(ex.get("request_body"), [])]
    s["qsh"] += [
        "POST\n/webhooks/jira\nissueKey=SEC-1&lic=none",
        "GET\n/admin/page\nxdm_e=https%3A%2F%2Fsite.atlassian.net&cp=&jwt=abc&lic=none&a=1&a=2",
        "get\n/path/with&amp/\nb=%20x&a=~&c",
    ]

    claims = {"iss": "site-client-key", "exp": 4102444800, "qsh": qsh("POST", "/webhooks/jira", "issueKey=SEC-1&lic=none")}
    s["connect_jwt"] += [
        "JWT " + jwt({"alg": "HS256", "typ": "JWT"}, claims),
        "JWT " + jwt({"alg": "HS256"}, dict(claims, qsh="context-qsh")),
        "jwt " + jwt({"alg": "HS256"}, dict(claims, exp=1)),
        "JWT " + jwt({"alg": "HS256"}, {"iss": "x", "exp": 4102444800}),
        "Bearer " + jwt({"alg": "HS256"}, {"exp": 4102444800, "aud": "fuzz-client-id"}),
        "JWT " + jwt({"alg": "RS256", "kid": "k1"}, claims),
        "JWT " + jwt({"alg": "none"}, claims),
        "JWT a.b.c",
    ]

    full = "## {{title}}\n{{#description}}\n{{description}}\n{{/description}}\n- Severity: {{severity}}\n```\n{{code}}\n```\n"
    s["template"] += [
        full + "\0Title\nSome *description*\nhigh\nlet x = 1;",
        "{{#a}}{{b}}{{/a}}\0" + "x" * 40 + "\n" + "y" * 40,
        "{{unknown}}\0",
        "plain paragraph\n\n- one\n- two\n## head\0a",
    ]
    texts = [
        "Fixed in PR #42; rotated key AKIAIOSFODNN7EXAMPLE and password=hunter2 removed.",
        "token ghp_0123456789abcdefghijABCDEFGHIJ012345 leaked; see https://site.atlassian.net/wiki/spaces/SEC/pages/123456/Risk+acceptance",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "api_key: 'sk_live_51HfQ2x0123456789abcdef' and db_password = \"S3cr3t!\"",
        "Won't fix: accepted by the CISO until 2027-01-31 (risk record RISK-7).",
    ]
    s["redact"] += texts
    s["adf"] += texts
    threads = load(os.path.join(ROOT, "tests/fixtures/closing-threads/threads.json"))["threads"]
    for thread in threads[:60]:
        comments = [c.get("body", "") if isinstance(c, dict) else str(c) for c in thread["comments"]]
        if comments:
            s["redact"].append("\n".join(comments))
    s["adf"].append(json.dumps({
        "type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [
                {"type": "text", "text": "Accepted, see "},
                {"type": "text", "text": "the record", "marks": [{"type": "link", "attrs": {"href": "https://site.atlassian.net/wiki/spaces/SEC/pages/42"}}]},
                {"type": "inlineCard", "attrs": {"url": "https://site.atlassian.net/browse/SEC-1"}},
                {"type": "mention", "attrs": {"id": "557058:abc", "text": "@Ana"}},
                {"type": "hardBreak"}]},
            {"type": "bulletList", "content": [{"type": "listItem", "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "item"}]}]}]},
            {"type": "codeBlock", "content": [{"type": "text", "text": "password=x"}]}]}))
    return s


def main():
    out = sys.argv[1]
    for target, items in seeds().items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for i, item in enumerate(items):
            with open(os.path.join(d, f"seed-{i:04d}"), "w", encoding="utf-8") as f:
                f.write(item)
        print(f"{target}: {len(items)} seeds")


if __name__ == "__main__":
    main()
