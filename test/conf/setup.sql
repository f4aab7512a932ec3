-- Roles of the test clusters.  Passwords are throwaway test values.
CREATE ROLE regress_cert_user LOGIN;
CREATE ROLE regress_scram_user LOGIN PASSWORD 'regress_pw';
CREATE ROLE regress_plain_user LOGIN PASSWORD 'regress_pw';
CREATE ROLE regress_rejected LOGIN PASSWORD 'regress_pw';
CREATE ROLE regress_nologin NOLOGIN PASSWORD 'regress_pw';
CREATE ROLE regress_longdn LOGIN;
CREATE ROLE regress_alice LOGIN PASSWORD 'regress_pw';
CREATE ROLE regress_bob LOGIN PASSWORD 'regress_pw';
CREATE ROLE regress_app LOGIN PASSWORD 'regress_pw';
