"""Real Redis topologies from Debian's binaries: a Sentinel set (a master, a replica, three
sentinels) and a three-master Cluster, each on free loopback ports in a directory of its own."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from devtools.provider import free_port, stop_process

START_TIMEOUT = 20.0
POLL = 0.05
MASTER_NAME = "mymaster"
#: Sentinels call a master down after this long without an answer (ms), and fail it over.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
BASE_OPTIONS = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def available() -> bool:
    return all(shutil.which(tool) for tool in ("redis-server", "redis-cli"))


def sentinel_binary() -> list[str]:
    """Debian's redis-sentinel, or redis-server in sentinel mode (the same program)."""
    return ["redis-sentinel"] if shutil.which("redis-sentinel") else ["redis-server"]


def wait_for(check: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(POLL)
    raise RuntimeError(f"timed out waiting for {what}")


def cli(port: int, *args: str) -> str:
    result = subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10,
        check=False,
    )
    return result.stdout.strip()


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Node:
    """One redis-server (or sentinel) process."""

    def __init__(self, argv: list[str], port: int, workdir: Path) -> None:
        self.port = port
        self.argv = argv
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        self.workdir.mkdir(parents=True, exist_ok=True)
        proc = self.proc = subprocess.Popen(
            self.argv, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(lambda: listening(self.port) or proc.poll() is not None,
                 f"redis on port {self.port}")
        if proc.poll() is not None:
            raise RuntimeError(f"{self.argv[0]} on port {self.port} exited at start")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        stop_process(self.proc)


def server(port: int, workdir: Path, *extra: str) -> Node:
    return Node(["redis-server", "--port", str(port), *BASE_OPTIONS, *extra], port, workdir)


class SentinelSet:
    """A master, one replica and three sentinels watching them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.master = server(free_port(), workdir / "master")
        replica_port = free_port()
        self.replica = server(
            replica_port, workdir / "replica", "--replicaof", "127.0.0.1", str(self.master.port)
        )
        self.sentinels: list[Node] = []
        for index in range(3):
            port = free_port()
            folder = workdir / f"sentinel-{index}"
            folder.mkdir(parents=True, exist_ok=True)
            conf = folder / "sentinel.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master.port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )
            argv = [*sentinel_binary(), str(conf)]
            if argv[0] == "redis-server":
                argv.append("--sentinel")
            self.sentinels.append(Node(argv, port, folder))

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{MASTER_NAME}/0"

    def start(self) -> SentinelSet:
        self.master.start()
        self.replica.start()
        wait_for(self.replica_in_sync, "the replica to sync")
        for sentinel in self.sentinels:
            sentinel.start()
        wait_for(self._sentinels_see_the_replica, "the sentinels to find the replica")
        return self

    def master_port(self) -> int | None:
        """The master's port as the first sentinel that answers reports it."""
        for sentinel in self.sentinels:
            reply = cli(sentinel.port, "sentinel", "get-master-addr-by-name", MASTER_NAME)
            lines = reply.splitlines()
            if len(lines) == 2 and lines[1].isdecimal():
                return int(lines[1])
        return None

    def replica_in_sync(self) -> bool:
        """The replica's link is up and it has every write the master had a moment before.
        (Not "the offsets are equal": the sentinels publish to the master every few seconds,
        so two offsets read one after the other may never be equal on a loaded machine.)"""
        written = self._offset(self.master.port)
        info = cli(self.replica.port, "info", "replication")
        copied = self._offset(self.replica.port)
        return (
            "master_link_status:up" in info
            and written is not None
            and copied is not None
            and copied >= written
        )

    @staticmethod
    def _offset(port: int) -> int | None:
        for line in cli(port, "info", "replication").splitlines():
            if line.startswith(("master_repl_offset:", "slave_repl_offset:")):
                return int(line.split(":", 1)[1])
        return None

    def _sentinels_see_the_replica(self) -> bool:
        return all(
            "num-slaves" in (reply := cli(s.port, "sentinel", "master", MASTER_NAME))
            and reply.split("num-slaves\n", 1)[1].split("\n", 1)[0] == "1"
            for s in self.sentinels
        )

    def fail_over(self) -> None:
        """Kill the master (SIGKILL) and wait until the sentinels have promoted the replica."""
        wait_for(self.replica_in_sync, "the replica to have every write")
        self.master.kill()
        wait_for(lambda: self.master_port() == self.replica.port, "the failover", timeout=30)
        wait_for(lambda: "role:master" in cli(self.replica.port, "info", "replication"),
                 "the replica to become master")

    def _settled(self) -> bool:
        """Every sentinel has seen the new master (the old replica) up as master for longer
        than it takes to call one down. Right after a failover a sentinel may still do so
        (its link to the new master is new), and fail over again, to the old master if it
        is back by then."""
        for sentinel in self.sentinels:
            lines = cli(sentinel.port, "sentinel", "master", MASTER_NAME).splitlines()
            state = dict(zip(lines[::2], lines[1::2], strict=False))
            if (state.get("port") != str(self.replica.port) or state.get("flags") != "master"
                    or int(state.get("role-reported-time", "0")) < 2 * DOWN_AFTER_MS):
                return False
        return True

    def rejoin(self) -> None:
        """Bring the killed master back; the sentinels make it the new master's replica."""
        wait_for(self._settled, "the sentinels to settle on the new master", timeout=30)
        self.master, self.replica = self.replica, self.master
        self.replica.start()
        # The sentinels would make it a replica too, in their own time; say it at once.
        cli(self.replica.port, "replicaof", "127.0.0.1", str(self.master.port))
        wait_for(self.replica_in_sync, "the old master to rejoin as a replica", timeout=30)

    def stop(self) -> None:
        for node in (*self.sentinels, self.replica, self.master):
            node.stop()


#: A cluster node also listens on its port + 10000 (the cluster bus).
BUS_OFFSET = 10000


def cluster_port() -> int:
    """A free port whose bus port (+10000) exists and is free too."""
    while True:
        port = free_port()
        if port + BUS_OFFSET > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + BUS_OFFSET))
            except OSError:
                continue
        return port


class Cluster:
    """Three masters, no replicas, every slot covered."""

    def __init__(self, workdir: Path) -> None:
        self.nodes = [
            server(
                port, workdir / f"node-{port}", "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
            )
            for port in (cluster_port() for _ in range(3))
        ]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes) + "/"

    def start(self) -> Cluster:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0",
             "--cluster-yes"],
            capture_output=True, check=True, timeout=60,
        )
        wait_for(
            lambda: all("cluster_state:ok" in cli(n.port, "cluster", "info") for n in self.nodes),
            "the cluster to be ok",
        )
        return self

    def keys_per_node(self) -> list[int]:
        return [int(cli(n.port, "dbsize") or 0) for n in self.nodes]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
