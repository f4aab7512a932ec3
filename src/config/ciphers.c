/*-------------------------------------------------------------------------
 *
 * ciphers.c
 *	  The cipher suites that ssl_ciphers (TLS 1.2 and below) and the TLS 1.3
 *	  suites really enable, as OpenSSL expands them, classified with
 *	  OpenSSL's own cipher attributes (SSL_CIPHER_get_kx_nid, _auth_nid,
 *	  _cipher_nid, _digest_nid, _bits): pgtls_audit.expand_ciphers(), the
 *	  ciphers view, and the ciphers findings.
 *
 * The expansion builds a throw-away SSL_CTX the way be-secure-openssl.c
 * builds the server's: TLS_method(), ssl_min/max_protocol_version,
 * SSL_CTX_set_cipher_list(ssl_ciphers) and, on 18, SSL_CTX_set_ciphersuites
 * (ssl_tls13_ciphers); before 18 the TLS 1.3 suites are OpenSSL's defaults.
 * It never touches the server's own SSL context.
 *
 * "negotiable" is what OpenSSL would really agree to: the suite is in
 * SSL_get1_supported_ciphers() for that context (protocol range, security
 * level; PSK and SRP suites need callbacks the server never installs) and
 * its authentication fits the key of ssl_cert_file (an ECDSA suite cannot
 * be used with an RSA certificate).  Findings consider negotiable suites
 * only; the view shows every suite the string enables.
 *
 * src/config/ciphers.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "certs/parse.h"
#include "common/findings_list.h"
#include "common/settings.h"
#include "config/ciphers.h"

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/tuplestore.h"

typedef struct CipherSuite
{
	char	   *name;
	char	   *standard_name;
	char	   *protocol;
	const char *kx;
	const char *auth;
	char	   *encryption;
	char	   *mac;
	int			bits;
	bool		forward_secrecy;
	bool		negotiable;
	char	   *weakness;		/* NULL when none */
	int			severity;		/* -1 none, else FindingSeverity */
	bool		no_protection;	/* NULL cipher or anonymous */
} CipherSuite;

/* Why the server could not use the settings */
typedef enum CipherError
{
	CIPHER_OK,
	CIPHER_BAD_PROTOCOL,		/* error_arg: the protocol version */
	CIPHER_NO_CONTEXT,
	CIPHER_PROTOCOL_RANGE,
	CIPHER_BAD_LIST,			/* error_arg: the cipher list */
	CIPHER_BAD_TLS13			/* error_arg: the TLS 1.3 suites */
} CipherError;

typedef struct CipherExpansion
{
	int			n;
	CipherSuite *suites;
	CipherError error;
	const char *error_arg;
} CipherExpansion;

/* Protocol setting -> OpenSSL version, 0 for none; -1 unknown */
static int
protocol_version(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return 0;
	switch (tls_protocol_rank(name))
	{
		case TLS_RANK_TLSV1:
			return TLS1_VERSION;
		case TLS_RANK_TLSV1_1:
			return TLS1_1_VERSION;
		case TLS_RANK_TLSV1_2:
			return TLS1_2_VERSION;
		case TLS_RANK_TLSV1_3:
			return TLS1_3_VERSION;
		case TLS_RANK_SSLV3:	/* not a value of the settings */
		case TLS_RANK_UNKNOWN:
			break;
	}
	return -1;
}

static const char *
kx_name(int nid, bool *fs)
{
	*fs = false;
	switch (nid)
	{
		case NID_kx_ecdhe:
			*fs = true;
			return "ECDHE";
		case NID_kx_dhe:
			*fs = true;
			return "DHE";
		case NID_kx_any:
			*fs = true;			/* TLS 1.3: always (EC)DHE */
			return "any (TLS 1.3)";
		case NID_kx_ecdhe_psk:
			*fs = true;
			return "ECDHE-PSK";
		case NID_kx_dhe_psk:
			*fs = true;
			return "DHE-PSK";
		case NID_kx_rsa:
			return "RSA";
		case NID_kx_rsa_psk:
			return "RSA-PSK";
		case NID_kx_psk:
			return "PSK";
		case NID_kx_srp:
			return "SRP";
		case NID_kx_gost:
			return "GOST";
#ifdef NID_kx_gost18
		case NID_kx_gost18:
			return "GOST18";
#endif
	}
	return "unknown";
}

static const char *
auth_name(int nid)
{
	switch (nid)
	{
		case NID_auth_rsa:
			return "RSA";
		case NID_auth_ecdsa:
			return "ECDSA";
		case NID_auth_dss:
			return "DSS";
		case NID_auth_psk:
			return "PSK";
		case NID_auth_srp:
			return "SRP";
		case NID_auth_null:
			return "none";
		case NID_auth_gost01:
		case NID_auth_gost12:
			return "GOST";
		case NID_auth_any:
			return "any (TLS 1.3)";
	}
	return "unknown";
}

/* Does the server key type allow this authentication? (-1: key unknown) */
static bool
auth_fits_key(int auth_nid, int key_type)
{
	if (key_type < 0)
		return true;
	switch (auth_nid)
	{
		case NID_auth_rsa:
			return key_type == EVP_PKEY_RSA;
		case NID_auth_ecdsa:
			return key_type == EVP_PKEY_EC || key_type == EVP_PKEY_ED25519 ||
				key_type == EVP_PKEY_ED448;
		case NID_auth_dss:
			return key_type == EVP_PKEY_DSA;
		default:
			return true;
	}
}

/* Key type of the certificate in file, -1 when it cannot be read */
static int
certificate_key_type(const char *file)
{
	X509	   *cert;
	int			type = -1;

	if (file == NULL || file[0] == '\0')
		return -1;
	/* read through fd.c, as every file is (certs/parse.c) */
	cert = read_first_certificate_file(file);
	if (cert)
	{
		EVP_PKEY   *key = X509_get0_pubkey(cert);

		if (key)
			type = EVP_PKEY_base_id(key);
		X509_free(cert);
	}
	return type;
}

/*
 * The weaknesses of suite s (its names and bits already set): s->weakness
 * lists them, s->severity is critical for broken algorithms, a warning
 * for no forward secrecy.
 */
static void
classify_weakness(CipherSuite *s, int cipher_nid, int digest_nid,
				  int auth_nid)
{
	StringInfoData weak;
	bool		critical = false;
	bool		warning = false;

	initStringInfo(&weak);
#define ADD_WEAK(txt) appendStringInfo(&weak, "%s%s", weak.len > 0 ? ", " : "", (txt))
	if (cipher_nid == NID_undef)
	{
		ADD_WEAK("no encryption (NULL cipher)");
		s->no_protection = critical = true;
	}
	if (auth_nid == NID_auth_null)
	{
		ADD_WEAK("anonymous: the server is not authenticated");
		s->no_protection = critical = true;
	}
	if (strstr(s->name, "EXP") != NULL)
	{
		ADD_WEAK("export grade");
		critical = true;
	}
	if (cipher_nid == NID_rc4 || cipher_nid == NID_rc4_40 ||
		strstr(s->name, "RC4") != NULL)
	{
		ADD_WEAK("RC4");
		critical = true;
	}
	if (cipher_nid == NID_des_cbc || cipher_nid == NID_des_ede3_cbc ||
		cipher_nid == NID_des_ede_cbc || cipher_nid == NID_desx_cbc)
	{
		ADD_WEAK(cipher_nid == NID_des_cbc ? "DES" : "3DES (64-bit block)");
		critical = true;
	}
	if (digest_nid == NID_md5)
	{
		ADD_WEAK("MD5 MAC");
		critical = true;
	}
	if (cipher_nid != NID_undef && s->bits < 128)
	{
		ADD_WEAK(psprintf("%d-bit encryption", s->bits));
		critical = true;
	}
	if (!s->forward_secrecy)
	{
		ADD_WEAK("no forward secrecy");
		warning = true;
	}
#undef ADD_WEAK
	s->weakness = weak.len > 0 ? weak.data : NULL;
	s->severity = critical ? FINDING_CRITICAL : warning ? FINDING_WARNING : -1;
}

/* Suite s described from OpenSSL's attributes of cipher c */
static void
classify(CipherSuite *s, const SSL_CIPHER *c)
{
	int			cipher_nid = SSL_CIPHER_get_cipher_nid(c);
	int			digest_nid = SSL_CIPHER_get_digest_nid(c);
	int			auth_nid = SSL_CIPHER_get_auth_nid(c);

	s->name = pstrdup(SSL_CIPHER_get_name(c));
	s->standard_name = pstrdup(SSL_CIPHER_standard_name(c) ?
							   SSL_CIPHER_standard_name(c) : SSL_CIPHER_get_name(c));
	s->protocol = pstrdup(SSL_CIPHER_get_version(c));
	s->kx = kx_name(SSL_CIPHER_get_kx_nid(c), &s->forward_secrecy);
	s->auth = auth_name(auth_nid);
	s->encryption = pstrdup(cipher_nid == NID_undef ? "none" : OBJ_nid2ln(cipher_nid));
	if (SSL_CIPHER_is_aead(c))
		s->mac = pstrdup("AEAD");
	else
		s->mac = pstrdup(digest_nid == NID_undef ? "none" : OBJ_nid2sn(digest_nid));
	s->bits = SSL_CIPHER_get_bits(c, NULL);
	classify_weakness(s, cipher_nid, digest_nid, auth_nid);
}

/*
 * The settings given to ctx as the server gives them; false with ->error
 * and ->error_arg set when OpenSSL refuses one.
 */
static bool
configure_context(CipherExpansion *ex, SSL_CTX *ctx, const char *list,
				  const char *tls13, int minv, int maxv)
{
	if ((minv && !SSL_CTX_set_min_proto_version(ctx, minv)) ||
		(maxv && !SSL_CTX_set_max_proto_version(ctx, maxv)))
		ex->error = CIPHER_PROTOCOL_RANGE;
	else if (SSL_CTX_set_cipher_list(ctx, list ? list : "") != 1)
	{
		ex->error = CIPHER_BAD_LIST;
		ex->error_arg = list ? list : "";
	}
	else if (tls13 && tls13[0] != '\0' && SSL_CTX_set_ciphersuites(ctx, tls13) != 1)
	{
		ex->error = CIPHER_BAD_TLS13;
		ex->error_arg = tls13;
	}
	return ex->error == CIPHER_OK;
}

/*
 * Every suite ctx enables, classified; negotiable when OpenSSL would agree
 * to it on this context and it fits the certificate's key type.
 */
static void
list_suites(CipherExpansion *ex, SSL_CTX *ctx, int key_type)
{
	STACK_OF(SSL_CIPHER) *all = SSL_CTX_get_ciphers(ctx);
	STACK_OF(SSL_CIPHER) *supported = NULL;
	SSL		   *ssl = SSL_new(ctx);
	int			i;

	if (ssl)
		supported = SSL_get1_supported_ciphers(ssl);
	ex->n = all ? sk_SSL_CIPHER_num(all) : 0;
	ex->suites = palloc0(sizeof(CipherSuite) * Max(ex->n, 1));
	for (i = 0; i < ex->n; i++)
	{
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(all, i);
		CipherSuite *s = &ex->suites[i];
		bool		in_supported = (supported == NULL);
		int			j;

		CHECK_FOR_INTERRUPTS();
		classify(s, c);
		for (j = 0; supported && j < sk_SSL_CIPHER_num(supported); j++)
			if (SSL_CIPHER_get_id(sk_SSL_CIPHER_value(supported, j)) ==
				SSL_CIPHER_get_id(c))
				in_supported = true;
		s->negotiable = in_supported &&
			auth_fits_key(SSL_CIPHER_get_auth_nid(c), key_type);
	}
	if (supported)
		sk_SSL_CIPHER_free(supported);
	if (ssl)
		SSL_free(ssl);
}

/*
 * Expand the settings with OpenSSL.  NULL arguments mean the live
 * settings.  Never raises an error for bad settings: ->error says what the
 * server would say.
 */
static CipherExpansion *
expand_ciphers(const char *list, const char *tls13, const char *minp,
			   const char *maxp)
{
	CipherExpansion *ex = palloc0(sizeof(CipherExpansion));
	SSL_CTX    *ctx;
	int			minv,
				maxv;
	int			key_type;

	if (list == NULL)
		list = pgtls_setting("ssl_ciphers");
	if (tls13 == NULL && PGTLS_HAVE_TLS13_CIPHERS_GUC)
		tls13 = pgtls_setting("ssl_tls13_ciphers");
	if (minp == NULL)
		minp = pgtls_setting("ssl_min_protocol_version");
	if (maxp == NULL)
		maxp = pgtls_setting("ssl_max_protocol_version");
	minv = protocol_version(minp);
	maxv = protocol_version(maxp);
	if (minv < 0 || maxv < 0)
	{
		ex->error = CIPHER_BAD_PROTOCOL;
		ex->error_arg = minv < 0 ? minp : maxp;
		return ex;
	}
	key_type = certificate_key_type(pgtls_setting("ssl_cert_file"));

	ctx = SSL_CTX_new(TLS_method());
	if (ctx == NULL)
	{
		ERR_clear_error();
		ex->error = CIPHER_NO_CONTEXT;
		return ex;
	}
	if (configure_context(ex, ctx, list, tls13, minv, maxv))
		list_suites(ex, ctx, key_type);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return ex;
}

/* What the server would say about settings it cannot use (a finding) */
static char *
cipher_error_text(const CipherExpansion *ex)
{
	switch (ex->error)
	{
		case CIPHER_OK:
			break;
		case CIPHER_BAD_PROTOCOL:
			return psprintf("unknown protocol version \"%s\"", ex->error_arg);
		case CIPHER_NO_CONTEXT:
			return pstrdup("OpenSSL cannot create an SSL context");
		case CIPHER_PROTOCOL_RANGE:
			return pstrdup("OpenSSL refuses the protocol version range");
		case CIPHER_BAD_LIST:
			return psprintf("OpenSSL finds no valid cipher in the cipher list \"%s\"",
							ex->error_arg);
		case CIPHER_BAD_TLS13:
			return psprintf("OpenSSL refuses the TLSv1.3 cipher suites \"%s\"",
							ex->error_arg);
	}
	return pstrdup("unknown error");
}

#define CIPHER_ERROR_HINT \
	"The server would refuse these settings: with ssl = on it does not start, and a reload keeps the previous settings."

/* The same, as an error of expand_ciphers() with explicit arguments */
static void
report_cipher_error(const CipherExpansion *ex)
{
	switch (ex->error)
	{
		case CIPHER_OK:
			return;
		case CIPHER_BAD_PROTOCOL:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown protocol version \"%s\"", ex->error_arg),
					 errhint(CIPHER_ERROR_HINT)));
			break;
		case CIPHER_NO_CONTEXT:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create an SSL context")));
			break;
		case CIPHER_PROTOCOL_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("could not set the SSL protocol version range"),
					 errhint(CIPHER_ERROR_HINT)));
			break;
		case CIPHER_BAD_LIST:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("could not set the cipher list \"%s\" (no valid ciphers available)",
							ex->error_arg),
					 errhint(CIPHER_ERROR_HINT)));
			break;
		case CIPHER_BAD_TLS13:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("could not set the TLSv1.3 cipher suites \"%s\"",
							ex->error_arg),
					 errhint(CIPHER_ERROR_HINT)));
			break;
	}
}

/*
 * pgtls_audit.expand_ciphers(cipher_list, tls13_ciphersuites, min_protocol,
 * max_protocol): NULL arguments take the live settings.
 */
PG_FUNCTION_INFO_V1(pgtls_audit_expand_ciphers);

Datum
pgtls_audit_expand_ciphers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *args[4];
	bool		explicit_args = false;
	CipherExpansion *ex;
	int			i;

	for (i = 0; i < 4; i++)
	{
		args[i] = PG_ARGISNULL(i) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(i));
		if (args[i])
			explicit_args = true;
	}

	InitMaterializedSRF(fcinfo, 0);
	ex = expand_ciphers(args[0], args[1], args[2], args[3]);
	if (explicit_args)
		report_cipher_error(ex);

	for (i = 0; i < ex->n; i++)
	{
		CipherSuite *s = &ex->suites[i];
		Datum		values[12];
		bool		nulls[12] = {false};

		CHECK_FOR_INTERRUPTS();
		values[0] = CStringGetTextDatum(s->name);
		values[1] = CStringGetTextDatum(s->standard_name);
		values[2] = CStringGetTextDatum(s->protocol);
		values[3] = CStringGetTextDatum(s->kx);
		values[4] = CStringGetTextDatum(s->auth);
		values[5] = CStringGetTextDatum(s->encryption);
		values[6] = Int32GetDatum(s->bits);
		values[7] = CStringGetTextDatum(s->mac);
		values[8] = BoolGetDatum(s->forward_secrecy);
		values[9] = BoolGetDatum(s->negotiable);
		if (s->weakness)
			values[10] = CStringGetTextDatum(s->weakness);
		else
			nulls[10] = true;
		if (s->severity >= 0)
			values[11] = CStringGetTextDatum(finding_severity_name(s->severity));
		else
			nulls[11] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* "a, b, c and N more" */
static char *
suite_names(List *names)
{
	StringInfoData buf;
	ListCell   *lc;
	int			i = 0;

	initStringInfo(&buf);
	foreach(lc, names)
	{
		if (i == 8)
		{
			appendStringInfo(&buf, " and %d more", list_length(names) - 8);
			break;
		}
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", (char *) lfirst(lc));
		i++;
	}
	return buf.data;
}

void
cipher_findings(List **findings)
{
	const char *ssl = pgtls_setting("ssl");
	CipherExpansion *ex;
	List	   *none = NIL;
	List	   *broken = NIL;
	List	   *nofs = NIL;
	int			negotiable = 0;
	int			i;

	if (ssl == NULL || strcmp(ssl, "on") != 0)
		return;

	ex = expand_ciphers(NULL, NULL, NULL, NULL);
	if (ex->error != CIPHER_OK)
	{
		finding_add(findings, "TLS010", FINDING_CRITICAL, "ciphers", "ssl_ciphers",
					"Fix ssl_ciphers (and ssl_tls13_ciphers, ssl_min/max_protocol_version); check with SELECT * FROM pgtls_audit.expand_ciphers('...').",
					"the server cannot use the TLS settings: %s", cipher_error_text(ex));
		return;
	}

	for (i = 0; i < ex->n; i++)
	{
		CipherSuite *s = &ex->suites[i];

		CHECK_FOR_INTERRUPTS();
		if (!s->negotiable)
			continue;
		negotiable++;
		if (s->no_protection)
			none = lappend(none, s->name);
		else if (s->severity == FINDING_CRITICAL)
			broken = lappend(broken, s->name);
		else if (s->severity == FINDING_WARNING)
			nofs = lappend(nofs, s->name);
	}

	if (negotiable == 0)
		finding_add(findings, "TLS010", FINDING_CRITICAL, "ciphers", "ssl_ciphers",
					"Enable suites that fit the server certificate's key and the protocol range.",
					"no cipher suite can be negotiated with these settings and this server certificate: every TLS connection fails");
	if (none != NIL)
		finding_add(findings, "TLS007", FINDING_CRITICAL, "ciphers", "ssl_ciphers",
					"Add !aNULL:!eNULL to ssl_ciphers.",
					"ssl_ciphers enables %d suite(s) without encryption or without server authentication: %s",
					list_length(none), suite_names(none));
	if (broken != NIL)
		finding_add(findings, "TLS008", FINDING_CRITICAL, "ciphers", "ssl_ciphers",
					"Use an explicit list of AEAD suites with (EC)DHE key exchange, e.g. ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM.",
					"ssl_ciphers enables %d suite(s) with broken or obsolete algorithms (export, RC4, DES, 3DES, MD5 or under 128 bits): %s",
					list_length(broken), suite_names(broken));
	if (nofs != NIL)
		finding_add(findings, "TLS009", FINDING_WARNING, "ciphers", "ssl_ciphers",
					"Remove static RSA and PSK key exchange, e.g. append :!kRSA:!PSK to ssl_ciphers.",
					"ssl_ciphers enables %d suite(s) without forward secrecy: %s",
					list_length(nofs), suite_names(nofs));
}
