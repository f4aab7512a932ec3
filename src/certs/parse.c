/*-------------------------------------------------------------------------
 *
 * parse.c
 *	  Certificates and CRLs from PEM and DER bytes, and the errors for user
 *	  input that is not what was asked for.
 *
 * Input given by the user (certificate_info, crl_info) is parsed before any
 * row is returned; anything that is not a well-formed certificate (or CRL)
 * is an ERROR with an errcode.  Errors about user input hide the statement
 * and the context (with any bind parameters) from the server log, because
 * the input may be a private key pasted by mistake.  A private key is
 * never decoded: a PEM block is recognised by its label, wiped and refused;
 * a DER key by the tags of its outer structure.  Configured files that are
 * missing, unreadable or malformed never fail a query: their readers
 * (certs/server_files.c) turn res->error into a row whose "note" says what
 * is wrong.
 *
 * read_first_certificate_file() gives the first PEM certificate of a file
 * (PEM_read_bio_X509, which skips other objects before it), for the checks
 * that need only that one.
 *
 * src/certs/parse.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certs/parse.h"
#include "common/files.h"
#include "miscadmin.h"

void
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

void
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
 * One PEM object read by parse_pem: a private key is counted and wiped, a
 * certificate or CRL decoded and kept, any other object named in
 * res->others.  Sets res->error when a certificate or CRL does not decode.
 */
static void
parse_pem_object(ParseResult *res, const char *name, char *header,
				 unsigned char *data, long dlen)
{
	const unsigned char *p = data;

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
}

/*
 * Serve a pending interrupt in the middle of a parse.  One that raises an
 * ERROR (cancel, timeout, termination) frees what was parsed so far, and
 * the BIO, first; one that does not (a ProcSignal barrier, a request to
 * log memory contexts) lets the parse go on, so that a result is never
 * cut short without an error.
 */
static void
parse_serve_interrupt(ParseResult *res, BIO *bio)
{
	PG_TRY();
	{
		CHECK_FOR_INTERRUPTS();
	}
	PG_CATCH();
	{
		if (bio)
			BIO_free(bio);
		ERR_clear_error();
		parse_result_free(res);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * Read every PEM object in buf.  Certificates (and CRLs) are decoded and
 * kept; private keys are counted and wiped; other objects are named in
 * res->others.  With stop_at_key, the first private key ends the reading.
 * Never ERRORs for bad input: res->error says what is wrong.
 */
void
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
		parse_pem_object(res, name, header, data, dlen);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		if (res->error || (res->keys > 0 && stop_at_key))
			break;
		/* cancellable without leaking OpenSSL objects */
		if (InterruptPending)
			parse_serve_interrupt(res, bio);
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
	long		olen = 0;
	long		ilen = 0;
	int			tag = 0;
	int			xclass = 0;
	int			r;

	/*
	 * ASN1_get_object() does not set its outputs on every error path:
	 * valgrind saw the test below branch on an unset value with a mutated
	 * DER input (test/fuzz/sql_mutations.pl).  Zero means "no key".
	 */
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
void
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
		/* cancellable without leaking OpenSSL objects */
		if (InterruptPending)
			parse_serve_interrupt(res, NULL);
	}
	ERR_clear_error();
}

bool
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
void
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

/*
 * The first PEM certificate of the file at path, read through fd.c, or
 * NULL when the file cannot be read or holds none.  The caller frees it
 * with X509_free.
 */
X509 *
read_first_certificate_file(const char *path)
{
	size_t		len = 0;
	char	   *problem;
	char	   *buf = pgtls_read_file(path, &len, &problem);
	BIO		   *bio;
	X509	   *cert = NULL;

	if (buf == NULL)
		return NULL;
	bio = BIO_new_mem_buf(buf, (int) len);
	if (bio)
	{
		cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	pfree(buf);
	ERR_clear_error();
	return cert;
}
