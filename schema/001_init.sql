-- 001_init.sql - the first pcapdex index schema.
-- The schema is a public interface: docs/schema.md explains every column.
-- Addresses are 16-byte blobs, IPv4 stored IPv4-mapped (::ffff:a.b.c.d), so
-- one range covers a CIDR of either family.  Times are nanoseconds since the
-- Unix epoch, UTC.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;

CREATE TABLE captures (
    id           INTEGER PRIMARY KEY,
    path         TEXT NOT NULL UNIQUE,   -- absolute path when indexed
    size         INTEGER NOT NULL,       -- bytes
    mtime_ns     INTEGER NOT NULL,
    fingerprint  TEXT NOT NULL,          -- see docs/schema.md
    format       TEXT NOT NULL,          -- pcap, pcapng, snoop
    byte_order   TEXT NOT NULL,          -- le or be (first section for pcapng)
    version      TEXT NOT NULL,          -- major.minor
    ts_resolution TEXT NOT NULL,         -- us, ns, or per interface for pcapng
    snaplen      INTEGER NOT NULL,
    linktypes    TEXT NOT NULL,          -- comma list of link type numbers, per interface
    pcap_hdrlen  INTEGER NOT NULL,       -- pcap record header length (16 or 24)
    pcap_swapped INTEGER NOT NULL,       -- pcap caplen/len swap rule (0, 1, 2)
    first_ns     INTEGER,
    last_ns      INTEGER,
    packets      INTEGER NOT NULL,
    bytes        INTEGER NOT NULL,       -- sum of wire lengths
    cap_bytes    INTEGER NOT NULL,       -- sum of captured lengths
    truncated    INTEGER NOT NULL,       -- packets whose headers the snaplen cut
    invalid      INTEGER NOT NULL,       -- packets whose fields contradict each other
    status       TEXT NOT NULL,          -- complete, damaged
    warnings     TEXT NOT NULL,          -- newline-separated, "" when none
    indexed_ns   INTEGER NOT NULL
);

CREATE TABLE sections (
    capture_id   INTEGER NOT NULL REFERENCES captures(id),
    section      INTEGER NOT NULL,
    offset       INTEGER NOT NULL,
    big_endian   INTEGER NOT NULL,
    first_iface  INTEGER NOT NULL,
    PRIMARY KEY (capture_id, section)
) WITHOUT ROWID;

CREATE TABLE interfaces (
    capture_id   INTEGER NOT NULL REFERENCES captures(id),
    iface        INTEGER NOT NULL,       -- global index within the capture
    section      INTEGER NOT NULL,
    if_local     INTEGER NOT NULL,
    linktype     INTEGER NOT NULL,
    snaplen      INTEGER NOT NULL,
    tsresol      INTEGER NOT NULL,       -- pcapng if_tsresol byte (6 = us, 9 = ns)
    tsoffset     INTEGER NOT NULL,
    name         TEXT NOT NULL,
    PRIMARY KEY (capture_id, iface)
) WITHOUT ROWID;

CREATE TABLE flows (
    id           INTEGER PRIMARY KEY,    -- stable: order of first packet over the capture set
    proto        INTEGER,                -- IP protocol; NULL for non-IP flows
    ethertype    INTEGER NOT NULL,       -- 2048 IPv4, 34525 IPv6, or the L2 flow's ethertype
    linktype     INTEGER NOT NULL,
    src_ip       BLOB,                   -- initiator, 16 bytes; NULL for non-IP
    dst_ip       BLOB,
    src_port     INTEGER,                -- TCP/UDP/SCTP port; ICMP: type
    dst_port     INTEGER,                --                    ICMP: code
    icmp_id      INTEGER,                -- ICMP echo identifier
    src_mac      BLOB,                   -- 6 bytes, when the link layer has them
    dst_mac      BLOB,
    vlan         INTEGER,                -- outermost VLAN ID, NULL when none
    vlan_inner   INTEGER,
    tunnel       TEXT,                   -- ipip, gre, vxlan, geneve, gtpu; NULL when none
    tunnel_src   BLOB,
    tunnel_dst   BLOB,
    vni          INTEGER,
    first_ns     INTEGER NOT NULL,
    last_ns      INTEGER NOT NULL,
    src_packets  INTEGER NOT NULL,
    src_bytes    INTEGER NOT NULL,       -- wire lengths
    dst_packets  INTEGER NOT NULL,
    dst_bytes    INTEGER NOT NULL,
    tcp_flags    INTEGER NOT NULL,       -- OR of the flags of every packet
    end_reason   TEXT NOT NULL,          -- fin, rst, idle, open (may continue in the next capture)
    community_id TEXT,                   -- Community ID v1, seed 0; NULL for non-IP
    state        INTEGER NOT NULL,       -- bit 0: live (may continue in the next capture);
                                         -- bits 1-4: FIN from src, FIN from dst, RST, closed
    first_capture INTEGER NOT NULL REFERENCES captures(id),
    last_capture INTEGER NOT NULL REFERENCES captures(id)
);

CREATE INDEX flows_first ON flows(first_ns);
CREATE INDEX flows_src ON flows(src_ip, first_ns);
CREATE INDEX flows_dst ON flows(dst_ip, first_ns);
CREATE INDEX flows_sport ON flows(src_port, first_ns);
CREATE INDEX flows_dport ON flows(dst_port, first_ns);
CREATE INDEX flows_cid ON flows(community_id);
CREATE INDEX flows_live ON flows(id) WHERE state & 1;

-- Where a flow's packets are: one row per flow, capture and segment.
-- offsets holds `count` record offsets as LEB128 varints of the difference
-- to the previous offset (the first from 0); encoding 1 means that byte
-- string is zstd-compressed.  docs/schema.md has the details.
-- A rowid table: rows are appended as flows end, so pages stay full; the
-- unique index finds a flow's rows.
CREATE TABLE packets (
    flow_id      INTEGER NOT NULL REFERENCES flows(id),
    capture_id   INTEGER NOT NULL REFERENCES captures(id),
    seg          INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    first_offset INTEGER NOT NULL,
    last_offset  INTEGER NOT NULL,
    encoding     INTEGER NOT NULL,
    offsets      BLOB NOT NULL
);

CREATE UNIQUE INDEX packets_flow ON packets(flow_id, capture_id, seg);

-- A readable view for people who open the index with sqlite3.
CREATE VIEW flows_view AS
SELECT id,
       CASE proto WHEN 6 THEN 'tcp' WHEN 17 THEN 'udp' WHEN 1 THEN 'icmp' WHEN 58 THEN 'icmp6'
                  WHEN 132 THEN 'sctp' WHEN 47 THEN 'gre' ELSE
                  CASE WHEN proto IS NULL THEN printf('eth:0x%04x', ethertype) ELSE CAST(proto AS TEXT) END
       END AS proto,
       CASE WHEN src_ip IS NULL THEN NULL
             WHEN substr(src_ip, 1, 12) = x'00000000000000000000ffff' THEN
               ((instr('0123456789ABCDEF', substr(hex(src_ip), 25, 1)) - 1) * 16 + instr('0123456789ABCDEF', substr(hex(src_ip), 26, 1)) - 1) || '.' || ((instr('0123456789ABCDEF', substr(hex(src_ip), 27, 1)) - 1) * 16 + instr('0123456789ABCDEF', substr(hex(src_ip), 28, 1)) - 1) || '.' || ((instr('0123456789ABCDEF', substr(hex(src_ip), 29, 1)) - 1) * 16 + instr('0123456789ABCDEF', substr(hex(src_ip), 30, 1)) - 1) || '.' || ((instr('0123456789ABCDEF', substr(hex(src_ip), 31, 1)) - 1) * 16 + instr('0123456789ABCDEF', substr(hex(src_ip), 32, 1)) - 1)
             ELSE
               coalesce(nullif(ltrim(lower(substr(hex(src_ip), 1, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(src_ip), 5, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(src_ip), 9, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(src_ip), 13, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(src_ip), 17, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(src_ip), 21, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(src_ip), 25, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(src_ip), 29, 4)), '0'), ''), '0') END AS src,
       src_port AS sport,
       CASE WHEN dst_ip IS NULL THEN NULL
             WHEN substr(dst_ip, 1, 12) = x'00000000000000000000ffff' THEN
               ((instr('0123456789ABCDEF', substr(hex(dst_ip), 25, 1)) - 1) * 16 + instr('0123456789ABCDEF', substr(hex(dst_ip), 26, 1)) - 1) || '.' || ((instr('0123456789ABCDEF', substr(hex(dst_ip), 27, 1)) - 1) * 16 + instr('0123456789ABCDEF', substr(hex(dst_ip), 28, 1)) - 1) || '.' || ((instr('0123456789ABCDEF', substr(hex(dst_ip), 29, 1)) - 1) * 16 + instr('0123456789ABCDEF', substr(hex(dst_ip), 30, 1)) - 1) || '.' || ((instr('0123456789ABCDEF', substr(hex(dst_ip), 31, 1)) - 1) * 16 + instr('0123456789ABCDEF', substr(hex(dst_ip), 32, 1)) - 1)
             ELSE
               coalesce(nullif(ltrim(lower(substr(hex(dst_ip), 1, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(dst_ip), 5, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(dst_ip), 9, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(dst_ip), 13, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(dst_ip), 17, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(dst_ip), 21, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(dst_ip), 25, 4)), '0'), ''), '0') || ':' || coalesce(nullif(ltrim(lower(substr(hex(dst_ip), 29, 4)), '0'), ''), '0') END AS dst,
       dst_port AS dport,
       strftime('%Y-%m-%dT%H:%M:%S', first_ns / 1000000000, 'unixepoch') || printf('.%09dZ', first_ns % 1000000000) AS first,
       strftime('%Y-%m-%dT%H:%M:%S', last_ns / 1000000000, 'unixepoch') || printf('.%09dZ', last_ns % 1000000000) AS last,
       (last_ns - first_ns) / 1e9 AS duration_s,
       src_packets + dst_packets AS packets,
       src_bytes + dst_bytes AS bytes,
       src_packets, src_bytes, dst_packets, dst_bytes,
       vlan, tcp_flags, end_reason, community_id,
       CASE WHEN src_mac IS NULL THEN NULL ELSE lower(substr(hex(src_mac), 1, 2) || ':' || substr(hex(src_mac), 3, 2) || ':' || substr(hex(src_mac), 5, 2) || ':' || substr(hex(src_mac), 7, 2) || ':' || substr(hex(src_mac), 9, 2) || ':' || substr(hex(src_mac), 11, 2)) END AS src_mac,
       CASE WHEN dst_mac IS NULL THEN NULL ELSE lower(substr(hex(dst_mac), 1, 2) || ':' || substr(hex(dst_mac), 3, 2) || ':' || substr(hex(dst_mac), 5, 2) || ':' || substr(hex(dst_mac), 7, 2) || ':' || substr(hex(dst_mac), 9, 2) || ':' || substr(hex(dst_mac), 11, 2)) END AS dst_mac,
       tunnel,
       (SELECT group_concat(c.path, ' ') FROM captures c
         WHERE c.id IN (SELECT p.capture_id FROM packets p WHERE p.flow_id = flows.id)) AS captures
FROM flows;
