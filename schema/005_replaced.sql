-- 005_replaced.sql - captures overwritten in place (a capture ring).
-- `index --ring` indexes the new content of a path whose file was
-- overwritten since it was indexed; the old capture's row stays, with the
-- time it was found overwritten in replaced_ns, and so do its flows.  A path
-- is then unique among the captures that are not replaced, so the table is
-- rebuilt without the UNIQUE of its path column (SQLite cannot drop it in
-- place); ids, columns and rows are kept.  flows_view names captures: it
-- is dropped first (a rename checks every view) and made again at the end.
DROP VIEW IF EXISTS flows_view;

CREATE TABLE captures_new (
    id           INTEGER PRIMARY KEY,
    path         TEXT NOT NULL,          -- absolute path when indexed
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
    indexed_ns   INTEGER NOT NULL,
    compression  TEXT NOT NULL DEFAULT 'none',  -- 002
    raw_size     INTEGER,                       -- 002
    raw_fingerprint TEXT,                       -- 004
    replaced_ns  INTEGER                 -- when found overwritten; NULL: the file at path
);

INSERT INTO captures_new
SELECT id, path, size, mtime_ns, fingerprint, format, byte_order, version, ts_resolution,
       snaplen, linktypes, pcap_hdrlen, pcap_swapped, first_ns, last_ns, packets, bytes,
       cap_bytes, truncated, invalid, status, warnings, indexed_ns, compression, raw_size,
       raw_fingerprint, NULL
  FROM captures;

DROP TABLE captures;
ALTER TABLE captures_new RENAME TO captures;

CREATE UNIQUE INDEX captures_path ON captures(path) WHERE replaced_ns IS NULL;

-- flows_view as 001 made it, but its captures column leaves out the
-- replaced captures: their paths hold other packets now.
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
         WHERE c.id IN (SELECT p.capture_id FROM packets p WHERE p.flow_id = flows.id)
           AND c.replaced_ns IS NULL) AS captures
FROM flows;
