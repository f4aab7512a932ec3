#!/usr/bin/env bash
# compare.sh: certificate_info()'s whole output for the same input from two
# builds, in two databases of one running server (each database's
# pgtls_audit.certificate_info() bound to one build's library), each in a
# new session and then repeated in the same session.  Errors are compared
# with every field psql shows in verbose mode (SQLSTATE, message, detail,
# hint) but the source location.  Prints the row count and "identical" per
# file and exits non-zero on any difference.
# Test-only; used to check that a faster build gives byte-identical rows.
#
#   test/certs/compare.sh "PSQL ARGS" DB_OLD DB_NEW FILE...
#
# A FILE ending in .der is passed as bytea (pg_read_binary_file), others
# as text (pg_read_file); the files must be readable by the server.
set -uo pipefail
psql_args=$1 db_old=$2 db_new=$3
shift 3
status=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for f in "$@"; do
	case "$f" in
		*.der) arg="pg_read_binary_file('$f')" ;;
		*) arg="pg_read_file('$f')" ;;
	esac
	# all columns as text, errors as SQLSTATE and message
	q="COPY (SELECT * FROM pgtls_audit.certificate_info($arg)) TO STDOUT"
	for db in "$db_old" "$db_new"; do
		# shellcheck disable=SC2086
		psql $psql_args -X -q -d "$db" -v VERBOSITY=verbose -c "$q" -c "$q" \
			>"$out/$db.out" 2>"$out/$db.err.raw"
		# the source line of the ereport differs between builds
		grep -v '^LOCATION:' "$out/$db.err.raw" >"$out/$db.err"
	done
	if cmp -s "$out/$db_old.out" "$out/$db_new.out" && cmp -s "$out/$db_old.err" "$out/$db_new.err"; then
		printf '%-50s %6d rows x2  identical%s\n' "$(basename "$f")" $(($(wc -l <"$out/$db_old.out") / 2)) \
			"$([ -s "$out/$db_old.err" ] && echo " (error: $(head -c 80 "$out/$db_old.err" | head -n 1))")"
	else
		echo "$(basename "$f"): DIFFERENT"
		diff "$out/$db_old.out" "$out/$db_new.out" | head -n 10
		diff "$out/$db_old.err" "$out/$db_new.err" | head -n 10
		status=1
	fi
done
exit $status
