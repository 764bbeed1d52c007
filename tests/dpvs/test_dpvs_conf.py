"""dpvs.conf -> lab: the format (comments, <...> attributes, <init>, nested blocks), the
mapping of every modelled key, the one warning for the rest, and bad values as file:line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fdirlab import dpvs_conf as D
from fdirlab.lab_config import parse_lab

CONFS = Path(__file__).parent / "confs"


def lab_of(name: str):
    d = D.load(CONFS / name)
    return d, parse_lab(d.lab, str(CONFS / name))


def test_tokenizer_skips_comments_and_attributes():
    assert D.tokenize("    queue_number  6  <16, 0-16>  # six") == (["queue_number", "6"], False)
    assert D.tokenize("<init> device dpdk0 {") == (["device", "dpdk0", "{"], True)
    assert D.tokenize("! rss all") == ([], False)
    assert D.tokenize('stable_secret ""  <128-bit>') == (["stable_secret", '"', '"'], False)  # `"` alone
    assert D.tokenize("rss all !comment") == (["rss", "all"], False)


def test_nested_blocks_keep_lines():
    nodes = D.parse("a {\n  b {\n    c 1\n  }\n}\n")
    assert nodes[0].key == "a" and nodes[0].line == 1
    c = nodes[0].first("b").first("c")
    assert (c.args, c.line) == (("1",), 3)


@pytest.mark.parametrize(
    "text,msg",
    [
        ("a {\n b 1\n", "x.conf:1: a: block never closed"),
        ("}\n", "x.conf:1: }: closes no block"),
        ("a { b }\n", "x.conf:1: a: '{' must end the line"),
    ],
)
def test_unbalanced_blocks(text, msg):
    with pytest.raises(D.DpvsConfError, match=msg.replace("{", r"\{").replace("}", r"\}")):
        D.parse(text, "x.conf")


def test_one_worker():
    d, lab = lab_of("one-worker.conf")
    assert lab.n_lcores == 1 and lab.steering == "fdir" and lab.lcores.pool_hash_size == 8
    assert (
        lab.lcores.rx_queues == (0,)
        and lab.nic.device == "dpdk0"
        and lab.nic.fdir_mode == "perfect"
    )
    assert lab.services == () and lab.laddrs == ()
    assert ("tcp", 80) in lab.rs_listen
    w = d.warning()
    assert "global_defs (line 3)" in w and "netif_defs.pktpool_size (line 8)" in w
    assert "netif_defs.device dpdk0.tx (line 16)" in w


def test_two_workers_in_cpu_order_with_timeouts():
    d, lab = lab_of("two-workers.conf")
    assert lab.n_lcores == 2
    assert [w.cpu_id for w in d.workers] == [1, 2]  # DPVS numbers slaves by cpu id
    assert lab.lcores.rx_queues == (0, 1)
    t = dict(lab.timeouts)
    assert t["established"] == 60 and t["time_wait"] == 5 and t["udp"] == 120
    assert "last" not in t
    w = d.warning()
    assert "ipvs_defs.tcp.timeout.last" in w and "ipvs_defs.udp.timeout.oneway" in w
    assert "ipvs_defs.conn.conn_pool_size" in w and "kni_name" in w
    assert any("conn_init_timeout 3" in n for n in d.notes)
    assert lab.nic.fdir_pballoc == "64k" and lab.nic.fdir_status == "matched"


def test_six_workers_lose_ports_and_list_unmodelled_keys():
    d, lab = lab_of("six-workers.conf")
    assert lab.n_lcores == 6 and lab.partition.mask == 7
    assert lab.lcores.rx_queues == (0, 1, 2, 3, 4, 5)
    w = d.warning()
    assert w.count("timer_defs") == 1 and "global_defs (line 2)" in w
    assert "worker_defs.worker *.port dpdk0.tx_queue_ids (lines " in w  # one entry, six lines
    assert "isol_rx_cpu_ids" not in w  # a `!` comment, not a key


def test_eight_workers_redirect_is_handoff_with_dpvs_ring_depth():
    d, lab = lab_of("eight-workers-redirect.conf")
    assert lab.n_lcores == 8 and lab.steering == "handoff"
    assert lab.lcores.handoff_depth == D.DPVS_REDIRECT_RING_SIZE == 2048
    assert lab.nic.fdir_mode == "none"
    assert dict(lab.timeouts) == {"established": 60, "time_wait": 5, "udp": 120}
    assert any("redirect" in n for n in d.notes)


def test_redirect_with_filters_stays_fdir():
    text = (
        (CONFS / "eight-workers-redirect.conf")
        .read_text()
        .replace("flow_enable      off", "flow_enable      on")
    )
    d = D.map_conf(D.parse(text))
    assert d.lab["lab"]["steering"] == "fdir"


def test_no_filters_no_redirect_is_rss():
    text = (
        (CONFS / "six-workers.conf")
        .read_text()
        .replace("flow_enable      on", "flow_enable      off")
    )
    assert D.map_conf(D.parse(text)).lab["lab"]["steering"] == "rss"


def test_ipv6_signature_and_ipv6_disabled():
    d, lab = lab_of("ipv6-signature.conf")
    assert lab.nic.fdir_mode == "signature" and all(h.ip6 for h in lab.hosts)
    text = (
        (CONFS / "ipv6-signature.conf")
        .read_text()
        .replace("disable                 off", "disable                 on")
    )
    lab2 = parse_lab(D.map_conf(D.parse(text)).lab)
    assert not any(h.ip6 for h in lab2.hosts)


def test_queue_offsets_follow_rx_queue_ids():
    text = re.sub(
        r"rx_queue_ids     (\d)\n",
        lambda mo: f"rx_queue_ids     {5 - int(mo.group(1))}\n",
        (CONFS / "six-workers.conf").read_text(),
    )
    d = D.map_conf(D.parse(text))
    assert d.lab["lcores"]["rx_queues"] == [5, 4, 3, 2, 1, 0]


@pytest.mark.parametrize(
    "old,new,msg",
    [
        (
            "rss                 all",
            "rss                 crc",
            r"x.conf:\d+: rss: crc: use one of all\|ip",
        ),
        (
            "pool_hash_size   16",
            "pool_hash_size   500",
            r"x.conf:\d+: pool_hash_size: 500: out of range 1-128",
        ),
        (
            "redirect             off",
            "redirect             maybe",
            r"x.conf:\d+: redirect: maybe: use one of on\|off",
        ),
        (
            "rx_queue_ids     1\n",
            "rx_queue_ids     0\n",
            r"x.conf:\d+: rx_queue_ids: 0: rx queue 0 of dpdk0 is already",
        ),
        (
            "rx_queue_ids     2\n",
            "rx_queue_ids     x2\n",
            r"x.conf:\d+: rx_queue_ids: x2: queue id 'x2'",
        ),
        ("cpu_id      2\n", "cpu_id      1\n", r"x.conf:\d+: cpu_id: 1: cpu id already used"),
        (
            "queue_number        6",
            "queue_number        3",
            r"x.conf:\d+: queue_number: 3: the slave workers use rx queue 5",
        ),
        (
            "conn_init_timeout           3",
            "conn_init_timeout           0",
            r"x.conf:\d+: conn_init_timeout: 0: out of range 1-31535999",
        ),
        (
            "fdir_mode        perfect",
            "fdir_mode        fuzzy",
            r"x.conf:\d+: fdir_mode: fuzzy: use one of perfect\|signature",
        ),
    ],
)
def test_bad_values_name_file_line_key_value(old, new, msg):
    text = (CONFS / "six-workers.conf").read_text()
    assert old in text
    with pytest.raises(D.DpvsConfError, match=msg):
        D.map_conf(D.parse(text.replace(old, new, 1), "x.conf"), "x.conf")


def test_bad_value_line_number_is_exact():
    text = (
        (CONFS / "six-workers.conf")
        .read_text()
        .replace("rss                 all", "rss                 crc")
    )
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "crc" in ln)
    with pytest.raises(D.DpvsConfError) as e:
        D.map_conf(D.parse(text, "x.conf"), "x.conf")
    assert (
        str(e.value) == f"x.conf:{line}: rss: crc: use one of all|ip|tcp|udp|sctp|ether|port|tunnel"
    )


def test_no_slave_worker_is_an_error():
    with pytest.raises(D.DpvsConfError, match="no slave worker"):
        D.map_conf(D.parse("worker_defs {\n worker cpu0 {\n type master\n cpu_id 0\n }\n}\n"))


def test_load_missing_file(tmp_path):
    with pytest.raises(D.DpvsConfError, match="cannot read"):
        D.load(tmp_path / "nope.conf")
