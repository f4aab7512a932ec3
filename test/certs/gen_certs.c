/*
 * gen_certs.c: N distinct certificates in one PEM bundle, for the
 * certificate_info() benchmark (test/bench) and the comparison of two
 * builds' output (test/certs/compare.sh).  Test-only, never installed.
 *
 *   gcc -O2 -o gen_certs test/certs/gen_certs.c -lcrypto
 *   ./gen_certs N OUT.pem
 *
 * The bundle starts with 2 roots and 3 intermediates, then N - 5 others:
 * every 10th is self-signed (6 in 10 RSA 2048, 3 in 10 EC P-256, 1 in 10
 * EC P-384; a third of them CAs, a third as "openssl req -x509" makes them
 * and a third server certificates whose key usage does not allow
 * certificate signing, so that OpenSSL does not take them for
 * self-signed), the others are issued by one of the intermediates (RSA 2048,
 * EC P-256, EC P-384) with keys from a pool of RSA 2048 and 3072, EC
 * P-256 and P-384, and one in a hundred Ed25519 or RSA-PSS.  Every
 * certificate has its own subject, serial, validity and extensions (some
 * names in UTF-8, SANs of every common kind, some expired or expiring);
 * keys are shared by many (generating 10,000 RSA keys would take minutes).
 * Keys are random, so two runs give different bundles: compare builds on
 * the same file.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static void
die(const char *what)
{
	fprintf(stderr, "gen_certs: %s failed\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static EVP_PKEY *
rsa_key(int bits, const char *type)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY   *key = NULL;

	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 ||
		EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) <= 0 ||
		EVP_PKEY_keygen(ctx, &key) <= 0)
		die("RSA key generation");
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static EVP_PKEY *
ec_key(const char *curve)
{
	EVP_PKEY   *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);

	if (key == NULL)
		die("EC key generation");
	return key;
}

static void
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL || !X509_add_ext(cert, ext, -1))
		die(value);
	X509_EXTENSION_free(ext);
}

/*
 * A certificate for key, named by the given fields, issued by issuer
 * (NULL: self-signed) with issuer_key; days_from/days_to relative to now.
 * style: LEAF (a server or client certificate), CA, or REQ_X509 (what
 * "openssl req -x509" makes: CA:TRUE, no key usage).
 */
#define LEAF 0
#define CA 1
#define REQ_X509 2

static X509 *
make_cert(int i, EVP_PKEY *key, const char *cn, const char *org, int style,
		  X509 *issuer, EVP_PKEY *issuer_key, const EVP_MD *md,
		  long days_from, long days_to)
{
	X509	   *cert = X509_new();
	X509_NAME  *name = X509_NAME_new();
	BIGNUM	   *bn = BN_new();
	char		buf[256];

	if (cert == NULL || name == NULL || bn == NULL)
		die("allocation");
	X509_set_version(cert, X509_VERSION_3);
	/* serials of 1 to 20 bytes, some with the high bit set */
	BN_rand(bn, 8 + (i * 37) % 152, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
	X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC,
							   (const unsigned char *) (i % 3 ? "DE" : "FR"), -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
							   (const unsigned char *) org, -1, -1, 0);
	if (i % 4 == 1)
	{
		snprintf(buf, sizeof(buf), "Unit %d", i % 17);
		X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC,
								   (const unsigned char *) buf, -1, -1, 0);
	}
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
							   (const unsigned char *) cn, -1, -1, 0);
	X509_set_subject_name(cert, name);
	X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
	X509_gmtime_adj(X509_getm_notBefore(cert), days_from * 86400L);
	X509_gmtime_adj(X509_getm_notAfter(cert), days_to * 86400L);
	X509_set_pubkey(cert, key);

	add_ext(cert, issuer ? issuer : cert, NID_subject_key_identifier, "hash");
	if (issuer != NULL || i % 2 == 0)
		add_ext(cert, issuer ? issuer : cert, NID_authority_key_identifier, "keyid:always");
	if (style == REQ_X509)
		add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE");
	else if (style == CA)
	{
		add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	}
	else
	{
		if (i % 5 != 3)
			add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(cert, issuer, NID_key_usage, i % 7 == 0 ?
				"critical,digitalSignature" : "critical,digitalSignature,keyEncipherment");
		add_ext(cert, issuer, NID_ext_key_usage, i % 3 == 0 ?
				"serverAuth,clientAuth" : "serverAuth");
		switch (i % 6)
		{
			case 0:
				snprintf(buf, sizeof(buf), "DNS:%s,DNS:www.%s", cn, cn);
				break;
			case 1:
				snprintf(buf, sizeof(buf), "DNS:%s,IP:10.%d.%d.%d", cn,
						 (i >> 16) & 255, (i >> 8) & 255, i & 255);
				break;
			case 2:
				snprintf(buf, sizeof(buf), "DNS:%s,DNS:*.%s,IP:2001:db8::%x", cn, cn, i);
				break;
			case 3:
				snprintf(buf, sizeof(buf), "email:user%d@example.org,URI:https://%s/", i, cn);
				break;
			case 4:
				snprintf(buf, sizeof(buf), "DNS:%s", cn);
				break;
			default:
				buf[0] = '\0';
				break;
		}
		if (buf[0])
			add_ext(cert, issuer, NID_subject_alt_name, buf);
	}
	if (!X509_sign(cert, issuer_key ? issuer_key : key,
				   EVP_PKEY_get_id(issuer_key ? issuer_key : key) == EVP_PKEY_ED25519 ? NULL : md))
		die("signing");
	X509_NAME_free(name);
	BN_free(bn);
	return cert;
}

/*
 * One straight pass, kept in one function on purpose: read the arguments,
 * make the CA keys and certificates, then the N leaves in one loop, and
 * write them out.  A benchmark input generator, not part of the module or
 * the test suite; splitting it would only pass its dozen locals around.
 */
int
main(int argc, char **argv)
{
	int			n;
	FILE	   *out;
	EVP_PKEY   *rsa2048[6],
			   *rsa3072,
			   *p256[6],
			   *p384[2],
			   *ed25519,
			   *pss;
	EVP_PKEY   *root_rsa_key,
			   *root_ec_key,
			   *int_key[3];
	X509	   *root_rsa,
			   *root_ec,
			   *inter[3];
	char		cn[128],
				org[128];

	if (argc != 3 || (n = atoi(argv[1])) < 5)
		die("usage: gen_certs N (at least 5) OUT.pem; argument check");
	if ((out = fopen(argv[2], "w")) == NULL)
		die(argv[2]);
	for (int k = 0; k < 6; k++)
	{
		rsa2048[k] = rsa_key(2048, "RSA");
		p256[k] = ec_key("P-256");
	}
	rsa3072 = rsa_key(3072, "RSA");
	p384[0] = ec_key("P-384");
	p384[1] = ec_key("P-384");
	ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	pss = rsa_key(2048, "RSA-PSS");
	if (ed25519 == NULL)
		die("Ed25519 key generation");

	root_rsa_key = rsa_key(2048, "RSA");
	root_ec_key = ec_key("P-384");
	int_key[0] = rsa_key(2048, "RSA");
	int_key[1] = ec_key("P-256");
	int_key[2] = ec_key("P-384");
	root_rsa = make_cert(0, root_rsa_key, "Bench Root RSA", "pgtls_audit bench", CA,
						 NULL, NULL, EVP_sha256(), -400, 3650);
	root_ec = make_cert(1, root_ec_key, "Bench Root EC", "pgtls_audit bench", CA,
						NULL, NULL, EVP_sha384(), -400, 3650);
	inter[0] = make_cert(2, int_key[0], "Bench Intermediate RSA", "pgtls_audit bench", CA,
						 root_rsa, root_rsa_key, EVP_sha256(), -300, 1800);
	inter[1] = make_cert(3, int_key[1], "Bench Intermediate EC P-256", "pgtls_audit bench", CA,
						 root_ec, root_ec_key, EVP_sha384(), -300, 1800);
	inter[2] = make_cert(4, int_key[2], "Bench Intermediate EC P-384", "pgtls_audit bench", CA,
						 root_rsa, root_rsa_key, EVP_sha256(), -300, 1800);
	PEM_write_X509(out, root_rsa);
	PEM_write_X509(out, root_ec);
	for (int k = 0; k < 3; k++)
		PEM_write_X509(out, inter[k]);

	for (int i = 5; i < n; i++)
	{
		X509	   *cert;
		EVP_PKEY   *key;
		long		from = -(i % 700),
					to = i % 23 == 0 ? -(i % 5) - 1 : i % 19 == 0 ? 10 + i % 15 : 90 + i % 800;
		const EVP_MD *md = i % 11 == 0 ? EVP_sha384() : i % 13 == 0 ? EVP_sha512() : EVP_sha256();

		if (i % 2 == 0)
			snprintf(org, sizeof(org), "Organisation %d", i % 50);
		else
			snprintf(org, sizeof(org), "Soci\xc3\xa9t\xc3\xa9 n\xc2\xb0%d", i % 50);
		snprintf(cn, sizeof(cn), "host-%d.example%d.com", i, i % 29);
		if (i % 10 == 9)
		{
			int			kind = (i / 10) % 10;

			key = kind < 6 ? rsa2048[i % 6] : kind < 9 ? p256[i % 6] : p384[i % 2];
			cert = make_cert(i, key, cn, org,
							 i % 30 == 9 ? CA : i % 20 == 19 ? LEAF : REQ_X509,
							 NULL, NULL, md, from, to);
		}
		else
		{
			int			ca = i % 3;

			if (i % 100 == 17)
				key = ed25519;
			else if (i % 100 == 43)
				key = pss;
			else if (i % 50 == 21)
				key = rsa3072;
			else if (i % 4 == 2)
				key = p384[i % 2];
			else
				key = i % 2 ? rsa2048[i % 6] : p256[i % 6];
			cert = make_cert(i, key, cn, org, LEAF, inter[ca], int_key[ca], md, from, to);
		}
		PEM_write_X509(out, cert);
		X509_free(cert);
	}
	if (fclose(out) != 0)
		die("writing the bundle");
	return 0;
}
