-- 003_rollups.sql - per-capture sums for the top-N lists.
-- While it indexes a capture, pcapdex sums what every flow row it writes
-- adds to each key of `query --top` (a new flow counts once; packets and
-- bytes since the row was last written), and stores the sums here, sorted
-- by key, in the capture's transaction.  An unfiltered --top merges these
-- runs instead of reading every flow.  docs/schema.md has the encoding.
-- Captures indexed before this migration have no rows; --top then reads
-- the flows, as it does whenever a filter or a time window is given.
CREATE TABLE rollups (
    capture_id   INTEGER NOT NULL REFERENCES captures(id),
    kind         TEXT NOT NULL,          -- src, dst, host, port, pair, proto
    seq          INTEGER NOT NULL,       -- 0, 1, ...: a kind with many keys is cut into runs
    keys         INTEGER NOT NULL,       -- entries in data
    encoding     INTEGER NOT NULL,       -- 0 plain, 1 zstd-compressed
    data         BLOB NOT NULL
);

CREATE UNIQUE INDEX rollups_kind ON rollups(kind, capture_id, seq);
