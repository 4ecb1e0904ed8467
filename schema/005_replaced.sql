-- 005_replaced.sql - captures overwritten in place (a capture ring).
-- `index --ring` indexes the new content of a path whose file was
-- overwritten since it was indexed; the old capture's row stays, with the
-- time it was found overwritten in replaced_ns, and so do its flows.  A path
-- is then unique among the captures that are not replaced, so the table is
-- rebuilt without the UNIQUE of its path column (SQLite cannot drop it in
-- place); ids, columns and rows are kept.  legacy_alter_table keeps the
-- rename from re-checking flows_view, which names captures and is valid
-- again once the new table has that name.
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
PRAGMA legacy_alter_table = ON;
ALTER TABLE captures_new RENAME TO captures;
PRAGMA legacy_alter_table = OFF;

CREATE UNIQUE INDEX captures_path ON captures(path) WHERE replaced_ns IS NULL;
