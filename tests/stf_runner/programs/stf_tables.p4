/*
 * stf_tables.p4 -- test program of the STF runner (stf/): exact, ternary and lpm tables,
 * action parameters and a default action, on Ethernet frames.
 *   EtherType 0x88b5: a tag header; table `acl` (ternary on tag.val) marks it.
 *   EtherType 0x0801: table `route` (lpm on eth.src) picks the port.
 *   anything else:    table `l2` (exact on eth.dst) picks the port; default: drop.
 */
#include <core.p4>
#include <v1model.p4>

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> etype;
}

header tag_t {
    bit<8>  kind;
    bit<8>  mark;
    bit<16> val;
}

struct headers_t {
    ethernet_t eth;
    tag_t      tag;
}

struct meta_t { }

parser TParser(packet_in pkt, out headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.eth);
        transition select(hdr.eth.etype) {
            0x88b5: parse_tag;
            default: accept;
        }
    }
    state parse_tag {
        pkt.extract(hdr.tag);
        transition accept;
    }
}

control TVerify(inout headers_t hdr, inout meta_t meta) {
    apply { }
}

control TIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action fwd(bit<9> port) { sm.egress_spec = port; }
    action drop() { mark_to_drop(sm); }
    action mark(bit<8> v, bit<9> port) {
        hdr.tag.mark = v;
        sm.egress_spec = port;
    }

    table l2 {
        key = { hdr.eth.dst: exact; }
        actions = { fwd; drop; }
        default_action = drop();
    }
    table acl {
        key = { hdr.tag.val: ternary; }
        actions = { mark; drop; }
        default_action = drop();
    }
    table route {
        key = { hdr.eth.src: lpm; }
        actions = { fwd; drop; }
        default_action = drop();
    }

    apply {
        if (hdr.tag.isValid()) {
            acl.apply();
        } else if (hdr.eth.etype == 0x0801) {
            route.apply();
        } else {
            l2.apply();
        }
    }
}

control TEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { }
}

control TCompute(inout headers_t hdr, inout meta_t meta) {
    apply { }
}

control TDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.eth);
        pkt.emit(hdr.tag);
    }
}

V1Switch(TParser(), TVerify(), TIngress(), TEgress(), TCompute(), TDeparser()) main;
