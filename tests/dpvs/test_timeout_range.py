"""One conn-timeout range on every layer (break-it 2 finding 9): DPVS's own bounds,
include/ipvs/ipvs.h IPVS_TIMEOUT_MIN 0 < timeout < IPVS_TIMEOUT_MAX 31536000. A timeout the
dpvs.conf reader accepts is accepted by the lab file and by the lcore workers' set_timeouts,
and a refusal names the file, line, key and value."""
import math

import pytest

from controller.commands.dpvs_conf import lab_toml
from fdirlab import dpvs_conf
from fdirlab.errors import FdirlabError
from fdirlab.lab_config import LabConfigError, parse_lab
from lcore.config import WorkerConfig
from lcore.control import ControlHandler
from lcore.control_schema import parse_request
from lcore.datapath import Datapath

LB_MAC = "02:fd:00:00:00:01"

CONF = """\
worker_defs {
    worker cpu1 {
        type slave
        cpu_id 1
        port dpdk0 {
            rx_queue_ids 0
        }
    }
}
ipvs_defs {
    tcp {
        timeout {
            established {SECS}
        }
    }
    udp {
        timeout {
            normal {SECS}
        }
    }
}
"""


def accepts(f) -> bool:
    try:
        f()
    except (FdirlabError, ValueError):
        return False
    return True


def worker_accepts(secs) -> bool:
    dp = Datapath(1, 2, "lsb", bytes.fromhex(LB_MAC.replace(":", "")), 1025, 65535)
    cfg = WorkerConfig("veth0", 1, 2, "lsb", "fdir", LB_MAC, "/tmp/x").validate()
    h = ControlHandler(dp, cfg, lambda: 0.0)
    direct = h.handle({"op": "set_timeouts", "established": secs, "udp": secs})
    schema = accepts(lambda: parse_request(f'{{"op": "set_timeouts", "established": {secs}}}'))
    assert direct["ok"] == schema, (secs, direct, schema)
    if direct["ok"]:
        assert (h.dp.timeouts.established, h.dp.timeouts.udp) == (secs, secs)
    return bool(direct["ok"])


@pytest.mark.parametrize("secs", [0, 1, 2, 604800, 604801, 31535999, 31536000, 99999999])
def test_integer_timeouts_one_range_on_every_layer(secs, tmp_path):
    conf = tmp_path / "t.conf"
    conf.write_text(CONF.replace("{SECS}", str(secs)))
    dpvs_ok = accepts(lambda: lab_toml(str(conf)))
    lab_ok = accepts(lambda: parse_lab({"timeouts": {"established": secs, "udp": secs}}))
    assert dpvs_ok == lab_ok == worker_accepts(secs), secs
    assert dpvs_ok == (1 <= secs <= 31535999)           # DPVS IPVS_TIMEOUT_MIN/MAX, exclusive
    if dpvs_ok:
        lab = parse_lab(dpvs_conf.load(conf).lab)
        assert dict(lab.timeouts) == {"established": secs, "udp": secs}


@pytest.mark.parametrize("secs,ok", [(0.5, True), (31535999.5, True), (-1.0, False), (math.inf, False)])
def test_fractional_timeouts_lab_file_and_workers_agree(secs, ok):
    """The lab file and the workers take fractions (quick expiry in tests) within DPVS's bounds."""
    assert accepts(lambda: parse_lab({"timeouts": {"established": secs}})) == ok
    if math.isfinite(secs):
        assert worker_accepts(secs) == ok


def test_refusals_name_file_line_key_value(tmp_path):
    conf = tmp_path / "v6.conf"
    conf.write_text(CONF.replace("{SECS}", "31536000"))
    line = CONF.splitlines().index("            established {SECS}") + 1
    with pytest.raises(dpvs_conf.DpvsConfError) as e:
        lab_toml(str(conf))
    assert str(e.value) == (f"{conf}:{line}: established: 31536000: "
                            f"out of range {dpvs_conf.TIMEOUT_MIN}-{dpvs_conf.TIMEOUT_MAX}")
    with pytest.raises(LabConfigError, match=r"^timeouts.udp = 31536000: seconds in \(0, 31536000\)"):
        parse_lab({"timeouts": {"udp": 31536000}})
