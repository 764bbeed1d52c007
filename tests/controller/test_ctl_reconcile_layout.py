"""reconcile with another lab's file refuses a switch that holds another layout (finding 1):
exit 7, one line naming the difference and `--force`, nothing written; `--force` rewrites it,
and a lab file changed only in what reconcile repairs (miss policy) needs no --force."""
from __future__ import annotations

from ctl_helpers import snapshot


def _lab(tmp_path, switch, name: str, extra: str = "") -> str:
    p = tmp_path / f"{name}.toml"
    p.write_text(f'[lab]\nname = "{name}"\nrun_dir = "{tmp_path}/{name}"\n{extra}'
                 f'[switch]\ngrpc_addr = "{switch.addr}"\n')
    return str(p)


def test_reconcile_refuses_another_labs_layout(fdirctl, switch, program, tmp_path):
    mine = _lab(tmp_path, switch, "mine")
    other = _lab(tmp_path, switch, "other", 'steering = "handoff"\n')
    assert fdirctl("--lab", mine, "init")[0] == 0
    assert fdirctl("--lab", mine, "reconcile")[0] == 0
    before = snapshot(switch.addr, program[0])
    for args in (["reconcile"], ["reconcile", "--check"]):
        code, res, err = fdirctl("--lab", other, *args)
        assert code == 7, (args, err)
        line = err.strip()
        assert "\n" not in line and "mode fdir (lab: handoff)" in line and "--force" in line, line
        assert snapshot(switch.addr, program[0]) == before
    code, res, err = fdirctl("--lab", other, "reconcile", "--force")
    assert code == 0, err
    assert fdirctl("--lab", other, "reconcile")[0] == 0          # now it is that lab's switch
    assert fdirctl("--lab", mine, "reconcile")[0] == 7


def test_reconcile_repairs_a_changed_miss_policy_without_force(fdirctl, switch, tmp_path):
    lab = _lab(tmp_path, switch, "mine")
    assert fdirctl("--lab", lab, "init")[0] == 0
    changed = _lab(tmp_path, switch, "mine", 'miss_policy = "lcore 1"\n')
    code, res, err = fdirctl("--lab", changed, "reconcile")
    assert code == 0 and res["modify"] >= 1, err


def test_init_then_reconcile_of_a_lab_without_addresses(fdirctl, switch, tmp_path):
    """A dpvs.conf lab starts with no VIP and no local address: the switch then holds no LB MAC
    (nothing to answer ARP for), which is not another lab's layout."""
    lab = tmp_path / "empty.toml"
    lab.write_text(f'services = []\n[lab]\nname = "empty"\nrun_dir = "{tmp_path}/empty"\n'
                   f'[laddrs]\naddrs = []\n[switch]\ngrpc_addr = "{switch.addr}"\n')
    assert fdirctl("--lab", str(lab), "init")[0] == 0
    code, res, err = fdirctl("--lab", str(lab), "reconcile")
    assert code == 0, err
