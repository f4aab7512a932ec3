/*-------------------------------------------------------------------------
 *
 * certificates.c
 *	  Certificates, CRLs and the server's key, read with OpenSSL and shown
 *	  in SQL: validity dates, expiry status, chain verification, and whether
 *	  the certificate on disk is the one the server is actually serving.
 *
 * SQL functions (see src/certs/certs.sql for the views over them):
 *	  certificate_info(text), certificate_info(bytea)  any PEM bundle / DER
 *	  crl_info(text)                                   any PEM CRL bundle
 *	  _server_certificates()                           ssl_cert_file, the
 *	                                                   served leaf, ssl_ca_file
 *	  _crls()                                          ssl_crl_file, ssl_crl_dir
 *	  server_key_check()                               ssl_key_file checks
 *	  _serial_hex(text)                                decimal serial to hex
 *
 * None of them needs shared memory, so they work whether or not the module
 * is in shared_preload_libraries.
 *
 * Input given by the user (certificate_info, crl_info) is parsed before any
 * row is returned; anything that is not a well-formed certificate (or CRL)
 * is an ERROR with an errcode.  Errors about user input hide the statement
 * and the context (with any bind parameters) from the server log, because
 * the input may be a private key pasted by mistake.  A private key is
 * never decoded: a PEM block is recognised by its label, wiped and refused;
 * a DER key by the tags of its outer structure.  Configured files that are
 * missing, unreadable or malformed never fail a query: they become a row
 * whose "note" says what is wrong.
 *
 * The served certificate.  Inside a TLS session it is read from the
 * session (SSL_get_certificate).  Otherwise, when the module is preloaded,
 * the openssl_tls_init_hook (installed by audit/tls.c, which calls
 * certificates_tls_init) marks every SSL_CTX the postmaster creates with an
 * ex_data slot whose free callback forgets the context again.  The server
 * creates a new context at start and at each reload, and frees either the
 * new one (when loading failed, so the old one stays) or the old one (when
 * it succeeded): so the newest context still alive is always the one in
 * use.  Backends are forked with a copy of it and read the leaf with
 * SSL_CTX_get0_certificate().  A backend therefore reports what was served
 * when it started; a session that began before a reload shows the state
 * before the reload.
 *
 * src/certs/certificates.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "certs/certs.h"
#include "common/x509.h"

#include <arpa/inet.h>
#include <math.h>
#include <dirent.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

/* pgtls_audit.expiry_warning_days */
int			pgtls_audit_expiry_warning_days = 30;

/* Larger configured files are reported, not read. */
#define MAX_CONFIG_FILE_SIZE (64 * 1024 * 1024)

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
 * The served certificate: SSL contexts seen by openssl_tls_init_hook
 * ---------------------------------------------------------------------
 */
#define MAX_TRACKED_CONTEXTS 8

typedef struct TrackedContext
{
	SSL_CTX    *ctx;			/* NULL: free slot */
	uint64		seq;			/* creation order */
} TrackedContext;

static TrackedContext tracked_contexts[MAX_TRACKED_CONTEXTS];
static uint64 tracked_seq = 0;
static int	ctx_ex_index = -1;
static char ctx_marker;			/* its address is our ex_data value */

static void
tracked_context_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
					 long argl, void *argp)
{
	if (ptr != &ctx_marker)
		return;
	for (int i = 0; i < MAX_TRACKED_CONTEXTS; i++)
		if (tracked_contexts[i].ctx == parent)
			tracked_contexts[i].ctx = NULL;
}

/*
 * Called from the openssl_tls_init_hook, in the postmaster, each time the
 * server builds a new SSL context (before it loads the certificate).
 * Must not ERROR.
 */
void
certificates_tls_init(void *ssl_context)
{
	SSL_CTX    *context = (SSL_CTX *) ssl_context;
	int			slot = -1;

	if (ctx_ex_index < 0)
		ctx_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
												tracked_context_free);
	if (ctx_ex_index < 0 ||
		SSL_CTX_set_ex_data(context, ctx_ex_index, &ctx_marker) != 1)
		return;

	for (int i = 0; i < MAX_TRACKED_CONTEXTS; i++)
	{
		if (tracked_contexts[i].ctx == NULL)
		{
			slot = i;
			break;
		}
		if (slot < 0 || tracked_contexts[i].seq < tracked_contexts[slot].seq)
			slot = i;
	}
	tracked_contexts[slot].ctx = context;
	tracked_contexts[slot].seq = ++tracked_seq;
}

/* The leaf this backend serves, or NULL; *how says where it came from. */
static X509 *
served_leaf(const char **how)
{
	SSL_CTX    *newest = NULL;
	uint64		newest_seq = 0;

	if (MyProcPort != NULL && MyProcPort->ssl != NULL)
	{
		X509	   *cert = SSL_get_certificate(MyProcPort->ssl);

		if (cert != NULL)
		{
			*how = "session";
			return cert;
		}
	}
	for (int i = 0; i < MAX_TRACKED_CONTEXTS; i++)
	{
		if (tracked_contexts[i].ctx != NULL && tracked_contexts[i].seq > newest_seq)
		{
			newest = tracked_contexts[i].ctx;
			newest_seq = tracked_contexts[i].seq;
		}
	}
	if (newest != NULL)
	{
		*how = "context";
		return SSL_CTX_get0_certificate(newest);
	}
	*how = NULL;
	return NULL;
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

/* An X509 name in RFC 2253 form, as PostgreSQL prints peer_dn. */
static Datum
name_datum(X509_NAME *name, bool *isnull)
{
	BIO		   *bio;
	BUF_MEM    *mem;
	unsigned long flags = XN_FLAG_RFC2253;
	Datum		result = (Datum) 0;

	*isnull = true;
	if (name == NULL)
		return result;
	/* raw UTF-8 where the database can hold it, RFC 4514 escapes elsewhere */
	if (GetDatabaseEncoding() == PG_UTF8)
		flags &= ~ASN1_STRFLGS_ESC_MSB;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return result;
	if (X509_NAME_print_ex(bio, name, 0, flags) >= 0)
	{
		BIO_get_mem_ptr(bio, &mem);
		result = PointerGetDatum(safe_text(mem->data, mem->length));
		*isnull = false;
	}
	BIO_free(bio);
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

static char *
hex_digest(const unsigned char *md, unsigned int len)
{
	char	   *hex = palloc(len * 2 + 1);

	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + i * 2, 3, "%02x", md[i]);
	hex[len * 2] = '\0';
	return hex;
}

static char *
cert_fingerprint(X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1)
		return NULL;
	return hex_digest(md, mdlen);
}

static char *
asn1_integer_hex(const ASN1_INTEGER *ai)
{
	BIGNUM	   *bn;
	char	   *hex;
	char	   *result;

	if (ai == NULL || (bn = ASN1_INTEGER_to_BN(ai, NULL)) == NULL)
		return NULL;
	hex = BN_bn2hex(bn);
	result = hex ? pstrdup(hex) : NULL;
	OPENSSL_free(hex);
	BN_free(bn);
	return result;
}

static const char *
signature_name(int nid)
{
	return nid != NID_undef ? OBJ_nid2ln(nid) : NULL;
}

static const char *
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

static bool
cert_self_signed(X509 *cert)
{
	EVP_PKEY   *pkey;
	bool		result;

	if (X509_check_issued(cert, cert) != X509_V_OK)
		return false;
	pkey = X509_get0_pubkey(cert);
	result = pkey != NULL && X509_verify(cert, pkey) == 1;
	ERR_clear_error();
	return result;
}

/*
 * The certificate columns shared by certificate_info() and the
 * server_certificates view, from position to sha256_fingerprint.
 */
#define CERT_NCOLS 15

static void
cert_values(X509 *cert, int position, TimestampTz now, Datum *values, bool *nulls)
{
	TimestampTz not_before = 0;
	TimestampTz not_after = 0;
	bool		have_nb,
				have_na;
	EVP_PKEY   *pkey;
	char	   *s;
	int			i = 0;

	values[i++] = Int32GetDatum(position);
	values[i] = name_datum(X509_get_subject_name(cert), &nulls[i]);
	i++;
	values[i] = name_datum(X509_get_issuer_name(cert), &nulls[i]);
	i++;
	s = asn1_integer_hex(X509_get0_serialNumber(cert));
	if (s)
		values[i] = CStringGetTextDatum(s);
	else
		nulls[i] = true;
	i++;

	have_nb = asn1_time_to_timestamptz(X509_get0_notBefore(cert), &not_before);
	have_na = asn1_time_to_timestamptz(X509_get0_notAfter(cert), &not_after);
	values[i] = TimestampTzGetDatum(not_before);
	nulls[i++] = !have_nb;
	values[i] = TimestampTzGetDatum(not_after);
	nulls[i++] = !have_na;
	/* days_left */
	values[i] = Int32GetDatum(have_na ? days_until(not_after, now) : 0);
	nulls[i++] = !have_na;
	/* status */
	if (!have_na || !have_nb)
		nulls[i] = true;
	else if (now > not_after)
		values[i] = CStringGetTextDatum("expired");
	else if (now < not_before)
		values[i] = CStringGetTextDatum("not_yet_valid");
	else if (not_after - now <= (int64) pgtls_audit_expiry_warning_days * USECS_PER_DAY)
		values[i] = CStringGetTextDatum("expiring");
	else
		values[i] = CStringGetTextDatum("valid");
	i++;

	pkey = X509_get0_pubkey(cert);
	if (pkey)
	{
		values[i++] = CStringGetTextDatum(key_type_name(pkey));
		values[i++] = Int32GetDatum(EVP_PKEY_bits(pkey));
	}
	else
	{
		nulls[i++] = true;
		nulls[i++] = true;
	}
	ERR_clear_error();

	s = (char *) signature_name(X509_get_signature_nid(cert));
	if (s)
		values[i] = CStringGetTextDatum(s);
	else
		nulls[i] = true;
	i++;

	values[i++] = subject_alt_names(cert);
	values[i++] = BoolGetDatum(X509_check_ca(cert) > 0);
	values[i++] = BoolGetDatum(cert_self_signed(cert));
	s = cert_fingerprint(cert);
	if (s)
		values[i] = CStringGetTextDatum(s);
	else
		nulls[i] = true;
	i++;
	Assert(i == CERT_NCOLS);
	ERR_clear_error();
}

/* The CRL columns shared by crl_info() and the crls view. */
#define CRL_NCOLS 9

static void
crl_values(X509_CRL *crl, int position, TimestampTz now, Datum *values, bool *nulls)
{
	TimestampTz last = 0;
	TimestampTz next = 0;
	bool		have_last,
				have_next;
	ASN1_INTEGER *number;
	STACK_OF(X509_REVOKED) *revoked;
	char	   *s = NULL;
	int			i = 0;

	values[i++] = Int32GetDatum(position);
	values[i] = name_datum(X509_CRL_get_issuer(crl), &nulls[i]);
	i++;
	number = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	if (number)
	{
		s = asn1_integer_hex(number);
		ASN1_INTEGER_free(number);
	}
	if (s)
		values[i] = CStringGetTextDatum(s);
	else
		nulls[i] = true;
	i++;
	have_last = asn1_time_to_timestamptz(X509_CRL_get0_lastUpdate(crl), &last);
	have_next = asn1_time_to_timestamptz(X509_CRL_get0_nextUpdate(crl), &next);
	values[i] = TimestampTzGetDatum(last);
	nulls[i++] = !have_last;
	values[i] = TimestampTzGetDatum(next);
	nulls[i++] = !have_next;
	values[i] = Int32GetDatum(have_next ? days_until(next, now) : 0);
	nulls[i++] = !have_next;
	revoked = X509_CRL_get_REVOKED(crl);
	values[i++] = Int32GetDatum(revoked ? sk_X509_REVOKED_num(revoked) : 0);
	/* without a nextUpdate a CRL never becomes stale */
	values[i++] = CStringGetTextDatum(have_next && now > next ? "stale" : "current");
	s = (char *) signature_name(X509_CRL_get_signature_nid(crl));
	if (s)
		values[i] = CStringGetTextDatum(s);
	else
		nulls[i] = true;
	i++;
	Assert(i == CRL_NCOLS);
	ERR_clear_error();
}

/* ---------------------------------------------------------------------
 * Parsing PEM and DER
 * ---------------------------------------------------------------------
 */
typedef struct ParseResult
{
	STACK_OF(X509) *certs;
	STACK_OF(X509_CRL) *crls;
	int			objects;		/* PEM objects read */
	int			keys;			/* private keys seen (wiped, never decoded) */
	StringInfoData others;		/* labels of other objects, for messages */
	char	   *error;			/* NULL: fine */
	int			errcode;
} ParseResult;

static void
parse_result_init(ParseResult *res)
{
	memset(res, 0, sizeof(*res));
	res->certs = sk_X509_new_null();
	res->crls = sk_X509_CRL_new_null();
	initStringInfo(&res->others);
	if (res->certs == NULL || res->crls == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
}

static void
parse_result_free(ParseResult *res)
{
	if (res->certs)
		sk_X509_pop_free(res->certs, X509_free);
	if (res->crls)
		sk_X509_CRL_pop_free(res->crls, X509_CRL_free);
	res->certs = NULL;
	res->crls = NULL;
}

static const char *
openssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : "unknown reason";
}

static bool
is_cert_label(const char *name)
{
	return strcmp(name, "CERTIFICATE") == 0 ||
		strcmp(name, "X509 CERTIFICATE") == 0 ||
		strcmp(name, "TRUSTED CERTIFICATE") == 0;
}

/*
 * Read every PEM object in buf.  Certificates (and CRLs) are decoded and
 * kept; private keys are counted and wiped; other objects are named in
 * res->others.  With stop_at_key, the first private key ends the reading.
 * Never ERRORs for bad input: res->error says what is wrong.
 */
static void
parse_pem(const char *buf, size_t len, ParseResult *res, bool stop_at_key)
{
	BIO		   *bio;

	if (len > INT_MAX)
	{
		res->error = psprintf("input is too large (%zu bytes)", len);
		res->errcode = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		return;
	}
	bio = BIO_new_mem_buf(buf, (int) len);
	if (bio == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));

	ERR_clear_error();
	for (;;)
	{
		char	   *name = NULL;
		char	   *header = NULL;
		unsigned char *data = NULL;
		long		dlen = 0;
		const unsigned char *p;

		if (!PEM_read_bio(bio, &name, &header, &data, &dlen))
		{
			unsigned long e = ERR_peek_last_error();

			if (!(ERR_GET_LIB(e) == ERR_LIB_PEM &&
				  ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
			{
				res->error = psprintf("PEM object %d is malformed or truncated (%s)",
									  res->objects + 1, openssl_reason());
				res->errcode = ERRCODE_INVALID_TEXT_REPRESENTATION;
			}
			break;
		}
		res->objects++;
		p = data;

		if (strstr(name, "PRIVATE KEY") != NULL)
		{
			res->keys++;
			OPENSSL_cleanse(data, dlen);
			if (header)
				OPENSSL_cleanse(header, strlen(header));
		}
		else if (is_cert_label(name))
		{
			X509	   *cert;

			if (strcmp(name, "TRUSTED CERTIFICATE") == 0)
				cert = d2i_X509_AUX(NULL, &p, dlen);
			else
				cert = d2i_X509(NULL, &p, dlen);
			if (cert == NULL)
			{
				res->error = psprintf("PEM object %d (%s) is not a valid certificate (%s)",
									  res->objects, name, openssl_reason());
				res->errcode = ERRCODE_INVALID_TEXT_REPRESENTATION;
			}
			else
				sk_X509_push(res->certs, cert);
		}
		else if (strcmp(name, "X509 CRL") == 0)
		{
			X509_CRL   *crl = d2i_X509_CRL(NULL, &p, dlen);

			if (crl == NULL)
			{
				res->error = psprintf("PEM object %d (%s) is not a valid CRL (%s)",
									  res->objects, name, openssl_reason());
				res->errcode = ERRCODE_INVALID_TEXT_REPRESENTATION;
			}
			else
				sk_X509_CRL_push(res->crls, crl);
		}
		else
		{
			/* labels are short ASCII per RFC 7468; cap them anyway */
			if (res->others.len > 0)
				appendStringInfoString(&res->others, ", ");
			appendStringInfo(&res->others, "%.40s", name);
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		if (res->error || (res->keys > 0 && stop_at_key))
			break;
		/*
		 * Cancellable without leaking OpenSSL objects: stop here; the caller
		 * raises the interrupt inside the PG_TRY that frees res.
		 */
		if (InterruptPending)
			break;
	}
	ERR_clear_error();
	BIO_free(bio);
}

/*
 * Does the DER object at p look like a private key?  Only tags and lengths
 * are read (and a one-byte version number), never the key itself.  A
 * certificate is SEQUENCE { SEQUENCE tbsCertificate, SEQUENCE, BIT STRING }.
 * Private keys are SEQUENCE { INTEGER version (0 or 1), ... }: PKCS#8
 * PrivateKeyInfo / OneAsymmetricKey, PKCS#1 RSAPrivateKey, SEC1
 * ECPrivateKey, OpenSSL's DSA key; or, encrypted (PKCS#8
 * EncryptedPrivateKeyInfo), SEQUENCE { SEQUENCE algorithm, OCTET STRING }.
 * Public keys and parameters in PKCS#1 form start with a large INTEGER and
 * are not taken for keys.
 */
static bool
der_private_key_at(const unsigned char *p, long len)
{
	const unsigned char *q = p;
	const unsigned char *inner;
	long		olen;
	long		ilen;
	int			tag;
	int			xclass;
	int			r;

	r = ASN1_get_object(&q, &olen, &tag, &xclass, len);
	if ((r & 0x80) || tag != V_ASN1_SEQUENCE || xclass != V_ASN1_UNIVERSAL ||
		!(r & V_ASN1_CONSTRUCTED))
		return false;
	len -= q - p;
	if (olen < len)
		len = olen;
	inner = q;
	r = ASN1_get_object(&q, &ilen, &tag, &xclass, len);
	if ((r & 0x80) || xclass != V_ASN1_UNIVERSAL)
		return false;
	if (tag == V_ASN1_INTEGER && !(r & V_ASN1_CONSTRUCTED))
		return ilen == 1 && (q[0] == 0 || q[0] == 1);
	if (tag != V_ASN1_SEQUENCE || !(r & V_ASN1_CONSTRUCTED) ||
		ilen > len - (q - inner))
		return false;
	/* skip the algorithm: an OCTET STRING next is an encrypted key */
	len -= (q - inner) + ilen;
	q += ilen;
	r = ASN1_get_object(&q, &ilen, &tag, &xclass, len);
	return !(r & 0x80) && xclass == V_ASN1_UNIVERSAL &&
		tag == V_ASN1_OCTET_STRING && !(r & V_ASN1_CONSTRUCTED);
}

/*
 * Every DER certificate in buf, one after the other.  A private key ends
 * the reading (res->keys) before anything of it is decoded.
 */
static void
parse_der(const unsigned char *buf, size_t len, ParseResult *res)
{
	const unsigned char *p = buf;
	const unsigned char *end = buf + len;

	ERR_clear_error();
	while (p < end)
	{
		const unsigned char *q = p;
		X509	   *cert;

		if (der_private_key_at(p, end - p))
		{
			res->keys++;
			break;
		}
		cert = d2i_X509(NULL, &q, end - p);
		if (cert == NULL)
		{
			res->error = psprintf("bytes from offset %ld are not a DER certificate (%s)",
								  (long) (p - buf), openssl_reason());
			res->errcode = ERRCODE_INVALID_BINARY_REPRESENTATION;
			break;
		}
		sk_X509_push(res->certs, cert);
		res->objects++;
		p = q;
		/* cancellable: the caller raises it where res is freed (parse_pem) */
		if (InterruptPending)
			break;
	}
	ERR_clear_error();
}

static bool
only_whitespace(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char) s[i]))
			return false;
	return true;
}

/*
 * ERROR for user input that parse_pem/parse_der refused, or that holds no
 * certificate (is_crl false) or no CRL (is_crl true).  The input
 * may be a secret, so the error is logged without the statement
 * (errhidestmt: log_min_error_statement) and without its CONTEXT, which
 * holds the bind parameters when log_parameter_max_length_on_error is set
 * (errhidecontext).  The client still gets both.  A statement logged
 * before it runs (log_statement, and its parameters) cannot be helped.
 */
static void
report_input_problem(ParseResult *res, bool is_crl, int found)
{
	if (res->keys > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("input contains a private key"),
				 errdetail("Private keys are not accepted here; the key was not decoded and is not shown."),
				 errhint("Pass only certificates.  If the key was pasted by mistake, consider it exposed in the client's history."),
				 errhidestmt(true),
				 errhidecontext(true)));
	if (res->error && is_crl)
		ereport(ERROR,
				(errcode(res->errcode),
				 errmsg("could not parse CRL input: %s", res->error),
				 errhidestmt(true),
				 errhidecontext(true)));
	if (res->error)
		ereport(ERROR,
				(errcode(res->errcode),
				 errmsg("could not parse certificate input: %s", res->error),
				 errhidestmt(true),
				 errhidecontext(true)));
	if (found > 0)
		return;
	if (res->objects > 0)
	{
		const char *others = res->others.len ? res->others.data :
			(is_crl ? "CERTIFICATE" : "X509 CRL");

		if (is_crl)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("input contains no CRL"),
					 errdetail("It contains %d PEM object(s) of other types: %s.",
							   res->objects, others),
					 errhidestmt(true),
					 errhidecontext(true)));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("input contains no certificate"),
				 errdetail("It contains %d PEM object(s) of other types: %s.",
						   res->objects, others),
				 errhidestmt(true),
				 errhidecontext(true)));
	}
	if (is_crl)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("input contains no PEM-encoded CRL"),
				 errdetail("No \"-----BEGIN ...-----\" line was found."),
				 errhidestmt(true),
				 errhidecontext(true)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("input contains no PEM-encoded certificate"),
			 errdetail("No \"-----BEGIN ...-----\" line was found."),
			 errhint("DER-encoded certificates can be passed as bytea, e.g. pgtls_audit.certificate_info(pg_read_binary_file('cert.der'))."),
			 errhidestmt(true),
			 errhidecontext(true)));
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

/* ---------------------------------------------------------------------
 * Configured files
 * ---------------------------------------------------------------------
 */

/* Whole file in palloc'd memory, or NULL with *problem set. */
static char *
read_config_file(const char *path, size_t *len, char **problem)
{
	FILE	   *f;
	struct stat st;
	char	   *buf;

	*problem = NULL;
	f = AllocateFile(path, PG_BINARY_R);
	if (f == NULL)
	{
		*problem = psprintf("could not open file \"%s\": %m", path);
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0)
	{
		*problem = psprintf("could not stat file \"%s\": %m", path);
		FreeFile(f);
		return NULL;
	}
	if (!S_ISREG(st.st_mode))
	{
		*problem = psprintf("\"%s\" is not a regular file", path);
		FreeFile(f);
		return NULL;
	}
	if (st.st_size > MAX_CONFIG_FILE_SIZE)
	{
		*problem = psprintf("file \"%s\" is too large (%lld bytes)", path,
							(long long) st.st_size);
		FreeFile(f);
		return NULL;
	}
	buf = palloc(st.st_size + 1);
	*len = fread(buf, 1, st.st_size, f);
	if (ferror(f))
	{
		*problem = psprintf("could not read file \"%s\": %m", path);
		FreeFile(f);
		pfree(buf);
		return NULL;
	}
	FreeFile(f);
	buf[*len] = '\0';
	return buf;
}

static const char *
config_string(const char *name)
{
	const char *v = GetConfigOption(name, true, false);

	return v ? v : "";
}

/* ---- server_certificates ---- */

/* source, path, CERT_NCOLS, chain_verifies, chain_error, is_served, note */
#define SC_NCOLS (2 + CERT_NCOLS + 4)
#define SC_CHAIN_VERIFIES (2 + CERT_NCOLS)
#define SC_CHAIN_ERROR (SC_CHAIN_VERIFIES + 1)
#define SC_IS_SERVED (SC_CHAIN_VERIFIES + 2)
#define SC_NOTE (SC_CHAIN_VERIFIES + 3)

typedef struct ServerCertsState
{
	ReturnSetInfo *rsinfo;
	TimestampTz now;
} ServerCertsState;

static void
sc_put(ServerCertsState *st, const char *source, const char *path, X509 *cert,
	   int position, Datum *extra, bool *extra_nulls, const char *note)
{
	Datum		values[SC_NCOLS];
	bool		nulls[SC_NCOLS];

	/* one row per certificate of a file: callers hold it in a PG_TRY */
	CHECK_FOR_INTERRUPTS();
	memset(nulls, true, sizeof(nulls));
	values[0] = CStringGetTextDatum(source);
	nulls[0] = false;
	if (path)
	{
		values[1] = CStringGetTextDatum(path);
		nulls[1] = false;
	}
	if (cert)
	{
		memset(nulls + 2, false, CERT_NCOLS * sizeof(bool));
		cert_values(cert, position, st->now, values + 2, nulls + 2);
	}
	if (extra)
	{
		for (int i = 0; i < 3; i++)
		{
			values[SC_CHAIN_VERIFIES + i] = extra[i];
			nulls[SC_CHAIN_VERIFIES + i] = extra_nulls[i];
		}
	}
	if (note)
	{
		values[SC_NOTE] = CStringGetTextDatum(note);
		nulls[SC_NOTE] = false;
	}
	tuplestore_putvalues(st->rsinfo->setResult, st->rsinfo->setDesc, values, nulls);
}

/* Read a configured certificate file; on trouble, a row saying so. */
static bool
load_cert_file(ServerCertsState *st, const char *setting, const char *path,
			   ParseResult *res)
{
	char	   *problem;
	size_t		len;
	char	   *buf = read_config_file(path, &len, &problem);

	if (buf == NULL)
	{
		sc_put(st, setting, path, NULL, 0, NULL, NULL, problem);
		return false;
	}
	parse_pem(buf, len, res, false);
	pfree(buf);
	if (res->error)
	{
		sc_put(st, setting, path, NULL, 0, NULL, NULL, res->error);
		return false;
	}
	if (sk_X509_num(res->certs) == 0)
	{
		sc_put(st, setting, path, NULL, 0, NULL, NULL,
			   "the file contains no PEM certificate");
		return false;
	}
	return true;
}

/* Verify leaf + rest of chain against the CA certificates. */
static bool
verify_chain(X509 *leaf, STACK_OF(X509) *chain, STACK_OF(X509) *cas,
			 const char **error)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	bool		ok = false;

	*error = "could not set up certificate verification";
	if (store && sctx && untrusted)
	{
		for (int i = 0; i < sk_X509_num(cas); i++)
			X509_STORE_add_cert(store, sk_X509_value(cas, i));
		for (int i = 1; i < sk_X509_num(chain); i++)
			sk_X509_push(untrusted, sk_X509_value(chain, i));
		if (X509_STORE_CTX_init(sctx, store, leaf, untrusted) == 1)
		{
			X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_SERVER);
			ok = X509_verify_cert(sctx) == 1;
			*error = ok ? NULL :
				X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx));
		}
	}
	if (sctx)
		X509_STORE_CTX_free(sctx);
	if (store)
		X509_STORE_free(store);
	if (untrusted)
		sk_X509_free(untrusted);	/* not the certificates: not ours */
	ERR_clear_error();
	return ok;
}

/* The rows of server_certificates; chain and cas are freed by the caller. */
static void
server_certificate_rows(ServerCertsState *st, const char *cert_path,
						const char *ca_path, ParseResult *chain, ParseResult *cas)
{
	bool		have_chain = false;
	bool		have_cas = false;
	char	   *ca_problem = NULL;

	/* read ssl_ca_file first: the leaf row needs it; its rows come last */
	if (ca_path[0])
	{
		size_t		len;
		char	   *buf = read_config_file(ca_path, &len, &ca_problem);

		if (buf)
		{
			parse_pem(buf, len, cas, false);
			pfree(buf);
			if (cas->error)
				ca_problem = cas->error;
			else if (sk_X509_num(cas->certs) == 0)
				ca_problem = "the file contains no PEM certificate";
			else
				have_cas = true;
		}
	}

	if (cert_path[0])
		have_chain = load_cert_file(st, "ssl_cert_file", cert_path, chain);

	if (have_chain)
	{
		X509	   *leaf = sk_X509_value(chain->certs, 0);
		const char *how;
		X509	   *served = served_leaf(&how);
		char	   *leaf_fp = cert_fingerprint(leaf);
		char	   *served_fp = served ? cert_fingerprint(served) : NULL;
		Datum		extra[3];
		bool		extra_nulls[3] = {false, false, false};
		const char *note = NULL;
		const char *chain_error = NULL;

		if (have_cas)
		{
			extra[0] = BoolGetDatum(verify_chain(leaf, chain->certs, cas->certs,
												 &chain_error));
			if (chain_error)
				extra[1] = CStringGetTextDatum(chain_error);
			else
				extra_nulls[1] = true;
		}
		else
		{
			extra_nulls[0] = true;
			extra[1] = CStringGetTextDatum(ca_path[0] ?
										   "ssl_ca_file could not be read or holds no certificate" :
										   "ssl_ca_file is not set");
		}

		if (served_fp == NULL || leaf_fp == NULL)
		{
			extra_nulls[2] = true;
			note = "the served certificate is known only in a TLS session, or in any session when pgtls_audit is in shared_preload_libraries";
		}
		else
		{
			bool		same = strcmp(served_fp, leaf_fp) == 0;

			extra[2] = BoolGetDatum(same);
			if (!same)
				note = "the server is not serving this certificate: ssl_cert_file changed since the configuration was last loaded; reload (SELECT pg_reload_conf()) to serve it, see the row with source 'served'";
		}
		sc_put(st, "ssl_cert_file", cert_path, leaf, 1, extra, extra_nulls, note);

		for (int i = 1; i < sk_X509_num(chain->certs); i++)
			sc_put(st, "ssl_cert_file", cert_path, sk_X509_value(chain->certs, i),
				   i + 1, NULL, NULL, NULL);

		if (served_fp && leaf_fp && strcmp(served_fp, leaf_fp) != 0)
		{
			extra_nulls[0] = extra_nulls[1] = true;
			extra[2] = BoolGetDatum(true);
			extra_nulls[2] = false;
			sc_put(st, "served", NULL, served, 1, extra, extra_nulls,
				   strcmp(how, "session") == 0 ?
				   "the certificate this TLS session was served; it differs from ssl_cert_file on disk" :
				   "the certificate the server was serving when this session started; it differs from ssl_cert_file on disk");
		}
	}

	if (have_cas)
	{
		for (int i = 0; i < sk_X509_num(cas->certs); i++)
			sc_put(st, "ssl_ca_file", ca_path, sk_X509_value(cas->certs, i),
				   i + 1, NULL, NULL, NULL);
	}
	else if (ca_problem)
		sc_put(st, "ssl_ca_file", ca_path, NULL, 0, NULL, NULL, ca_problem);
}

PG_FUNCTION_INFO_V1(pgtls_audit_server_certificates);

Datum
pgtls_audit_server_certificates(PG_FUNCTION_ARGS)
{
	ServerCertsState st;
	ParseResult chain;
	ParseResult cas;

	InitMaterializedSRF(fcinfo, 0);
	st.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	st.now = GetCurrentTransactionStartTimestamp();

	parse_result_init(&chain);
	parse_result_init(&cas);
	PG_TRY();
	{
		server_certificate_rows(&st, config_string("ssl_cert_file"),
								config_string("ssl_ca_file"), &chain, &cas);
	}
	PG_FINALLY();
	{
		parse_result_free(&chain);
		parse_result_free(&cas);
	}
	PG_END_TRY();
	PG_RETURN_NULL();
}

/* ---- crls ---- */

/* source, path, CRL_NCOLS, note */
#define CRLS_NCOLS (2 + CRL_NCOLS + 1)

static void
crl_put(ReturnSetInfo *rsinfo, TimestampTz now, const char *source,
		const char *path, X509_CRL *crl, int position, const char *note)
{
	Datum		values[CRLS_NCOLS];
	bool		nulls[CRLS_NCOLS];

	/* one row per CRL of a file: callers hold it in a PG_TRY */
	CHECK_FOR_INTERRUPTS();
	memset(nulls, true, sizeof(nulls));
	values[0] = CStringGetTextDatum(source);
	nulls[0] = false;
	values[1] = CStringGetTextDatum(path);
	nulls[1] = false;
	if (crl)
	{
		memset(nulls + 2, false, CRL_NCOLS * sizeof(bool));
		crl_values(crl, position, now, values + 2, nulls + 2);
	}
	if (note)
	{
		values[CRLS_NCOLS - 1] = CStringGetTextDatum(note);
		nulls[CRLS_NCOLS - 1] = false;
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Every CRL of one file as rows, or one row saying what is wrong. */
static void
crl_file_rows(ReturnSetInfo *rsinfo, TimestampTz now, const char *source,
			  const char *path)
{
	char	   *problem;
	size_t		len;
	char	   *buf = read_config_file(path, &len, &problem);
	ParseResult res;

	if (buf == NULL)
	{
		crl_put(rsinfo, now, source, path, NULL, 0, problem);
		return;
	}
	parse_result_init(&res);
	parse_pem(buf, len, &res, false);
	pfree(buf);
	PG_TRY();
	{
		if (res.error)
			crl_put(rsinfo, now, source, path, NULL, 0, res.error);
		else if (sk_X509_CRL_num(res.crls) == 0)
			crl_put(rsinfo, now, source, path, NULL, 0,
					"the file contains no PEM CRL");
		for (int i = 0; i < sk_X509_CRL_num(res.crls); i++)
			crl_put(rsinfo, now, source, path, sk_X509_CRL_value(res.crls, i),
					i + 1, NULL);
	}
	PG_FINALLY();
	{
		parse_result_free(&res);
	}
	PG_END_TRY();
}

/* Names OpenSSL looks up in a CRL directory: 8 hex digits, ".r", digits. */
static bool
is_crl_hash_name(const char *name)
{
	int			i;

	for (i = 0; i < 8; i++)
		if (!isxdigit((unsigned char) name[i]))
			return false;
	if (name[8] != '.' || name[9] != 'r' || name[10] == '\0')
		return false;
	for (i = 10; name[i]; i++)
		if (!isdigit((unsigned char) name[i]))
			return false;
	return true;
}

static int
compare_strings(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

PG_FUNCTION_INFO_V1(pgtls_audit_crls);

Datum
pgtls_audit_crls(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	const char *crl_file = config_string("ssl_crl_file");
	const char *crl_dir = config_string("ssl_crl_dir");

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (crl_file[0])
		crl_file_rows(rsinfo, now, "ssl_crl_file", crl_file);

	if (crl_dir[0])
	{
		DIR		   *dir = AllocateDir(crl_dir);
		struct dirent *de;
		List	   *names = NIL;
		ListCell   *lc;

		if (dir == NULL)
		{
			crl_put(rsinfo, now, "ssl_crl_dir", crl_dir, NULL, 0,
					psprintf("could not open directory \"%s\": %m", crl_dir));
			PG_RETURN_NULL();
		}
		while ((de = ReadDirExtended(dir, crl_dir, LOG)) != NULL)
		{
			CHECK_FOR_INTERRUPTS();
			if (is_crl_hash_name(de->d_name))
				names = lappend(names, pstrdup(de->d_name));
		}
		FreeDir(dir);
		list_sort(names, compare_strings);
		if (names == NIL)
			crl_put(rsinfo, now, "ssl_crl_dir", crl_dir, NULL, 0,
					"the directory holds no file named HASH.rN (see openssl rehash), so the server finds no CRL in it");
		foreach(lc, names)
			crl_file_rows(rsinfo, now, "ssl_crl_dir",
						  psprintf("%s/%s", crl_dir, (char *) lfirst(lc)));
	}
	PG_RETURN_NULL();
}

/* ---------------------------------------------------------------------
 * server_key_check(): never shows key material.  Who may call it is
 * decided by GRANT (pg_monitor by default), as for every function here.
 * ---------------------------------------------------------------------
 */
#define KC_NCOLS 12

static int
no_passphrase_cb(char *buf, int size, int rwflag, void *userdata)
{
	*(bool *) userdata = true;
	return -1;
}

PG_FUNCTION_INFO_V1(pgtls_audit_server_key_check);

Datum
pgtls_audit_server_key_check(PG_FUNCTION_ARGS)
{
	const char *key_path = config_string("ssl_key_file");
	const char *cert_path = config_string("ssl_cert_file");
	TupleDesc	tupdesc;
	Datum		values[KC_NCOLS];
	bool		nulls[KC_NCOLS];
	StringInfoData problems;
	struct stat st;
	char	   *buf = NULL;
	size_t		len = 0;
	char	   *problem = NULL;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	memset(nulls, true, sizeof(nulls));
	initStringInfo(&problems);
	/* key_file */
	values[0] = CStringGetTextDatum(key_path);
	nulls[0] = false;

	if (key_path[0] == '\0' || stat(key_path, &st) != 0)
	{
		values[1] = BoolGetDatum(false);	/* present */
		nulls[1] = false;
		if (key_path[0] == '\0')
			appendStringInfoString(&problems, "ssl_key_file is not set");
		else
			appendStringInfo(&problems, "could not access file \"%s\": %m", key_path);
	}
	else
	{
		struct passwd *pw = getpwuid(st.st_uid);
		bool		perm_ok = true;
		uid_t		me = geteuid();

		values[1] = BoolGetDatum(true);
		nulls[1] = false;
		/* owner, mode */
		values[2] = CStringGetTextDatum(pw ? pw->pw_name : psprintf("%u", (unsigned) st.st_uid));
		nulls[2] = false;
		values[3] = CStringGetTextDatum(psprintf("%04o", (unsigned) (st.st_mode & 07777)));
		nulls[3] = false;

		/* the rules of the server's check_ssl_key_file_permissions() */
		if (!S_ISREG(st.st_mode))
		{
			perm_ok = false;
			appendStringInfoString(&problems, "not a regular file");
		}
		else if (st.st_uid != me && st.st_uid != 0)
		{
			perm_ok = false;
			appendStringInfoString(&problems, "must be owned by the database user or root");
		}
		else if ((st.st_uid == me && (st.st_mode & (S_IRWXG | S_IRWXO))) ||
				 (st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))))
		{
			perm_ok = false;
			appendStringInfoString(&problems, "has group or world access: at most 0600 if owned by the database user, 0640 if owned by root");
		}
		values[4] = BoolGetDatum(perm_ok);
		nulls[4] = false;

		if (S_ISREG(st.st_mode))
			buf = read_config_file(key_path, &len, &problem);
		values[5] = BoolGetDatum(buf != NULL);	/* readable */
		nulls[5] = false;
		if (S_ISREG(st.st_mode) && buf == NULL)
		{
			if (problems.len)
				appendStringInfoString(&problems, "; ");
			appendStringInfoString(&problems, problem);
		}
	}

	if (buf)
	{
		BIO		   *bio = BIO_new_mem_buf(buf, (int) len);
		bool		asked = false;
		EVP_PKEY   *pkey = NULL;

		ERR_clear_error();
		if (bio)
		{
			pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, &asked);
			BIO_free(bio);
		}
		OPENSSL_cleanse(buf, len);
		pfree(buf);
		ERR_clear_error();

		values[8] = BoolGetDatum(asked);	/* encrypted */
		nulls[8] = false;
		if (pkey)
		{
			char	   *cbuf;
			size_t		clen;
			char	   *cproblem;

			values[6] = CStringGetTextDatum(key_type_name(pkey));
			nulls[6] = false;
			values[7] = Int32GetDatum(EVP_PKEY_bits(pkey));
			nulls[7] = false;

			/* matches_certificate: the first certificate of ssl_cert_file */
			cbuf = read_config_file(cert_path, &clen, &cproblem);
			if (cbuf)
			{
				ParseResult res;

				parse_result_init(&res);
				parse_pem(cbuf, clen, &res, false);
				pfree(cbuf);
				if (res.error == NULL && sk_X509_num(res.certs) > 0)
				{
					values[9] = BoolGetDatum(X509_check_private_key(sk_X509_value(res.certs, 0), pkey) == 1);
					nulls[9] = false;
					if (!DatumGetBool(values[9]))
					{
						if (problems.len)
							appendStringInfoString(&problems, "; ");
						appendStringInfoString(&problems, "the key does not match the certificate in ssl_cert_file");
					}
				}
				parse_result_free(&res);
				ERR_clear_error();
			}
			EVP_PKEY_free(pkey);
		}
		else
		{
			if (problems.len)
				appendStringInfoString(&problems, "; ");
			appendStringInfoString(&problems, asked ?
								   "the key is protected by a passphrase; its type and match with the certificate were not checked" :
								   "the file holds no PEM private key the server can load");
		}
	}

	/* passphrase command, as a hint for encrypted keys */
	values[10] = BoolGetDatum(config_string("ssl_passphrase_command")[0] != '\0');
	nulls[10] = false;
	if (problems.len)
	{
		values[11] = CStringGetTextDatum(problems.data);
		nulls[11] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
