/*
 * ss_replication.p4 -- softswitch test program: what happens after ingress and egress.
 * Multicast groups (egress_rid), ingress and egress clones with a preserved field list,
 * resubmit and recirculate preserving a field list, truncate, priority.
 * A "rep" frame (EtherType 0x88b6) names the operation; egress writes what it saw into it
 * (instance_type in ingress and in egress, egress_rid, egress_port, the preserved metadata, a
 * pass count). As in simple_switch, a unicast packet enters egress as instance type 0 even after
 * a resubmit or recirculation.
 */
#include <core.p4>
#include <v1model.p4>

const bit<8> OP_UNICAST  = 1;
const bit<8> OP_MCAST    = 2;
const bit<8> OP_CLONE_I  = 3;
const bit<8> OP_CLONE_E  = 4;
const bit<8> OP_RESUB    = 5;
const bit<8> OP_RECIRC   = 6;
const bit<8> OP_TRUNC    = 7;
const bit<8> OP_PRIO     = 8;

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> etype;
}

header rep_t {
    bit<8>  op;
    bit<8>  arg;
    bit<8>  ig_type;      /* instance_type as ingress saw it */
    bit<8>  eg_type;      /* instance_type as egress saw it */
    bit<8>  passes;
    bit<8>  kept;
    bit<16> rid;
    bit<16> eport;
    bit<8>  in_port;
    bit<8>  pad;
    bit<16> plen;
}

struct headers_t {
    ethernet_t eth;
    rep_t      rep;
}

struct meta_t {
    @field_list(1)
    bit<8> kept;
    bit<8> scratch;
}

parser RpParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.eth);
        transition select(hdr.eth.etype) {
            0x88b6: parse_rep;
            default: accept;
        }
    }
    state parse_rep {
        pkt.extract(hdr.rep);
        transition accept;
    }
}

control RpVerify(inout headers_t hdr, inout meta_t meta) {
    apply { }
}

control RpIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        if (!hdr.rep.isValid()) {
            mark_to_drop(sm);
            return;
        }
        sm.egress_spec = 2;
        hdr.rep.in_port = (bit<8>)sm.ingress_port;
        hdr.rep.ig_type = (bit<8>)sm.instance_type;
        hdr.rep.plen = (bit<16>)sm.packet_length;
        if (hdr.rep.op == OP_UNICAST) {
            sm.egress_spec = (bit<9>)hdr.rep.arg;
        } else if (hdr.rep.op == OP_MCAST) {
            sm.mcast_grp = (bit<16>)hdr.rep.arg;
        } else if (hdr.rep.op == OP_CLONE_I) {
            meta.kept = 0x5a;
            meta.scratch = 0x11;
            clone_preserving_field_list(CloneType.I2E, (bit<32>)hdr.rep.arg, 1);
        } else if (hdr.rep.op == OP_RESUB) {
            if (sm.instance_type == 0) {
                meta.kept = 0x77;
                meta.scratch = 0x22;
                resubmit_preserving_field_list(1);
            }
        } else if (hdr.rep.op == OP_TRUNC) {
            truncate((bit<32>)hdr.rep.arg);
        } else if (hdr.rep.op == OP_PRIO) {
            sm.priority = (bit<3>)hdr.rep.arg;
        }
    }
}

control RpEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        if (!hdr.rep.isValid()) {
            return;
        }
        hdr.rep.passes = hdr.rep.passes + 1;
        hdr.rep.eg_type = (bit<8>)sm.instance_type;
        hdr.rep.rid = sm.egress_rid;
        hdr.rep.eport = (bit<16>)sm.egress_port;
        hdr.rep.kept = meta.kept | meta.scratch;
        if (hdr.rep.op == OP_CLONE_E && sm.instance_type == 0) {
            meta.kept = 0x33;
            clone_preserving_field_list(CloneType.E2E, (bit<32>)hdr.rep.arg, 1);
        } else if (hdr.rep.op == OP_RECIRC && hdr.rep.passes == 1) {
            meta.kept = 0x44;
            recirculate_preserving_field_list(1);
        }
    }
}

control RpCompute(inout headers_t hdr, inout meta_t meta) {
    apply { }
}

control RpDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.eth);
        pkt.emit(hdr.rep);
    }
}

V1Switch(RpParser(), RpVerify(), RpIngress(), RpEgress(), RpCompute(), RpDeparser()) main;
