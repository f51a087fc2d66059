-- fieldbot schema 6 (PostgreSQL): an import is also recognised by what its file says, not only by its bytes.
-- `fingerprint` hashes the file's valid rows as they would be written (see core/importing.py). Imports made
-- before this have NULL, which never collides (NULLs are distinct in a UNIQUE index).

ALTER TABLE imports ADD COLUMN fingerprint TEXT COLLATE "C";
CREATE UNIQUE INDEX imports_fingerprint ON imports (kind, fingerprint);
