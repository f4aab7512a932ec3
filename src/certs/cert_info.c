/*-------------------------------------------------------------------------
 *
 * cert_info.c
 *	  Certificates and CRLs as rows: validity dates, expiry status, names,
 *	  key, extensions and fingerprint, for any PEM bundle or DER given in
 *	  SQL and for the configured files (certs/server_files.c).
 *
 * SQL functions (see src/certs/certs.sql for the views over them):
 *	  certificate_info(text), certificate_info(bytea)  any PEM bundle / DER
 *	  crl_info(text)                                   any PEM CRL bundle
 *	  _serial_hex(text)                                decimal serial to hex
 *
 * None of them needs shared memory, so they work whether or not the module
 * is in shared_preload_libraries.  Their input is parsed by certs/parse.c
 * before any row is returned; certificate_info()'s certificates are
 * decoded there without their public key where the rows are the same
 * (cert_key_summary() gives the key's type and size, and cert_self_signed()
 * decodes a self-issued one again with its key).
 *
 * src/certs/cert_info.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "certs/cert_info.h"
#include "certs/parse.h"
#include "common/x509.h"

#include <arpa/inet.h>
#include <math.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

/* pgtls_audit.expiry_warning_days */
int			pgtls_audit_expiry_warning_days = 30;

/* ---------------------------------------------------------------------
 * Settings
 * ---------------------------------------------------------------------
 */
void
certificates_define_settings(void)
{
	DefineCustomIntVariable("pgtls_audit.expiry_warning_days",
							"Certificates expiring within this many days have status \"expiring\".",
							"Also the default window of pgtls_audit.expiring().",
							&pgtls_audit_expiry_warning_days,
							30,
							0,
							3650,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

/* ---------------------------------------------------------------------
 * Values: text safe for the database encoding, times, names
 * ---------------------------------------------------------------------
 */

/*
 * Text from bytes that come from a certificate.  Valid UTF-8 without
 * control characters is kept as is in a UTF-8 database; anything else is
 * shown with non-printable and non-ASCII bytes as \xNN, which is valid in
 * every server encoding.
 */
static text *
safe_text(const char *s, size_t len)
{
	StringInfoData buf;
	bool		plain = true;

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c == 0x7f || (c >= 0x80 && GetDatabaseEncoding() != PG_UTF8))
		{
			plain = false;
			break;
		}
	}
	if (plain && GetDatabaseEncoding() == PG_UTF8 &&
		!pg_verify_mbstr(PG_UTF8, s, (int) len, true))
		plain = false;
	if (plain)
		return cstring_to_text_with_len(s, (int) len);

	initStringInfo(&buf);
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c >= 0x20 && c < 0x7f)
			appendStringInfoChar(&buf, (char) c);
		else
			appendStringInfo(&buf, "\\x%02X", c);
	}
	return cstring_to_text_with_len(buf.data, buf.len);
}

/*
 * palloc for the common/x509.c helpers, which must not raise while they
 * hold OpenSSL's memory: NULL instead, and the caller raises afterwards
 * (out_of_memory_if_failed).
 */
static void *
palloc_no_oom(void *arg, Size size)
{
	return palloc_extended(size, MCXT_ALLOC_NO_OOM);
}

#define PALLOC_NO_OOM {palloc_no_oom, NULL, false}

static void
out_of_memory_if_failed(PgtlsAllocator *mem)
{
	if (mem->failed)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
}

/* An X509 name in RFC 2253 form, as PostgreSQL prints peer_dn. */
static Datum
name_datum(X509_NAME *name, bool *isnull)
{
	PgtlsAllocator mem = PALLOC_NO_OOM;
	size_t		len = 0;
	char	   *s;
	Datum		result = (Datum) 0;

	/* raw UTF-8 where the database can hold it, RFC 4514 escapes elsewhere */
	s = pgtls_x509_name_text(name, GetDatabaseEncoding() != PG_UTF8, false,
							 &len, &mem);
	out_of_memory_if_failed(&mem);
	*isnull = s == NULL;
	if (s != NULL)
	{
		result = PointerGetDatum(safe_text(s, len));
		pfree(s);
	}
	return result;
}

/* Whole days from now to ts, rounded down (negative once past). */
static int32
days_until(TimestampTz ts, TimestampTz now)
{
	double		days = floor((double) (ts - now) / (double) USECS_PER_DAY);

	if (days > PG_INT32_MAX)
		return PG_INT32_MAX;
	if (days < PG_INT32_MIN)
		return PG_INT32_MIN;
	return (int32) days;
}

char *
cert_fingerprint(X509 *cert)
{
	PgtlsAllocator mem = PALLOC_NO_OOM;
	char	   *hex = pgtls_sha256_hex(cert, &mem);

	out_of_memory_if_failed(&mem);
	return hex;
}

static char *
asn1_integer_hex(const ASN1_INTEGER *ai)
{
	PgtlsAllocator mem = PALLOC_NO_OOM;
	char	   *hex = pgtls_asn1_integer_text(ai, true, &mem);

	out_of_memory_if_failed(&mem);
	return hex;
}

static const char *
signature_name(int nid)
{
	return nid != NID_undef ? OBJ_nid2ln(nid) : NULL;
}

const char *
key_type_name(EVP_PKEY *pkey)
{
	int			id = EVP_PKEY_base_id(pkey);

	switch (id)
	{
		case EVP_PKEY_RSA:
			return "RSA";
		case EVP_PKEY_RSA_PSS:
			return "RSA-PSS";
		case EVP_PKEY_EC:
			return "EC";
		case EVP_PKEY_DSA:
			return "DSA";
		case EVP_PKEY_ED25519:
			return "Ed25519";
		case EVP_PKEY_ED448:
			return "Ed448";
		default:
			return id != NID_undef ? OBJ_nid2sn(id) : "unknown";
	}
}

/* One subjectAltName entry as "TYPE:value". */
static text *
general_name_text(const GENERAL_NAME *gen)
{
	StringInfoData buf;
	char		ip[INET6_ADDRSTRLEN];
	char		oid[128];

	initStringInfo(&buf);
	switch (gen->type)
	{
		case GEN_DNS:
		case GEN_EMAIL:
		case GEN_URI:
			{
				const ASN1_IA5STRING *s = gen->d.ia5;
				text	   *val = safe_text((const char *) ASN1_STRING_get0_data(s),
											ASN1_STRING_length(s));

				appendStringInfo(&buf, "%s:%s",
								 gen->type == GEN_DNS ? "DNS" :
								 gen->type == GEN_EMAIL ? "email" : "URI",
								 text_to_cstring(val));
				break;
			}
		case GEN_IPADD:
			{
				const ASN1_OCTET_STRING *s = gen->d.ip;
				int			len = ASN1_STRING_length(s);
				const unsigned char *p = ASN1_STRING_get0_data(s);

				if ((len == 4 && inet_ntop(AF_INET, p, ip, sizeof(ip)) != NULL) ||
					(len == 16 && inet_ntop(AF_INET6, p, ip, sizeof(ip)) != NULL))
					appendStringInfo(&buf, "IP:%s", ip);
				else
					appendStringInfoString(&buf, "IP:<invalid>");
				break;
			}
		case GEN_DIRNAME:
			{
				bool		isnull;
				Datum		d = name_datum(gen->d.directoryName, &isnull);

				appendStringInfo(&buf, "DirName:%s",
								 isnull ? "" : TextDatumGetCString(d));
				break;
			}
		case GEN_RID:
			OBJ_obj2txt(oid, sizeof(oid), gen->d.registeredID, 1);
			appendStringInfo(&buf, "RID:%s", oid);
			break;
		case GEN_OTHERNAME:
			OBJ_obj2txt(oid, sizeof(oid), gen->d.otherName->type_id, 1);
			appendStringInfo(&buf, "othername:%s", oid);
			break;
		default:
			appendStringInfoString(&buf, "other");
			break;
	}
	return cstring_to_text_with_len(buf.data, buf.len);
}

static Datum
subject_alt_names(X509 *cert)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int			n = gens ? sk_GENERAL_NAME_num(gens) : 0;
	Datum	   *elems = palloc(sizeof(Datum) * (n > 0 ? n : 1));
	ArrayType  *arr;

	for (int i = 0; i < n; i++)
		elems[i] = PointerGetDatum(general_name_text(sk_GENERAL_NAME_value(gens, i)));
	if (gens)
		GENERAL_NAMES_free(gens);
	arr = construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
	return PointerGetDatum(arr);
}

/*
 * Self-signed certificates already checked by this backend, by SHA-256
 * fingerprint (hex).  Checking a self-signature is most of the cost of a
 * row of a CA bundle (measured with OpenSSL 3.0: 53 microseconds to verify
 * an RSA root, 445 for an ECDSA P-384 one, plus 88 to decode it again with
 * its key, against about 50 for all the rest of a row), and the same
 * bundles are read again and again (the
 * configured ssl_ca_file, a monitoring query): the same DER bytes always
 * give the same answer, so each distinct certificate is checked once.
 * Backend-local, at most SELF_SIGNED_CACHE_MAX entries (about 100 bytes
 * each), emptied when full.
 */
#define SELF_SIGNED_CACHE_MAX	16384

typedef struct SelfSignedEntry
{
	char		fingerprint[65];	/* the key: 64 hex digits */
	bool		self_signed;
} SelfSignedEntry;

static HTAB *self_signed_cache = NULL;

/*
 * X509_check_issued(cert, cert) == X509_V_OK and X509_verify() with its own
 * key.  The first thing X509_check_issued() requires is that the subject
 * and issuer names compare equal, which needs no key: any other
 * certificate is not self-signed.  A self-issued one is looked up in the
 * cache, and otherwise checked on the certificate with its key (decoded
 * again if it was decoded without: certs/parse.c).
 */
static bool
cert_self_signed(X509 *cert, const char *fingerprint)
{
	X509	   *full;
	EVP_PKEY   *pkey;
	const char *key_type;
	int			key_bits;
	bool		result;
	SelfSignedEntry *e;
	bool		found;
	bool		cacheable = fingerprint != NULL && strlen(fingerprint) == 64;

	if (X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) != 0)
		return false;
	if (self_signed_cache == NULL ||
		hash_get_num_entries(self_signed_cache) >= SELF_SIGNED_CACHE_MAX)
	{
		HASHCTL		ctl;

		if (self_signed_cache)
			hash_destroy(self_signed_cache);
		ctl.keysize = sizeof(e->fingerprint);
		ctl.entrysize = sizeof(SelfSignedEntry);
		self_signed_cache = hash_create("pgtls_audit self-signed certificates",
										256, &ctl, HASH_ELEM | HASH_STRINGS);
	}
	if (cacheable)
	{
		e = hash_search(self_signed_cache, fingerprint, HASH_FIND, NULL);
		if (e)
			return e->self_signed;
	}
	full = cert_key_summary(cert, &key_type, &key_bits) ?
		cert_decode_with_key(cert) : cert;
	result = full != NULL && X509_check_issued(full, full) == X509_V_OK &&
		(pkey = X509_get0_pubkey(full)) != NULL && X509_verify(full, pkey) == 1;
	if (full != NULL && full != cert)
		X509_free(full);
	ERR_clear_error();
	if (cacheable)
	{
		e = hash_search(self_signed_cache, fingerprint, HASH_ENTER, &found);
		e->self_signed = result;
	}
	return result;
}

/*
 * Filling a row's columns in order: cert_values and crl_values share the
 * kinds of column (position, names, serial or number, times, days left,
 * signature algorithm).
 */
typedef struct RowColumns
{
	Datum	   *values;
	bool	   *nulls;
	int			i;				/* the next column */
} RowColumns;

static void
col_datum(RowColumns *row, Datum value, bool isnull)
{
	row->values[row->i] = value;
	row->nulls[row->i] = isnull;
	row->i++;
}

/* text, or NULL when s is NULL */
static void
col_text(RowColumns *row, const char *s)
{
	col_datum(row, s ? CStringGetTextDatum(s) : (Datum) 0, s == NULL);
}

static void
col_name(RowColumns *row, X509_NAME *name)
{
	bool		isnull;
	Datum		d = name_datum(name, &isnull);

	col_datum(row, d, isnull);
}

/* A time as timestamptz (NULL if unreadable); false if unreadable. */
static bool
col_time(RowColumns *row, const ASN1_TIME *t, TimestampTz *ts)
{
	bool		have = asn1_time_to_timestamptz(t, ts);

	col_datum(row, TimestampTzGetDatum(*ts), !have);
	return have;
}

static void
col_days_left(RowColumns *row, bool have, TimestampTz ts, TimestampTz now)
{
	col_datum(row, Int32GetDatum(have ? days_until(ts, now) : 0), !have);
}

static const char *
cert_status(TimestampTz not_before, TimestampTz not_after, TimestampTz now)
{
	if (now > not_after)
		return "expired";
	if (now < not_before)
		return "not_yet_valid";
	if (not_after - now <= (int64) pgtls_audit_expiry_warning_days * USECS_PER_DAY)
		return "expiring";
	return "valid";
}

void
cert_values(X509 *cert, int position, TimestampTz now, Datum *values, bool *nulls)
{
	RowColumns	row = {values, nulls, 0};
	TimestampTz not_before = 0;
	TimestampTz not_after = 0;
	bool		have_nb,
				have_na;
	EVP_PKEY   *pkey;
	const char *key_type = NULL;
	int			key_bits = 0;
	char	   *fingerprint = cert_fingerprint(cert);

	col_datum(&row, Int32GetDatum(position), false);
	col_name(&row, X509_get_subject_name(cert));
	col_name(&row, X509_get_issuer_name(cert));
	col_text(&row, asn1_integer_hex(X509_get0_serialNumber(cert)));

	have_nb = col_time(&row, X509_get0_notBefore(cert), &not_before);
	have_na = col_time(&row, X509_get0_notAfter(cert), &not_after);
	col_days_left(&row, have_na, not_after, now);
	col_text(&row, have_na && have_nb ? cert_status(not_before, not_after, now) : NULL);

	/* a certificate decoded without its key has its summary: certs/parse.c */
	if (!cert_key_summary(cert, &key_type, &key_bits) &&
		(pkey = X509_get0_pubkey(cert)) != NULL)
	{
		key_type = key_type_name(pkey);
		key_bits = EVP_PKEY_bits(pkey);
	}
	col_text(&row, key_type);
	col_datum(&row, Int32GetDatum(key_bits), key_type == NULL);
	ERR_clear_error();

	col_text(&row, signature_name(X509_get_signature_nid(cert)));
	col_datum(&row, subject_alt_names(cert), false);
	col_datum(&row, BoolGetDatum(X509_check_ca(cert) > 0), false);
	col_datum(&row, BoolGetDatum(cert_self_signed(cert, fingerprint)), false);
	col_text(&row, fingerprint);
	Assert(row.i == CERT_NCOLS);
	ERR_clear_error();
}

void
crl_values(X509_CRL *crl, int position, TimestampTz now, Datum *values, bool *nulls)
{
	RowColumns	row = {values, nulls, 0};
	TimestampTz last = 0;
	TimestampTz next = 0;
	bool		have_next;
	ASN1_INTEGER *number;
	STACK_OF(X509_REVOKED) *revoked;
	char	   *s = NULL;

	col_datum(&row, Int32GetDatum(position), false);
	col_name(&row, X509_CRL_get_issuer(crl));
	number = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	if (number)
	{
		s = asn1_integer_hex(number);
		ASN1_INTEGER_free(number);
	}
	col_text(&row, s);
	(void) col_time(&row, X509_CRL_get0_lastUpdate(crl), &last);
	have_next = col_time(&row, X509_CRL_get0_nextUpdate(crl), &next);
	col_days_left(&row, have_next, next, now);
	revoked = X509_CRL_get_REVOKED(crl);
	col_datum(&row, Int32GetDatum(revoked ? sk_X509_REVOKED_num(revoked) : 0), false);
	/* without a nextUpdate a CRL never becomes stale */
	col_text(&row, have_next && now > next ? "stale" : "current");
	col_text(&row, signature_name(X509_CRL_get_signature_nid(crl)));
	Assert(row.i == CRL_NCOLS);
	ERR_clear_error();
}

/* ---------------------------------------------------------------------
 * certificate_info(pem text), certificate_info(data bytea), crl_info(text)
 * ---------------------------------------------------------------------
 */
static void
emit_certificates(FunctionCallInfo fcinfo, ParseResult *res)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	PG_TRY();
	{
		CHECK_FOR_INTERRUPTS();
		report_input_problem(res, false, sk_X509_num(res->certs));
		for (int i = 0; i < sk_X509_num(res->certs); i++)
		{
			Datum		values[CERT_NCOLS];
			bool		nulls[CERT_NCOLS] = {0};

			CHECK_FOR_INTERRUPTS();
			cert_values(sk_X509_value(res->certs, i), i + 1, now, values, nulls);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	PG_FINALLY();
	{
		parse_result_free(res);
	}
	PG_END_TRY();
}

PG_FUNCTION_INFO_V1(pgtls_audit_certificate_info);

Datum
pgtls_audit_certificate_info(PG_FUNCTION_ARGS)
{
	text	   *in = PG_GETARG_TEXT_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(in);
	char	   *buf = VARDATA_ANY(in);
	ParseResult res;

	InitMaterializedSRF(fcinfo, 0);
	if (only_whitespace(buf, len))
		PG_RETURN_NULL();		/* an empty bundle holds no certificate */

	parse_result_init(&res);
	res.keyless = true;
	parse_pem(buf, len, &res, true);
	emit_certificates(fcinfo, &res);
	PG_RETURN_NULL();
}

PG_FUNCTION_INFO_V1(pgtls_audit_certificate_info_bytea);

Datum
pgtls_audit_certificate_info_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(in);
	const unsigned char *buf = (const unsigned char *) VARDATA_ANY(in);
	ParseResult res;

	InitMaterializedSRF(fcinfo, 0);
	if (only_whitespace((const char *) buf, len))
		PG_RETURN_NULL();

	parse_result_init(&res);
	res.keyless = true;
	/* DER starts with a SEQUENCE tag; PEM with text */
	if (buf[0] == 0x30)
		parse_der(buf, len, &res);
	else
		parse_pem((const char *) buf, len, &res, true);
	emit_certificates(fcinfo, &res);
	PG_RETURN_NULL();
}

PG_FUNCTION_INFO_V1(pgtls_audit_crl_info);

Datum
pgtls_audit_crl_info(PG_FUNCTION_ARGS)
{
	text	   *in = PG_GETARG_TEXT_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(in);
	char	   *buf = VARDATA_ANY(in);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	ParseResult res;

	InitMaterializedSRF(fcinfo, 0);
	if (only_whitespace(buf, len))
		PG_RETURN_NULL();

	parse_result_init(&res);
	parse_pem(buf, len, &res, true);
	PG_TRY();
	{
		CHECK_FOR_INTERRUPTS();
		report_input_problem(&res, true, sk_X509_CRL_num(res.crls));
		for (int i = 0; i < sk_X509_CRL_num(res.crls); i++)
		{
			Datum		values[CRL_NCOLS];
			bool		nulls[CRL_NCOLS] = {0};

			CHECK_FOR_INTERRUPTS();
			crl_values(sk_X509_CRL_value(res.crls, i), i + 1, now, values, nulls);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	PG_FINALLY();
	{
		parse_result_free(&res);
	}
	PG_END_TRY();
	PG_RETURN_NULL();
}

/* _serial_hex(decimal text): the inventory's decimal serials in hex. */
PG_FUNCTION_INFO_V1(pgtls_audit_serial_hex);

Datum
pgtls_audit_serial_hex(PG_FUNCTION_ARGS)
{
	char	   *dec = text_to_cstring(PG_GETARG_TEXT_PP(0));
	BIGNUM	   *bn = NULL;
	char	   *hex;
	text	   *result;
	size_t		n = strspn(dec, "0123456789");

	if (n == 0 || dec[n] != '\0' || n > 200 ||
		BN_dec2bn(&bn, dec) != (int) n || (hex = BN_bn2hex(bn)) == NULL)
	{
		if (bn)
			BN_free(bn);
		PG_RETURN_NULL();
	}
	result = cstring_to_text(hex);
	OPENSSL_free(hex);
	BN_free(bn);
	PG_RETURN_TEXT_P(result);
}
