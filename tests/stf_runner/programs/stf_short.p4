/*
 * stf_short.p4 -- test program of the STF runner (stf/): frames shorter than an Ethernet
 * header. A 3-byte header {port, a, b}: the frame leaves on `port` with a = a + b and the
 * rest of the frame as it came; table `ops` (exact on b) may replace a.
 */
#include <core.p4>
#include <v1model.p4>

header op_t {
    bit<8> port;
    bit<8> a;
    bit<8> b;
}

struct headers_t {
    op_t op;
}

struct meta_t { }

parser SParser(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.op);
        transition accept;
    }
}

control SVerify(inout headers_t hdr, inout meta_t meta) {
    apply { }
}

control SIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action set_a(bit<8> v) { hdr.op.a = v; }

    table ops {
        key = { hdr.op.b: exact; }
        actions = { set_a; NoAction; }
        default_action = NoAction();
    }

    apply {
        sm.egress_spec = (bit<9>)hdr.op.port;
        hdr.op.a = hdr.op.a + hdr.op.b;
        ops.apply();
    }
}

control SEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { }
}

control SCompute(inout headers_t hdr, inout meta_t meta) {
    apply { }
}

control SDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.op);
    }
}

V1Switch(SParser(), SVerify(), SIngress(), SEgress(), SCompute(), SDeparser()) main;
