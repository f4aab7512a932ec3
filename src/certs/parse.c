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
 * certificate_info() sets res->keyless: its certificates are then decoded
 * without their public key where that gives the same rows, because OpenSSL
 * 3.0 spends most of a certificate's decoding on the key (see
 * "Certificates decoded without their public key" below).  The configured
 * files' readers need the keys (chain verification, the key check) and
 * decode as before.
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

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
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

/* ---------------------------------------------------------------------
 * Certificates decoded without their public key
 *
 * OpenSSL 3.0's d2i_X509() decodes the subjectPublicKeyInfo eagerly with
 * the provider decoders (a new OSSL_DECODER_CTX for every certificate):
 * measured 76 of the 88 microseconds that decoding a CA certificate takes,
 * where the legacy d2i_RSA_PUBKEY() needs 1.6.  certificate_info() needs
 * only the key's type and size, and the key itself only to verify the
 * signature of a self-issued certificate (certs/cert_info.c).  So its
 * certificates are decoded into X509 objects of a library context of our
 * own (X509_new_ex, then d2i_X509 into that object), which has no key
 * decoders: the same ASN.1 decoder, the same checks and errors, the same
 * names, extensions and fingerprint, but X509_get0_pubkey() is NULL.
 * The context has one provider, built in here, with one algorithm: SHA-1,
 * computed by the default context's implementation, because OpenSSL
 * caches each certificate's SHA-1 hash with its extensions
 * (X509_check_ca() says "not a CA" when it cannot).  The key's type and
 * size come from cert_key_summary(), which decodes RSA and named-curve EC
 * keys with the legacy functions that OpenSSL 3.0's own decoders call;
 * a certificate with any other key, or whose key does not decode that
 * way, and any version 1 certificate (whether it is a CA depends on its
 * key: OpenSSL's "self-signed v1 root") is decoded again with d2i_X509(),
 * as are all certificates when the context cannot be set up, and the
 * bytes of any certificate that does not decode (for the same error).
 * ---------------------------------------------------------------------
 */
static OSSL_LIB_CTX *keyless_ctx = NULL;
static bool keyless_tried = false;
static EVP_MD *keyless_sha1 = NULL;	/* the default context's SHA-1 */

/*
 * The summary of a keyless certificate's key (cert_key_summary), computed
 * when it was decoded, is kept with it (ex_data): the key's size times 4,
 * plus 1 for RSA or 2 for EC.
 */
static int	key_summary_index = -1;

static void *
sha1_newctx(void *provctx)
{
	return EVP_MD_CTX_new();
}

static void
sha1_freectx(void *dctx)
{
	EVP_MD_CTX_free(dctx);
}

static void *
sha1_dupctx(void *dctx)
{
	EVP_MD_CTX *copy = EVP_MD_CTX_new();

	if (copy != NULL && !EVP_MD_CTX_copy_ex(copy, dctx))
	{
		EVP_MD_CTX_free(copy);
		copy = NULL;
	}
	return copy;
}

static int
sha1_init(void *dctx, const OSSL_PARAM params[])
{
	return EVP_DigestInit_ex(dctx, keyless_sha1, NULL);
}

static int
sha1_update(void *dctx, const unsigned char *in, size_t inl)
{
	return EVP_DigestUpdate(dctx, in, inl);
}

static int
sha1_final(void *dctx, unsigned char *out, size_t *outl, size_t outsz)
{
	unsigned int len = 0;

	if (outsz < SHA_DIGEST_LENGTH || !EVP_DigestFinal_ex(dctx, out, &len))
		return 0;
	*outl = len;
	return 1;
}

static int
sha1_get_params(OSSL_PARAM params[])
{
	OSSL_PARAM *p;

	if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_BLOCK_SIZE)) != NULL &&
		!OSSL_PARAM_set_size_t(p, 64))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_SIZE)) != NULL &&
		!OSSL_PARAM_set_size_t(p, SHA_DIGEST_LENGTH))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_XOF)) != NULL &&
		!OSSL_PARAM_set_int(p, 0))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_ALGID_ABSENT)) != NULL &&
		!OSSL_PARAM_set_int(p, 1))
		return 0;
	return 1;
}

static const OSSL_PARAM sha1_gettable[] = {
	OSSL_PARAM_size_t(OSSL_DIGEST_PARAM_BLOCK_SIZE, NULL),
	OSSL_PARAM_size_t(OSSL_DIGEST_PARAM_SIZE, NULL),
	OSSL_PARAM_int(OSSL_DIGEST_PARAM_XOF, NULL),
	OSSL_PARAM_int(OSSL_DIGEST_PARAM_ALGID_ABSENT, NULL),
	OSSL_PARAM_END
};

static const OSSL_PARAM *
sha1_gettable_params(void *provctx)
{
	return sha1_gettable;
}

static const OSSL_DISPATCH sha1_functions[] = {
	{OSSL_FUNC_DIGEST_NEWCTX, (void (*) (void)) sha1_newctx},
	{OSSL_FUNC_DIGEST_FREECTX, (void (*) (void)) sha1_freectx},
	{OSSL_FUNC_DIGEST_DUPCTX, (void (*) (void)) sha1_dupctx},
	{OSSL_FUNC_DIGEST_INIT, (void (*) (void)) sha1_init},
	{OSSL_FUNC_DIGEST_UPDATE, (void (*) (void)) sha1_update},
	{OSSL_FUNC_DIGEST_FINAL, (void (*) (void)) sha1_final},
	{OSSL_FUNC_DIGEST_GET_PARAMS, (void (*) (void)) sha1_get_params},
	{OSSL_FUNC_DIGEST_GETTABLE_PARAMS, (void (*) (void)) sha1_gettable_params},
	{0, NULL}
};

static const OSSL_ALGORITHM keyless_digests[] = {
	{"SHA1:SHA-1:SSL3-SHA1:1.3.14.3.2.26", "provider=pgtls_audit_keyless", sha1_functions, NULL},
	{NULL, NULL, NULL, NULL}
};

static const OSSL_ALGORITHM *
keyless_query(void *provctx, int operation_id, int *no_cache)
{
	*no_cache = 0;
	return operation_id == OSSL_OP_DIGEST ? keyless_digests : NULL;
}

static const OSSL_DISPATCH keyless_provider_functions[] = {
	{OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*) (void)) keyless_query},
	{0, NULL}
};

static int
keyless_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
					  const OSSL_DISPATCH **out, void **provctx)
{
	*out = keyless_provider_functions;
	*provctx = (void *) handle;
	return 1;
}

/*
 * The library context, set up once per backend (OpenSSL's memory, kept
 * for the life of the process); NULL when it cannot be (out of memory),
 * and then every certificate is decoded by d2i_X509().
 */
static OSSL_LIB_CTX *
keyless_context(void)
{
	OSSL_LIB_CTX *ctx;

	if (keyless_tried)
		return keyless_ctx;
	keyless_tried = true;
	keyless_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	key_summary_index = X509_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	ctx = OSSL_LIB_CTX_new();
	if (keyless_sha1 == NULL || key_summary_index < 0 || ctx == NULL ||
		!OSSL_PROVIDER_add_builtin(ctx, "pgtls_audit_keyless", keyless_provider_init) ||
		OSSL_PROVIDER_load(ctx, "pgtls_audit_keyless") == NULL)
	{
		OSSL_LIB_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	keyless_ctx = ctx;
	return ctx;
}

/*
 * Curves seen by key_summary(), each group built once per backend
 * (building one costs more than decoding a point on it).
 */
#define KEY_CURVES_MAX 16

static struct
{
	int			nid;
	EC_GROUP   *group;
}			key_curves[KEY_CURVES_MAX];
static int	key_curves_n = 0;

static EC_GROUP *
curve_group(int nid)
{
	EC_GROUP   *group;

	for (int i = 0; i < key_curves_n; i++)
		if (key_curves[i].nid == nid)
			return key_curves[i].group;
	if (key_curves_n == KEY_CURVES_MAX)
		return NULL;
	group = EC_GROUP_new_by_curve_name(nid);
	if (group == NULL)
		return NULL;
	key_curves[key_curves_n].nid = nid;
	key_curves[key_curves_n].group = group;
	key_curves_n++;
	return group;
}

/*
 * What OpenSSL 3.0's decoders would make of the certificate's key, for the
 * keys they decode with the legacy functions used here: RSA
 * (rsaEncryption: d2i_RSAPublicKey of the BIT STRING, the RSA
 * parameters ignored) and EC on a named curve other than SM2 (whose keys
 * OpenSSL types "SM2"): the point must decode on the curve (o2i_ECPublicKey,
 * i.e. EC_POINT_oct2point), and the size is that of the group order, as
 * EVP_PKEY_bits() says.  False for anything else, and the caller asks
 * OpenSSL itself.
 */
static bool
key_summary(X509 *cert, const char **type, int *bits)
{
	X509_PUBKEY *pub = X509_get_X509_PUBKEY(cert);
	ASN1_OBJECT *alg = NULL;
	const unsigned char *pk = NULL;
	int			pklen = 0;
	X509_ALGOR *palg = NULL;
	bool		ok = false;

	if (pub == NULL || !X509_PUBKEY_get0_param(&alg, &pk, &pklen, &palg, pub) ||
		pk == NULL)
		return false;
	switch (OBJ_obj2nid(alg))
	{
		case NID_rsaEncryption:
			{
				const unsigned char *p = pk;
				RSA		   *rsa = d2i_RSAPublicKey(NULL, &p, pklen);

				if (rsa != NULL)
				{
					*type = "RSA";
					*bits = RSA_bits(rsa);
					RSA_free(rsa);
					ok = true;
				}
				break;
			}
		case NID_X9_62_id_ecPublicKey:
			{
				int			ptype = 0;
				const void *pval = NULL;
				int			curve;
				EC_GROUP   *group;
				EC_POINT   *point;

				X509_ALGOR_get0(NULL, &ptype, &pval, palg);
				if (ptype != V_ASN1_OBJECT)
					break;
				curve = OBJ_obj2nid((const ASN1_OBJECT *) pval);
				if (curve == NID_undef || curve == NID_sm2 ||
					(group = curve_group(curve)) == NULL)
					break;
				point = EC_POINT_new(group);
				if (point != NULL &&
					EC_POINT_oct2point(group, point, pk, pklen, NULL) == 1)
				{
					*type = "EC";
					*bits = EC_GROUP_order_bits(group);
					ok = true;
				}
				EC_POINT_free(point);
				break;
			}
		default:
			break;
	}
	ERR_clear_error();
	return ok;
}

bool
cert_key_summary(X509 *cert, const char **type, int *bits)
{
	uintptr_t	kept = key_summary_index >= 0 ?
		(uintptr_t) X509_get_ex_data(cert, key_summary_index) : 0;

	if (kept == 0)
		return false;
	*type = (kept & 3) == 1 ? "RSA" : "EC";
	*bits = (int) (kept >> 2);
	return true;
}

/*
 * One certificate at *pp (len bytes), *pp advanced past it as d2i_X509()
 * does; NULL (with OpenSSL's error queue from d2i_X509) if it does not
 * decode.  With keyless, decoded without its public key when it can be.
 */
static X509 *
decode_certificate(const unsigned char **pp, long len, bool keyless)
{
	const unsigned char *start = *pp;
	OSSL_LIB_CTX *ctx = keyless ? keyless_context() : NULL;

	if (ctx != NULL)
	{
		X509	   *cert = X509_new_ex(ctx, NULL);
		const char *type = NULL;
		int			bits = 0;

		/*
		 * d2i_X509 into an object frees it (and sets cert to NULL) when the
		 * bytes do not decode; X509_free(NULL) does nothing.
		 */
		if (cert != NULL && d2i_X509(&cert, pp, len) != NULL)
		{
			if (X509_get_version(cert) != X509_VERSION_1 &&
				key_summary(cert, &type, &bits) &&
				bits > 0 && bits < (1 << 24) &&
				X509_set_ex_data(cert, key_summary_index,
								 (void *) (((uintptr_t) bits << 2) |
										   (strcmp(type, "RSA") == 0 ? 1 : 2))))
				return cert;
		}
		X509_free(cert);
		ERR_clear_error();
		*pp = start;
	}
	return d2i_X509(NULL, pp, len);
}

/*
 * cert (keyless or not) decoded again, from its DER, with its public key:
 * for the checks that need the key itself.  The caller frees it.
 */
X509 *
cert_decode_with_key(X509 *cert)
{
	unsigned char *der = NULL;
	int			len = i2d_X509(cert, &der);
	const unsigned char *p = der;
	X509	   *full = NULL;

	if (len > 0)
		full = d2i_X509(NULL, &p, len);
	OPENSSL_free(der);
	ERR_clear_error();
	return full;
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
			cert = decode_certificate(&p, dlen, res->keyless);
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
		cert = decode_certificate(&q, end - p, res->keyless);
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
