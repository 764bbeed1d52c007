/*
 * fdir.p4 -- the NIC of fdirlab, for BMv2's v1model.
 *
 * Models what a DPDK load balancer (DPVS) asks of its NIC:
 *   - flow director ("perfect" filters): <dst addr, dst port & mask, proto> -> lcore port,
 *     for IPv4 and IPv6, unfragmented TCP/UDP only, one direct counter per filter;
 *   - RSS: a hash of the 5-tuple indexes a 128-entry redirection table (RETA) -> lcore port,
 *     for traffic to load-balancer addresses that no filter matched;
 *   - a miss policy for that traffic when RSS is off: a default lcore port, or drop;
 *   - L2 forwarding by destination MAC for frames the lcores transmit and for other traffic;
 *   - an ARP responder for load-balancer-owned IPv4 addresses, and a Neighbor Discovery
 *     responder for the IPv6 ones: a Neighbor Solicitation (RFC 4861 section 4.3) for one of
 *     them is turned into the Neighbor Advertisement (section 4.4) on the spot, its ICMPv6
 *     checksum computed here over the pseudo-header (RFC 8200 section 8.1);
 *   - per-port rx/tx counters and a drop counter indexed by reason.
 *
 * Port roles: a frame from a "wire" port is classified (ARP / flow director / RSS / L2);
 * a frame from an "lcore" port has already been NATed by a worker and is only L2-forwarded.
 * Malformed frames (parser error, bad IPv4 header or NS checksum) are counted and dropped.
 */
#include <core.p4>
#include <v1model.p4>

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_ARP  = 0x0806;
const bit<16> ETHERTYPE_IPV6 = 0x86dd;
const bit<8>  PROTO_TCP      = 6;
const bit<8>  PROTO_UDP      = 17;
const bit<8>  PROTO_V6_FRAG  = 44;
const bit<8>  PROTO_ICMPV6   = 58;
const bit<16> ARP_REQUEST    = 1;
const bit<16> ARP_REPLY      = 2;

/* Neighbor Discovery (RFC 4861) */
const bit<8>  ICMP6_NS       = 135;
const bit<8>  ICMP6_NA       = 136;
const bit<8>  ND_OPT_SLLA    = 1;     /* source link-layer address */
const bit<8>  ND_OPT_TLLA    = 2;     /* target link-layer address */
const bit<8>  ND_HOP_LIMIT   = 255;
/* The one NS shape answered: ICMPv6 header 4 + reserved 4 + target 16 + one SLLA option 8. */
const bit<16> ND_NS_LEN      = 32;
/* NA flags word: R (router) = 0, S (solicited) = 1, O (override) = 1, reserved 0. */
const bit<32> ND_NA_FLAGS    = 0x60000000;

const bit<2>  ROLE_WIRE  = 1;
const bit<2>  ROLE_LCORE = 2;

/* Indexes of the drop_reasons counter; controller/p4names.py mirrors them. */
const bit<32> DROP_PARSER_ERROR  = 0;
const bit<32> DROP_BAD_CHECKSUM  = 1;
const bit<32> DROP_MISS_POLICY   = 2;
const bit<32> DROP_RETA_MISS     = 3;
const bit<32> DROP_L2_MISS       = 4;
const bit<32> DROP_ARP_NOT_OURS  = 5;
const bit<32> DROP_ND_NOT_OURS   = 6;
const bit<32> DROP_ND_INVALID    = 7;
const bit<32> DROP_REASONS       = 8;

typedef bit<9>   port_t;
typedef bit<48>  mac_t;
typedef bit<32>  ip4_t;
typedef bit<128> ip6_t;

header ethernet_t {
    mac_t   dst_addr;
    mac_t   src_addr;
    bit<16> ether_type;
}

header arp_t {
    bit<16> htype;
    bit<16> ptype;
    bit<8>  hlen;
    bit<8>  plen;
    bit<16> oper;
    mac_t   sha;
    ip4_t   spa;
    mac_t   tha;
    ip4_t   tpa;
}

header ipv4_t {
    bit<4>  version;
    bit<4>  ihl;
    bit<8>  diffserv;
    bit<16> total_len;
    bit<16> identification;
    bit<1>  reserved;
    bit<1>  df;
    bit<1>  mf;
    bit<13> frag_offset;
    bit<8>  ttl;
    bit<8>  protocol;
    bit<16> hdr_checksum;
    ip4_t   src_addr;
    ip4_t   dst_addr;
}

/* IHL is honoured: options (up to 40 bytes) are carried as one varbit field. */
header ipv4_options_t {
    varbit<320> options;
}

header ipv6_t {
    bit<4>   version;
    bit<8>   traffic_class;
    bit<20>  flow_label;
    bit<16>  payload_len;
    bit<8>   next_hdr;
    bit<8>   hop_limit;
    ip6_t    src_addr;
    ip6_t    dst_addr;
}

header icmp6_t {
    bit<8>  type;
    bit<8>  code;
    bit<16> checksum;
}

/* The body of a Neighbor Solicitation / Advertisement: flags (reserved in an NS), target. */
header nd_t {
    bit<32> flags;
    ip6_t   target;
}

/* A source or target link-layer address option for Ethernet (length 1 = 8 bytes). */
header nd_lladdr_t {
    bit<8>  type;
    bit<8>  len;
    mac_t   addr;
}

header tcp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<32> seq_no;
    bit<32> ack_no;
    bit<4>  data_offset;
    bit<4>  res;
    bit<8>  flags;
    bit<16> window;
    bit<16> checksum;
    bit<16> urgent_ptr;
}

header udp_t {
    bit<16> src_port;
    bit<16> dst_port;
    bit<16> length;
    bit<16> checksum;
}

struct headers_t {
    ethernet_t     ethernet;
    arp_t          arp;
    ipv4_t         ipv4;
    ipv4_options_t ipv4_options;
    ipv6_t         ipv6;
    icmp6_t        icmp6;
    nd_t           nd;
    nd_lladdr_t    nd_opt;
    tcp_t          tcp;
    udp_t          udp;
}

struct metadata_t {
    bit<16> l4_sport;     /* TCP/UDP ports, 0 when there is no L4 header */
    bit<16> l4_dport;
    bit<1>  is_frag;      /* any IPv4 fragment, or an IPv6 fragment header */
    bit<2>  role;         /* ROLE_* of the ingress port */
    bit<1>  lb_addr;      /* destination is a VIP or a local address */
    bit<1>  steered;      /* a filter, RETA or the miss policy picked the port */
    bit<1>  use_rss;
    bit<7>  reta_idx;
    bit<1>  nd_answer;    /* this frame is now a Neighbor Advertisement: compute its checksum */
}

error { IPv4HeaderTooShort }

parser FdirParser(packet_in pkt, out headers_t hdr, inout metadata_t meta,
                  inout standard_metadata_t std) {
    state start {
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_IPV6: parse_ipv6;
            ETHERTYPE_ARP:  parse_arp;
            default: accept;
        }
    }
    state parse_arp {
        pkt.extract(hdr.arp);
        transition accept;
    }
    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        verify(hdr.ipv4.ihl >= 5, error.IPv4HeaderTooShort);
        pkt.extract(hdr.ipv4_options, (bit<32>)(((bit<16>)hdr.ipv4.ihl - 5) * 32));
        /* Only the first fragment carries the L4 header; later ones must not be read as one. */
        transition select(hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (0, PROTO_TCP): parse_tcp;
            (0, PROTO_UDP): parse_udp;
            default: accept;
        }
    }
    state parse_ipv6 {
        pkt.extract(hdr.ipv6);
        transition select(hdr.ipv6.next_hdr) {
            PROTO_TCP: parse_tcp;
            PROTO_UDP: parse_udp;
            PROTO_V6_FRAG: ipv6_fragment;
            PROTO_ICMPV6: parse_icmp6;
            default: accept;
        }
    }
    /* Only ICMPv6 messages of the NS-with-SLLA length are looked into; every other ICMPv6
     * message passes through unparsed, as before. */
    state parse_icmp6 {
        transition select(hdr.ipv6.payload_len) {
            ND_NS_LEN: parse_icmp6_header;
            default: accept;
        }
    }
    state parse_icmp6_header {
        pkt.extract(hdr.icmp6);
        transition select(hdr.icmp6.type) {
            ICMP6_NS: parse_nd_ns;
            default: accept;
        }
    }
    state parse_nd_ns {
        pkt.extract(hdr.nd);
        pkt.extract(hdr.nd_opt);
        transition accept;
    }
    state ipv6_fragment {
        meta.is_frag = 1;
        transition accept;
    }
    state parse_tcp {
        pkt.extract(hdr.tcp);
        meta.l4_sport = hdr.tcp.src_port;
        meta.l4_dport = hdr.tcp.dst_port;
        transition accept;
    }
    state parse_udp {
        pkt.extract(hdr.udp);
        meta.l4_sport = hdr.udp.src_port;
        meta.l4_dport = hdr.udp.dst_port;
        transition accept;
    }
}

control FdirVerifyChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        verify_checksum(hdr.ipv4.isValid(),
            { hdr.ipv4.version, hdr.ipv4.ihl, hdr.ipv4.diffserv, hdr.ipv4.total_len,
              hdr.ipv4.identification, hdr.ipv4.reserved, hdr.ipv4.df, hdr.ipv4.mf,
              hdr.ipv4.frag_offset, hdr.ipv4.ttl, hdr.ipv4.protocol,
              hdr.ipv4.src_addr, hdr.ipv4.dst_addr, hdr.ipv4_options.options },
            hdr.ipv4.hdr_checksum, HashAlgorithm.csum16);
        /* An NS is all headers (see the parser), so its checksum covers exactly these fields:
         * the pseudo-header (source, destination, 32-bit upper-layer length, 24 zero bits,
         * next header), then the ICMPv6 message without its checksum field. */
        verify_checksum(hdr.nd.isValid(),
            { hdr.ipv6.src_addr, hdr.ipv6.dst_addr, 16w0, hdr.ipv6.payload_len, 24w0,
              hdr.ipv6.next_hdr, hdr.icmp6.type, hdr.icmp6.code, hdr.nd.flags, hdr.nd.target,
              hdr.nd_opt.type, hdr.nd_opt.len, hdr.nd_opt.addr },
            hdr.icmp6.checksum, HashAlgorithm.csum16);
    }
}

control FdirIngress(inout headers_t hdr, inout metadata_t meta,
                    inout standard_metadata_t std) {
    counter(512, CounterType.packets_and_bytes) port_rx;
    counter(DROP_REASONS, CounterType.packets) drop_reasons;

    direct_counter(CounterType.packets_and_bytes) fdir_v4_counter;
    direct_counter(CounterType.packets_and_bytes) fdir_v6_counter;
    direct_counter(CounterType.packets_and_bytes) reta_counter;
    direct_counter(CounterType.packets_and_bytes) l2_counter;

    action drop_for(bit<32> reason) {
        mark_to_drop(std);
        drop_reasons.count(reason);
    }

    /* --- port roles --- */
    action set_wire() { meta.role = ROLE_WIRE; }
    action set_lcore() { meta.role = ROLE_LCORE; }
    table port_role {
        key = { std.ingress_port: exact; }
        actions = { set_wire; set_lcore; }
        default_action = set_wire();
        size = 512;
    }

    /* --- load-balancer-owned addresses (VIPs and local addresses) --- */
    action lb_owned() { meta.lb_addr = 1; }
    table lb_addr_v4 {
        key = { hdr.ipv4.dst_addr: exact; }
        actions = { lb_owned; NoAction; }
        default_action = NoAction();
        size = 4096;
    }
    table lb_addr_v6 {
        key = { hdr.ipv6.dst_addr: exact; }
        actions = { lb_owned; NoAction; }
        default_action = NoAction();
        size = 4096;
    }

    /* --- flow director --- */
    action steer(port_t port) {
        std.egress_spec = port;
        meta.steered = 1;
    }
    table fdir_v4 {
        key = {
            hdr.ipv4.dst_addr: ternary;
            meta.l4_dport:     ternary;
            hdr.ipv4.protocol: exact;
        }
        actions = { steer; NoAction; }
        default_action = NoAction();
        counters = fdir_v4_counter;
        size = 65536;
    }
    table fdir_v6 {
        key = {
            hdr.ipv6.dst_addr: ternary;
            meta.l4_dport:     ternary;
            hdr.ipv6.next_hdr: exact;
        }
        actions = { steer; NoAction; }
        default_action = NoAction();
        counters = fdir_v6_counter;
        size = 65536;
    }

    /* --- what happens to load-balancer traffic no filter matched --- */
    action rss() { meta.use_rss = 1; }
    action drop_miss() { drop_for(DROP_MISS_POLICY); }
    table lb_miss_policy {
        key = { }
        actions = { rss; steer; drop_miss; }
        default_action = rss();
        size = 1;
    }

    /* --- RSS redirection table --- */
    action reta_miss() { drop_for(DROP_RETA_MISS); }
    table reta {
        key = { meta.reta_idx: exact; }
        actions = { steer; reta_miss; }
        default_action = reta_miss();
        counters = reta_counter;
        size = 128;
    }

    /* --- L2 forwarding --- */
    action forward(port_t port) { std.egress_spec = port; }
    action l2_miss() { drop_for(DROP_L2_MISS); }
    table l2_fwd {
        key = { hdr.ethernet.dst_addr: exact; }
        actions = { forward; l2_miss; }
        default_action = l2_miss();
        counters = l2_counter;
        size = 4096;
    }

    /* --- ARP answers for load-balancer-owned IPv4 addresses --- */
    action arp_answer(mac_t mac) {
        hdr.ethernet.dst_addr = hdr.arp.sha;
        hdr.ethernet.src_addr = mac;
        hdr.arp.oper = ARP_REPLY;
        hdr.arp.tha = hdr.arp.sha;
        hdr.arp.sha = mac;
        ip4_t asked = hdr.arp.tpa;
        hdr.arp.tpa = hdr.arp.spa;
        hdr.arp.spa = asked;
        std.egress_spec = std.ingress_port;
    }
    action arp_not_ours() { drop_for(DROP_ARP_NOT_OURS); }
    table arp_responder {
        key = { hdr.arp.tpa: exact; }
        actions = { arp_answer; arp_not_ours; }
        default_action = arp_not_ours();
        size = 4096;
    }

    /* --- Neighbor Advertisements for load-balancer-owned IPv6 addresses --- */
    action nd_answer(mac_t mac) {
        hdr.ethernet.dst_addr = hdr.nd_opt.addr;      /* the solicitor's link-layer address */
        hdr.ethernet.src_addr = mac;
        hdr.ipv6.dst_addr = hdr.ipv6.src_addr;
        hdr.ipv6.src_addr = hdr.nd.target;
        hdr.ipv6.hop_limit = ND_HOP_LIMIT;
        hdr.icmp6.type = ICMP6_NA;
        hdr.nd.flags = ND_NA_FLAGS;
        hdr.nd_opt.type = ND_OPT_TLLA;
        hdr.nd_opt.addr = mac;
        meta.nd_answer = 1;
        std.egress_spec = std.ingress_port;
    }
    action nd_not_ours() { drop_for(DROP_ND_NOT_OURS); }
    table nd_responder {
        key = { hdr.nd.target: exact; }
        actions = { nd_answer; nd_not_ours; }
        default_action = nd_not_ours();
        size = 4096;
    }

    apply {
        port_rx.count((bit<32>)std.ingress_port);
        if (std.parser_error != error.NoError) {
            drop_for(DROP_PARSER_ERROR);
            return;
        }
        if (std.checksum_error == 1) {
            drop_for(DROP_BAD_CHECKSUM);
            return;
        }
        port_role.apply();

        if (meta.role == ROLE_WIRE) {
            if (hdr.arp.isValid() && hdr.arp.oper == ARP_REQUEST) {
                arp_responder.apply();
                return;
            }
            if (hdr.nd.isValid()) {
                /* RFC 4861 section 7.1.1: hop limit 255, code 0, a specified source (it
                 * carries an SLLA option), a unicast target */
                if (hdr.ipv6.hop_limit != ND_HOP_LIMIT || hdr.icmp6.code != 0
                        || hdr.nd_opt.type != ND_OPT_SLLA || hdr.nd_opt.len != 1
                        || hdr.ipv6.src_addr == 0 || hdr.nd.target[127:120] == 0xff) {
                    drop_for(DROP_ND_INVALID);
                } else {
                    nd_responder.apply();
                }
                return;
            }
            if (hdr.ipv4.isValid()) {
                if (hdr.ipv4.mf == 1 || hdr.ipv4.frag_offset != 0) {
                    meta.is_frag = 1;
                }
                lb_addr_v4.apply();
                if (meta.lb_addr == 1 && meta.is_frag == 0
                        && (hdr.tcp.isValid() || hdr.udp.isValid())) {
                    fdir_v4.apply();
                }
            } else if (hdr.ipv6.isValid()) {
                lb_addr_v6.apply();
                if (meta.lb_addr == 1 && meta.is_frag == 0
                        && (hdr.tcp.isValid() || hdr.udp.isValid())) {
                    fdir_v6.apply();
                }
            }
            if (meta.lb_addr == 1) {
                if (meta.steered == 0) {
                    lb_miss_policy.apply();
                }
                if (meta.use_rss == 1) {
                    if (hdr.ipv4.isValid()) {
                        hash(meta.reta_idx, HashAlgorithm.crc32, (bit<7>)0,
                             { hdr.ipv4.src_addr, hdr.ipv4.dst_addr, hdr.ipv4.protocol,
                               meta.l4_sport, meta.l4_dport },
                             (bit<8>)128);
                    } else {
                        hash(meta.reta_idx, HashAlgorithm.crc32, (bit<7>)0,
                             { hdr.ipv6.src_addr, hdr.ipv6.dst_addr, hdr.ipv6.next_hdr,
                               meta.l4_sport, meta.l4_dport },
                             (bit<8>)128);
                    }
                    reta.apply();
                }
                return;
            }
        }
        l2_fwd.apply();
    }
}

control FdirEgress(inout headers_t hdr, inout metadata_t meta,
                   inout standard_metadata_t std) {
    counter(512, CounterType.packets_and_bytes) port_tx;
    apply {
        port_tx.count((bit<32>)std.egress_port);
    }
}

/* The switch rewrites no IPv4 field, so the IPv4 header checksum is carried unchanged. A
 * Neighbor Advertisement made from an NS gets its ICMPv6 checksum over the same fields as
 * the NS was verified with; every other frame keeps its bytes. */
control FdirComputeChecksum(inout headers_t hdr, inout metadata_t meta) {
    apply {
        update_checksum(meta.nd_answer == 1,
            { hdr.ipv6.src_addr, hdr.ipv6.dst_addr, 16w0, hdr.ipv6.payload_len, 24w0,
              hdr.ipv6.next_hdr, hdr.icmp6.type, hdr.icmp6.code, hdr.nd.flags, hdr.nd.target,
              hdr.nd_opt.type, hdr.nd_opt.len, hdr.nd_opt.addr },
            hdr.icmp6.checksum, HashAlgorithm.csum16);
    }
}

control FdirDeparser(packet_out pkt, in headers_t hdr) {
    apply {
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.arp);
        pkt.emit(hdr.ipv4);
        pkt.emit(hdr.ipv4_options);
        pkt.emit(hdr.ipv6);
        pkt.emit(hdr.icmp6);
        pkt.emit(hdr.nd);
        pkt.emit(hdr.nd_opt);
        pkt.emit(hdr.tcp);
        pkt.emit(hdr.udp);
    }
}

V1Switch(FdirParser(), FdirVerifyChecksum(), FdirIngress(), FdirEgress(),
         FdirComputeChecksum(), FdirDeparser()) main;
