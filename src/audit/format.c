/*-------------------------------------------------------------------------
 *
 * format.c
 *	  Turn an AuditRecord into one line of text: the "text" format
 *	  (key=value pairs), the "json" format (one JSON object) or the
 *	  "json_compact" format (that object without its null fields), each
 *	  after the PGTLS_AUDIT marker for the server log; or the audit file's
 *	  line, the JSON object alone followed by a newline.
 *
 * text and json carry the same fields in the same order and always carry
 * every field, so a parser never has to guess whether a key is missing or
 * null.  json_compact leaves out every field that would be null (for
 * pipelines that pay per byte); the fields it keeps are in the same order.
 * The field list is documented in README.md ("Audit record").
 *
 * Escaping:
 *	text: strings are always double-quoted; backslash, double quote and
 *		  control characters are escaped (\\ \" \n \r \t \xHH); numbers,
 *		  booleans and null are bare words.  Non-ASCII UTF-8 is kept.
 *	json: RFC 8259 strings; control characters as \u00XX; bytes that are
 *		  not valid UTF-8 become U+FFFD so the line always parses (capture
 *		  already made every string valid UTF-8: this is a second guard).
 *
 * Formatting cannot raise an error, because records are also written from
 * an on_proc_exit callback: the record is written into a buffer of
 * FORMAT_FIRST_SIZE bytes allocated with MCXT_ALLOC_NO_OOM, which holds
 * almost every record (800 to 1,400 bytes); the writers count on past its
 * end, and a longer record is written once more into a buffer of exactly
 * its size.
 *
 * src/audit/format.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "audit/format.h"

#include "mb/pg_wchar.h"
#include "utils/memutils.h"
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

/* the first buffer of format_alloc: most records fit (see above) */
#define FORMAT_FIRST_SIZE 4096

/*
 * Field writers: one per value kind, shared by both formats.  They write
 * what fits into data[0..cap) and count every byte in len, so a record
 * longer than cap is measured in the same pass.
 */
typedef struct RecordWriter
{
	char	   *data;
	size_t		cap;
	size_t		len;
	AuditLogFormat format;
	bool		json;			/* json or json_compact */
	bool		first;
	bool		bare;			/* no marker: the audit file's JSON line */
} RecordWriter;

static void
put_bytes(RecordWriter *w, const char *s, size_t n)
{
	if (w->len + n <= w->cap)
		memcpy(w->data + w->len, s, n);
	w->len += n;
}

static void
put_cstr(RecordWriter *w, const char *s)
{
	put_bytes(w, s, strlen(s));
}

/* printable ASCII that neither format escapes */
static inline bool
plain_ascii(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/*
 * Append str double-quoted and escaped for one format (see the header
 * comment): the two formats differ only in how they write control
 * characters and in JSON's need for valid UTF-8.
 */
static void
append_quoted(RecordWriter *w, const char *str)
{
	const unsigned char *p = (const unsigned char *) str;
	size_t		remaining = strlen(str);
	char		esc[8];

	put_bytes(w, "\"", 1);
	while (remaining > 0)
	{
		unsigned char c = *p;
		int			len = 1;

		if (plain_ascii(c))
		{
			/* a run of bytes written as they are: one copy, not one a byte */
			size_t		run = 1;

			while (run < remaining && plain_ascii(p[run]))
				run++;
			put_bytes(w, (const char *) p, run);
			p += run;
			remaining -= run;
			continue;
		}
		if (c == '"' || c == '\\')
		{
			esc[0] = '\\';
			esc[1] = (char) c;
			put_bytes(w, esc, 2);
		}
		else if (c == '\n')
			put_cstr(w, "\\n");
		else if (c == '\r')
			put_cstr(w, "\\r");
		else if (c == '\t')
			put_cstr(w, "\\t");
		else if (c < 0x20 || c == 0x7f)
		{
			snprintf(esc, sizeof(esc),
					 w->json ? "\\u%04x" : "\\x%02x", c);
			put_cstr(w, esc);
		}
		else if ((len = valid_utf8_length(p, remaining)) == 0)
		{
			put_cstr(w, w->json ? "\\ufffd" : "\xEF\xBF\xBD");
			len = 1;
		}
		else
			put_bytes(w, (const char *) p, len);
		p += len;
		remaining -= len;
	}
	put_bytes(w, "\"", 1);
}

static void
put_key(RecordWriter *w, const char *key)
{
	if (w->json)
	{
		put_cstr(w, w->first ? "{\"" : ",\"");
		put_cstr(w, key);
		put_cstr(w, "\":");
	}
	else
	{
		if (!w->first)
			put_bytes(w, " ", 1);
		put_cstr(w, key);
		put_bytes(w, "=", 1);
	}
	w->first = false;
}

/* A null value: the bare word, or nothing at all in json_compact */
static void
put_null(RecordWriter *w, const char *key)
{
	if (w->format == AUDIT_FORMAT_JSON_COMPACT)
		return;
	put_key(w, key);
	put_cstr(w, "null");
}

static void
put_string(RecordWriter *w, const char *key, const char *value)
{
	if (value == NULL)
	{
		put_null(w, key);
		return;
	}
	put_key(w, key);
	append_quoted(w, value);
}

/* An integer, or null when negative (unknown) */
static void
put_int(RecordWriter *w, const char *key, int value)
{
	char		num[16];

	if (value < 0)
	{
		put_null(w, key);
		return;
	}
	put_key(w, key);
	snprintf(num, sizeof(num), "%d", value);
	put_cstr(w, num);
}

/* A count, never null */
static void
put_uint64(RecordWriter *w, const char *key, uint64 value)
{
	char		num[32];

	put_key(w, key);
	snprintf(num, sizeof(num), UINT64_FORMAT, value);
	put_cstr(w, num);
}

static void
put_bool(RecordWriter *w, const char *key, int value)
{
	if (value < 0)
	{
		put_null(w, key);
		return;
	}
	put_key(w, key);
	put_cstr(w, value ? "true" : "false");
}

/*
 * A list stored as comma-separated text (audit/offer.c): a JSON array of
 * strings, or in text one quoted string with the values comma-separated.
 */
static void
put_list(RecordWriter *w, const char *key, const char *value)
{
	const char *p;

	if (value == NULL || !w->json)
	{
		put_string(w, key, value);
		return;
	}
	put_key(w, key);
	put_bytes(w, "[", 1);
	p = value;
	while (*p)
	{
		const char *end = strchr(p, ',');
		size_t		n = end ? (size_t) (end - p) : strlen(p);
		char		item[256];

		/* list items are short names; a longer one is cut, never overrun */
		n = Min(n, sizeof(item) - 1);
		memcpy(item, p, n);
		item[n] = '\0';
		if (p != value)
			put_bytes(w, ",", 1);
		append_quoted(w, item);
		if (end == NULL)
			break;
		p = end + 1;
	}
	put_bytes(w, "]", 1);
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

/* One pass of the record: every field, in the documented order. */
static void
write_fields(RecordWriter *w, const AuditRecord *rec)
{
	bool		tls_done = rec->protocol != NULL;
	bool		summary = rec->event == AUDIT_EVENT_SUMMARY;

	if (!w->bare)
		put_cstr(w, PGTLS_AUDIT_MARKER " ");
	put_int(w, "v", PGTLS_AUDIT_RECORD_VERSION);
	put_timestamp(w, "ts", true, rec->ts);
	put_string(w, "event", audit_event_name(rec->event));
	put_string(w, "outcome", audit_outcome_name(rec->outcome));
	put_string(w, "reason", rec->reason);
	put_string(w, "sqlstate", rec->sqlstate[0] ? rec->sqlstate : NULL);
	put_int(w, "pid", rec->pid);
	put_string(w, "remote_host", rec->remote_host);
	put_string(w, "remote_port", rec->remote_port);
	put_string(w, "user", rec->user_name);
	put_string(w, "database", rec->database_name);
	put_string(w, "application_name", rec->application_name);
	put_bool(w, "ssl", rec->ssl);
	put_string(w, "protocol", rec->protocol);
	put_string(w, "cipher", rec->cipher);
	put_int(w, "bits", rec->bits);
	put_bool(w, "alpn", tls_done ? rec->alpn : -1);
	/* a summary stands for several attempts: no per-connection values */
	put_bool(w, "gss_encrypted", summary ? -1 : rec->gss_encrypted);
	put_bool(w, "client_cert", rec->client_cert_present);
	put_string(w, "client_dn", rec->client_dn);
	put_string(w, "issuer_dn", rec->issuer_dn);
	put_string(w, "client_serial", rec->client_serial);
	put_string(w, "client_serial_hex", rec->client_serial_hex);
	put_timestamp(w, "client_not_after", rec->has_not_after,
				  rec->client_not_after);
	put_string(w, "client_fingerprint_sha256", rec->client_fingerprint);
	put_string(w, "hba_file", rec->hba_file);
	put_int(w, "hba_line", rec->hba_line > 0 ? rec->hba_line : -1);
	put_string(w, "auth_method", rec->auth_method);
	put_string(w, "identity", rec->identity);
	put_string(w, "policy", audit_policy_name(rec->policy));
	put_string(w, "sni", rec->sni);
	put_list(w, "offered_versions", rec->offered_versions);
	put_list(w, "offered_ciphers", rec->offered_ciphers);
	put_list(w, "offered_groups", rec->offered_groups);
	put_list(w, "offered_alpn", rec->offered_alpn);
	put_string(w, "ja4", rec->ja4);
	put_string(w, "host_entry", rec->host_entry);
	put_uint64(w, "repeats", rec->repeats);
	put_timestamp(w, "repeats_first", rec->repeats > 0, rec->repeats_first);
	put_timestamp(w, "repeats_last", rec->repeats > 0, rec->repeats_last);
	if (w->json)
		put_bytes(w, "}", 1);
}

/*
 * Write the record into data[0..cap) (counting on past cap, see
 * RecordWriter): bare means the audit file's line (no marker, JSON, ending
 * in a newline).  Returns the record's length without the final zero.
 */
static size_t
format_into(const AuditRecord *rec, AuditLogFormat format, bool bare,
			char *data, size_t cap)
{
	RecordWriter w = {data, cap, 0, format,
		format == AUDIT_FORMAT_JSON || format == AUDIT_FORMAT_JSON_COMPACT,
	true, bare};

	write_fields(&w, rec);
	if (bare)
		put_bytes(&w, "\n", 1);
	return w.len;
}

/*
 * The record in a buffer allocated in context: one pass when it fits
 * FORMAT_FIRST_SIZE, else a second at its size.  NULL if the memory cannot
 * be had.
 */
static char *
format_alloc(const AuditRecord *rec, AuditLogFormat format, bool bare,
			 MemoryContext context, size_t *len)
{
	char	   *data;
	size_t		n;

	data = MemoryContextAllocExtended(context, FORMAT_FIRST_SIZE,
									  MCXT_ALLOC_NO_OOM);
	if (data == NULL)
		return NULL;
	n = format_into(rec, format, bare, data, FORMAT_FIRST_SIZE - 1);
	if (n > FORMAT_FIRST_SIZE - 1)
	{
		pfree(data);
		if (!AllocSizeIsValid(n + 1))
			return NULL;
		data = MemoryContextAllocExtended(context, n + 1, MCXT_ALLOC_NO_OOM);
		if (data == NULL)
			return NULL;
		n = format_into(rec, format, bare, data, n);
	}
	data[n] = '\0';
	*len = n;
	return data;
}

/*
 * The record as one NUL-terminated line allocated in context, or NULL if
 * the memory cannot be had.  Never raises an error.
 */
char *
audit_format_record_alloc(const AuditRecord *rec, AuditLogFormat format,
						  MemoryContext context)
{
	size_t		len;

	return format_alloc(rec, format, false, context, &len);
}

/*
 * The record as the audit file holds it (audit/log_file.c): one JSON
 * object and a newline, without the marker, whatever the server log's
 * format; its length in *len.  NULL if the memory cannot be had; never
 * raises an error.
 */
char *
audit_format_file_line_alloc(const AuditRecord *rec, MemoryContext context,
							 size_t *len)
{
	return format_alloc(rec, AUDIT_FORMAT_JSON, true, context, len);
}

/* The record appended to a StringInfo (for callers that may raise). */
void
audit_format_record(StringInfo buf, const AuditRecord *rec,
					AuditLogFormat format)
{
	char	   *line = audit_format_record_alloc(rec, format, CurrentMemoryContext);

	if (line == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	appendStringInfoString(buf, line);
	pfree(line);
}
