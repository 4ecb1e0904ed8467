-- 004_raw_fingerprint.sql - what the uncompressed capture is, whatever file
-- holds it now.  raw_fingerprint is the fingerprint of the uncompressed
-- bytes (computed like fingerprint: docs/schema.md).  An uncompressed capture
-- has its fingerprint there; `pcapdex compress` keeps it when it points the
-- row at the compressed file, so the original, still on disk without
-- --remove, is known as the same content.  NULL where it is not known (a
-- capture that was compressed when it was indexed).
ALTER TABLE captures ADD COLUMN raw_fingerprint TEXT;
UPDATE captures SET raw_fingerprint = fingerprint WHERE compression = 'none';
