"""Deterministic, lazily generated logs: JOB script and file-transfer logs, SOPS node logs,
NodeMan install logs.

Nothing is stored per host: a log is a pure function of (seed, who, execute_count, size), built
when asked for and kept in a small LRU cache, so 10,000 hosts with 5 MB logs cost nothing until
someone reads one. A running host shows a prefix of its log that grows with its progress; a
failing host's log ends in one of `ERROR_KINDS`, whose varying parts (addresses, ports, paths,
line numbers, durations) really vary from host to host.
"""

from __future__ import annotations

import random
import time
from functools import lru_cache

ERROR_KINDS = ("conn_refused", "perm_denied", "no_space", "cmd_not_found", "timeout")
FILE_ERROR_KINDS = ("conn_refused", "perm_denied", "no_space", "timeout")
# JOB host statuses that are a timeout whatever the seed says.
TIMEOUT_STATUSES = {13, 16, 17, 102, 303}
MAX_LOG_BYTES = 5 * 1024 * 1024

_WORDS = ["nginx", "gamesvr", "dbproxy", "redis", "kafka", "agentd", "配置中心", "订单服务"]
_PLAIN = [
    "INFO  checking disk usage of {p}: {n}% used",
    "INFO  downloading package app-{v}.tar.gz ({n}.{m} MB) from mirror {ip}",
    "INFO  unpacking {p} -> /data/app/releases/{h}",
    "INFO  rendering template {p}.j2 with {n} variables",
    "INFO  service {w} pid {pid} is listening on :{port}",
    "DEBUG env BK_ENV=prod BIZ_ID={n} HOST_ID={pid}",
    "INFO  正在检查服务状态：{w} 已运行 {n} 秒",
    "INFO  同步配置文件 {p} 完成，共 {n} 项",
    "INFO  校验 md5 {h}{h} 通过",
    "WARN  slow response from {ip}:{port} ({n} ms), continuing",
]
_COLOURED = [
    "\x1b[32m[ OK ]\x1b[0m {w} started",
    "\x1b[1;33mWARN\x1b[0m  cache {p} is {n}% full",
    "\x1b[36mstep {n}/{m}\x1b[0m \x1b[1mprepare {w}\x1b[0m",
]
# On purpose: a log is untrusted text. A clipboard write, a title change, a cursor move.
_HOSTILE = [
    "\x1b]52;c;cm0gLXJmIH4vKg==\x07clipboard written by the script",
    "\x1b]0;pwned by {w}\x07title changed",
    "\x1b[2J\x1b[Hscreen cleared \x1b]8;;http://evil.invalid\x07link\x1b]8;;\x07",
]


def _ip(r: random.Random) -> str:
    return f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"


def _path(r: random.Random) -> str:
    return f"/data/{r.choice(_WORDS[:6])}/{r.choice(['conf', 'lib', 'logs', 'bin'])}/{r.randrange(10**6):06d}"


@lru_cache(maxsize=4096)
def _second(t: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def _ts(t: float) -> str:
    return f"{_second(int(t))}.{int(t * 1000) % 1000:03d}"


def _line(r: random.Random, tpl: str) -> str:
    return (
        tpl.replace("{p}", _path(r))
        .replace("{ip}", _ip(r))
        .replace("{w}", r.choice(_WORDS))
        .replace("{h}", f"{r.getrandbits(32):08x}")
        .replace("{v}", f"{r.randrange(1, 4)}.{r.randrange(20)}.{r.randrange(50)}")
        .replace("{pid}", str(r.randrange(300, 65000)))
        .replace("{port}", str(r.randrange(1024, 65000)))
        .replace("{m}", str(r.randrange(1, 10)))
        .replace("{n}", str(r.randrange(100)))
    )


@lru_cache(maxsize=8)
def _pool(seed: str) -> tuple[str, ...]:
    """1,024 rendered lines shared by every log of one world: bodies sample them."""
    r = random.Random("pool:" + seed)
    pool = []
    for _ in range(1024):
        roll = r.random()
        if roll < 0.06:
            pool.append(_line(r, r.choice(_COLOURED)))
        elif roll < 0.065:
            # A very long line: a JSON dump some scripts print.
            pool.append('DEBUG response {"k": "' + "x" * r.randrange(2000, 9000) + '"}')
        else:
            pool.append(_line(r, r.choice(_PLAIN)))
    return tuple(pool)


@lru_cache(maxsize=16)
def _body(key: str, size: int) -> tuple[str, ...]:
    """The lines of a log body of about `size` bytes, without timestamps (stamped later, so one
    body serves every progress point), sampled from the world's pool: a 5 MB log costs tens of
    milliseconds, not seconds."""
    r = random.Random(key)
    pool = _pool(key.partition(":")[0])
    hostile = {
        r.randrange(5, 40): _line(r, _HOSTILE[0]),
        r.randrange(40, 200): _line(r, _HOSTILE[1]),
        r.randrange(200, 400): _line(r, _HOSTILE[2]),
    }
    if key.partition(":")[0].endswith(TAME):
        hostile = {}  # SimConfig(hostile=False): the demo's logs hold no escape-testing lines
    sizes = _pool_bytes(key.partition(":")[0])
    lines: list[str] = []
    used = 0
    bits = r.getrandbits
    while True:
        pick = bits(10)
        text = hostile.get(len(lines)) or pool[pick]
        add = (len(text.encode()) if len(lines) in hostile else sizes[pick]) + 28  # with its timestamp
        if used + add > size and lines:
            break
        lines.append(text)
        used += add
    return tuple(lines)


@lru_cache(maxsize=8)
def _pool_bytes(seed: str) -> tuple[int, ...]:
    return tuple(len(x.encode()) for x in _pool(seed))


TAME = "-tame"  # ends the seed part of a log key when the world has no hostile text


def job_log_key(seed: int | str, target: str, step_id: int, host_id: int, execute_count: int) -> str:
    return f"{seed}:{target}:{step_id}:{host_id}:{execute_count}"


def error_kind(key: str, status: int | None = None, kinds: tuple[str, ...] = ERROR_KINDS) -> str:
    """Which of `kinds` a failing host's log ends in (the simulator's ground truth)."""
    if status in TIMEOUT_STATUSES:
        return "timeout"
    return kinds[random.Random("kind:" + key).randrange(len(kinds))]


def error_lines(key: str, kind: str) -> list[str]:
    r = random.Random("err:" + key)
    script = f"/tmp/bkjob/{r.getrandbits(40):010x}/script_{r.randrange(10**6)}.sh"
    if kind == "conn_refused":
        return [
            f"curl: (7) Failed to connect to {_ip(r)} port {r.randrange(1024, 65000)}: Connection refused",
            f"ERROR deploy failed: upstream {_ip(r)}:{r.randrange(1024, 65000)} unreachable, exit code 7",
        ]
    if kind == "perm_denied":
        return [f"cp: cannot create regular file '{_path(r)}/app.yaml': Permission denied"]
    if kind == "no_space":
        return [
            f"tar: {_path(r)}/libcore.so.{r.randrange(9)}: Cannot write: No space left on device",
            "tar: Exiting with failure status due to previous errors",
        ]
    if kind == "cmd_not_found":
        return [f"{script}: line {r.randrange(3, 400)}: jq: command not found"]
    n = r.choice([30, 60, 120, 300, 600, 900])
    return [
        f"ERROR timed out after {n} seconds waiting for the health check on "
        f"{_ip(r)}:{r.randrange(1024, 65000)}"
    ]


def node_failure(key: str) -> str:
    """ex_data of a failed node with no message of its own: one of ERROR_KINDS."""
    return "作业执行失败: " + error_lines(key, error_kind(key))[-1]


def script_log(
    key: str, size: int, start: float, dur: float, progress: float, failed: str | None, done: bool
) -> str:
    """The log at `progress` (0..1) of a run of `dur` seconds that began at `start`."""
    lines = _body(key, max(256, min(size, MAX_LOG_BYTES)))
    n = len(lines)
    shown = n if done else min(n, int(n * max(0.0, progress)))
    step = dur / max(1, n)
    out = [f"[{_ts(start + i * step)}] {lines[i]}" for i in range(shown)]
    if done:
        end = start + dur
        if failed is None:
            out.append(f"[{_ts(end)}] \x1b[32mall done\x1b[0m, exit code 0")
        else:
            out.extend(f"[{_ts(end)}] {line}" for line in error_lines(key, failed))
    return "\n".join(out) + ("\n" if out else "")


def file_entries(key: str, ok: bool, running: bool, progress: float, failed: str | None) -> list[dict]:
    """file_logs[] of one target host: (src ip, src path, dest path, status, size, speed, progress)."""
    r = random.Random("file:" + key)
    out = []
    for name in ("app-release.tar.gz", "conf.tar.gz"):
        size_mb = r.randrange(1, 900) / 10
        src = {"bk_host_id": r.randrange(1, 99), "bk_cloud_id": 0, "ip": _ip(r)}
        pct = 100 if ok else (int(progress * 100) if running else r.randrange(5, 95))
        status = 4 if ok else (3 if running else 5)
        speed = f"{r.randrange(200, 90000)} KB/s" if running or ok else "0 KB/s"
        if ok:
            text = f"download success, md5 {r.getrandbits(64):016x} verified"
        elif running:
            text = "downloading"
        else:
            text = error_lines(key + name, failed or "no_space")[0]
        out.append(
            {
                "mode": 1,
                "src_ip": src,
                "src_path": f"/data/release/{r.randrange(10**5)}/{name}",
                "dest_path": f"/data/app/{name}",
                "status": status,
                "log_content": text,
                "size": f"{size_mb} MB",
                "speed": speed,
                "process": f"{pct}%",
            }
        )
    return out


NODEMAN_LINES = {
    0: ["选择接入点 default-ap", "检查 {ip} 网络连通性 ... ok"],
    1: ["下发安装脚本 setup_agent.sh 到 {ip}:/tmp/", "md5 {h} 校验通过"],
    2: [
        "执行安装脚本: bash /tmp/setup_agent.sh -i {n}",
        "[INFO] 解压 gse_agent-{n}.tgz",
        "[INFO] 启动 gse_agent",
    ],
    3: ["查询 Agent 状态", "agent pid {n} 心跳正常"],
    4: ["安装预置插件 bkmonitorbeat, processbeat", "插件启动成功"],
}


def nodeman_step_log(key: str, step: int, t: float, failed_desc: str | None) -> str:
    r = random.Random(f"nm:{key}:{step}")
    lines = [
        "[{}] {}".format(
            _ts(t + i * 0.7),
            tpl.replace("{ip}", _ip(r))
            .replace("{h}", f"{r.getrandbits(64):016x}")
            .replace("{n}", str(r.randrange(10**4))),
        )
        for i, tpl in enumerate(NODEMAN_LINES.get(step, ["..."]))
    ]
    if failed_desc is not None:
        lines.append(f"[{_ts(t + 3)}] [ERROR] {failed_desc}")
    return "\n".join(lines)


def node_log_lines(key: str, start: float, progress: float, done: bool, failed: str | None) -> list[str]:
    """SOPS node log: one entry per line (the API pages entries, 30 a page)."""
    r = random.Random("node:" + key)
    total = r.randrange(20, 140)
    shown = total if done else int(total * max(0.0, min(1.0, progress)))
    out = [
        f"[{_ts(start + i * 0.5)}] "
        + r.choice(_PLAIN)
        .replace("{p}", _path(r))
        .replace("{ip}", _ip(r))
        .replace("{w}", r.choice(_WORDS))
        .replace("{h}", f"{r.getrandbits(32):08x}")
        .replace("{v}", "1.0.0")
        .replace("{pid}", str(r.randrange(9999)))
        .replace("{port}", str(r.randrange(1024, 9999)))
        .replace("{m}", "3")
        .replace("{n}", str(r.randrange(100)))
        for i in range(shown)
    ]
    if done and failed:
        out.append(f"[{_ts(start + total * 0.5)}] ERROR {failed}")
    return out
