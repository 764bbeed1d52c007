"""p4runtime-shell, unchanged and used as its users use it, drives softswitch with p4src/build.

sh.setup() is one switch per process, so the shell session runs in a subprocess of its own.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from ss_helpers import REPO, Target, VethSet

SCRIPT = textwrap.dedent('''
    import sys
    import p4runtime_sh.shell as sh
    from p4runtime_sh.p4runtime import P4RuntimeWriteException


    def filters():
        return list(sh.TableEntry("FdirIngress.fdir_v4").read())


    def session():
        te = sh.TableEntry("FdirIngress.fdir_v4")(action="FdirIngress.steer")
        te.match["hdr.ipv4.dst_addr"] = "10.0.0.200&&&255.255.255.255"
        te.match["meta.l4_dport"] = "2&&&3"
        te.match["hdr.ipv4.protocol"] = "6"
        te.action["port"] = "4"
        te.priority = 10
        te.metadata = b"hand-made"
        te.insert()

        got = filters()
        assert len(got) == 1, got
        print("COOKIE", got[0].metadata)
        print("READ", got[0].match["meta.l4_dport"].ternary.mask, got[0].action["port"].value)

        try:
            te.insert()
        except P4RuntimeWriteException as exc:
            print("DUP", exc.errors[0][1].canonical_code)

        te.action["port"] = "5"
        te.modify()
        print("MODIFIED", filters()[0].action["port"].value)

        counters = list(sh.DirectCounterEntry("FdirIngress.fdir_v4_counter").read())
        print("DIRECT", len(counters), counters[0].packet_count)

        rx = list(sh.CounterEntry("FdirIngress.port_rx").read())
        print("PORT_RX", len(rx))

        d = sh.TableEntry("FdirIngress.lb_miss_policy")(action="FdirIngress.drop_miss")
        d.is_default = True
        d.modify()
        q = sh.TableEntry("FdirIngress.lb_miss_policy")
        q.is_default = True
        (cur,) = list(q.read())
        print("DEFAULT", cur.action.action_name)

        te.delete()
        print("AFTER_DELETE", len(filters()))


    addr, p4info, json_path = sys.argv[1:4]
    sh.setup(device_id=0, grpc_addr=addr, election_id=(0, 1),
             config=sh.FwdPipeConfig(p4info, json_path), verbose=False)
    try:
        session()
    finally:
        sh.teardown()   # the shell's stream thread would otherwise keep the process alive
''')


@pytest.mark.root
def test_p4runtime_shell_session(fdir_program, tmp_path):
    p4info, json_path = fdir_program
    veths = VethSet(1)
    target = Target("softswitch", veths)
    try:
        script = tmp_path / "session.py"
        script.write_text(SCRIPT)
        res = subprocess.run([sys.executable, str(script), target.addr, str(p4info), str(json_path)],
                             cwd=REPO, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
        out = res.stdout
        assert "COOKIE b'hand-made'" in out
        assert "DUP 6" in out                    # ALREADY_EXISTS
        assert "READ b'\\x03' b'\\x04'" in out
        assert "MODIFIED b'\\x05'" in out
        assert "DIRECT 1 0" in out
        assert "PORT_RX 512" in out
        assert "DEFAULT FdirIngress.drop_miss" in out
        assert "AFTER_DELETE 0" in out
        assert target.alive()
    finally:
        target.stop()
        veths.close()
