/*
 * ss_stacks.p4 -- softswitch test program: header stacks and header unions.
 * 802.1Q/802.1ad tags parsed into a 3-deep stack (next, last, lastIndex, StackOutOfBounds),
 * tags pushed and popped (push_front/pop_front), a tag rewritten at a run-time index, an IP
 * header union (extract of one member, isValid of the union, setValid of the other member
 * invalidating the first), a stack copied whole.
 */
#include <core.p4>
#include <v1model.p4>

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> etype;
}

header vlan_t {
    bit<3>  pcp;
    bit<1>  dei;
    bit<12> vid;
    bit<16> etype;
}

header ipv4_t {
    bit<8>  ver_ihl;
    bit<8>  tos;
    bit<16> len;
    bit<16> id;
    bit<16> frag;
    bit<8>  ttl;
    bit<8>  proto;
    bit<16> csum;
    bit<32> src;
    bit<32> dst;
}

header ipv6_t {
    bit<32>  vtf;
    bit<16>  plen;
    bit<8>   nh;
    bit<8>   hlim;
    bit<128> src;
    bit<128> dst;
}

header_union ip_t {
    ipv4_t v4;
    ipv6_t v6;
}

struct headers_t {
    ethernet_t eth;
    vlan_t[3]  vlan;
    vlan_t[3]  saved;
    ip_t       ip;
}

struct meta_t {
    bit<8>  depth;
    bit<8>  last;
    bit<32> idx;
    bit<12> new_vid;
    bit<8>  ttl;
    bit<32> src;
    bit<32> dst;
}

parser StParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.eth);
        transition select(hdr.eth.etype) {
            0x8100: parse_vlan;
            0x88a8: parse_vlan;
            0x0800: parse_v4;
            0x86dd: parse_v6;
            default: accept;
        }
    }
    state parse_vlan {
        pkt.extract(hdr.vlan.next);
        meta.depth = meta.depth + 1;
        meta.last = (bit<8>)hdr.vlan.lastIndex;
        transition select(hdr.vlan.last.etype) {
            0x8100: parse_vlan;
            0x0800: parse_v4;
            0x86dd: parse_v6;
            default: accept;
        }
    }
    state parse_v4 {
        pkt.extract(hdr.ip.v4);
        transition accept;
    }
    state parse_v6 {
        pkt.extract(hdr.ip.v6);
        transition accept;
    }
}

control StVerify(inout headers_t hdr, inout meta_t meta) {
    apply { }
}

control StIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action push_tag(bit<12> vid) {
        hdr.vlan.push_front(1);
        hdr.vlan[0].setValid();
        hdr.vlan[0].pcp = 0;
        hdr.vlan[0].dei = 0;
        hdr.vlan[0].vid = vid;
        hdr.vlan[0].etype = hdr.eth.etype;
        hdr.eth.etype = 0x8100;
    }
    action pop_tag() {
        hdr.eth.etype = hdr.vlan[0].etype;
        hdr.vlan.pop_front(1);
    }
    action set_vid_at(bit<32> idx, bit<12> vid) {
        meta.idx = idx + 1;
        meta.new_vid = vid;
    }
    action to_v6() {
        meta.ttl = hdr.ip.v4.ttl;
        meta.src = hdr.ip.v4.src;
        meta.dst = hdr.ip.v4.dst;
        /* setValid on one union member invalidates the other */
        hdr.ip.v6.setValid();
        hdr.ip.v6.vtf = 0x60000000;
        hdr.ip.v6.plen = 0;
        hdr.ip.v6.nh = 59;
        hdr.ip.v6.hlim = meta.ttl;
        hdr.ip.v6.src = (bit<128>)meta.src;
        hdr.ip.v6.dst = (bit<128>)meta.dst;
        hdr.eth.etype = 0x86dd;
    }
    action copy_stack() {
        hdr.saved = hdr.vlan;
        hdr.saved[0].vid = 1;
        hdr.vlan = hdr.saved;
    }
    table t_vlan {
        key = { hdr.eth.src[7:0] : exact @name("op"); }
        actions = { push_tag; pop_tag; set_vid_at; to_v6; copy_stack; NoAction; }
        default_action = NoAction();
    }
    apply {
        sm.egress_spec = 2;
        if (sm.parser_error == error.StackOutOfBounds) {
            sm.egress_spec = 3;
            return;
        }
        t_vlan.apply();
        if (meta.idx != 0) {
            hdr.vlan[meta.idx - 1].vid = meta.new_vid;
        }
        if (hdr.ip.v4.isValid()) {
            hdr.ip.v4.ttl = hdr.ip.v4.ttl - 1;
        } else if (hdr.ip.v6.isValid()) {
            hdr.ip.v6.hlim = hdr.ip.v6.hlim - 1;
        }
        hdr.eth.dst[15:8] = meta.depth;
        hdr.eth.dst[7:0] = meta.last;
        if (hdr.ip.isValid()) {
            hdr.eth.dst[23:16] = 1;
        }
        if (hdr.vlan[2].isValid()) {
            hdr.eth.dst[31:24] = 3;
        }
    }
}

control StEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply { }
}

control StCompute(inout headers_t hdr, inout meta_t meta) {
    apply { }
}

control StDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.eth);
        pkt.emit(hdr.vlan);
        pkt.emit(hdr.ip);
    }
}

V1Switch(StParser(), StVerify(), StIngress(), StEgress(), StCompute(), StDeparser()) main;
