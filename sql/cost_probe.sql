--
-- cost_probe: measure_record_cost() runs every step for real and refuses
-- bad input and unprivileged callers.
--
\set VERBOSITY terse
SELECT step, calls, ns_per_call > 0 AS measured, ratio_to_baseline > 0 AS has_ratio
FROM pgtls_audit.measure_record_cost(50);
SELECT count(*) FROM pgtls_audit.measure_record_cost(5, true);
SELECT * FROM pgtls_audit.measure_record_cost(0);
SELECT * FROM pgtls_audit.measure_record_cost(NULL);
SET ROLE regress_alice;
SELECT * FROM pgtls_audit.measure_record_cost(1);
RESET ROLE;
