"""A pcap file the switch left empty (BMv2 never flushed its header: no frame on that port,
then SIGTERM) is completed to a readable capture of no frames; files with content and
files that are missing are left alone."""
from __future__ import annotations

import subprocess

from scapy.layers.l2 import Ether
from scapy.utils import rdpcap, wrpcap

from topo.pcap_files import complete_empty_pcaps


def test_empty_files_get_a_header_others_are_untouched(tmp_path):
    (tmp_path / "s1-eth1_in.pcap").write_bytes(b"")
    wrpcap(str(tmp_path / "s1-eth1_out.pcap"), [Ether(dst="02:00:00:00:00:01")])
    before = (tmp_path / "s1-eth1_out.pcap").read_bytes()
    done = complete_empty_pcaps(tmp_path, ["s1-eth1", "s1-eth2"])
    assert done == [tmp_path / "s1-eth1_in.pcap"]
    assert len(rdpcap(str(tmp_path / "s1-eth1_in.pcap"))) == 0
    assert (tmp_path / "s1-eth1_out.pcap").read_bytes() == before
    assert not (tmp_path / "s1-eth2_in.pcap").exists()
    # the tool a user reaches for reads it too (tcpdump is in scripts/setup.sh's packages)
    r = subprocess.run(["tcpdump", "-r", str(tmp_path / "s1-eth1_in.pcap")], capture_output=True, text=True)
    assert r.returncode == 0 and "link-type EN10MB" in r.stderr, r.stderr
