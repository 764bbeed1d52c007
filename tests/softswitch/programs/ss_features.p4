/*
 * ss_features.p4 -- softswitch test program: constructs fdir.p4 does not use.
 * lpm / range / optional / const-entry tables, registers, indirect and direct counters,
 * every BMv2 hash algorithm over an odd-width field list, checksum update, lookahead,
 * exit, setInvalid, arithmetic wrap-around, PacketIn/PacketOut controller headers.
 * A "probe" frame (EtherType 0x88b5) carries an opcode choosing what ingress does.
 */
#include <core.p4>
#include <v1model.p4>

const bit<9> CPU_PORT = 64;

@controller_header("packet_in")
header packet_in_t {
    bit<9> ingress_port;
    bit<7> pad;
}

@controller_header("packet_out")
header packet_out_t {
    bit<9> egress_port;
    bit<7> pad;
}

header ethernet_t {
    bit<48> dst;
    bit<48> src;
    bit<16> etype;
}

header probe_t {
    bit<8>  op;
    bit<8>  flags;
    bit<16> a;
    bit<32> b;
    bit<32> c;
    bit<16> h_crc16;
    bit<32> h_crc32;
    bit<16> h_csum16;
    bit<16> h_ccitt;
    bit<32> h_ident;
    bit<16> h_xor16;
    bit<32> reg_val;
    bit<32> arith;
    bit<8>  peek;
}

struct headers_t {
    packet_in_t  packet_in;
    packet_out_t packet_out;
    ethernet_t   eth;
    probe_t      probe;
}

struct meta_t {
    bit<8> peek;
}

parser SsParser(packet_in pkt, out headers_t hdr, inout meta_t meta,
                inout standard_metadata_t sm) {
    state start {
        transition select(sm.ingress_port) {
            CPU_PORT: parse_packet_out;
            default: parse_eth;
        }
    }
    state parse_packet_out {
        pkt.extract(hdr.packet_out);
        transition parse_eth;
    }
    state parse_eth {
        pkt.extract(hdr.eth);
        transition select(hdr.eth.etype) {
            0x88b5: peek_probe;
            default: accept;
        }
    }
    state peek_probe {
        /* the second byte of the probe (flags), read before extracting it */
        meta.peek = pkt.lookahead<bit<16>>()[7:0];
        transition select(pkt.lookahead<bit<8>>()) {
            0xee: reject;
            default: parse_probe;
        }
    }
    state parse_probe {
        pkt.extract(hdr.probe);
        transition accept;
    }
}

control SsVerify(inout headers_t hdr, inout meta_t meta) {
    apply { }
}

control SsIngress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    counter(16, CounterType.packets_and_bytes) op_counter;
    direct_counter(CounterType.packets_and_bytes) lpm_counter;
    register<bit<32>>(8) regs;

    action fwd(bit<9> port) { sm.egress_spec = port; }
    action drop() { mark_to_drop(sm); }
    action set_a(bit<16> v) { hdr.probe.a = v; }
    action fwd_lpm(bit<9> port) { sm.egress_spec = port; }

    table t_exact {
        key = { hdr.eth.dst: exact; }
        actions = { fwd; drop; }
        default_action = drop();
    }
    table t_lpm {
        key = { hdr.probe.b: lpm; }
        actions = { fwd_lpm; drop; NoAction; }
        default_action = NoAction();
        counters = lpm_counter;
    }
    table t_range {
        key = { hdr.probe.a: range; hdr.probe.flags: exact; }
        actions = { fwd; NoAction; }
        default_action = NoAction();
    }
    table t_tern {
        key = { hdr.probe.c: ternary; hdr.probe.flags: optional; }
        actions = { fwd; set_a; NoAction; }
        default_action = NoAction();
    }
    table t_const {
        key = { hdr.probe.flags: exact; }
        actions = { set_a; NoAction; }
        const entries = {
            0x77 : set_a(0x7777);
            0x78 : set_a(0x7878);
        }
        default_action = NoAction();
    }

    apply {
        if (hdr.packet_out.isValid()) {
            sm.egress_spec = hdr.packet_out.egress_port;
            hdr.packet_out.setInvalid();
            return;
        }
        if (!hdr.probe.isValid()) {
            t_exact.apply();
            return;
        }
        sm.egress_spec = 2;
        hdr.probe.peek = meta.peek;
        op_counter.count((bit<32>)(hdr.probe.op & 15));
        if (hdr.probe.op == 1) {
            t_lpm.apply();
        } else if (hdr.probe.op == 2) {
            t_range.apply();
        } else if (hdr.probe.op == 3) {
            t_tern.apply();
        } else if (hdr.probe.op == 4) {
            t_const.apply();
        } else if (hdr.probe.op == 5) {
            hash(hdr.probe.h_crc16, HashAlgorithm.crc16, (bit<16>)0,
                 { hdr.probe.a, (bit<3>)hdr.probe.flags, hdr.probe.b, hdr.probe.c }, (bit<32>)65536);
            hash(hdr.probe.h_crc32, HashAlgorithm.crc32, (bit<32>)0,
                 { hdr.probe.a, (bit<3>)hdr.probe.flags, hdr.probe.b, hdr.probe.c }, (bit<64>)4294967296);
            hash(hdr.probe.h_csum16, HashAlgorithm.csum16, (bit<16>)0,
                 { hdr.probe.a, hdr.probe.b, hdr.probe.c }, (bit<32>)65536);
            hash(hdr.probe.h_ccitt, HashAlgorithm.crc16_custom, (bit<16>)0,
                 { hdr.probe.b }, (bit<32>)65536);
            hash(hdr.probe.h_ident, HashAlgorithm.identity, (bit<32>)5,
                 { hdr.probe.b }, (bit<32>)1000);
            hash(hdr.probe.h_xor16, HashAlgorithm.xor16, (bit<16>)0,
                 { hdr.probe.b, hdr.probe.c }, (bit<32>)65536);
        } else if (hdr.probe.op == 6) {
            bit<32> idx = (bit<32>)(hdr.probe.flags & 7);
            regs.read(hdr.probe.reg_val, idx);
            regs.write(idx, hdr.probe.c);
        } else if (hdr.probe.op == 7) {
            hdr.probe.arith = hdr.probe.b + hdr.probe.c;
            hdr.probe.a = hdr.probe.a - 1;
            hdr.probe.h_ident = hdr.probe.b << 4;
            hdr.probe.h_crc32 = hdr.probe.b >> 3;
            hdr.probe.h_crc16 = ~hdr.probe.a;
            if (hdr.probe.b > hdr.probe.c) {
                hdr.probe.flags = 1;
            } else {
                hdr.probe.flags = 2;
            }
        } else if (hdr.probe.op == 8) {
            sm.egress_spec = 3;
            exit;
        } else if (hdr.probe.op == 9) {
            sm.egress_spec = CPU_PORT;
            hdr.packet_in.setValid();
            hdr.packet_in.ingress_port = sm.ingress_port;
            hdr.packet_in.pad = 0;
        } else if (hdr.probe.op == 10) {
            hdr.probe.setInvalid();
        } else if (hdr.probe.op == 12) {
            mark_to_drop(sm);
        }
        if (hdr.probe.isValid() && hdr.probe.op == 8) {
            hdr.probe.a = 0xdead;   /* never reached: op 8 exits */
        }
    }
}

control SsEgress(inout headers_t hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        if (hdr.probe.isValid() && hdr.probe.op == 13) {
            mark_to_drop(sm);
        }
    }
}

control SsCompute(inout headers_t hdr, inout meta_t meta) {
    apply {
        update_checksum(hdr.probe.isValid() && hdr.probe.op == 11,
                        { hdr.probe.a, hdr.probe.b, hdr.probe.c }, hdr.probe.h_csum16,
                        HashAlgorithm.csum16);
    }
}

control SsDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.packet_in);
        pkt.emit(hdr.eth);
        pkt.emit(hdr.probe);
    }
}

V1Switch(SsParser(), SsVerify(), SsIngress(), SsEgress(), SsCompute(), SsDeparser()) main;
