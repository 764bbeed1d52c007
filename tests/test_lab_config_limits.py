"""A value the lab file accepts is one the lcore workers and the dpvs.conf reader accept too
(review finding 6: pool_hash_size = 256 passed the lab file, then every worker exited 2
after the lab had started). The bounds are checked at their edges on every layer."""
import pytest

from fdirlab import dpvs_conf
from fdirlab.errors import FdirlabError
from fdirlab.lab_config import LabConfigError, parse_lab
from lcore.cli import parse_config
from lcore.config import WorkerConfig
from lcore.errors import ConfigError

CONF = """\
global_defs {
    log_level   WARNING
}
netif_defs {
    <init> device dpdk0 {
        rx {
            queue_number        2
            descriptor_number   1024
            rss                 all
        }
        tx {
            queue_number        2
            descriptor_number   1024
        }
        fdir {
            mode                perfect
            pballoc             64k
            status              matched
        }
    }
}
worker_defs {
    <init> worker cpu0 {
        type    master
        cpu_id  0
    }
    <init> worker cpu1 {
        type    slave
        cpu_id  1
        port    dpdk0 {
            rx_queue_ids     0
            tx_queue_ids     0
        }
    }
    <init> worker cpu2 {
        type    slave
        cpu_id  2
        port    dpdk0 {
            rx_queue_ids     1
            tx_queue_ids     1
        }
    }
}
sa_pool {
    pool_hash_size   {HASH}
}
"""


def accepts(f) -> bool:
    try:
        f()
    except (FdirlabError, ValueError):
        return False
    return True


@pytest.mark.parametrize("size", [0, 1, 16, 127, 128, 129, 255, 256, 65536])
def test_pool_hash_size_one_bound_on_every_layer(size, tmp_path):
    lab_ok = accepts(lambda: parse_lab({"lcores": {"pool_hash_size": size}}))
    worker_ok = accepts(lambda: WorkerConfig("lo", 0, 4, "lsb", "fdir", "02:fd:00:00:00:01", "/tmp/c",
                                             pool_hash_size=size).validate())
    conf = tmp_path / "dpvs.conf"
    conf.write_text(CONF.replace("{HASH}", str(size)))
    dpvs_ok = accepts(lambda: dpvs_conf.load(str(conf)))
    assert lab_ok == worker_ok == dpvs_ok, (size, lab_ok, worker_ok, dpvs_ok)
    assert lab_ok == (1 <= size <= 128)                    # DPVS sa_pool.c SAPOOL_MAX_HASH_SZ
    if not lab_ok and size > 0:
        with pytest.raises(LabConfigError, match=rf"^lcores.pool_hash_size = {size}: must be 1..128$"):
            parse_lab({"lcores": {"pool_hash_size": size}})


@pytest.mark.parametrize("lcores", [
    {"pool_hash_size": 128},
    {"pool_hash_size": 1, "handoff_depth": 1},
    {"handoff_depth": 65536},
    {"port_range": "1-65535"},
    {"count": 1},
    {"count": 500},                                      # the most the 511-port NIC program leaves
])
@pytest.mark.parametrize("lab", [{"scheme": "lsb"}, {"scheme": "range", "steering": "handoff"}])
def test_every_worker_command_a_valid_lab_gives_is_accepted(lcores, lab, tmp_path):
    """Edge values the lab file accepts, turned into the lcore argv the lab starts workers
    with (topo.lab.worker_argv), pass the worker's own validation for every lcore."""
    from topo.lab import lcore_host, worker_argv  # Mininet's import: only where needed
    parsed = parse_lab({"lab": lab, "lcores": lcores})
    for i in sorted({0, parsed.n_lcores - 1}):
        cfg, _ = parse_config(worker_argv(parsed, i, f"{lcore_host(i)}-eth0", tmp_path / "handoff"))
        assert (cfg.lcore_id, cfg.n_lcores, cfg.pool_hash_size, cfg.handoff_depth) == \
            (i, parsed.n_lcores, parsed.lcores.pool_hash_size, parsed.lcores.handoff_depth)


@pytest.mark.parametrize("key,value", [("handoff_depth", 65537), ("handoff_depth", 0), ("count", 0)])
def test_values_past_the_workers_bounds_are_refused_by_the_lab_file(key, value):
    with pytest.raises(LabConfigError, match=rf"^lcores.{key} = {value}: must be "):
        parse_lab({"lcores": {key: value}})
    with pytest.raises(ConfigError):
        args = {"handoff_depth": value} if key == "handoff_depth" else {"n_lcores": value}
        WorkerConfig(**({"iface": "lo", "lcore_id": 0, "n_lcores": 4, "scheme": "lsb", "mode": "fdir",
                         "mac": "02:fd:00:00:00:01", "ctl": "/tmp/c"} | args)).validate()


def test_host_names_fit_mininet_interface_names():
    """Mininet names a host's interface <name>-eth0; Linux allows 15 characters (IFNAMSIZ)."""
    assert parse_lab({"clients": [{"name": "client0123"}]}).clients[0].name == "client0123"
    with pytest.raises(LabConfigError, match=r"^clients\[0\].name = 'client01234': host names are at most 10 "):
        parse_lab({"clients": [{"name": "client01234"}]})
    with pytest.raises(LabConfigError, match=r"^servers\[1\].name = 'realserver-2'"):
        parse_lab({"servers": [{"name": "rs1"}, {"name": "realserver-2"}]})


@pytest.mark.parametrize("group, name, why", [
    ("clients", "s1", "already used by the lab's switch"),
    ("servers", "l3", "already used by lcore 3's worker host"),
    ("clients", "l0", "already used by lcore 0's worker host"),
    ("servers", "sh", "a Mininet prompt command"),
    ("clients", "ipvsadm", "a Mininet prompt command"),
])
def test_host_names_that_the_lab_or_its_prompt_already_use_are_refused(group, name, why):
    """s1 and l0..l{n-1} are the lab's own Mininet nodes: a host of one of those names would
    be a second node of one name. A host named like a prompt command is unreachable there."""
    with pytest.raises(LabConfigError, match=rf"^{group}\[0\].name = '{name}': .*{why}"):
        parse_lab({group: [{"name": name}]})
    assert parse_lab({"lcores": {"count": 2}, "clients": [{"name": "l2"}]}).clients[0].name == "l2"


def test_prompt_commands_are_the_prompts_own():
    """PROMPT_COMMANDS is every do_* command of Mininet's CLI and of the lab's, no more."""
    from fdirlab.lab_config import PROMPT_COMMANDS
    from topo.cli import LabCLI  # Mininet's import: only where needed
    assert PROMPT_COMMANDS == {n[3:] for n in dir(LabCLI) if n.startswith("do_")}


def test_worker_restart_applies_every_flag_the_lab_starts_workers_with(tmp_path):
    """`fdirctl worker restart` re-applies the lab file's settings to a recorded command; a
    lab file changed since (every lab-decided flag, handoff depth included) must give exactly
    the command a fresh lab start would."""
    from controller.worker_restart import argv_with, lab_settings
    from topo.lab import worker_argv

    old = parse_lab({})
    new = parse_lab({"lab": {"scheme": "range", "steering": "handoff", "lb_mac": "02:fd:00:00:00:09"},
                     "lcores": {"count": 6, "port_range": "2000-60000", "pool_hash_size": 8,
                                "handoff_depth": 512}})
    hd = tmp_path / "handoff"
    restarted = argv_with(worker_argv(old, 1, "l1-eth0", hd), lab_settings(new))
    assert restarted == worker_argv(new, 1, "l1-eth0", hd)
    cfg, _ = parse_config(restarted)
    assert (cfg.n_lcores, cfg.handoff_depth, cfg.pool_hash_size) == (6, 512, 8)
