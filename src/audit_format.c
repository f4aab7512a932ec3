/*-------------------------------------------------------------------------
 *
 * audit_format.c
 *	  Turn an AuditRecord into one line of text: the "text" format
 *	  (key=value pairs) or the "json" format (one JSON object).
 *
 * Both formats carry the same fields in the same order and always carry
 * every field, so a parser never has to guess whether a key is missing or
 * null.  The field list is documented in README.md ("Audit record").
 *
 * Escaping:
 *	text: strings are always double-quoted; backslash, double quote and
 *		  control characters are escaped (\\ \" \n \r \t \xHH); numbers,
 *		  booleans and null are bare words.  Non-ASCII UTF-8 is kept.
 *	json: RFC 8259 strings; control characters as \u00XX; bytes that are
 *		  not valid UTF-8 become U+FFFD so the line always parses.
 *
 * src/audit_format.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "mb/pg_wchar.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

/* ISO 8601 in UTC with microseconds, e.g. 2026-11-22T18:40:01.123456Z */
static void
audit_format_timestamp(char *dst, size_t len, TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
	{
		strlcpy(dst, "", len);
		return;
	}
	snprintf(dst, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
			 tm.tm_year, tm.tm_mon, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
}

/* Length of a valid UTF-8 sequence at s (at most remaining bytes), or 0. */
static int
valid_utf8_length(const unsigned char *s, size_t remaining)
{
	int			l = pg_utf_mblen(s);

	if (l < 1 || (size_t) l > remaining || !pg_utf8_islegal(s, l))
		return 0;
	return l;
}

/*
 * Append str double-quoted and escaped for one format (see the header
 * comment): the two formats differ only in how they write control
 * characters and in JSON's need for valid UTF-8.
 */
static void
append_quoted(StringInfo buf, const char *str, AuditLogFormat format)
{
	const unsigned char *p = (const unsigned char *) str;
	size_t		remaining = strlen(str);

	appendStringInfoChar(buf, '"');
	while (remaining > 0)
	{
		unsigned char c = *p;
		int			len = 1;

		if (c == '"' || c == '\\')
		{
			appendStringInfoChar(buf, '\\');
			appendStringInfoChar(buf, (char) c);
		}
		else if (c == '\n')
			appendStringInfoString(buf, "\\n");
		else if (c == '\r')
			appendStringInfoString(buf, "\\r");
		else if (c == '\t')
			appendStringInfoString(buf, "\\t");
		else if (c < 0x20 || c == 0x7f)
			appendStringInfo(buf, format == AUDIT_FORMAT_JSON ? "\\u%04x" : "\\x%02x", c);
		else if (c < 0x80 || format != AUDIT_FORMAT_JSON)
			appendStringInfoChar(buf, (char) c);
		else if ((len = valid_utf8_length(p, remaining)) == 0)
		{
			appendStringInfoString(buf, "\\ufffd");
			len = 1;
		}
		else
			appendBinaryStringInfo(buf, (const char *) p, len);
		p += len;
		remaining -= len;
	}
	appendStringInfoChar(buf, '"');
}

/* Field writers: one per value kind, shared by both formats. */
typedef struct RecordWriter
{
	StringInfo	buf;
	AuditLogFormat format;
	bool		first;
} RecordWriter;

static void
put_key(RecordWriter *w, const char *key)
{
	if (w->format == AUDIT_FORMAT_JSON)
	{
		appendStringInfoString(w->buf, w->first ? "{" : ",");
		appendStringInfo(w->buf, "\"%s\":", key);
	}
	else
	{
		if (!w->first)
			appendStringInfoChar(w->buf, ' ');
		appendStringInfo(w->buf, "%s=", key);
	}
	w->first = false;
}

static void
put_string(RecordWriter *w, const char *key, const char *value)
{
	put_key(w, key);
	if (value == NULL)
		appendStringInfoString(w->buf, "null");
	else
		append_quoted(w->buf, value, w->format);
}

/* An integer, or null when negative (unknown) */
static void
put_int(RecordWriter *w, const char *key, int value)
{
	put_key(w, key);
	if (value < 0)
		appendStringInfoString(w->buf, "null");
	else
		appendStringInfo(w->buf, "%d", value);
}

static void
put_bool(RecordWriter *w, const char *key, int value)
{
	put_key(w, key);
	appendStringInfoString(w->buf,
						   value < 0 ? "null" : (value ? "true" : "false"));
}

static void
put_timestamp(RecordWriter *w, const char *key, bool known, TimestampTz ts)
{
	char		tsbuf[64];

	if (!known)
	{
		put_string(w, key, NULL);
		return;
	}
	audit_format_timestamp(tsbuf, sizeof(tsbuf), ts);
	put_string(w, key, tsbuf);
}

void
audit_format_record(StringInfo buf, const AuditRecord *rec,
					AuditLogFormat format)
{
	RecordWriter w = {buf, format, true};
	bool		tls_done = rec->protocol != NULL;

	appendStringInfoString(buf, PGTLS_AUDIT_MARKER " ");
	put_int(&w, "v", PGTLS_AUDIT_RECORD_VERSION);
	put_timestamp(&w, "ts", true, rec->ts);
	put_string(&w, "event", audit_event_name(rec->event));
	put_string(&w, "outcome", audit_outcome_name(rec->outcome));
	put_string(&w, "reason", rec->reason);
	put_string(&w, "sqlstate", rec->sqlstate[0] ? rec->sqlstate : NULL);
	put_int(&w, "pid", rec->pid);
	put_string(&w, "remote_host", rec->remote_host);
	put_string(&w, "remote_port", rec->remote_port);
	put_string(&w, "user", rec->user_name);
	put_string(&w, "database", rec->database_name);
	put_string(&w, "application_name", rec->application_name);
	put_bool(&w, "ssl", rec->ssl);
	put_string(&w, "protocol", rec->protocol);
	put_string(&w, "cipher", rec->cipher);
	put_int(&w, "bits", rec->bits);
	put_bool(&w, "alpn", tls_done ? rec->alpn : -1);
	put_bool(&w, "gss_encrypted", rec->gss_encrypted);
	put_bool(&w, "client_cert", rec->client_cert_present);
	put_string(&w, "client_dn", rec->client_dn);
	put_string(&w, "issuer_dn", rec->issuer_dn);
	put_string(&w, "client_serial", rec->client_serial);
	put_string(&w, "client_serial_hex", rec->client_serial_hex);
	put_timestamp(&w, "client_not_after", rec->has_not_after,
				  rec->client_not_after);
	put_string(&w, "client_fingerprint_sha256", rec->client_fingerprint);
	put_string(&w, "hba_file", rec->hba_file);
	put_int(&w, "hba_line", rec->hba_line > 0 ? rec->hba_line : -1);
	put_string(&w, "auth_method", rec->auth_method);
	put_string(&w, "identity", rec->identity);
	put_string(&w, "policy", audit_policy_name(rec->policy));
	if (format == AUDIT_FORMAT_JSON)
		appendStringInfoChar(buf, '}');
}
