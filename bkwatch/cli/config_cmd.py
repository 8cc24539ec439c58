"""config show / path / init."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from bkwatch import config
from bkwatch.cli.common import EXIT_ERROR, EXIT_FAILED, EXIT_OK, err, load_cli_profile, table
from bkwatch.config import Profile
from bkwatch.text import one_line

CONFIG_TEMPLATE = """\
# bkwatch configuration. Environment variables override what is set here:
#   BK_COMPONENT_API_URL, BK_API_URL_TMPL, BK_APP_CODE, BK_APP_SECRET, BK_USERNAME, BK_TOKEN,
#   BKWATCH_PROFILE (which profile), BKWATCH_INSECURE=1 (no TLS verification),
#   BKWATCH_MAX_RESPONSE_MB (largest answer accepted), BKWATCH_ALLOW_ACTIONS=1 (task operations).
# This file holds secrets: keep it readable by you only (chmod 600).

default_profile = "prod"

[profiles.prod]
# ESB ("compapi") base URL of the PaaS:
# esb_url = "https://paas.example.com"
# API gateway URL template; {api_name} is replaced by the gateway name:
# apigw_tmpl = "https://bkapi.example.com/api/{api_name}"
# app_code = "bkwatch"
# app_secret = ""
# username = "admin"      # for apps allowed to skip user login; or use token
# token = ""              # a bk_token
# stage = "prod"
# nodeman_api = "v2"      # "v2" (api/job/details) or "v1" (get_task_info)
# default_biz = 2         # business for pasted links that carry none (JOB api_execute, NodeMan 1.x)
# verify = true
# ca_bundle = "/etc/ssl/certs/internal-ca.pem"
# timeout = 10.0
# max_response_mb = 64    # larger answers are refused (bad_response) instead of read
# allow_actions = false   # true: retry / skip / confirm / stop / pause / resume tasks
# record = true           # keep what was watched (bkwatch report, hosts --flaky); --no-record
# record_days = 30        # the record keeps this many days
# record_max_mb = 200     # and is pruned, oldest tasks first, past this size

# [profiles.prod.gateways]
# job = "bk-job"
# sops = "bk-sops"
# bkflow = "bk-flow-engine"
# nodeman = "bk-nodeman"
"""


def cmd_config(args: argparse.Namespace) -> int:
    path = config.config_path()
    action = args.config_command
    if action == "path":
        print(path)
        return EXIT_OK
    if action == "init":
        return _init(path)
    profile = load_cli_profile(args)  # warns when the file is readable by others
    print(f"config file: {path}" + ("" if path.exists() else " (not found)"))
    own = ("BKWATCH_PROFILE", "BKWATCH_INSECURE", config.MAX_RESPONSE_ENV, config.ALLOW_ACTIONS_ENV)
    overrides = [v for v in (*config.ENV_MAP, *own) if os.environ.get(v)]
    print(
        "environment overrides: "
        + (", ".join(overrides) if overrides else "none")
        + f"  (recognised: {', '.join((*config.ENV_MAP, *own))})"
    )
    shown = config.mask(profile)
    rows = [
        [
            f"  {k}",
            one_line(json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else "-" if v is None else v),
        ]
        for k, v in shown.items()
    ]
    rows.append(["  esb_credentials", _esb_credentials(profile)])
    print(f"profile: {profile.name}")
    print(table(rows))
    return EXIT_OK


def _esb_credentials(profile: Profile) -> str:
    """Where ESB calls carry the credentials, as remembered in the data directory."""
    # lazy: only `config show` reads it (with orjson: about 15 ms more for `config path` / `init`)
    from bkwatch.esb_auth import FILE_NAME, default_memory

    if not profile.esb_url:
        return "-"
    memory = default_memory()
    if memory.mode(profile.name, profile.esb_url) == "header":
        return "X-Bkapi-Authorization header"
    since = memory.since(profile.name, profile.esb_url)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(since)) if since else "earlier"
    return (
        f"JSON body of a POST (this ESB ignored the header on {when}; "
        f"delete {FILE_NAME} in the data directory to try the header again)"
    )


def _init(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (FileExistsError, NotADirectoryError):
        if path.exists():
            err(f"error: {path} already exists; not overwritten")
            return EXIT_FAILED
        # Not the file itself: a file stands where a directory of the path should be.
        err(f"error: cannot create {path}: a parent of it is a file, not a directory")
        return EXIT_ERROR
    except OSError as exc:
        err(f"error: cannot create {path}: {exc.strerror or exc}")
        return EXIT_ERROR
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(CONFIG_TEMPLATE)
    except OSError as exc:  # a full disk: leave no half-written template behind
        path.unlink(missing_ok=True)
        err(f"error: cannot write {path}: {exc.strerror or exc}")
        return EXIT_ERROR
    print(f"wrote {path} (mode 600); edit it, then run: bkwatch config show")
    return EXIT_OK
