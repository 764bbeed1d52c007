"""dpvs.conf constructs DPVS's parser (src/parser.c, src/netif.c) accepts, read as DPVS reads
them (break-it 2 findings 1, 7, 8, 16): blocks given twice, `include`, bonding devices, a `{`
on its own line, quoted values; and what DPVS would silently drop is an error or a note."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fdirlab import dpvs_conf as D
from fdirlab.lab_config import parse_lab

CONFS = Path(__file__).parent / "confs"
ROOT = Path(__file__).parents[2]

WORKER = """\
    worker cpu{cpu} {{
        type slave
        cpu_id {cpu}
        port dpdk0 {{
            rx_queue_ids {q}
        }}
    }}
"""


def workers(*cpus: int, first_q: int = 0) -> str:
    return "".join(WORKER.format(cpu=c, q=first_q + i) for i, c in enumerate(cpus))


def load_text(tmp_path: Path, text: str, name: str = "x.conf") -> D.DpvsLab:
    f = tmp_path / name
    f.write_text(text)
    return D.load(f)


def line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


# --- finding 1: blocks given twice ---------------------------------------------------

def test_worker_defs_given_twice_is_refused_naming_both_lines(tmp_path):
    text = "worker_defs {\n" + workers(1, 2) + "}\nworker_defs {\n" + workers(3, 4, first_q=2) + "}\n"
    with pytest.raises(D.DpvsConfError) as e:
        load_text(tmp_path, text, "split.conf")
    f = tmp_path / "split.conf"
    assert str(e.value).startswith(f"{f}:{len(workers(1, 2).splitlines()) + 3}: worker_defs: given again "
                                   f"(first on {f}:1): DPVS keeps only the last worker_defs block")


def test_netif_defs_given_twice_is_refused(tmp_path):
    text = ("netif_defs {\n  device dpdk0 {\n  }\n}\nnetif_defs {\n  fdir_mode perfect\n}\n"
            "worker_defs {\n" + workers(1) + "}\n")
    with pytest.raises(D.DpvsConfError, match=r"x.conf:5: netif_defs: given again \(first on .*x.conf:1\)"):
        load_text(tmp_path, text)


def test_ipvs_defs_and_sa_pool_given_twice_are_read_in_order(tmp_path):
    text = ("worker_defs {\n" + workers(1, 2) + "}\n"
            "ipvs_defs {\n  tcp {\n    timeout {\n      established 60\n    }\n  }\n}\n"
            "sa_pool {\n  pool_hash_size 8\n}\n"
            "ipvs_defs {\n  conn {\n    redirect on\n  }\n  udp {\n    timeout {\n      normal 11\n    }\n  }\n}\n"
            "sa_pool {\n  flow_enable off\n}\n")
    d = load_text(tmp_path, text)
    lab = parse_lab(d.lab)
    assert dict(lab.timeouts) == {"established": 60, "udp": 11}
    assert lab.steering == "handoff" and lab.lcores.pool_hash_size == 8


def test_a_value_given_twice_counts_last_and_is_noted(tmp_path):
    text = ("worker_defs {\n" + workers(1).replace("cpu_id 1", "cpu_id 7\n        cpu_id 1") + workers(7)[:0]
            + "}\nsa_pool {\n  pool_hash_size 8\n  pool_hash_size 32\n}\n")
    d = load_text(tmp_path, text)
    assert d.lab["lcores"]["pool_hash_size"] == 32 and d.workers[0].cpu_id == 1
    assert any("sa_pool.pool_hash_size given 2 times" in n and "the last one counts" in n for n in d.notes)
    assert any("worker cpu1.cpu_id given 2 times" in n for n in d.notes)


def test_cpu_id_replaced_later_in_its_worker_does_not_collide(tmp_path):
    """The first cpu_id of a worker that a later one replaces is not that worker's cpu."""
    text = "worker_defs {\n" + workers(1).replace("cpu_id 1", "cpu_id 2\n        cpu_id 1") + \
        WORKER.format(cpu=2, q=1) + "}\n"
    assert [w.cpu_id for w in load_text(tmp_path, text).workers] == [1, 2]


def test_device_and_worker_port_given_twice_are_refused(tmp_path):
    text = ("netif_defs {\n  device dpdk0 {\n  }\n  device dpdk0 {\n  }\n}\n"
            "worker_defs {\n" + workers(1) + "}\n")
    with pytest.raises(D.DpvsConfError, match=r"x.conf:4: device: dpdk0: given again \(first on .*x.conf:2\)"):
        load_text(tmp_path, text)
    twice = workers(1).replace("        port dpdk0 {", "        port dpdk0 {\n            rx_queue_ids 1\n"
                                                     "        }\n        port dpdk0 {", 1)
    with pytest.raises(D.DpvsConfError, match=r"port: dpdk0: given again in worker cpu1"):
        load_text(tmp_path, "worker_defs {\n" + twice + "}\n")


# --- finding 7: include ----------------------------------------------------------------

def test_include_relative_glob_sorted_at_any_level(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "20-w.conf").write_text(WORKER.format(cpu=3, q=1))
    (tmp_path / "conf.d" / "10-w.conf").write_text(WORKER.format(cpu=2, q=0))
    (tmp_path / "conf.d" / "ipvs.inc").write_text("ipvs_defs {\n  tcp {\n    timeout {\n"
                                                   "      established 61\n    }\n  }\n}\n")
    sub = tmp_path / "etc"
    sub.mkdir()
    (sub / "main.conf").write_text("worker_defs {\n    include ../conf.d/*.conf\n}\ninclude ../conf.d/ipvs.inc\n")
    d = D.load(sub / "main.conf")
    assert [w.name for w in d.workers] == ["cpu2", "cpu3"] and d.lab["lcores"]["rx_queues"] == [0, 1]
    assert d.lab["timeouts"] == {"established": 61}
    assert d.workers[1].source.endswith("conf.d/20-w.conf") and d.workers[1].line == 1


def test_errors_in_an_included_file_name_it_and_its_line(tmp_path):
    (tmp_path / "w.conf").write_text(WORKER.format(cpu=1, q=0).replace("cpu_id 1", "cpu_id x1"))
    (tmp_path / "main.conf").write_text("worker_defs {\n  include w.conf\n}\n")
    with pytest.raises(D.DpvsConfError) as e:
        D.load(tmp_path / "main.conf")
    assert str(e.value) == f"{tmp_path / 'w.conf'}:3: cpu_id: x1: not an integer (0-1023)"


@pytest.mark.parametrize("line,files,msg", [
    ("include nothing-*.conf", {}, r"x.conf:1: include: nothing-\*\.conf: no file matches it"),
    ("include x.conf", {}, "include: x.conf: .*x.conf includes itself"),
    ("include a.conf b.conf", {}, "x.conf:1: include: a.conf b.conf: expected one file name"),
    ("include a.conf", {"a.conf": "worker_defs {\n"}, "a.conf:1: worker_defs: block never closed"),
    ("include d", {"d/": ""}, "include: d: .*d is a directory"),
])
def test_bad_includes(tmp_path, line, files, msg):
    for name, text in files.items():
        if name.endswith("/"):
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_text(text)
    with pytest.raises(D.DpvsConfError, match=msg):
        load_text(tmp_path, line + "\nworker_defs {\n" + workers(1) + "}\n")


# --- finding 8: bonding ------------------------------------------------------------------

def test_one_bond_is_the_labs_nic_device():
    d = D.load(CONFS / "one-bond.conf")
    lab = parse_lab(d.lab)
    assert lab.nic.device == "lag0" and lab.lcores.rx_queues == (0, 1)
    assert [w.cpu_id for w in d.workers] == [4, 5]
    w = d.warning()
    assert w is not None and "bonding lag0 (the lab's NIC device: its slaves eth10, eth11 are one device" in w


def test_two_bonds_first_is_the_labs_device_the_other_arm_noted():
    d = D.load(CONFS / "two-bonds.conf")
    lab = parse_lab(d.lab)
    assert lab.nic.device == "agg0" and lab.n_lcores == 3 and lab.nic.rss == "tcp"   # from primary nic0
    assert any("devices agg1 are not modelled" in n for n in d.notes)
    assert "slaves nic1, nic0 are one device, queues and filters of nic0" in (d.warning() or "")


def test_a_worker_on_a_bonds_slave_says_why(tmp_path):
    text = (CONFS / "one-bond.conf").read_text().replace("port    lag0", "port    eth10", 1)
    with pytest.raises(D.DpvsConfError, match=r"slave worker has no `port lag0 \{ rx_queue_ids ... \}`: "
                                              r"port eth10 is a slave of bonding lag0, the lab's one device"):
        load_text(tmp_path, text)


@pytest.mark.parametrize("old,new,msg", [
    ("slave       eth11", "slave       eth12", "slave: eth12: not a device of netif_defs"),
    ("slave       eth11", "slave       eth10", "slave: eth10: already a bonding slave"),
    ("kni_name    lag0.kni", "primary eth12", "bonding: lag0: primary eth12 is not one of its slaves"),
    ("bonding lag0", "bonding lag0-with-a-long-name", "bonding: lag0-with-a-long-name: the lab names its NIC"),
])
def test_bad_bondings(tmp_path, old, new, msg):
    text = (CONFS / "one-bond.conf").read_text()
    assert old in text
    with pytest.raises(D.DpvsConfError, match=msg):
        load_text(tmp_path, text.replace(old, new))


# --- finding 16: DPVS tokenizer forms ---------------------------------------------------

def test_brace_on_its_own_line_opens_the_block_of_the_line_before(tmp_path):
    allman = ("worker_defs\n{\n    worker cpu1\n    {\n        type slave\n        cpu_id 1\n"
              "        port dpdk0\n        {\n            rx_queue_ids 0\n        }\n    }\n}\n")
    d = load_text(tmp_path, allman)
    assert [(w.name, w.cpu_id, w.rx_queues) for w in d.workers] == [("cpu1", 1, {"dpdk0": (0,)})]
    with pytest.raises(D.DpvsConfError, match=r"x.conf:1: \{: a block needs a keyword"):
        load_text(tmp_path, "{\n}\n")


def test_quoted_values_are_read_as_dpvs_set_value(tmp_path):
    d = load_text(tmp_path, "worker_defs {\n" + workers(1).replace("cpu_id 1", 'cpu_id "1"')
                  .replace("type slave", 'type "slave"') + '}\nsa_pool {\n  pool_hash_size "8"\n}\n')
    assert d.workers[0].cpu_id == 1 and d.lab["lcores"]["pool_hash_size"] == 8
    with pytest.raises(D.DpvsConfError, match=r'x.conf:4: cpu_id: " 1: a quoted value needs its closing "'):
        load_text(tmp_path, "worker_defs {\n" + workers(1).replace("cpu_id 1", 'cpu_id "1') + "}\n")


def fdirctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "controller.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def test_cli_names_a_directory_and_the_name_option(tmp_path):
    r = fdirctl("dpvs-conf", str(tmp_path))
    assert r.returncode == 2 and r.stderr.strip() == f"fdirctl: dpvs.conf {str(tmp_path)!r}: is a directory, not a file"
    with pytest.raises(D.DpvsConfError, match=r": is a directory, not a dpvs.conf$"):
        D.load(tmp_path)
    r = fdirctl("dpvs-conf", str(CONFS / "one-worker.conf"), "--name", "9bad name")
    assert r.returncode == 2 and r.stderr.startswith("fdirctl: --name '9bad name': "), r.stderr
    r = fdirctl("--json", "dpvs-conf", str(CONFS / "one-bond.conf"))
    assert r.returncode == 0 and json.loads(r.stdout)["lab"]["nic"]["device"] == "lag0"


def test_a_dpvs_block_keyword_without_brace_still_opens_its_block(tmp_path):
    """DPVS reads a block keyword's block from the following lines whatever its line holds
    (parser.c process_stream recurses on the keyword's sublevel); other keywords need `{`."""
    text = ("worker_defs\n    worker cpu1\n        type slave\n        cpu_id 1\n        port dpdk0\n"
            "            rx_queue_ids 0\n        }\n    }\n}\n"
            "ipvs_defs\n  tcp\n    timeout\n      established 33\n    }\n  }\n}\n")
    d = load_text(tmp_path, text)
    assert [(w.cpu_id, w.rx_queues) for w in d.workers] == [(1, {"dpdk0": (0,)})]
    assert d.lab["timeouts"] == {"established": 33}
    # not a DPVS block keyword: its `}` closes nothing
    with pytest.raises(D.DpvsConfError, match=r"y.conf:3: \}: closes no block"):
        D.parse("a\nb 1\n}\n", "y.conf")
