
-- src/inventory/inventory.sql: the connection inventory kept in shared memory.
-- The raw functions filter rows by privilege in C (pg_stat_statements
-- style): members of pg_read_all_stats see every row, other roles only
-- rows of their own user name.

CREATE FUNCTION connections_raw(
    OUT ts timestamptz, OUT pid integer, OUT event text, OUT outcome text,
    OUT reason text, OUT sqlstate text, OUT remote_host text,
    OUT remote_port text, OUT user_name text, OUT database_name text,
    OUT application_name text, OUT ssl boolean, OUT protocol text,
    OUT cipher text, OUT bits integer, OUT client_cert boolean,
    OUT client_dn text, OUT issuer_dn text, OUT client_serial text,
    OUT client_not_after timestamptz, OUT client_fingerprint text,
    OUT hba_file text, OUT hba_line integer, OUT auth_method text,
    OUT identity text, OUT policy text, OUT gss_encrypted boolean,
    OUT sni text, OUT offered_versions text[], OUT offered_ciphers text[],
    OUT offered_groups text[], OUT offered_alpn text[], OUT ja4 text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_connections'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW connections AS
  SELECT * FROM connections_raw();
COMMENT ON VIEW connections IS
'The most recent connection attempts (pgtls_audit.history_size), newest first, failures included';

CREATE FUNCTION clients_raw(
    OUT user_name text, OUT database_name text, OUT client_addr text,
    OUT ssl boolean, OUT protocol text, OUT cipher text,
    OUT issuer_dn text, OUT client_serial text, OUT hba_file text,
    OUT hba_line integer, OUT auth_method text, OUT outcome text,
    OUT connections bigint, OUT first_seen timestamptz,
    OUT last_seen timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_clients'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW clients AS SELECT * FROM clients_raw();
COMMENT ON VIEW clients IS
'Distinct clients by user, database, address, TLS protocol and cipher, certificate, pg_hba line, method and outcome';

CREATE FUNCTION client_certificates_raw(
    OUT subject_dn text, OUT issuer_dn text, OUT serial text,
    OUT not_after timestamptz, OUT roles text[], OUT roles_truncated boolean,
    OUT connections bigint, OUT first_seen timestamptz,
    OUT last_seen timestamptz, OUT fingerprint text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_client_certificates'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW client_certificates AS
  SELECT subject_dn, issuer_dn, serial, not_after,
         pg_catalog.floor(pg_catalog.date_part('epoch', not_after - pg_catalog.now()) / 86400)::integer AS days_left,
         roles, roles_truncated, connections, first_seen, last_seen, fingerprint
  FROM client_certificates_raw();
COMMENT ON VIEW client_certificates IS
'Distinct client certificates seen (issuer and serial), with expiry and the roles that presented them';

CREATE FUNCTION client_fingerprints_raw(
    OUT ja4 text, OUT highest_offered_version text,
    OUT offered_versions text[], OUT offered_ciphers text[],
    OUT offered_groups text[], OUT key_share_groups text[],
    OUT post_quantum_groups text[],
    OUT user_names text[], OUT user_names_truncated boolean,
    OUT application_names text[], OUT application_names_truncated boolean,
    OUT client_addresses integer, OUT client_addresses_truncated boolean,
    OUT connections bigint, OUT handshake_failures bigint,
    OUT first_seen timestamptz, OUT last_seen timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_client_fingerprints'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW client_fingerprints AS
  SELECT ja4, highest_offered_version, offered_versions, offered_ciphers,
         offered_groups, key_share_groups,
         pg_catalog.cardinality(post_quantum_groups) > 0 AS offers_post_quantum,
         post_quantum_groups,
         user_names, user_names_truncated,
         application_names, application_names_truncated,
         client_addresses, client_addresses_truncated,
         connections, handshake_failures, first_seen, last_seen
  FROM client_fingerprints_raw();
COMMENT ON VIEW client_fingerprints IS
'Distinct TLS ClientHellos by JA4 fingerprint: what each client offers (versions, suites, groups, post-quantum groups), who used it, how often, handshake failures';

CREATE FUNCTION hba_usage_raw(
    OUT hba_file text, OUT hba_line integer, OUT attempts bigint,
    OUT successes bigint, OUT failures bigint, OUT last_used timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_hba_usage'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW hba_usage AS SELECT * FROM hba_usage_raw() ORDER BY hba_file, hba_line;
COMMENT ON VIEW hba_usage IS
'Connection attempts per pg_hba.conf line that matched them';

CREATE FUNCTION stats_raw(
    OUT records_total bigint, OUT history_entries integer,
    OUT history_size integer, OUT history_overwritten bigint,
    OUT clients_entries integer, OUT max_clients integer,
    OUT clients_evicted bigint, OUT certificates_entries integer,
    OUT max_certificates integer, OUT certificates_evicted bigint,
    OUT hba_entries integer, OUT hba_evicted bigint,
    OUT records_dropped bigint, OUT values_truncated bigint,
    OUT stats_reset timestamptz, OUT fingerprints_entries integer,
    OUT max_fingerprints integer, OUT fingerprints_evicted bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'pgtls_audit_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW stats AS SELECT * FROM stats_raw();
COMMENT ON VIEW stats IS
'Inventory sizes, evictions, dropped records and truncated values since the last reset';

CREATE FUNCTION reset()
RETURNS void
AS 'MODULE_PATHNAME', 'pgtls_audit_reset'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION reset() IS
'Clears the whole inventory; superuser only unless granted';

-- Privileges.  Row filtering happens in C; who sees pg_hba usage and can
-- reset is decided here.
REVOKE ALL ON FUNCTION hba_usage_raw() FROM PUBLIC;
REVOKE ALL ON hba_usage FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hba_usage_raw() TO pg_read_all_stats;
GRANT SELECT ON hba_usage TO pg_read_all_stats;
REVOKE ALL ON FUNCTION client_fingerprints_raw() FROM PUBLIC;
REVOKE ALL ON client_fingerprints FROM PUBLIC;
GRANT EXECUTE ON FUNCTION client_fingerprints_raw() TO pg_read_all_stats;
GRANT SELECT ON client_fingerprints TO pg_read_all_stats;
REVOKE ALL ON FUNCTION reset() FROM PUBLIC;
GRANT SELECT ON connections, clients, client_certificates, stats TO PUBLIC;
