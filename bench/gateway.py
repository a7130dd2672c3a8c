"""The gateway's throughput and latency on loopback, side by side with a plain nginx reverse proxy.

    python bench/gateway.py [--duration 10] [--connections 50] [--redis redis://127.0.0.1:6379/15] [--rounds 4]

Needs `nginx` and `wrk` from Debian (`apt-get install -y nginx-light wrk`); the tests do not. One run does:

  (a) wrk straight to the upstream: nginx answering `return 200` with a small JSON body (one worker);
  (b) wrk through `devhub gateway` (one worker) with an API key, a plan with limits (high enough never to
      refuse) and metering to SQLite;
  (c) wrk through nginx (one worker) as a plain reverse proxy with keep-alive upstream connections;

then prints requests/s, p50 and p99 of each with the ratios b/c and b/a; then (a) and (b) again at half of
(b)'s maximum rate (wrk's `delay()` paces each connection with exponential think times, as independent
clients would) to give the latency the gateway adds at that load;
then, with `--redis`, (b) with Redis-backed limits at 1 and 2 worker processes, in alternating rounds
(`--rounds`). Everything shares the machine's cores with wrk and the upstream: compare ratios, and note the
load average printed with them.

For the worker runs it also prints the CPU time per request of each process (read from /proc: the gateway's
workers, the nginx upstream, redis-server, wrk) and the machine's ceiling, cores / CPU per request of all of
them: what any number of workers could reach here. With one worker the gateway is bound by its one core; with
two, by what the cores have left after wrk, the upstream and Redis take their share.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

NGINX_UPSTREAM = """
worker_processes 1;
pid {dir}/upstream.pid;
error_log {dir}/upstream-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        location / {{ default_type application/json; return 200 '{{"ok":true,"service":"bench"}}'; }}
    }}
}}
"""

NGINX_PROXY = """
worker_processes 1;
pid {dir}/proxy.pid;
error_log {dir}/proxy-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    upstream backend {{ server 127.0.0.1:{upstream}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def family(pid: int) -> list[int]:
    """A process and its children (a gateway's worker processes, nginx's worker)."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid, *map(int, found)]


def wrk_cpu_seconds() -> float:
    """CPU seconds of the waited-for children so far: wrk, which this script runs and waits for."""
    times = os.times()
    return times.children_user + times.children_system


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def nginx(config: str, workdir: Path, name: str) -> subprocess.Popen:
    path = workdir / f"{name}.conf"
    path.write_text(config)
    return subprocess.Popen(
        ["nginx", "-p", str(workdir), "-c", str(path), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def build_access(database_url: str, upstream: str) -> str:
    """A product on the upstream, a plan with limits that never refuse here, an app and its sandbox key."""
    from devhub.apps import credentials
    from devhub.apps import service as apps
    from devhub.apps.schemas import ApplicationIn, PlanIn, ProductIn
    from devhub.audit.service import SYSTEM
    from devhub.db import Database
    from devhub.identity.policy import OPERATOR
    from devhub.settings import Settings

    settings = Settings(database_url=database_url, secret_key="bench")
    database = Database(database_url)
    database.upgrade()
    with database.session() as session:
        product = apps.create_product(
            session,
            OPERATOR,
            ProductIn(slug="bench", name="Bench", owner="team-a", visibility="public", sandbox_url=upstream),
            SYSTEM,
        )
        plan = apps.create_plan(
            session,
            OPERATOR,
            product,
            PlanIn(slug="load", name="Load", rate_per_second=1_000_000, quota_per_day=1_000_000_000),
            SYSTEM,
        )
        app = apps.create_app(session, OPERATOR, ApplicationIn(name="bench", team="team-a"), SYSTEM)
        apps.subscribe(session, settings, OPERATOR, app, plan, SYSTEM)
        key = credentials.create_key(session, app, "sandbox", "bench", SYSTEM).secret
    database.dispose()
    return key


def gateway(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-c", "from devhub.cli import app; app()", "gateway", "--port", str(port)]
    command += ["--workers", str(workers)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str], delay_ms: float | None = None) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    script = None
    if delay_ms is not None:
        fd, script = tempfile.mkstemp(suffix=".lua")
        # Exponential think times (independent clients): a fixed delay lines the connections up in bursts.
        lua = f"function delay() return -{delay_ms:.3f} * math.log(1 - math.random()) end\n"
        os.write(fd, lua.encode())
        os.close(fd)
        command += ["-s", script]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if script is not None:
        os.unlink(script)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"\s50%\s+([\d.]+\w+)", output).group(1))
    p99 = _ms(re.search(r"\s99%\s+([\d.]+\w+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rate": rate, "p50": p50, "p99": p99, "non2xx": int(errors.group(1)) if errors else 0}


def row(name: str, result: dict) -> str:
    bad = f"  ({result['non2xx']} non-2xx)" if result["non2xx"] else ""
    return f"| {name} | {result['rate']:,.0f} | {result['p50']:.2f} ms | {result['p99']:.2f} ms |{bad}"


def measure(url, seconds, conns, auth, groups: dict[str, list[int]]) -> tuple[dict, dict]:
    """One wrk run, and each process group's CPU per request (µs) and cores busy during it."""
    before = {name: sum(map(cpu_seconds, pids)) for name, pids in groups.items()}
    before["wrk"] = wrk_cpu_seconds()
    started = time.monotonic()
    result = wrk(url, seconds, conns, auth)
    elapsed = time.monotonic() - started
    used = {name: sum(map(cpu_seconds, pids)) - before[name] for name, pids in groups.items()}
    used["wrk"] = wrk_cpu_seconds() - before["wrk"]
    calls = result["rate"] * elapsed
    return result, {name: (spent / calls * 1e6, spent / elapsed) for name, spent in used.items()}


def scaling(redis_url, env, conns, seconds, auth, processes, upstream_pids, rounds: int) -> None:
    """(b) with Redis-backed limits at 1 and 2 workers, in alternating rounds, with each process's CPU.

    Both gateways run throughout and take turns (1, 2, then 2, 1, ...), so drift in what the shared host
    gives these cores falls on both alike; the ratio is the median of the rounds' ratios.
    """
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    redis_pid = int(client.info("server")["process_id"])
    gateways = {}
    for workers in (1, 2):
        port = free_port()
        process = gateway(port, workers, {**env, "DEVHUB_REDIS_URL": redis_url})
        processes.append(process)
        wait_port(port)
        gateways[workers] = (f"http://127.0.0.1:{port}/bench/", process)
    time.sleep(2.0)  # every worker bound and loaded its snapshot
    for url, _ in gateways.values():
        wrk(url, 2, conns, auth)
    runs: dict[int, list[tuple[dict, dict]]] = {1: [], 2: []}
    for round_ in range(rounds):
        for workers in (1, 2) if round_ % 2 == 0 else (2, 1):
            url, process = gateways[workers]
            groups = {"gateway": family(process.pid), "upstream (nginx)": upstream_pids, "redis": [redis_pid]}
            runs[workers].append(measure(url, seconds, conns, auth, groups))
    print("\nRedis-backed limits, rounds alternating 1 and 2 workers:")
    print("| round | 1 worker req/s | p99 | 2 workers req/s | p99 | 2 / 1 |\n|---|---|---|---|---|---|")
    ratios = []
    for n, ((one, _), (two, _)) in enumerate(zip(runs[1], runs[2], strict=True), 1):
        ratios.append(two["rate"] / one["rate"])
        print(
            f"| {n} | {one['rate']:,.0f} | {one['p99']:.2f} ms | {two['rate']:,.0f} | {two['p99']:.2f} ms "
            f"| {ratios[-1]:.2f} |"
        )
    print(f"2 workers / 1 worker, median of {rounds} rounds = {statistics.median(ratios):.2f}")
    print_ceiling(runs)


def print_ceiling(runs: dict[int, list[tuple[dict, dict]]]) -> None:
    """Where the CPU went (medians over the rounds) and what these cores allow at most."""
    cores = os.cpu_count() or 1
    cost = {
        workers: {name: statistics.median(c[name][0] for _, c in results) for name in results[0][1]}
        for workers, results in runs.items()
    }
    busy = {
        workers: {name: statistics.median(c[name][1] for _, c in results) for name in results[0][1]}
        for workers, results in runs.items()
    }
    print(f"\nCPU per request, median (cores busy) on the {cores} cores:\n| process | 1 worker | 2 workers |")
    print("|---|---|---|")
    for name in cost[1]:
        print(f"| {name} | " + " | ".join(f"{cost[w][name]:.0f} µs ({busy[w][name]:.2f})" for w in (1, 2)) + " |")
    ceiling, rate = {}, {}
    for workers, results in runs.items():
        total = sum(cost[workers].values())
        ceiling[workers] = cores / total * 1e6
        rate[workers] = statistics.median(result["rate"] for result, _ in results)
        print(
            f"{workers} worker(s): {total:.0f} µs of CPU per request in all, {sum(busy[workers].values()):.2f} of "
            f"{cores} cores busy; ceiling {ceiling[workers]:,.0f} requests/s, median reached "
            f"{rate[workers] / ceiling[workers]:.0%}"
        )
    rest = sum(c for name, c in cost[2].items() if name != "gateway")
    print(
        f"So 2 workers can reach at most {ceiling[2] / rate[1]:.2f}x one worker here (their ceiling over one "
        f"worker's median rate): wrk, the upstream and Redis take {rest:.0f} µs of CPU per request beside the "
        f"gateway's {cost[2]['gateway']:.0f} µs, on the cores the second worker needs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4, help="Alternating 1- and 2-worker rounds (--redis).")
    parser.add_argument("--redis", help="Redis URL for the worker-scaling runs (flushed!); skipped when absent.")
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install -y nginx-light wrk")

    workdir = Path(tempfile.mkdtemp(prefix="devhub-bench-gateway-"))
    (workdir / "logs").mkdir()
    up_port, proxy_port, gw_port = free_port(), free_port(), free_port()
    database_url = f"sqlite:///{workdir / 'gateway.sqlite3'}"
    key = build_access(database_url, f"http://127.0.0.1:{up_port}")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "DEVHUB_DATABASE_URL": database_url,
        "DEVHUB_DATA_DIR": str(workdir),
        "DEVHUB_SECRET_KEY": "bench",
    }
    processes = [
        nginx(NGINX_UPSTREAM.format(dir=workdir, port=up_port), workdir, "upstream"),
        nginx(NGINX_PROXY.format(dir=workdir, port=proxy_port, upstream=up_port), workdir, "proxy"),
    ]
    seconds, conns = args.duration, args.connections
    auth = {"x-api-key": key}
    try:
        wait_port(up_port)
        wait_port(proxy_port)
        gw = gateway(gw_port, 1, env)
        processes.append(gw)
        wait_port(gw_port)
        for url, headers in ((f"http://127.0.0.1:{up_port}/", {}), (f"http://127.0.0.1:{gw_port}/bench/", auth)):
            wrk(url, 2, conns, headers)  # warm up: connections, pools, caches
        print(f"load average before: {os.getloadavg()[0]:.2f}; wrk -t1 -c{conns} -d{seconds}s; 2 cores shared\n")
        a = wrk(f"http://127.0.0.1:{up_port}/", seconds, conns, {})
        b = wrk(f"http://127.0.0.1:{gw_port}/bench/", seconds, conns, auth)
        c = wrk(f"http://127.0.0.1:{proxy_port}/", seconds, conns, {})
        print("| case | requests/s | p50 | p99 |\n|---|---|---|---|")
        print(row("(a) straight to the upstream (nginx return 200)", a))
        print(row("(b) devhub gateway, 1 worker: key auth + limits + metering", b))
        print(row("(c) nginx reverse proxy, 1 worker", c))
        print(f"\nb/c = {b['rate'] / c['rate']:.2f}   b/a = {b['rate'] / a['rate']:.2f}")

        half = b["rate"] / 2
        # wrk paces each connection by `delay` ms after each response: rate = conns / (delay + latency).
        # One short calibration run measures that latency at about this load.
        delay = conns / half * 1000
        probe = wrk(f"http://127.0.0.1:{gw_port}/bench/", 3, conns, auth, delay_ms=delay)
        delay = max(0.0, delay - (conns / probe["rate"] * 1000 - delay))
        ha = wrk(f"http://127.0.0.1:{up_port}/", seconds, conns, {}, delay_ms=delay)
        hb = wrk(f"http://127.0.0.1:{gw_port}/bench/", seconds, conns, auth, delay_ms=delay)
        print(f"\nAt half of (b)'s maximum (~{half:,.0f} requests/s, wrk delay {delay:.1f} ms per connection):")
        print("| case | requests/s | p50 | p99 |\n|---|---|---|---|")
        print(row("(a) straight to the upstream", ha))
        print(row("(b) through the gateway", hb))
        print(f"added p99: {hb['p99'] - ha['p99']:.2f} ms   added p50: {hb['p50'] - ha['p50']:.2f} ms")
        stop(gw)
        processes.remove(gw)

        if args.redis:
            scaling(args.redis, env, conns, seconds, auth, processes, family(processes[0].pid), args.rounds)
        print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
