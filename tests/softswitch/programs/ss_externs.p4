/*
 * ss_externs.p4 -- softswitch test program: v1model externs with control-plane state.
 * An indirect packet meter and a direct byte meter (colors), an action selector (members,
 * groups, one-shot), a parser value set, a digest, a table with idle timeout.
 * An "ext" frame (EtherType 0x88b7) carries a key; ingress writes the results into it.
 */
#include <core.p4>
#include <v1model.p4>

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> etype;
}

header ext_t {
    bit<8>  op;
    bit<8>  key;
    bit<16> flow;
    bit<8>  color;
    bit<8>  dcolor;
    bit<8>  member;
    bit<8>  vset_hit;
}

struct headers_t {
    ethernet_t eth;
    ext_t      ext;
}

struct learn_t {
    bit<48> src;
    bit<8>  key;
}

struct meta_t {
    bit<8> vset_hit;
}

parser ExParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    value_set<bit<16>>(4) special_types;

    state start {
        pkt.extract(hdr.eth);
        transition select(hdr.eth.etype) {
            0x88b7: parse_ext;
            special_types: mark_special;
            default: accept;
        }
    }
    state mark_special {
        meta.vset_hit = 1;
        transition accept;
    }
    state parse_ext {
        pkt.extract(hdr.ext);
        transition accept;
    }
}

control ExVerify(inout headers_t hdr, inout meta_t meta) {
    apply { }
}

control ExIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    meter(4, MeterType.packets) pmeter;
    action_selector(HashAlgorithm.crc16, 32w64, 32w14) sel;
    direct_meter<bit<8>>(MeterType.bytes) dmeter;

    action set_port(bit<9> port, bit<8> tag) {
        sm.egress_spec = port;
        hdr.ext.member = tag;
    }
    action metered() {
        dmeter.read(hdr.ext.dcolor);
    }
    action learn() {
        digest<learn_t>(1, { hdr.eth.src, hdr.ext.key });
    }
    table t_sel {
        key = {
            hdr.ext.key  : exact;
            hdr.ext.flow : selector;
        }
        actions = { set_port; NoAction; }
        implementation = sel;
    }
    table t_dmeter {
        key = { hdr.ext.key : exact; }
        actions = { metered; NoAction; }
        meters = dmeter;
        default_action = NoAction();
    }
    table t_learn {
        key = { hdr.eth.src : exact; }
        actions = { learn; NoAction; }
        default_action = learn();
        support_timeout = true;
    }
    apply {
        sm.egress_spec = 2;
        if (!hdr.ext.isValid()) {
            if (meta.vset_hit == 1) {
                sm.egress_spec = 3;
            }
            return;
        }
        if (hdr.ext.op == 1) {
            pmeter.execute_meter((bit<32>)hdr.ext.key, hdr.ext.color);
        } else if (hdr.ext.op == 2) {
            t_dmeter.apply();
        } else if (hdr.ext.op == 3) {
            t_sel.apply();
        } else if (hdr.ext.op == 4) {
            t_learn.apply();
        }
    }
}

control ExEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { }
}

control ExCompute(inout headers_t hdr, inout meta_t meta) {
    apply { }
}

control ExDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.eth);
        pkt.emit(hdr.ext);
    }
}

V1Switch(ExParser(), ExVerify(), ExIngress(), ExEgress(), ExCompute(), ExDeparser()) main;
