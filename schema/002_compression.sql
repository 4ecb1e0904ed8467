-- 002_compression.sql - compressed captures.
-- compression: none, zstd or gzip.  Offsets in packets are always offsets in
-- the uncompressed capture; raw_size is its length.  size, mtime_ns and
-- fingerprint describe the file on disk (compressed or not).
ALTER TABLE captures ADD COLUMN compression TEXT NOT NULL DEFAULT 'none';
ALTER TABLE captures ADD COLUMN raw_size INTEGER;
UPDATE captures SET raw_size = size WHERE raw_size IS NULL;
